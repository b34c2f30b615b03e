/*
 * receiver.h - the SMTP socket where delegates send their filtered copies.
 *
 * A receiver is an smtp_server whose sessions spool each incoming message
 * to a file in the spool directory, taking every X-Delegate-Id field out of
 * it (at the top, or in the original a filter attached when it repackaged
 * the message), and then hand the file to the correlation table, matched by
 * the one id a transaction waits for. It answers 250 only once the copy has
 * been handed over (written and closed); a copy without a live id (none,
 * malformed, unknown, replayed, or two different live ones) is refused with
 * 550 and logged, so nobody can inject mail through it; a copy for a
 * transaction that already gave up is acknowledged, logged and dropped.
 * Copies must be CRLF-clean: a bare LF or CR gets 550 5.5.2. With an
 * allow-list (receiver_allow: remote filter hosts), a client from outside
 * it (loopback included, unless listed) is greeted with 554 5.7.1 and
 * logged.
 *
 * Ownership: the receiver borrows TABLE (it must outlive the receiver) and
 * copies the address and spool directory. Start and stop from one thread;
 * the sessions run in the server's own threads.
 */
#ifndef MD_RECEIVER_H
#define MD_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>

#include "cidr.h"
#include "correlation.h"
#include "policy.h"

struct receiver;

/* How a receiver listens. Everything is copied by receiver_start. */
struct receiver_config {
	const struct endpoint *address;
	bool allow_public;              /* a non-loopback address was asked for */
	unsigned idle_ms;               /* a delegate idle this long between commands gets 421; 0: 60 s */
	const char *spool_dir;
	const struct cidr *allow;       /* allow_count networks that may connect (only they); */
	size_t allow_count;             /* 0: anyone may (the id check still applies) */
	/* A running receiver on the same address whose listening socket this
	 * one shares, to replace it (then receiver_close_listener on the old
	 * one): the port is never free during the hand-over. NULL: bind. */
	struct receiver *takes_over;
};

/*
 * receiver_start - listen on CFG's address (loopback unless allow_public)
 * and serve. NULL with the reason in ERR ("cannot listen on
 * 127.0.0.1:10025: Address already in use").
 */
struct receiver *receiver_start(const struct receiver_config *cfg, struct corr_table *table,
				char *err, size_t errlen);

/* receiver_port - the port it listens on (useful with port 0 in tests). */
unsigned receiver_port(const struct receiver *r);

/* receiver_sessions - delegate sessions running now (for tests). */
unsigned receiver_sessions(struct receiver *r);

/*
 * receiver_changes - does RC (same address) set R up differently? The
 * settings that differ ("receiver_idle, receiver_allow, spool_dir") are
 * named in WHAT.
 */
bool receiver_changes(const struct receiver *r, const struct receiver_config *rc, char *what,
		      size_t len);

/*
 * receiver_close_listener - stop accepting delegates (the port is free at
 * return unless a receiver took it over); the sessions connected go on
 * with R's settings, each until its next MAIL after a copy (421: see
 * smtp_server_close_listener).
 * receiver_sessions says when none is left; receiver_stop frees.
 */
void receiver_close_listener(struct receiver *r);

/* receiver_stop - stop listening, end the sessions, free; R may be NULL. */
void receiver_stop(struct receiver *r);

#endif
