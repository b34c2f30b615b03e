/*
 * shim_daemon.c - start-up, signals and shutdown of delegate-shim.
 *
 * Order: the policy is loaded, then the process forks into the background
 * (before any thread exists), blocks SIGHUP/SIGTERM/SIGINT in every thread,
 * starts the delegation services (receivers, clients), the next hop and the
 * SMTP server (sockets bound as root), and only then drops privileges (glibc
 * applies setresuid to every thread). The main thread then waits for
 * signals. SIGHUP reloads the policy (sessions pick it up at their next MAIL
 * FROM). SIGTERM drains: new sessions and new messages get 421, messages in
 * flight finish; after the grace period (or once no session is left) the
 * server stops, which ends the remaining sessions, and the process exits 0.
 *
 * Start-up fails loudly: shim_daemon_check() runs first (as root, creating
 * missing spool and quarantine folders); every error, also one after the
 * fork (a port taken), is logged and echoed to stderr, and the starting
 * command exits 1 (see daemon.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "delegation.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "policy_store.h"
#include "quarantine.h"
#include "shim_daemon.h"
#include "shim_session.h"

#define DEFAULT_MAX_MESSAGE_SIZE (50ULL * 1024 * 1024)

/* block_signals - ignore SIGPIPE and block the daemon's signals, before any thread exists. */
static bool block_signals(void)
{
	return signal(SIGPIPE, SIG_IGN) != SIG_ERR && daemon_block_signals();
}

/* drop_privileges - become USER, handing it the Maildir it writes to. */
static bool drop_privileges(const char *user, const struct shim_config *cfg)
{
	static const char *const maildir_subs[3] = { "tmp", "new", "cur" };
	char sub[3][1100];
	const char *paths[5] = { NULL };
	size_t n = 0;

	if (cfg->nexthop == NEXTHOP_MAILDIR) {
		paths[n++] = cfg->maildir;
		for (size_t i = 0; i < 3; i++) {
			snprintf(sub[i], sizeof(sub[i]), "%s/%s", cfg->maildir, maildir_subs[i]);
			paths[n++] = sub[i];
		}
	}
	paths[n] = NULL;
	return daemon_drop_privileges(user, paths);
}

/* server_config - the SMTP server's settings from the shim's and the policy's. */
static struct smtp_server_config server_config(const struct shim_config *cfg,
					       const struct policy *p)
{
	uint64_t size = cfg->max_message_size ? cfg->max_message_size
		      : p->settings.max_message_size ? p->settings.max_message_size
		      : DEFAULT_MAX_MESSAGE_SIZE;

	return (struct smtp_server_config){
		.host = cfg->listen.host, .port = cfg->listen.port, .hostname = cfg->hostname,
		.max_message_size = size, .max_recipients = cfg->max_recipients,
		.max_sessions = cfg->max_sessions,
		.command_timeout_ms = (unsigned)cfg->command_timeout_ms,
		.data_timeout_ms = (unsigned)cfg->data_timeout_ms,
		.bare_newline = cfg->bare_newline,
	};
}

/* wait_for_sessions - give sessions in flight up to GRACE_S to end. */
static void wait_for_sessions(struct shim_runtime *rt, int grace_s)
{
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	unsigned left;

	for (int i = 0; i < grace_s * 10 && (left = atomic_load(&rt->sessions)) > 0; i++) {
		if (i % 50 == 0)
			log_msg(LOG_NOTICE, "waiting for %u session%s to finish", left,
				left == 1 ? "" : "s");
		nanosleep(&tick, NULL);
	}
	if ((left = atomic_load(&rt->sessions)) > 0)
		log_msg(LOG_WARNING, "%u session%s cut off at shutdown (their clients keep their mail)",
			left, left == 1 ? "" : "s");
}

/*
 * serve - wait for signals: SIGHUP reloads, SIGTERM/SIGINT return. Once a
 * second without one, the next hop's idle connections past their limit
 * are closed.
 */
static void serve(struct delegation *services, struct shim_nexthop *nexthop)
{
	const struct timespec second = { 1, 0 };
	sigset_t set;
	int sig;

	daemon_signal_set(&set);
	for (;;) {
		if ((sig = sigtimedwait(&set, NULL, &second)) < 0) {
			if (errno == EAGAIN)
				shim_nexthop_close_idle(nexthop);
			continue;
		}
		if (sig != SIGHUP) {
			log_msg(LOG_NOTICE, "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			return;
		}
		log_msg(LOG_NOTICE, "SIGHUP: reloading the policy");
		if (policy_store_reload()) {
			struct policy *p = policy_store_current();
			char err[512];

			if (p && !delegation_update(services, p, err, sizeof(err)))
				log_msg(LOG_ERR, "after reload: %s", err);
			policy_unref(p);
		}
	}
}

/* start_services - delegation, next hop, SMTP server; false (logged) on failure. */
static bool start_services(const struct shim_config *cfg, struct shim_runtime *rt,
			   struct delegation **services, struct smtp_server **server)
{
	struct policy *p = policy_store_current();
	struct smtp_server_config sc = server_config(cfg, p);
	char err[512];

	*services = delegation_start(p, err, sizeof(err));
	policy_unref(p);
	if (!*services) {
		log_msg(LOG_ERR, "cannot start delegation services: %s", err);
		return false;
	}
	rt->env = (struct txn_env){ .delegate = delegation_run, .quarantine = quarantine_store,
				    .service_arg = *services };
	if (!(rt->nexthop = shim_nexthop_new(cfg, err, sizeof(err)))) {
		log_msg(LOG_ERR, "next hop: %s", err);
		return false;
	}
	*server = smtp_server_start(&sc, shim_session_handlers(), rt, err, sizeof(err));
	if (!*server) {
		log_msg(LOG_ERR, "%s", err);
		return false;
	}
	log_msg(LOG_NOTICE, "delegate-shim ready on %s:%u, next hop %s, max message size %llu",
		cfg->listen.host, smtp_server_port(*server), shim_nexthop_describe(rt->nexthop),
		(unsigned long long)sc.max_message_size);
	return true;
}

/* shim_daemon_check - user, folders, receivers and pid file. */
bool shim_daemon_check(const struct shim_options *o, const struct policy *p,
		       enum daemon_check_mode mode, struct load_errors *errs)
{
	static const struct folder_spec pid_folder = { "pid file folder", 0755, (gid_t)-1, false };
	struct run_as u;
	size_t before = errs->count;

	if (!run_as_lookup(o->user, &u, errs))
		return false;
	daemon_check_policy(p, &u, mode, errs);
	if (o->pid_file)
		daemon_check_file_folder(o->pid_file, &pid_folder, &u, mode, errs);
	if (o->metrics)
		metrics_http_check(o->metrics, o->metrics_public, errs);
	return errs->count == before;
}

/* prepare - the start-up checks, creating what is missing; false (every error logged). */
static bool prepare(const struct shim_options *o)
{
	struct load_errors errs = { 0 };
	struct policy *p = policy_store_current();
	bool ok = daemon_check_report(&errs, shim_daemon_check(o, p, DAEMON_PREPARE, &errs));

	policy_unref(p);
	return ok;
}

/* sessions - the metrics' gauge of client sessions in flight (ARG: the runtime). */
static uint64_t sessions(void *arg)
{
	struct shim_runtime *rt = arg;

	return atomic_load(&rt->sessions);
}

/* shim_daemon_run - run until SIGTERM. */
int shim_daemon_run(const struct shim_options *o, const struct shim_config *cfg)
{
	struct shim_runtime rt = { .cfg = cfg };
	struct delegation *services = NULL;
	struct smtp_server *server = NULL;
	struct metrics_http *http = NULL;
	bool ok, wrote_pid = false;

	if (!o->foreground)
		daemon_echo_start();
	if (o->metrics) {
		metrics_enable(METRICS_NEXTHOP);
		metrics_gauge_source(M_CONNECTIONS, sessions, &rt);
	}
	if (!policy_store_init(o->policy_path))
		return EXIT_FAILURE;
	if (!prepare(o)) {
		policy_store_shutdown();
		return EXIT_FAILURE;
	}
	ok = (o->foreground || daemon_go_background()) &&
	     (!o->pid_file || (wrote_pid = daemon_write_pid_file(o->pid_file))) &&
	     block_signals() && start_services(cfg, &rt, &services, &server) &&
	     (!o->metrics || (http = metrics_http_start(o->metrics, o->metrics_public))) &&
	     (!o->user || drop_privileges(o->user, cfg));
	if (ok) {
		daemon_ready();
		serve(services, rt.nexthop);
	}
	atomic_store(&rt.draining, true);
	if (ok)
		wait_for_sessions(&rt, o->shutdown_grace_s);
	metrics_http_stop(http);
	smtp_server_stop(server);
	delegation_stop(services);
	shim_nexthop_free(rt.nexthop);
	if (wrote_pid && unlink(o->pid_file) != 0)
		log_msg(LOG_WARNING, "cannot remove pid file %s: %s", o->pid_file, strerror(errno));
	policy_store_shutdown();
	log_msg(LOG_NOTICE, "delegate-shim stopped");
	return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
