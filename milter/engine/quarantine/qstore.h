/*
 * qstore.h - the quarantine as files: the one definition of its layout, of
 * its message ids, and of how a message is read, claimed, marked released
 * and removed. The daemons write it (quarantine.c); the admin tool
 * (milter-delegate-quarantine) reads and changes it.
 *
 * LAYOUT
 *	ROOT/FOLDER/ID.eml   the message (headers, empty line, body; CRLF)
 *	ROOT/FOLDER/ID.json  its metadata: id, time, queue_id, client_addr,
 *	                     sender, recipients, rule, reason, folder, size,
 *	                     delegate_headers; after a release also
 *	                     "released": [{at, by, to, reply}, ...]
 *	ROOT/FOLDER/.tmp-*   a file being written (spool_publish): never read
 *
 *	ROOT is the policy's settings.quarantine_dir, FOLDER a quarantine
 *	action's "folder". The daemon publishes ID.eml first and ID.json
 *	second, each durably (temporary name, fsync, rename, fsync of the
 *	folder): a message exists once its ID.json does, and its ID.eml is
 *	then complete. An ID.eml without ID.json is a message being written
 *	(or one whose writer died): it is never read or removed, and scans
 *	report it once it is older than QSTORE_WRITE_GRACE.
 *
 * IDS
 *	"20261124T235959Z-QUEUEID-1a2b3c4d": the UTC time, the MTA's queue id
 *	with every byte outside [A-Za-z0-9_-] made '_', and 32 random bits.
 *	qstore_valid_id() accepts 1 to QSTORE_ID_MAX bytes of that alphabet,
 *	starting with a letter or digit: no '/', no '.', nothing a path or an
 *	option could be made of. Every id a user gives is checked with it
 *	before any file is touched.
 *
 * CLAIMS
 *	A claim (qstore_claim) is an exclusive, non-blocking flock(2) on the
 *	ID.eml, which is never rewritten; the kernel drops it when the holder
 *	dies, so no stale lock can remain. After locking, the metadata is read
 *	again, so a claimant sees what the previous holder wrote (a release
 *	mark). Release, delete and expire claim a message first: two releases
 *	of one id at once send it once (the second is told it is busy, or,
 *	coming later, that it was released already).
 *
 * RELEASE TOKENS
 *	A release into an MTA port where milter-delegate runs would be
 *	quarantined again. With a token (release --token), the tool writes
 *	"release_token": {"token": 32 hex digits from getrandom, "expires":
 *	time} into the message's metadata, under its claim, and sends the
 *	message with a first field "X-Milter-Delegate-Release: ID TOKEN". The
 *	daemons skip quarantine actions for a message with exactly one such
 *	field whose token is the live one of that id (qstore_token_valid).
 *	The tool removes the token when the release ends, sent or not: a token
 *	works for one release, for at most QSTORE_TOKEN_TTL seconds, only for
 *	its message, and 128 random bits are not guessed.
 *
 * OWNERSHIP AND THREADS
 *	A struct qentry owns its strings and its metadata (a jansson object,
 *	a new reference); qentry_free() releases them and the claim, and
 *	accepts an entry that was never filled. Functions work on their own
 *	files and are thread-safe; one entry belongs to one thread.
 *
 * DIAGNOSTICS
 *	Functions returning bool fill ERR with a whole sentence naming the
 *	file: "FOLDER/ID.json: not JSON (line 1, column 1: ...)", "no message
 *	ID in the quarantine", "ID is being released or deleted by another
 *	process".
 */
#ifndef MD_QSTORE_H
#define MD_QSTORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define QSTORE_ID_MAX 128               /* bytes of an id, without the NUL */
#define QSTORE_META_MAX (4 * 1024 * 1024) /* a metadata file larger than this is damaged */
#define QSTORE_TOKEN_TTL 600            /* s: a release token's life at most */
#define QSTORE_RELEASE_FIELD "X-Milter-Delegate-Release"
#define QSTORE_WRITE_GRACE 60           /* s: an ID.eml this young without ID.json is being written */

struct qentry {
	char *folder;                   /* the folder's name */
	char *id;
	char *dir;                      /* ROOT/FOLDER */
	char *eml;                      /* ROOT/FOLDER/ID.eml */
	char *json;                     /* ROOT/FOLDER/ID.json */
	json_t *meta;                   /* the metadata object (owned) */
	time_t when;                    /* the metadata's "time" */
	const char *sender;             /* borrowed from META: "" is the null sender */
	size_t rcpt_count;
	int lock_fd;                    /* the claim's descriptor, or -1 */
};

/* qstore_valid_id - is ID an id (see IDS)? */
bool qstore_valid_id(const char *id);

/* qstore_valid_folder - is NAME a folder name ("virus_q": [A-Za-z0-9._-], no leading '.')? */
bool qstore_valid_folder(const char *name);

/* qstore_make_id - a new id into BUF (LEN >= QSTORE_ID_MAX + 1) for NOW, QUEUE_ID (or NULL), RND. */
void qstore_make_id(char *buf, size_t len, time_t now, const char *queue_id, uint32_t rnd);

/* qstore_format_time - T as "2026-11-24T23:59:59Z" into BUF (at least 21 bytes). */
void qstore_format_time(time_t t, char *buf, size_t len);

/*
 * qstore_load - the message ROOT/FOLDER/ID into OUT (its metadata read and
 * checked: an object with "id" equal to ID, "time", "sender", and
 * "recipients", a non-empty array of addresses). False with ERR set.
 */
bool qstore_load(const char *root, const char *folder, const char *id, struct qentry *out,
		 char *err, size_t errlen);

/*
 * qstore_find - the message ID in any folder of ROOT (or only in FOLDER,
 * when not NULL). False with ERR set: an invalid id, no such message, an
 * ID.eml without its ID.json, metadata that is not JSON, an id in two
 * folders (give the folder).
 */
bool qstore_find(const char *root, const char *folder, const char *id, struct qentry *out,
		 char *err, size_t errlen);

/* A visitor of qstore_scan: an entry (borrowed for the call), or, with E NULL, a problem. */
typedef void (*qstore_visit_fn)(void *arg, const struct qentry *e, const char *problem);

/*
 * qstore_scan - every message of ROOT (only FOLDER's, when not NULL), folder
 * by folder in name order, each folder's ids in order (oldest first). A
 * message that cannot be read, and an ID.eml without its ID.json, are
 * reported through VISIT with E NULL; an ID.eml without ID.json younger
 * than QSTORE_WRITE_GRACE is passed over in silence (its ID.json follows). False (ERR set) when ROOT or FOLDER
 * cannot be read at all; a missing ROOT is an empty quarantine.
 */
bool qstore_scan(const char *root, const char *folder, qstore_visit_fn visit, void *arg,
		 char *err, size_t errlen);

/*
 * qstore_claim - take E's claim (see CLAIMS) and read its metadata again.
 * False with ERR set when another process holds it or the message has gone.
 */
bool qstore_claim(struct qentry *e, char *err, size_t errlen);

/* qstore_released - E's "released" array (borrowed), or NULL when never released. */
json_t *qstore_released(const struct qentry *e);

/*
 * qstore_mark_released - append {at, by, to, reply} to E's "released" and
 * publish the metadata again (durably, replacing ID.json at once). E must
 * be claimed. False with ERR set; the old metadata then stays.
 */
bool qstore_mark_released(struct qentry *e, const char *by, const char *to, const char *reply,
			  char *err, size_t errlen);

/*
 * qstore_publish_meta - write META as DIR/ID.json durably (spool_publish),
 * replacing the file at once when it exists. False with ERR set.
 */
bool qstore_publish_meta(const char *dir, const char *id, json_t *meta, char *err, size_t errlen);

/*
 * qstore_set_token - a new release token for E (claimed) into TOKEN (33
 * bytes), published in its metadata; with TOKEN NULL, the token removed.
 * False with ERR set.
 */
bool qstore_set_token(struct qentry *e, char *token, char *err, size_t errlen);

/*
 * qstore_token_valid - does VALUE, a release field's value "ID TOKEN", name
 * a message of ROOT whose metadata holds that live token at NOW? Reads only;
 * thread-safe.
 */
bool qstore_token_valid(const char *root, const char *value, time_t now);

/* qstore_remove - unlink E's ID.json, then its ID.eml (E claimed). False with ERR set. */
bool qstore_remove(struct qentry *e, char *err, size_t errlen);

/* qentry_free - the strings, the metadata and the claim of E; E itself is not freed. */
void qentry_free(struct qentry *e);

#endif
