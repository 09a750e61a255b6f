/* tests/unit/test_keys.c — store/store_keys.c with real LMDB environments:
 * the key that verifies a member's record at a seq after key rotations,
 * which member a key belongs to and whether it is retired, the rules of a
 * rotate record, signing with a retired key, and a fork of rotate records
 * (the winner decides, in whatever order the versions arrive).
 *
 * Records from other members are signed here and fed through store_precheck
 * + proto_record_verify + store_apply_batch, the way a node takes them
 * from a peer, so a wrong key from the store fails the verification. */
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

#include "store/store.h"
#include "certs/certs.h"
#include "tests/unit/identities.h"
#include "proto/record.h"
#include "proto/util.h"

/* founder; a member; three later keys of that member (same code and name) */
enum { F, M, K2, K3, K4, NIDS };
static const char *const id_code[NIDS] = { "131059", "131016", "131016", "131016", "131016" };
static const char *const id_name[NIDS] = { "文京区", "千代田区", "千代田区", "千代田区", "千代田区" };

static char tmpdir[64];
static certs_identity ids[NIDS];
static int dirno;

static int group_setup(void **state)
{
    return identities_make(tmpdir, "/tmp/test_keys.XXXXXX", ids, NIDS, id_code, id_name, NULL);
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
    if (store_open(path, 64, &s, err, sizeof err) || store_bind_self(s, &ids[self].id, err, sizeof err))
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

/* Sign as member M (its member id) with the key of identity `key` (frees body). */
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

/* A rotate record's body naming identity `key`'s certificate. */
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

/* precheck, verify under the key the store names, apply.  -1 when the
 * signature does not verify under that key. */
static int take(store *s, const blob *b)
{
    char err[256] = "";
    proto_record r;
    if (proto_record_decode(b->b, b->n, &r, err, sizeof err))
        fail_msg("decode: %s", err);
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

/* The founder's genesis and M's admission, made once per test. */
static void make_base(blob *genesis, blob *admit)
{
    char err[256], hx[65];
    store *sf = open_fresh(F);
    if (store_create_genesis(sf, ids[F].key, ids[F].der, ids[F].der_len, ids[F].code, ids[F].name,
                             "鍵試験連合", 1, "192.0.2.1:7400", err, sizeof err))
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

static store *with_base(int self, const blob *genesis, const blob *admit)
{
    store *s = open_fresh(self);
    assert_int_equal(take(s, genesis), STORE_NEW);
    assert_int_equal(take(s, admit), STORE_NEW);
    return s;
}

/* The key the store names for (M, seq) is identity `who`'s. */
static void expect_key(store *s, uint64_t seq, int who)
{
    EVP_PKEY *k = store_member_key_at(s, &ids[M].id, seq);
    if (!k)
        fail_msg("no key for seq %llu", (unsigned long long)seq);
    if (EVP_PKEY_eq(k, ids[who].key) != 1)
        fail_msg("seq %llu: the store names another key than identity %d's", (unsigned long long)seq, who);
    EVP_PKEY_free(k);
}

static void expect_owner(store *s, int key, int status)
{
    proto_id owner;
    assert_int_equal(store_key_owner(s, &ids[key].id, &owner), status);
    if (status != STORE_KEY_UNKNOWN)
        assert_memory_equal(owner.b, ids[M].id.b, 32);
}

typedef struct { size_t n; uint64_t from[4]; proto_id id[4]; } keys_seen;

static int keys_cb(void *ctx, uint64_t from_seq, const proto_id *key_id)
{
    keys_seen *k = ctx;
    if (k->n < 4) {
        k->from[k->n] = from_seq;
        k->id[k->n] = *key_id;
    }
    k->n++;
    return 0;
}

/* ---- tests ---- */

/* A member's admission key is its own: another member's rotate naming it
 * (the certificate is public, in the admit record) does not make the
 * handshake or the genesis chain check map that key to the rotating
 * member. */
static void admission_key_stays_its_members(void **state)
{
    blob gen = { 0 }, adm = { 0 };
    char hx[65];
    make_base(&gen, &adm);
    store *s = with_base(F, &gen, &adm);
    proto_id g = genesis_of(s);
    mhex(hx);
    blob r = sign_with(M, &g, 1, "member", hx, rotate_body(F));   /* M names F's certificate */
    assert_int_equal(take(s, &r), STORE_NEW);
    proto_id owner;
    assert_int_equal(store_key_owner(s, &ids[F].id, &owner), STORE_KEY_CURRENT);
    assert_memory_equal(owner.b, ids[F].id.b, 32);
    free(r.b);
    free(gen.b);
    free(adm.b);
    store_close(s);
}

static void key_at_seq(void **state)
{
    blob gen = { 0 }, adm = { 0 };
    char hx[65];
    make_base(&gen, &adm);
    store *s = with_base(F, &gen, &adm);
    proto_id g = genesis_of(s);
    mhex(hx);
    /* M: seq 1 with its admitted key, seq 2 names K2, seq 3-4 by K2, seq 5
     * names K3, seq 6 by K3 */
    blob r[6] = {
        sign_with(M, &g, 1, "note", "a", note("1")),
        sign_with(M, &g, 2, "member", hx, rotate_body(K2)),
        sign_with(K2, &g, 3, "note", "b", note("3")),
        sign_with(K2, &g, 4, "note", "c", note("4")),
        sign_with(K2, &g, 5, "member", hx, rotate_body(K3)),
        sign_with(K3, &g, 6, "note", "d", note("6")),
    };
    for (int i = 0; i < 6; i++)
        if (take(s, &r[i]) != STORE_NEW)
            fail_msg("record at seq %d refused", i + 1);
    /* the lookups, in an order that makes the cache hold each range in turn */
    static const struct { uint64_t seq; int who; } want[] = {
        { 6, K3 }, { 1, M }, { 3, K2 }, { 100, K3 }, { 2, M }, { 5, K2 }, { 4, K2 }, { 6, K3 }, { 1, M },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        expect_key(s, want[i].seq, want[i].who);
    expect_owner(s, M, STORE_KEY_RETIRED);
    expect_owner(s, K2, STORE_KEY_RETIRED);
    expect_owner(s, K3, STORE_KEY_CURRENT);
    expect_owner(s, K4, STORE_KEY_UNKNOWN);
    proto_id cur;
    uint64_t from = 0;
    assert_int_equal(store_key_current(s, &ids[M].id, &cur, &from), 0);
    assert_memory_equal(cur.b, ids[K3].id.b, 32);
    assert_int_equal(from, 6);
    /* the keys over time, oldest first */
    keys_seen ks = { 0 };
    assert_int_equal(store_keys_of(s, &ids[M].id, keys_cb, &ks), 0);
    assert_int_equal(ks.n, 2);
    assert_int_equal(ks.from[0], 3);
    assert_memory_equal(ks.id[0].b, ids[K2].id.b, 32);
    assert_int_equal(ks.from[1], 6);
    assert_memory_equal(ks.id[1].b, ids[K3].id.b, 32);
    /* the founder never rotated: its key is its member id, since seq 1 */
    assert_int_equal(store_key_current(s, &ids[F].id, &cur, &from), 0);
    assert_memory_equal(cur.b, ids[F].id.b, 32);
    assert_int_equal(from, 1);
    /* a record after the rotation signed by a retired key does not verify
     * under the key the store names */
    blob old = sign_with(K2, &g, 7, "note", "e", note("7"));
    assert_int_equal(take(s, &old), -1);
    blob ok = sign_with(K3, &g, 7, "note", "e", note("7"));
    assert_int_equal(take(s, &ok), STORE_NEW);
    /* a second version of an old seq (fork evidence) verifies under the key
     * of its seq, not the current one: in-order sync alone never asks */
    blob f1 = sign_with(M, &g, 1, "note", "a", note("1 again"));
    blob f3 = sign_with(K2, &g, 3, "note", "b", note("3 again"));
    blob f3bad = sign_with(K3, &g, 3, "note", "b", note("3 by K3"));
    assert_int_equal(take(s, &f1), STORE_FORK);
    assert_int_equal(take(s, &f3), STORE_FORK);
    assert_int_equal(take(s, &f3bad), -1);
    free(f1.b);
    free(f3.b);
    free(f3bad.b);
    /* the same records from scratch, in a store that reopens: the same keys */
    store *t = with_base(F, &gen, &adm);
    for (int i = 0; i < 6; i++)
        assert_int_equal(take(t, &r[i]), STORE_NEW);
    expect_key(t, 2, M);
    expect_key(t, 3, K2);
    expect_key(t, 6, K3);
    for (int i = 0; i < 6; i++)
        free(r[i].b);
    free(old.b);
    free(ok.b);
    free(gen.b);
    free(adm.b);
    store_close(s);
    store_close(t);
}

static void rotate_rules(void **state)
{
    blob gen = { 0 }, adm = { 0 };
    char hx[65], fx[65], err[256];
    make_base(&gen, &adm);
    store *s = with_base(F, &gen, &adm);
    proto_id g = genesis_of(s);
    mhex(hx);
    proto_hex(ids[F].id.b, 32, fx);
    /* about another member: refused */
    blob about = sign_with(M, &g, 1, "member", fx, rotate_body(K2));
    assert_int_equal(take(s, &about), STORE_REJECT);
    /* naming the admitted key again: refused */
    blob same = sign_with(M, &g, 1, "member", hx, rotate_body(M));
    assert_int_equal(take(s, &same), STORE_REJECT);
    /* no certificate: refused */
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "rotate");
    blob bare = sign_with(M, &g, 1, "member", hx, b);
    assert_int_equal(take(s, &bare), STORE_REJECT);
    free(about.b);
    free(same.b);
    free(bare.b);
    store_close(s);

    /* M's own node: after its rotation the store signs only with the new key */
    store *own = with_base(M, &gen, &adm);
    blob rot = { 0 };
    proto_body *rb = rotate_body(K2);
    if (store_write(own, ids[M].key, "member", hx, 0, rb, &rot.b, &rot.n, err, sizeof err))
        fail_msg("rotate: %s", err);
    proto_body_free(rb);
    err[0] = 0;
    proto_body *nb = note("x");
    assert_int_equal(store_write(own, ids[M].key, "note", "x", 0, nb, NULL, NULL, err, sizeof err), -1);
    assert_err_has(err, "not this member's current key");
    assert_int_equal(store_write(own, ids[K2].key, "note", "x", 0, nb, NULL, NULL, err, sizeof err), 0);
    proto_body_free(nb);
    expect_key(own, 2, K2);
    expect_key(own, 1, M);
    free(rot.b);
    free(gen.b);
    free(adm.b);
    store_close(own);
}

static void rotate_fork(void **state)
{
    blob gen = { 0 }, adm = { 0 };
    char hx[65];
    make_base(&gen, &adm);
    mhex(hx);
    store *s0 = with_base(F, &gen, &adm), *s1 = with_base(F, &gen, &adm);
    proto_id g = genesis_of(s0);
    /* seq 1 signed twice: naming K2 and naming K3 */
    blob a = sign_with(M, &g, 1, "member", hx, rotate_body(K2));
    blob b = sign_with(M, &g, 1, "member", hx, rotate_body(K3));
    uint8_t ha[32], hb[32];
    SHA256(a.b, a.n, ha);
    SHA256(b.b, b.n, hb);
    int a_wins = memcmp(ha, hb, 32) < 0;
    int win = a_wins ? K2 : K3, lose = a_wins ? K3 : K2;
    assert_int_equal(take(s0, &a), STORE_NEW);
    assert_int_equal(take(s0, &b), STORE_FORK);
    assert_int_equal(take(s1, &b), STORE_NEW);
    assert_int_equal(take(s1, &a), STORE_FORK);
    store *both[2] = { s0, s1 };
    for (int i = 0; i < 2; i++) {
        expect_key(both[i], 2, win);
        expect_key(both[i], 1, M);
        expect_owner(both[i], win, STORE_KEY_CURRENT);
        expect_owner(both[i], lose, STORE_KEY_UNKNOWN);
        expect_owner(both[i], M, STORE_KEY_RETIRED);
    }
    /* the next record under the winner's key is taken by both, the loser's by none */
    blob next_lose = sign_with(lose, &g, 2, "note", "n", note("2"));
    blob next_win = sign_with(win, &g, 2, "note", "n", note("2"));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(take(both[i], &next_lose), -1);
        assert_int_equal(take(both[i], &next_win), STORE_NEW);
    }
    store_info i0, i1;
    assert_int_equal(store_info_get(s0, &i0), 0);
    assert_int_equal(store_info_get(s1, &i1), 0);
    assert_memory_equal(i0.digest.b, i1.digest.b, 32);
    free(a.b);
    free(b.b);
    free(next_lose.b);
    free(next_win.b);
    free(gen.b);
    free(adm.b);
    store_close(s0);
    store_close(s1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(key_at_seq),
        cmocka_unit_test(rotate_rules),
        cmocka_unit_test(rotate_fork),
        cmocka_unit_test(admission_key_stays_its_members),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
