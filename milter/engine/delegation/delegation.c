/*
 * delegation.c - the delegation runtime: which client and receiver serve a
 * service, and one delegation from send to returned copy.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clamd_service.h"
#include "correlation.h"
#include "delegate_client.h"
#include "service_pool.h"
#include "delegation.h"
#include "log.h"
#include "receiver.h"
#include "xalloc.h"

#define PROGRESS_MS 4000        /* MTA progress notifications while waiting (libcurl adds up to 1 s) */

/*
 * A running pool. References: the live list's while the current policy has
 * the service, and one per policy bound to it (struct service's runtime);
 * the last one stops the pool, so a reload that changes or drops a service
 * stops its old pool once no policy, and so no message, can use it.
 */
struct pool_slot {
	struct service_pool *pool;      /* a service's members, clients and health */
	atomic_uint refs;
	bool wanted;                    /* delegation_update: the new policy has it */
	struct pool_slot *next;         /* the live list (delegation.lock) */
};

/*
 * A receiver. A reload that changes its settings or drops the last service
 * using it moves it to the draining list: it stops listening at once (the
 * new one may take the port), each delegate connected to it finishes its
 * copy with the old settings and gets 421 at its next MAIL (see
 * smtp_server_close_listener), and a later reload, or the end, frees it.
 */
struct receiver_slot {
	struct endpoint address;
	struct receiver *receiver;
	bool wanted;                    /* delegation_update: the new policy has it */
	struct receiver_slot *next;
};

struct delegation {
	pthread_mutex_t lock;           /* guards the lists */
	struct corr_table *table;
	struct pool_slot *pools;        /* live: the pools the current policy has */
	struct receiver_slot *receivers;        /* listening */
	struct receiver_slot *draining;         /* not listening, delegates may still be connected */
	bool started;                   /* the first update is done: later ones are reloads */
};

/* same_endpoint - do A and B name the same host and port? */
static bool same_endpoint(const struct endpoint *a, const struct endpoint *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0;
}

/* slot_release - drop a reference to SLOT (void * for struct service's runtime_release). */
static void slot_release(void *slot)
{
	struct pool_slot *c = slot;

	if (atomic_fetch_sub(&c->refs, 1) == 1) {
		service_pool_stop(c->pool);
		free(c);
	}
}

/* live_slot - the live pool of service S as configured now, made if none (lock held). */
static struct pool_slot *live_slot(struct delegation *d, const struct service *s)
{
	struct pool_slot *c;

	for (c = d->pools; c; c = c->next)
		if (service_pool_serves(c->pool, s))
			return c;
	c = xcalloc(1, sizeof(*c));
	if (!(c->pool = service_pool_start(s))) {
		log_msg(LOG_ERR, "service %s: cannot start its pool (mutex or thread)", s->name);
		abort();
	}
	atomic_init(&c->refs, 1);       /* the list's */
	c->next = d->pools;
	d->pools = c;
	return c;
}

/*
 * bind_service - S's pool, bound to S's policy if it was not (lock held).
 * struct service's runtime fields are the one part of a shared policy that
 * is written after load: hence the cast, and the atomic stores.
 */
static struct pool_slot *bind_service(struct delegation *d, const struct service *s)
{
	struct service *sv = (struct service *)s;
	struct pool_slot *c = atomic_load(&sv->runtime);

	if (c)
		return c;
	c = live_slot(d, s);
	atomic_fetch_add(&c->refs, 1);  /* the policy's */
	atomic_store(&sv->runtime_release, slot_release);
	atomic_store(&sv->runtime, c);
	return c;
}

/*
 * retire_unwanted - unlink the live pools that delegation_update did not
 * mark wanted (lock held): the list's references, for the caller to drop.
 */
static struct pool_slot *retire_unwanted(struct delegation *d)
{
	struct pool_slot *retired = NULL, **link = &d->pools;

	while (*link) {
		struct pool_slot *c = *link;

		if (c->wanted) {
			c->wanted = false;
			link = &c->next;
			continue;
		}
		*link = c->next;
		c->next = retired;
		retired = c;
	}
	return retired;
}

/* release_all - drop the list's reference to each slot of LIST (no lock: they are unlinked). */
static void release_all(struct pool_slot *list)
{
	while (list) {
		struct pool_slot *c = list;

		list = c->next;
		slot_release(c);
	}
}

/* find_receiver - the listening receiver on ADDRESS (lock held); NULL if none. */
static struct receiver_slot *find_receiver(struct delegation *d, const struct endpoint *address)
{
	for (struct receiver_slot *r = d->receivers; r; r = r->next)
		if (same_endpoint(&r->address, address))
			return r;
	return NULL;
}

/* drain_receiver - unlink R from the listening list, stop its listener, keep it draining (lock held). */
static void drain_receiver(struct delegation *d, struct receiver_slot *r)
{
	struct receiver_slot **link = &d->receivers;

	while (*link != r)
		link = &(*link)->next;
	*link = r->next;
	receiver_close_listener(r->receiver);
	r->next = d->draining;
	d->draining = r;
}

/* free_slot - stop R's receiver (ending its sessions) and free R. */
static void free_slot(struct receiver_slot *r)
{
	receiver_stop(r->receiver);
	free(r->address.host);
	free(r);
}

/* free_slots - free_slot each of LIST. */
static void free_slots(struct receiver_slot *list)
{
	while (list) {
		struct receiver_slot *r = list;

		list = r->next;
		free_slot(r);
	}
}

/* reap_drained - free the draining receivers no delegate is connected to any more (lock held). */
static void reap_drained(struct delegation *d)
{
	struct receiver_slot **link = &d->draining;

	while (*link) {
		struct receiver_slot *r = *link;

		if (receiver_sessions(r->receiver) > 0) {
			link = &r->next;
			continue;
		}
		*link = r->next;
		free_slot(r);
	}
}

/*
 * add_receiver - a receiver for S's address unless one runs with the same
 * settings (lock held); one that runs with others is drained and replaced.
 */
static bool add_receiver(struct delegation *d, const struct service *s, const char *spool_dir,
			 char *err, size_t errlen)
{
	struct receiver_config cfg = {
		.address = &s->receiver, .allow_public = s->receiver_public,
		.idle_ms = (unsigned)s->receiver_idle_ms, .spool_dir = spool_dir,
		.allow = s->receiver_allow, .allow_count = s->receiver_allow_count,
	};
	struct receiver_slot *r = find_receiver(d, &s->receiver), *old = NULL;
	struct receiver *rcv;
	char changed[128], why[256];

	if (r && receiver_changes(r->receiver, &cfg, changed, sizeof(changed))) {
		old = r;
		cfg.takes_over = old->receiver;
		r = NULL;
	}
	if (r)
		return r->wanted = true;
	rcv = receiver_start(&cfg, d->table, why, sizeof(why));
	if (!rcv) {
		if (old) {
			old->wanted = true;     /* goes on listening, with its settings */
			snprintf(err, errlen, "service %s: receiver %s:%u keeps its old %s: %s", s->name,
				 s->receiver.host, s->receiver.port, changed, why);
		} else if (d->started) {
			snprintf(err, errlen, "service %s: %s (its delegations fail until a reload "
				 "starts its receiver)", s->name, why);
		} else {
			snprintf(err, errlen, "%s", why);
		}
		return false;
	}
	if (old) {
		log_msg(LOG_NOTICE, "service %s: receiver %s:%u: %s changed: a new listener takes over; "
			"the delegates connected now finish with the old settings", s->name,
			s->receiver.host, s->receiver.port, changed);
		drain_receiver(d, old);
	}
	r = xcalloc(1, sizeof(*r));
	r->address.host = xstrdup(s->receiver.host);
	r->address.port = s->receiver.port;
	r->receiver = rcv;
	r->wanted = true;
	r->next = d->receivers;
	d->receivers = r;
	log_msg(LOG_INFO, "service %s: receiver listening on %s:%u, delegator %s%s", s->name,
		s->receiver.host, receiver_port(rcv), s->members[0].name,
		s->member_count > 1 ? " (and more)" : "");
	return true;
}

/* drain_unwanted - drain the receivers no service of the new policy uses (lock held). */
static void drain_unwanted(struct delegation *d)
{
	struct receiver_slot *r = d->receivers, *next;

	for (; r; r = next) {
		next = r->next;
		if (r->wanted) {
			r->wanted = false;
			continue;
		}
		log_msg(LOG_NOTICE, "receiver %s:%u: no service uses it now: it stops listening; the "
			"delegates connected now finish", r->address.host, receiver_port(r->receiver));
		drain_receiver(d, r);
	}
}

/* delegation_update - bind P's services to their pools, start what they need, retire the rest. */
bool delegation_update(struct delegation *d, const struct policy *p, char *err, size_t errlen)
{
	struct pool_slot *retired;
	bool ok = true;

	pthread_mutex_lock(&d->lock);
	reap_drained(d);
	for (size_t i = 0; i < p->service_count; i++) {
		live_slot(d, &p->services[i])->wanted = true;
		bind_service(d, &p->services[i]);
		if (p->services[i].type == SERVICE_CLAMD)
			continue;       /* clamd_service: answers on its own connection, no receiver */
		if (!add_receiver(d, &p->services[i], p->settings.spool_dir, err, errlen))
			ok = false;
	}
	drain_unwanted(d);
	retired = retire_unwanted(d);
	d->started = true;
	pthread_mutex_unlock(&d->lock);
	release_all(retired);   /* outside the lock: a pool's stop joins its prober */
	return ok;
}

/* delegation_start - clients and receivers for every service of P. */
struct delegation *delegation_start(const struct policy *p, char *err, size_t errlen)
{
	struct delegation *d = xcalloc(1, sizeof(*d));

	pthread_mutex_init(&d->lock, NULL);
	d->table = corr_new();
	if (!delegation_update(d, p, err, errlen)) {
		delegation_stop(d);
		return NULL;
	}
	return d;
}

/* delegation_stop - stop receivers, close clients, free. */
void delegation_stop(struct delegation *d)
{
	if (!d)
		return;
	free_slots(d->receivers);
	free_slots(d->draining);
	release_all(d->pools);  /* a pool a policy still holds stops when that policy goes */
	d->pools = NULL;
	corr_free(d->table);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/* send_progress - delegate_client progress callback: tell the MTA to wait. */
static void send_progress(void *txn)
{
	txn_progress(txn);
}

/* send_message - hand T's message to CLIENT with correlation ID, within TIMEOUT_MS. */
static void send_message(struct delegate_client *client, struct txn *t, const char *id,
			 uint64_t timeout_ms, struct delegate_send_result *res)
{
	size_t n = txn_rcpt_count(t);
	const char **rcpts = xcalloc(n ? n : 1, sizeof(*rcpts));
	struct delegate_send_request req = {
		.sender = txn_sender(t) ? txn_sender(t) : "", .rcpts = rcpts, .rcpt_count = n,
		.path = txn_message_path(t), .id = id,
		.timeout_ms = timeout_ms > 0xffffffffu ? 0xffffffffu : timeout_ms ? (unsigned)timeout_ms : 1,
		.progress = send_progress, .progress_arg = t, .progress_interval_ms = PROGRESS_MS,
	};

	for (size_t i = 0; i < n; i++)
		rcpts[i] = txn_rcpt_at(t, i);
	delegate_client_send(client, &req, res);
	free(rcpts);
}

/* One delegation's tries on the members of its pool (pool_run's argument). */
struct send_attempt {
	struct service_pool *sp;
	struct txn *t;
	const char *id;
	uint64_t deadline;
	struct delegate_send_result res;        /* the last try's */
};

/* attempt_send - pool_attempt_fn: send to MEMBER, what it says about the member. */
static enum pool_outcome attempt_send(void *arg, size_t member, char *why, size_t len)
{
	struct send_attempt *a = arg;
	uint64_t now = corr_now_ms();

	send_message(service_pool_client(a->sp, member), a->t, a->id,
		     a->deadline > now ? a->deadline - now : 1, &a->res);
	snprintf(why, len, "%.120s%s%.120s", a->res.error, a->res.reply[0] ? ": " : "", a->res.reply);
	return service_pool_send_outcome(&a->res);
}

/* send_to_pool - A's message to the members of A->sp until one takes it or none is left. */
static void send_to_pool(struct send_attempt *a, struct delegate_result *out)
{
	struct pool_run_result run;

	pool_run(service_pool_pool(a->sp), a->deadline, attempt_send, a, send_progress, a->t,
		 PROGRESS_MS, &run);
	if (run.attempts > 0) {         /* the last member's answer says most */
		snprintf(out->member, sizeof(out->member), "%s",
			 pool_member_name(service_pool_pool(a->sp), run.member));
		return;
	}
	a->res.status = run.stopped == POOL_BUSY ? SEND_TIMEOUT : SEND_FAILED;
	a->res.step = "pool";
	a->res.reply[0] = '\0';
	snprintf(a->res.error, sizeof(a->res.error), "%s", pool_pick_reason(run.stopped));
}

/* await_copy - sleep until the copy arrives or DEADLINE, with progress ticks. */
static bool await_copy(struct corr_table *table, struct corr_entry *e, struct txn *t,
		       uint64_t deadline)
{
	enum corr_wait_status w;

	while ((w = corr_wait(table, e, deadline, PROGRESS_MS)) == CORR_TICK)
		txn_progress(t);
	return w == CORR_ARRIVED;
}

/* classify - turn the send result and the copy (or its absence) into OUT. */
static void classify(const struct delegate_send_result *res, char *copy,
		     struct delegate_result *out)
{

	if (copy && res->status != SEND_REFUSED) {
		out->status = DELEGATE_COPY;
		out->copy_path = copy;
		snprintf(out->detail, sizeof(out->detail), "%s", res->reply);
		return;
	}
	free(copy);
	if (res->status == SEND_ACCEPTED)
		out->status = DELEGATE_MISSING;
	else if (res->status == SEND_TIMEOUT)
		out->status = DELEGATE_TIMEOUT;
	else
		out->status = DELEGATE_ERROR;
	if (res->status == SEND_ACCEPTED)
		snprintf(out->detail, sizeof(out->detail), "no copy after \"%.200s\"", res->reply);
	else
		snprintf(out->detail, sizeof(out->detail), "%.120s%s%.120s", res->error,
			 res->reply[0] ? ": " : "", res->reply);
}

/* delegation_run - one delegation of T's current message. */
void delegation_run(void *arg, struct txn *t, const struct delegate_spec *spec,
		    struct delegate_result *out)
{
	struct delegation *d = arg;
	const struct service *s = spec->service;
	struct corr_entry *e;
	char id[CORR_ID_LEN + 1];
	uint64_t start = corr_now_ms(), deadline = start + s->timeout_ms;
	struct send_attempt a = { .t = t, .id = id, .deadline = deadline };
	struct pool_slot *slot;

	if (!(slot = atomic_load(&s->runtime))) {
		pthread_mutex_lock(&d->lock);   /* a policy published before its update ran */
		slot = bind_service(d, s);
		pthread_mutex_unlock(&d->lock);
	}
	a.sp = slot->pool;
	if (s->type == SERVICE_CLAMD) {         /* reads the message from a descriptor */
		clamd_service_run(t, s, a.sp, out);
		return;
	}
	if (!txn_message_path(t) || txn_rcpt_count(t) == 0) {
		out->status = DELEGATE_ERROR;
		snprintf(out->detail, sizeof(out->detail), "%s",
			 !txn_message_path(t) ? "message not spooled" : "no recipients");
		return;
	}
	e = corr_register(d->table, id);
	send_to_pool(&a, out);
	if (a.res.status == SEND_ACCEPTED) {
		uint64_t grace = corr_now_ms() + s->grace_ms;

		await_copy(d->table, e, t, grace < deadline ? grace : deadline);
	}
	classify(&a.res, corr_take_copy(d->table, e), out);
	corr_release(d->table, e);
	out->elapsed_ms = corr_now_ms() - start;
	log_msg(LOG_DEBUG, "%s: delegation id=%s service=%s member=%s send=%s step=%s reused=%d retried=%d",
		txn_queue_id(t) ? txn_queue_id(t) : "NOQUEUE", id, s->name,
		out->member[0] ? out->member : "-", delegate_send_status_name(a.res.status),
		a.res.step ? a.res.step : "-", a.res.reused, a.res.retried);
}
