/*
 * qtool_remove.c - delete and expire: remove messages from the quarantine,
 * each claimed first (a message being released is not removed under the
 * release), its ID.json before its ID.eml (qstore_remove). --dry-run says
 * what would go and changes nothing.
 */
#include <stdio.h>

#include "qtool.h"

/* remove_entry - claim E and remove it (or only say so, dry run); 0 or 1. */
static int remove_entry(const struct qtool *q, struct qentry *e, const char *verb)
{
	char err[1024];

	if (q->dry_run) {
		printf("%s: would be %s (%s, %s)\n", e->id, verb, e->folder,
		       json_string_value(json_object_get(e->meta, "time")));
		return 0;
	}
	if (!qstore_claim(e, err, sizeof(err)) || !qstore_remove(e, err, sizeof(err)))
		return qtool_fail("%s", err);
	printf("%s: %s (%s)\n", e->id, verb, e->folder);
	return 0;
}

/* qtool_delete - each id; an unknown or invalid id fails (the others still go). */
int qtool_delete(const struct qtool *q, int argc, char **args)
{
	int status = 0;

	for (int i = 0; i < argc; i++) {
		struct qentry e;
		char err[1024];

		if (qstore_find(q->root, q->folder, args[i], &e, err, sizeof(err)))
			status |= remove_entry(q, &e, "deleted");
		else
			status |= qtool_fail("%s", err);
		qentry_free(&e);
	}
	return status;
}

/* What expire gathers while it scans. */
struct expiry {
	const struct qtool *q;
	int status;
	unsigned removed;
};

/* expire_visit - qstore_visit_fn: remove E when it passes the filters (age included). */
static void expire_visit(void *arg, const struct qentry *e, const char *problem)
{
	struct expiry *x = arg;
	struct qentry mine;
	char err[1024];

	if (!e) {               /* said, not a failure: a message may be being written */
		qtool_fail("%s (kept)", problem);
		return;
	}
	if (!qtool_filter_match(x->q, e))
		return;
	/* The visit's entry is borrowed: take our own, to claim and free it. */
	if (!qstore_load(x->q->root, e->folder, e->id, &mine, err, sizeof(err)))
		x->status |= qtool_fail("%s", err);
	else if (remove_entry(x->q, &mine, "expired") == 0)
		x->removed++;
	else
		x->status = 1;
	qentry_free(&mine);
}

/* qtool_expire - every message older than --older-than (and passing the other filters). */
int qtool_expire(const struct qtool *q, int argc, char **args)
{
	struct expiry x = { .q = q };
	char err[1024];

	(void)argc, (void)args;
	if (q->older_ms < 0) {
		fprintf(stderr, "usage: %s expire --older-than AGE [--dry-run] [filters]\n",
			QTOOL_NAME);
		return 2;
	}
	if (!qstore_scan(q->root, q->folder, expire_visit, &x, err, sizeof(err)))
		return qtool_fail("%s", err);
	printf("%u message%s %s\n", x.removed, x.removed == 1 ? "" : "s",
	       q->dry_run ? "would expire" : "expired");
	return x.status;
}
