/*
 * milter_callbacks.c - map libmilter's callbacks onto engine stages and
 * engine verdicts back onto milter replies.
 *
 * Ownership: each MTA connection has one struct txn in libmilter's private
 * data, from xxfi_negotiate (libmilter calls it first, before connect) to
 * xxfi_close, which clears the pointer and frees it. The txn holds the
 * connection's only policy reference: the policy current at negotiation,
 * which decided the stages the MTA was told to send, is used for every
 * message of the connection and released at close, so a reload meanwhile
 * affects new connections only. If connect comes without a negotiation of
 * ours (an MTA reusing the connection after SMFIC_QUIT_NC, whose close freed
 * the txn), the txn is made there, on the policy current then. Every
 * callback tolerates a missing txn: xxfi_close may come with none (the MTA
 * went away before or during negotiation, or negotiation failed).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "log.h"
#include "milter_callbacks.h"
#include "milter_deliver.h"
#include "milter_negotiate.h"
#include "policy_store.h"
#include "txn_log.h"

static atomic_uint active_connections;
static struct txn_env engine_hooks;     /* set once before smfi_main */

static const char *macro_value(void *arg, const char *name);
static void send_progress(void *arg);

/* milter_set_hooks - engine services for every transaction, plus ours. */
void milter_set_hooks(const struct txn_env *env)
{
	engine_hooks = *env;
	engine_hooks.macro = macro_value;
	engine_hooks.progress = send_progress;
}

/* milter_active_connections - MTA connections open right now. */
unsigned milter_active_connections(void)
{
	return atomic_load(&active_connections);
}

/* conn_txn - the connection's transaction, pointed at this callback's context. */
static struct txn *conn_txn(SMFICTX *ctx)
{
	struct txn *t = smfi_getpriv(ctx);

	if (t)
		txn_set_env_arg(t, ctx);
	return t;
}

/* macro_value - txn_env hook: an MTA macro of the current callback. */
static const char *macro_value(void *arg, const char *name)
{
	return smfi_getsymval(arg, (char *)name);
}

/* send_progress - txn_env hook: ask the MTA to keep waiting. */
static void send_progress(void *arg)
{
	if (smfi_progress(arg) != MI_SUCCESS)
		log_msg(LOG_WARNING, "smfi_progress failed: the MTA may time out");
}

/* set_reply - smfi_setreply with '%' doubled, as libmilter requires. */
static void set_reply(SMFICTX *ctx, const struct reply *r)
{
	char code[8], text[900];
	size_t n = 0;

	snprintf(code, sizeof(code), "%d", r->code);
	for (const char *p = r->text; *p && n + 2 < sizeof(text); p++) {
		text[n++] = *p;
		if (*p == '%')
			text[n++] = '%';
	}
	text[n] = '\0';
	if (smfi_setreply(ctx, code, *r->status ? (char *)r->status : NULL, text) != MI_SUCCESS)
		log_msg(LOG_WARNING, "smfi_setreply %s failed", code);
}

/* The reply when the message to deliver could not be handed to the MTA. */
static const struct reply deliver_failed = { 451, "4.3.0", "Temporary failure, try again later" };

/* log_message - the one line per message (txn_log.h), as the shim writes it. */
static void log_message(const struct txn *t, struct verdict v)
{
	txn_log_message(t, v, NULL);
}

/* to_milter - the milter status for verdict V at STAGE (replies set here). */
static sfsistat to_milter(SMFICTX *ctx, struct txn *t, struct verdict v, enum stage stage)
{
	switch (v.kind) {
	case VERDICT_CONTINUE:
		return SMFIS_CONTINUE;
	case VERDICT_ACCEPT:
		return SMFIS_ACCEPT;
	case VERDICT_REJECT:
		set_reply(ctx, v.reply);
		return SMFIS_REJECT;
	case VERDICT_TEMPFAIL:
		set_reply(ctx, v.reply);
		return SMFIS_TEMPFAIL;
	case VERDICT_DISCARD:
		/* Not possible for a connection: later message stages discard. */
		return stage <= STAGE_HELO ? SMFIS_CONTINUE : SMFIS_DISCARD;
	case VERDICT_HOLD:
		if (smfi_quarantine(ctx, (char *)(v.quarantine_reason ? v.quarantine_reason
								      : "held by policy")) != MI_SUCCESS) {
			log_msg(LOG_ERR, "%s: smfi_quarantine failed: tempfail",
				txn_queue_id(t) ? txn_queue_id(t) : "NOQUEUE");
			return SMFIS_TEMPFAIL;
		}
		return SMFIS_ACCEPT;
	}
	return SMFIS_TEMPFAIL;
}

/* message_verdict - map a message-stage verdict; log the message when it ends. */
static sfsistat message_verdict(SMFICTX *ctx, struct txn *t, struct verdict v, enum stage stage)
{
	bool per_recipient = stage == STAGE_RCPT &&
			     (v.kind == VERDICT_REJECT || v.kind == VERDICT_TEMPFAIL);

	if (v.kind != VERDICT_CONTINUE && !per_recipient)
		log_message(t, v);
	return to_milter(ctx, t, v, stage);
}

/* client_address - the numeric address of SA, or NULL (unix socket, none). */
static const char *client_address(const struct sockaddr *sa, char *buf, size_t len)
{
	if (!sa)
		return NULL;
	if (sa->sa_family == AF_INET)
		return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)len);
	if (sa->sa_family == AF_INET6)
		return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)len);
	return NULL;
}

/* strip_brackets - "<a@b>" to "a@b" in BUF. */
static const char *strip_brackets(const char *addr, char *buf, size_t len)
{
	size_t n;

	if (!addr)
		return "";
	n = strlen(addr);
	if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>')
		snprintf(buf, len, "%.*s", (int)(n - 2), addr + 1);
	else
		snprintf(buf, len, "%s", addr);
	return buf;
}

/*
 * conn_open - the transaction of a new MTA connection, on the policy
 * current now (the one reference it keeps until close), stored in CTX's
 * private data; NULL, with nothing stored, when there is no policy.
 */
static struct txn *conn_open(SMFICTX *ctx)
{
	struct policy *p = policy_store_current();
	struct txn *t;

	if (!p)
		return NULL;
	t = txn_new(p, &engine_hooks);
	policy_unref(p);
	if (smfi_setpriv(ctx, t) != MI_SUCCESS) {
		txn_free(t);
		return NULL;
	}
	atomic_fetch_add(&active_connections, 1);
	return t;
}

/*
 * on_negotiate - xxfi_negotiate, the first callback of an MTA connection:
 * the connection takes its policy here, and the MTA is told what it needs.
 */
static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			     unsigned long f2, unsigned long f3, unsigned long *pf0,
			     unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct txn *t = smfi_getpriv(ctx);

	(void)f2, (void)f3;
	if (!t && !(t = conn_open(ctx)))
		return SMFIS_TEMPFAIL;
	return milter_negotiate(ctx, txn_policy(t), f0, f1, pf0, pf1, pf2, pf3);
}

/* on_connect - a new SMTP client at the MTA, on the negotiated policy. */
static sfsistat on_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct txn *t = smfi_getpriv(ctx);
	char addr[INET6_ADDRSTRLEN];

	if (!t && !(t = conn_open(ctx)))
		return SMFIS_TEMPFAIL;
	txn_set_env_arg(t, ctx);
	return to_milter(ctx, t, txn_connect(t, hostname, client_address(hostaddr, addr, sizeof(addr))),
			 STAGE_CONNECT);
}

/* on_helo - HELO/EHLO. */
static sfsistat on_helo(SMFICTX *ctx, char *helo)
{
	struct txn *t = conn_txn(ctx);

	return t ? to_milter(ctx, t, txn_helo(t, helo), STAGE_HELO) : SMFIS_TEMPFAIL;
}

/* on_envfrom - MAIL FROM: a new message. */
static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
	struct txn *t = conn_txn(ctx);
	char sender[1024];

	if (!t)
		return SMFIS_TEMPFAIL;
	/* Same policy as the connection's first message: it set the stages. */
	txn_reset_message(t, NULL);
	txn_set_queue_id(t, smfi_getsymval(ctx, "i"));
	return message_verdict(ctx, t, txn_mail(t, strip_brackets(argv[0], sender, sizeof(sender)),
						smfi_getsymval(ctx, "{auth_authen}")), STAGE_MAIL);
}

/* on_envrcpt - RCPT TO: one recipient. */
static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
	struct txn *t = conn_txn(ctx);
	char rcpt[1024];

	if (!t)
		return SMFIS_TEMPFAIL;
	return message_verdict(ctx, t, txn_rcpt(t, strip_brackets(argv[0], rcpt, sizeof(rcpt))),
			       STAGE_RCPT);
}

/*
 * on_header - one header field. No reply (SMFIP_NR_HDR is negotiated): a
 * missing transaction is answered at end of headers.
 */
static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
	struct txn *t = conn_txn(ctx);

	if (t)
		txn_header(t, name, value);
	return SMFIS_NOREPLY;
}

/* on_eoh - end of headers. */
static sfsistat on_eoh(SMFICTX *ctx)
{
	struct txn *t = conn_txn(ctx);

	return t ? message_verdict(ctx, t, txn_eoh(t), STAGE_HEADERS) : SMFIS_TEMPFAIL;
}

/* on_body - a chunk of the body. No reply (SMFIP_NR_BODY), as for headers. */
static sfsistat on_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	struct txn *t = conn_txn(ctx);

	if (t)
		txn_body(t, data, len);
	return SMFIS_NOREPLY;
}

/* on_eom - end of message: the eom stage, header edits, the final verdict. */
static sfsistat on_eom(SMFICTX *ctx)
{
	struct txn *t = conn_txn(ctx);
	struct verdict v;
	sfsistat status;

	if (!t)
		return SMFIS_TEMPFAIL;
	txn_set_queue_id(t, smfi_getsymval(ctx, "i"));
	v = txn_eom(t);
	if ((v.kind == VERDICT_CONTINUE || v.kind == VERDICT_ACCEPT || v.kind == VERDICT_HOLD) &&
	    !milter_deliver(ctx, t))
		v = (struct verdict){ .kind = VERDICT_TEMPFAIL, .reply = &deliver_failed,
				      .rule = "deliver", .stage = STAGE_EOM };
	log_message(t, v.kind == VERDICT_CONTINUE
			       ? (struct verdict){ .kind = VERDICT_ACCEPT, .stage = STAGE_EOM } : v);
	status = to_milter(ctx, t, v, STAGE_EOM);
	txn_reset_message(t, NULL);
	return status == SMFIS_CONTINUE ? SMFIS_ACCEPT : status;
}

/* on_abort - the MTA dropped the message. */
static sfsistat on_abort(SMFICTX *ctx)
{
	struct txn *t = conn_txn(ctx);

	if (t)
		txn_reset_message(t, NULL);
	return SMFIS_CONTINUE;
}

/* on_close - the connection ends: free its transaction and policy reference. */
static sfsistat on_close(SMFICTX *ctx)
{
	struct txn *t = smfi_getpriv(ctx);

	if (t) {
		smfi_setpriv(ctx, NULL);
		txn_free(t);
		atomic_fetch_sub(&active_connections, 1);
	}
	return SMFIS_CONTINUE;
}

/* milter_description - the filter description for smfi_register. */
struct smfiDesc *milter_description(void)
{
	static struct smfiDesc desc = {
		.xxfi_name = "milter-delegate",
		.xxfi_version = SMFI_VERSION,
		.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_QUARANTINE |
			      SMFIF_SETSYMLIST,
		.xxfi_connect = on_connect,
		.xxfi_helo = on_helo,
		.xxfi_envfrom = on_envfrom,
		.xxfi_envrcpt = on_envrcpt,
		.xxfi_header = on_header,
		.xxfi_eoh = on_eoh,
		.xxfi_body = on_body,
		.xxfi_eom = on_eom,
		.xxfi_abort = on_abort,
		.xxfi_close = on_close,
		.xxfi_negotiate = on_negotiate,
	};
	return &desc;
}
