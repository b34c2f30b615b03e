/*
 * smtp_client.h - a raw SMTP client for unit tests: connect to a loopback
 * port, send bytes exactly as given (pipelined, broken, partial), and read
 * whole replies (every line of a multi-line reply). Header-only, so that
 * each test stays one file. Every call fails the test on an I/O error.
 */
#ifndef MD_TEST_SMTP_CLIENT_H
#define MD_TEST_SMTP_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLIENT_TIMEOUT_MS 10000

struct smtp_test_client {
	int fd;
	char buf[65536];
	size_t len;
};

/* client_connect - connect C to 127.0.0.1:PORT. */
static inline void client_connect(struct smtp_test_client *c, unsigned port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->len = 0;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c->fd >= 0);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

/* loopback_listening - does something accept connections on 127.0.0.1:PORT? */
static inline bool loopback_listening(unsigned port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool up;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	up = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return up;
}

/* client_send - send TEXT (N bytes; N 0 means strlen) as it is. */
static inline void client_send_n(struct smtp_test_client *c, const char *text, size_t n)
{
	while (n > 0) {
		ssize_t w = send(c->fd, text, n, MSG_NOSIGNAL);

		assert_true(w > 0);
		text += w;
		n -= (size_t)w;
	}
}

static inline void client_send(struct smtp_test_client *c, const char *text)
{
	client_send_n(c, text, strlen(text));
}

/* client_fill - read more bytes; false on EOF or timeout. */
static inline bool client_fill(struct smtp_test_client *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	ssize_t n;

	if (c->len + 1 >= sizeof(c->buf) || poll(&p, 1, CLIENT_TIMEOUT_MS) != 1)
		return false;
	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1, 0);
	if (n <= 0)
		return false;
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	return true;
}

/*
 * client_reply - the next whole reply (all its lines, CRLF kept) in OUT, or
 * "" when the server closed the connection first.
 */
static inline void client_reply(struct smtp_test_client *c, char *out, size_t outlen)
{
	size_t start = 0;       /* of the line being looked at */

	out[0] = '\0';
	for (;;) {
		char *nl = c->len > start ? memchr(c->buf + start, '\n', c->len - start) : NULL;
		const char *line = c->buf + start;

		if (!nl) {
			if (!client_fill(c))
				return;
			continue;
		}
		start = (size_t)(nl - c->buf) + 1;
		if (!(nl - line >= 4 && line[3] == '-'))
			break;          /* "250 ..." ends the reply, "250-..." goes on */
	}
	assert_true(start < outlen);
	memcpy(out, c->buf, start);
	out[start] = '\0';
	memmove(c->buf, c->buf + start, c->len - start);
	c->len -= start;
}

/* client_expect - the next reply starts with WANT (e.g. "250 2.1.0"). */
#define client_expect(c, want) do { \
		char got_[8192]; \
		client_reply((c), got_, sizeof(got_)); \
		if (strncmp(got_, (want), strlen(want)) != 0) \
			fail_msg("expected reply \"%s\", got \"%s\"", (want), got_); \
	} while (0)

/* client_closed - the server closed the connection (nothing more to read). */
static inline bool client_closed(struct smtp_test_client *c)
{
	return c->len == 0 && !client_fill(c);
}

/* client_close - close the connection. */
static inline void client_close(struct smtp_test_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

#endif
