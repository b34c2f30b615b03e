/*
 * shim_config.h - the shim's own settings (listen address, host name, next
 * hop, limits), read from a JSON file next to the policy (shim.json).
 *
 * The file is checked like a policy: every error is collected and reported
 * as FILE:LINE:COLUMN: JSON.PATH: what was expected, unknown keys are
 * refused, and a configuration is returned only when there is no error at
 * all. The format is documented in shim/README.md:
 *
 *	{
 *	  "listen": "127.0.0.1:2525",
 *	  "hostname": "mx.example.org",
 *	  "next_hop": { "maildir": "/var/mail/shim" },
 *	  "bare_newline": "reject",
 *	  "limits": { "max_recipients": 100, "max_message_size": "50M",
 *	              "max_sessions": 100, "command_timeout": "5m",
 *	              "data_timeout": "10m" }
 *	}
 *
 * Ownership: the caller owns the returned configuration (shim_config_free)
 * and the error list (load_errors_free). Loading touches no global state.
 */
#ifndef MD_SHIM_CONFIG_H
#define MD_SHIM_CONFIG_H

#include <stdint.h>

#include "policy.h"
#include "policy_load.h"
#include "smtp_server.h"

enum nexthop_kind { NEXTHOP_SMTP, NEXTHOP_MAILDIR };

struct shim_config {
	char *path;                     /* file it was loaded from */
	struct endpoint listen;         /* numeric host and port */
	char *hostname;                 /* banner, EHLO, Received */
	enum nexthop_kind nexthop;
	struct endpoint smtp;           /* NEXTHOP_SMTP */
	uint64_t smtp_timeout_ms;       /* NEXTHOP_SMTP: the whole relay of one message */
	char *maildir;                  /* NEXTHOP_MAILDIR: absolute path */
	unsigned max_recipients;
	uint64_t max_message_size;      /* 0: the policy's settings.max_message_size */
	unsigned max_sessions;
	uint64_t command_timeout_ms;
	uint64_t data_timeout_ms;
	enum smtp_bare_newline bare_newline;    /* "bare_newline": reject (default) or normalize */
};

/* shim_config_load_file - load PATH; NULL when any error was found (see ERRS). */
struct shim_config *shim_config_load_file(const char *path, struct load_errors *errs);

/* shim_config_load_text - load TEXT, naming it NAME in messages. */
struct shim_config *shim_config_load_text(const char *text, const char *name,
					  struct load_errors *errs);

/* shim_config_summary - one line describing a loaded configuration, for -t. */
void shim_config_summary(const struct shim_config *c, char *buf, size_t len);

/* shim_config_free - release C; NULL ok. */
void shim_config_free(struct shim_config *c);

#endif
