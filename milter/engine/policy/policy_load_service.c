/*
 * policy_load_service.c - parse "services" (delegation targets) and
 * "settings" (quarantine and spool folders, size limit, fail-safe verdict).
 * A service is "smtp" (a filter that returns a copy to our receiver) or
 * "clamd" (clamd itself, on a unix socket or TCP; no receiver).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_load_pool.h"
#include "units.h"

#define DEFAULT_TIMEOUT_MS (60 * 1000)
#define DEFAULT_GRACE_MS 2000
/* Which side of an idle connection closes first: we do, well before the
 * receiver drops clamsmtpd's half of the pair (see delegate_client.h). */
#define DEFAULT_IDLE_MS (30 * 1000)
#define DEFAULT_RECEIVER_IDLE_MS (60 * 1000)
#define DEFAULT_QUARANTINE_DIR "/var/lib/milter-delegate/quarantine"
#define DEFAULT_SPOOL_DIR "/var/spool/milter-delegate"

/* load_endpoint - OBJ.KEY as an address; reported when malformed. */
static bool load_endpoint(struct load_ctx *c, json_t *obj, const char *key, struct endpoint *out)
{
	const char *text = lctx_string_member(c, obj, key, true);
	const char *why;

	if (!text)
		return false;
	if (netaddr_parse_endpoint(text, NETADDR_BARE_PORT, out, &why))
		return true;
	lctx_push_key(c, key);
	lctx_error(c, "invalid address \"%s\" (%s): expected HOST:PORT (\"127.0.0.1:10026\", "
		   "\"[::1]:10026\") or a port number", text, why);
	lctx_pop(c);
	return false;
}

/* load_duration - OBJ.KEY as a duration in ms, DEFAULT_MS when absent. */
bool load_duration(struct load_ctx *c, json_t *obj, const char *key,
			  uint64_t default_ms, uint64_t *out)
{
	json_t *v = json_object_get(obj, key);
	const char *why = NULL;

	*out = default_ms;
	if (!v)
		return true;
	lctx_push_key(c, key);
	bool ok = json_is_string(v) && units_parse_duration(json_string_value(v), out, &why) && *out > 0;
	if (!ok && json_is_string(v))
		lctx_error(c, "invalid duration \"%s\": %s; expected a positive duration such as "
			   "\"60s\", \"500ms\" or \"2m\"", json_string_value(v), why ? why : "zero");
	else if (!ok)
		lctx_error(c, "expected a duration string such as \"60s\", got %s", lctx_type_name(v));
	lctx_pop(c);
	return ok;
}

/* all_unix - is every member of S a unix socket? */
static bool all_unix(const struct service *s)
{
	for (size_t i = 0; i < s->member_count; i++)
		if (!s->members[i].path)
			return false;
	return true;
}

/* load_stream - OBJ.stream of a clamd service: "auto" (default), "instream", "fildes". */
static void load_stream(struct load_ctx *c, json_t *obj, struct service *s)
{
	static const char *const names[] = {
		[CLAMD_STREAM_AUTO] = "auto", [CLAMD_STREAM_INSTREAM] = "instream",
		[CLAMD_STREAM_FILDES] = "fildes",
	};
	const char *text = lctx_string_member(c, obj, "stream", false);
	size_t i;

	if (!text)
		return;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(text, names[i]) == 0)
			break;
	lctx_push_key(c, "stream");
	if (i == sizeof(names) / sizeof(names[0]))
		lctx_error(c, "unknown value \"%s\"; expected one of: auto, instream, fildes", text);
	else if (i == CLAMD_STREAM_FILDES && !all_unix(s))
		lctx_error(c, "\"fildes\" passes an open file and needs unix socket addresses");
	else
		s->stream = (enum clamd_stream)i;
	lctx_pop(c);
}

/* load_delegator - {"address": ..., "timeout": ..., "grace": ..., pool keys} (clamd: "stream"). */
static void load_delegator(struct load_ctx *c, json_t *v, struct service *s)
{
#define POOL_KEYS "address", "balance", "max_concurrent", "health_interval", "backoff_max"
	static const char *const keys[] = { POOL_KEYS, "timeout", "grace", "idle", NULL };
	static const char *const clamd_keys[] = { POOL_KEYS, "timeout", "stream", NULL };
#undef POOL_KEYS

	lctx_push_key(c, "delegator");
	if (!v)
		lctx_error(c, "missing key \"delegator\" (expected {\"address\": \"HOST:PORT\", \"timeout\": \"60s\"})");
	else if (lctx_expect(c, v, JSON_OBJECT, "an object with address and timeout")) {
		lctx_check_keys(c, v, s->type == SERVICE_CLAMD ? clamd_keys : keys);
		load_pool(c, v, s);
		if (s->type == SERVICE_CLAMD)
			load_stream(c, v, s);
		load_duration(c, v, "timeout", DEFAULT_TIMEOUT_MS, &s->timeout_ms);
		load_duration(c, v, "grace", DEFAULT_GRACE_MS, &s->grace_ms);
		load_duration(c, v, "idle", DEFAULT_IDLE_MS, &s->idle_ms);
	}
	lctx_pop(c);
}

/* load_type - "type": "smtp" or "clamd". */
static void load_type(struct load_ctx *c, json_t *v, struct service *s)
{
	const char *type = lctx_string_member(c, v, "type", true);

	if (!type || strcmp(type, "smtp") == 0)
		return;
	if (strcmp(type, "clamd") == 0) {
		s->type = SERVICE_CLAMD;
		return;
	}
	lctx_push_key(c, "type");
	lctx_error(c, "unknown service type \"%s\"; expected: smtp, clamd", type);
	lctx_pop(c);
}

/* load_receiver - where an SMTP service's copies come back (clamd: none). */
static void load_receiver(struct load_ctx *c, json_t *v, struct service *s)
{
	json_t *pub = json_object_get(v, "receiver_public");

	if (s->type == SERVICE_CLAMD) {
		if (json_object_get(v, "receiver") || pub || json_object_get(v, "receiver_idle") ||
		    json_object_get(v, "receiver_allow"))
			lctx_error(c, "a clamd service answers itself: it has no receiver, "
				   "receiver_public, receiver_idle or receiver_allow");
		return;
	}
	load_receiver_allow(c, v, s);
	load_duration(c, v, "receiver_idle", DEFAULT_RECEIVER_IDLE_MS, &s->receiver_idle_ms);
	if (s->idle_ms < 1000 || s->idle_ms >= s->receiver_idle_ms)
		lctx_error(c, "delegator.idle (%llu ms) must be at least 1s and shorter than "
			   "receiver_idle (%llu ms): the filter's connection to the receiver must not "
			   "be dropped while ours is kept for the next message",
			   (unsigned long long)s->idle_ms, (unsigned long long)s->receiver_idle_ms);
	lctx_push_key(c, "receiver_public");
	if (pub && lctx_expect(c, pub, JSON_TRUE, "a boolean"))
		s->receiver_public = json_is_true(pub);
	lctx_pop(c);
	if (load_endpoint(c, v, "receiver", &s->receiver) && !s->receiver_public &&
	    !netaddr_is_loopback(s->receiver.host)) {
		lctx_push_key(c, "receiver");
		lctx_error(c, "receiver %s is not a loopback address: anyone who reaches it could "
			   "inject mail; set \"receiver_public\": true to bind it anyway",
			   s->receiver.host);
		lctx_pop(c);
	}
}

/* load_service - one named service object into S. */
static void load_service(struct load_ctx *c, json_t *v, struct service *s)
{
	static const char *const keys[] = { "type", "delegator", "receiver", "receiver_public",
					    "receiver_idle", "receiver_allow", "comment", NULL };

	if (!lctx_expect(c, v, JSON_OBJECT, "a service object"))
		return;
	lctx_check_keys(c, v, keys);
	load_type(c, v, s);
	load_delegator(c, json_object_get(v, "delegator"), s);
	load_receiver(c, v, s);
}

/* check_shared_receiver - services sharing S's receiver must agree on how it listens. */
static void check_shared_receiver(struct load_ctx *c, const struct service *s)
{
	const struct policy *p = c->policy;

	for (size_t i = 0; s->receiver.host && i + 1 < p->service_count; i++) {
		const struct service *o = &p->services[i];

		bool shared = o->receiver.host && o->receiver.port == s->receiver.port &&
			      strcmp(o->receiver.host, s->receiver.host) == 0;

		if (shared && (o->receiver_idle_ms != s->receiver_idle_ms ||
			       o->receiver_public != s->receiver_public ||
			       o->receiver_allow_count != s->receiver_allow_count ||
			       (s->receiver_allow_count &&
				memcmp(o->receiver_allow, s->receiver_allow,
				       s->receiver_allow_count * sizeof(*s->receiver_allow)) != 0)))
			lctx_error(c, "receiver_idle, receiver_public or receiver_allow differs from "
				   "service %s's, which shares the receiver %s:%u", o->name,
				   s->receiver.host, s->receiver.port);
	}
}

/* load_services - the "services" object: name -> service. */
void load_services(struct load_ctx *c, json_t *v)
{
	const char *name;
	json_t *member;
	struct policy *p = c->policy;

	if (!v)
		return;
	lctx_push_key(c, "services");
	if (lctx_expect(c, v, JSON_OBJECT, "an object of named services")) {
		p->services = xcalloc(json_object_size(v), sizeof(*p->services));
		json_object_foreach(v, name, member) {
			struct service *s = &p->services[p->service_count++];

			s->name = xstrdup(name);
			s->type = SERVICE_SMTP;
			lctx_push_key(c, name);
			load_service(c, member, s);
			check_shared_receiver(c, s);
			lctx_pop(c);
		}
	}
	lctx_pop(c);
}

/* load_dir - OBJ.KEY as an absolute directory path, DEFAULT_DIR when absent. */
static char *load_dir(struct load_ctx *c, json_t *obj, const char *key, const char *default_dir)
{
	const char *dir = obj ? lctx_string_member(c, obj, key, false) : NULL;

	if (dir && (dir[0] != '/' || strlen(dir) > 1024)) {
		lctx_push_key(c, key);
		lctx_error(c, "expected an absolute path of at most 1024 characters, got \"%s\"", dir);
		lctx_pop(c);
	}
	return xstrdup(dir ? dir : default_dir);
}

/* load_fail_safe - the verdict when processing fails: tempfail unless told. */
static void load_fail_safe(struct load_ctx *c, json_t *v, struct policy_settings *s)
{
	if (v) {
		lctx_push_key(c, "fail_safe");
		if (load_actions(c, v, STAGE_EOM, true, &s->fail_safe)) {
			for (size_t i = 0; i < s->fail_safe.count; i++) {
				enum action_kind k = s->fail_safe.items[i].kind;

				if (k != ACT_ACCEPT && k != ACT_TEMPFAIL && k != ACT_REJECT &&
				    k != ACT_LOG)
					lctx_error(c, "expected accept, tempfail or reject (and log)");
			}
		}
		lctx_pop(c);
		return;
	}
	s->fail_safe.items = xcalloc(1, sizeof(*s->fail_safe.items));
	s->fail_safe.count = 1;
	s->fail_safe.items[0].kind = ACT_TEMPFAIL;
	load_reply(c, NULL, ACT_TEMPFAIL, &s->fail_safe.items[0].u.reply);
}

/* load_settings - the "settings" object (every member optional). */
void load_settings(struct load_ctx *c, json_t *v)
{
	static const char *const keys[] = { "quarantine_dir", "spool_dir", "max_message_size",
					    "fail_safe", "release_to", "comment", NULL };
	struct policy_settings *s = &c->policy->settings;
	json_t *size;
	const char *why = "expected a size";

	lctx_push_key(c, "settings");
	if (v && !lctx_expect(c, v, JSON_OBJECT, "an object"))
		v = NULL;
	if (v)
		lctx_check_keys(c, v, keys);
	s->quarantine_dir = load_dir(c, v, "quarantine_dir", DEFAULT_QUARANTINE_DIR);
	s->spool_dir = load_dir(c, v, "spool_dir", DEFAULT_SPOOL_DIR);
	size = v ? json_object_get(v, "max_message_size") : NULL;
	if (size) {
		lctx_push_key(c, "max_message_size");
		if (json_is_integer(size) && json_integer_value(size) >= 0)
			s->max_message_size = (uint64_t)json_integer_value(size);
		else if (!json_is_string(size) ||
			 !units_parse_size(json_string_value(size), &s->max_message_size, &why))
			lctx_error(c, "invalid size (%s): expected a byte count or a size such as \"50M\"", why);
		lctx_pop(c);
	}
	load_fail_safe(c, v ? json_object_get(v, "fail_safe") : NULL, s);
	if (!(v && json_object_get(v, "release_to") && load_endpoint(c, v, "release_to",
								     &s->release_to)))
		s->release_to = (struct endpoint){ xstrdup(POLICY_RELEASE_HOST), POLICY_RELEASE_PORT };
	lctx_pop(c);
}
