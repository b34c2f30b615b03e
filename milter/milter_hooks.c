/*
 * milter_hooks.c - the engine services every milter transaction uses: the
 * delegation runtime (receivers, clients) and the quarantine store.
 *
 * The runtime is created once in the main thread before libmilter starts
 * and freed after it stopped; in between it is only read (and updated under
 * its own lock after a reload).
 */
#include <stddef.h>

#include "delegation.h"
#include "log.h"
#include "milter_callbacks.h"
#include "milter_hooks.h"
#include "policy_store.h"
#include "quarantine.h"

static struct delegation *runtime;

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

	if (p && runtime && !delegation_update(runtime, p, err, sizeof(err)))
		log_msg(LOG_ERR, "after reload: %s (delegations to that service will fail)", err);
	policy_unref(p);
}

/* milter_hooks_stop - stop receivers and clients. */
void milter_hooks_stop(void)
{
	delegation_stop(runtime);
	runtime = NULL;
}
