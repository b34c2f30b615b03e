/*
 * xalloc.c - allocation that logs "out of memory" and aborts on failure
 * (see xalloc.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"

/* out_of_memory - the one way an allocation fails: say so, then die. */
static void __attribute__((noreturn)) out_of_memory(const char *what, size_t size)
{
	log_msg(LOG_ERR, "out of memory (%s of %zu bytes)", what, size);
	abort();
}

/* xmalloc - malloc or die. */
void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		out_of_memory("malloc", size);
	return p;
}

/* xcalloc - calloc or die. */
void *xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);

	if (!p)
		out_of_memory("calloc", count * size);
	return p;
}

/* xrealloc - realloc or die. */
void *xrealloc(void *p, size_t size)
{
	void *grown = realloc(p, size ? size : 1);

	if (!grown)
		out_of_memory("realloc", size);
	return grown;
}

/* xreallocarray - reallocarray or die. */
void *xreallocarray(void *p, size_t count, size_t size)
{
	if (size && count > (size_t)-1 / size)
		out_of_memory("reallocarray (overflow)", (size_t)-1);
	return xrealloc(p, count * size);
}

/* xstrdup - strdup or die. */
char *xstrdup(const char *s)
{
	char *copy = strdup(s);

	if (!copy)
		out_of_memory("strdup", strlen(s) + 1);
	return copy;
}

/* xstrndup - strndup or die. */
char *xstrndup(const char *s, size_t n)
{
	char *copy = strndup(s, n);

	if (!copy)
		out_of_memory("strndup", n + 1);
	return copy;
}

/* xvasprintf - vasprintf or die. */
char *xvasprintf(const char *fmt, va_list ap)
{
	char *text;

	if (vasprintf(&text, fmt, ap) < 0)
		out_of_memory("vasprintf", 0);
	return text;
}

/* xasprintf - asprintf or die. */
char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	return text;
}
