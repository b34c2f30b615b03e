/*
 * test_match.c - the string matchers of policy conditions.
 */
#include "test_support.h"

#include "match.h"

static bool matches(enum match_kind kind, const char *pattern, const char *subject)
{
	struct matcher m;
	char err[256];
	bool result;

	assert_true(match_compile(&m, kind, pattern, true, err, sizeof(err)));
	result = match_test(&m, subject);
	match_free(&m);
	return result;
}

static void test_equals_ignores_case_and_brackets(void **state)
{
	(void)state;
	assert_true(matches(MATCH_EQUALS, "Boss@Example.com", "boss@example.COM"));
	assert_true(matches(MATCH_EQUALS, "boss@example.com", "<boss@example.com>"));
	assert_false(matches(MATCH_EQUALS, "boss@example.com", "boss@example.com.evil"));
	assert_false(matches(MATCH_EQUALS, "boss@example.com", NULL));
	assert_true(matches(MATCH_EQUALS, "", "<>"));
	/* A pattern written with brackets matches too. */
	assert_true(matches(MATCH_EQUALS, "<boss@example.com>", "<Boss@example.com>"));
	assert_true(matches(MATCH_EXACT, "<Boss@example.com>", "Boss@example.com"));
	assert_true(matches(MATCH_EQUALS, "<>", ""));
}

static void test_exact_keeps_case(void **state)
{
	(void)state;
	assert_true(matches(MATCH_EXACT, "Boss@example.com", "Boss@example.com"));
	assert_false(matches(MATCH_EXACT, "Boss@example.com", "boss@example.com"));
}

static void test_domain_and_subdomains(void **state)
{
	(void)state;
	assert_true(matches(MATCH_DOMAIN, "example.com", "a@Example.COM"));
	assert_true(matches(MATCH_DOMAIN, "example.com", "example.com"));
	assert_true(matches(MATCH_DOMAIN, "example.com", "<a@example.com>"));
	assert_false(matches(MATCH_DOMAIN, "example.com", "mx.example.com."));
	assert_false(matches(MATCH_DOMAIN, "example.com", "a@mx.example.com"));
	assert_false(matches(MATCH_DOMAIN, "example.com", "a@badexample.com"));
	assert_true(matches(MATCH_DOMAIN, ".example.com", "a@mx.example.com"));
	assert_true(matches(MATCH_DOMAIN, ".example.com", "mx.example.com."));
	assert_false(matches(MATCH_DOMAIN, ".example.com", "a@example.com"));
	assert_false(matches(MATCH_DOMAIN, ".example.com", "a@badexample.com"));
	assert_true(matches(MATCH_DOMAIN, "example.com", "\"odd@local\"@example.com"));
}

static void test_regex_searches_and_ignores_case_by_default(void **state)
{
	struct matcher m;
	char err[256];

	(void)state;
	assert_true(matches(MATCH_REGEX, "viagra", "Cheap VIAGRA now"));
	assert_false(matches(MATCH_REGEX, "^viagra$", "Cheap VIAGRA now"));
	assert_true(match_compile(&m, MATCH_REGEX, "ABC", false, err, sizeof(err)));
	assert_false(match_test(&m, "abc"));
	assert_true(match_test(&m, "xABCx"));
	match_free(&m);
}

static void test_bad_regex_reports_why(void **state)
{
	struct matcher m;
	char err[256] = "";

	(void)state;
	assert_false(match_compile(&m, MATCH_REGEX, "([a-z]+", true, err, sizeof(err)));
	assert_non_null(strstr(err, "invalid regex \"([a-z]+\": "));
	match_free(&m);         /* safe after a failed compile */
}

static void test_regexes_too_costly_to_compile_are_refused(void **state)
{
	static const char *const refused[] = {
		"a{1,32767}", "a+++", "a{255}{255}", "((a{1,255}){1,255}){1,255}", "(a{1,255}){1,255}",
	};
	static const char *const fine[] = {
		"^[0-9]{1,3}(\\.[0-9]{1,3}){3}$", "(a|b)+c*", "(a{100}){100}", "x{0,255}y{0,255}",
		"[[:alpha:]{]+", "\\{9999}", "[a{]{2}", "(((a+)+)+)+",
	};
	struct matcher m;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_false(match_compile(&m, MATCH_REGEX, refused[i], false, err, sizeof(err)));
		assert_non_null(strstr(err, "is too costly to compile"));
	}
	for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
		if (!match_compile(&m, MATCH_REGEX, fine[i], false, err, sizeof(err)))
			fail_msg("%s: %s", fine[i], err);
		match_free(&m);
	}
	assert_null(regex_too_costly("a{255}"));
	assert_string_equal(regex_too_costly("a{256}"), "a repetition count above 255");
}

static void test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(match_kind_name(MATCH_EQUALS), "equals");
	assert_string_equal(match_kind_name(MATCH_REGEX), "regex");
	match_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equals_ignores_case_and_brackets),
		cmocka_unit_test(test_exact_keeps_case),
		cmocka_unit_test(test_domain_and_subdomains),
		cmocka_unit_test(test_regex_searches_and_ignores_case_by_default),
		cmocka_unit_test(test_bad_regex_reports_why),
		cmocka_unit_test(test_regexes_too_costly_to_compile_are_refused),
		cmocka_unit_test(test_kind_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
