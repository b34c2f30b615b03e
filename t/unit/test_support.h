/*
 * test_support.h - small helpers shared by the cmocka unit tests: load a
 * policy from inline JSON, make, count and remove a scratch directory.
 * Header-only (static functions) so that each test stays one file.
 */
#ifndef MD_TEST_SUPPORT_H
#define MD_TEST_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_load.h"

/* load_ok - load TEXT, failing the test (with the errors) if it does not load. */
static inline struct policy *load_ok(const char *text)
{
	struct load_errors errs = { 0 };
	struct policy *p = policy_load_text(text, "test.json", &errs);

	for (size_t i = 0; i < errs.count; i++)
		print_error("unexpected: %s\n", errs.items[i]);
	load_errors_free(&errs);
	assert_non_null(p);
	return p;
}

/* load_errors_joined - load TEXT expecting failure; the errors joined by '\n' (caller frees). */
static inline char *load_errors_joined(const char *text)
{
	struct load_errors errs = { 0 };
	struct policy *p = policy_load_text(text, "test.json", &errs);
	size_t len = 1;
	char *joined;

	assert_null(p);
	for (size_t i = 0; i < errs.count; i++)
		len += strlen(errs.items[i]) + 1;
	joined = calloc(1, len);
	assert_non_null(joined);
	for (size_t i = 0; i < errs.count; i++) {
		strcat(joined, errs.items[i]);
		if (i + 1 < errs.count)
			strcat(joined, "\n");
	}
	load_errors_free(&errs);
	return joined;
}

/* assert_load_error - loading TEXT fails with exactly the message WANT. */
#define assert_load_error(text, want) do { \
		char *got_ = load_errors_joined(text); \
		assert_string_equal(got_, want); \
		free(got_); \
	} while (0)

/* scratch_dir - a new empty directory under $TMPDIR (caller frees the path). */
static inline char *scratch_dir(void)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char *path;

	assert_true(asprintf(&path, "%s/md-test.XXXXXX", base) > 0);
	assert_non_null(mkdtemp(path));
	return path;
}

/* count_files - how many entries DIR holds, besides "." and "..". */
static inline int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* remove_tree - rm -rf PATH (scratch directories only). */
static inline void remove_tree(const char *path)
{
	char *cmd;

	assert_true(asprintf(&cmd, "rm -rf '%s'", path) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

#endif
