/*
 * test_spool.c - the one spool: text stays in memory up to its limit, goes
 * to a file past it or when a path is asked for, reads back whole from
 * either, leaves no file behind when freed, hands a file over on release,
 * reports a folder it cannot write in; and publishing writes the whole file
 * under its final name, or nothing.
 */
#include "test_support.h"

#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"

/* read_all - everything S holds, as a string (caller frees). */
static char *read_all(struct spool *s)
{
	FILE *in = spool_open(s);
	char *text = calloc(1, 256 * 1024);
	size_t n;

	assert_non_null(in);
	n = fread(text, 1, 256 * 1024 - 1, in);
	text[n] = '\0';
	fclose(in);
	return text;
}

static void test_small_text_stays_in_memory(void **state)
{
	char *dir = scratch_dir(), *text;
	struct spool *s = spool_new(dir, "md", 64);

	(void)state;
	assert_true(spool_write(s, "hello ", 6));
	assert_true(spool_write(s, "world", 5));
	assert_true(spool_finish(s));
	assert_int_equal(count_files(dir), 0);
	text = read_all(s);
	assert_string_equal(text, "hello world");
	assert_int_equal(spool_size(s), 11);
	free(text);
	spool_free(s);
	remove_tree(dir);
	free(dir);
}

/* fd_text - everything FD holds from its offset, as a string (caller frees); FD closed. */
static char *fd_text(int fd)
{
	char *text = calloc(1, 4096);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, text, 4095);
	assert_true(n >= 0);
	text[n] = '\0';
	close(fd);
	return text;
}

static void test_a_descriptor_of_memory_makes_no_file(void **state)
{
	char *dir = scratch_dir(), *text;
	struct spool *s = spool_new(dir, "md", 64), *big = spool_new(dir, "md", 4);

	(void)state;
	assert_true(spool_write(s, "in memory", 9));
	assert_true(spool_finish(s));
	text = fd_text(spool_fd(s));
	assert_string_equal(text, "in memory");
	free(text);
	assert_int_equal(count_files(dir), 0);
	assert_true(spool_write(big, "on disk", 7));
	assert_true(spool_finish(big));
	text = fd_text(spool_fd(big));          /* the file, read from its start */
	assert_string_equal(text, "on disk");
	free(text);
	assert_int_equal(count_files(dir), 1);
	spool_free(s);
	spool_free(big);
	remove_tree(dir);
	free(dir);
}

static void test_past_the_limit_it_is_a_file_removed_at_free(void **state)
{
	char *dir = scratch_dir(), *text;
	struct spool *s = spool_new(dir, "md", 8);

	(void)state;
	assert_true(spool_write(s, "12345", 5));
	assert_int_equal(count_files(dir), 0);
	assert_true(spool_write(s, "67890", 5));
	assert_int_equal(count_files(dir), 1);
	text = read_all(s);                     /* readable before the end, too */
	assert_string_equal(text, "1234567890");
	free(text);
	assert_true(spool_write(s, "!", 1));
	assert_true(spool_finish(s));
	text = read_all(s);
	assert_string_equal(text, "1234567890!");
	assert_non_null(strstr(spool_path(s), "/md."));
	free(text);
	spool_free(s);
	assert_int_equal(count_files(dir), 0);
	remove_tree(dir);
	free(dir);
}

static void test_a_path_asked_for_writes_the_memory_out(void **state)
{
	char *dir = scratch_dir();
	struct spool *s = spool_new(dir, "md", 1024);
	char buf[32] = "";
	FILE *in;

	(void)state;
	spool_write(s, "abc", 3);
	spool_finish(s);
	in = fopen(spool_path(s), "r");
	assert_non_null(in);
	assert_int_equal(fread(buf, 1, sizeof(buf) - 1, in), 3);
	fclose(in);
	assert_string_equal(buf, "abc");
	spool_free(s);
	assert_int_equal(count_files(dir), 0);
	remove_tree(dir);
	free(dir);
}

static void test_release_hands_the_file_over(void **state)
{
	char *dir = scratch_dir(), *path;
	struct spool *s = spool_new(dir, "copy", 0);

	(void)state;
	assert_int_equal(count_files(dir), 1);  /* no memory stage: a file at once */
	spool_write(s, "x", 1);
	path = spool_release(s);
	assert_non_null(path);
	assert_int_equal(access(path, R_OK), 0);
	unlink(path);
	free(path);
	remove_tree(dir);
	free(dir);
}

static void test_an_unwritable_folder_is_reported(void **state)
{
	struct spool *s = spool_new("/nonexistent/spool", "md", 4);

	(void)state;
	assert_true(spool_write(s, "abc", 3));          /* in memory still */
	assert_false(spool_write(s, "defg", 4));
	assert_false(spool_ok(s));
	assert_non_null(strstr(spool_error(s), "cannot create a spool file in /nonexistent/spool"));
	assert_null(spool_path(s));
	assert_null(spool_open(s));
	assert_false(spool_finish(s));
	spool_free(s);
}

/* fill_text - spool_fill_fn writing the string ARG. */
static bool fill_text(int fd, void *arg, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	return spool_write_fd(fd, arg, strlen(arg));
}

/* fill_fails - spool_fill_fn that fails with a reason. */
static bool fill_fails(int fd, void *arg, char *err, size_t errlen)
{
	(void)fd, (void)arg;
	snprintf(err, errlen, "no luck");
	return false;
}

static void test_publish_writes_the_whole_file_under_its_name(void **state)
{
	char *dir = scratch_dir(), path[600], err[256];
	struct stat st;

	(void)state;
	assert_true(spool_publish(dir, "one", NULL, fill_text, "content\n", err, sizeof(err)));
	snprintf(path, sizeof(path), "%s/one", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 8);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(count_files(dir), 1);          /* no temporary file left */
	assert_false(spool_publish(dir, "two", NULL, fill_fails, NULL, err, sizeof(err)));
	assert_string_equal(err, "no luck");
	assert_int_equal(count_files(dir), 1);
	remove_tree(dir);
	free(dir);
}

static void test_publish_from_another_folder_like_maildir_tmp(void **state)
{
	char *dir = scratch_dir(), tmp[600], target[600], err[256];

	(void)state;
	snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
	snprintf(target, sizeof(target), "%s/new", dir);
	assert_true(spool_make_dir(tmp, err, sizeof(err)));
	assert_true(spool_make_dir(target, err, sizeof(err)));
	assert_true(spool_make_dir(target, err, sizeof(err)));  /* exists: fine */
	assert_true(spool_publish(target, "m1", tmp, fill_text, "x", err, sizeof(err)));
	assert_int_equal(count_files(tmp), 0);
	assert_int_equal(count_files(target), 1);
	assert_false(spool_publish(target, "m2", "/nonexistent", fill_text, "x", err, sizeof(err)));
	assert_non_null(strstr(err, "cannot create /nonexistent/m2"));
	remove_tree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_text_stays_in_memory),
		cmocka_unit_test(test_a_descriptor_of_memory_makes_no_file),
		cmocka_unit_test(test_past_the_limit_it_is_a_file_removed_at_free),
		cmocka_unit_test(test_a_path_asked_for_writes_the_memory_out),
		cmocka_unit_test(test_release_hands_the_file_over),
		cmocka_unit_test(test_an_unwritable_folder_is_reported),
		cmocka_unit_test(test_publish_writes_the_whole_file_under_its_name),
		cmocka_unit_test(test_publish_from_another_folder_like_maildir_tmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
