/*
 * milter_deliver.h - tell the MTA what to deliver at end of message: the
 * header edits of the transaction and, when a delegation asked for its copy
 * to be delivered ("deliver": "copy"), that copy in place of the message.
 *
 * Ownership: borrows the transaction and the context for the call. Runs in
 * the xxfi_eom callback's thread (libmilter allows these calls there only).
 */
#ifndef MD_MILTER_DELIVER_H
#define MD_MILTER_DELIVER_H

#include <stdbool.h>

#include <libmilter/mfapi.h>

#include "txn.h"

/*
 * milter_deliver - send the MTA the changes that make the message the one
 * to deliver (txn_delivery): with DELIVER_COPY every field of the client's
 * is removed, the copy's fields added and the body replaced with the copy's;
 * then the header edits. False (logged) when the copy could not be read or
 * the MTA refused a change: the caller tempfails rather than deliver half a
 * message.
 */
bool milter_deliver(SMFICTX *ctx, const struct txn *t);

#endif
