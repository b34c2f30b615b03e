/*
 * shim_message.c - split DATA text into header fields and body for the
 * engine, and write it to the shim's own spool file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "shim_message.h"

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
	char *colon, *value;
	size_t name_len;

	if (!m->field_len)
		return;
	colon = strchr(m->field, ':');
	name_len = (size_t)(colon - m->field);
	while (name_len > 0 && (m->field[name_len - 1] == ' ' || m->field[name_len - 1] == '\t'))
		name_len--;
	m->field[name_len] = '\0';
	value = colon + 1;
	value += strspn(value, " \t");
	txn_header(m->t, m->field, value);
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

/* is_field_start - does LINE begin a header field ("Name:")? */
static bool is_field_start(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && line[i] > ' ' && line[i] < 0x7f && line[i] != ':')
		i++;
	if (i == 0)
		return false;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < len && line[i] == ':';
}

/* header_line - one whole line while in the header block. */
static void header_line(struct shim_message *m, const char *line, size_t len)
{
	if (len == 0) {
		end_headers(m);
		return;
	}
	if ((line[0] == ' ' || line[0] == '\t') && m->field_len) {
		if (m->field_len + len < SHIM_MAX_FIELD) {
			buf_append(&m->field, &m->field_len, &m->field_cap, "\n", 1);
			buf_append(&m->field, &m->field_len, &m->field_cap, line, len);
		}
	} else if (is_field_start(line, len)) {
		flush_field(m);
		buf_append(&m->field, &m->field_len, &m->field_cap, line,
			   len < SHIM_MAX_FIELD ? len : SHIM_MAX_FIELD);
	} else {
		end_headers(m);         /* not a field: the body starts here */
		body_text(m, line, len, false);
		return;
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
	buf_append(&m->line, &m->line_len, &m->line_cap, text, len);
	if (m->line_len > SHIM_MAX_HEADER_LINE) {
		/* No header line is this long: take it as the start of the body. */
		end_headers(m);
		body_text(m, m->line, m->line_len, more);
		m->line_len = 0;
	} else if (!more) {
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
