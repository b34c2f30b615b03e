/*
 * clamd_service.c - a clamd service's delegation: scan, then the verdict as
 * fields. See clamd_service.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clamd_client.h"
#include "clamd_service.h"
#include "correlation.h"        /* corr_now_ms */
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

/* One scan's tries on the members of its pool (pool_run's argument). */
struct scan_attempt {
	struct service_pool *sp;
	struct clamd_scan_request req;
	uint64_t deadline;
	struct clamd_result res;        /* the last try's */
};

/* attempt_scan - pool_attempt_fn: scan on MEMBER, what it says about the member. */
static enum pool_outcome attempt_scan(void *arg, size_t member, char *why, size_t len)
{
	struct scan_attempt *a = arg;
	struct clamd_target to = service_pool_clamd(a->sp, member);
	uint64_t now = corr_now_ms(), left = a->deadline > now ? a->deadline - now : 1;

	a->req.timeout_ms = left > 0xffffffffu ? 0xffffffffu : (unsigned)left;
	clamd_scan(&to, &a->req, &a->res);
	snprintf(why, len, "%s", a->res.error);
	return service_pool_scan_outcome(&a->res);
}

/* clamd_service_run - scan T's message with S's clamd pool. */
void clamd_service_run(struct txn *t, const struct service *s, struct service_pool *sp,
		       struct delegate_result *out)
{
	uint64_t start = corr_now_ms();
	struct scan_attempt a = {
		.sp = sp, .deadline = start + s->timeout_ms,
		.req = { .fd = txn_message_fd(t), .progress = send_progress, .progress_arg = t,
			 .progress_interval_ms = PROGRESS_MS },
		.res = { .verdict = CLAMD_FAILED, .mode = "-" },
	};
	struct pool_run_result run;

	if (a.req.fd < 0) {
		out->status = DELEGATE_ERROR;
		snprintf(out->detail, sizeof(out->detail), "the message cannot be read: %s",
			 strerror(errno));
		return;
	}
	pool_run(service_pool_pool(sp), a.deadline, attempt_scan, &a, send_progress, t,
		 PROGRESS_MS, &run);
	if (run.attempts > 0)
		snprintf(out->member, sizeof(out->member), "%s",
			 pool_member_name(service_pool_pool(sp), run.member));
	if (run.attempts == 0) {        /* else the last member's answer says most */
		a.res.verdict = run.stopped == POOL_BUSY ? CLAMD_TIMEOUT : CLAMD_FAILED;
		snprintf(a.res.error, sizeof(a.res.error), "%s", pool_pick_reason(run.stopped));
	}
	close(a.req.fd);
	verdict_fields(&a.res, out);
	out->elapsed_ms = corr_now_ms() - start;
	if (a.res.verdict == CLAMD_CLEAN || a.res.verdict == CLAMD_INFECTED)
		snprintf(out->detail, sizeof(out->detail), "clamd %s: %.200s", a.res.mode, a.res.reply);
	else
		snprintf(out->detail, sizeof(out->detail), "clamd %s: %.200s", a.res.mode, a.res.error);
	log_msg(LOG_DEBUG, "%s: clamd service=%s member=%s mode=%s verdict=%s elapsed=%lums",
		txn_queue_id(t) ? txn_queue_id(t) : "NOQUEUE", s->name, out->member[0] ? out->member : "-",
		a.res.mode, clamd_verdict_name(a.res.verdict), a.res.elapsed_ms);
}
