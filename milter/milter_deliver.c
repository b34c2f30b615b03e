/*
 * milter_deliver.c - the end-of-message changes: a delegate's copy in place
 * of the message (smfi_chgheader, smfi_addheader, smfi_replacebody) and the
 * policy's header edits.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "milter_deliver.h"

#define BODY_CHUNK 65536

/* log_id - the queue id for log lines. */
static const char *log_id(const struct txn *t)
{
	return txn_queue_id(t) && *txn_queue_id(t) ? txn_queue_id(t) : "NOQUEUE";
}

/* remove_field_all - remove every occurrence of NAME (last first, so indexes hold). */
static bool remove_field_all(SMFICTX *ctx, const char *name, unsigned count)
{
	bool ok = true;

	for (unsigned n = count; n > 0; n--)
		ok &= smfi_chgheader(ctx, (char *)name, (int)n, NULL) == MI_SUCCESS;
	return ok;
}

/* replace_headers - the client's fields out, the copy's in. */
static bool replace_headers(SMFICTX *ctx, const struct txn *t, const struct headers *copy)
{
	const struct headers *client = txn_headers(t);
	bool ok = true;

	for (size_t i = 0; i < client->count; i++) {
		const char *name = client->items[i].name;

		if (headers_find(client, name, 1) == &client->items[i])     /* first of its name */
			ok &= remove_field_all(ctx, name, headers_count(client, name));
	}
	for (size_t i = 0; i < copy->count; i++)
		ok &= smfi_addheader(ctx, copy->items[i].name, copy->items[i].value) == MI_SUCCESS;
	return ok;
}

/* replace_body - the copy's body, from OFFSET in PATH, in chunks. */
static bool replace_body(SMFICTX *ctx, const struct txn *t, const char *path, uint64_t offset)
{
	static __thread unsigned char chunk[BODY_CHUNK];
	FILE *f = fopen(path, "re");
	bool ok = f && fseeko(f, (off_t)offset, SEEK_SET) == 0;
	size_t n;

	if (!f)
		log_msg(LOG_ERR, "%s: cannot open the copy to deliver %s: %s", log_id(t), path,
			strerror(errno));
	while (ok && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ok = smfi_replacebody(ctx, chunk, (int)n) == MI_SUCCESS;
	if (f && ferror(f)) {
		log_msg(LOG_ERR, "%s: cannot read the copy to deliver %s: %s", log_id(t), path,
			strerror(errno));
		ok = false;
	}
	if (f)
		fclose(f);
	return ok;
}

/* apply_edits - the transaction's header edits, counted against HEADERS. */
static bool apply_edits(SMFICTX *ctx, const struct txn *t, const struct headers *headers)
{
	bool ok = true;

	for (size_t i = 0; i < txn_edit_count(t); i++) {
		const struct header_edit *e = txn_edit(t, i);
		bool done;

		if (e->op == EDIT_ADD)
			done = smfi_addheader(ctx, e->name, e->value) == MI_SUCCESS;
		else if (e->op == EDIT_CHANGE)
			done = smfi_chgheader(ctx, e->name, (int)e->index, e->value) == MI_SUCCESS;
		else
			done = remove_field_all(ctx, e->name, headers_count(headers, e->name));
		if (!done)
			log_msg(LOG_WARNING, "%s: header edit of %s failed", log_id(t), e->name);
		ok &= done;
	}
	return ok;
}

/* milter_deliver - the changes that make the message the one to deliver. */
bool milter_deliver(SMFICTX *ctx, const struct txn *t)
{
	struct txn_delivery d = txn_delivery(t);

	if (d.source == DELIVER_COPY) {
		if (!replace_headers(ctx, t, d.headers) || !replace_body(ctx, t, d.path, d.body_offset)) {
			log_msg(LOG_ERR, "%s: the MTA refused the delegate's copy in place of the "
				"message", log_id(t));
			return false;
		}
	}
	/* A failed edit is logged; the message is still the right one. */
	apply_edits(ctx, t, d.headers);
	return true;
}
