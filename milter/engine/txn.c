/*
 * txn.c - a transaction's life: feeding stages, spooling the message,
 * queueing header edits, and resetting between messages. Copies returned by
 * delegates and the delivered message are in txn_copy.c, rule evaluation in
 * eval.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "policy_load_ctx.h"    /* xstrdup, xcalloc */
#include "txn_int.h"

static const char *const verdict_names[] = {
	"continue", "accept", "reject", "tempfail", "discard", "hold",
};

/* verdict_name - the log name of a verdict kind. */
const char *verdict_name(enum verdict_kind kind)
{
	return kind <= VERDICT_HOLD ? verdict_names[kind] : "?";
}

/* dup_or_null - strdup for optional strings. */
static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* txn_new - a transaction for one connection. */
struct txn *txn_new(struct policy *p, const struct txn_env *env)
{
	struct txn *t = xcalloc(1, sizeof(*t));

	t->policy = policy_ref(p);
	if (env)
		t->env = *env;
	return t;
}

/* edit_list_free - release the edits of L. */
static void edit_list_free(struct edit_list *l)
{
	for (size_t i = 0; i < l->count; i++) {
		free(l->items[i].name);
		free(l->items[i].value);
	}
	free(l->items);
	free(l->imported);
	memset(l, 0, sizeof(*l));
}

/* txn_free - release everything. */
void txn_free(struct txn *t)
{
	if (!t)
		return;
	txn_reset_message(t, NULL);
	edit_list_free(&t->conn_edits);
	free(t->client_name);
	free(t->client_addr);
	free(t->helo);
	free(t->queue_id);
	policy_unref(t->policy);
	free(t);
}

/* txn_set_env_arg - change the hooks' argument. */
void txn_set_env_arg(struct txn *t, void *arg)
{
	t->env.arg = arg;
}

/* txn_progress - tell the front end that a delegation is still running. */
void txn_progress(struct txn *t)
{
	if (t->env.progress)
		t->env.progress(t->env.arg);
}

/* txn_set_queue_id - remember the MTA's queue id. */
void txn_set_queue_id(struct txn *t, const char *queue_id)
{
	free(t->queue_id);
	t->queue_id = dup_or_null(queue_id);
}

/* txn_log_id - the queue id for log lines. */
const char *txn_log_id(const struct txn *t)
{
	return t->queue_id && *t->queue_id ? t->queue_id : "NOQUEUE";
}

/* txn_note - append to the trail of decisions for the log line. */
void txn_note(struct txn *t, const char *fmt, ...)
{
	va_list ap;
	size_t room = sizeof(t->trail) - t->trail_len;
	int n;

	if (room <= 1)
		return;
	if (t->trail_len)
		t->trail[t->trail_len++] = ' ', room--;
	va_start(ap, fmt);
	n = vsnprintf(t->trail + t->trail_len, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->trail_len += (size_t)n < room ? (size_t)n : room - 1;
	t->trail[t->trail_len] = '\0';
}

/* edit_push - append an edit (strings copied) to L. */
static void edit_push(struct edit_list *l, enum header_edit_op op, const char *name,
		      const char *value, unsigned index, bool imported)
{
	if (l->count == l->capacity) {
		size_t cap = l->capacity ? l->capacity * 2 : 8;
		struct header_edit *grown = realloc(l->items, cap * sizeof(*grown));
		bool *marks = grown ? realloc(l->imported, cap * sizeof(*marks)) : NULL;

		if (!grown || !marks)
			abort();
		l->items = grown;
		l->imported = marks;
		l->capacity = cap;
	}
	l->imported[l->count] = imported;
	l->items[l->count++] = (struct header_edit){
		.op = op, .name = xstrdup(name), .value = dup_or_null(value), .index = index,
	};
}

/* txn_add_edit - queue a header edit in the message's (or connection's) list. */
void txn_add_edit(struct txn *t, enum header_edit_op op, const char *name,
		  const char *value, unsigned index)
{
	/* Before MAIL there is no message yet: such edits apply to every message. */
	edit_push(t->sender ? &t->edits : &t->conn_edits, op, name, value, index, false);
}

/* txn_add_import - queue the addition of a field a delegate's import_headers took. */
void txn_add_import(struct txn *t, const char *name, const char *value)
{
	edit_push(&t->edits, EDIT_ADD, name, value, 0, true);
}

/* txn_drop_imports - remove the import edits from the message's list, keeping the order. */
void txn_drop_imports(struct txn *t)
{
	struct edit_list *l = &t->edits;
	size_t kept = 0;

	for (size_t i = 0; i < l->count; i++) {
		if (!l->imported[i]) {
			l->imported[kept] = false;
			l->items[kept++] = l->items[i];
			continue;
		}
		free(l->items[i].name);
		free(l->items[i].value);
	}
	l->count = kept;
}

/* decide - evaluate STAGE unless already decided, and remember a decision. */
static struct verdict decide(struct txn *t, enum stage stage)
{
	struct verdict v;

	if (t->conn_verdict.kind != VERDICT_CONTINUE)
		return t->conn_verdict;
	if (stage > STAGE_HELO && t->msg_verdict.kind != VERDICT_CONTINUE)
		return t->msg_verdict;
	v = eval_stage(t, stage);
	if (v.kind == VERDICT_CONTINUE)
		return v;
	if (stage <= STAGE_HELO)
		t->conn_verdict = v;
	else if (!(stage == STAGE_RCPT && (v.kind == VERDICT_REJECT || v.kind == VERDICT_TEMPFAIL)))
		t->msg_verdict = v;
	return v;
}

/* txn_connect - the client connected. */
struct verdict txn_connect(struct txn *t, const char *client_name, const char *client_addr)
{
	free(t->client_name);
	free(t->client_addr);
	t->client_name = dup_or_null(client_name);
	t->client_addr = dup_or_null(client_addr);
	t->client_parsed = client_addr &&
		cidr_addr_parse(client_addr, &t->client_family, t->client_bytes);
	struct verdict v = decide(t, STAGE_CONNECT);
	t->conn_trail_len = t->trail_len;
	return v;
}

/* txn_helo - the client said HELO or EHLO. */
struct verdict txn_helo(struct txn *t, const char *helo)
{
	free(t->helo);
	t->helo = dup_or_null(helo);
	struct verdict v = decide(t, STAGE_HELO);
	t->conn_trail_len = t->trail_len;
	return v;
}

/* txn_mail - a new message: the envelope sender. */
struct verdict txn_mail(struct txn *t, const char *sender, const char *auth_user)
{
	free(t->sender);
	free(t->auth_user);
	t->sender = xstrdup(sender ? sender : "");
	t->auth_user = auth_user && *auth_user ? xstrdup(auth_user) : NULL;
	return decide(t, STAGE_MAIL);
}

/* txn_rcpt - one recipient; recorded unless refused. */
struct verdict txn_rcpt(struct txn *t, const char *recipient)
{
	struct verdict v;

	t->current_rcpt = recipient;
	v = decide(t, STAGE_RCPT);
	t->current_rcpt = NULL;
	if (v.kind == VERDICT_REJECT || v.kind == VERDICT_TEMPFAIL)
		return v;
	if (t->rcpt_count == t->rcpt_capacity) {
		size_t cap = t->rcpt_capacity ? t->rcpt_capacity * 2 : 4;
		char **grown = realloc(t->rcpts, cap * sizeof(*grown));

		if (!grown)
			abort();
		t->rcpts = grown;
		t->rcpt_capacity = cap;
	}
	t->rcpts[t->rcpt_count++] = xstrdup(recipient);
	return v;
}

/* txn_header - one header field, kept for conditions and spooled at eoh. */
void txn_header(struct txn *t, const char *name, const char *value)
{
	t->message_size += strlen(name) + strlen(value) + 4;
	if (!t->headers_truncated && !headers_add(&t->headers, name, value)) {
		t->headers_truncated = true;
		log_msg(LOG_NOTICE, "%s: the header exceeds %d fields or %d bytes: the message "
			"will be refused", txn_log_id(t), MSG_HEADER_MAX_FIELDS, MSG_HEADER_MAX_BYTES);
	}
}

/*
 * refuse_large_header - a header beyond the limits of msg_text.h is refused
 * where it comes in, with a reply that says why: it could be neither
 * evaluated whole nor delegated, and a retry would not change it.
 */
static struct verdict refuse_large_header(struct txn *t)
{
	static const struct reply too_large = { 552, "5.3.4", "Error: message header size exceeds limit" };

	t->msg_verdict = (struct verdict){ .kind = VERDICT_REJECT, .reply = &too_large,
					   .rule = "header_limit", .stage = STAGE_HEADERS };
	txn_note(t, "%s:header_limit=reject", stage_name(STAGE_HEADERS));
	return t->msg_verdict;
}

/* write_value_crlf - a header value with its line breaks turned into CRLF. */
static void write_value_crlf(FILE *f, const char *value)
{
	for (const char *p = value; *p; p++) {
		if (*p == '\r' && p[1] == '\n')
			continue;
		if (*p == '\n')
			putc('\r', f);
		putc(*p, f);
	}
}

/*
 * The spool. A message the policy may send or keep is kept as it arrives:
 * in memory (open_memstream) while it is small, in a file in spool_dir once
 * it grows past SPOOL_MEMORY_MAX or as soon as someone asks for its path
 * (txn_message_path: a delegation, a quarantine). Most messages are decided
 * by rules that never need the file, and creating, writing and unlinking a
 * file per message was the milter's largest cost (ext4 inode allocation).
 */
#define SPOOL_MEMORY_MAX (64 * 1024)

/* spool_error - note a spool failure once, with the reason in the log. */
static void spool_error(struct txn *t, const char *what, const char *path)
{
	if (!t->spool_failed)
		log_msg(LOG_ERR, "%s: cannot %s spool file %s: %s", txn_log_id(t), what,
			path ? path : t->policy->settings.spool_dir, strerror(errno));
	t->spool_failed = true;
}

/* spool_to_disk - move the message kept in memory into a new spool file. */
static bool spool_to_disk(struct txn *t)
{
	char *path;
	FILE *f;
	int fd;

	if (t->spool && fflush(t->spool) != 0) {
		spool_error(t, "write", NULL);
		return false;
	}
	if (asprintf(&path, "%s/md.XXXXXX", t->policy->settings.spool_dir) < 0)
		abort();
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0 || !(f = fdopen(fd, "w"))) {
		spool_error(t, "create", path);
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		free(path);
		return false;
	}
	t->spool_path = path;
	if (fwrite(t->spool_mem, 1, t->spool_mem_len, f) != t->spool_mem_len)
		spool_error(t, "write", path);
	if (t->spool)
		fclose(t->spool);       /* the memory stream */
	free(t->spool_mem);
	t->spool_mem = NULL;
	t->spool_mem_len = 0;
	t->spool = f;
	return !t->spool_failed;
}

/* spool_write - LEN bytes of the message; to disk when memory would grow too big. */
static void spool_write(struct txn *t, const void *data, size_t len)
{
	if (!t->spool || t->spool_failed)
		return;
	if (!t->spool_path && t->spool_bytes + len > SPOOL_MEMORY_MAX && !spool_to_disk(t))
		return;
	if (fwrite(data, 1, len, t->spool) != len)
		spool_error(t, "write", t->spool_path);
	t->spool_bytes += len;
}

/* spool_begin - start keeping the message, with its header block. */
static bool spool_begin(struct txn *t)
{
	char *block = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&block, &len);

	if (!f)
		abort();                /* out of memory */
	for (size_t i = 0; i < t->headers.count; i++) {
		fprintf(f, "%s: ", t->headers.items[i].name);
		write_value_crlf(f, t->headers.items[i].value);
		fputs("\r\n", f);
	}
	fputs("\r\n", f);
	if (fclose(f) != 0)
		abort();
	t->spooling = true;
	if (!(t->spool = open_memstream(&t->spool_mem, &t->spool_mem_len)))
		abort();
	spool_write(t, block, len);
	free(block);
	return !t->spool_failed;
}

/* txn_eoh - all headers are in: evaluate the headers stage, start spooling. */
struct verdict txn_eoh(struct txn *t)
{
	struct verdict v;

	if (t->headers_truncated && t->conn_verdict.kind == VERDICT_CONTINUE &&
	    t->msg_verdict.kind == VERDICT_CONTINUE)
		return refuse_large_header(t);
	v = decide(t, STAGE_HEADERS);

	if (v.kind != VERDICT_CONTINUE || !t->policy->stages[STAGE_EOM].count ||
	    !t->policy->needs_message_file)
		return v;       /* nothing will read the message: only its size is counted */
	if (!spool_begin(t)) {
		t->msg_verdict = eval_fail_safe(t, STAGE_HEADERS, "cannot spool the message");
		return t->msg_verdict;
	}
	return v;
}

/* txn_body - a chunk of the body. */
void txn_body(struct txn *t, const void *data, size_t len)
{
	t->message_size += len;
	spool_write(t, data, len);
}

/* txn_finish_spool - the message is complete: flush it (memory or file). */
bool txn_finish_spool(struct txn *t)
{
	/* A file is not fsync'ed: it is a working copy, and the MTA (or the
	 * shim's client) keeps the message until it gets our answer; copies
	 * that must survive a crash (quarantine) are written durably on their own. */
	if (t->spool && !t->spool_failed && fflush(t->spool) != 0)
		spool_error(t, "write", t->spool_path);
	if (t->spool && t->spool_path) {
		if (fclose(t->spool) != 0)
			spool_error(t, "write", t->spool_path);
		t->spool = NULL;
	}
	return !t->spool_failed;
}

/* txn_original_path - the message as received, as a file, written out now if it was in memory. */
const char *txn_original_path(struct txn *t)
{
	if (!t->spooling || t->spool_failed)
		return NULL;
	if (!t->spool_path && !spool_to_disk(t))
		return NULL;
	if (!txn_finish_spool(t))
		return NULL;
	return t->spool_path;
}

/* txn_eom - the whole message is in: evaluate the eom stage. */
struct verdict txn_eom(struct txn *t)
{
	if (t->conn_verdict.kind == VERDICT_CONTINUE && t->msg_verdict.kind == VERDICT_CONTINUE &&
	    t->policy->stages[STAGE_EOM].count && t->policy->needs_message_file &&
	    (!t->spooling || !txn_finish_spool(t))) {
		t->msg_verdict = eval_fail_safe(t, STAGE_EOM, "the message could not be spooled");
		return t->msg_verdict;
	}
	return decide(t, STAGE_EOM);
}

/* txn_remove_file - unlink and free a spool or copy path. */
void txn_remove_file(char **path)
{
	if (*path && unlink(*path) != 0 && errno != ENOENT)
		log_msg(LOG_WARNING, "cannot remove %s: %s", *path, strerror(errno));
	free(*path);
	*path = NULL;
}

/* txn_reset_message - forget the current message, keep the connection. */
void txn_reset_message(struct txn *t, struct policy *new_policy)
{
	if (t->spool)
		fclose(t->spool);
	t->spool = NULL;
	free(t->spool_mem);
	t->spool_mem = NULL;
	t->spool_mem_len = 0;
	t->spool_bytes = 0;
	t->spooling = t->spool_failed = false;
	txn_remove_file(&t->spool_path);
	txn_reset_copies(t);
	free(t->sender);
	free(t->auth_user);
	t->sender = t->auth_user = NULL;
	for (size_t i = 0; i < t->rcpt_count; i++)
		free(t->rcpts[i]);
	free(t->rcpts);
	t->rcpts = NULL;
	t->rcpt_count = t->rcpt_capacity = 0;
	headers_free(&t->headers);
	headers_free(&t->delegate_added);
	t->headers_truncated = false;
	edit_list_free(&t->edits);
	t->message_size = 0;
	t->delegation_ms = 0;
	t->msg_verdict = (struct verdict){ .kind = VERDICT_CONTINUE };
	t->trail_len = t->conn_trail_len;
	t->trail[t->trail_len] = '\0';
	if (new_policy && new_policy != t->policy) {
		policy_ref(new_policy);
		policy_unref(t->policy);
		t->policy = new_policy;
	}
}

/* Read access. */
const struct policy *txn_policy(const struct txn *t) { return t->policy; }
const char *txn_queue_id(const struct txn *t) { return t->queue_id; }
const char *txn_client_addr(const struct txn *t) { return t->client_addr; }
const char *txn_sender(const struct txn *t) { return t->sender; }
size_t txn_rcpt_count(const struct txn *t) { return t->rcpt_count; }
const char *txn_rcpt_at(const struct txn *t, size_t i) { return i < t->rcpt_count ? t->rcpts[i] : NULL; }
const struct headers *txn_headers(const struct txn *t) { return &t->headers; }
const struct headers *txn_delegate_added(const struct txn *t) { return &t->delegate_added; }
uint64_t txn_message_size(const struct txn *t) { return t->message_size; }
uint64_t txn_delegation_ms(const struct txn *t) { return t->delegation_ms; }
const char *txn_trail(const struct txn *t) { return t->trail; }

/* txn_edit_count - connection edits first, then the message's. */
size_t txn_edit_count(const struct txn *t)
{
	return t->conn_edits.count + t->edits.count;
}

/* txn_edit - the Ith edit. */
const struct header_edit *txn_edit(const struct txn *t, size_t i)
{
	if (i < t->conn_edits.count)
		return &t->conn_edits.items[i];
	i -= t->conn_edits.count;
	return i < t->edits.count ? &t->edits.items[i] : NULL;
}
