/*
 * qtool.h - milter-delegate-quarantine, the admin's tool for the quarantine
 * both daemons write (layout and ids: qstore.h): list, show, release,
 * delete, expire. One file per command family:
 *
 *	qtool_main.c     options, the policy, the permission check, dispatch
 *	qtool_list.c     list and show (and the filters they share with expire)
 *	qtool_release.c  release: SMTP (libcurl), sendmail, or the shim's next hop
 *	qtool_remove.c   delete and expire
 *
 * Every command returns its exit status: 0 done, 1 something failed (each
 * failure said on stderr as "milter-delegate-quarantine: ..."), 2 a usage
 * error. Commands that change the quarantine claim each message first
 * (qstore_claim). The struct qtool is filled once by main and read-only
 * afterwards; the program is single-threaded.
 */
#ifndef MD_QTOOL_H
#define MD_QTOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "netaddr.h"
#include "qstore.h"

#define QTOOL_NAME "milter-delegate-quarantine"

/* The command line and what it derives from the policy. */
struct qtool {
	const char *policy_path;        /* -c */
	const char *root;               /* the quarantine root (-q, or the policy's) */
	const char *spool_dir;          /* the policy's: the shim's relayed copy */
	struct endpoint to;             /* --to (owned), or no host */
	struct endpoint release_to;     /* --to, or the policy's release_to (borrowed) */
	const char *folder;             /* -F: only this folder */
	const char *sender, *rcpt, *rule;       /* list filters: substrings, exact rule */
	int64_t older_ms, newer_ms;     /* list filters, expire's age; -1: none */
	const char *sendmail;           /* release through this sendmail; NULL: SMTP */
	const char *shim_config;        /* release through this shim.json's next hop */
	uint64_t timeout_ms;            /* one release (SMTP) */
	bool json, raw, force, dry_run;
	bool token;                     /* release with a one-time token (qstore.h) */
	time_t now;
};

/* qtool_filter_match - does E pass the list filters (folder aside) of Q? */
bool qtool_filter_match(const struct qtool *q, const struct qentry *e);

/* qtool_fail - print "milter-delegate-quarantine: " and the message to stderr; returns 1. */
int qtool_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* qtool_user - who runs the tool, for release records: "root" or "alice (sudo from bob)". */
const char *qtool_user(void);

/* The commands: ARGS are the arguments after the command's name (ids). */
int qtool_list(const struct qtool *q, int argc, char **args);
int qtool_show(const struct qtool *q, int argc, char **args);
int qtool_release(const struct qtool *q, int argc, char **args);
int qtool_delete(const struct qtool *q, int argc, char **args);
int qtool_expire(const struct qtool *q, int argc, char **args);

#endif
