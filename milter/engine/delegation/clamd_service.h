/*
 * clamd_service.h - one delegation to a "clamd" service: scan the
 * transaction's message with clamd (clamd_client.h) and turn the verdict
 * into the fields the follow-up rules test, as if a filter had added them:
 *
 *	clean          X-Virus-Scanned: ClamAV (clamd)     DELEGATE_VERDICT
 *	infected       X-Virus-Infected: SIGNATURE          DELEGATE_VERDICT
 *	clamd down, an ERROR reply (size limit), a
 *	  malformed or missing reply                         DELEGATE_ERROR
 *	no answer within the service timeout                 DELEGATE_TIMEOUT
 *
 * so that the follow-up rule of the reference policy ({"header":
 * "X-Virus-Infected"}) and import_headers ("X-Virus-Scanned") work for an
 * smtp service through clamsmtpd and a clamd service alike. detail carries
 * clamd's reply or the reason for the log line.
 *
 * Thread-safe (no state). The fields in OUT are the caller's (txn.h).
 */
#ifndef MD_CLAMD_SERVICE_H
#define MD_CLAMD_SERVICE_H

#include "policy.h"
#include "service_pool.h"
#include "txn.h"

#define CLAMD_SCANNED_FIELD "X-Virus-Scanned"
#define CLAMD_SCANNED_VALUE "ClamAV (clamd)"
#define CLAMD_INFECTED_FIELD "X-Virus-Infected"

/*
 * clamd_service_run - scan T's current message with clamd service S, on
 * the members of its pool SP (a member that cannot be reached or gives no
 * reply is down and the next one scans; an ERROR reply is clamd's word);
 * fills OUT.
 */
void clamd_service_run(struct txn *t, const struct service *s, struct service_pool *sp,
		       struct delegate_result *out);

#endif
