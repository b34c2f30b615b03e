/*
 * shim_deliver.h - hand an accepted message to the next hop, synchronously:
 * over SMTP to another MTA (libcurl, through the engine's delegate_client
 * with no correlation id) or into a local Maildir.
 *
 * A delivery returns true only once the next hop has the message: the SMTP
 * server answered 2xx after the data, or the Maildir file was written,
 * fsync'ed and renamed from tmp/ into new/ (and new/ fsync'ed). Anything
 * else returns false with the reason in DETAIL; the shim then answers 451
 * so the client keeps its copy. The message is copied through shim_edit, so
 * the policy's header edits and the shim's own PREFIX lines (Received:) are
 * part of what is delivered.
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

#include "shim_config.h"
#include "txn.h"

struct shim_nexthop;

/* What to deliver; every pointer is borrowed for the call. */
struct shim_delivery {
	const char *path;                       /* the message as received (CRLF) */
	const char *sender;                     /* "" is the null sender */
	const char *const *rcpts;
	size_t rcpt_count;
	const char *prefix;                     /* CRLF lines put first, or NULL */
	const struct header_edit *const *edits;
	size_t edit_count;
	const char *spool_dir;                  /* for the relayed copy (SMTP) */
	const char *queue_id;                   /* in file names */
};

/*
 * shim_nexthop_new - the next hop CFG names. For a Maildir, its tmp/, new/
 * and cur/ folders are created (0700) when missing. NULL with ERR set.
 */
struct shim_nexthop *shim_nexthop_new(const struct shim_config *cfg, char *err, size_t errlen);

/* shim_nexthop_free - close idle SMTP connections and free; NH may be NULL. */
void shim_nexthop_free(struct shim_nexthop *nh);

/* shim_nexthop_deliver - deliver D; false with the reason in DETAIL. */
bool shim_nexthop_deliver(struct shim_nexthop *nh, const struct shim_delivery *d,
			  char *detail, size_t len);

/* shim_nexthop_describe - "smtp 127.0.0.1:10030" or "maildir /path" for logs. */
const char *shim_nexthop_describe(const struct shim_nexthop *nh);

#endif
