/*
 * clamd_client.c - one clamd scan: connect, pass the file (INSTREAM or
 * FILDES), read and classify the reply. See clamd_client.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clamd_client.h"
#include "correlation.h"        /* corr_now_ms */
#include "sock_connect.h"

#define CHUNK 65536             /* INSTREAM chunk; clamd's default StreamMaxLength is 25 MB */
#define DEFAULT_TIMEOUT_MS 60000
#define DEFAULT_PROGRESS_MS 2000
#define MAX_CONNECT_MS 10000    /* connecting never takes longer (no progress ticks meanwhile) */

/* One scan in progress. */
struct scan {
	int fd;
	uint64_t deadline;
	uint64_t next_tick;
	const struct clamd_scan_request *req;
	struct clamd_result *out;
};

/* How a send ended. */
enum sent { SENT_OK, SENT_EARLY, SENT_FAILED };

/* fail - OUT becomes VERDICT with the reason FMT. */
__attribute__((format(printf, 3, 4)))
static void fail(struct clamd_result *out, enum clamd_verdict verdict, const char *fmt, ...)
{
	va_list ap;

	out->verdict = verdict;
	va_start(ap, fmt);
	vsnprintf(out->error, sizeof(out->error), fmt, ap);
	va_end(ap);
}

/* wait_fd - poll S's socket for EVENTS until ready (true) or the deadline (false, TIMEOUT set). */
static bool wait_fd(struct scan *s, short events, short *revents, const char *what)
{
	struct pollfd p = { .fd = s->fd, .events = events };

	for (;;) {
		uint64_t now = corr_now_ms();
		uint64_t until = s->next_tick < s->deadline ? s->next_tick : s->deadline;
		int rc;

		if (now >= s->deadline) {
			fail(s->out, CLAMD_TIMEOUT, "timed out %s", what);
			return false;
		}
		if (now >= s->next_tick) {
			s->next_tick = now + (s->req->progress_interval_ms ? s->req->progress_interval_ms
							     : DEFAULT_PROGRESS_MS);
			if (s->req->progress)
				s->req->progress(s->req->progress_arg);
			continue;
		}
		rc = poll(&p, 1, (int)(until - now));
		if (rc > 0) {
			*revents = p.revents;
			return true;
		}
		if (rc < 0 && errno != EINTR) {
			fail(s->out, CLAMD_FAILED, "poll: %s", strerror(errno));
			return false;
		}
	}
}

/* connect_to - S's socket connected to TO, within the deadline (at most MAX_CONNECT_MS). */
static bool connect_to(struct scan *s, const struct clamd_target *to)
{
	uint64_t cap = corr_now_ms() + MAX_CONNECT_MS;
	bool timed_out;

	s->fd = sock_connect(to->socket_path, to->tcp, cap < s->deadline ? cap : s->deadline,
			     s->out->error, sizeof(s->out->error), &timed_out);
	s->out->verdict = timed_out ? CLAMD_TIMEOUT : CLAMD_FAILED;
	return s->fd >= 0;
}

/* readable_now - has clamd already said something (an early error) or closed? */
static bool readable_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/* send_all - LEN bytes of BUF to clamd; SENT_EARLY when clamd answered or closed first. */
static enum sent send_all(struct scan *s, const void *buf, size_t len)
{
	const char *p = buf;
	short rev;

	while (len > 0) {
		ssize_t n = send(s->fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			return SENT_EARLY;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			fail(s->out, CLAMD_FAILED, "send: %s", strerror(errno));
			return SENT_FAILED;
		} else if (n < 0 && errno == EAGAIN) {
			if (!wait_fd(s, POLLOUT | POLLIN, &rev, "sending the message"))
				return SENT_FAILED;
			if (rev & (POLLIN | POLLHUP | POLLERR))
				return SENT_EARLY;
		}
	}
	return SENT_OK;
}

/* send_instream - "zINSTREAM\0", FILE in length-prefixed chunks, the zero length. */
static enum sent send_instream(struct scan *s, int file)
{
	char chunk[4 + CHUNK];
	enum sent r = send_all(s, "zINSTREAM", 10);
	ssize_t n;

	while (r == SENT_OK && (n = read(file, chunk + 4, CHUNK)) > 0) {
		uint32_t be = htonl((uint32_t)n);

		memcpy(chunk, &be, 4);
		r = send_all(s, chunk, 4 + (size_t)n);
		if (r == SENT_OK && readable_now(s->fd))
			return SENT_EARLY;      /* clamd has answered (size limit) */
	}
	if (r != SENT_OK)
		return r;
	if (n < 0) {
		fail(s->out, CLAMD_FAILED, "read the message: %s", strerror(errno));
		return SENT_FAILED;
	}
	return send_all(s, "\0\0\0\0", 4);
}

/* send_fildes - "zFILDES\0", then one byte carrying FILE (SCM_RIGHTS). */
static enum sent send_fildes(struct scan *s, int file)
{
	char dummy = 0;
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
	struct iovec iov = { .iov_base = &dummy, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	enum sent r = send_all(s, "zFILDES", 8);

	if (r != SENT_OK)
		return r;
	memset(&ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &file, sizeof(int));
	if (sendmsg(s->fd, &msg, MSG_NOSIGNAL) == 1)
		return SENT_OK;
	if (errno == EPIPE || errno == ECONNRESET)
		return SENT_EARLY;
	fail(s->out, CLAMD_FAILED, "sendmsg (FILDES): %s", strerror(errno));
	return SENT_FAILED;
}

/* read_reply - clamd's answer up to its NUL (or close), then classified. */
static void read_reply(struct scan *s)
{
	char buf[CLAMD_REPLY_MAX];
	size_t len = 0;
	short rev;

	while (len < sizeof(buf) && !memchr(buf, '\0', len)) {
		ssize_t n = recv(s->fd, buf + len, sizeof(buf) - len, 0);

		if (n > 0)
			len += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			break;
		else if (!wait_fd(s, POLLIN, &rev, "waiting for the reply"))
			return;
	}
	clamd_parse_reply(buf, len, s->out);
}

/* scan_file - connect, send FILE the chosen way, read the reply. */
static void scan_file(struct scan *s, const struct clamd_target *to, int file)
{
	bool fildes = to->socket_path && to->stream != CLAMD_STREAM_INSTREAM;
	enum sent r;

	s->out->mode = fildes ? "FILDES" : "INSTREAM";
	if (!connect_to(s, to))
		return;
	r = fildes ? send_fildes(s, file) : send_instream(s, file);
	if (r != SENT_FAILED)
		read_reply(s);
	if (r == SENT_EARLY && s->out->verdict == CLAMD_CLEAN)
		fail(s->out, CLAMD_FAILED, "clamd answered \"%s\" before the whole message was sent",
		     s->out->reply);
}

/* clamd_scan - scan REQ's message with the clamd at TO. */
void clamd_scan(const struct clamd_target *to, const struct clamd_scan_request *req,
		struct clamd_result *out)
{
	uint64_t start = corr_now_ms();
	unsigned timeout = req->timeout_ms ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
	struct scan s = { .fd = -1, .deadline = start + timeout, .req = req, .out = out,
			  .next_tick = start + (req->progress_interval_ms ? req->progress_interval_ms
								 : DEFAULT_PROGRESS_MS) };

	*out = (struct clamd_result){ .verdict = CLAMD_FAILED, .mode = "INSTREAM" };
	if (req->fd < 0)
		fail(out, CLAMD_FAILED, "no message to scan (descriptor %d)", req->fd);
	else if (lseek(req->fd, 0, SEEK_SET) != 0)
		fail(out, CLAMD_FAILED, "rewind the message: %s", strerror(errno));
	else
		scan_file(&s, to, req->fd);
	if (s.fd >= 0)
		close(s.fd);
	out->elapsed_ms = (unsigned long)(corr_now_ms() - start);
}

/* ends_with - does S (LEN bytes) end with SUFFIX? */
static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* clamd_parse_reply - "stream: OK", "fd[3]: NAME FOUND", "... ERROR", anything else. */
void clamd_parse_reply(const char *text, size_t len, struct clamd_result *out)
{
	char *r = out->reply, *rest;
	size_t n = 0;

	for (; n < len && n < CLAMD_REPLY_MAX - 1 && text[n] != '\0'; n++)
		r[n] = text[n] >= 0x20 && text[n] < 0x7f ? text[n] : (text[n] == '\n' ? '\0' : '?');
	r[n] = '\0';
	n = strlen(r);                  /* a line end stops it too */
	out->signature[0] = '\0';
	out->error[0] = '\0';
	if (n == 0) {
		fail(out, CLAMD_FAILED, "no reply (connection closed)");
	} else if (ends_with(r, n, " ERROR")) {
		fail(out, CLAMD_FAILED, "clamd: %s", r);
	} else if (!(rest = strstr(r, ": "))) {
		fail(out, CLAMD_FAILED, "unexpected reply \"%s\"", r);
	} else if (strcmp(rest + 2, "OK") == 0) {
		out->verdict = CLAMD_CLEAN;
	} else if (ends_with(rest, strlen(rest), " FOUND") && strlen(rest) > 2 + 6 &&
		   rest[2] != ' ') {
		size_t name_len = strlen(rest) - 2 - 6;

		out->verdict = CLAMD_INFECTED;
		snprintf(out->signature, sizeof(out->signature), "%.*s", (int)name_len, rest + 2);
	} else {
		fail(out, CLAMD_FAILED, "unexpected reply \"%s\"", r);
	}
}

/* clamd_verdict_name - for logs. */
const char *clamd_verdict_name(enum clamd_verdict v)
{
	static const char *const names[] = { "clean", "infected", "failed", "timeout" };

	return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}
