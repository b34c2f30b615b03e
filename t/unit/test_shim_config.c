/*
 * test_shim_config.c - loading shim.json: defaults, both kinds of next hop,
 * and the exact located message for each kind of mistake, all of them in
 * one run.
 */
#include "test_support.h"

#include "shim_config.h"

/* config_ok - load TEXT, failing the test (with the errors) if it does not load. */
static struct shim_config *config_ok(const char *text)
{
	struct load_errors errs = { 0 };
	struct shim_config *c = shim_config_load_text(text, "shim.json", &errs);

	for (size_t i = 0; i < errs.count; i++)
		print_error("unexpected: %s\n", errs.items[i]);
	load_errors_free(&errs);
	assert_non_null(c);
	return c;
}

/* config_errors - load TEXT expecting failure; the errors joined by '\n' (caller frees). */
static char *config_errors(const char *text)
{
	struct load_errors errs = { 0 };
	struct shim_config *c = shim_config_load_text(text, "shim.json", &errs);
	char *joined = calloc(1, 1);

	assert_null(c);
	for (size_t i = 0; i < errs.count; i++) {
		char *grown;

		assert_true(asprintf(&grown, "%s%s%s", joined, i ? "\n" : "", errs.items[i]) > 0);
		free(joined);
		joined = grown;
	}
	load_errors_free(&errs);
	return joined;
}

#define assert_config_error(text, want) do { \
		char *got_ = config_errors(text); \
		assert_string_equal(got_, want); \
		free(got_); \
	} while (0)

static void test_maildir_alone_gets_every_default(void **state)
{
	struct shim_config *c = config_ok("{\"next_hop\": {\"maildir\": \"/var/mail/shim\"}}");

	(void)state;
	assert_string_equal(c->listen.host, "127.0.0.1");
	assert_int_equal(c->listen.port, 2525);
	assert_int_equal(c->nexthop, NEXTHOP_MAILDIR);
	assert_string_equal(c->maildir, "/var/mail/shim");
	assert_int_equal(c->max_recipients, 1000);
	assert_int_equal(c->max_sessions, 100);
	assert_int_equal(c->max_message_size, 0);
	assert_int_equal(c->command_timeout_ms, 5 * 60 * 1000);
	assert_int_equal(c->data_timeout_ms, 10 * 60 * 1000);
	assert_true(strlen(c->hostname) > 0);
	shim_config_free(c);
}

static void test_smtp_next_hop_and_limits_are_read(void **state)
{
	struct shim_config *c = config_ok(
		"{\"listen\": \"[::1]:2626\", \"hostname\": \"mx.example.org\",\n"
		" \"next_hop\": {\"smtp\": \"127.0.0.1:10030\", \"timeout\": \"90s\"},\n"
		" \"limits\": {\"max_recipients\": 50, \"max_sessions\": 20, \"max_message_size\": \"10M\",\n"
		"            \"command_timeout\": \"1m\", \"data_timeout\": \"2m\", \"comment\": \"x\"}}");

	(void)state;
	assert_string_equal(c->listen.host, "::1");
	assert_int_equal(c->listen.port, 2626);
	assert_string_equal(c->hostname, "mx.example.org");
	assert_int_equal(c->nexthop, NEXTHOP_SMTP);
	assert_string_equal(c->smtp.host, "127.0.0.1");
	assert_int_equal(c->smtp.port, 10030);
	assert_int_equal(c->smtp_timeout_ms, 90000);
	assert_int_equal(c->max_recipients, 50);
	assert_int_equal(c->max_sessions, 20);
	assert_int_equal(c->max_message_size, 10 * 1024 * 1024);
	assert_int_equal(c->command_timeout_ms, 60000);
	assert_int_equal(c->data_timeout_ms, 120000);
	shim_config_free(c);
}

static void test_syntax_error_names_line_and_column(void **state)
{
	(void)state;
	assert_config_error("{\n  \"listen\": \"127.0.0.1:25\",\n}\n",
			    "shim.json:3:1: syntax error: string or '}' expected near '}'");
}

static void test_missing_next_hop_is_reported_at_the_top(void **state)
{
	(void)state;
	assert_config_error("{\"listen\": \"127.0.0.1:25\"}",
			    "shim.json:1:1: next_hop: missing key \"next_hop\" (expected "
			    "{\"smtp\": \"HOST:PORT\"} or {\"maildir\": \"/path\"})");
}

static void test_both_next_hops_at_once_are_refused(void **state)
{
	(void)state;
	assert_config_error("{\"next_hop\": {\"smtp\": \"127.0.0.1:25\", \"maildir\": \"/m\"}}",
			    "shim.json:1:14: next_hop: expected exactly one of \"smtp\" and \"maildir\"");
}

static void test_every_error_is_reported_with_its_place(void **state)
{
	(void)state;
	assert_config_error(
		"{\n"
		"  \"listen\": \"localhost:25\",\n"
		"  \"hostname\": \"bad host\",\n"
		"  \"next_hop\": {\"maildir\": \"Maildir\", \"timeout\": \"5s\"},\n"
		"  \"limits\": {\"max_recipients\": -1, \"max_message_size\": \"10 parsecs\",\n"
		"             \"data_timeout\": \"1h30x\", \"max_sessions\": 0, \"max_rcpt\": 5},\n"
		"  \"lisen\": \"127.0.0.1:25\"\n"
		"}\n",
		"shim.json:7:3: lisen: unknown key \"lisen\"; expected one of: listen, hostname, "
		"next_hop, limits, bare_newline, comment\n"
		"shim.json:2:13: listen: invalid address \"localhost:25\" (the host is not a numeric address): expected NUMERIC-HOST:PORT "
		"(\"127.0.0.1:2525\", \"[::1]:2525\")\n"
		"shim.json:3:15: hostname: invalid host name \"bad host\": expected letters, digits, "
		"dots and dashes\n"
		"shim.json:4:38: next_hop.timeout: \"timeout\" applies to an smtp next hop only\n"
		"shim.json:4:27: next_hop.maildir: expected an absolute path of at most 1024 "
		"characters, got \"Maildir\"\n"
		"shim.json:6:58: limits.max_rcpt: unknown key \"max_rcpt\"; expected one of: "
		"max_recipients, max_sessions, max_message_size, command_timeout, data_timeout, comment\n"
		"shim.json:5:32: limits.max_recipients: expected a whole number of at least 1, got -1\n"
		"shim.json:6:55: limits.max_sessions: 0 is out of range: expected 1 to 10000\n"
		"shim.json:5:56: limits.max_message_size: invalid size (unknown unit (K, M or G)): "
		"expected a byte count or a size such as \"50M\"\n"
		"shim.json:6:30: limits.data_timeout: invalid duration (unknown unit (ms, s, m or h)): "
		"expected a duration such as \"60s\" or \"5m\"");
}

static void test_bare_newline_defaults_to_reject_and_takes_normalize(void **state)
{
	struct shim_config *c = config_ok("{\"next_hop\": {\"maildir\": \"/m\"}}");

	(void)state;
	assert_int_equal(c->bare_newline, SMTP_BARE_REJECT);
	shim_config_free(c);
	c = config_ok("{\"next_hop\": {\"maildir\": \"/m\"}, \"bare_newline\": \"normalize\"}");
	assert_int_equal(c->bare_newline, SMTP_BARE_NORMALIZE);
	shim_config_free(c);
	assert_config_error("{\"next_hop\": {\"maildir\": \"/m\"}, \"bare_newline\": \"allow\"}",
			    "shim.json:1:49: bare_newline: expected \"reject\" or \"normalize\", "
			    "got \"allow\"");
}

static void test_unreadable_file_says_why(void **state)
{
	struct load_errors errs = { 0 };

	(void)state;
	assert_null(shim_config_load_file("/nonexistent/shim.json", &errs));
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.items[0], "/nonexistent/shim.json: cannot read shim configuration: "
			    "No such file or directory");
	load_errors_free(&errs);
}

static void test_summary_names_listen_and_next_hop(void **state)
{
	struct shim_config *c = config_ok("{\"listen\": \"127.0.0.1:2525\", "
					  "\"next_hop\": {\"smtp\": \"127.0.0.1:10030\"}}");
	char buf[256];

	(void)state;
	shim_config_summary(c, buf, sizeof(buf));
	assert_string_equal(buf, "shim.json: OK: listen 127.0.0.1:2525, next hop smtp 127.0.0.1:10030");
	shim_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maildir_alone_gets_every_default),
		cmocka_unit_test(test_smtp_next_hop_and_limits_are_read),
		cmocka_unit_test(test_syntax_error_names_line_and_column),
		cmocka_unit_test(test_missing_next_hop_is_reported_at_the_top),
		cmocka_unit_test(test_both_next_hops_at_once_are_refused),
		cmocka_unit_test(test_every_error_is_reported_with_its_place),
		cmocka_unit_test(test_bare_newline_defaults_to_reject_and_takes_normalize),
		cmocka_unit_test(test_unreadable_file_says_why),
		cmocka_unit_test(test_summary_names_listen_and_next_hop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
