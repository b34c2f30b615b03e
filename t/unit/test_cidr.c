/*
 * test_cidr.c - CIDR networks: parsing, IPv4, IPv6 and IPv4-mapped clients.
 */
#include "test_support.h"

#include <sys/socket.h>

#include "cidr.h"

static struct cidr net(const char *text)
{
	struct cidr c;
	const char *why;

	assert_true(cidr_parse(text, &c, &why));
	return c;
}

static void test_ipv4_network_membership(void **state)
{
	struct cidr c = net("192.0.2.0/24");

	(void)state;
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 24);
	assert_true(cidr_contains(&c, "192.0.2.0"));
	assert_true(cidr_contains(&c, "192.0.2.255"));
	assert_false(cidr_contains(&c, "192.0.3.1"));
	assert_false(cidr_contains(&c, "not an address"));
	assert_false(cidr_contains(&c, NULL));
}

static void test_host_bits_are_zeroed(void **state)
{
	struct cidr c = net("10.1.2.3/8");

	(void)state;
	assert_true(cidr_contains(&c, "10.200.0.1"));
	assert_int_equal(c.addr[1], 0);
}

static void test_bare_addresses_are_single_hosts(void **state)
{
	struct cidr v4 = net("198.51.100.7"), v6 = net("::1");

	(void)state;
	assert_int_equal(v4.prefix, 32);
	assert_int_equal(v6.prefix, 128);
	assert_true(cidr_contains(&v4, "198.51.100.7"));
	assert_false(cidr_contains(&v4, "198.51.100.8"));
	assert_true(cidr_contains(&v6, "::1"));
	assert_false(cidr_contains(&v6, "::2"));
}

static void test_ipv6_networks_and_edges(void **state)
{
	struct cidr doc = net("2001:db8::/32"), all6 = net("::/0"), all4 = net("0.0.0.0/0");

	(void)state;
	assert_true(cidr_contains(&doc, "2001:db8:ffff::1"));
	assert_false(cidr_contains(&doc, "2001:db9::1"));
	assert_true(cidr_contains(&all6, "fe80::1"));
	assert_true(cidr_contains(&all4, "203.0.113.9"));
	assert_false(cidr_contains(&all4, "2001:db8::1"));     /* families differ */
	assert_false(cidr_contains(&all6, "203.0.113.9"));
}

static void test_ipv4_mapped_client_matches_ipv4_network(void **state)
{
	struct cidr c = net("192.0.2.0/24");
	int family;
	uint8_t addr[16];

	(void)state;
	assert_true(cidr_contains(&c, "::ffff:192.0.2.44"));
	assert_true(cidr_addr_parse("::ffff:192.0.2.44", &family, addr));
	assert_int_equal(family, AF_INET);
	assert_int_equal(addr[3], 44);
}

static void test_ipv4_mapped_network_is_an_ipv4_network(void **state)
{
	struct cidr c = net("::ffff:10.0.0.0/104");

	(void)state;
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 8);
	assert_true(cidr_contains(&c, "10.1.2.3"));
	assert_true(cidr_contains(&c, "::ffff:10.1.2.3"));
	assert_false(cidr_contains(&c, "11.0.0.1"));
}

static void test_malformed_networks_are_refused(void **state)
{
	static const char *const bad[] = { "", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129",
					   "10.0.0.0/-1", "10.0.0.0/+8", " 10.0.0.0/8", "10.0.0.0/8 ",
					   "10.0.0/8", "example.com", "10.0.0.0/8/8", "10.0.0.0/0008" };
	struct cidr c;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_false(cidr_parse(bad[i], &c, &why));
		assert_non_null(why);
	}
	assert_false(cidr_parse("10.0.0.0/33", &c, &why));
	assert_string_equal(why, "prefix length out of range");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_network_membership),
		cmocka_unit_test(test_host_bits_are_zeroed),
		cmocka_unit_test(test_bare_addresses_are_single_hosts),
		cmocka_unit_test(test_ipv6_networks_and_edges),
		cmocka_unit_test(test_ipv4_mapped_client_matches_ipv4_network),
		cmocka_unit_test(test_ipv4_mapped_network_is_an_ipv4_network),
		cmocka_unit_test(test_malformed_networks_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
