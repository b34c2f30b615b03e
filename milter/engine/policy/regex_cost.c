/*
 * regex_cost.c - refuse regular expressions that glibc's regcomp() would
 * need gigabytes to compile, before it is asked to.
 *
 * glibc expands counted repetition into copies of the repeated part, and
 * nested counts multiply: "a{1,32767}" or "((a{1,255}){1,255}){1,255}"
 * run a 2 GB process out of memory; each stacked quantifier ("a+++")
 * doubles the tree. A policy with such a regex would crash the daemon at
 * start or on SIGHUP. The estimate below follows the nesting of groups:
 * the largest product of counted upper bounds along any nesting chain must
 * stay at or below REGEX_MAX_EXPANSION, no bound may exceed
 * REGEX_MAX_COUNT, and a quantifier may not follow another one. Ordinary
 * patterns ("^[0-9]{1,3}(\.[0-9]{1,3}){3}$", "(a|b)+c*") pass untouched.
 *
 * Pure function, thread-safe.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"

#define REGEX_MAX_COUNT 255             /* upper bound of one {m,n} */
#define REGEX_MAX_EXPANSION 10000       /* product of nested bounds */
#define REGEX_MAX_DEPTH 32              /* nested groups */
#define REGEX_MAX_LENGTH 1000

/* skip_bracket - P at '[': the character after the matching ']'. */
static const char *skip_bracket(const char *p)
{
	p++;
	if (*p == '^')
		p++;
	if (*p == ']')
		p++;            /* a leading ']' is a literal */
	while (*p && *p != ']') {
		const char *close = NULL;

		/* [:alpha:], [.ch.], [=e=] end with the same mark and ']'. */
		if (p[0] == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '='))
			close = strstr(p + 2, (const char[]){ p[1], ']', '\0' });
		p = close ? close + 2 : p + 1;
	}
	return *p ? p + 1 : p;
}

/* read_count - P at '{': the upper bound of "{m}", "{m,}" or "{m,n}" and *END after '}'. */
static long read_count(const char *p, const char **end)
{
	char *q;
	long lower = strtol(p + 1, &q, 10), upper = lower;

	if (*q == ',') {
		upper = isdigit((unsigned char)q[1]) ? strtol(q + 1, &q, 10) : REGEX_MAX_COUNT;
		if (*q == ',')
			q++;
	}
	*end = *q == '}' ? q + 1 : q;
	return upper > lower ? upper : lower;
}

/* quantifier - the bound of a quantifier at P (1 for * + ?), 0 if none; *END after it. */
static long quantifier(const char *p, const char **end)
{
	if (*p == '*' || *p == '+' || *p == '?') {
		*end = p + 1;
		return 1;
	}
	if (*p == '{' && isdigit((unsigned char)p[1]))
		return read_count(p, end);
	*end = p;
	return 0;
}

/* regex_too_costly - NULL if PATTERN is safe to compile, else why not. */
const char *regex_too_costly(const char *pattern)
{
	long inner[REGEX_MAX_DEPTH + 1] = { 1 };        /* largest product inside each open group */
	long last = 1;          /* what a quantifier here would multiply */
	int depth = 0;
	const char *p = pattern, *end;

	if (strlen(pattern) > REGEX_MAX_LENGTH)
		return "longer than 1000 characters";
	while (*p) {
		long count = quantifier(p, &end);

		if (count) {
			if (count > REGEX_MAX_COUNT)
				return "a repetition count above 255";
			if (last * count > REGEX_MAX_EXPANSION)
				return "nested repetition counts multiply past 10000";
			if (inner[depth] < last * count)
				inner[depth] = last * count;
			p = end;
			if (quantifier(p, &end))
				return "a repetition of a repetition (stacked quantifiers)";
			last = 1;
			continue;
		}
		last = 1;
		if (*p == '\\' && p[1]) {
			p += 2;
		} else if (*p == '[') {
			p = skip_bracket(p);
		} else if (*p == '(') {
			if (++depth > REGEX_MAX_DEPTH)
				return "groups nested more than 32 deep";
			inner[depth] = 1;
			p++;
		} else if (*p == ')' && depth > 0) {
			last = inner[depth--];  /* a quantifier next multiplies the group */
			if (inner[depth] < last)
				inner[depth] = last;
			p++;
		} else {
			p++;
		}
	}
	return NULL;
}
