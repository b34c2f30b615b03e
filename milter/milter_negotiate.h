/*
 * milter_negotiate.h - xxfi_negotiate: only what the loaded policy needs.
 */
#ifndef MD_MILTER_NEGOTIATE_H
#define MD_MILTER_NEGOTIATE_H

#include <libmilter/mfapi.h>

/* milter_negotiate - choose actions, skipped steps and requested macros. */
sfsistat milter_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			  unsigned long f2, unsigned long f3, unsigned long *pf0,
			  unsigned long *pf1, unsigned long *pf2, unsigned long *pf3);

#endif
