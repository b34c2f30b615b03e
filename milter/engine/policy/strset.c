/*
 * strset.c - an open-addressing hash set of byte strings (see strset.h).
 *
 * Linear probing in a table kept at most half full; FNV-1a over the bytes
 * from last to first (folded when the set folds), so that the hash of a
 * longer suffix extends that of a shorter one.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "strset.h"
#include "xalloc.h"

#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u
#define MIN_SLOTS 16

/* fold_byte - C's ASCII-only tolower, as strncasecmp applies it in the C locale. */
static inline unsigned char fold_byte(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* hash_step - extend hash H by byte C to its left. */
static inline uint32_t hash_step(uint32_t h, unsigned char c)
{
	return (h ^ c) * FNV_PRIME;
}

/* hash_bytes - the hash of the LEN bytes at STR, folded when FOLD. */
static uint32_t hash_bytes(const char *str, size_t len, bool fold)
{
	uint32_t h = FNV_OFFSET;

	while (len--) {
		unsigned char c = (unsigned char)str[len];

		h = hash_step(h, fold ? fold_byte(c) : c);
	}
	return h;
}

/* first_slot - where the probe sequence of hash H starts. */
static inline size_t first_slot(const struct strset *s, uint32_t h)
{
	return (h ^ (h >> 16)) & (s->cap - 1);
}

/* same - is the stored string STORED equal to the LEN bytes at STR? */
static bool same(const struct strset *s, const char *stored, const char *str, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)str[i];

		if ((unsigned char)stored[i] != (s->fold ? fold_byte(c) : c))
			return false;   /* also at stored's NUL: STR holds none */
	}
	return stored[len] == '\0';
}

/* find - the slot holding STR (hash H), or the empty slot where it would go. */
static size_t find(const struct strset *s, uint32_t h, const char *str, size_t len)
{
	size_t i = first_slot(s, h);

	while (s->slots[i].off && !(s->slots[i].hash == h &&
				    same(s, s->buf + s->slots[i].off - 1, str, len)))
		i = (i + 1) & (s->cap - 1);
	return i;
}

/* grow - double the table (or make the first one) and re-place every slot. */
static void grow(struct strset *s)
{
	struct strset_slot *old = s->slots;
	size_t old_cap = s->cap;

	s->cap = old_cap ? old_cap * 2 : MIN_SLOTS;
	s->slots = xcalloc(s->cap, sizeof(*s->slots));
	for (size_t i = 0; i < old_cap; i++) {
		size_t j;

		if (!old[i].off)
			continue;
		for (j = first_slot(s, old[i].hash); s->slots[j].off; j = (j + 1) & (s->cap - 1))
			;
		s->slots[j] = old[i];
	}
	free(old);
}

/* store - copy the LEN bytes at STR (folded when the set folds) into buf; its offset + 1. */
static uint32_t store(struct strset *s, const char *str, size_t len)
{
	size_t off = s->used;

	if (s->used + len + 1 > UINT32_MAX) {
		log_msg(LOG_ERR, "strset: more than 4 GB of list entries");
		abort();        /* the list file limits keep far below this */
	}
	if (s->used + len + 1 > s->bufcap) {
		s->bufcap = (s->used + len + 1) * 2;
		s->buf = xrealloc(s->buf, s->bufcap);
	}
	for (size_t i = 0; i < len; i++)
		s->buf[off + i] = s->fold ? (char)fold_byte((unsigned char)str[i]) : str[i];
	s->buf[off + len] = '\0';
	s->used += len + 1;
	return (uint32_t)off + 1;
}

/* strset_init - an empty set. */
void strset_init(struct strset *s, bool fold)
{
	memset(s, 0, sizeof(*s));
	s->fold = fold;
}

/* strset_add - insert a copy of STR[0..LEN) unless present. */
void strset_add(struct strset *s, const char *str, size_t len)
{
	uint32_t h = hash_bytes(str, len, s->fold);
	size_t i;

	if ((s->count + 1) * 2 > s->cap)
		grow(s);
	i = find(s, h, str, len);
	if (s->slots[i].off)
		return;
	s->slots[i].hash = h;
	s->slots[i].off = store(s, str, len);
	s->count++;
	if (len > s->max_len)
		s->max_len = len;
}

/* strset_has - membership of STR[0..LEN). */
bool strset_has(const struct strset *s, const char *str, size_t len)
{
	if (!s->count || len > s->max_len)
		return false;
	return s->slots[find(s, hash_bytes(str, len, s->fold), str, len)].off != 0;
}

/* strset_has_suffix - one right-to-left pass, probing at each MARK after the first byte. */
bool strset_has_suffix(const struct strset *s, const char *str, size_t len, char mark)
{
	uint32_t h = FNV_OFFSET;
	size_t stop;

	if (!s->count || len < 2)
		return false;
	stop = len > s->max_len ? len - s->max_len : 1;   /* longer suffixes cannot be in it */
	for (size_t i = len; i > stop;) {
		unsigned char c = (unsigned char)str[--i];

		h = hash_step(h, s->fold ? fold_byte(c) : c);
		if (str[i] == mark && s->slots[find(s, h, str + i, len - i)].off)
			return true;
	}
	return false;
}

/* strset_trim - shrink buf to what it holds. */
void strset_trim(struct strset *s)
{
	if (s->used && s->used < s->bufcap) {
		s->buf = xrealloc(s->buf, s->used);
		s->bufcap = s->used;
	}
}

/* strset_bytes - the table and the string buffer. */
size_t strset_bytes(const struct strset *s)
{
	return s->cap * sizeof(*s->slots) + s->bufcap;
}

/* strset_free - release S's memory. */
void strset_free(struct strset *s)
{
	if (!s)
		return;
	free(s->slots);
	free(s->buf);
	s->slots = NULL;
	s->buf = NULL;
	s->count = s->cap = s->used = s->bufcap = s->max_len = 0;
}
