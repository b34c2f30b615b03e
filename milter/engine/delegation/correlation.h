/*
 * correlation.h - match copies returned by delegates to the transactions
 * waiting for them.
 *
 * A transaction registers before it sends its message and gets a fresh id
 * (128 random bits, 32 lowercase hex digits) to put in the X-Delegate-Id
 * header. The receiver hands each returned copy over with corr_deliver();
 * the transaction sleeps in corr_wait() on its own condition variable (no
 * polling) until the copy is there, the deadline passes, or a progress tick
 * is due. When the transaction is done it calls corr_release().
 *
 * After release an id is remembered for a while (a bounded ring), so that a
 * copy arriving after its transaction gave up is recognised as late
 * (acknowledged and dropped) while an id that already delivered a copy is a
 * replay (refused), and anything else is unknown (refused).
 *
 * Ownership: the table owns the entries; an entry pointer is valid from
 * corr_register() until corr_release(). A delivered copy's path belongs to
 * the entry until corr_take_copy() hands it to the caller; release unlinks a
 * copy nobody took. All functions are thread-safe.
 */
#ifndef MD_CORRELATION_H
#define MD_CORRELATION_H

#include <stdbool.h>
#include <stdint.h>

#include "msg_text.h"

#define CORR_ID_LEN MSG_ID_LEN

struct corr_table;
struct corr_entry;

enum corr_delivery {
	CORR_ACCEPTED,          /* handed to a waiting transaction */
	CORR_LATE,              /* its transaction gave up: acknowledge and drop */
	CORR_REPLAYED,          /* this id already delivered a copy: refuse */
	CORR_UNKNOWN,           /* never issued (forged, mistyped): refuse */
};

enum corr_wait_status { CORR_ARRIVED, CORR_TIMED_OUT, CORR_TICK };

/* corr_new - an empty table. */
struct corr_table *corr_new(void);

/* corr_free - release the table; no entry may be registered any more. */
void corr_free(struct corr_table *t);

/* corr_register - a new waiting entry; its id goes into ID (CORR_ID_LEN + 1 bytes). */
struct corr_entry *corr_register(struct corr_table *t, char id[CORR_ID_LEN + 1]);

/* corr_deliver - hand the copy at PATH to entry ID; the table takes PATH when accepted. */
enum corr_delivery corr_deliver(struct corr_table *t, const char *id, char *path);

/*
 * corr_peek - what corr_deliver would say of ID now, changing nothing
 * (CORR_ACCEPTED: a transaction waits for it). The receiver uses it to pick
 * the live id of a copy that carries several.
 */
enum corr_delivery corr_peek(struct corr_table *t, const char *id);

/*
 * corr_wait - sleep until the copy of E arrived, DEADLINE_MS (CLOCK_MONOTONIC
 * milliseconds) passed, or TICK_MS elapsed (CORR_TICK: do progress work and
 * call again).
 */
enum corr_wait_status corr_wait(struct corr_table *t, struct corr_entry *e,
				uint64_t deadline_ms, uint64_t tick_ms);

/* corr_take_copy - the delivered copy's path (caller owns it), or NULL. */
char *corr_take_copy(struct corr_table *t, struct corr_entry *e);

/* corr_release - forget E (unlinking an untaken copy); E is invalid afterwards. */
void corr_release(struct corr_table *t, struct corr_entry *e);

/* corr_waiting - how many entries are registered (for tests and stats). */
unsigned corr_waiting(struct corr_table *t);

/* corr_now_ms - CLOCK_MONOTONIC in milliseconds. */
uint64_t corr_now_ms(void);

#endif
