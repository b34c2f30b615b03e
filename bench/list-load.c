/*
 * list-load.c - how long a policy with big lists takes to load, and the
 * memory its indexed lists hold per entry (issue 15). Not a test: figures
 * for policies/README.md, measured on the machine at hand.
 *
 * usage: list-load POLICY [ROUNDS]
 *   loads POLICY ROUNDS times (default 5); prints the fastest load, then one
 *   line per list: entries, bytes held, bytes per entry.
 *
 * build (after make; one -I per engine layer, as the GNUmakefile does):
 *   cc -O2 -std=gnu11 -Imilter/engine/policy -Imilter/engine/util ... \
 *      -o build/bench/list-load bench/list-load.c build/libmdengine.a -ljansson -lcurl -pthread
 * lists: bench/make-lists.sh DIR 100000, then a policy naming DIR's files
 * (bench/run.sh's lists_policy does this for rows 2L and 6L).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "policy_load.h"

/* seconds - a monotonic clock reading. */
static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* report - one line: what, entries, bytes. */
static void report(const char *what, size_t entries, size_t bytes)
{
	if (entries)
		printf("  %-10s %8zu entries %10zu bytes %6.1f bytes/entry\n", what, entries, bytes,
		       (double)bytes / (double)entries);
}

/* walk - report every list of condition C. */
static void walk(const struct cond *c)
{
	if (!c)
		return;
	switch (c->kind) {
	case COND_ALL:
	case COND_ANY:
		for (size_t i = 0; i < c->u.list.count; i++)
			walk(&c->u.list.items[i]);
		break;
	case COND_NOT:
		walk(c->u.negated);
		break;
	case COND_CLIENT_IP:
		report("client_ip", c->u.nets.entries, cidr_set_bytes(&c->u.nets));
		break;
	case COND_CLIENT_NAME:
	case COND_HELO:
	case COND_SENDER:
	case COND_RECIPIENT:
	case COND_AUTH_USER:
		report("matchers", c->u.match.entries, match_list_bytes(&c->u.match));
		break;
	default:
		break;
	}
}

int main(int argc, char **argv)
{
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	double best = 1e9;
	struct policy *p = NULL;

	if (argc < 2) {
		fprintf(stderr, "usage: %s POLICY [ROUNDS]\n", argv[0]);
		return 2;
	}
	log_open("list-load", LOG_TO_STDERR, LOG_WARNING);
	for (int r = 0; r < rounds; r++) {
		struct load_errors errs = { 0 };
		double t0 = seconds(), t;

		policy_unref(p);
		p = policy_load_file(argv[1], &errs);
		t = seconds() - t0;
		for (size_t i = 0; i < errs.count; i++)
			fprintf(stderr, "%s\n", errs.items[i]);
		load_errors_free(&errs);
		if (!p)
			return 1;
		best = t < best ? t : best;
	}
	printf("%s: %zu list files, %zu entries, fastest of %d loads: %.1f ms\n", argv[1],
	       p->list_files, p->list_entries, rounds, best * 1000);
	for (int s = 0; s < STAGE_COUNT; s++)
		for (size_t i = 0; i < p->stages[s].count; i++)
			walk(p->stages[s].items[i].cond);
	policy_unref(p);
	return 0;
}
