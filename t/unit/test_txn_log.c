/*
 * test_txn_log.c - the one per-message log line: every field in its fixed
 * order, the defaults before a field is known, and the front end's extra
 * fields (the shim's next hop) appended after the same line the milter
 * writes; the JSON object of the same line, field by field, with the trail
 * as an array and the quarantine id.
 */
#include "eval_fixture.h"

#include "txn_log.h"

/* rejected_message - a txn through eom with two recipients, 12 + 6 bytes, rejected. */
static struct txn *rejected_message(struct policy *p, struct verdict *v)
{
	struct txn *t = txn_new(p, &fake_env);

	txn_connect(t, "mx.example.net", "192.0.2.7");
	txn_set_queue_id(t, "4QX1a2b3c");
	txn_mail(t, "a@example.org", NULL);
	txn_rcpt(t, "one@example.com");
	txn_rcpt(t, "two@example.com");
	txn_header(t, "Subject", "hello");         /* 7 + 5 + 4 bytes */
	txn_eoh(t);
	txn_body(t, "body\r\n", 6);
	*v = txn_eom(t);
	return t;
}

static void test_line_has_every_field_in_order(void **state)
{
	struct policy *p = policy_with(*state, "\"eom\":[{\"name\":\"no\",\"then\":{\"action\":\"reject\","
				       "\"code\":554,\"status\":\"5.7.1\",\"text\":\"Refused\"}}]");
	struct verdict v;
	struct txn *t = rejected_message(p, &v);
	char line[1024];

	txn_log_format(t, v, NULL, line, sizeof(line));
	assert_string_equal(line, "4QX1a2b3c: client=192.0.2.7 from=<a@example.org> rcpts=2 "
			    "size=22 delegation=0ms rules=\"eom:no=reject\" verdict=reject "
			    "reply=554 5.7.1 Refused");
	txn_free(t);
	policy_unref(p);
}

static void test_shim_line_is_the_milter_line_plus_its_next_hop(void **state)
{
	struct policy *p = policy_with(*state, "\"eom\":[{\"name\":\"no\",\"then\":\"reject\"}]");
	struct verdict v;
	struct txn *t = rejected_message(p, &v);
	char milter[1024], shim[1024], want[1100];

	txn_log_format(t, v, NULL, milter, sizeof(milter));
	txn_log_format(t, v, (const struct txn_log_field[]){
		{ "nexthop", "smtp 127.0.0.1:10030", true }, { "status", "sent", false },
		{ NULL, NULL, false } }, shim, sizeof(shim));
	snprintf(want, sizeof(want), "%s nexthop=\"smtp 127.0.0.1:10030\" status=sent", milter);
	assert_string_equal(shim, want);
	txn_free(t);
	policy_unref(p);
}

static void test_unknown_queue_id_and_client_have_defaults(void **state)
{
	struct policy *p = policy_with(*state, "\"mail\":[{\"then\":\"discard\"}]");
	struct txn *t = txn_new(p, &fake_env);
	struct verdict v;
	char line[1024];

	txn_connect(t, NULL, NULL);
	v = txn_mail(t, "", NULL);
	txn_log_format(t, v, NULL, line, sizeof(line));
	assert_string_equal(line, "NOQUEUE: client=unknown from=<> rcpts=0 size=0 delegation=0ms "
			    "rules=\"mail:mail#1=discard\" verdict=discard");
	txn_free(t);
	policy_unref(p);
}

static void test_json_has_the_line_fields_the_trail_array_and_the_reply(void **state)
{
	struct policy *p = policy_with(*state, "\"mail\":[{\"name\":\"log it\",\"then\":"
				       "{\"action\":\"log\",\"message\":\"x\"}}],"
				       "\"eom\":[{\"name\":\"no\",\"then\":{\"action\":\"reject\","
				       "\"code\":554,\"status\":\"5.7.1\",\"text\":\"Refused\"}}]");
	struct verdict v;
	struct txn *t = rejected_message(p, &v);
	json_t *o = txn_log_json(t, v, (const struct txn_log_field[]){
		{ "status", "sent", false }, { NULL, NULL, false } });
	char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

	assert_string_equal(text, "{\"queue_id\":\"4QX1a2b3c\",\"client\":\"192.0.2.7\","
			    "\"from\":\"a@example.org\",\"rcpts\":2,\"size\":22,\"delegation_ms\":0,"
			    "\"rules\":[\"eom:no=reject\"],\"verdict\":\"reject\",\"reply\":"
			    "{\"code\":554,\"status\":\"5.7.1\",\"text\":\"Refused\"},"
			    "\"quarantine_id\":null,\"status\":\"sent\"}");
	free(text);
	json_decref(o);
	txn_free(t);
	policy_unref(p);
}

static void test_json_trail_splits_entries_not_rule_names_and_keeps_the_quarantine_id(void **state)
{
	struct fixture *f = *state;
	struct policy *p = policy_with(f, "\"rcpt\":[{\"name\":\"two words eom:not one\",\"then\":"
				       "\"tempfail\"}],\"eom\":[{\"name\":\"keep it\",\"then\":"
				       "{\"action\":\"quarantine\",\"folder\":\"q\"}}]");
	struct verdict v;
	struct txn *t = rejected_message(p, &v);
	json_t *o = txn_log_json(t, v, NULL), *rules = json_object_get(o, "rules");
	const char *id = json_string_value(json_object_get(o, "quarantine_id"));
	char eml[1200];

	assert_int_equal(v.kind, VERDICT_DISCARD);
	assert_int_equal(json_array_size(rules), 3);
	assert_string_equal(json_string_value(json_array_get(rules, 0)), "rcpt:two words eom:not one=tempfail");
	assert_string_equal(json_string_value(json_array_get(rules, 2)), "eom:keep it=discard");
	assert_non_null(id);
	snprintf(eml, sizeof(eml), "%s/q/%s.eml", f->quarantine, id);
	assert_int_equal(access(eml, R_OK), 0);
	json_decref(o);
	txn_free(t);
	policy_unref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_line_has_every_field_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shim_line_is_the_milter_line_plus_its_next_hop,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_queue_id_and_client_have_defaults,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_json_has_the_line_fields_the_trail_array_and_the_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_json_trail_splits_entries_not_rule_names_and_keeps_the_quarantine_id,
			setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
