/*
 * smtp_server.h - a small, reusable RFC 5321 SMTP server.
 *
 * The server listens on one address, runs each session in a thread of its
 * own and speaks the protocol (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT,
 * VRFY, HELP; PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES), enforcing the
 * order of commands (503), their syntax (500/501), line and size limits
 * (500/552), recipient and session limits (452/421) and idle timeouts (421).
 * What the commands mean is up to the user of the module, through a table of
 * handlers: the delegation receiver spools each message and hands it to its
 * waiting transaction; the shim feeds its transaction and next hop.
 *
 * Handlers. Each is optional. A handler that decides fills the reply it is
 * given (smtp_reply_set); one that leaves it empty (code 0) gets the
 * server's default (250 "2.0.0 Ok", 354 for DATA). A 4xx/5xx reply to MAIL
 * or RCPT refuses that command only; to DATA (start) it refuses the data;
 * to the end of data it refuses the message. A 421 reply to anything ends
 * the session after it is sent. Message text reaches data_line one line at
 * a time, dot-unstuffed, without its line end; a line longer than the
 * server's buffer comes in pieces, all but the last with MORE set. When the
 * message exceeds max_message_size the rest is read and dropped, and
 * data_end is called with OVERSIZE set (the server then answers 552 unless
 * the handler chose a reply).
 *
 * Line ends. Only CRLF ends a line (RFC 5321 2.3.8) and only
 * <CRLF>.<CRLF> ends the data (4.1.1.4): a bare LF or CR never ends the
 * message, whatever follows it, so no client can smuggle a second message
 * past a server that reads line ends differently (CVE-2023-51764). What a
 * bare LF does otherwise is the configuration's bare_newline:
 *   SMTP_BARE_REJECT     (the default) a command line ending in a bare LF
 *                        gets "500 5.5.2" and is not run; a message that
 *                        holds a bare LF or bare CR is read to its real end,
 *                        never passed on (data_line stops, reset is called)
 *                        and refused with "550 5.5.2 ... bare <LF>
 *                        received", and the server logs it; as Postfix's
 *                        smtpd_forbid_bare_newline = reject
 *   SMTP_BARE_NORMALIZE  a bare LF ends a command line, and a line of
 *                        message text as if it were CRLF (data_line gets
 *                        the line; the handler writes CRLF), but never the
 *                        data: a "." line next to a bare LF is text. A
 *                        bare CR stays in the text. As Postfix's
 *                        smtpd_forbid_bare_newline = normalize
 *
 * Threads and ownership. Handlers run in the session's thread; a session's
 * handlers never run concurrently with each other. The strings passed to
 * handlers are borrowed for the call. The server copies its configuration;
 * ARG (the handlers' server-wide argument) is borrowed and must outlive the
 * server. smtp_server_start and smtp_server_stop run in one thread; stop
 * closes the listening socket, interrupts every session (each gets its
 * session_close call) and returns once all session threads have ended.
 */
#ifndef MD_SMTP_SERVER_H
#define MD_SMTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_REPLY_MAX 512

/* A reply: code and text (enhanced status code first, when there is one). */
struct smtp_reply {
	int code;                       /* 0: let the server choose */
	char text[SMTP_REPLY_MAX];
};

/* smtp_reply_set - fill R with CODE and a printf-style text. */
void smtp_reply_set(struct smtp_reply *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Who is on the other end of a session. */
struct smtp_peer {
	char addr[64];                  /* "127.0.0.1", "::1" */
	unsigned port;
};

/* The MAIL FROM parameters the server understands. */
struct smtp_mail_params {
	uint64_t size;                  /* SIZE=, 0 when absent */
	bool body_8bit;                 /* BODY=8BITMIME */
};

struct smtp_handlers {
	/* A session starts: return its context (NULL is a valid context). A
	 * reply of 4xx/5xx ends the session after the banner (e.g. 421). */
	void *(*session_open)(void *arg, const struct smtp_peer *peer, struct smtp_reply *banner);
	/* The session ended (QUIT, timeout, client gone, server stop). */
	void (*session_close)(void *session);
	void (*helo)(void *session, const char *name, bool extended, struct smtp_reply *r);
	void (*mail)(void *session, const char *sender, const struct smtp_mail_params *params,
		     struct smtp_reply *r);
	void (*rcpt)(void *session, const char *recipient, struct smtp_reply *r);
	void (*data_start)(void *session, struct smtp_reply *r);
	/* One line of message text (see above). Return false when the handler
	 * can no longer take text (a write failed): the rest is read and
	 * dropped and data_end decides the reply. */
	bool (*data_line)(void *session, const char *text, size_t len, bool more);
	/* End of data: the reply to the message. OVERSIZE: over the limit. */
	void (*data_end)(void *session, bool oversize, struct smtp_reply *r);
	/* The current message was abandoned: RSET, HELO/EHLO, or the session
	 * ended in the middle of it. Not called after data_end. */
	void (*reset)(void *session);
};

/* What a bare LF means (see "Line ends" above). */
enum smtp_bare_newline { SMTP_BARE_REJECT, SMTP_BARE_NORMALIZE };

struct smtp_server_config {
	const char *host;               /* numeric address to bind: "127.0.0.1", "::1" */
	unsigned port;                  /* 0: any free port (see smtp_server_port) */
	const char *hostname;           /* in the banner and the EHLO reply */
	uint64_t max_message_size;      /* advertised with SIZE; 0: no limit */
	unsigned max_recipients;        /* per message; 0: 1000 */
	unsigned max_sessions;          /* concurrent; beyond it "421"; 0: 1000 */
	unsigned command_timeout_ms;    /* waiting for a command; 0: 5 minutes */
	unsigned data_timeout_ms;       /* waiting for message text; 0: 10 minutes */
	int backlog;                    /* listen(2) backlog; 0: 128 */
	enum smtp_bare_newline bare_newline;    /* 0: SMTP_BARE_REJECT */
	/* A running server whose listening socket this one shares instead of
	 * binding (HOST and PORT are then its own): a replacement with other
	 * settings takes over with no moment where the port is free or taken
	 * by someone else. The old one is then closed with
	 * smtp_server_close_listener. NULL: bind. */
	struct smtp_server *listener_of;
};

struct smtp_server;

/*
 * smtp_server_start - bind, listen and serve with HANDLERS (copied) and ARG.
 * NULL with the reason in ERR ("cannot listen on 127.0.0.1:10025: Address
 * already in use").
 */
struct smtp_server *smtp_server_start(const struct smtp_server_config *config,
				      const struct smtp_handlers *handlers, void *arg,
				      char *err, size_t errlen);

/* smtp_server_port - the port the server listens on. */
unsigned smtp_server_port(const struct smtp_server *s);

/* smtp_server_sessions - sessions running now (for tests and statistics). */
unsigned smtp_server_sessions(struct smtp_server *s);

/*
 * smtp_server_close_listener - stop listening (the port is free again at
 * return unless a successor shares the socket, see listener_of;
 * connections already queued are served, not reset). The sessions
 * running go on: a message in progress, and each session's first one, is
 * received as usual; a session that has had a message answers its next
 * MAIL with "421 4.3.2" and ends, so that a client keeping connections
 * (a filter's pool) moves to whatever listens on the port now.
 * Idempotent; then smtp_server_stop ends what is left and frees.
 */
void smtp_server_close_listener(struct smtp_server *s);

/* smtp_server_stop - stop listening, end every session, free; S may be NULL. */
void smtp_server_stop(struct smtp_server *s);

#endif
