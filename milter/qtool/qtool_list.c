/*
 * qtool_list.c - list and show: the quarantine as one line per message (or
 * a JSON array), one message's metadata and header (or the whole file).
 * Text from the files is printed with every control byte made '?', so a
 * message cannot drive the admin's terminal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtool.h"

/* contains - does HAY contain NEEDLE, in any case? */
static bool contains(const char *hay, const char *needle)
{
	return hay && strcasestr(hay, needle) != NULL;
}

/* any_rcpt - does a recipient of E contain TEXT? */
static bool any_rcpt(const struct qentry *e, const char *text)
{
	json_t *r;
	size_t i;

	json_array_foreach(json_object_get(e->meta, "recipients"), i, r)
		if (contains(json_string_value(r), text))
			return true;
	return false;
}

/* qtool_filter_match - every filter Q has, E passes. */
bool qtool_filter_match(const struct qtool *q, const struct qentry *e)
{
	int64_t age_ms = ((int64_t)q->now - (int64_t)e->when) * 1000;
	const char *rule = json_string_value(json_object_get(e->meta, "rule"));

	return (!q->sender || contains(e->sender, q->sender)) &&
	       (!q->rcpt || any_rcpt(e, q->rcpt)) &&
	       (!q->rule || (rule && strcmp(rule, q->rule) == 0)) &&
	       (q->older_ms < 0 || age_ms > q->older_ms) &&
	       (q->newer_ms < 0 || age_ms < q->newer_ms);
}

/* put_safe - S to OUT with control bytes (and tabs) as '?'. */
static void put_safe(FILE *out, const char *s)
{
	for (; s && *s; s++)
		fputc((unsigned char)*s < ' ' || *s == 0x7f ? '?' : *s, out);
}

/* member - E's metadata member KEY as text ("" when absent or not a string). */
static const char *member(const struct qentry *e, const char *key)
{
	const char *s = json_string_value(json_object_get(e->meta, key));

	return s ? s : "";
}

/* put_line - one message: id, time, folder, <sender>, recipients, size, rule, reason, status. */
static void put_line(const struct qentry *e)
{
	const char *fields[] = { e->id, member(e, "time"), e->folder };
	json_t *r;
	size_t i;

	for (i = 0; i < 3; i++) {
		put_safe(stdout, fields[i]);
		fputc('\t', stdout);
	}
	fputc('<', stdout);
	put_safe(stdout, e->sender);
	fputs(">\t", stdout);
	json_array_foreach(json_object_get(e->meta, "recipients"), i, r) {
		fputs(i ? "," : "", stdout);
		put_safe(stdout, json_string_value(r));
	}
	printf("\t%lld\t", (long long)json_integer_value(json_object_get(e->meta, "size")));
	put_safe(stdout, member(e, "rule"));
	fputc('\t', stdout);
	put_safe(stdout, member(e, "reason"));
	printf("\t%s\n", qstore_released(e) ? "released" : "quarantined");
}

/* What list gathers while it scans. */
struct listing {
	const struct qtool *q;
	json_t *array;                  /* --json: the messages' metadata */
	int problems;
};

/* list_visit - qstore_visit_fn: print (or gather) E, or report the problem. */
static void list_visit(void *arg, const struct qentry *e, const char *problem)
{
	struct listing *l = arg;

	if (!e) {
		l->problems++;
		qtool_fail("%s", problem);
	} else if (qtool_filter_match(l->q, e) && l->array)
		json_array_append(l->array, e->meta);
	else if (qtool_filter_match(l->q, e))
		put_line(e);
}

/* qtool_list - the messages that pass the filters; 1 when one could not be read. */
int qtool_list(const struct qtool *q, int argc, char **args)
{
	struct listing l = { .q = q, .array = q->json ? json_array() : NULL };
	char err[1024];
	bool ok = qstore_scan(q->root, q->folder, list_visit, &l, err, sizeof(err));

	(void)argc, (void)args;
	if (!ok)
		qtool_fail("%s", err);
	if (l.array) {
		json_dumpf(l.array, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(l.array);
	}
	return ok && l.problems == 0 ? 0 : 1;
}

/* put_header - the header block of the message file PATH (up to its empty line). */
static bool put_header(const char *path)
{
	FILE *in = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!in)
		return false;
	while ((n = getline(&line, &cap, in)) > 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			break;
		for (char *p = line; *p; p++)
			if (*p == '\t')
				*p = ' ';       /* folded fields keep their shape */
		put_safe(stdout, line);
		fputc('\n', stdout);
	}
	free(line);
	fclose(in);
	return true;
}

/* put_file - the message file PATH to stdout as it is stored. */
static bool put_file(const char *path)
{
	FILE *in = fopen(path, "re");
	char buf[65536];
	size_t n;

	if (!in)
		return false;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(in);
	return true;
}

/* put_meta - the metadata as "key: value" lines (arrays and objects as compact JSON). */
static void put_meta(const struct qentry *e)
{
	const char *key;
	json_t *v;

	json_object_foreach(e->meta, key, v) {
		char *text = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		put_safe(stdout, key);
		fputs(": ", stdout);
		put_safe(stdout, text ? text : json_string_value(v));
		fputc('\n', stdout);
		free(text);
	}
}

/* qtool_show - the metadata and header of one message, --json or --raw. */
int qtool_show(const struct qtool *q, int argc, char **args)
{
	struct qentry e;
	char err[1024];
	bool ok;

	(void)argc;
	if (!qstore_find(q->root, q->folder, args[0], &e, err, sizeof(err))) {
		qentry_free(&e);
		return qtool_fail("%s", err);
	}
	if (q->raw)
		ok = put_file(e.eml);
	else if (q->json)
		ok = json_dumpf(e.meta, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 &&
		     fputc('\n', stdout) != EOF;
	else {
		put_meta(&e);
		fputc('\n', stdout);
		ok = put_header(e.eml);
	}
	if (!ok)
		qtool_fail("%s: cannot read it", e.eml);
	qentry_free(&e);
	return ok ? 0 : 1;
}
