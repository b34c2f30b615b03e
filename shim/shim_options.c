/*
 * shim_options.c - parse and document the delegate-shim command line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "shim_options.h"

#ifndef MD_VERSION
#define MD_VERSION "0.1"
#endif

static const struct option_row {
	int letter;
	const char *name;
	const char *arg;        /* NULL: a flag */
	const char *help;
} option_rows[] = {
	{ 'c', "config", "FILE", "policy file (default " SHIM_DEFAULT_POLICY ")" },
	{ 'C', "shim-config", "FILE", "shim settings: listen, next hop, limits "
				      "(default " SHIM_DEFAULT_CONFIG ")" },
	{ 't', "check", NULL, "check the policy and the shim settings, print a summary "
			      "or every error, and exit" },
	{ 'f', "foreground", NULL, "stay in the foreground (log to stderr unless -L syslog)" },
	{ 'u', "user", "USER", "drop privileges to USER after opening the sockets" },
	{ 'P', "pidfile", "FILE", "write the process id to FILE" },
	{ 'l', "log-level", "LEVEL", "error, warning, notice, info (default) or debug" },
	{ 'L', "log", "TARGET", "syslog (mail facility) or stderr" },
	{ 'G', "grace", "SECONDS", "at SIGTERM, time left to sessions in flight (default 30)" },
	{ 'h', "help", NULL, "print this help and exit" },
	{ 'V', "version", NULL, "print the version and exit" },
};
#define OPTION_ROWS (sizeof(option_rows) / sizeof(option_rows[0]))

/* print_help - a man-page style synopsis. */
static void print_help(FILE *out, const char *prog)
{
	fprintf(out,
		"NAME\n"
		"    %s - standalone SMTP front end that applies milter-delegate's JSON\n"
		"    policies, delegates to content filters such as clamsmtpd, and hands\n"
		"    accepted mail to a next hop (SMTP or a Maildir)\n\n"
		"SYNOPSIS\n"
		"    %s [-f] [-c FILE] [-C FILE] [-u USER] [-P FILE] [-l LEVEL] [-L TARGET] [-G SECONDS]\n"
		"    %s -t [-c FILE] [-C FILE]\n\n"
		"OPTIONS\n", prog, prog, prog);
	for (size_t i = 0; i < OPTION_ROWS; i++) {
		char left[48];

		snprintf(left, sizeof(left), "-%c, --%s%s%s", option_rows[i].letter,
			 option_rows[i].name, option_rows[i].arg ? " " : "",
			 option_rows[i].arg ? option_rows[i].arg : "");
		fprintf(out, "    %-28s %s\n", left, option_rows[i].help);
	}
	fprintf(out,
		"\nSIGNALS\n"
		"    SIGHUP    reload the policy; a broken policy is refused and the old one kept\n"
		"              (the shim settings are read at start only)\n"
		"    SIGTERM   stop taking new sessions and messages, let those in flight finish\n"
		"              within the grace period, exit 0\n\n"
		"EXIT STATUS\n"
		"    0 on success; 1 when the policy or the settings are invalid or start-up\n"
		"    fails; 2 on usage errors.\n\n"
		"SEE ALSO\n"
		"    delegate-shim(8), milter-delegate(8), shim/README.md, policies/README.md\n");
}

/* build_getopt - the optstring and long option array from the table. */
static void build_getopt(char *shorts, size_t len, struct option *longs)
{
	size_t n = 0;

	for (size_t i = 0; i < OPTION_ROWS && n + 2 < len; i++) {
		shorts[n++] = (char)option_rows[i].letter;
		if (option_rows[i].arg)
			shorts[n++] = ':';
		longs[i] = (struct option){ option_rows[i].name,
					    option_rows[i].arg ? required_argument : no_argument,
					    NULL, option_rows[i].letter };
	}
	shorts[n] = '\0';
	longs[OPTION_ROWS] = (struct option){ 0 };
}

/* parse_seconds - a positive number of seconds below a week, or -1. */
static int parse_seconds(const char *text)
{
	char *end;
	long v = strtol(text, &end, 10);

	return *text && !*end && v > 0 && v < 86400 * 7 ? (int)v : -1;
}

/* apply_option - one parsed option; false on a bad argument. */
static bool apply_option(int letter, const char *arg, struct shim_options *o)
{
	switch (letter) {
	case 'c': o->policy_path = arg; return true;
	case 'C': o->config_path = arg; return true;
	case 't': o->check_only = true; return true;
	case 'f': o->foreground = true; return true;
	case 'u': o->user = arg; return true;
	case 'P': o->pid_file = arg; return true;
	case 'l': return (o->log_level = log_level_parse(arg)) >= 0;
	case 'L':
		o->log_set = true;
		o->log_stderr = strcmp(arg, "stderr") == 0;
		return o->log_stderr || strcmp(arg, "syslog") == 0;
	case 'G': return (o->shutdown_grace_s = parse_seconds(arg)) > 0;
	}
	return false;
}

/* shim_options_parse - fill OPTS from ARGV. */
int shim_options_parse(int argc, char **argv, struct shim_options *o)
{
	char shorts[64];
	struct option longs[OPTION_ROWS + 1];
	int letter;

	*o = (struct shim_options){
		.policy_path = SHIM_DEFAULT_POLICY, .config_path = SHIM_DEFAULT_CONFIG,
		.log_level = LOG_INFO, .shutdown_grace_s = 30,
	};
	build_getopt(shorts, sizeof(shorts), longs);
	while ((letter = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		if (letter == 'h') {
			print_help(stdout, argv[0]);
			return EXIT_SUCCESS;
		}
		if (letter == 'V') {
			printf("delegate-shim %s\n", MD_VERSION);
			return EXIT_SUCCESS;
		}
		if (letter == '?' || !apply_option(letter, optarg, o)) {
			if (letter != '?')
				fprintf(stderr, "%s: invalid argument for -%c: %s\n", argv[0], letter, optarg);
			fprintf(stderr, "Try '%s --help' for more information.\n", argv[0]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument: %s\n", argv[0], argv[optind]);
		return 2;
	}
	if (!o->log_set)
		o->log_stderr = o->foreground || o->check_only;
	return SHIM_OPTIONS_RUN;
}
