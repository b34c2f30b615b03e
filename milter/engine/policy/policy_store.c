/*
 * policy_store.c - the daemon's current policy behind one mutex.
 *
 * This is the one piece of global mutable state of a daemon: the pointer to
 * the current policy (and its file name). The mutex guards both; loading a
 * new policy happens outside it.
 *
 * Metrics: before a loaded policy is published, each of its rules and
 * services gets its named series (metrics.h; the registry's lock is taken
 * here, at load, never per message); the generation, the load time and
 * the reloads done or refused are counted here.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "policy_load.h"
#include "policy_store.h"
#include "xalloc.h"

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static struct policy *store_current;
static char *store_path;

static void bind_rules(const struct rule_list *rules);

/* bind_actions - the rules inside L's delegations (follow-ups) get their series. */
static void bind_actions(const struct action_list *l)
{
	for (size_t i = 0; i < l->count; i++) {
		const struct delegate_spec *d = &l->items[i].u.delegate;

		if (l->items[i].kind != ACT_DELEGATE)
			continue;
		bind_rules(&d->followup);
		bind_actions(&d->on_error);
		bind_actions(&d->on_timeout);
		bind_actions(&d->on_missing);
	}
}

/* bind_rules - each rule of RULES (and those nested in its actions) gets its series. */
static void bind_rules(const struct rule_list *rules)
{
	for (size_t i = 0; i < rules->count; i++) {
		struct rule *r = &rules->items[i];

		r->metrics = metrics_series_get(METRICS_RULES, r->name);
		bind_actions(&r->then);
		bind_actions(&r->otherwise);
	}
}

/* bind_metrics - P's rules and services get their named series, before P is shared. */
static void bind_metrics(struct policy *p)
{
	for (size_t i = 0; i < STAGE_COUNT; i++)
		bind_rules(&p->stages[i]);
	for (size_t i = 0; i < p->service_count; i++)
		p->services[i].metrics = metrics_series_get(METRICS_SERVICES, p->services[i].name);
}

/* now_us - a monotonic clock in microseconds. */
static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* load_logged - load PATH, logging each error; NULL if any. Bound and counted when loaded. */
static struct policy *load_logged(const char *path)
{
	static int64_t generation;      /* only the loading thread (start-up, reloads) */
	struct load_errors errs = { 0 };
	int64_t start = now_us();
	struct policy *p = policy_load_file(path, &errs);

	for (size_t i = 0; i < errs.count; i++)
		log_msg(LOG_ERR, "%s", errs.items[i]);
	load_errors_free(&errs);
	if (p) {
		bind_metrics(p);
		metrics_gauge_set(M_POLICY_LOAD_US, now_us() - start);
		metrics_gauge_set(M_POLICY_GENERATION, ++generation);
	}
	return p;
}

/* policy_store_init - load the first policy. */
bool policy_store_init(const char *path)
{
	struct policy *p = load_logged(path);
	char summary[512];

	if (!p)
		return false;
	policy_summary(p, summary, sizeof(summary));
	log_msg(LOG_INFO, "policy loaded: %s", summary);
	pthread_mutex_lock(&store_lock);
	free(store_path);
	store_path = xstrdup(path);
	policy_unref(store_current);
	store_current = p;
	pthread_mutex_unlock(&store_lock);
	return true;
}

/* policy_store_current - a new reference to the current policy. */
struct policy *policy_store_current(void)
{
	struct policy *p;

	pthread_mutex_lock(&store_lock);
	p = store_current ? policy_ref(store_current) : NULL;
	pthread_mutex_unlock(&store_lock);
	return p;
}

/* policy_store_reload - load the file again; keep the old policy on error. */
bool policy_store_reload(void)
{
	char *path;
	struct policy *p, *old;
	char summary[512];

	pthread_mutex_lock(&store_lock);
	path = store_path ? xstrdup(store_path) : NULL;
	pthread_mutex_unlock(&store_lock);
	if (!path)
		return false;
	p = load_logged(path);
	metrics_count(p ? M_RELOADS_DONE : M_RELOADS_REFUSED);
	if (!p) {
		log_msg(LOG_ERR, "reload of %s refused: the policy in use is kept", path);
		free(path);
		return false;
	}
	free(path);
	policy_summary(p, summary, sizeof(summary));
	pthread_mutex_lock(&store_lock);
	old = store_current;
	store_current = p;
	pthread_mutex_unlock(&store_lock);
	policy_unref(old);
	log_msg(LOG_NOTICE, "policy reloaded: %s", summary);
	return true;
}

/* policy_store_shutdown - drop the store's reference. */
void policy_store_shutdown(void)
{
	pthread_mutex_lock(&store_lock);
	policy_unref(store_current);
	store_current = NULL;
	free(store_path);
	store_path = NULL;
	pthread_mutex_unlock(&store_lock);
}
