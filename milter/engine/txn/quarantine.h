/*
 * quarantine.h - keep a message in a quarantine folder, durably, and
 * recognise a release of one (the daemons' side of qstore.h, whose layout,
 * ids and release tokens these follow).
 *
 * <quarantine_dir>/<folder>/<id>.eml holds the message as it would be
 * delivered at that point (txn_message_path: the original with the fields
 * imported so far, or a "deliver": "copy" delegate's copy; the policy's own
 * header edits are the front end's and not in it) and <id>.json its
 * metadata: envelope, client, queue id, rule, reason, time and the header
 * fields delegates added. The .eml is published first, the .json second,
 * each written to a temporary name, fsync'ed and renamed, then the folder
 * fsync'ed: a crash leaves either the whole file or none. Folders are
 * created 0700 and files 0600 (quarantined mail is not for every local user).
 * The id goes to the transaction (txn_set_quarantine_id) for the log line.
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
