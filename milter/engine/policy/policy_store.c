/*
 * policy_store.c - the daemon's current policy behind one mutex.
 *
 * This is the one piece of global mutable state of a daemon: the pointer to
 * the current policy (and its file name). The mutex guards both; loading a
 * new policy happens outside it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy_load.h"
#include "policy_store.h"
#include "xalloc.h"

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static struct policy *store_current;
static char *store_path;

/* load_logged - load PATH, logging each error; NULL if any. */
static struct policy *load_logged(const char *path)
{
	struct load_errors errs = { 0 };
	struct policy *p = policy_load_file(path, &errs);

	for (size_t i = 0; i < errs.count; i++)
		log_msg(LOG_ERR, "%s", errs.items[i]);
	load_errors_free(&errs);
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
