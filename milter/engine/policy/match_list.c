/*
 * match_list.c - indexed matcher lists: hash sets for equals, exact and
 * domain patterns, a linear pass for regexes (see match_list.h).
 */
#include <stdlib.h>
#include <string.h>

#include "match_list.h"
#include "xalloc.h"

/* match_list_init - all sets empty; equals and domains fold case, exact keeps it. */
void match_list_init(struct matcher_list *l)
{
	memset(l, 0, sizeof(*l));
	strset_init(&l->equals, true);
	strset_init(&l->exact, false);
	strset_init(&l->domains, true);
	strset_init(&l->subdomains, true);
}

/* add_regex - compile PATTERN at the end of the regex array. */
static bool add_regex(struct matcher_list *l, const char *pattern, bool ignore_case,
		      char *err, size_t errlen)
{
	if (l->count == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->items = xreallocarray(l->items, l->cap, sizeof(*l->items));
	}
	if (!match_compile(&l->items[l->count], MATCH_REGEX, pattern, ignore_case, err, errlen))
		return false;
	l->count++;
	return true;
}

/* match_list_add - file PATTERN under its kind. */
bool match_list_add(struct matcher_list *l, enum match_kind kind, const char *pattern,
		    bool ignore_case, char *err, size_t errlen)
{
	size_t len;
	const char *bare = match_unbracket(pattern, &len);

	switch (kind) {
	case MATCH_EQUALS:
		strset_add(&l->equals, bare, len);
		break;
	case MATCH_EXACT:
		strset_add(&l->exact, bare, len);
		break;
	case MATCH_DOMAIN:
		strset_add(pattern[0] == '.' ? &l->subdomains : &l->domains, pattern, strlen(pattern));
		break;
	case MATCH_REGEX:
		if (!add_regex(l, pattern, ignore_case, err, errlen))
			return false;
		break;
	}
	l->entries++;
	return true;
}

/* match_list_trim - trim the four string buffers and the regex array. */
void match_list_trim(struct matcher_list *l)
{
	strset_trim(&l->equals);
	strset_trim(&l->exact);
	strset_trim(&l->domains);
	strset_trim(&l->subdomains);
	if (l->count && l->count < l->cap) {
		l->items = xreallocarray(l->items, l->count, sizeof(*l->items));
		l->cap = l->count;
	}
}

/* match_list_test - the sets first (one probe each), then the regexes. */
bool match_list_test(const struct matcher_list *l, const char *subject)
{
	size_t len, dlen;
	const char *s, *d;

	if (!subject)
		return false;
	s = match_unbracket(subject, &len);
	if (strset_has(&l->equals, s, len) || strset_has(&l->exact, s, len))
		return true;
	if (l->domains.count || l->subdomains.count) {
		d = match_domain_of(s, len, &dlen);
		if (strset_has(&l->domains, d, dlen) || strset_has_suffix(&l->subdomains, d, dlen, '.'))
			return true;
	}
	return match_any(l->items, l->count, subject);
}

/* match_list_bytes - the four sets, the regex array and its compiled patterns' text. */
size_t match_list_bytes(const struct matcher_list *l)
{
	size_t n = strset_bytes(&l->equals) + strset_bytes(&l->exact) +
		   strset_bytes(&l->domains) + strset_bytes(&l->subdomains) +
		   l->cap * sizeof(*l->items);

	for (size_t i = 0; i < l->count; i++)
		n += strlen(l->items[i].pattern) + 1;
	return n;
}

/* match_list_free - release the sets and the regexes. */
void match_list_free(struct matcher_list *l)
{
	if (!l)
		return;
	strset_free(&l->equals);
	strset_free(&l->exact);
	strset_free(&l->domains);
	strset_free(&l->subdomains);
	for (size_t i = 0; i < l->count; i++)
		match_free(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = l->cap = l->entries = 0;
}
