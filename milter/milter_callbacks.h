/*
 * milter_callbacks.h - the libmilter callbacks that drive the engine.
 *
 * Each MTA connection gets a struct txn (engine) in libmilter's private
 * data, created at negotiation (at connect if the MTA did not negotiate
 * with us) and freed at close. It holds the connection's one reference to
 * the policy current at its negotiation, so the stages the MTA was told to
 * send and the rules that run always come from the same policy; a reload
 * applies to the connections that begin after it. Only the milter's own
 * files (milter/milter_*) include <libmilter/mfapi.h>, never the engine.
 */
#ifndef MD_MILTER_CALLBACKS_H
#define MD_MILTER_CALLBACKS_H

#include <libmilter/mfapi.h>

#include "txn.h"

/* milter_description - the filter description for smfi_register. */
struct smfiDesc *milter_description(void);

/* milter_active_connections - MTA connections open right now. */
unsigned milter_active_connections(void);

/*
 * milter_set_hooks - the engine services (delegation, quarantine) used by
 * every transaction; their arg is the SMFICTX of the current callback.
 */
void milter_set_hooks(const struct txn_env *env);

#endif
