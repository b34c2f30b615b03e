/*
 * test_smtp_server.c - the SMTP server module against a raw client:
 * dialogue order and syntax, pipelining, dot-unstuffing, bare line ends
 * (no smuggling), long lines, size,
 * recipient and session limits, timeouts, handler refusals, a client that
 * vanishes mid-DATA, and stopping with sessions open.
 */
#include "test_support.h"
#include "smtp_client.h"

#include <pthread.h>

#include "log.h"
#include "smtp_server.h"

/* What the handlers saw, in order, as "event:arg;" text. */
struct recorder {
	pthread_mutex_t lock;
	char events[8192];
	char message[65536];    /* the last message's text, lines joined by "\n" */
	size_t message_len;
	bool oversize;
	int sessions_closed;
};

/* note - append "EVENT:ARG;" to the event log. */
static void note(struct recorder *rec, const char *event, const char *arg)
{
	pthread_mutex_lock(&rec->lock);
	snprintf(rec->events + strlen(rec->events), sizeof(rec->events) - strlen(rec->events),
		 "%s%s%s;", event, arg ? ":" : "", arg ? arg : "");
	pthread_mutex_unlock(&rec->lock);
}

static void *on_open(void *arg, const struct smtp_peer *peer, struct smtp_reply *banner)
{
	(void)banner;
	note(arg, "open", peer->addr);
	return arg;
}

static void on_close(void *session)
{
	struct recorder *rec = session;

	note(rec, "close", NULL);
	pthread_mutex_lock(&rec->lock);
	rec->sessions_closed++;
	pthread_mutex_unlock(&rec->lock);
}

static void on_helo(void *session, const char *name, bool extended, struct smtp_reply *r)
{
	note(session, extended ? "ehlo" : "helo", name);
	if (strcmp(name, "bad.example") == 0)
		smtp_reply_set(r, 550, "5.7.1 go away");
}

static void on_mail(void *session, const char *sender, const struct smtp_mail_params *params,
		    struct smtp_reply *r)
{
	char arg[600];

	snprintf(arg, sizeof(arg), "%s size=%llu", sender, (unsigned long long)params->size);
	note(session, "mail", arg);
	(void)r;
}

static void on_rcpt(void *session, const char *rcpt, struct smtp_reply *r)
{
	note(session, "rcpt", rcpt);
	if (strncmp(rcpt, "refused@", 8) == 0)
		smtp_reply_set(r, 550, "5.1.1 <%s>: Recipient address rejected", rcpt);
}

static void on_data_start(void *session, struct smtp_reply *r)
{
	struct recorder *rec = session;

	(void)r;
	rec->message_len = 0;
	note(session, "data", NULL);
}

static bool on_data_line(void *session, const char *text, size_t len, bool more)
{
	struct recorder *rec = session;

	if (rec->message_len + len + 1 < sizeof(rec->message)) {
		memcpy(rec->message + rec->message_len, text, len);
		rec->message_len += len;
		if (!more)
			rec->message[rec->message_len++] = '\n';
		rec->message[rec->message_len] = '\0';
	}
	return true;
}

static void on_data_end(void *session, bool oversize, struct smtp_reply *r)
{
	struct recorder *rec = session;

	(void)r;
	rec->oversize = oversize;
	note(session, "end", oversize ? "oversize" : NULL);
}

static void on_reset(void *session)
{
	note(session, "reset", NULL);
}

static const struct smtp_handlers recording = {
	.session_open = on_open, .session_close = on_close, .helo = on_helo,
	.mail = on_mail, .rcpt = on_rcpt, .data_start = on_data_start,
	.data_line = on_data_line, .data_end = on_data_end, .reset = on_reset,
};

struct fixture {
	struct recorder rec;
	struct smtp_server *server;
	struct smtp_test_client client;
};

/* start - a server with CFG's limits and the recording handlers. */
static struct fixture *start(struct smtp_server_config cfg)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	pthread_mutex_init(&f->rec.lock, NULL);
	cfg.host = "127.0.0.1";
	cfg.hostname = "test.example";
	f->server = smtp_server_start(&cfg, &recording, &f->rec, err, sizeof(err));
	if (!f->server)
		fail_msg("cannot start: %s", err);
	f->client.fd = -1;
	return f;
}

/* connect_and_greet - connect the fixture's client and say EHLO. */
static void connect_and_greet(struct fixture *f)
{
	client_connect(&f->client, smtp_server_port(f->server));
	client_expect(&f->client, "220 test.example ESMTP");
	client_send(&f->client, "EHLO client.example\r\n");
	client_expect(&f->client, "250-test.example");
}

/* finish - stop the server (waiting for the sessions) and free. */
static void finish(struct fixture *f)
{
	client_close(&f->client);
	smtp_server_stop(f->server);
	pthread_mutex_destroy(&f->rec.lock);
	free(f);
}

static void test_ehlo_advertises_the_extensions(void **state)
{
	struct fixture *f = start((struct smtp_server_config){ .max_message_size = 1000 });
	char reply[1024];

	(void)state;
	client_connect(&f->client, smtp_server_port(f->server));
	client_expect(&f->client, "220 ");
	client_send(&f->client, "EHLO client.example\r\n");
	client_reply(&f->client, reply, sizeof(reply));
	assert_string_equal(reply, "250-test.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
			    "250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n");
	client_send(&f->client, "HELO client.example\r\n");
	client_expect(&f->client, "250 test.example");
	finish(f);
}

static void test_commands_out_of_order_get_503(void **state)
{
	struct fixture *f = start((struct smtp_server_config){ 0 });

	(void)state;
	client_connect(&f->client, smtp_server_port(f->server));
	client_expect(&f->client, "220 ");
	client_send(&f->client, "MAIL FROM:<a@example.com>\r\n");
	client_expect(&f->client, "503 5.5.1 Error: send HELO/EHLO first");
	client_send(&f->client, "EHLO c\r\nRCPT TO:<b@example.com>\r\n");
	client_expect(&f->client, "250-");
	client_expect(&f->client, "503 5.5.1 Error: need MAIL command");
	client_send(&f->client, "DATA\r\n");
	client_expect(&f->client, "503 5.5.1 Error: need MAIL command");
	client_send(&f->client, "MAIL FROM:<a@example.com>\r\nMAIL FROM:<a@example.com>\r\n");
	client_expect(&f->client, "250 2.1.0 Ok");
	client_expect(&f->client, "503 5.5.1 Error: nested MAIL command");
	client_send(&f->client, "DATA\r\n");
	client_expect(&f->client, "554 5.5.1 Error: no valid recipients");
	finish(f);
}

static void test_syntax_errors_get_500_501_555(void **state)
{
	struct fixture *f = start((struct smtp_server_config){ .max_message_size = 100 });

	(void)state;
	connect_and_greet(f);
	client_send(&f->client, "XYZZY\r\n");
	client_expect(&f->client, "500 5.5.2 Error: command not recognized");
	client_send(&f->client, "\r\n");
	client_expect(&f->client, "500 5.5.2 Error: bad syntax");
	client_send(&f->client, "EHLO\r\n");
	client_expect(&f->client, "501 5.5.4 Syntax: EHLO hostname");
	client_send(&f->client, "MAIL FROM:a@example.com\r\n");
	client_expect(&f->client, "501 5.5.4 Syntax: MAIL FROM:<address>");
	client_send(&f->client, "MAIL FROM:<a@example.com> FOO=BAR\r\n");
	client_expect(&f->client, "555 5.5.4 Unsupported option: FOO=BAR");
	client_send(&f->client, "MAIL FROM:<a@example.com> SIZE=101\r\n");
	client_expect(&f->client, "552 5.3.4 Message size exceeds fixed limit");
	client_send(&f->client, "MAIL FROM:<a@example.com> SIZE=100 BODY=8BITMIME\r\n");
	client_expect(&f->client, "250 2.1.0 Ok");
	client_send(&f->client, "RCPT TO:<>\r\n");
	client_expect(&f->client, "501 5.5.4 Syntax: RCPT TO:<address>");
	client_send(&f->client, "RCPT TO:<b@example.com> NOTIFY=NEVER\r\n");
	client_expect(&f->client, "555 5.5.4 Unsupported option: NOTIFY=NEVER");
	client_send(&f->client, "DATA extra\r\n");
	client_expect(&f->client, "501 5.5.4 Syntax: DATA");
	client_send(&f->client, "STARTTLS\r\n");
	client_expect(&f->client, "502 5.5.1");
	client_send(&f->client, "VRFY postmaster\r\nHELP\r\nNOOP\r\n");
	client_expect(&f->client, "252 2.0.0");
	client_expect(&f->client, "214 2.0.0");
	client_expect(&f->client, "250 2.0.0 Ok");
	assert_non_null(strstr(f->rec.events, "mail:a@example.com size=100;"));
	finish(f);
}

static void test_pipelined_transaction_is_answered_in_order(void **state)
{
	struct fixture *f = start((struct smtp_server_config){ 0 });

	(void)state;
	client_connect(&f->client, smtp_server_port(f->server));
	client_expect(&f->client, "220 ");
	/* RFC 2920: the client may send everything up to DATA at once. */
	client_send(&f->client, "EHLO c\r\nMAIL FROM:<@relay.example:a@example.com>\r\n"
		    "RCPT TO:<b@example.com>\r\nRCPT TO:<refused@example.com>\r\n"
		    "RCPT TO:<c@example.com>\r\nDATA\r\n");
	client_expect(&f->client, "250-test.example");
	client_expect(&f->client, "250 2.1.0 Ok");
	client_expect(&f->client, "250 2.1.5 Ok");
	client_expect(&f->client, "550 5.1.1 <refused@example.com>: Recipient address rejected");
	client_expect(&f->client, "250 2.1.5 Ok");
	client_expect(&f->client, "354 ");
	client_send(&f->client, "Subject: hi\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n");
	client_expect(&f->client, "250 2.0.0 Ok: queued");
	client_expect(&f->client, "221 2.0.0 Bye");
	assert_true(client_closed(&f->client));
	smtp_server_stop(f->server);    /* waits for the session: the events are complete */
	assert_string_equal(f->rec.events, "open:127.0.0.1;ehlo:c;mail:a@example.com size=0;"
			    "rcpt:b@example.com;rcpt:refused@example.com;rcpt:c@example.com;"
			    "data;end;close;");
	assert_string_equal(f->rec.message, "Subject: hi\n\n.leading dot\n");
	client_close(&f->client);
	free(f);
}

/* The smuggling payload: a fake end of data, then a second message's commands. */
#define SMUGGLED "MAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n" \
		 "Subject: smuggled\r\n\r\nforged\r\n.\r\n"

/* send_message_start - EHLO, one recipient and DATA, answered up to 354. */
static void send_message_start(struct fixture *f)
{
	connect_and_greet(f);
	client_send(&f->client, "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
	client_expect(&f->client, "250 ");
	client_expect(&f->client, "250 ");
	client_expect(&f->client, "354 ");
}

static void test_bare_lf_dot_never_ends_the_data_nor_smuggles_a_message(void **state)
{
	static const struct { const char *end, *reply; } fake_ends[] = {
		{ "\n.\n", "550 5.5.2 Error: bare <LF> received" },
		{ "\n.\r\n", "550 5.5.2 Error: bare <LF> received" },
		{ "\r\n.\n", "550 5.5.2 Error: bare <LF> received" },
		{ "\r.\r\n", "550 5.5.2 Error: bare <CR> received" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(fake_ends) / sizeof(fake_ends[0]); i++) {
		struct fixture *f = start((struct smtp_server_config){ 0 });
		char text[512];

		send_message_start(f);
		snprintf(text, sizeof(text), "Subject: a\r\n\r\nbody%s" SMUGGLED "QUIT\r\n",
			 fake_ends[i].end);
		client_send(&f->client, text);
		/* One reply to the whole text, then the QUIT: no MAIL of the attacker's ran. */
		client_expect(&f->client, fake_ends[i].reply);
		client_expect(&f->client, "221 2.0.0 Bye");
		smtp_server_stop(f->server);
		assert_null(strstr(f->rec.events, "evil@"));
		assert_null(strstr(f->rec.events, "end"));
		assert_non_null(strstr(f->rec.events, "data;reset;close;"));
		client_close(&f->client);
		free(f);
	}
}

static void test_bare_lf_in_a_command_gets_500_and_is_not_run(void **state)
{
	struct fixture *f = start((struct smtp_server_config){ 0 });

	(void)state;
	client_connect(&f->client, smtp_server_port(f->server));
	client_expect(&f->client, "220 ");
	client_send(&f->client, "HELO c\nMAIL FROM:<a@b>\r\n");
	client_expect(&f->client, "500 5.5.2 Error: bare <LF> received");
	client_expect(&f->client, "503 5.5.1 Error: send HELO/EHLO first");
	client_send(&f->client, "HELO c\r\n");
	client_expect(&f->client, "250 test.example");
	finish(f);
}

static void test_crlf_clean_text_with_dots_is_taken_whole(void **state)
{
	struct fixture *f = start((struct smtp_server_config){ 0 });

	(void)state;
	send_message_start(f);
	client_send(&f->client, "Subject: dots\r\n\r\n..\r\n...x\r\n.\r\n");
	client_expect(&f->client, "250 2.0.0 Ok: queued");
	assert_string_equal(f->rec.message, "Subject: dots\n\n.\n..x\n");
	finish(f);
}

static void test_normalize_makes_bare_lf_a_line_end_but_never_the_end_of_data(void **state)
{
	struct fixture *f = start((struct smtp_server_config){ .bare_newline = SMTP_BARE_NORMALIZE });

	(void)state;
	client_connect(&f->client, smtp_server_port(f->server));
	client_expect(&f->client, "220 ");
	client_send(&f->client, "HELO c\nMAIL FROM:<a@example.com>\nRCPT TO:<b@example.com>\nDATA\n");
	client_expect(&f->client, "250 test.example");
	client_expect(&f->client, "250 ");
	client_expect(&f->client, "250 ");
	client_expect(&f->client, "354 ");
	client_send(&f->client, "Subject: lf\n\nbody\n.\n" SMUGGLED);
	client_expect(&f->client, "250 2.0.0 Ok: queued");
	assert_string_equal(f->rec.message, "Subject: lf\n\nbody\n.\nMAIL FROM:<evil@example.net>\n"
			    "RCPT TO:<victim@example.com>\nDATA\nSubject: smuggled\n\nforged\n");
	assert_null(strstr(f->rec.events, "mail:evil@"));
	finish(f);
}

static void test_long_lines_arrive_in_pieces_and_whole(void **state)
{
	struct fixture *f = start((struct smtp_server_config){ 0 });
	size_t n = 40000;
	char *line = malloc(n + 3);

	(void)state;
	assert_non_null(line);
	memset(line, 'x', n);
	memcpy(line + n, "\r\n", 3);
	connect_and_greet(f);
	client_send(&f->client, "MAIL FROM:<>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
	client_expect(&f->client, "250 ");
	client_expect(&f->client, "250 ");
	client_expect(&f->client, "354 ");
	client_send(&f->client, "Subject: long\r\n\r\n");
	client_send(&f->client, line);
	client_send(&f->client, ".\r\n");
	client_expect(&f->client, "250 2.0.0 Ok: queued");
	assert_int_equal(f->rec.message_len, strlen("Subject: long\n\n") + n + 1);
	assert_int_equal(f->rec.message[f->rec.message_len - 2], 'x');
	free(line);
	finish(f);
}

static void test_oversize_message_gets_552_after_the_data(void **state)
{
	struct fixture *f = start((struct smtp_server_config){ .max_message_size = 64 });

	(void)state;
	connect_and_greet(f);
	client_send(&f->client, "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
	client_expect(&f->client, "250 ");
	client_expect(&f->client, "250 ");
	client_expect(&f->client, "354 ");
	client_send(&f->client, "Subject: big\r\n\r\n");
	for (int i = 0; i < 10; i++)
		client_send(&f->client, "0123456789012345678901234567890123456789\r\n");
	client_send(&f->client, ".\r\n");
	client_expect(&f->client, "552 5.3.4 Error: message file too big");
	assert_true(f->rec.oversize);
	/* The session goes on. */
	client_send(&f->client, "NOOP\r\n");
	client_expect(&f->client, "250 2.0.0 Ok");
	finish(f);
}

static void test_recipient_limit_gives_452(void **state)
{
	struct fixture *f = start((struct smtp_server_config){ .max_recipients = 2 });

	(void)state;
	connect_and_greet(f);
	client_send(&f->client, "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\n"
		    "RCPT TO:<d@x>\r\n");
	client_expect(&f->client, "250 ");
	client_expect(&f->client, "250 ");
	client_expect(&f->client, "250 ");
	client_expect(&f->client, "452 4.5.3 Error: too many recipients");
	finish(f);
}

static void test_helo_refused_by_handler(void **state)
{
	struct fixture *f = start((struct smtp_server_config){ 0 });

	(void)state;
	client_connect(&f->client, smtp_server_port(f->server));
	client_expect(&f->client, "220 ");
	client_send(&f->client, "EHLO bad.example\r\nMAIL FROM:<a@b>\r\n");
	client_expect(&f->client, "550 5.7.1 go away");
	client_expect(&f->client, "503 5.5.1 Error: send HELO/EHLO first");
	finish(f);
}

static void test_rset_and_vanishing_client_abandon_the_message(void **state)
{
	struct fixture *f = start((struct smtp_server_config){ 0 });

	(void)state;
	connect_and_greet(f);
	client_send(&f->client, "MAIL FROM:<a@b>\r\nRSET\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	client_expect(&f->client, "250 ");
	client_expect(&f->client, "250 2.0.0 Ok");
	client_expect(&f->client, "250 ");
	client_expect(&f->client, "250 ");
	client_expect(&f->client, "354 ");
	client_send(&f->client, "Subject: cut\r\n\r\nhalf a mess");
	client_close(&f->client);
	smtp_server_stop(f->server);
	assert_string_equal(f->rec.events, "open:127.0.0.1;ehlo:client.example;mail:a@b size=0;reset;"
			    "mail:a@b size=0;rcpt:c@d;data;reset;close;");
	free(f);
}

static void test_sessions_beyond_the_limit_get_421(void **state)
{
	struct fixture *f = start((struct smtp_server_config){ .max_sessions = 1 });
	struct smtp_test_client second = { .fd = -1 };

	(void)state;
	connect_and_greet(f);
	client_connect(&second, smtp_server_port(f->server));
	client_expect(&second, "421 4.3.2 test.example Too many connections");
	assert_true(client_closed(&second));
	client_close(&second);
	finish(f);
}

static void test_idle_client_times_out_with_421(void **state)
{
	struct fixture *f = start((struct smtp_server_config){ .command_timeout_ms = 200 });

	(void)state;
	connect_and_greet(f);
	client_expect(&f->client, "421 4.4.2 Error: timeout exceeded");
	assert_true(client_closed(&f->client));
	finish(f);
}

static void test_overlong_command_and_too_many_errors(void **state)
{
	struct fixture *f = start((struct smtp_server_config){ 0 });
	char line[3000];

	(void)state;
	memset(line, 'A', sizeof(line) - 3);
	memcpy(line + sizeof(line) - 3, "\r\n", 3);
	connect_and_greet(f);
	client_send(&f->client, line);
	client_expect(&f->client, "500 5.5.2 Error: line too long");
	for (int i = 1; i < 19; i++) {
		client_send(&f->client, "BOGUS\r\n");
		client_expect(&f->client, "500 ");
	}
	client_send(&f->client, "BOGUS\r\n");
	client_expect(&f->client, "500 ");
	client_expect(&f->client, "421 4.7.0 Error: too many errors");
	assert_true(client_closed(&f->client));
	finish(f);
}

static void test_stop_ends_open_sessions_with_421(void **state)
{
	struct fixture *f = start((struct smtp_server_config){ 0 });

	(void)state;
	connect_and_greet(f);
	smtp_server_stop(f->server);
	client_expect(&f->client, "421 4.3.2 Service shutting down");
	assert_int_equal(f->rec.sessions_closed, 1);
	client_close(&f->client);
	free(f);
}

static void test_port_in_use_is_a_clear_error(void **state)
{
	struct fixture *f = start((struct smtp_server_config){ 0 });
	struct smtp_server_config cfg = { .host = "127.0.0.1", .port = smtp_server_port(f->server) };
	char err[256], want[128];

	(void)state;
	assert_null(smtp_server_start(&cfg, &recording, &f->rec, err, sizeof(err)));
	snprintf(want, sizeof(want), "cannot listen on 127.0.0.1:%u: Address already in use", cfg.port);
	assert_string_equal(err, want);
	finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ehlo_advertises_the_extensions),
		cmocka_unit_test(test_commands_out_of_order_get_503),
		cmocka_unit_test(test_syntax_errors_get_500_501_555),
		cmocka_unit_test(test_pipelined_transaction_is_answered_in_order),
		cmocka_unit_test(test_bare_lf_dot_never_ends_the_data_nor_smuggles_a_message),
		cmocka_unit_test(test_bare_lf_in_a_command_gets_500_and_is_not_run),
		cmocka_unit_test(test_crlf_clean_text_with_dots_is_taken_whole),
		cmocka_unit_test(test_normalize_makes_bare_lf_a_line_end_but_never_the_end_of_data),
		cmocka_unit_test(test_long_lines_arrive_in_pieces_and_whole),
		cmocka_unit_test(test_oversize_message_gets_552_after_the_data),
		cmocka_unit_test(test_recipient_limit_gives_452),
		cmocka_unit_test(test_helo_refused_by_handler),
		cmocka_unit_test(test_rset_and_vanishing_client_abandon_the_message),
		cmocka_unit_test(test_sessions_beyond_the_limit_get_421),
		cmocka_unit_test(test_idle_client_times_out_with_421),
		cmocka_unit_test(test_overlong_command_and_too_many_errors),
		cmocka_unit_test(test_stop_ends_open_sessions_with_421),
		cmocka_unit_test(test_port_in_use_is_a_clear_error),
	};

	log_open("test_smtp_server", LOG_TO_STDERR, LOG_WARNING);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
