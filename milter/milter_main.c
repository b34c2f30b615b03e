/*
 * milter_main.c - milter-delegate: parse the command line, load and check the
 * policy and what start-up needs, then either report on them (-t) or run
 * the milter daemon.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "milter_daemon.h"
#include "milter_options.h"
#include "policy_load.h"

/* report_errors - every load error, one per line, to stderr. */
static void report_errors(const struct load_errors *errs)
{
	for (size_t i = 0; i < errs->count; i++)
		fprintf(stderr, "%s\n", errs->items[i]);
	fprintf(stderr, "%zu error%s: policy not loaded\n", errs->count,
		errs->count == 1 ? "" : "s");
}

/* check_policy - the -t mode: a summary line and exit 0, or the errors and exit 1. */
static int check_policy(const struct milter_options *o)
{
	struct load_errors errs = { 0 };
	struct policy *p = policy_load_file(o->policy_path, &errs);
	char summary[512];
	bool ready;

	if (!p) {
		report_errors(&errs);
		load_errors_free(&errs);
		return EXIT_FAILURE;
	}
	policy_summary(p, summary, sizeof(summary));
	printf("%s\n", summary);
	fflush(stdout);
	ready = milter_daemon_check(o, p, DAEMON_CHECK, &errs);
	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.items[i]);
	if (!ready)
		fprintf(stderr, "%zu error%s: milter-delegate would not start\n", errs.count,
			errs.count == 1 ? "" : "s");
	load_errors_free(&errs);
	policy_unref(p);
	return ready ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	struct milter_options opts;
	int status = milter_options_parse(argc, argv, &opts);

	if (status != MILTER_OPTIONS_RUN)
		return status;
	if (opts.check_only)
		return check_policy(&opts);
	log_open("milter-delegate", opts.log_stderr ? LOG_TO_STDERR : LOG_TO_SYSLOG,
		 opts.log_level);
	log_set_format(opts.log_format);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_msg(LOG_ERR, "cannot initialise libcurl");
		return EXIT_FAILURE;
	}
	status = milter_daemon_run(&opts);
	curl_global_cleanup();
	return status;
}
