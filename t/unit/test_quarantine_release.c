/*
 * test_quarantine_release.c - the engine's side of a release with a
 * one-time token (qstore.h, RELEASE TOKENS): a message carrying the live
 * token of its quarantined copy is not quarantined again; a wrong, void or
 * doubled release field changes nothing.
 */
#include "eval_fixture.h"

#include "qstore.h"

/* What a quarantined first message left: its id and a live token. */
struct released {
	char id[QSTORE_ID_MAX + 1];
	char token[33];
	struct qentry entry;            /* claimed, as the tool holds it while it sends */
};

/* quarantine_one - a message quarantined by T's policy, then a token for it. */
static void quarantine_one(struct fixture *f, struct txn *t, struct released *r)
{
	char err[512];

	assert_int_equal(feed_message(t, "a@b.c", "r@d.e").kind, VERDICT_DISCARD);
	snprintf(r->id, sizeof(r->id), "%s", txn_quarantine_id(t));
	assert_true(qstore_valid_id(r->id));
	txn_reset_message(t, NULL);
	assert_true(qstore_find(f->quarantine, NULL, r->id, &r->entry, err, sizeof(err)));
	assert_true(qstore_claim(&r->entry, err, sizeof(err)));
	assert_true(qstore_set_token(&r->entry, r->token, err, sizeof(err)));
}

/* folder_count - the messages in F's folder q. */
static int folder_count(struct fixture *f)
{
	char dir[600];

	snprintf(dir, sizeof(dir), "%s/q", f->quarantine);
	return count_files(dir) / 2;
}

static const char *const always_quarantine =
	"\"eom\":[{\"name\":\"all\",\"then\":{\"action\":\"quarantine\",\"folder\":\"q\"}}]";

static void test_a_live_token_skips_the_quarantine(void **state)
{
	struct policy *p = policy_with(*state, always_quarantine);
	struct txn *t = txn_new(p, &fake_env);
	struct released r;
	char value[256];
	struct verdict v;

	quarantine_one(*state, t, &r);
	snprintf(value, sizeof(value), "%s %s", r.id, r.token);
	v = feed_planted(t, QSTORE_RELEASE_FIELD, value);
	assert_int_equal(v.kind, VERDICT_CONTINUE);     /* no rule decides: the MTA delivers */
	assert_non_null(strstr(txn_trail(t), "eom:all=released"));
	assert_int_equal(folder_count(*state), 1);
	assert_string_equal(txn_quarantine_id(t), "");
	qentry_free(&r.entry);
	txn_free(t);
	policy_unref(p);
}

static void test_a_wrong_void_or_doubled_release_field_is_quarantined(void **state)
{
	struct policy *p = policy_with(*state, always_quarantine);
	struct txn *t = txn_new(p, &fake_env);
	struct released r;
	char value[256], err[512];

	quarantine_one(*state, t, &r);
	snprintf(value, sizeof(value), "%s %.31s%c", r.id, r.token, r.token[31] == 'a' ? 'b' : 'a');
	assert_int_equal(feed_planted(t, QSTORE_RELEASE_FIELD, value).kind, VERDICT_DISCARD);
	txn_reset_message(t, NULL);

	snprintf(value, sizeof(value), "%s %s", r.id, r.token);         /* doubled */
	txn_mail(t, "a@b.c", NULL);
	txn_rcpt(t, "r@d.e");
	txn_header(t, QSTORE_RELEASE_FIELD, value);
	txn_header(t, QSTORE_RELEASE_FIELD, value);
	txn_eoh(t);
	txn_body(t, "x\r\n", 3);
	assert_int_equal(txn_eom(t).kind, VERDICT_DISCARD);
	txn_reset_message(t, NULL);

	assert_true(qstore_set_token(&r.entry, NULL, err, sizeof(err)));  /* the release ended */
	assert_int_equal(feed_planted(t, QSTORE_RELEASE_FIELD, value).kind, VERDICT_DISCARD);
	assert_int_equal(folder_count(*state), 4);
	qentry_free(&r.entry);
	txn_free(t);
	policy_unref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_live_token_skips_the_quarantine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_wrong_void_or_doubled_release_field_is_quarantined,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
