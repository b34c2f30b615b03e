/*
 * test_match_list.c - indexed matcher lists (match_list.h) give exactly the
 * answers of the linear list test (match_any) on hits, misses and edges:
 * case, angle brackets, trailing dots, subdomains, empty patterns, subjects
 * longer than every pattern, and lists of 10,000 generated patterns.
 */
#include "test_support.h"

#include "match_list.h"

#define MAX_ITEMS 64

/* Both forms of one list: indexed, and the matchers the oracle tries in turn. */
struct both {
	struct matcher_list list;
	struct matcher items[MAX_ITEMS];
	size_t n;
};

/* both_add - add one pattern to both forms. */
static void both_add(struct both *b, enum match_kind kind, const char *pattern, bool ignore_case)
{
	char err[256];

	assert_true(b->n < MAX_ITEMS);
	assert_true(match_compile(&b->items[b->n++], kind, pattern, ignore_case, err, sizeof(err)));
	assert_true(match_list_add(&b->list, kind, pattern, ignore_case, err, sizeof(err)));
}

/* both_free - release both forms. */
static void both_free(struct both *b)
{
	for (size_t i = 0; i < b->n; i++)
		match_free(&b->items[i]);
	match_list_free(&b->list);
}

/* test_subject - the index and the oracle agree on SUBJECT; the answer. */
static bool test_subject(const struct both *b, const char *subject)
{
	bool want = match_any(b->items, b->n, subject);

	if (match_list_test(&b->list, subject) != want)
		fail_msg("subject \"%s\": index says %d, linear test says %d", subject ? subject : "(null)",
			 !want, want);
	return want;
}

/* one_kind - a list of the patterns at P (NULL-terminated) of KIND. */
static void one_kind(struct both *b, enum match_kind kind, const char *const *p)
{
	match_list_init(&b->list);
	b->n = 0;
	for (; *p; p++)
		both_add(b, kind, *p, true);
}

static void test_equals_set_folds_case_and_drops_brackets(void **state)
{
	static const char *const pats[] = { "Boss@Example.com", "<role@example.org>", "", NULL };
	struct both b;

	(void)state;
	one_kind(&b, MATCH_EQUALS, pats);
	assert_true(test_subject(&b, "boss@example.COM"));
	assert_true(test_subject(&b, "<BOSS@example.com>"));
	assert_true(test_subject(&b, "role@example.org"));
	assert_true(test_subject(&b, "<>"));                   /* the null sender */
	assert_true(test_subject(&b, ""));
	assert_false(test_subject(&b, "boss@example.com.evil"));
	assert_false(test_subject(&b, "oss@example.com"));
	assert_false(test_subject(&b, "<boss@example.com"));
	assert_false(test_subject(&b, "a very long subject that is longer than any pattern in the list"));
	assert_false(test_subject(&b, NULL));
	both_free(&b);
}

static void test_exact_set_keeps_case(void **state)
{
	static const char *const pats[] = { "Boss@example.com", "<X@y>", NULL };
	struct both b;

	(void)state;
	one_kind(&b, MATCH_EXACT, pats);
	assert_true(test_subject(&b, "Boss@example.com"));
	assert_true(test_subject(&b, "<Boss@example.com>"));
	assert_true(test_subject(&b, "X@y"));
	assert_false(test_subject(&b, "boss@example.com"));
	assert_false(test_subject(&b, "x@y"));
	both_free(&b);
}

static void test_domains_and_subdomains_walk_the_labels(void **state)
{
	static const char *const pats[] = { "example.com", ".sub.example.org", "Mixed.Case.NET", NULL };
	struct both b;

	(void)state;
	one_kind(&b, MATCH_DOMAIN, pats);
	assert_true(test_subject(&b, "a@example.com"));
	assert_true(test_subject(&b, "<a@EXAMPLE.com>"));
	assert_true(test_subject(&b, "example.com."));         /* one trailing dot is dropped */
	assert_false(test_subject(&b, "example.com.."));
	assert_false(test_subject(&b, "a@mx.example.com"));     /* "example.com": not its subdomains */
	assert_false(test_subject(&b, "a@badexample.com"));
	assert_true(test_subject(&b, "a@mx.sub.example.org"));
	assert_true(test_subject(&b, "a.b.c.sub.example.org."));
	assert_false(test_subject(&b, "a@sub.example.org"));    /* ".sub...": strict subdomains */
	assert_false(test_subject(&b, "a@xsub.example.org"));
	assert_true(test_subject(&b, "u@mixed.case.net"));
	assert_true(test_subject(&b, "\"odd@local\"@example.com"));
	assert_false(test_subject(&b, "example.com@evil.test"));
	assert_false(test_subject(&b, ""));
	both_free(&b);
}

static void test_odd_domain_patterns_keep_their_linear_meaning(void **state)
{
	static const char *const pats[] = { "", ".", "..x", "a@b", "trailing.", NULL };
	static const char *const subjects[] = {
		"", ".", "..", "a@", "a@.", "x@..x", "y..x", "..x", "a@b", "b", "trailing.",
		"trailing..", "u@trailing..", "a@b.c..", ".x", "z.", "@", "@@.", NULL,
	};
	struct both b;

	(void)state;
	one_kind(&b, MATCH_DOMAIN, pats);
	for (const char *const *s = subjects; *s; s++)
		test_subject(&b, *s);
	assert_true(test_subject(&b, "a@"));                   /* "" is the empty domain */
	assert_true(test_subject(&b, "trailing.."));
	assert_true(test_subject(&b, "y..x"));
	both_free(&b);
}

static void test_regexes_join_the_sets(void **state)
{
	struct both b;

	(void)state;
	match_list_init(&b.list);
	b.n = 0;
	both_add(&b, MATCH_EQUALS, "boss@example.com", true);
	both_add(&b, MATCH_DOMAIN, ".spam.example", true);
	both_add(&b, MATCH_REGEX, "^bounce-[0-9]+@", true);
	both_add(&b, MATCH_REGEX, "CaSe", false);
	assert_true(test_subject(&b, "BOUNCE-12@x"));
	assert_true(test_subject(&b, "xCaSex"));
	assert_false(test_subject(&b, "case"));
	assert_true(test_subject(&b, "u@mx.spam.example"));
	assert_true(test_subject(&b, "Boss@example.com"));
	assert_false(test_subject(&b, "nobody@example.com"));
	assert_int_equal(b.list.count, 2);          /* only regexes are tried one by one */
	assert_int_equal(b.list.entries, 4);
	both_free(&b);
}

static void test_bad_regex_leaves_the_list_as_it_was(void **state)
{
	struct matcher_list l;
	char err[256] = "";

	(void)state;
	match_list_init(&l);
	assert_false(match_list_add(&l, MATCH_REGEX, "([a-z]+", true, err, sizeof(err)));
	assert_non_null(strstr(err, "invalid regex"));
	assert_int_equal(l.count, 0);
	assert_int_equal(l.entries, 0);
	assert_false(match_list_test(&l, "abc"));
	match_list_free(&l);
	match_list_free(NULL);
}

static void test_duplicates_are_kept_once(void **state)
{
	struct matcher_list l;
	char err[64];

	(void)state;
	match_list_init(&l);
	for (int i = 0; i < 3; i++)
		assert_true(match_list_add(&l, MATCH_EQUALS, "A@B", true, err, sizeof(err)));
	assert_true(match_list_add(&l, MATCH_EQUALS, "a@b", true, err, sizeof(err)));
	assert_int_equal(l.equals.count, 1);
	assert_int_equal(l.entries, 4);
	assert_true(match_list_test(&l, "<a@B>"));
	match_list_free(&l);
}

/* big_pattern - the I-th generated pattern of a large list, into BUF. */
static enum match_kind big_pattern(unsigned i, char *buf, size_t len)
{
	switch (i % 4) {
	case 0:
		snprintf(buf, len, "User%u@Example.net", i);
		return MATCH_EQUALS;
	case 1:
		snprintf(buf, len, "d%u.example.com", i);
		return MATCH_DOMAIN;
	case 2:
		snprintf(buf, len, ".s%u.example.com", i);
		return MATCH_DOMAIN;
	default:
		snprintf(buf, len, "Exact%u@x", i);
		return MATCH_EXACT;
	}
}

static void test_ten_thousand_patterns_agree_with_the_linear_test(void **state)
{
	enum { N = 10000 };
	struct matcher *items = calloc(N, sizeof(*items));
	struct matcher_list l;
	char pat[64], subj[96], err[64];
	unsigned hits = 0;

	(void)state;
	assert_non_null(items);
	match_list_init(&l);
	for (unsigned i = 0; i < N; i++) {
		enum match_kind kind = big_pattern(i, pat, sizeof(pat));

		assert_true(match_compile(&items[i], kind, pat, true, err, sizeof(err)));
		assert_true(match_list_add(&l, kind, pat, true, err, sizeof(err)));
	}
	/* Subjects around every fourth pattern: hits, near misses, subdomains. */
	for (unsigned i = 0; i < N; i += 37) {
		static const char *const forms[][2] = {
			{ "user", "@example.NET" }, { "a@d", ".example.com" }, { "a@mx.d", ".example.com" },
			{ "a@mx.s", ".example.com" }, { "a@s", ".example.com" }, { "Exact", "@x" },
			{ "exact", "@x" }, { "<User", "@example.net>" }, { "x.y.z.s", ".example.com." },
		};

		for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
			bool want;

			snprintf(subj, sizeof(subj), "%s%u%s", forms[f][0], i, forms[f][1]);
			want = match_any(items, N, subj);
			if (match_list_test(&l, subj) != want)
				fail_msg("subject \"%s\": the index disagrees (linear: %d)", subj, want);
			hits += want;
		}
	}
	assert_true(hits > 0);
	assert_true(match_list_bytes(&l) < (size_t)N * 96);   /* tables + strings: under 96 B each */
	for (unsigned i = 0; i < N; i++)
		match_free(&items[i]);
	free(items);
	match_list_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equals_set_folds_case_and_drops_brackets),
		cmocka_unit_test(test_exact_set_keeps_case),
		cmocka_unit_test(test_domains_and_subdomains_walk_the_labels),
		cmocka_unit_test(test_odd_domain_patterns_keep_their_linear_meaning),
		cmocka_unit_test(test_regexes_join_the_sets),
		cmocka_unit_test(test_bad_regex_leaves_the_list_as_it_was),
		cmocka_unit_test(test_duplicates_are_kept_once),
		cmocka_unit_test(test_ten_thousand_patterns_agree_with_the_linear_test),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
