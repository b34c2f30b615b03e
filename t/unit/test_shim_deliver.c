/*
 * test_shim_deliver.c - Maildir delivery: the message lands in new/ whole
 * (Return-Path, prefix, edits, LF line ends), nothing stays in tmp/, and a
 * Maildir that cannot be written reports why and leaves nothing behind.
 * SMTP delivery: what each answer of the next hop means for the message and
 * which reply the client gets (a refusal for good mirrored as 5xx, anything
 * temporary, partial or lost as 451), against a fake next hop run by the
 * engine's smtp_server and a raw one that hangs up before its final reply.
 */
#include "test_support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include <curl/curl.h>

#include "shim_deliver.h"
#include "shim_edit.h"
#include "smtp_server.h"

struct fixture {
	char *dir;
	char *msg;              /* the kept message */
	FILE *in;               /* it, open for the last delivery_of */
	struct shim_config cfg;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	FILE *fp;

	f->dir = scratch_dir();
	assert_true(asprintf(&f->msg, "%s/spooled", f->dir) > 0);
	assert_true(asprintf(&f->cfg.maildir, "%s/Maildir", f->dir) > 0);
	f->cfg.nexthop = NEXTHOP_MAILDIR;
	f->cfg.hostname = "shim.test";
	fp = fopen(f->msg, "w");
	assert_non_null(fp);
	fputs("Subject: hi\r\nX-Drop: me\r\n\r\nHello.\r\n", fp);
	assert_int_equal(fclose(fp), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->in)
		fclose(f->in);
	remove_tree(f->dir);
	free(f->dir);
	free(f->msg);
	free(f->cfg.maildir);
	free(f);
	return 0;
}

/* files_in - how many entries (not . or ..) DIR/SUB holds; the last name in NAME. */
static int files_in(const char *dir, const char *sub, char *name, size_t len)
{
	char path[600];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "%.500s/%.50s", dir, sub);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && ++n && name)
			snprintf(name, len, "%.600s/%.255s", path, e->d_name);
	closedir(d);
	return n;
}

/* delivery_of - a delivery request for F's message with EDITS. */
static struct shim_delivery delivery_of(struct fixture *f, const struct header_edit *const *edits,
					size_t count)
{
	static const char *const rcpts[] = { "b@example.net" };

	if (f->in)
		fclose(f->in);
	f->in = fopen(f->msg, "re");
	assert_non_null(f->in);
	return (struct shim_delivery){
		.message = f->in, .sender = "a@example.org", .rcpts = rcpts, .rcpt_count = 1,
		.prefix = "Received: by shim.test\r\n", .edits = edits, .edit_count = count,
		.queue_id = "QID1",
	};
}

/* assert_reply - the client's reply to RES is CODE TEXT. */
static void assert_reply(const struct delivery_result *res, int code, const char *text)
{
	struct smtp_reply r = { 0 };

	shim_delivery_reply(res, "QID1", &r);
	assert_int_equal(r.code, code);
	assert_string_equal(r.text, text);
}

static void test_maildir_delivery_lands_whole_in_new(void **state)
{
	struct fixture *f = *state;
	struct header_edit add = { EDIT_ADD, "X-Virus-Scanned", "ClamAV", 0 };
	struct header_edit del = { EDIT_REMOVE, "X-Drop", NULL, 0 };
	const struct header_edit *edits[] = { &add, &del };
	struct shim_delivery d = delivery_of(f, edits, 2);
	char err[256], path[1024], text[512] = "";
	struct delivery_result res;
	struct shim_nexthop *nh = shim_nexthop_new(&f->cfg, err, sizeof(err));
	FILE *fp;

	assert_non_null(nh);
	assert_int_equal(shim_nexthop_deliver(nh, &d, &res), DELIVERY_SENT);
	assert_int_equal(files_in(f->cfg.maildir, "new", path, sizeof(path)), 1);
	assert_int_equal(files_in(f->cfg.maildir, "tmp", NULL, 0), 0);
	assert_non_null(strstr(path, "QID1"));
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_true(fread(text, 1, sizeof(text) - 1, fp) > 0);
	fclose(fp);
	assert_string_equal(text, "Return-Path: <a@example.org>\nReceived: by shim.test\n"
			    "Subject: hi\nX-Virus-Scanned: ClamAV\n\nHello.\n");
	shim_nexthop_free(nh);
}

static void test_two_deliveries_get_two_files(void **state)
{
	struct fixture *f = *state;
	struct shim_delivery d = delivery_of(f, NULL, 0);
	char err[256];
	struct delivery_result res;
	struct shim_nexthop *nh = shim_nexthop_new(&f->cfg, err, sizeof(err));

	assert_non_null(nh);
	assert_int_equal(shim_nexthop_deliver(nh, &d, &res), DELIVERY_SENT);
	assert_int_equal(shim_nexthop_deliver(nh, &d, &res), DELIVERY_SENT);
	assert_int_equal(files_in(f->cfg.maildir, "new", NULL, 0), 2);
	shim_nexthop_free(nh);
}

static void test_unwritable_maildir_fails_and_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct shim_delivery d = delivery_of(f, NULL, 0);
	char err[256], tmp[1024];
	struct delivery_result res;
	struct shim_nexthop *nh = shim_nexthop_new(&f->cfg, err, sizeof(err));

	assert_non_null(nh);
	snprintf(tmp, sizeof(tmp), "%s/tmp", f->cfg.maildir);
	assert_int_equal(rmdir(tmp), 0);
	assert_int_equal(shim_nexthop_deliver(nh, &d, &res), DELIVERY_DEFERRED);
	assert_non_null(strstr(res.detail, "cannot create"));
	assert_reply(&res, 451, "4.4.1 Next hop unavailable, try again later");
	assert_int_equal(files_in(f->cfg.maildir, "new", NULL, 0), 0);
	shim_nexthop_free(nh);
}

static void test_missing_message_fails_with_the_reason(void **state)
{
	struct fixture *f = *state;
	struct shim_delivery d = delivery_of(f, NULL, 0);
	char err[256];
	struct delivery_result res;
	struct shim_nexthop *nh = shim_nexthop_new(&f->cfg, err, sizeof(err));

	assert_non_null(nh);
	d.message = NULL;       /* the engine could not open it */
	errno = ENOENT;
	assert_int_equal(shim_nexthop_deliver(nh, &d, &res), DELIVERY_DEFERRED);
	assert_non_null(strstr(res.detail, "cannot read the message: No such file"));
	assert_int_equal(files_in(f->cfg.maildir, "new", NULL, 0), 0);
	assert_int_equal(files_in(f->cfg.maildir, "tmp", NULL, 0), 0);
	shim_nexthop_free(nh);
}

static void test_maildir_under_a_file_cannot_be_created(void **state)
{
	struct fixture *f = *state;
	char err[256];

	free(f->cfg.maildir);
	assert_true(asprintf(&f->cfg.maildir, "%s/Maildir", f->msg) > 0);
	assert_null(shim_nexthop_new(&f->cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot create"));
}

/* One scripted answer: CODE and TEXT for what MATCH (a substring; NULL: anything) names. */
struct answer {
	const char *match;
	int code;                       /* 0: the server's default */
	const char *text;
};

/* How the fake next hop answers; atomic counters say what it saw. */
struct script {
	struct answer banner, mail, rcpt[2], data, eod;
	unsigned eod_delay_ms;
	atomic_uint data_commands;      /* DATA commands that reached it */
	atomic_uint messages;           /* messages it took (2xx after the data) */
	char text[4096];                /* the text of the last message, CRLF lines */
	size_t text_len;
};

/* say - fill R from A when A matches WHAT. */
static bool say(const struct answer *a, const char *what, struct smtp_reply *r)
{
	if (a->code == 0 || (a->match && !strstr(what, a->match)))
		return false;
	smtp_reply_set(r, a->code, "%s", a->text);
	return true;
}

static void *nh_open(void *arg, const struct smtp_peer *peer, struct smtp_reply *banner)
{
	struct script *sc = arg;

	(void)peer;
	say(&sc->banner, "", banner);
	return sc;
}

static void nh_mail(void *ctx, const char *sender, const struct smtp_mail_params *params,
		    struct smtp_reply *r)
{
	(void)params;
	say(&((struct script *)ctx)->mail, sender, r);
}

static void nh_rcpt(void *ctx, const char *recipient, struct smtp_reply *r)
{
	struct script *sc = ctx;

	for (size_t i = 0; i < 2 && !say(&sc->rcpt[i], recipient, r); i++)
		;
}

static void nh_data_start(void *ctx, struct smtp_reply *r)
{
	struct script *sc = ctx;

	atomic_fetch_add(&sc->data_commands, 1);
	say(&sc->data, "", r);
}

static bool nh_data_line(void *ctx, const char *text, size_t len, bool more)
{
	struct script *sc = ctx;

	if (sc->text_len + len + 2 < sizeof(sc->text)) {
		memcpy(sc->text + sc->text_len, text, len);
		sc->text_len += len;
		if (!more)
			memcpy(sc->text + sc->text_len, "\r\n", 2), sc->text_len += 2;
		sc->text[sc->text_len] = '\0';
	}
	return true;
}

static void nh_data_end(void *ctx, bool oversize, struct smtp_reply *r)
{
	struct script *sc = ctx;
	struct timespec ts = { sc->eod_delay_ms / 1000, (long)(sc->eod_delay_ms % 1000) * 1000000L };

	(void)oversize;
	nanosleep(&ts, NULL);
	if (!say(&sc->eod, "", r))
		atomic_fetch_add(&sc->messages, 1);
}

static const struct smtp_handlers fake_nexthop = {
	.session_open = nh_open, .mail = nh_mail, .rcpt = nh_rcpt, .data_start = nh_data_start,
	.data_line = nh_data_line, .data_end = nh_data_end,
};

static const char *const one_rcpt[] = { "b@example.net" };
static const char *const two_rcpts[] = { "b@example.net", "nobody@example.net" };

/* deliver_edited_to_port - F's message with EDITS to RCPTS through the next hop on PORT. */
static struct delivery_result deliver_edited_to_port(struct fixture *f, unsigned port,
						     const char *const *rcpts, size_t count,
						     const struct header_edit *const *edits,
						     size_t edit_count)
{
	struct shim_delivery d = delivery_of(f, edits, edit_count);
	struct delivery_result res;
	struct shim_nexthop *nh;
	char err[256];

	f->cfg.nexthop = NEXTHOP_SMTP;
	f->cfg.smtp = (struct endpoint){ "127.0.0.1", port };
	f->cfg.smtp_timeout_ms = 1000;
	nh = shim_nexthop_new(&f->cfg, err, sizeof(err));
	assert_non_null(nh);
	d.rcpts = rcpts;
	d.rcpt_count = count;
	shim_nexthop_deliver(nh, &d, &res);
	shim_nexthop_free(nh);
	return res;
}

/* deliver_to_port - F's message to RCPTS through an SMTP next hop on PORT, 1 s at most. */
static struct delivery_result deliver_to_port(struct fixture *f, unsigned port,
					      const char *const *rcpts, size_t count)
{
	return deliver_edited_to_port(f, port, rcpts, count, NULL, 0);
}

/* deliver_via - F's message to RCPTS through a fake next hop answering as SC. */
static struct delivery_result deliver_via(struct fixture *f, struct script *sc,
					  const char *const *rcpts, size_t count)
{
	struct smtp_server_config cfg = { .host = "127.0.0.1", .hostname = "nexthop.test" };
	char err[256];
	struct smtp_server *srv = smtp_server_start(&cfg, &fake_nexthop, sc, err, sizeof(err));
	struct delivery_result res;

	if (!srv)
		fail_msg("cannot start the fake next hop: %s", err);
	res = deliver_to_port(f, smtp_server_port(srv), rcpts, count);
	smtp_server_stop(srv);
	return res;
}

static void test_accepted_by_the_next_hop_is_250_with_the_queue_id(void **state)
{
	struct script sc = { 0 };
	struct delivery_result res = deliver_via(*state, &sc, two_rcpts, 2);

	assert_int_equal(res.status, DELIVERY_SENT);
	assert_reply(&res, 250, "2.0.0 Ok: queued as QID1");
	assert_int_equal(sc.messages, 1);
}

static void test_next_hop_gets_the_edited_head_and_the_body_as_kept(void **state)
{
	struct fixture *f = *state;
	struct script sc = { 0 };
	struct smtp_server_config cfg = { .host = "127.0.0.1", .hostname = "nexthop.test" };
	char err[256];
	struct smtp_server *srv = smtp_server_start(&cfg, &fake_nexthop, &sc, err, sizeof(err));
	const struct header_edit add = { EDIT_ADD, "X-Virus-Scanned", "clean", 0 };
	const struct header_edit drop = { EDIT_REMOVE, "X-Drop", NULL, 0 };
	const struct header_edit *const edits[] = { &add, &drop };
	struct delivery_result res;

	if (!srv)
		fail_msg("cannot start the fake next hop: %s", err);
	res = deliver_edited_to_port(f, smtp_server_port(srv), one_rcpt, 1, edits, 2);
	smtp_server_stop(srv);
	assert_int_equal(res.status, DELIVERY_SENT);
	assert_int_equal(sc.messages, 1);
	assert_string_equal(sc.text, "Received: by shim.test\r\nSubject: hi\r\n"
			    "X-Virus-Scanned: clean\r\n\r\nHello.\r\n");
}

static void test_refusal_for_good_after_the_data_is_mirrored_as_5xx(void **state)
{
	struct script sc = { .eod = { NULL, 554, "5.7.1 Message content rejected" } };
	struct delivery_result res = deliver_via(*state, &sc, one_rcpt, 1);

	assert_int_equal(res.status, DELIVERY_REFUSED);
	assert_reply(&res, 554, "5.7.1 next hop said: Message content rejected");
	assert_string_equal(res.detail, "refused at end of data: 554 5.7.1 Message content rejected");
}

static void test_refusal_for_good_of_data_is_mirrored_as_5xx(void **state)
{
	struct script sc = { .data = { NULL, 554, "5.3.2 Not accepting messages" } };
	struct delivery_result res = deliver_via(*state, &sc, one_rcpt, 1);

	assert_int_equal(res.status, DELIVERY_REFUSED);
	assert_reply(&res, 554, "5.3.2 next hop said: Not accepting messages");
	assert_int_equal(sc.messages, 0);
}

static void test_refusal_for_good_of_the_sender_is_mirrored_as_5xx(void **state)
{
	struct script sc = { .mail = { NULL, 553, "5.1.8 Sender domain does not exist" } };
	struct delivery_result res = deliver_via(*state, &sc, one_rcpt, 1);

	assert_int_equal(res.status, DELIVERY_REFUSED);
	assert_reply(&res, 553, "5.1.8 next hop said: Sender domain does not exist");
}

static void test_refusal_without_enhanced_status_gets_a_generic_one(void **state)
{
	struct script sc = { .eod = { NULL, 550, "Rejected by the content filter" } };
	struct delivery_result res = deliver_via(*state, &sc, one_rcpt, 1);

	assert_int_equal(res.status, DELIVERY_REFUSED);
	assert_reply(&res, 550, "5.0.0 next hop said: Rejected by the content filter");
}

static void test_enhanced_status_of_another_class_is_not_mirrored(void **state)
{
	struct script sc = { .eod = { NULL, 550, "4.7.1 Odd but seen" } };
	struct delivery_result res = deliver_via(*state, &sc, one_rcpt, 1);

	assert_reply(&res, 550, "5.0.0 next hop said: 4.7.1 Odd but seen");
}

static void test_control_characters_of_the_next_hop_are_not_passed_on(void **state)
{
	struct script sc = { .eod = { NULL, 554, "5.7.1 bad\tthing\x01" } };
	struct delivery_result res = deliver_via(*state, &sc, one_rcpt, 1);

	assert_reply(&res, 554, "5.7.1 next hop said: bad?thing?");
}

static void test_every_recipient_refused_for_good_is_mirrored_as_5xx(void **state)
{
	struct script sc = { .rcpt = { { "@", 550, "5.1.1 User unknown" } } };
	struct delivery_result res = deliver_via(*state, &sc, two_rcpts, 2);

	assert_int_equal(res.status, DELIVERY_REFUSED);
	assert_reply(&res, 550, "5.1.1 next hop said: User unknown");
	assert_string_equal(res.detail, "refused 2 of 2 recipients at RCPT TO: 550 5.1.1 User unknown");
	assert_int_equal(sc.data_commands, 0);
}

static void test_mix_of_accepted_and_refused_recipients_is_451_and_nothing_is_sent(void **state)
{
	struct script sc = { .rcpt = { { "nobody", 550, "5.1.1 <nobody@example.net>: User unknown" } } };
	struct delivery_result res = deliver_via(*state, &sc, two_rcpts, 2);

	assert_int_equal(res.status, DELIVERY_PARTIAL);
	assert_reply(&res, 451, "4.4.1 Next hop refused some recipients, try again later;"
		     " next hop said: 550 5.1.1 <nobody@example.net>: User unknown");
	assert_int_equal(sc.data_commands, 0);
	assert_int_equal(sc.messages, 0);
	assert_string_equal(delivery_status_name(res.status), "deferred");
}

static void test_temporary_refusal_of_a_recipient_among_permanent_ones_is_451(void **state)
{
	struct script sc = { .rcpt = { { "nobody", 550, "5.1.1 User unknown" },
				       { "b@", 450, "4.2.0 Greylisted, try again" } } };
	struct delivery_result res = deliver_via(*state, &sc, two_rcpts, 2);

	assert_int_equal(res.status, DELIVERY_DEFERRED);
	assert_reply(&res, 451, "4.4.1 Next hop unavailable, try again later");
}

static void test_temporary_refusal_after_the_data_is_451(void **state)
{
	struct script sc = { .eod = { NULL, 452, "4.3.1 Insufficient system storage" } };
	struct delivery_result res = deliver_via(*state, &sc, one_rcpt, 1);

	assert_int_equal(res.status, DELIVERY_DEFERRED);
	assert_reply(&res, 451, "4.4.1 Next hop unavailable, try again later");
	assert_string_equal(res.detail, "refused at end of data: 452 4.3.1 Insufficient system storage");
}

static void test_greeting_refused_for_good_is_451_not_a_bounce(void **state)
{
	struct script sc = { .banner = { NULL, 554, "5.7.1 No SMTP service here" } };
	struct delivery_result res = deliver_via(*state, &sc, one_rcpt, 1);

	assert_int_equal(res.status, DELIVERY_DEFERRED);
	assert_reply(&res, 451, "4.4.1 Next hop unavailable, try again later");
}

static void test_next_hop_silent_after_the_data_times_out_as_451(void **state)
{
	struct script sc = { .eod_delay_ms = 1500 };
	struct delivery_result res = deliver_via(*state, &sc, one_rcpt, 1);

	assert_int_equal(res.status, DELIVERY_DEFERRED);
	assert_reply(&res, 451, "4.4.1 Next hop unavailable, try again later");
	assert_non_null(strstr(res.detail, "timed out at end of data"));
}

/* listener - a socket bound to a loopback port (in PORT), listening when LISTEN. */
static int listener(unsigned *port, bool listen_too)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_true(!listen_too || listen(fd, 4) == 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void test_next_hop_not_listening_is_451(void **state)
{
	unsigned port;
	int fd = listener(&port, false);
	struct delivery_result res = deliver_to_port(*state, port, one_rcpt, 1);

	close(fd);
	assert_int_equal(res.status, DELIVERY_DEFERRED);
	assert_reply(&res, 451, "4.4.1 Next hop unavailable, try again later");
}

/*
 * hang_up_after_the_data - a raw next hop on the listening socket ARG: one
 * session, 250 to everything and 354 to DATA, then it reads the message to
 * the final dot and closes without a reply.
 */
static void *hang_up_after_the_data(void *arg)
{
	int fd = accept(*(int *)arg, NULL, NULL);
	char buf[65536];
	size_t len = 0;
	ssize_t n;

	assert_true(fd >= 0);
	send(fd, "220 lost.test\r\n", 15, MSG_NOSIGNAL);
	while (len < sizeof(buf) - 1 && (n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0) {
		bool data = strncmp(buf, "DATA", 4) == 0;

		len += (size_t)n;
		buf[len] = '\0';
		if (data && strstr(buf, "\r\n.\r\n"))
			break;                  /* the whole message: hang up, no reply */
		if (!data && strchr(buf, '\n'))
			send(fd, "250 ok\r\n", 8, MSG_NOSIGNAL), len = 0;
		else if (data && strcmp(buf, "DATA\r\n") == 0)
			send(fd, "354 go\r\n", 8, MSG_NOSIGNAL);
	}
	close(fd);
	return NULL;
}

static void test_connection_lost_before_the_final_reply_is_451(void **state)
{
	unsigned port;
	int fd = listener(&port, true);
	pthread_t peer;
	struct delivery_result res;

	assert_int_equal(pthread_create(&peer, NULL, hang_up_after_the_data, &fd), 0);
	res = deliver_to_port(*state, port, one_rcpt, 1);
	pthread_join(peer, NULL);
	close(fd);
	assert_int_equal(res.status, DELIVERY_DEFERRED);
	assert_reply(&res, 451, "4.4.1 Next hop unavailable, try again later");
	assert_non_null(strstr(res.detail, "failed at end of data"));
}

static int group_setup(void **state)
{
	(void)state;
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	curl_global_cleanup();
	return 0;
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_maildir_delivery_lands_whole_in_new),
		T(test_two_deliveries_get_two_files),
		T(test_unwritable_maildir_fails_and_leaves_nothing),
		T(test_missing_message_fails_with_the_reason),
		T(test_maildir_under_a_file_cannot_be_created),
		T(test_accepted_by_the_next_hop_is_250_with_the_queue_id),
		T(test_next_hop_gets_the_edited_head_and_the_body_as_kept),
		T(test_refusal_for_good_after_the_data_is_mirrored_as_5xx),
		T(test_refusal_for_good_of_data_is_mirrored_as_5xx),
		T(test_refusal_for_good_of_the_sender_is_mirrored_as_5xx),
		T(test_refusal_without_enhanced_status_gets_a_generic_one),
		T(test_enhanced_status_of_another_class_is_not_mirrored),
		T(test_control_characters_of_the_next_hop_are_not_passed_on),
		T(test_every_recipient_refused_for_good_is_mirrored_as_5xx),
		T(test_mix_of_accepted_and_refused_recipients_is_451_and_nothing_is_sent),
		T(test_temporary_refusal_of_a_recipient_among_permanent_ones_is_451),
		T(test_temporary_refusal_after_the_data_is_451),
		T(test_greeting_refused_for_good_is_451_not_a_bounce),
		T(test_next_hop_silent_after_the_data_times_out_as_451),
		T(test_next_hop_not_listening_is_451),
		T(test_connection_lost_before_the_final_reply_is_451),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
