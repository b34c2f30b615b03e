/*
 * txn_log.c - the per-message log line of both front ends, in text or JSON,
 * and its count in the metrics (see txn_log.h).
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "txn_log.h"

#define LINE_MAX_BYTES 8192     /* the shim's next-hop detail alone may take 3400 */
#define TRAIL_ENTRY_MAX 512     /* the whole trail's bound (txn_int.h) */

/* format_extra - " KEY=VALUE" or " KEY=\"VALUE\"" for each of EXTRA into BUF (LEN). */
static void format_extra(const struct txn_log_field *extra, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (; extra && extra->key && n < len; extra++) {
		int w = snprintf(buf + n, len - n, extra->quote ? " %s=\"%s\"" : " %s=%s",
				 extra->key, extra->value ? extra->value : "");

		if (w < 0)
			break;
		n += (size_t)w;
	}
}

/* txn_log_format - the one line per message, fields in their fixed order. */
void txn_log_format(const struct txn *t, struct verdict v, const struct txn_log_field *extra,
		    char *buf, size_t len)
{
	const char *qid = txn_queue_id(t), *addr = txn_client_addr(t), *from = txn_sender(t);
	const char *qrn = txn_quarantine_id(t);
	char reply[480] = "", tail[LINE_MAX_BYTES / 2];

	if (v.reply)
		snprintf(reply, sizeof(reply), " reply=%d%s%s %s", v.reply->code,
			 *v.reply->status ? " " : "", v.reply->status, v.reply->text);
	format_extra(extra, tail, sizeof(tail));
	snprintf(buf, len, "%s: client=%s from=<%s> rcpts=%zu size=%llu delegation=%llums "
		 "rules=\"%s\" verdict=%s%s%s%s%s", qid && *qid ? qid : "NOQUEUE",
		 addr && *addr ? addr : "unknown", from ? from : "", txn_rcpt_count(t),
		 (unsigned long long)txn_message_size(t), (unsigned long long)txn_delegation_ms(t),
		 txn_trail(t), verdict_name(v.kind), reply, *qrn ? " quarantine=" : "", qrn, tail);
}

/* trail_array - the trail's entries as strings. */
static json_t *trail_array(const struct txn *t)
{
	json_t *a = json_array();
	char entry[TRAIL_ENTRY_MAX];

	for (size_t i = 0; i < txn_trail_count(t); i++) {
		size_t len;
		const char *text = txn_trail_entry(t, i, &len);

		snprintf(entry, sizeof(entry), "%.*s", (int)len, text);
		json_array_append_new(a, log_json_string(entry));
	}
	return a;
}

/* reply_object - {"code","status","text"} of R, or null. */
static json_t *reply_object(const struct reply *r)
{
	if (!r)
		return json_null();
	return json_pack("{s:i,s:o,s:o}", "code", r->code, "status", log_json_string(r->status),
			 "text", log_json_string(r->text));
}

/* txn_log_json - the line's fields as an object. */
json_t *txn_log_json(const struct txn *t, struct verdict v, const struct txn_log_field *extra)
{
	const char *qid = txn_queue_id(t), *addr = txn_client_addr(t), *from = txn_sender(t);
	const char *qt = txn_quarantine_id(t);     /* "" when none */
	json_t *o = json_object();

	json_object_set_new(o, "queue_id", json_string(qid && *qid ? qid : "NOQUEUE"));
	json_object_set_new(o, "client", log_json_string(addr && *addr ? addr : "unknown"));
	json_object_set_new(o, "from", log_json_string(from ? from : ""));
	json_object_set_new(o, "rcpts", json_integer((json_int_t)txn_rcpt_count(t)));
	json_object_set_new(o, "size", json_integer((json_int_t)txn_message_size(t)));
	json_object_set_new(o, "delegation_ms", json_integer((json_int_t)txn_delegation_ms(t)));
	json_object_set_new(o, "rules", trail_array(t));
	json_object_set_new(o, "verdict", json_string(verdict_name(v.kind)));
	json_object_set_new(o, "reply", reply_object(v.reply));
	json_object_set_new(o, "quarantine_id", *qt ? log_json_string(qt) : json_null());
	for (; extra && extra->key; extra++)
		json_object_set_new(o, extra->key, log_json_string(extra->value));
	return o;
}

/* txn_count_verdict - count V in the metrics' messages by verdict and stage. */
void txn_count_verdict(struct verdict v)
{
	static const enum metric_verdict by_kind[] = {
		[VERDICT_CONTINUE] = MV_ACCEPT, [VERDICT_ACCEPT] = MV_ACCEPT,
		[VERDICT_REJECT] = MV_REJECT, [VERDICT_TEMPFAIL] = MV_TEMPFAIL,
		[VERDICT_DISCARD] = MV_DISCARD, [VERDICT_HOLD] = MV_HOLD,
	};

	metrics_count_message(v.quarantine_reason ? MV_QUARANTINE : by_kind[v.kind], v.stage);
}

/* txn_log_message - the count, then the line at LOG_INFO. */
void txn_log_message(const struct txn *t, struct verdict v, const struct txn_log_field *extra)
{
	char line[LINE_MAX_BYTES];
	json_t *fields;

	if (v.stage > STAGE_HELO)       /* connect and helo decisions: counted when made */
		txn_count_verdict(v);
	if (!log_enabled(LOG_INFO))
		return;
	txn_log_format(t, v, extra, line, sizeof(line));
	if (!log_format_json()) {
		log_msg(LOG_INFO, "%s", line);
		return;
	}
	fields = txn_log_json(t, v, extra);
	log_record(LOG_INFO, line, fields);
	json_decref(fields);
}
