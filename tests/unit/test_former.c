/* tests/unit/test_former.c — a former member's records beyond its cut are
 * kept apart, not refused (docs/DECISIONS.md 16), with real LMDB stores.
 *
 * Member M is expelled by F and A naming cut C (the seq of M each held).
 * M's records beyond C reach one store after the expulsion (kept apart on
 * arrival) and another before it (in its log until the expulsion is
 * derived, then moved apart): both end with the same log, membership and
 * digest, the record about M's address beyond the cut deriving nothing on
 * either.  When a fork of F's vote wins (the expulsion undone) the records
 * come back into the log, as on a store that never saw that vote win.  A
 * flood of records beyond the cut keeps STORE_FORMER_APART_SEQS seqs and
 * STORE_APART_SEQ_VERSIONS versions of a seq, on arrival and when moved.
 * A store derived by the old rule (records beyond the cut in its log, no
 * mark) moves them apart once when it opens.
 *
 * Records are taken the way a node takes a peer's: store_precheck, the
 * signature checked under the key it names, store_apply_batch. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "store/store_int.h"
#include "certs/certs.h"
#include "tests/unit/identities.h"
#include "proto/record.h"
#include "proto/util.h"

enum { F, A, M, K, B, Z, NIDS };   /* K: a key M rotates to; B, Z: two more members */
static const char *const id_code[NIDS] = { "131059", "131016", "131024", "131024", "131032", "131041" };
static const char *const id_name[NIDS] = { "文京区", "千代田区", "中央区", "中央区", "港区", "新宿区" };

#define CUT 3          /* M's seq the voters held */
#define T0 1700000000000ull

static char tmpdir[64];
static certs_identity ids[NIDS];
static int dirno;

typedef struct { uint8_t *b; size_t n; } blob;

static int group_setup(void **state)
{
    return identities_make(tmpdir, "/tmp/test_former.XXXXXX", ids, NIDS, id_code, id_name, NULL);
}

static int group_teardown(void **state)
{
    identities_free(tmpdir, ids, NIDS);
    return 0;
}

static store *open_path(const char *path, int self)
{
    char err[256];
    store *s = NULL;
    if (store_open(path, 256, &s, err, sizeof err) || store_bind_self(s, &ids[self].id, err, sizeof err))
        fail_msg("store %s: %s", path, err);
    return s;
}

static store *open_fresh(char path[160])
{
    snprintf(path, 160, "%s/store%d", tmpdir, dirno++);
    return open_path(path, F);
}

static void hexof(int who, char out[65])
{
    proto_hex(ids[who].id.b, 32, out);
}

/* A record of `who` signed with the key of identity `with` (frees body). */
static blob sign_with(int who, int with, const proto_id *g, uint64_t seq, uint64_t t, const char *kind,
                      const char *key, proto_body *body)
{
    char err[256];
    blob b = { 0 };
    if (proto_record_sign(g, &ids[who].id, kind, key, seq, t, 0, body, ids[with].key, &b.b, &b.n, err,
                          sizeof err))
        fail_msg("sign: %s", err);
    proto_body_free(body);
    return b;
}

/* A record of `who` (frees body). */
static blob sign(int who, const proto_id *g, uint64_t seq, uint64_t t, const char *kind, const char *key,
                 proto_body *body)
{
    char err[256];
    blob b = { 0 };
    if (proto_record_sign(g, &ids[who].id, kind, key, seq, t, 0, body, ids[who].key, &b.b, &b.n, err,
                          sizeof err))
        fail_msg("sign: %s", err);
    proto_body_free(body);
    return b;
}

static blob note(int who, const proto_id *g, uint64_t seq, const char *v)
{
    proto_body *b = proto_body_new();
    proto_body_str(b, "v", v);
    char key[32];
    snprintf(key, sizeof key, "n%llu", (unsigned long long)seq);
    return sign(who, g, seq, T0 + seq, "note", key, b);
}

static blob expel(int who, const proto_id *g, uint64_t seq, uint64_t t)
{
    char hm[65];
    hexof(M, hm);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "expel");
    proto_body_int(b, "seq", CUT);
    return sign(who, g, seq, t, "member", hm, b);
}

static proto_id hash_of(const blob *b)
{
    proto_id h;
    proto_record_hash(b->b, b->n, &h);
    return h;
}

/* precheck, verify under the key the store names, apply. */
static int take(store *s, const blob *b)
{
    char err[256] = "";
    proto_record r;
    if (proto_record_decode(b->b, b->n, &r, err, sizeof err))
        fail_msg("decode: %s", err);
    EVP_PKEY *k = NULL;
    int pre = store_precheck(s, &r, &k, err, sizeof err);
    if (pre != STORE_NEW && pre != STORE_FORK) {
        EVP_PKEY_free(k);
        return pre;
    }
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

/* The founding records: F's genesis, F admits A and M (admission 1). */
typedef struct {
    blob f[3];
    proto_id g;
} base;

static void make_base(base *bs)
{
    char err[256], path[160];
    store *sf = open_fresh(path);
    if (store_create_genesis(sf, ids[F].key, ids[F].der, ids[F].der_len, ids[F].code, ids[F].name,
                             "除名試験連合", 1, "192.0.2.1:7400", err, sizeof err))
        fail_msg("genesis: %s", err);
    for (int who = A; who <= M; who++) {
        char hx[65];
        hexof(who, hx);
        proto_body *b = proto_body_new();
        proto_body_str(b, "op", "admit");
        proto_body_bin(b, "cert", ids[who].der, ids[who].der_len);
        proto_body_str(b, "code", ids[who].code);
        proto_body_str(b, "name", ids[who].name);
        proto_body_str(b, "address", "192.0.2.7:7400");
        if (store_write(sf, ids[F].key, "member", hx, 0, b, NULL, NULL, err, sizeof err))
            fail_msg("admit: %s", err);
        proto_body_free(b);
    }
    for (int i = 0; i < 3; i++) {
        memset(&bs->f[i], 0, sizeof bs->f[i]);
        store_range(sf, &ids[F].id, (uint64_t)i + 1, (uint64_t)i + 1, grab_cb, &bs->f[i]);
        assert_non_null(bs->f[i].b);
    }
    store_info in;
    assert_int_equal(store_info_get(sf, &in), 0);
    bs->g = in.genesis;
    store_close(sf);
}

static void base_free(base *bs)
{
    for (int i = 0; i < 3; i++)
        free(bs->f[i].b);
}

static store *with_base(const base *bs, char path[160])
{
    store *s = open_fresh(path);
    for (int i = 0; i < 3; i++)
        assert_int_equal(take(s, &bs->f[i]), STORE_NEW);
    return s;
}

/* The world: M's notes 1..CUT, the votes (F's seq 4, A's seq 1, dated after
 * everything of M's), M's records beyond the cut: notes CUT+1..CUT+3 and,
 * at CUT+4, an address record dated before the votes. */
typedef struct {
    blob mine[CUT], beyond[4], vf, va;
} world;

static void make_world(const base *bs, world *w)
{
    for (uint64_t s = 1; s <= CUT; s++)
        w->mine[s - 1] = note(M, &bs->g, s, "除名前");
    for (uint64_t s = CUT + 1; s <= CUT + 3; s++)
        w->beyond[s - CUT - 1] = note(M, &bs->g, s, "除名後");
    char hm[65];
    hexof(M, hm);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "address");
    proto_body_str(b, "address", "198.51.100.99:7400");
    w->beyond[3] = sign(M, &bs->g, CUT + 4, T0 + 50, "member", hm, b);
    w->vf = expel(F, &bs->g, 4, T0 + 100);
    w->va = expel(A, &bs->g, 1, T0 + 101);
}

static void world_free(world *w)
{
    for (int i = 0; i < CUT; i++)
        free(w->mine[i].b);
    for (int i = 0; i < 4; i++)
        free(w->beyond[i].b);
    free(w->vf.b);
    free(w->va.b);
}

static proto_id digest_of(store *s)
{
    store_info in;
    assert_int_equal(store_info_get(s, &in), 0);
    return in.digest;
}

static store_member member_of(store *s, int who)
{
    store_member m;
    assert_int_equal(store_member_get(s, &ids[who].id, &m), 0);
    return m;
}

/* What every store holding the same records must agree on. */
static void assert_same(store *x, store *y)
{
    proto_id dx = digest_of(x), dy = digest_of(y);
    assert_memory_equal(dx.b, dy.b, 32);
    for (int who = 0; who <= M; who++) {
        store_member a = member_of(x, who), b = member_of(y, who);
        assert_int_equal(a.status, b.status);
        assert_string_equal(a.address, b.address);
        assert_int_equal(store_vv_get(x, &ids[who].id), store_vv_get(y, &ids[who].id));
        assert_int_equal(store_former_apart_count(x, &ids[who].id), store_former_apart_count(y, &ids[who].id));
    }
}

/* Departure first / records first: the same log, members and digest. */
static void both_orders_agree(void **state)
{
    base bs;
    world w;
    char p1[160], p2[160];
    make_base(&bs);
    make_world(&bs, &w);
    store *s1 = with_base(&bs, p1), *s2 = with_base(&bs, p2);
    for (int i = 0; i < CUT; i++) {
        assert_int_equal(take(s1, &w.mine[i]), STORE_NEW);
        assert_int_equal(take(s2, &w.mine[i]), STORE_NEW);
    }
    /* s1: the expulsion first; M's later records are kept apart, and it
     * is no error for their sender */
    assert_int_equal(take(s1, &w.vf), STORE_NEW);
    assert_int_equal(take(s1, &w.va), STORE_NEW);
    assert_int_equal(member_of(s1, M).status, STORE_MEMBER_EXPELLED);
    for (int i = 0; i < 4; i++)
        assert_int_equal(take(s1, &w.beyond[i]), STORE_FORMER);
    for (int i = 0; i < 4; i++)
        assert_int_equal(take(s1, &w.beyond[i]), STORE_DUP);   /* held apart already */
    /* s2: M's records first, in its log while M is a member */
    for (int i = 0; i < 4; i++)
        assert_int_equal(take(s2, &w.beyond[i]), STORE_NEW);
    assert_int_equal(store_vv_get(s2, &ids[M].id), CUT + 4);
    assert_string_equal(member_of(s2, M).address, "198.51.100.99:7400");
    assert_int_equal(take(s2, &w.vf), STORE_NEW);
    assert_int_equal(take(s2, &w.va), STORE_NEW);
    /* the derived departure moved them apart, and the address beyond the
     * cut derives nothing */
    assert_int_equal(member_of(s2, M).status, STORE_MEMBER_EXPELLED);
    assert_int_equal(store_vv_get(s2, &ids[M].id), CUT);
    assert_int_equal(store_former_apart_count(s2, &ids[M].id), 4);
    assert_string_equal(member_of(s2, M).address, "192.0.2.7:7400");
    assert_same(s1, s2);
    /* and deriving afresh changes nothing on either */
    char err[256];
    int changed = -1;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(store_member_rederive(i ? s2 : s1, &changed, err, sizeof err), 0);
        assert_int_equal(changed, 0);
    }
    assert_same(s1, s2);
    store_close(s1);
    store_close(s2);
    world_free(&w);
    base_free(&bs);
}

/* A fork of F's vote wins (a note of F's at the vote's seq, with a lower
 * hash): M is no longer expelled, and its records come back. */
static void undone_departure_brings_back(void **state)
{
    base bs;
    world w;
    char p1[160], p2[160];
    make_base(&bs);
    make_world(&bs, &w);
    proto_id hv = hash_of(&w.vf);
    blob fk = { 0 };
    for (int i = 0; !fk.b; i++) {
        char v[32];
        snprintf(v, sizeof v, "分岐%d", i);
        proto_body *b = proto_body_new();
        proto_body_str(b, "v", v);
        blob c = sign(F, &bs.g, 4, T0 + 100, "note", "fork", b);
        proto_id hc = hash_of(&c);
        if (memcmp(hc.b, hv.b, 32) < 0)
            fk = c;
        else
            free(c.b);
    }
    store *s1 = with_base(&bs, p1), *s2 = with_base(&bs, p2);
    for (int i = 0; i < CUT; i++)
        assert_int_equal(take(s1, &w.mine[i]), STORE_NEW);
    assert_int_equal(take(s1, &w.vf), STORE_NEW);
    assert_int_equal(take(s1, &w.va), STORE_NEW);
    for (int i = 0; i < 4; i++)
        assert_int_equal(take(s1, &w.beyond[i]), STORE_FORMER);
    assert_int_equal(store_vv_get(s1, &ids[M].id), CUT);
    /* the fork that wins at F's seq 4 */
    assert_int_equal(take(s1, &fk), STORE_FORK);
    assert_int_equal(member_of(s1, M).status, STORE_MEMBER_ACTIVE);
    assert_int_equal(store_vv_get(s1, &ids[M].id), CUT + 4);
    assert_int_equal(store_former_apart_count(s1, &ids[M].id), 0);
    assert_string_equal(member_of(s1, M).address, "198.51.100.99:7400");
    /* the same as a store that had the fork's winner first */
    assert_int_equal(take(s2, &fk), STORE_NEW);
    for (int i = 0; i < CUT; i++)
        assert_int_equal(take(s2, &w.mine[i]), STORE_NEW);
    for (int i = 0; i < 4; i++)
        assert_int_equal(take(s2, &w.beyond[i]), STORE_NEW);
    assert_int_equal(take(s2, &w.va), STORE_NEW);
    assert_int_equal(take(s2, &w.vf), STORE_FORK);
    assert_same(s1, s2);
    free(fk.b);
    store_close(s1);
    store_close(s2);
    world_free(&w);
    base_free(&bs);
}

#define FLOOD 1000

/* 1,000 records beyond the cut and five versions of its first seq: at most
 * STORE_FORMER_APART_SEQS seqs and STORE_APART_SEQ_VERSIONS versions each,
 * the same ones whether they arrived after the expulsion or before. */
static void flood_is_bounded(void **state)
{
    base bs;
    world w;
    char p1[160], p2[160];
    make_base(&bs);
    make_world(&bs, &w);
    blob *fl = calloc(FLOOD + 4, sizeof *fl);
    assert_non_null(fl);
    for (uint64_t i = 0; i < FLOOD; i++)
        fl[i] = note(M, &bs.g, CUT + 1 + i, "大量");
    for (int i = 0; i < 4; i++) {
        char v[16];
        snprintf(v, sizeof v, "版%d", i);
        fl[FLOOD + i] = note(M, &bs.g, CUT + 1, v);
    }
    store *s1 = with_base(&bs, p1), *s2 = with_base(&bs, p2);
    for (int i = 0; i < CUT; i++) {
        assert_int_equal(take(s1, &w.mine[i]), STORE_NEW);
        assert_int_equal(take(s2, &w.mine[i]), STORE_NEW);
    }
    assert_int_equal(take(s1, &w.vf), STORE_NEW);
    assert_int_equal(take(s1, &w.va), STORE_NEW);
    size_t kept = 0, refused = 0;
    for (size_t i = 0; i < FLOOD + 4; i++) {
        int r = take(s1, &fl[i]);
        assert_int_equal(r, STORE_FORMER);   /* kept or refused: never an error, never in the log */
        (void)r;
    }
    for (size_t i = 0; i < FLOOD + 4; i++) {
        int r = take(s1, &fl[i]);
        kept += r == STORE_DUP;
        refused += r == STORE_FORMER;
    }
    assert_int_equal(kept, STORE_FORMER_APART_SEQS + STORE_APART_SEQ_VERSIONS - 1);
    assert_int_equal(refused, FLOOD + 4 - kept);
    assert_int_equal(store_former_apart_count(s1, &ids[M].id), STORE_FORMER_APART_SEQS + STORE_APART_SEQ_VERSIONS - 1);
    assert_int_equal(store_vv_get(s1, &ids[M].id), CUT);
    /* s2: all of them first (the log takes the lowest hash at CUT+1, the
     * others are fork evidence), then the expulsion */
    for (size_t i = 0; i < FLOOD + 4; i++) {
        int r = take(s2, &fl[i]);
        assert_true(r == STORE_NEW || r == STORE_FORK);
    }
    assert_int_equal(take(s2, &w.vf), STORE_NEW);
    assert_int_equal(take(s2, &w.va), STORE_NEW);
    assert_int_equal(store_vv_get(s2, &ids[M].id), CUT);
    assert_same(s1, s2);
    /* the same versions: each of s1's is a duplicate on s2 */
    for (size_t i = 0; i < FLOOD + 4; i++) {
        int a = take(s1, &fl[i]), b = take(s2, &fl[i]);
        assert_int_equal(a, b);
    }
    for (size_t i = 0; i < FLOOD + 4; i++)
        free(fl[i].b);
    free(fl);
    store_close(s1);
    store_close(s2);
    world_free(&w);
    base_free(&bs);
}

/* M's key for every seq: the schedule of the rule before, which kept a
 * former member's records beyond its cut in the log. */
static EVP_PKEY *old_rule_key(void *arg, store *s, MDB_txn *txn, const proto_id *author, uint64_t seq)
{
    EVP_PKEY *k = ids[M].key;
    EVP_PKEY_up_ref(k);
    return k;
}

/* A store derived by the old rule moves the records apart when it opens,
 * once. */
static void moved_at_open(void **state)
{
    base bs;
    world w;
    char p1[160], p2[160];
    make_base(&bs);
    make_world(&bs, &w);
    store *s1 = with_base(&bs, p1), *s2 = with_base(&bs, p2);
    for (int i = 0; i < CUT; i++) {
        assert_int_equal(take(s1, &w.mine[i]), STORE_NEW);
        assert_int_equal(take(s2, &w.mine[i]), STORE_NEW);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(take(s1, &w.beyond[i]), STORE_NEW);
        assert_int_equal(take(s2, &w.beyond[i]), STORE_NEW);
    }
    for (int i = 0; i < 2; i++) {
        store *s = i ? s2 : s1;
        assert_int_equal(take(s, &w.vf), STORE_NEW);
        assert_int_equal(take(s, &w.va), STORE_NEW);
        assert_int_equal(store_vv_get(s, &ids[M].id), CUT);
    }
    /* s2 as the old rule left it: M's records beyond the cut back in its
     * log, nothing placed, no mark */
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(s2->env, NULL, 0, &txn), 0);
    assert_int_equal(log_rejudge_author_txn(s2, txn, &ids[M].id, CUT + 1, old_rule_key, NULL, NULL), 0);
    char name[71] = "fclip:";
    proto_hex(ids[M].id.b, 32, name + 6);
    MDB_val fk = { 70, name }, mk = { 12, "former_apart" };
    assert_int_equal(mdb_del(txn, s2->meta, &fk, NULL), 0);
    assert_int_equal(mdb_del(txn, s2->meta, &mk, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    cache_clear(s2);
    assert_int_equal(store_vv_get(s2, &ids[M].id), CUT + 3);
    assert_int_equal(store_former_apart_count(s2, &ids[M].id), 0);
    store_close(s2);
    s2 = open_path(p2, F);
    assert_int_equal(store_vv_get(s2, &ids[M].id), CUT);
    assert_int_equal(store_former_apart_count(s2, &ids[M].id), 3);
    assert_same(s1, s2);
    /* once: the next open derives nothing */
    store_close(s2);
    s2 = open_path(p2, F);
    uint64_t rd, fx;
    store_member_stats(s2, &rd, &fx);
    assert_int_equal(rd, 0);
    assert_same(s1, s2);
    store_close(s1);
    store_close(s2);
    world_free(&w);
    base_free(&bs);
}

/* A record beyond the cut signed with a key M rotated to beyond the cut
 * (the rotation is kept apart: its key is not M's here) is refused, but it
 * is no forgery: ingest does not close the relay that sent it. */
static void rotated_beyond_cut_is_no_forgery(void **state)
{
    base bs;
    world w;
    char p1[160], hm[65], err[256];
    make_base(&bs);
    make_world(&bs, &w);
    hexof(M, hm);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "rotate");
    proto_body_str(b, "code", ids[K].code);
    proto_body_str(b, "name", ids[K].name);
    proto_body_bin(b, "cert", ids[K].der, ids[K].der_len);
    blob rot = sign(M, &bs.g, CUT + 1, T0 + 60, "member", hm, b);
    proto_body *nb = proto_body_new();
    proto_body_str(nb, "v", "新しい鍵で");
    blob after = sign_with(M, K, &bs.g, CUT + 2, T0 + 61, "note", "k", nb);
    store *s1 = with_base(&bs, p1);
    for (int i = 0; i < CUT; i++)
        assert_int_equal(take(s1, &w.mine[i]), STORE_NEW);
    assert_int_equal(take(s1, &w.vf), STORE_NEW);
    assert_int_equal(take(s1, &w.va), STORE_NEW);
    assert_int_equal(take(s1, &rot), STORE_FORMER);
    assert_int_equal(store_rekey_rules_any(s1), 1);   /* ingest asks for the outcomes */
    proto_record r;
    assert_int_equal(proto_record_decode(after.b, after.n, &r, err, sizeof err), 0);
    int pc = -1;
    EVP_PKEY *k = NULL;
    store_alt_keys alt;
    memset(&alt, 0, sizeof alt);
    assert_int_equal(store_precheck_batch_alt(s1, &r, 1, &pc, &k, &alt, 0, err, sizeof err), 0);
    assert_int_equal(pc, STORE_NEW);
    assert_int_equal(store_verify_alt(&r, k, &alt), STORE_FORMER);
    EVP_PKEY_free(k);
    store_alt_keys_free(&alt);
    /* one signed by another key is refused the same way (before this rule
     * it was refused unverified): never stored, its sender not closed */
    proto_body *fb = proto_body_new();
    proto_body_str(fb, "v", "偽造");
    blob forged = sign_with(M, F, &bs.g, CUT + 2, T0 + 61, "note", "k", fb);
    assert_int_equal(proto_record_decode(forged.b, forged.n, &r, err, sizeof err), 0);
    memset(&alt, 0, sizeof alt);
    assert_int_equal(store_precheck_batch_alt(s1, &r, 1, &pc, &k, &alt, 0, err, sizeof err), 0);
    assert_int_equal(store_verify_alt(&r, k, &alt), STORE_FORMER);
    EVP_PKEY_free(k);
    store_alt_keys_free(&alt);
    assert_int_equal(store_vv_get(s1, &ids[M].id), CUT);
    free(rot.b);
    free(after.b);
    free(forged.b);
    store_close(s1);
    world_free(&w);
    base_free(&bs);
}

#define DESC ((int)STORE_FORMER_ARRIVALS_MAX + 40)

static int hash_desc(const void *a, const void *b)
{
    proto_id x = hash_of(a), y = hash_of(b);
    return -memcmp(x.b, y.b, 32);
}

/* A former member signs DESC versions of its first seq beyond the cut, all
 * membership records dated before the votes, and sends them in descending
 * hash order: each one sent is lower than the two kept, so each is taken
 * apart and each makes the store derive the whole membership again.  The
 * work a former member can cause must be bounded like what it can store. */
static void flood_of_lower_hashes_is_bounded(void **state)
{
    base bs;
    world w;
    char p1[160], hm[65];
    make_base(&bs);
    make_world(&bs, &w);
    hexof(M, hm);
    blob *fl = calloc(DESC, sizeof *fl);
    assert_non_null(fl);
    for (int i = 0; i < DESC; i++) {
        char a[32];
        snprintf(a, sizeof a, "198.51.100.%d:7400", i + 1);
        proto_body *b = proto_body_new();
        proto_body_str(b, "op", "address");
        proto_body_str(b, "address", a);
        fl[i] = sign(M, &bs.g, CUT + 1, T0 + 50, "member", hm, b);
    }
    qsort(fl, DESC, sizeof *fl, hash_desc);
    store *s1 = with_base(&bs, p1);
    for (int i = 0; i < CUT; i++)
        assert_int_equal(take(s1, &w.mine[i]), STORE_NEW);
    assert_int_equal(take(s1, &w.vf), STORE_NEW);
    assert_int_equal(take(s1, &w.va), STORE_NEW);
    uint64_t rd0, rd1, fx;
    store_member_stats(s1, &rd0, &fx);
    for (int i = 0; i < DESC; i++)
        assert_int_equal(take(s1, &fl[i]), STORE_FORMER);
    store_member_stats(s1, &rd1, &fx);
    assert_int_equal(store_former_apart_count(s1, &ids[M].id), STORE_APART_SEQ_VERSIONS);
    print_message("rederives for %d versions sent in descending hash order: %llu\n", DESC,
                  (unsigned long long)(rd1 - rd0));
    /* one derivation per version taken, at most the budget: the versions
     * past it are refused with no signature check and derive nothing */
    assert_true(rd1 - rd0 <= STORE_FORMER_ARRIVALS_MAX);
    assert_true(rd1 - rd0 >= STORE_APART_SEQ_VERSIONS);
    for (int i = 0; i < DESC; i++)
        free(fl[i].b);
    free(fl);
    store_close(s1);
    world_free(&w);
    base_free(&bs);
}

/* A run apart made dense by a record that is not a membership record and
 * itself goes apart: M, expelled at CUT, signs a leave at CUT+2 dated
 * before the votes, and a note at CUT+1.  A rederive reads the dense run
 * CUT+1, CUT+2 (collect_apart) and derives M's leave first; the store that
 * took the leave before the note never derived with it (the run had a hole
 * then, and the note, no membership record, derives nothing on arrival). */
static void hole_filled_apart_derives_again(void **state)
{
    base bs;
    world w;
    char p1[160], p2[160], hm[65], err[256];
    make_base(&bs);
    make_world(&bs, &w);
    hexof(M, hm);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "leave");
    blob lv = sign(M, &bs.g, CUT + 2, T0 + 50, "member", hm, b);
    store *s1 = with_base(&bs, p1), *s2 = with_base(&bs, p2);
    for (int i = 0; i < 2; i++) {
        store *s = i ? s2 : s1;
        for (int j = 0; j < CUT; j++)
            assert_int_equal(take(s, &w.mine[j]), STORE_NEW);
        assert_int_equal(take(s, &w.vf), STORE_NEW);
        assert_int_equal(take(s, &w.va), STORE_NEW);
        assert_int_equal(member_of(s, M).status, STORE_MEMBER_EXPELLED);
    }
    /* s1: the leave, then the note that fills the hole before it */
    assert_int_equal(take(s1, &lv), STORE_FORMER);
    assert_int_equal(take(s1, &w.beyond[0]), STORE_FORMER);
    /* s2: the note first */
    assert_int_equal(take(s2, &w.beyond[0]), STORE_FORMER);
    assert_int_equal(take(s2, &lv), STORE_FORMER);
    /* deriving afresh changes nothing on either, and both agree */
    int changed = -1;
    assert_int_equal(store_member_rederive(s2, &changed, err, sizeof err), 0);
    assert_int_equal(changed, 0);
    int before = member_of(s1, M).status;
    assert_int_equal(store_member_rederive(s1, &changed, err, sizeof err), 0);
    if (changed)
        print_message("s1: M's status %d before a rederive, %d after; s2: %d\n", before, member_of(s1, M).status,
                      member_of(s2, M).status);
    assert_int_equal(changed, 0);
    assert_int_equal(member_of(s1, M).status, member_of(s2, M).status);
    assert_same(s1, s2);
    store_close(s1);
    store_close(s2);
    free(lv.b);
    world_free(&w);
    base_free(&bs);
}

/* who's expel vote about subj, naming held of subj's log. */
static blob expel_of(int who, int subj, const proto_id *g, uint64_t seq, uint64_t t, int64_t held)
{
    char hs[65];
    hexof(subj, hs);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "expel");
    proto_body_int(b, "seq", held);
    return sign(who, g, seq, t, "member", hs, b);
}

/* A record beyond its author's final cut derives nothing (DECISIONS 16).
 * F and B expel M at CUT.  M, beyond its cut, votes (backdated, with Z's
 * vote) to expel A naming seq 0: the first round derives A expelled and
 * leaves A's records beyond 0 out; the next leaves M's vote out, A is a
 * member again, but A's address record stays left out.  A store that
 * never got M's vote derives A's address. */
static void beyond_cut_vote_silences_a_member(void **state)
{
    base bs;
    char p1[160], p2[160], err[256];
    make_base(&bs);
    blob rec[12];
    size_t n = 0;
    for (int who = B; who <= Z; who++) {
        char hx[65];
        hexof(who, hx);
        proto_body *b = proto_body_new();
        proto_body_str(b, "op", "admit");
        proto_body_bin(b, "cert", ids[who].der, ids[who].der_len);
        proto_body_str(b, "code", ids[who].code);
        proto_body_str(b, "name", ids[who].name);
        proto_body_str(b, "address", "192.0.2.8:7400");
        rec[n++] = sign(F, &bs.g, (uint64_t)(4 + who - B), T0 + 10 + (uint64_t)(who - B), "member", hx, b);
    }
    for (uint64_t q = 1; q <= CUT; q++)
        rec[n++] = note(M, &bs.g, q, "除名前");
    rec[n++] = expel_of(Z, A, &bs.g, 1, T0 + 20, 0);
    {
        char ha[65];
        hexof(A, ha);
        proto_body *b = proto_body_new();
        proto_body_str(b, "op", "address");
        proto_body_str(b, "address", "198.51.100.1:7400");
        rec[n++] = sign(A, &bs.g, 1, T0 + 30, "member", ha, b);
    }
    rec[n++] = expel_of(F, M, &bs.g, 6, T0 + 100, CUT);
    rec[n++] = expel_of(B, M, &bs.g, 1, T0 + 101, CUT);
    blob mv = expel_of(M, A, &bs.g, CUT + 1, T0 + 21, 0);   /* beyond M's cut */
    store *s1 = with_base(&bs, p1), *s2 = with_base(&bs, p2);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(take(s1, &rec[i]), STORE_NEW);
        assert_int_equal(take(s2, &rec[i]), STORE_NEW);
    }
    assert_int_equal(member_of(s1, M).status, STORE_MEMBER_EXPELLED);
    assert_string_equal(member_of(s1, A).address, "198.51.100.1:7400");
    assert_int_equal(take(s2, &mv), STORE_FORMER);
    int changed = -1;
    assert_int_equal(store_member_rederive(s2, &changed, err, sizeof err), 0);
    assert_int_equal(changed, 0);
    assert_int_equal(member_of(s2, M).status, STORE_MEMBER_EXPELLED);
    assert_int_equal(member_of(s2, A).status, STORE_MEMBER_ACTIVE);
    assert_string_equal(member_of(s2, A).address, "198.51.100.1:7400");
    store_close(s1);
    store_close(s2);
    for (size_t i = 0; i < n; i++)
        free(rec[i].b);
    free(mv.b);
    base_free(&bs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(both_orders_agree),
        cmocka_unit_test(undone_departure_brings_back),
        cmocka_unit_test(flood_is_bounded),
        cmocka_unit_test(moved_at_open),
        cmocka_unit_test(rotated_beyond_cut_is_no_forgery),
        cmocka_unit_test(flood_of_lower_hashes_is_bounded),
        cmocka_unit_test(hole_filled_apart_derives_again),
        cmocka_unit_test(beyond_cut_vote_silences_a_member),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
