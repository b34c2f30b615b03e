/*
 * list_file.h - read a list file: the entries of a policy list kept in a
 * file of their own ({"file": "/etc/milter-delegate/blocked-nets.txt"}).
 *
 * Format: one entry per line; leading and trailing blanks (spaces, tabs, a
 * CR before the LF) are dropped; empty lines and lines whose first non-blank
 * character is '#' are skipped. Limits: a line of at most LIST_FILE_MAX_LINE
 * bytes, at most LIST_FILE_MAX_ENTRIES entries, a file of at most
 * LIST_FILE_MAX_BYTES; no NUL byte.
 *
 * A file that is missing, not a regular file, writable by everyone, too big
 * or unreadable is refused as a whole (the reason goes back to the caller,
 * which reports it at the policy's "file" member). A bad line is reported
 * as "PATH:LINE: what was expected" into the load errors, at most
 * LIST_FILE_MAX_ERRORS per file, then one line saying how many more.
 *
 * The caller owns every buffer; nothing is kept after the call. Thread-safe.
 */
#ifndef MD_LIST_FILE_H
#define MD_LIST_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "policy_load.h"        /* struct load_errors */

#define LIST_FILE_MAX_LINE 1024
#define LIST_FILE_MAX_ENTRIES 1000000
#define LIST_FILE_MAX_BYTES (64 * 1024 * 1024)
#define LIST_FILE_MAX_ERRORS 20

/*
 * One entry (a NUL-terminated, trimmed line, valid during the call): take
 * it and return true, or return false with what was expected in ERR.
 */
typedef bool list_entry_fn(void *arg, const char *entry, char *err, size_t errlen);

/*
 * list_file_read - give every entry of PATH to EACH. Returns -1 when the
 * file is refused (the reason in WHY), else the number of bad lines (each
 * reported into ERRS). *ENTRIES counts the entries taken.
 */
int list_file_read(const char *path, list_entry_fn *each, void *arg, struct load_errors *errs,
		   size_t *entries, char *why, size_t whylen);

#endif
