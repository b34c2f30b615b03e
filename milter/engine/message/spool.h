/*
 * spool.h - the one place where message text is kept and files are written
 * for the product: the transaction's copy of a message, the receiver's
 * copies from delegates, the shim's relayed copy, and the durable files of
 * quarantine and Maildir delivery.
 *
 * A spool keeps text in memory up to MEM_MAX bytes, then in a file
 * "PREFIX.XXXXXX" in its folder (created 0600 with O_CLOEXEC). MEM_MAX 0
 * means a file from the start. Most messages are small and decided by rules
 * that never need a file: creating, writing and unlinking one per message
 * was the milter's largest cost (ext4 inode allocation). Working spools
 * are never fsync'ed: the MTA (or the shim's client) keeps the message
 * until it hears our answer.
 *
 *	struct spool *s = spool_new(dir, "md", 64 * 1024);
 *	spool_write(s, text, len); ...
 *	spool_finish(s);                // complete: flushed, file closed
 *	FILE *in = spool_open(s);       // read it from the start (memory or file)
 *	const char *path = spool_path(s);       // as a file, written out now
 *	int fd = spool_fd(s);           // as a descriptor: no file made for memory
 *	spool_free(s);                  // memory freed, file unlinked
 *
 * Errors. The first failure (create, write) is kept with its reason,
 * spool_error(); later writes are ignored and spool_ok() stays false. Out
 * of memory aborts.
 *
 * Publishing. spool_publish() writes a file durably: into a temporary file
 * (in the target folder, or another on the same file system: Maildir's
 * tmp/), fsync, rename to the final name, fsync of the target folder. A
 * crash leaves the whole file or none; on failure nothing is left behind.
 *
 * Ownership: a spool owns its memory and file; spool_release() hands the
 * file over to the caller. The strings given to spool_new are copied. A
 * spool belongs to one thread at a time; the other functions are
 * thread-safe (they work on their own files).
 */
#ifndef MD_SPOOL_H
#define MD_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SPOOL_MEMORY_MAX (64 * 1024)    /* what the transaction keeps in memory */

struct spool;

/* spool_new - an empty spool in folder DIR, files named PREFIX.XXXXXX (MEM_MAX: see above). */
struct spool *spool_new(const char *dir, const char *prefix, size_t mem_max);

/* spool_write - append LEN bytes; false once the spool has failed. */
bool spool_write(struct spool *s, const void *data, size_t len);

/* spool_finish - the text is complete: flush and close the file; false if anything failed. */
bool spool_finish(struct spool *s);

/*
 * spool_path - the text as a file: written out now if it was in memory
 * (the spool keeps taking writes). NULL when the file could not be written.
 */
const char *spool_path(struct spool *s);

/*
 * spool_open - a stream reading the text from its start (the caller fcloses
 * it); NULL on error. Text in memory is read in place: close the stream
 * before the next spool_write or spool_path.
 */
FILE *spool_open(struct spool *s);

/*
 * spool_fd - a descriptor reading the text from its start (the caller
 * closes it), for a reader that needs no path: the file's, or for text
 * still in memory an anonymous memory file (memfd) holding a copy, so that
 * no file is made in the folder. -1 (errno set) on failure.
 */
int spool_fd(struct spool *s);

/* spool_size - bytes written so far. */
uint64_t spool_size(const struct spool *s);

/* spool_ok - no failure so far. */
bool spool_ok(const struct spool *s);

/* spool_error - the first failure ("cannot create a spool file in DIR: ..."), or "". */
const char *spool_error(const struct spool *s);

/*
 * spool_release - finish S as a file and hand the file to the caller, who
 * then owns (frees, unlinks) the returned path; S is freed either way.
 * NULL when the file could not be written (and nothing is left).
 */
char *spool_release(struct spool *s);

/* spool_free - free the memory, unlink the file; S may be NULL. */
void spool_free(struct spool *s);

/*
 * spool_fill_fn - write a file's content into FD; false on failure, with
 * the reason in ERR or left empty (errno then says it).
 */
typedef bool (*spool_fill_fn)(int fd, void *arg, char *err, size_t errlen);

/*
 * spool_publish - write DIR/NAME durably with FILL (see Publishing). The
 * temporary file is TMP_DIR/NAME, or DIR/.tmp-NAME when TMP_DIR is NULL;
 * it is created 0600 and must not exist. False, with the reason in ERR.
 */
bool spool_publish(const char *dir, const char *name, const char *tmp_dir, spool_fill_fn fill,
		   void *arg, char *err, size_t errlen);

/* spool_write_fd - all LEN bytes of DATA to FD (EINTR retried); false with errno. */
bool spool_write_fd(int fd, const void *data, size_t len);

/* spool_copy_file - the whole file PATH to FD; false with errno. */
bool spool_copy_file(const char *path, int fd);

/* spool_make_dir - mkdir PATH 0700 unless it exists; false with the reason in ERR. */
bool spool_make_dir(const char *path, char *err, size_t errlen);

#endif
