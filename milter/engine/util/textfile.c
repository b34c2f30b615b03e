/*
 * textfile.c - read a small text file whole, with a size limit, so a policy
 * or a settings file is parsed from memory and a huge one is refused before
 * it is read. The text returned belongs to the caller.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "textfile.h"
#include "xalloc.h"

/* read_open - the rest of F into a new NUL-terminated buffer of SIZE bytes; NULL with errno. */
static char *read_open(FILE *f, size_t size)
{
	char *text = xmalloc(size + 1);
	size_t n;

	errno = 0;
	n = fread(text, 1, size, f);
	if (ferror(f)) {
		free(text);
		errno = errno ? errno : EIO;
		return NULL;
	}
	text[n] = '\0';
	return text;
}

/* textfile_read - the whole of PATH (at most MAX_BYTES), NUL-terminated; NULL with errno set. */
char *textfile_read(const char *path, size_t max_bytes)
{
	FILE *f = fopen(path, "re");
	struct stat st;
	char *text = NULL;
	int saved;

	if (!f)
		return NULL;
	if (fstat(fileno(f), &st) == 0) {
		if (st.st_size < 0 || (unsigned long long)st.st_size > max_bytes)
			errno = EFBIG;
		else
			text = read_open(f, (size_t)st.st_size);
	}
	saved = errno;
	fclose(f);              /* read only: nothing is lost if it fails */
	errno = saved;
	return text;
}
