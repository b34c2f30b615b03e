/*
 * test_clamd_client.c - the clamd client against a scripted clamd running in
 * the test (one thread, one connection, on a unix socket or loopback TCP):
 * the exact INSTREAM framing and FILDES hand-over it receives, and what the
 * client makes of each reply: OK, FOUND, the size-limit ERROR sent while the
 * message is still streaming, a close without a reply, garbage, silence.
 * The reply parser is tested on its own too. No real clamd is needed.
 */
#include "fake_clamd.h"

#include <fcntl.h>

#include "clamd_client.h"

static char tmpdir[64];
static char msg_path[128];

/* write_message - the message file of LEN bytes of a repeating pattern; returns its bytes. */
static char *write_message(size_t len)
{
	char *text = malloc(len + 1);
	FILE *out = fopen(msg_path, "w");

	for (size_t i = 0; i < len; i++)
		text[i] = "Subject: test\r\n\r\nbody line\r\n"[i % 28];
	assert_non_null(out);
	assert_int_equal(fwrite(text, 1, len, out), len);
	fclose(out);
	return text;
}

/* scan_message - clamd_scan of the message file against TO. */
static void scan_message(const struct clamd_target *to, unsigned timeout_ms, struct clamd_result *res)
{
	int fd = open(msg_path, O_RDONLY | O_CLOEXEC);
	struct clamd_scan_request req = { .fd = fd, .timeout_ms = timeout_ms };

	assert_true(fd >= 0);
	clamd_scan(to, &req, res);
	close(fd);
}

/* scan - clamd_scan of the message file against F. */
static void scan(struct fake *f, bool tcp, enum clamd_stream stream, unsigned timeout_ms,
		 struct clamd_result *res)
{
	struct endpoint ep = { .host = "127.0.0.1", .port = f->port };
	struct clamd_target to = { .socket_path = tcp ? NULL : f->path, .tcp = &ep, .stream = stream };

	scan_message(&to, timeout_ms, res);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/md-clamd-test.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(msg_path, sizeof(msg_path), "%s/msg", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(msg_path);
	rmdir(tmpdir);
	return 0;
}

static void test_instream_sends_chunks_with_network_order_lengths_and_a_zero_end(void **state)
{
	struct fake f = { .behaviour = ANSWER, .reply = "stream: OK" };
	struct clamd_result res;
	char *text = write_message(200000);     /* more than one 64 KB chunk */

	(void)state;
	start_fake(&f, true, tmpdir);
	scan(&f, true, CLAMD_STREAM_AUTO, 10000, &res);
	stop_fake(&f);
	assert_string_equal(f.command, "zINSTREAM");
	assert_true(f.terminated);
	assert_true(f.chunks >= 4);
	assert_int_equal(f.data_len, 200000);
	assert_memory_equal(f.data, text, 200000);
	assert_int_equal(res.verdict, CLAMD_CLEAN);
	assert_string_equal(res.mode, "INSTREAM");
	assert_string_equal(res.reply, "stream: OK");
	free(text);
	free(f.data);
}

static void test_found_reply_gives_the_signature(void **state)
{
	struct fake f = { .behaviour = ANSWER, .reply = "stream: Eicar-Signature FOUND" };
	struct clamd_result res;

	(void)state;
	free(write_message(100));
	start_fake(&f, false, tmpdir);
	scan(&f, false, CLAMD_STREAM_INSTREAM, 10000, &res);
	stop_fake(&f);
	assert_string_equal(f.command, "zINSTREAM");
	assert_int_equal(res.verdict, CLAMD_INFECTED);
	assert_string_equal(res.signature, "Eicar-Signature");
	free(f.data);
}

static void test_fildes_on_a_unix_socket_hands_over_the_open_file(void **state)
{
	struct fake f = { .behaviour = ANSWER, .reply = "fd[9]: MD.Test.EICAR.UNOFFICIAL FOUND" };
	struct clamd_result res;
	char *text = write_message(5000);

	(void)state;
	start_fake(&f, false, tmpdir);
	scan(&f, false, CLAMD_STREAM_AUTO, 10000, &res);
	stop_fake(&f);
	assert_string_equal(f.command, "zFILDES");
	assert_true(f.got_fd);
	assert_int_equal(f.data_len, 5000);
	assert_memory_equal(f.data, text, 5000);
	assert_string_equal(res.mode, "FILDES");
	assert_int_equal(res.verdict, CLAMD_INFECTED);
	assert_string_equal(res.signature, "MD.Test.EICAR.UNOFFICIAL");
	free(text);
	free(f.data);
}

static void test_size_limit_answer_mid_stream_is_a_failure_with_clamds_words(void **state)
{
	struct fake f = { .behaviour = ANSWER_EARLY, .limit = 100000,
			  .reply = "INSTREAM size limit exceeded. ERROR" };
	struct clamd_result res;

	(void)state;
	free(write_message(8 << 20));   /* far more than the socket buffers hold */
	start_fake(&f, false, tmpdir);
	scan(&f, false, CLAMD_STREAM_INSTREAM, 20000, &res);
	stop_fake(&f);
	assert_int_equal(res.verdict, CLAMD_FAILED);
	assert_string_equal(res.error, "clamd: INSTREAM size limit exceeded. ERROR");
	free(f.data);
}

static void test_close_without_reply_is_a_failure(void **state)
{
	struct fake f = { .behaviour = CLOSE };
	struct clamd_result res;

	(void)state;
	free(write_message(100));
	start_fake(&f, true, tmpdir);
	scan(&f, true, CLAMD_STREAM_AUTO, 10000, &res);
	stop_fake(&f);
	assert_int_equal(res.verdict, CLAMD_FAILED);
	assert_string_equal(res.error, "no reply (connection closed)");
	free(f.data);
}

static void test_silent_clamd_is_a_timeout_not_a_hang(void **state)
{
	struct fake f = { .behaviour = STALL };
	struct clamd_result res;

	(void)state;
	free(write_message(100));
	start_fake(&f, true, tmpdir);
	scan(&f, true, CLAMD_STREAM_AUTO, 300, &res);
	stop_fake(&f);
	assert_int_equal(res.verdict, CLAMD_TIMEOUT);
	assert_string_equal(res.error, "timed out waiting for the reply");
	free(f.data);
}

static void test_no_clamd_is_a_connect_failure(void **state)
{
	struct clamd_target to = { .socket_path = "/nonexistent/clamd.sock" };
	struct clamd_result res;

	(void)state;
	free(write_message(100));
	scan_message(&to, 1000, &res);
	assert_int_equal(res.verdict, CLAMD_FAILED);
	assert_string_equal(res.error, "connect /nonexistent/clamd.sock: No such file or directory");
}

static void test_unseekable_message_fails_before_connecting(void **state)
{
	struct clamd_target to = { .socket_path = "/nonexistent/clamd.sock" };
	int pipe_fds[2];
	struct clamd_scan_request req = { .timeout_ms = 1000 };
	struct clamd_result res;

	(void)state;
	assert_int_equal(pipe(pipe_fds), 0);
	req.fd = pipe_fds[0];
	clamd_scan(&to, &req, &res);
	assert_int_equal(res.verdict, CLAMD_FAILED);
	assert_string_equal(res.error, "rewind the message: Illegal seek");
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	req.fd = -1;
	clamd_scan(&to, &req, &res);
	assert_string_equal(res.error, "no message to scan (descriptor -1)");
}

/* parsed - clamd_parse_reply of TEXT (LEN bytes). */
static struct clamd_result parsed(const char *text, size_t len)
{
	struct clamd_result r = { .verdict = CLAMD_CLEAN };

	clamd_parse_reply(text, len, &r);
	return r;
}

static void test_reply_parser_reads_every_kind_of_answer(void **state)
{
	static const struct { const char *text; enum clamd_verdict v; const char *sig, *err; } rows[] = {
		{ "stream: OK", CLAMD_CLEAN, "", "" },
		{ "stream: OK\n", CLAMD_CLEAN, "", "" },
		{ "fd[12]: Win.Test.EICAR_HDB-1 FOUND", CLAMD_INFECTED, "Win.Test.EICAR_HDB-1", "" },
		{ "stream: FOUND", CLAMD_FAILED, "", "unexpected reply \"stream: FOUND\"" },
		{ "stream:  FOUND", CLAMD_FAILED, "", "unexpected reply \"stream:  FOUND\"" },
		{ "INSTREAM size limit exceeded. ERROR", CLAMD_FAILED, "",
		  "clamd: INSTREAM size limit exceeded. ERROR" },
		{ "stream: Can't allocate memory ERROR", CLAMD_FAILED, "",
		  "clamd: stream: Can't allocate memory ERROR" },
		{ "COMMAND READ TIMED OUT", CLAMD_FAILED, "", "unexpected reply \"COMMAND READ TIMED OUT\"" },
		{ "stream: OKAY", CLAMD_FAILED, "", "unexpected reply \"stream: OKAY\"" },
		{ "", CLAMD_FAILED, "", "no reply (connection closed)" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct clamd_result r = parsed(rows[i].text, strlen(rows[i].text));

		assert_int_equal(r.verdict, rows[i].v);
		assert_string_equal(r.signature, rows[i].sig);
		assert_string_equal(r.error, rows[i].err);
	}
}

static void test_reply_parser_makes_control_bytes_harmless(void **state)
{
	static const char text[] = "stream: Bad\r\nX-Injected: yes\tx FOUND";
	struct clamd_result r = parsed(text, sizeof(text) - 1);

	(void)state;
	/* The reply stops at the line end: no header can be smuggled. */
	assert_int_equal(r.verdict, CLAMD_FAILED);
	assert_null(strchr(r.reply, '\r'));
	assert_null(strchr(r.reply, '\n'));
	r = parsed("stream: A\tB FOUND", 17);
	assert_int_equal(r.verdict, CLAMD_INFECTED);
	assert_string_equal(r.signature, "A?B");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_instream_sends_chunks_with_network_order_lengths_and_a_zero_end),
		T(test_found_reply_gives_the_signature),
		T(test_fildes_on_a_unix_socket_hands_over_the_open_file),
		T(test_size_limit_answer_mid_stream_is_a_failure_with_clamds_words),
		T(test_close_without_reply_is_a_failure),
		T(test_silent_clamd_is_a_timeout_not_a_hang),
		T(test_no_clamd_is_a_connect_failure),
		T(test_unseekable_message_fails_before_connecting),
		T(test_reply_parser_reads_every_kind_of_answer),
		T(test_reply_parser_makes_control_bytes_harmless),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
