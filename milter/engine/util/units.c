/*
 * units.c - parse durations and sizes written in policies.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "units.h"

/* read_number - digits at *P into *N; false on none or overflow. */
static bool read_number(const char **p, uint64_t *n)
{
	const char *s = *p;

	if (!isdigit((unsigned char)*s))
		return false;
	*n = 0;
	for (; isdigit((unsigned char)*s); s++) {
		uint64_t digit = (uint64_t)(*s - '0');

		if (*n > (UINT64_MAX - digit) / 10)
			return false;
		*n = *n * 10 + digit;
	}
	*p = s;
	return true;
}

/* multiply - *total += n * unit without overflow. */
static bool add_scaled(uint64_t *total, uint64_t n, uint64_t unit)
{
	if (unit && n > UINT64_MAX / unit)
		return false;
	if (*total > UINT64_MAX - n * unit)
		return false;
	*total += n * unit;
	return true;
}

/* duration_unit - the length in ms of the unit at *P ("ms", "s", "m", "h"). */
static uint64_t duration_unit(const char **p)
{
	static const struct { const char *name; uint64_t ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t len = strlen(units[i].name);

		if (strncmp(*p, units[i].name, len) == 0) {
			*p += len;
			return units[i].ms;
		}
	}
	return 0;
}

/* units_parse_duration - "1h30m", "250ms", "60s", "60" to milliseconds. */
bool units_parse_duration(const char *text, uint64_t *ms, const char **why)
{
	const char *p = text;
	uint64_t total = 0, n, unit;

	*why = "invalid duration";
	if (!text || !*text)
		return false;
	if (read_number(&p, &n) && !*p) {       /* a bare number: seconds */
		if (!add_scaled(&total, n, 1000))
			return *why = "duration too large", false;
		*ms = total;
		return true;
	}
	for (p = text; *p;) {
		if (!read_number(&p, &n))
			return *why = "not a number", false;
		if (!(unit = duration_unit(&p)))
			return *why = "unknown unit (ms, s, m or h)", false;
		if (!add_scaled(&total, n, unit))
			return *why = "duration too large", false;
	}
	*ms = total;
	return true;
}

/* units_parse_size - "10M", "512k", "1G", "10MB", "1024" to bytes. */
bool units_parse_size(const char *text, uint64_t *bytes, const char **why)
{
	const char *p = text;
	uint64_t n, unit = 1;

	*why = "invalid size";
	if (!text || !read_number(&p, &n))
		return *why = "not a number", false;
	switch (tolower((unsigned char)*p)) {
	case 'k': unit = 1ull << 10; p++; break;
	case 'm': unit = 1ull << 20; p++; break;
	case 'g': unit = 1ull << 30; p++; break;
	case 'b': break;
	case '\0': break;
	default: return *why = "unknown unit (K, M or G)", false;
	}
	if (tolower((unsigned char)*p) == 'b')
		p++;
	if (*p)
		return *why = "unexpected characters after the size", false;
	if (n > UINT64_MAX / unit)
		return *why = "size too large", false;
	*bytes = n * unit;
	return true;
}
