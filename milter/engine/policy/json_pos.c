/*
 * json_pos.c - locate a value in JSON source text by its path.
 *
 * A small recursive scanner over text that jansson has already accepted, so
 * it trusts the syntax and only needs to skip values correctly. It tracks a
 * byte offset and converts it to line and column at the end.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "json_pos.h"

/* skip_ws - advance over JSON whitespace. */
static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* skip_string - P is at '"'; return the position after the closing quote. */
static const char *skip_string(const char *p)
{
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\' && p[1])
			p++;
	return *p ? p + 1 : p;
}

/* skip_value - return the position just after the value starting at P. */
static const char *skip_value(const char *p)
{
	int depth = 0;

	p = skip_ws(p);
	if (*p != '{' && *p != '[') {
		if (*p == '"')
			return skip_string(p);
		while (*p && !strchr(",]} \t\r\n", *p))
			p++;
		return p;
	}
	for (; *p; p++) {
		if (*p == '"') {
			p = skip_string(p) - 1;
		} else if (*p == '{' || *p == '[') {
			depth++;
		} else if (*p == '}' || *p == ']') {
			if (--depth == 0)
				return p + 1;
		}
	}
	return p;
}

/* key_equals - does the JSON string at P (at '"') spell KEY? Simple escapes only. */
static bool key_equals(const char *p, const char *key)
{
	for (p++; *p && *p != '"'; p++, key++) {
		char c = *p;

		if (c == '\\') {
			p++;
			c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r' : *p;
			if (*p == 'u')
				return false;   /* escaped key names are not worth matching */
		}
		if (*key != c)
			return false;
	}
	return *p == '"' && *key == '\0';
}

/* find_member - in the object at P, the last member named KEY; NULL if absent. */
static const char *find_member(const char *p, const char *key, const char **key_at)
{
	const char *found = NULL;

	p = skip_ws(p);
	if (*p != '{')
		return NULL;
	for (p = skip_ws(p + 1); *p == '"'; p = skip_ws(p + 1)) {
		const char *name = p;

		p = skip_ws(skip_string(p));
		if (*p != ':')
			return found;
		p = skip_ws(p + 1);
		if (key_equals(name, key)) {
			found = p;
			*key_at = name;
		}
		p = skip_ws(skip_value(p));
		if (*p != ',')
			break;
	}
	return found;
}

/* find_element - in the array at P, element INDEX; NULL if absent. */
static const char *find_element(const char *p, size_t index)
{
	p = skip_ws(p);
	if (*p != '[')
		return NULL;
	p = skip_ws(p + 1);
	if (*p == ']')
		return NULL;
	for (size_t i = 0; *p; i++) {
		if (i == index)
			return p;
		p = skip_ws(skip_value(p));
		if (*p != ',')
			return NULL;
		p = skip_ws(p + 1);
	}
	return NULL;
}

/* offset_to_line_column - 1-based line and UTF-8 character column of AT. */
static void offset_to_line_column(const char *text, const char *at,
				  unsigned *line, unsigned *column)
{
	unsigned l = 1, c = 1;

	for (const char *p = text; p < at && *p; p++) {
		if (*p == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)*p & 0xC0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*column = c;
}

/* json_pos_find - locate PATH in TEXT. */
bool json_pos_find(const char *text, const struct json_seg *path, size_t depth,
		   bool at_key, unsigned *line, unsigned *column)
{
	const char *p = skip_ws(text);
	const char *key_at = NULL;

	for (size_t i = 0; i < depth && p; i++) {
		if (path[i].key) {
			p = find_member(p, path[i].key, &key_at);
		} else {
			p = find_element(p, path[i].index);
			key_at = NULL;
		}
	}
	if (!p)
		return false;
	offset_to_line_column(text, at_key && key_at ? key_at : p, line, column);
	return true;
}

/* plain_key - can KEY be written after a dot without quoting? */
static bool plain_key(const char *key)
{
	if (!*key)
		return false;
	for (const char *k = key; *k; k++)
		if (!isalnum((unsigned char)*k) && *k != '_' && *k != '-')
			return false;
	return true;
}

/* json_path_format - render PATH as "stages.eom[0].then". */
void json_path_format(const struct json_seg *path, size_t depth, char *buf, size_t len)
{
	size_t n = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < depth && n < len; i++) {
		int w;

		if (!path[i].key)
			w = snprintf(buf + n, len - n, "[%zu]", path[i].index);
		else if (plain_key(path[i].key))
			w = snprintf(buf + n, len - n, "%s%s", n ? "." : "", path[i].key);
		else
			w = snprintf(buf + n, len - n, "[\"%s\"]", path[i].key);
		if (w < 0)
			break;
		n += (size_t)w;
	}
	if (depth == 0)
		snprintf(buf, len, "(top)");
}
