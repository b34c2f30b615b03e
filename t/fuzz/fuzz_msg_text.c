/*
 * fuzz_msg_text.c - libFuzzer target for the message text module: each
 * line of the input through msg_classify, msg_is_field and msg_parse_id.
 *
 * Checks, besides memory errors: a FIELD has a non-empty name of field
 * characters followed by optional whitespace and the colon, and its value
 * starts after it; a CONTINUATION starts with SP or HTAB, a SEPARATOR is
 * empty; msg_is_field agrees with msg_classify for the id field's name; an id
 * that msg_parse_id accepts is exactly 32 lowercase hex digits.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "fuzz_support.h"
#include "msg_text.h"

/* LLVMFuzzerInitialize - quiet logs. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

/* check_field - the invariants of a line msg_classify called a field. */
static void check_field(const char *line, size_t len, size_t name_len, size_t value_at)
{
	size_t i = name_len;

	if (name_len == 0 || value_at > len)
		abort();
	for (size_t k = 0; k < name_len; k++)
		if ((unsigned char)line[k] <= ' ' || (unsigned char)line[k] >= 0x7f || line[k] == ':')
			abort();
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i >= len || line[i] != ':' || value_at <= i)
		abort();
}

/* check_line - one line (no line end) through every function. */
static void check_line(const char *line, size_t len)
{
	size_t name_len = 0, value_at = 0, id_value = 0;
	enum msg_line kind = msg_classify(line, len, &name_len, &value_at);
	bool is_id = msg_is_field(line, len, MSG_ID_FIELD, false, &id_value);
	char id[MSG_ID_LEN + 1];

	if (kind == MSG_LINE_FIELD)
		check_field(line, len, name_len, value_at);
	if (kind == MSG_LINE_SEPARATOR && len != 0)
		abort();
	if (kind == MSG_LINE_CONTINUATION && line[0] != ' ' && line[0] != '\t')
		abort();
	if (is_id && (kind != MSG_LINE_FIELD || name_len != strlen(MSG_ID_FIELD) ||
		      id_value != value_at))
		abort();
	if (is_id && msg_parse_id(line + id_value, len - id_value, id)) {
		if (strlen(id) != MSG_ID_LEN || strspn(id, "0123456789abcdef") != MSG_ID_LEN)
			abort();
	}
}

/* LLVMFuzzerTestOneInput - every LF-separated line of DATA, CR before LF removed. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);

		check_line(p, len > 0 && p[len - 1] == '\r' ? len - 1 : len);
		p += len + (nl != NULL);
	}
	return 0;
}
