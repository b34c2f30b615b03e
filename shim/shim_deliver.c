/*
 * shim_deliver.c - the next hop: relay over SMTP (delegate_client, no
 * correlation id, every recipient asked) or write into a Maildir (tmp/,
 * fsync, rename to new/), and say what the next hop's answer means for the
 * message: sent, deferred, partly refused or refused for good. The shim
 * keeps one copy of a message: the relay sends the edited head from memory
 * and streams the body from that copy; a Maildir file is published through
 * spool.h with the edits streamed straight into it.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "delegate_client.h"
#include "metrics.h"
#include "shim_deliver.h"
#include "shim_edit.h"
#include "spool.h"
#include "xalloc.h"

#define SMTP_IDLE_CONNECTIONS 8

struct shim_nexthop {
	enum nexthop_kind kind;
	struct delegate_client *client;         /* NEXTHOP_SMTP */
	unsigned timeout_ms;
	char *maildir;                          /* NEXTHOP_MAILDIR */
	char *hostname;                         /* in Maildir file names */
	char description[1200];
	atomic_uint counter;                    /* unique Maildir names */
};

/* maildir_prepare - DIR and its tmp/, new/, cur/. */
static bool maildir_prepare(const char *dir, char *err, size_t errlen)
{
	static const char *const subdirs[] = { "tmp", "new", "cur" };
	char path[1100];

	if (!spool_make_dir(dir, err, errlen))
		return false;
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
		if (!spool_make_dir(path, err, errlen))
			return false;
	}
	return true;
}

/* shim_nexthop_new - the SMTP client or the Maildir of CFG. */
struct shim_nexthop *shim_nexthop_new(const struct shim_config *cfg, char *err, size_t errlen)
{
	struct shim_nexthop *nh = xcalloc(1, sizeof(*nh));

	nh->hostname = xstrdup(cfg->hostname);
	nh->kind = cfg->nexthop;
	if (nh->kind == NEXTHOP_SMTP) {
		nh->timeout_ms = cfg->smtp_timeout_ms > 0xffffffffu ? 0xffffffffu
								    : (unsigned)cfg->smtp_timeout_ms;
		nh->client = delegate_client_new(&cfg->smtp, SMTP_IDLE_CONNECTIONS);
		if (!nh->client)
			abort();
		snprintf(nh->description, sizeof(nh->description), "smtp %s:%u", cfg->smtp.host,
			 cfg->smtp.port);
		return nh;
	}
	nh->maildir = xstrdup(cfg->maildir);
	snprintf(nh->description, sizeof(nh->description), "maildir %s", cfg->maildir);
	if (!maildir_prepare(nh->maildir, err, errlen)) {
		shim_nexthop_free(nh);
		return NULL;
	}
	return nh;
}

/* shim_nexthop_free - release everything. */
void shim_nexthop_free(struct shim_nexthop *nh)
{
	if (!nh)
		return;
	delegate_client_free(nh->client);
	free(nh->maildir);
	free(nh->hostname);
	free(nh);
}

/* shim_nexthop_close_idle - see shim_deliver.h. */
void shim_nexthop_close_idle(struct shim_nexthop *nh)
{
	if (nh->client)
		delegate_client_close_idle(nh->client);
}

/* shim_nexthop_describe - for log lines. */
const char *shim_nexthop_describe(const struct shim_nexthop *nh)
{
	return nh->description;
}

/* write_fd - shim_edit output into the descriptor *ARG. */
static bool write_fd(void *arg, const void *data, size_t len)
{
	return spool_write_fd(*(int *)arg, data, len);
}

/* write_stream - shim_edit output into the stream ARG (the head in memory). */
static bool write_stream(void *arg, const void *data, size_t len)
{
	return fwrite(data, 1, len, arg) == len;
}

/*
 * write_edited - D's message, edited, through WRITE (only its head when
 * HEAD_ONLY: D's stream is then left at the rest of the body); false with
 * DETAIL set.
 */
static bool write_edited(const struct shim_delivery *d, const char *prefix,
			 bool (*write)(void *, const void *, size_t), void *arg, bool lf_only,
			 bool head_only, char *detail, size_t len)
{
	struct shim_edit_request req = {
		.prefix = prefix, .edits = d->edits, .count = d->edit_count, .lf_only = lf_only,
		.write = write, .write_arg = arg,
	};

	return head_only ? shim_edit_head(d->message, &req, detail, len)
			 : shim_edit_copy(d->message, &req, detail, len);
}

/* printable - copy SRC into DST (LEN) with anything but printable ASCII made '?'. */
static void printable(char *dst, size_t len, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < len; i++)
		dst[i] = src[i] >= ' ' && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

/*
 * enhanced_len - the length of the enhanced status code of class CLASS
 * ("5.7.1", RFC 3463: class.subject.detail, up to 3 digits each) that
 * starts P and ends at a space or the end, or 0.
 */
static size_t enhanced_len(const char *p, char class)
{
	size_t i = 1;

	if (p[0] != class || p[1] != '.')
		return 0;
	for (int part = 0; part < 2; part++) {
		size_t digits = 0;

		for (i++; p[i] >= '0' && p[i] <= '9'; i++)
			digits++;
		if (digits == 0 || digits > 3 || (part == 0 && p[i] != '.'))
			return 0;
	}
	return p[i] == ' ' || p[i] == '\0' ? i : 0;
}

/* note_refusal - RES's reply line, taken apart for the shim to mirror, into OUT. */
static void note_refusal(const struct delegate_send_result *res, struct delivery_result *out)
{
	const char *rest = res->reply[3] ? res->reply + 4 : "";
	size_t n = enhanced_len(rest, res->reply[0]);

	out->code = res->code;
	snprintf(out->enhanced, sizeof(out->enhanced), "%c.0.0", res->reply[0]);
	if (n > 0 && n < sizeof(out->enhanced)) {
		snprintf(out->enhanced, sizeof(out->enhanced), "%.*s", (int)n, rest);
		rest += n + (rest[n] == ' ');
	}
	printable(out->text, sizeof(out->text), rest);
	printable(out->line, sizeof(out->line), res->reply);
}

/*
 * covers_message - does a 5xx at RES's step refuse the whole message? MAIL
 * FROM, DATA and after the data do; RCPT TO does when every one of the
 * message's RCPTS recipients got a 5xx. A 5xx greeting or EHLO refuses the
 * shim as a client, not the message (a configuration matter): deferred.
 */
static bool covers_message(const struct delegate_send_result *res, size_t rcpts)
{
	static const char *const steps[] = { "MAIL FROM", "DATA", "end of data" };

	if (strcmp(res->step, "RCPT TO") == 0)
		return res->rcpt_rejected == rcpts;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (strcmp(res->step, steps[i]) == 0)
			return true;
	return false;
}

/* smtp_outcome - what the send result RES means for a message to RCPTS recipients. */
static enum delivery_status smtp_outcome(const struct delegate_send_result *res, size_t rcpts)
{
	if (res->status == SEND_ACCEPTED)
		return DELIVERY_SENT;
	if (res->status != SEND_REFUSED)
		return DELIVERY_DEFERRED;       /* no connection, lost, timeout, local */
	if (res->rcpt_accepted > 0 && res->rcpt_accepted < rcpts)
		return DELIVERY_PARTIAL;        /* a mix: nothing was sent */
	if (res->code / 100 == 5 && covers_message(res, rcpts))
		return DELIVERY_REFUSED;
	return DELIVERY_DEFERRED;
}

/* relay - send HEAD, then the rest of D's message as it is; OUT says how it went. */
static void relay(struct shim_nexthop *nh, const struct shim_delivery *d, const char *head,
		  size_t head_len, struct delivery_result *out)
{
	struct delegate_send_request req = {
		.sender = d->sender, .rcpts = d->rcpts, .rcpt_count = d->rcpt_count,
		.stream = d->message, .head = head, .head_len = head_len, .id = NULL,
		.timeout_ms = nh->timeout_ms, .ask_every_rcpt = true,
	};
	struct delegate_send_result res;

	delegate_client_send(nh->client, &req, &res);
	out->status = smtp_outcome(&res, d->rcpt_count);
	if (out->status == DELIVERY_REFUSED || out->status == DELIVERY_PARTIAL)
		note_refusal(&res, out);
	if (out->status == DELIVERY_SENT)
		snprintf(out->detail, sizeof(out->detail), "%s", res.reply);
	else
		snprintf(out->detail, sizeof(out->detail), "%s%s%s", res.error,
			 res.reply[0] ? ": " : "", res.reply);
}

/*
 * deliver_smtp - relay D to the next MTA. Only the edited head is made, in
 * memory; the body is streamed from the message the session holds (the
 * client goes back to where it starts if a reused connection died).
 */
static void deliver_smtp(struct shim_nexthop *nh, const struct shim_delivery *d,
			 struct delivery_result *out)
{
	char *head = NULL;
	size_t head_len = 0;
	FILE *mem = open_memstream(&head, &head_len);
	bool ok = mem != NULL && write_edited(d, d->prefix, write_stream, mem, false, true,
					      out->detail, sizeof(out->detail));

	if (mem == NULL)
		snprintf(out->detail, sizeof(out->detail), "cannot make the header: %s",
			 strerror(errno));
	if (mem != NULL && fclose(mem) != 0 && ok) {
		snprintf(out->detail, sizeof(out->detail), "cannot make the header: %s",
			 strerror(errno));
		ok = false;
	}
	if (ok)
		relay(nh, d, head, head_len, out);
	free(head);
}

/* maildir_name - a unique file name: TIME.MusecPpidQn_QUEUEID.HOST. */
static void maildir_name(struct shim_nexthop *nh, const char *qid, char *buf, size_t len)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	snprintf(buf, len, "%lld.M%06ldP%ldQ%u_%s.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
		 (long)getpid(), atomic_fetch_add(&nh->counter, 1) + 1, qid ? qid : "NOQUEUE",
		 nh->hostname);
	for (char *p = buf; *p; p++)
		if (*p == '/' || *p == ':')
			*p = '_';
}

/* What a Maildir file is written from. */
struct maildir_fill {
	const struct shim_delivery *d;
	char *prefix;                   /* Return-Path: and D's prefix */
};

/* fill_maildir - spool_fill_fn: the edited message, LF line ends. */
static bool fill_maildir(int fd, void *arg, char *err, size_t errlen)
{
	const struct maildir_fill *f = arg;

	return write_edited(f->d, f->prefix, write_fd, &fd, true, false, err, errlen);
}

/* deliver_maildir - D into NH's Maildir: tmp/, fsync, rename into new/, fsync new/. */
static bool deliver_maildir(struct shim_nexthop *nh, const struct shim_delivery *d,
			    char *detail, size_t len)
{
	char name[512], tmpdir[1100], newdir[1100];
	struct maildir_fill fill = { .d = d };
	bool ok;

	maildir_name(nh, d->queue_id, name, sizeof(name));
	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", nh->maildir);
	snprintf(newdir, sizeof(newdir), "%s/new", nh->maildir);
	fill.prefix = xasprintf("Return-Path: <%s>\r\n%s", d->sender, d->prefix ? d->prefix : "");
	ok = spool_publish(newdir, name, tmpdir, fill_maildir, &fill, detail, len);
	free(fill.prefix);
	if (ok)
		snprintf(detail, len, "new/%s", name);
	return ok;
}

/* now_ms - a monotonic clock in milliseconds, for the latency metric. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* count_delivery - the metrics of one delivery: its outcome, its latency since START. */
static void count_delivery(enum delivery_status status, uint64_t start)
{
	static const enum metric_id by_status[] = {
		[DELIVERY_SENT] = M_NEXTHOP_SENT, [DELIVERY_DEFERRED] = M_NEXTHOP_DEFERRED,
		[DELIVERY_PARTIAL] = M_NEXTHOP_PARTIAL, [DELIVERY_REFUSED] = M_NEXTHOP_REFUSED,
	};

	metrics_count(by_status[status]);
	metrics_observe(metrics_nexthop_latency(), now_ms() - start);
}

/* shim_nexthop_deliver - D to the next hop; anything not said otherwise is deferred. */
enum delivery_status shim_nexthop_deliver(struct shim_nexthop *nh, const struct shim_delivery *d,
					  struct delivery_result *out)
{
	uint64_t start = now_ms();

	memset(out, 0, sizeof(*out));
	out->status = DELIVERY_DEFERRED;
	if (d->rcpt_count == 0)
		snprintf(out->detail, sizeof(out->detail), "no recipients");
	else if (!d->message || fseeko(d->message, 0, SEEK_SET) != 0)
		snprintf(out->detail, sizeof(out->detail), "cannot read the message: %s",
			 strerror(errno ? errno : EIO));
	else if (nh->kind == NEXTHOP_SMTP)
		deliver_smtp(nh, d, out);
	else if (deliver_maildir(nh, d, out->detail, sizeof(out->detail)))
		out->status = DELIVERY_SENT;
	count_delivery(out->status, start);
	return out->status;
}

/*
 * The client's reply to each way a delivery ends. A next hop's refusal for
 * good is mirrored: its code and enhanced status, "next hop said:", its text.
 * With a mix of accepted and refused recipients the whole message is
 * deferred (RCPT was answered before delivery; see shim_deliver.h), the
 * next hop's refusal quoted so that the sender learns which one.
 */
static const struct delivery_reply {
	int code;                       /* 0: the next hop's */
	const char *status;             /* enhanced status code; NULL: the next hop's */
	const char *text;               /* followed by the queue id or the next hop's words */
} delivery_replies[] = {
	[DELIVERY_SENT] = { 250, "2.0.0", "Ok: queued as" },
	[DELIVERY_DEFERRED] = { 451, "4.4.1", "Next hop unavailable, try again later" },
	[DELIVERY_PARTIAL] = { 451, "4.4.1", "Next hop refused some recipients, try again later;"
			       " next hop said:" },
	[DELIVERY_REFUSED] = { 0, NULL, "next hop said:" },
};

/* shim_delivery_reply - the client's reply R to RES; QUEUE_ID goes into the 250. */
void shim_delivery_reply(const struct delivery_result *res, const char *queue_id,
			 struct smtp_reply *r)
{
	const struct delivery_reply *row = &delivery_replies[res->status];
	const char *tail = res->status == DELIVERY_SENT ? queue_id
			   : res->status == DELIVERY_PARTIAL ? res->line
			   : res->status == DELIVERY_REFUSED ? res->text : "";

	smtp_reply_set(r, row->code ? row->code : res->code, "%s %s%s%s",
		       row->status ? row->status : res->enhanced, row->text, *tail ? " " : "", tail);
}

/* delivery_status_name - the message's fate as a word for log lines. */
const char *delivery_status_name(enum delivery_status status)
{
	static const char *const names[] = {
		[DELIVERY_SENT] = "sent", [DELIVERY_DEFERRED] = "deferred",
		[DELIVERY_PARTIAL] = "deferred", [DELIVERY_REFUSED] = "refused",
	};

	if ((unsigned)status >= sizeof(names) / sizeof(names[0]) || !names[status])
		return "unknown";
	return names[status];
}
