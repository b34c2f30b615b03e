/*
 * milter_hooks.c - the engine services every milter transaction uses: the
 * delegation runtime (receivers, clients) and the quarantine store.
 *
 * The runtime is created once in the main thread before libmilter starts
 * and freed after it stopped; in between it is only read (and updated under
 * its own lock after a reload). The reload thread never ends: runtime_lock
 * keeps a SIGHUP at shutdown from updating a runtime being freed.
 */
#include <pthread.h>
#include <stddef.h>

#include "delegation.h"
#include "log.h"
#include "milter_callbacks.h"
#include "milter_hooks.h"
#include "policy_store.h"
#include "quarantine.h"

static struct delegation *runtime;
static pthread_mutex_t runtime_lock = PTHREAD_MUTEX_INITIALIZER;       /* reload against stop */

/* milter_hooks_start - start the delegation runtime and install the hooks. */
bool milter_hooks_start(void)
{
	struct policy *p = policy_store_current();
	char err[512];
	struct txn_env env = { .delegate = delegation_run, .quarantine = quarantine_store };

	runtime = p ? delegation_start(p, err, sizeof(err)) : NULL;
	policy_unref(p);
	if (!runtime) {
		log_msg(LOG_ERR, "cannot start delegation services: %s", p ? err : "no policy");
		return false;
	}
	env.service_arg = runtime;
	milter_set_hooks(&env);
	return true;
}

/* milter_hooks_reloaded - start what the reloaded policy's new services need. */
void milter_hooks_reloaded(void)
{
	struct policy *p = policy_store_current();
	char err[512];

	pthread_mutex_lock(&runtime_lock);
	if (p && runtime && !delegation_update(runtime, p, err, sizeof(err)))
		log_msg(LOG_ERR, "after reload: %s", err);
	pthread_mutex_unlock(&runtime_lock);
	policy_unref(p);
}

/* milter_hooks_stop - stop receivers and clients. */
void milter_hooks_stop(void)
{
	pthread_mutex_lock(&runtime_lock);
	delegation_stop(runtime);
	runtime = NULL;
	pthread_mutex_unlock(&runtime_lock);
}
