/*
 * test_netaddr.c - the one reader of configured addresses: which hosts are
 * loopback, and which "HOST:PORT" forms are accepted or refused (with why).
 */
#include "test_support.h"

#include "netaddr.h"

static void test_loopback_hosts(void **state)
{
	static const char *const yes[] = { "127.0.0.1", "127.1.2.3", "127.255.255.255", "::1",
					   "::ffff:127.0.0.1", "::FFFF:127.9.9.9", "localhost",
					   "LocalHost" };
	static const char *const no[] = { "128.0.0.1", "126.255.255.255", "0.0.0.0", "::",
					  "::2", "::ffff:128.0.0.1", "10.127.0.1", "127.", "127",
					  "localhost.example", "[::1]", "" };

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(netaddr_is_loopback(yes[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (netaddr_is_loopback(no[i]))
			fail_msg("%s is no loopback host", no[i]);
}

/* assert_endpoint - TEXT with FLAGS parses to HOST and PORT. */
static void assert_endpoint(const char *text, unsigned flags, const char *host, unsigned port)
{
	struct endpoint ep = { 0 };
	const char *why = NULL;

	if (!netaddr_parse_endpoint(text, flags, &ep, &why))
		fail_msg("\"%s\" refused: %s", text, why);
	assert_string_equal(ep.host, host);
	assert_int_equal(ep.port, port);
	free(ep.host);
}

/* assert_refused - TEXT with FLAGS is refused for the reason WANT; OUT untouched. */
static void assert_refused(const char *text, unsigned flags, const char *want)
{
	struct endpoint ep = { NULL, 7 };
	const char *why = NULL;

	if (netaddr_parse_endpoint(text, flags, &ep, &why))
		fail_msg("\"%s\" accepted as %s:%u", text, ep.host, ep.port);
	assert_string_equal(why, want);
	assert_null(ep.host);
	assert_int_equal(ep.port, 7);
}

static void test_endpoints_accepted(void **state)
{
	(void)state;
	assert_endpoint("127.0.0.1:10026", 0, "127.0.0.1", 10026);
	assert_endpoint("[::1]:25", 0, "::1", 25);
	assert_endpoint("[::ffff:127.0.0.1]:1", NETADDR_NUMERIC_HOST, "::ffff:127.0.0.1", 1);
	assert_endpoint("192.0.2.1:65535", NETADDR_NUMERIC_HOST, "192.0.2.1", 65535);
	assert_endpoint("mail-filter.example_1.org:10025", 0, "mail-filter.example_1.org", 10025);
	assert_endpoint("localhost:2525", 0, "localhost", 2525);
}

static void test_a_bare_port_means_loopback_only_when_allowed(void **state)
{
	(void)state;
	assert_endpoint("10026", NETADDR_BARE_PORT, "127.0.0.1", 10026);
	assert_refused("10026", 0, "no port");
	assert_refused("0", NETADDR_BARE_PORT, "the port is out of range (1 to 65535)");
}

/* Malformed endpoints and why each is refused. */
static const struct {
	const char *text;
	unsigned flags;
	const char *why;
} refused[] = {
	{ "", 0, "no port" },
	{ "127.0.0.1", NETADDR_BARE_PORT, "no port" },
	{ "127.0.0.1:", 0, "no port" },
	{ ":25", 0, "no host" },
	{ "[]:25", 0, "no host" },
	{ "::1:25", 0, "an IPv6 address needs brackets" },
	{ "[::1:25", 0, "no closing bracket" },
	{ "[::1]", 0, "no port" },
	{ "[::1]x:25", 0, "expected ':PORT' after the ']'" },
	{ "[127.0.0.1]:25", 0, "brackets must hold an IPv6 address" },
	{ "[localhost]:25", 0, "brackets must hold an IPv6 address" },
	{ "localhost:25", NETADDR_NUMERIC_HOST, "the host is not a numeric address" },
	{ "bad host:25", 0, "the host is not a name or an address" },
	{ "127.0.0.1:0", 0, "the port is out of range (1 to 65535)" },
	{ "127.0.0.1:65536", 0, "the port is out of range (1 to 65535)" },
	{ "127.0.0.1:99999999999999999999", 0, "the port is out of range (1 to 65535)" },
	{ "127.0.0.1:+25", 0, "the port is not a number" },
	{ "127.0.0.1: 25", 0, "the port is not a number" },
	{ "127.0.0.1:25x", 0, "the port is not a number" },
	{ "127.0.0.1:smtp", 0, "the port is not a number" },
};

static void test_endpoints_refused_with_the_reason(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_refused(refused[i].text, refused[i].flags, refused[i].why);
}

static void test_a_host_name_longer_than_dns_allows_is_refused(void **state)
{
	char text[300], host[254];

	(void)state;
	memset(host, 'a', 253);
	host[253] = '\0';
	snprintf(text, sizeof(text), "%s:25", host);
	assert_endpoint(text, 0, host, 25);
	snprintf(text, sizeof(text), "a%s:25", host);
	assert_refused(text, 0, "the host is too long");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback_hosts),
		cmocka_unit_test(test_endpoints_accepted),
		cmocka_unit_test(test_a_bare_port_means_loopback_only_when_allowed),
		cmocka_unit_test(test_endpoints_refused_with_the_reason),
		cmocka_unit_test(test_a_host_name_longer_than_dns_allows_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
