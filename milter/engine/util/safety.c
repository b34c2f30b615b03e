/*
 * safety.c - refuse world-writable policy files and folders (see safety.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "safety.h"

/* safety_check_path - false (reason in ERR) when PATH is world-writable. */
bool safety_check_path(const char *path, const char *what, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return true;
	if (!(st.st_mode & S_IWOTH))
		return true;
	snprintf(err, errlen, "%s: refusing a world-writable %s (any local user could change it); "
		 "run chmod o-w %s", path, what, path);
	return false;
}
