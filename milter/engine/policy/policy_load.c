/*
 * policy_load.c - load a policy: read the file, parse JSON with jansson,
 * check the top level and the stages, and derive what the MTA must send us.
 *
 * Order matters: services are loaded before stages so that a delegate action
 * can resolve its service by name. Every error is collected; the policy is
 * freed and NULL returned if there was any.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_load_ctx.h"
#include "safety.h"
#include "textfile.h"

#define MAX_POLICY_BYTES (16 * 1024 * 1024)
#define RULE_NAME_MAX 200               /* bytes */

/* valid_rule_name - 1 to RULE_NAME_MAX bytes, none of them a control character (UTF-8 is fine). */
static bool valid_rule_name(const char *name)
{
	size_t len = strlen(name);

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return len > 0 && len <= RULE_NAME_MAX;
}

/* load_rule - one rule object: name, if, then, else. */
static bool load_rule(struct load_ctx *c, json_t *v, enum stage stage, size_t index,
		      struct rule *r)
{
	static const char *const keys[] = { "name", "if", "then", "else", "comment", NULL };
	const char *name;
	json_t *cond, *then, *otherwise;
	bool ok;
	unsigned col;

	c->policy->rule_count++;
	json_pos_find(c->text, c->path, c->depth, false, &r->line, &col);
	if (!lctx_expect(c, v, JSON_OBJECT, "a rule object ({\"name\", \"if\", \"then\", \"else\"})"))
		return false;
	ok = lctx_check_keys(c, v, keys);
	name = lctx_string_member(c, v, "name", false);
	if (name && !valid_rule_name(name)) {
		lctx_push_key(c, "name");
		lctx_error(c, "expected a rule name of 1-%d bytes without control characters "
			   "(it goes into log lines and metric labels)", RULE_NAME_MAX);
		lctx_pop(c);
		ok = false;
	}
	if (name)
		r->name = xstrdup(name);
	else
		r->name = xasprintf("%s#%zu", stage_name(stage), index + 1);
	if ((cond = json_object_get(v, "if"))) {
		lctx_push_key(c, "if");
		r->cond = load_condition(c, cond, stage);
		ok = r->cond && ok;
		lctx_pop(c);
	}
	then = json_object_get(v, "then");
	lctx_push_key(c, "then");
	if (!then)
		lctx_error(c, "missing key \"then\" (expected an action or a list of actions)"), ok = false;
	else
		ok = load_actions(c, then, stage, false, &r->then) && ok;
	lctx_pop(c);
	if ((otherwise = json_object_get(v, "else"))) {
		lctx_push_key(c, "else");
		ok = load_actions(c, otherwise, stage, false, &r->otherwise) && ok;
		lctx_pop(c);
	}
	return ok;
}

/* load_rules - an array of rules for STAGE. */
bool load_rules(struct load_ctx *c, json_t *v, enum stage stage, struct rule_list *out)
{
	bool ok = true;

	if (lctx_too_deep(c) || !lctx_expect(c, v, JSON_ARRAY, "an array of rules"))
		return false;
	out->items = xcalloc(json_array_size(v), sizeof(*out->items));
	for (size_t i = 0; i < json_array_size(v); i++) {
		lctx_push_index(c, i);
		out->count++;
		ok = load_rule(c, json_array_get(v, i), stage, i, &out->items[i]) && ok;
		lctx_pop(c);
	}
	return ok;
}

/* load_stages - the "stages" object: stage name -> rules. */
static void load_stages(struct load_ctx *c, json_t *v)
{
	const char *key;
	json_t *rules;

	lctx_push_key(c, "stages");
	if (!v) {
		lctx_error(c, "missing key \"stages\" (expected an object of stage name -> rules)");
	} else if (lctx_expect(c, v, JSON_OBJECT, "an object of stage name -> rules")) {
		json_object_foreach(v, key, rules) {
			int s;

			for (s = 0; s < STAGE_COUNT; s++)
				if (strcmp(key, stage_name((enum stage)s)) == 0)
					break;
			lctx_push_key(c, key);
			if (s == STAGE_COUNT)
				lctx_error_key(c, "unknown stage \"%s\"; expected one of: connect, "
					       "helo, mail, rcpt, headers, eom", key);
			else
				load_rules(c, rules, (enum stage)s, &c->policy->stages[s]);
			lctx_pop(c);
		}
	}
	lctx_pop(c);
}

/* add_macro - remember that a condition reads macro NAME (once). */
static void add_macro(struct policy *p, const char *name)
{
	char **grown;

	for (size_t i = 0; i < p->macro_count; i++)
		if (strcmp(p->macros[i], name) == 0)
			return;
	grown = xreallocarray(p->macros, p->macro_count + 1, sizeof(*grown));
	p->macros = grown;
	p->macros[p->macro_count++] = xstrdup(name);
}

/* collect_cond_needs - walk a condition tree for the tests and macro names it uses. */
static void collect_cond_needs(struct policy *p, const struct cond *c)
{
	if (!c)
		return;
	p->cond_mask |= 1u << c->kind;
	if (c->kind == COND_MACRO)
		add_macro(p, c->u.named.name);
	else if (c->kind == COND_NOT)
		collect_cond_needs(p, c->u.negated);
	else if (c->kind == COND_ALL || c->kind == COND_ANY)
		for (size_t i = 0; i < c->u.list.count; i++)
			collect_cond_needs(p, &c->u.list.items[i]);
}

/*
 * actions_need_file - does an action of L send or keep the message file? A
 * delegation sends it; a quarantine keeps it (in a folder, or in the shim's
 * hold folder, which stands in for an MTA's hold queue).
 */
static bool actions_need_file(const struct action_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		if (l->items[i].kind == ACT_DELEGATE || l->items[i].kind == ACT_QUARANTINE)
			return true;
	return false;
}

/* collect_rules_needs - tests, macros and the message file used by RULES and their follow-ups. */
static void collect_rules_needs(struct policy *p, const struct rule_list *rules)
{
	for (size_t i = 0; i < rules->count; i++) {
		const struct rule *r = &rules->items[i];
		const struct action_list *lists[] = { &r->then, &r->otherwise };

		collect_cond_needs(p, r->cond);
		for (size_t l = 0; l < 2; l++) {
			p->needs_message_file |= actions_need_file(lists[l]);
			for (size_t a = 0; a < lists[l]->count; a++)
				if (lists[l]->items[a].kind == ACT_DELEGATE)
					collect_rules_needs(p, &lists[l]->items[a].u.delegate.followup);
		}
	}
}

/* derive_needs - which stages and macros the MTA must send; whether messages are spooled. */
static void derive_needs(struct policy *p)
{
	for (int s = 0; s < STAGE_COUNT; s++) {
		if (p->stages[s].count)
			p->stage_mask |= 1u << s;
		collect_rules_needs(p, &p->stages[s]);
	}
	p->needs_message_file |= actions_need_file(&p->settings.fail_safe);
}

/* policy_load_text - load policy source TEXT named NAME. */
struct policy *policy_load_text(const char *text, const char *name, struct load_errors *errs)
{
	static const char *const keys[] = { "version", "settings", "services", "stages",
					    "comment", NULL };
	struct load_ctx c = { .file = name, .text = text, .errs = errs };
	json_error_t jerr;
	json_t *root, *version;
	size_t before = errs->count;

	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		load_errors_add(errs, "%s:%d:%d: syntax error: %s", name, jerr.line, jerr.column,
				jerr.text);
		return NULL;
	}
	c.policy = xcalloc(1, sizeof(*c.policy));
	atomic_init(&c.policy->refs, 1);
	c.policy->path = xstrdup(name);
	if (lctx_expect(&c, root, JSON_OBJECT, "a policy object at the top level")) {
		lctx_check_keys(&c, root, keys);
		version = json_object_get(root, "version");
		lctx_push_key(&c, "version");
		if (version && !(json_is_integer(version) && json_integer_value(version) == 1))
			lctx_error(&c, "unsupported version: expected 1");
		lctx_pop(&c);
		load_settings(&c, json_object_get(root, "settings"));
		load_services(&c, json_object_get(root, "services"));
		load_stages(&c, json_object_get(root, "stages"));
	}
	json_decref(root);
	if (errs->count != before) {
		policy_unref(c.policy);
		return NULL;
	}
	derive_needs(c.policy);
	return c.policy;
}

/* check_safety - refuse a policy whose file or folders anyone may write to. */
static bool check_safety(const char *path, const struct policy *p, struct load_errors *errs)
{
	char err[1024];
	bool ok = true;

	if (!safety_check_path(path, "policy file", err, sizeof(err))) {
		load_errors_add(errs, "%s", err);
		ok = false;
	}
	if (!safety_check_path(p->settings.spool_dir, "spool folder (settings.spool_dir)", err,
			       sizeof(err))) {
		load_errors_add(errs, "%s", err);
		ok = false;
	}
	if (!safety_check_path(p->settings.quarantine_dir,
			       "quarantine folder (settings.quarantine_dir)", err, sizeof(err))) {
		load_errors_add(errs, "%s", err);
		ok = false;
	}
	return ok;
}

/* policy_load_file - load the policy file PATH. */
struct policy *policy_load_file(const char *path, struct load_errors *errs)
{
	char *text = load_read_json_file(path, MAX_POLICY_BYTES, "policy", errs);
	struct policy *p;

	if (!text)
		return NULL;
	p = policy_load_text(text, path, errs);
	free(text);
	if (p && !check_safety(path, p, errs)) {
		policy_unref(p);
		return NULL;
	}
	return p;
}

/* load_errors_add - append one formatted message; out of memory aborts. */
void load_errors_add(struct load_errors *errs, const char *fmt, ...)
{
	va_list ap;
	char *line;
	char **grown;

	va_start(ap, fmt);
	line = xvasprintf(fmt, ap);
	va_end(ap);
	grown = xreallocarray(errs->items, errs->count + 1, sizeof(*grown));
	errs->items = grown;
	errs->items[errs->count++] = line;
}

/* load_read_json_file - the text of PATH, or NULL with the reason in ERRS. */
char *load_read_json_file(const char *path, size_t max_bytes, const char *what,
			  struct load_errors *errs)
{
	char *text = textfile_read(path, max_bytes);

	if (!text) {
		load_errors_add(errs, "%s: cannot read %s: %s", path, what, strerror(errno));
		return NULL;
	}
	if (!*text) {
		load_errors_add(errs, "%s:1:1: syntax error: empty file (expected a JSON object)", path);
		free(text);
		return NULL;
	}
	return text;
}

/* load_errors_free - release the messages. */
void load_errors_free(struct load_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->count; i++)
		free(errs->items[i]);
	free(errs->items);
	errs->items = NULL;
	errs->count = 0;
}

/* policy_summary - "N services, N rules (connect 1, eom 2), N macros". */
void policy_summary(const struct policy *p, char *buf, size_t len)
{
	size_t n;
	int w = snprintf(buf, len, "%s: OK: %zu service%s, %zu rule%s", p->path,
			 p->service_count, p->service_count == 1 ? "" : "s",
			 p->rule_count, p->rule_count == 1 ? "" : "s");
	const char *sep = " (";

	n = w > 0 ? (size_t)w : 0;
	for (int s = 0; s < STAGE_COUNT && n < len; s++) {
		if (!p->stages[s].count)
			continue;
		w = snprintf(buf + n, len - n, "%s%s %zu", sep, stage_name((enum stage)s),
			     p->stages[s].count);
		n += w > 0 ? (size_t)w : 0;
		sep = ", ";
	}
	if (n < len && *sep == ',') {
		w = snprintf(buf + n, len - n, ")");
		n += w > 0 ? (size_t)w : 0;
	}
	if (n < len && p->list_files)
		snprintf(buf + n, len - n, ", %zu list file%s (%zu entries)", p->list_files,
			 p->list_files == 1 ? "" : "s", p->list_entries);
}
