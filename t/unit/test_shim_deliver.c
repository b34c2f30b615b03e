/*
 * test_shim_deliver.c - Maildir delivery: the message lands in new/ whole
 * (Return-Path, prefix, edits, LF line ends), nothing stays in tmp/, and a
 * Maildir that cannot be written reports why and leaves nothing behind.
 */
#include "test_support.h"

#include <unistd.h>

#include <dirent.h>

#include "shim_deliver.h"
#include "shim_edit.h"

struct fixture {
	char *dir;
	char *msg;              /* the spooled message */
	struct shim_config cfg;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	FILE *fp;

	f->dir = scratch_dir();
	assert_true(asprintf(&f->msg, "%s/spooled", f->dir) > 0);
	assert_true(asprintf(&f->cfg.maildir, "%s/Maildir", f->dir) > 0);
	f->cfg.nexthop = NEXTHOP_MAILDIR;
	f->cfg.hostname = "shim.test";
	fp = fopen(f->msg, "w");
	assert_non_null(fp);
	fputs("Subject: hi\r\nX-Drop: me\r\n\r\nHello.\r\n", fp);
	assert_int_equal(fclose(fp), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	remove_tree(f->dir);
	free(f->dir);
	free(f->msg);
	free(f->cfg.maildir);
	free(f);
	return 0;
}

/* files_in - how many entries (not . or ..) DIR/SUB holds; the last name in NAME. */
static int files_in(const char *dir, const char *sub, char *name, size_t len)
{
	char path[600];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "%.500s/%.50s", dir, sub);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && ++n && name)
			snprintf(name, len, "%.600s/%.255s", path, e->d_name);
	closedir(d);
	return n;
}

/* delivery_of - a delivery request for F's message with EDITS. */
static struct shim_delivery delivery_of(struct fixture *f, const struct header_edit *const *edits,
					size_t count)
{
	static const char *const rcpts[] = { "b@example.net" };

	return (struct shim_delivery){
		.path = f->msg, .sender = "a@example.org", .rcpts = rcpts, .rcpt_count = 1,
		.prefix = "Received: by shim.test\r\n", .edits = edits, .edit_count = count,
		.spool_dir = f->dir, .queue_id = "QID1",
	};
}

static void test_maildir_delivery_lands_whole_in_new(void **state)
{
	struct fixture *f = *state;
	struct header_edit add = { EDIT_ADD, "X-Virus-Scanned", "ClamAV", 0 };
	struct header_edit del = { EDIT_REMOVE, "X-Drop", NULL, 0 };
	const struct header_edit *edits[] = { &add, &del };
	struct shim_delivery d = delivery_of(f, edits, 2);
	char err[256], detail[600], path[1024], text[512] = "";
	struct shim_nexthop *nh = shim_nexthop_new(&f->cfg, err, sizeof(err));
	FILE *fp;

	assert_non_null(nh);
	assert_true(shim_nexthop_deliver(nh, &d, detail, sizeof(detail)));
	assert_int_equal(files_in(f->cfg.maildir, "new", path, sizeof(path)), 1);
	assert_int_equal(files_in(f->cfg.maildir, "tmp", NULL, 0), 0);
	assert_non_null(strstr(path, "QID1"));
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_true(fread(text, 1, sizeof(text) - 1, fp) > 0);
	fclose(fp);
	assert_string_equal(text, "Return-Path: <a@example.org>\nReceived: by shim.test\n"
			    "Subject: hi\nX-Virus-Scanned: ClamAV\n\nHello.\n");
	shim_nexthop_free(nh);
}

static void test_two_deliveries_get_two_files(void **state)
{
	struct fixture *f = *state;
	struct shim_delivery d = delivery_of(f, NULL, 0);
	char err[256], detail[600];
	struct shim_nexthop *nh = shim_nexthop_new(&f->cfg, err, sizeof(err));

	assert_non_null(nh);
	assert_true(shim_nexthop_deliver(nh, &d, detail, sizeof(detail)));
	assert_true(shim_nexthop_deliver(nh, &d, detail, sizeof(detail)));
	assert_int_equal(files_in(f->cfg.maildir, "new", NULL, 0), 2);
	shim_nexthop_free(nh);
}

static void test_unwritable_maildir_fails_and_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct shim_delivery d = delivery_of(f, NULL, 0);
	char err[256], detail[600], tmp[1024];
	struct shim_nexthop *nh = shim_nexthop_new(&f->cfg, err, sizeof(err));

	assert_non_null(nh);
	snprintf(tmp, sizeof(tmp), "%s/tmp", f->cfg.maildir);
	assert_int_equal(rmdir(tmp), 0);
	assert_false(shim_nexthop_deliver(nh, &d, detail, sizeof(detail)));
	assert_non_null(strstr(detail, "cannot create"));
	assert_int_equal(files_in(f->cfg.maildir, "new", NULL, 0), 0);
	shim_nexthop_free(nh);
}

static void test_missing_message_fails_with_the_reason(void **state)
{
	struct fixture *f = *state;
	struct shim_delivery d = delivery_of(f, NULL, 0);
	char err[256], detail[600];
	struct shim_nexthop *nh = shim_nexthop_new(&f->cfg, err, sizeof(err));

	assert_non_null(nh);
	d.path = "/nonexistent/message";
	assert_false(shim_nexthop_deliver(nh, &d, detail, sizeof(detail)));
	assert_non_null(strstr(detail, "cannot open /nonexistent/message"));
	assert_int_equal(files_in(f->cfg.maildir, "new", NULL, 0), 0);
	assert_int_equal(files_in(f->cfg.maildir, "tmp", NULL, 0), 0);
	shim_nexthop_free(nh);
}

static void test_maildir_under_a_file_cannot_be_created(void **state)
{
	struct fixture *f = *state;
	char err[256];

	free(f->cfg.maildir);
	assert_true(asprintf(&f->cfg.maildir, "%s/Maildir", f->msg) > 0);
	assert_null(shim_nexthop_new(&f->cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot create"));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_maildir_delivery_lands_whole_in_new),
		T(test_two_deliveries_get_two_files),
		T(test_unwritable_maildir_fails_and_leaves_nothing),
		T(test_missing_message_fails_with_the_reason),
		T(test_maildir_under_a_file_cannot_be_created),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
