/*
 * match.h - string matchers used by policy conditions.
 *
 * A matcher compares one subject string (an address, a host name, a header
 * value) against a pattern:
 *   MATCH_EQUALS  whole string, case-insensitive      "User@Example.com"
 *   MATCH_EXACT   whole string, case-sensitive
 *   MATCH_DOMAIN  the domain of an address or a host name: "example.com"
 *                 matches "a@example.com" and "example.com"; a leading dot
 *                 (".example.com") matches subdomains only ("a@mx.example.com")
 *   MATCH_REGEX   POSIX extended regex, searched anywhere in the subject
 *                 (anchor with ^ and $), case-insensitive unless asked not to
 * Angle brackets around an address ("<a@b>") are ignored by equals, exact and
 * domain, since MTAs report envelope addresses in either form.
 *
 * Ownership: match_compile() allocates inside *M; match_free() releases it.
 * Once compiled a matcher is read-only and match_test() is thread-safe.
 */
#ifndef MD_MATCH_H
#define MD_MATCH_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

enum match_kind { MATCH_EQUALS, MATCH_EXACT, MATCH_DOMAIN, MATCH_REGEX };

struct matcher {
	enum match_kind kind;
	char *pattern;          /* owned copy of the pattern text */
	bool compiled;          /* regex is valid (MATCH_REGEX only) */
	regex_t regex;
};

/* match_compile - build *M; on failure return false and write a message to ERR. */
bool match_compile(struct matcher *m, enum match_kind kind, const char *pattern,
		   bool ignore_case, char *err, size_t errlen);

/* match_test - does SUBJECT match? A NULL subject never matches. */
bool match_test(const struct matcher *m, const char *subject);

/*
 * match_any - does SUBJECT match one of the N matchers at M? One test after
 * the other: the reference semantics of a list, which match_list.h indexes;
 * its tests and fuzz target hold the index to this.
 */
bool match_any(const struct matcher *m, size_t n, const char *subject);

/* match_unbracket - SUBJECT without one surrounding "<...>": its start, its length in *LEN. */
const char *match_unbracket(const char *subject, size_t *len);

/*
 * match_domain_of - the domain of the LEN bytes at S, as MATCH_DOMAIN reads
 * it: after the last '@' (all of S without one), less one trailing dot.
 */
const char *match_domain_of(const char *s, size_t len, size_t *dlen);

/* match_free - release what match_compile allocated; M may be NULL. */
void match_free(struct matcher *m);

/* match_kind_name - "equals", "exact", "domain" or "regex". */
const char *match_kind_name(enum match_kind kind);

/*
 * regex_too_costly - NULL if PATTERN is safe to hand to regcomp(), else the
 * reason it is not (a count above 255, nested counts multiplying past
 * 10000, stacked quantifiers, too long): glibc would need gigabytes.
 */
const char *regex_too_costly(const char *pattern);

#endif
