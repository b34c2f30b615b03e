/*
 * smtp_dialogue.c - the SMTP server's side of the dialogue: the banner, a
 * table of commands with their order and syntax checks, the MAIL/RCPT
 * parameters, the DATA phase (end of data, dot-unstuffing, bare line ends,
 * size limit), and the replies
 * that the handlers leave to the server.
 *
 * Replies follow Postfix's wording where there is one, so that logs and
 * clients see familiar text.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "smtp_server_int.h"

#define MAX_PATH_LEN 512        /* an address between < and > */

struct command {
	const char *verb;
	void (*run)(struct smtp_session *s, char *args);
};

/* handlers - the session's handler table. */
static const struct smtp_handlers *handlers(const struct smtp_session *s)
{
	return &s->server->handlers;
}

/* stopping - is the server being stopped? */
static bool stopping(struct smtp_session *s)
{
	bool stop;

	pthread_mutex_lock(&s->server->lock);
	stop = s->server->stopping;
	pthread_mutex_unlock(&s->server->lock);
	return stop;
}

/* draining - has the server closed its listener (no new transaction)? */
static bool draining(struct smtp_session *s)
{
	bool drain;

	pthread_mutex_lock(&s->server->lock);
	drain = s->server->draining;
	pthread_mutex_unlock(&s->server->lock);
	return drain;
}

/* say - queue a reply of the server's own; 421 ends the session. */
static void say(struct smtp_session *s, int code, const char *text)
{
	smtp_reply(s, code, false, text);
	if (code == 421)
		s->closing = true;
}

/* say_decided - queue R, or CODE/TEXT when the handler left it empty or invalid. */
static void say_decided(struct smtp_session *s, const struct smtp_reply *r, int code,
			const char *text)
{
	if (r->code >= 200 && r->code <= 599)
		say(s, r->code, r->text[0] ? r->text : text);
	else
		say(s, code, text);
}

/* decided_ok - did the handler leave R empty or accept? */
static bool decided_ok(const struct smtp_reply *r)
{
	return r->code == 0 || (r->code >= 200 && r->code < 400);
}

/* abandon_message - forget the message in progress, telling the handler. */
static void abandon_message(struct smtp_session *s)
{
	if (s->state == SMTP_IN_MAIL && handlers(s)->reset)
		handlers(s)->reset(s->ctx);
	if (s->state == SMTP_IN_MAIL)
		s->state = SMTP_READY;
	s->rcpt_count = 0;
}

/* end_message - the message was answered (data_end): back to READY. */
static void end_message(struct smtp_session *s)
{
	s->state = SMTP_READY;
	s->rcpt_count = 0;
	s->messages++;
}

/* bad_command - count a command error (too many end the session). */
static void bad_command(struct smtp_session *s, int code, const char *text)
{
	say(s, code, text);
	if (++s->errors >= SMTP_MAX_ERRORS)
		say(s, 421, "4.7.0 Error: too many errors");
}

/* greet - HELO and EHLO: a name is required; the handler may refuse it. */
static void greet(struct smtp_session *s, char *args, bool extended)
{
	struct smtp_reply r = { 0 };
	const struct smtp_server_config *c = &s->server->cfg;
	char size[64];

	if (!*args || strchr(args, ' ')) {
		bad_command(s, 501, extended ? "5.5.4 Syntax: EHLO hostname" : "5.5.4 Syntax: HELO hostname");
		return;
	}
	abandon_message(s);
	if (handlers(s)->helo)
		handlers(s)->helo(s->ctx, args, extended, &r);
	if (!decided_ok(&r)) {
		say_decided(s, &r, 550, "5.7.1 Error: HELO refused");
		return;
	}
	s->state = SMTP_READY;
	s->esmtp = extended;
	if (!extended) {
		smtp_reply(s, 250, false, c->hostname);
		return;
	}
	smtp_reply(s, 250, true, c->hostname);
	smtp_reply(s, 250, true, "PIPELINING");
	if (c->max_message_size)
		snprintf(size, sizeof(size), "SIZE %" PRIu64, c->max_message_size);
	else
		snprintf(size, sizeof(size), "SIZE");
	smtp_reply(s, 250, true, size);
	smtp_reply(s, 250, true, "8BITMIME");
	smtp_reply(s, 250, false, "ENHANCEDSTATUSCODES");
}

static void cmd_helo(struct smtp_session *s, char *args) { greet(s, args, false); }
static void cmd_ehlo(struct smtp_session *s, char *args) { greet(s, args, true); }

/*
 * parse_path - split "KEYWORD<addr> params" (one optional space after the
 * colon is tolerated). *ADDR is the address without brackets and source
 * route, NUL-terminated in place; *PARAMS the rest. False on bad syntax.
 */
static bool parse_path(char *args, const char *keyword, char **addr, char **params)
{
	size_t k = strlen(keyword);
	bool quoted = false;
	char *p, *start;

	if (strncasecmp(args, keyword, k) != 0)
		return false;
	p = args + k;
	while (*p == ' ')
		p++;
	if (*p++ != '<')
		return false;
	start = p;
	for (; *p && (quoted || *p != '>'); p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
		if (*p == '\\' && p[1])
			p++;
		else if (*p == '"')
			quoted = !quoted;
	}
	if (*p != '>' || p - start > MAX_PATH_LEN)
		return false;
	*p++ = '\0';
	if (*p && *p != ' ')
		return false;
	while (*p == ' ')
		p++;
	if (*start == '@') {            /* <@relay,@relay:user@domain>: drop the route */
		char *colon = strchr(start, ':');

		if (!colon)
			return false;
		start = colon + 1;
	}
	*addr = start;
	*params = p;
	return true;
}

/* next_param - the next space-separated parameter of P (advanced), or NULL. */
static char *next_param(char **p)
{
	char *param;

	while (**p == ' ')
		(*p)++;
	if (!**p)
		return NULL;
	param = *p;
	*p += strcspn(*p, " ");
	if (**p)
		*(*p)++ = '\0';
	return param;
}

/* parse_mail_params - SIZE= and BODY=; false with a reply queued on error. */
static bool parse_mail_params(struct smtp_session *s, char *params, struct smtp_mail_params *out)
{
	char *param, text[SMTP_REPLY_MAX];

	while ((param = next_param(&params))) {
		char *end;

		if (strncasecmp(param, "SIZE=", 5) == 0 && isdigit((unsigned char)param[5])) {
			errno = 0;
			out->size = strtoull(param + 5, &end, 10);
			if (*end || errno)
				goto bad;
		} else if (strcasecmp(param, "BODY=8BITMIME") == 0) {
			out->body_8bit = true;
		} else if (strcasecmp(param, "BODY=7BIT") == 0) {
			out->body_8bit = false;
		} else {
			goto bad;
		}
	}
	return true;
bad:
	snprintf(text, sizeof(text), "5.5.4 Unsupported option: %.100s", param);
	bad_command(s, 555, text);
	return false;
}

/* cmd_mail - MAIL FROM:<sender> [SIZE=n] [BODY=...]. */
static void cmd_mail(struct smtp_session *s, char *args)
{
	struct smtp_mail_params params = { 0 };
	struct smtp_reply r = { 0 };
	uint64_t max = s->server->cfg.max_message_size;
	char *addr, *rest;

	if (s->state == SMTP_GREETED) {
		bad_command(s, 503, "5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->state == SMTP_IN_MAIL) {
		bad_command(s, 503, "5.5.1 Error: nested MAIL command");
		return;
	}
	if (s->messages > 0 && draining(s)) {
		/* Its first message goes through (it connected in time); after
		 * that the client connects again and reaches the new listener. */
		say(s, 421, "4.3.2 Error: this listener was closed, connect again");
		return;
	}
	if (!parse_path(args, "FROM:", &addr, &rest)) {
		bad_command(s, 501, "5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	if (!parse_mail_params(s, rest, &params))
		return;
	if (max && params.size > max) {
		say(s, 552, "5.3.4 Message size exceeds fixed limit");
		return;
	}
	if (handlers(s)->mail)
		handlers(s)->mail(s->ctx, addr, &params, &r);
	if (decided_ok(&r))
		s->state = SMTP_IN_MAIL;
	say_decided(s, &r, 250, "2.1.0 Ok");
}

/* cmd_rcpt - RCPT TO:<recipient>. */
static void cmd_rcpt(struct smtp_session *s, char *args)
{
	struct smtp_reply r = { 0 };
	char *addr, *rest, text[SMTP_REPLY_MAX];

	if (s->state != SMTP_IN_MAIL) {
		bad_command(s, 503, "5.5.1 Error: need MAIL command");
		return;
	}
	if (!parse_path(args, "TO:", &addr, &rest) || !*addr) {
		bad_command(s, 501, "5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (*rest) {
		snprintf(text, sizeof(text), "5.5.4 Unsupported option: %.100s", rest);
		bad_command(s, 555, text);
		return;
	}
	if (s->rcpt_count >= s->server->cfg.max_recipients) {
		say(s, 452, "4.5.3 Error: too many recipients");
		return;
	}
	if (handlers(s)->rcpt)
		handlers(s)->rcpt(s->ctx, addr, &r);
	if (decided_ok(&r))
		s->rcpt_count++;
	say_decided(s, &r, 250, "2.1.5 Ok");
}

/* text_line - pass one piece of message text to the handler. */
static bool text_line(struct smtp_session *s, const char *line, size_t len, bool more)
{
	return !handlers(s)->data_line || handlers(s)->data_line(s->ctx, line, len, more);
}

/* What receive_text found besides the text. */
struct text_status {
	bool oversize;          /* over max_message_size */
	bool bare_lf;           /* a line ended in LF without CR */
	bool bare_cr;           /* a CR that is not part of a line end */
};

/* strict - does the server refuse bare line ends (SMTP_BARE_REJECT)? */
static bool strict(const struct smtp_session *s)
{
	return s->server->cfg.bare_newline == SMTP_BARE_REJECT;
}

/* text_refused - must the message be refused for what ST found? */
static bool text_refused(const struct smtp_session *s, const struct text_status *st)
{
	return strict(s) && (st->bare_lf || st->bare_cr);
}

/*
 * receive_text - read message text up to <CRLF>.<CRLF>. A "." line ends
 * the data only when both the line before it and the dot itself end with
 * CRLF (the DATA command's line end counts as the first). False when the
 * session ended on the way (client gone, timeout): the message is abandoned.
 */
static bool receive_text(struct smtp_session *s, struct text_status *st)
{
	uint64_t size = 0, max = s->server->cfg.max_message_size;
	bool line_start = true, after_crlf = true, taking = true;
	char *line;
	size_t len;

	for (;;) {
		enum smtp_read rc = smtp_read_line(s, s->server->cfg.data_timeout_ms, &line, &len);
		bool whole = rc == SMTP_LINE, crlf = whole && s->line_crlf;

		if (rc == SMTP_TIMEOUT)
			say(s, 421, "4.4.2 Error: timeout exceeded");
		if (rc != SMTP_LINE && rc != SMTP_PARTIAL)
			return false;
		if (line_start && after_crlf && crlf && len == 1 && line[0] == '.')
			return true;
		st->bare_lf |= whole && !crlf;
		st->bare_cr |= s->line_bare_cr;
		if (line_start && len > 1 && line[0] == '.') {
			line++;
			len--;
		}
		size += len + (whole ? 2 : 0);
		if (max && size > max)
			st->oversize = true;
		if (taking && !st->oversize && !text_refused(s, st))
			taking = text_line(s, line, len, !whole);
		line_start = whole;
		if (whole)
			after_crlf = crlf;
	}
}

/* refuse_bare - the message held a bare LF or CR: abandon it, refuse, log. */
static void refuse_bare(struct smtp_session *s, const struct text_status *st)
{
	const char *what = st->bare_lf ? "<LF>" : "<CR>";
	char text[SMTP_REPLY_MAX];

	abandon_message(s);
	log_msg(LOG_NOTICE, "smtp: refused a message from %s:%u: bare %s received",
		s->peer.addr, s->peer.port, what);
	snprintf(text, sizeof(text), "5.5.2 Error: bare %s received", what);
	say(s, 550, text);
}

/* cmd_data - DATA: the message text, then the handler's verdict on it. */
static void cmd_data(struct smtp_session *s, char *args)
{
	struct smtp_reply r = { 0 };
	struct text_status st = { 0 };

	if (*args) {
		bad_command(s, 501, "5.5.4 Syntax: DATA");
		return;
	}
	if (s->state != SMTP_IN_MAIL) {
		bad_command(s, 503, "5.5.1 Error: need MAIL command");
		return;
	}
	if (s->rcpt_count == 0) {
		bad_command(s, 554, "5.5.1 Error: no valid recipients");
		return;
	}
	if (handlers(s)->data_start)
		handlers(s)->data_start(s->ctx, &r);
	if (r.code != 0 && r.code != 354) {
		say_decided(s, &r, 554, "5.5.1 Error: no valid recipients");
		return;
	}
	say(s, 354, r.code ? r.text : "End data with <CR><LF>.<CR><LF>");
	if (!receive_text(s, &st)) {
		abandon_message(s);
		s->closing = true;
		return;
	}
	if (text_refused(s, &st)) {
		refuse_bare(s, &st);
		return;
	}
	memset(&r, 0, sizeof(r));
	if (handlers(s)->data_end)
		handlers(s)->data_end(s->ctx, st.oversize, &r);
	end_message(s);
	if (st.oversize)
		say_decided(s, &r, 552, "5.3.4 Error: message file too big");
	else
		say_decided(s, &r, 250, "2.0.0 Ok: queued");
}

/* cmd_rset - RSET: abandon the message, keep the session. */
static void cmd_rset(struct smtp_session *s, char *args)
{
	if (*args) {
		bad_command(s, 501, "5.5.4 Syntax: RSET");
		return;
	}
	abandon_message(s);
	say(s, 250, "2.0.0 Ok");
}

static void cmd_noop(struct smtp_session *s, char *args)
{
	(void)args;
	say(s, 250, "2.0.0 Ok");
}

static void cmd_quit(struct smtp_session *s, char *args)
{
	(void)args;
	say(s, 221, "2.0.0 Bye");
	s->closing = true;
}

static void cmd_vrfy(struct smtp_session *s, char *args)
{
	if (!*args)
		bad_command(s, 501, "5.5.4 Syntax: VRFY address");
	else
		say(s, 252, "2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
}

static void cmd_help(struct smtp_session *s, char *args)
{
	(void)args;
	say(s, 214, "2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP");
}

static void cmd_not_implemented(struct smtp_session *s, char *args)
{
	(void)args;
	bad_command(s, 502, "5.5.1 Error: command not implemented");
}

static const struct command commands[] = {
	{ "EHLO", cmd_ehlo }, { "HELO", cmd_helo }, { "MAIL", cmd_mail },
	{ "RCPT", cmd_rcpt }, { "DATA", cmd_data }, { "RSET", cmd_rset },
	{ "NOOP", cmd_noop }, { "QUIT", cmd_quit }, { "VRFY", cmd_vrfy },
	{ "HELP", cmd_help }, { "EXPN", cmd_not_implemented },
	{ "ETRN", cmd_not_implemented }, { "TURN", cmd_not_implemented },
	{ "BDAT", cmd_not_implemented }, { "AUTH", cmd_not_implemented },
	{ "STARTTLS", cmd_not_implemented },
};

/* run_command - parse LINE (LEN bytes, no line end) and run its command. */
static void run_command(struct smtp_session *s, const char *line, size_t len)
{
	char buf[SMTP_MAX_COMMAND + 1], *args;
	size_t verb_len;

	if (len > SMTP_MAX_COMMAND) {
		bad_command(s, 500, "5.5.2 Error: line too long");
		return;
	}
	if (memchr(line, '\0', len)) {
		bad_command(s, 500, "5.5.2 Error: bad syntax");
		return;
	}
	memcpy(buf, line, len);
	while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	verb_len = strcspn(buf, " ");
	args = buf + verb_len;
	if (*args)
		*args++ = '\0';
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcasecmp(buf, commands[i].verb) == 0) {
			commands[i].run(s, args);
			return;
		}
	}
	bad_command(s, 500, len ? "5.5.2 Error: command not recognized" : "5.5.2 Error: bad syntax");
}

/* skip_long_line - read and drop the rest of a line that did not fit. */
static enum smtp_read skip_long_line(struct smtp_session *s)
{
	enum smtp_read rc;
	char *line;
	size_t len;

	while ((rc = smtp_read_line(s, s->server->cfg.command_timeout_ms, &line, &len)) == SMTP_PARTIAL)
		;
	return rc;
}

/* open_session - the handler's word on the connection, and the banner. */
static void open_session(struct smtp_session *s)
{
	struct smtp_reply banner = { 0 };
	char text[SMTP_REPLY_MAX];

	if (handlers(s)->session_open)
		s->ctx = handlers(s)->session_open(s->server->arg, &s->peer, &banner);
	snprintf(text, sizeof(text), "%s ESMTP", s->server->cfg.hostname);
	say_decided(s, &banner, 220, text);
	if (!decided_ok(&banner))
		s->closing = true;
}

/* smtp_dialogue - run the session from banner to close. */
void smtp_dialogue(struct smtp_session *s)
{
	char *line;
	size_t len;

	open_session(s);
	while (!s->closing) {
		enum smtp_read rc = smtp_read_line(s, s->server->cfg.command_timeout_ms, &line, &len);

		if (rc == SMTP_PARTIAL && (rc = skip_long_line(s)) == SMTP_LINE) {
			bad_command(s, 500, "5.5.2 Error: line too long");
			continue;
		}
		if (rc == SMTP_LINE && !s->line_crlf && strict(s))
			bad_command(s, 500, "5.5.2 Error: bare <LF> received");
		else if (rc == SMTP_LINE)
			run_command(s, line, len);
		else if (rc == SMTP_TIMEOUT)
			say(s, 421, "4.4.2 Error: timeout exceeded");
		else if (stopping(s))
			say(s, 421, "4.3.2 Service shutting down, closing transmission channel");
		else
			break;
	}
	abandon_message(s);
	if (handlers(s)->session_close)
		handlers(s)->session_close(s->ctx);
	log_msg(LOG_DEBUG, "smtp: session from %s:%u ended", s->peer.addr, s->peer.port);
}
