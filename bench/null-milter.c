/*
 * null-milter.c - bench row 2n: a libmilter milter that does nothing. It
 * asks the MTA for the same stages and reply modes as milter-delegate with
 * bench/policy-20rules.json (every stage but DATA and unknown commands,
 * no replies to headers and body chunks) and answers "continue" to each,
 * so Postfix + this milter is the floor of any libmilter milter.
 *
 * usage: null-milter unix:/path/to.sock | inet:PORT@127.0.0.1
 */
#include <stdio.h>
#include <stdlib.h>

#include <libmilter/mfapi.h>

static sfsistat go_on(void)
{
	return SMFIS_CONTINUE;
}

static sfsistat on_connect(SMFICTX *c, char *h, _SOCK_ADDR *a) { (void)c, (void)h, (void)a; return go_on(); }
static sfsistat on_helo(SMFICTX *c, char *h) { (void)c, (void)h; return go_on(); }
static sfsistat on_args(SMFICTX *c, char **v) { (void)c, (void)v; return go_on(); }
static sfsistat on_header(SMFICTX *c, char *n, char *v) { (void)c, (void)n, (void)v; return go_on(); }
static sfsistat on_ctx(SMFICTX *c) { (void)c; return go_on(); }
static sfsistat on_body(SMFICTX *c, unsigned char *b, size_t n) { (void)c, (void)b, (void)n; return go_on(); }

/* on_negotiate - the same steps as milter-delegate for a policy with eom rules. */
static sfsistat on_negotiate(SMFICTX *c, unsigned long f0, unsigned long f1, unsigned long f2,
			     unsigned long f3, unsigned long *p0, unsigned long *p1,
			     unsigned long *p2, unsigned long *p3)
{
	(void)c, (void)f2, (void)f3;
	*p0 = (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_QUARANTINE) & f0;
	*p1 = (SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NR_HDR | SMFIP_NR_BODY) & f1;
	*p2 = *p3 = 0;
	return SMFIS_CONTINUE;
}

int main(int argc, char **argv)
{
	struct smfiDesc desc = {
		.xxfi_name = "null-milter", .xxfi_version = SMFI_VERSION,
		.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_QUARANTINE,
		.xxfi_connect = on_connect, .xxfi_helo = on_helo, .xxfi_envfrom = on_args,
		.xxfi_envrcpt = on_args, .xxfi_header = on_header, .xxfi_eoh = on_ctx,
		.xxfi_body = on_body, .xxfi_eom = on_ctx, .xxfi_abort = on_ctx, .xxfi_close = on_ctx,
		.xxfi_negotiate = on_negotiate,
	};

	if (argc != 2) {
		fprintf(stderr, "usage: null-milter unix:/path | inet:PORT@HOST\n");
		return 2;
	}
	if (smfi_setconn(argv[1]) == MI_FAILURE || smfi_register(desc) == MI_FAILURE ||
	    smfi_opensocket(1) == MI_FAILURE) {
		fprintf(stderr, "null-milter: cannot listen on %s\n", argv[1]);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
