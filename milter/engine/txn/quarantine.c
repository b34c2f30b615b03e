/*
 * quarantine.c - write quarantined messages and their metadata durably,
 * in the layout and with the ids of qstore.h, each file published through
 * spool_publish (spool.h): the message first, its metadata second.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "qstore.h"
#include "quarantine.h"
#include "spool.h"

/* make_id - a new id (qstore.h) for T's message into BUF. */
static void make_id(const struct txn *t, char *buf, size_t len)
{
	uint32_t rnd = 0;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint32_t)getpid() ^ (uint32_t)clock();
	qstore_make_id(buf, len, time(NULL), txn_queue_id(t), rnd);
}

/* fill_message - copy the message file named by ARG. */
static bool fill_message(int fd, void *arg, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	return spool_copy_file(arg, fd);
}

/* metadata - the JSON description of the quarantined message (new reference). */
static json_t *metadata(const struct txn *t, const struct action *a, const char *rule,
			const char *id)
{
	json_t *m = json_object(), *rcpts = json_array(), *added = json_object();
	const struct headers *h = txn_delegate_added(t);
	char when[32];

	qstore_format_time(time(NULL), when, sizeof(when));
	for (size_t i = 0; i < txn_rcpt_count(t); i++)
		json_array_append_new(rcpts, json_string(txn_rcpt_at(t, i)));
	for (size_t i = 0; i < h->count; i++)
		json_object_set_new(added, h->items[i].name, json_string(h->items[i].value));
	json_object_set_new(m, "id", json_string(id));
	json_object_set_new(m, "time", json_string(when));
	json_object_set_new(m, "queue_id", txn_queue_id(t) ? json_string(txn_queue_id(t)) : json_null());
	json_object_set_new(m, "client_addr", txn_client_addr(t) ? json_string(txn_client_addr(t)) : json_null());
	json_object_set_new(m, "sender", json_string(txn_sender(t) ? txn_sender(t) : ""));
	json_object_set_new(m, "recipients", rcpts);
	json_object_set_new(m, "rule", json_string(rule));
	json_object_set_new(m, "reason", json_string(a->u.quarantine.reason));
	json_object_set_new(m, "folder", json_string(a->u.quarantine.folder));
	json_object_set_new(m, "size", json_integer((json_int_t)txn_message_size(t)));
	json_object_set_new(m, "delegate_headers", added);
	return m;
}

/* quarantine_store - the message and its metadata into the action's folder. */
bool quarantine_store(void *arg, struct txn *t, const struct action *a, const char *rule,
		      char *err, size_t errlen)
{
	const char *root = txn_policy(t)->settings.quarantine_dir;
	const char *message = txn_message_path(t);
	char dir[4096], id[QSTORE_ID_MAX + 1], name[QSTORE_ID_MAX + 8];	/* root and folder are bounded by the loader */
	json_t *meta;
	bool ok;

	(void)arg;
	if (!message) {
		snprintf(err, errlen, "the message was not spooled");
		return false;
	}
	snprintf(dir, sizeof(dir), "%s/%s", root, a->u.quarantine.folder);
	if (!spool_make_dir(root, err, errlen) || !spool_make_dir(dir, err, errlen))
		return false;
	make_id(t, id, sizeof(id));
	snprintf(name, sizeof(name), "%s.eml", id);
	if (!spool_publish(dir, name, NULL, fill_message, (void *)message, err, errlen))
		return false;
	meta = metadata(t, a, rule, id);
	ok = qstore_publish_meta(dir, id, meta, err, errlen);
	json_decref(meta);
	if (ok)
		txn_set_quarantine_id(t, id);
	if (!ok) {
		char eml[sizeof(dir) + sizeof(id) + 8];

		snprintf(eml, sizeof(eml), "%s/%s.eml", dir, id);
		unlink(eml);
	}
	return ok;
}

/* quarantine_release_vouched - one release field, with the live token of its id. */
bool quarantine_release_vouched(const struct txn *t)
{
	const struct headers *h = txn_headers(t);
	const struct header_field *f = headers_find(h, QSTORE_RELEASE_FIELD, 1);

	return f && headers_count(h, QSTORE_RELEASE_FIELD) == 1 &&
	       qstore_token_valid(txn_policy(t)->settings.quarantine_dir, f->value, time(NULL));
}
