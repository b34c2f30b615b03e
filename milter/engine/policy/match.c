/*
 * match.c - compile and apply the string matchers of policy conditions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "match.h"
#include "xalloc.h"

static const char *const kind_names[] = { "equals", "exact", "domain", "regex" };

/* match_kind_name - the JSON key of a matcher kind. */
const char *match_kind_name(enum match_kind kind)
{
	return kind <= MATCH_REGEX ? kind_names[kind] : "?";
}

/* match_compile - build *M from PATTERN. */
bool match_compile(struct matcher *m, enum match_kind kind, const char *pattern,
		   bool ignore_case, char *err, size_t errlen)
{
	int rc;

	size_t len;
	const char *why_costly;

	memset(m, 0, sizeof(*m));
	m->kind = kind;
	/* Subjects are compared without their <>, so patterns are too. */
	if (kind == MATCH_EQUALS || kind == MATCH_EXACT) {
		const char *bare = match_unbracket(pattern, &len);

		m->pattern = xstrndup(bare, len);
	} else {
		m->pattern = xstrdup(pattern);
	}
	if (kind != MATCH_REGEX)
		return true;
	if ((why_costly = regex_too_costly(pattern))) {
		snprintf(err, errlen, "regex \"%s\" is too costly to compile: %s", pattern, why_costly);
		free(m->pattern);
		m->pattern = NULL;
		return false;
	}
	rc = regcomp(&m->regex, pattern, REG_EXTENDED | REG_NOSUB | (ignore_case ? REG_ICASE : 0));
	if (rc != 0) {
		char why[200];

		regerror(rc, &m->regex, why, sizeof(why));
		snprintf(err, errlen, "invalid regex \"%s\": %s", pattern, why);
		free(m->pattern);
		m->pattern = NULL;
		return false;
	}
	m->compiled = true;
	return true;
}

/* match_unbracket - SUBJECT without surrounding <>, as pointer and length. */
const char *match_unbracket(const char *subject, size_t *len)
{
	*len = strlen(subject);
	if (*len >= 2 && subject[0] == '<' && subject[*len - 1] == '>') {
		*len -= 2;
		return subject + 1;
	}
	return subject;
}

/* match_domain_of - the part after the last '@' (or all of it), without a trailing dot. */
const char *match_domain_of(const char *s, size_t len, size_t *dlen)
{
	const char *at = NULL;

	for (size_t i = 0; i < len; i++)
		if (s[i] == '@')
			at = s + i;
	if (at) {
		len -= (size_t)(at + 1 - s);
		s = at + 1;
	}
	if (len && s[len - 1] == '.')
		len--;
	*dlen = len;
	return s;
}

/* domain_matches - "example.com" exactly, or ".example.com": strict subdomains. */
static bool domain_matches(const char *pattern, const char *subject)
{
	size_t slen, dlen, plen = strlen(pattern);
	const char *s = match_unbracket(subject, &slen);
	const char *d = match_domain_of(s, slen, &dlen);

	if (pattern[0] == '.')
		return dlen > plen && strncasecmp(d + dlen - plen, pattern, plen) == 0;
	return dlen == plen && strncasecmp(d, pattern, plen) == 0;
}

/* match_test - does SUBJECT match M? */
bool match_test(const struct matcher *m, const char *subject)
{
	size_t len;
	const char *s;

	if (!subject || !m->pattern)
		return false;
	switch (m->kind) {
	case MATCH_EQUALS:
		s = match_unbracket(subject, &len);
		return len == strlen(m->pattern) && strncasecmp(s, m->pattern, len) == 0;
	case MATCH_EXACT:
		s = match_unbracket(subject, &len);
		return len == strlen(m->pattern) && strncmp(s, m->pattern, len) == 0;
	case MATCH_DOMAIN:
		return domain_matches(m->pattern, subject);
	case MATCH_REGEX:
		return m->compiled && regexec(&m->regex, subject, 0, NULL, 0) == 0;
	}
	return false;
}

/* match_free - release the pattern and the compiled regex. */
void match_free(struct matcher *m)
{
	if (!m)
		return;
	if (m->compiled)
		regfree(&m->regex);
	free(m->pattern);
	m->pattern = NULL;
	m->compiled = false;
}

/* match_any - the linear list test: does SUBJECT match one of the N matchers at M? */
bool match_any(const struct matcher *m, size_t n, const char *subject)
{
	if (!subject)
		return false;
	for (size_t i = 0; i < n; i++)
		if (match_test(&m[i], subject))
			return true;
	return false;
}
