/*
 * receiver.c - the SMTP socket where delegates send their filtered copies:
 * an smtp_server whose sessions spool each message to a file, leaving every
 * X-Delegate-Id field out and remembering the ids they carry, and hand the
 * file to the correlation table at the end of data. The reply to the
 * delegate says what became of the copy (see receiver.h).
 *
 * Where the id is. A filter that adds fields (clamsmtpd) keeps our field at
 * the top of the header. A filter that repackages the message (SpamAssassin's
 * report_safe 1 and 2, as spampd and amavisd-new run it) returns a new
 * message with the original attached, as a message/rfc822 or a text part:
 * our field is then at the top of the embedded header. So every line of the
 * copy that starts an X-Delegate-Id field, with its folded lines, is taken
 * out and its id noted, wherever it is; what the copy is matched to is the
 * one id among them that a transaction waits for (a sender cannot know a
 * live id: 128 random bits, never shown to anyone but the delegate).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "correlation.h"
#include "log.h"
#include "metrics.h"
#include "msg_text.h"
#include "receiver.h"
#include "smtp_server.h"
#include "spool.h"
#include "xalloc.h"

#define RECEIVER_MAX_SIZE (1024ULL * 1024 * 1024)  /* beyond any sane copy */
#define ID_VALUE_MAX 128                /* far longer than any id of ours */

struct receiver {
	struct smtp_server *server;
	struct corr_table *table;       /* borrowed */
	char *spool_dir;
	unsigned idle_ms;               /* as configured (0: the default) */
	size_t allow_count;             /* 0: any client */
	struct cidr *allow;
};

/* The ids a copy carries, by what the correlation table says of them. */
struct copy_ids {
	char live[CORR_ID_LEN + 1];     /* the id a transaction waits for, or "" */
	char late[CORR_ID_LEN + 1];     /* an id whose transaction gave up, or "" */
	char other[CORR_ID_LEN + 1];    /* a replayed or unknown id, or "" */
	unsigned fields;                /* id fields seen (well-formed or not) */
	bool ambiguous;                 /* two different live ids: trust neither */
};

/* One session's state: the message being spooled. */
struct receiver_session {
	struct receiver *receiver;
	struct smtp_peer peer;
	struct spool *spool;            /* the copy being received, always a file */
	bool line_start;                /* the next text starts a line */
	bool skipping;                  /* inside an X-Delegate-Id field */
	char field[ID_VALUE_MAX];       /* the id field's value so far */
	size_t field_len;
	bool field_long;                /* the value did not fit: not one of ours */
	struct copy_ids ids;
};

/* discard_spool - close and remove the message being spooled. */
static void discard_spool(struct receiver_session *rs)
{
	spool_free(rs->spool);
	rs->spool = NULL;
}

/* session_open - a delegate connected. */
/* client_allowed - may PEER send copies to R: any client, or one in its allow-list? */
static bool client_allowed(const struct receiver *r, const struct smtp_peer *peer)
{
	if (r->allow_count == 0)
		return true;
	for (size_t i = 0; i < r->allow_count; i++)
		if (cidr_contains(&r->allow[i], peer->addr))
			return true;
	return false;
}

static void *session_open(void *arg, const struct smtp_peer *peer, struct smtp_reply *banner)
{
	struct receiver_session *rs;

	if (!client_allowed(arg, peer)) {
		log_msg(LOG_WARNING, "receiver: refused a connection from %s (not in receiver_allow)",
			peer->addr);
		smtp_reply_set(banner, 554, "5.7.1 Error: %s may not send copies here", peer->addr);
		return NULL;
	}
	rs = xcalloc(1, sizeof(*rs));
	rs->receiver = arg;
	rs->peer = *peer;
	return rs;
}

/* session_close - the delegate went away. */
static void session_close(void *session)
{
	struct receiver_session *rs = session;

	if (!rs)
		return;         /* refused at the greeting (receiver_allow) */
	discard_spool(rs);
	free(rs);
}

/* data_start - create the spool file for the copy. */
static void data_start(void *session, struct smtp_reply *r)
{
	struct receiver_session *rs = session;

	discard_spool(rs);
	rs->skipping = false;
	rs->line_start = true;
	rs->ids = (struct copy_ids){ 0 };
	/* A copy goes to the correlation table as a file: no memory stage. */
	rs->spool = spool_new(rs->receiver->spool_dir, "copy", 0);
	if (!spool_ok(rs->spool)) {
		log_msg(LOG_ERR, "receiver: %s", spool_error(rs->spool));
		discard_spool(rs);
		smtp_reply_set(r, 451, "4.3.0 Error: cannot spool the message");
	}
}

/* note_id - an id field ended: file its id by what the table says of it. */
static void note_id(struct receiver_session *rs)
{
	struct copy_ids *ids = &rs->ids;
	char id[CORR_ID_LEN + 1];

	rs->skipping = false;
	ids->fields++;
	if (rs->field_long || !msg_parse_id(rs->field, rs->field_len, id))
		return;
	switch (corr_peek(rs->receiver->table, id)) {
	case CORR_ACCEPTED:
		if (ids->live[0] && strcmp(ids->live, id) != 0)
			ids->ambiguous = true;
		memcpy(ids->live, id, sizeof(id));
		break;
	case CORR_LATE:
		memcpy(ids->late, id, sizeof(id));
		break;
	case CORR_REPLAYED:
	case CORR_UNKNOWN:
		memcpy(ids->other, id, sizeof(id));
		break;
	}
}

/* add_to_field - append a piece of the id field's value. */
static void add_to_field(struct receiver_session *rs, const char *text, size_t len)
{
	if (rs->field_len + len >= sizeof(rs->field)) {
		rs->field_long = true;
		return;
	}
	memcpy(rs->field + rs->field_len, text, len);
	rs->field_len += len;
}

/* line_is_id - at the start of a line: is it (part of) an id field, to be left out? */
static bool line_is_id(struct receiver_session *rs, const char *text, size_t len, bool more)
{
	size_t value = 0;

	if (rs->skipping && len > 0 && (text[0] == ' ' || text[0] == '\t')) {
		add_to_field(rs, text, len);
		return true;
	}
	if (rs->skipping)
		note_id(rs);
	if (!msg_is_field(text, len, MSG_ID_FIELD, more, &value))
		return false;
	rs->skipping = true;
	rs->field_len = 0;
	rs->field_long = false;
	add_to_field(rs, text + value, len - value);
	return true;
}

/* data_line - spool one line, leaving id fields out. */
static bool data_line(void *session, const char *text, size_t len, bool more)
{
	struct receiver_session *rs = session;
	bool skip;

	if (!rs->spool || !spool_ok(rs->spool))
		return false;
	if (rs->line_start)
		skip = line_is_id(rs, text, len, more);
	else if ((skip = rs->skipping))
		add_to_field(rs, text, len);    /* the rest of a long id line */
	rs->line_start = !more;
	if (skip)
		return true;
	if (!spool_write(rs->spool, text, len) || (!more && !spool_write(rs->spool, "\r\n", 2))) {
		log_msg(LOG_ERR, "receiver: %s", spool_error(rs->spool));
		return false;
	}
	return true;
}

/* finish_spool - close the spool file; false (and logged) when it failed. */
static bool finish_spool(struct receiver_session *rs)
{
	bool logged = !spool_ok(rs->spool);     /* data_line said it */

	if (spool_finish(rs->spool))
		return true;
	if (!logged)
		log_msg(LOG_ERR, "receiver: %s", spool_error(rs->spool));
	return false;
}

/* chosen_id - the id the copy is matched to: the live one, else a late one, else any. */
static const char *chosen_id(const struct copy_ids *ids)
{
	return ids->live[0] ? ids->live : ids->late[0] ? ids->late : ids->other;
}

/* deliver - hand the spooled copy over; the reply says what became of it. */
static void deliver(struct receiver_session *rs, struct smtp_reply *r)
{
	char *path = spool_release(rs->spool);
	const char *id = chosen_id(&rs->ids);

	rs->spool = NULL;
	if (!path) {
		smtp_reply_set(r, 451, "4.3.0 Error: cannot spool the message");
		return;
	}
	switch (corr_deliver(rs->receiver->table, id, path)) {
	case CORR_ACCEPTED:
		log_msg(LOG_DEBUG, "receiver: copy for id=%s from %s handed over", id, rs->peer.addr);
		smtp_reply_set(r, 250, "2.0.0 Ok: copy handed over");
		return;                 /* the table has PATH */
	case CORR_LATE:
		log_msg(LOG_NOTICE, "receiver: copy for id=%s from %s arrived after its transaction "
			"gave up; dropped", id, rs->peer.addr);
		smtp_reply_set(r, 250, "2.0.0 Ok: late copy dropped");
		metrics_count(M_LATE_COPIES);
		break;
	case CORR_REPLAYED:
		log_msg(LOG_WARNING, "receiver: refused a replayed copy id=%s from %s", id,
			rs->peer.addr);
		smtp_reply_set(r, 550, "5.7.1 Error: delegation id already used");
		metrics_count(M_RECEIVER_REPLAYED);
		break;
	case CORR_UNKNOWN:
		log_msg(LOG_WARNING, "receiver: refused a copy with unknown id=%s from %s", id,
			rs->peer.addr);
		smtp_reply_set(r, 550, "5.7.1 Error: unknown delegation id");
		metrics_count(M_RECEIVER_UNKNOWN);
		break;
	}
	unlink(path);
	free(path);
}

/* data_end - the copy is complete: hand it over, or say why not. */
static void data_end(void *session, bool oversize, struct smtp_reply *r)
{
	struct receiver_session *rs = session;

	if (!rs->spool) {
		smtp_reply_set(r, 451, "4.3.0 Error: cannot spool the message");
		return;
	}
	if (rs->skipping)               /* the message ended inside an id field */
		note_id(rs);
	if (!finish_spool(rs)) {
		discard_spool(rs);
		smtp_reply_set(r, 451, "4.3.0 Error: cannot spool the message");
	} else if (oversize) {
		discard_spool(rs);
	} else if (!*chosen_id(&rs->ids) || rs->ids.ambiguous) {
		log_msg(LOG_WARNING, "receiver: refused a message from %s %s", rs->peer.addr,
			rs->ids.ambiguous ? "with two live X-Delegate-Ids" :
			rs->ids.fields ? "with a malformed X-Delegate-Id" : "without X-Delegate-Id");
		discard_spool(rs);
		smtp_reply_set(r, 550, "5.7.1 Error: not a delegated copy");
		metrics_count(rs->ids.fields ? M_RECEIVER_MALFORMED : M_RECEIVER_NO_ID);
	} else {
		deliver(rs, r);
	}
}

/* reset - the delegate abandoned the message. */
static void reset(void *session)
{
	discard_spool(session);
}

static const struct smtp_handlers receiver_handlers = {
	.session_open = session_open,
	.session_close = session_close,
	.data_start = data_start,
	.data_line = data_line,
	.data_end = data_end,
	.reset = reset,
};

/* is_loopback - is HOST a loopback address (or name)? */
static bool is_loopback(const char *host)
{
	return netaddr_is_loopback(host);
}

/* receiver_start - listen on ADDR and serve (see receiver.h). */
struct receiver *receiver_start(const struct receiver_config *rc, struct corr_table *table,
				char *err, size_t errlen)
{
	const struct endpoint *addr = rc->address;
	struct smtp_server_config cfg = {
		.host = addr->host, .port = addr->port, .hostname = "milter-delegate.receiver",
		.max_message_size = RECEIVER_MAX_SIZE,
		.command_timeout_ms = rc->idle_ms ? rc->idle_ms : 60 * 1000,
		.data_timeout_ms = 5 * 60 * 1000,
		.listener_of = rc->takes_over ? rc->takes_over->server : NULL,
	};
	struct receiver *r;

	if (!rc->allow_public && !is_loopback(addr->host)) {
		snprintf(err, errlen, "receiver %s:%u is not a loopback address (set \"receiver_public\": true "
			 "to allow it)", addr->host, addr->port);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->spool_dir = xstrdup(rc->spool_dir);
	r->idle_ms = rc->idle_ms;
	r->table = table;
	r->allow_count = rc->allow_count;
	r->allow = xcalloc(rc->allow_count ? rc->allow_count : 1, sizeof(*r->allow));
	if (rc->allow_count)
		memcpy(r->allow, rc->allow, rc->allow_count * sizeof(*r->allow));
	if (!(r->server = smtp_server_start(&cfg, &receiver_handlers, r, err, errlen))) {
		free(r->allow);
		free(r->spool_dir);
		free(r);
		return NULL;
	}
	return r;
}

/* receiver_port - the port it listens on. */
unsigned receiver_port(const struct receiver *r)
{
	return smtp_server_port(r->server);
}

/* receiver_sessions - delegate sessions running now. */
unsigned receiver_sessions(struct receiver *r)
{
	return smtp_server_sessions(r->server);
}

/* receiver_changes - the settings of RC that differ from R's, named in WHAT; false if none. */
bool receiver_changes(const struct receiver *r, const struct receiver_config *rc, char *what,
		      size_t len)
{
	bool idle = r->idle_ms != rc->idle_ms;
	bool allow = r->allow_count != rc->allow_count ||
		     (rc->allow_count && memcmp(r->allow, rc->allow, rc->allow_count * sizeof(*rc->allow)));
	bool spool = strcmp(r->spool_dir, rc->spool_dir) != 0;

	snprintf(what, len, "%s%s%s%s%s", idle ? "receiver_idle" : "",
		 idle && (allow || spool) ? ", " : "", allow ? "receiver_allow" : "",
		 allow && spool ? ", " : "", spool ? "spool_dir" : "");
	return idle || allow || spool;
}

/* receiver_close_listener - stop accepting delegates; those connected go on. */
void receiver_close_listener(struct receiver *r)
{
	smtp_server_close_listener(r->server);
}

/* receiver_stop - stop listening, end the sessions, free. */
void receiver_stop(struct receiver *r)
{
	if (!r)
		return;
	smtp_server_stop(r->server);
	free(r->allow);
	free(r->spool_dir);
	free(r);
}
