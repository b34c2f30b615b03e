/*
 * cli.c - table-driven command-line parsing and man-page style --help for
 * milter-delegate and delegate-shim (see cli.h). Owns nothing: the spec and
 * argv are borrowed, CLI_TEXT fields point into argv.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

#ifndef MD_VERSION
#define MD_VERSION "0.1"
#endif

/* print_help - NAME, SYNOPSIS, OPTIONS from the table, then the trailer, for PROG. */
static void print_help(const struct cli_spec *spec, FILE *out, const char *prog)
{
	fprintf(out, "NAME\n    %s - %s\n\nSYNOPSIS\n", prog, spec->summary);
	for (const char *const *line = spec->synopsis; *line; line++)
		fprintf(out, "    %s %s\n", prog, *line);
	fputs("\nOPTIONS\n", out);
	for (size_t i = 0; i < spec->option_count; i++) {
		const struct cli_option *row = &spec->options[i];
		char left[48];

		snprintf(left, sizeof(left), "-%c, --%s%s%s", row->letter, row->name,
			 row->arg ? " " : "", row->arg ? row->arg : "");
		fprintf(out, "    %-*s %s\n", spec->help_column, left, row->help);
	}
	fprintf(out, "\n%s", spec->trailer);
}

/* build_getopt - the optstring and long option array from the table. */
static void build_getopt(const struct cli_spec *spec, char *shorts, struct option *longs)
{
	size_t n = 0;

	for (size_t i = 0; i < spec->option_count; i++) {
		const struct cli_option *row = &spec->options[i];

		shorts[n++] = (char)row->letter;
		if (row->arg)
			shorts[n++] = ':';
		longs[i] = (struct option){ row->name, row->arg ? required_argument : no_argument,
					    NULL, row->letter };
	}
	shorts[n] = '\0';
	longs[spec->option_count] = (struct option){ 0 };
}

/* parse_seconds - a positive number of seconds below a week, or -1. */
static int parse_seconds(const char *text)
{
	char *end;
	long v = strtol(text, &end, 10);

	return *text && !*end && v > 0 && v < 86400 * 7 ? (int)v : -1;
}

/* parse_mode - permission bits written in octal ("660", "0660"), or -1. */
static int parse_mode(const char *text)
{
	char *end;
	long v = strtol(text, &end, 8);

	return *text && !*end && v >= 0 && v <= 0777 ? (int)v : -1;
}

/* parse_log_target - "syslog" or "stderr"; CLI_LOG_UNSET for anything else. */
static enum cli_log_target parse_log_target(const char *text)
{
	return strcmp(text, "stderr") == 0   ? CLI_LOG_STDERR
	       : strcmp(text, "syslog") == 0 ? CLI_LOG_SYSLOG
					     : CLI_LOG_UNSET;
}

/* store_option - ROW's ARG (NULL for a flag) into its field of OPTS; false if ARG is invalid. */
static bool store_option(const struct cli_option *row, const char *arg, void *opts)
{
	void *field = (char *)opts + row->field;

	switch (row->type) {
	case CLI_TEXT: *(const char **)field = arg; return true;
	case CLI_FLAG: *(bool *)field = true; return true;
	case CLI_SECONDS: return (*(int *)field = parse_seconds(arg)) > 0;
	case CLI_MODE: return (*(int *)field = parse_mode(arg)) >= 0;
	case CLI_LOG_LEVEL: return (*(int *)field = log_level_parse(arg)) >= 0;
	case CLI_LOG_FORMAT: return (*(int *)field = log_format_parse(arg)) >= 0;
	case CLI_LOG_TARGET:
		return (*(enum cli_log_target *)field = parse_log_target(arg)) != CLI_LOG_UNSET;
	case CLI_HELP:
	case CLI_VERSION:
		break;
	}
	abort();        /* a bug: HELP and VERSION never get here, no other type exists */
}

/* find_row - the table row of LETTER (getopt_long returned it, so there is one). */
static const struct cli_option *find_row(const struct cli_spec *spec, int letter)
{
	for (size_t i = 0; i < spec->option_count; i++)
		if (spec->options[i].letter == letter)
			return &spec->options[i];
	abort();        /* a bug: getopt_long returned a letter not in the table */
}

/* usage_error - the hint after a usage error; the exit status 2. */
static int usage_error(const char *prog)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", prog);
	return 2;
}

/* cli_parse - getopt_long over the table; --help, --version and errors handled here. */
int cli_parse(const struct cli_spec *spec, int argc, char **argv, void *opts)
{
	char shorts[2 * CLI_MAX_OPTIONS + 1];
	struct option longs[CLI_MAX_OPTIONS + 1];
	const struct cli_option *row;
	int letter;

	if (spec->option_count > CLI_MAX_OPTIONS)
		abort();        /* a bug: the table outgrew CLI_MAX_OPTIONS */
	build_getopt(spec, shorts, longs);
	while ((letter = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		if (letter == '?')
			return usage_error(argv[0]);
		row = find_row(spec, letter);
		if (row->type == CLI_HELP) {
			print_help(spec, stdout, argv[0]);
			return EXIT_SUCCESS;
		}
		if (row->type == CLI_VERSION) {
			printf("%s %s\n", spec->program, MD_VERSION);
			return EXIT_SUCCESS;
		}
		if (!store_option(row, optarg, opts)) {
			fprintf(stderr, "%s: invalid argument for -%c: %s\n", argv[0], letter, optarg);
			return usage_error(argv[0]);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument: %s\n", argv[0], argv[optind]);
		return 2;
	}
	return CLI_RUN;
}
