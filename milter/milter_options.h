/*
 * milter_options.h - the daemon's command line: one table row per option
 * (letter, long name, argument, help); the engine's cli module (cli.h)
 * parses it with getopt_long and prints it for --help as a man page would.
 */
#ifndef MD_MILTER_OPTIONS_H
#define MD_MILTER_OPTIONS_H

#include <stdbool.h>

#include "cli.h"

#define MILTER_DEFAULT_POLICY "/etc/milter-delegate/policy.json"
/* Inside Postfix's queue directory, so that a chrooted smtpd or cleanup
 * reaches it too; see README.md "Install on Debian". */
#define MILTER_DEFAULT_SOCKET "unix:/var/spool/postfix/milter-delegate/milter.sock"
#define MILTER_DEFAULT_SOCKET_MODE 0660

struct milter_options {
	const char *policy_path;        /* -c */
	const char *socket_spec;        /* -p, libmilter syntax */
	int socket_mode;                /* -m, of a unix socket */
	const char *socket_group;       /* -g, NULL: "postfix" if it exists */
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
