/*
 * smtp_server.c - the SMTP server's sockets and threads: bind and listen,
 * accept connections (one detached thread per session, a clean 421 beyond
 * max_sessions), buffered line input with timeouts, reply output, and a
 * stop that interrupts every session and waits for its thread.
 *
 * The dialogue itself is in smtp_dialogue.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "smtp_server_int.h"
#include "xalloc.h"

#define SESSION_STACK (1024 * 1024)

/* smtp_reply_set - fill R with CODE and a printf-style text. */
void smtp_reply_set(struct smtp_reply *r, int code, const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

/* wait_fd - poll FD for EVENTS up to TIMEOUT_MS; 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, unsigned timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	do
		n = poll(&p, 1, timeout_ms > 0x7fffffffu ? -1 : (int)timeout_ms);
	while (n < 0 && errno == EINTR);
	return n;
}

/* smtp_flush - write the queued replies; false when the client is gone. */
bool smtp_flush(struct smtp_session *s)
{
	size_t done = 0;
	bool ok = true;

	while (ok && done < s->out_len) {
		ssize_t n = send(s->fd, s->out + done, s->out_len - done, MSG_NOSIGNAL);

		if (n > 0)
			done += (size_t)n;
		else            /* EAGAIN: SO_SNDTIMEO passed, the client reads nothing */
			ok = n < 0 && errno == EINTR;
	}
	s->out_len = 0;         /* what could not be sent is lost with the client */
	return ok;
}

/* smtp_reply - queue one reply line "CODE TEXT" (CODE-TEXT when MORE). */
void smtp_reply(struct smtp_session *s, int code, bool more, const char *text)
{
	char line[SMTP_REPLY_MAX + 16];
	int n = snprintf(line, sizeof(line), "%03d%c%s", code, more ? '-' : ' ', text);

	if (n < 0)
		abort();
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	for (int i = 4; i < n; i++)     /* a reply is one line, whatever a handler wrote */
		if (line[i] == '\r' || line[i] == '\n')
			line[i] = ' ';
	memcpy(line + n, "\r\n", 2);
	n += 2;
	if (s->out_len + (size_t)n > sizeof(s->out))
		smtp_flush(s);
	memcpy(s->out + s->out_len, line, (size_t)n);
	s->out_len += (size_t)n;
}

/* fill - read more input into the buffer (which has room). */
static enum smtp_read fill(struct smtp_session *s, unsigned timeout_ms)
{
	ssize_t n;
	int ready;

	if (!smtp_flush(s))
		return SMTP_IO_ERROR;
	ready = wait_fd(s->fd, POLLIN, timeout_ms);
	if (ready == 0)
		return SMTP_TIMEOUT;
	if (ready < 0)
		return SMTP_IO_ERROR;
	do
		n = recv(s->fd, s->in + s->in_len, sizeof(s->in) - s->in_len, 0);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return SMTP_EOF;
	if (n < 0)
		return errno == ECONNRESET ? SMTP_EOF : SMTP_IO_ERROR;
	s->in_len += (size_t)n;
	/* Acknowledge at once: a client with Nagle on (clamsmtpd writes the
	 * final dot on its own) would otherwise wait ~40 ms for our delayed
	 * ACK before sending it. The kernel leaves quick-ACK mode by itself,
	 * so it is set again after every read. */
	(void)setsockopt(s->fd, IPPROTO_TCP, TCP_QUICKACK, &(int){ 1 }, sizeof(int));
	return SMTP_LINE;
}

/* note_bare_cr - does TEXT hold a CR that is not part of a line end? */
static bool note_bare_cr(const char *text, size_t len)
{
	return memchr(text, '\r', len) != NULL;
}

/*
 * smtp_read_line - the next line (see smtp_server_int.h). Lines are split
 * at LF; s->line_crlf says whether a CR came before it (a real line end)
 * and s->line_bare_cr whether the text holds a CR of its own. What a bare
 * LF or CR means is the dialogue's business, never this reader's.
 */
enum smtp_read smtp_read_line(struct smtp_session *s, unsigned timeout_ms,
			      char **line, size_t *len)
{
	for (;;) {
		char *start = s->in + s->in_pos;
		size_t avail = s->in_len - s->in_pos;
		char *nl = memchr(start, '\n', avail);
		enum smtp_read r;

		if (nl) {
			size_t n = (size_t)(nl - start);

			s->in_pos += n + 1;
			s->line_crlf = n > 0 && start[n - 1] == '\r';
			*line = start;
			*len = s->line_crlf ? n - 1 : n;
			s->line_bare_cr = note_bare_cr(start, *len);
			return SMTP_LINE;
		}
		if (avail == sizeof(s->in)) {
			/* Keep a trailing CR: it may be half of the line end. */
			size_t n = start[avail - 1] == '\r' ? avail - 1 : avail;

			s->in_pos += n;
			*line = start;
			*len = n;
			s->line_crlf = false;
			s->line_bare_cr = note_bare_cr(start, n);
			return SMTP_PARTIAL;
		}
		if (s->in_pos > 0) {
			memmove(s->in, start, avail);
			s->in_pos = 0;
			s->in_len = avail;
		}
		if ((r = fill(s, timeout_ms)) != SMTP_LINE)
			return r;
	}
}

/* unlink_session - take S off the server's list; lock held. */
static void unlink_session(struct smtp_server *srv, struct smtp_session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
}

/* session_thread - one session from banner to close. */
static void *session_thread(void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_server *srv = s->server;

	smtp_dialogue(s);
	smtp_flush(s);
	pthread_mutex_lock(&srv->lock);
	unlink_session(srv, s);
	close(s->fd);
	srv->session_count--;
	pthread_cond_broadcast(&srv->ended);
	pthread_mutex_unlock(&srv->lock);
	free(s);
	return NULL;
}

/* peer_of - the numeric address and port of the client on FD. */
static void peer_of(int fd, struct smtp_peer *peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char port[16];

	snprintf(peer->addr, sizeof(peer->addr), "unknown");
	peer->port = 0;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, len, peer->addr, sizeof(peer->addr), port,
			sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		peer->port = (unsigned)strtoul(port, NULL, 10);
	if (strncmp(peer->addr, "::ffff:", 7) == 0)    /* v4-mapped: show it as IPv4 */
		memmove(peer->addr, peer->addr + 7, strlen(peer->addr + 7) + 1);
}

/* refuse_busy - tell a client beyond max_sessions to come back later. */
static void refuse_busy(struct smtp_server *srv, int fd)
{
	char line[SMTP_REPLY_MAX];
	int n = snprintf(line, sizeof(line), "421 4.3.2 %s Too many connections, try again later\r\n",
			 srv->hostname);

	if (n > 0 && send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_msg(LOG_DEBUG, "smtp: cannot send 421 to a refused client: %s", strerror(errno));
	close(fd);
}

/* set_send_timeout - a client that stops reading cannot block a reply forever. */
static void set_send_timeout(int fd, unsigned timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		log_msg(LOG_WARNING, "smtp: cannot set a send timeout: %s", strerror(errno));
}

/* start_session - a thread for the connection on FD; lock held. */
static void start_session(struct smtp_server *srv, int fd)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));
	pthread_attr_t attr;
	pthread_t tid;

	s->server = srv;
	s->fd = fd;
	peer_of(fd, &s->peer);
	set_send_timeout(fd, srv->cfg.command_timeout_ms);
	if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, SESSION_STACK) != 0 ||
	    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0) {
		log_msg(LOG_ERR, "smtp_server: cannot set up a session thread's attributes");
		abort();
	}
	s->next = srv->sessions;
	if (s->next)
		s->next->prev = s;
	srv->sessions = s;
	srv->session_count++;
	if (pthread_create(&tid, &attr, session_thread, s) != 0) {
		log_msg(LOG_WARNING, "smtp: cannot start a session thread: %s", strerror(errno));
		unlink_session(srv, s);
		srv->session_count--;
		free(s);
		refuse_busy(srv, fd);
	}
	pthread_attr_destroy(&attr);
}

/*
 * accept_one - accept a connection and start its session (or refuse it);
 * the listener is non-blocking. False when none was taken.
 */
static bool accept_one(struct smtp_server *srv)
{
	int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
			log_msg(LOG_WARNING, "smtp: accept on port %u: %s", srv->port, strerror(errno));
			usleep(100 * 1000);     /* EMFILE, ENOBUFS...: let sessions end, never spin */
		}
		return false;
	}
	pthread_mutex_lock(&srv->lock);
	if (srv->stopping) {
		close(fd);
	} else if (srv->session_count >= srv->cfg.max_sessions) {
		log_msg(LOG_WARNING, "smtp: port %u: %u sessions, refusing another", srv->port,
			srv->session_count);
		refuse_busy(srv, fd);
	} else {
		start_session(srv, fd);
	}
	pthread_mutex_unlock(&srv->lock);
	return true;
}

/* acceptor_thread - accept until the wake pipe says stop. */
static void *acceptor_thread(void *arg)
{
	struct smtp_server *srv = arg;
	struct pollfd p[2] = {
		{ .fd = srv->listen_fd, .events = POLLIN },
		{ .fd = srv->wake[0], .events = POLLIN },
	};

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_msg(LOG_ERR, "smtp: poll on port %u: %s", srv->port, strerror(errno));
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		if (p[0].revents)
			accept_one(srv);
	}
}

/* open_listener - bind and listen on the configured address; fd or -1 (ERR set). */
static int open_listener(struct smtp_server *srv, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	char port[16];
	int fd = -1, one = 1, rc;

	snprintf(port, sizeof(port), "%u", srv->cfg.port);
	if ((rc = getaddrinfo(srv->host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot listen on %s:%u: %s", srv->host, srv->cfg.port,
			 gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    /* Accepted sockets inherit it: replies go out without Nagle's delay. */
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    (res->ai_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    listen(fd, srv->cfg.backlog) != 0) {
		snprintf(err, errlen, "cannot listen on %s:%u: %s", srv->host, srv->cfg.port,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/*
 * share_listener - a descriptor of LISTENER_OF's listening socket; -1 (ERR
 * set). Both servers may accept on it until the old one closes its own.
 */
static int share_listener(const struct smtp_server *srv, char *err, size_t errlen)
{
	struct smtp_server *old = srv->cfg.listener_of;
	int fd = old->listen_fd >= 0 ? fcntl(old->listen_fd, F_DUPFD_CLOEXEC, 0) : -1;

	if (fd < 0)
		snprintf(err, errlen, "cannot take over the listener on %s:%u: %s", old->host,
			 old->port, old->listen_fd >= 0 ? strerror(errno) : "it was closed");
	else
		old->handed_over = true;        /* its queue is the successor's to serve */
	return fd;
}

/*
 * listen_socket - the server's listening socket, bound or shared, and
 * non-blocking: a connection reset between poll and accept, or taken by the
 * other server sharing the socket, must not block the acceptor.
 */
static int listen_socket(struct smtp_server *srv, char *err, size_t errlen)
{
	int fd = srv->cfg.listener_of ? share_listener(srv, err, errlen) : open_listener(srv, err, errlen);
	int flags = fd >= 0 ? fcntl(fd, F_GETFL) : 0;

	if (fd >= 0 && (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)) {
		snprintf(err, errlen, "cannot listen on %s:%u: %s", srv->host, srv->cfg.port,
			 strerror(errno));
		close(fd);
		fd = -1;
	}
	return fd;
}

/* bound_port - the port FD is bound to. */
static unsigned bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* apply_defaults - fill the zero fields of the copied configuration. */
static void apply_defaults(struct smtp_server_config *c)
{
	if (!c->max_recipients)
		c->max_recipients = 1000;
	if (!c->max_sessions)
		c->max_sessions = 1000;
	if (!c->command_timeout_ms)
		c->command_timeout_ms = 5 * 60 * 1000;
	if (!c->data_timeout_ms)
		c->data_timeout_ms = 10 * 60 * 1000;
	if (c->backlog <= 0)
		c->backlog = 128;
}

/* smtp_server_free - release what start built; S may be half built. */
static void smtp_server_free(struct smtp_server *s)
{
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->wake[0] >= 0)
		close(s->wake[0]);
	if (s->wake[1] >= 0)
		close(s->wake[1]);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->ended);
	free(s->host);
	free(s->hostname);
	free(s);
}

/* smtp_server_start - bind, listen and serve (see smtp_server.h). */
struct smtp_server *smtp_server_start(const struct smtp_server_config *config,
				      const struct smtp_handlers *handlers, void *arg,
				      char *err, size_t errlen)
{
	struct smtp_server *s = xcalloc(1, sizeof(*s));

	s->listen_fd = s->wake[0] = s->wake[1] = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->ended, NULL);
	s->cfg = *config;
	apply_defaults(&s->cfg);
	s->host = xstrdup(config->listener_of ? config->listener_of->host
			  : config->host ? config->host : "127.0.0.1");
	s->hostname = xstrdup(config->hostname ? config->hostname : "localhost");
	s->cfg.host = s->host;
	s->cfg.hostname = s->hostname;
	if (config->listener_of)
		s->cfg.port = config->listener_of->port;
	s->handlers = *handlers;
	s->arg = arg;
	s->listen_fd = listen_socket(s, err, errlen);
	s->cfg.listener_of = NULL;      /* used once: the old server may go first */
	if (s->listen_fd < 0)
		goto fail;
	s->port = bound_port(s->listen_fd);
	if (pipe2(s->wake, O_CLOEXEC) != 0 ||
	    pthread_create(&s->acceptor, NULL, acceptor_thread, s) != 0) {
		snprintf(err, errlen, "cannot start the SMTP server on %s:%u: %s", s->host,
			 s->port, strerror(errno));
		goto fail;
	}
	return s;
fail:
	smtp_server_free(s);
	return NULL;
}

/* smtp_server_port - the port the server listens on. */
unsigned smtp_server_port(const struct smtp_server *s)
{
	return s->port;
}

/* smtp_server_sessions - sessions running now. */
unsigned smtp_server_sessions(struct smtp_server *s)
{
	unsigned n;

	pthread_mutex_lock(&s->lock);
	n = s->session_count;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/*
 * accept_pending - start sessions for the connections queued on the
 * listener: at most a backlog's worth (new ones keep coming while we take
 * them), none when a successor shares the socket and serves the queue.
 */
static void accept_pending(struct smtp_server *s)
{
	struct pollfd p = { .fd = s->listen_fd, .events = POLLIN };

	if (s->handed_over)
		return;
	for (int n = 0; n < s->cfg.backlog && poll(&p, 1, 0) == 1 && (p.revents & POLLIN); n++)
		if (!accept_one(s))
			return;
}

/*
 * smtp_server_close_listener - stop accepting; the sessions go on (see
 * smtp_server.h). Connections the kernel queued already are taken, not
 * reset.
 */
void smtp_server_close_listener(struct smtp_server *s)
{
	if (s->listen_fd < 0)
		return;         /* closed already */
	if (write(s->wake[1], "x", 1) != 1)
		abort();        /* a pipe of our own that nobody filled: cannot fail */
	pthread_join(s->acceptor, NULL);
	pthread_mutex_lock(&s->lock);
	s->draining = true;
	pthread_mutex_unlock(&s->lock);
	accept_pending(s);
	close(s->listen_fd);
	s->listen_fd = -1;
	for (int i = 0; i < 2; i++) {   /* no acceptor left to wake */
		close(s->wake[i]);
		s->wake[i] = -1;
	}
}

/* smtp_server_stop - stop listening, end every session, free. */
void smtp_server_stop(struct smtp_server *s)
{
	if (!s)
		return;
	smtp_server_close_listener(s);
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	/* A read shutdown wakes a session waiting for input; it sees EOF,
	 * can still say 421 and then ends. */
	for (struct smtp_session *x = s->sessions; x; x = x->next)
		shutdown(x->fd, SHUT_RD);
	while (s->session_count > 0)
		pthread_cond_wait(&s->ended, &s->lock);
	pthread_mutex_unlock(&s->lock);
	smtp_server_free(s);
}
