/*
 * shim_message.h - the text of one message as the SMTP client sends it
 * (DATA), turned into engine calls.
 *
 * Lines arrive one by one (dot-unstuffed, without their line end, long ones
 * in pieces). Until the empty line, they form the header block: each field
 * with its continuation lines becomes one txn_header_field call (the field
 * as received, with LF between its folded lines, as a milter sees it); the
 * empty line, or the first line that is not a header field, calls txn_eoh;
 * every later line goes to txn_body with CRLF. Lines are classified by
 * msg_text, and a field is assembled up to the header limit of msg_text.h
 * (just past it, so that the engine sees the header is too large and
 * refuses the message at txn_eoh, as the milter does).
 *
 * The shim keeps no copy of its own: the transaction keeps the message
 * (txn_keep_messages), byte for byte as received, in its one spool, and the
 * shim delivers from there (txn_original_open).
 *
 * Ownership: the message owns its buffers (freed by shim_message_discard)
 * and borrows the transaction. One thread.
 */
#ifndef MD_SHIM_MESSAGE_H
#define MD_SHIM_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "txn.h"

struct shim_message {
	struct txn *t;                  /* borrowed */
	bool in_headers;
	char *field;                    /* pending header field "Name: value" (LF folds) */
	size_t field_len, field_cap;
	char *line;                     /* header line assembled from pieces */
	size_t line_len, line_cap;
	struct verdict eoh;             /* the headers stage's verdict */
};

/* shim_message_begin - start a message for T; M is zeroed or discarded. */
void shim_message_begin(struct shim_message *m, struct txn *t);

/* shim_message_line - one line or piece of text (MORE: the line goes on). */
void shim_message_line(struct shim_message *m, const char *text, size_t len, bool more);

/* shim_message_end - the end of the text: finish the headers if it had no body. */
void shim_message_end(struct shim_message *m);

/* shim_message_discard - free the buffers; M is reusable (zeroed). */
void shim_message_discard(struct shim_message *m);

#endif
