/*
 * test_pool.c - member selection, health, backoff and the retry rule of a
 * service's pool (pool.h), with the time passed in by the test and the
 * delegation attempts scripted: which member each delegation gets, what a
 * failure does to a member, when it is probed again, and that a message
 * goes to another member only when the first cannot have it (never after a
 * 250). No network, no timing assertions.
 */
#include "test_support.h"

#include "pool.h"
#include "service_pool.h"

static const char *const names[] = { "m0", "m1", "m2", "m3" };

/* new_pool - N members, BALANCE, CAP; health interval 1000 ms, backoff up to 8000 ms. */
static struct pool *new_pool(size_t n, enum pool_balance balance, unsigned cap)
{
	struct pool_config cfg = {
		.service = "av", .names = names, .members = n, .balance = balance,
		.max_concurrent = cap, .interval_ms = 1000, .backoff_max_ms = 8000,
	};

	return pool_new(&cfg, 0);
}

/* pick - the member a delegation gets with nothing tried; its slot is given back (accepted). */
static size_t pick(struct pool *p)
{
	bool tried[4] = { false };
	size_t m = 99;

	assert_int_equal(pool_acquire(p, tried, &m), POOL_PICKED);
	pool_done(p, m, POOL_ACCEPTED, NULL, 0);
	return m;
}

static void test_failover_always_takes_the_first_member_that_is_up(void **state)
{
	struct pool *p = new_pool(3, BALANCE_FAILOVER, 0);

	(void)state;
	assert_int_equal(pick(p), 0);
	assert_int_equal(pick(p), 0);
	pool_probed(p, 0, false, "cut", 10);
	assert_int_equal(pick(p), 1);
	assert_int_equal(pick(p), 1);
	pool_probed(p, 0, true, NULL, 20);
	assert_int_equal(pick(p), 0);
	pool_free(p);
}

static void test_round_robin_takes_turns_and_skips_a_member_that_is_down(void **state)
{
	struct pool *p = new_pool(3, BALANCE_ROUND_ROBIN, 0);

	(void)state;
	assert_int_equal(pick(p), 0);
	assert_int_equal(pick(p), 1);
	assert_int_equal(pick(p), 2);
	assert_int_equal(pick(p), 0);
	pool_probed(p, 1, false, "cut", 10);
	assert_int_equal(pick(p), 2);
	assert_int_equal(pick(p), 0);
	assert_int_equal(pick(p), 2);
	pool_free(p);
}

static void test_all_members_down_is_said_at_once(void **state)
{
	struct pool *p = new_pool(2, BALANCE_FAILOVER, 0);
	bool tried[2] = { false };
	size_t m;

	(void)state;
	pool_probed(p, 0, false, "cut", 10);
	pool_probed(p, 1, false, "cut", 10);
	assert_int_equal(pool_acquire(p, tried, &m), POOL_ALL_DOWN);
	pool_free(p);
}

static void test_a_member_at_its_cap_is_passed_over_then_all_busy(void **state)
{
	struct pool *p = new_pool(2, BALANCE_FAILOVER, 1);
	bool tried[2] = { false };
	size_t a, b, c;

	(void)state;
	assert_int_equal(pool_acquire(p, tried, &a), POOL_PICKED);
	assert_int_equal(pool_acquire(p, tried, &b), POOL_PICKED);
	assert_int_equal(a, 0);
	assert_int_equal(b, 1);
	assert_int_equal(pool_acquire(p, tried, &c), POOL_BUSY);
	pool_done(p, a, POOL_ACCEPTED, NULL, 5);
	assert_int_equal(pool_acquire(p, tried, &c), POOL_PICKED);
	assert_int_equal(c, 0);
	pool_done(p, b, POOL_ACCEPTED, NULL, 5);
	pool_done(p, c, POOL_ACCEPTED, NULL, 5);
	pool_free(p);
}

static void test_a_failed_member_is_probed_with_doubling_backoff_up_to_the_cap(void **state)
{
	struct pool *p = new_pool(1, BALANCE_FAILOVER, 0);
	struct pool_member_stats st;
	const uint64_t waits[] = { 1000, 2000, 4000, 8000, 8000 };
	uint64_t now = 100;

	(void)state;
	for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
		assert_int_equal(pool_probed(p, 0, false, "refused", now), i == 0 ? POOL_WENT_DOWN : POOL_SAME);
		pool_stats(p, 0, &st);
		assert_false(st.up);
		assert_int_equal(st.failures, i + 1);
		assert_int_equal(st.next_probe_ms, now + waits[i]);
		now = st.next_probe_ms;
	}
	assert_int_equal(pool_probed(p, 0, true, NULL, now), POOL_CAME_BACK);
	pool_stats(p, 0, &st);
	assert_true(st.up);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.next_probe_ms, now + 1000);
	pool_free(p);
}

static void test_probes_are_handed_out_once_when_due(void **state)
{
	struct pool *p = new_pool(3, BALANCE_FAILOVER, 0);
	size_t due[3];
	uint64_t next;

	(void)state;
	assert_int_equal(pool_probes_due(p, 999, due, 3, &next), 0);
	assert_int_equal(next, 1000);
	assert_int_equal(pool_probes_due(p, 1000, due, 3, &next), 3);
	assert_int_equal(pool_probes_due(p, 1000, due, 3, &next), 0);   /* in progress */
	pool_probed(p, 0, true, NULL, 1000);
	pool_probed(p, 1, false, "refused", 1000);
	pool_probed(p, 2, true, NULL, 1000);
	assert_int_equal(pool_probes_due(p, 1999, due, 3, &next), 0);
	assert_int_equal(pool_probes_due(p, 2000, due, 3, &next), 3);
	pool_free(p);
}

static void test_outcomes_say_whether_the_member_is_healthy(void **state)
{
	struct pool *p = new_pool(4, BALANCE_FAILOVER, 0);
	const enum pool_outcome outcomes[] = { POOL_ACCEPTED, POOL_REFUSED, POOL_DEFERRED, POOL_UNCERTAIN };
	const bool up_after[] = { true, true, false, false };
	bool tried[4] = { false };
	struct pool_member_stats st;
	size_t m;

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(pool_acquire(p, tried, &m), POOL_PICKED);
		assert_int_equal(m, i);
		tried[m] = true;
		pool_done(p, m, outcomes[i], "why", 50);
		pool_stats(p, m, &st);
		assert_int_equal(st.up, up_after[i]);
		assert_int_equal(st.active, 0);
	}
	pool_stats(p, 0, &st);
	assert_int_equal(st.served, 1);
	pool_free(p);
}

static void test_only_a_member_that_cannot_have_the_message_lets_another_try(void **state)
{
	(void)state;
	assert_false(pool_outcome_retries(POOL_ACCEPTED));      /* it said 250: never again */
	assert_false(pool_outcome_retries(POOL_REFUSED));       /* 5xx: its verdict */
	assert_true(pool_outcome_retries(POOL_DEFERRED));       /* 4xx, no connection, dropped before the dot */
	assert_false(pool_outcome_retries(POOL_UNCERTAIN));     /* may have it: no second copy */
}

/* Scripted attempts for pool_run: outcome per member, and what was tried. */
struct script {
	enum pool_outcome outcome[4];
	size_t order[8];
	size_t tries;
};

static enum pool_outcome scripted(void *arg, size_t member, char *why, size_t len)
{
	struct script *s = arg;

	s->order[s->tries++] = member;
	snprintf(why, len, "scripted %zu", member);
	return s->outcome[member];
}

static void test_run_goes_to_the_next_member_after_a_deferral_and_stops_at_a_250(void **state)
{
	struct pool *p = new_pool(3, BALANCE_FAILOVER, 0);
	struct script s = { .outcome = { POOL_DEFERRED, POOL_ACCEPTED, POOL_ACCEPTED } };
	struct pool_run_result r;

	(void)state;
	pool_run(p, UINT64_MAX, scripted, &s, NULL, NULL, 0, &r);
	assert_int_equal(s.tries, 2);
	assert_int_equal(s.order[0], 0);
	assert_int_equal(s.order[1], 1);
	assert_int_equal(r.stopped, POOL_PICKED);
	assert_int_equal(r.member, 1);
	assert_int_equal(r.outcome, POOL_ACCEPTED);
	pool_free(p);
}

static void test_run_never_sends_again_after_a_member_may_have_it(void **state)
{
	struct pool *p = new_pool(3, BALANCE_FAILOVER, 0);
	struct script s = { .outcome = { POOL_UNCERTAIN, POOL_ACCEPTED, POOL_ACCEPTED } };
	struct pool_run_result r;

	(void)state;
	pool_run(p, UINT64_MAX, scripted, &s, NULL, NULL, 0, &r);
	assert_int_equal(s.tries, 1);
	assert_int_equal(r.stopped, POOL_PICKED);
	assert_int_equal(r.outcome, POOL_UNCERTAIN);
	pool_free(p);
}

static void test_run_tries_each_member_once_then_gives_up(void **state)
{
	struct pool *p = new_pool(3, BALANCE_ROUND_ROBIN, 0);
	struct script s = { .outcome = { POOL_DEFERRED, POOL_DEFERRED, POOL_DEFERRED } };
	struct pool_run_result r;

	(void)state;
	pool_run(p, UINT64_MAX, scripted, &s, NULL, NULL, 0, &r);
	assert_int_equal(s.tries, 3);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(r.stopped, POOL_ALL_DOWN);     /* each went down as it failed */
	pool_free(p);
}

static void test_run_with_every_member_down_attempts_nothing(void **state)
{
	struct pool *p = new_pool(2, BALANCE_FAILOVER, 0);
	struct script s = { 0 };
	struct pool_run_result r;

	(void)state;
	pool_probed(p, 0, false, "cut", 1);
	pool_probed(p, 1, false, "cut", 1);
	pool_run(p, UINT64_MAX, scripted, &s, NULL, NULL, 0, &r);
	assert_int_equal(s.tries, 0);
	assert_int_equal(r.attempts, 0);
	assert_int_equal(r.stopped, POOL_ALL_DOWN);
	assert_string_equal(pool_pick_reason(r.stopped), "every member is down");
	pool_free(p);
}

static void test_run_with_every_slot_taken_gives_up_at_the_deadline(void **state)
{
	struct pool *p = new_pool(1, BALANCE_FAILOVER, 1);
	struct script s = { 0 };
	struct pool_run_result r;
	bool tried[1] = { false };
	size_t held;

	(void)state;
	assert_int_equal(pool_acquire(p, tried, &held), POOL_PICKED);
	pool_run(p, 0, scripted, &s, NULL, NULL, 0, &r);        /* the deadline has passed */
	assert_int_equal(s.tries, 0);
	assert_int_equal(r.stopped, POOL_BUSY);
	pool_done(p, held, POOL_ACCEPTED, NULL, 1);
	pool_free(p);
}

static void test_what_a_send_says_about_the_member(void **state)
{
	static const struct { enum delegate_send_status status; int code; const char *step;
			      enum pool_outcome want; } rows[] = {
		{ SEND_ACCEPTED, 250, "end of data", POOL_ACCEPTED },
		{ SEND_REFUSED, 550, "end of data", POOL_REFUSED },     /* clamsmtpd Action: bounce */
		{ SEND_REFUSED, 451, "end of data", POOL_DEFERRED },    /* clamsmtpd: clamd down */
		{ SEND_REFUSED, 421, "MAIL FROM", POOL_DEFERRED },
		{ SEND_FAILED, 0, "connect", POOL_DEFERRED },
		{ SEND_FAILED, 354, "message", POOL_DEFERRED },         /* dropped before the dot */
		{ SEND_FAILED, 0, "end of data", POOL_UNCERTAIN },      /* dropped after it */
		{ SEND_TIMEOUT, 0, "end of data", POOL_UNCERTAIN },
		{ SEND_FAILED, 0, "local", POOL_REFUSED },              /* our file: no member helps */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct delegate_send_result res = { .status = rows[i].status, .code = rows[i].code,
						    .step = rows[i].step };

		assert_int_equal(service_pool_send_outcome(&res), rows[i].want);
	}
}

static void test_what_a_scan_says_about_the_member(void **state)
{
	struct clamd_result res = { .verdict = CLAMD_INFECTED };

	(void)state;
	assert_int_equal(service_pool_scan_outcome(&res), POOL_ACCEPTED);
	res = (struct clamd_result){ .verdict = CLAMD_FAILED, .reply = "INSTREAM size limit exceeded. ERROR" };
	assert_int_equal(service_pool_scan_outcome(&res), POOL_REFUSED);
	res = (struct clamd_result){ .verdict = CLAMD_FAILED, .error = "connect x: Connection refused" };
	assert_int_equal(service_pool_scan_outcome(&res), POOL_DEFERRED);
	res = (struct clamd_result){ .verdict = CLAMD_TIMEOUT };
	assert_int_equal(service_pool_scan_outcome(&res), POOL_UNCERTAIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failover_always_takes_the_first_member_that_is_up),
		cmocka_unit_test(test_round_robin_takes_turns_and_skips_a_member_that_is_down),
		cmocka_unit_test(test_all_members_down_is_said_at_once),
		cmocka_unit_test(test_a_member_at_its_cap_is_passed_over_then_all_busy),
		cmocka_unit_test(test_a_failed_member_is_probed_with_doubling_backoff_up_to_the_cap),
		cmocka_unit_test(test_probes_are_handed_out_once_when_due),
		cmocka_unit_test(test_outcomes_say_whether_the_member_is_healthy),
		cmocka_unit_test(test_only_a_member_that_cannot_have_the_message_lets_another_try),
		cmocka_unit_test(test_run_goes_to_the_next_member_after_a_deferral_and_stops_at_a_250),
		cmocka_unit_test(test_run_never_sends_again_after_a_member_may_have_it),
		cmocka_unit_test(test_run_tries_each_member_once_then_gives_up),
		cmocka_unit_test(test_run_with_every_member_down_attempts_nothing),
		cmocka_unit_test(test_run_with_every_slot_taken_gives_up_at_the_deadline),
		cmocka_unit_test(test_what_a_send_says_about_the_member),
		cmocka_unit_test(test_what_a_scan_says_about_the_member),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
