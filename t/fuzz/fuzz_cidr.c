/*
 * fuzz_cidr.c - libFuzzer target for CIDR networks: cidr_parse on the first
 * line of the input, then cidr_contains with the rest as a client address.
 *
 * Input: "NETWORK\nADDRESS", e.g. "10.0.0.0/8\n10.1.2.3". Checks, besides
 * memory errors: a parsed network has a known family, a prefix within range
 * and no host bits set, and contains its own network address (except
 * IPv4-mapped IPv6 networks, which never match: see t/fuzz/README.md).
 */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "cidr.h"
#include "fuzz_support.h"

/* LLVMFuzzerInitialize - quiet logs. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

/* has_host_bits - is any bit after NET's prefix set? */
static bool has_host_bits(const struct cidr *net)
{
	for (unsigned bit = net->prefix; bit < 128; bit++)
		if (net->addr[bit / 8] & (0x80u >> (bit % 8)))
			return true;
	return false;
}

/* is_v4_mapped - is NET inside ::ffff:0:0/96? */
static bool is_v4_mapped(const struct cidr *net)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return net->family == AF_INET6 && memcmp(net->addr, prefix, sizeof(prefix)) == 0;
}

/* check_network - invariants of a network cidr_parse accepted. */
static void check_network(const struct cidr *net)
{
	char text[INET6_ADDRSTRLEN];
	unsigned max = net->family == AF_INET ? 32 : 128;

	if (net->family != AF_INET && net->family != AF_INET6)
		abort();
	if (net->prefix > max || has_host_bits(net))
		abort();
	if (!inet_ntop(net->family, net->addr, text, sizeof(text)))
		abort();
	if (!is_v4_mapped(net) && !cidr_contains(net, text))
		abort();
}

/* LLVMFuzzerTestOneInput - parse a network, then test an address against it. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *net_text, *addr_text;
	struct cidr net;
	const char *why = NULL;

	fuzz_split(data, size, &net_text, &addr_text);
	if (cidr_parse(net_text, &net, &why)) {
		check_network(&net);
		(void)cidr_contains(&net, addr_text);
	} else if (!why || !*why) {
		abort();
	}
	free(net_text);
	free(addr_text);
	return 0;
}
