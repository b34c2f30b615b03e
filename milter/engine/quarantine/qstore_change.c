/*
 * qstore_change.c - the changes to the quarantine's files: publishing
 * metadata (the daemon's new messages and a release mark), removing a
 * message (see qstore.h). Every change but a new message's is made under
 * the message's claim.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "qstore.h"
#include "spool.h"
#include "xalloc.h"

/* What a metadata file is written from. */
struct meta_fill {
	json_t *meta;
	const struct stat *owner;       /* the file it replaces, or NULL */
};

/*
 * fill_json - spool_fill_fn: the metadata, indented, with a final newline,
 * owned as the file it replaces: root releasing a message must not leave
 * metadata that the daemons' user (and its expiry timer) cannot read.
 */
static bool fill_json(int fd, void *arg, char *err, size_t errlen)
{
	const struct meta_fill *f = arg;
	char *text = json_dumps(f->meta, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	bool ok = text && spool_write_fd(fd, text, strlen(text)) && spool_write_fd(fd, "\n", 1);

	if (ok && f->owner && fchown(fd, f->owner->st_uid, f->owner->st_gid) != 0) {
		snprintf(err, errlen, "cannot give the metadata to uid %u: %s",
			 (unsigned)f->owner->st_uid, strerror(errno));
		ok = false;
	}
	free(text);
	return ok;
}

/* publish - DIR/ID.json from META, owned like OWNER (NULL: by us), durably. */
static bool publish(const char *dir, const char *id, json_t *meta, const struct stat *owner,
		    char *err, size_t errlen)
{
	char *name = xasprintf("%s.json", id);
	struct meta_fill fill = { meta, owner };
	bool ok = spool_publish(dir, name, NULL, fill_json, &fill, err, errlen);

	free(name);
	return ok;
}

/* qstore_publish_meta - DIR/ID.json from META, durably. */
bool qstore_publish_meta(const char *dir, const char *id, json_t *meta, char *err, size_t errlen)
{
	return publish(dir, id, meta, NULL, err, errlen);
}

/* qstore_released - the "released" array, or NULL. */
json_t *qstore_released(const struct qentry *e)
{
	json_t *r = json_object_get(e->meta, "released");

	return json_is_array(r) && json_array_size(r) ? r : NULL;
}

/* release_record - {at, by, to, reply} for now (new reference). */
static json_t *release_record(const char *by, const char *to, const char *reply)
{
	char when[32];

	qstore_format_time(time(NULL), when, sizeof(when));
	return json_pack("{s:s, s:s, s:s, s:s}", "at", when, "by", by, "to", to, "reply", reply);
}

/* update_meta - publish META (new reference, taken) as E's metadata, owned as before. */
static bool update_meta(struct qentry *e, json_t *meta, char *err, size_t errlen)
{
	char *stale = xasprintf("%s/.tmp-%s.json", e->dir, e->id);
	struct stat owner;
	bool ok;

	unlink(stale);          /* left by a writer that died; we hold the claim */
	free(stale);
	ok = stat(e->json, &owner) == 0;
	if (!ok)
		snprintf(err, errlen, "%s: %s", e->json, strerror(errno));
	ok = ok && publish(e->dir, e->id, meta, &owner, err, errlen);
	if (!ok) {
		json_decref(meta);
		return false;
	}
	json_decref(e->meta);
	e->meta = meta;
	e->sender = json_string_value(json_object_get(meta, "sender"));
	return true;
}

/* copy_meta - a deep copy of E's metadata to change (new reference). */
static json_t *copy_meta(const struct qentry *e)
{
	json_t *meta = json_deep_copy(e->meta);

	if (!meta)
		abort();        /* out of memory: jansson says nothing else */
	return meta;
}

/* qstore_mark_released - E's metadata with one more release record and no token. */
bool qstore_mark_released(struct qentry *e, const char *by, const char *to, const char *reply,
			  char *err, size_t errlen)
{
	json_t *meta = copy_meta(e), *list, *rec = release_record(by, to, reply);

	if (!rec)
		abort();
	if (!json_is_array(list = json_object_get(meta, "released"))) {
		list = json_array();
		json_object_set_new(meta, "released", list);
	}
	json_array_append_new(list, rec);
	json_object_del(meta, "release_token");
	return update_meta(e, meta, err, errlen);
}

/* make_token - 128 random bits as 32 hex digits into TOKEN (33 bytes). */
static bool make_token(char *token)
{
	unsigned char rnd[16];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return false;
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(token + 2 * i, 3, "%02x", rnd[i]);
	return true;
}

/* qstore_set_token - a new token in E's metadata, or (TOKEN NULL) none. */
bool qstore_set_token(struct qentry *e, char *token, char *err, size_t errlen)
{
	json_t *meta = copy_meta(e);
	char expires[32];

	if (token && !make_token(token)) {
		snprintf(err, errlen, "no random bits for a release token: %s", strerror(errno));
		json_decref(meta);
		return false;
	}
	qstore_format_time(time(NULL) + QSTORE_TOKEN_TTL, expires, sizeof(expires));
	if (token)
		json_object_set_new(meta, "release_token", json_pack("{s:s, s:s}", "token", token,
								     "expires", expires));
	else
		json_object_del(meta, "release_token");
	return update_meta(e, meta, err, errlen);
}

/* sync_dir - fsync the folder PATH (a removal made durable). */
static bool sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool ok = fd >= 0 && fsync(fd) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* qstore_remove - ID.json first (the message is gone at once), then ID.eml. */
bool qstore_remove(struct qentry *e, char *err, size_t errlen)
{
	if (unlink(e->json) != 0) {
		snprintf(err, errlen, "cannot remove %s: %s", e->json, strerror(errno));
		return false;
	}
	if (unlink(e->eml) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "removed %s but not %s: %s", e->json, e->eml, strerror(errno));
		return false;
	}
	if (!sync_dir(e->dir)) {
		snprintf(err, errlen, "cannot sync %s: %s", e->dir, strerror(errno));
		return false;
	}
	return true;
}
