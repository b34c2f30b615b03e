/*
 * fuzz_policy_load.c - libFuzzer target for the policy loader: arbitrary
 * bytes as policy source text (policy_load_text), including the JSON
 * position lookup behind every located error message.
 *
 * A loaded policy is also summarised (policy_summary) and released; the
 * error list is walked and freed, so a leak in any error path shows up.
 * Every located error must point at a line and column inside the text
 * (json_pos_find re-scans the source on its own, apart from jansson).
 * Seeds: t/fuzz/corpus/fuzz_policy_load/ (the shipped and the bad example
 * policies); dictionary: t/fuzz/fuzz_policy_load.dict.
 */
#include <jansson.h>

#include "fuzz_support.h"
#include "policy_load.h"

/* LLVMFuzzerInitialize - quiet logs, and a fixed jansson hash seed so runs repeat. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	json_object_seed(1);
	return 0;
}

/* line_width - characters (UTF-8 sequences) in line LINE (1-based) of TEXT; -1 if none. */
static long line_width(const char *text, unsigned long line)
{
	const char *p = text;
	long width = 0;

	for (unsigned long l = 1; l < line; l++) {
		if (!(p = strchr(p, '\n')))
			return -1;
		p++;
	}
	for (; *p && *p != '\n'; p++)
		width += ((unsigned char)*p & 0xC0) != 0x80;
	return width;
}

/*
 * check_location - MSG is "NAME:LINE:COLUMN: ..."; a located (non-syntax)
 * error must point inside TEXT: json_pos found the value, or its parent.
 */
static void check_location(const char *msg, const char *name, const char *text)
{
	unsigned long line, column;
	char *end;
	long width;

	if (strncmp(msg, name, strlen(name)) != 0 || msg[strlen(name)] != ':')
		abort();
	if (strstr(msg, ": syntax error: "))
		return;                 /* jansson's own position */
	line = strtoul(msg + strlen(name) + 1, &end, 10);
	if (*end != ':')
		abort();
	column = strtoul(end + 1, &end, 10);
	if (*end != ':' || line == 0 || column == 0)
		abort();
	width = line_width(text, line);
	if (width < 0 || column > (unsigned long)width + 1)
		abort();
}

/* check_errors - every message names the file and a place inside TEXT. */
static void check_errors(const struct load_errors *errs, const char *name, const char *text)
{
	for (size_t i = 0; i < errs->count; i++) {
		if (!errs->items[i])
			abort();
		check_location(errs->items[i], name, text);
	}
}

/* LLVMFuzzerTestOneInput - load DATA as a policy. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char name[] = "fuzz.json";
	struct load_errors errs = { 0 };
	char *text = fuzz_strndup(data, size);
	struct policy *p = policy_load_text(text, name, &errs);

	if (p) {
		char summary[512];

		if (errs.count)         /* a policy only when there is no error */
			abort();
		policy_summary(p, summary, sizeof(summary));
		policy_unref(p);
	} else if (errs.count == 0) {
		abort();                /* refused without saying why */
	}
	check_errors(&errs, name, text);
	load_errors_free(&errs);
	free(text);
	return 0;
}
