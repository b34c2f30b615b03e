/*
 * json_pos.h - find where a value sits in JSON source text, by its path.
 *
 * jansson reports line and column for syntax errors only; a policy error found
 * later ("unknown service") must still name its line and column. These
 * functions re-scan the (already valid) source text to locate a value by its
 * path of object keys and array indexes, the way jansson resolved it: for a
 * duplicated key the last occurrence wins. Columns count UTF-8 characters,
 * as jansson's do; lines and columns are 1-based.
 *
 * Paths are arrays of struct json_seg owned by the caller. All functions are
 * pure and thread-safe.
 */
#ifndef MD_JSON_POS_H
#define MD_JSON_POS_H

#include <stdbool.h>
#include <stddef.h>

struct json_seg {
	const char *key;        /* object member name, or NULL for an array index */
	size_t index;
};

/*
 * json_pos_find - locate PATH (DEPTH segments) in TEXT. With AT_KEY and a
 * last segment that is a key, the position is that of the member's name
 * rather than its value. Returns false when the path does not exist.
 */
bool json_pos_find(const char *text, const struct json_seg *path, size_t depth,
		   bool at_key, unsigned *line, unsigned *column);

/* json_path_format - "stages.eom[0].then" into BUF (always terminated). */
void json_path_format(const struct json_seg *path, size_t depth, char *buf, size_t len);

#endif
