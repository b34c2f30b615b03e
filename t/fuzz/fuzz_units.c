/*
 * fuzz_units.c - libFuzzer target for the duration and size parsers
 * (units_parse_duration, units_parse_size) on arbitrary text.
 *
 * Besides memory errors and undefined behaviour (overflow in the unit
 * arithmetic), it checks a round trip: a value that parses, printed back as
 * "<ms>ms" or "<bytes>", must parse again to the same value; and a refusal
 * must always come with a reason.
 */
#include <inttypes.h>
#include <stdio.h>

#include "fuzz_support.h"
#include "units.h"

/* LLVMFuzzerInitialize - quiet logs. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

/* check_duration - parse TEXT; a parsed value must survive a round trip. */
static void check_duration(const char *text)
{
	const char *why = NULL;
	uint64_t ms, again;
	char printed[32];

	if (!units_parse_duration(text, &ms, &why)) {
		if (!why || !*why)
			abort();
		return;
	}
	if (snprintf(printed, sizeof(printed), "%" PRIu64 "ms", ms) >= (int)sizeof(printed))
		abort();
	if (!units_parse_duration(printed, &again, &why) || again != ms)
		abort();
}

/* check_size - parse TEXT; a parsed value must survive a round trip. */
static void check_size(const char *text)
{
	const char *why = NULL;
	uint64_t bytes, again;
	char printed[32];

	if (!units_parse_size(text, &bytes, &why)) {
		if (!why || !*why)
			abort();
		return;
	}
	if (snprintf(printed, sizeof(printed), "%" PRIu64, bytes) >= (int)sizeof(printed))
		abort();
	if (!units_parse_size(printed, &again, &why) || again != bytes)
		abort();
}

/* LLVMFuzzerTestOneInput - DATA as a duration and as a size. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);

	check_duration(text);
	check_size(text);
	free(text);
	return 0;
}
