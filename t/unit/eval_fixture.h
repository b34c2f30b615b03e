/*
 * eval_fixture.h - what the engine tests share (test_eval.c, test_eval_delegate.c):
 * a scratch spool and quarantine, policies loaded against them, a fake
 * delegate that returns copies of the message (adding, rewriting or
 * replacing fields as the test asks), and feeding a message stage by stage.
 */
#ifndef MD_EVAL_FIXTURE_H
#define MD_EVAL_FIXTURE_H

#include "test_support.h"

#include <sys/stat.h>
#include <unistd.h>

#include "quarantine.h"
#include "txn.h"

struct fixture {
	char *dir;
	char spool[512];
	char quarantine[512];
};

/* Fake hook state. */
static const char *fake_added_header;   /* added by the fake delegate, e.g. "X-Virus-Infected: yes" */
static const char *fake_added_second;   /* added instead by the second delegation, if set */
static const char *fake_subject;        /* the copy's Subject is rewritten to this, if set */
static const char *fake_copy_text;      /* the copy is this whole message (a repackaging filter) */
static char fake_sent[4096];            /* the message the last delegation was sent */
static enum delegate_status fake_status;
static bool fake_plants_id;             /* leave an X-Delegate-Id in the copy (the receiver strips it) */
static int fake_delegations;
static char fake_seen_path[512];

static inline int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir = scratch_dir();
	snprintf(f->spool, sizeof(f->spool), "%s/spool", f->dir);
	snprintf(f->quarantine, sizeof(f->quarantine), "%s/quarantine", f->dir);
	mkdir(f->spool, 0700);
	fake_added_header = fake_added_second = fake_subject = fake_copy_text = NULL;
	fake_sent[0] = '\0';
	fake_status = DELEGATE_COPY;
	fake_delegations = 0;
	fake_plants_id = false;
	*state = f;
	return 0;
}

static inline int teardown(void **state)
{
	struct fixture *f = *state;

	remove_tree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* policy_with - load STAGES (the "stages" object body) with settings pointing at F's dirs. */
static inline struct policy *policy_with(struct fixture *f, const char *stages)
{
	char *text;
	struct policy *p;

	assert_true(asprintf(&text, "{\"settings\":{\"spool_dir\":\"%s\",\"quarantine_dir\":\"%s\"},"
			     "\"services\":{\"av\":{\"type\":\"smtp\",\"delegator\":{\"address\":\"127.0.0.1:1\"},"
			     "\"receiver\":\"127.0.0.1:2\"}},\"stages\":{%s}}",
			     f->spool, f->quarantine, stages) > 0);
	p = load_ok(text);
	free(text);
	return p;
}

static const char *fake_macro(void *arg, const char *name)
{
	(void)arg;
	return strcmp(name, "{daemon_name}") == 0 ? "smtpd-submission" : NULL;
}

/* fake_header_block - the header block of BUF (up to SPLIT) into COPY, Subject rewritten if asked. */
static inline void fake_header_block(FILE *copy, const char *buf, const char *split)
{
	for (const char *line = buf; line < split + 2;) {
		const char *end = strstr(line, "\r\n") + 2;

		if (fake_subject && strncasecmp(line, "Subject:", 8) == 0) {
			fprintf(copy, "Subject: %s\r\n", fake_subject);
			while (*end == '\t' || *end == ' ')        /* its continuation lines */
				end = strstr(end, "\r\n") + 2;
		} else {
			fwrite(line, 1, (size_t)(end - line), copy);
		}
		line = end;
	}
}

/* fake_delegate - return the message with FAKE_ADDED_HEADER after the other fields. */
static inline void fake_delegate(void *arg, struct txn *t, const struct delegate_spec *spec,
			  struct delegate_result *out)
{
	FILE *in = fopen(txn_message_path(t), "r"), *copy;
	const char *added = fake_added_header;
	char *split;
	size_t n;

	(void)arg, (void)spec;
	fake_delegations++;
	if (fake_delegations == 2 && fake_added_second)
		added = fake_added_second;
	snprintf(fake_seen_path, sizeof(fake_seen_path), "%s", txn_message_path(t));
	out->status = fake_status;
	out->elapsed_ms = 7;
	if (fake_status != DELEGATE_COPY) {
		snprintf(out->detail, sizeof(out->detail), "fake %d", fake_status);
		fclose(in);
		return;
	}
	assert_non_null(in);
	n = fread(fake_sent, 1, sizeof(fake_sent) - 1, in);
	fake_sent[n] = '\0';
	fclose(in);
	split = strstr(fake_sent, "\r\n\r\n");
	assert_non_null(split);
	assert_true(asprintf(&out->copy_path, "%s.copy%d", txn_message_path(t), fake_delegations) > 0);
	copy = fopen(out->copy_path, "w");
	assert_non_null(copy);
	if (fake_copy_text) {
		fputs(fake_copy_text, copy);
		fclose(copy);
		return;
	}
	if (fake_plants_id)
		fputs("X-Delegate-Id: 0123456789abcdef\r\n", copy);
	fake_header_block(copy, fake_sent, split);
	if (added)
		fprintf(copy, "%s\r\n", added);
	fputs(split + 2, copy);
	fclose(copy);
}

static inline bool fake_quarantine_fails(void *arg, struct txn *t, const struct action *a,
				  const char *rule, char *err, size_t errlen)
{
	(void)arg, (void)t, (void)a, (void)rule;
	snprintf(err, errlen, "disk full (fake)");
	return false;
}

static const struct txn_env fake_env = {
	.macro = fake_macro, .delegate = fake_delegate, .quarantine = quarantine_store,
};

/* feed_planted - MAIL, one RCPT, two headers and the sender's PLANTED one (if not NULL), a body. */
static inline struct verdict feed_planted(struct txn *t, const char *planted, const char *value)
{
	struct verdict v = txn_mail(t, "a@b.c", NULL);

	if (v.kind != VERDICT_CONTINUE)
		return v;
	v = txn_rcpt(t, "r@d.e");
	if (v.kind != VERDICT_CONTINUE)
		return v;
	txn_header(t, "Subject", "hello");
	txn_header(t, "Message-ID", "<1@example.com>");
	if (planted)
		txn_header(t, planted, value);
	v = txn_eoh(t);
	if (v.kind != VERDICT_CONTINUE)
		return v;
	txn_body(t, "line one\r\n.dot\r\n", 16);
	return txn_eom(t);
}

/* feed_message - MAIL, one RCPT, two headers, a body: the eom verdict. */
static inline struct verdict feed_message(struct txn *t, const char *sender, const char *rcpt)
{
	struct verdict v = txn_mail(t, sender, NULL);

	if (v.kind != VERDICT_CONTINUE)
		return v;
	v = txn_rcpt(t, rcpt);
	if (v.kind != VERDICT_CONTINUE)
		return v;
	txn_header(t, "Subject", "hello");
	txn_header(t, "Message-ID", "<1@example.com>");
	v = txn_eoh(t);
	if (v.kind != VERDICT_CONTINUE)
		return v;
	txn_body(t, "line one\r\n.dot\r\n", 16);
	return txn_eom(t);
}

/* read_text - the first bytes of PATH as a string (static buffer). */
static inline const char *read_text(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* quarantined_eml - the text of the one .eml file in FOLDER ("" when there is none). */
static inline const char *quarantined_eml(struct fixture *f, const char *folder)
{
	static char out[4096];
	char cmd[1200];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "cat %s/%s/*.eml 2>/dev/null", f->quarantine, folder);
	p = popen(cmd, "r");
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	return out;
}


#endif
