/*
 * txn_edit.c - the header edits a transaction queues for its front end:
 * the connection's (header actions at connect and helo, applied to every
 * message) first, then the current message's, in the order they were made.
 * Each list owns its names and values.
 */
#include <stdlib.h>
#include <string.h>

#include "policy_load_ctx.h"    /* xstrdup */
#include "txn_int.h"
#include "xalloc.h"

/* edit_list_free - release the edits of L. */
void edit_list_free(struct edit_list *l)
{
	for (size_t i = 0; i < l->count; i++) {
		free(l->items[i].name);
		free(l->items[i].value);
	}
	free(l->items);
	free(l->imported);
	memset(l, 0, sizeof(*l));
}

/* edit_push - append an edit (strings copied) to L. */
static void edit_push(struct edit_list *l, enum header_edit_op op, const char *name,
		      const char *value, unsigned index, bool imported)
{
	if (l->count == l->capacity) {
		size_t cap = l->capacity ? l->capacity * 2 : 8;
		l->items = xreallocarray(l->items, cap, sizeof(*l->items));
		l->imported = xreallocarray(l->imported, cap, sizeof(*l->imported));
		l->capacity = cap;
	}
	l->imported[l->count] = imported;
	l->items[l->count++] = (struct header_edit){
		.op = op, .name = xstrdup(name), .value = value ? xstrdup(value) : NULL,
		.index = index,
	};
}

/* txn_add_edit - queue a header edit in the message's (or connection's) list. */
void txn_add_edit(struct txn *t, enum header_edit_op op, const char *name,
		  const char *value, unsigned index)
{
	/* Before the message there is none: such edits apply to every message. */
	edit_push(t->msg ? &t->msg->edits : &t->conn_edits, op, name, value, index, false);
}

/* txn_add_import - queue the addition of a field a delegate's import_headers took. */
void txn_add_import(struct txn *t, const char *name, const char *value)
{
	edit_push(&txn_msg(t)->edits, EDIT_ADD, name, value, 0, true);
}

/* txn_drop_imports - remove the import edits from the message's list, keeping the order. */
void txn_drop_imports(struct txn *t)
{
	struct edit_list *l = &txn_msg(t)->edits;
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

/* txn_edit_count - connection edits first, then the message's. */
size_t txn_edit_count(const struct txn *t)
{
	return t->conn_edits.count + txn_msg_view(t)->edits.count;
}

/* txn_edit - the Ith edit. */
const struct header_edit *txn_edit(const struct txn *t, size_t i)
{
	const struct edit_list *l = &txn_msg_view(t)->edits;

	if (i < t->conn_edits.count)
		return &t->conn_edits.items[i];
	i -= t->conn_edits.count;
	return i < l->count ? &l->items[i] : NULL;
}
