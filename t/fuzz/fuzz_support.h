/*
 * fuzz_support.h - helpers shared by the libFuzzer targets in t/fuzz/:
 * the entry-point prototypes, turning the fuzzer's bytes into C strings,
 * and silencing the engine's log.
 *
 * libFuzzer hands a target a byte buffer that is neither NUL-terminated nor
 * writable; the engine's parsers take C strings, so every target works on
 * a heap copy (ASan then catches a read one byte past the end). Copies are
 * the caller's to free. Out of memory aborts, like the engine (xstrdup).
 * Header-only (static functions) so that each target stays one file.
 */
#ifndef MD_FUZZ_SUPPORT_H
#define MD_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The libFuzzer entry points (declared for -Wmissing-prototypes). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_strndup - LEN bytes at DATA as a NUL-terminated heap string. */
static inline char *fuzz_strndup(const uint8_t *data, size_t len)
{
	char *s = malloc(len + 1);

	if (!s)
		abort();
	if (len)
		memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

/*
 * fuzz_split - the bytes before the first '\n' into *FIRST and the rest
 * into *SECOND (empty when there is no '\n'); both are heap strings.
 * Targets that take two strings read their input as "FIRST\nSECOND", so
 * the seed files stay readable.
 */
static inline void fuzz_split(const uint8_t *data, size_t size, char **first, char **second)
{
	const uint8_t *nl = size ? memchr(data, '\n', size) : NULL;
	size_t len = nl ? (size_t)(nl - data) : size;

	*first = fuzz_strndup(data, len);
	*second = nl ? fuzz_strndup(nl + 1, size - len - 1) : fuzz_strndup(data, 0);
}

/*
 * fuzz_quiet_logs - keep only emergencies, which the engine never logs: the
 * fuzzer's own output stays readable and no time goes into formatting.
 */
static inline void fuzz_quiet_logs(void)
{
	log_open("fuzz", LOG_TO_STDERR, LOG_EMERG);
}

#endif
