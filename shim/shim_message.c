/*
 * shim_message.c - split DATA text into header fields and body for the
 * engine, and write it to the shim's own spool file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "msg_text.h"
#include "shim_message.h"

/* A field or line is kept up to just past the header limit: enough to be refused. */
#define FIELD_KEEP_MAX (MSG_HEADER_MAX_BYTES + 1)

/* buf_append - append N bytes of DATA to the growable *BUF (NUL-terminated). */
static void buf_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t want = (*len + n + 1) * 2;
		char *grown = realloc(*buf, want);

		if (!grown)
			abort();
		*buf = grown;
		*cap = want;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* spool_write - N bytes into the spool while it is kept. */
static void spool_write(struct shim_message *m, const char *data, size_t n)
{
	if (m->keep && !m->failed && n > 0 && fwrite(data, 1, n, m->spool) != n) {
		log_msg(LOG_ERR, "cannot write spool file %s: %s", m->path, strerror(errno));
		m->failed = true;
	}
}

/* shim_message_begin - create the spool file. */
bool shim_message_begin(struct shim_message *m, struct txn *t, const char *spool_dir,
			char *err, size_t errlen)
{
	int fd;

	*m = (struct shim_message){ .t = t, .in_headers = true, .keep = true };
	if (asprintf(&m->path, "%s/shim.XXXXXX", spool_dir) < 0)
		abort();
	fd = mkstemp(m->path);
	if (fd < 0 || !(m->spool = fdopen(fd, "w"))) {
		snprintf(err, errlen, "cannot create spool file %s: %s", m->path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(m->path);
		}
		free(m->path);
		m->path = NULL;
		return false;
	}
	return true;
}

/* flush_field - hand the pending field to the engine. */
static void flush_field(struct shim_message *m)
{
	size_t name_len = 0, value_at = 0;

	if (!m->field_len)
		return;
	msg_classify(m->field, m->field_len, &name_len, &value_at);     /* a field: checked */
	m->field[name_len] = '\0';
	txn_header(m->t, m->field, m->field + value_at);
	m->field_len = 0;
}

/* end_headers - the header block is over: eoh stage, separator in the spool. */
static void end_headers(struct shim_message *m)
{
	flush_field(m);
	m->in_headers = false;
	spool_write(m, "\r\n", 2);
	m->eoh = txn_eoh(m->t);
	if (m->eoh.kind == VERDICT_REJECT || m->eoh.kind == VERDICT_TEMPFAIL ||
	    m->eoh.kind == VERDICT_DISCARD)
		m->keep = false;        /* never delivered: no need to keep the text */
}

/* body_text - body text (a line or a piece); CRLF after it unless MORE. */
static void body_text(struct shim_message *m, const char *text, size_t len, bool more)
{
	txn_body(m->t, text, len);
	spool_write(m, text, len);
	if (!more) {
		txn_body(m->t, "\r\n", 2);
		spool_write(m, "\r\n", 2);
	}
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
	spool_write(m, line, len);
	spool_write(m, "\r\n", 2);
}

/* shim_message_line - one line or piece of text. */
bool shim_message_line(struct shim_message *m, const char *text, size_t len, bool more)
{
	if (!m->in_headers) {
		body_text(m, text, len, more);
		return !m->failed;
	}
	if (!more && !m->line_len) {
		header_line(m, text, len);
		return !m->failed;
	}
	if (m->line_len + len > FIELD_KEEP_MAX)      /* the message will be refused */
		len = m->line_len < FIELD_KEEP_MAX ? FIELD_KEEP_MAX - m->line_len : 0;
	buf_append(&m->line, &m->line_len, &m->line_cap, text, len);
	if (!more) {
		header_line(m, m->line, m->line_len);
		m->line_len = 0;
	}
	return !m->failed;
}

/* shim_message_end - finish the headers if the text had no body; close the spool. */
bool shim_message_end(struct shim_message *m)
{
	if (m->in_headers) {
		if (m->line_len)
			header_line(m, m->line, m->line_len);
		m->line_len = 0;
		if (m->in_headers)
			end_headers(m);
	}
	if (m->spool) {
		if (fclose(m->spool) != 0 && m->keep)
			m->failed = true;
		m->spool = NULL;
	}
	return !m->failed;
}

/* shim_message_path - the spool file, or NULL. */
const char *shim_message_path(const struct shim_message *m)
{
	return m->path;
}

/* shim_message_discard - remove the spool file and free the buffers. */
void shim_message_discard(struct shim_message *m)
{
	if (m->spool)
		fclose(m->spool);
	if (m->path && unlink(m->path) != 0 && errno != ENOENT)
		log_msg(LOG_WARNING, "cannot remove %s: %s", m->path, strerror(errno));
	free(m->path);
	free(m->field);
	free(m->line);
	*m = (struct shim_message){ 0 };
}
