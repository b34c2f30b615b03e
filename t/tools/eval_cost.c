/*
 * eval_cost.c - what counting costs the engine, without an MTA: feed N
 * messages (connect, helo, mail, one rcpt, three headers, a 4 KB body, eom,
 * the per-message line) through the policy FILE, in one thread, and print
 * the CPU time per message. With -m the metrics are on (metrics_enable),
 * as with a daemon's -M; the log is off either way, so the figure is the
 * engine's own work. Run it alternately with and without -m and compare.
 *
 * usage: eval_cost [-m] FILE N
 *
 * Prints "metrics=on|off messages=N cpu_ns_per_message=X"; exit 1 on a
 * usage or policy error. Benchmark tool (bench/README.md), not installed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "policy_store.h"
#include "txn.h"
#include "txn_log.h"

/* one_message - a whole message through T's policy, logged as the front ends do. */
static void one_message(struct txn *t, const char *body, size_t len)
{
	struct verdict v = txn_mail(t, "sender@example.com", NULL);

	txn_rcpt(t, "rcpt@example.net");
	txn_header(t, "From", "Sender <sender@example.com>");
	txn_header(t, "Subject", "benchmark message");
	txn_header(t, "Message-ID", "<1@example.com>");
	v = txn_eoh(t);
	txn_body(t, body, len);
	v = txn_eom(t);
	txn_log_message(t, v, NULL);
	txn_reset_message(t, NULL);
}

/* cpu_ns - this process's CPU time in nanoseconds. */
static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static const struct txn_env env = { 0 };
	bool on = argc == 4 && strcmp(argv[1], "-m") == 0;
	char body[4096];
	long n = argc >= 3 ? atol(argv[argc - 1]) : 0;
	struct policy *p;
	double start;

	if (n <= 0 || (argc != 3 && !on)) {
		fprintf(stderr, "usage: eval_cost [-m] FILE N\n");
		return 1;
	}
	log_open("eval_cost", LOG_TO_STDERR, LOG_ERR);
	if (on)
		metrics_enable(0);
	if (!policy_store_init(argv[argc - 2]))
		return 1;
	memset(body, 'x', sizeof(body));
	for (size_t i = 76; i < sizeof(body); i += 78)
		body[i] = '\r', body[i + 1] = '\n';
	p = policy_store_current();
	start = cpu_ns();
	for (long i = 0; i < n; i++) {
		struct txn *t = txn_new(p, &env);

		txn_connect(t, "localhost", "127.0.0.1");
		txn_helo(t, "client.example.com");
		one_message(t, body, sizeof(body));
		txn_free(t);
	}
	printf("metrics=%s messages=%ld cpu_ns_per_message=%.0f\n", on ? "on" : "off", n,
	       (cpu_ns() - start) / (double)n);
	policy_unref(p);
	policy_store_shutdown();
	return 0;
}
