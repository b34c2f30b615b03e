/*
 * milter_hooks.h - wire the engine's services (delegation, quarantine) into
 * the milter's transactions, and start/stop what they need to run.
 */
#ifndef MD_MILTER_HOOKS_H
#define MD_MILTER_HOOKS_H

#include <stdbool.h>

/* milter_hooks_start - start receivers and clients, install the hooks; false on failure (logged). */
bool milter_hooks_start(void);

/* milter_hooks_reloaded - after a reload: start what new services need. */
void milter_hooks_reloaded(void);

/* milter_hooks_stop - stop the services (after the last transaction). */
void milter_hooks_stop(void);

#endif
