/*
 * policy.c - the lifetime of a loaded policy: references, lookup, freeing.
 *
 * Freeing walks the same tree the loader built; every free function accepts
 * partly built values (the loader frees a policy that failed half way).
 */
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static const char *const stage_names[STAGE_COUNT] = {
	"connect", "helo", "mail", "rcpt", "headers", "eom",
};

/* stage_name - the JSON key of STAGE. */
const char *stage_name(enum stage stage)
{
	return stage < STAGE_COUNT ? stage_names[stage] : "?";
}

/* cond_free_contents - release what C points to, not C itself. */
static void cond_free_contents(struct cond *c)
{
	switch (c->kind) {
	case COND_ALL:
	case COND_ANY:
		for (size_t i = 0; i < c->u.list.count; i++)
			cond_free_contents(&c->u.list.items[i]);
		free(c->u.list.items);
		break;
	case COND_NOT:
		cond_free(c->u.negated);
		break;
	case COND_CLIENT_IP:
		cidr_set_free(&c->u.nets);
		break;
	case COND_CLIENT_NAME:
	case COND_HELO:
	case COND_SENDER:
	case COND_RECIPIENT:
	case COND_AUTH_USER:
		match_list_free(&c->u.match);
		break;
	case COND_HEADER:
	case COND_ORIGINAL_HEADER:
	case COND_MACRO:
		free(c->u.named.name);
		match_list_free(&c->u.named.value);
		break;
	case COND_AUTH:
	case COND_SIZE_ABOVE:
		break;
	}
}

/* cond_free - release condition C and what it owns; C may be NULL. */
void cond_free(struct cond *c)
{
	if (!c)
		return;
	cond_free_contents(c);
	free(c);
}

/* action_free_contents - release what action A owns. */
static void action_free_contents(struct action *a)
{
	switch (a->kind) {
	case ACT_REJECT:
	case ACT_TEMPFAIL:
		free(a->u.reply.text);
		break;
	case ACT_QUARANTINE:
		free(a->u.quarantine.folder);
		free(a->u.quarantine.reason);
		free(a->u.quarantine.reply.text);
		break;
	case ACT_ADD_HEADER:
	case ACT_CHANGE_HEADER:
	case ACT_REMOVE_HEADER:
		free(a->u.header.name);
		free(a->u.header.value);
		break;
	case ACT_LOG:
		free(a->u.log.message);
		break;
	case ACT_DELEGATE:
		rule_list_free(&a->u.delegate.followup);
		action_list_free(&a->u.delegate.on_error);
		action_list_free(&a->u.delegate.on_timeout);
		action_list_free(&a->u.delegate.on_missing);
		for (size_t i = 0; i < a->u.delegate.import_count; i++)
			free(a->u.delegate.imports[i].name);
		free(a->u.delegate.imports);
		break;
	case ACT_NEXT:
	case ACT_ACCEPT:
	case ACT_DISCARD:
		break;
	}
}

/* action_list_free - release the actions of L (not L itself). */
void action_list_free(struct action_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		action_free_contents(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

/* rule_list_free - release the rules of L (not L itself). */
void rule_list_free(struct rule_list *l)
{
	for (size_t i = 0; i < l->count; i++) {
		struct rule *r = &l->items[i];

		free(r->name);
		cond_free(r->cond);
		action_list_free(&r->then);
		action_list_free(&r->otherwise);
	}
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

/* policy_free - release everything P owns, and P. */
static void policy_free(struct policy *p)
{
	for (int s = 0; s < STAGE_COUNT; s++)
		rule_list_free(&p->stages[s]);
	for (size_t i = 0; i < p->service_count; i++) {
		void *runtime = atomic_load(&p->services[i].runtime);

		if (runtime)    /* its release is stored before it */
			atomic_load(&p->services[i].runtime_release)(runtime);
		free(p->services[i].name);
		for (size_t m = 0; m < p->services[i].member_count; m++) {
			free(p->services[i].members[m].address.host);
			free(p->services[i].members[m].path);
			free(p->services[i].members[m].name);
		}
		free(p->services[i].members);
		free(p->services[i].receiver_allow);
		free(p->services[i].receiver.host);
	}
	free(p->services);
	for (size_t i = 0; i < p->macro_count; i++)
		free(p->macros[i]);
	free(p->macros);
	free(p->settings.quarantine_dir);
	free(p->settings.spool_dir);
	free(p->settings.release_to.host);
	action_list_free(&p->settings.fail_safe);
	free(p->path);
	free(p);
}

/* policy_ref - take a reference. */
struct policy *policy_ref(struct policy *p)
{
	atomic_fetch_add(&p->refs, 1);
	return p;
}

/* policy_unref - drop a reference; the last one frees. */
void policy_unref(struct policy *p)
{
	if (p && atomic_fetch_sub(&p->refs, 1) == 1)
		policy_free(p);
}

/* policy_find_service - the service called NAME, or NULL. */
const struct service *policy_find_service(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->service_count; i++)
		if (strcmp(p->services[i].name, name) == 0)
			return &p->services[i];
	return NULL;
}
