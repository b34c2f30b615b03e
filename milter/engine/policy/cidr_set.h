/*
 * cidr_set.h - a set of IPv4 and IPv6 networks as sorted, disjoint address
 * ranges, so that "is the client in one of these networks" is a binary
 * search: about 17 comparisons for 100,000 networks.
 *
 * Networks are added one by one (cidr_set_add, any order, overlaps allowed),
 * then cidr_set_seal() sorts them and merges overlapping and adjacent
 * ranges; only then may cidr_set_contains() be called. Families stay apart
 * as in cidr.h: IPv4-mapped networks and client addresses are IPv4 already
 * (cidr_parse, cidr_addr_parse). The answer is exactly that of
 * cidr_list_contains() over the same networks (its tests and
 * t/fuzz/fuzz_lists.c hold it to that).
 *
 * Memory: 8 bytes per IPv4 range and 32 per IPv6 range after merging.
 * Ownership: the set owns its arrays; cidr_set_free() releases them. Sealed,
 * it is read-only and cidr_set_contains() is thread-safe.
 */
#ifndef MD_CIDR_SET_H
#define MD_CIDR_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

struct cidr_v4_range { uint32_t lo, hi; };
struct cidr_v6_range { unsigned __int128 lo, hi; };

struct cidr_set {
	size_t v4_count, v4_cap;
	struct cidr_v4_range *v4;
	size_t v6_count, v6_cap;
	struct cidr_v6_range *v6;
	size_t entries;         /* networks added, before merging */
	bool sealed;
};

/* cidr_set_init - an empty set (no memory yet). */
void cidr_set_init(struct cidr_set *s);

/* cidr_set_add - add network NET (a parsed struct cidr); not after cidr_set_seal. */
void cidr_set_add(struct cidr_set *s, const struct cidr *net);

/* cidr_set_seal - sort and merge the ranges; the set is read-only afterwards. */
void cidr_set_seal(struct cidr_set *s);

/* cidr_set_contains - is the parsed address (cidr_addr_parse) in one of the networks? */
bool cidr_set_contains(const struct cidr_set *s, int family, const uint8_t addr[16]);

/* cidr_set_bytes - heap memory the ranges take. */
size_t cidr_set_bytes(const struct cidr_set *s);

/* cidr_set_free - release the ranges; S may be NULL. */
void cidr_set_free(struct cidr_set *s);

#endif
