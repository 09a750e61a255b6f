/*
 * daemon/defer.h — the records one connection's ingest set aside because
 * they cannot apply yet, by author, with what each author's records wait
 * for, so that after a batch only those that may apply now are triaged
 * again (docs/PERFORMANCE.md §33).
 *
 * A record waits for one of three things (store/store_apply.c's precheck):
 * its author's membership or key (STORE_UNKNOWN_AUTHOR), its predecessor
 * (STORE_GAP beyond vv + 1), both changes of its author in the store,
 * which store_changed names (or says that anyone may have changed: then
 * every record is woken); or the clock (STORE_GAP at vv + 1: a membership
 * record dated ahead), which nothing names: such an author's records are
 * woken every time, as every record was before.
 * An author's records are woken together (a run of one author's records
 * goes into one batch, where seq n + 1 follows seq n).  Before this, every
 * record set aside was triaged again with every batch: at 1,788 members an
 * initial sync took 3.4 million prechecks for 4,243 records.
 *
 * The budgets (proto/limits.h) are the caller's: the set counts records
 * and bytes, and those of authors counted as unknown.  Loop thread only;
 * only the store's API is used, so bench/member_sync.c runs it as is.
 */
#ifndef DAEMON_DEFER_H
#define DAEMON_DEFER_H

#include "proto/record.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct defer_group defer_group;

typedef struct {
    defer_group *g;          /* the authors with records set aside (or none left: reused) */
    size_t ng, capg, nempty;
    uint32_t *slot;          /* open addressing by author: index + 1 into g, 0 free */
    size_t nslot;            /* a power of two, at least twice ng */
    uint64_t seed;           /* of the table's hash (slot_of) */
    uint64_t seen;           /* store_changes when last woken */
    size_t nclock;           /* groups with a record waiting for the clock */
    uint32_t *wk;            /* the groups defer_wake marked, by index */
    size_t nwk, capwk;
    size_t nwoken, bwoken;   /* their records and bytes */
    int wake_all;            /* every group is marked (wk may not list them) */
    size_t n, bytes;         /* records set aside, their bytes */
    size_t nunknown, unknown_bytes;   /* of them, counted as by authors who are no members */
    uint64_t retriaged;      /* records handed back to triage, ever */
} defer_set;

void defer_init(defer_set *ds, store *st);
void defer_free(defer_set *ds);   /* frees every record still set aside */

/* Set a record aside (its bytes copied).  pc: what its triage said
 * (STORE_GAP or STORE_UNKNOWN_AUTHOR); vv: its author's vector entry then;
 * unknown: counted against the budget of unknown authors.  0, or -1 out of
 * memory (nothing added). */
int defer_add(defer_set *ds, const uint8_t *raw, size_t len, const proto_id *author, uint64_t seq,
              uint64_t vv, int pc, int unknown);

/* Mark the authors whose records may apply now (see above); returns how
 * many records they hold and, in *bytes, their bytes. */
size_t defer_wake(defer_set *ds, store *st, size_t *bytes);

/* Hand every record of the authors defer_wake marked to put (which owns
 * the bytes from then on: it frees them) and forget them. */
void defer_take(defer_set *ds, void (*put)(void *ctx, uint8_t *raw, size_t len), void *ctx);

#endif
