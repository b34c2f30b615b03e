/*
 * shim_options.c - the delegate-shim command line: its option table, its
 * manual page and defaults; the parsing itself is the engine's (cli.c).
 */
#include <stddef.h>
#include <syslog.h>

#include "shim_options.h"

#define FIELD(name) offsetof(struct shim_options, name)

static const struct cli_option option_rows[] = {
	{ 'c', "config", "FILE", CLI_TEXT, FIELD(policy_path),
	  "policy file (default " SHIM_DEFAULT_POLICY ")" },
	{ 'C', "shim-config", "FILE", CLI_TEXT, FIELD(config_path),
	  "shim settings: listen, next hop, limits (default " SHIM_DEFAULT_CONFIG ")" },
	{ 't', "check", NULL, CLI_FLAG, FIELD(check_only),
	  "check policy, settings and what start-up needs, print a summary or every error, exit" },
	{ 'f', "foreground", NULL, CLI_FLAG, FIELD(foreground),
	  "stay in the foreground (log to stderr unless -L syslog)" },
	{ 'u', "user", "USER", CLI_TEXT, FIELD(user),
	  "drop privileges to USER after opening the sockets" },
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
	{ 'G', "grace", "SECONDS", CLI_SECONDS, FIELD(shutdown_grace_s),
	  "at SIGTERM, time left to sessions in flight (default 30)" },
	{ 'h', "help", NULL, CLI_HELP, 0, "print this help and exit" },
	{ 'V', "version", NULL, CLI_VERSION, 0, "print the version and exit" },
};

static const char *const synopsis[] = {
	"[-f] [-c FILE] [-C FILE] [-u USER] [-P FILE] [-l LEVEL] [-L TARGET] [-G SECONDS]\n"
	"        [-F FORMAT] [-M ADDR [-A]]",
	"-t [-c FILE] [-C FILE] [-u USER] [-P FILE] [-M ADDR [-A]]",
	NULL,
};

static const struct cli_spec spec = {
	.program = "delegate-shim",
	.summary = "standalone SMTP front end that applies milter-delegate's JSON\n"
		   "    policies, delegates to content filters such as clamsmtpd, and hands\n"
		   "    accepted mail to a next hop (SMTP or a Maildir)",
	.synopsis = synopsis,
	.trailer = "SIGNALS\n"
		   "    SIGHUP    reload the policy; a broken policy is refused and the old one kept\n"
		   "              (the shim settings are read at start only)\n"
		   "    SIGTERM   stop taking new sessions and messages, let those in flight finish\n"
		   "              within the grace period, exit 0\n\n"
		   "EXIT STATUS\n"
		   "    0 on success; 1 when the policy or the settings are invalid or start-up\n"
		   "    fails; 2 on usage errors.\n\n"
		   "SEE ALSO\n"
		   "    delegate-shim(8), milter-delegate(8), shim/README.md, policies/README.md\n",
	.options = option_rows,
	.option_count = sizeof(option_rows) / sizeof(option_rows[0]),
	.help_column = 28,
};

/* shim_options_parse - fill OPTS from ARGV. */
int shim_options_parse(int argc, char **argv, struct shim_options *o)
{
	int status;

	*o = (struct shim_options){
		.policy_path = SHIM_DEFAULT_POLICY, .config_path = SHIM_DEFAULT_CONFIG,
		.log_level = LOG_INFO, .shutdown_grace_s = 30,
	};
	if ((status = cli_parse(&spec, argc, argv, o)) != CLI_RUN)
		return status;
	o->log_stderr = o->log_target == CLI_LOG_UNSET ? o->foreground || o->check_only
						       : o->log_target == CLI_LOG_STDERR;
	return SHIM_OPTIONS_RUN;
}
