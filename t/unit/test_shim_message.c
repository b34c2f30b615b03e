/*
 * test_shim_message.c - DATA text to engine calls and the shim's spool:
 * folded fields become one txn_header with LF folds, the empty line ends
 * the headers, a line that is not a field starts the body (the spool gets
 * the separator), pieces of long lines are joined, and the spool keeps the
 * message as received.
 */
#include "test_support.h"

#include <unistd.h>

#include "txn.h"
#include "shim_message.h"

struct fixture {
	char *dir;
	struct policy *policy;
	struct txn *t;
	struct shim_message m;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *text;
	char err[256];

	f->dir = scratch_dir();
	assert_true(asprintf(&text, "{\"settings\": {\"spool_dir\": \"%s\"}, \"stages\": {\"eom\": "
			     "[{\"if\": {\"header\": \"X-Keep\"}, \"then\": {\"action\": \"quarantine\", \"folder\": \"q\"}},"
			     " {\"then\": {\"action\": \"add_header\", \"name\": \"X-T\", \"value\": \"t\"}}]}}", f->dir) > 0);
	f->policy = load_ok(text);
	free(text);
	f->t = txn_new(f->policy, NULL);
	txn_connect(f->t, NULL, "127.0.0.1");
	txn_mail(f->t, "a@example.org", NULL);
	txn_rcpt(f->t, "b@example.net");
	assert_true(shim_message_begin(&f->m, f->t, f->dir, err, sizeof(err)));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	shim_message_discard(&f->m);
	txn_free(f->t);
	policy_unref(f->policy);
	remove_tree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* feed - whole lines, NULL-terminated. */
static void feed(struct fixture *f, const char *const *lines)
{
	for (size_t i = 0; lines[i]; i++)
		assert_true(shim_message_line(&f->m, lines[i], strlen(lines[i]), false));
}

/* spooled - the shim's spool file after the end (caller frees). */
static char *spooled(struct fixture *f)
{
	FILE *fp;
	char *text = calloc(1, 65536);

	assert_true(shim_message_end(&f->m));
	fp = fopen(shim_message_path(&f->m), "r");
	assert_non_null(fp);
	assert_true(fread(text, 1, 65535, fp) > 0);
	fclose(fp);
	return text;
}

static void test_folded_field_is_one_header_with_lf_folds(void **state)
{
	struct fixture *f = *state;
	static const char *const lines[] = { "Subject: one", "\ttwo", "  three", "To: b@example.net",
					     "", "body", NULL };
	const struct headers *h = txn_headers(f->t);
	char *text;

	feed(f, lines);
	text = spooled(f);
	assert_int_equal(h->count, 2);
	assert_string_equal(h->items[0].name, "Subject");
	assert_string_equal(h->items[0].value, "one\n\ttwo\n  three");
	assert_string_equal(h->items[1].value, "b@example.net");
	assert_string_equal(text, "Subject: one\r\n\ttwo\r\n  three\r\nTo: b@example.net\r\n\r\nbody\r\n");
	free(text);
}

static void test_engine_spools_the_same_message(void **state)
{
	struct fixture *f = *state;
	static const char *const lines[] = { "Subject: s", "", "line 1", ".dot", NULL };
	char *text, engine[256] = "";
	FILE *fp;

	feed(f, lines);
	text = spooled(f);
	assert_int_equal(txn_eom(f->t).kind, VERDICT_CONTINUE);
	fp = fopen(txn_message_path(f->t), "r");
	assert_non_null(fp);
	assert_true(fread(engine, 1, sizeof(engine) - 1, fp) > 0);
	fclose(fp);
	assert_string_equal(engine, text);
	assert_int_equal(txn_message_size(f->t), strlen("Subject: s\r\n") + 8 + 6);
	free(text);
}

static void test_a_line_that_is_no_field_starts_the_body(void **state)
{
	struct fixture *f = *state;
	static const char *const lines[] = { "Subject: s", "not a header line", "more", NULL };
	char *text;

	feed(f, lines);
	text = spooled(f);
	assert_int_equal(txn_headers(f->t)->count, 1);
	assert_string_equal(text, "Subject: s\r\n\r\nnot a header line\r\nmore\r\n");
	free(text);
}

static void test_headers_only_message_gets_a_separator(void **state)
{
	struct fixture *f = *state;
	static const char *const lines[] = { "Subject: s", NULL };
	char *text;

	feed(f, lines);
	text = spooled(f);
	assert_string_equal(text, "Subject: s\r\n\r\n");
	free(text);
}

static void test_pieces_of_a_line_are_joined(void **state)
{
	struct fixture *f = *state;
	char *text;

	assert_true(shim_message_line(&f->m, "Subject: a", 10, true));
	assert_true(shim_message_line(&f->m, "bc", 2, false));
	assert_true(shim_message_line(&f->m, "", 0, false));
	assert_true(shim_message_line(&f->m, "bo", 2, true));
	assert_true(shim_message_line(&f->m, "dy", 2, false));
	text = spooled(f);
	assert_string_equal(txn_headers(f->t)->items[0].value, "abc");
	assert_string_equal(text, "Subject: abc\r\n\r\nbody\r\n");
	free(text);
}

static void test_discard_removes_the_spool_file(void **state)
{
	struct fixture *f = *state;
	char *path;

	path = strdup(shim_message_path(&f->m));
	shim_message_discard(&f->m);
	assert_int_equal(access(path, F_OK), -1);
	assert_null(shim_message_path(&f->m));
	free(path);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_folded_field_is_one_header_with_lf_folds),
		T(test_engine_spools_the_same_message),
		T(test_a_line_that_is_no_field_starts_the_body),
		T(test_headers_only_message_gets_a_separator),
		T(test_pieces_of_a_line_are_joined),
		T(test_discard_removes_the_spool_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
