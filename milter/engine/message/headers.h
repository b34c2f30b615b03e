/*
 * headers.h - a list of message header fields, and reading one from a file.
 *
 * Names keep their case; lookups are case-insensitive as RFC 5322 says.
 * Values are stored as a milter sees them: without the whitespace after the
 * colon, a folded value with LF before each continuation line (which keeps
 * its leading whitespace). Every source (the MTA's fields, the shim's, a
 * delegate's copy) is stored the same way, so values compare as they are.
 *
 * Limits: a list takes at most max_fields fields and max_bytes bytes of
 * names and values; zero (a list initialised to { 0 }) means the limits of
 * a message as it comes in (msg_text.h); headers_read sets the larger
 * limits of a delegate's copy.
 *
 * Ownership: the list owns its names and values; headers_free() releases
 * them. A list is not locked: one thread (the transaction's) uses it.
 */
#ifndef MD_HEADERS_H
#define MD_HEADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "msg_text.h"

struct header_field {
	char *name;
	char *value;
};

struct headers {
	size_t count;
	size_t capacity;
	size_t bytes;           /* name + value bytes, checked against the limit */
	size_t max_fields;      /* 0: MSG_HEADER_MAX_FIELDS */
	size_t max_bytes;       /* 0: MSG_HEADER_MAX_BYTES */
	struct header_field *items;
};

/* headers_add - append a copy of NAME and VALUE; false when a limit is hit. */
bool headers_add(struct headers *h, const char *name, const char *value);

/* headers_find - the Nth (1-based) field called NAME, or NULL. */
const struct header_field *headers_find(const struct headers *h, const char *name, unsigned nth);

/* headers_count - how many fields are called NAME. */
unsigned headers_count(const struct headers *h, const char *name);

/* headers_remove_all - drop every field called NAME; returns how many. */
unsigned headers_remove_all(struct headers *h, const char *name);

/* headers_free - release the fields; H itself is the caller's and stays usable (empty). */
void headers_free(struct headers *h);

/*
 * headers_read - parse the header block at the start of F (a delegate's
 * copy: CRLF or LF line ends) into OUT, with the copy limits
 * (MSG_COPY_MAX_FIELDS, MSG_COPY_MAX_BYTES). The block ends at the empty
 * line, at a line that is no header line (the body starts there, as Postfix
 * takes it), or at the end of the file. Returns false, with a reason in
 * ERR, when it starts with a continuation line or a limit is exceeded; OUT
 * then holds the fields read so far.
 */
bool headers_read(FILE *f, struct headers *out, char *err, size_t errlen);

#endif
