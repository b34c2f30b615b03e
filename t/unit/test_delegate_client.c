/*
 * test_delegate_client.c - the SMTP client of delegation against a scripted
 * SMTP server running in the test (a thread per connection on loopback, port
 * 0). The server records every command, the exact DATA bytes on the wire and
 * the connections it accepted, and answers from a per-test script: refusals,
 * delays, silence, a dropped connection. No real peer is needed.
 */
#include "test_support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "delegate_client.h"

/*
 * AddressSanitizer keeps freed memory in quarantine (libcurl allocates per
 * upload chunk), so the peak RSS says nothing about streaming there.
 */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_IS_MEANINGFUL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_IS_MEANINGFUL 0
#endif
#endif
#ifndef RSS_IS_MEANINGFUL
#define RSS_IS_MEANINGFUL 1
#endif

#define ID "0123456789abcdef0123456789abcdef"
#define ID_LINE "X-Delegate-Id: " ID "\r\n"
#define MAX_SESSIONS 64

/* Where the scripted server stops answering (it keeps the connection open). */
enum silence {
	TALKS,
	SILENT_AT_BANNER,
	SILENT_AT_MAIL,
	SILENT_AT_DATA,                 /* no 354 */
	SILENT_IN_UPLOAD,               /* 354, then reads nothing more */
	SILENT_AT_EOD,                  /* the whole message read, no final reply */
};

/* How the scripted server answers; NULL replies take the defaults. */
struct script {
	enum silence silent_at;
	bool no_banner;                 /* accept, then close without a word */
	const char *mail_reply;
	const char *refuse_rcpt;        /* RCPT lines containing this get rcpt_reply */
	const char *rcpt_reply;
	const char *eod_reply;          /* after the final dot */
	unsigned eod_delay_ms;
	bool drop_second_mail;          /* close, unanswered, at a session's 2nd MAIL */
	/* A session's second message (a reused connection) gets these instead: */
	const char *mail2_reply;        /* at MAIL FROM; the connection is closed after a 4xx */
	const char *rcpt2_reply;
	const char *eod2_reply;         /* after the final dot; "": close without a reply */
	bool discard_data;              /* count the DATA bytes, do not keep them */
};

struct server {
	struct script script;
	int listen_fd;
	unsigned port;
	pthread_t acceptor;
	pthread_mutex_t lock;           /* guards everything below */
	unsigned connections;
	unsigned messages;
	char commands[8192];            /* command lines, '\n'-terminated; EHLO without argument */
	char *data;                     /* DATA bytes of the last message, final ".\r\n" included */
	size_t data_len;
	size_t sessions;
	int session_fds[MAX_SESSIONS];
	pthread_t session_threads[MAX_SESSIONS];
};

struct session {
	struct server *srv;
	int fd;
	unsigned mails;                 /* MAIL commands seen */
	size_t pos, len;
	char buf[65536];
};

/* sleep_ms - sleep MS milliseconds. */
static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* say - write TEXT to the client; errors are the client's business. */
static void say(struct session *s, const char *text)
{
	size_t len = strlen(text);

	while (len > 0) {
		ssize_t n = send(s->fd, text, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		text += n;
		len -= (size_t) n;
	}
}

/* next_byte - the next byte from the client, or -1 at end of connection. */
static int next_byte(struct session *s)
{
	if (s->pos == s->len) {
		ssize_t n;

		do
			n = recv(s->fd, s->buf, sizeof(s->buf), 0);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			return -1;
		s->pos = 0;
		s->len = (size_t) n;
	}
	return (unsigned char) s->buf[s->pos++];
}

/* read_command - one command line without CRLF; false at end of connection. */
static bool read_command(struct session *s, char *line, size_t cap)
{
	size_t n = 0;
	int c;

	while ((c = next_byte(s)) != '\n') {
		if (c < 0)
			return false;
		if (c != '\r' && n < cap - 1)
			line[n++] = (char) c;
	}
	line[n] = '\0';
	return true;
}

/* read_data - the DATA bytes up to and including the final ".\r\n"; false if cut short. */
static bool read_data(struct session *s)
{
	struct server *srv = s->srv;
	size_t len = 0, cap = 4096;
	char *data = malloc(cap);
	char tail[5] = { 0 };
	int c;

	assert_non_null(data);
	while ((c = next_byte(s)) >= 0) {
		memmove(tail, tail + 1, 4);
		tail[4] = (char) c;
		if (!srv->script.discard_data) {
			if (len == cap)
				assert_non_null(data = realloc(data, cap *= 2));
			data[len] = (char) c;
		}
		len++;
		if (memcmp(tail, "\r\n.\r\n", 5) == 0 || (len == 3 && memcmp(tail + 2, ".\r\n", 3) == 0))
			break;
	}
	pthread_mutex_lock(&srv->lock);
	free(srv->data);
	srv->data = data;
	srv->data_len = len;
	srv->messages += c >= 0;
	pthread_mutex_unlock(&srv->lock);
	return c >= 0;
}

/* record - add command LINE to the server's transcript. */
static void record(struct server *srv, const char *line)
{
	size_t used;

	pthread_mutex_lock(&srv->lock);
	used = strlen(srv->commands);
	snprintf(srv->commands + used, sizeof(srv->commands) - used, "%s\n",
		 strncasecmp(line, "EHLO", 4) == 0 ? "EHLO" : line);
	pthread_mutex_unlock(&srv->lock);
}

/* keep_silent - answer nothing until the client goes away; false (close). */
static bool keep_silent(struct session *s, bool reading)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLRDHUP };

	if (reading) {
		while (next_byte(s) >= 0)
			;
		return false;
	}
	while (poll(&pfd, 1, -1) >= 0 && !(pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
		;
	return false;
}

/* answer_data - DATA: take the message, then answer as the script says. */
static bool answer_data(struct session *s)
{
	const struct script *sc = &s->srv->script;

	if (sc->silent_at == SILENT_AT_DATA)
		return keep_silent(s, true);
	say(s, "354 End data with <CR><LF>.<CR><LF>\r\n");
	if (sc->silent_at == SILENT_IN_UPLOAD)
		return keep_silent(s, false);
	if (!read_data(s))
		return false;
	if (sc->silent_at == SILENT_AT_EOD)
		return keep_silent(s, true);
	sleep_ms(sc->eod_delay_ms);
	if (s->mails == 2 && sc->eod2_reply) {
		say(s, sc->eod2_reply);
		return *sc->eod2_reply != '\0';
	}
	say(s, sc->eod_reply ? sc->eod_reply : "250 2.0.0 Ok: queued as 4711\r\n");
	return true;
}

/* answer - reply to one command LINE; false to close the connection. */
static bool answer(struct session *s, const char *line, unsigned *mails)
{
	const struct script *sc = &s->srv->script;

	if (strncasecmp(line, "EHLO", 4) == 0)
		say(s, "250-test.example\r\n250 8BITMIME\r\n");
	else if (strncasecmp(line, "MAIL", 4) == 0) {
		if (++*mails == 2 && sc->drop_second_mail)
			return false;
		s->mails = *mails;
		if (sc->silent_at == SILENT_AT_MAIL)
			return keep_silent(s, true);
		if (*mails == 2 && sc->mail2_reply) {
			say(s, sc->mail2_reply);
			return sc->mail2_reply[0] != '4';
		}
		say(s, sc->mail_reply ? sc->mail_reply : "250 2.1.0 Ok\r\n");
	} else if (strncasecmp(line, "RCPT", 4) == 0 && *mails == 2 && sc->rcpt2_reply)
		say(s, sc->rcpt2_reply);
	else if (strncasecmp(line, "RCPT", 4) == 0)
		say(s, sc->refuse_rcpt && strstr(line, sc->refuse_rcpt) ? sc->rcpt_reply
		    : "250 2.1.5 Ok\r\n");
	else if (strcasecmp(line, "DATA") == 0)
		return answer_data(s);
	else if (strcasecmp(line, "QUIT") == 0) {
		say(s, "221 2.0.0 Bye\r\n");
		return false;
	} else if (strcasecmp(line, "RSET") == 0 || strcasecmp(line, "NOOP") == 0)
		say(s, "250 2.0.0 Ok\r\n");
	else
		say(s, "502 5.5.2 Error: command not recognized\r\n");
	return true;
}

/* session_run - one connection: banner, then commands until the end. */
static void *session_run(void *arg)
{
	struct session *s = arg;
	char line[1024];
	unsigned mails = 0;

	if (s->srv->script.silent_at == SILENT_AT_BANNER)
		keep_silent(s, true);
	else if (!s->srv->script.no_banner) {
		say(s, "220 test.example ESMTP scripted\r\n");
		while (read_command(s, line, sizeof(line))) {
			record(s->srv, line);
			if (!answer(s, line, &mails))
				break;
		}
	}
	shutdown(s->fd, SHUT_RDWR);
	free(s);
	return NULL;
}

/* accept_run - accept connections until the listening socket is shut down. */
static void *accept_run(void *arg)
{
	struct server *srv = arg;
	int fd;

	while ((fd = accept(srv->listen_fd, NULL, NULL)) >= 0) {
		struct session *s = calloc(1, sizeof(*s));

		assert_non_null(s);
		s->srv = srv;
		s->fd = fd;
		pthread_mutex_lock(&srv->lock);
		assert_true(srv->sessions < MAX_SESSIONS);
		srv->connections++;
		srv->session_fds[srv->sessions] = fd;
		assert_int_equal(pthread_create(&srv->session_threads[srv->sessions++], NULL,
						session_run, s), 0);
		pthread_mutex_unlock(&srv->lock);
	}
	return NULL;
}

/* listen_on - a listening socket on loopback of FAMILY, port 0; -1 if that family is missing. */
static int listen_on(int family, unsigned *port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;

	ss.ss_family = (sa_family_t) family;
	if (family == AF_INET6)
		((struct sockaddr_in6 *) &ss)->sin6_addr = in6addr_loopback;
	else
		((struct sockaddr_in *) &ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *) &ss, len) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *) &ss, &len) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *) &ss)->sin6_port
		      : ((struct sockaddr_in *) &ss)->sin_port);
	return fd;
}

/* server_start_on - a scripted server on loopback of FAMILY; NULL if unavailable. */
static struct server *server_start_on(int family, const struct script *script)
{
	struct server *srv = calloc(1, sizeof(*srv));

	assert_non_null(srv);
	srv->script = *script;
	srv->listen_fd = listen_on(family, &srv->port);
	if (srv->listen_fd < 0) {
		free(srv);
		return NULL;
	}
	assert_int_equal(pthread_mutex_init(&srv->lock, NULL), 0);
	assert_int_equal(pthread_create(&srv->acceptor, NULL, accept_run, srv), 0);
	return srv;
}

/* server_start - a scripted IPv4 server. */
static struct server *server_start(const struct script *script)
{
	struct server *srv = server_start_on(AF_INET, script);

	assert_non_null(srv);
	return srv;
}

/* server_stop - stop accepting, end every session, free SRV. */
static void server_stop(struct server *srv)
{
	shutdown(srv->listen_fd, SHUT_RDWR);    /* wakes accept() */
	pthread_join(srv->acceptor, NULL);
	for (size_t i = 0; i < srv->sessions; i++)
		shutdown(srv->session_fds[i], SHUT_RDWR);
	for (size_t i = 0; i < srv->sessions; i++) {
		pthread_join(srv->session_threads[i], NULL);
		close(srv->session_fds[i]);
	}
	close(srv->listen_fd);
	pthread_mutex_destroy(&srv->lock);
	free(srv->data);
	free(srv);
}

/* client_for - a client of SRV keeping MAX_IDLE connections. */
static struct delegate_client *client_for(const struct server *srv, const char *host,
					  unsigned max_idle)
{
	struct endpoint ep = { (char *) host, srv->port };
	struct delegate_client *dc = delegate_client_new(&ep, max_idle);

	assert_non_null(dc);
	return dc;
}

/* Per-test scratch directory with the message file. */
struct fixture {
	char *dir;
	char path[512];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dir = scratch_dir();
	snprintf(f->path, sizeof(f->path), "%s/msg.eml", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	remove_tree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* write_message - the spooled message F->path holds TEXT. */
static void write_message(struct fixture *f, const char *text)
{
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fclose(fp), 0);
}

static const char *const one_rcpt[] = { "rcpt@example.net" };

/* request_for - a plain request for F's message: one recipient, 10 s. */
static struct delegate_send_request request_for(const struct fixture *f)
{
	return (struct delegate_send_request) {
		.sender = "sender@example.org", .rcpts = one_rcpt, .rcpt_count = 1,
		.path = f->path, .id = ID, .timeout_ms = 10000,
	};
}

/* send_once - send F's message (default request) through a one-off client of SRV. */
static struct delegate_send_result send_once(struct fixture *f, struct server *srv)
{
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 2);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;

	delegate_client_send(dc, &req, &res);
	delegate_client_free(dc);
	return res;
}

/* assert_data - the server got exactly WANT as DATA bytes. */
static void assert_data(const struct server *srv, const char *want)
{
	assert_non_null(srv->data);
	assert_int_equal(srv->data_len, strlen(want));
	assert_memory_equal(srv->data, want, srv->data_len);
}

static void test_data_is_id_line_then_the_message_unchanged(void **state)
{
	static const char msg[] =
		"From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\n"
		"Message-ID: <1@example.org>\r\n\r\nHello.\r\n\r\nBye.\r\n";
	struct fixture *f = *state;
	struct script sc = { 0 };
	struct server *srv = server_start(&sc);
	struct delegate_send_result res;

	write_message(f, msg);
	res = send_once(f, srv);
	assert_int_equal(res.status, SEND_ACCEPTED);
	assert_int_equal(res.code, 250);
	assert_string_equal(res.reply, "250 2.0.0 Ok: queued as 4711");
	assert_string_equal(res.error, "");
	assert_string_equal(res.step, "end of data");
	assert_data(srv, ID_LINE "From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\n"
		    "Message-ID: <1@example.org>\r\n\r\nHello.\r\n\r\nBye.\r\n.\r\n");
	server_stop(srv);
}

static void test_planted_id_fields_are_left_out_with_their_continuations(void **state)
{
	struct fixture *f = *state;
	struct script sc = { 0 };
	struct server *srv = server_start(&sc);

	write_message(f, "x-delegate-id: planted\r\n\tfolded part\r\n  second fold\r\n"
		      "Subject: kept\r\n\tkept fold\r\nX-DELEGATE-ID : obsolete syntax\r\n"
		      "X-Delegate-Identity: kept too\r\nX-Delegate-Id:\r\n"
		      "\r\nX-Delegate-Id: in the body, kept\r\n");
	assert_int_equal(send_once(f, srv).status, SEND_ACCEPTED);
	assert_data(srv, ID_LINE "Subject: kept\r\n\tkept fold\r\nX-Delegate-Identity: kept too\r\n"
		    "\r\nX-Delegate-Id: in the body, kept\r\n.\r\n");
	server_stop(srv);
}

static void test_without_an_id_the_message_is_relayed_unchanged(void **state)
{
	static const char msg[] =
		"X-Delegate-Id: from the client\r\nSubject: relayed\r\n\r\nbody\r\n";
	struct fixture *f = *state;
	struct script sc = { 0 };
	struct server *srv = server_start(&sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 1);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;

	write_message(f, msg);
	req.id = NULL;
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_ACCEPTED);
	assert_data(srv, "X-Delegate-Id: from the client\r\nSubject: relayed\r\n\r\nbody\r\n.\r\n");
	delegate_client_free(dc);
	server_stop(srv);
}

static void test_body_lines_starting_with_a_dot_are_stuffed_on_the_wire(void **state)
{
	struct fixture *f = *state;
	struct script sc = { 0 };
	struct server *srv = server_start(&sc);

	write_message(f, "Subject: dots\r\n\r\n.hidden\r\n.\r\n..two\r\nend.\r\n.");
	assert_int_equal(send_once(f, srv).status, SEND_ACCEPTED);
	assert_data(srv, ID_LINE "Subject: dots\r\n\r\n..hidden\r\n..\r\n...two\r\nend.\r\n..\r\n.\r\n");
	server_stop(srv);
}

static void test_bare_cr_and_bare_lf_are_sent_as_crlf(void **state)
{
	struct fixture *f = *state;
	struct script sc = { 0 };
	struct server *srv = server_start(&sc);

	/* What an MTA let through must reach the filter, and come back, CRLF-clean. */
	write_message(f, "Subject: bare\r\n\r\nline\nnext\rlast\r\r\n.\nend\r");
	assert_int_equal(send_once(f, srv).status, SEND_ACCEPTED);
	assert_data(srv, ID_LINE "Subject: bare\r\n\r\nline\r\nnext\r\nlast\r\n\r\n..\r\nend\r\n.\r\n");
	server_stop(srv);
}

/* reference_crlf - the rule, one byte at a time: every bare CR or LF becomes CRLF. */
static size_t reference_crlf(const char *src, size_t n, char *dst)
{
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		if (src[i] == '\r' && i + 1 < n && src[i + 1] == '\n')
			continue;               /* its LF writes the CRLF */
		if (src[i] == '\r' || src[i] == '\n') {
			dst[out++] = '\r';
			dst[out++] = '\n';
		} else {
			dst[out++] = src[i];
		}
	}
	return out;
}

static void test_line_ends_of_a_large_mixed_body_are_made_crlf_across_buffers(void **state)
{
	enum { BODY = 100000 };
	static const char alphabet[] = "ab\r\n\r\nxy";
	struct fixture *f = *state;
	struct script sc = { 0 };
	struct server *srv = server_start(&sc);
	char *msg = malloc(BODY + 32), *want = malloc(2 * BODY + 64);
	size_t len = (size_t)sprintf(msg, "Subject: mixed\r\n\r\n"), head = len, n;
	unsigned seed = 12345;

	assert_non_null(msg);
	assert_non_null(want);
	for (size_t i = 0; i < BODY; i++) {     /* runs of CR, LF and text, no dots */
		seed = seed * 1103515245u + 12345u;
		msg[len++] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
	}
	msg[len++] = 'z';
	msg[len] = '\0';
	memcpy(want, msg, head);
	n = head + reference_crlf(msg + head, len - head, want + head);
	memcpy(want + n, "\r\n.\r\n", 6);    /* libcurl ends a last line that has no CRLF */
	want[n + 5] = '\0';
	write_message(f, msg);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 1);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;

	req.id = NULL;
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_ACCEPTED);
	assert_data(srv, want);
	delegate_client_free(dc);
	server_stop(srv);
	free(msg);
	free(want);
}

static void test_headers_only_message_is_sent_whole(void **state)
{
	struct fixture *f = *state;
	struct script sc = { 0 };
	struct server *srv = server_start(&sc);

	write_message(f, "Subject: no body\r\nX-Delegate-Id: planted");
	assert_int_equal(send_once(f, srv).status, SEND_ACCEPTED);
	assert_data(srv, ID_LINE "Subject: no body\r\n.\r\n");
	server_stop(srv);
}

static void test_null_sender_and_every_recipient_are_in_the_envelope(void **state)
{
	static const char *const rcpts[] = { "a@example.net", "b@example.net", "c@example.com" };
	struct fixture *f = *state;
	struct script sc = { 0 };
	struct server *srv = server_start(&sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 1);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;

	write_message(f, "Subject: bounce\r\n\r\nbody\r\n");
	req.sender = "";
	req.rcpts = rcpts;
	req.rcpt_count = 3;
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_ACCEPTED);
	assert_string_equal(srv->commands, "EHLO\nMAIL FROM:<>\nRCPT TO:<a@example.net>\n"
			    "RCPT TO:<b@example.net>\nRCPT TO:<c@example.com>\nDATA\n");
	delegate_client_free(dc);
	server_stop(srv);
}

static void test_refused_recipient_refuses_the_whole_send(void **state)
{
	static const char *const rcpts[] = { "a@example.net", "nobody@example.net", "c@example.net" };
	struct fixture *f = *state;
	struct script sc = { .refuse_rcpt = "nobody", .rcpt_reply =
				     "550 5.1.1 <nobody@example.net>: Recipient address rejected\r\n" };
	struct server *srv = server_start(&sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 1);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;

	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	req.rcpts = rcpts;
	req.rcpt_count = 3;
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_REFUSED);
	assert_int_equal(res.code, 550);
	assert_string_equal(res.reply, "550 5.1.1 <nobody@example.net>: Recipient address rejected");
	assert_string_equal(res.step, "RCPT TO");
	assert_string_equal(res.error, "refused at RCPT TO");
	assert_null(strstr(srv->commands, "DATA"));
	assert_int_equal(srv->messages, 0);
	delegate_client_free(dc);
	server_stop(srv);
}

static void test_by_default_the_send_ends_at_the_first_refused_recipient(void **state)
{
	static const char *const rcpts[] = { "nobody@example.net", "b@example.net" };
	struct fixture *f = *state;
	struct script sc = { .refuse_rcpt = "nobody", .rcpt_reply = "550 5.1.1 No such user\r\n" };
	struct server *srv = server_start(&sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 1);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;

	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	req.rcpts = rcpts;
	req.rcpt_count = 2;
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_REFUSED);
	assert_null(strstr(srv->commands, "b@example.net"));
	assert_int_equal(res.rcpt_accepted, 0);
	assert_int_equal(res.rcpt_rejected, 1);
	delegate_client_free(dc);
	server_stop(srv);
}

static void test_asking_every_recipient_stops_a_mix_before_data(void **state)
{
	static const char *const rcpts[] = { "a@example.net", "nobody@example.net", "c@example.net" };
	struct fixture *f = *state;
	struct script sc = { .refuse_rcpt = "nobody", .rcpt_reply =
				     "550 5.1.1 <nobody@example.net>: Recipient address rejected\r\n" };
	struct server *srv = server_start(&sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 1);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;

	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	req.rcpts = rcpts;
	req.rcpt_count = 3;
	req.ask_every_rcpt = true;
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_REFUSED);
	assert_int_equal(res.code, 550);
	assert_string_equal(res.reply, "550 5.1.1 <nobody@example.net>: Recipient address rejected");
	assert_string_equal(res.step, "RCPT TO");
	assert_string_equal(res.error, "refused 1 of 3 recipients at RCPT TO");
	assert_int_equal(res.rcpt_accepted, 2);
	assert_int_equal(res.rcpt_rejected, 1);
	assert_int_equal(res.rcpt_deferred, 0);
	assert_non_null(strstr(srv->commands, "RCPT TO:<c@example.net>"));
	assert_null(strstr(srv->commands, "DATA"));
	assert_int_equal(srv->messages, 0);
	assert_true(res.elapsed_ms < 2000);
	delegate_client_free(dc);
	server_stop(srv);
}

static void test_asking_every_recipient_counts_them_all_when_all_are_refused(void **state)
{
	static const char *const rcpts[] = { "a@example.net", "b@example.net" };
	struct fixture *f = *state;
	struct script sc = { .refuse_rcpt = "@", .rcpt_reply = "554 5.7.1 Relay access denied\r\n" };
	struct server *srv = server_start(&sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 1);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;

	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	req.rcpts = rcpts;
	req.rcpt_count = 2;
	req.ask_every_rcpt = true;
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_REFUSED);
	assert_int_equal(res.code, 554);
	assert_string_equal(res.reply, "554 5.7.1 Relay access denied");
	assert_string_equal(res.step, "RCPT TO");
	assert_string_equal(res.error, "refused 2 of 2 recipients at RCPT TO");
	assert_int_equal(res.rcpt_accepted, 0);
	assert_int_equal(res.rcpt_rejected, 2);
	assert_null(strstr(srv->commands, "DATA"));
	delegate_client_free(dc);
	server_stop(srv);
}

static void test_asking_every_recipient_sends_when_all_are_accepted(void **state)
{
	static const char *const rcpts[] = { "a@example.net", "b@example.net" };
	struct fixture *f = *state;
	struct script sc = { 0 };
	struct server *srv = server_start(&sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 1);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;

	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	req.rcpts = rcpts;
	req.rcpt_count = 2;
	req.ask_every_rcpt = true;
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_ACCEPTED);
	assert_int_equal(res.rcpt_accepted, 2);
	assert_int_equal(srv->messages, 1);
	delegate_client_free(dc);
	server_stop(srv);
}

static void test_refused_sender_refuses_the_send(void **state)
{
	struct fixture *f = *state;
	struct script sc = { .mail_reply = "421 4.3.2 Service shutting down\r\n" };
	struct server *srv = server_start(&sc);
	struct delegate_send_result res;

	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	res = send_once(f, srv);
	assert_int_equal(res.status, SEND_REFUSED);
	assert_int_equal(res.code, 421);
	assert_string_equal(res.reply, "421 4.3.2 Service shutting down");
	assert_string_equal(res.error, "refused at MAIL FROM");
	server_stop(srv);
}

static void test_451_after_the_data_is_a_refusal_with_code_and_text(void **state)
{
	struct fixture *f = *state;
	struct script sc = { .eod_reply = "451 Local Error\r\n" };
	struct server *srv = server_start(&sc);
	struct delegate_send_result res;

	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	res = send_once(f, srv);
	assert_int_equal(res.status, SEND_REFUSED);
	assert_int_equal(res.code, 451);
	assert_string_equal(res.reply, "451 Local Error");
	assert_string_equal(res.error, "refused at end of data");
	server_stop(srv);
}

static void test_discarded_by_the_delegator_is_still_accepted(void **state)
{
	struct fixture *f = *state;
	struct script sc = { .eod_reply = "250 Virus Detected; Discarded Email\r\n" };
	struct server *srv = server_start(&sc);
	struct delegate_send_result res;

	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	res = send_once(f, srv);
	assert_int_equal(res.status, SEND_ACCEPTED);
	assert_string_equal(res.reply, "250 Virus Detected; Discarded Email");
	server_stop(srv);
}

static void test_server_closing_without_banner_fails(void **state)
{
	struct fixture *f = *state;
	struct script sc = { .no_banner = true };
	struct server *srv = server_start(&sc);
	struct delegate_send_result res;

	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	res = send_once(f, srv);
	assert_int_equal(res.status, SEND_FAILED);
	assert_int_equal(res.code, 0);
	assert_string_equal(res.reply, "");
	assert_string_equal(res.step, "connect");
	assert_non_null(strstr(res.error, "failed at connect: "));
	assert_int_equal(srv->connections, 1);
	server_stop(srv);
}

static void test_nothing_listening_fails_before_the_timeout(void **state)
{
	struct fixture *f = *state;
	unsigned port;
	int fd = listen_on(AF_INET, &port);
	struct endpoint ep = { "127.0.0.1", port };
	struct delegate_client *dc;
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;

	assert_true(fd >= 0);
	close(fd);                      /* the port is now (very likely) closed */
	dc = delegate_client_new(&ep, 1);
	assert_non_null(dc);
	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	req.timeout_ms = 30000;
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_FAILED);
	assert_true(res.elapsed_ms < req.timeout_ms);
	assert_non_null(strstr(res.error, "failed at connect: Couldn't connect"));
	delegate_client_free(dc);
}

/* write_big_message - a message larger than the socket buffers can hold. */
static void write_big_message(struct fixture *f, int lines)
{
	FILE *fp = fopen(f->path, "w");
	static const char line[] = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n";

	assert_non_null(fp);
	assert_true(fputs("Subject: big\r\n\r\n", fp) >= 0);
	for (int i = 0; i < lines; i++)
		assert_true(fputs(line, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

static void test_silent_server_times_out_in_time_at_every_step(void **state)
{
	static const struct {
		enum silence step;
		int code;               /* last reply before the silence */
		const char *error;
	} steps[] = {
		{ SILENT_AT_BANNER, 0, "timed out at connect" },
		{ SILENT_AT_MAIL, 250, "timed out at MAIL FROM" },
		{ SILENT_AT_DATA, 250, "timed out at DATA" },
		{ SILENT_IN_UPLOAD, 354, "timed out at message" },
		{ SILENT_AT_EOD, 354, "timed out at end of data" },
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct script sc = { .silent_at = steps[i].step };
		struct server *srv = server_start(&sc);
		struct delegate_client *dc = client_for(srv, "127.0.0.1", 1);
		struct delegate_send_request req = request_for(f);
		struct delegate_send_result res;

		if (steps[i].step == SILENT_IN_UPLOAD)
			write_big_message(f, 200000);   /* 12.8 MB */
		else
			write_message(f, "Subject: x\r\n\r\nbody\r\n");
		req.timeout_ms = 1500;
		delegate_client_send(dc, &req, &res);
		assert_int_equal(res.status, SEND_TIMEOUT);
		assert_int_equal(res.code, steps[i].code);
		assert_string_equal(res.error, steps[i].error);
		assert_true(res.elapsed_ms >= 1400);
		assert_true(res.elapsed_ms < 1500 + 3000);      /* generous: only "it did stop" */
		delegate_client_free(dc);
		server_stop(srv);
	}
}

static void test_consecutive_sends_reuse_one_connection(void **state)
{
	struct fixture *f = *state;
	struct script sc = { 0 };
	struct server *srv = server_start(&sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 2);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;

	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_ACCEPTED);
	assert_false(res.reused);
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_ACCEPTED);
	assert_true(res.reused);
	assert_int_equal(srv->connections, 1);
	assert_int_equal(srv->messages, 2);
	delegate_client_free(dc);
	server_stop(srv);
}

static void test_connection_dead_while_idle_is_retried_on_a_new_one(void **state)
{
	struct fixture *f = *state;
	struct script sc = { .drop_second_mail = true };
	struct server *srv = server_start(&sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 2);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;

	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_ACCEPTED);
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_ACCEPTED);
	assert_false(res.reused);
	assert_int_equal(srv->connections, 2);
	assert_int_equal(srv->messages, 2);
	delegate_client_free(dc);
	server_stop(srv);
}

/* send_twice - two sends of F's message through a fresh client of a server with SC; the second's result. */
static struct server *send_twice(struct fixture *f, const struct script *sc,
				 struct delegate_send_result *second)
{
	struct server *srv = server_start(sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 2);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result first;

	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	delegate_client_send(dc, &req, &first);
	assert_int_equal(first.status, SEND_ACCEPTED);
	delegate_client_send(dc, &req, second);
	delegate_client_free(dc);
	return srv;
}

static void test_421_at_mail_on_a_reused_connection_is_retried_on_a_new_one(void **state)
{
	/* clamsmtpd relaying the receiver's idle timeout on a stale pair. */
	struct script sc = { .mail2_reply = "421 4.4.2 Error: timeout exceeded\r\n" };
	struct delegate_send_result res;
	struct server *srv = send_twice(*state, &sc, &res);

	assert_int_equal(res.status, SEND_ACCEPTED);
	assert_false(res.reused);
	assert_true(res.retried);
	assert_int_equal(srv->connections, 2);
	assert_int_equal(srv->messages, 2);
	server_stop(srv);
}

static void test_4xx_at_rcpt_on_a_reused_connection_is_retried_once(void **state)
{
	struct script sc = { .rcpt2_reply = "451 4.3.0 next hop gone\r\n" };
	struct delegate_send_result res;
	struct server *srv = send_twice(*state, &sc, &res);

	assert_int_equal(res.status, SEND_ACCEPTED);
	assert_int_equal(srv->connections, 2);
	server_stop(srv);
}

static void test_5xx_on_a_reused_connection_is_a_refusal_not_retried(void **state)
{
	struct script sc = { .mail2_reply = "550 5.7.1 sender refused\r\n" };
	struct delegate_send_result res;
	struct server *srv = send_twice(*state, &sc, &res);

	assert_int_equal(res.status, SEND_REFUSED);
	assert_int_equal(res.code, 550);
	assert_true(res.reused);
	assert_false(res.retried);
	assert_int_equal(srv->connections, 1);
	server_stop(srv);
}

static void test_4xx_after_the_data_is_never_retried(void **state)
{
	struct script sc = { .eod2_reply = "451 4.3.0 try later\r\n" };
	struct delegate_send_result res;
	struct server *srv = send_twice(*state, &sc, &res);

	assert_int_equal(res.status, SEND_REFUSED);
	assert_string_equal(res.step, "end of data");
	assert_int_equal(srv->connections, 1);
	assert_int_equal(srv->messages, 2);     /* the delegator saw it once, not twice */
	server_stop(srv);
}

static void test_drop_after_the_data_is_never_retried(void **state)
{
	/* The delegator may have taken the message: a second copy must not go. */
	struct script sc = { .eod2_reply = "" };
	struct delegate_send_result res;
	struct server *srv = send_twice(*state, &sc, &res);

	assert_int_equal(res.status, SEND_FAILED);
	assert_string_equal(res.step, "end of data");
	assert_int_equal(srv->connections, 1);
	assert_int_equal(srv->messages, 2);
	server_stop(srv);
}

static void test_connection_idle_past_the_limit_is_not_reused(void **state)
{
	struct fixture *f = *state;
	struct script sc = { 0 };
	struct server *srv = server_start(&sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 2);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;

	delegate_client_set_idle_limit(dc, 1);
	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_ACCEPTED);
	sleep_ms(2100);                 /* libcurl counts whole seconds: past 1 s plus one */
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_ACCEPTED);
	assert_false(res.reused);
	assert_int_equal(srv->connections, 2);
	delegate_client_free(dc);
	server_stop(srv);
}

static void test_connection_idle_past_the_limit_is_closed_with_quit(void **state)
{
	struct fixture *f = *state;
	struct script sc = { 0 };
	struct server *srv = server_start(&sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 2);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;

	delegate_client_set_idle_limit(dc, 1);
	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_ACCEPTED);
	assert_int_equal(delegate_client_close_idle(dc), 0);    /* not idle long enough yet */
	assert_null(strstr(srv->commands, "QUIT"));
	sleep_ms(1100);
	assert_int_equal(delegate_client_close_idle(dc), 1);
	assert_non_null(strstr(srv->commands, "QUIT"));
	assert_int_equal(delegate_client_close_idle(dc), 0);    /* nothing left to close */
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_ACCEPTED);
	assert_false(res.reused);
	assert_int_equal(srv->connections, 2);
	delegate_client_free(dc);
	server_stop(srv);
}

static void test_head_then_the_rest_of_a_stream_survives_a_retry(void **state)
{
	static char kept[] = "Subject: old\r\nX-Drop: me\r\n\r\nbody line\r\n.dot\r\n";
	static const char head[] = "Received: by shim\r\nSubject: new\r\n\r\n";
	struct script sc = { .drop_second_mail = true };
	struct server *srv = server_start(&sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 2);
	FILE *in = fmemopen(kept, strlen(kept), "r");
	struct delegate_send_request req = {
		.sender = "sender@example.org", .rcpts = one_rcpt, .rcpt_count = 1,
		.stream = in, .head = head, .head_len = strlen(head), .timeout_ms = 10000,
	};
	struct delegate_send_result res;

	(void)state;
	assert_non_null(in);
	for (int i = 0; i < 2; i++) {   /* the second goes over a connection that died idle */
		assert_int_equal(fseek(in, (long)strlen("Subject: old\r\nX-Drop: me\r\n\r\n"),
				       SEEK_SET), 0);
		delegate_client_send(dc, &req, &res);
		assert_int_equal(res.status, SEND_ACCEPTED);
		assert_data(srv, "Received: by shim\r\nSubject: new\r\n\r\nbody line\r\n..dot\r\n"
			    ".\r\n");
	}
	assert_int_equal(srv->connections, 2);
	fclose(in);
	delegate_client_free(dc);
	server_stop(srv);
}

static void test_a_request_names_one_source_and_a_head_only_without_an_id(void **state)
{
	struct fixture *f = *state;
	struct script sc = { 0 };
	struct server *srv = server_start(&sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 1);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;

	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	req.stream = stdin;
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_FAILED);
	assert_string_equal(res.step, "local");
	req.stream = NULL;
	req.head = "X: y\r\n\r\n";
	req.head_len = strlen(req.head);
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_FAILED);
	assert_int_equal(srv->connections, 0);
	delegate_client_free(dc);
	server_stop(srv);
}

static void test_connection_of_a_refused_send_is_not_reused(void **state)
{
	struct fixture *f = *state;
	struct script sc = { .eod_reply = "554 5.7.1 no\r\n" };
	struct server *srv = server_start(&sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 2);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;

	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_REFUSED);
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_REFUSED);
	assert_false(res.reused);
	assert_int_equal(srv->connections, 2);
	delegate_client_free(dc);
	server_stop(srv);
}

struct sender_arg {
	struct delegate_client *dc;
	const struct fixture *f;
	int accepted;
};

/* send_five - thread body: five sends through the shared client. */
static void *send_five(void *arg)
{
	struct sender_arg *a = arg;
	struct delegate_send_request req = request_for(a->f);
	struct delegate_send_result res;

	for (int i = 0; i < 5; i++) {
		delegate_client_send(a->dc, &req, &res);
		a->accepted += res.status == SEND_ACCEPTED;
	}
	return NULL;
}

static void test_eight_threads_sending_at_once_all_succeed(void **state)
{
	struct fixture *f = *state;
	struct script sc = { 0 };
	struct server *srv = server_start(&sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 4);
	struct sender_arg args[8];
	pthread_t threads[8];

	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	for (int i = 0; i < 8; i++) {
		args[i] = (struct sender_arg) { dc, f, 0 };
		assert_int_equal(pthread_create(&threads[i], NULL, send_five, &args[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		assert_int_equal(args[i].accepted, 5);
	}
	assert_int_equal(srv->messages, 40);
	assert_true(srv->connections <= 40);
	delegate_client_free(dc);
	server_stop(srv);
}

/* count_progress - progress callback: count the calls. */
static void count_progress(void *arg)
{
	atomic_fetch_add((atomic_int *) arg, 1);
}

static void test_progress_is_reported_while_the_server_is_slow(void **state)
{
	struct fixture *f = *state;
	struct script sc = { .eod_delay_ms = 2500 };
	struct server *srv = server_start(&sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 1);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;
	atomic_int calls = 0;

	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	req.progress = count_progress;
	req.progress_arg = &calls;
	req.progress_interval_ms = 200;
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_ACCEPTED);
	assert_true(atomic_load(&calls) >= 1);
	delegate_client_free(dc);
	server_stop(srv);
}

/* raise_later - thread body: raise the flag after 300 ms. */
static void *raise_later(void *arg)
{
	sleep_ms(300);
	atomic_store((atomic_bool *) arg, true);
	return NULL;
}

static void test_cancel_flag_stops_a_waiting_send(void **state)
{
	struct fixture *f = *state;
	struct script sc = { .silent_at = SILENT_AT_EOD };
	struct server *srv = server_start(&sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 1);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;
	atomic_bool cancel = false;
	pthread_t raiser;

	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	req.timeout_ms = 60000;
	req.cancel = &cancel;
	assert_int_equal(pthread_create(&raiser, NULL, raise_later, &cancel), 0);
	delegate_client_send(dc, &req, &res);
	assert_int_equal(pthread_join(raiser, NULL), 0);
	assert_int_equal(res.status, SEND_CANCELLED);
	assert_string_equal(res.error, "cancelled at end of data");
	assert_true(res.elapsed_ms < 30000);
	delegate_client_free(dc);
	server_stop(srv);
}

static void test_missing_message_file_fails_without_connecting(void **state)
{
	struct fixture *f = *state;
	struct script sc = { 0 };
	struct server *srv = server_start(&sc);
	struct delegate_send_result res = send_once(f, srv);    /* nothing written */

	assert_int_equal(res.status, SEND_FAILED);
	assert_string_equal(res.step, "local");
	assert_non_null(strstr(res.error, "open "));
	assert_int_equal(srv->connections, 0);
	server_stop(srv);
}

static void test_addresses_that_would_inject_smtp_are_refused_locally(void **state)
{
	static const char *const bad_rcpt[] = { "a@example.net>\r\nRSET" };
	struct fixture *f = *state;
	struct script sc = { 0 };
	struct server *srv = server_start(&sc);
	struct delegate_client *dc = client_for(srv, "127.0.0.1", 1);
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;

	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	req.sender = "a@b\r\nRCPT TO:<x@y>";
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_FAILED);
	assert_string_equal(res.error, "bad sender address");
	req = request_for(f);
	req.rcpts = bad_rcpt;
	delegate_client_send(dc, &req, &res);
	assert_string_equal(res.error, "bad recipient address #1");
	req = request_for(f);
	req.id = "abc\r\nBcc: x";
	delegate_client_send(dc, &req, &res);
	assert_string_equal(res.error, "bad correlation id");
	req = request_for(f);
	req.rcpt_count = 0;
	delegate_client_send(dc, &req, &res);
	assert_string_equal(res.error, "no recipients");
	assert_int_equal(srv->connections, 0);
	delegate_client_free(dc);
	server_stop(srv);
}

static void test_ipv6_delegator_address_is_bracketed(void **state)
{
	struct fixture *f = *state;
	struct script sc = { 0 };
	struct server *srv = server_start_on(AF_INET6, &sc);
	struct delegate_client *dc;
	struct delegate_send_request req = request_for(f);
	struct delegate_send_result res;

	if (srv == NULL)
		skip();                 /* no IPv6 loopback here */
	dc = client_for(srv, "::1", 1);
	write_message(f, "Subject: x\r\n\r\nbody\r\n");
	delegate_client_send(dc, &req, &res);
	assert_int_equal(res.status, SEND_ACCEPTED);
	delegate_client_free(dc);
	server_stop(srv);
}

/* max_rss_kb - the peak resident set of this process so far. */
static long max_rss_kb(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

static void test_large_message_is_streamed_not_loaded(void **state)
{
	enum { LINES = 400000 };        /* 25.6 MB of body */
	struct fixture *f = *state;
	struct script sc = { .discard_data = true };
	struct server *srv;
	long before;
	struct delegate_send_result res;

	write_big_message(f, LINES);
	srv = server_start(&sc);
	before = max_rss_kb();
	res = send_once(f, srv);
	assert_int_equal(res.status, SEND_ACCEPTED);
	assert_int_equal(srv->data_len, strlen(ID_LINE "Subject: big\r\n\r\n") + (size_t) LINES * 64 + 3);
	if (!RSS_IS_MEANINGFUL)
		return;
	assert_true(max_rss_kb() - before < 12 * 1024);  /* far below the 25 MB message */
	server_stop(srv);
}

static void test_status_names_are_words_for_the_log(void **state)
{
	(void) state;
	assert_string_equal(delegate_send_status_name(SEND_ACCEPTED), "accepted");
	assert_string_equal(delegate_send_status_name(SEND_REFUSED), "refused");
	assert_string_equal(delegate_send_status_name(SEND_FAILED), "failed");
	assert_string_equal(delegate_send_status_name(SEND_TIMEOUT), "timeout");
	assert_string_equal(delegate_send_status_name(SEND_CANCELLED), "cancelled");
	assert_string_equal(delegate_send_status_name((enum delegate_send_status) 99), "unknown");
}

static int group_setup(void **state)
{
	(void) state;
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void) state;
	curl_global_cleanup();
	return 0;
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_data_is_id_line_then_the_message_unchanged),
		T(test_planted_id_fields_are_left_out_with_their_continuations),
		T(test_without_an_id_the_message_is_relayed_unchanged),
		T(test_body_lines_starting_with_a_dot_are_stuffed_on_the_wire),
		T(test_bare_cr_and_bare_lf_are_sent_as_crlf),
		T(test_line_ends_of_a_large_mixed_body_are_made_crlf_across_buffers),
		T(test_headers_only_message_is_sent_whole),
		T(test_null_sender_and_every_recipient_are_in_the_envelope),
		T(test_refused_recipient_refuses_the_whole_send),
		T(test_by_default_the_send_ends_at_the_first_refused_recipient),
		T(test_asking_every_recipient_stops_a_mix_before_data),
		T(test_asking_every_recipient_counts_them_all_when_all_are_refused),
		T(test_asking_every_recipient_sends_when_all_are_accepted),
		T(test_refused_sender_refuses_the_send),
		T(test_451_after_the_data_is_a_refusal_with_code_and_text),
		T(test_discarded_by_the_delegator_is_still_accepted),
		T(test_server_closing_without_banner_fails),
		T(test_nothing_listening_fails_before_the_timeout),
		T(test_silent_server_times_out_in_time_at_every_step),
		T(test_consecutive_sends_reuse_one_connection),
		T(test_connection_dead_while_idle_is_retried_on_a_new_one),
		T(test_421_at_mail_on_a_reused_connection_is_retried_on_a_new_one),
		T(test_4xx_at_rcpt_on_a_reused_connection_is_retried_once),
		T(test_5xx_on_a_reused_connection_is_a_refusal_not_retried),
		T(test_4xx_after_the_data_is_never_retried),
		T(test_drop_after_the_data_is_never_retried),
		T(test_connection_idle_past_the_limit_is_not_reused),
		T(test_connection_idle_past_the_limit_is_closed_with_quit),
		T(test_head_then_the_rest_of_a_stream_survives_a_retry),
		T(test_a_request_names_one_source_and_a_head_only_without_an_id),
		T(test_connection_of_a_refused_send_is_not_reused),
		T(test_eight_threads_sending_at_once_all_succeed),
		T(test_progress_is_reported_while_the_server_is_slow),
		T(test_cancel_flag_stops_a_waiting_send),
		T(test_missing_message_file_fails_without_connecting),
		T(test_addresses_that_would_inject_smtp_are_refused_locally),
		T(test_ipv6_delegator_address_is_bracketed),
		T(test_large_message_is_streamed_not_loaded),
		T(test_status_names_are_words_for_the_log),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
