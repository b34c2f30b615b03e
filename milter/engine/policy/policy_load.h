/*
 * policy_load.h - read a JSON policy file, validate it, build a struct policy.
 *
 * Loading never stops at the first problem: every error found is collected,
 * each formatted as
 *     FILE:LINE:COLUMN: JSON.PATH: what was expected
 * e.g. "policy.json:12:20: stages.eom[0].then.service: unknown service
 * \"clamav\"; defined services: clamsmtpd". A policy is returned only when
 * there is no error at all.
 *
 * Ownership: the caller owns the returned policy (one reference; release with
 * policy_unref) and the error list (load_errors_free). Loading touches no
 * global state and may run in any thread. The error list and the file
 * reading (load_errors_add, load_read_json_file) serve the shim's settings
 * loader too, so both files are reported in the same words.
 */
#ifndef MD_POLICY_LOAD_H
#define MD_POLICY_LOAD_H

#include <stddef.h>

#include "policy.h"

struct load_errors {
	size_t count;
	char **items;           /* formatted messages, owned */
};

/* policy_load_file - load PATH; NULL when any error was found (see ERRS). */
struct policy *policy_load_file(const char *path, struct load_errors *errs);

/* policy_load_text - load policy source TEXT, naming it NAME in messages. */
struct policy *policy_load_text(const char *text, const char *name,
				struct load_errors *errs);

/* load_errors_add - append one printf-formatted message to ERRS (out of memory aborts). */
void load_errors_add(struct load_errors *errs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * load_read_json_file - the whole text of the JSON file PATH (at most
 * MAX_BYTES), for the caller to free(); or NULL after adding to ERRS
 * "PATH: cannot read WHAT: REASON", or for an empty file
 * "PATH:1:1: syntax error: empty file (expected a JSON object)".
 */
char *load_read_json_file(const char *path, size_t max_bytes, const char *what,
			  struct load_errors *errs);

/* load_errors_free - release the messages; the struct itself is the caller's. */
void load_errors_free(struct load_errors *errs);

/* policy_summary - one line describing a loaded policy, for `-t` and logs. */
void policy_summary(const struct policy *p, char *buf, size_t len);

#endif
