/*
 * shim_session.h - the SMTP dialogue of the shim mapped onto the engine:
 * the smtp_server handlers that feed one transaction per session and hand
 * accepted messages to the next hop.
 *
 *   session opens   txn_new + txn_connect   reject: 554, tempfail: 421
 *   HELO/EHLO       txn_helo                the policy's reply
 *   MAIL FROM       txn_reset_message (with the current policy) + txn_mail
 *   RCPT TO         txn_rcpt                a refusal refuses this recipient only
 *   DATA text       txn_header.., txn_eoh, txn_body..    (shim_message)
 *   end of data     txn_eom, then by verdict:
 *       accept      deliver to the next hop; 250 only once it has the
 *                   message, 451 4.4.1 if it failed
 *       hold        keep it in the quarantine folder "hold"; 250
 *       discard     250, nothing delivered
 *       reject, tempfail   the policy's reply
 *   RSET, abort     txn_reset_message
 *
 * Ownership: struct shim_runtime is the shim's, borrowed by every session
 * for the life of the SMTP server; each session owns its transaction and
 * message and frees them in session_close. Handlers of one session run in
 * its thread; the runtime's counters are atomic.
 */
#ifndef MD_SHIM_SESSION_H
#define MD_SHIM_SESSION_H

#include <stdatomic.h>
#include <stdbool.h>

#include "shim_config.h"
#include "shim_deliver.h"
#include "smtp_server.h"
#include "txn.h"

#define SHIM_HOLD_FOLDER "hold"

struct shim_runtime {
	const struct shim_config *cfg;          /* borrowed */
	struct shim_nexthop *nexthop;           /* borrowed */
	struct txn_env env;                     /* engine services (delegation, quarantine) */
	atomic_uint sessions;                   /* sessions in flight (not refused) */
	atomic_bool draining;                   /* shutting down: refuse new work with 421 */
};

/* shim_session_handlers - the smtp_server handlers; their ARG is a struct shim_runtime. */
const struct smtp_handlers *shim_session_handlers(void);

#endif
