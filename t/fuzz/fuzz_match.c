/*
 * fuzz_match.c - libFuzzer target for the string matchers of policy
 * conditions: match_compile on a pattern, then match_test on a subject.
 *
 * Input: one byte choosing the matcher, then "PATTERN\nSUBJECT". The low two
 * bits of the first byte are the kind (0 equals, 1 exact, 2 domain, 3 regex),
 * bit 2 turns case-insensitivity off; so seed files start with a digit:
 * '0' equals, '1' exact, '2' domain, '3' regex, '7' case-sensitive regex.
 *
 * Regex patterns and subjects are capped (MAX_REGEX, MAX_SUBJECT, and
 * fuzz_skips_regex): glibc's regcomp copies the parse tree for every '+'
 * and counted repetition, so "a++++...+" (30 of them) takes gigabytes;
 * such inputs would only make the fuzzer run out of memory in the C
 * library instead of exploring our code. See t/fuzz/README.md.
 */
#include "fuzz_support.h"
#include "match.h"

#define MAX_REGEX 64
#define MAX_SUBJECT 256
#define MAX_REPEATS 4           /* '*', '+', '?' per pattern */

/* LLVMFuzzerInitialize - quiet logs. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

/*
 * fuzz_skips_regex - would glibc's regcomp blow up on PATTERN? More than one
 * counted repetition, a count of three digits or more, or more than
 * MAX_REPEATS other repetition operators: the parse tree could grow beyond
 * 99 * 2^MAX_REPEATS copies.
 */
static bool fuzz_skips_regex(const char *pattern)
{
	unsigned braces = 0, repeats = 0, digits = 0;

	for (const char *p = pattern; *p; p++) {
		braces += *p == '{';
		repeats += *p == '*' || *p == '+' || *p == '?';
		digits = *p >= '0' && *p <= '9' ? digits + 1 : 0;
		if (braces > 1 || repeats > MAX_REPEATS || digits > 2)
			return true;
	}
	return false;
}

/* without_brackets - PATTERN less one surrounding "<...>", as equals/exact compare it (caller frees). */
static char *without_brackets(const char *pattern)
{
	size_t len = strlen(pattern);

	if (len >= 2 && pattern[0] == '<' && pattern[len - 1] == '>')
		return fuzz_strndup((const uint8_t *)pattern + 1, len - 2);
	return fuzz_strndup((const uint8_t *)pattern, len);
}

/* check_matcher - test SUBJECT against M, and the equals/exact invariants. */
static void check_matcher(const struct matcher *m, const char *pattern, const char *subject)
{
	bool hit = match_test(m, subject);
	char *bare = without_brackets(pattern);

	if (match_test(m, NULL))
		abort();                /* a NULL subject never matches */
	if ((m->kind == MATCH_EQUALS || m->kind == MATCH_EXACT) && !match_test(m, pattern))
		abort();                /* a pattern matches itself, with or without <> */
	if (m->kind == MATCH_EXACT && hit && !strchr(subject, '<') && strcmp(subject, bare) != 0)
		abort();
	free(bare);
}

/* LLVMFuzzerTestOneInput - compile a matcher and test one subject. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum match_kind kind;
	bool ignore_case;
	char *pattern, *subject, err[512] = "";
	struct matcher m;

	if (size < 1)
		return 0;
	kind = (enum match_kind)(data[0] & 3);
	ignore_case = !(data[0] & 4);
	fuzz_split(data + 1, size - 1, &pattern, &subject);
	if (kind == MATCH_REGEX && (strlen(pattern) > MAX_REGEX || strlen(subject) > MAX_SUBJECT ||
				    fuzz_skips_regex(pattern)))
		goto done;
	if (match_compile(&m, kind, pattern, ignore_case, err, sizeof(err)))
		check_matcher(&m, pattern, subject);
	else if (kind != MATCH_REGEX || !err[0] || m.pattern)
		abort();                /* only a regex can fail, and it must say why */
	match_free(&m);
done:
	free(pattern);
	free(subject);
	return 0;
}
