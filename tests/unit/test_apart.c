/* tests/unit/test_apart.c — store/store_apart.c with real LMDB environments:
 * re-judging an author's log under a key schedule (versions move between
 * the log, fork evidence and apart, both ways and back), the log stopping at
 * the first seq with no valid version, a rotate record set apart taking its
 * key with it, the bound on records apart, and the keys a rekey brings to
 * the precheck (a record of a rekey's new key waits as a gap; one of a key
 * a rekey retired, after its cut, is refused without a forgery).
 *
 * What a re-judge leaves is compared with a fresh store fed only the
 * versions valid under the schedule, the way a node takes them from a peer
 * (store_precheck + proto_record_verify + store_apply_batch): the digest,
 * the author's chain at every seq, the current records and their history.
 *
 * The derivation that decides a rekey is not here: the tests set the key
 * schedule themselves (key_set_txn, or a schedule function), as it would. */
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
#include <openssl/x509.h>

#include "store/store_int.h"
#include "certs/certs.h"
#include "tests/unit/identities.h"
#include "proto/record.h"
#include "proto/util.h"

/* founder; a member; two keys the member may be rekeyed or rotated to */
enum { F, M, K2, K3, NIDS };
static const char *const id_code[NIDS] = { "131059", "131016", "131016", "131016" };
static const char *const id_name[NIDS] = { "文京区", "千代田区", "千代田区", "千代田区" };

static char tmpdir[64];
static certs_identity ids[NIDS];
static int dirno;

static int group_setup(void **state)
{
    return identities_make(tmpdir, "/tmp/test_apart.XXXXXX", ids, NIDS, id_code, id_name, NULL);
}

static int group_teardown(void **state)
{
    identities_free(tmpdir, ids, NIDS);
    return 0;
}

typedef struct { uint8_t *b; size_t n; } blob;

static store *open_fresh(int self)
{
    char path[160], err[256];
    snprintf(path, sizeof path, "%s/store%d", tmpdir, dirno++);
    store *s = NULL;
    if (store_open(path, 256, &s, err, sizeof err) || store_bind_self(s, &ids[self].id, err, sizeof err))
        fail_msg("store %s: %s", path, err);
    return s;
}

static proto_id genesis_of(store *s)
{
    store_info in;
    assert_int_equal(store_info_get(s, &in), 0);
    assert_true(in.has_genesis);
    return in.genesis;
}

/* Sign as member M with the key of identity `key` (frees body). */
static blob sign_with(int key, const proto_id *g, uint64_t seq, const char *kind, const char *k,
                      proto_body *body)
{
    char err[256];
    blob b = { 0 };
    if (proto_record_sign(g, &ids[M].id, kind, k, seq, 1700000000000ull + seq, 0, body, ids[key].key,
                          &b.b, &b.n, err, sizeof err))
        fail_msg("sign: %s", err);
    proto_body_free(body);
    return b;
}

static proto_body *note(const char *v)
{
    proto_body *b = proto_body_new();
    proto_body_str(b, "v", v);
    return b;
}

static proto_body *rotate_body(int key)
{
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "rotate");
    proto_body_str(b, "code", ids[key].code);
    proto_body_str(b, "name", ids[key].name);
    proto_body_bin(b, "cert", ids[key].der, ids[key].der_len);
    return b;
}

static void mhex(char out[65])
{
    proto_hex(ids[M].id.b, 32, out);
}

static void decode(const blob *b, proto_record *r)
{
    char err[256];
    if (proto_record_decode(b->b, b->n, r, err, sizeof err))
        fail_msg("decode: %s", err);
}

/* precheck, verify under the key the store names, apply.  -1 when the
 * signature does not verify under that key. */
static int take(store *s, const blob *b)
{
    char err[256] = "";
    proto_record r;
    decode(b, &r);
    EVP_PKEY *k = NULL;
    int pre = store_precheck(s, &r, &k, err, sizeof err);
    if (pre != STORE_NEW && pre != STORE_FORK)
        return pre;
    int bad = proto_record_verify(&r, k, NULL, 0) != 0;
    EVP_PKEY_free(k);
    if (bad)
        return -1;
    int res = -1;
    if (store_apply_batch(s, &r, 1, &res, err, sizeof err))
        fail_msg("apply: %s", err);
    return res;
}

static int grab_cb(void *ctx, const uint8_t *rec, size_t len)
{
    blob *b = ctx;
    b->b = malloc(len);
    memcpy(b->b, rec, len);
    b->n = len;
    return 1;
}

static void make_base(blob *genesis, blob *admit)
{
    char err[256], hx[65];
    store *sf = open_fresh(F);
    if (store_create_genesis(sf, ids[F].key, ids[F].der, ids[F].der_len, ids[F].code, ids[F].name,
                             "別置試験連合", 1, "192.0.2.1:7400", err, sizeof err))
        fail_msg("genesis: %s", err);
    proto_body *b = proto_body_new();
    mhex(hx);
    proto_body_str(b, "op", "admit");
    proto_body_bin(b, "cert", ids[M].der, ids[M].der_len);
    proto_body_str(b, "code", ids[M].code);
    proto_body_str(b, "name", ids[M].name);
    if (store_write(sf, ids[F].key, "member", hx, 0, b, &admit->b, &admit->n, err, sizeof err))
        fail_msg("admit: %s", err);
    proto_body_free(b);
    store_range(sf, &ids[F].id, 1, 1, grab_cb, genesis);
    assert_non_null(genesis->b);
    store_close(sf);
}

static store *with_base(const blob *genesis, const blob *admit)
{
    store *s = open_fresh(F);
    assert_int_equal(take(s, genesis), STORE_NEW);
    assert_int_equal(take(s, admit), STORE_NEW);
    return s;
}

/* ---- writing as the derivation would ---- */

static MDB_txn *wbegin(store *s)
{
    MDB_txn *t = NULL;
    assert_int_equal(mdb_txn_begin(s->env, NULL, 0, &t), 0);
    return t;
}

static void wcommit(store *s, MDB_txn *t)
{
    assert_int_equal(mdb_txn_commit(t), 0);
    cache_clear(s);
}

static void spki_of(int who, uint8_t **der, int *len)
{
    *der = NULL;
    *len = i2d_PUBKEY(ids[who].key, der);
    assert_true(*len > 0);
}

/* M signs with identity who's key from seq on (a rekey's decision). */
static void set_key(store *s, uint64_t from, int who)
{
    uint8_t *der;
    int len;
    spki_of(who, &der, &len);
    MDB_txn *t = wbegin(s);
    assert_int_equal(key_set_txn(s, t, &ids[M].id, from, der, (size_t)len), 0);
    wcommit(s, t);
    OPENSSL_free(der);
}

/* Put a version into db apart directly (as a re-judge or a later rule would
 * have left it). */
static void put_apart(store *s, const blob *b)
{
    proto_record r;
    decode(b, &r);
    uint8_t k[72];
    memcpy(k, r.author.b, 32);
    put_be64(k + 32, r.seq);
    proto_record_hash(b->b, b->n, (proto_id *)(k + 40));
    MDB_txn *t = wbegin(s);
    MDB_val kv = { 72, k }, v = { b->n, b->b };
    assert_int_equal(mdb_put(t, s->apart, &kv, &v, 0), 0);
    wcommit(s, t);
}

/* A schedule: identity `before`'s key up to seq from-1, `after`'s from seq from. */
typedef struct { uint64_t from; int before, after; } sched;

static EVP_PKEY *sched_key(void *arg, store *s, MDB_txn *txn, const proto_id *author, uint64_t seq)
{
    const sched *c = arg;
    if (memcmp(author, &ids[M].id, 32))
        return key_at_txn(s, txn, author, seq);
    EVP_PKEY *k = ids[seq < c->from ? c->before : c->after].key;
    EVP_PKEY_up_ref(k);
    return k;
}

/* Re-judge M's log from `from` (sc NULL: the store's own schedule); returns changed. */
static int rejudge(store *s, uint64_t from, sched *sc)
{
    MDB_txn *t = wbegin(s);
    int changed = -1;
    assert_int_equal(log_rejudge_author_txn(s, t, &ids[M].id, from, sc ? sched_key : NULL, sc, &changed), 0);
    wcommit(s, t);
    return changed;
}

/* ---- comparing stores ---- */

typedef struct { uint8_t h[32]; size_t n; EVP_MD_CTX *md; } acc;

static void acc_init(acc *a)
{
    a->md = EVP_MD_CTX_new();
    a->n = 0;
    EVP_DigestInit_ex(a->md, EVP_sha256(), NULL);
}

static void acc_end(acc *a)
{
    EVP_DigestFinal_ex(a->md, a->h, NULL);
    EVP_MD_CTX_free(a->md);
}

static int acc_rec(void *ctx, const uint8_t *rec, size_t len)
{
    acc *a = ctx;
    uint8_t l[8];
    put_be64(l, len);
    EVP_DigestUpdate(a->md, l, 8);
    EVP_DigestUpdate(a->md, rec, len);
    a->n++;
    return 0;
}

static int acc_sum(void *ctx, uint64_t seq, const uint8_t *hash, const uint8_t *chain)
{
    acc *a = ctx;
    uint8_t l[8];
    put_be64(l, seq);
    EVP_DigestUpdate(a->md, l, 8);
    EVP_DigestUpdate(a->md, hash, 32);
    EVP_DigestUpdate(a->md, chain, 32);
    a->n++;
    return 0;
}

static int acc_key(void *ctx, uint64_t from, const proto_id *kid)
{
    acc *a = ctx;
    uint8_t l[8];
    put_be64(l, from);
    EVP_DigestUpdate(a->md, l, 8);
    EVP_DigestUpdate(a->md, kid->b, 32);
    a->n++;
    return 0;
}

/* What a store derived from M's log: digest, vv, chains, log, current
 * notes and members, each note key's history, and (keys) M's keys. */
static void state_of(store *s, int keys, uint8_t out[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    proto_id d;
    assert_int_equal(store_digest_get(s, &d, NULL, NULL), 0);
    EVP_DigestUpdate(md, d.b, 32);
    uint8_t vv[8];
    put_be64(vv, store_vv_get(s, &ids[M].id));
    EVP_DigestUpdate(md, vv, 8);
    acc a;
    acc_init(&a);
    store_sums(s, &ids[M].id, 1, UINT64_MAX, acc_sum, &a);
    store_range(s, &ids[M].id, 1, UINT64_MAX, acc_rec, &a);
    store_foreach_current(s, "note", acc_rec, &a);
    store_foreach_current(s, "member", acc_rec, &a);
    static const char *const nk[] = { "a", "b", "c", "d", "e", "x" };
    for (size_t i = 0; i < sizeof nk / sizeof nk[0]; i++)
        store_history(s, &ids[M].id, "note", nk[i], acc_rec, &a);
    if (keys)
        store_keys_of(s, &ids[M].id, acc_key, &a);
    acc_end(&a);
    EVP_DigestUpdate(md, a.h, 32);
    EVP_DigestFinal_ex(md, out, NULL);
    EVP_MD_CTX_free(md);
}

static void expect_same(store *s, store *truth, int keys, const char *what)
{
    uint8_t a[32], b[32];
    state_of(s, keys, a);
    state_of(truth, keys, b);
    if (memcmp(a, b, 32)) {
        proto_id da, db;
        store_digest_get(s, &da, NULL, NULL);
        store_digest_get(truth, &db, NULL, NULL);
        fail_msg("%s: the re-judged store differs from one fed only the valid versions "
                 "(vv %llu / %llu, digest %s)", what, (unsigned long long)store_vv_get(s, &ids[M].id),
                 (unsigned long long)store_vv_get(truth, &ids[M].id),
                 memcmp(da.b, db.b, 32) ? "differs" : "equal");
    }
}

static uint64_t forks_of(store *s)
{
    store_info in;
    assert_int_equal(store_info_get(s, &in), 0);
    return in.forks;
}

static int count_cb(void *arg, const proto_record *r, const proto_id *h, int where)
{
    (*(int *)arg)++;
    return 0;
}

static int versions_held(store *s, uint64_t seq)
{
    MDB_txn *t;
    int n = 0;
    assert_int_equal(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t), 0);
    assert_int_equal(versions_at_txn(s, t, &ids[M].id, seq, count_cb, &n), 0);
    mdb_txn_abort(t);
    return n;
}

static int hash_lt(const blob *a, const blob *b)
{
    uint8_t ha[32], hb[32];
    SHA256(a->b, a->n, ha);
    SHA256(b->b, b->n, hb);
    return memcmp(ha, hb, 32) < 0;
}

/* ---- tests ---- */

/* M's log 1..6 under its admitted key; a rekey to K2 from seq 4 with K2's
 * versions of 4..6 (two of 5: a fork under K2) held apart.  Re-judged
 * under the rekey, under no rekey, and under the rekey again, the store
 * equals each time one fed only the valid versions: current values revert
 * to older versions, keys only beyond the cut disappear from cur. */
static void rejudge_both_ways(void **state)
{
    blob gen = { 0 }, adm = { 0 };
    make_base(&gen, &adm);
    store *s = with_base(&gen, &adm);
    proto_id g = genesis_of(s);
    blob m[6] = {
        sign_with(M, &g, 1, "note", "a", note("1")),
        sign_with(M, &g, 2, "note", "b", note("2")),
        sign_with(M, &g, 3, "note", "a", note("3")),
        sign_with(M, &g, 4, "note", "c", note("4")),
        sign_with(M, &g, 5, "note", "a", note("5")),
        sign_with(M, &g, 6, "note", "d", note("6")),
    };
    blob k[4] = {
        sign_with(K2, &g, 4, "note", "a", note("K4")),
        sign_with(K2, &g, 5, "note", "e", note("K5")),
        sign_with(K2, &g, 5, "note", "e", note("K5 again")),
        sign_with(K2, &g, 6, "note", "b", note("K6")),
    };
    for (int i = 0; i < 6; i++)
        assert_int_equal(take(s, &m[i]), STORE_NEW);
    /* the truths: only M's versions; M's up to 3 and K2's after */
    store *ta = with_base(&gen, &adm), *tb = with_base(&gen, &adm);
    for (int i = 0; i < 6; i++)
        assert_int_equal(take(ta, &m[i]), STORE_NEW);
    set_key(tb, 4, K2);
    for (int i = 0; i < 3; i++)
        assert_int_equal(take(tb, &m[i]), STORE_NEW);
    assert_int_equal(take(tb, &k[0]), STORE_NEW);
    assert_int_equal(take(tb, &k[1]), STORE_NEW);
    assert_int_equal(take(tb, &k[2]), STORE_FORK);
    assert_int_equal(take(tb, &k[3]), STORE_NEW);
    assert_int_equal(forks_of(tb), 1);

    /* the rekey: K2 from 4, K2's versions held apart */
    set_key(s, 4, K2);
    for (int i = 0; i < 4; i++)
        put_apart(s, &k[i]);
    uint64_t rw = store_log_rewrites(s);
    assert_int_equal(rejudge(s, 4, NULL), 1);
    assert_true(store_log_rewrites(s) > rw);
    expect_same(s, tb, 0, "under the rekey");
    assert_int_equal(forks_of(s), 1);            /* the other K2 version of 5 */
    assert_int_equal(store_apart_count(s), 3);   /* M's 4..6 */
    assert_int_equal(versions_held(s, 5), 3);    /* M's, and K2's two */
    /* nothing changed: nothing moves, nothing counted */
    rw = store_log_rewrites(s);
    assert_int_equal(rejudge(s, 1, NULL), 0);
    assert_int_equal(store_log_rewrites(s), rw);
    expect_same(s, tb, 0, "re-judged again");

    /* the rekey unmade: M's key everywhere */
    sched none = { 1, M, M };
    assert_int_equal(rejudge(s, 4, &none), 1);
    expect_same(s, ta, 0, "without the rekey");
    assert_int_equal(forks_of(s), 0);
    assert_int_equal(store_apart_count(s), 4);   /* K2's four */

    /* and made again */
    assert_int_equal(rejudge(s, 4, NULL), 1);
    expect_same(s, tb, 0, "under the rekey again");
    assert_int_equal(store_apart_count(s), 3);
    /* a version apart arriving again is a duplicate, not a fork */
    assert_int_equal(take(s, &m[4]), STORE_DUP);

    for (int i = 0; i < 6; i++)
        free(m[i].b);
    for (int i = 0; i < 4; i++)
        free(k[i].b);
    free(gen.b);
    free(adm.b);
    store_close(s);
    store_close(ta);
    store_close(tb);
}

/* The log is dense: with no valid version at 4, everything after goes
 * apart, even valid ones; they come back when 4 arrives (a record after the
 * log's end that is held apart is taken again, and a re-judge restores the
 * rest). */
static void density(void **state)
{
    blob gen = { 0 }, adm = { 0 };
    make_base(&gen, &adm);
    store *s = with_base(&gen, &adm);
    proto_id g = genesis_of(s);
    blob m[6];
    for (int i = 0; i < 6; i++) {
        char key[2] = { (char)('a' + i % 3), 0 }, v[8];
        snprintf(v, sizeof v, "%d", i + 1);
        m[i] = sign_with(M, &g, (uint64_t)i + 1, "note", key, note(v));
        assert_int_equal(take(s, &m[i]), STORE_NEW);
    }
    blob k4 = sign_with(K2, &g, 4, "note", "x", note("K4"));
    blob k5 = sign_with(K2, &g, 5, "note", "a", note("K5"));
    blob k6 = sign_with(K2, &g, 6, "note", "b", note("K6"));
    store *t3 = with_base(&gen, &adm), *t6 = with_base(&gen, &adm);
    set_key(t3, 4, K2);
    set_key(t6, 4, K2);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(take(t3, &m[i]), STORE_NEW);
        assert_int_equal(take(t6, &m[i]), STORE_NEW);
    }
    assert_int_equal(take(t6, &k4), STORE_NEW);
    assert_int_equal(take(t6, &k5), STORE_NEW);
    assert_int_equal(take(t6, &k6), STORE_NEW);

    set_key(s, 4, K2);
    put_apart(s, &k5);
    put_apart(s, &k6);
    assert_int_equal(rejudge(s, 4, NULL), 1);
    assert_int_equal(store_vv_get(s, &ids[M].id), 3);
    assert_int_equal(store_apart_count(s), 5);   /* M's 4..6, K2's 5 and 6 */
    assert_int_equal(forks_of(s), 0);
    expect_same(s, t3, 0, "a hole at 4");
    /* 4 arrives; 5, held apart, arrives again and is taken */
    assert_int_equal(take(s, &k4), STORE_NEW);
    assert_int_equal(take(s, &k5), STORE_NEW);
    assert_int_equal(store_apart_count(s), 4);
    /* the rest comes back by a re-judge */
    assert_int_equal(rejudge(s, 4, NULL), 1);
    assert_int_equal(store_vv_get(s, &ids[M].id), 6);
    assert_int_equal(store_apart_count(s), 3);
    expect_same(s, t6, 0, "the hole filled");
    for (int i = 0; i < 6; i++)
        free(m[i].b);
    free(k4.b);
    free(k5.b);
    free(k6.b);
    free(gen.b);
    free(adm.b);
    store_close(s);
    store_close(t3);
    store_close(t6);
}

/* A rotate record set apart takes its key entry with it, and brings it back
 * when it returns to the log. */
static void rotate_apart(void **state)
{
    blob gen = { 0 }, adm = { 0 };
    char hx[65];
    mhex(hx);
    make_base(&gen, &adm);
    store *s = with_base(&gen, &adm), *t = with_base(&gen, &adm), *t3 = with_base(&gen, &adm);
    proto_id g = genesis_of(s);
    blob r[5] = {
        sign_with(M, &g, 1, "note", "a", note("1")),
        sign_with(M, &g, 2, "note", "b", note("2")),
        sign_with(M, &g, 3, "note", "a", note("3")),
        sign_with(M, &g, 4, "member", hx, rotate_body(K3)),
        sign_with(K3, &g, 5, "note", "c", note("5")),
    };
    for (int i = 0; i < 5; i++) {
        assert_int_equal(take(s, &r[i]), STORE_NEW);
        assert_int_equal(take(t, &r[i]), STORE_NEW);
        if (i < 3)
            assert_int_equal(take(t3, &r[i]), STORE_NEW);
    }
    proto_id owner;
    assert_int_equal(store_key_owner(s, &ids[K3].id, &owner), STORE_KEY_CURRENT);
    /* a schedule in which K2 signs from 4: the rotation is no valid record */
    sched k2 = { 4, M, K2 };
    assert_int_equal(rejudge(s, 4, &k2), 1);
    assert_int_equal(store_vv_get(s, &ids[M].id), 3);
    assert_int_equal(store_key_owner(s, &ids[K3].id, &owner), STORE_KEY_UNKNOWN);
    expect_same(s, t3, 1, "the rotation set apart");
    /* the store's own schedule again: the rotation comes back, and with it
     * K3 for seq 5 */
    assert_int_equal(rejudge(s, 4, NULL), 1);
    assert_int_equal(store_vv_get(s, &ids[M].id), 5);
    assert_int_equal(store_key_owner(s, &ids[K3].id, &owner), STORE_KEY_CURRENT);
    assert_memory_equal(owner.b, ids[M].id.b, 32);
    expect_same(s, t, 1, "the rotation back");
    assert_int_equal(store_apart_count(s), 0);
    for (int i = 0; i < 5; i++)
        free(r[i].b);
    free(gen.b);
    free(adm.b);
    store_close(s);
    store_close(t);
    store_close(t3);
}

/* At most STORE_APART_MAX records of an author apart: the lowest seqs go. */
static void apart_bound(void **state)
{
    blob gen = { 0 }, adm = { 0 };
    char err[256];
    make_base(&gen, &adm);
    store *s = with_base(&gen, &adm);
    proto_id g = genesis_of(s);
    const uint64_t n = STORE_APART_MAX + 3;
    enum { CHUNK = 512 };
    blob bl[CHUNK];
    proto_record recs[CHUNK];
    int res[CHUNK];
    for (uint64_t from = 1; from <= n; from += CHUNK) {
        size_t c = 0;
        for (uint64_t seq = from; seq < from + CHUNK && seq <= n; seq++, c++) {
            bl[c] = sign_with(M, &g, seq, "note", "a", note("v"));
            decode(&bl[c], &recs[c]);
        }
        if (store_apply_batch(s, recs, c, res, err, sizeof err))
            fail_msg("apply: %s", err);
        for (size_t i = 0; i < c; i++) {
            assert_int_equal(res[i], STORE_NEW);
            free(bl[i].b);
        }
    }
    assert_int_equal(store_vv_get(s, &ids[M].id), n);
    sched k2 = { 2, M, K2 };
    assert_int_equal(rejudge(s, 2, &k2), 1);
    assert_int_equal(store_vv_get(s, &ids[M].id), 1);
    assert_int_equal(store_apart_count(s), STORE_APART_MAX);
    assert_int_equal(versions_held(s, 2), 0);
    assert_int_equal(versions_held(s, 3), 0);
    assert_int_equal(versions_held(s, 4), 1);
    assert_int_equal(versions_held(s, n), 1);
    free(gen.b);
    free(adm.b);
    store_close(s);
}

/* A re-judge of an author the schedule gives no key (no member): its
 * whole log goes apart, its vector entry and chain with it.  (No
 * derivation asks for this any more: an author's records stay in the log
 * whatever the derivation says of its admission, DECISIONS 22; the
 * re-judge itself must still leave a consistent store.) */
static void not_a_member_set_apart(void **state)
{
    blob gen = { 0 }, adm = { 0 };
    make_base(&gen, &adm);
    store *s = with_base(&gen, &adm), *t = with_base(&gen, &adm);
    proto_id g = genesis_of(s);
    blob m[3];
    for (int i = 0; i < 3; i++) {
        m[i] = sign_with(M, &g, (uint64_t)i + 1, "note", i == 1 ? "b" : "a", note("m"));
        assert_int_equal(take(s, &m[i]), STORE_NEW);
    }
    /* the derivation finds M admitted by nothing: pending, no key */
    MDB_txn *w = wbegin(s);
    store_member mm;
    assert_int_equal(member_get_txn(s, w, &ids[M].id, &mm), 0);
    mm.status = STORE_MEMBER_PENDING;
    assert_int_equal(member_put_txn(s, w, &mm), 0);
    wcommit(s, w);
    w = wbegin(t);
    assert_int_equal(member_put_txn(t, w, &mm), 0);
    wcommit(t, w);
    assert_int_equal(rejudge(s, 1, NULL), 1);
    assert_int_equal(store_vv_get(s, &ids[M].id), 0);
    assert_int_equal(store_apart_count(s), 3);
    expect_same(s, t, 1, "no member");
    /* its records arriving again are a stranger's, as before it was
     * admitted (set aside within the budgets for unknown authors) */
    assert_int_equal(take(s, &m[0]), STORE_UNKNOWN_AUTHOR);
    assert_int_equal(store_apart_count(s), 3);
    for (int i = 0; i < 3; i++)
        free(m[i].b);
    free(gen.b);
    free(adm.b);
    store_close(s);
    store_close(t);
}

/* The keys a rekey brings to the precheck, and what a record verifying
 * under one of them is (ingest acts on it: waits as a gap, or is refused,
 * never a forgery). */
static void precheck_alternatives(void **state)
{
    blob gen = { 0 }, adm = { 0 };
    char err[256];
    make_base(&gen, &adm);
    store *s = with_base(&gen, &adm);
    proto_id g = genesis_of(s);
    blob m[3];
    for (int i = 0; i < 3; i++) {
        m[i] = sign_with(M, &g, (uint64_t)i + 1, "note", "a", note("m"));
        assert_int_equal(take(s, &m[i]), STORE_NEW);
    }
    blob b4k = sign_with(K2, &g, 4, "note", "a", note("K4")), b4m = sign_with(M, &g, 4, "note", "a", note("M4")),
         b4x = sign_with(K3, &g, 4, "note", "a", note("X4")), b5k = sign_with(K2, &g, 5, "note", "a", note("K5")),
         b3k = sign_with(K2, &g, 3, "note", "a", note("K3"));
    proto_record rr[5];
    decode(&b4k, &rr[0]);
    decode(&b4m, &rr[1]);
    decode(&b4x, &rr[2]);
    decode(&b5k, &rr[3]);
    decode(&b3k, &rr[4]);
    int res[5];
    EVP_PKEY *keys[5];
    store_alt_keys alts[5];

    /* no rekey anywhere: no alternatives */
    assert_int_equal(store_rekey_rules_any(s), 0);
    assert_int_equal(store_precheck_batch_alt(s, rr, 5, res, keys, alts, 0, err, sizeof err), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(alts[i].n, 0);
        EVP_PKEY_free(keys[i]);
    }

    /* an open epoch of M at cut 3 proposing K2 */
    uint8_t *der;
    int len;
    spki_of(K2, &der, &len);
    MDB_txn *t = wbegin(s);
    assert_int_equal(rekey_alt_put_txn(s, t, &ids[M].id, 3, der, (size_t)len), 0);
    wcommit(s, t);
    assert_int_equal(store_rekey_rules_any(s), 1);
    assert_int_equal(store_precheck_batch_alt(s, rr, 5, res, keys, alts, 0, err, sizeof err), 0);
    assert_int_equal(res[0], STORE_NEW);
    assert_int_equal(res[3], STORE_GAP);
    assert_int_equal(res[4], STORE_FORK);
    assert_int_equal(alts[0].n, 1);
    assert_int_equal(alts[3].n, 1);   /* a gap: ingest may take it as new within its batch */
    assert_int_equal(alts[4].n, 0);   /* at the cut: judged by M's key alone */
    assert_int_equal(store_verify_alt(&rr[0], keys[0], &alts[0]), STORE_GAP);
    assert_int_equal(store_verify_alt(&rr[1], keys[1], &alts[1]), STORE_NEW);
    assert_int_equal(store_verify_alt(&rr[2], keys[2], &alts[2]), -1);
    assert_int_equal(store_verify_alt(&rr[3], keys[0], &alts[3]), STORE_GAP);
    assert_int_equal(store_verify_alt(&rr[4], keys[4], &alts[4]), -1);
    assert_int_equal(store_verify_alt(&rr[0], keys[0], NULL), -1);
    for (int i = 0; i < 5; i++) {
        EVP_PKEY_free(keys[i]);
        store_alt_keys_free(&alts[i]);
    }

    /* decided: K2 from 4; M's old key signs nothing after 3 */
    t = wbegin(s);
    assert_int_equal(rekey_arrival_clear_txn(s, t), 0);
    assert_int_equal(rekey_cut_put_txn(s, t, &ids[M].id, 3), 0);
    uint8_t *d2 = NULL;
    assert_int_equal(key_set_txn(s, t, &ids[M].id, 4, der, (size_t)len), 0);
    wcommit(s, t);
    free(d2);
    uint64_t cut = 0;
    assert_int_equal(store_rekey_cut(s, &ids[M].id, &cut), 0);
    assert_int_equal(cut, 3);
    assert_int_equal(store_rekey_cut(s, &ids[F].id, &cut), 1);
    assert_int_equal(store_precheck_batch_alt(s, rr, 5, res, keys, alts, 0, err, sizeof err), 0);
    assert_int_equal(alts[0].n, 1);
    assert_int_equal(alts[0].res[0], STORE_FORMER);
    assert_int_equal(store_verify_alt(&rr[0], keys[0], &alts[0]), STORE_NEW);     /* K2's */
    assert_int_equal(store_verify_alt(&rr[1], keys[1], &alts[1]), STORE_FORMER);  /* M's old key */
    assert_int_equal(store_verify_alt(&rr[2], keys[2], &alts[2]), -1);            /* a forgery */
    assert_int_equal(store_verify_alt(&rr[4], keys[4], &alts[4]), -1);            /* at 3 K2 is no key */
    for (int i = 0; i < 5; i++) {
        EVP_PKEY_free(keys[i]);
        store_alt_keys_free(&alts[i]);
    }
    /* the rules are derived: a replay empties them before writing them again */
    t = wbegin(s);
    assert_int_equal(rekey_arrival_clear_txn(s, t), 0);
    wcommit(s, t);
    assert_int_equal(store_rekey_rules_any(s), 0);
    assert_int_equal(store_rekey_cut(s, &ids[M].id, &cut), 1);
    OPENSSL_free(der);
    for (int i = 0; i < 3; i++)
        free(m[i].b);
    free(b4k.b);
    free(b4m.b);
    free(b4x.b);
    free(b5k.b);
    free(b3k.b);
    free(gen.b);
    free(adm.b);
    store_close(s);
}

/* The versions of a seq in every place, and the authors with records apart. */
static int author_cb(void *arg, const proto_id *a)
{
    (*(int *)arg)++;
    return memcmp(a, &ids[M].id, 32) ? -5 : 0;
}

static void versions_and_authors(void **state)
{
    blob gen = { 0 }, adm = { 0 };
    make_base(&gen, &adm);
    store *s = with_base(&gen, &adm);
    proto_id g = genesis_of(s);
    blob a = sign_with(M, &g, 1, "note", "a", note("1")), b = sign_with(M, &g, 1, "note", "a", note("1b")),
         c = sign_with(K2, &g, 1, "note", "a", note("1c"));
    assert_int_equal(take(s, &a), STORE_NEW);
    assert_int_equal(take(s, &b), STORE_FORK);
    MDB_txn *t;
    assert_int_equal(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t), 0);
    assert_int_equal(apart_has_txn(s, t, &ids[M].id), 0);
    assert_int_equal(apart_any_txn(s, t), 0);
    mdb_txn_abort(t);
    put_apart(s, &c);
    assert_int_equal(versions_held(s, 1), 3);
    assert_int_equal(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t), 0);
    assert_int_equal(apart_has_txn(s, t, &ids[M].id), 1);
    assert_int_equal(apart_has_txn(s, t, &ids[F].id), 0);
    assert_int_equal(versions_top_txn(s, t, &ids[M].id), 1);
    int na = 0;
    assert_int_equal(apart_authors_txn(s, t, author_cb, &na), 0);
    assert_int_equal(na, 1);
    int no = 0;
    assert_int_equal(versions_outside_txn(s, t, count_cb, &no), 0);
    assert_int_equal(no, 2);   /* the fork's loser and c */
    mdb_txn_abort(t);
    /* under M's key the lowest hash of a and b stays, c goes nowhere else */
    assert_int_equal(rejudge(s, 1, NULL), 0);
    assert_int_equal(forks_of(s), 1);
    assert_int_equal(store_apart_count(s), 1);
    blob held = { 0 };
    store_range(s, &ids[M].id, 1, 1, grab_cb, &held);
    const blob *win = hash_lt(&a, &b) ? &a : &b;
    assert_int_equal(held.n, win->n);
    assert_memory_equal(held.b, win->b, held.n);
    free(held.b);
    free(a.b);
    free(b.b);
    free(c.b);
    free(gen.b);
    free(adm.b);
    store_close(s);
}

/* ---- review (rekeyrev5): an alliance without any rekey ----
 * (On the merge base, main, all three pass: M keeps its log, vv 8, and its
 * node writes seq 9.)
 *
 * F equivocates on the seq of its old admission of M (a second version of
 * seq 2, lower hash, so it wins as every fork's winner does).  M is honest
 * and its records verify under its key.  Then F admits M again (seq 3).
 * M's log must be whole again: nothing of an honest member may be lost
 * for good because an admitter forked. */
static blob f_sign(const proto_id *g, uint64_t seq, const char *kind, const char *k, proto_body *body)
{
    char err[256];
    blob b = { 0 };
    if (proto_record_sign(g, &ids[F].id, kind, k, seq, proto_now_ms() + seq, 0, body, ids[F].key,
                          &b.b, &b.n, err, sizeof err))
        fail_msg("sign: %s", err);
    proto_body_free(body);
    return b;
}

static proto_body *admit_body(void)
{
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "admit");
    proto_body_bin(b, "cert", ids[M].der, ids[M].der_len);
    proto_body_str(b, "code", ids[M].code);
    proto_body_str(b, "name", ids[M].name);
    return b;
}

static void admission_fork_then_readmit(uint64_t n, int self)
{
    blob gen = { 0 }, adm = { 0 };
    make_base(&gen, &adm);
    store *s = open_fresh(self);
    assert_int_equal(take(s, &gen), STORE_NEW);
    assert_int_equal(take(s, &adm), STORE_NEW);
    proto_id g = genesis_of(s);
    for (uint64_t i = 1; i <= n; i++) {
        char k[32];
        snprintf(k, sizeof k, "k%llu", (unsigned long long)(i % 7));
        blob b = sign_with(M, &g, i, "note", k, note("m"));
        assert_int_equal(take(s, &b), STORE_NEW);
        free(b.b);
    }
    assert_int_equal(store_vv_get(s, &ids[M].id), n);
    /* F's second version of its seq 2 (the admission), with a lower hash */
    proto_id ha, hb;
    proto_record_hash(adm.b, adm.n, &ha);
    blob alt = { 0 };
    for (int j = 0;; j++) {
        char v[16];
        snprintf(v, sizeof v, "x%d", j);
        alt = f_sign(&g, 2, "note", "x", note(v));
        proto_record_hash(alt.b, alt.n, &hb);
        if (memcmp(&hb, &ha, 32) < 0)
            break;
        free(alt.b);
    }
    assert_int_equal(take(s, &alt), STORE_FORK);
    fprintf(stderr, "after the fork: vv(M) %llu, apart %llu\n", (unsigned long long)store_vv_get(s, &ids[M].id),
            (unsigned long long)store_apart_count(s));
    /* F admits M again */
    char hx[65];
    mhex(hx);
    blob re = f_sign(&g, 3, "member", hx, admit_body());
    assert_int_equal(take(s, &re), STORE_NEW);
    store_member sm;
    int have = store_member_get(s, &ids[M].id, &sm);
    fprintf(stderr, "after the new admission: vv(M) %llu, apart %llu, M status %d\n",
            (unsigned long long)store_vv_get(s, &ids[M].id), (unsigned long long)store_apart_count(s),
            have == 0 ? sm.status : -1);
    if (self != M)
        assert_int_equal(store_vv_get(s, &ids[M].id), n);
    if (self == M) {
        /* M's own node goes on after its log, never at a seq it signed */
        char err[256];
        uint8_t *out = NULL;
        size_t outn = 0;
        proto_body *b = note("after");
        assert_int_equal(store_write(s, ids[M].key, "note", "z", 0, b, &out, &outn, err, sizeof err), 0);
        proto_body_free(b);
        proto_record r;
        blob ob = { out, outn };
        decode(&ob, &r);
        fprintf(stderr, "M's node wrote seq %llu (signed 1..%llu before)\n", (unsigned long long)r.seq,
                (unsigned long long)n);
        assert_true(r.seq > n);
        free(out);
    }
    free(re.b);
    free(alt.b);
    free(gen.b);
    free(adm.b);
    store_close(s);
}

static void admission_fork_small(void **state)
{
    admission_fork_then_readmit(8, F);
}

static void admission_fork_own_node(void **state)
{
    admission_fork_then_readmit(8, M);
}

static void admission_fork_large(void **state)
{
    admission_fork_then_readmit(STORE_APART_MAX + 8, F);
}

/* A node never signs at or below a seq it holds a version of itself at,
 * wherever that version is (here: M's log set apart by a re-judge under a
 * schedule M's key does not fit, then its own key back in force): it
 * refuses the write rather than sign seq 2 again. */
static void own_node_never_signs_again(void **state)
{
    blob gen = { 0 }, adm = { 0 };
    char err[256];
    make_base(&gen, &adm);
    store *s = open_fresh(M);
    assert_int_equal(take(s, &gen), STORE_NEW);
    assert_int_equal(take(s, &adm), STORE_NEW);
    proto_id g = genesis_of(s);
    for (uint64_t i = 1; i <= 4; i++) {
        blob b = sign_with(M, &g, i, "note", "a", note("m"));
        assert_int_equal(take(s, &b), STORE_NEW);
        free(b.b);
    }
    sched k2 = { 2, M, K2 };
    assert_int_equal(rejudge(s, 2, &k2), 1);
    assert_int_equal(store_vv_get(s, &ids[M].id), 1);
    assert_int_equal(store_apart_count(s), 3);
    uint8_t *out = NULL;
    size_t outn = 0;
    proto_body *b = note("again");
    err[0] = 0;
    assert_int_equal(store_write(s, ids[M].key, "note", "z", 0, b, &out, &outn, err, sizeof err), -1);
    assert_non_null(strstr(err, "up to seq 4"));
    assert_int_equal(store_vv_get(s, &ids[M].id), 1);
    /* once the log holds them again the node goes on after them */
    assert_int_equal(rejudge(s, 2, NULL), 1);
    assert_int_equal(store_vv_get(s, &ids[M].id), 4);
    assert_int_equal(store_write(s, ids[M].key, "note", "z", 0, b, &out, &outn, err, sizeof err), 0);
    assert_int_equal(store_vv_get(s, &ids[M].id), 5);
    free(out);
    proto_body_free(b);
    free(gen.b);
    free(adm.b);
    store_close(s);
}

/* ---- review (rekeyrev5): one member's single rekey vote with cut 1 ----
 * must not make every later membership record's derivation walk the
 * subject's whole log (every version read, signatures checked).  Counted
 * as work, not time: the versions rekey_subject_log reads. */
static void f_address(store *s, int i)
{
    char err[256], hx[65], a[64];
    proto_hex(ids[F].id.b, 32, hx);
    snprintf(a, sizeof a, "192.0.2.%d:7400", i);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "address");
    proto_body_str(b, "address", a);
    uint8_t *out = NULL;
    size_t on = 0;
    if (store_write(s, ids[F].key, "member", hx, 0, b, &out, &on, err, sizeof err))
        fail_msg("address: %s", err);
    proto_body_free(b);
    free(out);
}

static void f_rekey_vote(store *s, int signer, uint64_t cut)
{
    char err[256], hx[65];
    proto_body *b = proto_body_new();
    mhex(hx);
    proto_body_str(b, "op", "rekey");
    proto_body_bin(b, "cert", ids[K2].der, ids[K2].der_len);
    proto_body_str(b, "code", ids[K2].code);
    proto_body_str(b, "name", ids[K2].name);
    proto_body_int(b, "cut", (int64_t)cut);
    proto_body_int(b, "gen", 0);
    proto_body_str(b, "reason", "test");
    uint8_t *out = NULL;
    size_t on = 0;
    if (store_write(s, ids[signer].key, "member", hx, 0, b, &out, &on, err, sizeof err))
        fail_msg("rekey: %s", err);
    proto_body_free(b);
    free(out);
}

static void one_vote_walks_whole_log(void **state)
{
    blob gen = { 0 }, adm = { 0 };
    char err[256];
    make_base(&gen, &adm);
    store *s = with_base(&gen, &adm);
    proto_id g = genesis_of(s);
    const uint64_t n = 600;
    proto_record *rs = calloc(256, sizeof *rs);
    int res[256];
    blob bs[256];
    for (uint64_t i = 1; i <= n;) {
        size_t k = 0;
        for (; k < 256 && i <= n; k++, i++) {
            char key[32];
            snprintf(key, sizeof key, "k%llu", (unsigned long long)i);
            bs[k] = sign_with(M, &g, i, "note", key, note("m"));
            decode(&bs[k], &rs[k]);
        }
        if (store_apply_batch(s, rs, k, res, err, sizeof err))
            fail_msg("apply: %s", err);
        for (size_t j = 0; j < k; j++)
            free(bs[j].b);
    }
    free(rs);
    assert_int_equal(store_vv_get(s, &ids[M].id), n);
    f_address(s, 10);
    uint64_t w0 = store_rekey_versions_read(s);
    /* F's one vote: rekey M to K2 from cut 1; it can never be a candidate
     * (one voter) */
    f_rekey_vote(s, F, 1);
    for (int i = 0; i < 3; i++)
        f_address(s, 20 + i);
    uint64_t w1 = store_rekey_versions_read(s);
    print_message("M holds %llu notes; versions of M read after one vote: %llu\n", (unsigned long long)n,
                  (unsigned long long)(w1 - w0));
    assert_int_equal(w1 - w0, 0);
    free(gen.b);
    free(adm.b);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rejudge_both_ways),
        cmocka_unit_test(density),
        cmocka_unit_test(rotate_apart),
        cmocka_unit_test(apart_bound),
        cmocka_unit_test(not_a_member_set_apart),
        cmocka_unit_test(precheck_alternatives),
        cmocka_unit_test(versions_and_authors),
        cmocka_unit_test(admission_fork_small),
        cmocka_unit_test(admission_fork_large),
        cmocka_unit_test(admission_fork_own_node),
        cmocka_unit_test(own_node_never_signs_again),
        cmocka_unit_test(one_vote_walks_whole_log),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
