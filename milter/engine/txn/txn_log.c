/*
 * txn_log.c - the per-message log line of both front ends (see txn_log.h).
 */
#include <stdio.h>

#include "log.h"
#include "txn_log.h"

#define LINE_MAX_BYTES 8192     /* the shim's next-hop detail alone may take 3400 */

/* txn_log_format - the one line per message, fields in their fixed order. */
void txn_log_format(const struct txn *t, struct verdict v, const char *extra,
		    char *buf, size_t len)
{
	const char *qid = txn_queue_id(t), *addr = txn_client_addr(t), *from = txn_sender(t);
	const char *qrn = txn_quarantine_id(t);
	char reply[480] = "";

	if (v.reply)
		snprintf(reply, sizeof(reply), " reply=%d%s%s %s", v.reply->code,
			 *v.reply->status ? " " : "", v.reply->status, v.reply->text);
	snprintf(buf, len, "%s: client=%s from=<%s> rcpts=%zu size=%llu delegation=%llums "
		 "rules=\"%s\" verdict=%s%s%s%s%s%s", qid && *qid ? qid : "NOQUEUE",
		 addr && *addr ? addr : "unknown", from ? from : "", txn_rcpt_count(t),
		 (unsigned long long)txn_message_size(t), (unsigned long long)txn_delegation_ms(t),
		 txn_trail(t), verdict_name(v.kind), reply, *qrn ? " quarantine=" : "", qrn,
		 extra ? " " : "", extra ? extra : "");
}

/* txn_log_message - the line at LOG_INFO. */
void txn_log_message(const struct txn *t, struct verdict v, const char *extra)
{
	char line[LINE_MAX_BYTES];

	if (!log_enabled(LOG_INFO))
		return;
	txn_log_format(t, v, extra, line, sizeof(line));
	log_msg(LOG_INFO, "%s", line);
}
