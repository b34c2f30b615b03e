/*
 * policy_store.h - the current policy of a running daemon, swapped
 * atomically on reload.
 *
 * policy_store_current() hands out a new reference to whatever policy is
 * current; a reload loads the file again and, only if it has no error at all,
 * makes it current. Transactions that hold the old policy keep it until they
 * drop their reference. All functions are thread-safe (one mutex, held only
 * for the pointer swap).
 */
#ifndef MD_POLICY_STORE_H
#define MD_POLICY_STORE_H

#include <stdbool.h>

#include "policy.h"

/* policy_store_init - load PATH as the first policy; false (errors logged) if invalid. */
bool policy_store_init(const char *path);

/* policy_store_current - a new reference to the current policy (policy_unref it). */
struct policy *policy_store_current(void);

/* policy_store_reload - load the file again; on any error keep the old policy. */
bool policy_store_reload(void);

/* policy_store_shutdown - drop the store's reference. */
void policy_store_shutdown(void);

#endif
