/*
 * daemon_check.h - the start-up checks both daemons (and their -t) run on
 * what start-up needs from the machine: the run-as user (-u), the policy's
 * spool and quarantine folders, its receiver addresses, the folders of pid
 * file and socket. A start that would fail later (every message getting
 * 451 because the spool folder is missing, a socket nobody can remove at
 * stop) fails here instead, with the reason, before the daemon detaches.
 *
 * "Writable by the user" is tested for real: a child process takes the
 * user's ids exactly as daemon_drop_privileges() will (its uid, its group
 * as the only group) and calls access(2), so ACLs and read-only mounts
 * count too. Without -u the current user is the one tested.
 *
 * Checking and preparing. With DAEMON_CHECK (-t) nothing is changed: a
 * missing folder passes if start-up could create it. With DAEMON_PREPARE
 * (start-up, as root) a missing folder is created: spool and quarantine
 * with any missing parents (0755), the folder itself 0700 and owned by the
 * run-as user; socket and pid file folders only when their parent exists.
 * A folder that exists is never changed: if the user cannot write it, that
 * is an error to fix, not something to chown silently.
 *
 * Errors go into a struct load_errors (policy_load.h), every one of them,
 * each a whole sentence naming the path: "spool folder (settings.spool_dir)
 * /var/spool/md: not writable by user milter-delegate: Permission denied".
 * Call during start-up, before threads exist (they fork).
 */
#ifndef MD_DAEMON_CHECK_H
#define MD_DAEMON_CHECK_H

#include <stdbool.h>
#include <sys/types.h>

#include "policy.h"
#include "policy_load.h"

/* The user a daemon runs as: -u USER, or (NAME NULL) whoever started it. */
struct run_as {
	const char *name;       /* borrowed; NULL: the current user, ids not changed */
	uid_t uid;
	gid_t gid;              /* the user's group: the only group it keeps */
};

enum daemon_check_mode { DAEMON_CHECK, DAEMON_PREPARE };

/* How a folder the daemon writes to should look once created. */
struct folder_spec {
	const char *what;       /* "spool folder (settings.spool_dir)" */
	mode_t mode;            /* of the folder itself when created */
	gid_t group;            /* its group when created; (gid_t)-1: the user's */
	bool parents;           /* may create missing parents too (0755, root's) */
};

/* run_as_lookup - fill U for USER (NULL: the current user); false, with the error added, if unknown. */
bool run_as_lookup(const char *user, struct run_as *u, struct load_errors *errs);

/* run_as_describe - "user NAME" or "the current user", for messages. */
const char *run_as_describe(const struct run_as *u, char *buf, size_t len);

/*
 * daemon_check_folder - PATH is a folder U can write and search; see the
 * header comment for what MODE changes. False, with the error added, if not.
 */
bool daemon_check_folder(const char *path, const struct folder_spec *spec,
			 const struct run_as *u, enum daemon_check_mode mode,
			 struct load_errors *errs);

/* daemon_check_readable - U can read the file PATH (WHAT names it); false, with the error added, if not. */
bool daemon_check_readable(const char *path, const char *what, const struct run_as *u,
			   struct load_errors *errs);

/*
 * daemon_check_policy - P's spool and quarantine folders (as above) and its
 * receivers' addresses (each host one this machine can bind; whether the
 * port is free is known only when start-up binds it). For -u, also that U
 * can read the policy file, or SIGHUP reloads would fail. True if no error.
 */
bool daemon_check_policy(const struct policy *p, const struct run_as *u,
			 enum daemon_check_mode mode, struct load_errors *errs);

/*
 * daemon_check_file_folder - the folder of the file PATH (a pid file, a
 * socket) exists, or (PREPARE) is created from SPEC when its parent exists,
 * and U can write it: the daemon removes the file there at stop, as U.
 */
bool daemon_check_file_folder(const char *path, const struct folder_spec *spec,
			      const struct run_as *u, enum daemon_check_mode mode,
			      struct load_errors *errs);

/*
 * daemon_check_report - log every error in ERRS and, when OK is false, the
 * summary "start-up failed: N errors"; frees ERRS' items. Returns OK.
 */
bool daemon_check_report(struct load_errors *errs, bool ok);

/*
 * daemon_check_print - the same for -t, on stderr: every error in ERRS on
 * a line of its own and, when OK is false, "N errors: FAILED" (FAILED says
 * what did not happen: "policy not loaded"); frees ERRS' items. Returns OK.
 */
bool daemon_check_print(struct load_errors *errs, bool ok, const char *failed);

/* What a daemon checks besides its policy; OPTS is the daemon's own options. */
typedef bool (*daemon_check_fn)(const void *opts, const struct policy *p,
				enum daemon_check_mode mode, struct load_errors *errs);

/*
 * daemon_check_policy_file - the -t mode's policy step: load PATH, print
 * its summary line (stdout) or every error (stderr), then run CHECK in
 * DAEMON_CHECK mode and print its errors with "PROGRAM would not start".
 * True when the policy loaded and CHECK passed.
 */
bool daemon_check_policy_file(const char *path, const char *program, daemon_check_fn check,
			      const void *opts);

#endif
