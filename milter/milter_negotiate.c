/*
 * milter_negotiate.c - tell the MTA which stages and macros the policy needs.
 *
 * The policy is the connection's own (taken by the negotiate callback in
 * milter_callbacks.c and kept until close), never the store's current one:
 * what is negotiated here must hold for every message of the connection,
 * whatever reloads come meanwhile. This file only reads it.
 *
 * Stages the policy never looks at are skipped (SMFIP_NO*), so the MTA does
 * not send them: a policy without end-of-message rules never receives bodies.
 * Macros read by conditions are requested at every stage (libmilter's
 * smfi_getsymval searches all stages received so far), plus "i" (queue id)
 * and "{auth_authen}" that the engine itself reads.
 *
 * Header fields and body chunks never get a verdict of their own (rules run
 * at end of headers and end of message), so the MTA is told not to wait for
 * a reply to each of them (SMFIP_NR_HDR, SMFIP_NR_BODY): one round trip per
 * header field less. libmilter always offers these two and answers for us
 * when the MTA does not know them; on_header and on_body return
 * SMFIS_NOREPLY accordingly (milter_callbacks.c).
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "milter_negotiate.h"

#define MACRO_LIST_MAX 1024

/* uses - does policy P have rules at STAGE? */
static bool uses(const struct policy *p, enum stage stage)
{
	return p->stage_mask & (1u << stage);
}

/* tests - does policy P use condition KIND anywhere? */
static bool tests(const struct policy *p, enum cond_kind kind)
{
	return p->cond_mask & (1u << kind);
}

/* steps_to_skip - the SMFIP_NO* flags for what P does not need. */
static unsigned long steps_to_skip(const struct policy *p)
{
	bool eom = uses(p, STAGE_EOM);
	bool need_headers = eom || uses(p, STAGE_HEADERS) || tests(p, COND_HEADER);
	bool need_rcpt = eom || uses(p, STAGE_RCPT) || uses(p, STAGE_HEADERS) ||
			 tests(p, COND_RECIPIENT);
	unsigned long skip = SMFIP_NOUNKNOWN | SMFIP_NODATA;

	if (!uses(p, STAGE_HELO) && !tests(p, COND_HELO))
		skip |= SMFIP_NOHELO;
	if (!need_rcpt)
		skip |= SMFIP_NORCPT;
	if (!need_headers)
		skip |= SMFIP_NOHDRS | SMFIP_NOEOH;
	if (!eom)
		skip |= SMFIP_NOBODY;
	return skip;
}

/* macro_list - "OURS policy-macros..." into BUF. */
static void macro_list(const struct policy *p, const char *ours, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "%s", ours);

	for (size_t i = 0; i < p->macro_count && n < len; i++) {
		if (strstr(ours, p->macros[i]))
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? " " : "", p->macros[i]);
	}
}

/* request_macros - ask for the macros each stage needs. */
static void request_macros(SMFICTX *ctx, const struct policy *p)
{
	static const struct { int stage; const char *ours; } rows[] = {
		{ SMFIM_CONNECT, "{client_addr}" }, { SMFIM_HELO, "" },
		{ SMFIM_ENVFROM, "i {auth_authen}" }, { SMFIM_ENVRCPT, "i" },
		{ SMFIM_EOH, "i" }, { SMFIM_EOM, "i" },
	};
	char list[MACRO_LIST_MAX];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		macro_list(p, rows[i].ours, list, sizeof(list));
		if (*list && smfi_setsymlist(ctx, rows[i].stage, list) != MI_SUCCESS)
			log_msg(LOG_WARNING, "smfi_setsymlist(%d, %s) failed", rows[i].stage, list);
	}
}

/* milter_negotiate - actions we may take, steps we skip, for policy P. */
sfsistat milter_negotiate(SMFICTX *ctx, const struct policy *p, unsigned long f0,
			  unsigned long f1, unsigned long *pf0, unsigned long *pf1,
			  unsigned long *pf2, unsigned long *pf3)
{
	unsigned long actions = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_QUARANTINE |
				SMFIF_SETSYMLIST;

	*pf0 = actions & f0;
	*pf1 = (steps_to_skip(p) | SMFIP_NR_HDR | SMFIP_NR_BODY) & f1;
	*pf2 = *pf3 = 0;
	if (f0 & SMFIF_SETSYMLIST)
		request_macros(ctx, p);
	log_msg(LOG_DEBUG, "negotiated actions=%#lx skip=%#lx (offered %#lx/%#lx)", *pf0, *pf1, f0, f1);
	return SMFIS_CONTINUE;
}
