/*
 * headers.h - a list of message header fields, and reading one from a file.
 *
 * Names keep their case; lookups are case-insensitive as RFC 5322 says.
 * Values are stored unfolded (a line break before continuation whitespace is
 * removed) and without the whitespace after the colon.
 *
 * Ownership: the list owns its names and values; headers_free() releases
 * them. A list is not locked: one thread (the transaction's) uses it.
 */
#ifndef MD_HEADERS_H
#define MD_HEADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define HEADERS_MAX_COUNT 1000          /* fields per message */
#define HEADERS_MAX_BYTES (512 * 1024)  /* the whole header block */

struct header_field {
	char *name;
	char *value;
};

struct headers {
	size_t count;
	size_t capacity;
	size_t bytes;           /* name + value bytes, checked against the limit */
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
 * headers_read - parse the header block at the start of F (up to the empty
 * line, or the end of the file) into OUT. F is left positioned at the start
 * of the body. Returns false, with a reason in ERR, on malformed input or when
 * a limit is exceeded; OUT then holds the fields read so far.
 */
bool headers_read(FILE *f, struct headers *out, char *err, size_t errlen);

#endif
