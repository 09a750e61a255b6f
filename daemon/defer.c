/*
 * daemon/defer.c — records set aside, by author; see defer.h.
 */
#include "daemon/defer.h"
#include "proto/util.h"

#include <openssl/rand.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct { uint8_t *raw; size_t len; uint64_t seq; int unknown; } defer_item;

struct defer_group {
    proto_id author;
    int clock;          /* a record at its author's vv + 1 waits for the clock */
    int woken;          /* listed in wk */
    defer_item *it;
    size_t n, cap;
};

/* A record is set aside on its header alone, before its signature is
 * checked: its author id is any 32 bytes the peer wrote, not necessarily
 * the hash of a key, so it is hashed whole under a seed of this set's
 * (as daemon/gossip.c's author index): ids a peer picked alike in some
 * bytes do not pile up in one run of the table. */
static size_t slot_of(const defer_set *ds, const proto_id *a)
{
    return (size_t)proto_id_hash(ds->seed, a) & (ds->nslot - 1);
}

static defer_group *find(const defer_set *ds, const proto_id *a)
{
    if (!ds->nslot)
        return NULL;
    for (size_t i = slot_of(ds, a);; i = (i + 1) & (ds->nslot - 1)) {
        uint32_t k = ds->slot[i];
        if (!k)
            return NULL;
        if (!memcmp(&ds->g[k - 1].author, a, 32))
            return &ds->g[k - 1];
    }
}

/* The table for the groups as they are: 0, or -1 out of memory (the old
 * one kept; it still indexes every group but those added since). */
static int rehash(defer_set *ds, size_t want)
{
    size_t ns = 64;
    while (ns < 2 * want)
        ns *= 2;
    uint32_t *t = calloc(ns, sizeof *t);
    if (!t)
        return -1;
    free(ds->slot);
    ds->slot = t;
    ds->nslot = ns;
    for (size_t k = 0; k < ds->ng; k++) {
        size_t i = slot_of(ds, &ds->g[k].author);
        while (ds->slot[i])
            i = (i + 1) & (ds->nslot - 1);
        ds->slot[i] = (uint32_t)(k + 1);
    }
    return 0;
}

/* Drop the groups left empty once they outnumber the others (taken
 * records leave their group behind, for the author's next ones): the
 * groups and the table stay proportional to what is set aside. */
static void compact(defer_set *ds)
{
    if (ds->nempty < 64 || ds->nempty * 2 < ds->ng)
        return;
    size_t m = 0;
    for (size_t k = 0; k < ds->ng; k++) {
        if (!ds->g[k].n) {
            free(ds->g[k].it);
            continue;
        }
        ds->g[m++] = ds->g[k];
    }
    ds->ng = m;
    ds->nempty = 0;
    if (rehash(ds, m)) {
        /* keep the groups findable: without a table, none is (find) */
        free(ds->slot);
        ds->slot = NULL;
        ds->nslot = 0;
    }
}

void defer_init(defer_set *ds, store *st)
{
    memset(ds, 0, sizeof *ds);
    ds->seen = store_changes(st);
    if (RAND_bytes((unsigned char *)&ds->seed, sizeof ds->seed) != 1)
        ds->seed = (uint64_t)(uintptr_t)ds ^ 0x9e3779b97f4a7c15ull;   /* still not the ids' own bytes */
}

void defer_free(defer_set *ds)
{
    free(ds->wk);
    for (size_t k = 0; k < ds->ng; k++) {
        for (size_t i = 0; i < ds->g[k].n; i++)
            free(ds->g[k].it[i].raw);
        free(ds->g[k].it);
    }
    free(ds->g);
    free(ds->slot);
    memset(ds, 0, sizeof *ds);
}

int defer_add(defer_set *ds, const uint8_t *raw, size_t len, const proto_id *author, uint64_t seq,
              uint64_t vv, int pc, int unknown)
{
    /* compact could not make a table: without one no group is found, and
     * a second group of the same author would be made below */
    if (!ds->nslot && ds->ng && rehash(ds, ds->ng))
        return -1;
    defer_group *g = find(ds, author);
    if (!g) {
        if (ds->ng == ds->capg) {
            size_t nc = ds->capg ? ds->capg * 2 : 16;
            defer_group *ng = realloc(ds->g, nc * sizeof *ng);
            if (!ng)
                return -1;
            ds->g = ng;
            ds->capg = nc;
        }
        if (2 * (ds->ng + 1) > ds->nslot && rehash(ds, ds->ng + 1))
            return -1;
        g = &ds->g[ds->ng];
        memset(g, 0, sizeof *g);
        g->author = *author;
        size_t i = slot_of(ds, author);
        while (ds->slot[i])
            i = (i + 1) & (ds->nslot - 1);
        ds->slot[i] = (uint32_t)(++ds->ng);
        ds->nempty++;
    }
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 2;
        defer_item *ni = realloc(g->it, nc * sizeof *ni);
        if (!ni)
            return -1;
        g->it = ni;
        g->cap = nc;
    }
    uint8_t *c = malloc(len ? len : 1);
    if (!c)
        return -1;
    memcpy(c, raw, len);
    if (!g->n)
        ds->nempty--;
    g->it[g->n++] = (defer_item){ c, len, seq, unknown };
    /* a gap at vv + 1 is no gap: a membership record dated ahead waits for
     * this node's clock, which no change of the store tells */
    if (pc == STORE_GAP && seq <= vv + 1 && !g->clock) {
        g->clock = 1;
        ds->nclock++;
    }
    ds->n++;
    ds->bytes += len;
    if (g->woken || ds->wake_all) {
        /* marked and not taken yet (the caller had no room for them): it
         * is taken with the rest, so it counts with them */
        ds->nwoken++;
        ds->bwoken += len;
    }
    if (unknown) {
        ds->nunknown++;
        ds->unknown_bytes += len;
    }
    return 0;
}

static int wake(defer_set *ds, defer_group *g)
{
    if (g->woken || !g->n)
        return 0;
    if (ds->nwk == ds->capwk) {
        size_t nc = ds->capwk ? ds->capwk * 2 : 16;
        uint32_t *nw = realloc(ds->wk, nc * sizeof *nw);
        if (!nw)
            return -1;
        ds->wk = nw;
        ds->capwk = nc;
    }
    g->woken = 1;
    ds->wk[ds->nwk++] = (uint32_t)(g - ds->g);
    ds->nwoken += g->n;
    for (size_t i = 0; i < g->n; i++)
        ds->bwoken += g->it[i].len;
    return 0;
}

static void wake_id(void *ctx, const proto_id *id)
{
    defer_set *ds = ctx;
    defer_group *g = find(ds, id);
    if (g && wake(ds, g))
        ds->wake_all = 1;   /* out of memory for the list: everyone, below */
}

size_t defer_wake(defer_set *ds, store *st, size_t *bytes)
{
    if (!ds->n) {
        ds->seen = store_changes(st);
        if (bytes)
            *bytes = 0;
        return 0;
    }
    /* the authors the store changed since the last look: one lookup each
     * (no table, compact being out of memory: no lookup finds them) */
    if ((!ds->nslot && rehash(ds, ds->ng)) || store_changed(st, ds->seen, wake_id, ds))
        ds->wake_all = 1;
    ds->seen = store_changes(st);
    /* everyone (the store cannot tell, or the list could not grow), or the
     * few groups waiting for the clock: a walk over the groups */
    if (ds->wake_all || ds->nclock)
        for (size_t k = 0; k < ds->ng; k++)
            if ((ds->wake_all || ds->g[k].clock) && wake(ds, &ds->g[k]))
                ds->wake_all = 1;
    if (ds->wake_all) {
        /* the list could not hold them: every group, marked only */
        ds->nwoken = ds->n;
        ds->bwoken = ds->bytes;
    }
    if (bytes)
        *bytes = ds->bwoken;
    return ds->nwoken;
}

static void take_group(defer_set *ds, defer_group *g, void (*put)(void *, uint8_t *, size_t), void *ctx)
{
    g->woken = 0;
    if (!g->n)
        return;
    for (size_t i = 0; i < g->n; i++) {
        ds->n--;
        ds->bytes -= g->it[i].len;
        if (g->it[i].unknown) {
            ds->nunknown--;
            ds->unknown_bytes -= g->it[i].len;
        }
        ds->retriaged++;
        put(ctx, g->it[i].raw, g->it[i].len);
    }
    g->n = 0;
    if (g->clock) {
        g->clock = 0;
        ds->nclock--;
    }
    ds->nempty++;
}

void defer_take(defer_set *ds, void (*put)(void *ctx, uint8_t *raw, size_t len), void *ctx)
{
    if (ds->wake_all)
        for (size_t k = 0; k < ds->ng; k++)
            take_group(ds, &ds->g[k], put, ctx);
    else
        for (size_t k = 0; k < ds->nwk; k++)
            take_group(ds, &ds->g[ds->wk[k]], put, ctx);
    ds->nwk = 0;
    ds->nwoken = ds->bwoken = 0;
    ds->wake_all = 0;
    compact(ds);
}
