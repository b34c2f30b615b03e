/*
 * list_file.c - check and read a list file, one entry per line (see
 * list_file.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "list_file.h"
#include "safety.h"
#include "textfile.h"

/* One file being read: where the errors go and how many there were. */
struct reader {
	const char *path;
	struct load_errors *errs;
	unsigned line;
	int bad;
};

/* file_acceptable - may PATH be read as a list file? If not, false with the reason in WHY. */
static bool file_acceptable(const char *path, struct stat *st, char *why, size_t whylen)
{
	if (stat(path, st) != 0) {
		snprintf(why, whylen, "cannot read list file %s: %s", path, strerror(errno));
		return false;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(why, whylen, "list file %s is not a regular file", path);
		return false;
	}
	if (!safety_check_path(path, "list file", why, whylen))
		return false;
	if ((unsigned long long)st->st_size > LIST_FILE_MAX_BYTES) {
		snprintf(why, whylen, "list file %s is larger than %d MB", path,
			 LIST_FILE_MAX_BYTES / (1024 * 1024));
		return false;
	}
	return true;
}

/* line_error - report WHAT at the current line, up to the per-file limit. */
static void line_error(struct reader *r, const char *what)
{
	if (r->bad++ < LIST_FILE_MAX_ERRORS)
		load_errors_add(r->errs, "%s:%u: %s", r->path, r->line, what);
}

/* trim - LINE[0..*LEN) without leading and trailing blanks; NUL-terminates it. */
static char *trim(char *line, size_t *len)
{
	while (*len && (line[*len - 1] == ' ' || line[*len - 1] == '\t' || line[*len - 1] == '\r'))
		(*len)--;
	line[*len] = '\0';
	while (*line == ' ' || *line == '\t') {
		line++;
		(*len)--;
	}
	return line;
}

/* one_line - check and hand over the line LINE[0..LEN); false to stop reading. */
static bool one_line(struct reader *r, char *line, size_t len, list_entry_fn *each, void *arg,
		     size_t *entries)
{
	char err[512];
	char *entry;

	if (len > LIST_FILE_MAX_LINE) {
		snprintf(err, sizeof(err), "line longer than %d bytes (expected one entry per line)",
			 LIST_FILE_MAX_LINE);
		line_error(r, err);
		return true;
	}
	entry = trim(line, &len);
	if (!len || entry[0] == '#')
		return true;
	if (*entries == LIST_FILE_MAX_ENTRIES) {
		snprintf(err, sizeof(err), "more than %d entries in one file", LIST_FILE_MAX_ENTRIES);
		line_error(r, err);
		return false;
	}
	err[0] = '\0';
	if (each(arg, entry, err, sizeof(err)))
		(*entries)++;
	else
		line_error(r, err[0] ? err : "invalid entry");
	return true;
}

/* list_file_read - check PATH, then split it into lines. */
int list_file_read(const char *path, list_entry_fn *each, void *arg, struct load_errors *errs,
		   size_t *entries, char *why, size_t whylen)
{
	struct reader r = { .path = path, .errs = errs };
	struct stat st;
	char *text, *p, *end;
	bool ended_line = true;     /* no line yet: a NUL would be on line 1 */

	*entries = 0;
	if (!file_acceptable(path, &st, why, whylen))
		return -1;
	if (!(text = textfile_read(path, LIST_FILE_MAX_BYTES))) {
		snprintf(why, whylen, "cannot read list file %s: %s", path, strerror(errno));
		return -1;
	}
	end = text + strlen(text);          /* a NUL byte ends the text early */
	for (p = text; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		r.line++;
		if (!one_line(&r, p, len, each, arg, entries))
			break;
		p += len + 1;   /* one_line may have written a NUL over the LF */
		ended_line = nl != NULL;
	}
	if ((unsigned long long)(end - text) < (unsigned long long)st.st_size && p >= end) {
		r.line += ended_line;      /* the NUL's line: this one, or the next after a LF */
		line_error(&r, "NUL byte (expected text, one entry per line)");
	}
	if (r.bad > LIST_FILE_MAX_ERRORS)
		load_errors_add(errs, "%s: %d more bad lines not shown", path, r.bad - LIST_FILE_MAX_ERRORS);
	free(text);
	return r.bad;
}
