/*
 * delegate_client.h - send one message to a delegator (content filter) over SMTP.
 *
 * SYNOPSIS
 *	struct delegate_client *dc = delegate_client_new(&member->address, 4);
 *	struct delegate_send_request req = { .sender = "", .rcpts = r, ... };
 *	struct delegate_send_result res;
 *	delegate_client_send(dc, &req, &res);
 *	delegate_client_free(dc);
 *
 * DESCRIPTION
 *	The client side of delegation. One delegate_client exists per
 *	service; it sends a spooled message to the service's delegator
 *	(clamsmtpd, say) with libcurl, which does the SMTP dialogue, the
 *	dot-stuffing and the final CRLF.CRLF. The delegator later sends its
 *	filtered copy to our receiver; that half is not here.
 *
 *	The message (a file, or a stream and a header block in memory) is
 *	streamed, never read whole into memory. In front
 *	of it goes the correlation header "X-Delegate-Id: ID\r\n"; any
 *	X-Delegate-Id field already in the file's header block (with its
 *	continuation lines, name matched without regard to case) is left out,
 *	so that a sender cannot plant one. The body after the empty line is
 *	passed through as it is, but for line ends: every bare CR and bare LF
 *	is sent as CRLF, so what a filter gets (and returns to our receiver,
 *	which takes CRLF-clean copies only) is clean whatever the MTA let
 *	through. A request without an id (a plain relay to a next hop, as the
 *	shim's delivery) sends the file otherwise unchanged: no X-Delegate-Id
 *	line in front, no field left out. libcurl dot-stuffs the lines.
 *
 *	Connections: the client keeps up to max_idle idle libcurl easy
 *	handles. libcurl keeps the SMTP connection open inside an easy handle
 *	between transfers, so a send that takes a pooled handle reuses its
 *	connection (no new TCP handshake, banner and EHLO; clamsmtpd's listen
 *	backlog is only 5). Only a handle whose transfer was accepted goes
 *	back to the pool; any other outcome closes it.
 *	An idle connection is never reused once it has been idle longer than
 *	the idle limit (CURLOPT_MAXAGE_CONN; 30 s unless set with
 *	delegate_client_set_idle_limit; libcurl counts whole seconds, so up
 *	to a second more): libcurl drops it without a word and connects anew.
 *	The limit must be shorter than the far side keeps an idle connection,
 *	including what the far side holds on our behalf: clamsmtpd keeps a
 *	connection to our receiver for each of ours, and when the receiver
 *	drops that half first, clamsmtpd answers the next MAIL FROM on the
 *	"live" pair with the receiver's 421.
 *	Retry: when a send over a reused connection fails before the final
 *	dot was sent, by a dropped connection or a 4xx at any command (a
 *	stale pair, a half the far side closed), it is retried once on a new
 *	connection within the same time budget; the delegator cannot have the
 *	message by then. Never after the data was sent (the delegator may
 *	have it: no second copy), never after a 5xx, a timeout or a cancel.
 *
 *	Recipients: all or nothing. A refused RCPT refuses the whole send:
 *	a copy that reaches the delegator with fewer recipients than the
 *	message would be filtered for an envelope that is not the real one,
 *	and the policy's on_error actions are the place to decide what a
 *	refusal means. By default the send ends at the first refused RCPT
 *	(CURLOPT_MAIL_RCPT_ALLOWFAILS off). With ask_every_rcpt (the shim's
 *	next hop, which must tell "every recipient refused for good" from "some
 *	refused") the client asks them all (ALLOWFAILS on) and counts the
 *	answers in the result; when some but not all were refused it stops
 *	before DATA (it shuts the connection down, so libcurl cannot send DATA
 *	to the accepted ones alone) and the send is refused at RCPT TO with
 *	the last refusal as its reply. When every one was refused, libcurl
 *	ends the send itself and the last refusal is the reply too.
 *
 *	Time: timeout_ms bounds the whole send, retry included; connecting
 *	takes at most 10 s of it. The progress callback enforces the deadline
 *	(and the cancel flag) and then shuts the socket down: after the data,
 *	libcurl's own timeout would send QUIT and wait for its reply once more.
 *	A send that is refused may still wait, within the same bound, for the
 *	server's answer to the QUIT that libcurl then sends.
 *
 *	Note for callers: each send opens its own connection when no idle one
 *	is free; clamsmtpd has a listen backlog of 5 and a MaxConnections
 *	limit, and holds a connection to our receiver for each of ours.
 *
 * OWNERSHIP
 *	delegate_client_new() copies the endpoint. The request and everything
 *	it points to are borrowed for the duration of the call only; the
 *	client builds its own CURLOPT_MAIL_RCPT list (libcurl does not copy
 *	that list, so it lives until the transfer has ended) and frees it
 *	before returning. The result is filled in by value.
 *
 * THREAD SAFETY
 *	curl_global_init(CURL_GLOBAL_DEFAULT) must be called once by the
 *	program before any thread starts (it is not thread-safe); the client
 *	does not call it. delegate_client_send() is thread-safe: any number of
 *	threads may send through one client at once (the pool is guarded by a
 *	mutex; a handle is used by one thread at a time). Signals are not used
 *	(CURLOPT_NOSIGNAL). delegate_client_new() and delegate_client_free()
 *	must not race with sends on the same client.
 *
 * DIAGNOSTICS
 *	Nothing is logged per message; the result carries the status, the
 *	step where the send ended, the server's last reply line and an error
 *	text for the caller's log line (which starts with the queue id):
 *	"refused at RCPT TO", "refused 2 of 3 recipients at RCPT TO" (with
 *	ask_every_rcpt), "timed out at end of data", "failed at connect:
 *	Couldn't connect to server: ...", "open /path: No such file ...".
 *	delegate_client_free() says QUIT on each idle connection and waits at
 *	most 2 s for each answer.
 */
#ifndef MD_DELEGATE_CLIENT_H
#define MD_DELEGATE_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "policy.h"

struct delegate_client;

/* How a send ended. The caller maps these to the policy's on_error/on_timeout. */
enum delegate_send_status {
	SEND_ACCEPTED,          /* final 2xx after the data: the delegator has the message */
	SEND_REFUSED,           /* a 4xx/5xx reply (banner, MAIL, RCPT, DATA, end of data) */
	SEND_FAILED,            /* no connection, connection lost, bad reply, local error */
	SEND_TIMEOUT,           /* timeout_ms passed before the delegator accepted */
	SEND_CANCELLED,         /* the cancel flag was raised */
};

/* What to send. Every pointer is borrowed for the duration of the call. */
struct delegate_send_request {
	const char *sender;             /* envelope sender without <>; "" is the null sender */
	const char *const *rcpts;       /* recipients "user@domain" without <>; at least one */
	size_t rcpt_count;
	/*
	 * The message (headers, empty line, body; CRLF): the file PATH, or
	 * the rest of STREAM from where it stands (exactly one of the two).
	 * A retry goes back to where it started, so STREAM must be seekable
	 * (a file or spool_open()'s stream). Without an id, HEAD (HEAD_LEN
	 * bytes) goes first and the stream is sent as the rest of the body:
	 * the shim sends its edited header block from memory and the body
	 * from the message it holds, with no third copy.
	 */
	const char *path;
	FILE *stream;
	const char *head;
	size_t head_len;
	const char *id;                 /* correlation id (printable, no spaces); NULL: none sent */
	unsigned timeout_ms;            /* the whole send, connection included; 0: 60 s */
	/*
	 * Called from the sending thread while the transfer runs, at most
	 * every progress_interval_ms (0: 2000) and at least about every
	 * progress_interval_ms + 1 s (libcurl reports about once a second
	 * while it waits): for a gap of at most 5 s, use 4000 or less.
	 * NULL: not called. It must not call delegate_client functions.
	 */
	void (*progress)(void *arg);
	void *progress_arg;
	unsigned progress_interval_ms;
	/* Raised by another thread to stop the send within about a second; NULL: none. */
	const atomic_bool *cancel;
	/*
	 * false (delegation): the send ends at the first refused recipient.
	 * true (the shim's next hop): every recipient is asked even after a
	 * refusal, so that the result counts all their answers; the message
	 * itself still goes only when every one was accepted (see Recipients).
	 */
	bool ask_every_rcpt;
};

#define DELEGATE_REPLY_MAX 256          /* reply lines longer than this are cut */
#define DELEGATE_ERROR_MAX 384

struct delegate_send_result {
	enum delegate_send_status status;
	int code;                       /* code of the last reply; 0 when none came */
	char reply[DELEGATE_REPLY_MAX]; /* last complete reply line without CRLF, or "" */
	char error[DELEGATE_ERROR_MAX]; /* why it was not accepted, for the log; "" if accepted */
	/*
	 * Where the send ended (a static string): "local" (it did not start:
	 * bad request, unreadable file), "connect" (TCP or greeting),
	 * "EHLO", "MAIL FROM", "RCPT TO", "DATA", "message" (while uploading),
	 * "end of data" (waiting for or got the final reply; also when accepted).
	 */
	const char *step;
	unsigned long elapsed_ms;
	bool reused;                    /* ran over a connection kept from an earlier send */
	bool retried;                   /* the first attempt (reused) failed: this is the second */
	/*
	 * The recipients' answers to RCPT TO (the last attempt's): 2xx, 4xx,
	 * 5xx. Without ask_every_rcpt, counting ends at the first refusal.
	 */
	unsigned rcpt_accepted, rcpt_deferred, rcpt_rejected;
};

/*
 * delegate_client_new - a client for DELEGATOR keeping at most MAX_IDLE idle
 * connections (0: none kept). NULL if its mutex cannot be made; out of
 * memory ends the process (xalloc.h).
 */
struct delegate_client *delegate_client_new(const struct endpoint *delegator, unsigned max_idle);

/*
 * delegate_client_set_idle_limit - reuse no connection that has been idle
 * longer than SECONDS (0 is taken as 1). Call it before the first send.
 */
void delegate_client_set_idle_limit(struct delegate_client *dc, unsigned seconds);

/*
 * delegate_client_close_idle - close (politely, QUIT) the kept connections
 * idle for the idle limit or longer; how many were closed. Whoever owns DC
 * calls it now and then (a service's prober every second), so that a quiet
 * spell leaves no connection the peer has long given up on.
 */
size_t delegate_client_close_idle(struct delegate_client *dc);

/* delegate_client_free - close the idle connections (politely, QUIT) and free DC; NULL ok. */
void delegate_client_free(struct delegate_client *dc);

/* delegate_client_send - send REQ's message to the delegator; OUT says how it went. */
void delegate_client_send(struct delegate_client *dc, const struct delegate_send_request *req,
			  struct delegate_send_result *out);

/* delegate_send_status_name - "accepted", "refused", "failed", "timeout", "cancelled". */
const char *delegate_send_status_name(enum delegate_send_status status);

#endif
