/*
 * shim_session.c - smtp_server handlers: one engine transaction per SMTP
 * session, one message at a time, verdicts turned into SMTP replies and
 * accepted messages handed to the next hop before the client hears 250.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "log.h"
#include "metrics.h"
#include "policy_store.h"
#include "shim_message.h"
#include "shim_session.h"
#include "txn_log.h"
#include "xalloc.h"

struct session {
	struct shim_runtime *rt;        /* borrowed */
	struct txn *t;                  /* owned */
	struct smtp_peer peer;
	char client_name[256];          /* reverse DNS, or "" */
	char helo[256];
	bool extended;                  /* EHLO */
	char qid[32];
	bool in_message;                /* MAIL accepted, not yet ended */
	struct shim_message msg;        /* during DATA */
};

/* log_id - the session's queue id for log lines. */
static const char *log_id(const struct session *s)
{
	return *s->qid ? s->qid : "NOQUEUE";
}

/* reply_policy - the policy's reply P as the SMTP reply R. */
static void reply_policy(struct smtp_reply *r, const struct reply *p)
{
	smtp_reply_set(r, p->code, "%s%s%s", p->status, *p->status ? " " : "", p->text);
}

/* refuses - is V a refusal (reject or tempfail)? If so, say it in R. */
static bool refuses(struct verdict v, struct smtp_reply *r)
{
	if ((v.kind != VERDICT_REJECT && v.kind != VERDICT_TEMPFAIL) || !v.reply)
		return false;
	reply_policy(r, v.reply);
	return true;
}

/* new_queue_id - a queue id unique in this process and unlikely across restarts. */
static void new_queue_id(char *buf, size_t len)
{
	static atomic_uint counter;
	unsigned n = atomic_fetch_add(&counter, 1);

	snprintf(buf, len, "%08lX%03X%05X", (unsigned long)time(NULL) & 0xffffffffUL,
		 (unsigned)getpid() & 0xfff, n & 0xfffff);
}

/* sanitize - copy SRC into DST (LEN) with anything but printable ASCII made '?'. */
static void sanitize(char *dst, size_t len, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < len; i++)
		dst[i] = src[i] > ' ' && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

/* received_field - our "Received:" field for the current message (malloc'ed). */
static char *received_field(const struct session *s)
{
	char date[64], rcpt[300] = "";
	time_t now = time(NULL);
	struct tm tm;
	char *field;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	if (txn_rcpt_count(s->t) == 1)
		snprintf(rcpt, sizeof(rcpt), "\r\n\tfor <%s>", txn_rcpt_at(s->t, 0));
	field = xasprintf("Received: from %s (%s [%s])\r\n\tby %s (delegate-shim) with %s id %s%s;"
			  " %s\r\n", *s->helo ? s->helo : "unknown",
			  *s->client_name ? s->client_name : "unknown", s->peer.addr, s->rt->cfg->hostname,
			  s->extended ? "ESMTP" : "SMTP", s->qid, rcpt, date);
	return field;
}

/* log_message - the one line per message (txn_log.h), as the milter writes it, plus the next hop. */
static void log_message(const struct session *s, struct verdict v,
			const struct txn_log_field *outcome)
{
	txn_log_message(s->t, v, outcome);
}

/* end_message - forget the current message (the engine's copy included). */
static void end_message(struct session *s)
{
	shim_message_discard(&s->msg);
	txn_reset_message(s->t, NULL);
	s->in_message = false;
}

/* client_name - reverse DNS of the peer, only when the policy tests it. */
static void client_name(struct session *s, const struct policy *p)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl = sizeof(struct sockaddr_in);
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;

	if (!(p->cond_mask & (1u << COND_CLIENT_NAME)))
		return;
	if (inet_pton(AF_INET, s->peer.addr, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
	} else if (inet_pton(AF_INET6, s->peer.addr, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		sl = sizeof(*v6);
	} else {
		return;
	}
	if (getnameinfo((struct sockaddr *)&ss, sl, s->client_name, sizeof(s->client_name),
			NULL, 0, NI_NAMEREQD) != 0)
		s->client_name[0] = '\0';
}

/* on_open - a client connected: a transaction and the connect stage. */
static void *on_open(void *arg, const struct smtp_peer *peer, struct smtp_reply *banner)
{
	struct shim_runtime *rt = arg;
	struct policy *p = atomic_load(&rt->draining) ? NULL : policy_store_current();
	struct session *s;
	struct verdict v;

	if (!p) {
		smtp_reply_set(banner, 421, "4.3.2 %s Service not available, closing channel",
			       rt->cfg->hostname);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->rt = rt;
	s->peer = *peer;
	client_name(s, p);
	s->t = txn_new(p, &rt->env);
	txn_keep_messages(s->t);        /* the shim delivers: the engine keeps the one copy */
	policy_unref(p);
	atomic_fetch_add(&rt->sessions, 1);
	v = txn_connect(s->t, *s->client_name ? s->client_name : NULL, peer->addr);
	if (v.kind == VERDICT_REJECT && v.reply)
		smtp_reply_set(banner, 554, "%s%s%s", v.reply->status, *v.reply->status ? " " : "",
			       v.reply->text);
	else if (v.kind == VERDICT_TEMPFAIL && v.reply)
		smtp_reply_set(banner, 421, "%s%s%s", v.reply->status, *v.reply->status ? " " : "",
			       v.reply->text);
	if (banner->code)
		log_msg(LOG_INFO, "NOQUEUE: client=%s connect refused rules=\"%s\" verdict=%s",
			peer->addr, txn_trail(s->t), verdict_name(v.kind));
	return s;
}

/* on_close - the session ended: free everything it had. */
static void on_close(void *ctx)
{
	struct session *s = ctx;

	if (!s)
		return;
	shim_message_discard(&s->msg);
	txn_free(s->t);
	atomic_fetch_sub(&s->rt->sessions, 1);
	free(s);
}

/* on_helo - HELO or EHLO. */
static void on_helo(void *ctx, const char *name, bool extended, struct smtp_reply *r)
{
	struct session *s = ctx;

	sanitize(s->helo, sizeof(s->helo), name);
	s->extended = extended;
	refuses(txn_helo(s->t, name), r);
}

/* on_mail - MAIL FROM: a new message, with the policy current now. */
static void on_mail(void *ctx, const char *sender, const struct smtp_mail_params *params,
		    struct smtp_reply *r)
{
	struct session *s = ctx;
	struct policy *p = policy_store_current();
	struct verdict v;

	(void)params;
	if (atomic_load(&s->rt->draining)) {
		smtp_reply_set(r, 421, "4.3.2 %s Shutting down, try again later", s->rt->cfg->hostname);
		policy_unref(p);
		return;
	}
	end_message(s);
	txn_reset_message(s->t, p);
	policy_unref(p);
	new_queue_id(s->qid, sizeof(s->qid));
	txn_set_queue_id(s->t, s->qid);
	v = txn_mail(s->t, sender, NULL);
	if (refuses(v, r)) {
		log_message(s, v, NULL);
		return;
	}
	s->in_message = true;
}

/* on_rcpt - RCPT TO: a refusal refuses this recipient only. */
static void on_rcpt(void *ctx, const char *recipient, struct smtp_reply *r)
{
	struct session *s = ctx;
	struct verdict v = txn_rcpt(s->t, recipient);

	if (refuses(v, r))
		log_msg(LOG_INFO, "%s: client=%s to=<%s> rules=\"%s\" verdict=%s reply=%d", log_id(s),
			s->peer.addr, recipient, txn_trail(s->t), verdict_name(v.kind), r->code);
}

/* on_data_start - DATA: needs a recipient. */
static void on_data_start(void *ctx, struct smtp_reply *r)
{
	struct session *s = ctx;

	if (txn_rcpt_count(s->t) == 0) {
		smtp_reply_set(r, 554, "5.5.1 No valid recipients");
		return;
	}
	shim_message_begin(&s->msg, s->t);
}

/* on_data_line - message text (the engine keeps it; a failure is its verdict at eom). */
static bool on_data_line(void *ctx, const char *text, size_t len, bool more)
{
	struct session *s = ctx;

	shim_message_line(&s->msg, text, len, more);
	return true;
}

/*
 * open_delivered - the message to deliver, read from its start: what the
 * client sent (kept by the engine), or a delegate's copy when its
 * delegation says "deliver": "copy". The header edits apply to either
 * (shim_edit reads the message's own header). NULL if it cannot be read.
 */
static FILE *open_delivered(struct session *s)
{
	struct txn_delivery d = txn_delivery(s->t);

	return d.source == DELIVER_COPY ? fopen(d.path, "re") : txn_original_open(s->t);
}

/* deliver - an accepted message to the next hop; the reply says how it went. */
static void deliver(struct session *s, struct verdict v, struct smtp_reply *r)
{
	size_t n = txn_edit_count(s->t), rcpts = txn_rcpt_count(s->t);
	const struct header_edit **edits = xcalloc(n, sizeof(*edits));
	const char **rcpt = xcalloc(rcpts, sizeof(*rcpt));
	char *received = received_field(s);
	struct shim_delivery d = {
		.message = open_delivered(s), .sender = txn_sender(s->t), .rcpts = rcpt,
		.rcpt_count = rcpts, .prefix = received, .edits = edits, .edit_count = n,
		.queue_id = s->qid,
	};
	struct delivery_result res;

	for (size_t i = 0; i < n; i++)
		edits[i] = txn_edit(s->t, i);
	for (size_t i = 0; i < rcpts; i++)
		rcpt[i] = txn_rcpt_at(s->t, i);
	shim_nexthop_deliver(s->rt->nexthop, &d, &res);
	shim_delivery_reply(&res, s->qid, r);
	log_message(s, v, (const struct txn_log_field[]){
		{ "nexthop", shim_nexthop_describe(s->rt->nexthop), true },
		{ "status", delivery_status_name(res.status), false },
		{ "detail", res.detail, true }, { NULL, NULL, false } });
	if (d.message)
		fclose(d.message);
	free(received);
	free(edits);
	free(rcpt);
}

/* hold - keep the message in the hold folder, as an MTA's hold queue would. */
static void hold(struct session *s, struct verdict v, struct smtp_reply *r)
{
	struct action a = { .kind = ACT_QUARANTINE };
	char err[400], detail[420];
	bool held;

	a.u.quarantine.folder = SHIM_HOLD_FOLDER;
	a.u.quarantine.reason = (char *)(v.quarantine_reason ? v.quarantine_reason : "held by policy");
	a.u.quarantine.then = QUARANTINE_HOLD;
	snprintf(err, sizeof(err), "no quarantine store");
	held = s->rt->env.quarantine &&
	       s->rt->env.quarantine(s->rt->env.service_arg, s->t, &a, v.rule ? v.rule : "policy",
				     err, sizeof(err));
	metrics_count(held ? M_QUARANTINE_WRITES : M_QUARANTINE_FAILURES);
	if (held) {
		smtp_reply_set(r, 250, "2.0.0 Ok: held as %s", s->qid);
		log_message(s, v, (const struct txn_log_field[]){
			{ "status", "held", false }, { "folder", SHIM_HOLD_FOLDER, false },
			{ NULL, NULL, false } });
		return;
	}
	smtp_reply_set(r, 451, "4.3.0 Local error, try again later");
	snprintf(detail, sizeof(detail), "hold failed: %s", err);
	log_message(s, v, (const struct txn_log_field[]){
		{ "status", "deferred", false }, { "detail", detail, true }, { NULL, NULL, false } });
}

/* on_data_end - the whole message is in: the verdict, then the reply. */
static void on_data_end(void *ctx, bool oversize, struct smtp_reply *r)
{
	struct session *s = ctx;
	struct verdict v;

	if (oversize) {
		smtp_reply_set(r, 552, "5.3.4 Message size exceeds fixed limit");
		log_msg(LOG_INFO, "%s: client=%s from=<%s> verdict=reject reply=552 (too large)",
			log_id(s), s->peer.addr, txn_sender(s->t));
		metrics_count_message(MV_REJECT, STAGE_EOM);
		end_message(s);
		return;
	}
	shim_message_end(&s->msg);
	v = txn_eom(s->t);
	if (v.kind == VERDICT_CONTINUE)
		v.kind = VERDICT_ACCEPT;
	if (v.kind == VERDICT_ACCEPT)
		deliver(s, v, r);
	else if (v.kind == VERDICT_HOLD)
		hold(s, v, r);
	else if (!refuses(v, r)) {
		smtp_reply_set(r, 250, "2.0.0 Ok: queued as %s", s->qid);   /* discard */
		log_message(s, v, (const struct txn_log_field[]){
			{ "status", "discarded", false }, { NULL, NULL, false } });
	} else {
		log_message(s, v, NULL);
	}
	end_message(s);
}

/* on_reset - RSET, HELO again, or the client left mid-message. */
static void on_reset(void *ctx)
{
	struct session *s = ctx;

	if (s->in_message)
		log_msg(LOG_INFO, "%s: client=%s message abandoned", log_id(s), s->peer.addr);
	end_message(s);
}

/* shim_session_handlers - the handler table. */
const struct smtp_handlers *shim_session_handlers(void)
{
	static const struct smtp_handlers handlers = {
		.session_open = on_open,
		.session_close = on_close,
		.helo = on_helo,
		.mail = on_mail,
		.rcpt = on_rcpt,
		.data_start = on_data_start,
		.data_line = on_data_line,
		.data_end = on_data_end,
		.reset = on_reset,
	};
	return &handlers;
}
