/*
 * milter_daemon.h - run milter-delegate as a daemon: socket, privileges,
 * signals (SIGHUP reload, SIGTERM stop), libmilter's main loop.
 */
#ifndef MD_MILTER_DAEMON_H
#define MD_MILTER_DAEMON_H

#include "milter_options.h"

/* milter_daemon_run - run until stopped; returns the exit status. */
int milter_daemon_run(const struct milter_options *opts);

#endif
