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
#include "daemon_check.h"
#include "shim_daemon.h"
#include "shim_options.h"

/* start_checks - daemon_check_fn: what start-up needs besides policy and settings. */
static bool start_checks(const void *opts, const struct policy *p, enum daemon_check_mode mode,
			 struct load_errors *errs)
{
	return shim_daemon_check(opts, p, mode, errs);
}

/* load_config - the shim settings, or NULL with every error on stderr. */
static struct shim_config *load_config(const char *path)
{
	struct load_errors errs = { 0 };
	struct shim_config *cfg = shim_config_load_file(path, &errs);

	if (!cfg)
		daemon_check_print(&errs, false, "shim configuration not loaded");
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
		bool policy_ok = daemon_check_policy_file(opts.policy_path, "delegate-shim",
							  start_checks, &opts);

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
