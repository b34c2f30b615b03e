/*
 * qtool_release.c - release: send a quarantined message, as stored, to its
 * original envelope (the sender and every recipient of the metadata), then
 * mark it released (qstore_mark_released: who, when, where to, the reply).
 *
 * Three ways out, one per message, all or nothing:
 *   SMTP      delegate_client (libcurl) to --to or the policy's release_to;
 *             a refused recipient refuses the whole release, so a message
 *             is never delivered to some recipients and kept for the others
 *   sendmail  PATH -G -i -f SENDER -- RECIPIENT..., the message on its
 *             standard input with LF line ends; exit status 0 is success
 *   shim      the next hop of a delegate-shim configuration (its SMTP relay
 *             or its Maildir), as the shim itself would deliver
 * With --token (SMTP only) the message goes behind a one-time release field
 * (qstore.h, RELEASE TOKENS) so that the daemon it passes through does not
 * quarantine it again; the token is removed when the release ends.
 * Anything short of success leaves the message in the quarantine, as it was,
 * and says why. The message is claimed for the whole release, so two
 * releases at once send it once. A message that was sent but whose mark
 * could not be written is reported (it would be sent again by a later
 * release): at least once, never silently lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "delegate_client.h"
#include "policy_load.h"
#include "qtool.h"
#include "shim_config.h"
#include "shim_deliver.h"
#include "spool.h"
#include "xalloc.h"

/* Where releases go: one of the three, made once per run. */
struct outlet {
	struct delegate_client *smtp;
	struct shim_config *shim_cfg;
	struct shim_nexthop *shim;
	const char *sendmail;
	char to[1300];                  /* for the release record: "smtp 127.0.0.1:10027" */
};

/* One message's envelope for the outlet (pointers borrowed from its metadata). */
struct envelope {
	const char *sender;
	const char **rcpts;
	size_t count;
};

/* envelope_of - E's sender and recipients (the array is the caller's to free). */
static struct envelope envelope_of(const struct qentry *e)
{
	json_t *list = json_object_get(e->meta, "recipients"), *r;
	struct envelope env = { e->sender, xcalloc(e->rcpt_count, sizeof(char *)), e->rcpt_count };
	size_t i;

	json_array_foreach(list, i, r)
		env.rcpts[i] = json_string_value(r);
	return env;
}

/*
 * with_token - a spool file of E's message behind the release field "ID
 * TOKEN" (qstore.h); NULL (REPLY set) when it cannot be written. The
 * caller frees the spool.
 */
static struct spool *with_token(const struct qtool *q, const struct qentry *e, const char *token,
				char *reply, size_t len)
{
	struct spool *s = spool_new(q->spool_dir, "md-release", 0);
	char *field = xasprintf("%s: %s %s\r\n", QSTORE_RELEASE_FIELD, e->id, token), buf[65536];
	FILE *in = fopen(e->eml, "re");
	size_t n;

	spool_write(s, field, strlen(field));
	while (in && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		spool_write(s, buf, n);
	free(field);
	if (!in || ferror(in) || !spool_finish(s) || !spool_path(s)) {
		snprintf(reply, len, "cannot write the release copy: %s",
			 in ? spool_error(s) : strerror(errno));
		spool_free(s);
		s = NULL;
	}
	if (in)
		fclose(in);
	return s;
}

/* send_smtp - E (behind TOKEN's field, unless NULL) over SMTP; the reply or why in REPLY. */
static bool send_smtp(const struct qtool *q, struct outlet *o, const struct qentry *e,
		      const struct envelope *env, const char *token, char *reply, size_t len)
{
	struct spool *copy = token ? with_token(q, e, token, reply, len) : NULL;
	struct delegate_send_request req = {
		.sender = env->sender, .rcpts = env->rcpts, .rcpt_count = env->count,
		.path = copy ? spool_path(copy) : e->eml, .id = NULL,
		.timeout_ms = q->timeout_ms > 0xffffffffu ? 0xffffffffu : (unsigned)q->timeout_ms,
	};
	struct delegate_send_result res;

	if (token && !copy)
		return false;
	delegate_client_send(o->smtp, &req, &res);
	spool_free(copy);
	if (res.status == SEND_ACCEPTED)
		snprintf(reply, len, "%s", res.reply);
	else
		snprintf(reply, len, "%s %s: %s%s%s", o->to, delegate_send_status_name(res.status),
			 res.error, res.reply[0] ? ": " : "", res.reply);
	return res.status == SEND_ACCEPTED;
}

/* send_shim - E to the shim's next hop. */
static bool send_shim(struct outlet *o, const struct qentry *e, const struct envelope *env,
		      char *reply, size_t len)
{
	FILE *in = fopen(e->eml, "re");
	struct shim_delivery d = {
		.message = in, .sender = env->sender, .rcpts = env->rcpts, .rcpt_count = env->count,
		.queue_id = e->id,
	};
	struct delivery_result res;

	if (in == NULL) {
		snprintf(reply, len, "open %s: %s", e->eml, strerror(errno));
		return false;
	}
	shim_nexthop_deliver(o->shim, &d, &res);
	if (in)
		fclose(in);
	snprintf(reply, len, "%s%s%s", res.status == DELIVERY_SENT ? "" : o->to,
		 res.status == DELIVERY_SENT ? "" : ": ", res.detail);
	return res.status == DELIVERY_SENT;
}

/* pipe_lf - the file PATH into FD with CRLF made LF (sendmail's local line ends). */
static bool pipe_lf(const char *path, int fd)
{
	FILE *in = fopen(path, "re"), *out = fdopen(fd, "w");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	bool ok = in && out;

	while (ok && (n = getline(&line, &cap, in)) > 0) {
		if (n >= 2 && line[n - 2] == '\r' && line[n - 1] == '\n') {
			line[n - 2] = '\n';
			n--;
		}
		ok = fwrite(line, 1, (size_t)n, out) == (size_t)n;
	}
	free(line);
	if (in)
		fclose(in);
	if (out)
		ok = fclose(out) == 0 && ok;
	else
		close(fd);
	return ok;
}

/* send_sendmail - E through sendmail -G -i -f SENDER -- RCPTS. */
static bool send_sendmail(const struct qtool *q, struct outlet *o, const struct qentry *e,
			  const struct envelope *env, char *reply, size_t len)
{
	const char **argv = xcalloc(env->count + 7, sizeof(char *));
	int fds[2], status = 0;
	bool piped;
	pid_t pid;

	(void)q;
	argv[0] = o->sendmail, argv[1] = "-G", argv[2] = "-i", argv[3] = "-f";
	argv[4] = *env->sender ? env->sender : "<>", argv[5] = "--";
	memcpy(argv + 6, env->rcpts, env->count * sizeof(char *));
	if (pipe2(fds, O_CLOEXEC) != 0 || (pid = fork()) < 0) {
		snprintf(reply, len, "%s: cannot start it: %s", o->to, strerror(errno));
		free(argv);
		return false;
	}
	if (pid == 0) {
		dup2(fds[0], STDIN_FILENO);
		execv(o->sendmail, (char *const *)argv);
		_exit(127);
	}
	close(fds[0]);
	piped = pipe_lf(e->eml, fds[1]);
	free(argv);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    !piped) {
		snprintf(reply, len, "%s: %s %d", o->to, piped ? "exit status" : "input not taken, "
			 "exit status", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		return false;
	}
	snprintf(reply, len, "exit status 0");
	return true;
}

/* outlet_open - the way out Q asks for; false (said) when it cannot be made. */
static bool outlet_open(const struct qtool *q, struct outlet *o)
{
	struct load_errors errs = { 0 };
	char err[512];

	memset(o, 0, sizeof(*o));
	if (q->token && (q->sendmail || q->shim_config)) {
		qtool_fail("--token goes with SMTP releases only (the daemon must see the message "
			   "while the token lives)");
		return false;
	}
	if (q->sendmail) {
		o->sendmail = q->sendmail;
		snprintf(o->to, sizeof(o->to), "sendmail %s", q->sendmail);
		return true;
	}
	if (!q->shim_config) {
		o->smtp = delegate_client_new(&q->release_to, 1);      /* one connection for all ids */
		snprintf(o->to, sizeof(o->to), "smtp %s:%u", q->release_to.host, q->release_to.port);
		if (!o->smtp)
			qtool_fail("cannot make an SMTP client");
		return o->smtp != NULL;
	}
	o->shim_cfg = shim_config_load_file(q->shim_config, &errs);
	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.items[i]);
	load_errors_free(&errs);
	if (o->shim_cfg && !(o->shim = shim_nexthop_new(o->shim_cfg, err, sizeof(err))))
		qtool_fail("%s: %s", q->shim_config, err);
	if (o->shim)
		snprintf(o->to, sizeof(o->to), "shim %s", shim_nexthop_describe(o->shim));
	if (!o->shim_cfg)
		qtool_fail("%s: not loaded", q->shim_config);
	return o->shim != NULL;
}

/* outlet_close - everything outlet_open made. */
static void outlet_close(struct outlet *o)
{
	delegate_client_free(o->smtp);
	shim_nexthop_free(o->shim);
	shim_config_free(o->shim_cfg);
}

/* outlet_send - E through O, with a release token when Q asks (SMTP only). */
static bool outlet_send(const struct qtool *q, struct outlet *o, struct qentry *e,
			char *reply, size_t len)
{
	struct envelope env;
	char token[33], err[512];
	bool sent;

	if (q->token && !qstore_set_token(e, token, reply, len))
		return false;
	env = envelope_of(e);   /* borrowed from the metadata, which the token replaced */
	if (o->sendmail)
		sent = send_sendmail(q, o, e, &env, reply, len);
	else if (o->shim)
		sent = send_shim(o, e, &env, reply, len);
	else
		sent = send_smtp(q, o, e, &env, q->token ? token : NULL, reply, len);
	free(env.rcpts);
	if (q->token && !sent && json_object_get(e->meta, "release_token") &&
	    !qstore_set_token(e, NULL, err, sizeof(err)))
		qtool_fail("%s: the release token stays until it expires: %s", e->id, err);
	return sent;
}

/* already_released - the refusal when E was released before and --force is absent. */
static bool already_released(const struct qtool *q, const struct qentry *e)
{
	json_t *list = qstore_released(e), *last;

	if (!list || q->force)
		return false;
	last = json_array_get(list, json_array_size(list) - 1);
	qtool_fail("%s was released at %s by %s to %s; --force releases it again", e->id,
		   json_string_value(json_object_get(last, "at")),
		   json_string_value(json_object_get(last, "by")),
		   json_string_value(json_object_get(last, "to")));
	return true;
}

/* release_one - claim ID, send it, mark it; 0 or 1. */
static int release_one(const struct qtool *q, struct outlet *o, const char *id)
{
	struct qentry e;
	char err[1024], reply[4096];
	int status = 1;

	if (!qstore_find(q->root, q->folder, id, &e, err, sizeof(err)) ||
	    !qstore_claim(&e, err, sizeof(err)))
		qtool_fail("%s", err);
	else if (already_released(q, &e))
		;
	else if (!outlet_send(q, o, &e, reply, sizeof(reply)))
		qtool_fail("%s not released, it stays in the quarantine: %s", id, reply);
	else if (!qstore_mark_released(&e, qtool_user(), o->to, reply, err, sizeof(err)))
		qtool_fail("%s was sent to %s (%s) but not marked released: %s", id, o->to, reply,
			   err);
	else {
		printf("%s: released to %s for %zu recipient%s: %s\n", id, o->to, e.rcpt_count,
		       e.rcpt_count == 1 ? "" : "s", reply);
		status = 0;
	}
	qentry_free(&e);
	return status;
}

/* qtool_release - each id in turn; 1 when any was not released. */
int qtool_release(const struct qtool *q, int argc, char **args)
{
	struct outlet o;
	int status = 0;

	if (!outlet_open(q, &o)) {
		outlet_close(&o);
		return 1;
	}
	for (int i = 0; i < argc; i++)
		status |= release_one(q, &o, args[i]);
	outlet_close(&o);
	return status;
}
