/*
 * milter_main.c - milter-delegate: parse the command line, load and check the
 * policy and what start-up needs, then either report on them (-t) or run
 * the milter daemon.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon_check.h"
#include "log.h"
#include "milter_daemon.h"
#include "milter_options.h"
#include "policy_load.h"

/* start_checks - daemon_check_fn: what start-up needs besides the policy. */
static bool start_checks(const void *opts, const struct policy *p, enum daemon_check_mode mode,
			 struct load_errors *errs)
{
	return milter_daemon_check(opts, p, mode, errs);
}

int main(int argc, char **argv)
{
	struct milter_options opts;
	int status = milter_options_parse(argc, argv, &opts);

	if (status != MILTER_OPTIONS_RUN)
		return status;
	if (opts.check_only)
		return daemon_check_policy_file(opts.policy_path, "milter-delegate", start_checks,
						&opts) ? EXIT_SUCCESS : EXIT_FAILURE;
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
