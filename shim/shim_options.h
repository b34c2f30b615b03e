/*
 * shim_options.h - delegate-shim's command line: one table row per option
 * (letter, long name, argument, help), parsed with getopt_long and printed
 * by --help in the manner of a man page.
 */
#ifndef MD_SHIM_OPTIONS_H
#define MD_SHIM_OPTIONS_H

#include <stdbool.h>

#define SHIM_DEFAULT_POLICY "/etc/milter-delegate/policy.json"
#define SHIM_DEFAULT_CONFIG "/etc/milter-delegate/shim.json"

struct shim_options {
	const char *policy_path;        /* -c */
	const char *config_path;        /* -C */
	const char *user;               /* -u, NULL: keep the current user */
	const char *pid_file;           /* -P */
	int log_level;                  /* -l */
	bool log_stderr;                /* -L stderr (default with -f and -t) */
	bool log_set;                   /* -L was given */
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
