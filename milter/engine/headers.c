/*
 * headers.c - header field lists and a bounded parser for header blocks
 * (used on the copies that delegates send back).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "headers.h"

#define MAX_LINE 8192           /* one physical header line, RFC 5322 says 998 */

/* headers_add - append copies of NAME and VALUE. */
bool headers_add(struct headers *h, const char *name, const char *value)
{
	size_t bytes = strlen(name) + strlen(value);

	if (h->count >= HEADERS_MAX_COUNT || h->bytes + bytes > HEADERS_MAX_BYTES)
		return false;
	if (h->count == h->capacity) {
		size_t cap = h->capacity ? h->capacity * 2 : 16;
		struct header_field *grown = realloc(h->items, cap * sizeof(*grown));

		if (!grown)
			abort();
		h->items = grown;
		h->capacity = cap;
	}
	h->items[h->count].name = strdup(name);
	h->items[h->count].value = strdup(value);
	if (!h->items[h->count].name || !h->items[h->count].value)
		abort();
	h->count++;
	h->bytes += bytes;
	return true;
}

/* headers_find - the Nth field called NAME. */
const struct header_field *headers_find(const struct headers *h, const char *name, unsigned nth)
{
	for (size_t i = 0; i < h->count; i++)
		if (strcasecmp(h->items[i].name, name) == 0 && --nth == 0)
			return &h->items[i];
	return NULL;
}

/* headers_count - fields called NAME. */
unsigned headers_count(const struct headers *h, const char *name)
{
	unsigned n = 0;

	for (size_t i = 0; i < h->count; i++)
		n += strcasecmp(h->items[i].name, name) == 0;
	return n;
}

/* headers_remove_all - drop every field called NAME. */
unsigned headers_remove_all(struct headers *h, const char *name)
{
	size_t kept = 0;
	unsigned removed = 0;

	for (size_t i = 0; i < h->count; i++) {
		if (strcasecmp(h->items[i].name, name) == 0) {
			h->bytes -= strlen(h->items[i].name) + strlen(h->items[i].value);
			free(h->items[i].name);
			free(h->items[i].value);
			removed++;
		} else {
			h->items[kept++] = h->items[i];
		}
	}
	h->count = kept;
	return removed;
}

/* headers_free - release every field. */
void headers_free(struct headers *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->count; i++) {
		free(h->items[i].name);
		free(h->items[i].value);
	}
	free(h->items);
	memset(h, 0, sizeof(*h));
}

/* read_line - one line without its CRLF/LF into BUF; -1 at EOF, -2 if too long. */
static int read_line(FILE *f, char *buf, size_t len)
{
	size_t n = 0;
	int ch;

	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (n + 1 >= len)
			return -2;
		buf[n++] = (char)ch;
	}
	if (ch == EOF && n == 0)
		return -1;
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return (int)n;
}

/* flush_field - split "Name: value" in FIELD and add it to OUT. */
static bool flush_field(char *field, struct headers *out, char *err, size_t errlen)
{
	char *colon = strchr(field, ':');
	char *value;

	if (!colon || colon == field) {
		snprintf(err, errlen, "malformed header line (no field name)");
		return false;
	}
	for (char *p = field; p < colon; p++) {
		if (*p <= 32 || *p >= 127) {
			snprintf(err, errlen, "malformed header field name");
			return false;
		}
	}
	*colon = '\0';
	value = colon + 1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (!headers_add(out, field, value)) {
		snprintf(err, errlen, "header block exceeds %d fields or %d bytes",
			 HEADERS_MAX_COUNT, HEADERS_MAX_BYTES);
		return false;
	}
	return true;
}

/* append - add TEXT to the growing field buffer, bounded by the block limit. */
static bool append(char **field, size_t *len, const char *text)
{
	size_t add = strlen(text);
	char *grown;

	if (*len + add + 1 > HEADERS_MAX_BYTES)
		return false;
	grown = realloc(*field, *len + add + 1);
	if (!grown)
		abort();
	memcpy(grown + *len, text, add + 1);
	*field = grown;
	*len += add;
	return true;
}

/* headers_read - parse the header block at the start of F. */
bool headers_read(FILE *f, struct headers *out, char *err, size_t errlen)
{
	char line[MAX_LINE];
	char *field = NULL;
	size_t field_len = 0;
	bool ok = true;
	int n;

	while ((n = read_line(f, line, sizeof(line))) >= 0 && n > 0) {
		bool continuation = line[0] == ' ' || line[0] == '\t';

		if (continuation && !field) {
			snprintf(err, errlen, "header block starts with a continuation line");
			ok = false;
			break;
		}
		if (!continuation && field) {
			ok = flush_field(field, out, err, errlen);
			free(field);
			field = NULL;
			field_len = 0;
			if (!ok)
				break;
		}
		if (!append(&field, &field_len, line)) {
			snprintf(err, errlen, "header field longer than %d bytes", HEADERS_MAX_BYTES);
			ok = false;
			break;
		}
	}
	if (ok && n == -2) {
		snprintf(err, errlen, "header line longer than %d bytes", MAX_LINE);
		ok = false;
	}
	if (ok && field)
		ok = flush_field(field, out, err, errlen);
	free(field);
	return ok;
}
