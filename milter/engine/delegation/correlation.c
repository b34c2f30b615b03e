/*
 * correlation.c - the table of transactions waiting for their copies.
 *
 * One mutex guards the table (a chained hash on the id) and the ring of
 * released ids; each entry has its own condition variable so a delivery
 * wakes exactly the transaction it belongs to. Hundreds of entries wait at
 * once; every operation is O(1) on average.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "correlation.h"
#include "log.h"
#include "xalloc.h"

#define BUCKETS 1024
#define RECENT 4096             /* released ids remembered */

struct corr_entry {
	char id[CORR_ID_LEN + 1];
	char *copy_path;        /* set by corr_deliver */
	bool delivered;
	pthread_cond_t arrived;
	struct corr_entry *next;
};

struct recent_id {
	char id[CORR_ID_LEN + 1];
	bool delivered;
};

struct corr_table {
	pthread_mutex_t lock;
	struct corr_entry *buckets[BUCKETS];
	unsigned waiting;
	struct recent_id recent[RECENT];
	unsigned recent_next;
};

/* corr_now_ms - CLOCK_MONOTONIC in milliseconds. */
uint64_t corr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* bucket_of - hash of a hex id (its leading digits are already random). */
static unsigned bucket_of(const char *id)
{
	unsigned h = 0;

	for (int i = 0; i < 8 && id[i]; i++)
		h = h * 16 + (unsigned)(id[i] % 16);
	return h % BUCKETS;
}

/* corr_new - an empty table. */
struct corr_table *corr_new(void)
{
	struct corr_table *t = xcalloc(1, sizeof(*t));

	pthread_mutex_init(&t->lock, NULL);
	return t;
}

/* corr_free - release the table. */
void corr_free(struct corr_table *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* find - the entry with ID in its bucket, and the link pointing at it. */
static struct corr_entry **find(struct corr_table *t, const char *id)
{
	struct corr_entry **link = &t->buckets[bucket_of(id)];

	while (*link && strcmp((*link)->id, id) != 0)
		link = &(*link)->next;
	return link;
}

/* random_id - 128 random bits as 32 hex digits. */
static void random_id(char id[CORR_ID_LEN + 1])
{
	unsigned char raw[CORR_ID_LEN / 2];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {   /* no randomness: refuse to issue guessable ids */
			log_msg(LOG_ERR, "getrandom: %s: cannot make a correlation id",
				n < 0 ? strerror(errno) : "no bytes");
			abort();
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
}

/* corr_register - a new waiting entry with a fresh id. */
struct corr_entry *corr_register(struct corr_table *t, char id[CORR_ID_LEN + 1])
{
	struct corr_entry *e = xcalloc(1, sizeof(*e));
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&e->arrived, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_lock(&t->lock);
	do
		random_id(e->id);
	while (*find(t, e->id));
	e->next = t->buckets[bucket_of(e->id)];
	t->buckets[bucket_of(e->id)] = e;
	t->waiting++;
	pthread_mutex_unlock(&t->lock);
	memcpy(id, e->id, sizeof(e->id));
	return e;
}

/* recent_lookup - the remembered released id ID, or NULL. */
static struct recent_id *recent_lookup(struct corr_table *t, const char *id)
{
	for (unsigned i = 0; i < RECENT; i++)
		if (t->recent[i].id[0] && strcmp(t->recent[i].id, id) == 0)
			return &t->recent[i];
	return NULL;
}

/* corr_deliver - hand a copy to its waiting entry. */
enum corr_delivery corr_deliver(struct corr_table *t, const char *id, char *path)
{
	struct corr_entry *e;
	struct recent_id *r;
	enum corr_delivery result;

	if (strlen(id) != CORR_ID_LEN)
		return CORR_UNKNOWN;
	pthread_mutex_lock(&t->lock);
	e = *find(t, id);
	if (e && !e->delivered) {
		e->copy_path = path;
		e->delivered = true;
		pthread_cond_signal(&e->arrived);
		result = CORR_ACCEPTED;
	} else if (e) {
		result = CORR_REPLAYED;
	} else if ((r = recent_lookup(t, id))) {
		result = r->delivered ? CORR_REPLAYED : CORR_LATE;
		r->delivered = true;
	} else {
		result = CORR_UNKNOWN;
	}
	pthread_mutex_unlock(&t->lock);
	return result;
}

/* corr_peek - what corr_deliver would say of ID, without delivering. */
enum corr_delivery corr_peek(struct corr_table *t, const char *id)
{
	struct corr_entry *e;
	struct recent_id *r;
	enum corr_delivery result = CORR_UNKNOWN;

	if (strlen(id) != CORR_ID_LEN)
		return CORR_UNKNOWN;
	pthread_mutex_lock(&t->lock);
	e = *find(t, id);
	if (e)
		result = e->delivered ? CORR_REPLAYED : CORR_ACCEPTED;
	else if ((r = recent_lookup(t, id)))
		result = r->delivered ? CORR_REPLAYED : CORR_LATE;
	pthread_mutex_unlock(&t->lock);
	return result;
}

/* corr_wait - sleep until the copy arrived, the deadline, or a tick. */
enum corr_wait_status corr_wait(struct corr_table *t, struct corr_entry *e,
				uint64_t deadline_ms, uint64_t tick_ms)
{
	uint64_t now = corr_now_ms();
	uint64_t until = now + tick_ms < deadline_ms ? now + tick_ms : deadline_ms;
	struct timespec ts = { .tv_sec = (time_t)(until / 1000),
			       .tv_nsec = (long)(until % 1000) * 1000000 };
	enum corr_wait_status status;

	pthread_mutex_lock(&t->lock);
	while (!e->delivered && pthread_cond_timedwait(&e->arrived, &t->lock, &ts) != ETIMEDOUT)
		;
	if (e->delivered)
		status = CORR_ARRIVED;
	else
		status = corr_now_ms() >= deadline_ms ? CORR_TIMED_OUT : CORR_TICK;
	pthread_mutex_unlock(&t->lock);
	return status;
}

/* corr_take_copy - hand the delivered copy's path to the caller. */
char *corr_take_copy(struct corr_table *t, struct corr_entry *e)
{
	char *path;

	pthread_mutex_lock(&t->lock);
	path = e->copy_path;
	e->copy_path = NULL;
	pthread_mutex_unlock(&t->lock);
	return path;
}

/* corr_release - forget E and remember its id for late or replayed copies. */
void corr_release(struct corr_table *t, struct corr_entry *e)
{
	struct corr_entry **link;
	struct recent_id *r;

	pthread_mutex_lock(&t->lock);
	link = find(t, e->id);
	if (*link == e)
		*link = e->next;
	t->waiting--;
	r = &t->recent[t->recent_next];
	t->recent_next = (t->recent_next + 1) % RECENT;
	memcpy(r->id, e->id, sizeof(r->id));
	r->delivered = e->delivered;
	pthread_mutex_unlock(&t->lock);
	if (e->copy_path) {
		unlink(e->copy_path);
		free(e->copy_path);
	}
	pthread_cond_destroy(&e->arrived);
	free(e);
}

/* corr_waiting - how many entries are registered. */
unsigned corr_waiting(struct corr_table *t)
{
	unsigned n;

	pthread_mutex_lock(&t->lock);
	n = t->waiting;
	pthread_mutex_unlock(&t->lock);
	return n;
}
