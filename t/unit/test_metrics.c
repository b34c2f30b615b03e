/*
 * test_metrics.c - the metrics module and where the engine counts: nothing
 * is counted before metrics_enable; messages by verdict and stage, rule
 * hits, delegations by service and outcome with their latency, quarantine
 * writes and fail-safe verdicts move by exactly what happened; histograms
 * are cumulative; label values are escaped; a policy loaded through the
 * store binds its rules and services and counts generation and reloads;
 * pool members count their tries and show up/active while a pool that has
 * them runs, which after a reload ends when the last policy using it goes.
 * The metrics are process-wide, so each test reads deltas of the text.
 */
#include "eval_fixture.h"

#include "delegation.h"
#include "metrics.h"
#include "policy_store.h"
#include "pool.h"
#include "txn_log.h"

/* value - the number of the series whose line starts with SERIES + ' ', or -1. */
static double value(const char *series)
{
	size_t len, n = strlen(series);
	char *text = metrics_render(&len);
	double v = -1;

	assert_non_null(text);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ') {
			v = strtod(p + n + 1, NULL);
			break;
		}
	free(text);
	return v;
}

/* shown - is SERIES in the text at all? */
static bool shown(const char *series)
{
	return value(series) >= 0;
}

#define M(name) "milter_delegate_" name

static void test_nothing_is_counted_before_enable(void **state)
{
	(void)state;
	metrics_count(M_FAIL_SAFE);
	metrics_count_message(MV_REJECT, 2);
	assert_false(metrics_enabled());
	assert_int_equal(value(M("fail_safe_total")), 0);
	assert_int_equal(value(M("messages_total{verdict=\"reject\",stage=\"mail\"}")), 0);
	metrics_enable(0);
	assert_true(metrics_enabled());
}

static void test_messages_count_by_verdict_and_stage(void **state)
{
	double before = value(M("messages_total{verdict=\"quarantine\",stage=\"eom\"}"));

	(void)state;
	metrics_count_message(MV_QUARANTINE, 5);
	metrics_count_message(MV_QUARANTINE, 5);
	metrics_count_message(MV_COUNT, 5);     /* out of range: ignored, not a crash */
	assert_int_equal(value(M("messages_total{verdict=\"quarantine\",stage=\"eom\"}")),
			 before + 2);
}

static void test_histogram_buckets_are_cumulative_in_seconds(void **state)
{
	struct metrics_series *s = metrics_series_get(METRICS_SERVICES, "hist");

	(void)state;
	metrics_delegation(s, DELEGATE_COPY, 3);
	metrics_delegation(s, DELEGATE_TIMEOUT, 7);
	metrics_delegation(s, DELEGATE_ERROR, 70000);
	assert_int_equal(value(M("delegation_duration_seconds_bucket{service=\"hist\",le=\"0.005\"}")), 1);
	assert_int_equal(value(M("delegation_duration_seconds_bucket{service=\"hist\",le=\"0.01\"}")), 2);
	assert_int_equal(value(M("delegation_duration_seconds_bucket{service=\"hist\",le=\"60\"}")), 2);
	assert_int_equal(value(M("delegation_duration_seconds_bucket{service=\"hist\",le=\"+Inf\"}")), 3);
	assert_int_equal(value(M("delegation_duration_seconds_count{service=\"hist\"}")), 3);
	assert_true(value(M("delegation_duration_seconds_sum{service=\"hist\"}")) == 70.01);
	assert_int_equal(value(M("delegations_total{service=\"hist\",outcome=\"timeout\"}")), 1);
	assert_int_equal(value(M("delegations_total{service=\"hist\",outcome=\"missing\"}")), 0);
}

static void test_one_name_is_one_series(void **state)
{
	(void)state;
	assert_ptr_equal(metrics_series_get(METRICS_RULES, "same"),
			 metrics_series_get(METRICS_RULES, "same"));
	assert_ptr_not_equal(metrics_series_get(METRICS_RULES, "same"),
			     metrics_series_get(METRICS_SERVICES, "same"));
}

static void test_label_values_are_escaped(void **state)
{
	metrics_rule_hit(metrics_series_get(METRICS_RULES, "say \"hi\"\\\nbye"));
	(void)state;
	assert_int_equal(value(M("rule_hits_total{rule=\"say \\\"hi\\\"\\\\\\nbye\"}")), 1);
}

/* seven - a gauge source. */
static uint64_t seven(void *arg)
{
	(void)arg;
	return 7;
}

static void test_gauges_move_both_ways_and_read_sources(void **state)
{
	(void)state;
	metrics_gauge_add(M_DELEGATIONS_WAITING, 3);
	metrics_gauge_add(M_DELEGATIONS_WAITING, -2);
	assert_int_equal(value(M("delegations_waiting")), 1);
	metrics_gauge_add(M_DELEGATIONS_WAITING, -1);
	metrics_gauge_source(M_CONNECTIONS, seven, NULL);
	assert_int_equal(value(M("connections")), 7);
}

static void test_nexthop_family_only_for_the_shim(void **state)
{
	(void)state;
	assert_true(value(M("nexthop_deliveries_total{outcome=\"sent\"}")) < 0);     /* absent */
	metrics_enable(METRICS_NEXTHOP);
	metrics_observe(metrics_nexthop_latency(), 20);
	assert_int_equal(value(M("nexthop_deliveries_total{outcome=\"sent\"}")), 0);
	assert_int_equal(value(M("nexthop_duration_seconds_bucket{le=\"0.025\"}")), 1);
	assert_int_equal(value(M("nexthop_duration_seconds_bucket{le=\"0.01\"}")), 0);
}

/* write_policy - F's policy file with STAGES; its path (static). */
static const char *write_policy(struct fixture *f, const char *stages)
{
	static char path[600];
	FILE *out;

	snprintf(path, sizeof(path), "%s/policy.json", f->dir);
	assert_non_null(out = fopen(path, "w"));
	fprintf(out, "{\"settings\":{\"spool_dir\":\"%s\",\"quarantine_dir\":\"%s\"},"
		"\"services\":{\"av\":{\"type\":\"smtp\",\"delegator\":{\"address\":\"127.0.0.1:1\"},"
		"\"receiver\":\"127.0.0.1:2\"}},\"stages\":{%s}}", f->spool, f->quarantine, stages);
	fclose(out);
	return path;
}

/* one_message - feed a message through the store's policy and count it as the front ends do. */
static struct verdict one_message(const struct txn_env *env)
{
	struct policy *p = policy_store_current();
	struct txn *t = txn_new(p, env);
	struct verdict v;

	txn_connect(t, "mx.example.net", "192.0.2.7");
	v = feed_message(t, "a@b.c", "r@d.e");
	txn_log_message(t, v, NULL);
	txn_free(t);
	policy_unref(p);
	return v;
}

static void test_store_binds_rules_and_services_and_counts_what_ran(void **state)
{
	struct fixture *f = *state;
	static const struct txn_env failing_env = {
		.delegate = fake_delegate, .quarantine = fake_quarantine_fails,
	};
	const char *path = write_policy(f, "\"eom\":[{\"name\":\"scan\",\"then\":{\"action\":"
		"\"delegate\",\"service\":\"av\",\"rules\":[{\"name\":\"infected\",\"if\":{\"header\":"
		"\"X-Infected\"},\"then\":{\"action\":\"quarantine\",\"folder\":\"q\"}}]}}]");
	double gen, writes = value(M("quarantine_writes_total"));
	double failures = value(M("quarantine_failures_total"));
	double fail_safe = value(M("fail_safe_total"));

	assert_true(policy_store_init(path));
	gen = value(M("policy_generation"));
	assert_true(gen >= 1);
	assert_true(value(M("policy_load_seconds")) >= 0);
	fake_added_header = "X-Infected: yes";
	assert_int_equal(one_message(&fake_env).kind, VERDICT_DISCARD);
	assert_int_equal(one_message(&failing_env).kind, VERDICT_TEMPFAIL);
	fake_added_header = NULL;
	assert_int_equal(one_message(&fake_env).kind, VERDICT_CONTINUE);
	assert_int_equal(value(M("rule_hits_total{rule=\"scan\"}")), 3);
	assert_int_equal(value(M("rule_hits_total{rule=\"infected\"}")), 2);
	assert_int_equal(value(M("delegations_total{service=\"av\",outcome=\"copy\"}")), 3);
	assert_int_equal(value(M("delegation_duration_seconds_bucket{service=\"av\",le=\"0.01\"}")), 3);
	assert_int_equal(value(M("quarantine_writes_total")), writes + 1);
	assert_int_equal(value(M("quarantine_failures_total")), failures + 1);
	assert_int_equal(value(M("fail_safe_total")), fail_safe + 1);
	assert_int_equal(value(M("messages_total{verdict=\"quarantine\",stage=\"eom\"}")) >= 1, 1);
	assert_int_equal(value(M("messages_total{verdict=\"accept\",stage=\"eom\"}")), 1);
	assert_int_equal(value(M("delegations_waiting")), 0);
	assert_int_equal(value(M("messages_spooling")), 0);

	assert_true(policy_store_reload());
	assert_int_equal(value(M("policy_generation")), gen + 1);
	assert_int_equal(value(M("reloads_total{result=\"done\"}")), 1);
	write_policy(f, "\"eom\":[{\"then\":{\"action\":\"no such action\"}}]");
	assert_false(policy_store_reload());
	assert_int_equal(value(M("reloads_total{result=\"refused\"}")), 1);
	assert_int_equal(value(M("policy_generation")), gen + 1);
	policy_store_shutdown();
}

static void test_pool_members_count_tries_and_show_state_while_their_pool_runs(void **state)
{
	static const char *const names[] = { "a:1", "b:2" };
	struct pool_config cfg = {
		.service = "pool-av", .names = names, .members = 2, .balance = BALANCE_FAILOVER,
		.interval_ms = 1000, .backoff_max_ms = 8000,
	};
	struct pool *p;
	bool tried[2] = { false };
	size_t m = 9;

	(void)state;
	metrics_enable(0);
	p = pool_new(&cfg, 0);
	assert_int_equal(value(M("member_up{service=\"pool-av\",member=\"a:1\"}")), 1);
	assert_int_equal(value(M("member_active{service=\"pool-av\",member=\"a:1\"}")), 0);
	assert_int_equal(pool_acquire(p, tried, &m), POOL_PICKED);
	assert_int_equal(m, 0);
	assert_int_equal(value(M("member_active{service=\"pool-av\",member=\"a:1\"}")), 1);
	pool_done(p, 0, POOL_DEFERRED, "421 try later", 10);
	tried[0] = true;
	assert_int_equal(value(M("member_tries_total{service=\"pool-av\",member=\"a:1\",outcome=\"deferred\"}")), 1);
	assert_int_equal(value(M("member_up{service=\"pool-av\",member=\"a:1\"}")), 0);
	assert_int_equal(value(M("member_active{service=\"pool-av\",member=\"a:1\"}")), 0);
	assert_int_equal(pool_acquire(p, tried, &m), POOL_PICKED);
	assert_int_equal(m, 1);
	pool_done(p, 1, POOL_ACCEPTED, NULL, 20);
	assert_int_equal(value(M("member_tries_total{service=\"pool-av\",member=\"b:2\",outcome=\"accepted\"}")), 1);
	assert_int_equal(value(M("member_tries_total{service=\"pool-av\",member=\"a:1\",outcome=\"accepted\"}")), 0);
	pool_probed(p, 0, true, NULL, 1000);
	assert_int_equal(value(M("member_up{service=\"pool-av\",member=\"a:1\"}")), 1);
	pool_free(p);
	/* No pool has the member now: its gauges go, its counters stay. */
	assert_false(shown(M("member_up{service=\"pool-av\",member=\"a:1\"}")));
	assert_false(shown(M("member_active{service=\"pool-av\",member=\"b:2\"}")));
	assert_int_equal(value(M("member_tries_total{service=\"pool-av\",member=\"a:1\",outcome=\"deferred\"}")), 1);
}

static void test_two_pools_of_a_reload_sum_active_and_the_newest_says_up(void **state)
{
	static const char *const names[] = { "c:3" };
	struct pool_config cfg = {
		.service = "pool-two", .names = names, .members = 1, .balance = BALANCE_FAILOVER,
		.interval_ms = 1000, .backoff_max_ms = 8000,
	};
	const char *up = M("member_up{service=\"pool-two\",member=\"c:3\"}");
	const char *active = M("member_active{service=\"pool-two\",member=\"c:3\"}");
	struct pool *old_pool, *new_pool;
	bool tried[1] = { false };
	size_t m;

	(void)state;
	metrics_enable(0);
	old_pool = pool_new(&cfg, 0);
	assert_int_equal(pool_acquire(old_pool, tried, &m), POOL_PICKED);
	new_pool = pool_new(&cfg, 0);   /* the reload's */
	assert_int_equal(pool_acquire(new_pool, tried, &m), POOL_PICKED);
	assert_int_equal(value(active), 2);
	/* The old pool's last message fails: its view of the member is not the gauge. */
	pool_done(old_pool, 0, POOL_DEFERRED, "421 going away", 10);
	assert_int_equal(value(up), 1);
	assert_int_equal(value(active), 1);
	pool_done(new_pool, 0, POOL_DEFERRED, "421 going away", 20);
	assert_int_equal(value(up), 0);
	pool_probed(old_pool, 0, true, NULL, 1000);
	assert_int_equal(value(up), 0);
	/* The newer pool stops first (another reload): the older one writes again. */
	assert_int_equal(pool_acquire(new_pool, tried, &m), POOL_ALL_DOWN);
	pool_free(new_pool);
	assert_true(shown(up));
	pool_probed(old_pool, 0, true, NULL, 2000);
	assert_int_equal(value(up), 1);
	/* A pool stopped with a try counted as running takes it off the gauge. */
	assert_int_equal(pool_acquire(old_pool, tried, &m), POOL_PICKED);
	assert_int_equal(value(active), 1);
	pool_free(old_pool);
	assert_false(shown(up));
	new_pool = pool_new(&cfg, 0);
	assert_int_equal(value(active), 0);
	pool_free(new_pool);
}

/* clamd_policy - a policy whose clamd service "scan" has the one member ADDRESS. */
static struct policy *clamd_policy(const char *address)
{
	char text[512];

	snprintf(text, sizeof(text), "{\"services\":{\"scan\":{\"type\":\"clamd\",\"delegator\":"
		 "{\"address\":\"%s\",\"health_interval\":\"30s\",\"backoff_max\":\"60s\"}}},\"stages\":{\"eom\":[{\"then\":"
		 "{\"action\":\"delegate\",\"service\":\"scan\"}}]}}", address);
	return load_ok(text);
}

static void test_a_reload_stops_the_old_pool_once_no_policy_has_it(void **state)
{
	struct policy *p1 = clamd_policy("127.0.0.1:1"), *p2 = clamd_policy("127.0.0.1:2");
	struct policy *p3 = clamd_policy("127.0.0.1:2");
	char err[256];
	struct delegation *d;

	(void)state;
	metrics_enable(0);
	d = delegation_start(p1, err, sizeof(err));
	assert_non_null(d);
	assert_int_equal(value(M("member_up{service=\"scan\",member=\"127.0.0.1:1\"}")), 1);
	/* Reload: the new member's pool starts; the old one lives while p1 (its messages) does. */
	assert_true(delegation_update(d, p2, err, sizeof(err)));
	assert_int_equal(value(M("member_up{service=\"scan\",member=\"127.0.0.1:2\"}")), 1);
	assert_int_equal(value(M("member_up{service=\"scan\",member=\"127.0.0.1:1\"}")), 1);
	policy_unref(p1);
	assert_false(shown(M("member_up{service=\"scan\",member=\"127.0.0.1:1\"}")));
	/* The same configuration again keeps the running pool: one pool, not two. */
	assert_true(delegation_update(d, p3, err, sizeof(err)));
	assert_ptr_equal(atomic_load(&p3->services[0].runtime), atomic_load(&p2->services[0].runtime));
	policy_unref(p2);
	assert_int_equal(value(M("member_up{service=\"scan\",member=\"127.0.0.1:2\"}")), 1);
	delegation_stop(d);
	assert_int_equal(value(M("member_up{service=\"scan\",member=\"127.0.0.1:2\"}")), 1);
	policy_unref(p3);       /* the last holder: the pool stops now */
	assert_false(shown(M("member_up{service=\"scan\",member=\"127.0.0.1:2\"}")));
}

static void test_a_connect_decision_counts_once_per_connection(void **state)
{
	struct policy *p = policy_with(*state, "\"connect\":[{\"name\":\"go away\",\"then\":"
				       "\"reject\"}]");
	struct txn *t = txn_new(p, &fake_env);
	const char *series = M("messages_total{verdict=\"reject\",stage=\"connect\"}");
	double before = value(series);

	txn_log_message(t, txn_connect(t, NULL, "192.0.2.9"), NULL);
	txn_log_message(t, feed_message(t, "a@b.c", "r@d.e"), NULL);   /* refused again */
	txn_reset_message(t, NULL);
	txn_log_message(t, feed_message(t, "a@b.c", "r@d.e"), NULL);
	assert_int_equal(value(series), before + 1);
	txn_free(t);
	policy_unref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* First: it needs the process before metrics_enable. */
		cmocka_unit_test(test_nothing_is_counted_before_enable),
		cmocka_unit_test(test_messages_count_by_verdict_and_stage),
		cmocka_unit_test(test_histogram_buckets_are_cumulative_in_seconds),
		cmocka_unit_test(test_one_name_is_one_series),
		cmocka_unit_test(test_label_values_are_escaped),
		cmocka_unit_test(test_gauges_move_both_ways_and_read_sources),
		cmocka_unit_test(test_nexthop_family_only_for_the_shim),
		cmocka_unit_test(test_pool_members_count_tries_and_show_state_while_their_pool_runs),
		cmocka_unit_test(test_two_pools_of_a_reload_sum_active_and_the_newest_says_up),
		cmocka_unit_test(test_a_reload_stops_the_old_pool_once_no_policy_has_it),
		cmocka_unit_test_setup_teardown(test_store_binds_rules_and_services_and_counts_what_ran,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_connect_decision_counts_once_per_connection,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
