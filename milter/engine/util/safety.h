/*
 * safety.h - refuse files and folders that anyone on the machine could
 * change: a world-writable policy file would let any local user rewrite the
 * policy; a world-writable spool or quarantine folder would let them plant
 * or swap messages. Postfix refuses such files too.
 *
 * Pure checks on the file system; thread-safe.
 */
#ifndef MD_SAFETY_H
#define MD_SAFETY_H

#include <stdbool.h>
#include <stddef.h>

/*
 * safety_check_path - false, with the reason in ERR, when PATH is writable
 * by everyone. A PATH that does not exist passes (it is created later with
 * safe modes, or reported by whoever needs it).
 */
bool safety_check_path(const char *path, const char *what, char *err, size_t errlen);

#endif
