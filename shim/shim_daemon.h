/*
 * shim_daemon.h - the shim's life: load the policy, start the delegation
 * services, the next hop and the SMTP server, go to the background, drop
 * privileges, reload on SIGHUP and drain on SIGTERM.
 */
#ifndef MD_SHIM_DAEMON_H
#define MD_SHIM_DAEMON_H

#include "shim_config.h"
#include "shim_options.h"

#include "daemon_check.h"
#include "policy.h"

/*
 * shim_daemon_check - what start-up needs besides valid settings: the user
 * of -u, P's folders and receivers, the pid file's folder (daemon_check.h).
 * DAEMON_CHECK (-t) changes nothing; DAEMON_PREPARE creates missing
 * folders. Every error goes into ERRS; true if there was none.
 */
bool shim_daemon_check(const struct shim_options *opts, const struct policy *p,
		       enum daemon_check_mode mode, struct load_errors *errs);

/* shim_daemon_run - run until SIGTERM or SIGINT; the exit status. CFG is borrowed. */
int shim_daemon_run(const struct shim_options *opts, const struct shim_config *cfg);

#endif
