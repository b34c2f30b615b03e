/*
 * txn_int.h - the inside of a transaction, shared by txn.c (the connection
 * and the stages), txn_msg.c (the message object and its text), txn_edit.c
 * (header edits), txn_copy.c (delegates' copies and the delivered message),
 * eval.c (rules and actions) and cond_eval.c (conditions).
 * Front ends use txn.h only.
 *
 * A transaction is two objects, as OpenSMTPD's smtp_session and smtp_tx:
 * struct txn is the connection; struct txn_msg is one message, made new at
 * txn_mail (or at the first message stage when the MTA skipped MAIL) and
 * freed whole by txn_msg_free at the reset. Nothing about a message lives
 * in struct txn, so no field can be forgotten between two messages.
 */
#ifndef MD_TXN_INT_H
#define MD_TXN_INT_H

#include <stdio.h>

#include "msg_text.h"
#include "qstore.h"
#include "spool.h"
#include "txn.h"

#define TXN_TRAIL_MAX 512
#define TXN_TRAIL_ENTRIES 64    /* "eom:x=accept" is 12 bytes: more never fit */

/*
 * The trail of decisions: entries ("stage:rule=what") joined by spaces, as
 * the text log line shows it, and where each entry starts (a rule's name
 * may hold spaces, so the text alone cannot be split again).
 */
struct txn_trail {
	char text[TXN_TRAIL_MAX];
	size_t len;
	uint16_t starts[TXN_TRAIL_ENTRIES];
	size_t count;
};

struct edit_list {
	size_t count;
	size_t capacity;
	struct header_edit *items;
	bool *imported;         /* items[i] was queued by a delegate's import_headers */
};

/* One message: everything from MAIL to the reset. Owned by its txn. */
struct txn_msg {
	char *sender;
	char *auth_user;
	char **rcpts;
	size_t rcpt_count;
	size_t rcpt_capacity;
	const char *current_rcpt;       /* during the rcpt stage only */
	struct headers headers;         /* as the client sent them; never a copy's */
	struct headers delegate_added;  /* every field the delegations added or changed */
	const struct headers *followup_fields;  /* while a delegate's follow-up rules
						 * run: what that delegate added or
						 * changed (owned by eval.c); else NULL */
	bool headers_truncated;
	struct spool *text;             /* the message as received, while kept; else NULL */
	bool text_logged;               /* its failure is in the log */
	uint64_t size;
	struct verdict verdict;
	struct edit_list edits;
	uint64_t delegation_ms;
	char quarantine_id[QSTORE_ID_MAX + 1];  /* the folder copy's id (qstore.h), or "" */

	/* The delivered message (txn_copy.c): the original, or the copy adopted by a
	 * delegate with "deliver": "copy", plus the fields imported since. */
	char *copy_path;                /* the adopted copy; NULL: the original */
	struct headers copy_headers;    /* its fields, X-Delegate-Id removed */
	uint64_t copy_body_offset;      /* where its body starts */
	struct headers imported;        /* imported since the delivered message was set */
	char *render_path;              /* it with the imported fields written in, once asked */

	struct txn_trail trail;         /* the connection's trail, then the message's */
};

/* One connection. */
struct txn {
	struct policy *policy;
	struct txn_env env;
	char *queue_id;                 /* the MTA's, of the current or last message */
	bool keep_messages;             /* the front end delivers them (txn_keep_messages) */

	char *client_name;
	char *client_addr;
	bool client_parsed;             /* client_family/bytes are valid */
	int client_family;
	uint8_t client_bytes[16];
	char *helo;
	struct verdict conn_verdict;    /* decided at connect or helo */
	struct edit_list conn_edits;    /* header actions at connect/helo */
	struct txn_trail trail;         /* decisions at connect and helo */

	struct txn_msg *msg;            /* the current message, or NULL */
};

/* txn_msg_new - an empty message of T (its trail starts with the connection's). */
struct txn_msg *txn_msg_new(const struct txn *t);

/* txn_msg_free - release the message and everything it owns (files unlinked); M may be NULL. */
void txn_msg_free(struct txn_msg *m);

/* txn_msg - T's current message, made now when the MTA skipped MAIL. */
struct txn_msg *txn_msg(struct txn *t);

/* txn_msg_view - T's current message, or an empty one (before MAIL): for reading only. */
const struct txn_msg *txn_msg_view(const struct txn *t);

/* txn_rcpt_add - record RECIPIENT (copied) as accepted. */
void txn_rcpt_add(struct txn_msg *m, const char *recipient);

/* txn_text_wanted - must the message be kept after the headers stage decided V? */
bool txn_text_wanted(const struct txn *t, struct verdict v);

/* txn_text_end_headers - after the headers stage: keep the text (false: it failed) or drop it. */
bool txn_text_end_headers(struct txn *t, bool keep);

/* txn_text_finish - the message is complete; false if it was not kept whole. */
bool txn_text_finish(struct txn *t);

/* eval_stage - run the policy's rules for STAGE; CONTINUE if none decided. */
struct verdict eval_stage(struct txn *t, enum stage stage);

/* eval_fail_safe - the policy's fail-safe verdict, with REASON logged. */
struct verdict eval_fail_safe(struct txn *t, enum stage stage, const char *reason);

/* cond_eval - does condition C hold for T at STAGE? */
bool cond_eval(const struct cond *c, const struct txn *t, enum stage stage);

/* txn_add_edit - queue a header edit (strings copied): the message's, or the connection's before MAIL. */
void txn_add_edit(struct txn *t, enum header_edit_op op, const char *name,
		  const char *value, unsigned index);

/* txn_add_import - queue an EDIT_ADD of a field a delegate's import_headers took. */
void txn_add_import(struct txn *t, const char *name, const char *value);

/* txn_drop_imports - forget the import edits queued so far (a copy that carries them is delivered). */
void txn_drop_imports(struct txn *t);

/* edit_list_free - release the edits of L (L is emptied). */
void edit_list_free(struct edit_list *l);

/* txn_note - append "TEXT" to the trail kept for the log line. */
void txn_note(struct txn *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* txn_original_path - the message as received, on disk (written out now); NULL if not kept. */
const char *txn_original_path(struct txn *t);

/* txn_remove_file - unlink *PATH (if set), free it and set it to NULL. */
void txn_remove_file(char **path);

/*
 * txn_adopt_copy - take PATH, the copy SPEC's delegate returned (T owns it
 * from here, also on failure). ADDED (empty, the caller's; free it with
 * headers_free) receives the fields the delegate added or changed. With
 * deliver=copy the copy becomes the delivered message; otherwise the imported
 * fields are queued and the copy is removed. False, with ERR, when the copy
 * is unreadable.
 */
bool txn_adopt_copy(struct txn *t, const struct delegate_spec *spec, char *path,
		    struct headers *added, char *err, size_t errlen);

/*
 * txn_adopt_fields - FIELDS, a scanner's verdict for SPEC's delegation (no
 * copy), are what the delegate added: moved into ADDED (empty, the
 * caller's), noted for the message and imported as SPEC says.
 */
void txn_adopt_fields(struct txn *t, const struct delegate_spec *spec, struct headers *fields,
		      struct headers *added);

/* txn_msg_free_copies - remove M's adopted copy and rendered file, free their fields. */
void txn_msg_free_copies(struct txn_msg *m);

/* txn_log_id - the queue id for log lines, or "NOQUEUE". */
const char *txn_log_id(const struct txn *t);

#endif
