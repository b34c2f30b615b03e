/*
 * milter_callbacks.h - the libmilter callbacks that drive the engine.
 *
 * Each MTA connection gets a struct txn (engine) in libmilter's private
 * data, created at connect and freed at close. This file and milter_daemon.c
 * are the only ones that include <libmilter/mfapi.h>.
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
