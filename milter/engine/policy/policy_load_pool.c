/*
 * policy_load_pool.c - a service's pool of members as the policy writes it:
 *
 *	"delegator": { "address": ["10.0.1.1:10026", "10.0.2.1:10026"],
 *	               "balance": "round_robin", "max_concurrent": 8,
 *	               "health_interval": "5s", "backoff_max": "60s", ... }
 *
 * "address" is one address or a list of them (a clamd member may be a unix
 * socket, "unix:/path" or "/path"); the other keys are optional. Also the
 * receiver's "receiver_allow" list of client networks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_load_pool.h"

#define DEFAULT_HEALTH_MS 5000
#define DEFAULT_BACKOFF_MAX_MS (60 * 1000)
#define MAX_CONCURRENT_LIMIT 10000

/* member_path - the unix socket path TEXT names for a clamd member, or NULL. */
static const char *member_path(const struct service *s, const char *text)
{
	const char *path = strncmp(text, "unix:", 5) == 0 ? text + 5 : text;

	return s->type == SERVICE_CLAMD && path[0] == '/' ? path : NULL;
}

/* load_member - one address string V into M; reported when malformed. */
static bool load_member(struct load_ctx *c, json_t *v, const struct service *s,
			struct service_member *m)
{
	const char *text, *path, *why = "malformed";

	if (!lctx_expect(c, v, JSON_STRING, "an address string"))
		return false;
	text = json_string_value(v);
	if ((path = member_path(s, text)) && strlen(path) < 108) {     /* sizeof(sun_path) */
		m->path = xstrdup(path);
	} else if (path) {
		lctx_error(c, "unix socket path \"%s\" is longer than 107 bytes", path);
		return false;
	} else if (!netaddr_parse_endpoint(text, NETADDR_BARE_PORT, &m->address, &why)) {
		lctx_error(c, "invalid address \"%s\" (%s): expected HOST:PORT (\"127.0.0.1:10026\", "
			   "\"[::1]:10026\")%s or a port number", text, why,
			   s->type == SERVICE_CLAMD ? ", unix:/PATH" : "");
		return false;
	}
	m->name = xstrdup(text);
	return true;
}

/* load_members - OBJ.address: a string or a non-empty list of at most SERVICE_MAX_MEMBERS. */
static void load_members(struct load_ctx *c, json_t *obj, struct service *s)
{
	json_t *v = json_object_get(obj, "address");
	size_t n = json_is_array(v) ? json_array_size(v) : 1;

	if (!v) {
		(void)lctx_string_member(c, obj, "address", true);     /* reports it missing */
		return;
	}
	lctx_push_key(c, "address");
	if (json_is_array(v) && (n == 0 || n > SERVICE_MAX_MEMBERS))
		lctx_error(c, "expected a list of 1 to %d addresses", SERVICE_MAX_MEMBERS);
	else {
		s->members = xcalloc(n, sizeof(*s->members));
		for (size_t i = 0; i < n; i++) {
			if (json_is_array(v))
				lctx_push_index(c, i);
			if (load_member(c, json_is_array(v) ? json_array_get(v, i) : v, s,
					&s->members[s->member_count]))
				s->member_count++;
			if (json_is_array(v))
				lctx_pop(c);
		}
	}
	lctx_pop(c);
}

/* load_balance - "balance": "failover" (default) or "round_robin". */
static void load_balance(struct load_ctx *c, json_t *obj, struct service *s)
{
	const char *text = lctx_string_member(c, obj, "balance", false);

	if (!text || strcmp(text, "failover") == 0)
		return;
	if (strcmp(text, "round_robin") == 0) {
		s->balance = BALANCE_ROUND_ROBIN;
		return;
	}
	lctx_push_key(c, "balance");
	lctx_error(c, "unknown value \"%s\"; expected one of: failover, round_robin", text);
	lctx_pop(c);
}

/* load_cap - "max_concurrent": delegations at once per member (0 or absent: no cap). */
static void load_cap(struct load_ctx *c, json_t *obj, struct service *s)
{
	json_t *v = json_object_get(obj, "max_concurrent");

	if (!v)
		return;
	lctx_push_key(c, "max_concurrent");
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= MAX_CONCURRENT_LIMIT)
		s->max_concurrent = (unsigned)json_integer_value(v);
	else
		lctx_error(c, "expected an integer from 0 (no cap) to %d", MAX_CONCURRENT_LIMIT);
	lctx_pop(c);
}

/* load_pool - the members and how they are used. */
void load_pool(struct load_ctx *c, json_t *delegator, struct service *s)
{
	load_members(c, delegator, s);
	load_balance(c, delegator, s);
	load_cap(c, delegator, s);
	load_duration(c, delegator, "health_interval", DEFAULT_HEALTH_MS, &s->health_interval_ms);
	load_duration(c, delegator, "backoff_max", DEFAULT_BACKOFF_MAX_MS, &s->backoff_max_ms);
	if (s->backoff_max_ms < s->health_interval_ms) {
		lctx_push_key(c, "backoff_max");
		lctx_error(c, "must not be shorter than health_interval");
		lctx_pop(c);
	}
}

/* load_receiver_allow - a non-empty list of networks in CIDR notation. */
void load_receiver_allow(struct load_ctx *c, json_t *service, struct service *s)
{
	json_t *v = json_object_get(service, "receiver_allow");
	size_t n = json_is_array(v) ? json_array_size(v) : 0;

	if (!v)
		return;
	lctx_push_key(c, "receiver_allow");
	if (n == 0)
		lctx_error(c, "expected a non-empty list of networks (\"10.0.0.0/8\", \"2001:db8::/32\")");
	s->receiver_allow = xcalloc(n ? n : 1, sizeof(*s->receiver_allow));
	for (size_t i = 0; i < n; i++) {
		json_t *net = json_array_get(v, i);
		const char *why = "expected a string";

		lctx_push_index(c, i);
		if (json_is_string(net) && cidr_parse(json_string_value(net),
						      &s->receiver_allow[s->receiver_allow_count], &why))
			s->receiver_allow_count++;
		else
			lctx_error(c, "invalid network (%s): expected CIDR such as 192.0.2.0/24", why);
		lctx_pop(c);
	}
	lctx_pop(c);
}
