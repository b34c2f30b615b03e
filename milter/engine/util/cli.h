/*
 * cli.h - the command-line machinery both daemons share. A front end
 * describes its options as a table, one row per option (letter, long name,
 * argument, type, the field of its options struct it sets, help), and its
 * manual page in a few strings; cli_parse() builds getopt_long's arguments
 * from the table, stores each option in its field, handles --help and
 * --version and reports usage errors. Each front end keeps only its table,
 * its defaults and what it derives after parsing.
 *
 * --help prints, to stdout, in the manner of a man page:
 *   NAME      "    PROG - " SUMMARY
 *   SYNOPSIS  "    PROG " and each SYNOPSIS line
 *   OPTIONS   one line per row, "-x, --name ARG" padded to HELP_COLUMN
 *   and then TRAILER (further sections: SIGNALS, EXIT STATUS, ...) as is.
 * PROG is argv[0]. Usage errors go to stderr and give exit status 2.
 *
 * The spec and its strings are borrowed (static tables); CLI_TEXT fields
 * point into argv. Uses getopt_long's global state: call from main, once,
 * before threads exist.
 */
#ifndef MD_CLI_H
#define MD_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* What an option is, and so the type of the field it sets. */
enum cli_type {
	CLI_TEXT,               /* const char *: the argument */
	CLI_FLAG,               /* bool: true */
	CLI_SECONDS,            /* int: a whole number of seconds, 1 to a week */
	CLI_MODE,               /* int: file permission bits in octal, 0 to 0777 */
	CLI_LOG_LEVEL,          /* int: a syslog priority, by log_level_parse() */
	CLI_LOG_TARGET,         /* enum cli_log_target: "syslog" or "stderr" */
	CLI_LOG_FORMAT,         /* int: enum log_format, by log_format_parse() */
	CLI_HELP,               /* --help: print the manual page, exit 0 */
	CLI_VERSION,            /* --version: print "PROGRAM VERSION", exit 0 */
};

/* Where a CLI_LOG_TARGET option sends the log; CLI_LOG_UNSET until given. */
enum cli_log_target { CLI_LOG_UNSET, CLI_LOG_SYSLOG, CLI_LOG_STDERR };

struct cli_option {
	int letter;
	const char *name;               /* long name, without "--" */
	const char *arg;                /* the argument's name in --help; NULL for a flag */
	enum cli_type type;
	size_t field;                   /* offsetof() the field set (unused by HELP, VERSION) */
	const char *help;
};

struct cli_spec {
	const char *program;            /* --version prints "PROGRAM VERSION" */
	const char *summary;            /* NAME: what PROG is (may hold "\n    ") */
	const char *const *synopsis;    /* SYNOPSIS lines after "PROG ", NULL-terminated */
	const char *trailer;            /* the sections after OPTIONS, printed as is */
	const struct cli_option *options;
	size_t option_count;            /* at most CLI_MAX_OPTIONS */
	int help_column;                /* width of "-x, --name ARG" in OPTIONS */
};

#define CLI_MAX_OPTIONS 24
#define CLI_RUN (-1)

/*
 * cli_parse - parse ARGV by SPEC into the options struct OPTS (holding its
 * defaults). Returns CLI_RUN to go on, or the exit status to leave with:
 * 0 after --help or --version, 2 after a usage error (unknown option,
 * missing or invalid argument, a stray argument), all printed here.
 */
int cli_parse(const struct cli_spec *spec, int argc, char **argv, void *opts);

#endif
