/*
 * cidr.c - parse CIDR networks and test addresses against them.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* cidr_addr_parse - numeric address text to family and bytes. */
bool cidr_addr_parse(const char *text, int *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, text, addr) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, text, addr) != 1)
		return false;
	if (memcmp(addr, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
		memmove(addr, addr + 12, 4);
		memset(addr + 4, 0, 12);
		*family = AF_INET;
	} else {
		*family = AF_INET6;
	}
	return true;
}

/* mask_host_bits - zero the bits after PREFIX. */
static void mask_host_bits(uint8_t addr[16], unsigned prefix)
{
	for (unsigned bit = prefix; bit < 128; bit++)
		addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
}

/* parse_prefix - the decimal prefix length after '/'; false if malformed. */
static bool parse_prefix(const char *s, unsigned max, unsigned *prefix, const char **why)
{
	unsigned v = 0;

	if (!*s || strlen(s) > 3) {
		*why = "malformed prefix length";
		return false;
	}
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s)) {
			*why = "malformed prefix length";
			return false;
		}
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v > max) {
		*why = "prefix length out of range";
		return false;
	}
	*prefix = v;
	return true;
}

/* cidr_parse - "net/len" or a bare address. */
bool cidr_parse(const char *text, struct cidr *out, const char **why)
{
	char addr_text[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t len = slash ? (size_t)(slash - text) : strlen(text);
	unsigned max;

	*why = "not an IPv4 or IPv6 address";
	if (len == 0 || len >= sizeof(addr_text))
		return false;
	memcpy(addr_text, text, len);
	addr_text[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, addr_text, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, addr_text, out->addr) == 1)
		out->family = AF_INET6;
	else
		return false;
	max = out->family == AF_INET ? 32 : 128;
	out->prefix = max;
	if (slash && !parse_prefix(slash + 1, max, &out->prefix, why))
		return false;
	/* Client addresses in ::ffff:a.b.c.d form are compared as IPv4; so is
	 * such a network. */
	if (out->family == AF_INET6 && out->prefix >= 96 &&
	    memcmp(out->addr, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
		memmove(out->addr, out->addr + 12, 4);
		memset(out->addr + 4, 0, 12);
		out->family = AF_INET;
		out->prefix -= 96;
	}
	mask_host_bits(out->addr, out->prefix);
	return true;
}

/* cidr_contains_addr - is the parsed address inside NET? */
bool cidr_contains_addr(const struct cidr *net, int family, const uint8_t addr[16])
{
	uint8_t masked[16];

	if (family != net->family)
		return false;
	memcpy(masked, addr, 16);
	mask_host_bits(masked, net->prefix);
	return memcmp(masked, net->addr, 16) == 0;
}

/* cidr_contains - is ADDR_TEXT inside NET? */
bool cidr_contains(const struct cidr *net, const char *addr_text)
{
	int family;
	uint8_t addr[16];

	return addr_text && cidr_addr_parse(addr_text, &family, addr) &&
	       cidr_contains_addr(net, family, addr);
}

/* cidr_list_contains - is the parsed address inside one of the N networks at NETS? */
bool cidr_list_contains(const struct cidr *nets, size_t n, int family, const uint8_t addr[16])
{
	for (size_t i = 0; i < n; i++)
		if (cidr_contains_addr(&nets[i], family, addr))
			return true;
	return false;
}
