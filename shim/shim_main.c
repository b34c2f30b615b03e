/*
 * shim_main.c - delegate-shim: parse the command line, load and check the
 * shim settings, the policy and what start-up needs, then either report on
 * them (-t) or run the SMTP front end.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "policy_load.h"
#include "shim_config.h"
#include "shim_daemon.h"
#include "shim_options.h"

/* report_errors - every load error of WHAT, one per line, to stderr. */
static void report_errors(const struct load_errors *errs, const char *what)
{
	for (size_t i = 0; i < errs->count; i++)
		fprintf(stderr, "%s\n", errs->items[i]);
	fprintf(stderr, "%zu error%s: %s not loaded\n", errs->count, errs->count == 1 ? "" : "s",
		what);
}

/* check_policy - a summary line, or every error, then what start-up needs; true when all is well. */
static bool check_policy(const struct shim_options *o)
{
	struct load_errors errs = { 0 };
	struct policy *p = policy_load_file(o->policy_path, &errs);
	char summary[512];
	bool ready;

	if (!p) {
		report_errors(&errs, "policy");
		load_errors_free(&errs);
		return false;
	}
	policy_summary(p, summary, sizeof(summary));
	printf("%s\n", summary);
	fflush(stdout);
	ready = shim_daemon_check(o, p, DAEMON_CHECK, &errs);
	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.items[i]);
	if (!ready)
		fprintf(stderr, "%zu error%s: delegate-shim would not start\n", errs.count,
			errs.count == 1 ? "" : "s");
	load_errors_free(&errs);
	policy_unref(p);
	return ready;
}

/* load_config - the shim settings, or NULL with every error on stderr. */
static struct shim_config *load_config(const char *path)
{
	struct load_errors errs = { 0 };
	struct shim_config *cfg = shim_config_load_file(path, &errs);

	if (!cfg) {
		report_errors(&errs, "shim configuration");
		load_errors_free(&errs);
	}
	return cfg;
}

int main(int argc, char **argv)
{
	struct shim_options opts;
	struct shim_config *cfg;
	int status = shim_options_parse(argc, argv, &opts);
	char summary[1400];

	if (status != SHIM_OPTIONS_RUN)
		return status;
	cfg = load_config(opts.config_path);
	if (opts.check_only) {
		bool policy_ok = check_policy(&opts);

		if (cfg) {
			shim_config_summary(cfg, summary, sizeof(summary));
			printf("%s\n", summary);
		}
		shim_config_free(cfg);
		return policy_ok && cfg ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	if (!cfg)
		return EXIT_FAILURE;
	log_open("delegate-shim", opts.log_stderr ? LOG_TO_STDERR : LOG_TO_SYSLOG, opts.log_level);
	log_set_format(opts.log_format);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_msg(LOG_ERR, "cannot initialise libcurl");
		shim_config_free(cfg);
		return EXIT_FAILURE;
	}
	status = shim_daemon_run(&opts, cfg);
	curl_global_cleanup();
	shim_config_free(cfg);
	return status;
}
