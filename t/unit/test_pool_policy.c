/*
 * test_pool_policy.c - how the policy loader reads a service's connection
 * settings: the delegate client's idle limit (delegator.idle) against the
 * receiver's (receiver_idle), which side of an idle connection closes first.
 */
#include "test_support.h"

#define SERVICE(extra_delegator, extra_service) \
	"{\"services\":{\"av\":{\"type\":\"smtp\",\"delegator\":{\"address\":\"127.0.0.1:10026\"" \
	extra_delegator "},\"receiver\":\"127.0.0.1:10025\"" extra_service "}},\"stages\":{}}"

static void test_idle_limits_default_to_30s_for_us_and_60s_for_the_receiver(void **state)
{
	struct policy *p = load_ok(SERVICE("", ""));

	(void)state;
	assert_int_equal(p->services[0].idle_ms, 30000);
	assert_int_equal(p->services[0].receiver_idle_ms, 60000);
	policy_unref(p);
}

static void test_idle_limits_are_read(void **state)
{
	struct policy *p = load_ok(SERVICE(",\"idle\":\"3s\"", ",\"receiver_idle\":\"6s\""));

	(void)state;
	assert_int_equal(p->services[0].idle_ms, 3000);
	assert_int_equal(p->services[0].receiver_idle_ms, 6000);
	policy_unref(p);
}

static void test_our_idle_limit_must_be_shorter_than_the_receivers(void **state)
{
	(void)state;
	assert_load_error(SERVICE(",\"idle\":\"118s\"", ""),
			  "test.json:1:19: services.av: delegator.idle (118000 ms) must be at least 1s "
			  "and shorter than receiver_idle (60000 ms): the filter's connection to the "
			  "receiver must not be dropped while ours is kept for the next message");
	assert_load_error(SERVICE(",\"idle\":\"500ms\"", ""),
			  "test.json:1:19: services.av: delegator.idle (500 ms) must be at least 1s "
			  "and shorter than receiver_idle (60000 ms): the filter's connection to the "
			  "receiver must not be dropped while ours is kept for the next message");
}

static void test_services_sharing_a_receiver_agree_on_its_idle_limit(void **state)
{
	(void)state;
	assert_load_error("{\"services\":{"
			  "\"a\":{\"type\":\"smtp\",\"delegator\":{\"address\":\"1\"},\"receiver\":\"127.0.0.1:9\"},"
			  "\"b\":{\"type\":\"smtp\",\"delegator\":{\"address\":\"2\",\"idle\":\"5s\"},"
			  "\"receiver\":\"127.0.0.1:9\",\"receiver_idle\":\"10s\"}},\"stages\":{}}",
			  "test.json:1:91: services.b: receiver_idle, receiver_public or receiver_allow differs from service a's, which "
			  "shares the receiver 127.0.0.1:9");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_limits_default_to_30s_for_us_and_60s_for_the_receiver),
		cmocka_unit_test(test_idle_limits_are_read),
		cmocka_unit_test(test_our_idle_limit_must_be_shorter_than_the_receivers),
		cmocka_unit_test(test_services_sharing_a_receiver_agree_on_its_idle_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
