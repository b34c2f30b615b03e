/*
 * qtool_main.c - milter-delegate-quarantine: read the options (a table, one
 * row per option), load the policy for the quarantine root and the release
 * address, refuse a user who cannot read (or, for a change, write) the
 * quarantine, and run the command (a table, one row per command).
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy_load.h"
#include "qtool.h"
#include "units.h"

#ifndef MD_VERSION
#define MD_VERSION "0.1"
#endif
#define DEFAULT_POLICY "/etc/milter-delegate/policy.json"
#define DEFAULT_SENDMAIL "/usr/sbin/sendmail"

enum opt_type { OPT_TEXT, OPT_FLAG, OPT_AGE, OPT_DURATION, OPT_ENDPOINT, OPT_SENDMAIL,
		OPT_HELP, OPT_VERSION };

static const struct opt_row {
	int letter;
	const char *name;
	enum opt_type type;
	size_t field;
	const char *help;
} options[] = {
	{ 'c', "config", OPT_TEXT, offsetof(struct qtool, policy_path),
	  "FILE: the policy (default " DEFAULT_POLICY ")" },
	{ 'q', "quarantine-dir", OPT_TEXT, offsetof(struct qtool, root),
	  "DIR: the quarantine root (default: the policy's settings.quarantine_dir)" },
	{ 'F', "folder", OPT_TEXT, offsetof(struct qtool, folder), "NAME: only this folder" },
	{ 's', "sender", OPT_TEXT, offsetof(struct qtool, sender),
	  "TEXT: only senders containing TEXT (any case)" },
	{ 'r', "rcpt", OPT_TEXT, offsetof(struct qtool, rcpt),
	  "TEXT: only messages with a recipient containing TEXT" },
	{ 'R', "rule", OPT_TEXT, offsetof(struct qtool, rule), "NAME: only messages of this rule" },
	{ 'o', "older-than", OPT_AGE, offsetof(struct qtool, older_ms),
	  "AGE: only messages older than AGE (30d, 12h, 90m)" },
	{ 'N', "newer-than", OPT_AGE, offsetof(struct qtool, newer_ms),
	  "AGE: only messages newer than AGE" },
	{ 'j', "json", OPT_FLAG, offsetof(struct qtool, json), "list, show: JSON output" },
	{ 'w', "raw", OPT_FLAG, offsetof(struct qtool, raw), "show: the whole message as stored" },
	{ 't', "to", OPT_ENDPOINT, offsetof(struct qtool, to),
	  "HOST:PORT: release over SMTP there (default: the policy's settings.release_to)" },
	{ 'S', "sendmail", OPT_SENDMAIL, offsetof(struct qtool, sendmail),
	  "[=PATH]: release through sendmail -G -i -f (default " DEFAULT_SENDMAIL ")" },
	{ 'C', "shim-config", OPT_TEXT, offsetof(struct qtool, shim_config),
	  "FILE: release through the next hop of this shim.json" },
	{ 'k', "token", OPT_FLAG, offsetof(struct qtool, token),
	  "release: with a one-time token, into a port where milter-delegate runs" },
	{ 'T', "timeout", OPT_DURATION, offsetof(struct qtool, timeout_ms),
	  "DURATION: one SMTP release at most (default 60s)" },
	{ 'f', "force", OPT_FLAG, offsetof(struct qtool, force), "release: again, if released" },
	{ 'n', "dry-run", OPT_FLAG, offsetof(struct qtool, dry_run),
	  "delete, expire: say what would go, change nothing" },
	{ 'h', "help", OPT_HELP, 0, "this text" },
	{ 'V', "version", OPT_VERSION, 0, "the version" },
};
#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))

static const struct command {
	const char *name;
	int (*run)(const struct qtool *q, int argc, char **args);
	bool writes;                    /* changes the quarantine */
	int min_args, max_args;         /* ids; max -1: any number */
	const char *usage;
} commands[] = {
	{ "list", qtool_list, false, 0, 0, "list [--json] [filters]" },
	{ "show", qtool_show, false, 1, 1, "show [--json | --raw] ID" },
	{ "release", qtool_release, true, 1, -1,
	  "release [--to HOST:PORT [--token] | --sendmail[=PATH] | --shim-config FILE] [--force] ID..." },
	{ "delete", qtool_delete, true, 1, -1, "delete [--dry-run] ID..." },
	{ "expire", qtool_expire, true, 0, 0, "expire --older-than AGE [--dry-run] [filters]" },
};
#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

/* qtool_fail - one error line on stderr; the exit status 1. */
int qtool_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", QTOOL_NAME);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* qtool_user - the user's name, and who ran sudo when it did. */
const char *qtool_user(void)
{
	static char who[256];
	const struct passwd *pw = getpwuid(getuid());
	const char *sudo = getenv("SUDO_USER");

	if (pw)
		snprintf(who, sizeof(who), "%s", pw->pw_name);
	else
		snprintf(who, sizeof(who), "uid %u", (unsigned)getuid());
	if (sudo && *sudo)
		snprintf(who + strlen(who), sizeof(who) - strlen(who), " (sudo from %.64s)", sudo);
	return who;
}

/* usage - the manual in short, to OUT; returns STATUS. */
static int usage(FILE *out, int status)
{
	fprintf(out, "usage: %s [-c POLICY] COMMAND [options] [ID...]\ncommands:\n", QTOOL_NAME);
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		fprintf(out, "    %s\n", commands[i].usage);
	fprintf(out, "options:\n");
	for (size_t i = 0; i < OPTION_COUNT; i++)
		fprintf(out, "    -%c, --%-15s %s\n", options[i].letter, options[i].name,
			options[i].help);
	fprintf(out, "exit status: 0 done, 1 something failed (said on stderr), 2 usage error\n"
		"see %s(8)\n", QTOOL_NAME);
	return status;
}

/* parse_age - "30d", or a duration ("12h", "90m", "3600"), into *MS; false if invalid. */
static bool parse_age(const char *text, int64_t *ms)
{
	uint64_t v;
	const char *why;
	char *end;

	if (text[0] >= '0' && text[0] <= '9' && strchr(text, 'd') == text + strlen(text) - 1) {
		unsigned long days = strtoul(text, &end, 10);

		if (*end != 'd' || days > 100000)
			return false;
		*ms = (int64_t)days * 86400 * 1000;
		return true;
	}
	if (!units_parse_duration(text, &v, &why) || v > INT64_MAX)
		return false;
	*ms = (int64_t)v;
	return true;
}

/* set_option - store ARG for ROW into Q; false (said) when it is invalid. */
static bool set_option(struct qtool *q, const struct opt_row *row, const char *arg)
{
	void *field = (char *)q + row->field;
	const char *why = "invalid";

	switch (row->type) {
	case OPT_TEXT: *(const char **)field = arg; return true;
	case OPT_FLAG: *(bool *)field = true; return true;
	case OPT_SENDMAIL: *(const char **)field = arg ? arg : DEFAULT_SENDMAIL; return true;
	case OPT_AGE:
		if (parse_age(arg, field))
			return true;
		break;
	case OPT_DURATION:
		if (units_parse_duration(arg, field, &why) && *(uint64_t *)field > 0)
			return true;
		break;
	case OPT_ENDPOINT:
		if (netaddr_parse_endpoint(arg, NETADDR_BARE_PORT, field, &why))
			return true;
		break;
	default:
		break;
	}
	fprintf(stderr, "%s: --%s %s: %s\n", QTOOL_NAME, row->name, arg, why);
	return false;
}

/*
 * parse_options - fill Q from ARGV, options and arguments in any order; the
 * arguments (the command, then ids) into POS (*NPOS of them). -1 to go on,
 * else the exit status.
 */
static int parse_options(struct qtool *q, int argc, char **argv, char **pos, int *npos)
{
	struct option longs[OPTION_COUNT + 1] = { { 0 } };
	char shorts[OPTION_COUNT * 3 + 2] = "-", *p = shorts + 1;
	int c;

	for (size_t i = 0; i < OPTION_COUNT; i++) {
		int has = options[i].type == OPT_FLAG || options[i].type >= OPT_HELP ? no_argument
			  : options[i].type == OPT_SENDMAIL ? optional_argument : required_argument;

		longs[i] = (struct option){ options[i].name, has, NULL, options[i].letter };
		*p++ = (char)options[i].letter;
		if (has != no_argument)
			*p++ = ':';
		if (has == optional_argument)
			*p++ = ':';
	}
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct opt_row *row = NULL;

		if (c == 1) {           /* "-" first in SHORTS: an argument, in its place */
			pos[(*npos)++] = optarg;
			continue;
		}
		for (size_t i = 0; i < OPTION_COUNT; i++)
			if (options[i].letter == c)
				row = &options[i];
		if (!row)
			return usage(stderr, 2);
		if (row->type == OPT_HELP)
			return usage(stdout, 0);
		if (row->type == OPT_VERSION)
			return printf("%s %s\n", QTOOL_NAME, MD_VERSION), 0;
		if (!set_option(q, row, optarg))
			return 2;
	}
	while (optind < argc)           /* after "--" */
		pos[(*npos)++] = argv[optind++];
	return -1;
}

/* check_access - can this user read (and, for WRITES, change) ROOT and its folders? */
static int check_access(const char *root, bool writes)
{
	int mode = R_OK | X_OK | (writes ? W_OK : 0);
	DIR *d = opendir(root);
	struct dirent *e;
	const char *denied = NULL;
	char path[4096];

	if (access(root, mode) != 0 && errno != ENOENT)
		denied = root;
	while (!denied && d && (e = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%s", root, e->d_name);
		if (qstore_valid_folder(e->d_name) && e->d_type == DT_DIR && access(path, mode) != 0)
			denied = path;
	}
	if (d)
		closedir(d);
	if (!denied)
		return 0;
	return qtool_fail("cannot %s the quarantine %s: %s; run this as root or as the user the "
			  "daemons run as", writes ? "change" : "read", denied, strerror(EACCES));
}

/* load_settings - the quarantine root and release address from the policy into Q. */
static struct policy *load_settings(struct qtool *q)
{
	struct load_errors errs = { 0 };
	struct policy *p = policy_load_file(q->policy_path, &errs);

	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.items[i]);
	if (!p)
		qtool_fail("%s: policy not loaded (%zu error%s); -q DIR names the quarantine "
			   "without it", q->policy_path, errs.count, errs.count == 1 ? "" : "s");
	load_errors_free(&errs);
	if (!p)
		return NULL;
	if (!q->root)
		q->root = p->settings.quarantine_dir;
	q->release_to = p->settings.release_to;
	q->spool_dir = p->settings.spool_dir;
	return p;
}

/* find_command - the row named NAME, or NULL. */
static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* run - COMMAND with its IDS (N) once the policy is known. */
static int run(struct qtool *q, const struct command *cmd, int n, char **ids)
{
	struct policy *p = NULL;
	int status;

	if (n < cmd->min_args || (cmd->max_args >= 0 && n > cmd->max_args)) {
		fprintf(stderr, "usage: %s %s\n", QTOOL_NAME, cmd->usage);
		return 2;
	}
	if (q->policy_path || !q->root) {       /* -q alone: no policy needed */
		q->policy_path = q->policy_path ? q->policy_path : DEFAULT_POLICY;
		if (!(p = load_settings(q)))
			return 1;
	}
	if (q->to.host)
		q->release_to = q->to;
	else if (!q->release_to.host)
		q->release_to = (struct endpoint){ (char *)POLICY_RELEASE_HOST, POLICY_RELEASE_PORT };
	if (!q->spool_dir)
		q->spool_dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	status = check_access(q->root, cmd->writes);
	if (status == 0)
		status = cmd->run(q, n, ids);
	policy_unref(p);
	return status;
}

int main(int argc, char **argv)
{
	struct qtool q = { .older_ms = -1, .newer_ms = -1, .timeout_ms = 60000, .now = time(NULL) };
	char **pos = calloc((size_t)argc + 1, sizeof(*pos));
	const struct command *cmd;
	int npos = 0, status;

	if (!pos)
		return qtool_fail("out of memory");
	signal(SIGPIPE, SIG_IGN);       /* a sendmail that exits early is an error, not a kill */
	status = parse_options(&q, argc, argv, pos, &npos);
	if (status < 0 && npos == 0)
		status = usage(stderr, 2);
	else if (status < 0 && !(cmd = find_command(pos[0]))) {
		qtool_fail("unknown command \"%s\" (list, show, release, delete, expire)", pos[0]);
		status = 2;
	}
	else if (status < 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		status = qtool_fail("cannot initialise libcurl");
	else if (status < 0) {
		status = run(&q, cmd, npos - 1, pos + 1);
		curl_global_cleanup();
	}
	free(pos);
	free(q.to.host);
	return status;
}
