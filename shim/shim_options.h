/*
 * shim_options.h - delegate-shim's command line: one table row per option
 * (letter, long name, argument, help); the engine's cli module (cli.h)
 * parses it with getopt_long and prints it for --help as a man page would.
 */
#ifndef MD_SHIM_OPTIONS_H
#define MD_SHIM_OPTIONS_H

#include <stdbool.h>

#include "cli.h"

#define SHIM_DEFAULT_POLICY "/etc/milter-delegate/policy.json"
#define SHIM_DEFAULT_CONFIG "/etc/milter-delegate/shim.json"

struct shim_options {
	const char *policy_path;        /* -c */
	const char *config_path;        /* -C */
	const char *user;               /* -u, NULL: keep the current user */
	const char *pid_file;           /* -P */
	int log_level;                  /* -l */
	enum cli_log_target log_target; /* -L */
	int log_format;                 /* -F: enum log_format (log.h) */
	const char *metrics;            /* -M: the metrics listener's address, NULL: none */
	bool metrics_public;            /* -A: -M may be a non-loopback address */
	bool log_stderr;                /* -L stderr, or no -L with -f or -t */
	bool foreground;                /* -f */
	bool check_only;                /* -t */
	int shutdown_grace_s;           /* -G */
};

/*
 * shim_options_parse - fill OPTS from ARGV. Returns SHIM_OPTIONS_RUN to go
 * on, or the exit status to leave with (after --help, --version or a usage
 * error, which are printed here).
 */
#define SHIM_OPTIONS_RUN (-1)
int shim_options_parse(int argc, char **argv, struct shim_options *opts);

#endif
