/*
 * shim_edit.h - copy a message into its delivery with the policy's header
 * edits applied, streaming the body.
 *
 * The input is a message as the engine keeps it: header fields (with
 * their continuation lines), an empty line, the body, CRLF line ends. The
 * header block is read into memory (at most SHIM_EDIT_MAX_HEADER bytes, the
 * engine's MSG_BLOCK_MAX_BYTES) and the edits are applied to it in order, as
 * an MTA applies a milter's (the block ends as msg_text.h defines header
 * lines: a line that is no header line starts the body):
 *   EDIT_ADD     appends "Name: value" after the last field
 *   EDIT_CHANGE  replaces the index-th (1-based) field called Name; an empty
 *                value removes it; an index past the last one appends it
 *   EDIT_REMOVE  removes every field called Name
 * Names are compared without regard to case. A value's line breaks become
 * CRLF followed by a tab unless whitespace follows already, so an edit can
 * never start a new field. PREFIX (complete CRLF lines, e.g. Received:) goes
 * first; the body is then copied unchanged in chunks.
 *
 * Output goes through the request's write function in chunks of up to
 * 64 KB (a file being published, a spool); with LF_ONLY every CRLF becomes
 * LF (a Maildir file). Nothing is allocated beyond the call; the caller
 * keeps its stream, output and edits. Thread-safe.
 */
#ifndef MD_SHIM_EDIT_H
#define MD_SHIM_EDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "msg_text.h"
#include "txn.h"

#define SHIM_EDIT_MAX_HEADER MSG_BLOCK_MAX_BYTES     /* the one limit, msg_text.h */

struct shim_edit_request {
	const char *prefix;                     /* NULL: none */
	const struct header_edit *const *edits; /* COUNT pointers, applied in order */
	size_t count;
	bool lf_only;                           /* CRLF to LF on output */
	/* The output: take all LEN bytes of DATA, or return false (errno set). */
	bool (*write)(void *arg, const void *data, size_t len);
	void *write_arg;
};

/*
 * shim_edit_copy - IN (from its current position) to REQ's output as REQ
 * says. False, with the reason in ERR, when reading or writing failed or
 * the header block is too large.
 */
bool shim_edit_copy(FILE *in, const struct shim_edit_request *req, char *err, size_t errlen);

/*
 * shim_edit_head - the part of the copy that edits change: the prefix, the
 * edited header block, the empty line (or the first body line, when a line
 * that is no header line ended the block). IN is left where the rest of
 * the body starts, which the caller sends as it is (the SMTP next hop:
 * delegate_client streams it after the head, no third copy of the message).
 */
bool shim_edit_head(FILE *in, const struct shim_edit_request *req, char *err, size_t errlen);

#endif
