/*
 * policy.h - the loaded policy: services, stages, rules, conditions, actions.
 *
 * A policy is built once by policy_load() (policy_load.h) and is immutable
 * afterwards: every thread may read it without locks. It is reference-counted
 * so that a reload can swap in a new policy while transactions still finish on
 * the old one: whoever keeps a pointer beyond the call that gave it takes a
 * reference with policy_ref() and drops it with policy_unref(); the last
 * unref frees everything. All strings and arrays below belong to the policy.
 *
 * The JSON format is documented in policies/README.md.
 */
#ifndef MD_POLICY_H
#define MD_POLICY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr_set.h"
#include "match_list.h"     /* struct matcher_list: a subject matches when any matcher does */
#include "netaddr.h"     /* struct endpoint */

struct metrics_series;

/* The points where a milter (or the shim) can decide, in dialogue order. */
enum stage {
	STAGE_CONNECT,
	STAGE_HELO,
	STAGE_MAIL,
	STAGE_RCPT,
	STAGE_HEADERS,          /* all headers received (milter: end of headers) */
	STAGE_EOM,              /* whole message received (end of message) */
	STAGE_COUNT
};

/* stage_name - the JSON key of STAGE ("connect", ..., "eom"). */
const char *stage_name(enum stage stage);

enum cond_kind {
	COND_ALL, COND_ANY, COND_NOT,
	COND_CLIENT_IP,         /* client address in any of the networks */
	COND_CLIENT_NAME,       /* client host name (reverse DNS) */
	COND_HELO,
	COND_SENDER,            /* envelope sender */
	COND_RECIPIENT,         /* rcpt stage: this recipient; later: any recipient */
	COND_AUTH,              /* an authenticated user is present (or absent) */
	COND_AUTH_USER,         /* the authenticated user name matches */
	COND_HEADER,            /* header present, or its value matches; in follow-up
				 * rules: only the fields the delegate added or changed */
	COND_ORIGINAL_HEADER,   /* follow-up rules only: the same test on the fields of
				 * the message as the client sent it */
	COND_SIZE_ABOVE,        /* message size in bytes above a limit */
	COND_MACRO,             /* MTA macro defined, or its value matches */
};

struct cond {
	enum cond_kind kind;
	enum stage min_stage;   /* earliest stage where it can be evaluated */
	union {
		struct { size_t count; struct cond *items; } list;   /* ALL, ANY */
		struct cond *negated;                                /* NOT */
		struct cidr_set nets;        /* CLIENT_IP */
		struct matcher_list match;   /* CLIENT_NAME HELO SENDER RECIPIENT AUTH_USER */
		bool present;                /* AUTH */
		struct {                     /* HEADER, ORIGINAL_HEADER, MACRO */
			char *name;
			bool has_value;      /* false: presence test only */
			struct matcher_list value;
		} named;
		uint64_t size;               /* SIZE_ABOVE */
	} u;
};

/* An SMTP reply: "550 5.7.1 text". status may be empty; text is never NULL. */
struct reply {
	int code;
	char status[12];        /* enhanced status code "5.7.1" or "" */
	char *text;
};

enum action_kind {
	ACT_NEXT,               /* nothing; go on with the next rule */
	ACT_ACCEPT,             /* stop: accept the message (connect: the connection) */
	ACT_REJECT,
	ACT_TEMPFAIL,
	ACT_DISCARD,
	ACT_QUARANTINE,
	ACT_ADD_HEADER,
	ACT_CHANGE_HEADER,
	ACT_REMOVE_HEADER,
	ACT_LOG,
	ACT_DELEGATE,
};

/* What recipients see once a message has been quarantined. */
enum quarantine_then {
	QUARANTINE_DISCARD,     /* accepted, then dropped (the folder copy remains) */
	QUARANTINE_REJECT,      /* refused with the action's reply */
	QUARANTINE_HOLD,        /* MTA quarantine (Postfix hold queue), accepted */
};

struct action;
struct rule;

struct action_list {
	size_t count;
	struct action *items;
};

struct rule_list {
	size_t count;
	struct rule *items;
};

/* A header name pattern: exact name, or a prefix when it ends in '*'. */
struct header_pattern {
	char *name;             /* without the '*' */
	bool prefix;
};

struct service;

/* Which message is delivered (and quarantined) after a delegation. */
enum deliver_source {
	DELIVER_ORIGINAL,       /* the message as received, plus the imported fields */
	DELIVER_COPY,           /* the delegate's copy, as it returned it */
};

struct delegate_spec {
	const struct service *service;  /* borrowed from the policy */
	struct rule_list followup;      /* evaluated on the returned copy */
	struct action_list on_error;    /* delegator refused or failed */
	struct action_list on_timeout;  /* no copy within the service timeout */
	struct action_list on_missing;  /* delegator accepted, sent no copy back */
	size_t import_count;            /* headers carried into the final message */
	struct header_pattern *imports; /* (DELIVER_ORIGINAL only: a copy carries its own) */
	enum deliver_source deliver;    /* "deliver": what goes on once the copy is back */
};

struct action {
	enum action_kind kind;
	union {
		struct reply reply;                     /* REJECT, TEMPFAIL */
		struct {                                /* QUARANTINE */
			char *folder;                   /* NULL: no folder copy */
			char *reason;
			enum quarantine_then then;
			struct reply reply;             /* for QUARANTINE_REJECT */
		} quarantine;
		struct {                                /* ADD/CHANGE/REMOVE_HEADER */
			char *name;
			char *value;                    /* NULL for REMOVE */
			unsigned index;                 /* CHANGE: 1-based occurrence */
		} header;
		struct {                                /* LOG */
			int level;                      /* syslog priority */
			char *message;
		} log;
		struct delegate_spec delegate;          /* DELEGATE */
	} u;
};

struct rule {
	char *name;
	struct cond *cond;              /* NULL: always true */
	struct action_list then;
	struct action_list otherwise;   /* "else" */
	unsigned line;                  /* source line, for logs */
	struct metrics_series *metrics; /* its hits (metrics.h), set by policy_store; NULL: none */
};

/*
 * SERVICE_SMTP: a content filter that speaks SMTP and returns a copy to our
 * receiver. SERVICE_CLAMD: clamd itself, sent the message with INSTREAM or
 * FILDES; its verdict comes back as fields (clamd_service.h), no receiver.
 */
enum service_type { SERVICE_SMTP, SERVICE_CLAMD };

/* How a clamd service passes the message ("stream"). */
enum clamd_stream {
	CLAMD_STREAM_AUTO,      /* FILDES on a unix socket, INSTREAM over TCP */
	CLAMD_STREAM_INSTREAM,  /* the bytes, in chunks */
	CLAMD_STREAM_FILDES,    /* the open file (unix socket only) */
};

/* One address of a service's pool: a filter host, or a clamd. */
struct service_member {
	struct endpoint address;        /* host NULL: a clamd unix socket (path) */
	char *path;                     /* SERVICE_CLAMD on a unix socket, else NULL */
	char *name;                     /* as written, for logs: "10.0.1.1:10026", "/run/c.sock" */
};

/* How a delegation picks a member of its service's pool. */
enum pool_balance {
	BALANCE_FAILOVER,       /* the first member that is up, in the order written */
	BALANCE_ROUND_ROBIN,    /* the next member that is up, in turn */
};

#define SERVICE_MAX_MEMBERS 32

struct service {
	char *name;
	enum service_type type;
	size_t member_count;            /* at least 1 (0 only in a policy that failed to load) */
	struct service_member *members;
	enum pool_balance balance;
	unsigned max_concurrent;        /* delegations at once per member; 0: no cap */
	uint64_t health_interval_ms;    /* probe period; a failed member waits it, doubling, */
	uint64_t backoff_max_ms;        /* up to this, between probes */
	enum clamd_stream stream;       /* SERVICE_CLAMD only */
	uint64_t timeout_ms;            /* wait for the returned copy */
	uint64_t grace_ms;              /* 2xx answer but no copy: wait this long */
	uint64_t idle_ms;               /* SMTP: reuse no connection idle longer (whole seconds) */
	struct endpoint receiver;
	uint64_t receiver_idle_ms;      /* the receiver drops a delegate idle this long */
	bool receiver_public;           /* binding a non-loopback address was asked for */
	size_t receiver_allow_count;    /* 0: any client (the id check still applies) */
	struct cidr *receiver_allow;    /* networks whose copies the receiver takes (and loopback) */
	struct metrics_series *metrics; /* its delegations (metrics.h), set by policy_store */
	/*
	 * The delegation runtime's pool for this service (delegation.c), bound
	 * when the policy is put in use: the one field of a loaded policy that
	 * is written later (atomically, once). The policy holds a reference to
	 * it and gives it back with runtime_release when it is freed, so a pool
	 * lives while any policy, and so any message, that may use it does.
	 */
	void *_Atomic runtime;
	void (*_Atomic runtime_release)(void *runtime);
};

/* settings.release_to when the policy does not say (milter-delegate-quarantine release). */
#define POLICY_RELEASE_HOST "127.0.0.1"
#define POLICY_RELEASE_PORT 25

struct policy_settings {
	char *quarantine_dir;           /* root of quarantine folders */
	char *spool_dir;                /* temporary message copies */
	uint64_t max_message_size;      /* 0: no limit of ours */
	struct action_list fail_safe;   /* verdict when processing fails (tempfail) */
	struct endpoint release_to;     /* where quarantine releases go (127.0.0.1:25) */
};

struct policy {
	atomic_uint refs;
	char *path;                     /* file it was loaded from */
	struct policy_settings settings;
	size_t service_count;
	struct service *services;
	struct rule_list stages[STAGE_COUNT];
	/* Derived at load, for negotiation with the MTA: */
	unsigned stage_mask;            /* bit (1 << stage) when the stage has rules */
	unsigned cond_mask;             /* bit (1 << cond_kind) for each test used */
	size_t macro_count;             /* macro names conditions read, "{auth_authen}" */
	char **macros;
	size_t rule_count;              /* all rules, follow-ups included */
	bool needs_message_file;        /* a delegation or a quarantine: spool messages */
	size_t list_files;              /* list files read ({"file": ...}) */
	size_t list_entries;            /* entries taken from them */
};

/* policy_ref - take a reference; returns P. */
struct policy *policy_ref(struct policy *p);

/* policy_unref - drop a reference; frees the policy with the last one. P may be NULL. */
void policy_unref(struct policy *p);

/* policy_find_service - the service called NAME, or NULL. */
const struct service *policy_find_service(const struct policy *p, const char *name);

/* policy_free_contents - helpers for the loader, which builds in place. */
void cond_free(struct cond *c);
void action_list_free(struct action_list *l);
void rule_list_free(struct rule_list *l);

#endif
