/*
 * store/store_apart.c — every version the store holds of an author's seq,
 * the records set apart from the log, re-judging a log under a key
 * schedule, and the arrival rules a rekey brings (docs/DECISIONS.md,
 * "Rekey of a lost or stolen key").
 *
 * A version of (author, seq) is held in one of three places: the log (the
 * one the log holds there: every derived table follows it), fork evidence
 * (db forks: other versions valid under the author's key at that seq) or
 * apart (db apart: versions not valid under the key schedule in force, and
 * every version after the first seq with no valid one — a log is dense):
 *
 *   apart   author | seq | hash       -> record bytes
 *   rekey   member | 'c' | be64 cut   -> (empty)   a decided rekey: the key
 *           in force at cut signs nothing after it
 *   rekey   member | 'p' | be64 cut | key id -> spki   an open epoch's
 *           proposal: records after cut signed by spki wait
 *
 * The rekey db is written by the derivation (store_replay.c) and read by
 * the precheck (rekey_alt_keys_txn): what the precheck hands out follows
 * what was derived, never the order records came in.
 *
 * A caller may rely on: a re-judge leaving the author's log, ver, cur, vv,
 * sum and the keys of its rotate records exactly as a store that only ever
 * received the versions it kept in the log would hold them (the digest
 * follows from vv and sum); the placement depending on the versions held
 * and the key schedule alone, not on where each version was before; the
 * bound on records apart dropping the lowest (seq, hash) first.
 */
#include "store/store_int.h"
#include "store/kind.h"
#include "proto/util.h"

#include <stdlib.h>
#include <string.h>

static size_t vkey(uint8_t *k, const proto_id *author, uint64_t seq, const proto_id *hash)
{
    memcpy(k, author->b, 32);
    put_be64(k + 32, seq);
    if (hash)
        memcpy(k + 40, hash->b, 32);
    return hash ? 72 : 40;
}

/* ---- the versions of a seq ---- */

typedef struct {
    uint8_t *raw;
    size_t len;
    proto_id hash;
    int where;
    proto_record r;
    int ok;                 /* decoded */
    int valid;              /* verifies under the schedule's key (rejudge) */
} version;

typedef struct {
    version *v;
    size_t n, cap;
} vlist;

static void vlist_free(vlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].raw);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int vlist_add(vlist *l, const void *raw, size_t len, int where)
{
    proto_id h;
    proto_record_hash(raw, len, &h);
    for (size_t i = 0; i < l->n; i++)
        if (!memcmp(&l->v[i].hash, &h, 32))
            return 0;   /* held in two places (should not be): counted once */
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 4;
        version *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = nc;
    }
    version *v = &l->v[l->n];
    memset(v, 0, sizeof *v);
    if (!(v->raw = malloc(len ? len : 1)))
        return -1;
    memcpy(v->raw, raw, len);
    v->len = len;
    v->hash = h;
    v->where = where;
    v->ok = proto_record_decode_stored(v->raw, len, &v->r, NULL, 0) == 0;
    l->n++;
    return 0;
}

/* Every version in db (forks or apart) at (author, seq). */
static int collect_db(MDB_txn *txn, MDB_dbi db, const proto_id *author, uint64_t seq, int where, vlist *l)
{
    MDB_cursor *c;
    uint8_t kb[72];
    if (mdb_cursor_open(txn, db, &c))
        return -1;
    MDB_val k = { vkey(kb, author, seq, NULL), kb }, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), ret = 0;
    for (; rc == 0 && k.mv_size == 72 && !memcmp(k.mv_data, kb, 40); rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        if (vlist_add(l, v.mv_data, v.mv_size, where)) {
            ret = -1;
            break;
        }
    mdb_cursor_close(c);
    return ret || (rc && rc != MDB_NOTFOUND) ? -1 : 0;
}

static int collect(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, vlist *l)
{
    uint8_t kb[72];
    MDB_val k = { vkey(kb, author, seq, NULL), kb }, v;
    int rc = mdb_get(txn, s->log, &k, &v);
    if (rc && rc != MDB_NOTFOUND)
        return -1;
    if (rc == 0 && vlist_add(l, v.mv_data, v.mv_size, VERSION_LOG))
        return -1;
    return collect_db(txn, s->forks, author, seq, VERSION_FORK, l) ||
           collect_db(txn, s->apart, author, seq, VERSION_APART, l) ? -1 : 0;
}

int versions_at_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, version_cb cb, void *arg)
{
    vlist l = { 0 };
    int rc = collect(s, txn, author, seq, &l);
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        if (l.v[i].ok)
            rc = cb(arg, &l.v[i].r, &l.v[i].hash, l.v[i].where);
    vlist_free(&l);
    return rc;
}

/* The highest seq of author in db (keys author | seq ...), 0 if none. */
static uint64_t top_in(MDB_txn *txn, MDB_dbi db, const proto_id *author)
{
    MDB_cursor *c;
    uint8_t kb[40];
    uint64_t top = 0;
    if (mdb_cursor_open(txn, db, &c))
        return 0;
    memcpy(kb, author->b, 32);
    memset(kb + 32, 0xff, 8);
    MDB_val k = { 40, kb }, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    rc = rc == 0 ? mdb_cursor_get(c, &k, &v, MDB_PREV) : mdb_cursor_get(c, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size >= 40 && !memcmp(k.mv_data, author->b, 32))
        top = get_be64((uint8_t *)k.mv_data + 32);
    mdb_cursor_close(c);
    return top;
}

uint64_t versions_top_txn(store *s, MDB_txn *txn, const proto_id *author)
{
    uint64_t t = vv_get_txn(s, txn, author), f = top_in(txn, s->forks, author), a = top_in(txn, s->apart, author);
    if (f > t)
        t = f;
    return a > t ? a : t;
}

int versions_outside_txn(store *s, MDB_txn *txn, version_cb cb, void *arg)
{
    MDB_dbi dbs[2] = { s->forks, s->apart };
    int where[2] = { VERSION_FORK, VERSION_APART };
    for (int i = 0; i < 2; i++) {
        MDB_cursor *c;
        MDB_val k, v;
        if (mdb_cursor_open(txn, dbs[i], &c))
            return -1;
        int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST), ret = 0;
        for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            proto_record r;
            if (k.mv_size != 72 || proto_record_decode_stored(v.mv_data, v.mv_size, &r, NULL, 0))
                continue;
            scanned(s, v.mv_size);
            if ((ret = cb(arg, &r, (const proto_id *)((uint8_t *)k.mv_data + 40), where[i])))
                break;
        }
        mdb_cursor_close(c);
        if (ret)
            return ret;
        if (rc != MDB_NOTFOUND)
            return -1;
    }
    return 0;
}

int apart_any_txn(store *s, MDB_txn *txn)
{
    MDB_stat st;
    return mdb_stat(txn, s->apart, &st) || st.ms_entries > 0;
}

int apart_has_txn(store *s, MDB_txn *txn, const proto_id *author)
{
    if (!apart_any_txn(s, txn))
        return 0;
    MDB_cursor *c;
    uint8_t kb[72];
    if (mdb_cursor_open(txn, s->apart, &c))
        return -1;
    MDB_val k = { vkey(kb, author, 0, NULL), kb }, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    int has = rc == 0 && k.mv_size == 72 && !memcmp(k.mv_data, author->b, 32);
    mdb_cursor_close(c);
    return rc && rc != MDB_NOTFOUND ? -1 : has;
}

int apart_authors_txn(store *s, MDB_txn *txn, int (*cb)(void *arg, const proto_id *author), void *arg)
{
    MDB_cursor *c;
    if (mdb_cursor_open(txn, s->apart, &c))
        return -1;
    MDB_val k, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST), ret = 0;
    while (rc == 0 && k.mv_size == 72) {
        proto_id a;
        memcpy(a.b, k.mv_data, 32);
        if ((ret = cb(arg, &a)))
            break;
        /* the next author: past every seq of this one */
        uint8_t kb[40];
        memcpy(kb, a.b, 32);
        memset(kb + 32, 0xff, 8);
        MDB_val nk = { 40, kb };
        rc = mdb_cursor_get(c, &nk, &v, MDB_SET_RANGE);
        k = nk;
    }
    mdb_cursor_close(c);
    return ret ? ret : rc && rc != MDB_NOTFOUND ? -1 : 0;
}

int apart_holds_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, const proto_id *hash)
{
    uint8_t kb[72];
    MDB_val k = { vkey(kb, author, seq, hash), kb }, v;
    return apart_any_txn(s, txn) && mdb_get(txn, s->apart, &k, &v) == 0;
}

int apart_taken_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, const proto_id *hash)
{
    if (!apart_any_txn(s, txn))
        return 0;
    uint8_t kb[72];
    MDB_val k = { vkey(kb, author, seq, hash), kb };
    int rc = mdb_del(txn, s->apart, &k, NULL);
    return rc && rc != MDB_NOTFOUND ? -1 : 0;
}

/* ---- a former member's records beyond its cut ---- */

size_t apart_rank_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, const proto_id *h,
                      int *held)
{
    MDB_cursor *c;
    uint8_t kb[72];
    size_t below = 0;
    *held = 0;
    if (!apart_any_txn(s, txn) || mdb_cursor_open(txn, s->apart, &c))
        return 0;
    MDB_val k = { vkey(kb, author, seq, NULL), kb }, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    for (; rc == 0 && k.mv_size == 72 && !memcmp(k.mv_data, kb, 40); rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        int cmp = memcmp((uint8_t *)k.mv_data + 40, h->b, 32);
        if (cmp == 0)
            *held = 1;
        if (cmp >= 0)
            break;
        below++;
    }
    mdb_cursor_close(c);
    return below;
}

/* Delete author's versions apart at seq beyond the first `keep` (hash
 * order: the lowest stay).  Seeks again after each delete rather than
 * trusting where a cursor stands after one. */
static int seq_keep(MDB_cursor *c, const proto_id *author, uint64_t seq, size_t keep)
{
    for (;;) {
        uint8_t kb[72];
        MDB_val k = { vkey(kb, author, seq, NULL), kb }, v;
        int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        for (size_t n = 0; rc == 0 && n < keep && k.mv_size == 72 && !memcmp(k.mv_data, kb, 40); n++)
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        if (rc == MDB_NOTFOUND || (rc == 0 && (k.mv_size != 72 || memcmp(k.mv_data, kb, 40))))
            return 0;
        if (rc || mdb_cursor_del(c, 0))
            return -1;
    }
}

int former_apart_put_txn(store *s, MDB_txn *txn, const proto_record *r, const proto_id *h)
{
    uint8_t kb[72];
    MDB_val k = { vkey(kb, &r->author, r->seq, h), kb }, v = { r->raw_len, (void *)r->raw };
    MDB_cursor *c;
    if (mdb_put(txn, s->apart, &k, &v, 0) || mdb_cursor_open(txn, s->apart, &c))
        return -1;
    int rc = seq_keep(c, &r->author, r->seq, STORE_APART_SEQ_VERSIONS);
    mdb_cursor_close(c);
    if (rc)
        return -1;
    int held;
    apart_rank_txn(s, txn, &r->author, r->seq, h, &held);
    return held;
}

int former_apart_bound_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t cut)
{
    if (!apart_any_txn(s, txn))
        return 0;
    MDB_cursor *c;
    uint8_t kb[72];
    if (mdb_cursor_open(txn, s->apart, &c))
        return -1;
    uint64_t last = cut > UINT64_MAX - STORE_FORMER_APART_SEQS ? UINT64_MAX : cut + STORE_FORMER_APART_SEQS;
    int ret = 0;
    /* every seq after the cut, each visited once: seek past the seq just
     * kept (or deleted) */
    for (uint64_t seq = cut + 1; seq;) {
        MDB_val k = { vkey(kb, author, seq, NULL), kb }, v;
        int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND || (rc == 0 && (k.mv_size != 72 || memcmp(k.mv_data, author->b, 32))))
            break;
        if (rc) {
            ret = -1;
            break;
        }
        seq = get_be64((uint8_t *)k.mv_data + 32);
        if (seq > last ? mdb_cursor_del(c, 0) != 0 : seq_keep(c, author, seq, STORE_APART_SEQ_VERSIONS) != 0) {
            ret = -1;
            break;
        }
        if (seq <= last)
            seq = seq == UINT64_MAX ? 0 : seq + 1;
    }
    mdb_cursor_close(c);
    return ret;
}

int apart_run_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t from, uint64_t max,
                  int (*cb)(void *arg, const proto_record *r, const proto_id *hash), void *arg)
{
    if (!apart_any_txn(s, txn))
        return 0;
    MDB_cursor *c;
    uint8_t kb[72];
    int ret = 0;
    if (mdb_cursor_open(txn, s->apart, &c))
        return -1;
    for (uint64_t n = 0, seq = from; n < max && seq; n++, seq++) {
        MDB_val k = { vkey(kb, author, seq, NULL), kb }, v;
        int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND || (rc == 0 && (k.mv_size != 72 || memcmp(k.mv_data, kb, 40))))
            break;   /* the run stops at the first seq with none */
        if (rc) {
            ret = -1;
            break;
        }
        proto_record r;
        if (proto_record_decode_stored(v.mv_data, v.mv_size, &r, NULL, 0))
            break;   /* it decoded when stored: the run stops here */
        scanned(s, v.mv_size);
        if ((ret = cb(arg, &r, (const proto_id *)((uint8_t *)k.mv_data + 40))))
            break;
    }
    mdb_cursor_close(c);
    return ret;
}

uint64_t store_former_apart_count(store *s, const proto_id *author)
{
    MDB_txn *txn;
    MDB_cursor *c;
    uint64_t n = 0;
    uint8_t kb[72];
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return 0;
    if (mdb_cursor_open(txn, s->apart, &c) == 0) {
        MDB_val k = { vkey(kb, author, 0, NULL), kb }, v;
        int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        for (; rc == 0 && k.mv_size == 72 && !memcmp(k.mv_data, author->b, 32); rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
            n++;
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return n;
}

/* ---- moving versions ---- */

static int db_put(MDB_txn *txn, MDB_dbi db, const version *x, const proto_id *author, uint64_t seq)
{
    uint8_t kb[72];
    MDB_val k = { vkey(kb, author, seq, &x->hash), kb }, v = { x->len, x->raw };
    return mdb_put(txn, db, &k, &v, 0) ? -1 : 0;
}

static int db_del(MDB_txn *txn, MDB_dbi db, const version *x, const proto_id *author, uint64_t seq)
{
    uint8_t kb[72];
    MDB_val k = { vkey(kb, author, seq, &x->hash), kb };
    int rc = mdb_del(txn, db, &k, NULL);
    return rc && rc != MDB_NOTFOUND ? -1 : 0;
}

static int vv_set(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq)
{
    MDB_val k = { 32, (void *)author->b };
    if (seq == 0) {
        int rc = mdb_del(txn, s->vv, &k, NULL);
        return rc && rc != MDB_NOTFOUND ? -1 : 0;
    }
    uint8_t b[8];
    put_be64(b, seq);
    MDB_val v = { 8, b };
    return mdb_put(txn, s->vv, &k, &v, 0) ? -1 : 0;
}

/* The log of author ends at top from now: every record after it goes
 * apart, with what was derived from it (ver, cur, sum, vv, the key of a
 * rotation). */
static int log_truncate(store *s, MDB_txn *txn, const proto_id *author, uint64_t top)
{
    uint64_t have = vv_get_txn(s, txn, author);
    for (uint64_t n = have; n > top; n--) {
        uint8_t kb[72];
        MDB_val k = { vkey(kb, author, n, NULL), kb }, v;
        vlist one = { 0 };
        int rc = mdb_get(txn, s->log, &k, &v);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc || vlist_add(&one, v.mv_data, v.mv_size, VERSION_LOG)) {
            vlist_free(&one);
            return -1;
        }
        version *x = &one.v[0];
        int bad = mdb_del(txn, s->log, &k, NULL) || db_put(txn, s->apart, x, author, n);
        if (!bad && x->ok)
            bad = ver_entry_txn(s, txn, &x->r, &x->hash, 1) ||
                  current_recompute_txn(s, txn, x->r.kind, author, x->r.key) || keys_unrotate_txn(s, txn, &x->r);
        vlist_free(&one);
        if (bad)
            return -1;
    }
    if (have <= top)
        return 0;
    return chain_truncate_txn(s, txn, author, top) || vv_set(s, txn, author, top) ? -1 : 0;
}

/* Version x becomes the log's record at seq = vv + 1. */
static int log_append(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, version *x)
{
    uint8_t kb[72];
    MDB_val k = { vkey(kb, author, seq, NULL), kb }, v = { x->len, x->raw };
    if (x->where != VERSION_LOG && db_del(txn, x->where == VERSION_FORK ? s->forks : s->apart, x, author, seq))
        return -1;
    if (mdb_put(txn, s->log, &k, &v, 0) || ver_entry_txn(s, txn, &x->r, &x->hash, 0) ||
        current_recompute_txn(s, txn, x->r.kind, author, x->r.key) ||
        chain_append_txn(s, txn, author, seq, &x->hash, NULL, NULL) || vv_set(s, txn, author, seq))
        return -1;
    x->where = VERSION_LOG;
    if (kind_is(x->r.kind, KIND_MEMBER) && member_op(&x->r) == MEMBER_OP_ROTATE)
        return keys_apply_rotate_txn(s, txn, &x->r);
    return 0;
}

/* Version x (not the log's) to db `where` (VERSION_FORK or VERSION_APART). */
static int move_to(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, version *x, int where)
{
    if (x->where == where)
        return 0;
    MDB_dbi from = x->where == VERSION_FORK ? s->forks : s->apart, to = where == VERSION_FORK ? s->forks : s->apart;
    if (db_del(txn, from, x, author, seq) || db_put(txn, to, x, author, seq))
        return -1;
    x->where = where;
    return 0;
}

/* The store's own schedule: the key of an active member at seq, or a
 * former member's within its cut. */
static EVP_PKEY *own_key(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq)
{
    EVP_PKEY *k = key_at_txn(s, txn, author, seq);
    int st;
    uint64_t cut;
    return k ? k : former_key_txn(s, txn, author, seq, &st, &cut);
}

/* The highest seq above the log at which forks or apart hold a version of
 * author signed under the key author's schedule gives there (0 if none):
 * a version this node's own key signed, which its next write must pass.
 * A thief's old-key record beyond a decided cut does not count (it does
 * not verify under the new key).  Walks from the top down and stops at the
 * first one that verifies. */
static uint64_t own_above_in(store *s, MDB_txn *txn, MDB_dbi db, const proto_id *author, uint64_t above)
{
    MDB_cursor *c;
    uint8_t kb[40];
    uint64_t top = 0;
    if (mdb_cursor_open(txn, db, &c))
        return UINT64_MAX;   /* a failure refuses the write */
    memcpy(kb, author->b, 32);
    memset(kb + 32, 0xff, 8);
    MDB_val k = { 40, kb }, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    rc = rc == 0 ? mdb_cursor_get(c, &k, &v, MDB_PREV) : mdb_cursor_get(c, &k, &v, MDB_LAST);
    for (; rc == 0 && k.mv_size == 72 && !memcmp(k.mv_data, author->b, 32); rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
        uint64_t seq = get_be64((uint8_t *)k.mv_data + 32);
        if (seq <= above)
            break;
        proto_record r;
        if (proto_record_decode_stored(v.mv_data, v.mv_size, &r, NULL, 0))
            continue;
        EVP_PKEY *key = own_key(s, txn, author, seq);
        int ok = key && proto_record_verify(&r, key, NULL, 0) == 0;
        EVP_PKEY_free(key);
        if (ok) {
            top = seq;
            break;
        }
    }
    mdb_cursor_close(c);
    return top;
}

uint64_t versions_own_top_txn(store *s, MDB_txn *txn, const proto_id *author)
{
    uint64_t t = vv_get_txn(s, txn, author);
    if (versions_top_txn(s, txn, author) <= t)
        return t;   /* nothing held above the log: no signature to check */
    uint64_t f = own_above_in(s, txn, s->forks, author, t), a = own_above_in(s, txn, s->apart, author, t);
    if (f > t)
        t = f;
    return a > t ? a : t;
}

/* Keep author's records apart within STORE_APART_MAX: the lowest (seq,
 * hash) go first. */
static int apart_bound(store *s, MDB_txn *txn, const proto_id *author)
{
    MDB_cursor *c;
    uint8_t kb[40];
    uint64_t n = 0;
    if (mdb_cursor_open(txn, s->apart, &c))
        return -1;
    MDB_val k = { vkey(kb, author, 0, NULL), kb }, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    for (; rc == 0 && k.mv_size == 72 && !memcmp(k.mv_data, author->b, 32); rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        n++;
    for (; n > STORE_APART_MAX; n--) {
        MDB_val fk = { vkey(kb, author, 0, NULL), kb };
        if (mdb_cursor_get(c, &fk, &v, MDB_SET_RANGE) || fk.mv_size != 72 || memcmp(fk.mv_data, author->b, 32) ||
            mdb_cursor_del(c, 0)) {
            mdb_cursor_close(c);
            return -1;
        }
    }
    mdb_cursor_close(c);
    return 0;
}

int log_rejudge_author_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t from_seq,
                           log_key_fn keyfn, void *arg, int *changed)
{
    proto_id g;
    int has_g = meta_id(s, txn, "genesis", &g) == 0, moved = 0, hole = 0;
    uint64_t have = vv_get_txn(s, txn, author), top = versions_top_txn(s, txn, author);
    if (changed)
        *changed = 0;
    if (from_seq < 1)
        from_seq = 1;
    if (from_seq > have + 1)
        from_seq = have + 1;   /* the log is dense: nothing after it can be judged alone */
    for (uint64_t seq = from_seq; seq <= top; seq++) {
        vlist l = { 0 };
        if (collect(s, txn, author, seq, &l)) {
            vlist_free(&l);
            return -1;
        }
        /* the version the schedule takes here: the pinned genesis always;
         * else the lowest hash among those verifying under the key */
        version *win = NULL;
        if (!hole) {
            EVP_PKEY *key = keyfn ? keyfn(arg, s, txn, author, seq) : own_key(s, txn, author, seq);
            int pinned = 0;   /* win is the pinned genesis */
            for (size_t i = 0; i < l.n; i++) {
                version *x = &l.v[i];
                int gen = has_g && seq == 1 && !memcmp(&x->hash, &g, 32);
                x->valid = x->ok && (gen || (key && proto_record_verify(&x->r, key, NULL, 0) == 0));
                if (x->valid && !pinned && (gen || !win || memcmp(&x->hash, &win->hash, 32) < 0)) {
                    win = x;
                    pinned = gen;
                }
            }
            EVP_PKEY_free(key);
            hole = !win;
        }
        int rc = 0;
        version *held = NULL;
        for (size_t i = 0; i < l.n; i++)
            if (l.v[i].where == VERSION_LOG)
                held = &l.v[i];
        if (held && held != win) {
            /* the log changes here: everything after goes apart, and comes
             * back seq by seq as the loop judges it */
            rc = log_truncate(s, txn, author, seq - 1);
            held->where = VERSION_APART;
            moved = 1;
        }
        if (rc == 0 && win && win->where != VERSION_LOG) {
            rc = log_append(s, txn, author, seq, win);
            moved = 1;
        }
        for (size_t i = 0; rc == 0 && i < l.n; i++)
            if (&l.v[i] != win)
                rc = move_to(s, txn, author, seq, &l.v[i], l.v[i].valid && !hole ? VERSION_FORK : VERSION_APART);
        vlist_free(&l);
        if (rc)
            return -1;
    }
    if (moved) {
        author_changed(s, author);
        s->log_rewrites++;
        if (changed)
            *changed = 1;
    }
    return apart_bound(s, txn, author);
}

int apart_other_valid_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, const proto_id *h)
{
    if (!apart_any_txn(s, txn))
        return 0;   /* the usual case */
    vlist l = { 0 };
    if (collect_db(txn, s->apart, author, seq, VERSION_APART, &l)) {
        vlist_free(&l);
        return -1;
    }
    int found = 0;
    EVP_PKEY *key = NULL;
    for (size_t i = 0; i < l.n && !found; i++) {
        if (!l.v[i].ok || !memcmp(l.v[i].hash.b, h->b, 32))
            continue;
        if (!key && !(key = own_key(s, txn, author, seq)))
            break;
        found = proto_record_verify(&l.v[i].r, key, NULL, 0) == 0;
    }
    EVP_PKEY_free(key);
    vlist_free(&l);
    return found;
}

uint64_t store_log_rewrites(store *s)
{
    return s->log_rewrites;
}

uint64_t store_apart_count(store *s)
{
    MDB_txn *txn;
    MDB_stat st;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return 0;
    uint64_t n = mdb_stat(txn, s->apart, &st) ? 0 : st.ms_entries;
    mdb_txn_abort(txn);
    return n;
}

/* ---- a rekey's arrival rules ---- */

static size_t rk_key(uint8_t *k, const proto_id *member, uint8_t type, uint64_t cut, const proto_id *kid)
{
    memcpy(k, member->b, 32);
    k[32] = type;
    put_be64(k + 33, cut);
    if (kid)
        memcpy(k + 41, kid->b, 32);
    return kid ? 73 : 41;
}

int rekey_cut_put_txn(store *s, MDB_txn *txn, const proto_id *member, uint64_t cut)
{
    uint8_t kb[73];
    MDB_val k = { rk_key(kb, member, 'c', cut, NULL), kb }, v = { 0, "" };
    if (mdb_put(txn, s->rekey, &k, &v, 0))
        return -1;
    author_changed(s, member);
    return 0;
}

int rekey_alt_put_txn(store *s, MDB_txn *txn, const proto_id *member, uint64_t cut, const uint8_t *spki,
                      size_t len)
{
    uint8_t kb[73];
    proto_id kid;
    if (!len || len > sizeof ((store_member *)0)->spki)
        return -1;
    proto_sha256(spki, len, kid.b);
    MDB_val k = { rk_key(kb, member, 'p', cut, &kid), kb }, v = { len, (void *)spki };
    if (mdb_put(txn, s->rekey, &k, &v, 0))
        return -1;
    author_changed(s, member);
    return 0;
}

int rekey_arrival_clear_txn(store *s, MDB_txn *txn)
{
    MDB_stat st;
    if (mdb_stat(txn, s->rekey, &st) == 0 && st.ms_entries == 0)
        return 0;
    author_changed(s, NULL);   /* what waited on a rule may apply now */
    return mdb_drop(txn, s->rekey, 0) ? -1 : 0;
}

int rekey_cut_get_txn(store *s, MDB_txn *txn, const proto_id *member, uint64_t *cut)
{
    MDB_cursor *c;
    uint8_t kb[73];
    int found = 1;
    if (mdb_cursor_open(txn, s->rekey, &c))
        return -1;
    /* the last 'c' entry of member: seek past it, step back */
    MDB_val k = { rk_key(kb, member, 'c', UINT64_MAX, NULL), kb }, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && k.mv_size == 41 && !memcmp(k.mv_data, kb, 41)) {
        *cut = UINT64_MAX;
        found = 0;
    } else {
        rc = rc == 0 ? mdb_cursor_get(c, &k, &v, MDB_PREV) : mdb_cursor_get(c, &k, &v, MDB_LAST);
        if (rc == 0 && k.mv_size == 41 && !memcmp(k.mv_data, member->b, 32) && ((uint8_t *)k.mv_data)[32] == 'c') {
            *cut = get_be64((uint8_t *)k.mv_data + 33);
            found = 0;
        }
    }
    mdb_cursor_close(c);
    return found;
}

/* ---- records signed by a key a decided rekey retired ---- */

uint64_t retired_arrivals_txn(store *s, MDB_txn *txn, const proto_id *id)
{
    return arrivals_count_txn(s, txn, "rarr", id);
}

int retired_arrival_count_txn(store *s, MDB_txn *txn, const proto_id *id)
{
    return arrivals_bump_txn(s, txn, "rarr", id);
}

/* Whether r (hash h), beyond `cut` of a decided rekey of its author, is
 * within what the store keeps apart of a retired key's records: the bounds
 * of a former member's (DECISIONS 16) — STORE_FORMER_APART_SEQS seqs after
 * the cut, STORE_APART_SEQ_VERSIONS versions of a seq (the lowest hashes),
 * STORE_RETIRED_ARRIVALS_MAX versions of the author ever.  A version held
 * apart already is within (a duplicate). */
static int retired_within(store *s, MDB_txn *txn, const proto_record *r, uint64_t cut, const proto_id *h)
{
    int held = 0;
    if (r->seq - cut > STORE_FORMER_APART_SEQS)
        return 0;
    if (apart_rank_txn(s, txn, &r->author, r->seq, h, &held) >= STORE_APART_SEQ_VERSIONS && !held)
        return 0;
    return held || retired_arrivals_txn(s, txn, &r->author) < STORE_RETIRED_ARRIVALS_MAX;
}

int retired_check_txn(store *s, MDB_txn *txn, const proto_record *r, const proto_id *h)
{
    MDB_cursor *c;
    uint8_t kb[41];
    int past = 0, ok = 0;
    if (mdb_cursor_open(txn, s->rekey, &c))
        return -1;
    store_member *m = NULL;
    memcpy(kb, r->author.b, 32);
    kb[32] = 'c';
    put_be64(kb + 33, 0);
    MDB_val k = { 41, kb }, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), ret = 0;
    for (; !ok && rc == 0 && k.mv_size == 41 && !memcmp(k.mv_data, kb, 33); rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint64_t cut = get_be64((const uint8_t *)k.mv_data + 33);
        if (r->seq <= cut)
            break;   /* in cut order: none later is below r's seq */
        if (!retired_within(s, txn, r, cut, h)) {
            past = 1;
            continue;
        }
        if (!m && (!(m = malloc(sizeof *m)) || member_get_txn(s, txn, &r->author, m))) {
            ret = m ? 0 : -1;
            break;
        }
        EVP_PKEY *key = key_of_member_at_txn(s, txn, m, cut);
        ok = key && proto_record_verify(r, key, NULL, 0) == 0;
        EVP_PKEY_free(key);
    }
    mdb_cursor_close(c);
    free(m);
    if (ret)
        return ret;
    /* no decided cut below it (a derivation since unmade it), or signed by
     * none of the retired keys now: offered again, prechecked afresh */
    return ok ? STORE_NEW : past ? STORE_FORMER : STORE_GAP;
}

int rekey_alt_keys_txn(store *s, MDB_txn *txn, const proto_record *r, store_alt_keys *out)
{
    MDB_stat st;
    out->n = 0;
    out->fail_res = 0;
    if (mdb_stat(txn, s->rekey, &st) || st.ms_entries == 0)
        return 0;   /* the usual case: no rekey anywhere */
    MDB_cursor *c;
    uint8_t kb[73];
    if (mdb_cursor_open(txn, s->rekey, &c))
        return -1;
    store_member *m = NULL;
    memcpy(kb, r->author.b, 32);
    MDB_val k = { 32, kb }, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), ret = 0, hashed = 0, past = 0;
    proto_id h;
    for (; rc == 0 && k.mv_size >= 41 && !memcmp(k.mv_data, r->author.b, 32) && out->n < STORE_REKEY_ALT_KEYS;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *kd = k.mv_data;
        uint64_t cut = get_be64(kd + 33);
        if (r->seq <= cut)
            continue;
        EVP_PKEY *key = NULL;
        int res;
        if (kd[32] == 'c') {
            /* the key the member's own chain had at the cut: retired.  A
             * record it signed is kept apart (store_apply_retired) within
             * the bounds; beyond them the key is not handed out, so a flood
             * costs no check under it, and such a record is refused as no
             * forgery (fail_res), as a former member's past its bounds */
            if (r->seq - cut <= STORE_FORMER_APART_SEQS && !hashed) {
                proto_record_hash(r->raw, r->raw_len, &h);   /* not for the new key's log far beyond */
                hashed = 1;
            }
            if (r->seq - cut > STORE_FORMER_APART_SEQS || !retired_within(s, txn, r, cut, &h)) {
                past = 1;
                continue;
            }
            if (!m && (!(m = malloc(sizeof *m)) || member_get_txn(s, txn, &r->author, m))) {
                ret = m ? 0 : -1;
                break;
            }
            key = key_of_member_at_txn(s, txn, m, cut);
            res = STORE_FORMER;
        } else {
            key = key_from_spki(v.mv_data, v.mv_size);
            res = STORE_GAP;
        }
        if (key) {
            out->key[out->n] = key;
            out->res[out->n++] = res;
        }
    }
    mdb_cursor_close(c);
    free(m);
    if (past)
        out->fail_res = STORE_FORMER;
    return ret;
}

int store_rekey_cut(store *s, const proto_id *id, uint64_t *cut)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    int rc = rekey_cut_get_txn(s, txn, id, cut);
    mdb_txn_abort(txn);
    return rc;
}

void store_alt_keys_free(store_alt_keys *a)
{
    for (unsigned i = 0; a && i < a->n; i++)
        EVP_PKEY_free(a->key[i]);
    if (a)
        a->n = 0;
}

int store_verify_alt_ex(const proto_record *r, EVP_PKEY *key, const store_alt_keys *alts, int *verified)
{
    if (verified)
        *verified = 1;
    if (key && proto_record_verify(r, key, NULL, 0) == 0)
        return STORE_NEW;
    for (unsigned i = 0; alts && i < alts->n; i++)
        if (alts->key[i] && proto_record_verify(r, alts->key[i], NULL, 0) == 0)
            return alts->res[i];
    if (verified)
        *verified = 0;
    return alts && alts->fail_res ? alts->fail_res : -1;
}

int store_verify_alt(const proto_record *r, EVP_PKEY *key, const store_alt_keys *alts)
{
    return store_verify_alt_ex(r, key, alts, NULL);
}

int store_rekey_rules_any(store *s)
{
    MDB_txn *txn;
    MDB_stat st;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return 1;   /* cannot tell: ask */
    /* or a former member, whose records beyond its cut have a failure
     * outcome (store_alt_keys.fail_res) */
    int any = mdb_stat(txn, s->rekey, &st) || st.ms_entries > 0 || former_any_txn(s, txn);
    mdb_txn_abort(txn);
    return any;
}
