/*
 * fuzz_headers.c - libFuzzer target for the header block parser: headers_read
 * on the input as a file (fmemopen), then the list operations on the result.
 *
 * Checks, besides memory errors and leaks: the list stays within
 * MSG_COPY_MAX_FIELDS and MSG_COPY_MAX_BYTES; its byte count equals the sum of
 * name and value lengths, before and after headers_remove_all; names are
 * non-empty and contain no colon; headers_find and headers_count agree.
 */
#include <stdio.h>

#include "fuzz_support.h"
#include "headers.h"

/* LLVMFuzzerInitialize - quiet logs. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

/* check_list - the invariants of a header list. */
static void check_list(const struct headers *h)
{
	size_t bytes = 0;

	if (h->count > MSG_COPY_MAX_FIELDS || h->bytes > MSG_COPY_MAX_BYTES || h->count > h->capacity)
		abort();
	for (size_t i = 0; i < h->count; i++) {
		const char *name = h->items[i].name;

		if (!*name || strchr(name, ':'))
			abort();
		bytes += strlen(name) + strlen(h->items[i].value);
	}
	if (bytes != h->bytes)
		abort();
}

/* check_lookups - find, count and remove the first field's name. */
static void check_lookups(struct headers *h)
{
	char *name;
	unsigned n;

	if (!h->count)
		return;
	name = strdup(h->items[0].name);        /* removal frees the original */
	if (!name)
		abort();
	n = headers_count(h, name);
	if (n == 0 || headers_find(h, name, 1) != &h->items[0] || !headers_find(h, name, n) ||
	    headers_find(h, name, n + 1))
		abort();
	if (headers_remove_all(h, name) != n || headers_count(h, name) != 0)
		abort();
	check_list(h);
	free(name);
}

/* LLVMFuzzerTestOneInput - read DATA as a message's header block. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = fuzz_strndup(data, size);
	struct headers h = { 0 };
	char err[256] = "";
	FILE *f = fmemopen(copy, size, "r");    /* glibc >= 2.22 takes size 0 */

	if (!f)
		abort();
	if (!headers_read(f, &h, err, sizeof(err)) && !err[0])
		abort();                /* a refusal must say why */
	check_list(&h);
	check_lookups(&h);
	headers_free(&h);
	if (h.count || h.items)
		abort();
	if (fclose(f) != 0)
		abort();
	free(copy);
	return 0;
}
