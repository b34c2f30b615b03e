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
 * (tempfail by default) to it, so no message is lost. SIGTERM also wakes
 * libmilter's listener at once (milter_socket_wake), so an idle milter
 * stops, removes its socket and pid file and frees its receiver ports in
 * well under a second.
 *
 * Start-up fails loudly: the checks of milter_daemon_check() run first (as
 * root), every error is logged, echoed to stderr until the daemon is ready
 * (also after the fork, whose parent waits: see daemon.h), and the exit
 * status is 1.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "milter_callbacks.h"
#include "milter_daemon.h"
#include "milter_hooks.h"
#include "milter_socket.h"
#include "policy_store.h"

int __real_sigwait(const sigset_t *set, int *sig);
int __wrap_sigwait(const sigset_t *set, int *sig);

/* __wrap_sigwait - libmilter's signal thread, minus SIGHUP (ours: reload); a stop wakes the listener. */
int __wrap_sigwait(const sigset_t *set, int *sig)
{
	sigset_t narrowed = *set;
	int rc;

	sigdelset(&narrowed, SIGHUP);
	rc = __real_sigwait(&narrowed, sig);
	/* libmilter's stop (next, in its thread) waits for the listener's lock,
	 * which the listener holds while it polls: wake it first. */
	if (rc == 0 && (*sig == SIGTERM || *sig == SIGINT))
		milter_socket_wake();
	return rc;
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

/* socket_spec - the socket options of O. */
static struct milter_socket_spec socket_spec(const struct milter_options *o)
{
	return (struct milter_socket_spec){ .spec = o->socket_spec, .mode = o->socket_mode,
					    .group = o->socket_group };
}

/* milter_daemon_check - user, folders, receivers, pid file and socket. */
bool milter_daemon_check(const struct milter_options *o, const struct policy *p,
			 enum daemon_check_mode mode, struct load_errors *errs)
{
	static const struct folder_spec pid_folder = { "pid file folder", 0755, (gid_t)-1, false };
	struct milter_socket_spec sock = socket_spec(o);
	struct run_as u;
	size_t before = errs->count;

	if (!run_as_lookup(o->user, &u, errs))
		return false;
	daemon_check_policy(p, &u, mode, errs);
	if (o->pid_file)
		daemon_check_file_folder(o->pid_file, &pid_folder, &u, mode, errs);
	milter_socket_check(&sock, &u, mode, errs);
	if (o->metrics)
		metrics_http_check(o->metrics, o->metrics_public, errs);
	return errs->count == before;
}

/* prepare - the start-up checks, creating what is missing; false (every error logged). */
static bool prepare(const struct milter_options *o)
{
	struct load_errors errs = { 0 };
	struct policy *p = policy_store_current();
	bool ok = daemon_check_report(&errs, milter_daemon_check(o, p, DAEMON_PREPARE, &errs));

	policy_unref(p);
	return ok;
}

/* open_milter_socket - register with libmilter and open the socket. */
static bool open_milter_socket(const struct milter_options *o)
{
	struct milter_socket_spec sock = socket_spec(o);
	struct load_errors errs = { 0 };
	struct run_as u;
	bool known = run_as_lookup(o->user, &u, &errs);

	load_errors_free(&errs);        /* prepare() reported an unknown user already */
	if (!known)
		return false;
	if (smfi_register(*milter_description()) != MI_SUCCESS) {
		log_msg(LOG_ERR, "smfi_register failed");
		return false;
	}
	if (smfi_setconn((char *)o->socket_spec) != MI_SUCCESS ||
	    smfi_settimeout(o->timeout_s) != MI_SUCCESS) {
		log_msg(LOG_ERR, "cannot use milter socket %s (libmilter refused the name)",
			o->socket_spec);
		return false;
	}
	return milter_socket_open(&sock, &u);
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

/* connections - the metrics' gauge of open MTA connections. */
static uint64_t connections(void *arg)
{
	(void)arg;
	return milter_active_connections();
}

/* milter_daemon_run - run until SIGTERM. */
int milter_daemon_run(const struct milter_options *o)
{
	struct metrics_http *http = NULL;
	bool wrote_pid = false;
	int status;

	if (!o->foreground)
		daemon_echo_start();
	if (o->metrics) {
		metrics_enable(0);
		metrics_gauge_source(M_CONNECTIONS, connections, NULL);
	}
	if (!policy_store_init(o->policy_path))
		return EXIT_FAILURE;
	/* Sockets first (as root), then the fork, then threads; privileges go last
	 * (glibc applies setresuid to every thread). Signals are blocked before any
	 * thread exists, so only the two signal threads (libmilter's, ours) get them:
	 * a thread with SIGTERM unblocked would be killed by it. See daemon.h. */
	if (!prepare(o) || !open_milter_socket(o) ||
	    (!o->foreground && !daemon_go_background()) ||
	    (o->pid_file && !(wrote_pid = daemon_write_pid_file(o->pid_file))) ||
	    !daemon_block_signals() || !milter_hooks_start() ||
	    (o->metrics && !(http = metrics_http_start(o->metrics, o->metrics_public))) ||
	    (o->user && !daemon_drop_privileges(o->user, NULL)) || !start_reload_thread()) {
		metrics_http_stop(http);
		milter_hooks_stop();
		milter_socket_remove();
		if (wrote_pid)
			unlink(o->pid_file);
		policy_store_shutdown();
		return EXIT_FAILURE;
	}
	log_msg(LOG_NOTICE, "milter-delegate ready on %s", o->socket_spec);
	daemon_ready();
	status = smfi_main() == MI_SUCCESS ? EXIT_SUCCESS : EXIT_FAILURE;
	log_msg(LOG_NOTICE, "stopping: no new connections");
	wait_for_transactions(o->shutdown_grace_s);
	metrics_http_stop(http);
	milter_hooks_stop();
	milter_socket_remove();
	if (o->pid_file && unlink(o->pid_file) != 0)
		log_msg(LOG_WARNING, "cannot remove pid file %s: %s", o->pid_file, strerror(errno));
	policy_store_shutdown();
	log_msg(LOG_NOTICE, "milter-delegate stopped");
	return status;
}
