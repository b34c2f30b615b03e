/*
 * test_receiver.c - the delegation receiver: a copy with a live id is
 * spooled (without its X-Delegate-Id field) and handed to the waiting
 * transaction; copies without an id, with an unknown, malformed or replayed
 * id are refused with 550; a late copy is acknowledged and dropped; hundreds
 * of transactions wait at once while the receiver keeps serving; a closed
 * listener lets the delegates connected finish their copy, then sends
 * them on with 421 (a reload's new settings); a successor shares the
 * listening socket, so the port is never free during the hand-over.
 */
#include "test_support.h"
#include "smtp_client.h"

#include <errno.h>
#include <pthread.h>

#include "correlation.h"
#include "log.h"
#include "receiver.h"

struct fixture {
	char *spool;
	struct corr_table *table;
	struct receiver *receiver;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct endpoint addr = { .host = "127.0.0.1", .port = 0 };
	char err[256];

	assert_non_null(f);
	f->spool = scratch_dir();
	f->table = corr_new();
	f->receiver = receiver_start(&(struct receiver_config){ .address = &addr, .spool_dir = f->spool }, f->table, err, sizeof(err));
	if (!f->receiver)
		fail_msg("receiver_start: %s", err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	receiver_stop(f->receiver);
	corr_free(f->table);
	remove_tree(f->spool);
	free(f->spool);
	free(f);
	return 0;
}

/* send_copy - send MESSAGE (CRLF text, no final dot) to the receiver; the reply to the dot in REPLY. */
static void send_copy(const struct fixture *f, const char *message, char *reply, size_t len)
{
	struct smtp_test_client c = { .fd = -1 };

	client_connect(&c, receiver_port(f->receiver));
	client_expect(&c, "220 ");
	client_send(&c, "EHLO clamsmtpd\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
	client_expect(&c, "250-");
	client_expect(&c, "250 ");
	client_expect(&c, "250 ");
	client_expect(&c, "354 ");
	client_send(&c, message);
	client_send(&c, ".\r\nQUIT\r\n");
	client_reply(&c, reply, len);
	client_expect(&c, "221 ");
	client_close(&c);
}

/* read_file - the whole file at PATH (caller frees). */
static char *read_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *text = calloc(1, 65536);
	size_t n;

	assert_non_null(fp);
	assert_non_null(text);
	n = fread(text, 1, 65535, fp);
	text[n] = '\0';
	fclose(fp);
	return text;
}

static void test_copy_with_live_id_is_handed_over_without_the_id(void **state)
{
	struct fixture *f = *state;
	char id[CORR_ID_LEN + 1], message[1024], reply[512];
	struct corr_entry *e = corr_register(f->table, id);
	char *path, *text;

	snprintf(message, sizeof(message), "X-Delegate-Id: %s\r\nSubject: clean\r\n"
		 "X-Virus-Scanned: ClamAV using ClamSMTP\r\n\r\nbody\r\n..dot\r\n", id);
	send_copy(f, message, reply, sizeof(reply));
	assert_string_equal(reply, "250 2.0.0 Ok: copy handed over\r\n");
	assert_int_equal(corr_wait(f->table, e, corr_now_ms() + 5000, 5000), CORR_ARRIVED);
	path = corr_take_copy(f->table, e);
	assert_non_null(path);
	text = read_file(path);
	assert_string_equal(text, "Subject: clean\r\nX-Virus-Scanned: ClamAV using ClamSMTP\r\n"
			    "\r\nbody\r\n.dot\r\n");
	unlink(path);
	free(path);
	free(text);
	corr_release(f->table, e);
}

/* expect_copy - send MESSAGE for E: handed over, and spooled as EXPECTED. */
static void expect_copy(struct fixture *f, struct corr_entry *e, const char *message,
			const char *expected)
{
	char reply[512], *path, *text;

	send_copy(f, message, reply, sizeof(reply));
	assert_string_equal(reply, "250 2.0.0 Ok: copy handed over\r\n");
	path = corr_take_copy(f->table, e);
	assert_non_null(path);
	text = read_file(path);
	assert_string_equal(text, expected);
	unlink(path);
	free(path);
	free(text);
}

static void test_every_id_field_is_left_out_folded_or_in_the_body(void **state)
{
	struct fixture *f = *state;
	char id[CORR_ID_LEN + 1], message[1024];
	struct corr_entry *e = corr_register(f->table, id);

	snprintf(message, sizeof(message), "Subject: a\r\nx-delegate-id :\r\n\t%s\r\nTo: b\r\n\r\n"
		 "X-Delegate-Id: planted in the body\r\n\tand folded\r\nbody\r\n", id);
	expect_copy(f, e, message, "Subject: a\r\nTo: b\r\n\r\nbody\r\n");
	corr_release(f->table, e);
}

static void test_a_repackaged_copy_is_matched_by_its_attached_original(void **state)
{
	struct fixture *f = *state;
	char id[CORR_ID_LEN + 1], message[2048];
	struct corr_entry *e;

	(void)state;
	/* SpamAssassin's report_safe 1: a new message, the original as message/rfc822. */
	e = corr_register(f->table, id);
	snprintf(message, sizeof(message),
		 "Subject: *****SPAM***** hi\r\nX-Spam-Flag: YES\r\nMIME-Version: 1.0\r\n"
		 "Content-Type: multipart/mixed; boundary=\"----------=_4B\"\r\n\r\n"
		 "------------=_4B\r\nContent-Type: text/plain\r\n\r\nSpam detection report\r\n"
		 "------------=_4B\r\nContent-Type: message/rfc822; x-spam-type=original\r\n\r\n"
		 "X-Delegate-Id: %s\r\nSubject: hi\r\n\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE\r\n"
		 "------------=_4B--\r\n", id);
	expect_copy(f, e, message,
		    "Subject: *****SPAM***** hi\r\nX-Spam-Flag: YES\r\nMIME-Version: 1.0\r\n"
		    "Content-Type: multipart/mixed; boundary=\"----------=_4B\"\r\n\r\n"
		    "------------=_4B\r\nContent-Type: text/plain\r\n\r\nSpam detection report\r\n"
		    "------------=_4B\r\nContent-Type: message/rfc822; x-spam-type=original\r\n\r\n"
		    "Subject: hi\r\n\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE\r\n------------=_4B--\r\n");
	corr_release(f->table, e);
	/* report_safe 2: the original as a text/plain part. */
	e = corr_register(f->table, id);
	snprintf(message, sizeof(message),
		 "Subject: hi\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
		 "Content-Type: text/plain; x-spam-type=original\r\n\r\nX-Delegate-Id: %s\r\n"
		 "Subject: hi\r\n\r\nbody\r\n--b--\r\n", id);
	expect_copy(f, e, message, "Subject: hi\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n"
		    "\r\n--b\r\nContent-Type: text/plain; x-spam-type=original\r\n\r\n"
		    "Subject: hi\r\n\r\nbody\r\n--b--\r\n");
	corr_release(f->table, e);
}

static void test_planted_ids_do_not_hide_the_live_one(void **state)
{
	struct fixture *f = *state;
	char id[CORR_ID_LEN + 1], message[1024];
	struct corr_entry *e = corr_register(f->table, id);

	snprintf(message, sizeof(message), "X-Delegate-Id: %s\r\nSubject: a\r\n\r\n"
		 "X-Delegate-Id: 0123456789abcdef0123456789abcdef\r\nX-Delegate-Id: not-hex\r\n"
		 "body\r\n", id);
	expect_copy(f, e, message, "Subject: a\r\n\r\nbody\r\n");
	corr_release(f->table, e);
}

static void test_copies_with_bare_line_ends_are_refused(void **state)
{
	struct fixture *f = *state;
	char id[CORR_ID_LEN + 1], message[1024], reply[512];
	struct corr_entry *e = corr_register(f->table, id);

	snprintf(message, sizeof(message), "X-Delegate-Id: %s\r\n\r\nline\nmore\r\n", id);
	send_copy(f, message, reply, sizeof(reply));
	assert_string_equal(reply, "550 5.5.2 Error: bare <LF> received\r\n");
	assert_null(corr_take_copy(f->table, e));
	corr_release(f->table, e);
}

static void test_copies_without_a_live_id_are_refused(void **state)
{
	struct fixture *f = *state;
	char reply[512];

	send_copy(f, "Subject: injected\r\n\r\nspam\r\n", reply, sizeof(reply));
	assert_string_equal(reply, "550 5.7.1 Error: not a delegated copy\r\n");
	send_copy(f, "X-Delegate-Id: 0123456789abcdef0123456789abcdef\r\n\r\nforged\r\n",
		  reply, sizeof(reply));
	assert_string_equal(reply, "550 5.7.1 Error: unknown delegation id\r\n");
	send_copy(f, "X-Delegate-Id: not-hex\r\n\r\nforged\r\n", reply, sizeof(reply));
	assert_string_equal(reply, "550 5.7.1 Error: not a delegated copy\r\n");
	assert_int_equal(count_files(f->spool), 0);
}

static void test_two_different_live_ids_are_refused(void **state)
{
	struct fixture *f = *state;
	char id[CORR_ID_LEN + 1], other[CORR_ID_LEN + 1], message[1024], reply[512];
	struct corr_entry *e = corr_register(f->table, id);
	struct corr_entry *e2 = corr_register(f->table, other);

	snprintf(message, sizeof(message), "X-Delegate-Id: %s\r\nX-Delegate-Id: %s\r\n\r\nx\r\n",
		 id, other);
	send_copy(f, message, reply, sizeof(reply));
	assert_string_equal(reply, "550 5.7.1 Error: not a delegated copy\r\n");
	assert_null(corr_take_copy(f->table, e));
	assert_null(corr_take_copy(f->table, e2));
	corr_release(f->table, e);
	corr_release(f->table, e2);
}

static void test_replayed_id_is_refused_and_late_copy_dropped(void **state)
{
	struct fixture *f = *state;
	char id[CORR_ID_LEN + 1], late[CORR_ID_LEN + 1], message[1024], reply[512];
	struct corr_entry *e = corr_register(f->table, id);
	struct corr_entry *gave_up = corr_register(f->table, late);

	snprintf(message, sizeof(message), "X-Delegate-Id: %s\r\n\r\nfirst\r\n", id);
	send_copy(f, message, reply, sizeof(reply));
	assert_string_equal(reply, "250 2.0.0 Ok: copy handed over\r\n");
	corr_release(f->table, e);      /* unlinks the untaken copy */
	send_copy(f, message, reply, sizeof(reply));
	assert_string_equal(reply, "550 5.7.1 Error: delegation id already used\r\n");

	corr_release(f->table, gave_up);
	snprintf(message, sizeof(message), "X-Delegate-Id: %s\r\n\r\ntoo late\r\n", late);
	send_copy(f, message, reply, sizeof(reply));
	assert_string_equal(reply, "250 2.0.0 Ok: late copy dropped\r\n");
	assert_int_equal(count_files(f->spool), 0);
}

static void test_abandoned_copy_leaves_no_file(void **state)
{
	struct fixture *f = *state;
	struct smtp_test_client c = { .fd = -1 };

	client_connect(&c, receiver_port(f->receiver));
	client_expect(&c, "220 ");
	client_send(&c, "HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<b@c>\r\nDATA\r\n");
	client_expect(&c, "250 ");
	client_expect(&c, "250 ");
	client_expect(&c, "250 ");
	client_expect(&c, "354 ");
	client_send(&c, "Subject: cut off\r\n\r\nhalf");
	client_close(&c);
	/* Stopping waits for the session, which cleans up. */
	receiver_stop(f->receiver);
	f->receiver = NULL;
	assert_int_equal(count_files(f->spool), 0);
}

struct waiter {
	struct fixture *f;
	char id[CORR_ID_LEN + 1];
	struct corr_entry *entry;
	enum corr_wait_status status;
};

/* wait_for_copy - a transaction's thread: sleep until its copy is there. */
static void *wait_for_copy(void *arg)
{
	struct waiter *w = arg;
	char *path;

	w->status = corr_wait(w->f->table, w->entry, corr_now_ms() + 30000, 30000);
	path = corr_take_copy(w->f->table, w->entry);
	if (path)
		unlink(path);
	free(path);
	return NULL;
}

static void test_hundreds_wait_while_the_receiver_serves(void **state)
{
	struct fixture *f = *state;
	enum { N = 200 };
	struct waiter *w = calloc(N, sizeof(*w));
	pthread_t *threads = calloc(N, sizeof(*threads));
	char message[256], reply[512];

	assert_non_null(w);
	assert_non_null(threads);
	for (int i = 0; i < N; i++) {
		w[i].f = f;
		w[i].entry = corr_register(f->table, w[i].id);
		assert_int_equal(pthread_create(&threads[i], NULL, wait_for_copy, &w[i]), 0);
	}
	assert_int_equal(corr_waiting(f->table), N);
	for (int i = N - 1; i >= 0; i--) {      /* in an order unlike registration */
		snprintf(message, sizeof(message), "X-Delegate-Id: %s\r\n\r\n%d\r\n", w[i].id, i);
		send_copy(f, message, reply, sizeof(reply));
		assert_string_equal(reply, "250 2.0.0 Ok: copy handed over\r\n");
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		assert_int_equal(w[i].status, CORR_ARRIVED);
		corr_release(f->table, w[i].entry);
	}
	assert_int_equal(count_files(f->spool), 0);
	free(w);
	free(threads);
}

static void test_public_address_needs_explicit_consent(void **state)
{
	struct endpoint addr = { .host = "0.0.0.0", .port = 0 };
	struct corr_table *table = corr_new();
	char err[256];

	(void)state;
	assert_null(receiver_start(&(struct receiver_config){ .address = &addr, .spool_dir = "/tmp" }, table, err, sizeof(err)));
	assert_string_equal(err, "receiver 0.0.0.0:0 is not a loopback address "
			    "(set \"receiver_public\": true to allow it)");
	corr_free(table);
}

/* greeting_with_allow - the banner a client from 127.0.0.1 gets from a receiver allowing NETS. */
static void greeting_with_allow(const char *const *nets, size_t n, const char *want)
{
	struct endpoint addr = { .host = "127.0.0.1", .port = 0 };
	struct corr_table *table = corr_new();
	struct cidr allow[4];
	struct smtp_test_client c = { .fd = -1 };
	struct receiver *r;
	char err[256], *spool = scratch_dir();
	const char *why;

	for (size_t i = 0; i < n; i++)
		assert_true(cidr_parse(nets[i], &allow[i], &why));
	r = receiver_start(&(struct receiver_config){ .address = &addr, .spool_dir = spool,
						      .allow = allow, .allow_count = n },
			   table, err, sizeof(err));
	assert_non_null(r);
	client_connect(&c, receiver_port(r));
	client_expect(&c, want);
	client_close(&c);
	receiver_stop(r);
	corr_free(table);
	remove_tree(spool);
	free(spool);
}

static void test_clients_outside_receiver_allow_are_refused_at_the_greeting(void **state)
{
	static const char *const remote_only[] = { "10.99.0.0/24", "2001:db8::/32" };
	static const char *const with_loopback[] = { "10.99.0.0/24", "127.0.0.0/8" };

	(void)state;
	greeting_with_allow(remote_only, 2, "554 5.7.1 Error: 127.0.0.1 may not send copies here");
	greeting_with_allow(with_loopback, 2, "220 ");
}

static void test_a_closed_listener_lets_connected_delegates_finish(void **state)
{
	struct fixture *f = *state;
	struct smtp_test_client c = { .fd = -1 };
	char id[CORR_ID_LEN + 1], message[256], reply[512];
	struct corr_entry *e = corr_register(f->table, id);
	unsigned port = receiver_port(f->receiver);
	char *path;

	client_connect(&c, port);
	client_expect(&c, "220 ");
	receiver_close_listener(f->receiver);
	assert_false(loopback_listening(port));
	receiver_close_listener(f->receiver);   /* twice is harmless */
	snprintf(message, sizeof(message), "X-Delegate-Id: %s\r\n\r\nbody\r\n.\r\n", id);
	client_send(&c, "EHLO clamsmtpd\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
	client_expect(&c, "250-");
	client_expect(&c, "250 ");
	client_expect(&c, "250 ");
	client_expect(&c, "354 ");
	client_send(&c, message);
	client_reply(&c, reply, sizeof(reply));
	assert_string_equal(reply, "250 2.0.0 Ok: copy handed over\r\n");
	assert_int_equal(receiver_sessions(f->receiver), 1);
	client_send(&c, "MAIL FROM:<a@example.com>\r\n");  /* the filter's pooled pair, next message */
	client_expect(&c, "421 4.3.2 Error: this listener was closed, connect again");
	assert_true(client_closed(&c));
	client_close(&c);
	path = corr_take_copy(f->table, e);
	assert_non_null(path);
	unlink(path);
	free(path);
	corr_release(f->table, e);
}

/* port_taken - does binding 127.0.0.1:PORT fail with EADDRINUSE (someone listens there)? */
static bool port_taken(unsigned port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	bool taken;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	taken = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno == EADDRINUSE;
	close(fd);
	return taken;
}

static void test_a_successor_takes_the_listener_over_with_no_gap(void **state)
{
	struct fixture *f = *state;
	unsigned port = receiver_port(f->receiver);
	struct endpoint addr = { .host = "127.0.0.1", .port = port };
	struct receiver_config rc = { .address = &addr, .spool_dir = f->spool, .idle_ms = 300,
				      .takes_over = f->receiver };
	struct smtp_test_client c = { .fd = -1 };
	struct receiver *next;
	char err[256];

	next = receiver_start(&rc, f->table, err, sizeof(err));
	if (!next)
		fail_msg("receiver_start: %s", err);
	assert_int_equal(receiver_port(next), port);
	receiver_close_listener(f->receiver);
	/* Nobody else can have the port now, and a delegate connecting gets the successor. */
	assert_true(port_taken(port));
	client_connect(&c, port);
	client_expect(&c, "220 ");
	assert_int_equal(receiver_sessions(next), 1);
	assert_int_equal(receiver_sessions(f->receiver), 0);
	client_expect(&c, "421 ");      /* the successor's receiver_idle, 300 ms */
	client_close(&c);
	receiver_stop(next);
}

static void test_changes_name_the_settings_that_differ(void **state)
{
	struct fixture *f = *state;
	struct endpoint addr = { .host = "127.0.0.1", .port = receiver_port(f->receiver) };
	struct receiver_config rc = { .address = &addr, .spool_dir = f->spool };
	struct cidr net;
	const char *why;
	char what[128];

	assert_false(receiver_changes(f->receiver, &rc, what, sizeof(what)));
	assert_string_equal(what, "");
	rc.idle_ms = 5000;
	assert_true(receiver_changes(f->receiver, &rc, what, sizeof(what)));
	assert_string_equal(what, "receiver_idle");
	assert_true(cidr_parse("10.0.0.0/8", &net, &why));
	rc = (struct receiver_config){ .address = &addr, .spool_dir = "/var/spool/other",
				       .allow = &net, .allow_count = 1 };
	assert_true(receiver_changes(f->receiver, &rc, what, sizeof(what)));
	assert_string_equal(what, "receiver_allow, spool_dir");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_copy_with_live_id_is_handed_over_without_the_id, setup, teardown),
		cmocka_unit_test(test_clients_outside_receiver_allow_are_refused_at_the_greeting),
		cmocka_unit_test_setup_teardown(test_every_id_field_is_left_out_folded_or_in_the_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_repackaged_copy_is_matched_by_its_attached_original, setup, teardown),
		cmocka_unit_test_setup_teardown(test_planted_ids_do_not_hide_the_live_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copies_with_bare_line_ends_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copies_without_a_live_id_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_different_live_ids_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replayed_id_is_refused_and_late_copy_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abandoned_copy_leaves_no_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hundreds_wait_while_the_receiver_serves, setup, teardown),
		cmocka_unit_test(test_public_address_needs_explicit_consent),
		cmocka_unit_test_setup_teardown(test_a_closed_listener_lets_connected_delegates_finish, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_successor_takes_the_listener_over_with_no_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes_name_the_settings_that_differ, setup, teardown),
	};

	log_open("test_receiver", LOG_TO_STDERR, LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
