/*
 * pool.h - which member of a service's pool a delegation uses, and what is
 * known of each member's health. No I/O and no clock of its own: callers
 * pass the time and report what happened, so the rules can be tested.
 *
 * Selection (pool_acquire). Only members that are up, not yet tried by
 * this delegation and below the per-member cap of concurrent delegations
 * are candidates. failover: the first candidate in the order written;
 * round_robin: the next candidate after the one the previous delegation
 * started with. No member up: POOL_ALL_DOWN at once (the caller runs
 * on_error without waiting out timeouts). Members up but each at its cap:
 * POOL_BUSY (wait with pool_wait and ask again). Every up member tried:
 * POOL_EXHAUSTED.
 *
 * Outcomes (pool_done). The caller maps what the member did onto an
 * outcome; the outcome says whether the member is healthy and whether the
 * message may go to another member (pool_outcome_retries):
 *   POOL_ACCEPTED   it took the message (2xx after the data)   up   never again
 *   POOL_REFUSED    a verdict: 5xx, a scanner's ERROR reply    up   no
 *   POOL_DEFERRED   4xx, or the connection failed or dropped
 *                   before the final dot: it cannot have it     down another member
 *   POOL_UNCERTAIN  no reply after the data, or the time ran
 *                   out: it may have it                        down no
 * A member that said 250 is never sent the message again: only
 * POOL_DEFERRED retries, and only on a member not yet tried.
 *
 * Health. A member is up until an outcome or a probe says otherwise; then
 * it is down and probed again after the health interval, doubling with each
 * failed probe up to backoff_max. A member that is up is probed every health
 * interval. pool_probes_due hands out the members whose probe is due (each
 * once until pool_probed reports it); pool_probed reports the result.
 * State changes are returned so that the caller logs them.
 *
 * Metrics: each member's tries by outcome, and whether it is up and how
 * many tries run on it (metrics_member_*, shown while a pool has it).
 *
 * Thread-safe: one mutex guards the pool; pool_wait sleeps on a condition
 * variable that every pool_done signals.
 */
#ifndef MD_POOL_H
#define MD_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"     /* enum pool_balance */

struct pool;

enum pool_pick { POOL_PICKED, POOL_ALL_DOWN, POOL_BUSY, POOL_EXHAUSTED };

enum pool_outcome { POOL_ACCEPTED, POOL_REFUSED, POOL_DEFERRED, POOL_UNCERTAIN };

/* What a report changed, for the caller's log line. */
enum pool_change { POOL_SAME, POOL_WENT_DOWN, POOL_CAME_BACK };

struct pool_config {
	const char *service;            /* for log lines; copied */
	const char *const *names;       /* each member's name for log lines; copied */
	size_t members;                 /* at least 1, at most SERVICE_MAX_MEMBERS */
	enum pool_balance balance;
	unsigned max_concurrent;        /* per member; 0: no cap */
	uint64_t interval_ms;           /* health interval (first backoff) */
	uint64_t backoff_max_ms;
};

struct pool_member_stats {
	bool up;
	unsigned active;                /* delegations running on it now */
	unsigned failures;              /* failed outcomes or probes in a row */
	uint64_t next_probe_ms;
	unsigned long served, failed;   /* accepted outcomes; deferred/uncertain ones */
};

/* pool_new - a pool for CFG, every member up, first probes at NOW_MS + interval. */
struct pool *pool_new(const struct pool_config *cfg, uint64_t now_ms);

/* pool_free - free P; NULL ok. No delegation may be running on it. */
void pool_free(struct pool *p);

/*
 * pool_acquire - pick a member not marked in TRIED (one bool per member);
 * POOL_PICKED with *MEMBER set and its slot taken (give it back with
 * pool_done), or why not.
 */
enum pool_pick pool_acquire(struct pool *p, const bool *tried, size_t *member);

/*
 * pool_done - MEMBER's delegation ended with OUTCOME (WHY: the reason, for
 * the log when it goes down) at NOW_MS: its slot is free again.
 */
enum pool_change pool_done(struct pool *p, size_t member, enum pool_outcome outcome,
			   const char *why, uint64_t now_ms);

/* pool_outcome_retries - may the message go to another member after OUTCOME? */
bool pool_outcome_retries(enum pool_outcome outcome);

/* pool_wait - sleep until a slot is given back or UNTIL_MS (corr_now_ms clock). */
void pool_wait(struct pool *p, uint64_t until_ms);

/* One try of a delegation on MEMBER: its outcome, and in WHY what went wrong (for the log). */
typedef enum pool_outcome (*pool_attempt_fn)(void *arg, size_t member, char *why, size_t whylen);

/* How pool_run ended. */
struct pool_run_result {
	unsigned attempts;              /* members tried */
	size_t member;                  /* the last one tried (attempts > 0) */
	enum pool_outcome outcome;      /* its outcome */
	enum pool_pick stopped;         /* POOL_PICKED: that outcome was final; else why no
					 * (further) member was tried: all down, all tried, or no
					 * free slot before the deadline (POOL_BUSY) */
};

/*
 * pool_run - one delegation: pick a member, ATTEMPT it, and while the
 * outcome allows (pool_outcome_retries) pick another one not yet tried,
 * until DEADLINE_MS (corr_now_ms clock). While every candidate is at its
 * cap it waits, calling TICK(TICK_ARG) (may be NULL) every TICK_MS. Each
 * attempt's slot is given back with pool_done. Logs members going down or
 * coming back.
 */
void pool_run(struct pool *p, uint64_t deadline_ms, pool_attempt_fn attempt, void *arg,
	      void (*tick)(void *), void *tick_arg, unsigned tick_ms,
	      struct pool_run_result *out);

/* pool_member_name - MEMBER's name as configured (valid while P lives). */
const char *pool_member_name(const struct pool *p, size_t member);

/* pool_pick_reason - why POOL_ALL_DOWN, POOL_EXHAUSTED or POOL_BUSY stopped a run, for the log. */
const char *pool_pick_reason(enum pool_pick pick);

/*
 * pool_probes_due - the members whose probe is due at NOW_MS, at most CAP
 * of them into OUT; each is handed out once until pool_probed. Returns how
 * many. *NEXT_MS: when the next probe falls due (for the prober's sleep).
 */
size_t pool_probes_due(struct pool *p, uint64_t now_ms, size_t *out, size_t cap,
		       uint64_t *next_ms);

/* pool_probed - MEMBER's probe succeeded (HEALTHY) or failed (WHY) at NOW_MS. */
enum pool_change pool_probed(struct pool *p, size_t member, bool healthy, const char *why,
			     uint64_t now_ms);

/* pool_stats - a snapshot of MEMBER's state. */
void pool_stats(struct pool *p, size_t member, struct pool_member_stats *out);

#endif
