/*
 * netaddr.h - the one reader of network addresses as configuration writes
 * them: whether a host is loopback, and "HOST:PORT" endpoints. The policy
 * loader (services' delegator and receiver), the receiver's loopback check
 * and the shim's configuration (listen, next hop) all use these, so one
 * address is never read two ways.
 *
 * Endpoints. netaddr_parse_endpoint accepts
 *	"HOST:PORT"     HOST an IPv4 address ("127.0.0.1") or a host name
 *	                (letters, digits, '.', '-', '_'; at most 253 bytes)
 *	"[V6]:PORT"     an IPv6 address, which needs the brackets ("[::1]:25")
 *	"PORT"          with NETADDR_BARE_PORT only: 127.0.0.1:PORT
 * PORT is decimal digits only, 1 to 65535. With NETADDR_NUMERIC_HOST the
 * host must be an IPv4 or IPv6 address (inet_pton), not a name. The host is
 * stored without brackets.
 *
 * Ownership: a parsed endpoint's host is malloc'ed and the caller's to
 * free; nothing is written to OUT on failure. Out of memory aborts
 * (xalloc.h). Every function is pure otherwise and thread-safe.
 */
#ifndef MD_NETADDR_H
#define MD_NETADDR_H

#include <stdbool.h>

/* A host and port as written in the configuration ("127.0.0.1:10026", "[::1]:25"). */
struct endpoint {
	char *host;                     /* no brackets; owned by whoever filled it */
	unsigned port;
};

enum netaddr_flags {
	NETADDR_NUMERIC_HOST = 1 << 0,  /* the host must be an address, not a name */
	NETADDR_BARE_PORT    = 1 << 1,  /* "PORT" alone means 127.0.0.1:PORT */
};

/*
 * netaddr_is_loopback - is HOST a loopback host: an address in 127.0.0.0/8,
 * ::1, an IPv4-mapped ::ffff:127.x.y.z, or the name "localhost" (any case)?
 * HOST is written without brackets.
 */
bool netaddr_is_loopback(const char *host);

/*
 * netaddr_parse_endpoint - TEXT (see above) into OUT, FLAGS as enum
 * netaddr_flags. False when it is malformed, with a short reason ("no
 * port", "the port is out of range (1 to 65535)") in *WHY (static text).
 */
bool netaddr_parse_endpoint(const char *text, unsigned flags, struct endpoint *out,
			    const char **why);

#endif
