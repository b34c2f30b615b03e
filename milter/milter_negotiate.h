/*
 * milter_negotiate.h - xxfi_negotiate's answer: only what a policy needs.
 *
 * The caller (the negotiate callback) passes the policy the connection will
 * keep to its end; it is only read here and not referenced.
 */
#ifndef MD_MILTER_NEGOTIATE_H
#define MD_MILTER_NEGOTIATE_H

#include <libmilter/mfapi.h>

#include "policy.h"

/*
 * milter_negotiate - from what the MTA offers (F0 actions, F1 protocol
 * steps), choose the actions, skipped steps and requested macros that
 * policy P needs; *PF0..*PF3 as xxfi_negotiate returns them.
 */
sfsistat milter_negotiate(SMFICTX *ctx, const struct policy *p, unsigned long f0,
			  unsigned long f1, unsigned long *pf0, unsigned long *pf1,
			  unsigned long *pf2, unsigned long *pf3);

#endif
