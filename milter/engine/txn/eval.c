/*
 * eval.c - run a stage's rules and their actions for a transaction.
 *
 * Rules run in order. A rule's "then" actions run when its condition holds
 * (or it has none), its "else" actions otherwise. Actions run in order until
 * one decides (accept, reject, tempfail, discard, quarantine) or a delegation's
 * follow-up rules decide; header edits and log lines do not stop the list.
 * Nothing is allocated per rule: verdicts point into the policy.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "quarantine.h"
#include "txn_int.h"

enum flow { FLOW_GO, FLOW_STOP };

static enum flow run_rules(struct txn *t, const struct rule_list *rules, enum stage stage,
			   struct verdict *out);
static enum flow run_actions(struct txn *t, const struct action_list *l, const char *rule,
			     enum stage stage, struct verdict *out);

static const char *const delegate_status_names[] = {
	"copy", "error", "timeout", "missing", "verdict",
};

/* decided - fill OUT with a decision and note it for the log line. */
static enum flow decided(struct txn *t, struct verdict *out, enum verdict_kind kind,
			 const struct reply *reply, const char *rule, enum stage stage)
{
	*out = (struct verdict){ .kind = kind, .reply = reply, .rule = rule, .stage = stage };
	txn_note(t, "%s:%s=%s", stage_name(stage), rule, verdict_name(kind));
	return FLOW_STOP;
}

/* run_quarantine - keep the folder copy, then decide what recipients see. */
static enum flow run_quarantine(struct txn *t, const struct action *a, const char *rule,
				enum stage stage, struct verdict *out)
{
	static const enum verdict_kind then_kind[] = {
		[QUARANTINE_DISCARD] = VERDICT_DISCARD,
		[QUARANTINE_REJECT] = VERDICT_REJECT,
		[QUARANTINE_HOLD] = VERDICT_HOLD,
	};
	char err[256] = "no quarantine store configured";

	if (quarantine_release_vouched(t)) {    /* an admin released it: not again */
		log_msg(LOG_NOTICE, "%s: rule=%s quarantine skipped: a release with a live token",
			txn_log_id(t), rule);
		txn_note(t, "%s:%s=released", stage_name(stage), rule);
		return FLOW_GO;
	}
	if (a->u.quarantine.folder &&
	    !(t->env.quarantine && t->env.quarantine(t->env.service_arg, t, a, rule, err, sizeof(err)))) {
		log_msg(LOG_ERR, "%s: rule=%s quarantine to %s failed: %s", txn_log_id(t), rule,
			a->u.quarantine.folder, err);
		metrics_count(M_QUARANTINE_FAILURES);
		*out = eval_fail_safe(t, stage, "quarantine failed");
		return FLOW_STOP;
	}
	if (a->u.quarantine.folder)
		metrics_count(M_QUARANTINE_WRITES);
	decided(t, out, then_kind[a->u.quarantine.then],
		a->u.quarantine.then == QUARANTINE_REJECT ? &a->u.quarantine.reply : NULL,
		rule, stage);
	out->quarantine_reason = a->u.quarantine.reason;
	return FLOW_STOP;
}

/* run_followup - D's follow-up rules, their header tests seeing only ADDED (freed here). */
static enum flow run_followup(struct txn *t, const struct delegate_spec *d, struct headers *added,
			      enum stage stage, struct verdict *out)
{
	struct txn_msg *m = txn_msg(t);
	const struct headers *outer = m->followup_fields;       /* a delegation inside follow-ups */
	enum flow flow;

	m->followup_fields = added;
	flow = run_rules(t, &d->followup, stage, out);
	m->followup_fields = outer;
	headers_free(added);
	return flow;
}

/* run_delegate - send the message to a service and resume with the result. */
static enum flow run_delegate(struct txn *t, const struct delegate_spec *d, const char *rule,
			      enum stage stage, struct verdict *out)
{
	struct delegate_result r = { .status = DELEGATE_ERROR };
	struct headers added = { 0 };
	char err[200];

	/* The message must be on disk to be sent (clamd reads it from a
	 * descriptor, memory will do): a local failure to write it is the
	 * fail-safe verdict, not the service's on_error. */
	if (d->service->type == SERVICE_CLAMD ? !txn_message_kept(t) : !txn_message_path(t)) {
		*out = eval_fail_safe(t, stage, "the message could not be spooled");
		return FLOW_STOP;
	}
	snprintf(r.detail, sizeof(r.detail), "no delegation available in this program");
	metrics_gauge_add(M_DELEGATIONS_WAITING, 1);
	if (t->env.delegate)
		t->env.delegate(t->env.service_arg, t, d, &r);
	metrics_gauge_add(M_DELEGATIONS_WAITING, -1);
	txn_msg(t)->delegation_ms += r.elapsed_ms;
	if (r.status == DELEGATE_COPY && !txn_adopt_copy(t, d, r.copy_path, &added, err, sizeof(err))) {
		r.status = DELEGATE_ERROR;
		snprintf(r.detail, sizeof(r.detail), "unusable copy: %s", err);
	}
	if (r.status == DELEGATE_VERDICT)
		txn_adopt_fields(t, d, &r.fields, &added);
	headers_free(&r.fields);        /* a hook that filled fields with another status */
	log_msg(r.status == DELEGATE_COPY || r.status == DELEGATE_VERDICT ? LOG_INFO : LOG_WARNING,
		"%s: rule=%s delegate=%s result=%s delay=%llums%s%s%s%s", txn_log_id(t), rule,
		d->service->name, delegate_status_names[r.status], (unsigned long long)r.elapsed_ms,
		*r.detail ? " detail=" : "", r.detail, *r.member ? " member=" : "", r.member);
	txn_note(t, "%s:%s=delegate(%s,%s)", stage_name(stage), rule, d->service->name,
		 delegate_status_names[r.status]);
	metrics_delegation(d->service->metrics, r.status, r.elapsed_ms);
	switch (r.status) {
	case DELEGATE_COPY:
	case DELEGATE_VERDICT:
		return run_followup(t, d, &added, stage, out);
	case DELEGATE_TIMEOUT:
		return run_actions(t, &d->on_timeout, rule, stage, out);
	case DELEGATE_MISSING:
		return run_actions(t, &d->on_missing, rule, stage, out);
	case DELEGATE_ERROR:
		break;
	}
	return run_actions(t, &d->on_error, rule, stage, out);
}

/* run_action - one action; FLOW_STOP when it decided. */
static enum flow run_action(struct txn *t, const struct action *a, const char *rule,
			    enum stage stage, struct verdict *out)
{
	switch (a->kind) {
	case ACT_NEXT:
		return FLOW_GO;
	case ACT_ACCEPT:
		return decided(t, out, VERDICT_ACCEPT, NULL, rule, stage);
	case ACT_REJECT:
		return decided(t, out, VERDICT_REJECT, &a->u.reply, rule, stage);
	case ACT_TEMPFAIL:
		return decided(t, out, VERDICT_TEMPFAIL, &a->u.reply, rule, stage);
	case ACT_DISCARD:
		return decided(t, out, VERDICT_DISCARD, NULL, rule, stage);
	case ACT_QUARANTINE:
		return run_quarantine(t, a, rule, stage, out);
	case ACT_ADD_HEADER:
		txn_add_edit(t, EDIT_ADD, a->u.header.name, a->u.header.value, 0);
		return FLOW_GO;
	case ACT_CHANGE_HEADER:
		txn_add_edit(t, EDIT_CHANGE, a->u.header.name, a->u.header.value, a->u.header.index);
		return FLOW_GO;
	case ACT_REMOVE_HEADER:
		txn_add_edit(t, EDIT_REMOVE, a->u.header.name, NULL, 0);
		return FLOW_GO;
	case ACT_LOG:
		log_msg(a->u.log.level, "%s: rule=%s stage=%s %s", txn_log_id(t), rule,
			stage_name(stage), a->u.log.message);
		return FLOW_GO;
	case ACT_DELEGATE:
		return run_delegate(t, &a->u.delegate, rule, stage, out);
	}
	return FLOW_GO;
}

/* run_actions - the actions of L in order, until one decides. */
static enum flow run_actions(struct txn *t, const struct action_list *l, const char *rule,
			     enum stage stage, struct verdict *out)
{
	for (size_t i = 0; i < l->count; i++)
		if (run_action(t, &l->items[i], rule, stage, out) == FLOW_STOP)
			return FLOW_STOP;
	return FLOW_GO;
}

/* run_rules - each rule of RULES in order, until one decides. */
static enum flow run_rules(struct txn *t, const struct rule_list *rules, enum stage stage,
			   struct verdict *out)
{
	for (size_t i = 0; i < rules->count; i++) {
		const struct rule *r = &rules->items[i];
		bool holds = !r->cond || cond_eval(r->cond, t, stage);

		if (holds)
			metrics_rule_hit(r->metrics);
		if (log_enabled(LOG_DEBUG))
			log_msg(LOG_DEBUG, "%s: stage=%s rule=%s condition=%s", txn_log_id(t),
				stage_name(stage), r->name, holds ? "true" : "false");
		if (run_actions(t, holds ? &r->then : &r->otherwise, r->name, stage, out) == FLOW_STOP)
			return FLOW_STOP;
	}
	return FLOW_GO;
}

/* eval_stage - run the policy's rules for STAGE. */
struct verdict eval_stage(struct txn *t, enum stage stage)
{
	struct verdict v = { .kind = VERDICT_CONTINUE, .stage = stage };

	run_rules(t, &t->policy->stages[stage], stage, &v);
	return v;
}

/* eval_fail_safe - the fail-safe verdict (tempfail unless configured). */
struct verdict eval_fail_safe(struct txn *t, enum stage stage, const char *reason)
{
	struct verdict v = { .kind = VERDICT_CONTINUE, .stage = stage };
	static const struct reply fallback = { 451, "4.3.0", "Temporary failure, try again later" };

	log_msg(LOG_ERR, "%s: %s: applying the fail-safe verdict", txn_log_id(t), reason);
	metrics_count(M_FAIL_SAFE);
	if (run_actions(t, &t->policy->settings.fail_safe, "fail_safe", stage, &v) == FLOW_STOP)
		return v;
	/* A fail-safe list that decides nothing must still not accept silently. */
	decided(t, &v, VERDICT_TEMPFAIL, &fallback, "fail_safe", stage);
	return v;
}
