/*
 * qstore.c - quarantine ids, and reading messages and their metadata (see
 * qstore.h). Claims and changes are in qstore_claim.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qstore.h"
#include "xalloc.h"

/* id_byte - may C appear in an id? */
static bool id_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* qstore_valid_id - letters, digits, '_', '-'; a letter or digit first. */
bool qstore_valid_id(const char *id)
{
	size_t n;

	if (!id || !id_byte(id[0]) || id[0] == '_' || id[0] == '-')
		return false;
	for (n = 0; id[n]; n++)
		if (!id_byte(id[n]) || n >= QSTORE_ID_MAX)
			return false;
	return true;
}

/* qstore_valid_folder - the folder names the policy loader accepts, and no dot first. */
bool qstore_valid_folder(const char *name)
{
	if (!name || !*name || name[0] == '.' || strlen(name) > 255)
		return false;
	for (const char *p = name; *p; p++)
		if (!id_byte(*p) && *p != '.')
			return false;
	return true;
}

/* qstore_format_time - ISO 8601, UTC. */
void qstore_format_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* qstore_make_id - "20261124T235959Z-QUEUEID-1a2b3c4d", within the id alphabet. */
void qstore_make_id(char *buf, size_t len, time_t now, const char *queue_id, uint32_t rnd)
{
	struct tm tm;
	char stamp[32];

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(buf, len, "%s-%.64s-%08x", stamp, queue_id && *queue_id ? queue_id : "NOQUEUE",
		 (unsigned)rnd);
	for (char *p = buf; *p; p++)
		if (!id_byte(*p))
			*p = '_';
}

/* parse_time - "2026-11-24T23:59:59Z" to a time; false when it is not one. */
static bool parse_time(const char *s, time_t *out)
{
	struct tm tm = { 0 };
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;

	if (!end || *end)
		return false;
	*out = timegm(&tm);
	return true;
}

/* address_ok - an envelope address as the metadata may hold it: no controls, no <>. */
static bool address_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '<' || *s == '>')
			return false;
	return true;
}

/* check_meta - E's metadata has what a release needs; false with ERR set. */
static bool check_meta(struct qentry *e, char *err, size_t errlen)
{
	json_t *m = e->meta, *rcpts = json_object_get(m, "recipients"), *r;
	const char *id = json_string_value(json_object_get(m, "id"));
	size_t i;

	e->sender = json_string_value(json_object_get(m, "sender"));
	if (!json_is_object(m) || !id || strcmp(id, e->id) != 0)
		snprintf(err, errlen, "%s: the metadata does not describe %s", e->json, e->id);
	else if (!parse_time(json_string_value(json_object_get(m, "time")), &e->when))
		snprintf(err, errlen, "%s: \"time\" is not a time such as 2026-11-24T23:59:59Z", e->json);
	else if (!e->sender || !address_ok(e->sender))
		snprintf(err, errlen, "%s: \"sender\" is not an address", e->json);
	else if (!json_is_array(rcpts) || json_array_size(rcpts) == 0)
		snprintf(err, errlen, "%s: \"recipients\" is not a list of addresses", e->json);
	else {
		json_array_foreach(rcpts, i, r)
			if (!json_is_string(r) || !*json_string_value(r) ||
			    !address_ok(json_string_value(r))) {
				snprintf(err, errlen, "%s: recipient %zu is not an address", e->json, i + 1);
				return false;
			}
		e->rcpt_count = json_array_size(rcpts);
		return true;
	}
	return false;
}

/* read_meta - load E's ID.json into E->meta; false with ERR set. */
static bool read_meta(struct qentry *e, char *err, size_t errlen)
{
	json_error_t jerr;
	struct stat st;

	json_decref(e->meta);
	e->meta = NULL;
	if (stat(e->json, &st) != 0) {
		if (errno == ENOENT && access(e->eml, F_OK) == 0)
			snprintf(err, errlen, "%s has no metadata %s (a message being written, or "
				 "damaged): nothing done", e->eml, e->json);
		else
			snprintf(err, errlen, "%s: %s", e->json, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > QSTORE_META_MAX) {
		snprintf(err, errlen, "%s: not a metadata file", e->json);
		return false;
	}
	e->meta = json_load_file(e->json, JSON_REJECT_DUPLICATES, &jerr);
	if (!e->meta) {
		snprintf(err, errlen, "%s: not JSON (line %d, column %d: %s): nothing done", e->json,
			 jerr.line, jerr.column, jerr.text);
		return false;
	}
	return check_meta(e, err, errlen);
}

/* start_entry - an empty OUT (safe to qentry_free), and is ID an id? False with ERR set. */
static bool start_entry(const char *id, struct qentry *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->lock_fd = -1;
	if (qstore_valid_id(id))
		return true;
	snprintf(err, errlen, "invalid message id \"%s\" (letters, digits, '_' and '-' only)", id);
	return false;
}

/* qstore_load - ROOT/FOLDER/ID and its metadata. */
bool qstore_load(const char *root, const char *folder, const char *id, struct qentry *out,
		 char *err, size_t errlen)
{
	if (!start_entry(id, out, err, errlen))
		return false;
	if (!qstore_valid_folder(folder)) {
		snprintf(err, errlen, "invalid folder name \"%s\"", folder);
		return false;
	}
	out->folder = xstrdup(folder);
	out->id = xstrdup(id);
	out->dir = xasprintf("%s/%s", root, folder);
	out->eml = xasprintf("%s/%s.eml", out->dir, id);
	out->json = xasprintf("%s/%s.json", out->dir, id);
	return read_meta(out, err, errlen);
}

/* is_folder - does the entry NAME of ROOT name a quarantine folder? */
static bool is_folder(const char *root, const char *name)
{
	char *path;
	struct stat st;
	bool yes;

	if (!qstore_valid_folder(name))
		return false;
	path = xasprintf("%s/%s", root, name);
	yes = lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
	free(path);
	return yes;
}

/* has_file - does ROOT/FOLDER/ID.EXT exist? */
static bool has_file(const char *root, const char *folder, const char *id, const char *ext)
{
	char *path = xasprintf("%s/%s/%s.%s", root, folder, id, ext);
	bool yes = access(path, F_OK) == 0;

	free(path);
	return yes;
}

/* list_names - the sorted entries of DIR (scandir); -1 with ERR set. */
static int list_names(const char *dir, struct dirent ***names, char *err, size_t errlen)
{
	int n = scandir(dir, names, NULL, alphasort), e = errno;

	if (n < 0)
		snprintf(err, errlen, "cannot read %s: %s", dir, strerror(e));
	errno = e;
	return n;
}

/* free_names - what list_names returned. */
static void free_names(struct dirent **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* qstore_find - ID in FOLDER, or in the one folder of ROOT that has it. */
bool qstore_find(const char *root, const char *folder, const char *id, struct qentry *out,
		 char *err, size_t errlen)
{
	struct dirent **names;
	const char *found = NULL;
	int n, hits = 0;
	bool ok;

	if (!start_entry(id, out, err, errlen))
		return false;
	if (folder)
		return qstore_load(root, folder, id, out, err, errlen);
	if ((n = list_names(root, &names, err, errlen)) < 0) {
		if (errno == ENOENT)
			snprintf(err, errlen, "no message %s in the quarantine", id);
		return false;
	}
	for (int i = 0; i < n; i++)
		if (is_folder(root, names[i]->d_name) &&
		    (has_file(root, names[i]->d_name, id, "json") ||
		     has_file(root, names[i]->d_name, id, "eml")) && hits++ == 0)
			found = names[i]->d_name;
	if (hits > 1)
		snprintf(err, errlen, "%s is in %d folders: say which with --folder", id, hits);
	else if (!found)
		snprintf(err, errlen, "no message %s in the quarantine", id);
	ok = hits == 1 && qstore_load(root, found, id, out, err, errlen);
	free_names(names, n);
	return ok;
}

/* being_written - is ROOT/FOLDER/ID.eml younger than QSTORE_WRITE_GRACE (its .json may follow)? */
static bool being_written(const char *root, const char *folder, const char *id)
{
	char *path = xasprintf("%s/%s/%s.eml", root, folder, id);
	struct stat st;
	bool young = stat(path, &st) == 0 && time(NULL) - st.st_mtime < QSTORE_WRITE_GRACE;

	free(path);
	return young;
}

/* scan_name - the directory entry NAME of ROOT/FOLDER: a message, a problem, or nothing. */
static void scan_name(const char *root, const char *folder, char *name, qstore_visit_fn visit,
		      void *arg)
{
	char *dot = strrchr(name, '.'), problem[1024];
	struct qentry e = { .lock_fd = -1 };

	if (name[0] == '.' || !dot || (strcmp(dot, ".json") && strcmp(dot, ".eml")))
		return;         /* .tmp-* files being written, and anything else */
	*dot = '\0';
	if (strcmp(dot + 1, "json") == 0) {
		if (qstore_load(root, folder, name, &e, problem, sizeof(problem)))
			visit(arg, &e, NULL);
		else
			visit(arg, NULL, problem);
		qentry_free(&e);
	} else if (!has_file(root, folder, name, "json") && !being_written(root, folder, name)) {
		snprintf(problem, sizeof(problem), "%s/%s/%s.eml has no metadata %s.json (a "
			 "message being written, or damaged)", root, folder, name, name);
		visit(arg, NULL, problem);
	}
}

/* scan_folder - every message of ROOT/FOLDER through VISIT. */
static bool scan_folder(const char *root, const char *folder, qstore_visit_fn visit, void *arg,
			char *err, size_t errlen)
{
	char *dir = xasprintf("%s/%s", root, folder);
	struct dirent **names;
	int n = list_names(dir, &names, err, errlen);

	free(dir);
	for (int i = 0; i < n; i++)
		scan_name(root, folder, names[i]->d_name, visit, arg);
	if (n >= 0)
		free_names(names, n);
	return n >= 0;
}

/* qstore_scan - the messages of every folder (or FOLDER) of ROOT. */
bool qstore_scan(const char *root, const char *folder, qstore_visit_fn visit, void *arg,
		 char *err, size_t errlen)
{
	struct dirent **names;
	int n;
	bool ok = true;

	if (folder && !qstore_valid_folder(folder)) {
		snprintf(err, errlen, "invalid folder name \"%s\"", folder);
		return false;
	}
	if (folder)
		return scan_folder(root, folder, visit, arg, err, errlen);
	if ((n = list_names(root, &names, err, errlen)) < 0)
		return errno == ENOENT;
	for (int i = 0; i < n && ok; i++)
		if (is_folder(root, names[i]->d_name))
			ok = scan_folder(root, names[i]->d_name, visit, arg, err, errlen);
	free_names(names, n);
	return ok;
}

/* qstore_claim - an exclusive flock on ID.eml, then the metadata read again. */
bool qstore_claim(struct qentry *e, char *err, size_t errlen)
{
	struct stat held, now;
	int fd = open(e->eml, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", e->eml, errno == ENOENT
			 ? "gone (deleted by another process?)" : strerror(errno));
		return false;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen, "%s is being released or deleted by another process%s%s",
			 e->id, errno == EWOULDBLOCK ? "" : ": ",
			 errno == EWOULDBLOCK ? "" : strerror(errno));
		close(fd);
		return false;
	}
	if (fstat(fd, &held) != 0 || stat(e->eml, &now) != 0 || held.st_ino != now.st_ino ||
	    held.st_dev != now.st_dev) {
		snprintf(err, errlen, "%s: gone (deleted by another process?)", e->eml);
		close(fd);
		return false;
	}
	e->lock_fd = fd;
	return read_meta(e, err, errlen);
}

/* same_secret - A and B equal, in a time that does not depend on where they differ. */
static bool same_secret(const char *a, const char *b)
{
	size_t n = strlen(a);
	unsigned char diff = n != strlen(b);

	for (size_t i = 0; i < n && b[i]; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* split_release - "ID TOKEN" (spaces around) into ID and TOKEN; false unless well formed. */
static bool split_release(const char *value, char *id, char *token)
{
	size_t n = 0;

	value += strspn(value, " \t");
	while (n < QSTORE_ID_MAX && id_byte(value[n]))
		n++;
	memcpy(id, value, n);
	id[n] = '\0';
	value += n;
	if (!qstore_valid_id(id) || !strchr(" \t", *value) || !*value)
		return false;
	value += strspn(value, " \t");
	if (strspn(value, "0123456789abcdef") != 32)
		return false;
	memcpy(token, value, 32);
	token[32] = '\0';
	value += 32;
	return value[strspn(value, " \t\r\n")] == '\0';
}

/* qstore_token_valid - VALUE names a message of ROOT and its live token. */
bool qstore_token_valid(const char *root, const char *value, time_t now)
{
	char id[QSTORE_ID_MAX + 1], token[33], err[512];
	struct qentry e;
	json_t *t;
	time_t expires;
	bool ok = false;

	if (!value || !split_release(value, id, token))
		return false;
	if (qstore_find(root, NULL, id, &e, err, sizeof(err))) {
		t = json_object_get(e.meta, "release_token");
		ok = json_is_string(json_object_get(t, "token")) &&
		     parse_time(json_string_value(json_object_get(t, "expires")), &expires) &&
		     now < expires && expires - now <= QSTORE_TOKEN_TTL &&
		     same_secret(json_string_value(json_object_get(t, "token")), token);
	}
	qentry_free(&e);
	return ok;
}

/* qentry_free - everything E owns. */
void qentry_free(struct qentry *e)
{
	if (e->lock_fd >= 0)
		close(e->lock_fd);
	json_decref(e->meta);
	free(e->folder);
	free(e->id);
	free(e->dir);
	free(e->eml);
	free(e->json);
	memset(e, 0, sizeof(*e));
	e->lock_fd = -1;
}
