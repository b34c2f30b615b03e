/*
 * policy_load_ctx.c - path tracking, located error messages and typed member
 * access for the policy loader.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_load_ctx.h"

/* lctx_push_key - descend into member KEY. */
void lctx_push_key(struct load_ctx *c, const char *key)
{
	if (c->depth < LOAD_MAX_DEPTH)
		c->path[c->depth++] = (struct json_seg){ .key = key };
	else
		c->overflow++;
}

/* lctx_push_index - descend into array element INDEX. */
void lctx_push_index(struct load_ctx *c, size_t index)
{
	if (c->depth < LOAD_MAX_DEPTH)
		c->path[c->depth++] = (struct json_seg){ .key = NULL, .index = index };
	else
		c->overflow++;
}

/* lctx_pop - go back up one level. */
void lctx_pop(struct load_ctx *c)
{
	if (c->overflow)
		c->overflow--;
	else if (c->depth)
		c->depth--;
}

/* lctx_add - append one formatted error located at the current path. */
static void lctx_add(struct load_ctx *c, bool at_key, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void lctx_add(struct load_ctx *c, bool at_key, const char *fmt, va_list ap)
{
	char path[512], what[768], *line;
	unsigned ln = 0, col = 0;
	char **grown;

	json_path_format(c->path, c->depth, path, sizeof(path));
	vsnprintf(what, sizeof(what), fmt, ap);
	if (!json_pos_find(c->text, c->path, c->depth, at_key, &ln, &col)) {
		/* A missing member: point at the object that lacks it. */
		size_t d = c->depth ? c->depth - 1 : 0;

		if (!json_pos_find(c->text, c->path, d, false, &ln, &col))
			ln = col = 1;
	}
	line = xasprintf("%s:%u:%u: %s: %s", c->file, ln, col, path, what);
	grown = xreallocarray(c->errs->items, c->errs->count + 1, sizeof(*grown));
	c->errs->items = grown;
	c->errs->items[c->errs->count++] = line;
}

/* lctx_error - report at the current path's value. */
void lctx_error(struct load_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lctx_add(c, false, fmt, ap);
	va_end(ap);
}

/* lctx_error_key - report at the current member's name. */
void lctx_error_key(struct load_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lctx_add(c, true, fmt, ap);
	va_end(ap);
}

/* lctx_type_name - a JSON type with its article, for messages. */
const char *lctx_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "a value";
}

/* lctx_check_keys - report members of OBJ that are not in ALLOWED. */
bool lctx_check_keys(struct load_ctx *c, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *value;
	bool all_known = true;

	json_object_foreach(obj, key, value) {
		size_t i;
		char list[512] = "";

		for (i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i])
			continue;
		for (i = 0; allowed[i]; i++) {
			size_t n = strlen(list);

			snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", allowed[i]);
		}
		lctx_push_key(c, key);
		lctx_error_key(c, "unknown key \"%s\"; expected one of: %s", key, list);
		lctx_pop(c);
		all_known = false;
	}
	return all_known;
}

/* lctx_expect - check V's type, reporting "expected WHAT". */
bool lctx_expect(struct load_ctx *c, const json_t *v, json_type type, const char *what)
{
	bool ok = json_typeof(v) == type ||
		  (type == JSON_TRUE && json_typeof(v) == JSON_FALSE);

	if (!ok)
		lctx_error(c, "expected %s, got %s", what, lctx_type_name(v));
	return ok;
}

/* lctx_string_member - OBJ.KEY as a non-empty string, or NULL (reported). */
const char *lctx_string_member(struct load_ctx *c, json_t *obj, const char *key, bool required)
{
	json_t *v = json_object_get(obj, key);
	const char *s = NULL;

	lctx_push_key(c, key);
	if (!v) {
		if (required)
			lctx_error(c, "missing key \"%s\" (expected a string)", key);
	} else if (lctx_expect(c, v, JSON_STRING, "a string")) {
		s = json_string_value(v);
		if (!*s) {
			lctx_error(c, "expected a non-empty string");
			s = NULL;
		}
	}
	lctx_pop(c);
	return s;
}

/* lctx_too_deep - refuse nesting past the path limit. */
bool lctx_too_deep(struct load_ctx *c)
{
	if (c->depth + 4 < LOAD_MAX_DEPTH)
		return false;
	lctx_error(c, "nested too deeply (more than %d levels)", LOAD_MAX_DEPTH - 4);
	return true;
}
