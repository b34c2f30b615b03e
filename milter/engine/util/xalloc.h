/*
 * xalloc.h - memory allocation that succeeds or ends the process.
 *
 * Each function does what its libc namesake does, but never returns NULL:
 * when memory runs out it logs "out of memory" (log.h, LOG_ERR) with what
 * was asked for, then aborts, as Postfix's mymalloc() ends in msg_fatal().
 * A dead milter is a tempfail at the MTA; a dead shim refuses no mail it
 * has answered 250 for. A request for zero bytes is served as one byte, so
 * the result is always a pointer the caller may free().
 *
 * Ownership: the caller owns (and free()s) every result; xrealloc takes P
 * over and returns its replacement. All functions are thread-safe.
 */
#ifndef MD_XALLOC_H
#define MD_XALLOC_H

#include <stdarg.h>
#include <stddef.h>

/* xmalloc - malloc(SIZE). */
void *xmalloc(size_t size);

/* xcalloc - calloc(COUNT, SIZE): zeroed, the product checked for overflow. */
void *xcalloc(size_t count, size_t size);

/* xrealloc - realloc(P, SIZE); P may be NULL. */
void *xrealloc(void *p, size_t size);

/* xreallocarray - P resized to COUNT elements of SIZE, the product checked for overflow. */
void *xreallocarray(void *p, size_t count, size_t size);

/* xstrdup - strdup(S). */
char *xstrdup(const char *s);

/* xstrndup - strndup(S, N): at most N bytes of S, NUL-terminated. */
char *xstrndup(const char *s, size_t n);

/* xasprintf - asprintf's result (printf format), never NULL. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* xvasprintf - the same with a va_list. */
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
