/*
 * test_clamd_service.c - a "clamd" service through the whole engine: the
 * policy loader, delegation_run and the follow-up rules, against the
 * scripted clamd of fake_clamd.h. The verdict reaches the follow-up rules as
 * the fields a filter would have added (X-Virus-Infected: SIGNATURE,
 * X-Virus-Scanned), so the reference policy's rules work unchanged; a
 * sender's own X-Virus-Infected is not clamd's word; a failure is on_error.
 */
#include "fake_clamd.h"

#include <sys/stat.h>

#include "delegation.h"
#include "quarantine.h"
#include "txn.h"

struct world {
	char *dir;
	struct policy *policy;
	struct delegation *delegation;
	struct fake fake;
};

#define AV_RULES "\"eom\":[{\"name\":\"scan\",\"then\":{\"action\":\"delegate\",\"service\":\"av\"," \
	"\"import_headers\":[\"X-Virus-Scanned\"],\"on_error\":{\"action\":\"tempfail\",\"text\":\"AV down\"}," \
	"\"rules\":[{\"name\":\"virus found\",\"if\":{\"header\":\"X-Virus-Infected\"},\"then\":" \
	"{\"action\":\"quarantine\",\"folder\":\"virus_q\",\"then\":\"reject\",\"text\":\"Virus\"}}]}}]"

/* start_world - the policy (a clamd service on DIR/clamd.sock) and its delegation runtime. */
static void start_world(struct world *w, const char *stream)
{
	char *text, err[256];

	w->dir = scratch_dir();
	assert_true(asprintf(&text, "{\"settings\":{\"spool_dir\":\"%s\",\"quarantine_dir\":\"%s\"},"
			     "\"services\":{\"av\":{\"type\":\"clamd\",\"delegator\":{\"address\":"
			     "\"unix:%s/clamd.sock\",\"timeout\":\"5s\",\"stream\":\"%s\"}}},"
			     "\"stages\":{" AV_RULES "}}", w->dir, w->dir, w->dir, stream) > 0);
	w->policy = load_ok(text);
	free(text);
	w->delegation = delegation_start(w->policy, err, sizeof(err));
	assert_non_null(w->delegation);
}

static void stop_world(struct world *w)
{
	delegation_stop(w->delegation);
	policy_unref(w->policy);
	remove_tree(w->dir);
	free(w->dir);
	free(w->fake.data);
}

/* feed - one message (with the sender's PLANTED field if not NULL); the eom verdict. */
static struct verdict feed(struct world *w, struct txn **tp, const char *planted)
{
	static const struct txn_env env_template = {
		.delegate = delegation_run, .quarantine = quarantine_store,
	};
	struct txn_env env = env_template;
	struct txn *t;

	env.service_arg = w->delegation;
	t = *tp = txn_new(w->policy, &env);
	assert_int_equal(txn_mail(t, "a@b.c", NULL).kind, VERDICT_CONTINUE);
	assert_int_equal(txn_rcpt(t, "r@d.e").kind, VERDICT_CONTINUE);
	txn_header(t, "Subject", "hello");
	if (planted)
		txn_header(t, "X-Virus-Infected", planted);
	assert_int_equal(txn_eoh(t).kind, VERDICT_CONTINUE);
	txn_body(t, "line one\r\n", 10);
	return txn_eom(t);
}

static void test_found_is_quarantined_by_the_reference_follow_up_rule(void **state)
{
	struct world w = { .fake = { .behaviour = ANSWER, .reply = "stream: Eicar-Signature FOUND" } };
	struct txn *t;
	struct verdict v;

	(void)state;
	start_world(&w, "instream");
	start_fake(&w.fake, false, w.dir);
	v = feed(&w, &t, NULL);
	stop_fake(&w.fake);
	assert_int_equal(v.kind, VERDICT_REJECT);
	assert_string_equal(v.rule, "virus found");
	assert_string_equal(w.fake.command, "zINSTREAM");
	assert_non_null(strstr(w.fake.data, "Subject: hello\r\n\r\nline one\r\n"));
	assert_string_equal(headers_find(txn_delegate_added(t), "X-Virus-Infected", 1)->value,
			    "Eicar-Signature");
	txn_free(t);
	stop_world(&w);
}

static void test_clean_imports_x_virus_scanned_and_goes_on(void **state)
{
	struct world w = { .fake = { .behaviour = ANSWER, .reply = "fd[7]: OK" } };
	struct txn *t;
	struct verdict v;

	(void)state;
	start_world(&w, "auto");
	start_fake(&w.fake, false, w.dir);
	v = feed(&w, &t, NULL);
	stop_fake(&w.fake);
	assert_string_equal(w.fake.command, "zFILDES");
	/* A message kept in memory goes to clamd as a memfd: no spool file. */
	assert_memory_equal(w.fake.fd_target, "/memfd:md-message", 17);
	assert_int_equal(count_files(w.dir), 0);        /* (the fake removed its socket) */
	assert_int_equal(v.kind, VERDICT_CONTINUE);
	assert_int_equal(txn_edit_count(t), 1);
	assert_string_equal(txn_edit(t, 0)->name, "X-Virus-Scanned");
	assert_string_equal(txn_edit(t, 0)->value, "ClamAV (clamd)");
	txn_free(t);
	stop_world(&w);
}

static void test_senders_own_x_virus_infected_is_not_clamds_word(void **state)
{
	struct world w = { .fake = { .behaviour = ANSWER, .reply = "stream: OK" } };
	struct txn *t;
	struct verdict v;

	(void)state;
	start_world(&w, "instream");
	start_fake(&w.fake, false, w.dir);
	v = feed(&w, &t, "yes, trust me");
	stop_fake(&w.fake);
	assert_int_equal(v.kind, VERDICT_CONTINUE);
	txn_free(t);
	stop_world(&w);
}

static void test_clamd_error_reply_is_on_error(void **state)
{
	struct world w = { .fake = { .behaviour = ANSWER, .reply = "INSTREAM size limit exceeded. ERROR" } };
	struct txn *t;
	struct verdict v;

	(void)state;
	start_world(&w, "instream");
	start_fake(&w.fake, false, w.dir);
	v = feed(&w, &t, NULL);
	stop_fake(&w.fake);
	assert_int_equal(v.kind, VERDICT_TEMPFAIL);
	assert_string_equal(v.reply->text, "AV down");
	assert_int_equal(txn_edit_count(t), 0);
	txn_free(t);
	stop_world(&w);
}

static void test_clamd_down_is_on_error(void **state)
{
	struct world w = { 0 };
	struct txn *t;
	struct verdict v;

	(void)state;
	start_world(&w, "auto");
	v = feed(&w, &t, NULL);
	assert_int_equal(v.kind, VERDICT_TEMPFAIL);
	assert_string_equal(v.reply->text, "AV down");
	txn_free(t);
	stop_world(&w);
}

static void test_policy_reads_clamd_addresses_and_streams(void **state)
{
	struct policy *p = load_ok("{\"services\":{"
		"\"a\":{\"type\":\"clamd\",\"delegator\":{\"address\":\"/run/clamav/clamd.ctl\"}},"
		"\"b\":{\"type\":\"clamd\",\"delegator\":{\"address\":\"unix:/run/c.sock\",\"stream\":\"fildes\"}},"
		"\"c\":{\"type\":\"clamd\",\"delegator\":{\"address\":\"10.0.0.5:3310\",\"timeout\":\"20s\"}}},"
		"\"stages\":{\"eom\":[{\"then\":{\"action\":\"delegate\",\"service\":\"a\"}}]}}");

	(void)state;
	assert_int_equal(p->services[0].type, SERVICE_CLAMD);
	assert_string_equal(p->services[0].members[0].path, "/run/clamav/clamd.ctl");
	assert_int_equal(p->services[0].stream, CLAMD_STREAM_AUTO);
	assert_string_equal(p->services[1].members[0].path, "/run/c.sock");
	assert_int_equal(p->services[1].stream, CLAMD_STREAM_FILDES);
	assert_null(p->services[2].members[0].path);
	assert_string_equal(p->services[2].members[0].address.host, "10.0.0.5");
	assert_int_equal(p->services[2].members[0].address.port, 3310);
	assert_int_equal(p->services[2].timeout_ms, 20000);
	policy_unref(p);
}

static void test_policy_refuses_what_a_clamd_service_cannot_do(void **state)
{
	(void)state;
	assert_load_error("{\"services\":{\"a\":{\"type\":\"clamd\",\"delegator\":{\"address\":"
			  "\"127.0.0.1:3310\",\"stream\":\"fildes\"},\"receiver\":\"127.0.0.1:10025\"}},"
			  "\"stages\":{\"eom\":[{\"then\":{\"action\":\"delegate\",\"service\":\"a\","
			  "\"deliver\":\"copy\"}}]}}",
			  "test.json:1:83: services.a.delegator.stream: \"fildes\" passes an open file "
			  "and needs unix socket addresses\n"
			  "test.json:1:18: services.a: a clamd service answers itself: it has no receiver, "
			  "receiver_public, receiver_idle or receiver_allow\n"
			  "test.json:1:194: stages.eom[0].then.deliver: a clamd service returns a verdict, "
			  "not a copy: \"copy\" needs an smtp service");
	assert_load_error("{\"services\":{\"a\":{\"type\":\"clamav\",\"delegator\":{\"address\":\"1\"},"
			  "\"receiver\":\"2\"}},\"stages\":{}}",
			  "test.json:1:26: services.a.type: unknown service type \"clamav\"; expected: smtp, clamd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found_is_quarantined_by_the_reference_follow_up_rule),
		cmocka_unit_test(test_clean_imports_x_virus_scanned_and_goes_on),
		cmocka_unit_test(test_senders_own_x_virus_infected_is_not_clamds_word),
		cmocka_unit_test(test_clamd_error_reply_is_on_error),
		cmocka_unit_test(test_clamd_down_is_on_error),
		cmocka_unit_test(test_policy_reads_clamd_addresses_and_streams),
		cmocka_unit_test(test_policy_refuses_what_a_clamd_service_cannot_do),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
