/*
 * metrics.c - atomic counters, gauges and histograms, and their Prometheus
 * text rendering (see metrics.h). State: one atomic per fixed series, the
 * verdict-by-stage counters, the next-hop histogram, and the named series'
 * lists (rules, services, pool members) (append only, under registry_lock; read without it).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "xalloc.h"

#define PREFIX "milter_delegate_"

enum metric_type { COUNTER, GAUGE };

/* One fixed series: its family (consecutive rows share one), labels and scale. */
static const struct metric_row {
	const char *family;             /* without PREFIX */
	enum metric_type type;
	const char *help;
	const char *labels;             /* "reason=\"no_id\"" or NULL */
	double scale;                   /* the value printed is the atomic's / SCALE */
	bool nexthop;                   /* the shim's only */
} metric_rows[M_COUNT] = {
	[M_RECEIVER_NO_ID] = { "receiver_refusals_total", COUNTER,
		"Copies the receivers refused, by reason.", "reason=\"no_id\"", 1, false },
	[M_RECEIVER_UNKNOWN] = { "receiver_refusals_total", COUNTER, NULL,
		"reason=\"unknown\"", 1, false },
	[M_RECEIVER_REPLAYED] = { "receiver_refusals_total", COUNTER, NULL,
		"reason=\"replayed\"", 1, false },
	[M_RECEIVER_MALFORMED] = { "receiver_refusals_total", COUNTER, NULL,
		"reason=\"malformed\"", 1, false },
	[M_LATE_COPIES] = { "late_copies_dropped_total", COUNTER,
		"Copies that arrived after their transaction gave up.", NULL, 1, false },
	[M_QUARANTINE_WRITES] = { "quarantine_writes_total", COUNTER,
		"Messages written to a quarantine folder.", NULL, 1, false },
	[M_QUARANTINE_FAILURES] = { "quarantine_failures_total", COUNTER,
		"Quarantine writes that failed (the fail-safe verdict followed).", NULL, 1, false },
	[M_FAIL_SAFE] = { "fail_safe_total", COUNTER,
		"Fail-safe verdicts applied because processing failed.", NULL, 1, false },
	[M_RELOADS_DONE] = { "reloads_total", COUNTER,
		"Policy reloads, by result.", "result=\"done\"", 1, false },
	[M_RELOADS_REFUSED] = { "reloads_total", COUNTER, NULL, "result=\"refused\"", 1, false },
	[M_NEXTHOP_SENT] = { "nexthop_deliveries_total", COUNTER,
		"Next-hop deliveries, by outcome.", "outcome=\"sent\"", 1, true },
	[M_NEXTHOP_DEFERRED] = { "nexthop_deliveries_total", COUNTER, NULL,
		"outcome=\"deferred\"", 1, true },
	[M_NEXTHOP_PARTIAL] = { "nexthop_deliveries_total", COUNTER, NULL,
		"outcome=\"partial\"", 1, true },
	[M_NEXTHOP_REFUSED] = { "nexthop_deliveries_total", COUNTER, NULL,
		"outcome=\"refused\"", 1, true },
	[M_POLICY_GENERATION] = { "policy_generation", GAUGE,
		"Policies loaded since start (1: the first one).", NULL, 1, false },
	[M_POLICY_LOAD_US] = { "policy_load_seconds", GAUGE,
		"How long loading the current policy took.", NULL, 1e6, false },
	[M_CONNECTIONS] = { "connections", GAUGE,
		"Open MTA connections (milter) or client sessions (shim).", NULL, 1, false },
	[M_DELEGATIONS_WAITING] = { "delegations_waiting", GAUGE,
		"Delegations sent and not yet answered.", NULL, 1, false },
	[M_MESSAGES_SPOOLING] = { "messages_spooling", GAUGE,
		"Messages whose text is being kept (memory or spool file).", NULL, 1, false },
};

static const char *const verdict_labels[MV_COUNT] = {
	"accept", "reject", "tempfail", "discard", "hold", "quarantine",
};
/* enum stage's names (policy.h); util cannot include the policy layer. */
static const char *const stage_labels[METRICS_STAGES] = {
	"connect", "helo", "mail", "rcpt", "headers", "eom",
};
static const char *const outcome_labels[METRICS_OUTCOMES] = {
	"copy", "error", "timeout", "missing",
};
/* enum pool_outcome's names (pool.h). */
static const char *const member_outcome_labels[METRICS_MEMBER_OUTCOMES] = {
	"accepted", "refused", "deferred", "uncertain",
};
static const unsigned bucket_ms[METRICS_BUCKETS] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
};

static bool counting;                   /* set once at start-up, before threads */
static unsigned features;               /* METRICS_NEXTHOP */
static atomic_int_fast64_t values[M_COUNT];
static struct {
	uint64_t (*fn)(void *arg);
	void *arg;
} sources[M_COUNT];
static atomic_uint_fast64_t messages[MV_COUNT][METRICS_STAGES];
static struct metrics_histogram nexthop_latency;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_series *_Atomic families[METRICS_FAMILIES];

/* metrics_enable - start counting; FEATURE_FLAGS add the shim's families. */
void metrics_enable(unsigned feature_flags)
{
	counting = true;
	features = feature_flags;
}

/* metrics_enabled - is counting on? */
bool metrics_enabled(void)
{
	return counting;
}

/* add - relaxed atomic add: no ordering is needed between counters. */
static void add(atomic_uint_fast64_t *v, uint64_t n)
{
	atomic_fetch_add_explicit(v, n, memory_order_relaxed);
}

/* metrics_count - one more of counter ID. */
void metrics_count(enum metric_id id)
{
	if (counting)
		atomic_fetch_add_explicit(&values[id], 1, memory_order_relaxed);
}

/* metrics_gauge_add - DELTA more of gauge ID. */
void metrics_gauge_add(enum metric_id id, int64_t delta)
{
	if (counting)
		atomic_fetch_add_explicit(&values[id], delta, memory_order_relaxed);
}

/* metrics_gauge_set - gauge ID is VALUE now. */
void metrics_gauge_set(enum metric_id id, int64_t value)
{
	atomic_store_explicit(&values[id], value, memory_order_relaxed);
}

/* metrics_gauge_source - gauge ID is read from FN(ARG). */
void metrics_gauge_source(enum metric_id id, uint64_t (*fn)(void *arg), void *arg)
{
	sources[id].fn = fn;
	sources[id].arg = arg;
}

/* metrics_count_message - one message ended with VERDICT at STAGE. */
void metrics_count_message(enum metric_verdict verdict, unsigned stage)
{
	if (counting && verdict < MV_COUNT && stage < METRICS_STAGES)
		add(&messages[verdict][stage], 1);
}

/* metrics_observe - MS into H's bucket, sum and count. */
void metrics_observe(struct metrics_histogram *h, uint64_t ms)
{
	size_t i = 0;

	if (!counting)
		return;
	while (i < METRICS_BUCKETS && ms > bucket_ms[i])
		i++;
	add(&h->bucket[i], 1);
	add(&h->sum_ms, ms);
	add(&h->count, 1);
}

/* metrics_nexthop_latency - the shim's next-hop histogram. */
struct metrics_histogram *metrics_nexthop_latency(void)
{
	return &nexthop_latency;
}

/* same_member - is S the series of NAME (and MEMBER, for members)? */
static bool same_member(const struct metrics_series *s, const char *name, const char *member)
{
	return strcmp(s->name, name) == 0 &&
	       (!member || (s->member && strcmp(s->member, member) == 0));
}

/* series_get - FAMILY's series NAME (MEMBER: its member, or NULL), made and linked in last if new. */
static struct metrics_series *series_get(enum metrics_family family, const char *name,
					 const char *member)
{
	struct metrics_series *s, *_Atomic *link;

	pthread_mutex_lock(&registry_lock);
	for (link = &families[family]; (s = atomic_load(link)); link = &s->next)
		if (same_member(s, name, member))
			break;
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		s->name = xstrdup(name);
		s->member = member ? xstrdup(member) : NULL;
		atomic_store(link, s);  /* readers see it whole: the store releases */
	}
	if (member)
		atomic_fetch_add(&s->pools, 1);
	pthread_mutex_unlock(&registry_lock);
	return s;
}

/* metrics_series_get - FAMILY's series NAME. */
struct metrics_series *metrics_series_get(enum metrics_family family, const char *name)
{
	return series_get(family, name, NULL);
}

/* metrics_writer_token - the next of 1, 2, 3... */
uint64_t metrics_writer_token(void)
{
	static atomic_uint_fast64_t last;

	return atomic_fetch_add(&last, 1) + 1;
}

/* metrics_member_get - the member's series, one more pool using it: POOL, the newest, sees it up. */
struct metrics_series *metrics_member_get(const char *service, const char *member, uint64_t pool)
{
	struct metrics_series *s = series_get(METRICS_MEMBERS, service, member);

	atomic_store(&s->up_state, pool << 1 | 1u);
	return s;
}

/* metrics_member_release - one pool fewer using S; if POOL wrote member_up, the next to write takes it. */
void metrics_member_release(struct metrics_series *s, uint64_t pool)
{
	uint_fast64_t cur;

	if (!s)
		return;
	cur = atomic_load(&s->up_state);
	while (cur >> 1 == pool && !atomic_compare_exchange_weak(&s->up_state, &cur, cur & 1u))
		;
	atomic_fetch_sub(&s->pools, 1);
}

/* metrics_member_try - one try on S with OUTCOME. */
void metrics_member_try(struct metrics_series *s, unsigned outcome)
{
	if (counting && s && outcome < METRICS_MEMBER_OUTCOMES)
		add(&s->outcome[outcome], 1);
}

/* metrics_member_up - S's member_up, if POOL writes it (or nobody does: POOL takes it). */
void metrics_member_up(struct metrics_series *s, uint64_t pool, bool up)
{
	uint_fast64_t cur;

	if (!s)
		return;
	cur = atomic_load(&s->up_state);
	while ((cur >> 1 == pool || cur >> 1 == 0) &&
	       !atomic_compare_exchange_weak(&s->up_state, &cur, pool << 1 | (up ? 1u : 0u)))
		;       /* a failed exchange reloaded CUR: a newer pool may have taken it */
}

/* metrics_member_active - DELTA more tries running on S. */
void metrics_member_active(struct metrics_series *s, int delta)
{
	if (s)
		atomic_fetch_add_explicit(&s->active, delta, memory_order_relaxed);
}

/* metrics_rule_hit - one hit for S. */
void metrics_rule_hit(struct metrics_series *s)
{
	if (counting && s)
		add(&s->hits, 1);
}

/* metrics_delegation - one delegation for S with OUTCOME, taking MS. */
void metrics_delegation(struct metrics_series *s, unsigned outcome, uint64_t ms)
{
	if (!counting || !s || outcome >= METRICS_OUTCOMES)
		return;
	add(&s->outcome[outcome], 1);
	metrics_observe(&s->latency, ms);
}

/* load - a relaxed read. */
static uint64_t load(atomic_uint_fast64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

/* family_head - "# HELP" and "# TYPE" lines of NAME. */
static void family_head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n", name, help, name, type);
}

/* put_label_value - S with '\\', '"' and newline escaped, as the format wants. */
static void put_label_value(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', out);
		if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

/* render_fixed - the table's series, a family head before each new family. */
static void render_fixed(FILE *out)
{
	const char *last = "";

	for (size_t i = 0; i < M_COUNT; i++) {
		const struct metric_row *r = &metric_rows[i];
		double v = sources[i].fn ? (double)sources[i].fn(sources[i].arg)
					 : (double)atomic_load_explicit(&values[i],
									memory_order_relaxed);

		if (r->nexthop && !(features & METRICS_NEXTHOP))
			continue;
		if (strcmp(last, r->family) != 0)
			family_head(out, r->family, r->type == COUNTER ? "counter" : "gauge", r->help);
		last = r->family;
		fprintf(out, PREFIX "%s%s%s%s %.9g\n", r->family, r->labels ? "{" : "",
			r->labels ? r->labels : "", r->labels ? "}" : "", v / r->scale);
	}
}

/* render_messages - messages by verdict and stage. */
static void render_messages(FILE *out)
{
	family_head(out, "messages_total", "counter",
		    "Messages (or connections refused whole) by final verdict and stage.");
	for (size_t v = 0; v < MV_COUNT; v++)
		for (size_t s = 0; s < METRICS_STAGES; s++)
			fprintf(out, PREFIX "messages_total{verdict=\"%s\",stage=\"%s\"} %llu\n",
				verdict_labels[v], stage_labels[s],
				(unsigned long long)load(&messages[v][s]));
}

/* put_labels - "{LABEL=\"VALUE\",le=\"LE\"}", each part only when given; nothing when neither. */
static void put_labels(FILE *out, const char *label, const char *value, const char *le)
{
	if (!label && !le)
		return;
	fputc('{', out);
	if (label) {
		fprintf(out, "%s=\"", label);
		put_label_value(out, value);
		fprintf(out, "\"%s", le ? "," : "");
	}
	if (le)
		fprintf(out, "le=\"%s\"", le);
	fputc('}', out);
}

/* render_histogram - H as NAME_bucket/_sum/_count, LABEL="VALUE" on each (LABEL NULL: none). */
static void render_histogram(FILE *out, const char *name, const char *label, const char *value,
			     struct metrics_histogram *h)
{
	uint64_t cumulative = 0;
	char le[32];

	for (size_t i = 0; i <= METRICS_BUCKETS; i++) {
		cumulative += load(&h->bucket[i]);
		if (i < METRICS_BUCKETS)
			snprintf(le, sizeof(le), "%g", bucket_ms[i] / 1000.0);
		else
			snprintf(le, sizeof(le), "+Inf");
		fprintf(out, PREFIX "%s_bucket", name);
		put_labels(out, label, value, le);
		fprintf(out, " %llu\n", (unsigned long long)cumulative);
	}
	fprintf(out, PREFIX "%s_sum", name);
	put_labels(out, label, value, NULL);
	fprintf(out, " %.9g\n" PREFIX "%s_count", load(&h->sum_ms) / 1000.0, name);
	put_labels(out, label, value, NULL);
	fprintf(out, " %llu\n", (unsigned long long)cumulative);
}

/* render_rules - hits by rule name. */
static void render_rules(FILE *out)
{
	family_head(out, "rule_hits_total", "counter", "Rules whose condition held, by name.");
	for (struct metrics_series *s = atomic_load(&families[METRICS_RULES]); s;
	     s = atomic_load(&s->next)) {
		fputs(PREFIX "rule_hits_total{rule=\"", out);
		put_label_value(out, s->name);
		fprintf(out, "\"} %llu\n", (unsigned long long)load(&s->hits));
	}
}

/* render_services - delegations by service and outcome, then their latency. */
static void render_services(FILE *out)
{
	struct metrics_series *first = atomic_load(&families[METRICS_SERVICES]);

	family_head(out, "delegations_total", "counter", "Delegations by service and outcome.");
	for (struct metrics_series *s = first; s; s = atomic_load(&s->next))
		for (size_t i = 0; i < METRICS_OUTCOMES; i++) {
			fputs(PREFIX "delegations_total{service=\"", out);
			put_label_value(out, s->name);
			fprintf(out, "\",outcome=\"%s\"} %llu\n", outcome_labels[i],
				(unsigned long long)load(&s->outcome[i]));
		}
	family_head(out, "delegation_duration_seconds", "histogram",
		    "Time from sending a message to a service to its outcome.");
	for (struct metrics_series *s = first; s; s = atomic_load(&s->next))
		render_histogram(out, "delegation_duration_seconds", "service", s->name,
				 &s->latency);
}

/* put_member - 'NAME{service="S",member="M"' (the caller closes the braces). */
static void put_member(FILE *out, const char *name, const struct metrics_series *s)
{
	fprintf(out, PREFIX "%s{service=\"", name);
	put_label_value(out, s->name);
	fputs("\",member=\"", out);
	put_label_value(out, s->member);
	fputc('"', out);
}

/* render_members - each pool member's tries by outcome; up and active of those in a running pool. */
static void render_members(FILE *out)
{
	struct metrics_series *first = atomic_load(&families[METRICS_MEMBERS]);

	family_head(out, "member_tries_total", "counter",
		    "Tries of a delegation on one member of a service's pool, by outcome.");
	for (struct metrics_series *s = first; s; s = atomic_load(&s->next))
		for (size_t i = 0; i < METRICS_MEMBER_OUTCOMES; i++) {
			put_member(out, "member_tries_total", s);
			fprintf(out, ",outcome=\"%s\"} %llu\n", member_outcome_labels[i],
				(unsigned long long)load(&s->outcome[i]));
		}
	family_head(out, "member_up", "gauge",
		    "Whether a member of a running pool is up (1) or down after a failure or probe (0).");
	for (struct metrics_series *s = first; s; s = atomic_load(&s->next))
		if (atomic_load(&s->pools) > 0) {
			put_member(out, "member_up", s);
			fprintf(out, "} %u\n", (unsigned)(atomic_load(&s->up_state) & 1u));
		}
	family_head(out, "member_active", "gauge", "Tries running on a member now.");
	for (struct metrics_series *s = first; s; s = atomic_load(&s->next))
		if (atomic_load(&s->pools) > 0) {
			put_member(out, "member_active", s);
			fprintf(out, "} %lld\n", (long long)atomic_load(&s->active));
		}
}

/* metrics_render - the whole exposition, malloc'ed. */
char *metrics_render(size_t *len)
{
	char *text = NULL;
	FILE *out = open_memstream(&text, len);

	if (!out)
		return NULL;
	render_messages(out);
	render_rules(out);
	render_services(out);
	render_members(out);
	render_fixed(out);
	if (features & METRICS_NEXTHOP) {
		family_head(out, "nexthop_duration_seconds", "histogram",
			    "Time to hand one message to the next hop.");
		render_histogram(out, "nexthop_duration_seconds", NULL, NULL, &nexthop_latency);
	}
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
