/*
 * netaddr.c - loopback tests and "HOST:PORT" parsing (see netaddr.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "netaddr.h"
#include "xalloc.h"

#define HOST_MAX 253                    /* a DNS name's longest text form */
#define BARE_PORT_HOST "127.0.0.1"

/* netaddr_is_loopback - 127/8, ::1, ::ffff:127.x.y.z or "localhost". */
bool netaddr_is_loopback(const char *host)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &v6) != 1)
		return false;
	return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
}

/* parse_port - TEXT as 1 to 65535, digits only; the reason in *WHY if not. */
static bool parse_port(const char *text, unsigned *port, const char **why)
{
	unsigned long value = 0;

	if (!*text || strspn(text, "0123456789") != strlen(text)) {
		*why = *text ? "the port is not a number" : "no port";
		return false;
	}
	for (const char *p = text; *p && value <= 65535; p++)
		value = value * 10 + (unsigned long)(*p - '0');
	if (value < 1 || value > 65535) {
		*why = "the port is out of range (1 to 65535)";
		return false;
	}
	*port = (unsigned)value;
	return true;
}

/* check_host - is HOST (LEN bytes, brackets removed) acceptable as FLAGS say? */
static bool check_host(const char *host, size_t len, bool bracketed, unsigned flags,
		       const char **why)
{
	char text[HOST_MAX + 1];
	unsigned char addr[sizeof(struct in6_addr)];

	if (len == 0 || len > HOST_MAX) {
		*why = len ? "the host is too long" : "no host";
		return false;
	}
	memcpy(text, host, len);
	text[len] = '\0';
	if (bracketed) {
		*why = "brackets must hold an IPv6 address";
		return inet_pton(AF_INET6, text, addr) == 1;
	}
	if (memchr(text, ':', len)) {
		*why = "an IPv6 address needs brackets";
		return false;
	}
	if (inet_pton(AF_INET, text, addr) == 1)
		return true;
	if (flags & NETADDR_NUMERIC_HOST) {
		*why = "the host is not a numeric address";
		return false;
	}
	*why = "the host is not a name or an address";
	return strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == len;
}

/* netaddr_parse_endpoint - "HOST:PORT", "[V6]:PORT" or (if allowed) "PORT". */
bool netaddr_parse_endpoint(const char *text, unsigned flags, struct endpoint *out,
			    const char **why)
{
	const char *colon = strrchr(text, ':'), *host = text;
	size_t len;
	bool bracketed = text[0] == '[';
	unsigned port;

	if (!colon && (flags & NETADDR_BARE_PORT) && strspn(text, "0123456789") == strlen(text)) {
		if (!parse_port(text, &port, why))
			return false;
		out->host = xstrdup(BARE_PORT_HOST);
		out->port = port;
		return true;
	}
	if (bracketed && !strchr(text, ']')) {
		*why = "no closing bracket";
		return false;
	}
	if (bracketed && colon && colon > strchr(text, ']') && colon[-1] != ']') {
		*why = "expected ':PORT' after the ']'";
		return false;
	}
	if (!colon || (bracketed && colon[-1] != ']')) {
		*why = "no port";
		return false;
	}
	len = (size_t)(colon - text);
	if (bracketed)
		host++, len -= 2;
	if (!check_host(host, len, bracketed, flags, why) || !parse_port(colon + 1, &port, why))
		return false;
	out->host = xstrndup(host, len);
	out->port = port;
	return true;
}
