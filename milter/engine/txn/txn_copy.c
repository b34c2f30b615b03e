/*
 * txn_copy.c - what a delegation brings back, and which message goes on.
 *
 * A delegate returns a copy of the message. Its header block is compared with
 * the header block of the message the delegate was sent: a field of the copy
 * that the sent message does not have, by name (case-insensitive) and value
 * (whitespace-insensitive: refolding is no change), occurrences counted, was
 * added or changed by the delegate. Only those fields are the delegate's
 * word; the sender's own fields of the same name are not (issue 10: a sender
 * who writes "X-Virus-Infected: yes" must not get a clean message discarded).
 *
 * The delivered message is the original as received, or with "deliver":
 * "copy" the adopted copy, plus the fields imported since (queued as EDIT_ADD
 * edits for the front end, and written into the file txn_message_path()
 * returns, which the next delegation is sent and a quarantine stores).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "policy_load_ctx.h"    /* xcalloc */
#include "txn_int.h"

#define COPY_CHUNK 16384

/* is_wsp - folding whitespace, line breaks included. */
static bool is_wsp(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* skip_wsp - past the whitespace at P. */
static const char *skip_wsp(const char *p)
{
	while (is_wsp(*p))
		p++;
	return p;
}

/* same_value - equal once runs of whitespace are one space and the ends trimmed. */
static bool same_value(const char *a, const char *b)
{
	a = skip_wsp(a);
	b = skip_wsp(b);
	while (*a && *b) {
		if (is_wsp(*a) && is_wsp(*b)) {
			a = skip_wsp(a);
			b = skip_wsp(b);
			continue;
		}
		if (*a++ != *b++)
			return false;
	}
	return !*skip_wsp(a) && !*skip_wsp(b);
}

/* take_match - mark an unused field of SENT equal to F as used; false if none. */
static bool take_match(const struct headers *sent, bool *used, const struct header_field *f)
{
	for (size_t i = 0; i < sent->count; i++) {
		if (used[i] || strcasecmp(sent->items[i].name, f->name) != 0 ||
		    !same_value(sent->items[i].value, f->value))
			continue;
		used[i] = true;
		return true;
	}
	return false;
}

/* delivered_fields - the fields of the delivered message, before imports. */
static const struct headers *delivered_fields(const struct txn_msg *m)
{
	return m->copy_path ? &m->copy_headers : &m->headers;
}

/* fields_added - the fields of COPY not in the message the delegate was sent, into OUT. */
static void fields_added(const struct txn_msg *m, const struct headers *copy, struct headers *out)
{
	const struct headers *sent = delivered_fields(m);
	bool *used = xcalloc(sent->count + m->imported.count + 1, sizeof(*used));

	for (size_t i = 0; i < copy->count; i++) {
		const struct header_field *f = &copy->items[i];

		if (!take_match(sent, used, f) && !take_match(&m->imported, used + sent->count, f))
			headers_add(out, f->name, f->value);
	}
	free(used);
}

/* imported - does NAME match one of SPEC's import patterns? */
static bool imported(const struct delegate_spec *spec, const char *name)
{
	for (size_t i = 0; i < spec->import_count; i++) {
		const struct header_pattern *hp = &spec->imports[i];

		if (hp->prefix ? strncasecmp(name, hp->name, strlen(hp->name)) == 0
			       : strcasecmp(name, hp->name) == 0)
			return true;
	}
	return false;
}

/* queue_imports - the added fields SPEC imports go onto the delivered message. */
static void queue_imports(struct txn *t, const struct delegate_spec *spec,
			  const struct headers *added)
{
	for (size_t i = 0; i < added->count; i++) {
		const struct header_field *f = &added->items[i];

		if (!imported(spec, f->name))
			continue;
		txn_add_import(t, f->name, f->value);
		headers_add(&t->msg->imported, f->name, f->value);
		txn_remove_file(&t->msg->render_path);  /* it lacks this field */
	}
}

/* deliver_copy - the copy at PATH becomes the delivered message; T takes PATH and COPY. */
static void deliver_copy(struct txn *t, char *path, struct headers *copy, uint64_t body_offset)
{
	struct txn_msg *m = txn_msg(t);

	/* The fields imported so far were in the message sent: the copy carries them. */
	txn_drop_imports(t);
	txn_msg_free_copies(m);
	m->copy_path = path;
	m->copy_headers = *copy;
	m->copy_body_offset = body_offset;
	*copy = (struct headers){ 0 };
}

/* read_copy - the header block of the file PATH, and where its body starts. */
static bool read_copy(const char *path, struct headers *out, uint64_t *body_offset,
		      char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	bool ok;
	off_t at;

	if (!f) {
		snprintf(err, errlen, "cannot open the returned copy %s: %s", path, strerror(errno));
		return false;
	}
	ok = headers_read(f, out, err, errlen);
	at = ftello(f);
	*body_offset = at > 0 ? (uint64_t)at : 0;
	fclose(f);
	return ok;
}

/* note_added - ADDED are the delegate's word: kept for the message's metadata. */
static void note_added(struct txn_msg *m, const struct headers *added)
{
	for (size_t i = 0; i < added->count; i++)
		headers_add(&m->delegate_added, added->items[i].name, added->items[i].value);
}

/* txn_adopt_fields - a scanner's verdict fields: added by the delegate, imported per SPEC. */
void txn_adopt_fields(struct txn *t, const struct delegate_spec *spec, struct headers *fields,
		      struct headers *added)
{
	*added = *fields;
	*fields = (struct headers){ 0 };
	note_added(txn_msg(t), added);
	queue_imports(t, spec, added);
}

/* txn_adopt_copy - note what the delegate added; import it, or deliver the copy. */
bool txn_adopt_copy(struct txn *t, const struct delegate_spec *spec, char *path,
		    struct headers *added, char *err, size_t errlen)
{
	struct txn_msg *m = txn_msg(t);
	struct headers copy = { 0 };
	uint64_t body_offset = 0;

	if (!read_copy(path, &copy, &body_offset, err, errlen)) {
		headers_free(&copy);
		txn_remove_file(&path);
		return false;
	}
	headers_remove_all(&copy, MSG_ID_FIELD);
	fields_added(m, &copy, added);
	note_added(m, added);
	if (spec->deliver == DELIVER_COPY) {
		deliver_copy(t, path, &copy, body_offset);
		return true;
	}
	queue_imports(t, spec, added);
	headers_free(&copy);
	txn_remove_file(&path);         /* only its fields mattered */
	return true;
}

/* put_field - "NAME: VALUE" and CRLF into OUT. */
static void put_field(struct spool *out, const struct header_field *f)
{
	spool_write(out, f->name, strlen(f->name));
	spool_write(out, ": ", 2);
	spool_write(out, f->value, strlen(f->value));
	spool_write(out, "\r\n", 2);
}

/* copy_with_imports - IN with the fields of IMPORTED at the end of its header block. */
static bool copy_with_imports(FILE *in, struct spool *out, const struct headers *imported)
{
	char *line = NULL, buf[COPY_CHUNK];
	size_t cap = 0, n;
	ssize_t len;

	while ((len = getline(&line, &cap, in)) > 0 &&
	       !(line[0] == '\n' || (line[0] == '\r' && line[1] == '\n')))
		spool_write(out, line, (size_t)len);
	if (len > 0 && line[len - 1] != '\n')
		spool_write(out, "\r\n", 2);  /* a last header line without its line end */
	free(line);
	for (size_t i = 0; i < imported->count; i++)
		put_field(out, &imported->items[i]);
	spool_write(out, "\r\n", 2);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		spool_write(out, buf, n);
	return !ferror(in) && spool_finish(out);
}

/* render - a new spool file: BASE with the imported fields written in; NULL on failure. */
static char *render(struct txn *t, const char *base)
{
	const char *dir = t->policy->settings.spool_dir;
	struct spool *out = spool_new(dir, "md", 0);
	FILE *in = fopen(base, "re");
	int e = errno;
	bool ok = in && copy_with_imports(in, out, &t->msg->imported);

	if (in)
		fclose(in);
	if (ok)
		return spool_release(out);
	if (!spool_ok(out))
		log_msg(LOG_ERR, "%s: cannot write the message with its imported fields: %s",
			txn_log_id(t), spool_error(out));
	else
		log_msg(LOG_ERR, "%s: cannot read %s to write its imported fields in: %s",
			txn_log_id(t), base, strerror(in ? EIO : e));
	spool_free(out);
	return NULL;
}

/* delivers_original - is the message delivered now the original as spooled (no copy, no imports)? */
static bool delivers_original(const struct txn_msg *m)
{
	return m && !m->copy_path && m->imported.count == 0;
}

/* txn_message_path - the delivered message as one file, imported fields written in. */
const char *txn_message_path(struct txn *t)
{
	struct txn_msg *m = t->msg;
	const char *base = !m ? NULL : m->copy_path ? m->copy_path : txn_original_path(t);

	if (!base || m->imported.count == 0)
		return base;            /* the original or the copy, as they are */
	if (!m->render_path)
		m->render_path = render(t, base);
	return m->render_path;
}

/* txn_message_fd - the message as a descriptor: the spool's (no file for memory) unless a file is needed anyway. */
int txn_message_fd(struct txn *t)
{
	const char *path;

	if (delivers_original(t->msg) && t->msg->text)
		return spool_fd(t->msg->text);
	path = txn_message_path(t);
	return path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
}

/* txn_message_kept - the text is kept and its spool has not failed. */
bool txn_message_kept(const struct txn *t)
{
	return t->msg && t->msg->text && spool_ok(t->msg->text);
}

/* txn_delivery - which message the front end delivers. */
struct txn_delivery txn_delivery(const struct txn *t)
{
	const struct txn_msg *m = txn_msg_view(t);

	if (m->copy_path)
		return (struct txn_delivery){
			.source = DELIVER_COPY, .path = m->copy_path,
			.body_offset = m->copy_body_offset, .headers = &m->copy_headers,
		};
	return (struct txn_delivery){ .source = DELIVER_ORIGINAL, .headers = &m->headers };
}

/* txn_msg_free_copies - forget the adopted copy, the imports and the rendered file. */
void txn_msg_free_copies(struct txn_msg *m)
{
	txn_remove_file(&m->copy_path);
	txn_remove_file(&m->render_path);
	headers_free(&m->copy_headers);
	headers_free(&m->imported);
	m->copy_body_offset = 0;
}
