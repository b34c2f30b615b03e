/*
 * strset.h - a set of byte strings in one open-addressing hash table, for
 * the equals, exact and domain lists of policy conditions.
 *
 * A set either keeps case (exact) or folds ASCII letters (equals, domain:
 * the same folding as strncasecmp in the C locale, which the linear
 * matchers use). Strings are copied into one buffer owned by the set; a
 * slot is 8 bytes (hash and offset) and the table is kept at most half
 * full, so an entry costs its length + 1 plus 8 to 16 bytes of table.
 *
 * The hash runs from the last byte to the first, so that strset_has_suffix
 * can probe every suffix of a subject that starts at a given byte (the dots
 * of a domain) in one right-to-left pass: looking up a.b.example.com in a
 * set of ".example.com"-style patterns costs one pass over the subject and
 * one probe per dot, whatever the size of the set.
 *
 * Ownership: strset_init() makes an empty set (no memory yet); strset_add()
 * copies; strset_free() releases everything. Once built a set is read-only
 * and the lookups are thread-safe.
 */
#ifndef MD_STRSET_H
#define MD_STRSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strset_slot {
	uint32_t hash;
	uint32_t off;           /* offset of the string in buf, + 1; 0: empty */
};

struct strset {
	bool fold;              /* compare ASCII letters case-insensitively */
	size_t count;           /* distinct strings */
	size_t cap;             /* slots, a power of two (0: no table yet) */
	struct strset_slot *slots;
	char *buf;              /* the strings, each NUL-terminated */
	size_t used, bufcap;
	size_t max_len;         /* longest string: longer subjects miss at once */
};

/* strset_init - an empty set; FOLD: ASCII case-insensitive. */
void strset_init(struct strset *s, bool fold);

/* strset_add - add the LEN bytes at STR (no NUL inside); a duplicate is kept once. */
void strset_add(struct strset *s, const char *str, size_t len);

/* strset_has - is the LEN bytes at STR in the set? */
bool strset_has(const struct strset *s, const char *str, size_t len);

/*
 * strset_has_suffix - is some suffix STR[i..LEN) with 1 <= i < LEN and
 * STR[i] == MARK in the set? (MARK '.': a subdomain pattern ".example.com"
 * matches "mx.example.com" but not "example.com".)
 */
bool strset_has_suffix(const struct strset *s, const char *str, size_t len, char mark);

/* strset_trim - give back the slack of the string buffer once every string is in. */
void strset_trim(struct strset *s);

/* strset_bytes - memory the set holds (table and strings), for the reference's figures. */
size_t strset_bytes(const struct strset *s);

/* strset_free - release the table and the strings; S may be NULL. */
void strset_free(struct strset *s);

#endif
