/*
 * delegation.h - run delegations for transactions: send the message to the
 * service's delegator, wait for the filtered copy on our receiver, and tell
 * the engine what came of it.
 *
 * One struct delegation serves a whole daemon. It runs one pool per
 * service (service_pool: a delegate client or clamd target per member, the
 * member picker and health, a prober thread), one receiver per distinct
 * receiver address (receiver), and the correlation table they share. A
 * pool is bound to each policy that has its service (struct service's
 * runtime) and held by it: after a reload that changes or drops a service,
 * its old pool serves the messages still on the old policy and stops when
 * the last of them ends; an unchanged service keeps its pool. A try
 * that fails before the member accepted the message goes to another member
 * of the pool (pool.h); a clamd service scans instead of sending and its
 * verdict comes back as fields (clamd_service.h). delegation_run() is the
 * engine's txn_env.delegate hook (its service_arg is the struct
 * delegation); it blocks the calling transaction's thread, which sleeps on
 * its correlation entry and calls txn_progress() every few seconds.
 *
 * How a delegation ends (struct delegate_result):
 *   the copy arrived                        DELEGATE_COPY (unless refused)
 *   delegator answered 2xx, no copy within
 *     the service's grace period             DELEGATE_MISSING
 *   delegator refused (4xx/5xx), or the
 *     connection failed (on every member
 *     tried), or every member is down        DELEGATE_ERROR (reply in detail)
 *   a clamd service answered                 DELEGATE_VERDICT (its fields)
 *   no answer and no copy within timeout     DELEGATE_TIMEOUT
 *
 * Thread-safe: any number of transactions delegate at once. Start and stop
 * run in the main thread; update (after a reload) may run in any thread.
 */
#ifndef MD_DELEGATION_H
#define MD_DELEGATION_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"
#include "txn.h"

struct delegation;

/*
 * delegation_start - clients and receivers for every service of P. Binding
 * a receiver can fail (port taken): NULL, with the reason in ERR.
 */
struct delegation *delegation_start(const struct policy *p, char *err, size_t errlen);

/*
 * delegation_update - after a reload: bind P's services to their pools,
 * starting those that are new or changed, and let go of the pools P no
 * longer has (each stops once no policy holds it). Receivers already
 * running are kept; one whose settings changed is replaced. False when a
 * receiver cannot start: ERR says why and what follows ("service av:
 * receiver 127.0.0.1:10025 keeps its old receiver_allow: ...", or that
 * the service's delegations fail); the services that did start are kept.
 */
bool delegation_update(struct delegation *d, const struct policy *p, char *err, size_t errlen);

/* delegation_stop - stop the receivers and free everything; D may be NULL. */
void delegation_stop(struct delegation *d);

/* delegation_run - txn_env.delegate: delegate T's current message per SPEC. */
void delegation_run(void *delegation, struct txn *t, const struct delegate_spec *spec,
		    struct delegate_result *out);

#endif
