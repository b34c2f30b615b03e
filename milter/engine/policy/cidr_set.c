/*
 * cidr_set.c - networks as sorted disjoint ranges, searched by bisection
 * (see cidr_set.h).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr_set.h"
#include "log.h"
#include "xalloc.h"

typedef unsigned __int128 u128;

/* v4_value - the first 4 bytes of ADDR as a number. */
static uint32_t v4_value(const uint8_t addr[16])
{
	return (uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 | (uint32_t)addr[2] << 8 | addr[3];
}

/* v6_value - the 16 bytes of ADDR as a number. */
static u128 v6_value(const uint8_t addr[16])
{
	u128 v = 0;

	for (int i = 0; i < 16; i++)
		v = v << 8 | addr[i];
	return v;
}

/* host_mask - the host bits of a /PREFIX network of BITS bits (BITS - PREFIX ones). */
static u128 host_mask(unsigned bits, unsigned prefix)
{
	unsigned host = bits - prefix;

	return host >= 128 ? ~(u128)0 : ((u128)1 << host) - 1;
}

/* cidr_set_init - an empty set. */
void cidr_set_init(struct cidr_set *s)
{
	memset(s, 0, sizeof(*s));
}

/* cidr_set_add - append NET's range to its family's array. */
void cidr_set_add(struct cidr_set *s, const struct cidr *net)
{
	if (s->sealed) {
		log_msg(LOG_ERR, "cidr_set_add after cidr_set_seal");
		abort();
	}
	if (net->family == AF_INET) {
		uint32_t lo = v4_value(net->addr);

		if (s->v4_count == s->v4_cap) {
			s->v4_cap = s->v4_cap ? s->v4_cap * 2 : 8;
			s->v4 = xreallocarray(s->v4, s->v4_cap, sizeof(*s->v4));
		}
		s->v4[s->v4_count++] = (struct cidr_v4_range){ lo, lo | (uint32_t)host_mask(32, net->prefix) };
	} else {
		u128 lo = v6_value(net->addr);

		if (s->v6_count == s->v6_cap) {
			s->v6_cap = s->v6_cap ? s->v6_cap * 2 : 8;
			s->v6 = xreallocarray(s->v6, s->v6_cap, sizeof(*s->v6));
		}
		s->v6[s->v6_count++] = (struct cidr_v6_range){ lo, lo | host_mask(128, net->prefix) };
	}
	s->entries++;
}

/* cmp_v4, cmp_v6 - order ranges by their start (qsort). */
static int cmp_v4(const void *a, const void *b)
{
	const struct cidr_v4_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int cmp_v6(const void *a, const void *b)
{
	const struct cidr_v6_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/*
 * MERGE - sort the N ranges at R and fold each into the previous one when
 * it starts inside it or right after it (or the previous one runs to the
 * last address: hi + 1 wraps to 0); N becomes the merged count. One body
 * for both families, whose range types differ only in width.
 */
#define MERGE(r, n, cmp) do { \
		size_t out_ = 0; \
		if ((n) > 1) \
			qsort((r), (n), sizeof(*(r)), (cmp)); \
		for (size_t i_ = 0; i_ < (n); i_++) { \
			if (out_ && ((r)[out_ - 1].hi + 1 == 0 || \
				     (r)[i_].lo <= (r)[out_ - 1].hi + 1)) { \
				if ((r)[i_].hi > (r)[out_ - 1].hi) \
					(r)[out_ - 1].hi = (r)[i_].hi; \
			} else { \
				(r)[out_++] = (r)[i_]; \
			} \
		} \
		(n) = out_; \
	} while (0)

/* SHRINK - give back the slack of array R (N used of CAP) after merging. */
#define SHRINK(r, n, cap) do { \
		if ((n) && (n) < (cap)) { \
			(r) = xreallocarray((r), (n), sizeof(*(r))); \
			(cap) = (n); \
		} \
	} while (0)

/* cidr_set_seal - sort and merge both families, then trim the arrays. */
void cidr_set_seal(struct cidr_set *s)
{
	MERGE(s->v4, s->v4_count, cmp_v4);
	MERGE(s->v6, s->v6_count, cmp_v6);
	SHRINK(s->v4, s->v4_count, s->v4_cap);
	SHRINK(s->v6, s->v6_count, s->v6_cap);
	s->sealed = true;
}

/*
 * FIND - is X in one of the N sorted disjoint ranges at R? Bisect for the
 * last range starting at or before X.
 */
#define FIND(r, n, x) __extension__ ({ \
		size_t lo_ = 0, hi_ = (n); \
		while (lo_ < hi_) { \
			size_t mid_ = lo_ + (hi_ - lo_) / 2; \
			if ((r)[mid_].lo <= (x)) \
				lo_ = mid_ + 1; \
			else \
				hi_ = mid_; \
		} \
		lo_ > 0 && (x) <= (r)[lo_ - 1].hi; \
	})

/* cidr_set_contains - bisect the family's ranges. */
bool cidr_set_contains(const struct cidr_set *s, int family, const uint8_t addr[16])
{
	if (!s->sealed) {
		log_msg(LOG_ERR, "cidr_set_contains before cidr_set_seal");
		abort();
	}
	if (family == AF_INET) {
		uint32_t x = v4_value(addr);

		return FIND(s->v4, s->v4_count, x);
	}
	if (family == AF_INET6) {
		u128 x = v6_value(addr);

		return FIND(s->v6, s->v6_count, x);
	}
	return false;
}

/* cidr_set_bytes - both arrays as allocated. */
size_t cidr_set_bytes(const struct cidr_set *s)
{
	return s->v4_cap * sizeof(*s->v4) + s->v6_cap * sizeof(*s->v6);
}

/* cidr_set_free - release both arrays. */
void cidr_set_free(struct cidr_set *s)
{
	if (!s)
		return;
	free(s->v4);
	free(s->v6);
	cidr_set_init(s);
}
