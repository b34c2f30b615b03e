/*
 * test_shim_message.c - DATA text to engine calls, and the one copy the
 * engine keeps for the shim: folded fields become one header with LF
 * folds, the empty line ends the headers, a line that is not a field
 * starts the body (the kept text gets the separator), pieces of long lines
 * are joined, the kept text is the message byte for byte, small messages
 * stay in memory, and a message refused by the headers stage is not kept.
 */
#include "test_support.h"

#include <unistd.h>

#include "txn.h"
#include "shim_message.h"

#define PLAIN_POLICY "{\"settings\": {\"spool_dir\": \"%s\"}, \"stages\": {\"eom\": " \
	"[{\"then\": {\"action\": \"add_header\", \"name\": \"X-T\", \"value\": \"t\"}}]," \
	"\"headers\": [{\"if\": {\"header\": \"X-Refuse\"}, \"then\": \"reject\"}]}}"
#define QUARANTINE_POLICY "{\"settings\": {\"spool_dir\": \"%s\"}, \"stages\": {\"eom\": " \
	"[{\"if\": {\"header\": \"X-Keep\"}, \"then\": {\"action\": \"quarantine\", \"folder\": \"q\"}}]}}"

struct fixture {
	char *dir;
	struct policy *policy;
	struct txn *t;
	struct shim_message m;
};

/* start - a shim transaction on one of the policies, a message begun. */
static struct fixture *start(bool quarantine)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *text;

	f->dir = scratch_dir();
	assert_true((quarantine ? asprintf(&text, QUARANTINE_POLICY, f->dir)
				: asprintf(&text, PLAIN_POLICY, f->dir)) > 0);
	f->policy = load_ok(text);
	free(text);
	f->t = txn_new(f->policy, NULL);
	txn_keep_messages(f->t);
	txn_connect(f->t, NULL, "127.0.0.1");
	txn_mail(f->t, "a@example.org", NULL);
	txn_rcpt(f->t, "b@example.net");
	shim_message_begin(&f->m, f->t);
	return f;
}

static int setup(void **state)
{
	*state = start(false);
	return 0;
}

static int setup_quarantine(void **state)
{
	*state = start(true);
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
		shim_message_line(&f->m, lines[i], strlen(lines[i]), false);
}

/* kept - end the message and read the engine's copy (caller frees). */
static char *kept(struct fixture *f)
{
	FILE *fp;
	char *text = calloc(1, 128 * 1024);

	shim_message_end(&f->m);
	assert_int_equal(txn_eom(f->t).kind, VERDICT_CONTINUE);
	fp = txn_original_open(f->t);
	assert_non_null(fp);
	assert_true(fread(text, 1, 128 * 1024 - 1, fp) > 0);
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
	text = kept(f);
	assert_int_equal(h->count, 2);
	assert_string_equal(h->items[0].name, "Subject");
	assert_string_equal(h->items[0].value, "one\n\ttwo\n  three");
	assert_string_equal(h->items[1].value, "b@example.net");
	assert_string_equal(text, "Subject: one\r\n\ttwo\r\n  three\r\nTo: b@example.net\r\n\r\nbody\r\n");
	free(text);
}

static void test_kept_text_is_the_message_byte_for_byte(void **state)
{
	struct fixture *f = *state;
	static const char *const lines[] = { "Subject:no space", "X-A :  two  ", "", ".dot", NULL };
	char *text;

	feed(f, lines);
	text = kept(f);
	assert_string_equal(txn_headers(f->t)->items[1].name, "X-A");
	assert_string_equal(txn_headers(f->t)->items[1].value, "two  ");
	assert_string_equal(text, "Subject:no space\r\nX-A :  two  \r\n\r\n.dot\r\n");
	assert_int_equal(txn_message_size(f->t), strlen("Subject: no space\r\n") +
			 strlen("X-A: two  \r\n") + 6);
	free(text);
}

static void test_one_copy_serves_the_rules_and_the_delivery(void **state)
{
	struct fixture *f = *state;
	static const char *const lines[] = { "Subject: s", "", "line 1", NULL };
	char *text = NULL, engine[256] = "";
	FILE *fp;

	feed(f, lines);
	text = kept(f);
	fp = fopen(txn_message_path(f->t), "r");
	assert_non_null(fp);
	assert_true(fread(engine, 1, sizeof(engine) - 1, fp) > 0);
	fclose(fp);
	assert_string_equal(engine, text);
	assert_int_equal(count_files(f->dir), 1);       /* the one file, on demand */
	free(text);
}

static void test_a_line_that_is_no_field_starts_the_body(void **state)
{
	struct fixture *f = *state;
	static const char *const lines[] = { "Subject: s", "not a header line", "more", NULL };
	char *text;

	feed(f, lines);
	text = kept(f);
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
	text = kept(f);
	assert_string_equal(text, "Subject: s\r\n\r\n");
	free(text);
}

static void test_pieces_of_a_line_are_joined(void **state)
{
	struct fixture *f = *state;
	char *text;

	shim_message_line(&f->m, "Subject: a", 10, true);
	shim_message_line(&f->m, "bc", 2, false);
	shim_message_line(&f->m, "", 0, false);
	shim_message_line(&f->m, "bo", 2, true);
	shim_message_line(&f->m, "dy", 2, false);
	text = kept(f);
	assert_string_equal(txn_headers(f->t)->items[0].value, "abc");
	assert_string_equal(text, "Subject: abc\r\n\r\nbody\r\n");
	free(text);
}

static void test_small_messages_are_kept_in_memory(void **state)
{
	struct fixture *f = *state;
	static const char *const lines[] = { "Subject: s", "", "small", NULL };
	char *text;

	feed(f, lines);
	text = kept(f);
	assert_int_equal(count_files(f->dir), 0);
	free(text);
}

static void test_a_large_message_is_kept_in_a_file_removed_at_the_reset(void **state)
{
	struct fixture *f = *state;
	static const char *const lines[] = { "Subject: s", "", NULL };
	static char line[1000];
	char *text;

	memset(line, 'x', sizeof(line) - 1);
	feed(f, lines);
	for (int i = 0; i < 100; i++)
		shim_message_line(&f->m, line, strlen(line), false);
	text = kept(f);
	assert_int_equal(strlen(text), strlen("Subject: s\r\n\r\n") + 100 * (sizeof(line) + 1));
	assert_int_equal(count_files(f->dir), 1);
	shim_message_discard(&f->m);
	txn_reset_message(f->t, NULL);
	assert_int_equal(count_files(f->dir), 0);
	free(text);
}

static void test_a_message_refused_at_the_headers_is_not_kept(void **state)
{
	struct fixture *f = *state;
	static const char *const lines[] = { "X-Refuse: yes", "", "body", NULL };

	feed(f, lines);
	shim_message_end(&f->m);
	assert_int_equal(f->m.eoh.kind, VERDICT_REJECT);
	assert_null(txn_original_open(f->t));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_folded_field_is_one_header_with_lf_folds),
		T(test_kept_text_is_the_message_byte_for_byte),
		cmocka_unit_test_setup_teardown(test_one_copy_serves_the_rules_and_the_delivery,
						setup_quarantine, teardown),
		T(test_a_line_that_is_no_field_starts_the_body),
		T(test_headers_only_message_gets_a_separator),
		T(test_pieces_of_a_line_are_joined),
		T(test_small_messages_are_kept_in_memory),
		T(test_a_large_message_is_kept_in_a_file_removed_at_the_reset),
		T(test_a_message_refused_at_the_headers_is_not_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
