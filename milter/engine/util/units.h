/*
 * units.h - durations ("60s", "5m", "1h30m", "250ms") and sizes ("10M",
 * "512k", "1G", plain byte counts) as written in policies.
 *
 * Units: ms, s, m, h for durations (a bare number means seconds); b, k, m, g
 * (binary multiples, case-insensitive, optional trailing "b": "10MB") for sizes.
 * Parsers reject empty input, negative numbers, unknown units, trailing
 * garbage and overflow. Pure functions, thread-safe.
 */
#ifndef MD_UNITS_H
#define MD_UNITS_H

#include <stdbool.h>
#include <stdint.h>

/* units_parse_duration - TEXT to milliseconds; false with *WHY set when invalid. */
bool units_parse_duration(const char *text, uint64_t *ms, const char **why);

/* units_parse_size - TEXT to bytes; false with *WHY set when invalid. */
bool units_parse_size(const char *text, uint64_t *bytes, const char **why);

#endif
