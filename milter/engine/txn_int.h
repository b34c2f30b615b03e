/*
 * txn_int.h - the inside of a transaction, shared by txn.c (feeding and
 * spooling), txn_copy.c (delegates' copies and the delivered message),
 * eval.c (rules and actions) and cond_eval.c (conditions).
 * Front ends use txn.h only.
 */
#ifndef MD_TXN_INT_H
#define MD_TXN_INT_H

#include <stdio.h>

#include "msg_text.h"
#include "txn.h"

struct edit_list {
	size_t count;
	size_t capacity;
	struct header_edit *items;
	bool *imported;         /* items[i] was queued by a delegate's import_headers */
};

struct txn {
	struct policy *policy;
	struct txn_env env;
	char *queue_id;

	/* The connection. */
	char *client_name;
	char *client_addr;
	bool client_parsed;             /* client_family/bytes are valid */
	int client_family;
	uint8_t client_bytes[16];
	char *helo;
	struct verdict conn_verdict;    /* decided at connect or helo */
	struct edit_list conn_edits;    /* header actions at connect/helo */
	size_t conn_trail_len;

	/* The current message. */
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
	char *spool_path;               /* the message as received, once on disk */
	FILE *spool;                    /* open while it arrives: memory or file */
	char *spool_mem;                /* the message while in memory (open_memstream) */
	size_t spool_mem_len;
	uint64_t spool_bytes;           /* written to the spool so far */
	bool spooling;                  /* the policy needs the message: it is being kept */
	bool spool_failed;
	uint64_t message_size;
	struct verdict msg_verdict;
	struct edit_list edits;
	uint64_t delegation_ms;

	/* The delivered message (txn_copy.c): the original, or the copy adopted by a
	 * delegate with "deliver": "copy", plus the fields imported since. */
	char *copy_path;                /* the adopted copy; NULL: the original */
	struct headers copy_headers;    /* its fields, X-Delegate-Id removed */
	uint64_t copy_body_offset;      /* where its body starts */
	struct headers imported;        /* imported since the delivered message was set */
	char *render_path;              /* it with the imported fields written in, once asked */

	char trail[512];
	size_t trail_len;
};

/* eval_stage - run the policy's rules for STAGE; CONTINUE if none decided. */
struct verdict eval_stage(struct txn *t, enum stage stage);

/* eval_fail_safe - the policy's fail-safe verdict, with REASON logged. */
struct verdict eval_fail_safe(struct txn *t, enum stage stage, const char *reason);

/* cond_eval - does condition C hold for T at STAGE? */
bool cond_eval(const struct cond *c, const struct txn *t, enum stage stage);

/* txn_add_edit - queue a header edit (strings copied) in the message's list. */
void txn_add_edit(struct txn *t, enum header_edit_op op, const char *name,
		  const char *value, unsigned index);

/* txn_add_import - queue an EDIT_ADD of a field a delegate's import_headers took. */
void txn_add_import(struct txn *t, const char *name, const char *value);

/* txn_drop_imports - forget the import edits queued so far (a copy that carries them is delivered). */
void txn_drop_imports(struct txn *t);

/* txn_note - append "TEXT" to the trail kept for the log line. */
void txn_note(struct txn *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* txn_finish_spool - flush and close the spool; false if it failed. */
bool txn_finish_spool(struct txn *t);

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

/* txn_reset_copies - forget the copy, imports and rendered file (at reset). */
void txn_reset_copies(struct txn *t);

/* txn_log_id - the queue id for log lines, or "NOQUEUE". */
const char *txn_log_id(const struct txn *t);

#endif
