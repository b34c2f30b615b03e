/*
 * http_gate.c - the metrics listener's front door: accept, peek at the
 * request line, answer one without a space with 400, hand the rest over.
 * See http_gate.h. State: the connections whose first line is not in yet
 * (PENDING), owned by the gate's one thread.
 */
#include <errno.h>
#include <fcntl.h>           /* O_CLOEXEC */
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http_gate.h"
#include "xalloc.h"

#define PEEK_MAX 1024           /* a line longer than this goes over as it is (414) */
#define RECHECK_MS 50           /* a line that came in part: look again after this */

static const char bad_request[] =
	"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
	"Content-Length: 25\r\nConnection: close\r\n\r\nnot an HTTP request line\n";

struct pending {
	int fd;                         /* -1: done with */
	struct sockaddr_storage addr;
	socklen_t len;
	uint64_t deadline_ms, next_ms;
};

struct http_gate {
	int listen_fd;
	int wake[2];                    /* a byte on wake[1] stops the thread */
	unsigned max_pending;
	uint64_t timeout_ms;
	http_gate_pass_fn pass;
	void *arg;
	struct pending *pending;
	size_t count;
	pthread_t thread;
};

enum judgement { KEEP, PASS, REFUSE, DROP };

/* now_ms - the monotonic clock. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* http_gate_line_ok - a method, a space and a target (the version may follow): libmicrohttpd answers that. */
bool http_gate_line_ok(const char *line, size_t len)
{
	const char *sp = len > 0 && line[0] != ' ' ? memchr(line, ' ', len) : NULL;

	while (sp && sp < line + len && *sp == ' ')
		sp++;
	return sp && sp < line + len;
}

/* is_tchar - may CH be in a method (RFC 9110 token)? */
static bool is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* method_bad - does the method at P (N bytes up to its first space, or all) hold a byte no method may? */
static bool method_bad(const char *p, size_t n)
{
	for (size_t i = 0; i < n && p[i] != ' '; i++)
		if (!is_tchar((unsigned char)p[i]) && p[i] != '\r' && p[i] != '\n')
			return true;
	return false;
}

/* judge - what to do with the connection FD, from what has come of its first line. */
static enum judgement judge(int fd)
{
	char buf[PEEK_MAX];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	size_t start = 0, len;
	const char *nl;

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return KEEP;
	if (n <= 0)
		return DROP;                    /* closed, or an error */
	while (start < (size_t)n && (buf[start] == '\r' || buf[start] == '\n'))
		start++;                        /* empty lines before the request line */
	if (method_bad(buf + start, (size_t)n - start))
		return REFUSE;          /* not HTTP at all (a TLS hello, binary): no need to wait */
	nl = memchr(buf + start, '\n', (size_t)n - start);
	if (!nl)
		return (size_t)n == sizeof(buf) ? PASS : KEEP;
	len = (size_t)(nl - buf) - start;
	if (len > 0 && buf[start + len - 1] == '\r')
		len--;
	return http_gate_line_ok(buf + start, len) ? PASS : REFUSE;
}

/* refuse - read what the client sent (so that closing sends no reset), answer 400, close. */
static void refuse(int fd)
{
	char drain[4096];

	while (recv(fd, drain, sizeof(drain), MSG_DONTWAIT) > 0)
		;
	(void)!send(fd, bad_request, sizeof(bad_request) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	shutdown(fd, SHUT_WR);
	close(fd);
}

/* settle - act on judgement J for pending connection P at NOW. */
static void settle(struct http_gate *g, struct pending *p, enum judgement j, uint64_t now)
{
	switch (j) {
	case KEEP:
		p->next_ms = now + RECHECK_MS;
		return;
	case PASS:
		g->pass(g->arg, p->fd, (const struct sockaddr *)&p->addr, p->len);
		break;
	case REFUSE:
		refuse(p->fd);
		break;
	case DROP:
		close(p->fd);
		break;
	}
	p->fd = -1;
}

/* accept_one - a new connection into PENDING. */
static void accept_one(struct http_gate *g, uint64_t now)
{
	struct pending *p = &g->pending[g->count];

	p->len = sizeof(p->addr);
	p->fd = accept4(g->listen_fd, (struct sockaddr *)&p->addr, &p->len, SOCK_CLOEXEC);
	if (p->fd < 0)
		return;
	p->deadline_ms = now + g->timeout_ms;
	p->next_ms = now;
	g->count++;
}

/* sweep - close the connections whose time ran out, then drop the finished ones from PENDING. */
static void sweep(struct http_gate *g, uint64_t now)
{
	size_t kept = 0;

	for (size_t i = 0; i < g->count; i++) {
		struct pending *p = &g->pending[i];

		if (p->fd >= 0 && now >= p->deadline_ms) {
			close(p->fd);
			p->fd = -1;
		}
		if (p->fd >= 0)
			g->pending[kept++] = *p;
	}
	g->count = kept;
}

/* wait_events - poll the wake pipe, the listener (while there is room) and the connections due. */
static int wait_events(struct http_gate *g, struct pollfd *fds, size_t *slot, uint64_t now)
{
	int timeout = 1000;
	size_t nf = 2;

	fds[0] = (struct pollfd){ .fd = g->wake[0], .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = g->count < g->max_pending ? g->listen_fd : -1, .events = POLLIN };
	for (size_t i = 0; i < g->count; i++) {
		const struct pending *p = &g->pending[i];
		uint64_t due = p->next_ms < p->deadline_ms ? p->next_ms : p->deadline_ms;

		if (p->next_ms <= now) {
			slot[nf - 2] = i;
			fds[nf++] = (struct pollfd){ .fd = p->fd, .events = POLLIN };
		} else if (due - now < (uint64_t)timeout) {
			timeout = (int)(due - now);
		}
	}
	return poll(fds, nf, timeout) < 0 ? -1 : (int)nf;
}

/* gate_run - the thread: until a byte on the wake pipe. */
static void *gate_run(void *arg)
{
	struct http_gate *g = arg;
	struct pollfd *fds = xcalloc(g->max_pending + 2, sizeof(*fds));
	size_t *slot = xcalloc(g->max_pending, sizeof(*slot));

	for (;;) {
		int nf = wait_events(g, fds, slot, now_ms());
		uint64_t now = now_ms();

		if (nf < 0 && errno != EINTR)
			break;
		if (nf < 0)
			continue;
		if (fds[0].revents)
			break;
		for (int i = 2; i < nf; i++)
			if (fds[i].revents)
				settle(g, &g->pending[slot[i - 2]], judge(fds[i].fd), now);
		sweep(g, now);
		if (fds[1].revents & POLLIN)
			accept_one(g, now);
	}
	free(fds);
	free(slot);
	return NULL;
}

/* http_gate_start - the gate on LISTEN_FD, in its thread. */
struct http_gate *http_gate_start(int listen_fd, unsigned max_pending, unsigned timeout_s,
				  http_gate_pass_fn pass, void *arg)
{
	struct http_gate *g = xcalloc(1, sizeof(*g));

	g->listen_fd = listen_fd;
	g->max_pending = max_pending ? max_pending : 1;
	g->timeout_ms = (uint64_t)timeout_s * 1000;
	g->pass = pass;
	g->arg = arg;
	g->pending = xcalloc(g->max_pending, sizeof(*g->pending));
	if (pipe2(g->wake, O_CLOEXEC) != 0) {
		free(g->pending);
		free(g);
		return NULL;
	}
	if (pthread_create(&g->thread, NULL, gate_run, g) != 0) {
		close(g->wake[0]);
		close(g->wake[1]);
		free(g->pending);
		free(g);
		return NULL;
	}
	return g;
}

/* http_gate_stop - wake the thread, join it, close what it still holds. */
void http_gate_stop(struct http_gate *g)
{
	if (!g)
		return;
	(void)!write(g->wake[1], "x", 1);
	pthread_join(g->thread, NULL);
	for (size_t i = 0; i < g->count; i++)
		close(g->pending[i].fd);
	close(g->wake[0]);
	close(g->wake[1]);
	free(g->pending);
	free(g);
}
