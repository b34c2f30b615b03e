/*
 * smtp-load.c - SMTP load generator that times every message.
 *
 * SYNOPSIS
 *	smtp-load [-d] [-s SESSIONS] [-m MESSAGES] [-l BYTES] [-f FROM] [-t TO]
 *		  [-o LATFILE] [-T SECONDS] HOST:PORT
 *
 * DESCRIPTION
 *	The same load as Postfix's smtp-source (SESSIONS parallel sessions
 *	sending MESSAGES messages of about BYTES bytes in all, one recipient
 *	each, no PIPELINING), plus what smtp-source does not give: the time
 *	each message took. A message's latency runs from the moment its
 *	session starts it (connect(), or MAIL FROM when the connection is
 *	reused with -d) until the server's reply to the final dot: what a
 *	sending MTA waits for, and the time during which a milter or content
 *	filter holds the message. QUIT is not timed.
 *
 *	Each message carries "X-Bench-Seq: N" and "X-Bench-Sent: EPOCH" (the
 *	wall clock when it was started, with nanoseconds), so that the time of
 *	delivery at a sink can be compared with it.
 *
 *	The sockets use TCP_NODELAY and the whole DATA text (headers, body,
 *	final dot) goes out in one writev(), so that this client never adds a
 *	Nagle / delayed-ACK stall of its own to the figures.
 *
 *	-d reuses each session's connection (like smtp-source -d); without
 *	it every message gets a new connection (connect, banner, EHLO, ...,
 *	QUIT), like smtp-source without -d.
 *
 * OUTPUT
 *	LATFILE (-o) gets one line per message: "SEQ START LATENCY CODE",
 *	START in seconds since the epoch, LATENCY in seconds, CODE the reply
 *	to the final dot (0 when the session failed before it). stdout gets
 *	one summary line: "sent=N ok=N failed=N wall=SECONDS".
 *
 * DIAGNOSTICS
 *	The first few failures are printed on stderr with the server's reply.
 *	Exit status 0 when every message got a 2xx reply, 1 otherwise, 2 on
 *	usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

struct load_config {
	struct sockaddr_in addr;
	int sessions;
	long messages;
	long size;
	int reuse;
	int timeout_s;
	const char *from;
	const char *to;
};

struct sample {
	double start;                   /* wall clock, seconds */
	double latency;                 /* seconds */
	int code;                       /* reply to the final dot, 0: none */
};

struct session {
	int fd;
	char buf[8192];
	size_t have;                    /* bytes in buf */
	char last[512];                 /* last reply line, for diagnostics */
};

static struct load_config cfg = { .sessions = 10, .messages = 100, .size = 4096,
				  .timeout_s = 300, .from = "bench@example.com",
				  .to = "rcpt@example.net" };
static const char *body;                /* shared body text, ends with ".\r\n" */
static size_t body_len;
static struct sample *samples;
static atomic_long next_seq;
static atomic_long n_ok, n_failed;
static atomic_int n_reported;

/* now_wall - the wall clock in seconds. */
static double now_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* now_mono - a monotonic clock in seconds. */
static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* build_body - CRLF lines of text, SIZE bytes or a little more, then ".\r\n". */
static void build_body(long size)
{
	static const char line[] =
		"abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 lorem ipsum\r\n";
	size_t n = sizeof(line) - 1, lines = (size_t)(size > 0 ? size : 1) / n + 1;
	char *b = malloc(lines * n + 4), *p = b;

	if (!b) {
		perror("malloc");
		exit(1);
	}
	for (size_t i = 0; i < lines; i++, p += n)
		memcpy(p, line, n);
	memcpy(p, ".\r\n", 3);
	body = b;
	body_len = lines * n + 3;
}

/* read_reply - read one (possibly multi-line) SMTP reply; its code or -1. */
static int read_reply(struct session *s)
{
	for (;;) {
		char *eol = memchr(s->buf, '\n', s->have);

		if (eol) {
			size_t len = (size_t)(eol - s->buf) + 1;
			int last = len >= 4 && s->buf[3] != '-';
			int code = atoi(s->buf);

			snprintf(s->last, sizeof(s->last), "%.*s", (int)(len > 2 ? len - 2 : 0), s->buf);
			memmove(s->buf, eol + 1, s->have - len);
			s->have -= len;
			if (last)
				return code >= 200 && code < 600 ? code : -1;
			continue;
		}
		if (s->have == sizeof(s->buf))
			s->have = 0;    /* an absurdly long line: drop it */
		ssize_t r = read(s->fd, s->buf + s->have, sizeof(s->buf) - s->have);

		if (r <= 0) {
			snprintf(s->last, sizeof(s->last), "%s", r == 0 ? "connection closed"
									 : strerror(errno));
			return -1;
		}
		s->have += (size_t)r;
	}
}

/* write_all - write the iovecs completely; false on error. */
static int write_all(int fd, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		ssize_t w = writev(fd, iov, cnt);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		while (cnt > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 1;
}

/* command - send a command line and read the reply; its code or -1. */
static int command(struct session *s, const char *fmt, const char *arg)
{
	char line[600];
	int n = snprintf(line, sizeof(line), fmt, arg);
	struct iovec iov = { line, (size_t)n };

	if (!write_all(s->fd, &iov, 1))
		return -1;
	return read_reply(s);
}

/* session_open - connect, read the banner, EHLO; false on failure. */
static int session_open(struct session *s)
{
	struct timeval tv = { cfg.timeout_s, 0 };
	int one = 1;

	s->have = 0;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return 0;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(s->fd, (struct sockaddr *)&cfg.addr, sizeof(cfg.addr)) != 0) {
		snprintf(s->last, sizeof(s->last), "connect: %s", strerror(errno));
		return 0;
	}
	return read_reply(s) == 220 && command(s, "EHLO %s\r\n", "bench.invalid") == 250;
}

/* session_close - QUIT (when asked) and close. */
static void session_close(struct session *s, int quit)
{
	if (s->fd < 0)
		return;
	if (quit)
		command(s, "QUIT\r\n", "");
	close(s->fd);
	s->fd = -1;
}

/* send_message - one transaction on an open session; the final reply or -1. */
static int send_message(struct session *s, long seq, double start)
{
	char head[1024];
	int code;

	if ((code = command(s, "MAIL FROM:<%s>\r\n", cfg.from)) != 250)
		return code;
	if ((code = command(s, "RCPT TO:<%s>\r\n", cfg.to)) != 250)
		return code;
	if ((code = command(s, "DATA\r\n", "")) != 354)
		return code;
	int n = snprintf(head, sizeof(head),
			 "From: <%s>\r\nTo: <%s>\r\nSubject: bench message %ld\r\n"
			 "Message-ID: <%ld.%ld@bench.invalid>\r\nX-Bench-Seq: %ld\r\n"
			 "X-Bench-Sent: %.6f\r\n\r\n",
			 cfg.from, cfg.to, seq, seq, (long)getpid(), seq, start);
	struct iovec iov[2] = { { head, (size_t)n }, { (void *)body, body_len } };

	if (!write_all(s->fd, iov, 2))
		return -1;
	return read_reply(s);
}

/* report - print a failure on stderr (the first ten only). */
static void report(long seq, int code, const struct session *s)
{
	if (atomic_fetch_add(&n_reported, 1) < 10)
		fprintf(stderr, "smtp-load: message %ld: %s (%d)\n", seq, s->last, code);
}

/* worker - one session: take message numbers until none is left. */
static void *worker(void *unused)
{
	struct session s = { .fd = -1 };
	long seq;

	(void)unused;
	while ((seq = atomic_fetch_add(&next_seq, 1)) < cfg.messages) {
		double start = now_wall(), t0 = now_mono();
		int code = -1;

		if (s.fd >= 0 || session_open(&s))
			code = send_message(&s, seq, start);
		samples[seq] = (struct sample){ start, now_mono() - t0, code > 0 ? code : 0 };
		if (code >= 200 && code < 300) {
			atomic_fetch_add(&n_ok, 1);
		} else {
			atomic_fetch_add(&n_failed, 1);
			report(seq, code, &s);
		}
		if (code < 0) {
			session_close(&s, 0);
		} else if (!cfg.reuse) {
			session_close(&s, 1);
		} else if (code >= 300 && command(&s, "RSET\r\n", "") != 250) {
			session_close(&s, 0);
		}
	}
	session_close(&s, 1);
	return NULL;
}

/* parse_target - HOST:PORT into cfg.addr; false if malformed. */
static int parse_target(const char *target)
{
	char host[64];
	const char *colon = strrchr(target, ':');

	if (!colon || (size_t)(colon - target) >= sizeof(host))
		return 0;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - target), target);
	cfg.addr.sin_family = AF_INET;
	cfg.addr.sin_port = htons((unsigned short)atoi(colon + 1));
	return inet_pton(AF_INET, host, &cfg.addr.sin_addr) == 1;
}

/* write_samples - the per-message lines to PATH. */
static void write_samples(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		return;
	}
	for (long i = 0; i < cfg.messages; i++)
		fprintf(f, "%ld %.6f %.6f %d\n", i, samples[i].start, samples[i].latency,
			samples[i].code);
	fclose(f);
}

static void usage(void)
{
	fprintf(stderr, "usage: smtp-load [-d] [-s sessions] [-m messages] [-l bytes] "
			"[-f from] [-t to] [-o latfile] [-T seconds] host:port\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *latfile = NULL;
	pthread_t *threads;
	double t0;
	int c;

	while ((c = getopt(argc, argv, "ds:m:l:f:t:o:T:")) != -1) {
		switch (c) {
		case 'd': cfg.reuse = 1; break;
		case 's': cfg.sessions = atoi(optarg); break;
		case 'm': cfg.messages = atol(optarg); break;
		case 'l': cfg.size = atol(optarg); break;
		case 'f': cfg.from = optarg; break;
		case 't': cfg.to = optarg; break;
		case 'o': latfile = optarg; break;
		case 'T': cfg.timeout_s = atoi(optarg); break;
		default: usage();
		}
	}
	if (optind + 1 != argc || !parse_target(argv[optind]) || cfg.sessions < 1 ||
	    cfg.messages < 1 || cfg.timeout_s < 1)
		usage();
	if (cfg.sessions > cfg.messages)
		cfg.sessions = (int)cfg.messages;
	build_body(cfg.size);
	samples = calloc((size_t)cfg.messages, sizeof(*samples));
	threads = calloc((size_t)cfg.sessions, sizeof(*threads));
	if (!samples || !threads)
		return 1;
	t0 = now_mono();
	for (int i = 0; i < cfg.sessions; i++)
		if (pthread_create(&threads[i], NULL, worker, NULL) != 0) {
			perror("pthread_create");
			return 1;
		}
	for (int i = 0; i < cfg.sessions; i++)
		pthread_join(threads[i], NULL);
	printf("sent=%ld ok=%ld failed=%ld wall=%.3f\n", cfg.messages, atomic_load(&n_ok),
	       atomic_load(&n_failed), now_mono() - t0);
	if (latfile)
		write_samples(latfile);
	return atomic_load(&n_failed) == 0 ? 0 : 1;
}
