/*
 * daemon.h - the steps both daemons (milter-delegate, delegate-shim) take to
 * become a daemon: block the stop and reload signals, fork into the
 * background, write a pid file, drop privileges, and tell the starting
 * shell that start-up is over.
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
 *      every thread of the process, so no thread started as root keeps root;
 *   6. daemon_ready() - start-up is complete.
 * Nothing here includes libmilter; the engine never does.
 *
 * Failing loudly. daemon_go_background() forks, but the parent does not
 * exit at once: it waits until the child calls daemon_ready() (exit 0) or
 * exits (exit 1). Until then the child keeps the terminal's stderr, and the
 * log echoes its syslog lines there (log_echo_stderr), so a start that
 * fails after the fork (a receiver port taken, say) still prints its reason
 * and the starting command still fails.
 *
 * Logging (through log.h): "fork: ERR", "cannot write pid file PATH: ERR",
 * "unknown user USER" and "cannot become user USER: ERR" at LOG_ERR;
 * "cannot chown PATH to USER: ERR" at LOG_WARNING (the daemon goes on);
 * "running as user USER" at LOG_INFO once privileges are dropped.
 *
 * None of these functions is meant for more than one thread: they are
 * called from main during start-up. Paths passed in are borrowed. State:
 * the pipe to the waiting parent, between the fork and daemon_ready().
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
 * daemon_go_background - fork; the parent waits for the child's
 * daemon_ready() and exits 0, or exits 1 if the child ends first. The child
 * starts a new session, points stdin at /dev/null and moves to "/"; its
 * stdout and stderr stay until daemon_ready(). Call before any thread
 * exists. False (in the child, or in the parent if fork failed: "fork: ERR"
 * is logged) when a step fails.
 */
bool daemon_go_background(void);

/*
 * daemon_ready - start-up is over: stop echoing the log to stderr, point
 * stdout and stderr at /dev/null and let the waiting parent exit 0. Does
 * nothing more in the foreground (no daemon_go_background()).
 */
void daemon_ready(void);

/*
 * daemon_echo_start - echo syslog lines to stderr during start-up
 * (log_echo_stderr), unless stderr is systemd's journal (JOURNAL_STREAM),
 * which already gets the syslog lines.
 */
void daemon_echo_start(void);

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
