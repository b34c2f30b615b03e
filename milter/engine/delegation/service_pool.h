/*
 * service_pool.h - a service's pool at run time: for each member the way to
 * reach it (a delegate client for an smtp service, a clamd target for a
 * clamd one), the pool (pool.h) that picks members and keeps their health,
 * and a prober thread that checks every member each health interval (and a
 * member that is down after its backoff): an SMTP member must greet with
 * 220 (clamsmtpd greets only once it has reached our receiver), then gets
 * QUIT; a clamd member must answer zPING with PONG. Probes wait at most
 * the health interval, capped at 3 s. The same thread closes, once a
 * second, the connections kept to an smtp member that have been idle for
 * the service's delegator idle limit.
 *
 * Ownership: service_pool_start copies everything it needs from the
 * service (a reload may free the policy while the pool lives on). Thread
 * safety: any number of delegations use a pool at once; start and stop
 * run in one thread, stop after the last delegation.
 */
#ifndef MD_SERVICE_POOL_H
#define MD_SERVICE_POOL_H

#include <stdbool.h>

#include "clamd_client.h"
#include "delegate_client.h"
#include "policy.h"
#include "pool.h"

struct service_pool;

/* service_pool_start - the pool of S, with its prober thread; NULL if a client or the thread cannot be made. */
struct service_pool *service_pool_start(const struct service *s);

/* service_pool_stop - stop the prober, close the clients, free; NULL ok. */
void service_pool_stop(struct service_pool *sp);

/* service_pool_serves - is SP the pool of S as configured now (name, type, members, balance)? */
bool service_pool_serves(const struct service_pool *sp, const struct service *s);

/* service_pool_pool - the member picker and health of SP. */
struct pool *service_pool_pool(struct service_pool *sp);

/* service_pool_client - member I's delegate client (smtp services). */
struct delegate_client *service_pool_client(struct service_pool *sp, size_t i);

/* service_pool_clamd - member I as a clamd target (clamd services). */
struct clamd_target service_pool_clamd(const struct service_pool *sp, size_t i);

/* service_pool_send_outcome - what a delegate client's RES says about the member (pool.h). */
enum pool_outcome service_pool_send_outcome(const struct delegate_send_result *res);

/* service_pool_scan_outcome - what a clamd RES says about the member (pool.h). */
enum pool_outcome service_pool_scan_outcome(const struct clamd_result *res);

#endif
