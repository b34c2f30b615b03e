/*
 * metrics.h - the daemons' counters, gauges and latency histograms, and
 * their rendering in the Prometheus text format (metrics_http.h serves it).
 *
 * Three kinds of series:
 *  - fixed ones (enum metric_id): one atomic each, a row of the table in
 *    metrics.c giving its family, type, help and labels;
 *  - messages by verdict and stage (metrics_count_message);
 *  - named ones whose label values come from the policy (rule hits, each
 *    service's delegations by outcome and latency, each pool member's tries
 *    by outcome, whether it is up, how many tries run on it): a struct metrics_series
 *    per name, found or made once per policy load (metrics_series_get) and
 *    kept by the rule or service, so counting needs no lookup. A series is
 *    never freed: a name that a reload removes keeps its last values, and
 *    one that comes back counts on, as Prometheus expects of a counter.
 *
 * Counting is off until metrics_enable() (a daemon given a metrics
 * address); then every update is one relaxed atomic add, no lock. Only
 * metrics_series_get takes a mutex (at policy load). Every function is
 * thread-safe; metrics_enable and metrics_gauge_source are meant for
 * start-up, before threads.
 */
#ifndef MD_METRICS_H
#define MD_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fixed series; their order is the table's in metrics.c. */
enum metric_id {
	M_RECEIVER_NO_ID,               /* receiver refusals, by reason */
	M_RECEIVER_UNKNOWN,
	M_RECEIVER_REPLAYED,
	M_RECEIVER_MALFORMED,
	M_LATE_COPIES,                  /* copies after their transaction gave up */
	M_QUARANTINE_WRITES,
	M_QUARANTINE_FAILURES,
	M_FAIL_SAFE,                    /* fail-safe verdicts applied */
	M_RELOADS_DONE,
	M_RELOADS_REFUSED,
	M_NEXTHOP_SENT,                 /* the shim's next-hop deliveries, by outcome */
	M_NEXTHOP_DEFERRED,
	M_NEXTHOP_PARTIAL,
	M_NEXTHOP_REFUSED,
	M_POLICY_GENERATION,            /* gauges from here on */
	M_POLICY_LOAD_US,               /* how long the last successful load took */
	M_CONNECTIONS,                  /* open MTA connections or client sessions */
	M_DELEGATIONS_WAITING,
	M_MESSAGES_SPOOLING,            /* messages whose text is being kept */
	M_COUNT
};

/* Verdict labels of metrics_count_message ("continue" at the end is "accept"). */
enum metric_verdict {
	MV_ACCEPT, MV_REJECT, MV_TEMPFAIL, MV_DISCARD, MV_HOLD, MV_QUARANTINE, MV_COUNT
};
#define METRICS_STAGES 6                /* enum stage's STAGE_COUNT (policy.h) */

/* Latency buckets in milliseconds (upper bounds; +Inf follows). */
#define METRICS_BUCKETS 13

struct metrics_histogram {
	atomic_uint_fast64_t bucket[METRICS_BUCKETS + 1];     /* not cumulative; last: +Inf */
	atomic_uint_fast64_t sum_ms;
	atomic_uint_fast64_t count;
};

/* Outcomes of a service's delegations: enum delegate_status's order (txn.h). */
#define METRICS_OUTCOMES 4

/* Outcomes of one try on a pool member: enum pool_outcome's order (pool.h). */
#define METRICS_MEMBER_OUTCOMES 4

/* One named series: a rule's hits, a service's delegations, or a pool member's tries. */
struct metrics_series {
	struct metrics_series *_Atomic next;    /* its family's list, appended under a lock */
	char *name;                     /* the label value; owned */
	char *member;                   /* members: the member's name (NAME is its service) */
	atomic_uint_fast64_t hits;      /* rules */
	atomic_uint_fast64_t outcome[METRICS_OUTCOMES];        /* services; members */
	struct metrics_histogram latency;                       /* services */
	atomic_int_fast64_t pools;      /* members: running pools that have it (gauges shown if > 0) */
	/* members: (writer << 1) | up, one word so that the writer check and
	 * the store are one compare-and-swap. WRITER is the token of the
	 * newest running pool that has it (0: none), UP is 1 up, 0 down. */
	atomic_uint_fast64_t up_state;
	atomic_int_fast64_t active;     /* members: tries running on it now, in every pool */
};

enum metrics_family { METRICS_RULES, METRICS_SERVICES, METRICS_MEMBERS, METRICS_FAMILIES };

/* Families only some daemons have, for metrics_enable. */
#define METRICS_NEXTHOP 1u              /* the shim's next-hop deliveries */

/* metrics_enable - start counting (once, at start-up), with the FEATURES families. */
void metrics_enable(unsigned features);

/* metrics_enabled - is counting on? */
bool metrics_enabled(void);

/* metrics_count - add one to the counter ID. */
void metrics_count(enum metric_id id);

/* metrics_gauge_add - add DELTA (may be negative) to the gauge ID. */
void metrics_gauge_add(enum metric_id id, int64_t delta);

/* metrics_gauge_set - the gauge ID becomes VALUE (counted even when disabled). */
void metrics_gauge_set(enum metric_id id, int64_t value);

/*
 * metrics_gauge_source - read the gauge ID from FN(ARG) at each rendering
 * instead (a front end that already counts, e.g. its connections).
 */
void metrics_gauge_source(enum metric_id id, uint64_t (*fn)(void *arg), void *arg);

/* metrics_count_message - one message ended with VERDICT at STAGE (enum stage). */
void metrics_count_message(enum metric_verdict verdict, unsigned stage);

/* metrics_observe - one latency of MS milliseconds into H. */
void metrics_observe(struct metrics_histogram *h, uint64_t ms);

/* metrics_nexthop_latency - the shim's next-hop latency histogram. */
struct metrics_histogram *metrics_nexthop_latency(void);

/*
 * metrics_series_get - FAMILY's series for NAME (copied), made if new.
 * Takes the registry's mutex: call at policy load, not per message.
 */
struct metrics_series *metrics_series_get(enum metrics_family family, const char *name);

/* metrics_rule_hit - one hit of the rule with series S (NULL: not counted). */
void metrics_rule_hit(struct metrics_series *s);

/* metrics_delegation - one delegation of the service with series S, OUTCOME, MS. */
void metrics_delegation(struct metrics_series *s, unsigned outcome, uint64_t ms);

/*
 * metrics_member_get - the series of pool member MEMBER of SERVICE, made if
 * new, for POOL, which starts (its gauges are shown until every such pool
 * called metrics_member_release; POOL is its metrics_writer_token, and
 * its members start up). During a reload two pools can have one
 * member: member_active sums their tries, and member_up is the newest
 * pool's view (an older one writes it again only once the newer stopped).
 * Takes the registry's mutex.
 */
struct metrics_series *metrics_member_get(const char *service, const char *member,
					  uint64_t pool);

/* metrics_writer_token - a token (never 0, never repeated) for a pool to name itself by. */
uint64_t metrics_writer_token(void);

/* metrics_member_release - POOL, which had S, stopped. */
void metrics_member_release(struct metrics_series *s, uint64_t pool);

/* metrics_member_try - one try on the member S ended with OUTCOME (enum pool_outcome). */
void metrics_member_try(struct metrics_series *s, unsigned outcome);

/* metrics_member_up - POOL sees S up (or not); counted even when disabled. */
void metrics_member_up(struct metrics_series *s, uint64_t pool, bool up);

/* metrics_member_active - DELTA (+1, -1) tries running on S; counted even when disabled. */
void metrics_member_active(struct metrics_series *s, int delta);

/*
 * metrics_render - every series in the Prometheus text format (version
 * 0.0.4), malloc'ed and NUL-terminated; its length in *LEN. The caller
 * frees. NULL when memory ran out (open_memstream).
 */
char *metrics_render(size_t *len);

#endif
