/*
 * smtp_server_int.h - what the SMTP server's two halves share: the session
 * (socket, buffers, dialogue state) and its buffered line I/O
 * (smtp_server.c), and the dialogue that runs on it (smtp_dialogue.c).
 * Not for users of the module: they include smtp_server.h.
 *
 * A session belongs to its thread; only the server's stop touches it from
 * outside, and then only to shut its socket down (under the server lock).
 */
#ifndef MD_SMTP_SERVER_INT_H
#define MD_SMTP_SERVER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "smtp_server.h"

#define SMTP_IN_BUF 16384       /* longest line delivered whole */
#define SMTP_OUT_BUF 4096
#define SMTP_MAX_COMMAND 2048   /* longer command lines get "500 line too long" */
#define SMTP_MAX_ERRORS 20      /* bad commands before "421 too many errors" */

struct smtp_server {
	struct smtp_server_config cfg;  /* host and hostname point at our copies */
	char *host;
	char *hostname;
	struct smtp_handlers handlers;
	void *arg;
	int listen_fd;
	bool handed_over;               /* a successor shares the listening socket (listener_of) */
	int wake[2];                    /* a pipe: stop wakes the acceptor */
	unsigned port;
	pthread_t acceptor;
	pthread_mutex_t lock;           /* guards the fields below */
	pthread_cond_t ended;           /* a session thread ended */
	unsigned session_count;
	bool stopping;
	bool draining;                  /* listener closed: no new transaction (smtp_server_close_listener) */
	struct smtp_session *sessions;  /* running sessions (for stop) */
};

/* Where the dialogue stands. */
enum smtp_state {
	SMTP_GREETED,           /* banner sent, no HELO/EHLO yet */
	SMTP_READY,             /* HELO/EHLO done, no message */
	SMTP_IN_MAIL,           /* MAIL accepted */
};

struct smtp_session {
	struct smtp_server *server;
	int fd;
	struct smtp_peer peer;
	void *ctx;                      /* what session_open returned */
	struct smtp_session *prev, *next;
	enum smtp_state state;
	bool esmtp;
	bool closing;                   /* end after the pending replies */
	unsigned rcpt_count;
	unsigned messages;              /* answered at the end of data */
	unsigned errors;
	bool line_crlf;                 /* the last line read ended with CRLF */
	bool line_bare_cr;              /* the last line (or piece) read holds a CR */
	char in[SMTP_IN_BUF];
	size_t in_pos, in_len;
	char out[SMTP_OUT_BUF];
	size_t out_len;
};

/* How reading a line ended. */
enum smtp_read {
	SMTP_LINE,              /* a whole line up to LF (LF or CRLF removed) */
	SMTP_PARTIAL,           /* the start of a line longer than the buffer */
	SMTP_EOF,               /* the client closed (or the server is stopping) */
	SMTP_TIMEOUT,
	SMTP_IO_ERROR,
};

/*
 * smtp_read_line - the next line, flushing pending replies first when it
 * must wait for input (that is what makes PIPELINING work). *LINE points
 * into the session's buffer until the next call. A line ends at LF; the
 * session's line_crlf says whether CR came before it (only CRLF is a line
 * end in SMTP: the dialogue decides what a bare LF means) and line_bare_cr
 * whether the text holds a CR that is not part of a line end.
 */
enum smtp_read smtp_read_line(struct smtp_session *s, unsigned timeout_ms,
			      char **line, size_t *len);

/* smtp_reply - queue one reply line "CODE TEXT" (CODE-TEXT when MORE). */
void smtp_reply(struct smtp_session *s, int code, bool more, const char *text);

/* smtp_flush - write the queued replies; false when the client is gone. */
bool smtp_flush(struct smtp_session *s);

/* smtp_dialogue - run the session's dialogue from banner to close. */
void smtp_dialogue(struct smtp_session *s);

#endif
