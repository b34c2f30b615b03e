/*
 * txn.h - one SMTP connection and its current message, fed stage by stage by
 * a front end (the milter callbacks, or the shim's SMTP dialogue), with the
 * policy's verdict returned at each stage.
 *
 * Feeding order: txn_connect, txn_helo, then per message txn_mail,
 * txn_rcpt (each recipient), txn_header (each), txn_eoh, txn_body (chunks),
 * txn_eom, and txn_reset_message before the next message (or on abort).
 * A stage may be skipped (the MTA did not send it); its rules then never run.
 * Inside, the connection and the message are two objects: txn_mail makes a
 * new message (or the first message stage does, when MAIL was skipped) and
 * the reset frees it whole (txn_int.h).
 *
 * Verdicts. VERDICT_CONTINUE means "no decision yet, go on". Once a verdict
 * decides the message (accept, reject, tempfail, discard, hold), later stages
 * of that message return the same verdict without evaluating rules; a
 * decision at connect or helo holds for the whole connection. At rcpt, reject
 * and tempfail refuse only that recipient (it is not recorded) and the
 * message goes on.
 *
 * When the policy can send or keep the message (a delegation or a
 * quarantine: policy->needs_message_file), or the front end delivers it
 * itself (txn_keep_messages), it is kept as it arrives (headers, an empty
 * line, the body, CRLF line ends) in one spool (spool.h): in memory up to
 * 64 KB, in a file in the policy's spool_dir beyond that or as soon as
 * txn_message_path() asks for it, so memory stays bounded whatever its
 * size; otherwise only its size is counted and txn_message_path() is NULL.
 * That one copy serves the rules, the delegations, a quarantine and the
 * front end's delivery (txn_original_open). If spooling fails the stage
 * returns the policy's fail-safe verdict (tempfail unless configured),
 * never an accept.
 *
 * Delegations and trust. A delegate returns a copy of the message. The
 * fields of the copy's header block that the message it was sent does not
 * have (by name and value, occurrences counted; a rewritten value counts)
 * are the ones the delegate added or changed: txn_delegate_added() collects
 * them for every delegation of the message. While a delegate's follow-up
 * rules run, their "header" conditions see only what that delegation added
 * or changed, "original_header" the fields the client sent; everywhere else
 * "header" sees the fields the client sent (txn_headers), never a copy's.
 *
 * What is delivered. By default the message as received plus the fields the
 * delegates' import_headers took (queued as EDIT_ADD edits); after a
 * delegation with "deliver": "copy", that delegate's copy as it returned it
 * (the import edits queued before it are dropped: the copy carries them),
 * plus what later delegations import. txn_delivery() says which; the header
 * edits (txn_edit) apply on top in both cases. A delegation is sent, and a
 * quarantine stores, that same message (txn_message_path): with imports in
 * a new file with their fields written in; the policy's own header actions
 * (add_header, change_header, remove_header) are edits for the front end
 * only, so neither the next delegate nor the quarantine sees them.
 *
 * Ownership: txn_new takes a reference on the policy and the transaction
 * owns all its strings, the spool file (unlinked at reset/free) and any copy
 * returned by a delegate. Verdict replies and rule names point into the
 * policy, valid until the transaction is reset with another policy or freed.
 * A transaction belongs to one thread at a time; the policy it reads is
 * shared read-only.
 */
#ifndef MD_TXN_H
#define MD_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "headers.h"
#include "policy.h"

struct txn;

enum verdict_kind {
	VERDICT_CONTINUE,
	VERDICT_ACCEPT,
	VERDICT_REJECT,
	VERDICT_TEMPFAIL,
	VERDICT_DISCARD,
	VERDICT_HOLD,           /* accept into the MTA's quarantine (hold queue) */
};

struct verdict {
	enum verdict_kind kind;
	const struct reply *reply;      /* REJECT/TEMPFAIL: the reply; else NULL */
	const char *rule;               /* rule that decided, or NULL */
	enum stage stage;               /* where it was decided */
	const char *quarantine_reason;  /* set when a quarantine action decided */
};

/* A header edit for the MTA, applied at end of message. */
enum header_edit_op { EDIT_ADD, EDIT_CHANGE, EDIT_REMOVE };

struct header_edit {
	enum header_edit_op op;
	char *name;
	char *value;            /* NULL for EDIT_REMOVE */
	unsigned index;         /* EDIT_CHANGE: 1-based occurrence */
};

/*
 * What a delegation produced (filled by the delegate hook). A scanner that
 * answers itself (a clamd service) returns no copy but DELEGATE_VERDICT and
 * the fields that stand for its verdict ("X-Virus-Infected: NAME"); they
 * are taken as added by the delegate, exactly as a copy's added fields are.
 */
enum delegate_status {
	DELEGATE_COPY, DELEGATE_ERROR, DELEGATE_TIMEOUT, DELEGATE_MISSING, DELEGATE_VERDICT,
};

struct delegate_result {
	enum delegate_status status;
	char *copy_path;        /* DELEGATE_COPY: file of the returned copy; the txn takes it */
	struct headers fields;  /* DELEGATE_VERDICT: the verdict's fields; the txn frees them */
	char detail[256];       /* for the log: the delegator's reply, the error */
	char member[80];        /* for the log: the pool member that served it, or "" */
	uint64_t elapsed_ms;
};

/*
 * Services the front end supplies. Every hook is optional:
 *  macro      value of an MTA macro ("{auth_authen}", "i"), or NULL
 *  delegate   run one delegation of the current message; without it a
 *             delegation ends in DELEGATE_ERROR ("no delegation available")
 *  quarantine keep a copy of the current message in folder FOLDER; returns
 *             false (reason in ERR) when the copy could not be written, which
 *             turns the verdict into the fail-safe one
 *  progress   called (through txn_progress) at least every few seconds while
 *             a delegation waits, so the MTA can be told to keep waiting
 */
struct txn_env {
	const char *(*macro)(void *arg, const char *name);
	void (*progress)(void *arg);
	void (*delegate)(void *arg, struct txn *t, const struct delegate_spec *spec,
			 struct delegate_result *out);
	bool (*quarantine)(void *arg, struct txn *t, const struct action *action,
			   const char *rule, char *err, size_t errlen);
	void *arg;              /* for macro and progress: the front end's context */
	void *service_arg;      /* for delegate and quarantine: the engine services */
};

/* txn_new - a transaction for one connection, evaluated with policy P (referenced). */
struct txn *txn_new(struct policy *p, const struct txn_env *env);

/* txn_free - release everything; T may be NULL. */
void txn_free(struct txn *t);

/* txn_set_env_arg - change the hooks' argument (the milter's context changes per call). */
void txn_set_env_arg(struct txn *t, void *arg);

/* txn_progress - tell the front end that a delegation is still running. */
void txn_progress(struct txn *t);

/* txn_set_queue_id - the MTA's queue id, used as the prefix of log lines. */
void txn_set_queue_id(struct txn *t, const char *queue_id);

/*
 * txn_keep_messages - the front end delivers the messages of this
 * connection itself (the shim): keep each one's text whatever the policy
 * needs, unless refused or discarded by the headers stage, and read it with
 * txn_original_open. A message that could not be kept gets the fail-safe
 * verdict at eom instead of one that lets it through.
 */
void txn_keep_messages(struct txn *t);

/* Stages. Strings are copied. */
struct verdict txn_connect(struct txn *t, const char *client_name, const char *client_addr);
struct verdict txn_helo(struct txn *t, const char *helo);
struct verdict txn_mail(struct txn *t, const char *sender, const char *auth_user);
struct verdict txn_rcpt(struct txn *t, const char *recipient);
void txn_header(struct txn *t, const char *name, const char *value);
/*
 * txn_header_field - as txn_header, from FIELD: the field as received,
 * "Name: value" with LF before each continuation line (a front end that
 * reads the text itself: the shim). It must start a field (msg_classify);
 * the kept text then has it byte for byte, with CRLF line ends.
 */
void txn_header_field(struct txn *t, const char *field);
struct verdict txn_eoh(struct txn *t);
void txn_body(struct txn *t, const void *data, size_t len);
struct verdict txn_eom(struct txn *t);

/*
 * txn_reset_message - forget the current message (after end of message or on
 * abort), keeping the connection. With NEW_POLICY the next message is
 * evaluated with it (a reload); the transaction takes its own reference.
 * Only a front end that receives every stage may switch (the shim): the
 * milter passes NULL, because the MTA skips the stages that the policy of
 * the negotiation did not need, for the whole connection.
 */
void txn_reset_message(struct txn *t, struct policy *new_policy);

/* Read access for front ends, hooks and logs; results are borrowed. */
const struct policy *txn_policy(const struct txn *t);
const char *txn_queue_id(const struct txn *t);
const char *txn_client_addr(const struct txn *t);
const char *txn_sender(const struct txn *t);
size_t txn_rcpt_count(const struct txn *t);
const char *txn_rcpt_at(const struct txn *t, size_t i);
const struct headers *txn_headers(const struct txn *t);         /* as the client sent them */
const struct headers *txn_delegate_added(const struct txn *t);  /* added or changed by delegates */
/*
 * txn_message_path - the message that would be delivered now (see "What is
 * delivered"), as one file: the spool file (written out now if it was in
 * memory), the adopted copy, or a file with the imported fields written in.
 * Valid until the next delegation or the reset. NULL if the message is not
 * kept or could not be written.
 */
const char *txn_message_path(struct txn *t);
/*
 * txn_message_fd - the same message as a descriptor reading it from its
 * start (the caller closes it), for a reader that needs no path (clamd): the
 * original still in memory goes into a memfd, no spool file is made. -1 if
 * it is not kept or could not be written.
 */
int txn_message_fd(struct txn *t);
/* txn_message_kept - is the message's text at hand (kept, and no spool failure so far)? */
bool txn_message_kept(const struct txn *t);
/*
 * txn_original_open - a stream reading the message as received, from its
 * start, wherever it is kept (memory or file), or NULL if it is not kept.
 * The caller fcloses it before anything more is fed, a path is asked for
 * (txn_message_path) or the reset.
 */
FILE *txn_original_open(struct txn *t);
uint64_t txn_message_size(const struct txn *t);
size_t txn_edit_count(const struct txn *t);
const struct header_edit *txn_edit(const struct txn *t, size_t i);
uint64_t txn_delegation_ms(const struct txn *t);        /* total time in delegations */
const char *txn_trail(const struct txn *t);
/* The trail's entries, each "stage:rule=what" (a rule name may hold spaces); I < count. */
size_t txn_trail_count(const struct txn *t);
const char *txn_trail_entry(const struct txn *t, size_t i, size_t *len);
/* txn_quarantine_id - the id of the message's quarantine copy (qstore.h), or "" (borrowed). */
const char *txn_quarantine_id(const struct txn *t);
/* txn_set_quarantine_id - note that id (the quarantine hook, once the copy is stored). */
void txn_set_quarantine_id(struct txn *t, const char *id);             /* "rule=action ..." for logs */

/*
 * What the front end delivers at end of message, after a verdict that lets
 * the message through (continue, accept). Results are borrowed, valid until
 * txn_reset_message.
 *  DELIVER_ORIGINAL  the message as the client sent it (the MTA has it, the
 *                    shim reads it with txn_original_open); PATH is NULL
 *                    and HEADERS its fields.
 *  DELIVER_COPY      the file PATH replaces it: headers and body (milter:
 *                    remove the client's fields, txn_headers(), add HEADERS,
 *                    smfi_replacebody with the bytes from BODY_OFFSET on,
 *                    CRLF line ends; shim: send PATH). The delegate's
 *                    X-Delegate-Id is not in it.
 * Then, in both cases, apply the edits (txn_edit) in order; their indexes and
 * "every occurrence" refer to HEADERS, the delivered message's fields.
 */
struct txn_delivery {
	enum deliver_source source;
	const char *path;               /* DELIVER_COPY: the whole message */
	uint64_t body_offset;           /* DELIVER_COPY: where its body starts in PATH */
	const struct headers *headers;  /* the delivered message's fields, before the edits */
};

/* txn_delivery - which message the front end delivers (see above). */
struct txn_delivery txn_delivery(const struct txn *t);

/* verdict_name - "continue", "accept", "reject", ... */
const char *verdict_name(enum verdict_kind kind);

#endif
