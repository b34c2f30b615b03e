/*
 * test_correlation.c - the table that matches returned copies to waiting
 * transactions: delivery, late, replayed and unknown ids, timeouts, and
 * hundreds of transactions waiting at once.
 */
#include "test_support.h"

#include <pthread.h>
#include <unistd.h>

#include "correlation.h"

static char *dup_path(const char *s)
{
	char *p = strdup(s);

	assert_non_null(p);
	return p;
}

static void test_ids_are_32_hex_digits_and_distinct(void **state)
{
	struct corr_table *t = corr_new();
	char a[CORR_ID_LEN + 1], b[CORR_ID_LEN + 1];
	struct corr_entry *ea = corr_register(t, a), *eb = corr_register(t, b);

	(void)state;
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strspn(a, "0123456789abcdef"), 32);
	assert_string_not_equal(a, b);
	assert_int_equal(corr_waiting(t), 2);
	corr_release(t, ea);
	corr_release(t, eb);
	assert_int_equal(corr_waiting(t), 0);
	corr_free(t);
}

static void test_delivered_copy_wakes_its_waiter(void **state)
{
	struct corr_table *t = corr_new();
	char id[CORR_ID_LEN + 1];
	struct corr_entry *e = corr_register(t, id);
	char *path;

	(void)state;
	assert_int_equal(corr_deliver(t, id, dup_path("/nonexistent/copy")), CORR_ACCEPTED);
	assert_int_equal(corr_wait(t, e, corr_now_ms() + 5000, 1000), CORR_ARRIVED);
	path = corr_take_copy(t, e);
	assert_string_equal(path, "/nonexistent/copy");
	free(path);
	corr_release(t, e);
	corr_free(t);
}

static void test_unknown_late_and_replayed_ids(void **state)
{
	struct corr_table *t = corr_new();
	char id[CORR_ID_LEN + 1], gone[CORR_ID_LEN + 1];
	struct corr_entry *e = corr_register(t, id);
	struct corr_entry *g = corr_register(t, gone);
	char *path = dup_path("/nonexistent/a");

	(void)state;
	assert_int_equal(corr_deliver(t, "0123456789abcdef0123456789abcdef", path), CORR_UNKNOWN);
	assert_int_equal(corr_deliver(t, "short", path), CORR_UNKNOWN);
	free(path);
	assert_int_equal(corr_deliver(t, id, dup_path("/nonexistent/b")), CORR_ACCEPTED);
	path = dup_path("/nonexistent/c");
	assert_int_equal(corr_deliver(t, id, path), CORR_REPLAYED);        /* still waiting */
	corr_release(t, e);                                                 /* unlinks b */
	assert_int_equal(corr_deliver(t, id, path), CORR_REPLAYED);        /* after release */
	corr_release(t, g);                                                 /* gave up, no copy */
	assert_int_equal(corr_deliver(t, gone, path), CORR_LATE);
	assert_int_equal(corr_deliver(t, gone, path), CORR_REPLAYED);
	free(path);
	corr_free(t);
}

static void test_wait_times_out_and_ticks(void **state)
{
	struct corr_table *t = corr_new();
	char id[CORR_ID_LEN + 1];
	struct corr_entry *e = corr_register(t, id);
	uint64_t start = corr_now_ms();

	(void)state;
	assert_int_equal(corr_wait(t, e, start + 10000, 20), CORR_TICK);
	assert_int_equal(corr_wait(t, e, corr_now_ms() + 30, 1000), CORR_TIMED_OUT);
	assert_true(corr_now_ms() - start >= 30);
	corr_release(t, e);
	corr_free(t);
}

#define WAITERS 300

struct waiter {
	struct corr_table *table;
	char id[CORR_ID_LEN + 1];
	struct corr_entry *entry;
	enum corr_wait_status status;
	char *copy;
	pthread_t thread;
};

static void *wait_for_copy(void *arg)
{
	struct waiter *w = arg;
	uint64_t deadline = corr_now_ms() + 20000;

	while ((w->status = corr_wait(w->table, w->entry, deadline, 50)) == CORR_TICK)
		;
	w->copy = corr_take_copy(w->table, w->entry);
	corr_release(w->table, w->entry);
	return NULL;
}

static void test_hundreds_of_waiters_each_get_their_own_copy(void **state)
{
	struct corr_table *t = corr_new();
	struct waiter *w = calloc(WAITERS, sizeof(*w));

	(void)state;
	for (int i = 0; i < WAITERS; i++) {
		w[i].table = t;
		w[i].entry = corr_register(t, w[i].id);
		assert_int_equal(pthread_create(&w[i].thread, NULL, wait_for_copy, &w[i]), 0);
	}
	/* Deliver in a scrambled order, from this thread, while they wait. */
	for (int k = 0; k < WAITERS; k++) {
		int i = (k * 7) % WAITERS;
		char *path;

		assert_true(asprintf(&path, "/nonexistent/copy-%d", i) > 0);
		assert_int_equal(corr_deliver(t, w[i].id, path), CORR_ACCEPTED);
	}
	for (int i = 0; i < WAITERS; i++) {
		char want[64];

		pthread_join(w[i].thread, NULL);
		snprintf(want, sizeof(want), "/nonexistent/copy-%d", i);
		assert_int_equal(w[i].status, CORR_ARRIVED);
		assert_string_equal(w[i].copy, want);
		free(w[i].copy);
	}
	assert_int_equal(corr_waiting(t), 0);
	free(w);
	corr_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_are_32_hex_digits_and_distinct),
		cmocka_unit_test(test_delivered_copy_wakes_its_waiter),
		cmocka_unit_test(test_unknown_late_and_replayed_ids),
		cmocka_unit_test(test_wait_times_out_and_ticks),
		cmocka_unit_test(test_hundreds_of_waiters_each_get_their_own_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
