/*
 * milter_options.c - the milter-delegate command line: its option table,
 * its manual page and defaults; the parsing itself is the engine's (cli.c).
 */
#include <stddef.h>
#include <syslog.h>

#include "milter_options.h"

#define FIELD(name) offsetof(struct milter_options, name)

static const struct cli_option option_rows[] = {
	{ 'c', "config", "FILE", CLI_TEXT, FIELD(policy_path),
	  "policy file (default " MILTER_DEFAULT_POLICY ")" },
	{ 'p', "socket", "SPEC", CLI_TEXT, FIELD(socket_spec),
	  "milter socket: unix:/path or inet:PORT@HOST (default " MILTER_DEFAULT_SOCKET ")" },
	{ 'm', "socket-mode", "MODE", CLI_MODE, FIELD(socket_mode),
	  "a unix socket's permissions, octal (default 0660)" },
	{ 'g', "socket-group", "GROUP", CLI_TEXT, FIELD(socket_group),
	  "a unix socket's group (default postfix, if that group exists)" },
	{ 't', "check", NULL, CLI_FLAG, FIELD(check_only),
	  "check the policy and what start-up needs, print a summary or every error, exit" },
	{ 'f', "foreground", NULL, CLI_FLAG, FIELD(foreground),
	  "stay in the foreground (log to stderr unless -L syslog)" },
	{ 'u', "user", "USER", CLI_TEXT, FIELD(user),
	  "drop privileges to USER after opening the socket" },
	{ 'P', "pidfile", "FILE", CLI_TEXT, FIELD(pid_file), "write the process id to FILE" },
	{ 'l', "log-level", "LEVEL", CLI_LOG_LEVEL, FIELD(log_level),
	  "error, warning, notice, info (default) or debug" },
	{ 'L', "log", "TARGET", CLI_LOG_TARGET, FIELD(log_target),
	  "syslog (mail facility) or stderr" },
	{ 'F', "log-format", "FORMAT", CLI_LOG_FORMAT, FIELD(log_format),
	  "text (default) or json: one JSON object per line" },
	{ 'M', "metrics", "ADDR", CLI_TEXT, FIELD(metrics),
	  "serve Prometheus metrics at http://ADDR/metrics (HOST:PORT or PORT; off by default)" },
	{ 'A', "metrics-public", NULL, CLI_FLAG, FIELD(metrics_public),
	  "let -M listen on an address that is not loopback" },
	{ 'T', "timeout", "SECONDS", CLI_SECONDS, FIELD(timeout_s),
	  "MTA connection timeout (default 7210, as libmilter)" },
	{ 'G', "grace", "SECONDS", CLI_SECONDS, FIELD(shutdown_grace_s),
	  "at SIGTERM, time left to transactions in flight (default 30)" },
	{ 'h', "help", NULL, CLI_HELP, 0, "print this help and exit" },
	{ 'V', "version", NULL, CLI_VERSION, 0, "print the version and exit" },
};

static const char *const synopsis[] = {
	"[-f] [-c FILE] [-p SPEC] [-m MODE] [-g GROUP] [-u USER] [-P FILE] [-l LEVEL] [-L TARGET]\n"
	"        [-F FORMAT] [-M ADDR [-A]]",
	"-t [-c FILE] [-p SPEC] [-g GROUP] [-u USER] [-P FILE] [-M ADDR [-A]]",
	NULL,
};

static const struct cli_spec spec = {
	.program = "milter-delegate",
	.summary = "mail filter (milter) that applies JSON policies and delegates\n"
		   "    messages to SMTP content filters such as clamsmtpd",
	.synopsis = synopsis,
	.trailer = "SIGNALS\n"
		   "    SIGHUP    reload the policy; a broken policy is refused and the old one kept\n"
		   "    SIGTERM   stop accepting, let transactions in flight finish, exit\n\n"
		   "EXIT STATUS\n"
		   "    0 on success; 1 when the policy is invalid, a start-up check fails (-t) or\n"
		   "    start-up fails (in the background too: the starting command waits until\n"
		   "    the daemon is ready and prints why it is not); 2 on usage errors.\n\n"
		   "SEE ALSO\n"
		   "    milter-delegate(8), milter-delegate.policy(5), policies/README.md\n",
	.options = option_rows,
	.option_count = sizeof(option_rows) / sizeof(option_rows[0]),
	.help_column = 26,
};

/* milter_options_parse - fill OPTS from ARGV. */
int milter_options_parse(int argc, char **argv, struct milter_options *o)
{
	int status;

	*o = (struct milter_options){
		.policy_path = MILTER_DEFAULT_POLICY, .socket_spec = MILTER_DEFAULT_SOCKET,
		.socket_mode = MILTER_DEFAULT_SOCKET_MODE,
		.log_level = LOG_INFO, .timeout_s = 7210, .shutdown_grace_s = 30,
	};
	if ((status = cli_parse(&spec, argc, argv, o)) != CLI_RUN)
		return status;
	o->log_stderr = o->log_target == CLI_LOG_UNSET ? o->foreground || o->check_only
						       : o->log_target == CLI_LOG_STDERR;
	return MILTER_OPTIONS_RUN;
}
