/*
 * milter_daemon.c - the daemon's life: load the policy, open the milter
 * socket, go to the background, drop privileges, handle signals, run
 * libmilter's loop and shut down cleanly.
 *
 * Signals. libmilter's own signal thread stops the milter on SIGTERM and
 * SIGINT, but it would also stop on SIGHUP. milter-delegate links libmilter
 * statically and wraps its sigwait() (ld --wrap) so that SIGHUP is left to
 * our own thread, which reloads the policy. After smfi_main() returns,
 * transactions in flight get the grace period to finish; whatever is still
 * running then is cut off, and the MTA applies its milter_default_action
 * (tempfail by default) to it, so no message is lost.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "milter_callbacks.h"
#include "milter_daemon.h"
#include "milter_hooks.h"
#include "policy_store.h"

int __real_sigwait(const sigset_t *set, int *sig);
int __wrap_sigwait(const sigset_t *set, int *sig);

/* __wrap_sigwait - libmilter's signal thread, minus SIGHUP (ours: reload). */
int __wrap_sigwait(const sigset_t *set, int *sig)
{
	sigset_t narrowed = *set;

	sigdelset(&narrowed, SIGHUP);
	return __real_sigwait(&narrowed, sig);
}

/* reload_thread - wait for SIGHUP and reload the policy, forever. */
static void *reload_thread(void *arg)
{
	sigset_t hup;
	int sig;

	(void)arg;
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	for (;;) {
		if (__real_sigwait(&hup, &sig) == 0 && sig == SIGHUP) {
			log_msg(LOG_NOTICE, "SIGHUP: reloading the policy");
			if (policy_store_reload())
				milter_hooks_reloaded();
		}
	}
	return NULL;
}

/* start_reload_thread - the thread that waits for SIGHUP. */
static bool start_reload_thread(void)
{
	pthread_t tid;

	if (pthread_create(&tid, NULL, reload_thread, NULL) != 0) {
		log_msg(LOG_ERR, "cannot start the reload thread");
		return false;
	}
	pthread_detach(tid);
	return true;
}

/* drop_privileges - become USER, handing it the socket if it is a file (after it is open). */
static bool drop_privileges(const char *user, const char *socket_spec)
{
	const char *paths[2] = { NULL, NULL };

	if (strncmp(socket_spec, "unix:", 5) == 0 || strncmp(socket_spec, "local:", 6) == 0)
		paths[0] = strchr(socket_spec, ':') + 1;
	return daemon_drop_privileges(user, paths);
}

/* open_milter_socket - register with libmilter and open the socket. */
static bool open_milter_socket(const struct milter_options *o)
{
	if (smfi_register(*milter_description()) != MI_SUCCESS) {
		log_msg(LOG_ERR, "smfi_register failed");
		return false;
	}
	if (smfi_setconn((char *)o->socket_spec) != MI_SUCCESS ||
	    smfi_settimeout(o->timeout_s) != MI_SUCCESS ||
	    smfi_opensocket(true) != MI_SUCCESS) {
		log_msg(LOG_ERR, "cannot open milter socket %s", o->socket_spec);
		return false;
	}
	return true;
}

/* wait_for_transactions - give connections in flight up to GRACE_S to end. */
static void wait_for_transactions(int grace_s)
{
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	unsigned left;

	for (int i = 0; i < grace_s * 10 && (left = milter_active_connections()) > 0; i++) {
		if (i % 50 == 0)
			log_msg(LOG_NOTICE, "waiting for %u connection%s to finish", left,
				left == 1 ? "" : "s");
		nanosleep(&tick, NULL);
	}
	if ((left = milter_active_connections()) > 0)
		log_msg(LOG_WARNING, "%u connection%s cut off at shutdown: the MTA tempfails them",
			left, left == 1 ? "" : "s");
}

/* milter_daemon_run - run until SIGTERM. */
int milter_daemon_run(const struct milter_options *o)
{
	int status;

	if (!policy_store_init(o->policy_path))
		return EXIT_FAILURE;
	/* Sockets first (as root), then the fork, then threads; privileges go last
	 * (glibc applies setresuid to every thread). Signals are blocked before any
	 * thread exists, so only the two signal threads (libmilter's, ours) get them:
	 * a thread with SIGTERM unblocked would be killed by it. See daemon.h. */
	if (!open_milter_socket(o) || (!o->foreground && !daemon_go_background()) ||
	    (o->pid_file && !daemon_write_pid_file(o->pid_file)) || !daemon_block_signals() ||
	    !milter_hooks_start() ||
	    (o->user && !drop_privileges(o->user, o->socket_spec)) || !start_reload_thread()) {
		milter_hooks_stop();
		policy_store_shutdown();
		return EXIT_FAILURE;
	}
	log_msg(LOG_NOTICE, "milter-delegate ready on %s", o->socket_spec);
	status = smfi_main() == MI_SUCCESS ? EXIT_SUCCESS : EXIT_FAILURE;
	log_msg(LOG_NOTICE, "stopping: no new connections");
	wait_for_transactions(o->shutdown_grace_s);
	milter_hooks_stop();
	if (o->pid_file)
		unlink(o->pid_file);
	policy_store_shutdown();
	log_msg(LOG_NOTICE, "milter-delegate stopped");
	return status;
}
