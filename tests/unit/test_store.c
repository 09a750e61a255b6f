/* tests/unit/test_store.c — store/store with real LMDB environments.
 *
 * Identities are made once per binary with certs_init into a temporary
 * directory; every store lives in its own subdirectory there.  Records from
 * other members are signed here with proto_record_sign and fed through
 * store_precheck + proto_record_verify + store_apply_batch, the way a node
 * takes them from a peer.  Expected digests and log chains are computed
 * here from the record bytes (store/store_sum.c's definition: a SHA-256
 * chain over each author's log, a SHA-256 over the version vector with the
 * chains), not read back from the store. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <lmdb.h>

#include "store/store.h"
#include "certs/certs.h"
#include "tests/unit/identities.h"
#include "proto/record.h"
#include "proto/util.h"

/* ---- fixture ---- */

enum { F, M, R, X, O, NIDS };   /* founder, member, member (RSA), outsider, observer */
static const char *const id_type[NIDS] = { "ed25519", "p256", "rsa", "ed25519", "ed25519" };
static const char *const id_code[NIDS] = { "131059", "131016", "271004", "011002", "130001" };
static const char *const id_name[NIDS] = { "文京区", "千代田区", "大阪市", "札幌市", "東京都" };

static char tmpdir[64];
static certs_identity ids[NIDS];
static int dirno;

static int group_setup(void **state)
{
    return identities_make(tmpdir, "/tmp/test_store.XXXXXX", ids, NIDS, id_code, id_name, id_type);
}

static int group_teardown(void **state)
{
    identities_free(tmpdir, ids, NIDS);
    return 0;
}

/* ---- byte lists ---- */

typedef struct { uint8_t *b; size_t n; } blob;
typedef struct { blob *v; size_t n, cap; } blobs;

static void blobs_push(blobs *l, const uint8_t *b, size_t n)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        assert_non_null(l->v);
    }
    l->v[l->n].b = malloc(n);
    assert_non_null(l->v[l->n].b);
    memcpy(l->v[l->n].b, b, n);
    l->v[l->n].n = n;
    l->n++;
}

/* takes ownership of b */
static void blobs_take(blobs *l, uint8_t *b, size_t n)
{
    blobs_push(l, b, n);
    free(b);
}

static void blobs_free(blobs *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].b);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int collect_cb(void *ctx, const uint8_t *rec, size_t len)
{
    blobs_push(ctx, rec, len);
    return 0;
}

static void sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned int ol = 32;
    assert_int_equal(EVP_Digest(p, n, out, &ol, EVP_sha256(), NULL), 1);
}

/* ---- expected log chains and digest (store/store_sum.c, recomputed) ---- */

typedef struct { proto_id author; uint64_t seq; uint8_t h[32]; } logent;

static int logent_cmp(const void *x, const void *y)
{
    const logent *a = x, *b = y;
    int c = memcmp(a->author.b, b->author.b, 32);
    return c ? c : a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* The chain of `author`'s log at `upto`, given the records the log holds. */
static void expect_chain(const blob *const *recs, size_t n, const proto_id *author, uint64_t upto,
                         uint8_t out[32])
{
    uint8_t buf[72];
    memcpy(buf, "catalogd-log", 12);
    memcpy(buf + 12, author->b, 32);
    sha256(buf, 44, out);
    for (uint64_t q = 1; q <= upto; q++) {
        int found = 0;
        for (size_t i = 0; i < n; i++) {
            proto_record r;
            assert_int_equal(proto_record_decode(recs[i]->b, recs[i]->n, &r, NULL, 0), 0);
            if (r.seq != q || memcmp(&r.author, author, 32))
                continue;
            memcpy(buf, out, 32);
            be64(buf + 32, q);
            sha256(recs[i]->b, recs[i]->n, buf + 40);
            sha256(buf, 72, out);
            found = 1;
        }
        assert_int_equal(found, 1);   /* the log is dense */
    }
}

/* The digest of a store whose logs hold exactly these records. */
static proto_id expect_digest(const blob *const *recs, size_t n)
{
    logent *e = calloc(n ? n : 1, sizeof *e);
    for (size_t i = 0; i < n; i++) {
        proto_record r;
        assert_int_equal(proto_record_decode(recs[i]->b, recs[i]->n, &r, NULL, 0), 0);
        e[i].author = r.author;
        e[i].seq = r.seq;
        sha256(recs[i]->b, recs[i]->n, e[i].h);
    }
    qsort(e, n, sizeof *e, logent_cmp);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, "catalogd-digest", 15);
    uint8_t chain[32], buf[72];
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || memcmp(e[i].author.b, e[i - 1].author.b, 32)) {
            memcpy(buf, "catalogd-log", 12);
            memcpy(buf + 12, e[i].author.b, 32);
            sha256(buf, 44, chain);
        }
        memcpy(buf, chain, 32);
        be64(buf + 32, e[i].seq);
        memcpy(buf + 40, e[i].h, 32);
        sha256(buf, 72, chain);
        if (i + 1 == n || memcmp(e[i].author.b, e[i + 1].author.b, 32)) {
            memcpy(buf, e[i].author.b, 32);
            be64(buf + 32, e[i].seq);
            memcpy(buf + 40, chain, 32);
            EVP_DigestUpdate(md, buf, 72);
        }
    }
    proto_id d;
    unsigned len;
    EVP_DigestFinal_ex(md, d.b, &len);
    EVP_MD_CTX_free(md);
    free(e);
    return d;
}

static int same_bytes(const blob *a, const blob *b)
{
    return a->n == b->n && memcmp(a->b, b->b, a->n) == 0;
}

/* ---- stores ---- */

static store *open_named(const char *name, char *path_out)
{
    char path[160], err[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    if (path_out)
        strcpy(path_out, path);
    store *s = NULL;
    if (store_open(path, 64, &s, err, sizeof err))
        fail_msg("store_open %s: %s", path, err);
    return s;
}

/* a fresh store under a unique name */
static store *open_fresh(char *path_out)
{
    char name[32];
    snprintf(name, sizeof name, "store%d", dirno++);
    return open_named(name, path_out);
}

static void bind(store *s, int who)
{
    char err[256];
    if (store_bind_self(s, &ids[who].id, err, sizeof err))
        fail_msg("bind: %s", err);
}

static store *found(char *path_out)
{
    char err[256];
    store *s = open_fresh(path_out);
    bind(s, F);
    if (store_create_genesis(s, ids[F].key, ids[F].der, ids[F].der_len, ids[F].code, ids[F].name,
                             "テスト連合", 1, "192.0.2.1:7400", err, sizeof err))
        fail_msg("genesis: %s", err);
    return s;
}

static proto_id genesis_id(store *s)
{
    store_info in;
    assert_int_equal(store_info_get(s, &in), 0);
    assert_true(in.has_genesis);
    return in.genesis;
}

static store_info info(store *s)
{
    store_info in;
    assert_int_equal(store_info_get(s, &in), 0);
    return in;
}

static void hexid(int who, char out[65])
{
    proto_hex(ids[who].id.b, 32, out);
}

static proto_body *admit_body(int who, const char *address)
{
    proto_body *b = proto_body_new();
    assert_non_null(b);
    assert_int_equal(proto_body_str(b, "op", "admit"), 0);
    assert_int_equal(proto_body_bin(b, "cert", ids[who].der, ids[who].der_len), 0);
    assert_int_equal(proto_body_str(b, "code", ids[who].code), 0);
    assert_int_equal(proto_body_str(b, "name", ids[who].name), 0);
    assert_int_equal(proto_body_str(b, "address", address), 0);
    return b;
}

static proto_body *text_body(const char *v)
{
    proto_body *b = proto_body_new();
    assert_non_null(b);
    assert_int_equal(proto_body_str(b, "v", v), 0);
    return b;
}

/* Sign a record as `who` (frees body). */
static uint8_t *sign_as(int who, const proto_id *alliance, uint64_t seq, const char *kind,
                        const char *key, uint32_t flags, proto_body *body, size_t *len)
{
    char err[256];
    uint8_t *out = NULL;
    if (proto_record_sign(alliance, &ids[who].id, kind, key, seq, 1700000000000ull + seq, flags,
                          body, ids[who].key, &out, len, err, sizeof err))
        fail_msg("sign: %s", err);
    proto_body_free(body);
    return out;
}

/* Write as this store's node (store_write) and return the record bytes. */
static blob write_rec(store *s, int who, const char *kind, const char *key, uint32_t flags,
                      proto_body *body)
{
    char err[256] = "";
    blob b = { 0 };
    if (store_write(s, ids[who].key, kind, key, flags, body, &b.b, &b.n, err, sizeof err))
        fail_msg("store_write %s/%s: %s", kind, key, err);
    proto_body_free(body);
    return b;
}

/* What a node does with one record from a peer: decode, precheck, verify
 * under the key the store names, apply.  Returns the apply result (or the
 * precheck result when that already says no). */
static int take(store *s, const uint8_t *b, size_t n)
{
    char err[256] = "";
    proto_record r;
    if (proto_record_decode(b, n, &r, err, sizeof err))
        fail_msg("decode: %s", err);
    EVP_PKEY *k = NULL;
    int pre = store_precheck(s, &r, &k, err, sizeof err);
    if (pre != STORE_NEW && pre != STORE_FORK) {
        assert_null(k);
        return pre;
    }
    assert_non_null(k);
    if (proto_record_verify(&r, k, err, sizeof err))
        fail_msg("verify under the key the store gave: %s", err);
    EVP_PKEY_free(k);
    int res = -1;
    if (store_apply_batch(s, &r, 1, &res, err, sizeof err))
        fail_msg("apply: %s", err);
    return res;
}

static int take_blob(store *s, const blob *b)
{
    return take(s, b->b, b->n);
}

/* author index of a record, by comparing with the identities */
static int author_of(const blob *b)
{
    proto_record r;
    char err[256];
    if (proto_record_decode(b->b, b->n, &r, err, sizeof err))
        fail_msg("decode: %s", err);
    for (int i = 0; i < NIDS; i++)
        if (!memcmp(&r.author, &ids[i].id, 32))
            return i;
    fail_msg("record of an unknown author");
    return -1;
}

/* Apply a batch as a node would, except that signatures are checked against
 * the authors' certificates (a batch may carry records whose author or whose
 * previous seq only arrives earlier in the same batch, which precheck cannot
 * know yet).  Fills results. */
static void apply_batch_checked(store *s, const blob *const *recs, size_t n, int *results)
{
    char err[256];
    proto_record *r = calloc(n ? n : 1, sizeof *r);
    assert_non_null(r);
    for (size_t i = 0; i < n; i++) {
        if (proto_record_decode(recs[i]->b, recs[i]->n, &r[i], err, sizeof err))
            fail_msg("decode: %s", err);
        int a = author_of(recs[i]);
        if (proto_record_verify(&r[i], X509_get0_pubkey(ids[a].cert), err, sizeof err))
            fail_msg("verify: %s", err);
    }
    if (store_apply_batch(s, r, n, results, err, sizeof err))
        fail_msg("apply batch: %s", err);
    free(r);
}

static void copy_genesis(store *from, store *to)
{
    blobs g = { 0 };
    assert_int_equal(store_range(from, &ids[F].id, 1, 1, collect_cb, &g), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(take_blob(to, &g.v[0]), STORE_NEW);
    blobs_free(&g);
}

static blobs all_of(store *s, int who)
{
    blobs l = { 0 };
    assert_int_equal(store_range(s, &ids[who].id, 1, UINT64_MAX, collect_cb, &l), 0);
    return l;
}

static int count_cb(void *ctx, const uint8_t *rec, size_t len)
{
    ++*(int *)ctx;
    return 0;
}

/* ---- genesis ---- */

static void genesis_basics(void **state)
{
    char err[256], path[160];
    store *s = open_fresh(path);

    /* no identity, no alliance: writes refused */
    proto_body *b = text_body("x");
    err[0] = 0;
    assert_int_equal(store_write(s, ids[F].key, "note", "k", 0, b, NULL, NULL, err, sizeof err), -1);
    assert_true(err[0] != 0);
    store_info in = info(s);
    assert_false(in.has_self);
    assert_false(in.has_genesis);
    assert_int_equal(store_create_genesis(s, ids[F].key, ids[F].der, ids[F].der_len, ids[F].code,
                                          ids[F].name, "A", 1, NULL, err, sizeof err), -1);
    bind(s, F);
    err[0] = 0;
    assert_int_equal(store_write(s, ids[F].key, "note", "k", 0, b, NULL, NULL, err, sizeof err), -1);
    assert_err_has(err, "alliance");
    proto_body_free(b);
    /* bad alliance parameters */
    assert_int_equal(store_create_genesis(s, ids[F].key, ids[F].der, ids[F].der_len, ids[F].code,
                                          ids[F].name, "", 1, NULL, err, sizeof err), -1);
    assert_int_equal(store_create_genesis(s, ids[F].key, ids[F].der, ids[F].der_len, ids[F].code,
                                          ids[F].name, "A", 0, NULL, err, sizeof err), -1);
    in = info(s);
    assert_false(in.has_genesis);

    assert_int_equal(store_create_genesis(s, ids[F].key, ids[F].der, ids[F].der_len, ids[F].code,
                                          ids[F].name, "テスト連合", 2, NULL, err, sizeof err), 0);
    /* once only */
    err[0] = 0;
    assert_int_equal(store_create_genesis(s, ids[F].key, ids[F].der, ids[F].der_len, ids[F].code,
                                          ids[F].name, "again", 1, NULL, err, sizeof err), -1);
    assert_err_has(err, "already");

    blobs g = all_of(s, F);
    assert_int_equal(g.n, 1);
    proto_record r;
    assert_int_equal(proto_record_decode(g.v[0].b, g.v[0].n, &r, err, sizeof err), 0);
    assert_string_equal(r.kind, "genesis");
    assert_int_equal(r.seq, 1);
    assert_true(proto_id_is_zero(&r.alliance));
    assert_memory_equal(r.author.b, ids[F].id.b, 32);
    assert_int_equal(proto_record_verify(&r, X509_get0_pubkey(ids[F].cert), err, sizeof err), 0);
    char buf[64];
    assert_int_equal(proto_body_copy_str(&r, "alliance", buf, sizeof buf), 0);
    assert_string_equal(buf, "テスト連合");

    uint8_t h[32];
    sha256(g.v[0].b, g.v[0].n, h);
    in = info(s);
    assert_true(in.has_self);
    assert_memory_equal(in.self.b, ids[F].id.b, 32);
    assert_true(in.has_genesis);
    assert_memory_equal(in.genesis.b, h, 32);       /* alliance id = genesis hash */
    const blob *only_g[] = { &g.v[0] };
    proto_id dg = expect_digest(only_g, 1);
    assert_memory_equal(in.digest.b, dg.b, 32);     /* one log of one record */
    assert_string_equal(in.alliance, "テスト連合");
    assert_int_equal(in.admission, 2);
    assert_int_equal(in.records, 1);
    assert_int_equal(in.current, 1);
    assert_int_equal(in.members, 1);
    assert_int_equal(in.authors, 1);
    assert_int_equal(in.forks, 0);
    assert_int_equal(store_vv_get(s, &ids[F].id), 1);
    assert_int_equal(store_vv_get(s, &ids[M].id), 0);

    store_member m;
    assert_int_equal(store_member_get(s, &ids[F].id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_ACTIVE);
    assert_string_equal(m.code, "131059");
    assert_string_equal(m.name, "文京区");
    assert_true(proto_id_is_zero(&m.admitted_by));
    uint8_t sh[32];
    sha256(m.spki, m.spki_len, sh);
    assert_memory_equal(sh, ids[F].id.b, 32);
    assert_int_equal(store_member_get(s, &ids[M].id, &m), 1);

    EVP_PKEY *k = store_member_key(s, &ids[F].id);
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_eq(k, X509_get0_pubkey(ids[F].cert)), 1);
    EVP_PKEY_free(k);
    assert_null(store_member_key(s, &ids[M].id));

    /* the store is bound to F */
    err[0] = 0;
    assert_int_equal(store_bind_self(s, &ids[M].id, err, sizeof err), -1);
    assert_err_has(err, "another");
    assert_int_equal(store_bind_self(s, &ids[F].id, err, sizeof err), 0);

    /* meta round trip */
    char v[16];
    size_t vl = sizeof v;
    assert_int_equal(store_meta_put(s, "sponsor", "abc\0def", 7), 0);
    assert_int_equal(store_meta_get(s, "sponsor", v, &vl), 0);
    assert_int_equal(vl, 7);
    assert_memory_equal(v, "abc\0def", 7);
    vl = 3;
    assert_int_equal(store_meta_get(s, "sponsor", v, &vl), -1);   /* does not fit */
    vl = sizeof v;
    assert_int_equal(store_meta_get(s, "absent", v, &vl), -1);

    /* the genesis copied into another store gives the same alliance id */
    store *s2 = open_fresh(NULL);
    bind(s2, O);
    assert_int_equal(take_blob(s2, &g.v[0]), STORE_NEW);
    store_info in2 = info(s2);
    assert_memory_equal(in2.genesis.b, h, 32);
    assert_memory_equal(in2.digest.b, dg.b, 32);
    assert_int_equal(in2.admission, 2);
    assert_int_equal(in2.members, 1);
    /* held: duplicate */
    assert_int_equal(take_blob(s2, &g.v[0]), STORE_DUP);
    /* a genesis of another alliance is refused */
    store *s3 = open_fresh(NULL);
    bind(s3, X);
    assert_int_equal(store_create_genesis(s3, ids[X].key, ids[X].der, ids[X].der_len, ids[X].code,
                                          ids[X].name, "他の連合", 1, NULL, err, sizeof err), 0);
    blobs g3 = all_of(s3, X);
    assert_int_equal(take_blob(s2, &g3.v[0]), STORE_REJECT);
    assert_int_equal(take_blob(s, &g3.v[0]), STORE_REJECT);
    in2 = info(s2);
    assert_memory_equal(in2.genesis.b, h, 32);
    assert_int_equal(in2.members, 1);
    blobs_free(&g3);
    blobs_free(&g);
    store_close(s3);
    store_close(s2);
    store_close(s);
}

/* ---- own writes: current, tombstones, history, version vector ---- */

struct vvc { int n; proto_id a; uint64_t seq; };

static int vv_cb(void *ctx, const proto_id *a, uint64_t seq)
{
    struct vvc *v = ctx;
    v->n++;
    v->a = *a;
    v->seq = seq;
    return 0;
}

static void writes_current_history(void **state)
{
    char err[256];
    store *s = found(NULL);
    blobs g = all_of(s, F);
    blob w[7];
    w[0] = write_rec(s, F, "note", "p1", 0, text_body("p1 v1"));           /* seq 2 */
    w[1] = write_rec(s, F, "note", "p2", 0, text_body("p2 v1"));           /* 3 */
    w[2] = write_rec(s, F, "note", "p1", 0, text_body("p1 v2"));           /* 4 */
    w[3] = write_rec(s, F, "note_b", "p1", 0, text_body("adopted"));              /* 5 */
    w[4] = write_rec(s, F, "note", "p1", PROTO_FLAG_TOMBSTONE, NULL);      /* 6 */
    w[5] = write_rec(s, F, "note", "p3", 0, text_body("p3"));              /* 7 */
    w[6] = write_rec(s, F, "note", "p3", 0, text_body("p3 v2"));           /* 8 */

    /* seqs assigned in order */
    for (int i = 0; i < 7; i++) {
        proto_record r;
        assert_int_equal(proto_record_decode(w[i].b, w[i].n, &r, err, sizeof err), 0);
        assert_int_equal(r.seq, 2 + i);
        assert_memory_equal(r.alliance.b, genesis_id(s).b, 32);
        assert_int_equal(proto_record_verify(&r, X509_get0_pubkey(ids[F].cert), err, sizeof err), 0);
    }
    assert_int_equal(store_vv_get(s, &ids[F].id), 8);

    /* the log holds exactly the returned bytes */
    blobs l = all_of(s, F);
    assert_int_equal(l.n, 8);
    assert_true(same_bytes(&l.v[0], &g.v[0]));
    for (int i = 0; i < 7; i++)
        assert_true(same_bytes(&l.v[1 + i], &w[i]));
    blobs part = { 0 };
    assert_int_equal(store_range(s, &ids[F].id, 3, 5, collect_cb, &part), 0);
    assert_int_equal(part.n, 3);
    assert_true(same_bytes(&part.v[0], &w[1]) && same_bytes(&part.v[2], &w[3]));
    blobs_free(&part);
    assert_int_equal(store_range(s, &ids[M].id, 1, UINT64_MAX, collect_cb, &part), 0);
    assert_int_equal(part.n, 0);

    /* last seq wins; a tombstone is current */
    blobs c = { 0 };
    assert_int_equal(store_get_current(s, &ids[F].id, "note", "p1", collect_cb, &c), 0);
    assert_int_equal(c.n, 1);
    assert_true(same_bytes(&c.v[0], &w[4]));
    proto_record r;
    assert_int_equal(proto_record_decode(c.v[0].b, c.v[0].n, &r, err, sizeof err), 0);
    assert_int_equal(r.flags, PROTO_FLAG_TOMBSTONE);
    blobs_free(&c);
    assert_int_equal(store_get_current(s, &ids[F].id, "note", "p3", collect_cb, &c), 0);
    assert_true(c.n == 1 && same_bytes(&c.v[0], &w[6]));
    blobs_free(&c);
    assert_int_equal(store_get_current(s, &ids[F].id, "note", "p2", collect_cb, &c), 0);
    assert_true(c.n == 1 && same_bytes(&c.v[0], &w[1]));
    blobs_free(&c);
    /* same key, other kind: its own entry */
    assert_int_equal(store_get_current(s, &ids[F].id, "note_b", "p1", collect_cb, &c), 0);
    assert_true(c.n == 1 && same_bytes(&c.v[0], &w[3]));
    blobs_free(&c);
    /* absent: other author, other key, prefix of a key */
    assert_int_equal(store_get_current(s, &ids[M].id, "note", "p1", collect_cb, &c), 1);
    assert_int_equal(store_get_current(s, &ids[F].id, "note", "p", collect_cb, &c), 1);
    assert_int_equal(store_get_current(s, &ids[F].id, "certificatio", "p1", collect_cb, &c), 1);
    assert_int_equal(store_get_current(s, &ids[F].id, "policy", "p1", collect_cb, &c), 1);
    assert_int_equal(c.n, 0);

    /* history: every version, in seq order */
    blobs h = { 0 };
    assert_int_equal(store_history(s, &ids[F].id, "note", "p1", collect_cb, &h), 0);
    assert_int_equal(h.n, 3);
    assert_true(same_bytes(&h.v[0], &w[0]) && same_bytes(&h.v[1], &w[2]) && same_bytes(&h.v[2], &w[4]));
    blobs_free(&h);
    assert_int_equal(store_history(s, &ids[F].id, "note", "p", collect_cb, &h), 0);
    assert_int_equal(h.n, 0);
    assert_int_equal(store_history(s, &ids[F].id, "note_b", "p1", collect_cb, &h), 0);
    assert_int_equal(h.n, 1);
    blobs_free(&h);

    /* current per kind */
    int n = 0;
    assert_int_equal(store_foreach_current(s, "note", count_cb, &n), 0);
    assert_int_equal(n, 3);     /* p1 (tombstone), p2, p3 */
    n = 0;
    assert_int_equal(store_foreach_current(s, "note_b", count_cb, &n), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(store_foreach_current(s, NULL, count_cb, &n), 0);
    assert_int_equal(n, 5);     /* + genesis */

    /* the digest commits to the whole log, every version */
    const blob *logs[8] = { &g.v[0] };
    for (int i = 0; i < 7; i++)
        logs[i + 1] = &w[i];
    proto_id d = expect_digest(logs, 8);
    store_info in = info(s);
    assert_memory_equal(in.digest.b, d.b, 32);
    assert_int_equal(in.records, 8);
    assert_int_equal(in.current, 5);
    assert_int_equal(in.authors, 1);

    /* a refused write does not use up a seq */
    err[0] = 0;
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "admit");
    char hx[65];
    hexid(M, hx);
    assert_int_equal(store_write(s, ids[F].key, "member", hx, 0, b, NULL, NULL, err, sizeof err), -1);
    proto_body_free(b);
    assert_true(err[0] != 0);
    assert_int_equal(store_write(s, ids[F].key, "Bad-Kind", "k", 0, NULL, NULL, NULL, err, sizeof err), -1);
    assert_int_equal(store_write(s, ids[F].key, "genesis", "genesis", 0, NULL, NULL, NULL, err, sizeof err), -1);
    assert_int_equal(store_vv_get(s, &ids[F].id), 8);
    blob nx = write_rec(s, F, "notice", "next", 0, NULL);
    assert_int_equal(proto_record_decode(nx.b, nx.n, &r, err, sizeof err), 0);
    assert_int_equal(r.seq, 9);
    free(nx.b);

    /* version vector */
    struct vvc vv = { 0 };
    assert_int_equal(store_vv(s, vv_cb, &vv), 0);
    assert_int_equal(vv.n, 1);
    assert_memory_equal(vv.a.b, ids[F].id.b, 32);
    assert_int_equal(vv.seq, 9);

    for (int i = 0; i < 7; i++)
        free(w[i].b);
    blobs_free(&l);
    blobs_free(&g);
    store_close(s);
}

/* ---- membership ---- */

static proto_body *expel_body(uint64_t held)
{
    proto_body *b = proto_body_new();
    assert_int_equal(proto_body_str(b, "op", "expel"), 0);
    assert_int_equal(proto_body_int(b, "seq", (int64_t)held), 0);
    return b;
}

/* An expelled member's log is accepted up to the seq its votes name (its
 * cut), on every node and in any order; beyond it, refused as FORMER. */
static void member_expulsion_cut(void **state)
{
    char hm[65], hr[65];
    size_t len;
    store *sf = found(NULL);
    proto_id g = genesis_id(sf);
    hexid(M, hm);
    hexid(R, hr);
    blob am = write_rec(sf, F, "member", hm, 0, admit_body(M, "192.0.2.7:7400"));
    blob ar = write_rec(sf, F, "member", hr, 0, admit_body(R, "192.0.2.8:7400"));
    uint8_t *m1 = sign_as(M, &g, 1, "note", "m1", 0, text_body("1"), &len);
    size_t l1 = len;
    uint8_t *m2 = sign_as(M, &g, 2, "note", "m2", 0, text_body("2"), &len);
    size_t l2 = len;
    uint8_t *m3 = sign_as(M, &g, 3, "note", "m3", 0, text_body("3"), &len);
    size_t l3 = len;
    assert_int_equal(take(sf, m1, l1), STORE_NEW);
    assert_int_equal(take(sf, m2, l2), STORE_NEW);

    /* two votes (the quorum with admission 1), each naming seq 2 */
    blob ef = write_rec(sf, F, "member", hm, 0, expel_body(2));
    store_member m;
    assert_int_equal(store_member_get(sf, &ids[M].id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_ACTIVE);
    size_t lr;
    uint8_t *er = sign_as(R, &g, 1, "member", hm, 0, expel_body(2), &lr);
    assert_int_equal(take(sf, er, lr), STORE_NEW);
    assert_int_equal(store_member_get(sf, &ids[M].id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_EXPELLED);
    int st;
    uint64_t cut;
    assert_int_equal(store_member_cut(sf, &ids[M].id, &st, &cut), 0);
    assert_int_equal(st, STORE_MEMBER_EXPELLED);
    assert_int_equal(cut, 2);
    assert_int_equal(take(sf, m3, l3), STORE_FORMER);
    assert_string_equal(store_member_mark(STORE_MEMBER_EXPELLED), "（除名）");
    assert_string_equal(store_member_mark(STORE_MEMBER_LEFT), "（脱退）");
    assert_string_equal(store_member_mark(STORE_MEMBER_ACTIVE), "");

    /* a node syncing from nothing gets the votes before M's log: M's
     * records up to the cut apply all the same, the one beyond does not */
    store *so = open_fresh(NULL);
    bind(so, O);
    copy_genesis(sf, so);
    assert_int_equal(take_blob(so, &am), STORE_NEW);
    assert_int_equal(take_blob(so, &ar), STORE_NEW);
    assert_int_equal(take_blob(so, &ef), STORE_NEW);
    assert_int_equal(take(so, er, lr), STORE_NEW);
    assert_int_equal(store_member_get(so, &ids[M].id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_EXPELLED);
    assert_int_equal(take(so, m1, l1), STORE_NEW);
    assert_int_equal(take(so, m2, l2), STORE_NEW);
    assert_int_equal(take(so, m3, l3), STORE_FORMER);
    assert_memory_equal(info(so).digest.b, info(sf).digest.b, 32);

    free(m1);
    free(m2);
    free(m3);
    free(er);
    free(am.b);
    free(ar.b);
    free(ef.b);
    store_close(so);
    store_close(sf);
}

/* With admission 2 the quorum is min(2, active members): the founder alone
 * admits the second member; the third needs both. */
static void member_admission_quorum(void **state)
{
    char err[256], hm[65], hr[65];
    store *s = open_fresh(NULL);
    bind(s, F);
    if (store_create_genesis(s, ids[F].key, ids[F].der, ids[F].der_len, ids[F].code, ids[F].name,
                             "テスト連合", 2, "192.0.2.1:7400", err, sizeof err))
        fail_msg("genesis: %s", err);
    proto_id g = genesis_id(s);
    uint32_t adm, need;
    assert_int_equal(store_member_quorum(s, &adm, &need), 0);
    assert_int_equal(adm, 2);
    assert_int_equal(need, 1);
    hexid(M, hm);
    hexid(R, hr);
    blob am = write_rec(s, F, "member", hm, 0, admit_body(M, ""));
    store_member m;
    assert_int_equal(store_member_get(s, &ids[M].id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_ACTIVE);
    assert_int_equal(store_member_quorum(s, &adm, &need), 0);
    assert_int_equal(need, 2);
    blob ar = write_rec(s, F, "member", hr, 0, admit_body(R, ""));
    assert_int_equal(store_member_get(s, &ids[R].id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_PENDING);
    assert_int_equal(m.endorsements, 1);
    /* pending: its records wait as an unknown author's */
    size_t len;
    uint8_t *r1 = sign_as(R, &g, 1, "note", "r1", 0, text_body("1"), &len);
    assert_int_equal(take(s, r1, len), STORE_UNKNOWN_AUTHOR);
    uint8_t *mr = sign_as(M, &g, 1, "member", hr, 0, admit_body(R, ""), &len);
    assert_int_equal(take(s, mr, len), STORE_NEW);
    assert_int_equal(store_member_get(s, &ids[R].id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_ACTIVE);
    assert_int_equal(m.endorsements, 2);
    free(mr);
    free(r1);
    free(am.b);
    free(ar.b);
    store_close(s);
}

static void member_admission(void **state)
{
    char err[256], hx[65];
    store *sf = found(NULL);
    store *sm = open_fresh(NULL);
    bind(sm, M);
    copy_genesis(sf, sm);
    proto_id g = genesis_id(sf);
    assert_memory_equal(genesis_id(sm).b, g.b, 32);

    /* M is no member yet: it cannot write, and its records are refused */
    err[0] = 0;
    assert_int_equal(store_write(sm, ids[M].key, "note", "m", 0, NULL, NULL, NULL, err, sizeof err), -1);
    assert_err_has(err, "member");
    size_t len;
    uint8_t *early = sign_as(M, &g, 1, "note", "early", 0, text_body("e"), &len);
    assert_int_equal(take(sf, early, len), STORE_UNKNOWN_AUTHOR);
    assert_int_equal(store_vv_get(sf, &ids[M].id), 0);

    /* F admits M */
    hexid(M, hx);
    blob adm = write_rec(sf, F, "member", hx, 0, admit_body(M, "192.0.2.7:7400"));
    store_member m;
    assert_int_equal(store_member_get(sf, &ids[M].id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_ACTIVE);
    assert_memory_equal(m.admitted_by.b, ids[F].id.b, 32);
    assert_string_equal(m.code, "131016");
    assert_string_equal(m.name, "千代田区");
    assert_string_equal(m.address, "192.0.2.7:7400");
    assert_int_equal(m.endorsements, 1);
    assert_int_equal(info(sf).members, 2);
    /* the founder's address came with the genesis */
    assert_int_equal(store_member_get(sf, &ids[F].id, &m), 0);
    assert_string_equal(m.address, "192.0.2.1:7400");
    assert_int_equal(m.status, STORE_MEMBER_ACTIVE);

    /* M's store takes the admission from F through precheck + verify */
    assert_int_equal(take_blob(sm, &adm), STORE_NEW);
    assert_int_equal(store_member_get(sm, &ids[M].id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_ACTIVE);
    assert_int_equal(info(sm).members, 2);

    /* now the early record applies */
    assert_int_equal(take(sf, early, len), STORE_NEW);
    assert_int_equal(take(sm, early, len), STORE_NEW);
    free(early);

    /* M writes as itself in its own store (next seq 2) */
    blob mw = write_rec(sm, M, "note", "m-prod", 0, text_body("m"));
    proto_record r;
    assert_int_equal(proto_record_decode(mw.b, mw.n, &r, err, sizeof err), 0);
    assert_int_equal(r.seq, 2);
    assert_memory_equal(r.alliance.b, g.b, 32);
    assert_int_equal(take_blob(sf, &mw), STORE_NEW);

    /* and signs one by hand: alliance from store_info, author its id, next seq */
    store_info in = info(sm);
    uint64_t next = store_vv_get(sm, &ids[M].id) + 1;
    assert_int_equal(next, 3);
    uint8_t *mr = sign_as(M, &in.genesis, next, "note_b", "f-prod", 0, text_body("adopted"), &len);
    assert_int_equal(take(sf, mr, len), STORE_NEW);
    assert_int_equal(take(sm, mr, len), STORE_NEW);
    free(mr);

    /* the store hands out M's key for M's records */
    EVP_PKEY *k = store_member_key(sf, &ids[M].id);
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_eq(k, X509_get0_pubkey(ids[M].cert)), 1);
    EVP_PKEY_free(k);

    /* M announces a new address for itself */
    blob addr;
    {
        proto_body *b = proto_body_new();
        proto_body_str(b, "op", "address");
        proto_body_str(b, "address", "198.51.100.1:7400");
        addr = write_rec(sm, M, "member", hx, 0, b);
    }
    assert_int_equal(take_blob(sf, &addr), STORE_NEW);
    assert_int_equal(store_member_get(sf, &ids[M].id, &m), 0);
    assert_string_equal(m.address, "198.51.100.1:7400");
    assert_int_equal(m.status, STORE_MEMBER_ACTIVE);

    /* both stores agree */
    store_info a = info(sf), b = info(sm);
    assert_memory_equal(a.digest.b, b.digest.b, 32);
    assert_int_equal(a.records, 6);
    assert_int_equal(b.records, 6);
    assert_int_equal(a.members, 2);
    assert_int_equal(store_vv_get(sf, &ids[M].id), 4);
    assert_int_equal(store_vv_get(sm, &ids[F].id), 2);

    /* M leaves: no longer a member, its further records are refused */
    {
        proto_body *lb = proto_body_new();
        proto_body_str(lb, "op", "leave");
        blob lv = write_rec(sm, M, "member", hx, 0, lb);
        assert_int_equal(take_blob(sf, &lv), STORE_NEW);
        free(lv.b);
    }
    assert_int_equal(store_member_get(sf, &ids[M].id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_LEFT);
    assert_int_equal(info(sf).members, 1);
    assert_null(store_member_key(sf, &ids[M].id));
    /* beyond its leave record (its cut), refused as a former member's,
     * gap or not */
    uint8_t *after = sign_as(M, &g, 6, "note", "late", 0, text_body("l"), &len);
    assert_int_equal(take(sf, after, len), STORE_FORMER);
    free(after);
    after = sign_as(M, &g, 9, "note", "later", 0, text_body("l"), &len);
    assert_int_equal(take(sf, after, len), STORE_FORMER);
    free(after);

    free(adm.b);
    free(mw.b);
    free(addr.b);
    store_close(sm);
    store_close(sf);
}

/* ---- refusals ---- */

/* store_apply_hashed: records applied with the hashes and log chain
 * steps a caller computed (ingest, on the thread pool) give the store
 * that computing them at apply gives; a step computed from a chain value
 * that is not the one before the record is not used; with the check on,
 * a hash or step that is not what the record's bytes give fails the
 * whole batch and writes nothing; with it off, both are taken as handed
 * over (what the log's chain commits to): the check, or the caller's
 * care, is all that keeps a wrong one out. */
static void apply_hashed(void **state)
{
    char err[256], hx[65];
    enum { N = 5, NS = 5 };
    store *sf = found(NULL);
    hexid(M, hx);
    blob adm = write_rec(sf, F, "member", hx, 0, admit_body(M, ""));
    store *st[NS];
    for (int k = 0; k < NS; k++) {
        st[k] = open_fresh(NULL);
        bind(st[k], O);
        copy_genesis(sf, st[k]);
        assert_int_equal(take_blob(st[k], &adm), STORE_NEW);
        store_check_hashes(st[k], 0);
    }
    proto_id g = genesis_id(sf);
    uint8_t *raw[N];
    size_t len[N];
    proto_record r[N];
    store_pre pre[N], hashonly[N];
    int res[N];
    uint8_t prev[32];
    assert_int_equal(store_chain_get(st[1], &ids[M].id, 0, prev, NULL), 0);
    memset(pre, 0, sizeof pre);
    for (int i = 0; i < N; i++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", i % 3);
        raw[i] = sign_as(M, &g, (uint64_t)i + 1, "note", key, 0, text_body(key), &len[i]);
        assert_int_equal(proto_record_decode(raw[i], len[i], &r[i], err, sizeof err), 0);
        proto_record_hash(raw[i], len[i], &pre[i].hash);
        memcpy(pre[i].chain_prev, prev, 32);
        store_chain_step(prev, (uint64_t)i + 1, pre[i].hash.b, pre[i].chain);
        pre[i].chained = 1;
        memcpy(prev, pre[i].chain, 32);
        hashonly[i] = pre[i];
        hashonly[i].chained = 0;
    }
    /* st[0] computes both at apply, st[1] takes the hashes, st[2] both */
    assert_int_equal(store_apply_prechecked(st[0], r, N, res, err, sizeof err), 0);
    assert_int_equal(store_apply_hashed(st[1], r, hashonly, N, res, err, sizeof err), 0);
    assert_int_equal(store_apply_hashed(st[2], r, pre, N, res, err, sizeof err), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(res[i], STORE_NEW);
    proto_id d[NS], gg;
    int hg;
    for (int k = 0; k < 3; k++)
        assert_int_equal(store_digest_get(st[k], &d[k], &gg, &hg), 0);
    assert_memory_equal(&d[0], &d[1], 32);
    assert_memory_equal(&d[0], &d[2], 32);
    for (int i = 0; i < N; i++) {
        uint8_t c0[32], c[32], h[32];
        assert_int_equal(store_chain_get(st[0], &ids[M].id, (uint64_t)i + 1, c0, NULL), 0);
        for (int k = 1; k < 3; k++) {
            assert_int_equal(store_chain_get(st[k], &ids[M].id, (uint64_t)i + 1, c, h), 0);
            assert_memory_equal(c0, c, 32);
            assert_memory_equal(h, pre[i].hash.b, 32);
        }
    }

    /* a wrong hash for seq 3, the check on: refused, nothing written */
    store_pre bad[N];
    memcpy(bad, hashonly, sizeof bad);
    bad[2].hash.b[0] ^= 1;
    store_info before = info(st[3]);
    store_check_hashes(st[3], 1);
    err[0] = 0;
    assert_int_equal(store_apply_hashed(st[3], r, bad, N, res, err, sizeof err), -1);
    assert_non_null(strstr(err, "seq 3"));
    store_info after = info(st[3]);
    assert_memory_equal(&before.digest, &after.digest, 32);
    assert_int_equal(before.records, after.records);
    assert_int_equal(store_vv_get(st[3], &ids[M].id), 0);
    /* a chain step that is not the step from the value it names: refused */
    memcpy(bad, pre, sizeof bad);
    bad[3].chain[5] ^= 1;
    assert_int_equal(store_apply_hashed(st[3], r, bad, N, res, err, sizeof err), -1);
    assert_non_null(strstr(err, "seq 4"));
    assert_int_equal(store_vv_get(st[3], &ids[M].id), 0);
    /* the check off: the wrong hash is what the log commits to */
    store_check_hashes(st[3], 0);
    memcpy(bad, hashonly, sizeof bad);
    bad[2].hash.b[0] ^= 1;
    assert_int_equal(store_apply_hashed(st[3], r, bad, N, res, err, sizeof err), 0);
    uint8_t h2[32];
    assert_int_equal(store_chain_get(st[3], &ids[M].id, 3, NULL, h2), 0);
    assert_memory_equal(h2, bad[2].hash.b, 32);
    assert_int_equal(store_digest_get(st[3], &d[3], &gg, &hg), 0);
    assert_memory_not_equal(&d[0], &d[3], 32);

    /* st[4]: a step from a chain value that is not the one before seq 2
     * is not used, whatever it says; one from the right value is, as
     * handed over (the check off) */
    memcpy(bad, pre, sizeof bad);
    bad[1].chain_prev[0] ^= 1;
    memset(bad[1].chain, 0xee, 32);   /* would corrupt every later chain */
    bad[4].chain[0] ^= 1;             /* from the right value: taken */
    assert_int_equal(store_apply_hashed(st[4], r, bad, N, res, err, sizeof err), 0);
    uint8_t c0[32], c4[32];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(store_chain_get(st[0], &ids[M].id, (uint64_t)i + 1, c0, NULL), 0);
        assert_int_equal(store_chain_get(st[4], &ids[M].id, (uint64_t)i + 1, c4, NULL), 0);
        assert_memory_equal(c0, c4, 32);
    }
    assert_int_equal(store_chain_get(st[4], &ids[M].id, 5, c4, NULL), 0);
    assert_memory_equal(c4, bad[4].chain, 32);

    for (int i = 0; i < N; i++)
        free(raw[i]);
    free(adm.b);
    for (int k = 0; k < NS; k++)
        store_close(st[k]);
    store_close(sf);
}

static void refusals(void **state)
{
    char err[256], hx[65], hxx[65], hxr[65];
    store *sf = found(NULL);
    hexid(M, hx);
    hexid(X, hxx);
    hexid(R, hxr);
    blob adm = write_rec(sf, F, "member", hx, 0, admit_body(M, ""));
    store *s = open_fresh(NULL);
    bind(s, O);
    copy_genesis(sf, s);
    assert_int_equal(take_blob(s, &adm), STORE_NEW);
    proto_id g = genesis_id(s);
    /* M at seq 1 */
    size_t len;
    uint8_t *m1 = sign_as(M, &g, 1, "note", "a", 0, text_body("1"), &len);
    assert_int_equal(take(s, m1, len), STORE_NEW);
    store_info before = info(s);

    struct { uint8_t *b; size_t n; int want; const char *what; } c[24];
    int nc = 0;
#define CASE(bytes, want_) do { size_t l_; uint8_t *b_ = (bytes); c[nc].b = b_; c[nc].n = l_; \
        c[nc].want = (want_); c[nc].what = #bytes; nc++; } while (0)
    /* sign_as writes into l_ through its last argument */
#define S(who, all, seq, kind, key, fl, body) sign_as(who, all, seq, kind, key, fl, body, &l_)
    proto_id other = g, zero = { { 0 } };
    other.b[0] ^= 1;
    /* non-member */
    CASE(S(X, &g, 1, "note", "x", 0, text_body("x")), STORE_UNKNOWN_AUTHOR);
    /* wrong alliance, and none at all */
    CASE(S(M, &other, 2, "note", "b", 0, text_body("2")), STORE_REJECT);
    CASE(S(M, &zero, 2, "note", "b", 0, text_body("2")), STORE_REJECT);
    /* gaps */
    CASE(S(M, &g, 3, "note", "b", 0, text_body("3")), STORE_GAP);
    CASE(S(M, &g, 1000, "note", "b", 0, text_body("3")), STORE_GAP);
    /* a member cannot admit itself */
    CASE(S(M, &g, 2, "member", hx, 0, admit_body(M, "")), STORE_REJECT);
    /* member records: key must be the certificate's id, in hex */
    CASE(S(M, &g, 2, "member", hxr, 0, admit_body(X, "")), STORE_REJECT);
    CASE(S(M, &g, 2, "member", "not-hex", 0, admit_body(X, "")), STORE_REJECT);
    /* no valid op */
    {
        proto_body *b = proto_body_new();
        proto_body_str(b, "op", "promote");
        CASE(S(M, &g, 2, "member", hxx, 0, b), STORE_REJECT);
    }
    /* an expulsion's reason, when it has one: 1..STORE_EXPEL_REASON_MAX
     * bytes of UTF-8 (one without a reason is an older record: valid) */
    {
        static char longr[STORE_EXPEL_REASON_MAX + 2];
        memset(longr, 'x', STORE_EXPEL_REASON_MAX + 1);
        const char *bad[] = { "", longr };   /* (invalid UTF-8 cannot be signed at all) */
        for (size_t k = 0; k < 2; k++) {
            proto_body *b = proto_body_new();
            proto_body_str(b, "op", "expel");
            proto_body_int(b, "seq", 0);
            proto_body_str(b, "reason", bad[k]);
            CASE(S(M, &g, 2, "member", hxx, 0, b), STORE_REJECT);
        }
        proto_body *b = proto_body_new();
        proto_body_str(b, "op", "expel");
        proto_body_int(b, "reason", 7);
        CASE(S(M, &g, 2, "member", hxx, 0, b), STORE_REJECT);
    }
    /* a catalog kind is held to its schema (catalog_record_validate) */
    CASE(S(M, &g, 2, "certification", "b", 0, text_body("2")), STORE_REJECT);
    /* member records cannot be deleted */
    CASE(S(M, &g, 2, "member", hxx, PROTO_FLAG_TOMBSTONE, admit_body(X, "")), STORE_REJECT);
    /* a second genesis, by a member */
    {
        proto_body *b = proto_body_new();
        proto_body_str(b, "alliance", "second");
        proto_body_int(b, "admission", 1);
        proto_body_str(b, "code", ids[M].code);
        proto_body_str(b, "name", ids[M].name);
        proto_body_bin(b, "cert", ids[M].der, ids[M].der_len);
        CASE(S(M, &zero, 1, "genesis", "genesis", 0, b), STORE_REJECT);
    }
    /* only the subject may announce its address */
    {
        proto_body *b = proto_body_new();
        proto_body_str(b, "op", "address");
        proto_body_str(b, "address", "203.0.113.9:1");
        char fh[65];
        hexid(F, fh);
        CASE(S(M, &g, 2, "member", fh, 0, b), STORE_REJECT);
    }
    /* duplicates: the genesis, the admission, M's first record */
    {
        blobs gg = all_of(s, F);
        size_t l_;
        c[nc].b = malloc(gg.v[0].n); memcpy(c[nc].b, gg.v[0].b, gg.v[0].n); c[nc].n = gg.v[0].n;
        c[nc].want = STORE_DUP; c[nc].what = "genesis again"; nc++;
        c[nc].b = malloc(adm.n); memcpy(c[nc].b, adm.b, adm.n); c[nc].n = adm.n;
        c[nc].want = STORE_DUP; c[nc].what = "admission again"; nc++;
        c[nc].b = malloc(len); memcpy(c[nc].b, m1, len); c[nc].n = len;
        c[nc].want = STORE_DUP; c[nc].what = "m1 again"; nc++;
        (void)l_;
        blobs_free(&gg);
    }
#undef S
#undef CASE
    for (int i = 0; i < nc; i++) {
        proto_record r;
        assert_int_equal(proto_record_decode(c[i].b, c[i].n, &r, err, sizeof err), 0);
        EVP_PKEY *k = (EVP_PKEY *)1;
        err[0] = 0;
        int pre = store_precheck(s, &r, &k, err, sizeof err);
        if (pre != c[i].want)
            fail_msg("case %d (%s): precheck %s, expected %s (%s)", i, c[i].what,
                     store_result_str(pre), store_result_str(c[i].want), err);
        assert_null(k);
        if (pre != STORE_DUP)
            assert_true(err[0] != 0);    /* says why */
        /* apply re-checks the same rules */
        int res = -1;
        assert_int_equal(store_apply_batch(s, &r, 1, &res, err, sizeof err), 0);
        if (res != c[i].want)
            fail_msg("case %d (%s): apply %s, expected %s", i, c[i].what,
                     store_result_str(res), store_result_str(c[i].want));
    }
    /* nothing changed */
    store_info after = info(s);
    assert_memory_equal(after.digest.b, before.digest.b, 32);
    assert_int_equal(after.records, before.records);
    assert_int_equal(after.current, before.current);
    assert_int_equal(after.members, 2);
    assert_int_equal(after.forks, 0);
    assert_int_equal(store_vv_get(s, &ids[M].id), 1);
    assert_int_equal(store_vv_get(s, &ids[X].id), 0);

    /* a record claiming to be F's but signed by X: precheck passes (it is
     * cheap), the signature check under F's key does not */
    uint8_t *forged;
    {
        proto_body *b = text_body("forged");
        uint8_t *tmp = NULL;
        size_t tl;
        assert_int_equal(proto_record_sign(&g, &ids[F].id, "note", "f", 3, 1, 0, b,
                                           ids[X].key, &tmp, &tl, err, sizeof err), 0);
        proto_body_free(b);
        forged = tmp;
        proto_record r;
        assert_int_equal(proto_record_decode(forged, tl, &r, err, sizeof err), 0);
        EVP_PKEY *k = NULL;
        assert_int_equal(store_precheck(s, &r, &k, err, sizeof err), STORE_NEW);
        assert_non_null(k);
        assert_int_equal(proto_record_verify(&r, k, err, sizeof err), -1);
        EVP_PKEY_free(k);
    }
    free(forged);

    /* the outsider's record becomes acceptable once F admits X */
    blob admx = write_rec(sf, F, "member", hxx, 0, admit_body(X, ""));
    free(admx.b);
    blobs fl = all_of(sf, F);
    assert_int_equal(fl.n, 3);
    assert_int_equal(take_blob(s, &fl.v[2]), STORE_NEW);
    assert_int_equal(take(s, c[0].b, c[0].n), STORE_NEW);
    assert_int_equal(info(s).members, 3);
    blobs_free(&fl);

    for (int i = 0; i < nc; i++)
        free(c[i].b);
    free(m1);
    free(adm.b);
    store_close(s);
    store_close(sf);
}

/* ---- equivocation ---- */

static void equivocation(void **state)
{
    char hx[65];
    store *sf = found(NULL);
    hexid(M, hx);
    blob adm = write_rec(sf, F, "member", hx, 0, admit_body(M, ""));
    blobs base = all_of(sf, F);   /* genesis, admission */
    proto_id g = genesis_id(sf);
    size_t l1, la, lb, lc;
    uint8_t *m1 = sign_as(M, &g, 1, "note", "k1", 0, text_body("1"), &l1);
    /* two different records with seq 2, then seq 3 */
    uint8_t *a = sign_as(M, &g, 2, "note", "k2", 0, text_body("A"), &la);
    uint8_t *b = sign_as(M, &g, 2, "note", "k3", 0, text_body("B"), &lb);
    uint8_t *c3 = sign_as(M, &g, 3, "note", "k4", 0, text_body("C"), &lc);
    blob A = { a, la }, B = { b, lb }, C = { c3, lc }, M1 = { m1, l1 };
    uint8_t ha[32], hb[32];
    sha256(a, la, ha);
    sha256(b, lb, hb);
    int a_wins = memcmp(ha, hb, 32) < 0;
    const blob *win = a_wins ? &A : &B, *lose = a_wins ? &B : &A;

    store *s[3];
    for (int i = 0; i < 3; i++) {
        s[i] = open_fresh(NULL);
        bind(s[i], O);
        for (size_t j = 0; j < base.n; j++)
            assert_int_equal(take_blob(s[i], &base.v[j]), STORE_NEW);
        assert_int_equal(take_blob(s[i], &M1), STORE_NEW);
    }
    /* store 0: A, C, B;  store 1: B, A, C;  store 2: A and B in one batch, then C */
    assert_int_equal(take_blob(s[0], &A), STORE_NEW);
    assert_int_equal(take_blob(s[0], &C), STORE_NEW);
    assert_int_equal(take_blob(s[0], &B), STORE_FORK);
    assert_int_equal(take_blob(s[1], &B), STORE_NEW);
    assert_int_equal(take_blob(s[1], &A), STORE_FORK);
    assert_int_equal(take_blob(s[1], &C), STORE_NEW);
    {
        const blob *batch[2] = { &B, &A };
        int res[2];
        apply_batch_checked(s[2], batch, 2, res);
        assert_int_equal(res[0], STORE_NEW);
        assert_int_equal(res[1], STORE_FORK);
        assert_int_equal(take_blob(s[2], &C), STORE_NEW);
    }

    /* expected digest: the logs genesis, admission; m1, winner, C */
    const blob *logs[] = { &base.v[0], &base.v[1], &M1, win, &C };
    proto_id d = expect_digest(logs, 5);
    /* the chain follows the winner at seq 2, and seq 3 after it (store 0
     * and 1 held the loser first when it sorts after: rebuilt) */
    uint8_t ch2[32], ch3[32];
    expect_chain(logs, 5, &ids[M].id, 2, ch2);
    expect_chain(logs, 5, &ids[M].id, 3, ch3);
    for (int i = 0; i < 3; i++) {
        uint8_t c[32], h[32], hw[32];
        sha256(win->b, win->n, hw);
        assert_int_equal(store_chain_get(s[i], &ids[M].id, 2, c, h), 0);
        assert_memory_equal(c, ch2, 32);
        assert_memory_equal(h, hw, 32);
        assert_int_equal(store_chain_get(s[i], &ids[M].id, 3, c, NULL), 0);
        assert_memory_equal(c, ch3, 32);
        assert_int_equal(store_chain_get(s[i], &ids[M].id, 4, c, NULL), 1);
    }
    const char *win_key = a_wins ? "k2" : "k3", *lose_key = a_wins ? "k3" : "k2";
    for (int i = 0; i < 3; i++) {
        store_info in = info(s[i]);
        if (memcmp(in.digest.b, d.b, 32))
            fail_msg("store %d: digest differs from the expected one (winner %s)", i, win_key);
        assert_int_equal(in.forks, 1);
        assert_int_equal(in.records, 5);
        assert_int_equal(in.current, 5);
        assert_int_equal(store_vv_get(s[i], &ids[M].id), 3);
        /* the log holds the winner at seq 2 */
        blobs at2 = { 0 };
        assert_int_equal(store_range(s[i], &ids[M].id, 2, 2, collect_cb, &at2), 0);
        assert_int_equal(at2.n, 1);
        if (!same_bytes(&at2.v[0], win))
            fail_msg("store %d keeps the higher-hash record at seq 2", i);
        blobs_free(&at2);
        /* the evidence is the loser */
        blobs fk = { 0 };
        assert_int_equal(store_forks(s[i], collect_cb, &fk), 0);
        assert_int_equal(fk.n, 1);
        assert_true(same_bytes(&fk.v[0], lose));
        blobs_free(&fk);
        /* current and history follow the winner */
        blobs cur = { 0 };
        assert_int_equal(store_get_current(s[i], &ids[M].id, "note", win_key, collect_cb, &cur), 0);
        assert_true(cur.n == 1 && same_bytes(&cur.v[0], win));
        blobs_free(&cur);
        assert_int_equal(store_get_current(s[i], &ids[M].id, "note", lose_key, collect_cb, &cur), 1);
        assert_int_equal(store_history(s[i], &ids[M].id, "note", lose_key, collect_cb, &cur), 0);
        assert_int_equal(cur.n, 0);
        /* both are held now: duplicates */
        assert_int_equal(take_blob(s[i], &A), STORE_DUP);
        assert_int_equal(take_blob(s[i], &B), STORE_DUP);
        assert_int_equal(info(s[i]).forks, 1);
    }
    /* and the stores agree with each other */
    store_info i0 = info(s[0]), i1 = info(s[1]), i2 = info(s[2]);
    assert_memory_equal(i0.digest.b, i1.digest.b, 32);
    assert_memory_equal(i0.digest.b, i2.digest.b, 32);

    /* a third record with seq 2 adds more evidence, wherever it sorts */
    size_t lx;
    uint8_t *x = sign_as(M, &g, 2, "note", "k5", 0, text_body("X"), &lx);
    blob Xb = { x, lx };
    uint8_t hx3[32];
    sha256(x, lx, hx3);
    assert_int_equal(take_blob(s[0], &Xb), STORE_FORK);
    assert_int_equal(take_blob(s[1], &Xb), STORE_FORK);
    assert_int_equal(info(s[0]).forks, 2);
    const blob *win3 = memcmp(hx3, a_wins ? ha : hb, 32) < 0 ? &Xb : win;
    for (int i = 0; i < 2; i++) {
        blobs at2 = { 0 };
        assert_int_equal(store_range(s[i], &ids[M].id, 2, 2, collect_cb, &at2), 0);
        assert_true(at2.n == 1 && same_bytes(&at2.v[0], win3));
        blobs_free(&at2);
    }
    assert_memory_equal(info(s[0]).digest.b, info(s[1]).digest.b, 32);

    /* one (author, seq) held in another version: the digests differ, equal
     * vectors notwithstanding */
    store *sa = open_fresh(NULL), *sb = open_fresh(NULL);
    bind(sa, O);
    bind(sb, O);
    for (size_t j = 0; j < base.n; j++) {
        assert_int_equal(take_blob(sa, &base.v[j]), STORE_NEW);
        assert_int_equal(take_blob(sb, &base.v[j]), STORE_NEW);
    }
    const blob *only_a[] = { &M1, &A, &C }, *only_b[] = { &M1, &B, &C };
    for (int j = 0; j < 3; j++) {
        assert_int_equal(take_blob(sa, only_a[j]), STORE_NEW);
        assert_int_equal(take_blob(sb, only_b[j]), STORE_NEW);
    }
    assert_int_equal(store_vv_get(sa, &ids[M].id), store_vv_get(sb, &ids[M].id));
    assert_memory_not_equal(info(sa).digest.b, info(sb).digest.b, 32);
    const blob *la5[] = { &base.v[0], &base.v[1], &M1, &A, &C };
    proto_id da = expect_digest(la5, 5);
    assert_memory_equal(info(sa).digest.b, da.b, 32);
    uint8_t ca[32], cb[32];
    assert_int_equal(store_chain_get(sa, &ids[M].id, 1, ca, NULL), 0);
    assert_int_equal(store_chain_get(sb, &ids[M].id, 1, cb, NULL), 0);
    assert_memory_equal(ca, cb, 32);         /* the logs agree up to seq 1 */
    assert_int_equal(store_chain_get(sa, &ids[M].id, 2, ca, NULL), 0);
    assert_int_equal(store_chain_get(sb, &ids[M].id, 2, cb, NULL), 0);
    assert_memory_not_equal(ca, cb, 32);     /* and differ from seq 2 on */
    /* each given the other version, they agree */
    assert_int_equal(take_blob(sa, &B), STORE_FORK);
    assert_int_equal(take_blob(sb, &A), STORE_FORK);
    assert_memory_equal(info(sa).digest.b, info(sb).digest.b, 32);
    assert_memory_equal(info(sa).digest.b, d.b, 32);
    store_close(sa);
    store_close(sb);

    for (int i = 0; i < 3; i++)
        store_close(s[i]);
    free(x);
    free(a);
    free(b);
    free(c3);
    free(m1);
    free(adm.b);
    blobs_free(&base);
    store_close(sf);
}

/* The founder equivocating on seq 1 must not push the pinned genesis out of
 * the log (newcomers fetch it from there), whatever the hashes: the other
 * record is kept as evidence. */
static void genesis_never_replaced(void **state)
{
    /* a genesis whose hash is in the upper half, so that about every other
     * seq-1 record has a lower hash (the case that matters) */
    store *sf = NULL;
    proto_id g;
    for (int t = 0; t < 64; t++) {
        sf = found(NULL);
        g = genesis_id(sf);
        if (g.b[0] >= 0x80)
            break;
        store_close(sf);
        sf = NULL;
    }
    assert_non_null(sf);
    blobs gb = all_of(sf, F);
    store *s = open_fresh(NULL);
    bind(s, O);
    copy_genesis(sf, s);
    int lower = 0, forks = 0;
    for (int t = 0; t < 64 && lower < 2; t++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", t);
        size_t l;
        uint8_t *x = sign_as(F, &g, 1, "note", k, 0, text_body("x"), &l);
        blob X1 = { x, l };
        uint8_t hx[32];
        sha256(x, l, hx);
        if (memcmp(hx, g.b, 32) < 0)
            lower++;
        int res = take_blob(s, &X1);
        assert_true(res == STORE_FORK || res == STORE_REJECT);
        forks += res == STORE_FORK;
        free(x);
        blobs at1 = { 0 };
        assert_int_equal(store_range(s, &ids[F].id, 1, 1, collect_cb, &at1), 0);
        assert_int_equal(at1.n, 1);
        if (!same_bytes(&at1.v[0], &gb.v[0]))
            fail_msg("a seq-1 record of the founder (hash %s the genesis's) replaced the genesis",
                     memcmp(hx, g.b, 32) < 0 ? "below" : "above");
        blobs_free(&at1);
    }
    assert_true(lower >= 1);   /* the case that matters did happen */
    store_info in = info(s);
    assert_memory_equal(in.genesis.b, g.b, 32);
    assert_int_equal(in.forks, (uint64_t)forks);
    assert_int_equal(in.current, 1);
    blobs cur = { 0 };
    assert_int_equal(store_get_current(s, &ids[F].id, "genesis", "genesis", collect_cb, &cur), 0);
    assert_true(cur.n == 1 && same_bytes(&cur.v[0], &gb.v[0]));
    blobs_free(&cur);
    blobs_free(&gb);
    store_close(s);
    store_close(sf);
}

/* Deriving afresh changes nothing: what the store holds already is what the
 * log gives. */
static void assert_derived(store *s)
{
    char err[256];
    int changed = -1;
    if (store_member_rederive(s, &changed, err, sizeof err))
        fail_msg("rederive: %s", err);
    assert_int_equal(changed, 0);
}

/* ---- digest: same records, any order, any batching ---- */

typedef struct {
    blobs all;          /* every record */
    int *author;        /* per record */
    uint64_t *seq;
    proto_id digest;    /* expected */
    size_t current;     /* expected number of current entries */
    uint64_t vv[NIDS];
} world;

static void world_free(world *w)
{
    blobs_free(&w->all);
    free(w->author);
    free(w->seq);
}

/* Expected digest and counts, from the records alone. */
static void world_expect(world *w)
{
    size_t n = w->all.n;
    memset(&w->digest, 0, sizeof w->digest);
    memset(w->vv, 0, sizeof w->vv);
    w->current = 0;
    w->author = calloc(n, sizeof *w->author);
    w->seq = calloc(n, sizeof *w->seq);
    proto_record *r = calloc(n, sizeof *r);
    char err[256];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(proto_record_decode(w->all.v[i].b, w->all.v[i].n, &r[i], err, sizeof err), 0);
        w->author[i] = author_of(&w->all.v[i]);
        w->seq[i] = r[i].seq;
        if (r[i].seq > w->vv[w->author[i]])
            w->vv[w->author[i]] = r[i].seq;
    }
    for (size_t i = 0; i < n; i++) {
        int newest = 1;
        for (size_t j = 0; j < n; j++)
            if (j != i && !memcmp(&r[i].author, &r[j].author, 32) && !strcmp(r[i].kind, r[j].kind) &&
                !strcmp(r[i].key, r[j].key) && r[j].seq > r[i].seq)
                newest = 0;
        if (newest)
            w->current++;
    }
    const blob **logs = calloc(n ? n : 1, sizeof *logs);
    for (size_t i = 0; i < n; i++)
        logs[i] = &w->all.v[i];
    w->digest = expect_digest(logs, n);   /* the world has no forks: all is log */
    free(logs);
    free(r);
}

static void make_world(world *w, store **sf_out)
{
    char hm[65], hr[65];
    memset(w, 0, sizeof *w);
    store *sf = found(NULL);
    hexid(M, hm);
    hexid(R, hr);
    blob t;
#define W(who_, kind, key, fl, body) (t = write_rec(sf, who_, kind, key, fl, body), free(t.b))
    W(F, "member", hm, 0, admit_body(M, "192.0.2.2:7400"));   /* 2 */
    W(F, "member", hr, 0, admit_body(R, "192.0.2.3:7400"));   /* 3 */
    W(F, "note", "a", 0, text_body("a1"));          /* 4 */
    W(F, "note", "b", 0, text_body("b1"));          /* 5 */
    W(F, "note", "a", 0, text_body("a2"));          /* 6 */
    W(F, "note_b", "a", 0, text_body("ad"));               /* 7 */
    W(F, "note", "b", PROTO_FLAG_TOMBSTONE, NULL);  /* 8 */
#undef W
    blobs fl = all_of(sf, F);
    for (size_t i = 0; i < fl.n; i++)
        blobs_push(&w->all, fl.v[i].b, fl.v[i].n);
    blobs_free(&fl);
    proto_id g = genesis_id(sf);
    size_t len;
    uint64_t sm = 0, sr = 0;
    uint8_t *signed_;
#define SM(kind, key, fl, body) (signed_ = sign_as(M, &g, ++sm, kind, key, fl, body, &len), \
                                 blobs_take(&w->all, signed_, len))
#define SR(kind, key, fl, body) (signed_ = sign_as(R, &g, ++sr, kind, key, fl, body, &len), \
                                 blobs_take(&w->all, signed_, len))
    SM("note", "m1", 0, text_body("m1 v1"));
    SR("note", "r1", 0, text_body("r1 v1"));
    SM("note", "m2", 0, text_body("m2 v1"));
    SM("note", "m1", 0, text_body("m1 v2"));
    SR("note_b", "a", 0, text_body("r adopts"));
    SM("note", "m2", PROTO_FLAG_TOMBSTONE, NULL);
    {
        proto_body *b = proto_body_new();
        proto_body_str(b, "op", "address");
        proto_body_str(b, "address", "198.51.100.2:7400");
        SM("member", hm, 0, b);
    }
    SR("note", "r1", 0, text_body("r1 v2"));
    SM("note_b", "a", 0, text_body("m adopts"));
    SR("notice", "x", 0, text_body("p"));
    SR("note", "r1", 0, text_body("r1 v3"));
    SM("note", "m3", 0, text_body("m3"));
#undef SM
#undef SR
    world_expect(w);
    assert_int_equal(w->vv[F], 8);
    assert_int_equal(w->vv[M], 7);
    assert_int_equal(w->vv[R], 5);
    *sf_out = sf;
}

/* Apply w's records in `order` in batches of the given sizes (cycled);
 * records that come back GAP or UNKNOWN_AUTHOR are offered again in later
 * rounds, as a node retries deferred records. */
static void apply_world(store *s, const world *w, const size_t *order, size_t n,
                        const size_t *sizes, size_t nsizes, int allow_retry)
{
    size_t *todo = malloc(n * sizeof *todo), *next = malloc(n * sizeof *next);
    memcpy(todo, order, n * sizeof *todo);
    size_t nt = n, rounds = 0;
    while (nt) {
        size_t nn = 0, si = 0;
        for (size_t i = 0; i < nt;) {
            size_t bs = sizes[si++ % nsizes];
            if (bs > nt - i)
                bs = nt - i;
            const blob *batch[64];
            int res[64];
            assert_true(bs <= 64);
            for (size_t k = 0; k < bs; k++)
                batch[k] = &w->all.v[todo[i + k]];
            apply_batch_checked(s, batch, bs, res);
            for (size_t k = 0; k < bs; k++) {
                if (res[k] == STORE_NEW)
                    continue;
                if (allow_retry && (res[k] == STORE_GAP || res[k] == STORE_UNKNOWN_AUTHOR)) {
                    next[nn++] = todo[i + k];
                    continue;
                }
                fail_msg("record %zu (author %d seq %llu): %s", todo[i + k], w->author[todo[i + k]],
                         (unsigned long long)w->seq[todo[i + k]], store_result_str(res[k]));
            }
            i += bs;
        }
        if (nn == nt)
            fail_msg("no progress with %zu records left", nt);
        memcpy(todo, next, nn * sizeof *todo);
        nt = nn;
        assert_true(++rounds < 100);
    }
    free(todo);
    free(next);
}

static void check_world(store *s, const world *w, const char *what)
{
    store_info in = info(s);
    if (memcmp(in.digest.b, w->digest.b, 32))
        fail_msg("%s: digest differs from the expected one", what);
    assert_int_equal(in.records, w->all.n);
    assert_int_equal(in.current, w->current);
    assert_int_equal(in.members, 3);
    assert_int_equal(in.authors, 3);
    assert_int_equal(in.forks, 0);
    for (int a = 0; a < NIDS; a++)
        assert_int_equal(store_vv_get(s, &ids[a].id), w->vv[a]);
    /* every record is in the log */
    for (size_t i = 0; i < w->all.n; i++) {
        blobs one = { 0 };
        assert_int_equal(store_range(s, &ids[w->author[i]].id, w->seq[i], w->seq[i], collect_cb, &one), 0);
        if (one.n != 1 || !same_bytes(&one.v[0], &w->all.v[i]))
            fail_msg("%s: record %zu missing or different", what, i);
        blobs_free(&one);
    }
    store_member m;
    assert_int_equal(store_member_get(s, &ids[M].id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_ACTIVE);
    assert_string_equal(m.address, "198.51.100.2:7400");
    assert_derived(s);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void digest_order_independent(void **state)
{
    world w;
    store *sf;
    make_world(&w, &sf);
    size_t n = w.all.n;
    size_t *ord = malloc(n * sizeof *ord);

    /* the founder's own store, after taking M's and R's records */
    {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (w.author[i] != F)
                ord[k++] = i;
        const size_t one[] = { 1 };
        apply_world(sf, &w, ord, k, one, 1, 0);
        check_world(sf, &w, "founder");
    }

    /* 1: author by author (F, M, R), one record per batch */
    store *s1 = open_fresh(NULL);
    bind(s1, O);
    {
        size_t k = 0;
        for (int a = 0; a < NIDS; a++)
            for (size_t i = 0; i < n; i++)
                if (w.author[i] == a)
                    ord[k++] = i;
        const size_t one[] = { 1 };
        apply_world(s1, &w, ord, k, one, 1, 0);
        check_world(s1, &w, "by author");
    }
    /* 2: authors interleaved round-robin R, M, F (after genesis and both
     * admissions), batches of 2 and 3 */
    store *s2 = open_fresh(NULL);
    bind(s2, O);
    {
        size_t k = 0, pos[NIDS] = { 0 };
        ord[k++] = 0;
        ord[k++] = 1;
        ord[k++] = 2;
        pos[F] = 3;
        const int rr[] = { R, M, F };
        while (k < n) {
            for (int j = 0; j < 3; j++) {
                int a = rr[j];
                size_t seen = 0;
                for (size_t i = 0; i < n; i++)
                    if (w.author[i] == a && seen++ == pos[a]) {
                        ord[k++] = i;
                        pos[a]++;
                        break;
                    }
            }
        }
        const size_t sz[] = { 2, 3 };
        apply_world(s2, &w, ord, k, sz, 2, 0);
        check_world(s2, &w, "round robin");
    }
    /* 3..7: random orders (only the genesis first), random batch sizes,
     * deferred records retried */
    for (int t = 0; t < 5; t++) {
        store *s = open_fresh(NULL);
        bind(s, O);
        ord[0] = 0;
        for (size_t i = 1; i < n; i++)
            ord[i] = i;
        for (size_t i = n - 1; i > 1; i--) {
            size_t j = 1 + rnd() % i;
            size_t tmp = ord[i];
            ord[i] = ord[j];
            ord[j] = tmp;
        }
        size_t sz[4];
        for (int i = 0; i < 4; i++)
            sz[i] = 1 + rnd() % (t == 4 ? 40 : 7);
        apply_world(s, &w, ord, n, sz, 4, 1);
        char what[32];
        snprintf(what, sizeof what, "random order %d", t);
        check_world(s, &w, what);
        store_close(s);
    }
    /* 8: everything in one batch, in order */
    store *s8 = open_fresh(NULL);
    bind(s8, O);
    {
        size_t k = 0;
        for (int a = 0; a < NIDS; a++)
            for (size_t i = 0; i < n; i++)
                if (w.author[i] == a)
                    ord[k++] = i;
        const size_t all[] = { 64 };
        apply_world(s8, &w, ord, k, all, 1, 0);
        check_world(s8, &w, "one batch");
    }
    store_info a = info(s1), b = info(s2), c = info(s8), d = info(sf);
    assert_memory_equal(a.digest.b, b.digest.b, 32);
    assert_memory_equal(a.digest.b, c.digest.b, 32);
    assert_memory_equal(a.digest.b, d.digest.b, 32);

    /* one record less: the digest differs */
    store *s9 = open_fresh(NULL);
    bind(s9, O);
    {
        size_t k = 0;
        for (int a2 = 0; a2 < NIDS; a2++)
            for (size_t i = 0; i < n; i++)
                if (w.author[i] == a2)
                    ord[k++] = i;
        const size_t one[] = { 1 };
        apply_world(s9, &w, ord, k - 1, one, 1, 0);
        assert_memory_not_equal(info(s9).digest.b, w.digest.b, 32);
    }

    free(ord);
    store_close(s9);
    store_close(s8);
    store_close(s2);
    store_close(s1);
    store_close(sf);
    world_free(&w);
}

/* ---- membership derived from the log ---- */

/* Sign as `who` at an explicit time (frees body). */
static blob sign_at(int who, const proto_id *alliance, uint64_t seq, uint64_t time_ms,
                    const char *kind, const char *key, proto_body *body)
{
    char err[256];
    blob b = { 0 };
    if (proto_record_sign(alliance, &ids[who].id, kind, key, seq, time_ms, 0, body, ids[who].key,
                          &b.b, &b.n, err, sizeof err))
        fail_msg("sign: %s", err);
    proto_body_free(body);
    return b;
}

static proto_body *op_body(const char *op)
{
    proto_body *b = proto_body_new();
    assert_non_null(b);
    assert_int_equal(proto_body_str(b, "op", op), 0);
    return b;
}

typedef struct { char *p; size_t n, cap; } sbuf;

static int member_line_cb(void *ctx, const store_member *m)
{
    sbuf *b = ctx;
    char id[65], by[65];
    proto_hex(m->id.b, 32, id);
    proto_hex(m->admitted_by.b, 32, by);
    int w = snprintf(b->p + b->n, b->cap - b->n, "%s st=%d end=%u by=%s since=%llu addr=%s code=%s name=%s\n",
                     id, m->status, m->endorsements, by, (unsigned long long)m->since_ms, m->address,
                     m->code, m->name);
    assert_true(w > 0 && (size_t)w < b->cap - b->n);
    b->n += (size_t)w;
    return 0;
}

/* Everything a store derived about its members, as text (members in id order). */
static char *members_text(store *s)
{
    sbuf b = { malloc(16384), 0, 16384 };
    assert_non_null(b.p);
    b.p[0] = 0;
    assert_int_equal(store_members(s, member_line_cb, &b), 0);
    return b.p;
}

static int status_of(store *s, int who)
{
    store_member m;
    int rc = store_member_get(s, &ids[who].id, &m);
    assert_true(rc == 0 || rc == 1);
    return rc ? -1 : m.status;
}

static store *reopen_path(const char *path)
{
    char err[256];
    store *s = NULL;
    if (store_open(path, 64, &s, err, sizeof err))
        fail_msg("store_open %s: %s", path, err);
    return s;
}

static uint64_t replays(store *s)
{
    uint64_t rd, fx;
    store_member_stats(s, &rd, &fx);
    return rd;
}

/*
 * The same records in different orders give the same membership, including
 * the order the incremental path gets wrong: M's expulsion of X (t+1) comes
 * before M's own expulsion (t+2, t+3), R's (t+4) after it, so by the log X
 * keeps one valid expulsion vote of the two needed; a node that took R's
 * vote first counted M's while M was still a member.
 */
static void membership_any_order(void **state)
{
    char hx[65], hm[65];
    store *sf = found(NULL);
    hexid(X, hx);
    hexid(M, hm);
    char hn[4][65];
    const int adm[4] = { M, R, X, O };
    for (int i = 0; i < 4; i++) {
        hexid(adm[i], hn[i]);
        blob b = write_rec(sf, F, "member", hn[i], 0, admit_body(adm[i], "192.0.2.9:7400"));
        free(b.b);
    }
    blobs base = all_of(sf, F);      /* genesis, four admissions */
    proto_id g = genesis_id(sf);
    uint64_t t = proto_now_ms() + 60000;
    blob a = sign_at(M, &g, 1, t + 1, "member", hx, op_body("expel"));
    /* the voters name the seq of M they held (a, M's seq 1), as `member
     * expel` does: a is within M's cut and stays in its log (DECISIONS 16) */
    proto_body *eb = op_body("expel"), *ec = op_body("expel");
    assert_int_equal(proto_body_int(eb, "seq", 1), 0);
    assert_int_equal(proto_body_int(ec, "seq", 1), 0);
    blob b = sign_at(F, &g, base.n + 1, t + 2, "member", hm, eb);
    blob c = sign_at(O, &g, 1, t + 3, "member", hm, ec);
    blob d = sign_at(R, &g, 1, t + 4, "member", hx, op_body("expel"));
    const blob *in_time[4] = { &a, &b, &c, &d }, *late[4] = { &d, &a, &b, &c };

    store *s[2];
    char path[2][160];
    uint64_t rd0[2], fx0[2], rd1[2], fx1[2];
    for (int i = 0; i < 2; i++) {
        s[i] = open_fresh(path[i]);
        bind(s[i], O);
        for (size_t j = 0; j < base.n; j++)
            assert_int_equal(take_blob(s[i], &base.v[j]), STORE_NEW);
        store_member_stats(s[i], &rd0[i], &fx0[i]);
        for (int j = 0; j < 4; j++)
            assert_int_equal(take_blob(s[i], (i ? late : in_time)[j]), STORE_NEW);
        store_member_stats(s[i], &rd1[i], &fx1[i]);
    }
    /* in time order the incremental path alone derives it: no replay */
    assert_int_equal(rd1[0], rd0[0]);
    /* the late vote came out of order: replayed, and the replay corrected it */
    assert_true(rd1[1] > rd0[1]);
    assert_true(fx1[1] > fx0[1]);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(status_of(s[i], M), STORE_MEMBER_EXPELLED);
        assert_int_equal(status_of(s[i], X), STORE_MEMBER_ACTIVE);
        assert_int_equal(status_of(s[i], R), STORE_MEMBER_ACTIVE);
        assert_derived(s[i]);
    }
    char *m0 = members_text(s[0]), *m1 = members_text(s[1]);
    assert_string_equal(m0, m1);
    assert_memory_equal(info(s[0]).digest.b, info(s[1]).digest.b, 32);
    free(m0);
    free(m1);
    /* reopening keeps what was derived (and derives nothing new) */
    for (int i = 0; i < 2; i++) {
        char *was = members_text(s[i]);
        proto_id dg = info(s[i]).digest;
        store_close(s[i]);
        s[i] = reopen_path(path[i]);
        uint64_t rd, fx;
        store_member_stats(s[i], &rd, &fx);
        assert_int_equal(rd, 0);
        char *now = members_text(s[i]);
        assert_string_equal(was, now);
        assert_memory_equal(info(s[i]).digest.b, dg.b, 32);
        free(was);
        free(now);
        store_close(s[i]);
    }
    free(a.b);
    free(b.b);
    free(c.b);
    free(d.b);
    blobs_free(&base);
    store_close(sf);
}

/*
 * A fork between two member records of M at the same seq: one version
 * expels X (with the founder's vote, the quorum of two), the other admits
 * O.  Whichever order the versions come in, every store ends with the
 * membership of the winner (the lower hash) and the same digest; a store
 * that took the loser first drops what it had derived from it.
 */
static void fork_case(int want_a_wins)
{
    char hx[65], ho[65], hm[65];
    store *sf = found(NULL);
    hexid(X, hx);
    hexid(O, ho);
    hexid(M, hm);
    blob t;
    t = write_rec(sf, F, "member", hm, 0, admit_body(M, "192.0.2.7:7400"));
    free(t.b);
    t = write_rec(sf, F, "member", hx, 0, admit_body(X, "192.0.2.8:7400"));
    free(t.b);
    t = write_rec(sf, F, "member", hx, 0, op_body("expel"));
    free(t.b);
    blobs base = all_of(sf, F);      /* genesis, admit M, admit X, F's vote against X */
    proto_id g = genesis_id(sf);
    uint64_t now = proto_now_ms() + 60000;
    blob m1 = sign_at(M, &g, 1, now, "note", "m", text_body("m"));
    blob A = { 0 }, B = { 0 };
    uint8_t ha[32], hb[32];
    int a_wins = -1;
    /* versions of A and B whose hashes put the winner where this case
     * wants it: both signed afresh each try (a fixed A with a very low or
     * high hash would make the other outcome rare) */
    for (uint64_t dt = 1; a_wins != want_a_wins; dt += 2) {
        free(A.b);
        free(B.b);
        A = sign_at(M, &g, 2, now + dt, "member", hx, op_body("expel"));
        B = sign_at(M, &g, 2, now + dt + 1, "member", ho, admit_body(O, "192.0.2.10:7400"));
        sha256(A.b, A.n, ha);
        sha256(B.b, B.n, hb);
        a_wins = memcmp(ha, hb, 32) < 0;
        assert_true(dt < 400);
    }
    blob on = sign_at(O, &g, 1, now + 1000, "note", "o", text_body("o"));

    enum { NS = 4 };
    store *s[NS];
    char path[NS][160];
    for (int i = 0; i < NS; i++) {
        s[i] = open_fresh(path[i]);
        bind(s[i], R);
        for (size_t j = 0; j < base.n; j++)
            assert_int_equal(take_blob(s[i], &base.v[j]), STORE_NEW);
        assert_int_equal(take_blob(s[i], &m1), STORE_NEW);
        assert_int_equal(status_of(s[i], X), STORE_MEMBER_ACTIVE);
    }
    /* 0: A then B;  1: B then A;  2: both in one batch;  3: B, then a
     * record of O (accepted: O is a member by B), then A */
    assert_int_equal(take_blob(s[0], &A), STORE_NEW);
    assert_int_equal(status_of(s[0], X), STORE_MEMBER_EXPELLED);
    assert_int_equal(take_blob(s[0], &B), STORE_FORK);
    assert_int_equal(take_blob(s[1], &B), STORE_NEW);
    assert_int_equal(status_of(s[1], O), STORE_MEMBER_ACTIVE);
    assert_int_equal(take_blob(s[1], &A), STORE_FORK);
    {
        const blob *batch[2] = { &B, &A };
        int res[2];
        apply_batch_checked(s[2], batch, 2, res);
        assert_int_equal(res[0], STORE_NEW);
        assert_int_equal(res[1], STORE_FORK);
    }
    assert_int_equal(take_blob(s[3], &B), STORE_NEW);
    assert_int_equal(take_blob(s[3], &on), STORE_NEW);
    assert_int_equal(take_blob(s[3], &A), STORE_FORK);

    for (int i = 0; i < NS; i++) {
        assert_int_equal(status_of(s[i], X), a_wins ? STORE_MEMBER_EXPELLED : STORE_MEMBER_ACTIVE);
        assert_int_equal(status_of(s[i], O), a_wins ? -1 : STORE_MEMBER_ACTIVE);
        assert_int_equal(info(s[i]).members, a_wins ? 2 : 4);
        assert_derived(s[i]);
        /* the key cache follows: O's key is handed out exactly when O is a member */
        EVP_PKEY *k = store_member_key(s[i], &ids[O].id);
        assert_int_equal(k != NULL, !a_wins);
        EVP_PKEY_free(k);
    }
    /* O's record: a member's record when B wins, refused everywhere else */
    for (int i = 0; i < 3; i++)
        assert_int_equal(take_blob(s[i], &on), a_wins ? STORE_UNKNOWN_AUTHOR : STORE_NEW);
    char *m0 = members_text(s[0]);
    for (int i = 1; i < NS; i++) {
        char *mi = members_text(s[i]);
        if (strcmp(m0, mi))
            fail_msg("store %d derived other members:\n%s\nthan store 0:\n%s", i, mi, m0);
        free(mi);
    }
    /* the same logs (store 3 holds O's record whichever wins) */
    int same = a_wins ? 3 : NS;
    for (int i = 1; i < same; i++)
        assert_memory_equal(info(s[i]).digest.b, info(s[0]).digest.b, 32);
    free(m0);
    /* what was derived stays after a reopen (nothing to derive again) */
    for (int i = 0; i < NS; i++) {
        char *was = members_text(s[i]);
        store_close(s[i]);
        s[i] = reopen_path(path[i]);
        uint64_t rd, fx;
        store_member_stats(s[i], &rd, &fx);
        assert_int_equal(rd, 0);
        char *again = members_text(s[i]);
        assert_string_equal(was, again);
        free(was);
        free(again);
        store_close(s[i]);
    }
    free(m1.b);
    free(A.b);
    free(B.b);
    free(on.b);
    blobs_free(&base);
    store_close(sf);
}

/*
 * A membership record dated far ahead (here near UINT64_MAX) is not
 * accepted yet (it waits like a gap), so it cannot sort after every honest
 * record and make each later one replay the membership; a record within the
 * allowance is accepted.
 */
static void member_far_future(void **state)
{
    char hm[65], hx[65], hr[65];
    store *sf = found(NULL);
    hexid(M, hm);
    hexid(X, hx);
    hexid(R, hr);
    blob t = write_rec(sf, F, "member", hm, 0, admit_body(M, "192.0.2.7:7400"));
    free(t.b);
    blobs base = all_of(sf, F);
    proto_id g = genesis_id(sf);
    store *s = open_fresh(NULL);
    bind(s, O);
    for (size_t j = 0; j < base.n; j++)
        assert_int_equal(take_blob(s, &base.v[j]), STORE_NEW);
    blob far = sign_at(M, &g, 1, UINT64_MAX - 1, "member", hm, op_body("address"));
    assert_int_equal(take_blob(s, &far), STORE_GAP);
    uint64_t before = replays(s);
    /* honest records from now on: the fast path takes each, no replay */
    uint64_t now = proto_now_ms();
    blob h[4];
    h[0] = sign_at(F, &g, base.n + 1, now, "member", hx, admit_body(X, "192.0.2.8:7400"));
    h[1] = sign_at(M, &g, 1, now + 1, "member", hm, op_body("address"));
    h[2] = sign_at(X, &g, 1, now + 2, "member", hx, op_body("address"));
    h[3] = sign_at(F, &g, base.n + 2, now + 3, "member", hr, admit_body(R, "192.0.2.9:7400"));
    for (int i = 0; i < 4; i++)
        assert_int_equal(take_blob(s, &h[i]), STORE_NEW);
    assert_int_equal(replays(s), before);
    assert_int_equal(status_of(s, R), STORE_MEMBER_ACTIVE);
    assert_derived(s);
    /* within the allowance it is taken */
    blob near = sign_at(M, &g, 2, now + STORE_MEMBER_SKEW_MS / 2, "member", hm, op_body("address"));
    assert_int_equal(take_blob(s, &near), STORE_NEW);
    for (int i = 0; i < 4; i++)
        free(h[i].b);
    free(far.b);
    free(near.b);
    blobs_free(&base);
    store_close(s);
    store_close(sf);
}

/*
 * Acceptance does not depend on batch boundaries: a fork whose new winner
 * drops X's admission, then X's record, in one batch or in two, give the
 * same results and the same log (X's record refused: X is no member by the
 * log once the other version won).
 */
static void member_batch_boundaries(void **state)
{
    char hx[65], hf[65];
    store *sf = found(NULL);
    hexid(X, hx);
    hexid(F, hf);
    blobs base = all_of(sf, F);   /* the genesis */
    proto_id g = genesis_id(sf);
    uint8_t ha[32], hb[32];
    blob adm = { 0 }, alt = { 0 };
    uint64_t now = proto_now_ms();
    /* two versions of F's seq 2: the admission of X, and one that wins the
     * fork (the lower hash) */
    for (uint64_t dt = 0;; dt += 2) {
        free(adm.b);
        free(alt.b);
        adm = sign_at(F, &g, 2, now + dt, "member", hx, admit_body(X, "192.0.2.8:7400"));
        alt = sign_at(F, &g, 2, now + dt + 1, "member", hf, op_body("address"));
        sha256(adm.b, adm.n, ha);
        sha256(alt.b, alt.n, hb);
        if (memcmp(hb, ha, 32) < 0)
            break;
        assert_true(dt < 400);
    }
    blobs_push(&base, adm.b, adm.n);   /* genesis, admit X at seq 2 */
    blob xn = sign_at(X, &g, 1, now + 500, "note", "x", text_body("x"));
    store *s[2];
    for (int i = 0; i < 2; i++) {
        s[i] = open_fresh(NULL);
        bind(s[i], O);
        for (size_t j = 0; j < base.n; j++)
            assert_int_equal(take_blob(s[i], &base.v[j]), STORE_NEW);
        assert_int_equal(status_of(s[i], X), STORE_MEMBER_ACTIVE);
    }
    const blob *both[2] = { &alt, &xn };
    int one[2], two[2];
    apply_batch_checked(s[0], both, 2, one);
    apply_batch_checked(s[1], both, 1, &two[0]);
    apply_batch_checked(s[1], both + 1, 1, &two[1]);
    assert_int_equal(one[0], STORE_FORK);
    assert_int_equal(two[0], STORE_FORK);
    assert_int_equal(two[1], STORE_UNKNOWN_AUTHOR);
    assert_int_equal(one[1], two[1]);
    for (int i = 0; i < 2; i++)
        assert_int_equal(status_of(s[i], X), -1);
    assert_memory_equal(info(s[0]).digest.b, info(s[1]).digest.b, 32);
    assert_int_equal(info(s[0]).records, info(s[1]).records);
    for (int i = 0; i < 2; i++) {
        assert_derived(s[i]);
        store_close(s[i]);
    }
    free(adm.b);
    free(alt.b);
    free(xn.b);
    blobs_free(&base);
    store_close(sf);
}

/*
 * Records left blocked by a member expelled before their turn never apply
 * (expulsion is final), so they do not turn the fast path off: after the
 * replay that blocked them, records in order take the fast path again.
 */
static void member_blocked_expelled(void **state)
{
    char hm[65], hx[65], ho[65];
    store *sf = found(NULL);
    hexid(M, hm);
    hexid(X, hx);
    hexid(O, ho);
    blob t = write_rec(sf, F, "member", hm, 0, admit_body(M, "192.0.2.7:7400"));
    free(t.b);
    t = write_rec(sf, F, "member", hx, 0, admit_body(X, "192.0.2.8:7400"));
    free(t.b);
    blobs base = all_of(sf, F);
    proto_id g = genesis_id(sf);
    uint64_t now = proto_now_ms() + 1000;
    blob xa = sign_at(X, &g, 1, now + 10, "member", hx, op_body("address"));
    blob fe = sign_at(F, &g, base.n + 1, now + 5, "member", hx, op_body("expel"));
    blob me = sign_at(M, &g, 1, now + 6, "member", hx, op_body("expel"));
    blob fo = sign_at(F, &g, base.n + 2, now + 20, "member", ho, admit_body(O, "192.0.2.9:7400"));
    blob ma = sign_at(M, &g, 2, now + 21, "member", hm, op_body("address"));
    store *s = open_fresh(NULL);
    bind(s, R);
    for (size_t j = 0; j < base.n; j++)
        assert_int_equal(take_blob(s, &base.v[j]), STORE_NEW);
    assert_int_equal(take_blob(s, &xa), STORE_NEW);
    assert_int_equal(take_blob(s, &fe), STORE_NEW);   /* out of order: replays */
    assert_int_equal(take_blob(s, &me), STORE_NEW);
    assert_int_equal(status_of(s, X), STORE_MEMBER_EXPELLED);
    uint64_t before = replays(s);
    assert_true(before > 0);
    /* X's address (now + 10) comes after its expulsion (now + 6): blocked */
    assert_int_equal(take_blob(s, &fo), STORE_NEW);
    assert_int_equal(take_blob(s, &ma), STORE_NEW);
    assert_int_equal(replays(s), before);
    assert_int_equal(status_of(s, O), STORE_MEMBER_ACTIVE);
    assert_derived(s);
    free(xa.b);
    free(fe.b);
    free(me.b);
    free(fo.b);
    free(ma.b);
    blobs_free(&base);
    store_close(s);
    store_close(sf);
}

/*
 * A record that passed the rules when it was stored never makes a replay
 * fail: an admission whose certificate no longer parses (here: its bytes
 * altered in the store, as a stricter OpenSSL would refuse an old key)
 * derives nothing, and the rest of the membership is derived as before.
 */
static void member_replay_unparsable(void **state)
{
    char hx[65], hm[65], path[160], err[256];
    store *sf = found(NULL);
    hexid(X, hx);
    hexid(M, hm);
    blob t = write_rec(sf, F, "member", hx, 0, admit_body(X, "192.0.2.8:7400"));
    free(t.b);
    t = write_rec(sf, F, "member", hm, 0, admit_body(M, "192.0.2.7:7400"));
    free(t.b);
    blobs base = all_of(sf, F);
    store *s = open_fresh(path);
    bind(s, O);
    for (size_t j = 0; j < base.n; j++)
        assert_int_equal(take_blob(s, &base.v[j]), STORE_NEW);
    assert_int_equal(status_of(s, X), STORE_MEMBER_ACTIVE);
    store_close(s);
    {
        MDB_env *env;
        MDB_txn *txn;
        MDB_dbi log;
        uint8_t k[40];
        memcpy(k, ids[F].id.b, 32);
        memset(k + 32, 0, 8);
        k[39] = 2;   /* F's seq 2: the admission of X */
        MDB_val kv = { 40, k }, v;
        assert_int_equal(mdb_env_create(&env), 0);
        assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
        assert_int_equal(mdb_env_set_mapsize(env, (size_t)64 << 20), 0);
        assert_int_equal(mdb_env_open(env, path, MDB_NOTLS, 0600), 0);
        assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
        assert_int_equal(mdb_dbi_open(txn, "log", 0, &log), 0);
        assert_int_equal(mdb_get(txn, log, &kv, &v), 0);
        uint8_t *copy = malloc(v.mv_size);
        assert_non_null(copy);
        memcpy(copy, v.mv_data, v.mv_size);
        uint8_t *der = memmem(copy, v.mv_size, ids[X].der, ids[X].der_len);
        assert_non_null(der);
        der[0] = 0x04;   /* no longer a DER SEQUENCE: the certificate does not parse */
        MDB_val nv = { v.mv_size, copy };
        assert_int_equal(mdb_put(txn, log, &kv, &nv, 0), 0);
        assert_int_equal(mdb_txn_commit(txn), 0);
        mdb_env_close(env);
        free(copy);
    }
    s = reopen_path(path);
    int changed = -1;
    if (store_member_rederive(s, &changed, err, sizeof err))
        fail_msg("a replay failed on a stored record: %s", err);
    assert_int_equal(changed, 1);
    assert_int_equal(status_of(s, X), -1);
    assert_int_equal(status_of(s, M), STORE_MEMBER_ACTIVE);
    assert_int_equal(status_of(s, F), STORE_MEMBER_ACTIVE);
    /* and records go on being applied */
    proto_id g = genesis_id(sf);
    blob mm = sign_at(M, &g, 1, proto_now_ms(), "member", hm, op_body("address"));
    assert_int_equal(take_blob(s, &mm), STORE_NEW);
    free(mm.b);
    blobs_free(&base);
    store_close(s);
    store_close(sf);
}

static void membership_fork(void **state)
{
    fork_case(1);   /* the expulsion wins */
    fork_case(0);   /* the admission wins */
}

/* The genesis chain check: a genesis taken on a node told to trust a
 * sponsor waits until the sponsor is a current member under it; refused,
 * nothing of it stays but the node's own settings. */
static void genesis_chain_check(void **state)
{
    char err[256], hm[65];
    store *sf = found(NULL);
    hexid(M, hm);
    blob adm = write_rec(sf, F, "member", hm, 0, admit_body(M, "192.0.2.7:7400"));
    blobs fl = all_of(sf, F);
    proto_id sp;

    /* no sponsor pinned (the founder's own store, or no join): nothing to check */
    assert_int_equal(store_genesis_unchecked(sf), 0);
    assert_int_equal(store_genesis_check(sf, &sp, err, sizeof err), STORE_GENESIS_PINNED);

    store *sn = open_fresh(NULL);
    bind(sn, O);
    assert_int_equal(store_meta_put(sn, "sponsor_id", ids[M].id.b, 32), 0);
    assert_int_equal(take_blob(sn, &fl.v[0]), STORE_NEW);
    assert_int_equal(store_genesis_unchecked(sn), 1);
    /* nothing is written here under a genesis not checked yet (it would be
     * dropped with it, and this node's seq start again) */
    {
        uint8_t *o = NULL;
        size_t ol = 0;
        proto_body *nb = text_body("n");
        err[0] = 0;
        assert_int_equal(store_write(sn, ids[O].key, "note", "n", 0, nb, &o, &ol, err, sizeof err), -1);
        proto_body_free(nb);
        assert_non_null(strstr(err, "not yet checked the genesis"));
    }
    /* the sponsor M is not admitted yet */
    assert_int_equal(store_genesis_check(sn, &sp, err, sizeof err), STORE_GENESIS_WAIT);
    assert_memory_equal(sp.b, ids[M].id.b, 32);
    assert_int_equal(store_genesis_unchecked(sn), 1);
    /* refused: everything goes, the sponsor setting and the identity stay */
    assert_int_equal(store_alliance_forget(sn, err, sizeof err), 0);
    store_info in = info(sn);
    assert_false(in.has_genesis);
    assert_int_equal(in.records, 0);
    assert_int_equal(in.members, 0);
    assert_int_equal(in.authors, 0);
    assert_true(in.has_self);
    assert_int_equal(store_genesis_unchecked(sn), 0);
    uint8_t b[32];
    size_t bl = sizeof b;
    assert_int_equal(store_meta_get(sn, "sponsor_id", b, &bl), 0);
    /* the same genesis again, then the sponsor's admission: pinned */
    assert_int_equal(take_blob(sn, &fl.v[0]), STORE_NEW);
    assert_int_equal(store_genesis_unchecked(sn), 1);
    assert_int_equal(take_blob(sn, &adm), STORE_NEW);
    assert_int_equal(store_genesis_check(sn, &sp, err, sizeof err), STORE_GENESIS_PINNED);
    assert_int_equal(store_genesis_unchecked(sn), 0);
    assert_memory_equal(info(sn).digest.b, info(sf).digest.b, 32);

    /* founding on a store that ran join: founded here, nothing to check */
    store *sj = open_fresh(NULL);
    bind(sj, R);
    assert_int_equal(store_meta_put(sj, "sponsor_id", ids[M].id.b, 32), 0);
    if (store_create_genesis(sj, ids[R].key, ids[R].der, ids[R].der_len, ids[R].code, ids[R].name,
                             "別の連合", 1, NULL, err, sizeof err))
        fail_msg("genesis: %s", err);
    assert_int_equal(store_genesis_unchecked(sj), 0);

    free(adm.b);
    blobs_free(&fl);
    store_close(sj);
    store_close(sn);
    store_close(sf);
}

/* ---- persistence ---- */

static void reopen(void **state)
{
    char err[256], path[160];
    world w;
    store *sf;
    make_world(&w, &sf);
    store_close(sf);   /* only F's records in that one; use a fresh store */

    store *s = open_fresh(path);
    bind(s, F);
    size_t *ord = malloc(w.all.n * sizeof *ord);
    for (size_t i = 0; i < w.all.n; i++)
        ord[i] = i;
    const size_t sz[] = { 5 };
    apply_world(s, &w, ord, w.all.n, sz, 1, 1);
    check_world(s, &w, "before reopen");
    store_info before = info(s);
    blobs hist_before = { 0 };
    assert_int_equal(store_history(s, &ids[R].id, "note", "r1", collect_cb, &hist_before), 0);
    assert_int_equal(hist_before.n, 3);
    store_close(s);

    s = NULL;
    assert_int_equal(store_open(path, 64, &s, err, sizeof err), 0);
    store_info after = info(s);
    assert_memory_equal(after.digest.b, before.digest.b, 32);
    assert_memory_equal(after.genesis.b, before.genesis.b, 32);
    assert_memory_equal(after.self.b, ids[F].id.b, 32);
    assert_string_equal(after.alliance, before.alliance);
    assert_int_equal(after.records, before.records);
    assert_int_equal(after.current, before.current);
    assert_int_equal(after.members, before.members);
    check_world(s, &w, "after reopen");
    blobs hist_after = { 0 };
    assert_int_equal(store_history(s, &ids[R].id, "note", "r1", collect_cb, &hist_after), 0);
    assert_int_equal(hist_after.n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_true(same_bytes(&hist_before.v[i], &hist_after.v[i]));
    /* the node key check still holds, and writing continues at the next seq */
    assert_int_equal(store_bind_self(s, &ids[M].id, err, sizeof err), -1);
    assert_int_equal(store_bind_self(s, &ids[F].id, err, sizeof err), 0);
    blob nx = write_rec(s, F, "note", "after", 0, text_body("x"));
    proto_record r;
    assert_int_equal(proto_record_decode(nx.b, nx.n, &r, err, sizeof err), 0);
    assert_int_equal(r.seq, w.vv[F] + 1);
    /* and a key that is cached before the reopen is found after it */
    EVP_PKEY *k = store_member_key(s, &ids[R].id);
    assert_non_null(k);
    EVP_PKEY_free(k);
    free(nx.b);
    blobs_free(&hist_before);
    blobs_free(&hist_after);
    free(ord);
    store_close(s);
    world_free(&w);
}

static void schema_check(void **state)
{
    char err[256], path[160];
    store *s = found(path);
    uint8_t v[8];
    size_t vl = sizeof v;
    /* the schema is recorded as 8 bytes big-endian */
    assert_int_equal(store_meta_get(s, "schema", v, &vl), 0);
    assert_int_equal(vl, 8);
    assert_memory_equal(v, "\0\0\0\0\0\0\0\x02", 8);
    const uint8_t v99[8] = { 0, 0, 0, 0, 0, 0, 0, 99 };
    assert_int_equal(store_meta_put(s, "schema", v99, 8), 0);
    store_close(s);

    s = NULL;
    err[0] = 0;
    assert_int_equal(store_open(path, 64, &s, err, sizeof err), -1);
    assert_null(s);
    assert_err_has(err, "schema");
    assert_err_has(err, "99");

    /* a schema value of the wrong size is refused as well */
    s = found(path);
    assert_int_equal(store_meta_put(s, "schema", "\x01", 1), 0);
    store_close(s);
    s = NULL;
    err[0] = 0;
    assert_int_equal(store_open(path, 64, &s, err, sizeof err), -1);
    assert_err_has(err, "schema");

    /* a schema-1 store is migrated: its log chains are built from the log */
    s = found(path);
    proto_id before = info(s).digest;
    assert_int_equal(store_meta_put(s, "schema", "\0\0\0\0\0\0\0\x01", 8), 0);
    store_close(s);
    s = NULL;
    assert_int_equal(store_open(path, 64, &s, err, sizeof err), 0);
    vl = sizeof v;
    assert_int_equal(store_meta_get(s, "schema", v, &vl), 0);
    assert_memory_equal(v, "\0\0\0\0\0\0\0\x02", 8);
    assert_memory_equal(info(s).digest.b, before.b, 32);
    store_close(s);

    /* and the right one opens */
    s = found(path);
    store_close(s);
    s = NULL;
    assert_int_equal(store_open(path, 64, &s, err, sizeof err), 0);
    store_close(s);
}

/* ---- reading by reference; releasing mapped pages ---- */

static long rss_file_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "RssFile:", 8))
            kb = strtol(line + 8, NULL, 10);
    fclose(f);
    return kb;
}

typedef struct { store *s; const uint8_t *first; uint8_t copy[4096]; size_t len; int n; } hold_ctx;

static int hold_cb(void *ctx, const uint8_t *rec, size_t len)
{
    hold_ctx *h = ctx;
    if (h->n++ == 0) {
        /* keep a pointer into the store across a release: still readable, same bytes */
        h->first = rec;
        h->len = len;
        memcpy(h->copy, rec, len);
        store_release_pages(h->s);
    }
    assert_memory_equal(h->first, h->copy, h->len);
    return 0;
}

static void refs_and_release(void **state)
{
    (void)state;
    char path[128];
    store *s = found(path);
    proto_id me = ids[F].id;
    /* ~20 MB of records: more than a scan reads before it releases pages */
    static char text[600];
    memset(text, 'x', sizeof text - 1);
    enum { N = 30000, B = 1000 };
    static char keys[B][16];
    store_write_item items[B];
    proto_body *body = text_body(text);
    char err[256];
    for (int i = 0; i < N; i += B) {
        for (int j = 0; j < B; j++) {
            snprintf(keys[j], sizeof keys[j], "k%05d", i + j);
            items[j] = (store_write_item){ .kind = "note", .key = keys[j], .body = body };
        }
        if (store_write_many(s, ids[F].key, items, B, err, sizeof err))
            fail_msg("store_write_many: %s", err);
        for (int j = 0; j < B; j++)
            free(items[j].out);
    }
    proto_body_free(body);
    uint64_t top = store_vv_get(s, &me);
    assert_true(top >= N);

    /* by reference: in the order given, absent ones skipped */
    store_ref refs[4] = { { me, top }, { me, 1 }, { me, top + 5 }, { me, 2 } };
    blobs got = { 0 }, want = { 0 };
    assert_int_equal(store_get_refs(s, refs, 4, collect_cb, &got), 0);
    store_range(s, &me, top, top, collect_cb, &want);
    store_range(s, &me, 1, 2, collect_cb, &want);
    assert_int_equal(got.n, 3);
    assert_int_equal(want.n, 3);
    assert_true(same_bytes(&got.v[0], &want.v[0]));
    assert_true(same_bytes(&got.v[1], &want.v[1]));
    assert_true(same_bytes(&got.v[2], &want.v[2]));
    blobs_free(&got);
    blobs_free(&want);

    /* a whole scan does not leave the whole file mapped here: reopen (nothing
     * mapped yet), scan everything, compare with the file's size */
    store_close(s);
    char err2[256];
    assert_int_equal(store_open(path, 0, &s, err2, sizeof err2), 0);
    char dbf[160];
    struct stat fst;
    snprintf(dbf, sizeof dbf, "%s/data.mdb", path);
    assert_int_equal(stat(dbf, &fst), 0);
    long before = rss_file_kb();
    hold_ctx h = { .s = s };
    assert_int_equal(store_foreach_current(s, "note", hold_cb, &h), 0);
    assert_int_equal(h.n, N);
    long after = rss_file_kb(), file_kb = (long)(fst.st_size / 1024);
    printf("# scanned a %ld kB store: %ld kB more mapped\n", file_kb, after - before);
    if (after - before > file_kb / 2)
        fail_msg("scanning a %ld kB store left %ld kB more mapped", file_kb, after - before);
    store_close(s);
}

/* ---- membership records in any order and any batching (issue 12) ---- */

/* A store's results for a sequence of records fed in chunks of `chunk`
 * (0: all in one batch), then the set-aside ones (unknown author, gap) fed
 * again, in the order they came, one batch per round until nothing more
 * goes in, as a node's ingest does.  res (room for n) gets the first
 * round's results; *rounds the batches applied; returns the store. */
static store *feed(const blob *const *recs, size_t n, size_t chunk, int *res, size_t *rounds,
                   const proto_id *self)
{
    char err[256];
    store *s = open_fresh(NULL);
    if (store_bind_self(s, self, err, sizeof err))
        fail_msg("bind: %s", err);
    proto_record *r = calloc(n, sizeof *r);
    const blob **aside = calloc(n, sizeof *aside);
    int *tmp = calloc(n, sizeof *tmp);
    assert_true(r && aside && tmp);
    *rounds = 0;
    for (size_t i = 0; i < n; i++)
        if (proto_record_decode(recs[i]->b, recs[i]->n, &r[i], err, sizeof err))
            fail_msg("decode: %s", err);
    size_t step = chunk ? chunk : n;
    for (size_t i = 0; i < n; i += step) {
        size_t m = n - i < step ? n - i : step;
        if (store_apply_batch(s, r + i, m, res + i, err, sizeof err))
            fail_msg("apply batch: %s", err);
        ++*rounds;
    }
    size_t held = 0;
    for (size_t i = 0; i < n; i++)
        if (res[i] == STORE_UNKNOWN_AUTHOR || res[i] == STORE_GAP)
            aside[held++] = recs[i];
    while (held) {
        for (size_t i = 0; i < held; i++)
            if (proto_record_decode(aside[i]->b, aside[i]->n, &r[i], err, sizeof err))
                fail_msg("decode: %s", err);
        if (store_apply_batch(s, r, held, tmp, err, sizeof err))
            fail_msg("apply batch: %s", err);
        ++*rounds;
        size_t still = 0;
        for (size_t i = 0; i < held; i++)
            if (tmp[i] == STORE_UNKNOWN_AUTHOR || tmp[i] == STORE_GAP)
                aside[still++] = aside[i];
        if (still == held)
            break;   /* nothing more goes in */
        held = still;
    }
    free(r);
    free(aside);
    free(tmp);
    return s;
}

static blob sign_with(const certs_identity *who, const proto_id *alliance, uint64_t seq, uint64_t time_ms,
                      const char *key, proto_body *body)
{
    char err[256];
    blob b = { 0 };
    if (proto_record_sign(alliance, &who->id, "member", key, seq, time_ms, 0, body, who->key, &b.b, &b.n,
                          err, sizeof err))
        fail_msg("sign: %s", err);
    proto_body_free(body);
    return b;
}

static proto_body *admit_of(const certs_identity *who)
{
    proto_body *b = proto_body_new();
    assert_non_null(b);
    proto_body_str(b, "op", "admit");
    proto_body_bin(b, "cert", who->der, who->der_len);
    proto_body_str(b, "code", who->code);
    proto_body_str(b, "name", who->name);
    proto_body_str(b, "address", "192.0.2.20:7400");
    return b;
}

/*
 * An alliance of ten (admission 2, each newcomer admitted by two members,
 * some announcing an address, one endorsed again once in), its membership
 * records fed to fresh stores in several orders — in time order, author by
 * author newest member first, author by author oldest first, and the
 * reverse of time order — each in batches of one record, of three, and all
 * in one batch.  For one order every batching gives the same result for
 * every record; every store ends with the same members and endorsements,
 * those a replay derives; and a batch holding many records out of order
 * replays a bounded number of times (before it commits, and at most twice
 * more: for a first check with no admission closure yet, and for the
 * policy its genesis brings into force), not once per record as batches of
 * one record each do.
 */
static void membership_batchings(void **state)
{
    enum { NE = 9 };
    certs_identity e[NE];
    char err[256], hx[NE][65];
    for (int i = 0; i < NE; i++) {
        char code[8], name[32];
        int sum = 0;
        snprintf(code, sizeof code, "%05d", 20000 + 13 * i);
        for (int k = 0; k < 5; k++)
            sum += (code[k] - '0') * (6 - k);
        code[5] = (char)('0' + (11 - sum % 11) % 10);
        code[6] = 0;
        snprintf(name, sizeof name, "加盟%d", i);
        if (certs_make(code, name, "ed25519", &e[i], err, sizeof err))
            fail_msg("identity: %s", err);
        proto_hex(e[i].id.b, 32, hx[i]);
    }
    /* the founder's store makes the genesis (admission 2); the rest is signed here */
    store *sf = open_fresh(NULL);
    bind(sf, F);
    if (store_create_genesis(sf, ids[F].key, ids[F].der, ids[F].der_len, ids[F].code, ids[F].name,
                             "テスト連合", 2, "192.0.2.1:7400", err, sizeof err))
        fail_msg("genesis: %s", err);
    blobs gl = all_of(sf, F);
    proto_id g = genesis_id(sf);
    const certs_identity *F_id = &ids[F];
    /* who admits whom, in time order: (endorser, newcomer); -1 is the founder */
    static const int plan[][2] = {
        { -1, 0 }, { -1, 1 }, { 0, 1 }, { 0, 2 }, { 1, 2 }, { -1, 3 }, { 2, 3 }, { 1, 4 }, { 3, 4 },
        { 2, 5 }, { 4, 5 }, { 3, 6 }, { 5, 6 }, { 0, 3 }, { 6, 7 }, { 4, 7 }, { 5, 8 }, { 7, 8 },
    };
    enum { NP = sizeof plan / sizeof plan[0], NADDR = 3 };
    static const int addr_of[NADDR] = { 2, 4, 7 };   /* announce an address after their admission */
    blob rec[NP + NADDR];
    int author[NP + NADDR];          /* -1 founder, else e[] */
    uint64_t seq[NE + 1] = { 0 };    /* per author: [0] founder, [1 + i] e[i] */
    seq[0] = 1;                      /* the genesis */
    uint64_t t = proto_now_ms() - 3600 * 1000;
    size_t nr = 0;
    for (int p = 0; p < NP; p++) {
        int by = plan[p][0], who = plan[p][1];
        const certs_identity *bi = by < 0 ? F_id : &e[by];
        t += 1000;
        rec[nr] = sign_with(bi, &g, ++seq[by + 1], t, hx[who], admit_of(&e[who]));
        author[nr++] = by;
        for (int a = 0; a < NADDR; a++)
            if (addr_of[a] == who && (p + 1 == NP || plan[p + 1][1] != who)) {
                proto_body *b = proto_body_new();
                proto_body_str(b, "op", "address");
                proto_body_str(b, "address", "192.0.2.30:7400");
                t += 1000;
                rec[nr] = sign_with(&e[who], &g, ++seq[who + 1], t, hx[who], b);
                author[nr++] = who;
            }
    }
    assert_int_equal(nr, NP + NADDR);
    /* the orders: time; author by author (newest member first, then oldest
     * first: each author's log in seq order); the reverse of time */
    enum { NO = 4 };
    const blob *ord[NO][1 + NP + NADDR];
    for (int o = 0; o < NO; o++)
        ord[o][0] = &gl.v[0];   /* the genesis comes first, from the sponsor */
    for (size_t i = 0; i < nr; i++) {
        ord[0][1 + i] = &rec[i];
        ord[3][1 + i] = &rec[nr - 1 - i];
    }
    size_t k1 = 1, k2 = 1;
    for (int a = NE - 1; a >= -1; a--)
        for (size_t i = 0; i < nr; i++)
            if (author[i] == a)
                ord[1][k1++] = &rec[i];
    for (int a = -1; a < NE; a++)
        for (size_t i = 0; i < nr; i++)
            if (author[i] == a)
                ord[2][k2++] = &rec[i];
    assert_int_equal(k1, 1 + nr);
    assert_int_equal(k2, 1 + nr);

    char *want = NULL;
    const size_t chunks[3] = { 1, 3, 0 };
    uint64_t one_batch_replays = 0, one_each_replays = 0;
    size_t rounds_of_one_batch = 0, rounds_of_one_each = 0;
    for (int o = 0; o < NO; o++) {
        int res[3][1 + NP + NADDR];
        for (int c = 0; c < 3; c++) {
            size_t rounds;
            store *s = feed(ord[o], 1 + nr, chunks[c], res[c], &rounds, &ids[O].id);
            /* a replay per batch at most, but for a first check with no
             * admission closure yet and the policy the genesis brings */
            assert_true(replays(s) <= rounds + 2);
            if (o == 2 && c == 2) {
                one_batch_replays = replays(s);
                rounds_of_one_batch = rounds;
            }
            if (o == 2 && c == 0) {
                one_each_replays = replays(s);
                rounds_of_one_each = rounds;
            }
            for (int i = 0; i < NE; i++) {
                store_member m;
                assert_int_equal(store_member_get(s, &e[i].id, &m), 0);
                assert_int_equal(m.status, STORE_MEMBER_ACTIVE);
            }
            char *got = members_text(s);
            if (!want)
                want = got;
            else {
                if (strcmp(want, got))
                    fail_msg("order %d, chunk %zu derived:\n%s\nnot:\n%s", o, chunks[c], got, want);
                free(got);
            }
            assert_derived(s);
            store_close(s);
            if (c)
                for (size_t i = 0; i <= nr; i++)
                    if (res[c][i] != res[0][i])
                        fail_msg("order %d: record %zu gave %s in batches of %zu, %s one by one", o, i,
                                 store_result_str(res[c][i]), chunks[c], store_result_str(res[0][i]));
        }
    }
    /* oldest member first, all in one batch (no retries needed): most of
     * its records come out of order, yet it replays three times at most,
     * where one record per batch replays at each of them */
    assert_int_equal(rounds_of_one_batch, 1);
    size_t late = 0;
    uint64_t seen = 0;
    for (size_t i = 1; i <= nr; i++) {
        proto_record pr;
        assert_int_equal(proto_record_decode(ord[2][i]->b, ord[2][i]->n, &pr, err, sizeof err), 0);
        late += pr.time_ms < seen;
        if (pr.time_ms > seen)
            seen = pr.time_ms;
    }
    assert_true(late >= 10);
    assert_true(one_batch_replays <= 3);
    assert_true(one_each_replays <= rounds_of_one_each + 2);
    free(want);
    for (size_t i = 0; i < nr; i++)
        free(rec[i].b);
    for (int i = 0; i < NE; i++)
        certs_free(&e[i]);
    blobs_free(&gl);
    store_close(sf);
}


/*
 * An admission that gives an address, placed out of order although
 * its subject announces an (empty) address later in the replay's order.
 * F founds (admission 1) and admits M (t1) and Z=X (t2, no address); X
 * announces an empty address (t4); F admits O backdated (t0, so batch 1
 * replays and builds the closure).  Batch 2: M admits X giving an address
 * at t3 < t4.  The replay: X's address filled at t3, emptied at t4 -> "".
 * The incremental tables keep M's address.  The store must hold what a
 * replay derives.
 */
static void placed_admission_then_empty_address(void **state)
{
    char err[256], hm[65], hx[65], ho[65];
    store *sf = open_fresh(NULL);
    bind(sf, F);
    if (store_create_genesis(sf, ids[F].key, ids[F].der, ids[F].der_len, ids[F].code, ids[F].name,
                             "テスト連合", 1, "192.0.2.1:7400", err, sizeof err))
        fail_msg("genesis: %s", err);
    blobs gl = all_of(sf, F);
    proto_id g = genesis_id(sf);
    hexid(M, hm);
    hexid(X, hx);
    hexid(O, ho);
    uint64_t t = proto_now_ms() - 3600 * 1000;
    proto_body *b;
    blob r[5];
    /* F: seq 2 admit M (t+10), seq 3 admit X (t+20, no address), seq 4 admit O (t+1, backdated) */
    r[0] = sign_with(&ids[F], &g, 2, t + 10, hm, admit_of(&ids[M]));
    b = admit_of(&ids[X]);
    proto_body_free(b);
    b = proto_body_new();
    proto_body_str(b, "op", "admit");
    proto_body_bin(b, "cert", ids[X].der, ids[X].der_len);
    proto_body_str(b, "code", ids[X].code);
    proto_body_str(b, "name", ids[X].name);
    r[1] = sign_with(&ids[F], &g, 3, t + 20, hx, b);
    b = proto_body_new();
    proto_body_str(b, "op", "address");
    proto_body_str(b, "address", "");
    r[2] = sign_with(&ids[X], &g, 1, t + 40, hx, b);
    r[3] = sign_with(&ids[F], &g, 4, t + 1, ho, admit_of(&ids[O]));
    /* batch 2: M admits X with an address at t+30 */
    r[4] = sign_with(&ids[M], &g, 1, t + 30, hx, admit_of(&ids[X]));
    const blob *b1[5] = { &gl.v[0], &r[0], &r[1], &r[2], &r[3] };
    const blob *b2[1] = { &r[4] };
    proto_record pr[5];
    int res[5];
    store *s = open_fresh(NULL);
    proto_id self;
    memset(&self, 0x5a, sizeof self);
    assert_int_equal(store_bind_self(s, &self, err, sizeof err), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(proto_record_decode(b1[i]->b, b1[i]->n, &pr[i], err, sizeof err), 0);
    assert_int_equal(store_apply_batch(s, pr, 5, res, err, sizeof err), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(res[i], STORE_NEW);
    assert_int_equal(proto_record_decode(b2[0]->b, b2[0]->n, &pr[0], err, sizeof err), 0);
    assert_int_equal(store_apply_batch(s, pr, 1, res, err, sizeof err), 0);
    assert_int_equal(res[0], STORE_NEW);
    store_member m;
    assert_int_equal(store_member_get(s, &ids[X].id, &m), 0);
    printf("# X's address before a replay: '%s'\n", m.address);
    assert_derived(s);
    store_close(s);
    for (int i = 0; i < 5; i++)
        free(r[i].b);
    blobs_free(&gl);
    store_close(sf);
}


/* The same with the later address given by an admission: F admits
 * M (t10), X (t20, no address), O (t1, backdated: a replay); O admits X
 * giving 192.0.2.99 (t40).  Batch 2: M admits X giving 192.0.2.20 at t30:
 * the replay fills X's address at t30 (M's), the incremental path keeps O's. */
static void placed_admission_below_another_address(void **state)
{
    char err[256], hm[65], hx[65], ho[65];
    store *sf = open_fresh(NULL);
    bind(sf, F);
    if (store_create_genesis(sf, ids[F].key, ids[F].der, ids[F].der_len, ids[F].code, ids[F].name,
                             "テスト連合", 1, "192.0.2.1:7400", err, sizeof err))
        fail_msg("genesis: %s", err);
    blobs gl = all_of(sf, F);
    proto_id g = genesis_id(sf);
    hexid(M, hm);
    hexid(X, hx);
    hexid(O, ho);
    uint64_t t = proto_now_ms() - 3600 * 1000;
    proto_body *b;
    blob r[5];
    r[0] = sign_with(&ids[F], &g, 2, t + 10, hm, admit_of(&ids[M]));
    b = proto_body_new();
    proto_body_str(b, "op", "admit");
    proto_body_bin(b, "cert", ids[X].der, ids[X].der_len);
    proto_body_str(b, "code", ids[X].code);
    proto_body_str(b, "name", ids[X].name);
    r[1] = sign_with(&ids[F], &g, 3, t + 20, hx, b);
    r[2] = sign_with(&ids[F], &g, 4, t + 1, ho, admit_of(&ids[O]));
    b = proto_body_new();
    proto_body_str(b, "op", "admit");
    proto_body_bin(b, "cert", ids[X].der, ids[X].der_len);
    proto_body_str(b, "code", ids[X].code);
    proto_body_str(b, "name", ids[X].name);
    proto_body_str(b, "address", "192.0.2.99:7400");
    r[3] = sign_with(&ids[O], &g, 1, t + 40, hx, b);
    r[4] = sign_with(&ids[M], &g, 1, t + 30, hx, admit_of(&ids[X]));
    const blob *b1[5] = { &gl.v[0], &r[0], &r[1], &r[2], &r[3] };
    proto_record pr[5];
    int res[5];
    store *s = open_fresh(NULL);
    proto_id self;
    memset(&self, 0x5a, sizeof self);
    assert_int_equal(store_bind_self(s, &self, err, sizeof err), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(proto_record_decode(b1[i]->b, b1[i]->n, &pr[i], err, sizeof err), 0);
    assert_int_equal(store_apply_batch(s, pr, 5, res, err, sizeof err), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(res[i], STORE_NEW);
    assert_int_equal(proto_record_decode(r[4].b, r[4].n, &pr[0], err, sizeof err), 0);
    assert_int_equal(store_apply_batch(s, pr, 1, res, err, sizeof err), 0);
    assert_int_equal(res[0], STORE_NEW);
    store_member m;
    assert_int_equal(store_member_get(s, &ids[X].id, &m), 0);
    printf("# X's address before a replay: '%s'\n", m.address);
    assert_derived(s);
    store_close(s);
    for (int i = 0; i < 5; i++)
        free(r[i].b);
    blobs_free(&gl);
    store_close(sf);
}

/*
 * Governance records in many orders and batchings: two expel votes that
 * expel X, then X's vote for O (blocked once X is expelled before it),
 * O's own record, and a fork of the founder's log whose later version
 * wins and takes O's admission back.  None of this has the admission
 * closure's shape, so checks replay as records need them.  For each order,
 * batches of one, two and all records give the same result for every
 * record, the same log and the same members, those a replay derives.
 */
static void membership_batchings_governance(void **state)
{
    char hx[65], ho[65], hf[65], hm[65], hr[65], err[256];
    store *sf = found(NULL);
    hexid(X, hx);
    hexid(O, ho);
    hexid(F, hf);
    hexid(M, hm);
    hexid(R, hr);
    blob w;
    w = write_rec(sf, F, "member", hm, 0, admit_body(M, "192.0.2.7:7400"));
    free(w.b);
    w = write_rec(sf, F, "member", hr, 0, admit_body(R, "192.0.2.8:7400"));
    free(w.b);
    w = write_rec(sf, F, "member", hx, 0, admit_body(X, "192.0.2.9:7400"));
    free(w.b);
    blobs base = all_of(sf, F);   /* genesis, admit M, R, X */
    proto_id g = genesis_id(sf);
    uint64_t t = proto_now_ms() + 60000;
    enum { NR = 6 };
    blob r[NR];
    r[0] = sign_at(M, &g, 1, t + 1, "member", hx, op_body("expel"));
    r[1] = sign_at(R, &g, 1, t + 2, "member", hx, op_body("expel"));
    r[2] = sign_at(X, &g, 1, t + 3, "member", ho, admit_body(O, "192.0.2.10:7400"));
    r[3] = sign_at(O, &g, 1, t + 4, "note", "o", text_body("o"));
    /* the founder's next seq in two versions: the admission of O, and an
     * address that wins the fork (the lower hash) */
    uint8_t ha[32], hb[32];
    r[4].b = r[5].b = NULL;
    for (uint64_t dt = 0;; dt += 2) {
        free(r[4].b);
        free(r[5].b);
        r[4] = sign_at(F, &g, base.n + 1, t + 5 + dt, "member", ho, admit_body(O, "192.0.2.10:7400"));
        r[5] = sign_at(F, &g, base.n + 1, t + 6 + dt, "member", hf, op_body("address"));
        sha256(r[4].b, r[4].n, ha);
        sha256(r[5].b, r[5].n, hb);
        if (memcmp(hb, ha, 32) < 0)
            break;
        assert_true(dt < 400);
    }
    certs_identity self;
    if (certs_make("130001", "観測団体", "ed25519", &self, err, sizeof err))
        fail_msg("identity: %s", err);
    static const int orders[][NR] = {
        { 0, 1, 2, 3, 4, 5 }, { 5, 4, 3, 2, 1, 0 }, { 2, 4, 3, 0, 1, 5 }, { 4, 3, 2, 1, 5, 0 },
        { 1, 4, 2, 0, 3, 5 }, { 4, 2, 5, 3, 0, 1 }, { 3, 2, 4, 1, 0, 5 },
        /* X's vote first (O is in), then the votes that expel X before it,
         * out of order, then O's record: checked against the log, O is no
         * member (X's vote is blocked) */
        { 2, 0, 1, 3, 4, 5 }, { 2, 4, 0, 1, 3, 5 }, { 2, 4, 5, 1, 0, 3 },
    };
    enum { NO = sizeof orders / sizeof orders[0], N = 4 + NR };
    const size_t chunks[3] = { 1, 2, 0 };
    for (int o = 0; o < NO; o++) {
        const blob *seq[N];
        for (size_t i = 0; i < base.n; i++)
            seq[i] = &base.v[i];
        for (int i = 0; i < NR; i++)
            seq[base.n + (size_t)i] = &r[orders[o][i]];
        int res[3][N];
        char *text[3];
        proto_id dg[3];
        for (int c = 0; c < 3; c++) {
            size_t rounds;
            store *s = feed(seq, base.n + NR, chunks[c], res[c], &rounds, &self.id);
            text[c] = members_text(s);
            dg[c] = info(s).digest;
            assert_int_equal(status_of(s, X), STORE_MEMBER_EXPELLED);
            assert_int_equal(status_of(s, O), -1);   /* the fork's winner took its admission back */
            assert_derived(s);
            store_close(s);
        }
        for (int c = 1; c < 3; c++) {
            for (int i = 0; i < N; i++)
                if (res[c][i] != res[0][i])
                    fail_msg("order %d: record %d gave %s in batches of %zu, %s one by one", o, i,
                             store_result_str(res[c][i]), chunks[c], store_result_str(res[0][i]));
            assert_string_equal(text[c], text[0]);
            assert_memory_equal(dg[c].b, dg[0].b, 32);
        }
        for (int c = 0; c < 3; c++)
            free(text[c]);
    }
    certs_free(&self);
    for (int i = 0; i < NR; i++)
        free(r[i].b);
    blobs_free(&base);
    store_close(sf);
}

/*
 * A record out of order placed without a replay (store_replay.c, "Placing
 * a record out of order"), and one that must not be: admission 2; after a
 * replay has built the admission closure, Z's admission by A (t+20)
 * founds Z's entry, then B's (t+10) comes: the replay takes B's first, so
 * B's founds the entry (admitted by B, since t+10) — placed, no replay,
 * and the entry rewritten so.  Then Z, active from t+20, has signed an
 * admission of W dated t+15, before its own admission completed, and it
 * comes after D's of W (t+17): the replay takes Z's only once Z is active,
 * after D's, so D's founds W's entry; Z's cannot be placed, and the batch
 * replays.
 * Either way the tables are what a replay derives.
 */
/* A batch of records signed by identities of the test's own (their
 * signatures were made here, by their keys): decoded and applied. */
static void apply_plain(store *s, const blob *const *recs, size_t n, int *results)
{
    char err[256];
    proto_record r[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        if (proto_record_decode(recs[i]->b, recs[i]->n, &r[i], err, sizeof err))
            fail_msg("decode: %s", err);
    if (store_apply_batch(s, r, n, results, err, sizeof err))
        fail_msg("apply batch: %s", err);
}

static void membership_placement(void **state)
{
    enum { A, B, C, D, Z, W, NE };
    certs_identity e[NE];
    char err[256], hx[NE][65];
    for (int i = 0; i < NE; i++) {
        char code[8], name[32];
        int sum = 0;
        snprintf(code, sizeof code, "%05d", 30000 + 17 * i);
        for (int k = 0; k < 5; k++)
            sum += (code[k] - '0') * (6 - k);
        code[5] = (char)('0' + (11 - sum % 11) % 10);
        code[6] = 0;
        snprintf(name, sizeof name, "配置%d", i);
        if (certs_make(code, name, "ed25519", &e[i], err, sizeof err))
            fail_msg("identity: %s", err);
        proto_hex(e[i].id.b, 32, hx[i]);
    }
    store *sf = open_fresh(NULL);
    bind(sf, F);
    if (store_create_genesis(sf, ids[F].key, ids[F].der, ids[F].der_len, ids[F].code, ids[F].name,
                             "テスト連合", 2, "192.0.2.1:7400", err, sizeof err))
        fail_msg("genesis: %s", err);
    blobs gl = all_of(sf, F);
    proto_id g = genesis_id(sf);
    uint64_t t = proto_now_ms() - 3600 * 1000;
    /* F admits A (active: the only member), B; A admits B; B admits C at
     * t+5, A at t+4 (out of order: a replay, which builds the closure) */
    blob fa = sign_with(&ids[F], &g, 2, t + 1, hx[A], admit_of(&e[A]));
    blob fb = sign_with(&ids[F], &g, 3, t + 2, hx[B], admit_of(&e[B]));
    blob ab = sign_with(&e[A], &g, 1, t + 3, hx[B], admit_of(&e[B]));
    blob bc = sign_with(&e[B], &g, 1, t + 5, hx[C], admit_of(&e[C]));
    blob ac = sign_with(&e[A], &g, 2, t + 4, hx[C], admit_of(&e[C]));
    blob fd = sign_with(&ids[F], &g, 4, t + 6, hx[D], admit_of(&e[D]));
    blob bd = sign_with(&e[B], &g, 2, t + 7, hx[D], admit_of(&e[D]));
    blob az = sign_with(&e[A], &g, 3, t + 20, hx[Z], admit_of(&e[Z]));
    blob bz = sign_with(&e[B], &g, 3, t + 10, hx[Z], admit_of(&e[Z]));
    store *s = open_fresh(NULL);
    bind(s, O);
    const blob *seq1[] = { &gl.v[0], &fa, &fb, &ab, &bc, &fd, &bd };
    int res[8];
    apply_plain(s, seq1, 7, res);
    for (int i = 0; i < 7; i++)
        assert_int_equal(res[i], STORE_NEW);
    const blob *seq2[] = { &ac };
    apply_plain(s, seq2, 1, res);
    assert_int_equal(res[0], STORE_NEW);
    uint64_t r0 = replays(s);
    assert_true(r0 >= 1);   /* A's admission of C came out of order */
    const blob *seq3[] = { &az };
    apply_plain(s, seq3, 1, res);
    const blob *seq4[] = { &bz };
    apply_plain(s, seq4, 1, res);
    assert_int_equal(res[0], STORE_NEW);
    /* placed: no replay, and Z's entry is the one B's admission founds */
    assert_int_equal(replays(s), r0);
    store_member m;
    assert_int_equal(store_member_get(s, &e[Z].id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_ACTIVE);
    assert_memory_equal(m.admitted_by.b, e[B].id.b, 32);
    assert_int_equal(m.since_ms, t + 10);
    /* (no assert_derived here: its replay commits a transaction of its
     * own, after which the closure is built again by the next replay) */
    /* Z, active since t+20 (the second of its admissions in the replay's
     * order), signed an admission of W dated t+15; D admitted W at t+17 */
    blob zw = sign_with(&e[Z], &g, 1, t + 15, hx[W], admit_of(&e[W]));
    blob dw = sign_with(&e[D], &g, 1, t + 17, hx[W], admit_of(&e[W]));
    uint64_t r1 = replays(s);
    const blob *seq5[] = { &dw };
    apply_plain(s, seq5, 1, res);
    assert_int_equal(res[0], STORE_NEW);
    assert_int_equal(replays(s), r1);   /* placed: it founds W's entry */
    const blob *seq6[] = { &zw };
    apply_plain(s, seq6, 1, res);
    assert_int_equal(res[0], STORE_NEW);
    assert_int_equal(replays(s), r1 + 1);   /* not placed: the batch replayed */
    assert_int_equal(store_member_get(s, &e[W].id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_ACTIVE);
    assert_memory_equal(m.admitted_by.b, e[D].id.b, 32);
    assert_int_equal(m.since_ms, t + 17);
    assert_derived(s);
    blob *all[] = { &fa, &fb, &ab, &bc, &ac, &fd, &bd, &az, &bz, &zw, &dw };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]->b);
    for (int i = 0; i < NE; i++)
        certs_free(&e[i]);
    blobs_free(&gl);
    store_close(s);
    store_close(sf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(genesis_basics),
        cmocka_unit_test(writes_current_history),
        cmocka_unit_test(member_admission),
        cmocka_unit_test(member_expulsion_cut),
        cmocka_unit_test(member_admission_quorum),
        cmocka_unit_test(refusals),
        cmocka_unit_test(apply_hashed),
        cmocka_unit_test(equivocation),
        cmocka_unit_test(genesis_never_replaced),
        cmocka_unit_test(digest_order_independent),
        cmocka_unit_test(membership_any_order),
        cmocka_unit_test(membership_fork),
        cmocka_unit_test(member_far_future),
        cmocka_unit_test(member_batch_boundaries),
        cmocka_unit_test(member_blocked_expelled),
        cmocka_unit_test(member_replay_unparsable),
        cmocka_unit_test(genesis_chain_check),
        cmocka_unit_test(reopen),
        cmocka_unit_test(schema_check),
        cmocka_unit_test(refs_and_release),
        cmocka_unit_test(membership_batchings),
        cmocka_unit_test(membership_batchings_governance),
        cmocka_unit_test(placed_admission_then_empty_address),
        cmocka_unit_test(placed_admission_below_another_address),
        cmocka_unit_test(membership_placement),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
