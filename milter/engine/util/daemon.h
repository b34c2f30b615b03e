/*
 * daemon.h - the steps both daemons (milter-delegate, delegate-shim) take to
 * become a daemon: block the stop and reload signals, fork into the
 * background, write a pid file, drop privileges.
 *
 * Contract. A daemon calls them in this order:
 *   1. open its listening sockets as root, so it may bind any port or path
 *      (milter-delegate opens its socket before the fork; delegate-shim binds
 *      after step 3, when it starts its server; either way before step 5);
 *   2. daemon_go_background() - fork before any thread exists (only the
 *      calling thread survives a fork), then daemon_write_pid_file();
 *   3. daemon_block_signals() - still before any thread, so that every
 *      thread inherits the mask and only the daemon's signal thread (or
 *      sigwait loop) receives SIGHUP, SIGTERM and SIGINT; a thread with
 *      SIGTERM unblocked would be killed by it;
 *   4. start its threads;
 *   5. daemon_drop_privileges() - last: glibc applies setresuid/setresgid to
 *      every thread of the process, so no thread started as root keeps root.
 * Nothing here includes libmilter; the engine never does.
 *
 * Logging (through log.h): "fork: ERR", "cannot write pid file PATH: ERR",
 * "unknown user USER" and "cannot become user USER: ERR" at LOG_ERR;
 * "cannot chown PATH to USER: ERR" at LOG_WARNING (the daemon goes on);
 * "running as user USER" at LOG_INFO once privileges are dropped.
 *
 * None of these functions is meant for more than one thread: they are
 * called from main during start-up. Paths passed in are borrowed.
 */
#ifndef MD_DAEMON_H
#define MD_DAEMON_H

#include <signal.h>
#include <stdbool.h>

/* daemon_signal_set - SET becomes the daemon's signals: SIGHUP, SIGTERM, SIGINT. */
void daemon_signal_set(sigset_t *set);

/*
 * daemon_block_signals - block daemon_signal_set() in the calling thread,
 * before any other thread exists, so that every thread inherits the mask.
 * False if pthread_sigmask fails.
 */
bool daemon_block_signals(void);

/*
 * daemon_go_background - fork; the parent exits 0 at once, the child starts
 * a new session, points stdin/stdout/stderr at /dev/null and moves to "/".
 * Call before any thread exists. False (in the child, or in the parent if
 * fork failed: "fork: ERR" is logged) when a step fails.
 */
bool daemon_go_background(void);

/* daemon_write_pid_file - PATH gets our process id and a newline; false (logged) on failure. */
bool daemon_write_pid_file(const char *path);

/*
 * daemon_drop_privileges - chown each of the NULL-terminated PATHS (folders
 * and sockets the daemon writes to; may be NULL) to USER and its group, then
 * become USER: its group as the only supplementary group, real, effective
 * and saved ids. Call last, after the sockets are open and the threads
 * started. False (logged) if the user is unknown or the ids cannot be
 * changed; a failed chown is only a warning.
 */
bool daemon_drop_privileges(const char *user, const char *const *paths);

#endif
