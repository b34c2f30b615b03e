/*
 * test_http_gate.c - the metrics listener's front door (http_gate.h): a
 * request line without a target, or bytes that are not HTTP at all, get
 * "400 Bad Request" from the gate; any other connection is handed over
 * unread (the test's pass function stands in for libmicrohttpd), also when
 * its line comes in pieces; a client that never sends a line is closed
 * after the timeout; the line rule itself.
 * Loopback only, no timing assertions (the timeout case waits for the close).
 */
#include "test_support.h"
#include "smtp_client.h"

#include <arpa/inet.h>

#include "http_gate.h"

struct gate_fixture {
	int listen_fd;
	unsigned port;
	struct http_gate *gate;
};

/* pass_to_test - http_gate_pass_fn: say what was handed over, with the bytes still unread. */
static void pass_to_test(void *arg, int fd, const struct sockaddr *addr, socklen_t len)
{
	char buf[256], reply[300];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	(void)arg, (void)addr, (void)len;
	buf[n > 0 ? n : 0] = '\0';
	snprintf(reply, sizeof(reply), "passed %zd bytes", n);
	(void)!send(fd, reply, strlen(reply), MSG_NOSIGNAL);
	close(fd);
}

/* start_gate - a gate on a fresh loopback port, TIMEOUT_S per connection. */
static void start_gate(struct gate_fixture *f, unsigned timeout_s)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->listen_fd >= 0);
	assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->listen_fd, 8), 0);
	assert_int_equal(getsockname(f->listen_fd, (struct sockaddr *)&sa, &len), 0);
	f->port = ntohs(sa.sin_port);
	f->gate = http_gate_start(f->listen_fd, 4, timeout_s, pass_to_test, NULL);
	assert_non_null(f->gate);
}

static void stop_gate(struct gate_fixture *f)
{
	http_gate_stop(f->gate);
	close(f->listen_fd);
}

/* exchange - send each of the PARTS (NULL-terminated) in turn; everything read until the close. */
static void exchange(const struct gate_fixture *f, const char *const *parts, char *out, size_t cap)
{
	struct smtp_test_client c;
	size_t n;

	client_connect(&c, f->port);
	for (; *parts; parts++) {
		client_send(&c, *parts);
		if (parts[1])
			usleep(150 * 1000);     /* the gate sees a partial line first */
	}
	while (client_fill(&c))
		;
	n = c.len < cap - 1 ? c.len : cap - 1;
	memcpy(out, c.buf, n);
	out[n] = '\0';
	close(c.fd);
}

static void test_a_line_without_a_space_gets_400_from_the_gate(void **state)
{
	struct gate_fixture f;
	char out[1024];

	(void)state;
	start_gate(&f, 10);
	exchange(&f, (const char *const[]){ "GARBAGE\r\n\r\n", NULL }, out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 400 Bad Request\r\n"));
	assert_non_null(strstr(out, "Connection: close\r\n"));
	exchange(&f, (const char *const[]){ "\r\n\n", "NOSPACE\n", NULL }, out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 400 "));
	/* Not HTTP at all and no line end (a TLS hello): answered at once, not at the timeout. */
	exchange(&f, (const char *const[]){ "\x16\x03\x01\x02\x00\x01", NULL }, out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 400 "));
	stop_gate(&f);
}

static void test_other_requests_are_handed_over_unread(void **state)
{
	struct gate_fixture f;
	char out[1024];

	(void)state;
	start_gate(&f, 10);
	exchange(&f, (const char *const[]){ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", NULL },
		 out, sizeof(out));
	assert_string_equal(out, "passed 34 bytes");
	/* The line in pieces: handed over once it is whole, nothing lost. */
	exchange(&f, (const char *const[]){ "GE", "T /metrics HTTP/1.0\r\n", NULL }, out, sizeof(out));
	assert_string_equal(out, "passed 23 bytes");
	stop_gate(&f);
}

static void test_a_silent_client_is_closed_after_the_timeout(void **state)
{
	struct gate_fixture f;
	struct smtp_test_client c;

	(void)state;
	start_gate(&f, 1);
	client_connect(&c, f.port);
	assert_false(client_fill(&c));          /* closed, not answered */
	assert_int_equal(c.len, 0);
	close(c.fd);
	stop_gate(&f);
}

static void test_the_line_rule(void **state)
{
	static const struct { const char *line; bool ok; } cases[] = {
		{ "GET /metrics HTTP/1.1", true }, { "GET /metrics", true }, { "BREW /pot", true },
		{ "GARBAGE", false }, { "", false }, { " GET /", false }, { "GET", false },
		{ "GET ", false }, { "GET  /", true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(http_gate_line_ok(cases[i].line, strlen(cases[i].line)), cases[i].ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_line_without_a_space_gets_400_from_the_gate),
		cmocka_unit_test(test_other_requests_are_handed_over_unread),
		cmocka_unit_test(test_a_silent_client_is_closed_after_the_timeout),
		cmocka_unit_test(test_the_line_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
