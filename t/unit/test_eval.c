/*
 * test_eval.c - the engine end to end without an MTA: a transaction is fed
 * stage by stage and each condition and action is checked by the verdict,
 * the header edits and the files it leaves. Delegations are in
 * test_eval_delegate.c; the fixture and fake hooks in eval_fixture.h.
 */
#include "eval_fixture.h"

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

static void test_a_new_message_keeps_nothing_of_the_last_but_the_connection(void **state)
{
	struct policy *p = policy_with(*state,
		"\"connect\":[{\"name\":\"c\",\"then\":{\"action\":\"add_header\",\"name\":\"X-Conn\",\"value\":\"1\"}}],"
		"\"mail\":[{\"name\":\"m\",\"if\":{\"sender\":\"bad@b.c\"},\"then\":\"discard\"}],"
		"\"eom\":[{\"name\":\"e\",\"then\":{\"action\":\"add_header\",\"name\":\"X-Msg\",\"value\":\"1\"}}]");
	struct txn *t = txn_new(p, &fake_env);

	txn_connect(t, NULL, "192.0.2.1");
	assert_int_equal(txn_mail(t, "bad@b.c", "user").kind, VERDICT_DISCARD);
	txn_rcpt(t, "r@d.e");
	txn_header(t, "Subject", "s");
	txn_body(t, "body\r\n", 6);
	assert_int_equal(txn_eom(t).kind, VERDICT_DISCARD);
	assert_non_null(strstr(txn_trail(t), "mail:m=discard"));
	txn_reset_message(t, NULL);

	assert_null(txn_sender(t));
	assert_int_equal(txn_rcpt_count(t), 0);
	assert_int_equal(txn_headers(t)->count, 0);
	assert_int_equal(txn_message_size(t), 0);
	assert_int_equal(txn_edit_count(t), 1);         /* the connection's X-Conn only */
	assert_null(strstr(txn_trail(t), "mail:m"));
	assert_int_equal(txn_mail(t, "good@b.c", NULL).kind, VERDICT_CONTINUE);
	txn_rcpt(t, "r@d.e");
	assert_int_equal(txn_eom(t).kind, VERDICT_CONTINUE);
	assert_int_equal(txn_edit_count(t), 2);
	assert_string_equal(txn_edit(t, 0)->name, "X-Conn");
	assert_string_equal(txn_edit(t, 1)->name, "X-Msg");
	txn_free(t);
	policy_unref(p);
}

static void test_a_kept_message_that_cannot_be_spooled_gets_the_fail_safe(void **state)
{
	struct fixture *f = *state;
	struct policy *p = policy_with(f, "\"eom\":[{\"then\":{\"action\":\"add_header\","
				       "\"name\":\"X-T\",\"value\":\"1\"}}]");
	struct txn *t = txn_new(p, &fake_env);
	static char big[70 * 1024];
	FILE *in;

	txn_keep_messages(t);           /* as the shim: it delivers the message itself */
	rmdir(f->spool);
	txn_mail(t, "a@b.c", NULL);
	txn_header(t, "Subject", "small");
	txn_eoh(t);
	txn_body(t, "body\r\n", 6);
	assert_int_equal(txn_eom(t).kind, VERDICT_CONTINUE);       /* in memory: no folder needed */
	assert_non_null(in = txn_original_open(t));
	fclose(in);
	txn_reset_message(t, NULL);

	memset(big, 'x', sizeof(big));
	txn_mail(t, "a@b.c", NULL);
	txn_header(t, "Subject", "big");
	txn_eoh(t);
	txn_body(t, big, sizeof(big));
	assert_int_equal(txn_eom(t).kind, VERDICT_TEMPFAIL);
	assert_null(txn_original_open(t));
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
		cmocka_unit_test_setup_teardown(test_a_new_message_keeps_nothing_of_the_last_but_the_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_kept_message_that_cannot_be_spooled_gets_the_fail_safe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_with_a_new_policy_uses_it_for_the_next_message, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

