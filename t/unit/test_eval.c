/*
 * test_eval.c - the engine end to end without an MTA: a transaction is fed
 * stage by stage and each condition and action is checked by the verdict,
 * the header edits and the files it leaves. Delegation and quarantine run
 * through fake hooks (and the real quarantine store).
 */
#include "test_support.h"


#include <sys/stat.h>
#include <unistd.h>

#include "quarantine.h"
#include "txn.h"

struct fixture {
	char *dir;
	char spool[512];
	char quarantine[512];
};

/* Fake hook state. */
static const char *fake_added_header;   /* added by the fake delegate, e.g. "X-Virus-Infected: yes" */
static const char *fake_added_second;   /* added instead by the second delegation, if set */
static const char *fake_subject;        /* the copy's Subject is rewritten to this, if set */
static const char *fake_copy_text;      /* the copy is this whole message (a repackaging filter) */
static char fake_sent[4096];            /* the message the last delegation was sent */
static enum delegate_status fake_status;
static bool fake_plants_id;             /* leave an X-Delegate-Id in the copy (the receiver strips it) */
static int fake_delegations;
static char fake_seen_path[512];

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir = scratch_dir();
	snprintf(f->spool, sizeof(f->spool), "%s/spool", f->dir);
	snprintf(f->quarantine, sizeof(f->quarantine), "%s/quarantine", f->dir);
	mkdir(f->spool, 0700);
	fake_added_header = fake_added_second = fake_subject = fake_copy_text = NULL;
	fake_sent[0] = '\0';
	fake_status = DELEGATE_COPY;
	fake_delegations = 0;
	fake_plants_id = false;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	remove_tree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* policy_with - load STAGES (the "stages" object body) with settings pointing at F's dirs. */
static struct policy *policy_with(struct fixture *f, const char *stages)
{
	char *text;
	struct policy *p;

	assert_true(asprintf(&text, "{\"settings\":{\"spool_dir\":\"%s\",\"quarantine_dir\":\"%s\"},"
			     "\"services\":{\"av\":{\"type\":\"smtp\",\"delegator\":{\"address\":\"127.0.0.1:1\"},"
			     "\"receiver\":\"127.0.0.1:2\"}},\"stages\":{%s}}",
			     f->spool, f->quarantine, stages) > 0);
	p = load_ok(text);
	free(text);
	return p;
}

static const char *fake_macro(void *arg, const char *name)
{
	(void)arg;
	return strcmp(name, "{daemon_name}") == 0 ? "smtpd-submission" : NULL;
}

/* fake_header_block - the header block of BUF (up to SPLIT) into COPY, Subject rewritten if asked. */
static void fake_header_block(FILE *copy, const char *buf, const char *split)
{
	for (const char *line = buf; line < split + 2;) {
		const char *end = strstr(line, "\r\n") + 2;

		if (fake_subject && strncasecmp(line, "Subject:", 8) == 0) {
			fprintf(copy, "Subject: %s\r\n", fake_subject);
			while (*end == '\t' || *end == ' ')        /* its continuation lines */
				end = strstr(end, "\r\n") + 2;
		} else {
			fwrite(line, 1, (size_t)(end - line), copy);
		}
		line = end;
	}
}

/* fake_delegate - return the message with FAKE_ADDED_HEADER after the other fields. */
static void fake_delegate(void *arg, struct txn *t, const struct delegate_spec *spec,
			  struct delegate_result *out)
{
	FILE *in = fopen(txn_message_path(t), "r"), *copy;
	const char *added = fake_added_header;
	char *split;
	size_t n;

	(void)arg, (void)spec;
	fake_delegations++;
	if (fake_delegations == 2 && fake_added_second)
		added = fake_added_second;
	snprintf(fake_seen_path, sizeof(fake_seen_path), "%s", txn_message_path(t));
	out->status = fake_status;
	out->elapsed_ms = 7;
	if (fake_status != DELEGATE_COPY) {
		snprintf(out->detail, sizeof(out->detail), "fake %d", fake_status);
		fclose(in);
		return;
	}
	assert_non_null(in);
	n = fread(fake_sent, 1, sizeof(fake_sent) - 1, in);
	fake_sent[n] = '\0';
	fclose(in);
	split = strstr(fake_sent, "\r\n\r\n");
	assert_non_null(split);
	assert_true(asprintf(&out->copy_path, "%s.copy%d", txn_message_path(t), fake_delegations) > 0);
	copy = fopen(out->copy_path, "w");
	assert_non_null(copy);
	if (fake_copy_text) {
		fputs(fake_copy_text, copy);
		fclose(copy);
		return;
	}
	if (fake_plants_id)
		fputs("X-Delegate-Id: 0123456789abcdef\r\n", copy);
	fake_header_block(copy, fake_sent, split);
	if (added)
		fprintf(copy, "%s\r\n", added);
	fputs(split + 2, copy);
	fclose(copy);
}

static bool fake_quarantine_fails(void *arg, struct txn *t, const struct action *a,
				  const char *rule, char *err, size_t errlen)
{
	(void)arg, (void)t, (void)a, (void)rule;
	snprintf(err, errlen, "disk full (fake)");
	return false;
}

static const struct txn_env fake_env = {
	.macro = fake_macro, .delegate = fake_delegate, .quarantine = quarantine_store,
};

/* feed_planted - MAIL, one RCPT, two headers and the sender's PLANTED one (if not NULL), a body. */
static struct verdict feed_planted(struct txn *t, const char *planted, const char *value)
{
	struct verdict v = txn_mail(t, "a@b.c", NULL);

	if (v.kind != VERDICT_CONTINUE)
		return v;
	v = txn_rcpt(t, "r@d.e");
	if (v.kind != VERDICT_CONTINUE)
		return v;
	txn_header(t, "Subject", "hello");
	txn_header(t, "Message-ID", "<1@example.com>");
	if (planted)
		txn_header(t, planted, value);
	v = txn_eoh(t);
	if (v.kind != VERDICT_CONTINUE)
		return v;
	txn_body(t, "line one\r\n.dot\r\n", 16);
	return txn_eom(t);
}

/* feed_message - MAIL, one RCPT, two headers, a body: the eom verdict. */
static struct verdict feed_message(struct txn *t, const char *sender, const char *rcpt)
{
	struct verdict v = txn_mail(t, sender, NULL);

	if (v.kind != VERDICT_CONTINUE)
		return v;
	v = txn_rcpt(t, rcpt);
	if (v.kind != VERDICT_CONTINUE)
		return v;
	txn_header(t, "Subject", "hello");
	txn_header(t, "Message-ID", "<1@example.com>");
	v = txn_eoh(t);
	if (v.kind != VERDICT_CONTINUE)
		return v;
	txn_body(t, "line one\r\n.dot\r\n", 16);
	return txn_eom(t);
}

static void test_client_ip_matches_ipv4_ipv6_and_mapped(void **state)
{
	struct policy *p = policy_with(*state, "\"connect\":[{\"name\":\"lan\",\"if\":{\"client_ip\":"
				       "[\"192.0.2.0/24\",\"2001:db8::/32\"]},\"then\":\"reject\"}]");
	const char *addrs[] = { "192.0.2.7", "2001:db8::1", "::ffff:192.0.2.9", "198.51.100.1", "::1" };
	const enum verdict_kind want[] = { VERDICT_REJECT, VERDICT_REJECT, VERDICT_REJECT,
					   VERDICT_CONTINUE, VERDICT_CONTINUE };

	for (size_t i = 0; i < 5; i++) {
		struct txn *t = txn_new(p, &fake_env);
		struct verdict v = txn_connect(t, "host", addrs[i]);

		assert_int_equal(v.kind, want[i]);
		if (v.kind == VERDICT_REJECT) {
			assert_string_equal(v.rule, "lan");
			assert_int_equal(v.reply->code, 550);
		}
		txn_free(t);
	}
	policy_unref(p);
}

static void test_connection_decision_holds_for_every_message(void **state)
{
	struct policy *p = policy_with(*state, "\"connect\":[{\"if\":{\"client_name\":{\"domain\":\".example.net\"}},"
				       "\"then\":\"accept\"}],\"mail\":[{\"then\":\"reject\"}]");
	struct txn *t = txn_new(p, &fake_env);

	assert_int_equal(txn_connect(t, "mx1.example.net", "192.0.2.1").kind, VERDICT_ACCEPT);
	assert_int_equal(txn_mail(t, "a@b.c", NULL).kind, VERDICT_ACCEPT);
	txn_reset_message(t, NULL);
	assert_int_equal(txn_mail(t, "d@b.c", NULL).kind, VERDICT_ACCEPT);
	txn_free(t);
	t = txn_new(p, &fake_env);
	assert_int_equal(txn_connect(t, "example.net", "192.0.2.1").kind, VERDICT_CONTINUE);
	assert_int_equal(txn_mail(t, "a@b.c", NULL).kind, VERDICT_REJECT);
	txn_free(t);
	policy_unref(p);
}

static void test_helo_regex_and_sender_matchers(void **state)
{
	struct policy *p = policy_with(*state,
		"\"helo\":[{\"if\":{\"helo\":{\"regex\":\"^[0-9.]+$\"}},\"then\":{\"action\":\"reject\",\"text\":\"bare IP\"}}],"
		"\"mail\":[{\"if\":{\"sender\":[\"Boss@Example.COM\",{\"domain\":\"spam.test\"}]},\"then\":\"discard\"}]");
	struct txn *t = txn_new(p, &fake_env);
	struct verdict v;

	txn_connect(t, NULL, "192.0.2.1");
	v = txn_helo(t, "192.0.2.1");
	assert_int_equal(v.kind, VERDICT_REJECT);
	assert_string_equal(v.reply->text, "bare IP");
	txn_free(t);
	t = txn_new(p, &fake_env);
	assert_int_equal(txn_helo(t, "mail.example.org").kind, VERDICT_CONTINUE);
	assert_int_equal(txn_mail(t, "boss@example.com", NULL).kind, VERDICT_DISCARD);
	txn_reset_message(t, NULL);
	assert_int_equal(txn_mail(t, "x@spam.test", NULL).kind, VERDICT_DISCARD);
	txn_reset_message(t, NULL);
	assert_int_equal(txn_mail(t, "x@mx.spam.test", NULL).kind, VERDICT_CONTINUE);
	txn_free(t);
	policy_unref(p);
}

static void test_rcpt_reject_refuses_only_that_recipient(void **state)
{
	struct policy *p = policy_with(*state, "\"rcpt\":[{\"if\":{\"recipient\":\"old@example.com\"},"
				       "\"then\":{\"action\":\"reject\",\"code\":550,\"status\":\"5.1.1\",\"text\":\"gone\"}}],"
				       "\"headers\":[{\"if\":{\"recipient\":\"new@example.com\"},\"then\":\"discard\"}]");
	struct txn *t = txn_new(p, &fake_env);
	struct verdict v;

	assert_int_equal(txn_mail(t, "a@b.c", NULL).kind, VERDICT_CONTINUE);
	assert_int_equal(txn_rcpt(t, "one@example.com").kind, VERDICT_CONTINUE);
	v = txn_rcpt(t, "old@example.com");
	assert_int_equal(v.kind, VERDICT_REJECT);
	assert_string_equal(v.reply->status, "5.1.1");
	assert_int_equal(txn_rcpt(t, "new@example.com").kind, VERDICT_CONTINUE);
	assert_int_equal(txn_rcpt_count(t), 2);
	assert_string_equal(txn_rcpt_at(t, 1), "new@example.com");
	/* After the rcpt stage, "recipient" means any accepted recipient. */
	assert_int_equal(txn_eoh(t).kind, VERDICT_DISCARD);
	txn_free(t);
	policy_unref(p);
}

static void test_auth_presence_and_user(void **state)
{
	struct policy *p = policy_with(*state,
		"\"mail\":[{\"if\":{\"auth_user\":{\"regex\":\"^admin\"}},\"then\":\"accept\"},"
		"{\"if\":{\"auth\":false},\"then\":\"reject\",\"else\":\"discard\"}]");
	struct txn *t = txn_new(p, &fake_env);

	assert_int_equal(txn_mail(t, "a@b.c", "administrator").kind, VERDICT_ACCEPT);
	txn_reset_message(t, NULL);
	assert_int_equal(txn_mail(t, "a@b.c", "bob").kind, VERDICT_DISCARD);
	txn_reset_message(t, NULL);
	assert_int_equal(txn_mail(t, "a@b.c", NULL).kind, VERDICT_REJECT);
	txn_reset_message(t, NULL);
	assert_int_equal(txn_mail(t, "a@b.c", "").kind, VERDICT_REJECT);
	txn_free(t);
	policy_unref(p);
}

static void test_header_presence_and_value(void **state)
{
	struct policy *p = policy_with(*state,
		"\"headers\":[{\"if\":{\"header\":{\"name\":\"subject\",\"value\":{\"regex\":\"viagra\"}}},\"then\":\"reject\"},"
		"{\"if\":{\"not\":{\"header\":\"Message-ID\"}},\"then\":\"tempfail\"}]");
	struct txn *t = txn_new(p, &fake_env);

	txn_mail(t, "a@b.c", NULL);
	txn_header(t, "Subject", "Cheap VIAGRA now");
	assert_int_equal(txn_eoh(t).kind, VERDICT_REJECT);
	txn_reset_message(t, NULL);
	txn_mail(t, "a@b.c", NULL);
	txn_header(t, "Subject", "hello");
	assert_int_equal(txn_eoh(t).kind, VERDICT_TEMPFAIL);
	txn_reset_message(t, NULL);
	txn_mail(t, "a@b.c", NULL);
	txn_header(t, "Message-Id", "<x@y>");
	assert_int_equal(txn_eoh(t).kind, VERDICT_CONTINUE);
	txn_free(t);
	policy_unref(p);
}

static void test_size_above_and_macro(void **state)
{
	struct policy *p = policy_with(*state,
		"\"eom\":[{\"if\":{\"all\":[{\"size_above\":40},{\"macro\":{\"name\":\"{daemon_name}\",\"value\":{\"regex\":\"submission\"}}}]},"
		"\"then\":{\"action\":\"reject\",\"code\":552,\"status\":\"5.3.4\"}}]");
	struct txn *t = txn_new(p, &fake_env);
	struct verdict v = feed_message(t, "a@b.c", "r@d.e");

	assert_int_equal(v.kind, VERDICT_REJECT);
	assert_int_equal(v.reply->code, 552);
	assert_true(txn_message_size(t) > 40);
	txn_free(t);
	policy_unref(p);
}

static void test_any_and_else_branches(void **state)
{
	struct policy *p = policy_with(*state,
		"\"mail\":[{\"name\":\"r1\",\"if\":{\"any\":[{\"sender\":\"x@y.z\"},{\"sender\":{\"exact\":\"A@b.c\"}}]},"
		"\"then\":\"accept\",\"else\":[{\"action\":\"log\",\"message\":\"not matched\"},\"next\"]},"
		"{\"name\":\"r2\",\"then\":\"discard\"}]");
	struct txn *t = txn_new(p, &fake_env);
	struct verdict v = txn_mail(t, "A@b.c", NULL);

	assert_int_equal(v.kind, VERDICT_ACCEPT);
	assert_string_equal(v.rule, "r1");
	txn_reset_message(t, NULL);
	v = txn_mail(t, "a@b.c", NULL);
	assert_int_equal(v.kind, VERDICT_DISCARD);
	assert_string_equal(v.rule, "r2");
	assert_string_equal(txn_trail(t), "mail:r2=discard");
	txn_free(t);
	policy_unref(p);
}

static void test_header_edits_are_collected_in_order(void **state)
{
	struct policy *p = policy_with(*state,
		"\"connect\":[{\"then\":{\"action\":\"add_header\",\"name\":\"X-Conn\",\"value\":\"1\"}}],"
		"\"eom\":[{\"then\":[{\"action\":\"add_header\",\"name\":\"X-Scanned\",\"value\":\"yes\"},"
		"{\"action\":\"change_header\",\"name\":\"Subject\",\"value\":\"[ext] hello\",\"index\":1},"
		"{\"action\":\"remove_header\",\"name\":\"X-Secret\"}]}]");
	struct txn *t = txn_new(p, &fake_env);

	txn_connect(t, NULL, "192.0.2.1");
	for (int round = 0; round < 2; round++) {
		assert_int_equal(feed_message(t, "a@b.c", "r@d.e").kind, VERDICT_CONTINUE);
		assert_int_equal(txn_edit_count(t), 4);
		assert_string_equal(txn_edit(t, 0)->name, "X-Conn");
		assert_int_equal(txn_edit(t, 1)->op, EDIT_ADD);
		assert_string_equal(txn_edit(t, 1)->value, "yes");
		assert_int_equal(txn_edit(t, 2)->op, EDIT_CHANGE);
		assert_int_equal(txn_edit(t, 2)->index, 1);
		assert_int_equal(txn_edit(t, 3)->op, EDIT_REMOVE);
		assert_null(txn_edit(t, 3)->value);
		txn_reset_message(t, NULL);
	}
	txn_free(t);
	policy_unref(p);
}

static void test_message_is_spooled_with_crlf(void **state)
{
	struct policy *p = policy_with(*state, "\"eom\":[{\"if\":{\"header\":\"X-Keep\"},"
				       "\"then\":{\"action\":\"quarantine\",\"folder\":\"q\"}}]");
	struct txn *t = txn_new(p, &fake_env);
	char buf[256] = "", *path;
	FILE *f;
	size_t n;

	txn_mail(t, "a@b.c", NULL);
	txn_header(t, "Subject", "folded\n\tline");
	txn_eoh(t);
	txn_body(t, "body\r\n", 6);
	assert_int_equal(txn_eom(t).kind, VERDICT_CONTINUE);
	path = strdup(txn_message_path(t));
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_string_equal(buf, "Subject: folded\r\n\tline\r\n\r\nbody\r\n");
	txn_reset_message(t, NULL);
	assert_int_equal(access(path, F_OK), -1);
	free(path);
	txn_free(t);
	policy_unref(p);
}

static void test_without_delegation_or_folder_nothing_is_spooled(void **state)
{
	struct policy *p = policy_with(*state, "\"eom\":[{\"if\":{\"size_above\":4},"
				       "\"then\":{\"action\":\"add_header\",\"name\":\"X-Big\",\"value\":\"1\"}}]");
	struct txn *t = txn_new(p, &fake_env);

	assert_false(p->needs_message_file);
	txn_mail(t, "a@b.c", NULL);
	txn_header(t, "Subject", "s");
	txn_eoh(t);
	txn_body(t, "body\r\n", 6);
	assert_int_equal(txn_eom(t).kind, VERDICT_CONTINUE);
	assert_null(txn_message_path(t));
	assert_int_equal(txn_message_size(t), strlen("Subject: s\r\n") + 6);
	assert_int_equal(txn_edit_count(t), 1);        /* the size is still counted */
	txn_free(t);
	policy_unref(p);
}

static void test_small_messages_stay_in_memory_until_a_file_is_needed(void **state)
{
	struct fixture *f = *state;
	struct policy *p = policy_with(f, "\"eom\":[{\"if\":{\"header\":\"X-Keep\"},"
				       "\"then\":{\"action\":\"quarantine\",\"folder\":\"q\"}}]");
	struct txn *t = txn_new(p, &fake_env);
	static char big[70 * 1024];

	txn_mail(t, "a@b.c", NULL);
	txn_header(t, "Subject", "small");
	txn_eoh(t);
	txn_body(t, "body\r\n", 6);
	assert_int_equal(txn_eom(t).kind, VERDICT_CONTINUE);
	assert_int_equal(count_files(f->spool), 0);        /* no rule needed the file */
	assert_non_null(txn_message_path(t));           /* asked for: written out now */
	assert_int_equal(count_files(f->spool), 1);
	txn_reset_message(t, NULL);
	assert_int_equal(count_files(f->spool), 0);

	memset(big, 'x', sizeof(big));
	txn_mail(t, "a@b.c", NULL);
	txn_header(t, "Subject", "big");
	txn_eoh(t);
	txn_body(t, big, sizeof(big));
	assert_int_equal(count_files(f->spool), 1);        /* past 64 KB: on disk already */
	assert_int_equal(txn_eom(t).kind, VERDICT_CONTINUE);
	txn_free(t);
	assert_int_equal(count_files(f->spool), 0);
	policy_unref(p);
}

#define AV_RULE "\"eom\":[{\"name\":\"check email for virus\",\"then\":{\"action\":\"delegate\"," \
	"\"service\":\"av\",\"import_headers\":[\"X-Virus-*\"],\"rules\":[{\"name\":\"virus found\"," \
	"\"if\":{\"header\":\"X-Virus-Infected\"},\"then\":{\"action\":\"quarantine\",\"folder\":\"virus_q\"," \
	"\"reason\":\"virus\"}}]}}]"

static void test_clean_copy_resumes_and_imports_headers(void **state)
{
	struct policy *p = policy_with(*state, AV_RULE);
	struct txn *t = txn_new(p, &fake_env);
	struct verdict v;

	fake_added_header = "X-Virus-Scanned: ClamAV using ClamSMTP";
	fake_plants_id = true;
	v = feed_message(t, "a@b.c", "r@d.e");
	assert_int_equal(v.kind, VERDICT_CONTINUE);
	assert_int_equal(fake_delegations, 1);
	assert_int_equal(txn_edit_count(t), 1);
	assert_string_equal(txn_edit(t, 0)->name, "X-Virus-Scanned");
	assert_string_equal(txn_edit(t, 0)->value, "ClamAV using ClamSMTP");
	assert_null(headers_find(txn_headers(t), "X-Delegate-Id", 1));
	assert_non_null(headers_find(txn_headers(t), "Subject", 1));
	assert_int_equal(txn_delegation_ms(t), 7);
	txn_free(t);
	policy_unref(p);
}

static void test_infected_copy_is_quarantined_to_its_folder(void **state)
{
	struct fixture *f = *state;
	struct policy *p = policy_with(f, AV_RULE);
	struct txn *t = txn_new(p, &fake_env);
	struct verdict v;
	char cmd[1200], out[4096] = "";
	FILE *ls;
	size_t n;

	fake_added_header = "X-Virus-Infected: Virus Detected!";
	txn_set_queue_id(t, "4Xyz1");
	txn_connect(t, "client.example", "192.0.2.5");
	v = feed_message(t, "a@b.c", "r@d.e");
	assert_int_equal(v.kind, VERDICT_DISCARD);
	assert_string_equal(v.rule, "virus found");
	assert_string_equal(v.quarantine_reason, "virus");
	snprintf(cmd, sizeof(cmd), "cd %s/virus_q && ls && cat *.json && cat *.eml && stat -c %%a . *.eml",
		 f->quarantine);
	ls = popen(cmd, "r");
	n = fread(out, 1, sizeof(out) - 1, ls);
	out[n] = '\0';
	assert_int_equal(pclose(ls), 0);
	assert_non_null(strstr(out, "-4Xyz1-"));
	assert_non_null(strstr(out, "\"sender\": \"a@b.c\""));
	assert_non_null(strstr(out, "\"rule\": \"virus found\""));
	assert_non_null(strstr(out, "\"client_addr\": \"192.0.2.5\""));
	assert_non_null(strstr(out, "\"X-Virus-Infected\": \"Virus Detected!\""));
	assert_non_null(strstr(out, "Subject: hello\r\n"));
	/* What would have been delivered: the original with the imported field. */
	assert_non_null(strstr(out, "X-Virus-Infected: Virus Detected!\r\n\r\nline one\r\n"));
	assert_null(strstr(out, "X-Delegate-Id"));
	assert_non_null(strstr(out, "\n700\n600\n"));
	txn_free(t);
	policy_unref(p);
}

static void test_delegate_failures_run_their_fallbacks(void **state)
{
	struct policy *p = policy_with(*state,
		"\"eom\":[{\"then\":{\"action\":\"delegate\",\"service\":\"av\","
		"\"on_missing\":{\"action\":\"quarantine\",\"then\":\"hold\",\"reason\":\"dropped\"},"
		"\"on_timeout\":\"accept\"}}]");
	const enum delegate_status statuses[] = { DELEGATE_ERROR, DELEGATE_TIMEOUT, DELEGATE_MISSING };
	const enum verdict_kind want[] = { VERDICT_TEMPFAIL, VERDICT_ACCEPT, VERDICT_HOLD };

	for (int i = 0; i < 3; i++) {
		struct txn *t = txn_new(p, &fake_env);
		struct verdict v;

		fake_status = statuses[i];
		v = feed_message(t, "a@b.c", "r@d.e");
		assert_int_equal(v.kind, want[i]);
		if (i == 0) {
			assert_int_equal(v.reply->code, 451);
			assert_string_equal(v.reply->text, "Content filter unavailable, try again later");
		}
		txn_free(t);
	}
	policy_unref(p);
}

static void test_without_delegation_service_the_error_fallback_applies(void **state)
{
	struct policy *p = policy_with(*state, AV_RULE);
	struct txn_env env = { .quarantine = quarantine_store };
	struct txn *t = txn_new(p, &env);

	assert_int_equal(feed_message(t, "a@b.c", "r@d.e").kind, VERDICT_TEMPFAIL);
	txn_free(t);
	policy_unref(p);
}

static void test_quarantine_failure_is_tempfail_never_accept(void **state)
{
	struct policy *p = policy_with(*state, AV_RULE);
	struct txn_env env = fake_env;
	struct txn *t;
	struct verdict v;

	env.quarantine = fake_quarantine_fails;
	t = txn_new(p, &env);
	fake_added_header = "X-Virus-Infected: Virus Detected!";
	v = feed_message(t, "a@b.c", "r@d.e");
	assert_int_equal(v.kind, VERDICT_TEMPFAIL);
	assert_string_equal(v.rule, "fail_safe");
	txn_free(t);
	policy_unref(p);
}

static void test_unwritable_spool_gives_the_fail_safe_verdict(void **state)
{
	struct fixture *f = *state;
	struct policy *p;
	struct txn *t;

	rmdir(f->spool);
	p = policy_with(f, AV_RULE);
	t = txn_new(p, &fake_env);
	assert_int_equal(feed_message(t, "a@b.c", "r@d.e").kind, VERDICT_TEMPFAIL);
	assert_int_equal(fake_delegations, 0);
	txn_free(t);
	policy_unref(p);
}

/* read_text - the first bytes of PATH as a string (static buffer). */
static const char *read_text(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* quarantined_eml - the text of the one .eml file in FOLDER ("" when there is none). */
static const char *quarantined_eml(struct fixture *f, const char *folder)
{
	static char out[4096];
	char cmd[1200];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "cat %s/%s/*.eml 2>/dev/null", f->quarantine, folder);
	p = popen(cmd, "r");
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	return out;
}

static void test_chained_delegations_each_see_their_own_fields(void **state)
{
	struct policy *p = policy_with(*state,
		"\"eom\":[{\"name\":\"first\",\"then\":{\"action\":\"delegate\",\"service\":\"av\","
		"\"import_headers\":[\"X-Virus-*\"]}},"
		"{\"name\":\"second\",\"then\":{\"action\":\"delegate\",\"service\":\"av\",\"rules\":["
		"{\"name\":\"not mine\",\"if\":{\"header\":\"X-Virus-Scanned\"},\"then\":\"reject\"},"
		"{\"name\":\"spam\",\"if\":{\"header\":\"X-Spam-Flag\"},\"then\":\"discard\"}]}}]");
	struct txn *t = txn_new(p, &fake_env);
	struct verdict v;

	fake_added_header = "X-Virus-Scanned: av1";
	fake_added_second = "X-Spam-Flag: YES";
	v = feed_message(t, "a@b.c", "r@d.e");
	assert_int_equal(v.kind, VERDICT_DISCARD);
	assert_string_equal(v.rule, "spam");
	assert_int_equal(fake_delegations, 2);
	/* The second was sent the original with the first one's imports written in. */
	assert_non_null(strstr(fake_sent, "Message-ID: <1@example.com>\r\nX-Virus-Scanned: av1\r\n\r\nline one"));
	assert_int_equal(txn_edit_count(t), 1);
	assert_string_equal(txn_edit(t, 0)->name, "X-Virus-Scanned");
	assert_int_equal(txn_delegate_added(t)->count, 2);
	txn_free(t);
	policy_unref(p);
}

static void test_followup_ignores_a_field_the_sender_planted(void **state)
{
	struct fixture *f = *state;
	struct policy *p = policy_with(f, AV_RULE);
	struct txn *t = txn_new(p, &fake_env);

	fake_added_header = "X-Virus-Scanned: ClamAV using ClamSMTP";
	/* Folded, so the copy's reading of it differs in whitespace only. */
	assert_int_equal(feed_planted(t, "X-Virus-Infected", "yes\r\n\tplanted").kind, VERDICT_CONTINUE);
	assert_int_equal(fake_delegations, 1);
	assert_string_equal(quarantined_eml(f, "virus_q"), "");
	assert_int_equal(txn_delegate_added(t)->count, 1);
	assert_string_equal(txn_delegate_added(t)->items[0].name, "X-Virus-Scanned");
	/* The sender's field stays the sender's: it is not imported either. */
	assert_int_equal(txn_edit_count(t), 1);
	assert_string_equal(txn_edit(t, 0)->name, "X-Virus-Scanned");
	txn_free(t);
	policy_unref(p);
}

static void test_followup_sees_a_virus_next_to_a_planted_clean_mark(void **state)
{
	struct fixture *f = *state;
	struct policy *p = policy_with(f,
		"\"eom\":[{\"then\":{\"action\":\"delegate\",\"service\":\"av\",\"rules\":["
		"{\"name\":\"clean\",\"if\":{\"header\":{\"name\":\"X-Virus-Scanned\",\"value\":\"clean\"}},"
		"\"then\":\"accept\"},"
		"{\"name\":\"virus found\",\"if\":{\"header\":\"X-Virus-Infected\"},"
		"\"then\":{\"action\":\"quarantine\",\"folder\":\"virus_q\"}}]}}]");
	struct txn *t = txn_new(p, &fake_env);
	struct verdict v;

	fake_added_header = "X-Virus-Infected: Eicar-Test-Signature";
	v = feed_planted(t, "X-Virus-Scanned", "clean");
	assert_int_equal(v.kind, VERDICT_DISCARD);
	assert_string_equal(v.rule, "virus found");
	assert_non_null(strstr(quarantined_eml(f, "virus_q"), "X-Virus-Scanned: clean\r\n"));
	txn_free(t);
	policy_unref(p);
}

static void test_original_header_tests_the_senders_fields(void **state)
{
	struct policy *p = policy_with(*state,
		"\"eom\":[{\"then\":{\"action\":\"delegate\",\"service\":\"av\",\"rules\":["
		"{\"name\":\"copy\",\"if\":{\"header\":\"X-Loop\"},\"then\":\"reject\"},"
		"{\"name\":\"original\",\"if\":{\"original_header\":{\"name\":\"x-loop\",\"value\":\"yes\"}},"
		"\"then\":\"discard\"}]}}]");
	struct txn *t = txn_new(p, &fake_env);
	struct verdict v;

	fake_added_header = "X-Virus-Scanned: ClamAV";
	v = feed_planted(t, "X-Loop", "yes");
	assert_int_equal(v.kind, VERDICT_DISCARD);
	assert_string_equal(v.rule, "original");
	txn_free(t);
	policy_unref(p);
}

static void test_a_value_the_delegate_rewrote_counts_as_its_own(void **state)
{
	struct policy *p = policy_with(*state,
		"\"eom\":[{\"then\":{\"action\":\"delegate\",\"service\":\"av\",\"rules\":["
		"{\"name\":\"kept\",\"if\":{\"header\":\"Message-ID\"},\"then\":\"reject\"},"
		"{\"name\":\"tagged\",\"if\":{\"header\":{\"name\":\"Subject\",\"value\":{\"regex\":\"^\\\\*+SPAM\"}}},"
		"\"then\":\"discard\"}]}}]");
	struct txn *t = txn_new(p, &fake_env);
	struct verdict v;

	fake_subject = "*****SPAM***** hello";
	v = feed_message(t, "a@b.c", "r@d.e");
	assert_int_equal(v.kind, VERDICT_DISCARD);
	assert_string_equal(v.rule, "tagged");
	assert_int_equal(txn_delegate_added(t)->count, 1);
	assert_string_equal(txn_delegate_added(t)->items[0].value, "*****SPAM***** hello");
	/* Outside follow-up rules the message's own Subject is the one seen. */
	assert_string_equal(headers_find(txn_headers(t), "Subject", 1)->value, "hello");
	txn_free(t);
	policy_unref(p);
}

#define REPACKAGED "Subject: *****SPAM***** hello\r\nMessage-ID: <1@example.com>\r\n" \
	"X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=9.1\r\n" \
	"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nSpam detection report\r\n--b--\r\n"

static void test_a_repackaged_copy_is_judged_by_the_fields_it_added(void **state)
{
	struct fixture *f = *state;
	struct policy *p = policy_with(f,
		"\"eom\":[{\"then\":{\"action\":\"delegate\",\"service\":\"av\",\"deliver\":\"copy\",\"rules\":["
		"{\"name\":\"spam\",\"if\":{\"header\":{\"name\":\"X-Spam-Flag\",\"value\":\"YES\"}},"
		"\"then\":{\"action\":\"quarantine\",\"folder\":\"spam_q\"}}]}}]");
	struct txn *t = txn_new(p, &fake_env);
	const struct headers *added;

	fake_copy_text = REPACKAGED;
	assert_int_equal(feed_planted(t, "X-Spam-Flag", "NO").kind, VERDICT_DISCARD);
	added = txn_delegate_added(t);
	assert_int_equal(added->count, 4);      /* Message-ID was copied, not added */
	assert_string_equal(added->items[0].name, "Subject");
	assert_string_equal(added->items[3].name, "Content-Type");
	/* deliver=copy: the quarantine keeps the copy, as it would have been delivered. */
	assert_string_equal(quarantined_eml(f, "spam_q"), REPACKAGED);
	txn_free(t);
	policy_unref(p);
}

static void test_by_default_the_original_plus_imports_is_delivered(void **state)
{
	struct policy *p = policy_with(*state, AV_RULE);
	struct txn *t = txn_new(p, &fake_env);
	struct txn_delivery d;

	fake_added_header = "X-Virus-Scanned: ClamAV";
	fake_subject = "rewritten";
	assert_int_equal(feed_message(t, "a@b.c", "r@d.e").kind, VERDICT_CONTINUE);
	d = txn_delivery(t);
	assert_int_equal(d.source, DELIVER_ORIGINAL);
	assert_null(d.path);
	assert_ptr_equal(d.headers, txn_headers(t));
	assert_string_equal(headers_find(d.headers, "Subject", 1)->value, "hello");
	assert_int_equal(txn_edit_count(t), 1);
	assert_string_equal(read_text(txn_message_path(t)),
			    "Subject: hello\r\nMessage-ID: <1@example.com>\r\n"
			    "X-Virus-Scanned: ClamAV\r\n\r\nline one\r\n.dot\r\n");
	txn_free(t);
	policy_unref(p);
}

static void test_deliver_copy_replaces_the_message_and_drops_earlier_imports(void **state)
{
	struct fixture *f = *state;
	struct policy *p = policy_with(f,
		"\"eom\":[{\"then\":[{\"action\":\"add_header\",\"name\":\"X-Policy\",\"value\":\"1\"},"
		"{\"action\":\"delegate\",\"service\":\"av\",\"import_headers\":[\"X-Virus-*\"]},"
		"{\"action\":\"delegate\",\"service\":\"av\",\"deliver\":\"copy\"}]}]");
	struct txn *t = txn_new(p, &fake_env);
	struct txn_delivery d;
	char *copy, *path;

	fake_added_header = "X-Virus-Scanned: ClamAV";
	fake_added_second = "X-Disarmed: 1";
	assert_int_equal(feed_message(t, "a@b.c", "r@d.e").kind, VERDICT_CONTINUE);
	d = txn_delivery(t);
	assert_int_equal(d.source, DELIVER_COPY);
	assert_non_null(strstr(d.path, ".copy2"));
	assert_string_equal(txn_message_path(t), d.path);
	path = strdup(d.path);
	copy = strdup(read_text(d.path));
	assert_string_equal(copy + d.body_offset, "line one\r\n.dot\r\n");
	assert_non_null(strstr(copy, "X-Virus-Scanned: ClamAV\r\nX-Disarmed: 1\r\n\r\n"));
	assert_non_null(headers_find(d.headers, "X-Disarmed", 1));
	/* The copy carries the first delegation's import: only the policy's own edit is left. */
	assert_int_equal(txn_edit_count(t), 1);
	assert_string_equal(txn_edit(t, 0)->name, "X-Policy");
	txn_reset_message(t, NULL);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(count_files(f->spool), 0);
	free(path);
	free(copy);
	txn_free(t);
	policy_unref(p);
}

static void test_after_deliver_copy_later_imports_are_added_to_the_copy(void **state)
{
	struct policy *p = policy_with(*state,
		"\"eom\":[{\"then\":[{\"action\":\"delegate\",\"service\":\"av\",\"deliver\":\"copy\"},"
		"{\"action\":\"delegate\",\"service\":\"av\",\"import_headers\":[\"X-Spam-*\"]}]}]");
	struct txn *t = txn_new(p, &fake_env);
	struct txn_delivery d;

	fake_added_header = "X-Disarmed: 1";
	fake_added_second = "X-Spam-Flag: NO";
	assert_int_equal(feed_message(t, "a@b.c", "r@d.e").kind, VERDICT_CONTINUE);
	/* The second delegation was sent the first one's copy. */
	assert_non_null(strstr(fake_seen_path, ".copy1"));
	d = txn_delivery(t);
	assert_int_equal(d.source, DELIVER_COPY);
	assert_non_null(strstr(d.path, ".copy1"));
	assert_int_equal(txn_edit_count(t), 1);
	assert_string_equal(txn_edit(t, 0)->value, "NO");
	assert_non_null(strstr(read_text(txn_message_path(t)),
			       "X-Disarmed: 1\r\nX-Spam-Flag: NO\r\n\r\nline one"));
	txn_free(t);
	policy_unref(p);
}

static void test_reset_with_a_new_policy_uses_it_for_the_next_message(void **state)
{
	struct policy *old = policy_with(*state, "\"mail\":[{\"then\":\"reject\"}]");
	struct policy *fresh = policy_with(*state, "\"mail\":[{\"then\":\"accept\"}]");
	struct txn *t = txn_new(old, &fake_env);

	policy_unref(old);      /* the transaction keeps it alive */
	assert_int_equal(txn_mail(t, "a@b.c", NULL).kind, VERDICT_REJECT);
	txn_reset_message(t, fresh);
	assert_ptr_equal(txn_policy(t), fresh);
	assert_int_equal(txn_mail(t, "a@b.c", NULL).kind, VERDICT_ACCEPT);
	txn_free(t);
	policy_unref(fresh);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_client_ip_matches_ipv4_ipv6_and_mapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_decision_holds_for_every_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helo_regex_and_sender_matchers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rcpt_reject_refuses_only_that_recipient, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_presence_and_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_presence_and_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_above_and_macro, setup, teardown),
		cmocka_unit_test_setup_teardown(test_any_and_else_branches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_edits_are_collected_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_is_spooled_with_crlf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_delegation_or_folder_nothing_is_spooled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_messages_stay_in_memory_until_a_file_is_needed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_copy_resumes_and_imports_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_infected_copy_is_quarantined_to_its_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delegate_failures_run_their_fallbacks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_delegation_service_the_error_fallback_applies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quarantine_failure_is_tempfail_never_accept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwritable_spool_gives_the_fail_safe_verdict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chained_delegations_each_see_their_own_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_followup_ignores_a_field_the_sender_planted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_followup_sees_a_virus_next_to_a_planted_clean_mark, setup, teardown),
		cmocka_unit_test_setup_teardown(test_original_header_tests_the_senders_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_value_the_delegate_rewrote_counts_as_its_own, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_repackaged_copy_is_judged_by_the_fields_it_added, setup, teardown),
		cmocka_unit_test_setup_teardown(test_by_default_the_original_plus_imports_is_delivered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_copy_replaces_the_message_and_drops_earlier_imports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_after_deliver_copy_later_imports_are_added_to_the_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_with_a_new_policy_uses_it_for_the_next_message, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
