/*
 * daemon.c - become a daemon: signals, fork, pid file, privileges. Shared by
 * milter-delegate and delegate-shim; the order they are called in and what
 * they log are in daemon.h. Holds no state.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

/* daemon_signal_set - the signals the daemons block and wait for. */
void daemon_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

/* daemon_block_signals - block them here, before any thread exists, so every thread inherits it. */
bool daemon_block_signals(void)
{
	sigset_t set;

	daemon_signal_set(&set);
	return pthread_sigmask(SIG_BLOCK, &set, NULL) == 0;
}

/* daemon_go_background - fork, let the parent exit, detach from the terminal. */
bool daemon_go_background(void)
{
	pid_t pid = fork();
	int null;

	if (pid < 0) {
		log_msg(LOG_ERR, "fork: %s", strerror(errno));
		return false;
	}
	if (pid > 0)
		_exit(EXIT_SUCCESS);
	if (setsid() < 0)
		return false;
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		/* Best effort: a descriptor left on the terminal is harmless. */
		(void)dup2(null, STDIN_FILENO);
		(void)dup2(null, STDOUT_FILENO);
		(void)dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	return chdir("/") == 0;
}

/* daemon_write_pid_file - PATH gets our process id. */
bool daemon_write_pid_file(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
		log_msg(LOG_ERR, "cannot write pid file %s: %s", path, strerror(errno));
		return false;
	}
	return true;
}

/* give_to - chown PATH to PW (the run-as user must write there); warn on failure. */
static void give_to(const char *path, const struct passwd *pw)
{
	if (chown(path, pw->pw_uid, pw->pw_gid) != 0)
		log_msg(LOG_WARNING, "cannot chown %s to %s: %s", path, pw->pw_name, strerror(errno));
}

/* daemon_drop_privileges - hand USER the PATHS it writes to, then become USER. */
bool daemon_drop_privileges(const char *user, const char *const *paths)
{
	struct passwd *pw = getpwnam(user);

	if (!pw) {
		log_msg(LOG_ERR, "unknown user %s", user);
		return false;
	}
	for (; paths && *paths; paths++)
		give_to(*paths, pw);
	if (setgroups(1, &pw->pw_gid) != 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
		log_msg(LOG_ERR, "cannot become user %s: %s", user, strerror(errno));
		return false;
	}
	log_msg(LOG_INFO, "running as user %s", user);
	return true;
}
