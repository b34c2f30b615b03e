/*
 * test_units.c - durations and sizes as written in policies.
 */
#include "test_support.h"

#include "units.h"

static void test_durations_in_every_unit(void **state)
{
	static const struct { const char *text; uint64_t ms; } cases[] = {
		{ "250ms", 250 }, { "60s", 60000 }, { "5m", 300000 }, { "1h", 3600000 },
		{ "1h30m", 5400000 }, { "60", 60000 }, { "0", 0 }, { "2m500ms", 120500 },
	};
	const char *why;
	uint64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_true(units_parse_duration(cases[i].text, &ms, &why));
		assert_int_equal(ms, cases[i].ms);
	}
}

static void test_bad_durations_are_refused_with_a_reason(void **state)
{
	static const char *const bad[] = { "", "-1", "60 seconds", "1.5m", "s", "10x", " 60s",
					   "60s ", "99999999999999999999s", "18446744073709551615h" };
	const char *why = NULL;
	uint64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_false(units_parse_duration(bad[i], &ms, &why));
		assert_non_null(why);
	}
	assert_false(units_parse_duration("10x", &ms, &why));
	assert_string_equal(why, "unknown unit (ms, s, m or h)");
}

static void test_sizes_use_binary_multiples(void **state)
{
	static const struct { const char *text; uint64_t bytes; } cases[] = {
		{ "1024", 1024 }, { "10k", 10240 }, { "10K", 10240 }, { "10M", 10485760 },
		{ "10MB", 10485760 }, { "1g", 1073741824 }, { "7b", 7 }, { "0", 0 },
	};
	const char *why;
	uint64_t bytes;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_true(units_parse_size(cases[i].text, &bytes, &why));
		assert_int_equal(bytes, cases[i].bytes);
	}
}

static void test_bad_sizes_are_refused(void **state)
{
	static const char *const bad[] = { "", "M", "-1", "10T", "1.5M", "10 M", "10MBs",
					   "99999999999999999999", "17179869184G" };
	const char *why;
	uint64_t bytes;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(units_parse_size(bad[i], &bytes, &why));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations_in_every_unit),
		cmocka_unit_test(test_bad_durations_are_refused_with_a_reason),
		cmocka_unit_test(test_sizes_use_binary_multiples),
		cmocka_unit_test(test_bad_sizes_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
