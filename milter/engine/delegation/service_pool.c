/*
 * service_pool.c - a service's members, their clients, and the prober
 * thread (health probes; closing connections idle too long). See
 * service_pool.h.
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "correlation.h"        /* corr_now_ms */
#include "log.h"
#include "service_pool.h"
#include "sock_connect.h"
#include "xalloc.h"

#define IDLE_CONNECTIONS 8      /* kept open to each member */
#define PROBE_MAX_MS 3000

struct sp_member {
	struct endpoint address;        /* host NULL: unix socket */
	char *path;
	char *name;
	struct delegate_client *client; /* smtp services */
};

struct service_pool {
	char *service;
	enum service_type type;
	enum pool_balance balance;
	enum clamd_stream stream;
	uint64_t probe_ms;
	size_t count;
	struct sp_member *members;
	struct pool *pool;
	pthread_t prober;
	pthread_mutex_t lock;           /* guards stopping */
	pthread_cond_t wake;
	bool stopping;
};

/* read_line - up to CAP-1 bytes from FD until LF or DEADLINE; true when a line came. */
static bool read_line(int fd, char *buf, size_t cap, uint64_t deadline_ms)
{
	size_t len = 0;

	while (len < cap - 1 && sock_wait(fd, POLLIN, deadline_ms) > 0) {
		ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (memchr(buf, '\n', len) || memchr(buf, '\0', len))
			return true;
	}
	buf[len] = '\0';
	return len > 0;
}

/* probe - is member M healthy? WHY when not. */
static bool probe(const struct service_pool *sp, const struct sp_member *m, char *why, size_t len)
{
	uint64_t deadline = corr_now_ms() + sp->probe_ms;
	bool timed_out, ok;
	char line[128];
	int fd = sock_connect(m->path, &m->address, deadline, why, len, &timed_out);

	if (fd < 0)
		return false;
	if (sp->type == SERVICE_CLAMD) {
		ok = send(fd, "zPING", 6, MSG_NOSIGNAL) == 6 && read_line(fd, line, sizeof(line), deadline) &&
		     strncmp(line, "PONG", 4) == 0;
	} else {
		ok = read_line(fd, line, sizeof(line), deadline) && strncmp(line, "220", 3) == 0;
		if (ok)
			(void)!send(fd, "QUIT\r\n", 6, MSG_NOSIGNAL);
	}
	if (!ok)
		snprintf(why, len, "probe: no %s", sp->type == SERVICE_CLAMD ? "PONG" : "220 greeting");
	close(fd);
	return ok;
}

/* prober_sleep - until NEXT_MS (at most 1 s) or stop; false when stopping. */
static bool prober_sleep(struct service_pool *sp, uint64_t next_ms)
{
	uint64_t now = corr_now_ms(), until = next_ms < now + 1000 ? next_ms : now + 1000;
	struct timespec ts = { .tv_sec = (time_t)(until / 1000), .tv_nsec = (long)(until % 1000) * 1000000L };
	bool go;

	pthread_mutex_lock(&sp->lock);
	if (!sp->stopping && until > now)
		pthread_cond_timedwait(&sp->wake, &sp->lock, &ts);
	go = !sp->stopping;
	pthread_mutex_unlock(&sp->lock);
	return go;
}

/* close_idle - close the members' connections idle past the service's idle limit. */
static void close_idle(struct service_pool *sp)
{
	for (size_t i = 0; i < sp->count; i++)
		if (sp->members[i].client)
			delegate_client_close_idle(sp->members[i].client);
}

/*
 * prober_run - probe the members as they fall due and close idle
 * connections (at least once a second), until stopped.
 */
static void *prober_run(void *arg)
{
	struct service_pool *sp = arg;
	size_t due[SERVICE_MAX_MEMBERS];
	uint64_t next = 0;

	while (prober_sleep(sp, next)) {
		size_t n = pool_probes_due(sp->pool, corr_now_ms(), due, SERVICE_MAX_MEMBERS, &next);

		close_idle(sp);

		for (size_t i = 0; i < n; i++) {
			char why[256] = "";
			bool ok = probe(sp, &sp->members[due[i]], why, sizeof(why));

			pool_probed(sp->pool, due[i], ok, why, corr_now_ms());
		}
		if (n > 0)
			next = 0;       /* ask again at once: more may be due */
	}
	return NULL;
}

/* init_wake - the prober's condition variable, on the monotonic clock prober_sleep uses. */
static void init_wake(pthread_cond_t *cond)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
}

/* member_copy - M from the service's member SRC; false if its client cannot be made. */
static bool member_copy(struct sp_member *m, const struct service *s, const struct service_member *src)
{
	m->address.host = src->address.host ? xstrdup(src->address.host) : NULL;
	m->address.port = src->address.port;
	m->path = src->path ? xstrdup(src->path) : NULL;
	m->name = xstrdup(src->name);
	if (s->type != SERVICE_SMTP)
		return true;
	if (!(m->client = delegate_client_new(&m->address, IDLE_CONNECTIONS)))
		return false;
	delegate_client_set_idle_limit(m->client, (unsigned)(s->idle_ms / 1000));
	return true;
}

/* service_pool_start - copy S's members, make the pool and start probing. */
struct service_pool *service_pool_start(const struct service *s)
{
	struct service_pool *sp = xcalloc(1, sizeof(*sp));
	const char *names[SERVICE_MAX_MEMBERS];
	struct pool_config cfg = {
		.service = s->name, .names = names, .members = s->member_count, .balance = s->balance,
		.max_concurrent = s->max_concurrent, .interval_ms = s->health_interval_ms,
		.backoff_max_ms = s->backoff_max_ms,
	};
	bool ok = true;

	sp->service = xstrdup(s->name);
	sp->type = s->type;
	sp->balance = s->balance;
	sp->stream = s->stream;
	sp->probe_ms = s->health_interval_ms < PROBE_MAX_MS ? s->health_interval_ms : PROBE_MAX_MS;
	sp->members = xcalloc(s->member_count, sizeof(*sp->members));
	for (size_t i = 0; i < s->member_count; i++, sp->count++) {
		ok = member_copy(&sp->members[i], s, &s->members[i]) && ok;
		names[i] = s->members[i].name;
	}
	sp->pool = pool_new(&cfg, corr_now_ms());
	pthread_mutex_init(&sp->lock, NULL);
	init_wake(&sp->wake);
	if (!ok || pthread_create(&sp->prober, NULL, prober_run, sp) != 0) {
		sp->stopping = true;    /* no thread to join */
		service_pool_stop(sp);
		return NULL;
	}
	return sp;
}

/* service_pool_stop - stop the prober and free everything. */
void service_pool_stop(struct service_pool *sp)
{
	bool joined;

	if (!sp)
		return;
	pthread_mutex_lock(&sp->lock);
	joined = !sp->stopping;
	sp->stopping = true;
	pthread_cond_signal(&sp->wake);
	pthread_mutex_unlock(&sp->lock);
	if (joined)
		pthread_join(sp->prober, NULL);
	for (size_t i = 0; i < sp->count; i++) {
		delegate_client_free(sp->members[i].client);
		free(sp->members[i].address.host);
		free(sp->members[i].path);
		free(sp->members[i].name);
	}
	pool_free(sp->pool);
	pthread_cond_destroy(&sp->wake);
	pthread_mutex_destroy(&sp->lock);
	free(sp->members);
	free(sp->service);
	free(sp);
}

/* service_pool_serves - same name, type, balance and member names in order. */
bool service_pool_serves(const struct service_pool *sp, const struct service *s)
{
	if (strcmp(sp->service, s->name) != 0 || sp->type != s->type || sp->balance != s->balance ||
	    sp->stream != s->stream || sp->count != s->member_count)
		return false;
	for (size_t i = 0; i < sp->count; i++)
		if (strcmp(sp->members[i].name, s->members[i].name) != 0)
			return false;
	return true;
}

struct pool *service_pool_pool(struct service_pool *sp)
{
	return sp->pool;
}

struct delegate_client *service_pool_client(struct service_pool *sp, size_t i)
{
	return sp->members[i].client;
}

struct clamd_target service_pool_clamd(const struct service_pool *sp, size_t i)
{
	return (struct clamd_target){ .socket_path = sp->members[i].path,
				      .tcp = &sp->members[i].address, .stream = sp->stream };
}

/* service_pool_send_outcome - accepted, a 5xx verdict, or whether the member can have it. */
enum pool_outcome service_pool_send_outcome(const struct delegate_send_result *res)
{
	bool after_dot = res->step && strcmp(res->step, "end of data") == 0;

	switch (res->status) {
	case SEND_ACCEPTED:
		return POOL_ACCEPTED;
	case SEND_REFUSED:
		return res->code / 100 == 5 ? POOL_REFUSED : POOL_DEFERRED;
	case SEND_FAILED:
		/* "local": our own failure (unreadable file): no member can do better. */
		if (res->step && strcmp(res->step, "local") == 0)
			return POOL_REFUSED;
		return after_dot ? POOL_UNCERTAIN : POOL_DEFERRED;
	case SEND_TIMEOUT:
	case SEND_CANCELLED:
		return POOL_UNCERTAIN;
	}
	return POOL_UNCERTAIN;
}

/* service_pool_scan_outcome - a scanner holds no copy: only a reply that is not a verdict retries. */
enum pool_outcome service_pool_scan_outcome(const struct clamd_result *res)
{
	switch (res->verdict) {
	case CLAMD_CLEAN:
	case CLAMD_INFECTED:
		return POOL_ACCEPTED;
	case CLAMD_TIMEOUT:
		return POOL_UNCERTAIN;
	case CLAMD_FAILED:
		/* clamd said ERROR (size limit): its word on this message; another says the same. */
		return res->reply[0] ? POOL_REFUSED : POOL_DEFERRED;
	}
	return POOL_UNCERTAIN;
}
