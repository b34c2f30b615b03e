/*
 * policy_load_action.c - parse and check actions ("then"/"else" lists) and
 * SMTP replies.
 *
 * An action is written as a bare name ("accept") or as an object with an
 * "action" member and that action's own members. Each action kind is one
 * table row: name, the members it allows, where it may be used and its
 * parser. Parsed actions are owned by their rule (action_list_free).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "policy_load_ctx.h"

#define MAX_DELEGATE_DEPTH 8
#define MAX_REPLY_TEXT 400
#define MAX_HEADER_VALUE 998

typedef bool action_parser(struct load_ctx *c, json_t *obj, enum stage stage, struct action *out);

static action_parser parse_nothing, parse_reply_action, parse_quarantine, parse_header,
		     parse_log, parse_delegate;

static const char *const keys_none[] = { "action", "comment", NULL };
static const char *const keys_reply[] = { "action", "code", "status", "text", "comment", NULL };
static const char *const keys_quarantine[] = { "action", "folder", "reason", "then", "code",
					       "status", "text", "comment", NULL };
static const char *const keys_add[] = { "action", "name", "value", "comment", NULL };
static const char *const keys_change[] = { "action", "name", "value", "index", "comment", NULL };
static const char *const keys_remove[] = { "action", "name", "comment", NULL };
static const char *const keys_log[] = { "action", "message", "level", "comment", NULL };
static const char *const keys_delegate[] = { "action", "service", "rules", "import_headers",
					     "deliver", "on_error", "on_timeout", "on_missing",
					     "comment", NULL };

static const struct action_row {
	const char *name;
	enum action_kind kind;
	const char *const *keys;
	bool shorthand;         /* may be written as a bare string */
	bool eom_only;          /* needs the whole message */
	bool fallback_ok;       /* allowed in on_error/on_timeout/on_missing/fail_safe */
	action_parser *parse;
} action_table[] = {
	{ "next", ACT_NEXT, keys_none, true, false, true, parse_nothing },
	{ "accept", ACT_ACCEPT, keys_none, true, false, true, parse_nothing },
	{ "reject", ACT_REJECT, keys_reply, true, false, true, parse_reply_action },
	{ "tempfail", ACT_TEMPFAIL, keys_reply, true, false, true, parse_reply_action },
	{ "discard", ACT_DISCARD, keys_none, true, false, true, parse_nothing },
	{ "quarantine", ACT_QUARANTINE, keys_quarantine, false, true, true, parse_quarantine },
	{ "add_header", ACT_ADD_HEADER, keys_add, false, false, true, parse_header },
	{ "change_header", ACT_CHANGE_HEADER, keys_change, false, false, true, parse_header },
	{ "remove_header", ACT_REMOVE_HEADER, keys_remove, false, false, true, parse_header },
	{ "log", ACT_LOG, keys_log, false, false, true, parse_log },
	{ "delegate", ACT_DELEGATE, keys_delegate, false, true, false, parse_delegate },
};
#define ACTION_ROWS (sizeof(action_table) / sizeof(action_table[0]))

static const char action_names[] =
	"next, accept, reject, tempfail, discard, quarantine, add_header, "
	"change_header, remove_header, log, delegate";

/* find_action - the row named NAME, or NULL. */
static const struct action_row *find_action(const char *name)
{
	for (size_t i = 0; i < ACTION_ROWS; i++)
		if (strcmp(action_table[i].name, name) == 0)
			return &action_table[i];
	return NULL;
}

/* parse_nothing - actions without members. */
static bool parse_nothing(struct load_ctx *c, json_t *obj, enum stage stage, struct action *out)
{
	(void)c, (void)obj, (void)stage, (void)out;
	return true;
}

/* valid_status - "X.Y.Z" with X the reply code's class, Y and Z 1-3 digits. */
static bool valid_status(const char *s, int code)
{
	int cls, subject, detail, used = 0;

	if (sscanf(s, "%1d.%3d.%3d%n", &cls, &subject, &detail, &used) != 3 || s[used])
		return false;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char)*p) && *p != '.')
			return false;
	return cls == code / 100;
}

/* valid_reply_text - printable ASCII, no CR/LF, bounded. */
static bool valid_reply_text(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MAX_REPLY_TEXT)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 32 || (unsigned char)*p > 126)
			return false;
	return true;
}

/* reply_defaults - code, status and text used when the policy gives none. */
static void reply_defaults(enum action_kind kind, struct reply *out, const char **text)
{
	if (kind == ACT_TEMPFAIL) {
		out->code = 451;
		snprintf(out->status, sizeof(out->status), "4.7.1");
		*text = "Try again later";
	} else {
		out->code = 550;
		snprintf(out->status, sizeof(out->status), "5.7.1");
		*text = kind == ACT_QUARANTINE ? "Message refused and quarantined"
					       : "Message refused by policy";
	}
}

/* load_code - the "code" member; the class must fit the action. */
static void load_code(struct load_ctx *c, json_t *obj, enum action_kind kind, struct reply *out)
{
	int want = kind == ACT_TEMPFAIL ? 4 : 5;
	json_t *v = json_object_get(obj, "code");

	if (!v)
		return;
	lctx_push_key(c, "code");
	if (lctx_expect(c, v, JSON_INTEGER, "an SMTP reply code")) {
		json_int_t code = json_integer_value(v);

		if (code / 100 != want || (code / 10) % 10 > 5)
			lctx_error(c, "reply code %lld does not fit %s: expected %dxx (%s)",
				   (long long)code, kind == ACT_TEMPFAIL ? "tempfail" : "reject",
				   want, want == 4 ? "for example 451" : "for example 550");
		else
			out->code = (int)code;
	}
	lctx_pop(c);
}

/* load_reply - code/status/text members of OBJ (any may be absent) into OUT. */
bool load_reply(struct load_ctx *c, json_t *obj, enum action_kind kind, struct reply *out)
{
	const char *text, *status, *given;
	size_t before = c->errs->count;

	reply_defaults(kind, out, &text);
	if (obj) {
		load_code(c, obj, kind, out);
		status = lctx_string_member(c, obj, "status", false);
		lctx_push_key(c, "status");
		if (status && !valid_status(status, out->code))
			lctx_error(c, "invalid enhanced status \"%s\": expected %d.X.Y (RFC 3463), "
				   "matching reply code %d", status, out->code / 100, out->code);
		else if (status)
			snprintf(out->status, sizeof(out->status), "%s", status);
		else if (json_object_get(obj, "code"))
			snprintf(out->status, sizeof(out->status), "%c.7.1", out->code >= 500 ? '5' : '4');
		lctx_pop(c);
		given = lctx_string_member(c, obj, "text", false);
		lctx_push_key(c, "text");
		if (given && !valid_reply_text(given))
			lctx_error(c, "invalid reply text: expected 1-%d printable ASCII characters, "
				   "no line breaks", MAX_REPLY_TEXT);
		else if (given)
			text = given;
		lctx_pop(c);
	}
	out->text = xstrdup(text);
	return c->errs->count == before;
}

/* parse_reply_action - reject/tempfail with an optional reply. */
static bool parse_reply_action(struct load_ctx *c, json_t *obj, enum stage stage, struct action *out)
{
	(void)stage;
	return load_reply(c, obj, out->kind, &out->u.reply);
}

/* valid_folder - a plain directory name: letters, digits, '.', '_', '-'. */
static bool valid_folder(const char *s)
{
	if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strlen(s) > 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
			return false;
	return true;
}

/* parse_quarantine_then - the "then" member of a quarantine action. */
static bool parse_quarantine_then(struct load_ctx *c, json_t *obj, struct action *out)
{
	static const char *const names[] = { "discard", "reject", "hold" };
	const char *then = lctx_string_member(c, obj, "then", false);

	out->u.quarantine.then = out->u.quarantine.folder ? QUARANTINE_DISCARD : QUARANTINE_HOLD;
	if (!then)
		return !json_object_get(obj, "then");
	for (int i = 0; i < 3; i++) {
		if (strcmp(then, names[i]) == 0) {
			out->u.quarantine.then = (enum quarantine_then)i;
			return true;
		}
	}
	lctx_push_key(c, "then");
	lctx_error(c, "unknown value \"%s\"; expected one of: discard, reject, hold", then);
	lctx_pop(c);
	return false;
}

/* parse_quarantine - folder copy and/or MTA hold, then what recipients see. */
static bool parse_quarantine(struct load_ctx *c, json_t *obj, enum stage stage, struct action *out)
{
	const char *folder = lctx_string_member(c, obj, "folder", false);
	const char *reason = lctx_string_member(c, obj, "reason", false);
	bool ok = true;

	(void)stage;
	if (folder && !valid_folder(folder)) {
		lctx_push_key(c, "folder");
		lctx_error(c, "invalid folder name \"%s\": expected a plain name of letters, "
			   "digits, '.', '_' or '-'", folder);
		lctx_pop(c);
		ok = false;
	}
	out->u.quarantine.folder = folder ? xstrdup(folder) : NULL;
	out->u.quarantine.reason = xstrdup(reason ? reason : "quarantined by policy");
	ok = parse_quarantine_then(c, obj, out) && ok;
	if (!folder && out->u.quarantine.then != QUARANTINE_HOLD) {
		lctx_error(c, "a quarantine without \"folder\" keeps the message nowhere: "
			   "expected a folder, or \"then\": \"hold\" (MTA hold queue)");
		ok = false;
	}
	if (out->u.quarantine.then != QUARANTINE_REJECT &&
	    (json_object_get(obj, "code") || json_object_get(obj, "text") ||
	     json_object_get(obj, "status"))) {
		lctx_error(c, "code, status and text apply only with \"then\": \"reject\"");
		ok = false;
	}
	return load_reply(c, obj, ACT_QUARANTINE, &out->u.quarantine.reply) && ok;
}

/* valid_header_value - no line breaks (the MTA folds), bounded. */
static bool valid_header_value(const char *s)
{
	return strlen(s) <= MAX_HEADER_VALUE && !strpbrk(s, "\r\n");
}

/* valid_field_name - printable ASCII without ':' or spaces. */
static bool valid_field_name(const char *s, bool allow_star)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (allow_star && s[i] == '*' && i == n - 1 && n > 1)
			continue;
		if (s[i] <= 32 || s[i] >= 127 || s[i] == ':' || s[i] == '*')
			return false;
	}
	return true;
}

/* parse_header - add_header/change_header/remove_header. */
static bool parse_header(struct load_ctx *c, json_t *obj, enum stage stage, struct action *out)
{
	const char *name = lctx_string_member(c, obj, "name", true);
	bool needs_value = out->kind != ACT_REMOVE_HEADER;
	json_t *value = json_object_get(obj, "value");
	json_t *index = json_object_get(obj, "index");
	bool ok = name != NULL;

	(void)stage;
	if (name && !valid_field_name(name, false)) {
		lctx_push_key(c, "name");
		lctx_error(c, "invalid header name \"%s\"", name);
		lctx_pop(c);
		ok = false;
	}
	lctx_push_key(c, "value");
	if (needs_value && !value)
		lctx_error(c, "missing key \"value\" (expected a string)"), ok = false;
	else if (value && !lctx_expect(c, value, JSON_STRING, "a string"))
		ok = false;
	else if (value && !valid_header_value(json_string_value(value)))
		lctx_error(c, "invalid header value: no line breaks, at most %d characters",
			   MAX_HEADER_VALUE), ok = false;
	lctx_pop(c);
	out->u.header.index = 1;
	if (index) {
		lctx_push_key(c, "index");
		if (!json_is_integer(index) || json_integer_value(index) < 1 ||
		    json_integer_value(index) > 1000)
			lctx_error(c, "expected an occurrence number from 1 to 1000"), ok = false;
		else
			out->u.header.index = (unsigned)json_integer_value(index);
		lctx_pop(c);
	}
	out->u.header.name = name ? xstrdup(name) : NULL;
	out->u.header.value = value && json_is_string(value) ? xstrdup(json_string_value(value)) : NULL;
	return ok;
}

/* parse_log - a message written to the log when the action runs. */
static bool parse_log(struct load_ctx *c, json_t *obj, enum stage stage, struct action *out)
{
	const char *message = lctx_string_member(c, obj, "message", true);
	const char *level = lctx_string_member(c, obj, "level", false);

	(void)stage;
	out->u.log.level = LOG_INFO;
	if (level && log_level_parse(level) < 0) {
		lctx_push_key(c, "level");
		lctx_error(c, "unknown level \"%s\"; expected one of: error, warning, notice, info, debug",
			   level);
		lctx_pop(c);
		return false;
	}
	if (level)
		out->u.log.level = log_level_parse(level);
	out->u.log.message = message ? xstrdup(message) : NULL;
	return message != NULL;
}

/* parse_imports - "import_headers": names or "Prefix-*" patterns. */
static bool parse_imports(struct load_ctx *c, json_t *v, struct delegate_spec *d)
{
	bool ok = true;

	if (!v)
		return true;
	lctx_push_key(c, "import_headers");
	if (!lctx_expect(c, v, JSON_ARRAY, "an array of header names")) {
		lctx_pop(c);
		return false;
	}
	d->imports = xcalloc(json_array_size(v), sizeof(*d->imports));
	for (size_t i = 0; i < json_array_size(v); i++) {
		json_t *item = json_array_get(v, i);
		const char *s = json_string_value(item);

		lctx_push_index(c, i);
		if (!s || !valid_field_name(s, true)) {
			lctx_error(c, "expected a header name, or a prefix ending in '*' (\"X-Virus-*\")");
			ok = false;
		} else {
			struct header_pattern *hp = &d->imports[d->import_count++];

			hp->prefix = s[strlen(s) - 1] == '*';
			hp->name = xstrndup(s, strlen(s) - hp->prefix);
		}
		lctx_pop(c);
	}
	lctx_pop(c);
	return ok;
}

/* parse_deliver - "deliver": "original" (default) or "copy"; imports need the original. */
static bool parse_deliver(struct load_ctx *c, json_t *obj, struct delegate_spec *d)
{
	static const char *const names[] = { [DELIVER_ORIGINAL] = "original", [DELIVER_COPY] = "copy" };
	const char *deliver = lctx_string_member(c, obj, "deliver", false);

	d->deliver = DELIVER_ORIGINAL;
	if (!deliver)
		return !json_object_get(obj, "deliver");
	lctx_push_key(c, "deliver");
	if (strcmp(deliver, names[DELIVER_COPY]) == 0)
		d->deliver = DELIVER_COPY;
	else if (strcmp(deliver, names[DELIVER_ORIGINAL]) != 0)
		lctx_error(c, "unknown value \"%s\"; expected one of: original, copy", deliver);
	lctx_pop(c);
	if (d->deliver == DELIVER_COPY && json_object_get(obj, "import_headers")) {
		lctx_push_key(c, "import_headers");
		lctx_error(c, "import_headers has no effect with \"deliver\": \"copy\" "
			   "(the copy is delivered with every field the filter added): remove one of them");
		lctx_pop(c);
		return false;
	}
	return strcmp(deliver, names[d->deliver]) == 0;
}

/* parse_fallback - on_error/on_timeout/on_missing, defaulting to a tempfail. */
static bool parse_fallback(struct load_ctx *c, json_t *obj, const char *key, const char *text,
			   struct action_list *out)
{
	json_t *v = json_object_get(obj, key);
	bool ok;

	if (v) {
		lctx_push_key(c, key);
		ok = load_actions(c, v, STAGE_EOM, true, out);
		lctx_pop(c);
		return ok;
	}
	out->items = xcalloc(1, sizeof(*out->items));
	out->count = 1;
	out->items[0].kind = ACT_TEMPFAIL;
	load_reply(c, NULL, ACT_TEMPFAIL, &out->items[0].u.reply);
	free(out->items[0].u.reply.text);
	out->items[0].u.reply.text = xstrdup(text);
	return true;
}

/* parse_delegate - send the message to a service, then follow-up rules. */
static bool parse_delegate(struct load_ctx *c, json_t *obj, enum stage stage, struct action *out)
{
	struct delegate_spec *d = &out->u.delegate;
	const char *service = lctx_string_member(c, obj, "service", true);
	json_t *rules = json_object_get(obj, "rules");
	bool ok = service != NULL;

	if (service && !(d->service = policy_find_service(c->policy, service))) {
		char names[256] = "";

		for (size_t i = 0; i < c->policy->service_count; i++) {
			size_t n = strlen(names);

			snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "",
				 c->policy->services[i].name);
		}
		lctx_push_key(c, "service");
		lctx_error(c, "unknown service \"%s\"; defined services: %s", service,
			   *names ? names : "(none: add one under \"services\")");
		lctx_pop(c);
		ok = false;
	}
	ok = parse_imports(c, json_object_get(obj, "import_headers"), d) && ok;
	ok = parse_deliver(c, obj, d) && ok;
	if (d->service && d->service->type == SERVICE_CLAMD && d->deliver == DELIVER_COPY) {
		lctx_push_key(c, "deliver");
		lctx_error(c, "a clamd service returns a verdict, not a copy: \"copy\" needs an smtp service");
		lctx_pop(c);
		ok = false;
	}
	ok = parse_fallback(c, obj, "on_error", "Content filter unavailable, try again later",
			    &d->on_error) && ok;
	ok = parse_fallback(c, obj, "on_timeout", "Content filter timed out, try again later",
			    &d->on_timeout) && ok;
	ok = parse_fallback(c, obj, "on_missing", "Content filter returned no message, try again later",
			    &d->on_missing) && ok;
	if (rules) {
		if (++c->delegate_depth > MAX_DELEGATE_DEPTH) {
			lctx_push_key(c, "rules");
			lctx_error(c, "delegations nested more than %d deep", MAX_DELEGATE_DEPTH);
			lctx_pop(c);
			ok = false;
		} else {
			lctx_push_key(c, "rules");
			ok = load_rules(c, rules, stage, &d->followup) && ok;
			lctx_pop(c);
		}
		c->delegate_depth--;
	}
	return ok;
}

/* load_one_action - a bare name or an {"action": ...} object. */
static bool load_one_action(struct load_ctx *c, json_t *v, enum stage stage, bool in_fallback,
			    struct action *out)
{
	const struct action_row *row;
	const char *name;

	if (json_is_string(v)) {
		name = json_string_value(v);
	} else if (json_is_object(v)) {
		name = lctx_string_member(c, v, "action", true);
		if (!name)
			return false;
	} else {
		lctx_error(c, "expected an action name or an {\"action\": ...} object, got %s",
			   lctx_type_name(v));
		return false;
	}
	if (json_is_object(v))
		lctx_push_key(c, "action");
	row = find_action(name);
	bool ok = row != NULL;
	if (!row)
		lctx_error(c, "unknown action \"%s\"; expected one of: %s", name, action_names);
	else if (json_is_string(v) && !row->shorthand)
		lctx_error(c, "action \"%s\" needs members: write {\"action\": \"%s\", ...}", name, name), ok = false;
	else if (row->eom_only && stage != STAGE_EOM)
		lctx_error(c, "action \"%s\" needs the whole message: use it at stage eom, not %s",
			   name, stage_name(stage)), ok = false;
	else if (in_fallback && !row->fallback_ok)
		lctx_error(c, "action \"%s\" cannot be used as a fallback", name), ok = false;
	if (json_is_object(v))
		lctx_pop(c);
	if (!ok)
		return false;
	out->kind = row->kind;
	if (json_is_object(v) && !lctx_check_keys(c, v, row->keys))
		ok = false;
	return row->parse(c, json_is_object(v) ? v : NULL, stage, out) && ok;
}

/* load_actions - one action or an array of them, run in order. */
bool load_actions(struct load_ctx *c, json_t *v, enum stage stage, bool in_fallback,
		  struct action_list *out)
{
	bool ok = true;
	size_t n = json_is_array(v) ? json_array_size(v) : 1;

	if (lctx_too_deep(c))
		return false;
	if (json_is_array(v) && n == 0) {
		lctx_error(c, "expected at least one action");
		return false;
	}
	out->items = xcalloc(n, sizeof(*out->items));
	for (size_t i = 0; i < n; i++) {
		if (json_is_array(v))
			lctx_push_index(c, i);
		/* Count every slot, failed ones too: they are freed with the list. */
		out->count++;
		if (!load_one_action(c, json_is_array(v) ? json_array_get(v, i) : v, stage,
				     in_fallback, &out->items[i]))
			ok = false;
		if (json_is_array(v))
			lctx_pop(c);
	}
	return ok;
}
