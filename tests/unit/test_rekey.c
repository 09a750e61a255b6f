/* tests/unit/test_rekey.c — store/store_rekey.c with real LMDB environments
 * and records signed with real keys: the rekey of a lost or stolen key
 * (docs/DECISIONS.md 17).  Members vote that X signs with a new key K from
 * a cut on; a thief holding X's old key writes records beyond the cut (a
 * catalog record, a sock-puppet's admission, an expel vote, the puppet's
 * own record); X's restored node writes under K.  Every store holding the
 * same records must derive the same members, keys, logs and digest,
 * whatever the order and batching they came in, and no store may keep in
 * its log a record of X beyond a decided cut signed by the old key.
 *
 * Records are fed the way a node takes them from a peer: precheck (with
 * the alternative keys), verification under the key the store names
 * (store_verify_alt), apply; what waits (a gap, an unknown author, a
 * record under a key not decided here yet) is offered again. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "store/store.h"
#include "certs/certs.h"
#include "tests/unit/identities.h"
#include "proto/record.h"
#include "proto/util.h"
#include "catalog/schema.h"

/* members F (founder), A, B, C; X the member whose key is lost; K, K2, K3
 * new keys of X (X's code and name); P a sock-puppet; KA a new key of A
 * (A's code and name) */
enum { F, A, B, C, X, K, K2, K3, P, KA, NIDS };
static const char *const id_code[NIDS] = { "131059", "131024", "131032", "131041", "131016",
                                            "131016", "131016", "131016", "011002", "131024" };
static const char *const id_name[NIDS] = { "文京区", "中央区", "港区", "新宿区", "千代田区",
                                           "千代田区", "千代田区", "千代田区", "札幌市", "中央区" };

static char tmpdir[64];
static certs_identity ids[NIDS];
static int dirno;

static int group_setup(void **state)
{
    (void)state;
    return identities_make(tmpdir, "/tmp/test_rekey.XXXXXX", ids, NIDS, id_code, id_name, NULL);
}

static int group_teardown(void **state)
{
    (void)state;
    identities_free(tmpdir, ids, NIDS);
    return 0;
}

/* ---- a world of records ---- */

#define WMAX 96

typedef struct { uint8_t *b; size_t n; int author, key; uint64_t seq, time_ms; } rec;
typedef struct {
    rec v[WMAX];
    size_t n;
    uint64_t seq[NIDS];
    proto_id g;
    uint64_t t;   /* the time of the next record */
} world;

static void world_free(world *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i].b);
    memset(w, 0, sizeof *w);
}

static store *open_store(int who)
{
    char path[128], err[256];
    store *s;
    snprintf(path, sizeof path, "%s/s%d", tmpdir, dirno++);
    assert_int_equal(store_open(path, 64, &s, err, sizeof err), 0);
    assert_int_equal(store_bind_self(s, &ids[who].id, err, sizeof err), 0);
    return s;
}

static int copy_cb(void *ctx, const uint8_t *b, size_t n)
{
    rec *r = ctx;
    r->b = malloc(n);
    assert_non_null(r->b);
    memcpy(r->b, b, n);
    r->n = n;
    return 1;
}

/* The genesis of F (admission 1), made once: every world starts with it. */
static void found(world *w)
{
    char err[256];
    store *s = open_store(F);
    world_free(w);
    assert_int_equal(store_create_genesis(s, ids[F].key, ids[F].der, ids[F].der_len, ids[F].code, ids[F].name,
                                          "試験連合", 1, NULL, err, sizeof err), 0);
    store_info in;
    assert_int_equal(store_info_get(s, &in), 0);
    w->g = in.genesis;
    rec *r = &w->v[w->n++];
    assert_int_equal(store_range(s, &ids[F].id, 1, 1, copy_cb, r), 0);
    r->author = r->key = F;
    r->seq = 1;
    w->seq[F] = 1;
    w->t = 1700000000000ull;
    store_close(s);
}

/* A record of author signed with identity key's key at seq (0: the
 * author's next), dated time (0: the world's next time).  Index. */
static size_t add_at(world *w, int author, int key, uint64_t seq, uint64_t time, const char *kind,
                     const char *k, proto_body *b)
{
    char err[256];
    assert_true(w->n < WMAX);
    rec *r = &w->v[w->n];
    if (!seq)
        seq = w->seq[author] + 1;
    if (seq > w->seq[author])
        w->seq[author] = seq;
    r->time_ms = time ? time : (w->t += 1000);
    if (proto_record_sign(&w->g, &ids[author].id, kind, k, seq, r->time_ms, 0, b, ids[key].key,
                          &r->b, &r->n, err, sizeof err))
        fail_msg("sign: %s", err);
    proto_body_free(b);
    r->author = author;
    r->key = key;
    r->seq = seq;
    return w->n++;
}

static void hexof(int who, char out[65])
{
    proto_hex(ids[who].id.b, 32, out);
}

static size_t admit_as(world *w, int by, int key, uint64_t seq, int who)
{
    char k[65];
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "admit");
    proto_body_str(b, "code", ids[who].code);
    proto_body_str(b, "name", ids[who].name);
    proto_body_bin(b, "cert", ids[who].der, ids[who].der_len);
    hexof(who, k);
    return add_at(w, by, key, seq, 0, "member", k, b);
}

static size_t expel_as(world *w, int by, int key, uint64_t seq, int who)
{
    char k[65];
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "expel");
    proto_body_int(b, "seq", 0);
    hexof(who, k);
    return add_at(w, by, key, seq, 0, "member", k, b);
}

static size_t note_as(world *w, int author, int key, uint64_t seq, const char *k, const char *v)
{
    proto_body *b = proto_body_new();
    proto_body_str(b, "v", v);
    return add_at(w, author, key, seq, 0, "note", k, b);
}

/* author's vote (signed with identity key's key at seq) that subj signs
 * with identity nk's key after cut (epoch gen). */
static size_t vote_about(world *w, int author, int key, uint64_t seq, int subj, int nk, uint64_t cut)
{
    char k[65];
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "rekey");
    proto_body_str(b, "code", ids[nk].code);
    proto_body_str(b, "name", ids[nk].name);
    proto_body_bin(b, "cert", ids[nk].der, ids[nk].der_len);
    proto_body_int(b, "cut", (int64_t)cut);
    proto_body_int(b, "gen", 0);
    proto_body_str(b, "reason", "鍵の紛失");
    hexof(subj, k);
    return add_at(w, author, key, seq, 0, "member", k, b);
}

/* by's vote that X signs with identity nk's key after cut (epoch gen),
 * dated time (0: next). */
static size_t vote_t(world *w, int by, int nk, uint64_t cut, uint64_t gen, uint64_t time)
{
    char k[65];
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "rekey");
    proto_body_str(b, "code", ids[nk].code);
    proto_body_str(b, "name", ids[nk].name);
    proto_body_bin(b, "cert", ids[nk].der, ids[nk].der_len);
    proto_body_int(b, "cut", (int64_t)cut);
    proto_body_int(b, "gen", (int64_t)gen);
    proto_body_str(b, "reason", "鍵の紛失");
    hexof(X, k);
    return add_at(w, by, by, 0, time, "member", k, b);
}

static size_t vote(world *w, int by, int nk, uint64_t cut, uint64_t gen)
{
    return vote_t(w, by, nk, cut, gen, 0);
}

/* ---- feeding a store ---- */

typedef struct { size_t former, gap_alt; } feed_stats;

/* Offer w's records idx[0..n) in batches of `batch`, again while any is
 * taken; what never applies is left (the thief's records after a decision). */
static void feed(store *s, const world *w, const size_t *idx, size_t n, size_t batch, feed_stats *st)
{
    char err[256];
    size_t todo[WMAX], nt = n;
    memcpy(todo, idx, n * sizeof *todo);
    for (int progress = 1; progress && nt;) {
        progress = 0;
        size_t next[WMAX], nn = 0;
        for (size_t i = 0; i < nt; i += batch) {
            size_t bs = nt - i < batch ? nt - i : batch;
            proto_record r[WMAX], ok[WMAX], ret[WMAX];
            int res[WMAX], ares[WMAX];
            size_t okidx[WMAX], nok = 0, retidx[WMAX], nret = 0;
            EVP_PKEY *keys[WMAX];
            store_alt_keys alts[WMAX];
            for (size_t k = 0; k < bs; k++)
                assert_int_equal(proto_record_decode(w->v[todo[i + k]].b, w->v[todo[i + k]].n, &r[k], err,
                                                     sizeof err), 0);
            assert_int_equal(store_precheck_batch_alt(s, r, bs, res, keys, alts, 0, err, sizeof err), 0);
            for (size_t k = 0; k < bs; k++) {
                int out = res[k], verified = 0;
                if (out == STORE_GAP && alts[k].past_end) {
                    /* past its author's log end: under the rekey's keys
                     * alone, as ingest's triage takes it (store.h) */
                    out = STORE_NEW;
                    alts[k].fail_res = STORE_GAP;
                }
                if (out == STORE_NEW || out == STORE_FORK) {
                    int v = store_verify_alt_ex(&r[k], keys[k], &alts[k], &verified);
                    out = v == STORE_NEW ? out : v < 0 ? STORE_GAP : v;
                    if (v == STORE_GAP && st)
                        st->gap_alt++;
                    if (v == STORE_FORMER && verified) {
                        /* under a key a decided rekey retired: kept apart
                         * (store_apply_retired), as ingest does */
                        ret[nret] = r[k];
                        retidx[nret++] = todo[i + k];
                        out = STORE_DUP;
                    }
                }
                EVP_PKEY_free(keys[k]);
                store_alt_keys_free(&alts[k]);
                if (out == STORE_NEW || out == STORE_FORK) {
                    ok[nok] = r[k];
                    okidx[nok++] = todo[i + k];
                } else if (out == STORE_GAP || out == STORE_UNKNOWN_AUTHOR) {
                    next[nn++] = todo[i + k];
                } else if (out == STORE_FORMER) {
                    if (st)
                        st->former++;
                } else if (out != STORE_DUP) {
                    fail_msg("record %zu: %s", todo[i + k], store_result_str(out));
                }
            }
            if (nok)
                assert_int_equal(store_apply_batch(s, ok, nok, ares, err, sizeof err), 0);
            for (size_t k = 0; k < nok; k++) {
                if (ares[k] == STORE_NEW || ares[k] == STORE_FORK)
                    progress = 1;
                else if (ares[k] == STORE_GAP || ares[k] == STORE_UNKNOWN_AUTHOR)
                    next[nn++] = okidx[k];
                else if (ares[k] == STORE_FORMER) {
                    if (st)
                        st->former++;
                } else if (ares[k] != STORE_DUP)
                    fail_msg("record %zu applied: %s", okidx[k], store_result_str(ares[k]));
            }
            /* after the batch, as ingest keeps them */
            if (nret) {
                assert_int_equal(store_apply_retired(s, ret, nret, ares, err, sizeof err), 0);
                for (size_t k = 0; k < nret; k++)
                    if (ares[k] == STORE_GAP)
                        next[nn++] = retidx[k];
                    else if (ares[k] == STORE_FORMER) {
                        progress = 1;   /* kept: a derivation may have changed what waits */
                        if (st)
                            st->former++;
                    } else if (ares[k] != STORE_DUP)
                        fail_msg("record %zu kept apart: %s", retidx[k], store_result_str(ares[k]));
            }
        }
        memcpy(todo, next, nn * sizeof *todo);
        nt = nn;
    }
}

/* A store of `who` holding the genesis, then w's records in `order`. */
static store *fed(const world *w, const size_t *order, size_t n, size_t batch, feed_stats *st)
{
    store *s = open_store(A);
    size_t g = 0;
    feed(s, w, &g, 1, 1, NULL);
    feed(s, w, order, n, batch, st);
    return s;
}

static store *fed_all(const world *w, size_t batch, feed_stats *st)
{
    size_t o[WMAX];
    for (size_t i = 1; i < w->n; i++)
        o[i - 1] = i;
    return fed(w, o, w->n - 1, batch, st);
}

static void drop(store *s)
{
    store_close(s);
}

/* ---- what a store derived ---- */

typedef struct {
    proto_id digest;
    size_t nmem;
    struct { proto_id id; int status; } m[NIDS];
    size_t nkeys;
    struct { proto_id who; uint64_t from; proto_id kid; } k[32];
    uint64_t vv[NIDS];
    uint32_t gen;
    uint64_t open_cut;
    size_t nrk;
    struct { int what; uint32_t gen; uint64_t cut; proto_id kid; uint64_t time; size_t nv; } rk[32];
} fprint;

static int fp_mem(void *ctx, const store_member *m)
{
    fprint *f = ctx;
    if (f->nmem < NIDS) {
        f->m[f->nmem].id = m->id;
        f->m[f->nmem].status = m->status;
        f->nmem++;
    }
    return 0;
}

typedef struct { fprint *f; proto_id who; } kctx;

static int fp_key(void *ctx, uint64_t from, const proto_id *kid)
{
    kctx *k = ctx;
    if (k->f->nkeys < 32) {
        k->f->k[k->f->nkeys].who = k->who;
        k->f->k[k->f->nkeys].from = from;
        k->f->k[k->f->nkeys].kid = *kid;
        k->f->nkeys++;
    }
    return 0;
}

static int fp_rk(void *ctx, const store_rekey *r)
{
    fprint *f = ctx;
    if (f->nrk < 32) {
        f->rk[f->nrk].what = r->what;
        f->rk[f->nrk].gen = r->gen;
        f->rk[f->nrk].cut = r->cut;
        f->rk[f->nrk].kid = r->key_id;
        f->rk[f->nrk].time = r->time_ms;
        f->rk[f->nrk].nv = r->nvoters;
        f->nrk++;
    }
    return 0;
}

static void fingerprint(store *s, fprint *f)
{
    store_info in;
    memset(f, 0, sizeof *f);
    assert_int_equal(store_info_get(s, &in), 0);
    f->digest = in.digest;
    assert_int_equal(store_members(s, fp_mem, f), 0);
    for (size_t i = 0; i < f->nmem; i++) {
        kctx k = { f, f->m[i].id };
        assert_int_equal(store_keys_of(s, &f->m[i].id, fp_key, &k), 0);
    }
    for (int i = 0; i < NIDS; i++)
        f->vv[i] = store_vv_get(s, &ids[i].id);
    assert_int_equal(store_member_rekeys(s, &ids[X].id, &f->gen, &f->open_cut, fp_rk, f), 0);
}

static int status_of(store *s, int who)
{
    store_member m;
    int rc = store_member_get(s, &ids[who].id, &m);
    return rc == 0 ? m.status : -1;
}

/* The puppet P's own records stay in the log of a store that took them
 * before the decision and are refused by one deciding first (DECISIONS 22:
 * records of an author stay in the log whatever the derivation says of its
 * admission), so P's log, and with it the digest, is compared only where
 * both stores hold the same of P.  Everything else must agree. */
static void fp_same(const fprint *a, const fprint *b, const char *how)
{
    if (a->vv[P] == b->vv[P] && memcmp(&a->digest, &b->digest, 32))
        fail_msg("%s: digests differ", how);
    if (a->nmem != b->nmem || a->nkeys != b->nkeys || a->nrk != b->nrk || a->gen != b->gen ||
        a->open_cut != b->open_cut)
        fail_msg("%s: members %zu/%zu keys %zu/%zu rekeys %zu/%zu gen %u/%u open %llu/%llu", how, a->nmem, b->nmem,
                 a->nkeys, b->nkeys, a->nrk, b->nrk, a->gen, b->gen, (unsigned long long)a->open_cut,
                 (unsigned long long)b->open_cut);
    for (size_t i = 0; i < a->nmem; i++)
        if (memcmp(&a->m[i].id, &b->m[i].id, 32) || a->m[i].status != b->m[i].status)
            fail_msg("%s: member %zu differs", how, i);
    for (size_t i = 0; i < a->nkeys; i++)
        if (memcmp(&a->k[i], &b->k[i], sizeof a->k[i]))
            fail_msg("%s: key %zu differs", how, i);
    for (size_t i = 0; i < a->nrk; i++)
        if (a->rk[i].what != b->rk[i].what || a->rk[i].cut != b->rk[i].cut || a->rk[i].gen != b->rk[i].gen ||
            memcmp(&a->rk[i].kid, &b->rk[i].kid, 32) || a->rk[i].time != b->rk[i].time || a->rk[i].nv != b->rk[i].nv)
            fail_msg("%s: rekey item %zu differs", how, i);
    for (int i = 0; i < NIDS; i++)
        if (i != P && a->vv[i] != b->vv[i])
            fail_msg("%s: vv of identity %d %llu/%llu", how, i, (unsigned long long)a->vv[i],
                     (unsigned long long)b->vv[i]);
}

/* s derives nothing new when it derives afresh, and holds what a store
 * fed w's records in order holds; s is dropped. */
static void rederived_and_in_order(const world *w, store *s)
{
    char err[256];
    fprint f1, f2;
    fingerprint(s, &f1);
    int changed = 1;
    assert_int_equal(store_member_rederive(s, &changed, err, sizeof err), 0);
    assert_int_equal(changed, 0);
    fingerprint(s, &f2);
    fp_same(&f1, &f2, "rederived");
    drop(s);
    store *ref = fed_all(w, 1, NULL);
    fingerprint(ref, &f2);
    fp_same(&f1, &f2, "in order");
    drop(ref);
}

/* The key that verifies X's record at seq is identity who's. */
static void expect_key(store *s, uint64_t seq, int who)
{
    EVP_PKEY *k = store_member_key_at(s, &ids[X].id, seq);
    assert_non_null(k);
    if (EVP_PKEY_eq(k, X509_get0_pubkey(ids[who].cert)) != 1)
        fail_msg("X's key at seq %llu is not identity %d's", (unsigned long long)seq, who);
    EVP_PKEY_free(k);
}

/* The record of author at seq in the log was signed with identity key's key. */
static int signed_by_at(store *s, int author, uint64_t seq, int key)
{
    rec r = { 0 };
    int rc = store_range(s, &ids[author].id, seq, seq, copy_cb, &r);
    if (rc || !r.b)
        return -1;
    proto_record pr;
    char err[256];
    assert_int_equal(proto_record_decode(r.b, r.n, &pr, err, sizeof err), 0);
    int ok = proto_record_verify(&pr, X509_get0_pubkey(ids[key].cert), NULL, 0) == 0;
    free(r.b);
    return ok;
}

/* F, A, X members (admission 1; rekey quorum 2); X writes seqs 1..v
 * (v = 3).  Returns v. */
static uint64_t base3(world *w)
{
    found(w);
    admit_as(w, F, F, 0, A);
    admit_as(w, F, F, 0, X);
    note_as(w, X, X, 0, "x1", "1");
    note_as(w, X, X, 0, "x2", "2");
    note_as(w, X, X, 0, "x3", "3");
    return 3;
}

/* ---- the tests ---- */

static void vote_rules(void **state)
{
    (void)state;
    world w = { 0 };
    char err[256];
    base3(&w);
    size_t ok = vote(&w, F, K, 3, 0);
    proto_record r;
    assert_int_equal(proto_record_decode(w.v[ok].b, w.v[ok].n, &r, err, sizeof err), 0);
    assert_int_equal(store_record_rules(&r, err, sizeof err), 0);
    /* X voting its own rekey; naming X's admitted key; no cut; no reason */
    char k[65];
    hexof(X, k);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "rekey");
    proto_body_bin(b, "cert", ids[K].der, ids[K].der_len);
    proto_body_str(b, "code", ids[K].code);
    proto_body_str(b, "name", ids[K].name);
    proto_body_int(b, "cut", 3);
    proto_body_int(b, "gen", 0);
    proto_body_str(b, "reason", "x");
    size_t self = add_at(&w, X, X, 0, 0, "member", k, b);
    assert_int_equal(proto_record_decode(w.v[self].b, w.v[self].n, &r, err, sizeof err), 0);
    assert_int_equal(store_record_rules(&r, err, sizeof err), -1);
    b = proto_body_new();
    proto_body_str(b, "op", "rekey");
    proto_body_bin(b, "cert", ids[X].der, ids[X].der_len);
    proto_body_str(b, "code", ids[X].code);
    proto_body_str(b, "name", ids[X].name);
    proto_body_int(b, "cut", 3);
    proto_body_int(b, "gen", 0);
    proto_body_str(b, "reason", "x");
    size_t same = add_at(&w, A, A, 0, 0, "member", k, b);
    assert_int_equal(proto_record_decode(w.v[same].b, w.v[same].n, &r, err, sizeof err), 0);
    assert_int_equal(store_record_rules(&r, err, sizeof err), -1);
    b = proto_body_new();
    proto_body_str(b, "op", "rekey");
    proto_body_bin(b, "cert", ids[K].der, ids[K].der_len);
    proto_body_str(b, "code", ids[K].code);
    proto_body_str(b, "name", ids[K].name);
    proto_body_int(b, "cut", 0);
    proto_body_int(b, "gen", 0);
    proto_body_str(b, "reason", "x");
    size_t nocut = add_at(&w, A, A, 0, 0, "member", k, b);
    assert_int_equal(proto_record_decode(w.v[nocut].b, w.v[nocut].n, &r, err, sizeof err), 0);
    assert_int_equal(store_record_rules(&r, err, sizeof err), -1);
    b = proto_body_new();
    proto_body_str(b, "op", "rekey");
    proto_body_bin(b, "cert", ids[K].der, ids[K].der_len);
    proto_body_str(b, "code", ids[K].code);
    proto_body_str(b, "name", ids[K].name);
    proto_body_int(b, "cut", 3);
    proto_body_int(b, "gen", 0);
    size_t noreason = add_at(&w, A, A, 0, 0, "member", k, b);
    assert_int_equal(proto_record_decode(w.v[noreason].b, w.v[noreason].n, &r, err, sizeof err), 0);
    assert_int_equal(store_record_rules(&r, err, sizeof err), -1);
    world_free(&w);
}

/* 3 members, quorum 2: F's vote alone decides nothing; A's completes it. */
static void one_vote_not_enough_two_complete(void **state)
{
    (void)state;
    world w = { 0 };
    uint64_t v = base3(&w);
    vote(&w, F, K, v, 0);
    size_t upto = w.n;
    store *s = open_store(A);
    size_t o[WMAX];
    for (size_t i = 0; i < upto; i++)
        o[i] = i;
    feed(s, &w, o, upto, 4, NULL);
    expect_key(s, v + 1, X);
    fprint f;
    fingerprint(s, &f);
    assert_int_equal(f.gen, 0);
    assert_int_equal(f.open_cut, v);
    assert_int_equal(f.nrk, 1);
    assert_int_equal(f.rk[0].what, STORE_REKEY_PROPOSAL);
    assert_int_equal(f.rk[0].nv, 1);
    size_t a = vote(&w, A, K, v, 0);
    feed(s, &w, &a, 1, 1, NULL);
    expect_key(s, v, X);
    expect_key(s, v + 1, K);
    fingerprint(s, &f);
    assert_int_equal(f.gen, 1);
    assert_int_equal(f.open_cut, 0);
    assert_int_equal(f.nrk, 1);
    assert_int_equal(f.rk[0].what, STORE_REKEY_DECIDED);
    assert_int_equal(f.rk[0].cut, v);
    assert_int_equal(f.rk[0].nv, 2);
    assert_int_equal(f.rk[0].time, w.v[a].time_ms);   /* decided at A's vote */
    /* X's restored node writes under K from v + 1; the old key's is kept apart there, out of the log */
    size_t kk = note_as(&w, X, K, v + 1, "x4", "4");
    size_t old = note_as(&w, X, X, v + 1, "x4", "old");
    feed_stats st = { 0 };
    feed(s, &w, &old, 1, 1, &st);
    assert_int_equal(st.former, 1);
    feed(s, &w, &kk, 1, 1, NULL);
    assert_int_equal(store_vv_get(s, &ids[X].id), v + 1);
    assert_int_equal(signed_by_at(s, X, v + 1, K), 1);
    drop(s);
    world_free(&w);
}

/* Two members: F alone cannot rekey X (at least STORE_REKEY_VOTERS_MIN
 * voters, whatever min(expulsion quorum, others) says). */
static void founder_alone_cannot_rekey(void **state)
{
    (void)state;
    world w = { 0 };
    found(&w);
    admit_as(&w, F, F, 0, X);
    note_as(&w, X, X, 0, "x1", "1");
    vote(&w, F, K, 1, 0);
    store *s = fed_all(&w, 2, NULL);
    expect_key(s, 2, X);
    fprint f;
    fingerprint(s, &f);
    assert_int_equal(f.gen, 0);
    assert_int_equal(f.open_cut, 1);
    drop(s);
    world_free(&w);
}

/* The first vote fixes the cut; a vote naming another cut is stale. */
static void cut_fixed_by_first_vote(void **state)
{
    (void)state;
    world w = { 0 };
    uint64_t v = base3(&w);
    admit_as(&w, F, F, 0, B);   /* 4 members: quorum max(2, min(2, 3)) = 2 */
    vote(&w, F, K, v, 0);
    vote(&w, A, K, v - 1, 0);   /* another cut: stale */
    store *s = fed_all(&w, 3, NULL);
    expect_key(s, v + 1, X);
    fprint f;
    fingerprint(s, &f);
    assert_int_equal(f.gen, 0);
    assert_int_equal(f.open_cut, v);
    int stale = 0;
    for (size_t i = 0; i < f.nrk; i++)
        stale += f.rk[i].what == STORE_REKEY_STALE && f.rk[i].cut == v - 1;
    assert_int_equal(stale, 1);
    size_t b = vote(&w, B, K, v, 0);
    feed(s, &w, &b, 1, 1, NULL);
    expect_key(s, v + 1, K);
    expect_key(s, v, X);
    drop(s);
    world_free(&w);
}

/* Past STORE_REKEY_SHOW_MAX stale votes the store keeps the first ones and
 * says that it cut the list (member show's "truncated"); below it nothing
 * says so. */
typedef struct { size_t nstale, more, last_more; } stale_count;

static int count_stale(void *ctx, const store_rekey *k)
{
    stale_count *c = ctx;
    c->last_more = k->more;
    if (k->what == STORE_REKEY_STALE)
        c->nstale++;
    c->more += k->more != 0;
    return 0;
}

static void stale_votes_cut_say_so(void **state)
{
    (void)state;
    for (int extra = 0; extra <= 2; extra += 2) {
        world w = { 0 };
        uint64_t v = base3(&w);
        admit_as(&w, F, F, 0, B);
        vote(&w, F, K, v, 0);   /* fixes the cut */
        for (unsigned i = 0; i < STORE_REKEY_SHOW_MAX + (unsigned)extra; i++)
            vote(&w, A, K, v - 1, 0);   /* another cut: stale, each of them */
        store *s = fed_all(&w, 8, NULL);
        stale_count c = { 0 };
        assert_int_equal(store_member_rekeys(s, &ids[X].id, NULL, NULL, count_stale, &c), 0);
        assert_int_equal(c.nstale, STORE_REKEY_SHOW_MAX);
        /* the last stale vote listed (they come last) says more were not kept */
        assert_int_equal(c.more, extra ? 1 : 0);
        assert_int_equal(c.last_more, extra ? 1 : 0);
        drop(s);
        world_free(&w);
    }
}

/* The thief's world: X's old key writes beyond the cut (a note, the
 * admission of a puppet P), P writes a note of its own; F and A vote K at
 * the cut; then the thief and P vote to expel A (in the thief's log A would
 * be expelled); X's restored node writes under K.  (The expel votes come
 * after A's vote: a node that derived A expelled refuses A's later records
 * at arrival, see the report.) */
static uint64_t thief_world(world *w, size_t *first_vote)
{
    uint64_t v = base3(w);
    note_as(w, X, X, v + 1, "x4", "thief");
    admit_as(w, X, X, v + 2, P);
    note_as(w, P, P, 0, "p1", "puppet");
    *first_vote = vote(w, F, K, v, 0);
    vote(w, A, K, v, 0);
    expel_as(w, P, P, 0, A);
    expel_as(w, X, X, v + 3, A);   /* with P's: A expelled in the thief's log */
    note_as(w, X, K, v + 1, "x4", "restored");
    note_as(w, X, K, v + 2, "x5", "restored");
    return v;
}

static void thief_checks(store *s, uint64_t v)
{
    expect_key(s, v + 1, K);
    assert_int_equal(status_of(s, A), STORE_MEMBER_ACTIVE);
    assert_true(status_of(s, P) != STORE_MEMBER_ACTIVE);
    /* the puppet is no member; its own record may stay in the log of a
     * store that took it before the decision (DECISIONS 22) */
    assert_int_equal(store_vv_get(s, &ids[X].id), v + 2);
    for (uint64_t q = v + 1; q <= v + 2; q++) {
        assert_int_equal(signed_by_at(s, X, q, K), 1);
        assert_int_equal(signed_by_at(s, X, q, X), 0);
    }
}

static void thief_in_order_and_votes_first(void **state)
{
    (void)state;
    world w = { 0 };
    size_t fv;
    uint64_t v = thief_world(&w, &fv);
    /* in order: the thief's records are taken, then undone by the decision */
    store *s1 = fed_all(&w, 1, NULL);
    thief_checks(s1, v);
    fprint f1, f2, f3;
    fingerprint(s1, &f1);
    assert_int_equal(f1.gen, 1);
    /* the votes first, the thief's records after: kept apart, out of the log */
    size_t o[WMAX], n = 0;
    for (size_t i = 1; i < w.n; i++)
        if (w.v[i].author != P && !(w.v[i].author == X && w.v[i].key == X && w.v[i].seq > v))
            o[n++] = i;
    for (size_t i = 1; i < w.n; i++)
        if (w.v[i].author == P || (w.v[i].author == X && w.v[i].key == X && w.v[i].seq > v))
            o[n++] = i;
    feed_stats st = { 0 };
    store *s2 = fed(&w, o, n, 2, &st);
    thief_checks(s2, v);
    assert_int_equal(store_vv_get(s2, &ids[P].id), 0);   /* deciding first: the puppet's record is refused */
    assert_true(st.former >= 3);
    fingerprint(s2, &f2);
    fp_same(&f1, &f2, "votes first");
    /* a rederive from scratch derives what the incremental store holds */
    char err[256];
    int changed = 1;
    assert_int_equal(store_member_rederive(s1, &changed, err, sizeof err), 0);
    fingerprint(s1, &f3);
    fp_same(&f1, &f3, "rederived");
    drop(s1);
    drop(s2);
    world_free(&w);
}

/* A vote after the decision (another K, the decided epoch's gen) is stale:
 * the decision stays. */
static void later_vote_does_not_move(void **state)
{
    (void)state;
    world w = { 0 };
    uint64_t v = base3(&w);
    admit_as(&w, F, F, 0, B);
    vote(&w, F, K, v, 0);
    vote(&w, A, K, v, 0);
    vote(&w, B, K2, v, 0);
    vote(&w, F, K2, v, 0);   /* F changes its vote after the decision */
    vote(&w, B, K2, v - 1, 0);   /* and a smaller cut */
    vote(&w, F, K2, v - 1, 0);
    store *s = fed_all(&w, 2, NULL);
    expect_key(s, v + 1, K);
    fprint f;
    fingerprint(s, &f);
    assert_int_equal(f.gen, 1);
    assert_int_equal(f.open_cut, 0);
    assert_int_equal(f.rk[0].what, STORE_REKEY_DECIDED);
    drop(s);
    world_free(&w);
}

/* 5 members: F votes K at t+10, A at t+40 (complete there); B and C vote
 * K2 backdated to t+20 and t+30: K2 completes first and wins, on every
 * store, whatever came first. */
static void backdated_competitor_completing_earlier_wins(void **state)
{
    (void)state;
    world w = { 0 };
    uint64_t v = base3(&w);
    admit_as(&w, F, F, 0, B);
    admit_as(&w, F, F, 0, C);
    uint64_t t = w.t + 100000;
    size_t f1 = vote_t(&w, F, K, v, 0, t + 10);
    size_t a1 = vote_t(&w, A, K, v, 0, t + 40);
    size_t b1 = vote_t(&w, B, K2, v, 0, t + 20);
    size_t c1 = vote_t(&w, C, K2, v, 0, t + 30);
    w.t = t + 100;
    /* the K votes first: K decided, then undone by K2's earlier completion */
    size_t o[WMAX], n = 0;
    for (size_t i = 1; i < w.n; i++)
        if (i != b1 && i != c1)
            o[n++] = i;
    store *s1 = fed(&w, o, n, 1, NULL);
    expect_key(s1, v + 1, K);
    feed(s1, &w, &b1, 1, 1, NULL);
    feed(s1, &w, &c1, 1, 1, NULL);
    expect_key(s1, v + 1, K2);
    store *s2 = fed_all(&w, 3, NULL);
    expect_key(s2, v + 1, K2);
    fprint p1, p2;
    fingerprint(s1, &p1);
    fingerprint(s2, &p2);
    fp_same(&p1, &p2, "K2 first or last");
    assert_int_equal(p1.rk[0].time, w.v[c1].time_ms);
    (void)f1;
    (void)a1;
    drop(s1);
    drop(s2);
    world_free(&w);
}

/* gen: a second rekey after the first, at a higher cut, under K's log. */
static void second_rekey_after_the_first(void **state)
{
    (void)state;
    world w = { 0 };
    uint64_t v = base3(&w);
    vote(&w, F, K, v, 0);
    vote(&w, A, K, v, 0);
    note_as(&w, X, K, v + 1, "x4", "k");
    note_as(&w, X, K, v + 2, "x5", "k");
    size_t stale = vote(&w, F, K3, v + 2, 0);   /* the old gen: stale */
    vote(&w, F, K3, v + 2, 1);
    vote(&w, A, K3, v + 2, 1);
    note_as(&w, X, K3, v + 3, "x6", "k3");
    store *s = fed_all(&w, 2, NULL);
    expect_key(s, v, X);
    expect_key(s, v + 1, K);
    expect_key(s, v + 2, K);
    expect_key(s, v + 3, K3);
    assert_int_equal(store_vv_get(s, &ids[X].id), v + 3);
    fprint f;
    fingerprint(s, &f);
    assert_int_equal(f.gen, 2);
    int dec = 0, st = 0;
    for (size_t i = 0; i < f.nrk; i++) {
        dec += f.rk[i].what == STORE_REKEY_DECIDED;
        st += f.rk[i].what == STORE_REKEY_STALE && f.rk[i].time == w.v[stale].time_ms;
    }
    assert_int_equal(dec, 2);
    assert_int_equal(st, 1);
    /* the same in one big batch, and rederived */
    store *s2 = fed_all(&w, 64, NULL);
    fprint f2;
    fingerprint(s2, &f2);
    fp_same(&f, &f2, "one batch");
    drop(s);
    drop(s2);
    world_free(&w);
}

/* A policy proposal by author (signed with key's key, at seq) on the
 * genesis policy with expulsion exp; and an endorsement of it. */
static proto_id propose_exp(world *w, int author, int key, uint64_t seq, uint32_t exp)
{
    store_policy p;
    char ph[65], k[64];
    const char *areas[40], *routes[40];
    size_t na = 0, nr = 0;
    memset(&p, 0, sizeof p);
    p.parent = w->g;
    p.admission = 1;
    p.expulsion = exp;
    for (; catalog_areas[na]; na++) {
        areas[na] = catalog_areas[na];
        snprintf(p.areas[na], sizeof p.areas[na], "%s", areas[na]);
    }
    for (; catalog_routes[nr]; nr++) {
        routes[nr] = catalog_routes[nr];
        snprintf(p.routes[nr], sizeof p.routes[nr], "%s", routes[nr]);
    }
    p.nareas = (uint32_t)na;
    p.nroutes = (uint32_t)nr;
    assert_int_equal(store_policy_proposal_key(&p, k, sizeof k), 0);
    proto_hex(w->g.b, 32, ph);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "propose");
    proto_body_str(b, "parent", ph);
    proto_body_int(b, "admission", 1);
    proto_body_int(b, "expulsion", exp);
    proto_body_strs(b, "areas", areas, na);
    proto_body_strs(b, "routes", routes, nr);
    size_t i = add_at(w, author, key, seq, 0, "policy", k, b);
    proto_id h;
    proto_record_hash(w->v[i].b, w->v[i].n, &h);
    return h;
}

static void endorse_as(world *w, int author, int key, uint64_t seq, const proto_id *prop)
{
    char k[80], hex[65];
    proto_hex(prop->b, 32, hex);
    snprintf(k, sizeof k, "endorse/%s", hex);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "endorse");
    add_at(w, author, key, seq, 0, "policy", k, b);
}

/* The thief raises the quorum before the votes: with X's old key it admits
 * P, proposes an expulsion quorum of 3 and P endorses it, so in the replay
 * of everything held F's and A's votes are one short.  The decision is
 * made on D(X, v), where none of that exists: K wins, on a store fed in
 * order and on one fed the votes first, and the thief's policy is not in
 * force afterwards. */
static void thief_raising_the_quorum_loses(void **state)
{
    (void)state;
    world w = { 0 };
    uint64_t v = base3(&w);
    admit_as(&w, X, X, v + 1, P);
    proto_id pr = propose_exp(&w, X, X, v + 2, 3);
    endorse_as(&w, P, P, 0, &pr);
    vote(&w, F, K, v, 0);
    vote(&w, A, K, v, 0);
    note_as(&w, X, K, v + 1, "x4", "restored");
    store *s1 = fed_all(&w, 1, NULL);
    size_t o[WMAX], n = 0;
    for (size_t i = 1; i < w.n; i++)
        if (w.v[i].author != P && !(w.v[i].author == X && w.v[i].key == X && w.v[i].seq > v))
            o[n++] = i;
    for (size_t i = 1; i < w.n; i++)
        if (w.v[i].author == P || (w.v[i].author == X && w.v[i].key == X && w.v[i].seq > v))
            o[n++] = i;
    store *s2 = fed(&w, o, n, 3, NULL);
    store *ss[2] = { s1, s2 };
    fprint f[2];
    for (int i = 0; i < 2; i++) {
        expect_key(ss[i], v + 1, K);
        assert_true(status_of(ss[i], P) != STORE_MEMBER_ACTIVE);
        store_policy pol;
        assert_int_equal(store_policy_in_force(ss[i], &pol), 0);
        assert_int_equal(pol.expulsion, 2);
        assert_int_equal(store_vv_get(ss[i], &ids[X].id), v + 1);
        assert_int_equal(signed_by_at(ss[i], X, v + 1, K), 1);
        fingerprint(ss[i], &f[i]);
    }
    assert_int_equal(store_vv_get(s2, &ids[P].id), 0);   /* deciding first: the puppet's records are refused */
    fp_same(&f[0], &f[1], "in order / votes first");
    uint64_t rd, nested, replays;
    store_rekey_stats(s1, &rd, &nested, &replays);
    assert_true(nested >= 1);
    print_message("thief raising the quorum, fed in order: %llu rederives with rekeys, %llu nested, %llu replays\n",
                  (unsigned long long)rd, (unsigned long long)nested, (unsigned long long)replays);
    store_rekey_stats(s2, &rd, &nested, &replays);
    print_message("  fed the votes first: %llu rederives with rekeys, %llu nested, %llu replays\n",
                  (unsigned long long)rd, (unsigned long long)nested, (unsigned long long)replays);
    drop(s1);
    drop(s2);
    world_free(&w);
}

/* The thief expels a voter by records beyond the cut, backdated before
 * the vote: in the replay of everything held A's vote is never taken (A is
 * no member at its turn), yet the decision is D's, where A was never
 * expelled.  A store that got A's vote before the thief's expulsion (and
 * F's last) decides K, as one fed the votes first. */
static void expelled_voter_counts_in_d(void **state)
{
    (void)state;
    world w = { 0 };
    uint64_t v = base3(&w);
    uint64_t t = w.t + 100000;
    w.t = t;
    size_t n1 = note_as(&w, X, X, v + 1, "x4", "thief");
    size_t adm = admit_as(&w, X, X, v + 2, P);
    size_t pe = expel_as(&w, P, P, 0, A);
    size_t xe;
    {
        char k[65];
        proto_body *b = proto_body_new();
        proto_body_str(b, "op", "expel");
        proto_body_int(b, "seq", 0);
        hexof(A, k);
        xe = add_at(&w, X, X, v + 3, t + 5000, "member", k, b);   /* before A's vote */
    }
    size_t av = vote_t(&w, A, K, v, 0, t + 10000);
    size_t fv = vote_t(&w, F, K, v, 0, t + 20000);
    size_t o[WMAX], n = 0;
    for (size_t i = 1; i <= 5; i++)
        o[n++] = i;   /* the members and X's log up to the cut */
    size_t rest[] = { n1, adm, pe, av, xe, fv };
    for (size_t i = 0; i < sizeof rest / sizeof *rest; i++)
        o[n++] = rest[i];
    store *s1 = fed(&w, o, n, 1, NULL);
    {
        uint64_t rd, nested, replays;
        store_rekey_stats(s1, &rd, &nested, &replays);
        print_message("expelled voter, votes split by the thief's records: %llu rederives with rekeys, "
                      "%llu nested, %llu replays\n", (unsigned long long)rd, (unsigned long long)nested,
                      (unsigned long long)replays);
    }
    expect_key(s1, v + 1, K);
    assert_int_equal(status_of(s1, A), STORE_MEMBER_ACTIVE);
    assert_true(status_of(s1, P) != STORE_MEMBER_ACTIVE);
    assert_int_equal(store_vv_get(s1, &ids[X].id), v);
    fprint f1, f2;
    fingerprint(s1, &f1);
    /* the votes first */
    n = 0;
    for (size_t i = 1; i <= 5; i++)
        o[n++] = i;
    o[n++] = av;
    o[n++] = fv;
    o[n++] = n1;
    o[n++] = adm;
    o[n++] = pe;
    o[n++] = xe;
    store *s2 = fed(&w, o, n, 1, NULL);
    assert_int_equal(store_vv_get(s2, &ids[P].id), 0);   /* deciding first: the puppet's record is refused */
    fingerprint(s2, &f2);
    fp_same(&f1, &f2, "votes first");
    drop(s1);
    drop(s2);
    world_free(&w);
}

/* The key that verifies who's record at seq is identity key's. */
static void expect_key_of(store *s, int who, uint64_t seq, int key)
{
    EVP_PKEY *k = store_member_key_at(s, &ids[who].id, seq);
    assert_non_null(k);
    if (EVP_PKEY_eq(k, X509_get0_pubkey(ids[key].cert)) != 1)
        fail_msg("identity %d's key at seq %llu is not identity %d's", who, (unsigned long long)seq, key);
    EVP_PKEY_free(k);
}

/* What every store must end with in the voter races below: X rekeyed to
 * K after v, the honest voter A keeping its key (its vote about X in its
 * log), the puppet P no member in the first race. */
static void race_checks(store *s, uint64_t v, int puppet_member)
{
    expect_key(s, v + 1, K);
    expect_key_of(s, A, 2, A);
    assert_int_equal(status_of(s, A), STORE_MEMBER_ACTIVE);
    assert_int_equal(store_vv_get(s, &ids[A].id), 2);
    assert_int_equal(signed_by_at(s, A, 2, A), 1);
    assert_int_equal(status_of(s, P) == STORE_MEMBER_ACTIVE, puppet_member);
}

/* Feed w to a store in order o, then check and compare it with *ref (the
 * first one: becomes ref). */
static void race_feed(const world *w, const size_t *o, size_t n, size_t batch, uint64_t v, int puppet_member,
                      fprint *ref, int *have_ref, int same, const char *how)
{
    store *s = fed(w, o, n, batch, NULL);
    race_checks(s, v, puppet_member);
    fprint f;
    fingerprint(s, &f);
    if (*have_ref && same)
        fp_same(ref, &f, how);
    else
        *ref = f, *have_ref = 1;
    char err[256];
    assert_int_equal(store_member_rederive(s, NULL, err, sizeof err), 0);
    race_checks(s, v, puppet_member);
    fingerprint(s, &f);
    fp_same(ref, &f, "rederived");
    drop(s);
}

/* Orders of a race world (honest[0..nh): the honest votes, first A's):
 * the members' records up to X's cut, then the honest votes, then the
 * thief's; world 389's, A's vote, then the thief's records, then the
 * other honest votes (the thief's rekey of A is decided, then undone and
 * A's vote, set apart, counts again); and with `late`, the thief's
 * records, then the honest votes: the thief's rekey of A is decided before
 * A's vote is held, and A's vote, signed by the key that decision retired
 * after its cut, is kept apart on arrival (DECISIONS 22, class (ii)) — it
 * was refused, and that store kept the thief's rekey of A. */
static void race_orders(const world *w, const size_t *honest, size_t nh, uint64_t v, int puppet_member, int same,
                        int late)
{
    size_t o[WMAX], n = 0, members = 0;
    fprint ref;
    int have = 0;
    /* the records up to the thief's first (X's beyond the cut, or P's) */
    for (size_t i = 1; i < w->n && !(w->v[i].author == X && w->v[i].seq > v) && w->v[i].author != P; i++)
        members = i;
    for (int how = 0; how < (late ? 3 : 2); how++) {
        n = 0;
        for (size_t i = 1; i <= members; i++)
            o[n++] = i;
        for (size_t j = 0; j < (how == 2 ? 0 : how ? 1 : nh); j++)
            o[n++] = honest[j];
        for (size_t i = members + 1; i < w->n; i++) {
            size_t j = 0;
            while (j < nh && honest[j] != i)
                j++;
            if (j == nh)
                o[n++] = i;
        }
        for (size_t j = how == 2 ? 0 : 1; how && j < nh; j++)
            o[n++] = honest[j];
        race_feed(w, o, n, 1, v, puppet_member, &ref, &have, same,
                  how == 2 ? "the thief's, then the honest votes"
                  : how    ? "A's vote, the thief's, the others"
                           : "honest votes first");
    }
}

/* The members, and the thief's race of world 389: X's old key admits a
 * puppet P after X's cut v (returned), and X and P vote that A signs with
 * KA from seq 1 on. */
static uint64_t race389_base(world *w)
{
    found(w);
    admit_as(w, F, F, 0, X);
    admit_as(w, F, F, 0, A);
    note_as(w, X, X, 0, "x1", "1");
    note_as(w, X, X, 0, "x2", "2");
    note_as(w, A, A, 0, "a1", "1");
    uint64_t v = 2;
    admit_as(w, X, X, v + 1, P);
    vote_about(w, X, X, v + 2, A, KA, 1);
    vote_about(w, P, P, 0, A, KA, 1);
    return v;
}

/* World 389 of test_rekeyrand: a thief holding X's old key (admission 1)
 * races X's rekey by rekeying the honest voter A first: after X's cut it
 * admits a puppet P, and X and P vote that A signs with KA from a cut
 * below A's vote about X.  D(A, 1) must not read X's records beyond X's
 * cut (P is no member there); D(X, v) must count A's vote, beyond A's
 * candidate cut. */
static void voter_race_puppet_beyond_cut(void **state)
{
    (void)state;
    world w = { 0 };
    uint64_t v = race389_base(&w);
    size_t honest[2];
    honest[0] = vote(&w, A, K, v, 0);
    honest[1] = vote(&w, F, K, v, 0);
    race_orders(&w, honest, 2, v, 0, 1, 1);
    world_free(&w);
}

/* World 1404's shape: the puppet is admitted at or below X's cut (the
 * voters' cut keeps it), and the thief's vote on A, beyond X's cut, is
 * dated before the honest ones.  An exemption of every candidate's rekey
 * votes beyond its cut counted it with P's and rekeyed A first; the
 * what-ifs without the exemption decide X (B and C vote from below any
 * cut), and the thief's vote then never counts. */
static void voter_race_puppet_below_cut(void **state)
{
    (void)state;
    world w = { 0 };
    found(&w);
    admit_as(&w, F, F, 0, X);
    admit_as(&w, F, F, 0, A);
    admit_as(&w, F, F, 0, B);
    admit_as(&w, F, F, 0, C);
    note_as(&w, X, X, 0, "x1", "1");
    note_as(&w, A, A, 0, "a1", "1");
    admit_as(&w, X, X, 2, P);   /* the thief's, below the cut */
    uint64_t v = 2;
    vote_about(&w, X, X, v + 1, A, KA, 1);
    vote_about(&w, P, P, 0, A, KA, 1);
    size_t honest[3];
    honest[0] = vote(&w, A, K, v, 0);
    honest[1] = vote(&w, B, K, v, 0);
    honest[2] = vote(&w, C, K, v, 0);
    /* the store fed the honest votes first keeps the thief's vote apart on
     * arrival (it refused it before DECISIONS 22's class (ii) was cured),
     * the others hold it apart once X is decided: X's decision must
     * complete at B's vote in all (A's vote about X is read: two of A's
     * voters do not vote from below their cuts) */
    race_orders(&w, honest, 3, v, 1, 1, 1);
    world_free(&w);
}

/* A run of X's records verified under the key of its first (as ingest
 * does: the precheck says gap for the later ones, whose predecessor is in
 * the batch) must not carry X's old key past a decided cut. */
static void run_across_the_cut(void **state)
{
    (void)state;
    world w = { 0 };
    char err[256];
    uint64_t v = base3(&w);   /* X's seqs 1..3 are w.v[3..5] */
    vote(&w, F, K, v, 0);
    vote(&w, A, K, v, 0);
    size_t thief = note_as(&w, X, X, v + 1, "x4", "thief");
    size_t o[WMAX], n = 0;
    for (size_t i = 1; i < w.n; i++)
        if (i != 5 && i != thief)
            o[n++] = i;
    store *s = fed(&w, o, n, 2, NULL);
    expect_key(s, v + 1, K);
    assert_int_equal(store_vv_get(s, &ids[X].id), v - 1);
    /* one batch: X's seq v (old key, below the cut) and the thief's v + 1 */
    proto_record r[2];
    int res[2];
    EVP_PKEY *keys[2];
    assert_int_equal(proto_record_decode(w.v[5].b, w.v[5].n, &r[0], err, sizeof err), 0);
    assert_int_equal(proto_record_decode(w.v[thief].b, w.v[thief].n, &r[1], err, sizeof err), 0);
    assert_int_equal(store_precheck_batch(s, r, 2, res, keys, 0, err, sizeof err), 0);
    assert_int_equal(res[0], STORE_NEW);
    assert_int_equal(res[1], STORE_GAP);
    assert_int_equal(proto_record_verify(&r[0], keys[0], NULL, 0), 0);
    assert_int_equal(proto_record_verify(&r[1], keys[0], NULL, 0), 0);   /* the run's key */
    EVP_PKEY_free(keys[0]);
    EVP_PKEY_free(keys[1]);
    assert_int_equal(store_apply_prechecked(s, r, 2, res, err, sizeof err), 0);
    assert_int_equal(res[0], STORE_NEW);
    assert_true(res[1] != STORE_NEW);
    assert_int_equal(store_vv_get(s, &ids[X].id), v);
    drop(s);
    world_free(&w);
}

static uint32_t rnd(uint64_t *st)
{
    *st ^= *st << 13;
    *st ^= *st >> 7;
    *st ^= *st << 17;
    return (uint32_t)(*st >> 11);
}

/* Any order, any batching: the thief's world with a backdated competitor
 * and a stale vote gives the same members, keys, logs and digest. */
static void any_order_same_result(void **state)
{
    (void)state;
    world w = { 0 };
    size_t fv;
    uint64_t v = thief_world(&w, &fv);
    admit_as(&w, F, F, 0, B);
    vote(&w, B, K2, v, 0);
    vote(&w, B, K, v + 1, 0);   /* another cut: stale */
    store *ref = fed_all(&w, 1, NULL);
    fprint want;
    fingerprint(ref, &want);
    thief_checks(ref, v);
    drop(ref);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int runs = getenv("REKEY_RUNS") ? atoi(getenv("REKEY_RUNS")) : 200;
    for (int run = 0; run < runs; run++) {
        size_t o[WMAX], n = w.n - 1;
        for (size_t i = 0; i < n; i++)
            o[i] = i + 1;
        for (size_t i = n; i > 1; i--) {
            size_t j = rnd(&seed) % i, t = o[i - 1];
            o[i - 1] = o[j];
            o[j] = t;
        }
        size_t batch = 1 + rnd(&seed) % 8;
        store *s = fed(&w, o, n, batch, NULL);
        fprint got;
        fingerprint(s, &got);
        char how[64];
        snprintf(how, sizeof how, "run %d batch %zu", run, batch);
        fp_same(&want, &got, how);
        if (run % 16 == 0) {
            char err[256];
            assert_int_equal(store_member_rederive(s, NULL, err, sizeof err), 0);
            fingerprint(s, &got);
            fp_same(&want, &got, "rederived");
        }
        drop(s);
    }
    uint64_t rd, nested, replays;
    store *s = fed_all(&w, 1, NULL);
    store_rekey_stats(s, &rd, &nested, &replays);
    print_message("one store fed in order: %llu rederives with rekeys, %llu nested what-if replays, %llu replays\n",
                  (unsigned long long)rd, (unsigned long long)nested, (unsigned long long)replays);
    drop(s);
    world_free(&w);
}

/* A rekey subject is read from every version held, wherever it sits.
 * X's old key votes that A signs with KA (X seq 4, the only vote about
 * A: it opens A's epoch).  B and F vote K for X at cut 3: decided, and X
 * seq 4 goes apart.  A's vote for X at cut 2, dated before theirs, comes
 * last: it fixes X's epoch at cut 2, the decision is unmade and X seq 4
 * is back in X's log.  The derivation that unmade it read X seq 4 from
 * records apart (X's log beyond the candidate cut 3 is read as the
 * versions valid under the schedule), and it must take it as the vote it
 * is: A's epoch open, as a derivation from scratch finds it (an earlier
 * version registered the rekey subjects from the votes in the log only,
 * and A's epoch was missing until the next rederive). */
static void subject_voted_from_apart(void **state)
{
    (void)state;
    world w = { 0 };
    uint64_t v = base3(&w);
    admit_as(&w, F, F, 0, B);   /* 4 members: quorum 2 */
    vote_about(&w, X, X, v + 1, A, KA, 1);
    uint64_t ta = (w.t += 1000);   /* A's vote, backdated before B's and F's */
    vote(&w, B, K, v, 0);
    vote(&w, F, K, v, 0);
    size_t late = vote_t(&w, A, K, v - 1, 0, ta);
    size_t o[WMAX], n = 0;
    for (size_t i = 1; i < w.n; i++)
        if (i != late)
            o[n++] = i;
    store *s = fed(&w, o, n, 1, NULL);
    expect_key(s, v + 1, K);   /* decided: X seq 4 set apart */
    assert_int_equal(store_vv_get(s, &ids[X].id), v);
    feed(s, &w, &late, 1, 1, NULL);
    expect_key(s, v + 1, X);   /* unmade: X seq 4 back in the log */
    assert_int_equal(store_vv_get(s, &ids[X].id), v + 1);
    uint32_t gen = 9;
    uint64_t open_a = 0;
    assert_int_equal(store_member_rekeys(s, &ids[A].id, &gen, &open_a, NULL, NULL), 0);
    assert_int_equal(gen, 0);
    assert_int_equal(open_a, 1);   /* A's epoch, opened by X seq 4 */
    rederived_and_in_order(&w, s);
    world_free(&w);
}

/* The thief's membership records beyond a decided cut sit apart (the
 * decision moved them out of X's log); the derivation never reads them
 * (rekey_inputs reads X's schedule's versions instead).  X's restored node
 * then writes notes under K at those seqs: each note fills the seq before
 * a run of the thief's records apart, and must not cost a derivation that
 * can derive nothing. */
#define THIEF_RUN 20
static void restored_writes_past_thief_records_apart(void **state)
{
    (void)state;
    world w = { 0 };
    char hx[65];
    uint64_t v = base3(&w);
    hexof(X, hx);
    for (int i = 1; i <= THIEF_RUN; i++) {
        proto_body *b = proto_body_new();
        proto_body_str(b, "op", "address");
        proto_body_str(b, "address", "203.0.113.66:7400");
        add_at(&w, X, X, v + (uint64_t)i, 0, "member", hx, b);
    }
    vote(&w, F, K, v, 0);
    vote(&w, A, K, v, 0);
    size_t first = w.n;
    for (int i = 1; i <= THIEF_RUN; i++) {
        char k[16];
        snprintf(k, sizeof k, "r%d", i);
        note_as(&w, X, K, v + (uint64_t)i, k, "restored");
    }
    size_t o[WMAX], n = 0;
    for (size_t i = 1; i < first; i++)
        o[n++] = i;
    store *s = fed(&w, o, n, 1, NULL);   /* the thief's records taken, then moved apart by the decision */
    expect_key(s, v + 1, K);
    assert_int_equal(store_vv_get(s, &ids[X].id), v);
    uint64_t r0, f0, r1, f1;
    store_member_stats(s, &r0, &f0);
    for (size_t i = first; i < w.n; i++)
        feed(s, &w, &i, 1, 1, NULL);
    store_member_stats(s, &r1, &f1);
    assert_int_equal(store_vv_get(s, &ids[X].id), v + THIEF_RUN);
    print_message("%d restored notes: %llu derivations, %llu that changed anything\n", THIEF_RUN,
                  (unsigned long long)(r1 - r0), (unsigned long long)(f1 - f0));
    assert_int_equal(f1 - f0, 0);
    assert_true(r1 - r0 <= 1);
    drop(s);
    world_free(&w);
}

/* by's expel vote about who, naming the seq of who it held, dated time
 * (0: next). */
static size_t expel_held(world *w, int by, int who, uint64_t held, uint64_t time)
{
    char k[65];
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "expel");
    proto_body_int(b, "seq", (int64_t)held);
    hexof(who, k);
    return add_at(w, by, by, 0, time, "member", k, b);
}

static const char *address_of(store *s, int who, char out[256])
{
    store_member m;
    assert_int_equal(store_member_get(s, &ids[who].id, &m), 0);
    memcpy(out, m.address, 256);
    return out;
}


/* X is expelled at cut 5 (F and A held 5) while two votes name the rekey
 * cut 4 (for two keys: nothing completes), so X's log beyond 4 is read as
 * a rekey subject's versions; X's address record at seq 6 lies beyond the
 * expulsion's cut and derives nothing (DECISIONS 16) — on a store that
 * took it while X was a member, one that took it apart, and when either
 * derives afresh.  Before, the derivation's rounds left it out of the
 * list it collected, but the subject's versions read it back: the store
 * that took it first kept the address, and a rederive brought it back on
 * the other (random world 1552, property (d)). */
static void former_beyond_cut_no_subject_version(void **state)
{
    (void)state;
    world w = { 0 };
    char err[256], a1[256], a2[256];
    found(&w);
    admit_as(&w, F, F, 0, A);
    admit_as(&w, F, F, 0, X);
    const char *xk[5] = { "x1", "x2", "x3", "x4", "x5" };
    for (int i = 0; i < 5; i++)
        note_as(&w, X, X, 0, xk[i], "x");
    char k[65];
    hexof(X, k);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "address");
    proto_body_str(b, "address", "198.51.100.2:7400");
    size_t addr = add_at(&w, X, X, 0, 0, "member", k, b);
    vote(&w, A, K2, 4, 0);
    vote(&w, F, K, 4, 0);
    expel_held(&w, F, X, 5, 0);
    expel_held(&w, A, X, 5, 0);
    /* s1: in order (the address taken while X was a member); s2: the
     * votes first, the address apart on arrival */
    store *s1 = fed_all(&w, 1, NULL);
    size_t o[WMAX], n = 0;
    for (size_t i = 1; i < w.n; i++)
        if (i != addr)
            o[n++] = i;
    o[n++] = addr;
    store *s2 = fed(&w, o, n, 1, NULL);
    for (int i = 0; i < 2; i++) {
        store *s = i ? s2 : s1;
        assert_int_equal(status_of(s, X), STORE_MEMBER_EXPELLED);
        assert_int_equal(store_vv_get(s, &ids[X].id), 5);
        assert_string_equal(address_of(s, X, a1), "");
        int changed = 1;
        assert_int_equal(store_member_rederive(s, &changed, err, sizeof err), 0);
        assert_int_equal(changed, 0);
        assert_string_equal(address_of(s, X, a2), "");
    }
    fprint f1, f2;
    fingerprint(s1, &f1);
    fingerprint(s2, &f2);
    fp_same(&f1, &f2, "address first / votes first");
    drop(s1);
    drop(s2);
    world_free(&w);
}

/* B is expelled by C and F naming cut `held` (3 or 4), unless B's own
 * record at seq 5, an expel vote about C dated before theirs, counts: with
 * A's vote about C it expels C first, C's vote about B then counts no
 * more, and B stays (DECISIONS 16, "what remains": the same on every store
 * holding the records).  B's seq 4, a note, arrives last: into the log
 * (held 4) or apart (held 3, beyond the cut), it makes B's records apart
 * at seq 5 a run the derivation reads, so the store derives again — as one
 * that took everything in order.  Before, a record that was no membership
 * record never made the store derive, and it kept B expelled until a
 * rederive (random world 604, property (d)). */
static void note_filling_hole_before_apart_vote(void **state)
{
    (void)state;
    for (uint64_t held = 3; held <= 4; held++) {
        world w = { 0 };
        found(&w);
        admit_as(&w, F, F, 0, A);
        admit_as(&w, F, F, 0, B);
        admit_as(&w, F, F, 0, C);
        note_as(&w, C, C, 0, "c1", "1");
        note_as(&w, B, B, 0, "b1", "1");
        note_as(&w, B, B, 0, "b2", "2");
        note_as(&w, B, B, 0, "b3", "3");
        size_t b4 = note_as(&w, B, B, 0, "b4", "4");
        expel_held(&w, B, C, 1, 0);
        expel_held(&w, A, C, 1, 0);
        expel_held(&w, C, B, held, 0);
        expel_held(&w, F, B, held, 0);
        size_t o[WMAX], n = 0;
        for (size_t i = 1; i < w.n; i++)
            if (i != b4)
                o[n++] = i;
        store *s = fed(&w, o, n, 1, NULL);
        assert_int_equal(status_of(s, B), STORE_MEMBER_EXPELLED);   /* B's seq 5 waits apart, unread */
        assert_int_equal(status_of(s, C), STORE_MEMBER_ACTIVE);
        feed(s, &w, &b4, 1, 1, NULL);
        assert_int_equal(status_of(s, B), STORE_MEMBER_ACTIVE);
        assert_int_equal(status_of(s, C), STORE_MEMBER_EXPELLED);
        assert_int_equal(store_vv_get(s, &ids[B].id), 5);   /* B a member again: its log whole */
        rederived_and_in_order(&w, s);
        world_free(&w);
    }
}

/* A thief holding X's old key admits a puppet P beyond X's cut and, with
 * P, expels B (expulsion quorum 2); B's vote for X's rekey, the second,
 * reaches the store after that expulsion: kept apart, beyond B's cut, and
 * dated after every turn.  The derivation reads it, and in D(X, v) — X's
 * log up to the cut, no puppet, no expulsion — B is a member and its vote
 * completes the rekey.  Before, a membership record kept apart that sorted
 * after every turn made the store derive nothing (its author is no member
 * now), so the rekey stayed undecided until a rederive decided it (random
 * worlds 1891, 1965, property (d)). */
static void voter_expelled_by_thief_vote_apart(void **state)
{
    (void)state;
    world w = { 0 };
    uint64_t v = base3(&w);
    admit_as(&w, F, F, 0, B);
    note_as(&w, B, B, 0, "b1", "1");
    admit_as(&w, X, X, v + 1, P);
    expel_held(&w, P, B, 1, 0);
    expel_held(&w, X, B, 1, 0);
    vote(&w, F, K, v, 0);
    size_t late = vote(&w, B, K, v, 0);
    size_t o[WMAX], n = 0;
    for (size_t i = 1; i < w.n; i++)
        if (i != late)
            o[n++] = i;
    store *s = fed(&w, o, n, 1, NULL);
    assert_int_equal(status_of(s, B), STORE_MEMBER_EXPELLED);   /* one voter: nothing decided */
    expect_key(s, v + 1, X);
    feed_stats st = { 0 };
    feed(s, &w, &late, 1, 1, &st);
    assert_int_equal(st.former, 1);   /* kept apart, beyond B's cut */
    expect_key(s, v + 1, K);          /* decided at once */
    assert_int_equal(status_of(s, B), STORE_MEMBER_ACTIVE);
    assert_int_equal(status_of(s, P), -1);   /* never a member */
    rederived_and_in_order(&w, s);
    world_free(&w);
}

/* World 4154's shape.  The thief holding X's old key admits P beyond X's
 * cut and, with P, rekeys A from cut 1; A's records after that cut (a
 * note, then its vote about X) reach the store only after the thief's
 * rekey of A is decided there, and the vote first.  Held, A's vote is X's
 * second voter: X's rekey is decided, P is no member and A's rekey undone
 * — what a store that took A's records before the thief's holds.  Before,
 * A's vote, two seqs past A's log end, waited as a gap for ever (the log
 * does not grow through A's note, kept apart), and once it was kept, A's
 * note arriving after it made the store derive nothing: the replay reads
 * A's versions only up to the first seq with none. */
static void retired_run_beyond_log_end(void **state)
{
    (void)state;
    world w = { 0 };
    uint64_t v = race389_base(&w);
    size_t fv = vote(&w, F, K, v, 0);
    size_t a2 = note_as(&w, A, A, 0, "a2", "2");
    size_t a3 = vote(&w, A, K, v, 0);
    size_t o[WMAX], n = 0;
    for (size_t i = 1; i < w.n; i++)
        if (i != a2 && i != a3 && i != fv)
            o[n++] = i;
    o[n++] = fv;
    store *s = fed(&w, o, n, 1, NULL);
    expect_key_of(s, A, 2, KA);   /* the thief's rekey of A, decided */
    assert_int_equal(status_of(s, P), STORE_MEMBER_ACTIVE);
    feed_stats st = { 0 };
    feed(s, &w, &a3, 1, 1, &st);
    assert_int_equal(st.former, 1);   /* kept apart, past A's log end */
    expect_key_of(s, A, 2, KA);       /* not read yet: A's seq 2 is not held */
    feed(s, &w, &a2, 1, 1, &st);
    assert_int_equal(st.former, 2);
    expect_key(s, v + 1, K);          /* A's vote read: X's rekey decided */
    expect_key_of(s, A, 2, A);
    assert_int_equal(status_of(s, P), -1);
    assert_int_equal(store_vv_get(s, &ids[A].id), 3);   /* A's log whole again */
    rederived_and_in_order(&w, s);
    world_free(&w);
}

/* ---- a flood of records signed by a retired key ---- */

typedef struct { uint8_t *b; size_t n; } blob;

static blob sign_blob(const world *w, int author, int key, uint64_t seq, uint64_t time, const char *kind,
                      const char *k, proto_body *body)
{
    char err[256];
    blob b = { 0 };
    if (proto_record_sign(&w->g, &ids[author].id, kind, k, seq, time, 0, body, ids[key].key, &b.b, &b.n, err,
                          sizeof err))
        fail_msg("sign: %s", err);
    proto_body_free(body);
    return b;
}

static int hash_desc(const void *a, const void *b)
{
    const blob *x = a, *y = b;
    proto_id hx, hy;
    proto_record_hash(x->b, x->n, &hx);
    proto_record_hash(y->b, y->n, &hy);
    return -memcmp(hx.b, hy.b, 32);
}

typedef struct { size_t handed, kept; } offer_stats;

/* Offer one record the way ingest takes it: precheck, the signature under
 * the key the store names and its alternatives, then the apply, or the
 * keeping apart of a retired key's record.  The result, and in *os
 * whether the precheck handed out a retired key for it. */
static int offer(store *s, const blob *b, offer_stats *os)
{
    char err[256];
    proto_record r;
    int res, out, verified = 0;
    EVP_PKEY *key = NULL;
    store_alt_keys alt;
    assert_int_equal(proto_record_decode(b->b, b->n, &r, err, sizeof err), 0);
    assert_int_equal(store_precheck_batch_alt(s, &r, 1, &res, &key, &alt, 0, err, sizeof err), 0);
    if (res == STORE_GAP && alt.past_end) {
        res = STORE_NEW;   /* past its author's log end: under the rekey's keys alone (store.h) */
        alt.fail_res = STORE_GAP;
    }
    if (res != STORE_NEW && res != STORE_FORK) {
        EVP_PKEY_free(key);
        store_alt_keys_free(&alt);
        return res;
    }
    for (unsigned i = 0; i < alt.n; i++)
        os->handed += alt.res[i] == STORE_FORMER;
    int v = store_verify_alt_ex(&r, key, &alt, &verified);
    EVP_PKEY_free(key);
    store_alt_keys_free(&alt);
    if (v == STORE_FORMER && verified) {
        assert_int_equal(store_apply_retired(s, &r, 1, &out, err, sizeof err), 0);
        os->kept += out == STORE_FORMER;
        return out;
    }
    if (v != STORE_NEW)
        return v < 0 ? v : v == STORE_FORMER ? -STORE_FORMER : v;   /* -STORE_FORMER: refused, no check */
    assert_int_equal(store_apply_batch(s, &r, 1, &out, err, sizeof err), 0);
    return out;
}

/* A thief holding X's old key, after X's rekey is decided at cut v, signs
 * versions of X's seq v+1 (membership records: each kept makes the store
 * derive again) and sends them in descending hash order, each lower than
 * the two kept: the store keeps at most STORE_RETIRED_ARRIVALS_MAX of X's
 * apart ever, and past that (or beyond STORE_FORMER_APART_SEQS seqs after
 * the cut) the precheck hands the retired key out no more — no signature
 * check under it, no derivation — and the record is refused as no
 * forgery. */
#define RFLOOD (STORE_RETIRED_ARRIVALS_MAX + 40)
static void retired_flood_is_bounded(void **state)
{
    (void)state;
    world w = { 0 };
    char hx[65];
    uint64_t v = base3(&w);
    vote(&w, F, K, v, 0);
    vote(&w, A, K, v, 0);
    store *s = fed_all(&w, 1, NULL);
    expect_key(s, v + 1, K);
    hexof(X, hx);
    offer_stats os = { 0, 0 };
    /* X's restored node writes under K up to 65 seqs past the cut */
    for (uint64_t q = v + 1; q <= v + STORE_FORMER_APART_SEQS + 1; q++) {
        blob b = sign_blob(&w, X, K, q, w.t + q, "note", "k", proto_body_new());
        assert_int_equal(offer(s, &b, &os), STORE_NEW);   /* verified under K first */
        free(b.b);
    }
    os.handed = 0;
    /* the old key's after the cut: kept within STORE_FORMER_APART_SEQS seqs of
     * it, refused with no check under it beyond */
    blob in = sign_blob(&w, X, X, v + STORE_FORMER_APART_SEQS, w.t + 1, "note", "t", proto_body_new());
    blob out = sign_blob(&w, X, X, v + STORE_FORMER_APART_SEQS + 1, w.t + 1, "note", "t", proto_body_new());
    assert_int_equal(offer(s, &in, &os), STORE_FORMER);
    assert_int_equal(os.handed, 1);
    assert_int_equal(os.kept, 1);
    assert_int_equal(offer(s, &in, &os), STORE_DUP);   /* held apart: a duplicate, no check */
    assert_int_equal(offer(s, &out, &os), -STORE_FORMER);
    assert_int_equal(os.handed, 1);
    assert_int_equal(store_former_apart_count(s, &ids[X].id), 1);
    blob *fl = calloc(RFLOOD, sizeof *fl);
    assert_non_null(fl);
    for (size_t i = 0; i < RFLOOD; i++) {
        char a[32];
        snprintf(a, sizeof a, "198.51.100.%zu:%zu", i % 250 + 1, 7400 + i / 250);
        proto_body *b = proto_body_new();
        proto_body_str(b, "op", "address");
        proto_body_str(b, "address", a);
        fl[i] = sign_blob(&w, X, X, v + 1, w.t + 1, "member", hx, b);
    }
    qsort(fl, RFLOOD, sizeof *fl, hash_desc);
    uint64_t rd0, rd1, fx;
    store_member_stats(s, &rd0, &fx);
    os.handed = os.kept = 0;
    size_t refused = 0;
    for (size_t i = 0; i < RFLOOD; i++) {
        int r = offer(s, &fl[i], &os);
        assert_true(r == STORE_FORMER || r == -STORE_FORMER);
        refused += r == -STORE_FORMER;
    }
    store_member_stats(s, &rd1, &fx);
    print_message("rederives for %u retired-key versions sent in descending hash order: %llu\n", RFLOOD,
                  (unsigned long long)(rd1 - rd0));
    /* the budget less the one kept above, then no key handed out */
    assert_int_equal(os.handed, STORE_RETIRED_ARRIVALS_MAX - 1);
    assert_int_equal(os.kept, STORE_RETIRED_ARRIVALS_MAX - 1);
    assert_int_equal(refused, RFLOOD - (STORE_RETIRED_ARRIVALS_MAX - 1));
    assert_true(rd1 - rd0 <= STORE_RETIRED_ARRIVALS_MAX);
    assert_true(rd1 - rd0 >= STORE_APART_SEQ_VERSIONS);
    assert_int_equal(store_former_apart_count(s, &ids[X].id), 1 + STORE_APART_SEQ_VERSIONS);
    /* nothing of it in the log, the decision stands */
    expect_key(s, v + 1, K);
    assert_int_equal(signed_by_at(s, X, v + 1, K), 1);
    assert_int_equal(store_vv_get(s, &ids[X].id), v + STORE_FORMER_APART_SEQS + 1);
    for (size_t i = 0; i < RFLOOD; i++)
        free(fl[i].b);
    free(fl);
    free(in.b);
    free(out.b);
    drop(s);
    world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vote_rules),
        cmocka_unit_test(one_vote_not_enough_two_complete),
        cmocka_unit_test(founder_alone_cannot_rekey),
        cmocka_unit_test(cut_fixed_by_first_vote),
        cmocka_unit_test(stale_votes_cut_say_so),
        cmocka_unit_test(thief_in_order_and_votes_first),
        cmocka_unit_test(thief_raising_the_quorum_loses),
        cmocka_unit_test(expelled_voter_counts_in_d),
        cmocka_unit_test(run_across_the_cut),
        cmocka_unit_test(voter_race_puppet_beyond_cut),
        cmocka_unit_test(voter_race_puppet_below_cut),
        cmocka_unit_test(later_vote_does_not_move),
        cmocka_unit_test(backdated_competitor_completing_earlier_wins),
        cmocka_unit_test(second_rekey_after_the_first),
        cmocka_unit_test(any_order_same_result),
        cmocka_unit_test(subject_voted_from_apart),
        cmocka_unit_test(restored_writes_past_thief_records_apart),
        cmocka_unit_test(former_beyond_cut_no_subject_version),
        cmocka_unit_test(note_filling_hole_before_apart_vote),
        cmocka_unit_test(voter_expelled_by_thief_vote_apart),
        cmocka_unit_test(retired_run_beyond_log_end),
        cmocka_unit_test(retired_flood_is_bounded),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
