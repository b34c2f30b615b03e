/*
 * txn.c - a connection's life and the stages fed to it: the connection's
 * own fields, the decisions at each stage, the trail for the log line, and
 * the reset between messages (the message itself is txn_msg.c, its edits
 * txn_edit.c, delegates' copies txn_copy.c, rule evaluation eval.c).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include "log.h"
#include "policy_load_ctx.h"    /* xstrdup, xcalloc */
#include "txn_int.h"
#include "txn_log.h"

static const char *const verdict_names[] = {
	"continue", "accept", "reject", "tempfail", "discard", "hold",
};

/* verdict_name - the log name of a verdict kind. */
const char *verdict_name(enum verdict_kind kind)
{
	return kind <= VERDICT_HOLD ? verdict_names[kind] : "?";
}

/* dup_or_null - strdup for optional strings. */
static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* txn_new - a transaction for one connection. */
struct txn *txn_new(struct policy *p, const struct txn_env *env)
{
	struct txn *t = xcalloc(1, sizeof(*t));

	t->policy = policy_ref(p);
	if (env)
		t->env = *env;
	return t;
}

/* txn_free - release everything. */
void txn_free(struct txn *t)
{
	if (!t)
		return;
	txn_msg_free(t->msg);
	edit_list_free(&t->conn_edits);
	free(t->client_name);
	free(t->client_addr);
	free(t->helo);
	free(t->queue_id);
	policy_unref(t->policy);
	free(t);
}

/* txn_keep_messages - the front end delivers the messages: keep their text. */
void txn_keep_messages(struct txn *t)
{
	t->keep_messages = true;
}

/* txn_set_env_arg - change the hooks' argument. */
void txn_set_env_arg(struct txn *t, void *arg)
{
	t->env.arg = arg;
}

/* txn_progress - tell the front end that a delegation is still running. */
void txn_progress(struct txn *t)
{
	if (t->env.progress)
		t->env.progress(t->env.arg);
}

/* txn_set_queue_id - remember the MTA's queue id. */
void txn_set_queue_id(struct txn *t, const char *queue_id)
{
	free(t->queue_id);
	t->queue_id = dup_or_null(queue_id);
}

/* txn_log_id - the queue id for log lines. */
const char *txn_log_id(const struct txn *t)
{
	return t->queue_id && *t->queue_id ? t->queue_id : "NOQUEUE";
}

/* txn_note - append an entry to the trail of decisions: the message's, or the connection's. */
void txn_note(struct txn *t, const char *fmt, ...)
{
	struct txn_trail *tr = t->msg ? &t->msg->trail : &t->trail;
	size_t room = TXN_TRAIL_MAX - tr->len;
	va_list ap;
	int n;

	if (room <= 2 || tr->count == TXN_TRAIL_ENTRIES)
		return;
	if (tr->len)
		tr->text[tr->len++] = ' ', room--;
	tr->starts[tr->count++] = (uint16_t)tr->len;
	va_start(ap, fmt);
	n = vsnprintf(tr->text + tr->len, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		tr->len += (size_t)n < room ? (size_t)n : room - 1;
	tr->text[tr->len] = '\0';
}

/* decide - evaluate STAGE unless already decided, and remember a decision. */
static struct verdict decide(struct txn *t, enum stage stage)
{
	struct verdict v;

	if (t->conn_verdict.kind != VERDICT_CONTINUE)
		return t->conn_verdict;
	if (stage > STAGE_HELO && txn_msg(t)->verdict.kind != VERDICT_CONTINUE)
		return t->msg->verdict;
	v = eval_stage(t, stage);
	if (v.kind == VERDICT_CONTINUE)
		return v;
	if (stage <= STAGE_HELO) {
		t->conn_verdict = v;
		txn_count_verdict(v);   /* once per connection (txn_log.h) */
	} else if (!(stage == STAGE_RCPT && (v.kind == VERDICT_REJECT || v.kind == VERDICT_TEMPFAIL)))
		t->msg->verdict = v;
	return v;
}

/* txn_connect - the client connected. */
struct verdict txn_connect(struct txn *t, const char *client_name, const char *client_addr)
{
	free(t->client_name);
	free(t->client_addr);
	t->client_name = dup_or_null(client_name);
	t->client_addr = dup_or_null(client_addr);
	t->client_parsed = client_addr &&
		cidr_addr_parse(client_addr, &t->client_family, t->client_bytes);
	return decide(t, STAGE_CONNECT);
}

/* txn_helo - the client said HELO or EHLO. */
struct verdict txn_helo(struct txn *t, const char *helo)
{
	free(t->helo);
	t->helo = dup_or_null(helo);
	return decide(t, STAGE_HELO);
}

/* txn_mail - a new message: a new object, with the envelope sender. */
struct verdict txn_mail(struct txn *t, const char *sender, const char *auth_user)
{
	txn_msg_free(t->msg);
	t->msg = txn_msg_new(t);
	t->msg->sender = xstrdup(sender ? sender : "");
	t->msg->auth_user = auth_user && *auth_user ? xstrdup(auth_user) : NULL;
	return decide(t, STAGE_MAIL);
}

/* txn_rcpt - one recipient; recorded unless refused. */
struct verdict txn_rcpt(struct txn *t, const char *recipient)
{
	struct txn_msg *m = txn_msg(t);
	struct verdict v;

	m->current_rcpt = recipient;
	v = decide(t, STAGE_RCPT);
	m->current_rcpt = NULL;
	if (v.kind != VERDICT_REJECT && v.kind != VERDICT_TEMPFAIL)
		txn_rcpt_add(m, recipient);
	return v;
}

/*
 * refuse_large_header - a header beyond the limits of msg_text.h is refused
 * where it comes in, with a reply that says why: it could be neither
 * evaluated whole nor delegated, and a retry would not change it.
 */
static struct verdict refuse_large_header(struct txn *t)
{
	static const struct reply too_large = { 552, "5.3.4", "Error: message header size exceeds limit" };
	struct txn_msg *m = txn_msg(t);

	txn_text_end_headers(t, false);
	m->verdict = (struct verdict){ .kind = VERDICT_REJECT, .reply = &too_large,
				       .rule = "header_limit", .stage = STAGE_HEADERS };
	txn_note(t, "%s:header_limit=reject", stage_name(STAGE_HEADERS));
	return m->verdict;
}

/* undecided - has neither the connection nor the message been decided? */
static bool undecided(struct txn *t)
{
	return t->conn_verdict.kind == VERDICT_CONTINUE &&
	       txn_msg(t)->verdict.kind == VERDICT_CONTINUE;
}

/* txn_eoh - all headers are in: evaluate the headers stage; keep the text or drop it. */
struct verdict txn_eoh(struct txn *t)
{
	struct verdict v;
	bool keep;

	if (txn_msg(t)->headers_truncated && undecided(t))
		return refuse_large_header(t);
	v = decide(t, STAGE_HEADERS);
	keep = txn_text_wanted(t, v);
	if (!txn_text_end_headers(t, keep) && keep) {
		t->msg->verdict = eval_fail_safe(t, STAGE_HEADERS, "cannot spool the message");
		return t->msg->verdict;
	}
	return v;
}

/* delivers - does V let the message through to the front end's delivery? */
static bool delivers(struct verdict v)
{
	return v.kind == VERDICT_CONTINUE || v.kind == VERDICT_ACCEPT || v.kind == VERDICT_HOLD;
}

/* txn_eom - the whole message is in: evaluate the eom stage. */
struct verdict txn_eom(struct txn *t)
{
	bool kept = txn_text_finish(t);
	struct verdict v;

	if (!kept && undecided(t) && t->policy->stages[STAGE_EOM].count &&
	    t->policy->needs_message_file) {
		t->msg->verdict = eval_fail_safe(t, STAGE_EOM, "the message could not be spooled");
		return t->msg->verdict;
	}
	v = decide(t, STAGE_EOM);
	if (!kept && t->keep_messages && delivers(v)) {
		/* The front end could not deliver what it did not keep. */
		t->msg->verdict = eval_fail_safe(t, STAGE_EOM, "the message could not be spooled");
		return t->msg->verdict;
	}
	return v;
}

/* txn_remove_file - unlink and free a spool or copy path. */
void txn_remove_file(char **path)
{
	if (*path && unlink(*path) != 0 && errno != ENOENT)
		log_msg(LOG_WARNING, "cannot remove %s: %s", *path, strerror(errno));
	free(*path);
	*path = NULL;
}

/* txn_reset_message - forget the current message, keep the connection. */
void txn_reset_message(struct txn *t, struct policy *new_policy)
{
	txn_msg_free(t->msg);
	t->msg = NULL;
	if (new_policy && new_policy != t->policy) {
		policy_ref(new_policy);
		policy_unref(t->policy);
		t->policy = new_policy;
	}
}

/* Read access to the connection. */
const struct policy *txn_policy(const struct txn *t) { return t->policy; }
const char *txn_queue_id(const struct txn *t) { return t->queue_id; }
const char *txn_client_addr(const struct txn *t) { return t->client_addr; }

/* trail_of - the trail that counts now: the message's, or the connection's. */
static const struct txn_trail *trail_of(const struct txn *t)
{
	return t->msg ? &t->msg->trail : &t->trail;
}

/* txn_trail - the decisions so far: the connection's, then the message's. */
const char *txn_trail(const struct txn *t)
{
	return trail_of(t)->text;
}

/* txn_trail_count - how many entries the trail has. */
size_t txn_trail_count(const struct txn *t)
{
	return trail_of(t)->count;
}

/* txn_trail_entry - entry I of the trail: where it starts in txn_trail, its length in *LEN. */
const char *txn_trail_entry(const struct txn *t, size_t i, size_t *len)
{
	const struct txn_trail *tr = trail_of(t);
	size_t end = i + 1 < tr->count ? tr->starts[i + 1] - 1u : tr->len;

	*len = end - tr->starts[i];
	return tr->text + tr->starts[i];
}
