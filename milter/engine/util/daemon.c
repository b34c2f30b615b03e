/*
 * daemon.c - become a daemon: signals, fork, pid file, privileges. Shared by
 * milter-delegate and delegate-shim; the order they are called in and what
 * they log are in daemon.h. State: the write end of the pipe the parent
 * waits on, from the fork to daemon_ready().
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static int ready_fd = -1;       /* the child's end of the pipe to the waiting parent */

/* wait_for_child - the parent's part: exit 0 once the child is ready, 1 if it ends first. */
static void wait_for_child(int fd)
{
	char c = 0;
	ssize_t n;

	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	_exit(n == 1 && c == 'R' ? EXIT_SUCCESS : EXIT_FAILURE);
}

/* redirect_to_null - point each of the FDS (-1 ends the list) at /dev/null. */
static void redirect_to_null(const int *fds)
{
	int null = open("/dev/null", O_RDWR);

	if (null < 0)
		return;         /* best effort: a descriptor left on the terminal is harmless */
	for (; *fds >= 0; fds++)
		(void)dup2(null, *fds);
	if (null > STDERR_FILENO)
		close(null);
}

/* daemon_go_background - fork; the parent waits until the child is ready or gone. */
bool daemon_go_background(void)
{
	static const int in[] = { STDIN_FILENO, -1 };
	int pipefd[2];
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		log_msg(LOG_ERR, "pipe: %s", strerror(errno));
		return false;
	}
	if ((pid = fork()) < 0) {
		log_msg(LOG_ERR, "fork: %s", strerror(errno));
		return false;
	}
	if (pid > 0) {
		close(pipefd[1]);
		wait_for_child(pipefd[0]);
	}
	close(pipefd[0]);
	ready_fd = pipefd[1];
	if (setsid() < 0)
		return false;
	redirect_to_null(in);
	return chdir("/") == 0;
}

/* daemon_ready - release the waiting parent; the terminal is ours no more. */
void daemon_ready(void)
{
	static const int out[] = { STDOUT_FILENO, STDERR_FILENO, -1 };

	log_echo_stderr(false);
	if (ready_fd < 0)
		return;
	redirect_to_null(out);
	if (write(ready_fd, "R", 1) != 1) {
		/* The parent is gone: nobody is left to tell. */
	}
	close(ready_fd);
	ready_fd = -1;
}

/* stderr_is_journal - is stderr the stream systemd named in JOURNAL_STREAM ("DEV:INODE")? */
static bool stderr_is_journal(void)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return stream && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 &&
	       fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

/* daemon_echo_start - echo the log to stderr while starting, unless that is the journal. */
void daemon_echo_start(void)
{
	if (!stderr_is_journal())
		log_echo_stderr(true);
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
