/*
 * headers.c - header field lists and a bounded parser for header blocks
 * (used on the copies that delegates send back); lines are classified by
 * msg_text, the one definition of header lines.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "headers.h"
#include "xalloc.h"

/* headers_add - append copies of NAME and VALUE. */
bool headers_add(struct headers *h, const char *name, const char *value)
{
	size_t bytes = strlen(name) + strlen(value);
	size_t max_fields = h->max_fields ? h->max_fields : MSG_HEADER_MAX_FIELDS;
	size_t max_bytes = h->max_bytes ? h->max_bytes : MSG_HEADER_MAX_BYTES;

	if (h->count >= max_fields || h->bytes + bytes > max_bytes)
		return false;
	if (h->count == h->capacity) {
		size_t cap = h->capacity ? h->capacity * 2 : 16;

		h->items = xreallocarray(h->items, cap, sizeof(*h->items));
		h->capacity = cap;
	}
	h->items[h->count].name = xstrdup(name);
	h->items[h->count].value = xstrdup(value);
	h->count++;
	h->bytes += bytes;
	return true;
}

/* headers_find - the Nth field called NAME. */
const struct header_field *headers_find(const struct headers *h, const char *name, unsigned nth)
{
	for (size_t i = 0; i < h->count; i++)
		if (strcasecmp(h->items[i].name, name) == 0 && --nth == 0)
			return &h->items[i];
	return NULL;
}

/* headers_count - fields called NAME. */
unsigned headers_count(const struct headers *h, const char *name)
{
	unsigned n = 0;

	for (size_t i = 0; i < h->count; i++)
		n += strcasecmp(h->items[i].name, name) == 0;
	return n;
}

/* headers_remove_all - drop every field called NAME. */
unsigned headers_remove_all(struct headers *h, const char *name)
{
	size_t kept = 0;
	unsigned removed = 0;

	for (size_t i = 0; i < h->count; i++) {
		if (strcasecmp(h->items[i].name, name) == 0) {
			h->bytes -= strlen(h->items[i].name) + strlen(h->items[i].value);
			free(h->items[i].name);
			free(h->items[i].value);
			removed++;
		} else {
			h->items[kept++] = h->items[i];
		}
	}
	h->count = kept;
	return removed;
}

/* headers_free - release every field. */
void headers_free(struct headers *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->count; i++) {
		free(h->items[i].name);
		free(h->items[i].value);
	}
	free(h->items);
	h->items = NULL;
	h->count = h->capacity = h->bytes = 0;  /* the limits stay */
}

/* A growable buffer for one line or one field. */
struct text_buf {
	char *data;
	size_t len, cap;
};

/* buf_add - append N bytes of P; false past MAX. */
static bool buf_add(struct text_buf *b, const char *p, size_t n, size_t max)
{
	if (b->len + n + 1 > max)
		return false;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;

		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

/* read_line - the next line of F into LINE (line end removed); false at EOF or past MAX. */
static bool read_line(FILE *f, struct text_buf *line, size_t max, bool *too_long)
{
	int ch;
	char c;

	line->len = 0;
	buf_add(line, "", 0, max);
	while ((ch = getc(f)) != EOF && ch != '\n') {
		c = (char)ch;
		if (!buf_add(line, &c, 1, max)) {
			*too_long = true;
			return false;
		}
	}
	if (ch == EOF && line->len == 0)
		return false;
	if (line->len && line->data[line->len - 1] == '\r')
		line->data[--line->len] = '\0';
	return true;
}

/* flush_field - add the pending "Name\0value" field to OUT. */
static bool flush_field(struct text_buf *field, size_t name_len, struct headers *out)
{
	bool ok = !field->len || headers_add(out, field->data, field->data + name_len + 1);

	field->len = 0;
	return ok;
}

/* headers_read - parse the header block at the start of F. */
bool headers_read(FILE *f, struct headers *out, char *err, size_t errlen)
{
	struct text_buf line = { 0 }, field = { 0 };
	size_t name_len = 0, pending_name = 0, value_at, block = 0;
	bool ok = true, too_long = false;

	out->max_fields = MSG_COPY_MAX_FIELDS;
	out->max_bytes = MSG_COPY_MAX_BYTES;
	while (ok && read_line(f, &line, MSG_BLOCK_MAX_BYTES - block, &too_long)) {
		enum msg_line kind = msg_classify(line.data, line.len, &name_len, &value_at);

		block += line.len + 2;
		if (kind == MSG_LINE_SEPARATOR || kind == MSG_LINE_NOT_FIELD)
			break;
		if (kind == MSG_LINE_CONTINUATION && !field.len) {
			snprintf(err, errlen, "header block starts with a continuation line");
			ok = false;
		} else if (kind == MSG_LINE_CONTINUATION) {
			ok = buf_add(&field, "\n", 1, MSG_COPY_MAX_BYTES) &&
			     buf_add(&field, line.data, line.len, MSG_COPY_MAX_BYTES);
			too_long = !ok;
		} else if (!(ok = flush_field(&field, pending_name, out))) {
			too_long = true;
		} else {
			pending_name = name_len;
			/* "Name\0value": the name ends where the classifier says. */
			buf_add(&field, line.data, name_len, MSG_COPY_MAX_BYTES);
			buf_add(&field, "", 1, MSG_COPY_MAX_BYTES);
			ok = buf_add(&field, line.data + value_at, line.len - value_at, MSG_COPY_MAX_BYTES);
			too_long = !ok;
		}
	}
	if (ok && !too_long && !flush_field(&field, pending_name, out))
		too_long = true;
	if (too_long) {
		snprintf(err, errlen, "header block exceeds %d fields or %d bytes",
			 MSG_COPY_MAX_FIELDS, MSG_COPY_MAX_BYTES);
		ok = false;
	}
	free(line.data);
	free(field.data);
	return ok;
}
