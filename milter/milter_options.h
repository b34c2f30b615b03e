/*
 * milter_options.h - the daemon's command line: one table row per option
 * (letter, long name, argument, default, help), parsed with getopt_long and
 * printed by --help in the manner of a man page synopsis.
 */
#ifndef MD_MILTER_OPTIONS_H
#define MD_MILTER_OPTIONS_H

#include <stdbool.h>

#define MILTER_DEFAULT_POLICY "/etc/milter-delegate/policy.json"
#define MILTER_DEFAULT_SOCKET "unix:/run/milter-delegate/milter.sock"

struct milter_options {
	const char *policy_path;        /* -c */
	const char *socket_spec;        /* -p, libmilter syntax */
	const char *user;               /* -u, NULL: keep the current user */
	const char *pid_file;           /* -P */
	int log_level;                  /* -l */
	bool log_stderr;                /* -L stderr (default with -f) */
	bool log_set;                   /* -L was given */
	bool foreground;                /* -f */
	bool check_only;                /* -t */
	int timeout_s;                  /* -T: MTA socket timeout */
	int shutdown_grace_s;           /* -G: time to finish transactions at SIGTERM */
};

/*
 * milter_options_parse - fill OPTS from ARGV. Returns MILTER_OPTIONS_RUN to
 * go on, or the exit status to leave with (after --help, --version or a
 * usage error, which are printed here).
 */
#define MILTER_OPTIONS_RUN (-1)
int milter_options_parse(int argc, char **argv, struct milter_options *opts);

#endif
