/*
 * test_delegation.c - the delegation runtime across reloads: a receiver
 * whose settings changed is replaced by one that takes over its listening
 * socket (the port is never free in between); when the replacement cannot
 * start, the old receiver goes on listening and the error says so; a
 * receiver no service uses stops listening.
 */
#include "test_support.h"
#include "smtp_client.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "delegation.h"

/* free_port - a loopback port nobody listens on now. */
static unsigned free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* smtp_policy - a policy whose smtp service "av" has its receiver on PORT with RECEIVER_IDLE. */
static struct policy *smtp_policy(const char *spool, unsigned port, const char *receiver_idle)
{
	char text[1024];

	snprintf(text, sizeof(text), "{\"settings\":{\"spool_dir\":\"%s\"},\"services\":{\"av\":"
		 "{\"type\":\"smtp\",\"delegator\":{\"address\":\"127.0.0.1:1\"},\"receiver\":"
		 "\"127.0.0.1:%u\",\"receiver_idle\":\"%s\"}},\"stages\":{\"eom\":[{\"then\":"
		 "{\"action\":\"delegate\",\"service\":\"av\"}}]}}", spool, port, receiver_idle);
	return load_ok(text);
}

/* no_descriptor_left - set the soft RLIMIT_NOFILE to the lowest free descriptor; the old limit. */
static struct rlimit no_descriptor_left(void)
{
	struct rlimit old, tight;
	int lowest = dup(0);

	assert_true(lowest >= 0);
	close(lowest);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	tight = (struct rlimit){ .rlim_cur = (rlim_t)lowest, .rlim_max = old.rlim_max };
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &tight), 0);
	return old;
}

static void test_a_changed_receiver_is_replaced_on_the_same_socket(void **state)
{
	char *spool = scratch_dir();
	unsigned port = free_port();
	struct policy *p1 = smtp_policy(spool, port, "60s"), *p2 = smtp_policy(spool, port, "50s");
	struct policy *p3 = smtp_policy(spool, port, "40s");
	struct delegation *d;
	struct rlimit limit;
	char err[512] = "";
	bool updated;

	(void)state;
	d = delegation_start(p1, err, sizeof(err));
	if (!d)
		fail_msg("delegation_start: %s", err);
	assert_true(loopback_listening(port));
	assert_true(delegation_update(d, p2, err, sizeof(err)));
	assert_true(loopback_listening(port));
	/* The replacement cannot even share the socket: the old receiver stays. */
	limit = no_descriptor_left();
	updated = delegation_update(d, p3, err, sizeof(err));
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &limit), 0);
	assert_false(updated);
	assert_non_null(strstr(err, "service av: receiver 127.0.0.1:"));
	assert_non_null(strstr(err, " keeps its old receiver_idle: cannot take over the listener on "
			       "127.0.0.1:"));
	assert_true(loopback_listening(port));
	delegation_stop(d);
	assert_false(loopback_listening(port));
	policy_unref(p1);
	policy_unref(p2);
	policy_unref(p3);
	remove_tree(spool);
	free(spool);
}

static void test_a_receiver_no_service_uses_stops_listening(void **state)
{
	char *spool = scratch_dir();
	unsigned port = free_port(), other;
	struct policy *p1, *p2;
	struct delegation *d;
	char err[512] = "";

	(void)state;
	while ((other = free_port()) == port)
		;
	p1 = smtp_policy(spool, port, "60s");
	p2 = smtp_policy(spool, other, "60s");
	d = delegation_start(p1, err, sizeof(err));
	if (!d)
		fail_msg("delegation_start: %s", err);
	assert_true(delegation_update(d, p2, err, sizeof(err)));
	assert_false(loopback_listening(port));
	assert_true(loopback_listening(other));
	delegation_stop(d);
	policy_unref(p1);
	policy_unref(p2);
	remove_tree(spool);
	free(spool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_changed_receiver_is_replaced_on_the_same_socket),
		cmocka_unit_test(test_a_receiver_no_service_uses_stops_listening),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
