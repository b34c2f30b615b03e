/*
 * test_shim_edit.c - header edits applied while a kept message is copied
 * into its delivery: each edit kind, their order, safe folding, the prefix,
 * LF conversion for Maildir, and a body passed through unchanged.
 */
#include "test_support.h"

#include <fcntl.h>
#include <unistd.h>

#include "shim_edit.h"
#include "spool.h"

#define MSG "Subject: hello\r\nX-Spam: yes\r\nReceived: one\r\n\tfolded\r\n" \
	    "X-Spam: again\r\n\r\nBody line\r\nX-Spam: in the body\r\n"

/* write_fd - the edit's output into the descriptor *ARG. */
static bool write_fd(void *arg, const void *data, size_t len)
{
	return spool_write_fd(*(int *)arg, data, len);
}

/* edited - MSG through shim_edit_copy with REQ; the output (caller frees). */
static char *edited(const char *msg, const struct shim_edit_request *req, bool *ok)
{
	FILE *in = fmemopen((void *)msg, strlen(msg), "r");
	char path[] = "/tmp/md-test-edit.XXXXXX", err[256] = "";
	int fd = mkstemp(path);
	char *out = calloc(1, 1 << 20);
	ssize_t n;

	struct shim_edit_request to_fd = *req;

	assert_non_null(in);
	assert_true(fd >= 0);
	to_fd.write = write_fd;
	to_fd.write_arg = &fd;
	*ok = shim_edit_copy(in, &to_fd, err, sizeof(err));
	fclose(in);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, out, (1 << 20) - 1);
	assert_true(n >= 0);
	close(fd);
	unlink(path);
	return out;
}

/* assert_edited - MSG with the edits E (COUNT) gives WANT. */
static void assert_edited(const char *msg, const struct header_edit *e, size_t count,
			  const char *want)
{
	const struct header_edit *ptrs[8];
	struct shim_edit_request req = { .edits = ptrs, .count = count };
	bool ok;
	char *got;

	for (size_t i = 0; i < count; i++)
		ptrs[i] = &e[i];
	got = edited(msg, &req, &ok);
	assert_true(ok);
	assert_string_equal(got, want);
	free(got);
}

static void test_no_edits_copies_the_message_unchanged(void **state)
{
	(void)state;
	assert_edited(MSG, NULL, 0, MSG);
}

static void test_add_appends_after_the_last_field(void **state)
{
	struct header_edit e[] = { { EDIT_ADD, "X-Virus-Scanned", "ClamAV", 0 } };

	(void)state;
	assert_edited(MSG, e, 1, "Subject: hello\r\nX-Spam: yes\r\nReceived: one\r\n\tfolded\r\n"
		      "X-Spam: again\r\nX-Virus-Scanned: ClamAV\r\n\r\nBody line\r\n"
		      "X-Spam: in the body\r\n");
}

static void test_remove_takes_every_occurrence_but_not_the_body(void **state)
{
	struct header_edit e[] = { { EDIT_REMOVE, "x-spam", NULL, 0 } };

	(void)state;
	assert_edited(MSG, e, 1, "Subject: hello\r\nReceived: one\r\n\tfolded\r\n\r\n"
		      "Body line\r\nX-Spam: in the body\r\n");
}

static void test_remove_takes_continuation_lines_with_the_field(void **state)
{
	struct header_edit e[] = { { EDIT_REMOVE, "Received", NULL, 0 } };

	(void)state;
	assert_edited(MSG, e, 1, "Subject: hello\r\nX-Spam: yes\r\nX-Spam: again\r\n\r\n"
		      "Body line\r\nX-Spam: in the body\r\n");
}

static void test_change_replaces_the_nth_occurrence(void **state)
{
	struct header_edit e[] = { { EDIT_CHANGE, "X-Spam", "no", 2 } };

	(void)state;
	assert_edited(MSG, e, 1, "Subject: hello\r\nX-Spam: yes\r\nReceived: one\r\n\tfolded\r\n"
		      "X-Spam: no\r\n\r\nBody line\r\nX-Spam: in the body\r\n");
}

static void test_change_with_empty_value_removes_that_occurrence(void **state)
{
	struct header_edit e[] = { { EDIT_CHANGE, "X-Spam", "", 1 } };

	(void)state;
	assert_edited(MSG, e, 1, "Subject: hello\r\nReceived: one\r\n\tfolded\r\n"
		      "X-Spam: again\r\n\r\nBody line\r\nX-Spam: in the body\r\n");
}

static void test_change_past_the_last_occurrence_appends(void **state)
{
	struct header_edit e[] = { { EDIT_CHANGE, "X-Category", "news", 1 } };

	(void)state;
	assert_edited("Subject: a\r\n\r\nb\r\n", e, 1, "Subject: a\r\nX-Category: news\r\n\r\nb\r\n");
}

static void test_edits_apply_in_order(void **state)
{
	struct header_edit e[] = {
		{ EDIT_ADD, "X-Tag", "first", 0 },
		{ EDIT_REMOVE, "X-Tag", NULL, 0 },
		{ EDIT_ADD, "X-Tag", "second", 0 },
	};

	(void)state;
	assert_edited("Subject: a\r\n\r\nb\r\n", e, 3, "Subject: a\r\nX-Tag: second\r\n\r\nb\r\n");
}

static void test_line_breaks_in_a_value_cannot_start_a_new_field(void **state)
{
	struct header_edit e[] = { { EDIT_ADD, "X-Note", "one\nBcc: victim@example.net\n two", 0 } };

	(void)state;
	assert_edited("Subject: a\r\n\r\nb\r\n", e, 1,
		      "Subject: a\r\nX-Note: one\r\n\tBcc: victim@example.net\r\n two\r\n\r\nb\r\n");
}

static void test_headers_only_message_gets_no_separator(void **state)
{
	struct header_edit e[] = { { EDIT_ADD, "X-Tag", "t", 0 } };

	(void)state;
	assert_edited("Subject: a\r\n", e, 1, "Subject: a\r\nX-Tag: t\r\n");
}

static void test_prefix_comes_first_and_lf_only_converts_every_line_end(void **state)
{
	struct shim_edit_request req = { .prefix = "Received: by us\r\n", .lf_only = true };
	bool ok;
	char *got = edited("Subject: a\r\n\r\nbare\rCR stays\r\nend\r\n", &req, &ok);

	(void)state;
	assert_true(ok);
	assert_string_equal(got, "Received: by us\nSubject: a\n\nbare\rCR stays\nend\n");
	free(got);
}

static void test_large_body_is_copied_whole(void **state)
{
	size_t body = 300000;
	char *msg = malloc(body + 32), *got;
	struct shim_edit_request req = { 0 };
	bool ok;

	(void)state;
	strcpy(msg, "Subject: big\r\n\r\n");
	memset(msg + strlen(msg), 'x', body);
	msg[16 + body] = '\0';
	got = edited(msg, &req, &ok);
	assert_true(ok);
	assert_string_equal(got, msg);
	free(got);
	free(msg);
}

/* assert_copy_fails - copying MSG to a descriptor opened with FLAGS fails; ERR says WANT. */
static void assert_copy_fails(const char *msg, int flags, const char *want)
{
	FILE *in = fmemopen((void *)msg, strlen(msg), "r");
	struct shim_edit_request req = { .write = write_fd };
	char err[256] = "";
	int fd = open("/dev/null", flags);

	req.write_arg = &fd;
	assert_false(shim_edit_copy(in, &req, err, sizeof(err)));
	if (!strstr(err, want))
		fail_msg("\"%s\" does not say \"%s\"", err, want);
	fclose(in);
	close(fd);
}

static void test_write_failure_is_reported(void **state)
{
	(void)state;
	assert_copy_fails(MSG, O_RDONLY, "cannot write the delivery");
}

static void test_a_line_that_is_no_header_line_starts_the_body(void **state)
{
	struct header_edit e[] = { { EDIT_ADD, "X-Tag", "t", 0 }, { EDIT_REMOVE, "Bad Name", NULL, 0 } };

	(void)state;
	assert_edited("Subject: a\r\nBad Name: b\r\nX-Late: c\r\n", e, 2,
		      "Subject: a\r\nX-Tag: t\r\nBad Name: b\r\nX-Late: c\r\n");
}

static void test_a_fold_before_any_field_starts_the_body(void **state)
{
	struct header_edit e[] = { { EDIT_ADD, "X-Tag", "t", 0 } };

	(void)state;
	assert_edited(" folded\r\nSubject: a\r\n", e, 1, "X-Tag: t\r\n folded\r\nSubject: a\r\n");
}

static void test_names_are_measured_as_msg_text_does(void **state)
{
	struct header_edit e[] = { { EDIT_REMOVE, "X-Spam", NULL, 0 } };

	(void)state;
	assert_edited("X-Spam : obsolete space\r\nX-Spam-Score: 5\r\n\r\nb\r\n", e, 1,
		      "X-Spam-Score: 5\r\n\r\nb\r\n");
}

static void test_header_block_past_the_engine_limit_is_refused(void **state)
{
	size_t lines = MSG_BLOCK_MAX_BYTES / 1000 + 2;
	char *msg = malloc(lines * 1000 + 16), *p = msg;

	(void)state;
	for (size_t i = 0; i < lines; i++, p += 1000) {
		memset(p, 'v', 1000);
		memcpy(p, "X-Filler: ", 10);
		memcpy(p + 998, "\r\n", 2);
	}
	strcpy(p, "\r\nbody\r\n");
	assert_copy_fails(msg, O_WRONLY, "header block larger than");
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_edits_copies_the_message_unchanged),
		cmocka_unit_test(test_add_appends_after_the_last_field),
		cmocka_unit_test(test_remove_takes_every_occurrence_but_not_the_body),
		cmocka_unit_test(test_remove_takes_continuation_lines_with_the_field),
		cmocka_unit_test(test_change_replaces_the_nth_occurrence),
		cmocka_unit_test(test_change_with_empty_value_removes_that_occurrence),
		cmocka_unit_test(test_change_past_the_last_occurrence_appends),
		cmocka_unit_test(test_edits_apply_in_order),
		cmocka_unit_test(test_line_breaks_in_a_value_cannot_start_a_new_field),
		cmocka_unit_test(test_headers_only_message_gets_no_separator),
		cmocka_unit_test(test_prefix_comes_first_and_lf_only_converts_every_line_end),
		cmocka_unit_test(test_large_body_is_copied_whole),
		cmocka_unit_test(test_write_failure_is_reported),
		cmocka_unit_test(test_a_line_that_is_no_header_line_starts_the_body),
		cmocka_unit_test(test_a_fold_before_any_field_starts_the_body),
		cmocka_unit_test(test_names_are_measured_as_msg_text_does),
		cmocka_unit_test(test_header_block_past_the_engine_limit_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
