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
 * key=value fields, appended last (the shim's nexthop=... status=...
 * detail=...). Tests and operators grep these keys:
 * add new fields at the end, never rename one.
 *
 * Reads the transaction only (it stays the caller's). Thread-safe.
 */
#ifndef MD_TXN_LOG_H
#define MD_TXN_LOG_H

#include <stddef.h>

#include "txn.h"

/* txn_log_format - the line for T with verdict V and EXTRA (NULL: none) into BUF (LEN). */
void txn_log_format(const struct txn *t, struct verdict v, const char *extra,
		    char *buf, size_t len);

/* txn_log_message - log that line at LOG_INFO. */
void txn_log_message(const struct txn *t, struct verdict v, const char *extra);

#endif
