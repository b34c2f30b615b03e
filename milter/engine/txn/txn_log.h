/*
 * txn_log.h - the one per-message log line, written the same way by both
 * front ends (the milter at its verdict, the shim after its next hop):
 *
 *   QID: client=ADDR from=<SENDER> rcpts=N size=BYTES delegation=MSms
 *        rules="TRAIL" verdict=KIND[ reply=CODE[ X.Y.Z] TEXT][ quarantine=ID][ EXTRA]
 *
 * QID is the queue id ("NOQUEUE" before one is known), ADDR the client's
 * address ("unknown" without one), SIZE the bytes of header and body seen
 * so far, TRAIL the "stage:rule=action" trail of the rules that fired.
 * ID is the message's quarantine id when a quarantine action kept a copy
 * (milter-delegate-quarantine show ID). EXTRA is the front end's own
 * fields (the shim's nexthop=... status=... detail=...), each KEY=VALUE or
 * KEY="VALUE", appended last. Tests and operators grep these keys: add new
 * fields at the end, never rename one.
 *
 * With JSON logs (log.h) the same line is one object: "message" holds the
 * text line above, and the fields are "queue_id", "client", "from",
 * "rcpts", "size", "delegation_ms", "rules" (the trail as an array, one
 * "stage:rule=action" string each), "verdict", "reply" ({"code","status",
 * "text"}, or null), "quarantine_id" (ID, or null), then each EXTRA key
 * with its value as a string.
 *
 * txn_log_message also counts the message in the metrics (metrics.h):
 * by verdict ("quarantine" when a quarantine decided; "continue", no rule
 * deciding, counts as "accept") and by the stage that decided. A decision
 * at connect or helo, which holds for the whole connection, is counted
 * once when it is made (txn.c), not again with each message it refuses.
 *
 * Reads the transaction only (it stays the caller's). Thread-safe.
 */
#ifndef MD_TXN_LOG_H
#define MD_TXN_LOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "txn.h"

/* One front-end field of the line; a list of them ends with KEY NULL. */
struct txn_log_field {
	const char *key;
	const char *value;
	bool quote;             /* text line: KEY="VALUE" rather than KEY=VALUE */
};

/* txn_log_format - the line for T with verdict V and EXTRA (NULL: none) into BUF (LEN). */
void txn_log_format(const struct txn *t, struct verdict v, const struct txn_log_field *extra,
		    char *buf, size_t len);

/* txn_log_json - the JSON fields for that line (a new reference; the caller decrefs). */
json_t *txn_log_json(const struct txn *t, struct verdict v, const struct txn_log_field *extra);

/* txn_count_verdict - count V by verdict and stage (metrics.h). */
void txn_count_verdict(struct verdict v);

/* txn_log_message - count the message, log that line at LOG_INFO (text or JSON). */
void txn_log_message(const struct txn *t, struct verdict v, const struct txn_log_field *extra);

#endif
