/*
 * pool.c - member selection, health and backoff for a service's pool.
 * See pool.h.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "correlation.h"        /* corr_now_ms */
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "xalloc.h"

struct member {
	char *name;
	bool up;
	bool probing;                   /* handed out by pool_probes_due, not reported yet */
	unsigned active;
	unsigned failures;
	uint64_t next_probe_ms;
	unsigned long served, failed;
	struct metrics_series *metrics; /* its tries, up and active (metrics.h) */
};

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t freed;           /* a slot was given back */
	struct pool_config cfg;         /* names and service point at our copies */
	char *service;
	size_t next;                    /* round robin: where the next delegation starts */
	struct member *members;
	uint64_t metrics_writer;        /* names this pool to its members' gauges */
};

_Static_assert(POOL_UNCERTAIN + 1 == METRICS_MEMBER_OUTCOMES, "one metrics outcome per pool outcome");

/* backoff_ms - the wait before the next probe of a member that failed FAILURES times. */
static uint64_t backoff_ms(const struct pool_config *cfg, unsigned failures)
{
	uint64_t wait = cfg->interval_ms;

	for (unsigned i = 1; i < failures && wait < cfg->backoff_max_ms; i++)
		wait *= 2;
	return wait < cfg->backoff_max_ms ? wait : cfg->backoff_max_ms;
}

/* pool_new - every member up. */
struct pool *pool_new(const struct pool_config *cfg, uint64_t now_ms)
{
	struct pool *p = xcalloc(1, sizeof(*p));
	pthread_condattr_t attr;

	p->cfg = *cfg;
	p->service = xstrdup(cfg->service ? cfg->service : "?");
	p->cfg.service = p->service;
	p->cfg.names = NULL;
	p->members = xcalloc(cfg->members ? cfg->members : 1, sizeof(*p->members));
	p->metrics_writer = metrics_writer_token();
	for (size_t i = 0; i < cfg->members; i++) {
		p->members[i].name = xstrdup(cfg->names && cfg->names[i] ? cfg->names[i] : "?");
		p->members[i].up = true;
		p->members[i].next_probe_ms = now_ms + cfg->interval_ms;
		p->members[i].metrics = metrics_member_get(p->service, p->members[i].name,
							   p->metrics_writer);
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->freed, &attr);
	pthread_condattr_destroy(&attr);
	return p;
}

/* pool_free - free P. */
void pool_free(struct pool *p)
{
	if (!p)
		return;
	pthread_cond_destroy(&p->freed);
	pthread_mutex_destroy(&p->lock);
	for (size_t i = 0; i < p->cfg.members; i++) {
		metrics_member_active(p->members[i].metrics, -(int)p->members[i].active);
		metrics_member_release(p->members[i].metrics, p->metrics_writer);
		free(p->members[i].name);
	}
	free(p->members);
	free(p->service);
	free(p);
}

/* pool_acquire - the first candidate from the balancing start (lock taken here). */
enum pool_pick pool_acquire(struct pool *p, const bool *tried, size_t *member)
{
	size_t n = p->cfg.members, start;
	bool any_up = false, untried_up = false;
	enum pool_pick pick = POOL_ALL_DOWN;

	pthread_mutex_lock(&p->lock);
	start = p->cfg.balance == BALANCE_ROUND_ROBIN ? p->next % n : 0;
	for (size_t k = 0; k < n && pick != POOL_PICKED; k++) {
		size_t i = (start + k) % n;
		struct member *m = &p->members[i];

		any_up |= m->up;
		if (!m->up || tried[i])
			continue;
		untried_up = true;
		if (p->cfg.max_concurrent && m->active >= p->cfg.max_concurrent)
			continue;
		m->active++;
		metrics_member_active(m->metrics, 1);
		*member = i;
		pick = POOL_PICKED;
	}
	if (pick == POOL_PICKED && p->cfg.balance == BALANCE_ROUND_ROBIN)
		p->next = *member + 1;
	else if (pick != POOL_PICKED)
		pick = !any_up ? POOL_ALL_DOWN : untried_up ? POOL_BUSY : POOL_EXHAUSTED;
	pthread_mutex_unlock(&p->lock);
	return pick;
}

/* mark - M is healthy or not at NOW_MS (lock held); the change. */
static enum pool_change mark(const struct pool *p, struct member *m, bool healthy, uint64_t now_ms)
{
	bool was_up = m->up;

	m->up = healthy;
	m->failures = healthy ? 0 : m->failures + 1;
	m->next_probe_ms = now_ms + (healthy ? p->cfg.interval_ms : backoff_ms(&p->cfg, m->failures));
	if (was_up == healthy)
		return POOL_SAME;
	return healthy ? POOL_CAME_BACK : POOL_WENT_DOWN;
}

/* note_change - log what CHANGE did to member I (WHY: the failure). */
static void note_change(const struct pool *p, size_t i, enum pool_change change, const char *why)
{
	const struct member *m = &p->members[i];

	if (change == POOL_WENT_DOWN)
		log_msg(LOG_WARNING, "service %s: member %s is down (%s); next probe in %llu ms",
			p->service, m->name, why ? why : "?",
			(unsigned long long)backoff_ms(&p->cfg, m->failures));
	else if (change == POOL_CAME_BACK)
		log_msg(LOG_NOTICE, "service %s: member %s is up again (served %lu, failed %lu so far)",
			p->service, m->name, m->served, m->failed);
}

/* pool_outcome_retries - only a member that cannot have the message lets another try. */
bool pool_outcome_retries(enum pool_outcome outcome)
{
	return outcome == POOL_DEFERRED;
}

/* pool_done - give MEMBER's slot back and note its health. */
enum pool_change pool_done(struct pool *p, size_t member, enum pool_outcome outcome,
			   const char *why, uint64_t now_ms)
{
	struct member *m = &p->members[member];
	bool healthy = outcome == POOL_ACCEPTED || outcome == POOL_REFUSED;
	enum pool_change change;

	pthread_mutex_lock(&p->lock);
	if (m->active > 0) {
		m->active--;
		metrics_member_active(m->metrics, -1);
	}
	if (outcome == POOL_ACCEPTED)
		m->served++;
	else if (!healthy)
		m->failed++;
	/* A success says nothing new about a member that is up: keep its probe time. */
	change = healthy && m->up ? POOL_SAME : mark(p, m, healthy, now_ms);
	note_change(p, member, change, why);
	metrics_member_try(m->metrics, outcome);
	metrics_member_up(m->metrics, p->metrics_writer, m->up);
	pthread_cond_broadcast(&p->freed);
	pthread_mutex_unlock(&p->lock);
	return change;
}

/* pool_wait - until a slot is freed or UNTIL_MS. */
void pool_wait(struct pool *p, uint64_t until_ms)
{
	struct timespec ts = { .tv_sec = (time_t)(until_ms / 1000),
			       .tv_nsec = (long)(until_ms % 1000) * 1000000L };

	pthread_mutex_lock(&p->lock);
	pthread_cond_timedwait(&p->freed, &p->lock, &ts);
	pthread_mutex_unlock(&p->lock);
}

/* pool_probes_due - members whose probe time has come, each handed out once. */
size_t pool_probes_due(struct pool *p, uint64_t now_ms, size_t *out, size_t cap,
		       uint64_t *next_ms)
{
	size_t count = 0;

	pthread_mutex_lock(&p->lock);
	*next_ms = UINT64_MAX;
	for (size_t i = 0; i < p->cfg.members; i++) {
		struct member *m = &p->members[i];

		if (m->probing)
			continue;
		if (m->next_probe_ms <= now_ms && count < cap) {
			m->probing = true;
			out[count++] = i;
		} else if (m->next_probe_ms < *next_ms) {
			*next_ms = m->next_probe_ms;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return count;
}

/* pool_probed - a probe's result. */
enum pool_change pool_probed(struct pool *p, size_t member, bool healthy, const char *why,
			     uint64_t now_ms)
{
	enum pool_change change;

	pthread_mutex_lock(&p->lock);
	p->members[member].probing = false;
	change = mark(p, &p->members[member], healthy, now_ms);
	note_change(p, member, change, why);
	metrics_member_up(p->members[member].metrics, p->metrics_writer, p->members[member].up);
	pthread_mutex_unlock(&p->lock);
	return change;
}

/* pool_stats - a snapshot of MEMBER. */
void pool_stats(struct pool *p, size_t member, struct pool_member_stats *out)
{
	const struct member *m = &p->members[member];

	pthread_mutex_lock(&p->lock);
	*out = (struct pool_member_stats){
		.up = m->up, .active = m->active, .failures = m->failures,
		.next_probe_ms = m->next_probe_ms, .served = m->served, .failed = m->failed,
	};
	pthread_mutex_unlock(&p->lock);
}

/* pool_member_name - MEMBER's name. */
const char *pool_member_name(const struct pool *p, size_t member)
{
	return p->members[member].name;
}

/* pool_pick_reason - a stopped run, in words. */
const char *pool_pick_reason(enum pool_pick pick)
{
	static const char *const why[] = {
		[POOL_PICKED] = "done", [POOL_ALL_DOWN] = "every member is down",
		[POOL_BUSY] = "every member is at its max_concurrent until the timeout",
		[POOL_EXHAUSTED] = "every member that is up was tried",
	};

	return why[pick];
}

/* wait_for_slot - sleep until a slot may be free or DEADLINE_MS, ticking; false at the deadline. */
static bool wait_for_slot(struct pool *p, uint64_t deadline_ms, void (*tick)(void *),
			  void *tick_arg, unsigned tick_ms)
{
	uint64_t now = corr_now_ms(), until = now + (tick_ms ? tick_ms : 1000);

	if (now >= deadline_ms)
		return false;
	pool_wait(p, until < deadline_ms ? until : deadline_ms);
	if (tick && corr_now_ms() >= until)
		tick(tick_arg);
	return true;
}

/* pool_run - attempt members until an outcome is final, none is left, or the deadline. */
void pool_run(struct pool *p, uint64_t deadline_ms, pool_attempt_fn attempt, void *arg,
	      void (*tick)(void *), void *tick_arg, unsigned tick_ms,
	      struct pool_run_result *out)
{
	bool tried[SERVICE_MAX_MEMBERS] = { false };
	char why[256];
	size_t member;

	*out = (struct pool_run_result){ .stopped = POOL_EXHAUSTED };
	for (;;) {
		enum pool_pick pick = pool_acquire(p, tried, &member);

		if (pick == POOL_BUSY && wait_for_slot(p, deadline_ms, tick, tick_arg, tick_ms))
			continue;
		if (pick != POOL_PICKED) {
			out->stopped = pick;
			return;
		}
		tried[member] = true;
		out->attempts++;
		out->member = member;
		why[0] = '\0';
		out->outcome = attempt(arg, member, why, sizeof(why));
		pool_done(p, member, out->outcome, why, corr_now_ms());
		if (!pool_outcome_retries(out->outcome) || corr_now_ms() >= deadline_ms) {
			out->stopped = POOL_PICKED;
			return;
		}
	}
}
