/*
 * test_xalloc.c - the allocation family: results are always usable, and a
 * request that cannot be met logs "out of memory" and aborts (in a child
 * process, so the test runner survives it).
 */
#include "test_support.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

static void test_zero_sizes_still_give_a_pointer_to_free(void **state)
{
	void *a = xmalloc(0), *b = xcalloc(0, 0), *c = xrealloc(NULL, 0);

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	free(a);
	free(b);
	free(c);
}

static void test_string_copies_and_formatting(void **state)
{
	char *dup = xstrdup("hello"), *part = xstrndup("hello", 3);
	char *fmt = xasprintf("%s:%u", "127.0.0.1", 25u);

	(void)state;
	assert_string_equal(dup, "hello");
	assert_string_equal(part, "hel");
	assert_string_equal(fmt, "127.0.0.1:25");
	free(dup);
	free(part);
	free(fmt);
}

static void test_out_of_memory_logs_then_aborts(void **state)
{
	int pipe_fd[2], status;
	char out[512] = "";
	ssize_t n;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(pipe_fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
		dup2(pipe_fd[1], STDERR_FILENO);
		log_open("test", LOG_TO_STDERR, LOG_INFO);
		xreallocarray(NULL, (size_t)-1 / 2, 4);         /* overflows: never asked of malloc */
		_exit(0);
	}
	close(pipe_fd[1]);
	n = read(pipe_fd[0], out, sizeof(out) - 1);
	close(pipe_fd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(n > 0);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	assert_non_null(strstr(out, "error: out of memory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zero_sizes_still_give_a_pointer_to_free),
		cmocka_unit_test(test_string_copies_and_formatting),
		cmocka_unit_test(test_out_of_memory_logs_then_aborts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
