/*
 * policy_load_ctx.h - shared state of one policy load (internal to the loader).
 *
 * The loader walks the jansson tree keeping the JSON path of the value it is
 * looking at; every error is reported against that path, and json_pos turns
 * the path into a line and column. The helpers here read typed members and
 * report "expected ..." errors in one consistent wording. jansson values are
 * borrowed references throughout: nothing here takes or drops one.
 */
#ifndef MD_POLICY_LOAD_CTX_H
#define MD_POLICY_LOAD_CTX_H

#include <jansson.h>
#include <stdbool.h>

#include "json_pos.h"
#include "policy.h"
#include "policy_load.h"
#include "xalloc.h"      /* xstrdup, xcalloc, ... for every loader file */

#define LOAD_MAX_DEPTH 48       /* path depth; deeper policies are refused */

struct load_ctx {
	const char *file;
	const char *text;
	struct load_errors *errs;
	struct policy *policy;
	struct json_seg path[LOAD_MAX_DEPTH];
	size_t depth;
	size_t overflow;        /* pushes beyond LOAD_MAX_DEPTH */
	unsigned delegate_depth;
};

/* lctx_push_key, lctx_push_index, lctx_pop - move along the JSON path. */
void lctx_push_key(struct load_ctx *c, const char *key);
void lctx_push_index(struct load_ctx *c, size_t index);
void lctx_pop(struct load_ctx *c);

/* lctx_error - report at the current path's value. */
void lctx_error(struct load_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* lctx_error_key - report at the current path's member name (unknown keys). */
void lctx_error_key(struct load_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* lctx_type_name - "a string", "an object", ... for messages. */
const char *lctx_type_name(const json_t *v);

/*
 * lctx_check_keys - report each member of OBJ not in the NULL-terminated list
 * ALLOWED. Returns true when all are known.
 */
bool lctx_check_keys(struct load_ctx *c, json_t *obj, const char *const *allowed);

/*
 * lctx_expect - report "expected WHAT, got <type>" unless V has type TYPE.
 * Returns true when it has.
 */
bool lctx_expect(struct load_ctx *c, const json_t *v, json_type type, const char *what);

/* lctx_string_member - OBJ.KEY as a string (NULL when absent or wrong: reported). */
const char *lctx_string_member(struct load_ctx *c, json_t *obj, const char *key, bool required);

/* lctx_too_deep - report and return true when nesting goes past the limit. */
bool lctx_too_deep(struct load_ctx *c);

/* Parsers of the pieces of a policy (policy_load_*.c). */
struct cond *load_condition(struct load_ctx *c, json_t *v, enum stage stage);
bool load_matchers(struct load_ctx *c, json_t *v, struct matcher_list *out);
bool load_networks(struct load_ctx *c, json_t *v, struct cidr_set *out);
bool load_actions(struct load_ctx *c, json_t *v, enum stage stage, bool in_fallback,
		  struct action_list *out);
bool load_rules(struct load_ctx *c, json_t *v, enum stage stage, struct rule_list *out);
bool load_reply(struct load_ctx *c, json_t *obj, enum action_kind kind, struct reply *out);
void load_services(struct load_ctx *c, json_t *v);
void load_settings(struct load_ctx *c, json_t *v);

#endif
