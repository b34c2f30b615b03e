/*
 * txn_msg.c - one message of a transaction: made new at MAIL, freed whole
 * at the reset (txn_msg_free is the one place), with its envelope, its
 * header fields and its text.
 *
 * The text. A message the policy may send or keep (a delegation, a
 * quarantine), or that the front end delivers itself (txn_keep_messages:
 * the shim), is kept as it arrives in a spool (spool.h): in memory up to
 * SPOOL_MEMORY_MAX, in a file "md.XXXXXX" in the policy's spool_dir beyond
 * that or as soon as a path is asked for. Header fields go in as they come
 * (the front end's own text when it gives it, txn_header_field), so the
 * kept text is the message as received; after the headers stage the text
 * is dropped when nothing will read it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy_load_ctx.h"    /* xstrdup, xcalloc */
#include "metrics.h"
#include "txn_int.h"
#include "xalloc.h"

/* txn_msg_new - an empty message; its trail starts with the connection's. */
struct txn_msg *txn_msg_new(const struct txn *t)
{
	struct txn_msg *m = xcalloc(1, sizeof(*m));

	m->trail = t->trail;
	return m;
}

/* txn_msg_free - everything the message owns. */
void txn_msg_free(struct txn_msg *m)
{
	if (!m)
		return;
	if (m->text)
		metrics_gauge_add(M_MESSAGES_SPOOLING, -1);
	spool_free(m->text);
	txn_msg_free_copies(m);
	free(m->sender);
	free(m->auth_user);
	for (size_t i = 0; i < m->rcpt_count; i++)
		free(m->rcpts[i]);
	free(m->rcpts);
	headers_free(&m->headers);
	headers_free(&m->delegate_added);
	edit_list_free(&m->edits);
	free(m);
}

/* txn_msg - the current message, made now if the MTA skipped MAIL. */
struct txn_msg *txn_msg(struct txn *t)
{
	if (!t->msg)
		t->msg = txn_msg_new(t);
	return t->msg;
}

/* txn_msg_view - the current message, or an empty one. */
const struct txn_msg *txn_msg_view(const struct txn *t)
{
	static const struct txn_msg none;

	return t->msg ? t->msg : &none;
}

/* wanted_by_policy - will the eom rules read the message's text? */
static bool wanted_by_policy(const struct txn *t)
{
	return t->policy->stages[STAGE_EOM].count && t->policy->needs_message_file;
}

/* txn_text_wanted - is the text needed after the headers stage decided V? */
bool txn_text_wanted(const struct txn *t, struct verdict v)
{
	if (v.kind == VERDICT_CONTINUE && wanted_by_policy(t))
		return true;
	return t->keep_messages && (v.kind == VERDICT_CONTINUE || v.kind == VERDICT_ACCEPT ||
				    v.kind == VERDICT_HOLD);
}

/* text_put - LEN bytes of the message's text, when it is kept. */
static void text_put(struct txn *t, struct txn_msg *m, const char *data, size_t len)
{
	if (!m->text) {
		if (!t->keep_messages && !wanted_by_policy(t))
			return;         /* nothing will ever read it */
		m->text = spool_new(t->policy->settings.spool_dir, "md", SPOOL_MEMORY_MAX);
		metrics_gauge_add(M_MESSAGES_SPOOLING, 1);
	}
	if (!spool_write(m->text, data, len) && !m->text_logged) {
		log_msg(LOG_ERR, "%s: %s", txn_log_id(t), spool_error(m->text));
		m->text_logged = true;
	}
}

/* text_put_crlf - S with its line breaks made CRLF. */
static void text_put_crlf(struct txn *t, struct txn_msg *m, const char *s)
{
	const char *nl;

	while ((nl = strchr(s, '\n'))) {
		size_t n = (size_t)(nl - s);

		if (n && s[n - 1] == '\r')
			n--;
		text_put(t, m, s, n);
		text_put(t, m, "\r\n", 2);
		s = nl + 1;
	}
	text_put(t, m, s, strlen(s));
}

/* add_header - note a field for the conditions and count its size. */
static void add_header(struct txn *t, struct txn_msg *m, const char *name, const char *value)
{
	m->size += strlen(name) + strlen(value) + 4;
	if (!m->headers_truncated && !headers_add(&m->headers, name, value)) {
		m->headers_truncated = true;
		log_msg(LOG_NOTICE, "%s: the header exceeds %d fields or %d bytes: the message "
			"will be refused", txn_log_id(t), MSG_HEADER_MAX_FIELDS, MSG_HEADER_MAX_BYTES);
	}
}

/* txn_header - one header field as a milter gets it: kept as "Name: value". */
void txn_header(struct txn *t, const char *name, const char *value)
{
	struct txn_msg *m = txn_msg(t);

	add_header(t, m, name, value);
	text_put(t, m, name, strlen(name));
	text_put(t, m, ": ", 2);
	text_put_crlf(t, m, value);
	text_put(t, m, "\r\n", 2);
}

/* txn_header_field - one header field with its text as received. */
void txn_header_field(struct txn *t, const char *field)
{
	struct txn_msg *m = txn_msg(t);
	size_t name_len = 0, value_at = 0;
	char *name;

	if (msg_classify(field, strlen(field), &name_len, &value_at) != MSG_LINE_FIELD)
		abort();        /* a bug of the front end: it classifies the lines */
	name = xstrdup(field);
	name[name_len] = '\0';
	add_header(t, m, name, field + value_at);
	free(name);
	text_put_crlf(t, m, field);
	text_put(t, m, "\r\n", 2);
}

/* txn_text_end_headers - keep the text (with its separator) or drop it. */
bool txn_text_end_headers(struct txn *t, bool keep)
{
	struct txn_msg *m = txn_msg(t);

	if (!keep) {
		if (m->text)
			metrics_gauge_add(M_MESSAGES_SPOOLING, -1);
		spool_free(m->text);
		m->text = NULL;
		return true;
	}
	text_put(t, m, "\r\n", 2);
	return m->text && spool_ok(m->text);
}

/* txn_body - a chunk of the body. */
void txn_body(struct txn *t, const void *data, size_t len)
{
	struct txn_msg *m = txn_msg(t);

	m->size += len;
	if (m->text)
		text_put(t, m, data, len);
}

/* txn_text_finish - the message is complete: close its file. */
bool txn_text_finish(struct txn *t)
{
	struct txn_msg *m = txn_msg(t);

	if (!m->text)
		return false;
	if (!spool_finish(m->text) && !m->text_logged) {
		log_msg(LOG_ERR, "%s: %s", txn_log_id(t), spool_error(m->text));
		m->text_logged = true;
	}
	return spool_ok(m->text);
}

/* txn_original_path - the message as received, as a file. */
const char *txn_original_path(struct txn *t)
{
	struct txn_msg *m = t->msg;
	const char *path = m && m->text ? spool_path(m->text) : NULL;

	if (m && m->text && !path && !m->text_logged) {
		log_msg(LOG_ERR, "%s: %s", txn_log_id(t), spool_error(m->text));
		m->text_logged = true;
	}
	return path;
}

/* txn_original_open - a stream of the message as received. */
FILE *txn_original_open(struct txn *t)
{
	struct txn_msg *m = t->msg;

	return m && m->text && spool_ok(m->text) ? spool_open(m->text) : NULL;
}

/* txn_rcpt_add - record an accepted recipient. */
void txn_rcpt_add(struct txn_msg *m, const char *recipient)
{
	if (m->rcpt_count == m->rcpt_capacity) {
		size_t cap = m->rcpt_capacity ? m->rcpt_capacity * 2 : 4;
		m->rcpts = xreallocarray(m->rcpts, cap, sizeof(*m->rcpts));
		m->rcpt_capacity = cap;
	}
	m->rcpts[m->rcpt_count++] = xstrdup(recipient);
}

/* Read access to the current message. */
const char *txn_sender(const struct txn *t) { return txn_msg_view(t)->sender; }
size_t txn_rcpt_count(const struct txn *t) { return txn_msg_view(t)->rcpt_count; }
const struct headers *txn_headers(const struct txn *t) { return &txn_msg_view(t)->headers; }
const struct headers *txn_delegate_added(const struct txn *t) { return &txn_msg_view(t)->delegate_added; }
uint64_t txn_message_size(const struct txn *t) { return txn_msg_view(t)->size; }
uint64_t txn_delegation_ms(const struct txn *t) { return txn_msg_view(t)->delegation_ms; }

/* txn_quarantine_id - the folder copy's id, or "". */
const char *txn_quarantine_id(const struct txn *t) { return txn_msg_view(t)->quarantine_id; }

/* txn_set_quarantine_id - remember ID for the log line. */
void txn_set_quarantine_id(struct txn *t, const char *id)
{
	snprintf(txn_msg(t)->quarantine_id, sizeof(txn_msg(t)->quarantine_id), "%s", id);
}

/* txn_rcpt_at - the Ith accepted recipient, or NULL. */
const char *txn_rcpt_at(const struct txn *t, size_t i)
{
	const struct txn_msg *m = txn_msg_view(t);

	return i < m->rcpt_count ? m->rcpts[i] : NULL;
}
