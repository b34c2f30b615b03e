/*
 * textfile.h - read a small text file (a policy, the shim settings) whole.
 *
 * The caller owns the returned text and frees it with free(). Thread-safe
 * (no state of its own).
 */
#ifndef MD_TEXTFILE_H
#define MD_TEXTFILE_H

#include <stddef.h>

/*
 * textfile_read - the whole of PATH, NUL-terminated, if it holds at most
 * MAX_BYTES bytes. NULL with errno set otherwise: that of open or read,
 * EFBIG when the file is larger than MAX_BYTES, ENOMEM, or EIO.
 */
char *textfile_read(const char *path, size_t max_bytes);

#endif
