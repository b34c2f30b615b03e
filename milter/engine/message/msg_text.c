/*
 * msg_text.c - header line classification and the correlation id's form
 * (see msg_text.h).
 */
#include <string.h>
#include <strings.h>

#include "msg_text.h"

/* is_wsp - SP or HTAB. */
static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* is_ftext - a character of a field name: printable US-ASCII but the colon. */
static bool is_ftext(char c)
{
	return (unsigned char)c > ' ' && (unsigned char)c < 0x7f && c != ':';
}

/* msg_classify - what a header line is. */
enum msg_line msg_classify(const char *line, size_t len, size_t *name_len, size_t *value_at)
{
	size_t i = 0, name;

	if (len == 0)
		return MSG_LINE_SEPARATOR;
	if (is_wsp(line[0]))
		return MSG_LINE_CONTINUATION;
	while (i < len && is_ftext(line[i]))
		i++;
	name = i;
	while (i < len && is_wsp(line[i]))
		i++;
	if (name == 0 || i >= len || line[i] != ':')
		return MSG_LINE_NOT_FIELD;
	for (i++; i < len && is_wsp(line[i]); i++)
		;
	if (name_len)
		*name_len = name;
	if (value_at)
		*value_at = i;
	return MSG_LINE_FIELD;
}

/* msg_is_field - does LINE start the field NAME? */
bool msg_is_field(const char *line, size_t len, const char *name, bool partial, size_t *value_at)
{
	size_t k, i;

	/* Most lines differ in the first byte: decide those before strlen and
	 * strncasecmp (the receiver asks this of every line of every copy). */
	if (len == 0 || (line[0] | 0x20) != (name[0] | 0x20))
		return false;
	k = i = strlen(name);
	if (len < k || strncasecmp(line, name, k) != 0)
		return false;
	while (i < len && is_wsp(line[i]))
		i++;
	if (i >= len)
		return partial;
	if (line[i] != ':')
		return false;
	for (i++; i < len && is_wsp(line[i]); i++)
		;
	if (value_at)
		*value_at = i;
	return true;
}

/* is_fold_space - whitespace, or the line break of a fold. */
static bool is_fold_space(char c)
{
	return is_wsp(c) || c == '\r' || c == '\n';
}

/* msg_parse_id - is VALUE an id of our form? */
bool msg_parse_id(const char *value, size_t len, char id[MSG_ID_LEN + 1])
{
	while (len > 0 && is_fold_space(*value))
		value++, len--;
	while (len > 0 && is_fold_space(value[len - 1]))
		len--;
	if (len != MSG_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789abcdef", value[i]) || value[i] == '\0')
			return false;
	memcpy(id, value, len);
	id[len] = '\0';
	return true;
}
