/*
 * test_cidr_set.c - networks as sorted ranges (cidr_set.h) give exactly the
 * answers of the linear test (cidr_list_contains): /0, /32, /128, mapped
 * IPv4, overlapping and adjacent prefixes, the ends of the address space,
 * and 10,000 generated networks against 20,000 generated addresses.
 */
#include "test_support.h"

#include <sys/socket.h>

#include "cidr_set.h"

#define MAX_NETS 32

/* Both forms of one list: the set, and the networks the oracle tries in turn. */
struct both {
	struct cidr_set set;
	struct cidr nets[MAX_NETS];
	size_t n;
};

/* build - both forms of the networks at TEXTS (NULL-terminated). */
static void build(struct both *b, const char *const *texts)
{
	const char *why;

	cidr_set_init(&b->set);
	b->n = 0;
	for (; *texts; texts++) {
		assert_true(b->n < MAX_NETS);
		assert_true(cidr_parse(*texts, &b->nets[b->n], &why));
		cidr_set_add(&b->set, &b->nets[b->n++]);
	}
	cidr_set_seal(&b->set);
}

/* in - the set and the oracle agree on ADDR_TEXT; the answer. */
static bool in(const struct both *b, const char *addr_text)
{
	int family;
	uint8_t addr[16];
	bool want;

	assert_true(cidr_addr_parse(addr_text, &family, addr));
	want = cidr_list_contains(b->nets, b->n, family, addr);
	if (cidr_set_contains(&b->set, family, addr) != want)
		fail_msg("%s: the set says %d, the linear test %d", addr_text, !want, want);
	return want;
}

static void test_hosts_and_networks(void **state)
{
	static const char *const nets[] = { "192.0.2.0/24", "198.51.100.7", "2001:db8::/32", "::1", NULL };
	struct both b;

	(void)state;
	build(&b, nets);
	assert_true(in(&b, "192.0.2.0"));
	assert_true(in(&b, "192.0.2.255"));
	assert_false(in(&b, "192.0.1.255"));
	assert_false(in(&b, "192.0.3.0"));
	assert_true(in(&b, "198.51.100.7"));                   /* a bare address is a /32 */
	assert_false(in(&b, "198.51.100.6"));
	assert_false(in(&b, "198.51.100.8"));
	assert_true(in(&b, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_false(in(&b, "2001:db9::"));
	assert_true(in(&b, "::1"));                            /* /128 */
	assert_false(in(&b, "::2"));
	assert_false(in(&b, "::"));
	cidr_set_free(&b.set);
}

static void test_zero_prefixes_cover_one_family_each(void **state)
{
	static const char *const v4[] = { "0.0.0.0/0", NULL };
	static const char *const v6[] = { "::/0", NULL };
	struct both b;

	(void)state;
	build(&b, v4);
	assert_true(in(&b, "0.0.0.0"));
	assert_true(in(&b, "255.255.255.255"));
	assert_true(in(&b, "::ffff:203.0.113.9"));             /* mapped: IPv4 */
	assert_false(in(&b, "2001:db8::1"));
	cidr_set_free(&b.set);
	build(&b, v6);
	assert_true(in(&b, "::"));
	assert_true(in(&b, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_false(in(&b, "203.0.113.9"));
	assert_false(in(&b, "::ffff:203.0.113.9"));
	cidr_set_free(&b.set);
}

static void test_mapped_networks_and_clients_are_ipv4(void **state)
{
	static const char *const nets[] = { "::ffff:10.0.0.0/104", "172.16.0.0/12", NULL };
	struct both b;

	(void)state;
	build(&b, nets);
	assert_true(in(&b, "10.1.2.3"));
	assert_true(in(&b, "::ffff:10.1.2.3"));
	assert_true(in(&b, "::ffff:172.31.255.255"));
	assert_false(in(&b, "::ffff:172.32.0.0"));
	assert_false(in(&b, "::a01:203"));                     /* IPv4-compatible is not mapped */
	cidr_set_free(&b.set);
}

static void test_overlapping_and_adjacent_prefixes_merge(void **state)
{
	static const char *const nets[] = {
		"10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", "11.0.0.0/8", "12.0.0.0/9", "12.128.0.0/9",
		"255.255.255.255", "255.255.255.254/31", "0.0.0.0/32",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "fe80::/10", "fe80::/64", NULL,
	};
	struct both b;

	(void)state;
	build(&b, nets);
	assert_int_equal(b.set.v4_count, 3);   /* 0.0.0.0, 10-12.255.255.255, 255.255.255.254/31 */
	assert_int_equal(b.set.v6_count, 2);
	assert_int_equal(b.set.entries, 12);
	assert_true(in(&b, "11.255.255.255"));
	assert_true(in(&b, "12.255.255.255"));
	assert_false(in(&b, "13.0.0.0"));
	assert_false(in(&b, "9.255.255.255"));
	assert_true(in(&b, "0.0.0.0"));
	assert_false(in(&b, "0.0.0.1"));
	assert_true(in(&b, "255.255.255.254"));
	assert_false(in(&b, "255.255.255.253"));
	assert_true(in(&b, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_false(in(&b, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"));
	assert_true(in(&b, "febf:ffff::1"));
	assert_false(in(&b, "fec0::"));
	cidr_set_free(&b.set);
}

static void test_everything_after_a_range_to_the_end_is_swallowed(void **state)
{
	static const char *const nets[] = { "128.0.0.0/1", "200.0.0.0/8", "255.0.0.0/8", NULL };
	struct both b;

	(void)state;
	build(&b, nets);
	assert_int_equal(b.set.v4_count, 1);
	assert_true(in(&b, "255.255.255.255"));
	assert_false(in(&b, "127.255.255.255"));
	cidr_set_free(&b.set);
}

static void test_an_empty_set_holds_nothing(void **state)
{
	struct cidr_set s;
	uint8_t addr[16] = { 0 };

	(void)state;
	cidr_set_init(&s);
	cidr_set_seal(&s);
	assert_false(cidr_set_contains(&s, AF_INET, addr));
	assert_false(cidr_set_contains(&s, AF_INET6, addr));
	cidr_set_free(&s);
	cidr_set_free(NULL);
}

/* next - a small deterministic generator (xorshift32), so failures repeat. */
static uint32_t next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* random_net - a network of either family with prefixes clustered where they overlap. */
static void random_net(uint32_t *x, struct cidr *c)
{
	static const unsigned v4_prefixes[] = { 16, 20, 24, 28, 31, 32, 32, 32 };
	static const unsigned v6_prefixes[] = { 48, 56, 64, 96, 112, 127, 128, 128 };
	bool v6 = next(x) % 5 == 0;
	char text[64];
	const char *why;
	uint32_t r = next(x), r2 = next(x);

	if (v6)
		snprintf(text, sizeof(text), "2001:db8:%x:%x::%x/%u", r & 0x3ff, (r >> 10) & 0xff,
			 r2 & 0xffff, v6_prefixes[next(x) % 8]);
	else
		snprintf(text, sizeof(text), "%u.%u.%u.%u/%u", 10 + (r & 0x7), (r >> 3) & 0xff,
			 (r >> 11) & 0xff, r2 & 0xff, v4_prefixes[next(x) % 8]);
	assert_true(cidr_parse(text, c, &why));
}

static void test_ten_thousand_random_networks_agree_with_the_linear_test(void **state)
{
	enum { N = 10000, PROBES = 20000 };
	struct cidr *nets = calloc(N, sizeof(*nets));
	struct cidr_set set;
	uint32_t x = 2463534242u;
	unsigned hits = 0;

	(void)state;
	assert_non_null(nets);
	cidr_set_init(&set);
	for (size_t i = 0; i < N; i++) {
		random_net(&x, &nets[i]);
		cidr_set_add(&set, &nets[i]);
	}
	cidr_set_seal(&set);
	for (unsigned i = 0; i < PROBES; i++) {
		struct cidr probe;
		bool want;

		random_net(&x, &probe);         /* its first address, and its last */
		for (int end = 0; end < 2; end++) {
			if (end) {
				for (unsigned bit = probe.prefix; bit < (probe.family == AF_INET ? 32u : 128u); bit++)
					probe.addr[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
			}
			want = cidr_list_contains(nets, N, probe.family, probe.addr);
			if (cidr_set_contains(&set, probe.family, probe.addr) != want)
				fail_msg("probe %u/%d: the set disagrees (linear: %d)", i, end, want);
			hits += want;
		}
	}
	assert_true(hits > 0 && hits < 2 * PROBES);
	cidr_set_free(&set);
	free(nets);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hosts_and_networks),
		cmocka_unit_test(test_zero_prefixes_cover_one_family_each),
		cmocka_unit_test(test_mapped_networks_and_clients_are_ipv4),
		cmocka_unit_test(test_overlapping_and_adjacent_prefixes_merge),
		cmocka_unit_test(test_everything_after_a_range_to_the_end_is_swallowed),
		cmocka_unit_test(test_an_empty_set_holds_nothing),
		cmocka_unit_test(test_ten_thousand_random_networks_agree_with_the_linear_test),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
