/*
 * cidr.h - IPv4 and IPv6 networks in CIDR notation, and membership tests.
 *
 * A struct cidr is a plain value (no heap memory). "10.0.0.0/8",
 * "2001:db8::/32", and bare addresses ("192.0.2.1" = /32, "::1" = /128) are
 * accepted. IPv4-mapped IPv6 client addresses (::ffff:192.0.2.1) match IPv4
 * networks, since Postfix and Sendmail may report either form.
 * All functions are pure and thread-safe.
 */
#ifndef MD_CIDR_H
#define MD_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cidr {
	int family;             /* AF_INET or AF_INET6 */
	uint8_t addr[16];       /* network address, host bits zeroed */
	unsigned prefix;        /* 0..32 or 0..128 */
};

/* cidr_parse - parse TEXT; false (and *WHY set to a static text) when invalid. */
bool cidr_parse(const char *text, struct cidr *out, const char **why);

/* cidr_contains - does NET contain the address ADDR_TEXT (numeric form)? */
bool cidr_contains(const struct cidr *net, const char *addr_text);

/* cidr_addr_parse - numeric address to (family, 16 bytes); IPv4-mapped IPv6 becomes IPv4. */
bool cidr_addr_parse(const char *addr_text, int *family, uint8_t addr[16]);

/* cidr_contains_addr - like cidr_contains, for an address already parsed. */
bool cidr_contains_addr(const struct cidr *net, int family, const uint8_t addr[16]);

/*
 * cidr_list_contains - is the parsed address in one of the N networks at
 * NETS? One test after the other: the reference semantics that cidr_set.h
 * speeds up; its tests and fuzz target hold the set to this.
 */
bool cidr_list_contains(const struct cidr *nets, size_t n, int family, const uint8_t addr[16]);

/* CIDR_EXPECTED - what an invalid network is told to look like, in load errors. */
#define CIDR_EXPECTED "expected CIDR such as 192.0.2.0/24 or 2001:db8::/32"

#endif
