/*
 * policy_load_cond.c - parse and check policy conditions ("if": {...}).
 *
 * A condition object holds one or more tests; several in one object must all
 * hold. Each test kind has one table row: its JSON key, the earliest stage
 * where its data exists, and its parser. The result is a tree of struct cond
 * owned by the rule (freed by cond_free).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "policy_load_ctx.h"
#include "units.h"

typedef bool cond_parser(struct load_ctx *c, json_t *v, enum stage stage, struct cond *out);

static cond_parser parse_list, parse_not, parse_client_ip, parse_matchers, parse_auth,
		   parse_named, parse_size;

static const struct cond_row {
	const char *key;
	enum cond_kind kind;
	enum stage min_stage;
	bool followup_only;     /* only in the follow-up rules of a delegate */
	cond_parser *parse;
} cond_table[] = {
	{ "all", COND_ALL, STAGE_CONNECT, false, parse_list },
	{ "any", COND_ANY, STAGE_CONNECT, false, parse_list },
	{ "not", COND_NOT, STAGE_CONNECT, false, parse_not },
	{ "client_ip", COND_CLIENT_IP, STAGE_CONNECT, false, parse_client_ip },
	{ "client_name", COND_CLIENT_NAME, STAGE_CONNECT, false, parse_matchers },
	{ "helo", COND_HELO, STAGE_HELO, false, parse_matchers },
	{ "sender", COND_SENDER, STAGE_MAIL, false, parse_matchers },
	{ "recipient", COND_RECIPIENT, STAGE_RCPT, false, parse_matchers },
	{ "auth", COND_AUTH, STAGE_MAIL, false, parse_auth },
	{ "auth_user", COND_AUTH_USER, STAGE_MAIL, false, parse_matchers },
	{ "header", COND_HEADER, STAGE_HEADERS, false, parse_named },
	{ "original_header", COND_ORIGINAL_HEADER, STAGE_HEADERS, true, parse_named },
	{ "size_above", COND_SIZE_ABOVE, STAGE_EOM, false, parse_size },
	{ "macro", COND_MACRO, STAGE_CONNECT, false, parse_named },
};
#define COND_ROWS (sizeof(cond_table) / sizeof(cond_table[0]))

static const char cond_keys_text[] =
	"all, any, not, client_ip, client_name, helo, sender, recipient, auth, "
	"auth_user, header, original_header, size_above, macro";

/* find_row - the table row for KEY, or NULL. */
static const struct cond_row *find_row(const char *key)
{
	for (size_t i = 0; i < COND_ROWS; i++)
		if (strcmp(cond_table[i].key, key) == 0)
			return &cond_table[i];
	return NULL;
}

/* parse_matchers - tests whose value is a matcher list (sender, helo, ...). */
static bool parse_matchers(struct load_ctx *c, json_t *v, enum stage stage, struct cond *out)
{
	(void)stage;
	return load_matchers(c, v, &out->u.match);
}

/* parse_list - "all"/"any": a non-empty array of conditions. */
static bool parse_list(struct load_ctx *c, json_t *v, enum stage stage, struct cond *out)
{
	bool ok = true;

	if (!lctx_expect(c, v, JSON_ARRAY, "an array of conditions"))
		return false;
	if (json_array_size(v) == 0) {
		lctx_error(c, "expected a non-empty array of conditions");
		return false;
	}
	out->u.list.items = xcalloc(json_array_size(v), sizeof(struct cond));
	for (size_t i = 0; i < json_array_size(v); i++) {
		lctx_push_index(c, i);
		struct cond *item = load_condition(c, json_array_get(v, i), stage);
		if (item) {
			out->u.list.items[out->u.list.count++] = *item;
			free(item);
		} else {
			ok = false;
		}
		lctx_pop(c);
	}
	return ok;
}

/* parse_not - "not": one condition. */
static bool parse_not(struct load_ctx *c, json_t *v, enum stage stage, struct cond *out)
{
	out->u.negated = load_condition(c, v, stage);
	return out->u.negated != NULL;
}

/* parse_client_ip - networks: a CIDR string, {"file": ...}, or a non-empty array of them. */
static bool parse_client_ip(struct load_ctx *c, json_t *v, enum stage stage, struct cond *out)
{
	(void)stage;
	return load_networks(c, v, &out->u.nets);
}

/* parse_auth - true: an authenticated user is present; false: absent. */
static bool parse_auth(struct load_ctx *c, json_t *v, enum stage stage, struct cond *out)
{
	(void)stage;
	if (!lctx_expect(c, v, JSON_TRUE, "a boolean"))
		return false;
	out->u.present = json_is_true(v);
	return true;
}

/* valid_macro_name - "i", "j", "{auth_authen}" style names. */
static bool valid_macro_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 1)
		return isalnum((unsigned char)name[0]) || name[0] == '_';
	if (n < 3 || name[0] != '{' || name[n - 1] != '}')
		return false;
	for (size_t i = 1; i < n - 1; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_')
			return false;
	return true;
}

/* valid_header_name - printable ASCII without ':' (RFC 5322 field name). */
static bool valid_header_name(const char *name)
{
	if (!*name || strlen(name) > 128)
		return false;
	for (const char *p = name; *p; p++)
		if (*p <= 32 || *p >= 127 || *p == ':')
			return false;
	return true;
}

/* parse_named - header/original_header/macro: "Name", or {"name": "Name", "value": matcher}. */
static bool parse_named(struct load_ctx *c, json_t *v, enum stage stage, struct cond *out)
{
	static const char *const keys[] = { "name", "value", NULL };
	bool is_macro = out->kind == COND_MACRO;
	const char *name;
	json_t *value = NULL;

	(void)stage;
	if (json_is_string(v)) {
		name = json_string_value(v);
	} else if (json_is_object(v)) {
		if (!lctx_check_keys(c, v, keys))
			return false;
		name = lctx_string_member(c, v, "name", true);
		value = json_object_get(v, "value");
		if (!name)
			return false;
	} else {
		lctx_error(c, "expected a %s name or {\"name\": ..., \"value\": matcher}, got %s",
			   is_macro ? "macro" : "header", lctx_type_name(v));
		return false;
	}
	if (is_macro ? !valid_macro_name(name) : !valid_header_name(name)) {
		lctx_error(c, is_macro ? "invalid macro name \"%s\" (expected a letter or {name})"
				       : "invalid header name \"%s\"", name);
		return false;
	}
	out->u.named.name = xstrdup(name);
	if (!value)
		return true;
	out->u.named.has_value = true;
	lctx_push_key(c, "value");
	bool ok = load_matchers(c, value, &out->u.named.value);
	lctx_pop(c);
	return ok;
}

/* parse_size - a byte count or a size string ("10M"). */
static bool parse_size(struct load_ctx *c, json_t *v, enum stage stage, struct cond *out)
{
	const char *why = "expected a byte count";

	(void)stage;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		out->u.size = (uint64_t)json_integer_value(v);
		return true;
	}
	if (json_is_string(v) && units_parse_size(json_string_value(v), &out->u.size, &why))
		return true;
	lctx_error(c, "invalid size (%s): expected a byte count or a size such as \"512K\" or \"10M\"",
		   json_is_string(v) ? why : "not a non-negative integer or a string");
	return false;
}

/* load_test - one member KEY: V of a condition object, into OUT. */
static bool load_test(struct load_ctx *c, const char *key, json_t *v, enum stage stage,
		      struct cond *out)
{
	const struct cond_row *row = find_row(key);

	if (!row) {
		lctx_error_key(c, "unknown condition \"%s\"; expected one of: %s", key, cond_keys_text);
		return false;
	}
	out->kind = row->kind;
	out->min_stage = row->min_stage;
	if (stage < row->min_stage) {
		lctx_error_key(c, "condition \"%s\" cannot be used at stage %s "
			       "(its data is known from stage %s on)",
			       key, stage_name(stage), stage_name(row->min_stage));
		return false;
	}
	if (row->followup_only && c->delegate_depth == 0) {
		lctx_error_key(c, "condition \"%s\" applies only in the follow-up rules of a "
			       "delegate (elsewhere \"header\" already tests the message's own fields)",
			       key);
		return false;
	}
	return row->parse(c, v, stage, out);
}

/* load_condition - parse the condition object V for STAGE; NULL on error (reported). */
struct cond *load_condition(struct load_ctx *c, json_t *v, enum stage stage)
{
	struct cond *cond;
	const char *key;
	json_t *member;
	size_t n = 0;
	bool ok = true;

	if (lctx_too_deep(c) || !lctx_expect(c, v, JSON_OBJECT, "a condition object"))
		return NULL;
	if (json_object_size(v) == 0) {
		lctx_error(c, "empty condition; expected one of: %s", cond_keys_text);
		return NULL;
	}
	cond = xcalloc(1, sizeof(*cond));
	if (json_object_size(v) > 1) {
		cond->kind = COND_ALL;  /* several tests in one object: all must hold */
		cond->u.list.items = xcalloc(json_object_size(v), sizeof(struct cond));
	}
	json_object_foreach(v, key, member) {
		struct cond *slot = json_object_size(v) > 1 ? &cond->u.list.items[n] : cond;

		lctx_push_key(c, key);
		if (!load_test(c, key, member, stage, slot))
			ok = false;
		if (json_object_size(v) > 1)
			cond->u.list.count = ++n;  /* a failed slot is still freed */
		lctx_pop(c);
		if (!ok && json_object_size(v) == 1)
			break;
	}
	if (!ok) {
		cond_free(cond);
		return NULL;
	}
	return cond;
}
