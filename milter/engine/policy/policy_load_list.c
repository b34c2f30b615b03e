/*
 * policy_load_list.c - the lists of policy conditions: matcher lists
 * (sender, recipient, helo, header values, ...) and client_ip networks,
 * written inline or kept in list files ({"file": PATH}), loaded into the
 * indexed structures of match_list.h and cidr_set.h.
 *
 * A list file may stand for a whole list or for one item of it:
 *   "client_ip": {"file": "/etc/milter-delegate/blocked-nets.txt"}
 *   "sender": [{"domain": {"file": "domains.txt"}}, "boss@example.com"]
 * A bare {"file": ...} among matchers holds equals patterns, as bare
 * strings do; {"KIND": {"file": ...}} holds patterns of KIND. A relative
 * PATH is taken from the policy file's folder. Files are read at every load
 * (so `-t` checks them and a reload re-reads them) and nothing of them is
 * kept but the entries: the loaded policy does not change when they do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "list_file.h"
#include "policy_load_ctx.h"

/* What a file's entries become: a matcher kind in a list, or networks. */
struct list_target {
	struct matcher_list *match;
	enum match_kind kind;
	bool ignore_case;
	struct cidr_set *nets;
};

/* list_path - PATH, or when relative, PATH inside the folder of the policy FILE (caller frees). */
static char *list_path(const char *file, const char *path)
{
	const char *slash = strrchr(file, '/');

	if (path[0] == '/' || !slash)
		return xstrdup(path);
	return xasprintf("%.*s/%s", (int)(slash - file), file, path);
}

/* add_net - parse TEXT as a network into SET; false with the reason in ERR. */
static bool add_net(struct cidr_set *set, const char *text, char *err, size_t errlen)
{
	struct cidr net;
	const char *why = NULL;

	if (!cidr_parse(text, &net, &why)) {
		snprintf(err, errlen, "invalid network \"%s\": %s (" CIDR_EXPECTED ")", text,
			 why ? why : "malformed");
		return false;
	}
	cidr_set_add(set, &net);
	return true;
}

/* take_entry - one entry of a list file into its target (a list_entry_fn). */
static bool take_entry(void *arg, const char *entry, char *err, size_t errlen)
{
	struct list_target *t = arg;

	if (t->nets)
		return add_net(t->nets, entry, err, errlen);
	return match_list_add(t->match, t->kind, entry, t->ignore_case, err, errlen);
}

/* is_file_ref - is V a {"file": ...} object? */
static bool is_file_ref(json_t *v)
{
	return json_is_object(v) && json_object_get(v, "file");
}

/* load_file_ref - the entries of {"file": PATH} (at the current path) into T. */
static bool load_file_ref(struct load_ctx *c, json_t *v, struct list_target *t)
{
	static const char *const keys[] = { "file", NULL };
	const char *name;
	char *path, why[1024];
	size_t entries;
	int bad;

	if (!lctx_check_keys(c, v, keys) || !(name = lctx_string_member(c, v, "file", true)))
		return false;
	path = list_path(c->file, name);
	bad = list_file_read(path, take_entry, t, c->errs, &entries, why, sizeof(why));
	if (bad < 0) {
		lctx_push_key(c, "file");
		lctx_error(c, "%s", why);
		lctx_pop(c);
	} else {
		c->policy->list_files++;
		c->policy->list_entries += entries;
	}
	free(path);
	return bad == 0;
}

/* load_pattern - a matcher's pattern: a string, or {"file": ...} of patterns. */
static bool load_pattern(struct load_ctx *c, json_t *v, struct list_target *t)
{
	char err[512];

	if (is_file_ref(v))
		return load_file_ref(c, v, t);
	if (!lctx_expect(c, v, JSON_STRING, "a string or {\"file\": PATH}"))
		return false;
	if (match_list_add(t->match, t->kind, json_string_value(v), t->ignore_case, err, sizeof(err)))
		return true;
	lctx_error(c, "%s", err);
	return false;
}

/* matcher_ignore_case - the "ignore_case" member of matcher object V (regex only). */
static bool matcher_ignore_case(struct load_ctx *c, json_t *v, enum match_kind kind, bool *out)
{
	json_t *ic = json_object_get(v, "ignore_case");
	bool ok = true;

	*out = true;
	if (!ic)
		return true;
	lctx_push_key(c, "ignore_case");
	if (kind != MATCH_REGEX) {
		lctx_error(c, "ignore_case applies to regex only");
		ok = false;
	} else if (lctx_expect(c, ic, JSON_TRUE, "a boolean")) {
		*out = json_is_true(ic);
	} else {
		ok = false;
	}
	lctx_pop(c);
	return ok;
}

/* load_matcher_object - {"equals"|"exact"|"domain"|"regex": pattern, "ignore_case"}. */
static bool load_matcher_object(struct load_ctx *c, json_t *v, struct matcher_list *out)
{
	static const char *const keys[] = { "equals", "exact", "domain", "regex", "ignore_case", NULL };
	static const enum match_kind kinds[] = { MATCH_EQUALS, MATCH_EXACT, MATCH_DOMAIN, MATCH_REGEX };
	struct list_target t = { .match = out };
	json_t *pattern = NULL;
	int found = 0;
	bool ok;

	if (!lctx_check_keys(c, v, keys))
		return false;
	for (int i = 0; i < 4; i++) {
		if (json_object_get(v, keys[i])) {
			found++;
			t.kind = kinds[i];
			pattern = json_object_get(v, keys[i]);
		}
	}
	ok = matcher_ignore_case(c, v, t.kind, &t.ignore_case);
	if (found != 1) {
		lctx_error(c, "expected exactly one of equals, exact, domain, regex");
		return false;
	}
	lctx_push_key(c, match_kind_name(t.kind));
	ok = load_pattern(c, pattern, &t) && ok;
	lctx_pop(c);
	return ok;
}

/* load_one_matcher - a string, a matcher object, or {"file": ...} of equals patterns. */
static bool load_one_matcher(struct load_ctx *c, json_t *v, void *list)
{
	struct matcher_list *out = list;
	struct list_target t = { .match = out, .kind = MATCH_EQUALS, .ignore_case = true };

	if (json_is_string(v) || is_file_ref(v))
		return load_pattern(c, v, &t);
	if (json_is_object(v))
		return load_matcher_object(c, v, out);
	lctx_error(c, "expected a string, a matcher object "
		   "({\"equals\"|\"exact\"|\"domain\"|\"regex\": ...}) or {\"file\": PATH}, got %s",
		   lctx_type_name(v));
	return false;
}

/* load_one_net - a CIDR string or {"file": ...} of networks, into SET. */
static bool load_one_net(struct load_ctx *c, json_t *v, void *list)
{
	struct cidr_set *set = list;
	struct list_target t = { .nets = set };
	char err[512];

	if (is_file_ref(v))
		return load_file_ref(c, v, &t);
	if (!lctx_expect(c, v, JSON_STRING, "a network in CIDR notation or {\"file\": PATH}"))
		return false;
	if (add_net(set, json_string_value(v), err, sizeof(err)))
		return true;
	lctx_error(c, "%s", err);
	return false;
}

/*
 * load_items - V is one item or a non-empty array of them (WHAT names them
 * in the error); each goes to ONE with OUT. Every item is loaded, so every
 * error is reported.
 */
static bool load_items(struct load_ctx *c, json_t *v, bool (*one)(struct load_ctx *, json_t *, void *),
		       void *out, const char *what)
{
	bool ok = true;

	if (!json_is_array(v))
		return one(c, v, out);
	if (json_array_size(v) == 0) {
		lctx_error(c, "expected a non-empty list of %s", what);
		return false;
	}
	for (size_t i = 0; i < json_array_size(v); i++) {
		lctx_push_index(c, i);
		ok = one(c, json_array_get(v, i), out) && ok;
		lctx_pop(c);
	}
	return ok;
}

/* load_matchers - one matcher or a non-empty array of them (any may match). */
bool load_matchers(struct load_ctx *c, json_t *v, struct matcher_list *out)
{
	bool ok;

	match_list_init(out);
	ok = load_items(c, v, load_one_matcher, out, "matchers");
	match_list_trim(out);
	return ok;
}

/* load_networks - client_ip: one network, {"file": ...}, or a non-empty array of them. */
bool load_networks(struct load_ctx *c, json_t *v, struct cidr_set *out)
{
	bool ok;

	cidr_set_init(out);
	ok = load_items(c, v, load_one_net, out, "networks");
	cidr_set_seal(out);
	return ok;
}
