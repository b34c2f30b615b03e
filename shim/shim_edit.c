/*
 * shim_edit.c - apply header edits to a message while copying it.
 *
 * Three parts: a buffered writer (with the optional CRLF-to-LF
 * conversion), the header block as a list of raw fields, and the edits
 * applied to that list. Header lines are classified by msg_text (the one
 * definition of header lines, with its limits), so the block ends where
 * the engine's readers end it: at the empty line, or at the first line
 * that is no header line (which then starts the body). Every allocation
 * lives in one call.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "msg_text.h"
#include "shim_edit.h"
#include "xalloc.h"

#define WRITE_BUF 65536

struct writer {
	bool (*write)(void *arg, const void *data, size_t len);
	void *write_arg;
	bool lf_only;
	bool cr_pending;                /* LF_ONLY: a CR not yet known to precede LF */
	bool failed;
	size_t len;
	char buf[WRITE_BUF];
};

struct field {
	char *raw;                      /* the whole field with CRLFs; owned */
	size_t len;
	size_t name_len;                /* as msg_classify measures it */
};

struct block {
	struct field *items;
	size_t count, capacity;
	size_t bytes;
	bool separator;                 /* the input had the empty line */
	char *body_line;                /* the line that ended the block instead; owned */
	size_t body_len;
};

/* writer_flush - write out the buffer. */
static void writer_flush(struct writer *w)
{
	if (!w->failed && w->len > 0 && !w->write(w->write_arg, w->buf, w->len))
		w->failed = true;
	w->len = 0;
}

/* writer_byte - one byte into the buffer. */
static void writer_byte(struct writer *w, char c)
{
	if (w->len == sizeof(w->buf))
		writer_flush(w);
	w->buf[w->len++] = c;
}

/* writer_put - N bytes of DATA, converting CRLF to LF when asked. */
static void writer_put(struct writer *w, const char *data, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!w->lf_only) {
			writer_byte(w, data[i]);
			continue;
		}
		if (w->cr_pending && data[i] != '\n')
			writer_byte(w, '\r');
		w->cr_pending = data[i] == '\r';
		if (!w->cr_pending)
			writer_byte(w, data[i]);
	}
}

/* writer_end - flush the rest; false when any write failed. */
static bool writer_end(struct writer *w)
{
	if (w->cr_pending)
		writer_byte(w, '\r');
	w->cr_pending = false;
	writer_flush(w);
	return !w->failed;
}

/* block_append - add a field (RAW taken over, its name NAME_LEN bytes) at the end of B. */
static void block_append(struct block *b, char *raw, size_t len, size_t name_len)
{
	if (b->count == b->capacity) {
		b->capacity = b->capacity ? b->capacity * 2 : 32;
		b->items = xreallocarray(b->items, b->capacity, sizeof(*b->items));
	}
	b->items[b->count++] = (struct field){ raw, len, name_len };
}

/* block_extend - append a continuation LINE to the last field. */
static void block_extend(struct block *b, const char *line, size_t len)
{
	struct field *f = &b->items[b->count - 1];

	f->raw = xrealloc(f->raw, f->len + len + 1);
	memcpy(f->raw + f->len, line, len + 1);
	f->len += len;
}

/* block_free - release the fields of B. */
static void block_free(struct block *b)
{
	for (size_t i = 0; i < b->count; i++)
		free(b->items[i].raw);
	free(b->items);
	free(b->body_line);
	memset(b, 0, sizeof(*b));
}

/* content_len - LINE's length (N bytes read) without its LF or CRLF. */
static size_t content_len(const char *line, size_t n)
{
	if (n > 0 && line[n - 1] == '\n')
		n--;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	return n;
}

/*
 * block_add_line - one line of N bytes (LINE taken over) into B; false when
 * it ends the block: the separator (freed), or a line that is no header line
 * (kept as B's body_line).
 */
static bool block_add_line(struct block *b, char *line, size_t n)
{
	size_t name_len = 0;

	switch (msg_classify(line, content_len(line, n), &name_len, NULL)) {
	case MSG_LINE_SEPARATOR:
		b->separator = true;
		free(line);
		return false;
	case MSG_LINE_CONTINUATION:
		if (b->count > 0) {
			block_extend(b, line, n);
			free(line);
			return true;
		}
		/* a fold with no field before it is no header line */
		__attribute__((fallthrough));
	case MSG_LINE_NOT_FIELD:
		b->body_line = line;
		b->body_len = n;
		return false;
	case MSG_LINE_FIELD:
		break;
	}
	block_append(b, line, n, name_len);
	return true;
}

/* block_read - the header block of IN into B; IN is left at the body. */
static bool block_read(FILE *in, struct block *b, char *err, size_t errlen)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	bool more = true;

	while (more && (n = getline(&line, &cap, in)) > 0) {
		b->bytes += (size_t)n;
		if (b->bytes > MSG_BLOCK_MAX_BYTES) {
			snprintf(err, errlen, "header block larger than %d bytes", MSG_BLOCK_MAX_BYTES);
			free(line);
			return false;
		}
		more = block_add_line(b, line, (size_t)n);
		line = NULL;
		cap = 0;
	}
	free(line);
	if (ferror(in)) {
		snprintf(err, errlen, "cannot read the message: %s", strerror(errno));
		return false;
	}
	return true;
}

/* format_field - "Name: value\r\n" with every line break folded safely (malloc'ed). */
static char *format_field(const char *name, const char *value, size_t *len)
{
	size_t cap = strlen(name) + 2 * strlen(value) + 8, n;
	char *raw = xmalloc(cap);

	n = (size_t)snprintf(raw, cap, "%s: ", name);
	for (const char *p = value; *p; p++) {
		if (*p == '\r')
			continue;
		if (*p != '\n') {
			raw[n++] = *p;
			continue;
		}
		raw[n++] = '\r';
		raw[n++] = '\n';
		if (p[1] != ' ' && p[1] != '\t')
			raw[n++] = '\t';
	}
	raw[n++] = '\r';
	raw[n++] = '\n';
	raw[n] = '\0';
	*len = n;
	return raw;
}

/* field_is - is F a field called NAME? */
static bool field_is(const struct field *f, const char *name)
{
	return f->name_len == strlen(name) && strncasecmp(f->raw, name, f->name_len) == 0;
}

/* block_remove_at - drop field I of B. */
static void block_remove_at(struct block *b, size_t i)
{
	free(b->items[i].raw);
	memmove(&b->items[i], &b->items[i + 1], (b->count - i - 1) * sizeof(b->items[0]));
	b->count--;
}

/* apply_change - EDIT_CHANGE: replace, remove or append the index-th field. */
static void apply_change(struct block *b, const struct header_edit *e)
{
	unsigned nth = e->index ? e->index : 1;
	bool removing = !e->value || !*e->value;
	size_t len;

	for (size_t i = 0; i < b->count; i++) {
		if (!field_is(&b->items[i], e->name) || --nth > 0)
			continue;
		if (removing) {
			block_remove_at(b, i);
			return;
		}
		free(b->items[i].raw);
		b->items[i].raw = format_field(e->name, e->value, &len);
		b->items[i].len = len;
		b->items[i].name_len = strlen(e->name);
		return;
	}
	if (!removing) {
		char *raw = format_field(e->name, e->value, &len);

		block_append(b, raw, len, strlen(e->name));
	}
}

/* apply_edit - one edit to the header block. */
static void apply_edit(struct block *b, const struct header_edit *e)
{
	size_t len;
	char *raw;

	switch (e->op) {
	case EDIT_ADD:
		raw = format_field(e->name, e->value ? e->value : "", &len);
		block_append(b, raw, len, strlen(e->name));
		return;
	case EDIT_CHANGE:
		apply_change(b, e);
		return;
	case EDIT_REMOVE:
		for (size_t i = b->count; i > 0; i--)
			if (field_is(&b->items[i - 1], e->name))
				block_remove_at(b, i - 1);
		return;
	}
}

/* copy_rest - the rest of IN through W. */
static bool copy_rest(FILE *in, struct writer *w)
{
	char chunk[WRITE_BUF];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
		writer_put(w, chunk, n);
	return !ferror(in);
}

/* edit_head - read IN's header block, apply REQ's edits and put the result out through W. */
static bool edit_head(FILE *in, const struct shim_edit_request *req, struct writer *w,
		      char *err, size_t errlen)
{
	struct block b = { 0 };
	bool ok = block_read(in, &b, err, errlen);

	for (size_t i = 0; ok && i < req->count; i++)
		apply_edit(&b, req->edits[i]);
	if (ok && req->prefix)
		writer_put(w, req->prefix, strlen(req->prefix));
	for (size_t i = 0; ok && i < b.count; i++)
		writer_put(w, b.items[i].raw, b.items[i].len);
	if (ok && b.separator)
		writer_put(w, "\r\n", 2);
	if (ok && b.body_line)
		writer_put(w, b.body_line, b.body_len);
	block_free(&b);
	return ok;
}

/* edit - the head, then the rest of IN when WHOLE: what both entry points share. */
static bool edit(FILE *in, const struct shim_edit_request *req, bool whole, char *err,
		 size_t errlen)
{
	struct writer *w = xcalloc(1, sizeof(*w));
	bool ok;

	w->write = req->write;
	w->write_arg = req->write_arg;
	w->lf_only = req->lf_only;
	ok = edit_head(in, req, w, err, errlen);
	if (ok && whole && !copy_rest(in, w))
		snprintf(err, errlen, "cannot read the message: %s", strerror(errno)), ok = false;
	if (!writer_end(w) && ok)
		snprintf(err, errlen, "cannot write the delivery: %s", strerror(errno)), ok = false;
	free(w);
	return ok;
}

/* shim_edit_copy - IN to REQ's output with its prefix and edits. */
bool shim_edit_copy(FILE *in, const struct shim_edit_request *req, char *err, size_t errlen)
{
	return edit(in, req, true, err, errlen);
}

/* shim_edit_head - only the edited head; IN is left at the rest of the body. */
bool shim_edit_head(FILE *in, const struct shim_edit_request *req, char *err, size_t errlen)
{
	return edit(in, req, false, err, errlen);
}
