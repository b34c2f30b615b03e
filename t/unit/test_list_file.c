/*
 * test_list_file.c - policies whose lists live in list files ({"file": ...}):
 * the format (comments, blanks, CRLF), located errors (file:line: ...), the
 * files refused as a whole (missing, world-writable, not a regular file, NUL
 * bytes, long lines), and a reload that re-reads a changed file.
 */
#include "test_support.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "policy_store.h"

/* The policy every test loads from DIR/policy.json: three lists in files. */
static const char policy_text[] =
	"{\"stages\":{\"connect\":[{\"if\":{\"client_ip\":[\"192.0.2.1\",{\"file\":\"nets.txt\"}]},"
	"\"then\":\"reject\"}],\n"
	"\"mail\":[{\"if\":{\"sender\":[{\"file\":\"senders.txt\"},{\"domain\":{\"file\":\"domains.txt\"}},"
	"{\"regex\":{\"file\":\"regexes.txt\"},\"ignore_case\":false}]},\"then\":\"reject\"}]}}\n";

struct fixture {
	char *dir;
};

/* write_file - DIR/NAME with TEXT (LEN bytes), mode 0644. */
static void write_file(const char *dir, const char *name, const char *text, size_t len)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0644), 0);
	free(path);
}

#define WRITE(dir, name, text) write_file((dir), (name), (text), sizeof(text) - 1)

/* setup - a scratch folder with the policy and four valid list files. */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	log_open("test", LOG_TO_STDERR, LOG_EMERG);
	f->dir = scratch_dir();
	WRITE(f->dir, "policy.json", policy_text);
	WRITE(f->dir, "nets.txt", "# blocked networks\n\n10.0.0.0/8\r\n  2001:db8::/32  \n\t# indented comment\n"
	      "::ffff:198.51.100.0/120\n");
	WRITE(f->dir, "senders.txt", "Boss@Example.com\n<role@example.org>\n");
	WRITE(f->dir, "domains.txt", "spam.example\n.spam.example\n");
	WRITE(f->dir, "regexes.txt", "^bounce-[0-9]+@\nCaSe");        /* no final newline */
	*state = f;
	return 0;
}

/* teardown - remove the scratch folder. */
static int teardown(void **state)
{
	struct fixture *f = *state;

	remove_tree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* load_dir - load DIR/policy.json; the errors joined into *ERRORS (caller frees) when it fails. */
static struct policy *load_dir(const struct fixture *f, char **errors)
{
	struct load_errors errs = { 0 };
	char *path;
	struct policy *p;
	size_t len = 1;

	assert_true(asprintf(&path, "%s/policy.json", f->dir) > 0);
	p = policy_load_file(path, &errs);
	free(path);
	for (size_t i = 0; i < errs.count; i++)
		len += strlen(errs.items[i]) + 1;
	*errors = calloc(1, len);
	for (size_t i = 0; i < errs.count; i++) {
		strcat(*errors, errs.items[i]);
		strcat(*errors, i + 1 < errs.count ? "\n" : "");
	}
	load_errors_free(&errs);
	return p;
}

/* expect_errors - loading fails with exactly WANT, where "@" stands for the scratch folder. */
static void expect_errors(const struct fixture *f, const char *want)
{
	char *errors, *expanded = calloc(1, strlen(want) * 2 + strlen(f->dir) * 8 + 1);
	struct policy *p = load_dir(f, &errors);

	assert_null(p);
	for (const char *w = want; *w; w++) {
		if (*w == '@')
			strcat(expanded, f->dir);
		else
			strncat(expanded, w, 1);
	}
	assert_string_equal(errors, expanded);
	free(errors);
	free(expanded);
}

/* client_in - does the connect rule's client_ip list hold ADDR? */
static bool client_in(const struct policy *p, const char *addr_text)
{
	int family;
	uint8_t addr[16];

	assert_true(cidr_addr_parse(addr_text, &family, addr));
	return cidr_set_contains(&p->stages[STAGE_CONNECT].items[0].cond->u.nets, family, addr);
}

/* sender_matches - does the mail rule's sender list match SENDER? */
static bool sender_matches(const struct policy *p, const char *sender)
{
	return match_list_test(&p->stages[STAGE_MAIL].items[0].cond->u.match, sender);
}

static void test_list_files_load_skipping_comments_and_blanks(void **state)
{
	struct fixture *f = *state;
	char *errors, summary[512];
	struct policy *p = load_dir(f, &errors);

	assert_string_equal(errors, "");
	free(errors);
	assert_non_null(p);
	assert_int_equal(p->list_files, 4);
	assert_int_equal(p->list_entries, 9);
	assert_true(client_in(p, "192.0.2.1"));                /* inline and file entries together */
	assert_true(client_in(p, "10.9.8.7"));
	assert_true(client_in(p, "2001:db8::25"));             /* blanks around an entry are dropped */
	assert_true(client_in(p, "::ffff:198.51.100.200"));
	assert_false(client_in(p, "192.0.2.2"));
	assert_true(sender_matches(p, "<boss@example.com>"));  /* bare {"file"}: equals patterns */
	assert_true(sender_matches(p, "role@EXAMPLE.org"));
	assert_true(sender_matches(p, "a@spam.example"));
	assert_true(sender_matches(p, "a@mx.spam.example"));
	assert_true(sender_matches(p, "bounce-42@x"));
	assert_true(sender_matches(p, "xCaSe"));
	assert_false(sender_matches(p, "xcase"));              /* ignore_case: false applies to the file */
	assert_false(sender_matches(p, "someone@example.com"));
	policy_summary(p, summary, sizeof(summary));
	assert_non_null(strstr(summary, ", 4 list files (9 entries)"));
	policy_unref(p);
}

static void test_bad_lines_are_reported_with_file_and_line(void **state)
{
	struct fixture *f = *state;

	(void)state;
	WRITE(f->dir, "nets.txt", "10.0.0.0/8\n# fine so far\n10.0.0.0/33\n\nexample.com\n");
	WRITE(f->dir, "regexes.txt", "ok\n([a-z]+\n");
	expect_errors(f, "@/nets.txt:3: invalid network \"10.0.0.0/33\": prefix length out of range "
		      "(expected CIDR such as 192.0.2.0/24 or 2001:db8::/32)\n"
		      "@/nets.txt:5: invalid network \"example.com\": not an IPv4 or IPv6 address "
		      "(expected CIDR such as 192.0.2.0/24 or 2001:db8::/32)\n"
		      "@/regexes.txt:2: invalid regex \"([a-z]+\": Unmatched ( or \\(");
}

static void test_missing_file_is_located_in_the_policy(void **state)
{
	struct fixture *f = *state;
	char *path;

	assert_true(asprintf(&path, "%s/senders.txt", f->dir) > 0);
	assert_int_equal(unlink(path), 0);
	free(path);
	expect_errors(f, "@/policy.json:2:34: stages.mail[0].if.sender[0].file: cannot read list "
		      "file @/senders.txt: No such file or directory");
}

static void test_world_writable_file_is_refused(void **state)
{
	struct fixture *f = *state;
	char *path;

	assert_true(asprintf(&path, "%s/nets.txt", f->dir) > 0);
	assert_int_equal(chmod(path, 0666), 0);
	free(path);
	expect_errors(f, "@/policy.json:1:63: stages.connect[0].if.client_ip[1].file: @/nets.txt: "
		      "refusing a world-writable list file (any local user could change it); "
		      "run chmod o-w @/nets.txt");
}

static void test_a_directory_is_not_a_list_file(void **state)
{
	struct fixture *f = *state;
	char *path;

	assert_true(asprintf(&path, "%s/domains.txt", f->dir) > 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0755), 0);
	free(path);
	expect_errors(f, "@/policy.json:2:67: stages.mail[0].if.sender[1].domain.file: list file "
		      "@/domains.txt is not a regular file");
}

static void test_long_lines_and_nul_bytes_are_refused(void **state)
{
	struct fixture *f = *state;
	char line[1100];

	memset(line, 'a', 1030);
	memcpy(line + 1030, "@x\nok@x\n", 9);
	write_file(f->dir, "senders.txt", line, strlen(line));
	write_file(f->dir, "domains.txt", "a.example\nb.ex\0ample\n", 21);
	expect_errors(f, "@/senders.txt:1: line longer than 1024 bytes (expected one entry per line)\n"
		      "@/domains.txt:2: NUL byte (expected text, one entry per line)");
}

static void test_errors_stop_after_twenty_per_file(void **state)
{
	struct fixture *f = *state;
	char text[30 * 8 + 1] = "", *errors;
	struct policy *p;
	size_t lines = 0;

	for (int i = 0; i < 30; i++)
		strcat(text, "bad/99\n");
	write_file(f->dir, "nets.txt", text, strlen(text));
	p = load_dir(f, &errors);
	assert_null(p);
	for (const char *e = errors; (e = strchr(e, '\n')); e++)
		lines++;
	assert_int_equal(lines + 1, 21);
	assert_non_null(strstr(errors, "/nets.txt:20: invalid network \"bad/99\""));
	assert_non_null(strstr(errors, "/nets.txt: 10 more bad lines not shown"));
	free(errors);
}

static void test_an_empty_file_is_an_empty_list(void **state)
{
	struct fixture *f = *state;
	char *errors;
	struct policy *p;

	WRITE(f->dir, "senders.txt", "# nobody yet\n");
	p = load_dir(f, &errors);
	assert_string_equal(errors, "");
	assert_non_null(p);
	assert_false(sender_matches(p, "boss@example.com"));
	assert_true(sender_matches(p, "a@spam.example"));
	free(errors);
	policy_unref(p);
}

static void test_reload_reads_the_changed_file_and_keeps_the_old_on_error(void **state)
{
	struct fixture *f = *state;
	char *path;
	struct policy *p;

	assert_true(asprintf(&path, "%s/policy.json", f->dir) > 0);
	assert_true(policy_store_init(path));
	p = policy_store_current();
	assert_false(client_in(p, "203.0.113.5"));
	policy_unref(p);
	WRITE(f->dir, "nets.txt", "203.0.113.0/24\n");
	assert_true(policy_store_reload());
	p = policy_store_current();
	assert_true(client_in(p, "203.0.113.5"));
	assert_false(client_in(p, "10.9.8.7"));                /* the old entries are gone */
	policy_unref(p);
	WRITE(f->dir, "nets.txt", "203.0.113.0/24\nnot a network\n");
	assert_false(policy_store_reload());
	p = policy_store_current();
	assert_true(client_in(p, "203.0.113.5"));              /* the policy in use is kept */
	policy_unref(p);
	policy_store_shutdown();
	free(path);
}

static void test_file_member_must_be_a_string_and_alone(void **state)
{
	(void)state;
	assert_load_error("{\"stages\":{\"connect\":[{\"if\":{\"client_ip\":{\"file\":7}},\"then\":\"accept\"}]}}",
			  "test.json:1:50: stages.connect[0].if.client_ip.file: expected a string, got an integer");
	assert_load_error("{\"stages\":{\"mail\":[{\"if\":{\"sender\":{\"file\":\"x\",\"kind\":\"domain\"}},"
			  "\"then\":\"accept\"}]}}",
			  "test.json:1:48: stages.mail[0].if.sender.kind: unknown key \"kind\"; expected one of: file");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list_files_load_skipping_comments_and_blanks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_lines_are_reported_with_file_and_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file_is_located_in_the_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_world_writable_file_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_directory_is_not_a_list_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_lines_and_nul_bytes_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_stop_after_twenty_per_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_an_empty_file_is_an_empty_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_reads_the_changed_file_and_keeps_the_old_on_error,
						setup, teardown),
		cmocka_unit_test(test_file_member_must_be_a_string_and_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
