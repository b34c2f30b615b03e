/*
 * milter_daemon.h - run milter-delegate as a daemon: socket, privileges,
 * signals (SIGHUP reload, SIGTERM stop), libmilter's main loop.
 */
#ifndef MD_MILTER_DAEMON_H
#define MD_MILTER_DAEMON_H

#include "milter_options.h"

#include "daemon_check.h"
#include "policy.h"

/*
 * milter_daemon_check - what start-up needs besides a valid policy P: the
 * user of -u, P's folders and receivers, the pid file's folder, the socket
 * (daemon_check.h, milter_socket.h). DAEMON_CHECK (-t) changes nothing;
 * DAEMON_PREPARE creates missing folders. Every error goes into ERRS; true
 * if there was none.
 */
bool milter_daemon_check(const struct milter_options *opts, const struct policy *p,
			 enum daemon_check_mode mode, struct load_errors *errs);

/* milter_daemon_run - run until stopped; returns the exit status. */
int milter_daemon_run(const struct milter_options *opts);

#endif
