/*
 * shim_daemon.h - the shim's life: load the policy, start the delegation
 * services, the next hop and the SMTP server, go to the background, drop
 * privileges, reload on SIGHUP and drain on SIGTERM.
 */
#ifndef MD_SHIM_DAEMON_H
#define MD_SHIM_DAEMON_H

#include "shim_config.h"
#include "shim_options.h"

/* shim_daemon_run - run until SIGTERM or SIGINT; the exit status. CFG is borrowed. */
int shim_daemon_run(const struct shim_options *opts, const struct shim_config *cfg);

#endif
