/*
 * clamd_service.c - a clamd service's delegation: scan, then the verdict as
 * fields. See clamd_service.h.
 */
#include <stdio.h>

#include "clamd_client.h"
#include "clamd_service.h"
#include "log.h"

#define PROGRESS_MS 4000        /* MTA progress notifications while clamd scans */

/* send_progress - clamd_scan progress callback: tell the MTA to wait. */
static void send_progress(void *txn)
{
	txn_progress(txn);
}

/* verdict_fields - OUT's status and fields for what clamd said. */
static void verdict_fields(const struct clamd_result *res, struct delegate_result *out)
{
	switch (res->verdict) {
	case CLAMD_CLEAN:
		out->status = DELEGATE_VERDICT;
		headers_add(&out->fields, CLAMD_SCANNED_FIELD, CLAMD_SCANNED_VALUE);
		break;
	case CLAMD_INFECTED:
		out->status = DELEGATE_VERDICT;
		headers_add(&out->fields, CLAMD_INFECTED_FIELD, res->signature);
		break;
	case CLAMD_TIMEOUT:
		out->status = DELEGATE_TIMEOUT;
		break;
	case CLAMD_FAILED:
		out->status = DELEGATE_ERROR;
		break;
	}
}

/* clamd_service_run - scan T's message with S's clamd. */
void clamd_service_run(struct txn *t, const struct service *s, struct delegate_result *out)
{
	const char *path = txn_message_path(t);
	struct clamd_target to = { .socket_path = s->delegator_path, .tcp = &s->delegator,
				   .stream = s->stream };
	struct clamd_scan_request req = {
		.path = path, .timeout_ms = s->timeout_ms > 0xffffffffu ? 0xffffffffu : (unsigned)s->timeout_ms,
		.progress = send_progress, .progress_arg = t, .progress_interval_ms = PROGRESS_MS,
	};
	struct clamd_result res;

	if (!path) {
		out->status = DELEGATE_ERROR;
		snprintf(out->detail, sizeof(out->detail), "message not spooled");
		return;
	}
	clamd_scan(&to, &req, &res);
	verdict_fields(&res, out);
	out->elapsed_ms = res.elapsed_ms;
	if (res.verdict == CLAMD_CLEAN || res.verdict == CLAMD_INFECTED)
		snprintf(out->detail, sizeof(out->detail), "clamd %s: %.200s", res.mode, res.reply);
	else
		snprintf(out->detail, sizeof(out->detail), "clamd %s: %.200s", res.mode, res.error);
	log_msg(LOG_DEBUG, "%s: clamd service=%s mode=%s verdict=%s elapsed=%lums",
		txn_queue_id(t) ? txn_queue_id(t) : "NOQUEUE", s->name, res.mode,
		clamd_verdict_name(res.verdict), res.elapsed_ms);
}
