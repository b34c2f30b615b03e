/*
 * policy_load_pool.h - the loader's reading of a service's pool: the
 * delegator address or list of addresses with its balancing, health check
 * and concurrency keys, and the receiver's allow-list. Used by
 * policy_load_service.c only (loader-internal, like policy_load_ctx.h).
 */
#ifndef MD_POLICY_LOAD_POOL_H
#define MD_POLICY_LOAD_POOL_H

#include "policy_load_ctx.h"

/* load_duration - OBJ.KEY as a positive duration in ms, DEFAULT_MS when absent (policy_load_service.c). */
bool load_duration(struct load_ctx *c, json_t *obj, const char *key, uint64_t default_ms,
		   uint64_t *out);

/* load_pool - DELEGATOR's "address" (one or a list), "balance", "max_concurrent", "health_interval", "backoff_max". */
void load_pool(struct load_ctx *c, json_t *delegator, struct service *s);

/* load_receiver_allow - SERVICE's "receiver_allow": networks whose copies the receiver takes. */
void load_receiver_allow(struct load_ctx *c, json_t *service, struct service *s);

#endif
