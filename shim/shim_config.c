/*
 * shim_config.c - load and check shim.json with jansson, reporting every
 * error with its line, column and JSON path (the policy loader's helpers,
 * policy_load_ctx.h, do the locating and the wording).
 *
 * The limits are one table row each (name, kind, bounds, default), so a new
 * limit is one line here and one in shim/README.md.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy_load_ctx.h"
#include "shim_config.h"
#include "units.h"

#define MAX_CONFIG_BYTES (1024 * 1024)
#define DEFAULT_LISTEN "127.0.0.1:2525"
#define DEFAULT_NEXTHOP_TIMEOUT_MS (5 * 60 * 1000)

enum limit_kind { LIMIT_COUNT, LIMIT_SIZE, LIMIT_DURATION };

/* One row per limit: where it goes, its bounds and default. */
static const struct limit_row {
	const char *name;
	enum limit_kind kind;
	size_t offset;                  /* in struct shim_config */
	uint64_t min, max, dflt;
} limit_rows[] = {
	{ "max_recipients", LIMIT_COUNT, offsetof(struct shim_config, max_recipients), 1, 100000, 1000 },
	{ "max_sessions", LIMIT_COUNT, offsetof(struct shim_config, max_sessions), 1, 10000, 100 },
	{ "max_message_size", LIMIT_SIZE, offsetof(struct shim_config, max_message_size),
	  1024, (uint64_t)1 << 40, 0 },
	{ "command_timeout", LIMIT_DURATION, offsetof(struct shim_config, command_timeout_ms),
	  1000, 3600 * 1000, 5 * 60 * 1000 },
	{ "data_timeout", LIMIT_DURATION, offsetof(struct shim_config, data_timeout_ms),
	  1000, 3600 * 1000, 10 * 60 * 1000 },
};
#define LIMIT_ROWS (sizeof(limit_rows) / sizeof(limit_rows[0]))

/* load_address - OBJ.KEY as an address (DFLT when absent and DFLT given). */
static void load_address(struct load_ctx *c, json_t *obj, const char *key, const char *dflt,
			 struct endpoint *out)
{
	const char *text = lctx_string_member(c, obj, key, dflt == NULL);
	const char *why;

	if (!text && json_object_get(obj, key))
		return;                 /* wrong type: reported */
	if (!text && !dflt)
		return;                 /* missing: reported */
	if (netaddr_parse_endpoint(text ? text : dflt, NETADDR_NUMERIC_HOST, out, &why))
		return;
	lctx_push_key(c, key);
	lctx_error(c, "invalid address \"%s\" (%s): expected NUMERIC-HOST:PORT (\"127.0.0.1:2525\", "
		   "\"[::1]:2525\")", text, why);
	lctx_pop(c);
}

/* load_limit - one row of the limits table from OBJ (absent: the default). */
static void load_limit(struct load_ctx *c, json_t *obj, const struct limit_row *row,
		       struct shim_config *cfg)
{
	json_t *v = obj ? json_object_get(obj, row->name) : NULL;
	uint64_t value = row->dflt;
	const char *why = NULL;
	bool ok = true;

	lctx_push_key(c, row->name);
	if (v && row->kind == LIMIT_COUNT) {
		ok = json_is_integer(v) && json_integer_value(v) >= 0;
		value = ok ? (uint64_t)json_integer_value(v) : 0;
		if (!ok && json_is_integer(v))
			lctx_error(c, "expected a whole number of at least %llu, got %lld",
				   (unsigned long long)row->min, (long long)json_integer_value(v));
		else if (!ok)
			lctx_error(c, "expected a whole number, got %s", lctx_type_name(v));
	} else if (v && row->kind == LIMIT_SIZE && json_is_integer(v) && json_integer_value(v) >= 0) {
		value = (uint64_t)json_integer_value(v);
	} else if (v && row->kind == LIMIT_SIZE) {
		ok = json_is_string(v) && units_parse_size(json_string_value(v), &value, &why);
		if (!ok)
			lctx_error(c, "invalid size (%s): expected a byte count or a size such as \"50M\"",
				   why ? why : lctx_type_name(v));
	} else if (v) {
		ok = json_is_string(v) && units_parse_duration(json_string_value(v), &value, &why);
		if (!ok)
			lctx_error(c, "invalid duration (%s): expected a duration such as \"60s\" or \"5m\"",
				   why ? why : lctx_type_name(v));
	}
	if (v && ok && (value < row->min || value > row->max)) {
		lctx_error(c, "%llu%s is out of range: expected %llu to %llu%s",
			   (unsigned long long)value, row->kind == LIMIT_DURATION ? " ms" : "",
			   (unsigned long long)row->min, (unsigned long long)row->max,
			   row->kind == LIMIT_DURATION ? " ms" : row->kind == LIMIT_SIZE ? " bytes" : "");
		value = row->dflt;
	}
	if (row->kind == LIMIT_COUNT)
		*(unsigned *)(void *)((char *)cfg + row->offset) = (unsigned)value;
	else
		*(uint64_t *)(void *)((char *)cfg + row->offset) = value;
	lctx_pop(c);
}

/* load_limits - the "limits" object (every member optional). */
static void load_limits(struct load_ctx *c, json_t *v, struct shim_config *cfg)
{
	static const char *const keys[] = { "max_recipients", "max_sessions", "max_message_size",
					    "command_timeout", "data_timeout", "comment", NULL };

	lctx_push_key(c, "limits");
	if (v && !lctx_expect(c, v, JSON_OBJECT, "an object of limits"))
		v = NULL;
	if (v)
		lctx_check_keys(c, v, keys);
	for (size_t i = 0; i < LIMIT_ROWS; i++)
		load_limit(c, v, &limit_rows[i], cfg);
	lctx_pop(c);
}

/* load_smtp_hop - next_hop.smtp: "HOST:PORT", and an optional timeout. */
static void load_smtp_hop(struct load_ctx *c, json_t *v, struct shim_config *cfg)
{
	json_t *timeout = json_object_get(v, "timeout");
	const char *why = NULL;

	cfg->nexthop = NEXTHOP_SMTP;
	load_address(c, v, "smtp", NULL, &cfg->smtp);
	cfg->smtp_timeout_ms = DEFAULT_NEXTHOP_TIMEOUT_MS;
	if (!timeout)
		return;
	lctx_push_key(c, "timeout");
	if (!json_is_string(timeout) ||
	    !units_parse_duration(json_string_value(timeout), &cfg->smtp_timeout_ms, &why) ||
	    cfg->smtp_timeout_ms == 0)
		lctx_error(c, "invalid duration (%s): expected a positive duration such as \"60s\"",
			   why ? why : json_is_string(timeout) ? "zero" : lctx_type_name(timeout));
	lctx_pop(c);
}

/* load_maildir_hop - next_hop.maildir: an absolute directory path. */
static void load_maildir_hop(struct load_ctx *c, json_t *v, struct shim_config *cfg)
{
	const char *dir = lctx_string_member(c, v, "maildir", true);

	cfg->nexthop = NEXTHOP_MAILDIR;
	if (json_object_get(v, "timeout")) {
		lctx_push_key(c, "timeout");
		lctx_error_key(c, "\"timeout\" applies to an smtp next hop only");
		lctx_pop(c);
	}
	if (!dir)
		return;
	if (dir[0] != '/' || strlen(dir) > 1024) {
		lctx_push_key(c, "maildir");
		lctx_error(c, "expected an absolute path of at most 1024 characters, got \"%s\"", dir);
		lctx_pop(c);
		return;
	}
	cfg->maildir = xstrdup(dir);
}

/* load_next_hop - {"smtp": "HOST:PORT", "timeout": ...} or {"maildir": "/path"}. */
static void load_next_hop(struct load_ctx *c, json_t *v, struct shim_config *cfg)
{
	static const char *const keys[] = { "smtp", "maildir", "timeout", "comment", NULL };
	bool smtp, maildir;

	lctx_push_key(c, "next_hop");
	if (!v) {
		lctx_error(c, "missing key \"next_hop\" (expected {\"smtp\": \"HOST:PORT\"} or "
			   "{\"maildir\": \"/path\"})");
	} else if (lctx_expect(c, v, JSON_OBJECT, "{\"smtp\": \"HOST:PORT\"} or {\"maildir\": \"/path\"}")) {
		lctx_check_keys(c, v, keys);
		smtp = json_object_get(v, "smtp") != NULL;
		maildir = json_object_get(v, "maildir") != NULL;
		if (smtp == maildir)
			lctx_error(c, "expected exactly one of \"smtp\" and \"maildir\"");
		else if (smtp)
			load_smtp_hop(c, v, cfg);
		else
			load_maildir_hop(c, v, cfg);
	}
	lctx_pop(c);
}

/* load_hostname - "hostname", or this machine's name. */
static void load_hostname(struct load_ctx *c, json_t *root, struct shim_config *cfg)
{
	const char *name = lctx_string_member(c, root, "hostname", false);
	char local[256];

	if (name && strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "0123456789.-[]:") != strlen(name)) {
		lctx_push_key(c, "hostname");
		lctx_error(c, "invalid host name \"%s\": expected letters, digits, dots and dashes", name);
		lctx_pop(c);
		name = NULL;
	}
	if (!name) {
		if (gethostname(local, sizeof(local)) != 0 || !local[0])
			snprintf(local, sizeof(local), "localhost");
		local[sizeof(local) - 1] = '\0';
		name = local;
	}
	cfg->hostname = xstrdup(name);
}

/* The values of "bare_newline", one row each. */
static const struct {
	const char *name;
	enum smtp_bare_newline mode;
} bare_newline_rows[] = {
	{ "reject", SMTP_BARE_REJECT },
	{ "normalize", SMTP_BARE_NORMALIZE },
};

/* load_bare_newline - "bare_newline": what a bare LF from a client means. */
static void load_bare_newline(struct load_ctx *c, json_t *root, struct shim_config *cfg)
{
	const char *text = lctx_string_member(c, root, "bare_newline", false);

	cfg->bare_newline = SMTP_BARE_REJECT;
	if (!text)
		return;
	for (size_t i = 0; i < sizeof(bare_newline_rows) / sizeof(bare_newline_rows[0]); i++) {
		if (strcmp(text, bare_newline_rows[i].name) == 0) {
			cfg->bare_newline = bare_newline_rows[i].mode;
			return;
		}
	}
	lctx_push_key(c, "bare_newline");
	lctx_error(c, "expected \"reject\" or \"normalize\", got \"%s\"", text);
	lctx_pop(c);
}

/* shim_config_load_text - load TEXT named NAME. */
struct shim_config *shim_config_load_text(const char *text, const char *name,
					  struct load_errors *errs)
{
	static const char *const keys[] = { "listen", "hostname", "next_hop", "limits",
					    "bare_newline", "comment", NULL };
	struct load_ctx c = { .file = name, .text = text, .errs = errs };
	struct shim_config *cfg;
	json_error_t jerr;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	size_t before = errs->count;

	if (!root) {
		load_errors_add(errs, "%s:%d:%d: syntax error: %s", name, jerr.line, jerr.column,
				jerr.text);
		return NULL;
	}
	cfg = xcalloc(1, sizeof(*cfg));
	cfg->path = xstrdup(name);
	if (lctx_expect(&c, root, JSON_OBJECT, "a shim configuration object at the top level")) {
		lctx_check_keys(&c, root, keys);
		load_address(&c, root, "listen", DEFAULT_LISTEN, &cfg->listen);
		load_hostname(&c, root, cfg);
		load_next_hop(&c, json_object_get(root, "next_hop"), cfg);
		load_limits(&c, json_object_get(root, "limits"), cfg);
		load_bare_newline(&c, root, cfg);
	}
	json_decref(root);
	if (errs->count != before) {
		shim_config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* shim_config_load_file - load the configuration file PATH. */
struct shim_config *shim_config_load_file(const char *path, struct load_errors *errs)
{
	char *text = load_read_json_file(path, MAX_CONFIG_BYTES, "shim configuration", errs);
	struct shim_config *cfg;

	if (!text)
		return NULL;
	cfg = shim_config_load_text(text, path, errs);
	free(text);
	return cfg;
}

/* shim_config_summary - "FILE: OK: listen 127.0.0.1:2525, next hop maildir /x". */
void shim_config_summary(const struct shim_config *c, char *buf, size_t len)
{
	if (c->nexthop == NEXTHOP_SMTP)
		snprintf(buf, len, "%s: OK: listen %s:%u, next hop smtp %s:%u", c->path,
			 c->listen.host, c->listen.port, c->smtp.host, c->smtp.port);
	else
		snprintf(buf, len, "%s: OK: listen %s:%u, next hop maildir %s", c->path,
			 c->listen.host, c->listen.port, c->maildir);
}

/* shim_config_free - release everything. */
void shim_config_free(struct shim_config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->listen.host);
	free(c->hostname);
	free(c->smtp.host);
	free(c->maildir);
	free(c);
}
