/*
 * cond_eval.c - evaluate a condition tree against a transaction.
 *
 * Pure reads of the transaction and the policy: no allocation, no locks.
 * A test whose data is missing (no HELO was sent, no such header) is false.
 */
#include <string.h>

#include "txn_int.h"

/* any_matches - does SUBJECT match one of L? (match_list.h: hashed, then regexes) */
static bool any_matches(const struct matcher_list *l, const char *subject)
{
	return match_list_test(l, subject);
}

/* client_in - is the client address in one of the networks? (cidr_set.h: bisection) */
static bool client_in(const struct cond *c, const struct txn *t)
{
	return t->client_parsed &&
	       cidr_set_contains(&c->u.nets, t->client_family, t->client_bytes);
}

/* recipient_matches - at rcpt: this recipient; later: any accepted one. */
static bool recipient_matches(const struct cond *c, const struct txn_msg *m, enum stage stage)
{
	if (stage == STAGE_RCPT)
		return any_matches(&c->u.match, m->current_rcpt);
	for (size_t i = 0; i < m->rcpt_count; i++)
		if (any_matches(&c->u.match, m->rcpts[i]))
			return true;
	return false;
}

/* header_matches - a field of FIELDS is present, or one of its values matches. */
static bool header_matches(const struct cond *c, const struct headers *fields)
{
	const struct header_field *f;

	for (unsigned nth = 1; (f = headers_find(fields, c->u.named.name, nth)); nth++)
		if (!c->u.named.has_value || any_matches(&c->u.named.value, f->value))
			return true;
	return false;
}

/* macro_matches - a macro is defined (non-empty), or its value matches. */
static bool macro_matches(const struct cond *c, const struct txn *t)
{
	const char *value = t->env.macro ? t->env.macro(t->env.arg, c->u.named.name) : NULL;

	if (!value || !*value)
		return false;
	return !c->u.named.has_value || any_matches(&c->u.named.value, value);
}

/* cond_eval - does C hold for T at STAGE? */
bool cond_eval(const struct cond *c, const struct txn *t, enum stage stage)
{
	const struct txn_msg *m = txn_msg_view(t);       /* empty before MAIL */

	switch (c->kind) {
	case COND_ALL:
		for (size_t i = 0; i < c->u.list.count; i++)
			if (!cond_eval(&c->u.list.items[i], t, stage))
				return false;
		return true;
	case COND_ANY:
		for (size_t i = 0; i < c->u.list.count; i++)
			if (cond_eval(&c->u.list.items[i], t, stage))
				return true;
		return false;
	case COND_NOT:
		return !cond_eval(c->u.negated, t, stage);
	case COND_CLIENT_IP:
		return client_in(c, t);
	case COND_CLIENT_NAME:
		return any_matches(&c->u.match, t->client_name);
	case COND_HELO:
		return any_matches(&c->u.match, t->helo);
	case COND_SENDER:
		return any_matches(&c->u.match, m->sender);
	case COND_RECIPIENT:
		return recipient_matches(c, m, stage);
	case COND_AUTH:
		return (m->auth_user != NULL) == c->u.present;
	case COND_AUTH_USER:
		return any_matches(&c->u.match, m->auth_user);
	case COND_HEADER:
		/* In follow-up rules only the delegate's own fields are its word. */
		return header_matches(c, m->followup_fields ? m->followup_fields : &m->headers);
	case COND_ORIGINAL_HEADER:
		return header_matches(c, &m->headers);
	case COND_SIZE_ABOVE:
		return m->size > c->u.size;
	case COND_MACRO:
		return macro_matches(c, t);
	}
	return false;
}
