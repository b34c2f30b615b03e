/*
 * quarantine.h - keep a message in a quarantine folder, durably.
 *
 * <quarantine_dir>/<folder>/<id>.eml holds the message (the latest copy, as
 * the delegate returned it) and <id>.json its metadata: envelope, client,
 * queue id, rule, reason, time and the header fields delegates added. Each
 * file is written to a temporary name, fsync'ed and renamed, then the folder
 * is fsync'ed: a crash leaves either the whole file or none. Folders are
 * created 0700 and files 0600 (quarantined mail is not for every local user).
 *
 * Thread-safe: every call works on its own files with unique names.
 */
#ifndef MD_QUARANTINE_H
#define MD_QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>

#include "txn.h"

/*
 * quarantine_store - txn_env hook: store T's current message for ACTION (a
 * quarantine action naming a folder). False, with the reason in ERR, when
 * anything could not be written; nothing half-written is left behind.
 */
bool quarantine_store(void *arg, struct txn *t, const struct action *action,
		      const char *rule, char *err, size_t errlen);

/*
 * quarantine_release_vouched - is T's message a release by
 * milter-delegate-quarantine with a live token (qstore.h, RELEASE TOKENS)?
 * Its quarantine actions are then skipped. Reads the quarantine only.
 */
bool quarantine_release_vouched(const struct txn *t);

#endif
