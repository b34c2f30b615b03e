/*
 * quarantine.c - write quarantined messages and their metadata durably.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "quarantine.h"

#define COPY_CHUNK 65536

/* make_dir - mkdir PATH 0700 unless it exists. */
static bool make_dir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return true;
	snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
	return false;
}

/* make_id - "20261124T235959-QUEUEID-1a2b3c4d" into BUF. */
static void make_id(const struct txn *t, char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;
	char stamp[32];
	unsigned rnd = 0;
	const char *qid = txn_queue_id(t);

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (unsigned)getpid() ^ (unsigned)clock();
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(buf, len, "%s-%s-%08x", stamp, qid && *qid ? qid : "NOQUEUE", rnd);
	for (char *p = buf; *p; p++)
		if (*p == '/' || *p == '.')
			*p = '_';
}

/* sync_close - fsync and close FD; false on any error. */
static bool sync_close(int fd)
{
	bool ok = fsync(fd) == 0;

	return close(fd) == 0 && ok;
}

/* write_all - the whole of BUF to FD. */
static bool write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* copy_fd - the rest of IN to OUT. */
static bool copy_fd(int in, int out)
{
	char *buf = malloc(COPY_CHUNK);
	ssize_t n;
	bool ok = buf != NULL;

	while (ok && (n = read(in, buf, COPY_CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		ok = n > 0 && write_all(out, buf, (size_t)n);
	}
	free(buf);
	return ok;
}

/*
 * publish - write DIR/NAME durably: FILL writes into a temporary file which
 * is fsync'ed and renamed into place.
 */
static bool publish(const char *dir, const char *name, bool (*fill)(int fd, const void *arg),
		    const void *arg, char *err, size_t errlen)
{
	char tmp[4400], final[4400];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/.tmp-%s", dir, name);
	snprintf(final, sizeof(final), "%s/%s", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		return false;
	}
	if (!fill(fd, arg) || !sync_close(fd) || rename(tmp, final) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", final, strerror(errno ? errno : EIO));
		unlink(tmp);
		return false;
	}
	return true;
}

/* fill_message - copy the message file named by ARG. */
static bool fill_message(int fd, const void *arg)
{
	int in = open(arg, O_RDONLY | O_CLOEXEC);
	bool ok = in >= 0 && copy_fd(in, fd);

	if (in >= 0)
		close(in);
	return ok;
}

/* fill_json - dump the JSON object ARG. */
static bool fill_json(int fd, const void *arg)
{
	char *text = json_dumps(arg, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	bool ok = text && write_all(fd, text, strlen(text)) && write_all(fd, "\n", 1);

	free(text);
	return ok;
}

/* metadata - the JSON description of the quarantined message (new reference). */
static json_t *metadata(const struct txn *t, const struct action *a, const char *rule,
			const char *id)
{
	json_t *m = json_object(), *rcpts = json_array(), *added = json_object();
	const struct headers *h = txn_delegate_added(t);
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
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

/* sync_dir - fsync a directory so renames in it are durable. */
static bool sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd >= 0 && sync_close(fd);
}

/* quarantine_store - the message and its metadata into the action's folder. */
bool quarantine_store(void *arg, struct txn *t, const struct action *a, const char *rule,
		      char *err, size_t errlen)
{
	const char *root = txn_policy(t)->settings.quarantine_dir;
	const char *message = txn_message_path(t);
	char dir[4096], id[128], name[160];	/* root and folder are bounded by the loader */
	json_t *meta;
	bool ok;

	(void)arg;
	if (!message) {
		snprintf(err, errlen, "the message was not spooled");
		return false;
	}
	snprintf(dir, sizeof(dir), "%s/%s", root, a->u.quarantine.folder);
	if (!make_dir(root, err, errlen) || !make_dir(dir, err, errlen))
		return false;
	make_id(t, id, sizeof(id));
	snprintf(name, sizeof(name), "%s.eml", id);
	if (!publish(dir, name, fill_message, message, err, errlen))
		return false;
	meta = metadata(t, a, rule, id);
	snprintf(name, sizeof(name), "%s.json", id);
	ok = publish(dir, name, fill_json, meta, err, errlen);
	json_decref(meta);
	if (!ok) {
		char eml[sizeof(dir) + sizeof(id) + 8];

		snprintf(eml, sizeof(eml), "%s/%s.eml", dir, id);
		unlink(eml);
		return false;
	}
	if (!sync_dir(dir)) {
		snprintf(err, errlen, "cannot sync %s: %s", dir, strerror(errno));
		return false;
	}
	return true;
}
