/*
 * shim_message.c - split DATA text into header fields and body for the
 * engine, which keeps the one copy of the message.
 */
#include <stdlib.h>
#include <string.h>

#include "msg_text.h"
#include "shim_message.h"
#include "xalloc.h"

/* A field or line is kept up to just past the header limit: enough to be refused. */
#define FIELD_KEEP_MAX (MSG_HEADER_MAX_BYTES + 1)

/* buf_append - append N bytes of DATA to the growable *BUF (NUL-terminated). */
static void buf_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t want = (*len + n + 1) * 2;
		*buf = xrealloc(*buf, want);
		*cap = want;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* shim_message_begin - a new message for T. */
void shim_message_begin(struct shim_message *m, struct txn *t)
{
	*m = (struct shim_message){ .t = t, .in_headers = true };
}

/* flush_field - hand the pending field, as received, to the engine. */
static void flush_field(struct shim_message *m)
{
	if (!m->field_len)
		return;
	txn_header_field(m->t, m->field);       /* a field: checked by header_line */
	m->field_len = 0;
}

/* end_headers - the header block is over: the eoh stage. */
static void end_headers(struct shim_message *m)
{
	flush_field(m);
	m->in_headers = false;
	m->eoh = txn_eoh(m->t);
}

/* body_text - body text (a line or a piece); CRLF after it unless MORE. */
static void body_text(struct shim_message *m, const char *text, size_t len, bool more)
{
	txn_body(m->t, text, len);
	if (!more)
		txn_body(m->t, "\r\n", 2);
}

/* field_add - append N bytes of DATA to the pending field, up to FIELD_KEEP_MAX. */
static void field_add(struct shim_message *m, const char *data, size_t n)
{
	if (m->field_len + n > FIELD_KEEP_MAX)
		n = m->field_len < FIELD_KEEP_MAX ? FIELD_KEEP_MAX - m->field_len : 0;
	buf_append(&m->field, &m->field_len, &m->field_cap, data, n);
}

/* header_line - one whole line while in the header block. */
static void header_line(struct shim_message *m, const char *line, size_t len)
{
	switch (msg_classify(line, len, NULL, NULL)) {
	case MSG_LINE_SEPARATOR:
		end_headers(m);
		return;
	case MSG_LINE_CONTINUATION:
		if (m->field_len) {
			field_add(m, "\n", 1);
			field_add(m, line, len);
			break;
		}
		/* a fold with no field before it is no header line */
		__attribute__((fallthrough));
	case MSG_LINE_NOT_FIELD:
		end_headers(m);         /* not a field: the body starts here */
		body_text(m, line, len, false);
		return;
	case MSG_LINE_FIELD:
		flush_field(m);
		field_add(m, line, len);
		break;
	}
}

/* shim_message_line - one line or piece of text. */
void shim_message_line(struct shim_message *m, const char *text, size_t len, bool more)
{
	if (!m->in_headers) {
		body_text(m, text, len, more);
		return;
	}
	if (!more && !m->line_len) {
		header_line(m, text, len);
		return;
	}
	if (m->line_len + len > FIELD_KEEP_MAX)      /* the message will be refused */
		len = m->line_len < FIELD_KEEP_MAX ? FIELD_KEEP_MAX - m->line_len : 0;
	buf_append(&m->line, &m->line_len, &m->line_cap, text, len);
	if (!more) {
		header_line(m, m->line, m->line_len);
		m->line_len = 0;
	}
}

/* shim_message_end - finish the headers if the text had no body. */
void shim_message_end(struct shim_message *m)
{
	if (m->in_headers) {
		if (m->line_len)
			header_line(m, m->line, m->line_len);
		m->line_len = 0;
		if (m->in_headers)
			end_headers(m);
	}
}

/* shim_message_discard - free the buffers. */
void shim_message_discard(struct shim_message *m)
{
	free(m->field);
	free(m->line);
	*m = (struct shim_message){ 0 };
}
