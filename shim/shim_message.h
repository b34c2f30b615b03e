/*
 * shim_message.h - the text of one message as the SMTP client sends it
 * (DATA), turned into engine calls and kept in a spool file for delivery.
 *
 * Lines arrive one by one (dot-unstuffed, without their line end, long ones
 * in pieces). Until the empty line, they form the header block: each field
 * with its continuation lines becomes one txn_header(name, value) call (the
 * value with LF between its folded lines, as a milter sees it); the empty
 * line, or the first line that is not a header field, calls txn_eoh; every
 * later line goes to txn_body with CRLF. Lines are classified by msg_text,
 * and a field is assembled up to the header limit of msg_text.h (just past
 * it, so that the engine sees the header is too large and refuses the
 * message at txn_eoh, as the milter does). The message is also written, as
 * received, to a spool file of our own ("shim.XXXXXX" in the policy's
 * spool directory): the engine spools only when the policy has eom rules
 * and replaces its copy with a delegate's, while the shim delivers the
 * original plus the header edits, as an MTA behind a milter would. Once the
 * headers stage has refused or discarded the message, its text is no longer
 * written.
 *
 * Ownership: the message owns its spool file (unlinked by
 * shim_message_discard) and buffers; it borrows the transaction. One thread.
 */
#ifndef MD_SHIM_MESSAGE_H
#define MD_SHIM_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "txn.h"


struct shim_message {
	struct txn *t;                  /* borrowed */
	FILE *spool;
	char *path;                     /* owned; NULL when there is no spool file */
	bool in_headers;
	bool keep;                      /* still writing the spool */
	bool failed;                    /* a spool write failed */
	char *field;                    /* pending header field "Name: value" (LF folds) */
	size_t field_len, field_cap;
	char *line;                     /* header line assembled from pieces */
	size_t line_len, line_cap;
	struct verdict eoh;             /* the headers stage's verdict */
};

/* shim_message_begin - start a message for T, spooled in SPOOL_DIR; false (ERR) if not. */
bool shim_message_begin(struct shim_message *m, struct txn *t, const char *spool_dir,
			char *err, size_t errlen);

/* shim_message_line - one line or piece of text (MORE: the line goes on). False: spool failed. */
bool shim_message_line(struct shim_message *m, const char *text, size_t len, bool more);

/* shim_message_end - the end of the text: finish headers, close the spool. False: it failed. */
bool shim_message_end(struct shim_message *m);

/* shim_message_path - the spool file, or NULL. */
const char *shim_message_path(const struct shim_message *m);

/* shim_message_discard - unlink the spool and free the buffers; M is reusable. */
void shim_message_discard(struct shim_message *m);

#endif
