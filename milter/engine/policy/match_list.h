/*
 * match_list.h - a list of matchers (match.h) that a subject matches when
 * any of them does, indexed so that a test costs the same for 10 or 100,000
 * patterns.
 *
 * Patterns are sorted by kind as they are added: equals and exact patterns
 * go into hash sets of whole subjects; domain patterns into a set of
 * domains ("example.com") and a set of subdomain suffixes (".example.com"),
 * probed at each dot of the subject's domain (mx.a.example.com: .a.example.com,
 * .example.com, .com). Only regexes are tried one by one, in order. The
 * result is exactly that of match_any() over the same matchers: the tests
 * and t/fuzz/fuzz_lists.c hold it to that.
 *
 * Costs per test: equals/exact one hash of the subject; domain one pass
 * over the domain (at most as long as the longest pattern) and one probe per
 * dot; each regex one regexec.
 *
 * Ownership: the list owns copies of its patterns and its compiled regexes;
 * match_list_free() releases them. Built once at policy load; afterwards
 * read-only, and match_list_test() is thread-safe.
 */
#ifndef MD_MATCH_LIST_H
#define MD_MATCH_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "match.h"
#include "strset.h"

struct matcher_list {
	struct strset equals;           /* MATCH_EQUALS, without <>, folded */
	struct strset exact;            /* MATCH_EXACT, without <> */
	struct strset domains;          /* MATCH_DOMAIN "example.com", folded */
	struct strset subdomains;       /* MATCH_DOMAIN ".example.com", dot kept, folded */
	size_t count;                   /* regexes, tried in order */
	struct matcher *items;
	size_t cap;
	size_t entries;                 /* patterns added, duplicates included */
};

/* match_list_init - an empty list (no memory yet). */
void match_list_init(struct matcher_list *l);

/*
 * match_list_add - add one pattern of KIND (IGNORE_CASE: regex only, as in
 * match_compile). On failure (a bad regex) return false with the reason in
 * ERR, the list unchanged.
 */
bool match_list_add(struct matcher_list *l, enum match_kind kind, const char *pattern,
		    bool ignore_case, char *err, size_t errlen);

/* match_list_trim - give back the slack of the growing buffers once every pattern is in. */
void match_list_trim(struct matcher_list *l);

/* match_list_test - does SUBJECT match any pattern? A NULL subject never does. */
bool match_list_test(const struct matcher_list *l, const char *subject);

/* match_list_bytes - heap memory the list holds (sets and regexes). */
size_t match_list_bytes(const struct matcher_list *l);

/* match_list_free - release the patterns and regexes; L may be NULL. */
void match_list_free(struct matcher_list *l);

#endif
