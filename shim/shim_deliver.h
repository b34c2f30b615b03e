/*
 * shim_deliver.h - hand an accepted message to the next hop, synchronously:
 * over SMTP to another MTA (libcurl, through the engine's delegate_client
 * with no correlation id) or into a local Maildir.
 *
 * A delivery is DELIVERY_SENT only once the next hop has the message: the
 * SMTP server answered 2xx after the data, or the Maildir file was written,
 * fsync'ed and renamed from tmp/ into new/ (and new/ fsync'ed). It is
 * DELIVERY_REFUSED only when the SMTP next hop refused the whole message for
 * good: 5xx to MAIL FROM, to DATA or after the data, or 5xx to every
 * recipient; the result then holds its reply for the shim to mirror. When
 * some recipients were refused and others accepted, nothing is sent
 * (delegate_client stops before DATA) and the delivery is DELIVERY_PARTIAL:
 * the shim answered RCPT long ago and cannot refuse one recipient now, so
 * the whole message is deferred rather than delivered to some and silently
 * lost for the others. Everything else is DELIVERY_DEFERRED: a 4xx
 * anywhere, a 5xx greeting or EHLO (a refusal of the shim, not of the
 * message), no connection, a connection lost before the final reply, a
 * timeout, any Maildir or local error. The message is copied through
 * shim_edit, so the policy's header edits and the shim's own PREFIX lines
 * (Received:) are part of what is delivered: straight into the Maildir file,
 * or into a spool file that the SMTP client then sends (it sends files).
 *
 * Ownership: the next hop owns its SMTP client and copies the configuration
 * it needs. A delivery borrows everything in its request for the call.
 * shim_nexthop_deliver is thread-safe; new and free run in one thread with
 * no delivery in flight.
 */
#ifndef MD_SHIM_DELIVER_H
#define MD_SHIM_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "shim_config.h"
#include "smtp_server.h"
#include "txn.h"

struct shim_nexthop;

/* What to deliver; every pointer is borrowed for the call. */
struct shim_delivery {
	FILE *message;                          /* headers, body (CRLF); from its start; seekable */
	const char *sender;                     /* "" is the null sender */
	const char *const *rcpts;
	size_t rcpt_count;
	const char *prefix;                     /* CRLF lines put first, or NULL */
	const struct header_edit *const *edits;
	size_t edit_count;
	const char *queue_id;                   /* in file names */
};

/* How a delivery ended (see above); the shim's reply follows from it. */
enum delivery_status {
	DELIVERY_SENT,          /* the next hop has the message */
	DELIVERY_DEFERRED,      /* not delivered, try again later */
	DELIVERY_PARTIAL,       /* some recipients refused, the others accepted: not sent */
	DELIVERY_REFUSED,       /* refused for good (5xx) by the SMTP next hop */
};

#define DELIVERY_TEXT_MAX 256

/* What a delivery says; filled by value. */
struct delivery_result {
	enum delivery_status status;
	char detail[2048];              /* for the log: the next hop's reply or the local error */
	/*
	 * DELIVERY_REFUSED and DELIVERY_PARTIAL: the next hop's refusal. CODE
	 * is its reply code; ENHANCED its enhanced status code when it gave one
	 * of CODE's class, else "C.0.0"; TEXT the rest of its (last) reply
	 * line with anything but printable ASCII made '?'; LINE that whole
	 * line, made printable the same way.
	 */
	int code;
	char enhanced[16];
	char text[DELIVERY_TEXT_MAX];
	char line[DELIVERY_TEXT_MAX];
};

/*
 * shim_nexthop_new - the next hop CFG names. For a Maildir, its tmp/, new/
 * and cur/ folders are created (0700) when missing. NULL with ERR set.
 */
struct shim_nexthop *shim_nexthop_new(const struct shim_config *cfg, char *err, size_t errlen);

/* shim_nexthop_free - close idle SMTP connections and free; NH may be NULL. */
void shim_nexthop_free(struct shim_nexthop *nh);

/* shim_nexthop_deliver - deliver D; OUT says how it went (its status is returned). */
enum delivery_status shim_nexthop_deliver(struct shim_nexthop *nh, const struct shim_delivery *d,
					  struct delivery_result *out);

/*
 * shim_delivery_reply - the client's reply R to RES: "250 2.0.0 Ok: queued
 * as QUEUE_ID"; "451 4.4.1 Next hop unavailable, try again later";
 * "451 4.4.1 Next hop refused some recipients, try again later; next hop
 * said: 550 5.1.1 ..."; or the refusal mirrored, "554 5.7.1 next hop said:
 * TEXT" (no enhanced status from the next hop: "5.0.0").
 */
void shim_delivery_reply(const struct delivery_result *res, const char *queue_id,
			 struct smtp_reply *r);

/* delivery_status_name - "sent", "deferred", "refused" for log lines. */
const char *delivery_status_name(enum delivery_status status);

/* shim_nexthop_close_idle - close the SMTP connections idle past their limit (none for a Maildir). */
void shim_nexthop_close_idle(struct shim_nexthop *nh);

/* shim_nexthop_describe - "smtp 127.0.0.1:10030" or "maildir /path" for logs. */
const char *shim_nexthop_describe(const struct shim_nexthop *nh);

#endif
