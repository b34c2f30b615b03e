/*
 * test_eval_delegate.c - delegations end to end through a fake delegate:
 * follow-up rules and the fields they may trust, fallbacks, chained
 * delegations, and which message is delivered or quarantined afterwards.
 */
#include "eval_fixture.h"

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

static void test_a_plain_rule_after_a_delegation_sees_the_clients_fields(void **state)
{
	struct policy *p = policy_with(*state,
		"\"eom\":[{\"then\":{\"action\":\"delegate\",\"service\":\"av\",\"import_headers\":[\"X-Virus-*\"]}},"
		"{\"name\":\"later\",\"if\":{\"header\":\"X-Virus-Scanned\"},\"then\":\"reject\"},"
		"{\"name\":\"own\",\"if\":{\"header\":{\"name\":\"Subject\",\"value\":\"hello\"}},\"then\":\"discard\"}]");
	struct txn *t = txn_new(p, &fake_env);
	struct verdict v;

	fake_added_header = "X-Virus-Scanned: ClamAV";
	fake_subject = "rewritten";
	v = feed_message(t, "a@b.c", "r@d.e");
	assert_int_equal(v.kind, VERDICT_DISCARD);
	assert_string_equal(v.rule, "own");
	txn_free(t);
	policy_unref(p);
}

static void test_a_delegation_inside_followup_rules_restores_the_outer_view(void **state)
{
	struct policy *p = policy_with(*state,
		"\"eom\":[{\"then\":{\"action\":\"delegate\",\"service\":\"av\",\"rules\":["
		"{\"name\":\"inner\",\"then\":{\"action\":\"delegate\",\"service\":\"av\",\"rules\":["
		"{\"name\":\"inner sees\",\"if\":{\"header\":\"X-First\"},\"then\":\"reject\"}]}},"
		"{\"name\":\"outer sees\",\"if\":{\"header\":\"X-First\"},\"then\":\"discard\"}]}}]");
	struct txn *t = txn_new(p, &fake_env);
	struct verdict v;

	fake_added_header = "X-First: 1";
	fake_added_second = "X-Second: 2";
	v = feed_message(t, "a@b.c", "r@d.e");
	assert_int_equal(fake_delegations, 2);
	assert_int_equal(v.kind, VERDICT_DISCARD);
	assert_string_equal(v.rule, "outer sees");
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

int main(void)
{
	const struct CMUnitTest tests[] = {
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
		cmocka_unit_test_setup_teardown(test_a_plain_rule_after_a_delegation_sees_the_clients_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_delegation_inside_followup_rules_restores_the_outer_view, setup, teardown),
		cmocka_unit_test_setup_teardown(test_by_default_the_original_plus_imports_is_delivered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_copy_replaces_the_message_and_drops_earlier_imports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_after_deliver_copy_later_imports_are_added_to_the_copy, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

