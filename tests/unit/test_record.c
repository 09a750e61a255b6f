/* tests/unit/test_record.c — proto/record: encoding, decoding, signing,
 * verification and the strict decoder's refusals; proto/util ids.
 *
 * Malformed records are built with msgpack-c's packer directly (never with
 * the code under test), and, where it matters, signed with EVP directly so
 * a refusal cannot come from a bad signature.  Expected values are worked
 * out from the format in record.h, not read back from the code under test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>
#include <openssl/evp.h>
#include <openssl/ecdsa.h>
#include <openssl/bn.h>
#include <openssl/x509.h>

#include "proto/record.h"
#include "proto/util.h"
#include "proto/mp.h"
#include "certs/certs.h"

/* ---- fixture: identities, made once per binary ---- */

enum { ED_A, ED_B, P256_A, P256_B, RSA_A, NKEYS };
static const char *const key_type[NKEYS] = { "ed25519", "ed25519", "p256", "p256", "rsa" };
static const char *const key_code[NKEYS] = { "131059", "131016", "011002", "271004", "130001" };

static char tmpdir[64];
static certs_identity ids[NKEYS];

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    char err[256];
    strcpy(tmpdir, "/tmp/test_record.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    for (int i = 0; i < NKEYS; i++) {
        char dir[128];
        snprintf(dir, sizeof dir, "%s/id%d", tmpdir, i);
        if (certs_init(dir, key_code[i], "テスト市", key_type[i], err, sizeof err) ||
            certs_load(dir, &ids[i], err, sizeof err)) {
            fprintf(stderr, "identity %d (%s): %s\n", i, key_type[i], err);
            return -1;
        }
    }
    return 0;
}

static int group_teardown(void **state)
{
    for (int i = 0; i < NKEYS; i++)
        certs_free(&ids[i]);
    if (tmpdir[0])
        nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* the public key only, as a peer holds it */
static EVP_PKEY *pub_of(int i)
{
    return X509_get0_pubkey(ids[i].cert);
}

#define assert_err_has(err, needle) do {                                  \
        if (!strstr((err), (needle)))                                     \
            fail_msg("error \"%s\" lacks \"%s\"", (err), (needle));       \
    } while (0)

static proto_id mkid(uint8_t seed)
{
    proto_id id;
    for (size_t i = 0; i < PROTO_ID_LEN; i++)
        id.b[i] = (uint8_t)(seed * 31 + i * 7 + 1);
    return id;
}

/* decode a heap copy of exactly len bytes (so ASan sees any over-read) */
static int decode_copy(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    uint8_t *c = malloc(len ? len : 1);
    assert_non_null(c);
    memcpy(c, buf, len);
    proto_record r, h;
    int rc = proto_record_decode(c, len, &r, err, errlen);
    /* ingest's split (daemon/ingest.c: the header on the loop, the body
     * with the signature) accepts exactly what the strict decode accepts */
    int split = proto_record_decode_header(c, len, &h, NULL, 0);
    if (split == 0)
        split = proto_record_check_text(&h, NULL, 0);
    assert_int_equal(split, rc);
    free(c);
    return rc;
}

static void sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned int ol = 32;
    assert_int_equal(EVP_Digest(p, n, out, &ol, EVP_sha256(), NULL), 1);
}

/* ---- building records by hand ---- */

static int pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    pack_str(pk, s, strlen(s));
}

static void pack_bin(msgpack_packer *pk, const void *b, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, b, n);
}

/* A header; body is raw msgpack bytes (a map, or anything to test refusals). */
typedef struct {
    uint64_t format;
    proto_id alliance, author;
    const char *kind;
    size_t kind_len;   /* 0: strlen */
    const char *key;
    size_t key_len;    /* 0: strlen */
    uint64_t seq, time_ms, flags;
    const uint8_t *body;
    size_t body_len;
    size_t nfields;    /* 9 normally */
} hdr;

static const uint8_t body_empty[] = { 0x80 };

static hdr good_hdr(void)
{
    hdr h = { 1, mkid(1), mkid(2), "certification", 0, "product-42", 0, 7, 1700000000000ull, 0,
              body_empty, sizeof body_empty, 9 };
    return h;
}

/* Pack a tbs from h into sb (initialised here). */
static void pack_tbs(msgpack_sbuffer *sb, const hdr *h)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, h->nfields);
    size_t f = 0;
#define MORE (f++ < h->nfields)
    if (MORE) msgpack_pack_uint64(&pk, h->format);
    if (MORE) pack_bin(&pk, h->alliance.b, 32);
    if (MORE) pack_bin(&pk, h->author.b, 32);
    if (MORE) pack_str(&pk, h->kind, h->kind_len ? h->kind_len : strlen(h->kind));
    if (MORE) pack_str(&pk, h->key, h->key_len ? h->key_len : strlen(h->key));
    if (MORE) msgpack_pack_uint64(&pk, h->seq);
    if (MORE) msgpack_pack_uint64(&pk, h->time_ms);
    if (MORE) msgpack_pack_uint64(&pk, h->flags);
    if (MORE) msgpack_sbuffer_write(sb, (const char *)h->body, h->body_len);
    while (MORE)
        msgpack_pack_nil(&pk);
#undef MORE
}

/* Wrap tbs bytes and a signature into [tbs, sig]; returns malloc'd bytes. */
static uint8_t *wrap(const void *tbs, size_t tl, const void *sig, size_t sl, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    pack_bin(&pk, tbs, tl);
    pack_bin(&pk, sig, sl);
    *len = sb.size;
    return (uint8_t *)msgpack_sbuffer_release(&sb);
}

/* Sign arbitrary tbs bytes with EVP directly (Ed25519 pure, else SHA-256). */
static size_t evp_sign(EVP_PKEY *k, const void *tbs, size_t tl, uint8_t *sig, size_t cap)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t sl = cap;
    const EVP_MD *md = EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
    assert_non_null(ctx);
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, k), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &sl, tbs, tl), 1);
    EVP_MD_CTX_free(ctx);
    return sl;
}

/* A whole record from h, correctly signed by identity `who`. */
static uint8_t *build_signed(const hdr *h, int who, size_t *len)
{
    msgpack_sbuffer tbs;
    uint8_t sig[PROTO_SIG_MAX];
    pack_tbs(&tbs, h);
    size_t sl = evp_sign(ids[who].key, tbs.data, tbs.size, sig, sizeof sig);
    uint8_t *r = wrap(tbs.data, tbs.size, sig, sl, len);
    msgpack_sbuffer_destroy(&tbs);
    return r;
}

/* Decode h (signed by ED_A) and return proto_record_decode's result. */
static int decode_hdr(const hdr *h, char *err, size_t errlen)
{
    size_t len;
    uint8_t *r = build_signed(h, ED_A, &len);
    int rc = decode_copy(r, len, err, errlen);
    free(r);
    return rc;
}

/* A body map built by hand: { name: <value bytes> } */
static uint8_t *body1(const char *name, const void *val, size_t vl, size_t *len)
{
    size_t nl = strlen(name);
    uint8_t *b = malloc(2 + nl + vl);
    assert_non_null(b);
    assert_true(nl < 32);
    b[0] = 0x81;
    b[1] = (uint8_t)(0xa0 | nl);
    memcpy(b + 2, name, nl);
    memcpy(b + 2 + nl, val, vl);
    *len = 2 + nl + vl;
    return b;
}

/* ---- round trips ---- */

struct seen {
    int n;
    char field[8][16];
    char text[8][128];
};

static int collect(void *ctx, const char *field, size_t flen, const char *text, size_t tlen)
{
    struct seen *s = ctx;
    assert_true(s->n < 8 && flen < 16 && tlen < 128);
    memcpy(s->field[s->n], field, flen);
    s->field[s->n][flen] = 0;
    memcpy(s->text[s->n], text, tlen);
    s->text[s->n][tlen] = 0;
    assert_int_equal(strlen(s->text[s->n]), tlen);
    s->n++;
    return 0;
}

static void round_trip_one(int who, uint32_t flags)
{
    char err[256] = "";
    proto_id alliance = mkid(9), author = ids[who].id;
    static const uint8_t blob[] = { 0x00, 0x01, 0xfe, 0xff, 0x80 };
    const char *tags[] = { "防災", "a, b", "" };
    proto_body *b = proto_body_new();
    assert_non_null(b);
    assert_int_equal(proto_body_str(b, "name", "文京区の製品 α"), 0);
    assert_int_equal(proto_body_int(b, "neg", -1234567890123LL), 0);
    assert_int_equal(proto_body_int(b, "big", INT64_MAX), 0);
    assert_int_equal(proto_body_int(b, "min", INT64_MIN), 0);
    assert_int_equal(proto_body_bin(b, "blob", blob, sizeof blob), 0);
    assert_int_equal(proto_body_strs(b, "tags", tags, 3), 0);
    assert_int_equal(proto_body_str(b, "empty", ""), 0);

    uint8_t *rec = NULL;
    size_t len = 0;
    const char *key = "製品/0042 (v2)";
    assert_int_equal(proto_record_sign(&alliance, &author, "certification", key, 42,
                                       1712345678901ull, flags, b, ids[who].key, &rec, &len,
                                       err, sizeof err), 0);
    proto_body_free(b);
    assert_true(len > 0 && len <= PROTO_RECORD_MAX);

    /* independent check of the outer shape with msgpack-c's unpacker */
    msgpack_unpacked up;
    size_t off = 0;
    msgpack_unpacked_init(&up);
    assert_int_equal(msgpack_unpack_next(&up, (const char *)rec, len, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, len);
    assert_int_equal(up.data.type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(up.data.via.array.size, 2);
    msgpack_object tbs = up.data.via.array.ptr[0], sig = up.data.via.array.ptr[1];
    assert_int_equal(tbs.type, MSGPACK_OBJECT_BIN);
    assert_int_equal(sig.type, MSGPACK_OBJECT_BIN);
    msgpack_unpacked ut;
    size_t toff = 0;
    msgpack_unpacked_init(&ut);
    assert_int_equal(msgpack_unpack_next(&ut, tbs.via.bin.ptr, tbs.via.bin.size, &toff),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(toff, tbs.via.bin.size);
    msgpack_object h = ut.data;
    assert_int_equal(h.type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(h.via.array.size, 9);
    assert_int_equal(h.via.array.ptr[0].via.u64, 1);
    assert_int_equal(h.via.array.ptr[1].via.bin.size, 32);
    assert_memory_equal(h.via.array.ptr[1].via.bin.ptr, alliance.b, 32);
    assert_memory_equal(h.via.array.ptr[2].via.bin.ptr, author.b, 32);
    assert_int_equal(h.via.array.ptr[5].via.u64, 42);
    assert_true(h.via.array.ptr[6].via.u64 == 1712345678901ull);
    assert_int_equal(h.via.array.ptr[7].via.u64, flags);
    assert_int_equal(h.via.array.ptr[8].type, MSGPACK_OBJECT_MAP);
    assert_int_equal(h.via.array.ptr[8].via.map.size, 7);
    /* the signature verifies over exactly the tbs bytes, with EVP directly */
    {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        const EVP_MD *md = EVP_PKEY_get_base_id(pub_of(who)) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
        assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, md, NULL, pub_of(who)), 1);
        assert_int_equal(EVP_DigestVerify(ctx, (const uint8_t *)sig.via.bin.ptr, sig.via.bin.size,
                                          (const uint8_t *)tbs.via.bin.ptr, tbs.via.bin.size), 1);
        EVP_MD_CTX_free(ctx);
    }

    proto_record r;
    assert_int_equal(proto_record_decode(rec, len, &r, err, sizeof err), 0);
    assert_ptr_equal(r.raw, rec);
    assert_int_equal(r.raw_len, len);
    assert_ptr_equal(r.tbs, (const uint8_t *)tbs.via.bin.ptr);
    assert_int_equal(r.tbs_len, tbs.via.bin.size);
    assert_ptr_equal(r.sig, (const uint8_t *)sig.via.bin.ptr);
    assert_int_equal(r.sig_len, sig.via.bin.size);
    assert_memory_equal(r.alliance.b, alliance.b, 32);
    assert_memory_equal(r.author.b, author.b, 32);
    assert_string_equal(r.kind, "certification");
    assert_string_equal(r.key, key);
    assert_int_equal(r.seq, 42);
    assert_true(r.time_ms == 1712345678901ull);
    assert_int_equal(r.flags, flags);
    /* body: the map is the last thing in tbs */
    assert_ptr_equal(r.body + r.body_len, r.tbs + r.tbs_len);
    assert_int_equal(r.body[0], 0x87);

    const char *s;
    size_t sl;
    int64_t iv;
    const uint8_t *bv;
    char buf[64];
    assert_int_equal(proto_body_get_str(&r, "name", &s, &sl), 0);
    assert_int_equal(sl, strlen("文京区の製品 α"));
    assert_memory_equal(s, "文京区の製品 α", sl);
    assert_int_equal(proto_body_get_int(&r, "neg", &iv), 0);
    assert_true(iv == -1234567890123LL);
    assert_int_equal(proto_body_get_int(&r, "big", &iv), 0);
    assert_true(iv == INT64_MAX);
    assert_int_equal(proto_body_get_int(&r, "min", &iv), 0);
    assert_true(iv == INT64_MIN);
    assert_int_equal(proto_body_get_bin(&r, "blob", &bv, &sl), 0);
    assert_int_equal(sl, sizeof blob);
    assert_memory_equal(bv, blob, sizeof blob);
    assert_int_equal(proto_body_copy_str(&r, "name", buf, sizeof buf), 0);
    assert_string_equal(buf, "文京区の製品 α");
    assert_int_equal(proto_body_copy_str(&r, "empty", buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    /* wrong type, absent, too small */
    assert_int_equal(proto_body_get_str(&r, "neg", &s, &sl), -1);
    assert_int_equal(proto_body_get_int(&r, "name", &iv), -1);
    assert_int_equal(proto_body_get_bin(&r, "name", &bv, &sl), -1);
    assert_int_equal(proto_body_get_str(&r, "nam", &s, &sl), -1);
    assert_int_equal(proto_body_get_str(&r, "absent", &s, &sl), -1);
    assert_int_equal(proto_body_copy_str(&r, "name", buf, strlen("文京区の製品 α")), -1);
    assert_int_equal(proto_body_copy_str(&r, "tags", buf, sizeof buf), -1);

    struct seen seen = { 0 };
    assert_int_equal(proto_body_foreach(&r, collect, &seen), 0);
    assert_int_equal(seen.n, 7);
    static const char *const want_f[] = { "name", "neg", "big", "min", "blob", "tags", "empty" };
    static const char *const want_t[] = { "文京区の製品 α", "-1234567890123", "9223372036854775807",
                                          "-9223372036854775808", "0001feff80", "防災, a, b, ", "" };
    for (int i = 0; i < 7; i++) {
        assert_string_equal(seen.field[i], want_f[i]);
        assert_string_equal(seen.text[i], want_t[i]);
    }

    /* hash: SHA-256 of the whole record */
    proto_id hh;
    uint8_t want[32];
    proto_record_hash(rec, len, &hh);
    sha256(rec, len, want);
    assert_memory_equal(hh.b, want, 32);

    assert_int_equal(proto_record_verify(&r, pub_of(who), err, sizeof err), 0);
    msgpack_unpacked_destroy(&ut);
    msgpack_unpacked_destroy(&up);
    free(rec);
}

static void round_trip(void **state)
{
    round_trip_one(ED_A, 0);
    round_trip_one(ED_A, PROTO_FLAG_TOMBSTONE);
    round_trip_one(P256_A, 0);
    round_trip_one(RSA_A, PROTO_FLAG_TOMBSTONE);
}

static int stop_after_two(void *ctx, const char *f, size_t fl, const char *t, size_t tl)
{
    struct seen *s = ctx;
    return ++s->n == 2 ? 77 : 0;
}

static void foreach_stops(void **state)
{
    char err[256];
    proto_id a = mkid(1);
    proto_body *b = proto_body_new();
    proto_body_int(b, "one", 1);
    proto_body_int(b, "two", 2);
    proto_body_int(b, "three", 3);
    uint8_t *rec;
    size_t len;
    assert_int_equal(proto_record_sign(&a, &ids[ED_A].id, "adoption", "k", 1, 0, 0, b,
                                       ids[ED_A].key, &rec, &len, err, sizeof err), 0);
    proto_body_free(b);
    proto_record r;
    assert_int_equal(proto_record_decode(rec, len, &r, err, sizeof err), 0);
    struct seen seen = { 0 };
    /* a callback returning non-zero stops the walk, and foreach returns it */
    assert_int_equal(proto_body_foreach(&r, stop_after_two, &seen), 77);
    assert_int_equal(seen.n, 2);
    /* no body at all is an empty map */
    free(rec);
    assert_int_equal(proto_record_sign(&a, &ids[ED_A].id, "adoption", "k", 1, 0, 0, NULL,
                                       ids[ED_A].key, &rec, &len, err, sizeof err), 0);
    assert_int_equal(proto_record_decode(rec, len, &r, err, sizeof err), 0);
    assert_int_equal(r.body_len, 1);
    assert_int_equal(r.body[0], 0x80);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(proto_body_foreach(&r, collect, &seen), 0);
    assert_int_equal(seen.n, 0);
    free(rec);
}

/* ---- signatures ---- */

static void verify_matrix(void **state)
{
    char err[256];
    proto_id a = mkid(3);
    for (int signer = 0; signer < NKEYS; signer++) {
        proto_body *b = proto_body_new();
        proto_body_str(b, "x", "y");
        uint8_t *rec;
        size_t len;
        assert_int_equal(proto_record_sign(&a, &ids[signer].id, "policy", "p", 5, 1, 0, b,
                                           ids[signer].key, &rec, &len, err, sizeof err), 0);
        proto_body_free(b);
        proto_record r;
        assert_int_equal(proto_record_decode(rec, len, &r, err, sizeof err), 0);
        for (int v = 0; v < NKEYS; v++) {
            err[0] = 0;
            int rc = proto_record_verify(&r, pub_of(v), err, sizeof err);
            if (v == signer) {
                if (rc)
                    fail_msg("%s record does not verify under its own key: %s", key_type[signer], err);
                /* the private key object verifies as well */
                assert_int_equal(proto_record_verify(&r, ids[v].key, err, sizeof err), 0);
            } else {
                if (rc == 0)
                    fail_msg("%s record (id %d) verifies under key %d (%s)", key_type[signer],
                             signer, v, key_type[v]);
                assert_err_has(err, "bad signature");
            }
        }
        free(rec);
    }
}

/* Flip each byte of a record (three ways): it must no longer decode, or no
 * longer verify. */
static void flipped_bytes(void **state)
{
    char err[256];
    proto_id a = mkid(4);
    const int who[] = { ED_A, P256_A, RSA_A };
    static const uint8_t masks[] = { 0x01, 0x80, 0xff };
    for (size_t w = 0; w < 3; w++) {
        proto_body *b = proto_body_new();
        const char *v[] = { "a", "bc" };
        proto_body_str(b, "s", "値");
        proto_body_int(b, "i", 300);
        proto_body_bin(b, "b", "\x01\x02", 2);
        proto_body_strs(b, "l", v, 2);
        uint8_t *rec;
        size_t len;
        assert_int_equal(proto_record_sign(&a, &ids[who[w]].id, "certification", "key-1", 3,
                                           123456, 0, b, ids[who[w]].key, &rec, &len, err, sizeof err), 0);
        proto_body_free(b);
        uint8_t *c = malloc(len);
        assert_non_null(c);
        size_t decoded = 0;
        for (size_t i = 0; i < len; i++) {
            for (size_t m = 0; m < sizeof masks; m++) {
                memcpy(c, rec, len);
                c[i] ^= masks[m];
                proto_record r;
                if (proto_record_decode(c, len, &r, err, sizeof err))
                    continue;
                decoded++;
                if (proto_record_verify(&r, pub_of(who[w]), err, sizeof err) == 0)
                    fail_msg("%s record with byte %zu ^ 0x%02x still verifies",
                             key_type[who[w]], i, masks[m]);
            }
        }
        /* most flips inside the signature or the values still decode: make
         * sure the verify branch above was actually exercised */
        assert_true(decoded > len / 2);
        free(c);
        free(rec);
    }
}

/* ECDSA signatures are malleable: (r, s) and (r, n - s) both verify under
 * plain ECDSA.  Anyone relaying a P-256 member's record could then make a
 * second, different record with the same (author, seq) — fake "equivocation
 * evidence" (DESIGN §3) against an honest member.  So only one of the two
 * forms may be accepted. */
static void ecdsa_high_s_refused(void **state)
{
    char err[256];
    proto_id a = mkid(5);
    BIGNUM *n = BN_new();
    assert_non_null(n);
    /* order of P-256 */
    assert_true(BN_hex2bn(&n, "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551") > 0);
    int accepted_both = 0, tried = 0;
    for (int t = 0; t < 16; t++) {
        uint8_t *rec;
        size_t len;
        assert_int_equal(proto_record_sign(&a, &ids[P256_A].id, "adoption", "x", 1 + (uint64_t)t, 0, 0,
                                           NULL, ids[P256_A].key, &rec, &len, err, sizeof err), 0);
        proto_record r;
        assert_int_equal(proto_record_decode(rec, len, &r, err, sizeof err), 0);
        assert_int_equal(proto_record_verify(&r, pub_of(P256_A), err, sizeof err), 0);
        /* the other s */
        const uint8_t *p = r.sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)r.sig_len);
        assert_non_null(es);
        const BIGNUM *rr, *ss;
        ECDSA_SIG_get0(es, &rr, &ss);
        BIGNUM *r2 = BN_dup(rr), *s2 = BN_new();
        assert_int_equal(BN_sub(s2, n, ss), 1);
        ECDSA_SIG *es2 = ECDSA_SIG_new();
        assert_int_equal(ECDSA_SIG_set0(es2, r2, s2), 1);
        uint8_t *der = NULL;
        int dl = i2d_ECDSA_SIG(es2, &der);
        assert_true(dl > 0);
        size_t l2;
        uint8_t *rec2 = wrap(r.tbs, r.tbs_len, der, (size_t)dl, &l2);
        proto_record r2d;
        tried++;
        if (proto_record_decode(rec2, l2, &r2d, err, sizeof err) == 0 &&
            proto_record_verify(&r2d, pub_of(P256_A), err, sizeof err) == 0)
            accepted_both++;
        OPENSSL_free(der);
        ECDSA_SIG_free(es);
        ECDSA_SIG_free(es2);
        free(rec2);
        free(rec);
    }
    BN_free(n);
    if (accepted_both)
        fail_msg("%d of %d P-256 records also verified with s replaced by n - s", accepted_both, tried);
}

/* ---- truncation, trailing bytes, size ---- */

static void truncated_and_trailing(void **state)
{
    char err[256];
    proto_id a = mkid(6);
    const int who[] = { ED_A, P256_A, RSA_A };
    for (size_t w = 0; w < 3; w++) {
        proto_body *b = proto_body_new();
        proto_body_str(b, "s", "値");
        proto_body_int(b, "i", -5);
        uint8_t *rec;
        size_t len;
        assert_int_equal(proto_record_sign(&a, &ids[who[w]].id, "member", "abc", 9, 1, 0, b,
                                           ids[who[w]].key, &rec, &len, err, sizeof err), 0);
        proto_body_free(b);
        assert_int_equal(decode_copy(rec, len, err, sizeof err), 0);
        for (size_t l = 0; l < len; l++)
            if (decode_copy(rec, l, err, sizeof err) == 0)
                fail_msg("%s record cut to %zu of %zu bytes decoded", key_type[who[w]], l, len);
        /* trailing bytes after the record */
        uint8_t *x = malloc(len + 3);
        memcpy(x, rec, len);
        x[len] = 0xc0;
        x[len + 1] = 0x00;
        x[len + 2] = 0x00;
        for (size_t extra = 1; extra <= 3; extra++) {
            err[0] = 0;
            assert_int_equal(decode_copy(x, len + extra, err, sizeof err), -1);
            assert_err_has(err, "trailing");
        }
        free(x);
        free(rec);
    }

    /* trailing bytes inside the tbs, after the body: refused even when signed */
    hdr h = good_hdr();
    static const uint8_t body_trail[] = { 0x80, 0xc0 };
    h.body = body_trail;
    h.body_len = sizeof body_trail;
    err[0] = 0;
    assert_int_equal(decode_hdr(&h, err, sizeof err), -1);
    assert_err_has(err, "trailing");
    /* ... and the same header without them decodes (control) */
    h = good_hdr();
    assert_int_equal(decode_hdr(&h, err, sizeof err), 0);
}

static void size_limits(void **state)
{
    char err[256];
    proto_id a = mkid(7);
    /* encoder: a record over 64 KiB is refused */
    uint8_t *big = calloc(1, PROTO_FIELD_MAX);
    assert_non_null(big);
    proto_body *b = proto_body_new();
    for (int i = 0; i < 4; i++) {
        char f[8];
        snprintf(f, sizeof f, "f%d", i);
        assert_int_equal(proto_body_bin(b, f, big, PROTO_FIELD_MAX), 0);   /* 64 KiB of values */
    }
    uint8_t *rec = NULL;
    size_t len = 0;
    err[0] = 0;
    assert_int_equal(proto_record_sign(&a, &ids[ED_A].id, "certification", "k", 1, 0, 0, b,
                                       ids[ED_A].key, &rec, &len, err, sizeof err), -1);
    assert_null(rec);
    assert_err_has(err, "limit");
    proto_body_free(b);

    /* one field over PROTO_FIELD_MAX is refused by the body builder */
    b = proto_body_new();
    assert_int_equal(proto_body_bin(b, "f", big, PROTO_FIELD_MAX + 1), -1);
    assert_int_equal(proto_record_sign(&a, &ids[ED_A].id, "certification", "k", 1, 0, 0, b,
                                       ids[ED_A].key, &rec, &len, err, sizeof err), -1);
    proto_body_free(b);
    free(big);

    /* decoder: build records of exactly 64 KiB and 64 KiB + 1 by hand.
     * body = { "pad": bin(N) }: fixmap(1) + fixstr "pad" + bin16/32 header. */
    for (int over = 0; over <= 1; over++) {
        /* first find N so that the whole record is exactly 65536 + over:
         * grow the padding one byte at a time from a size close below */
        size_t total = 0;
        uint8_t *r = NULL;
        for (size_t pad = 65000; pad < 65536; pad++) {
            msgpack_sbuffer body;
            msgpack_packer pk;
            msgpack_sbuffer_init(&body);
            msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
            msgpack_pack_map(&pk, 1);
            pack_cstr(&pk, "pad");
            uint8_t *z = calloc(1, pad);
            pack_bin(&pk, z, pad);
            free(z);
            hdr h = good_hdr();
            h.body = (const uint8_t *)body.data;
            h.body_len = body.size;
            r = build_signed(&h, ED_A, &total);
            msgpack_sbuffer_destroy(&body);
            if (total >= PROTO_RECORD_MAX + (size_t)over)
                break;
            free(r);
            r = NULL;
        }
        assert_non_null(r);
        assert_int_equal(total, PROTO_RECORD_MAX + (size_t)over);
        err[0] = 0;
        int rc = decode_copy(r, total, err, sizeof err);
        if (over) {
            assert_int_equal(rc, -1);
            assert_err_has(err, "limit");
        } else {
            /* the body field is over PROTO_FIELD_MAX, so it is refused —
             * but for that reason, not the record size */
            assert_int_equal(rc, -1);
            assert_err_has(err, "too long");
        }
        free(r);
    }

    /* a record of exactly 64 KiB made of legal fields decodes */
    {
        msgpack_sbuffer body;
        msgpack_packer pk;
        size_t total = 0;
        uint8_t *r = NULL;
        uint8_t *z = calloc(1, PROTO_FIELD_MAX);
        for (size_t pad = 10000; pad <= PROTO_FIELD_MAX; pad++) {
            msgpack_sbuffer_init(&body);
            msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
            msgpack_pack_map(&pk, 4);
            pack_cstr(&pk, "a"); pack_bin(&pk, z, PROTO_FIELD_MAX);
            pack_cstr(&pk, "b"); pack_bin(&pk, z, PROTO_FIELD_MAX);
            pack_cstr(&pk, "c"); pack_bin(&pk, z, PROTO_FIELD_MAX);
            pack_cstr(&pk, "d"); pack_bin(&pk, z, pad);
            hdr h = good_hdr();
            h.body = (const uint8_t *)body.data;
            h.body_len = body.size;
            r = build_signed(&h, ED_A, &total);
            msgpack_sbuffer_destroy(&body);
            if (total >= PROTO_RECORD_MAX)
                break;
            free(r);
            r = NULL;
        }
        free(z);
        assert_non_null(r);
        assert_int_equal(total, PROTO_RECORD_MAX);
        proto_record pr;
        if (proto_record_decode(r, total, &pr, err, sizeof err))
            fail_msg("a legal record of exactly %u bytes was refused: %s", PROTO_RECORD_MAX, err);
        assert_int_equal(proto_record_verify(&pr, pub_of(ED_A), err, sizeof err), 0);
        /* one more byte (trailing) is over the limit */
        uint8_t *r1 = malloc(total + 1);
        memcpy(r1, r, total);
        r1[total] = 0xc0;
        err[0] = 0;
        assert_int_equal(decode_copy(r1, total + 1, err, sizeof err), -1);
        assert_err_has(err, "limit");
        free(r1);
        free(r);
    }
}

/* ---- wrong types in every header position ---- */

enum wrong { W_NIL, W_BOOL, W_UINT, W_NEG, W_STR, W_BIN32, W_ARRAY, W_MAP, W_FLOAT, W_EXT, NWRONG };

static void pack_wrong(msgpack_packer *pk, msgpack_sbuffer *sb, enum wrong w)
{
    static const uint8_t thirty_two[32] = { 1 };
    switch (w) {
    case W_NIL: msgpack_pack_nil(pk); break;
    case W_BOOL: msgpack_pack_true(pk); break;
    case W_UINT: msgpack_pack_uint64(pk, 1); break;
    case W_NEG: msgpack_pack_int64(pk, -1); break;
    case W_STR: pack_str(pk, "0123456789abcdef0123456789abcdef", 32); break;
    case W_BIN32: pack_bin(pk, thirty_two, 32); break;
    case W_ARRAY: msgpack_pack_array(pk, 1); msgpack_pack_uint64(pk, 1); break;
    case W_MAP: msgpack_pack_map(pk, 0); break;
    case W_FLOAT: msgpack_pack_double(pk, 1.0); break;
    case W_EXT: msgpack_sbuffer_write(sb, "\xd4\x01\x00", 3); break;
    default: break;
    }
}

/* the right type for each of the nine positions */
static const enum wrong right_type[9] = { W_UINT, W_BIN32, W_BIN32, W_STR, W_STR, W_UINT, W_UINT, W_UINT, W_MAP };

/* pack the good header with position `pos` replaced by value `w` */
static void pack_tbs_wrong(msgpack_sbuffer *sb, int pos, enum wrong w)
{
    hdr h = good_hdr();
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 9);
    for (int i = 0; i < 9; i++) {
        if (i == pos) {
            pack_wrong(&pk, sb, w);
            continue;
        }
        switch (i) {
        case 0: msgpack_pack_uint64(&pk, 1); break;
        case 1: pack_bin(&pk, h.alliance.b, 32); break;
        case 2: pack_bin(&pk, h.author.b, 32); break;
        case 3: pack_cstr(&pk, h.kind); break;
        case 4: pack_cstr(&pk, h.key); break;
        case 5: msgpack_pack_uint64(&pk, h.seq); break;
        case 6: msgpack_pack_uint64(&pk, h.time_ms); break;
        case 7: msgpack_pack_uint64(&pk, 0); break;
        case 8: msgpack_pack_map(&pk, 0); break;
        }
    }
}

static void wrong_header_types(void **state)
{
    char err[256];
    uint8_t sig[PROTO_SIG_MAX];
    int refused = 0;
    for (int pos = 0; pos < 9; pos++) {
        for (int w = 0; w < NWRONG; w++) {
            if (w == (int)right_type[pos])
                continue;
            msgpack_sbuffer tbs;
            pack_tbs_wrong(&tbs, pos, (enum wrong)w);
            size_t sl = evp_sign(ids[ED_A].key, tbs.data, tbs.size, sig, sizeof sig);
            size_t len;
            uint8_t *rec = wrap(tbs.data, tbs.size, sig, sl, &len);
            err[0] = 0;
            if (decode_copy(rec, len, err, sizeof err) == 0)
                fail_msg("header position %d with wrong value kind %d decoded", pos, w);
            assert_true(err[0] != 0);
            refused++;
            free(rec);
            msgpack_sbuffer_destroy(&tbs);
        }
    }
    assert_int_equal(refused, 9 * (NWRONG - 1));

    /* control: the same builder with the right types decodes and verifies */
    msgpack_sbuffer tbs;
    pack_tbs_wrong(&tbs, -1, W_NIL);
    size_t sl = evp_sign(ids[ED_A].key, tbs.data, tbs.size, sig, sizeof sig);
    size_t len;
    uint8_t *rec = wrap(tbs.data, tbs.size, sig, sl, &len);
    proto_record r;
    assert_int_equal(proto_record_decode(rec, len, &r, err, sizeof err), 0);
    assert_int_equal(proto_record_verify(&r, pub_of(ED_A), err, sizeof err), 0);
    assert_int_equal(r.seq, 7);
    free(rec);
    msgpack_sbuffer_destroy(&tbs);

    /* ids of the wrong length */
    static const size_t idlens[] = { 0, 31, 33, 64 };
    for (int pos = 1; pos <= 2; pos++) {
        for (size_t k = 0; k < 4; k++) {
            msgpack_sbuffer t;
            msgpack_packer pk;
            hdr h = good_hdr();
            uint8_t idb[64] = { 0 };
            msgpack_sbuffer_init(&t);
            msgpack_packer_init(&pk, &t, msgpack_sbuffer_write);
            msgpack_pack_array(&pk, 9);
            msgpack_pack_uint64(&pk, 1);
            if (pos == 1) pack_bin(&pk, idb, idlens[k]); else pack_bin(&pk, h.alliance.b, 32);
            if (pos == 2) pack_bin(&pk, idb, idlens[k]); else pack_bin(&pk, h.author.b, 32);
            pack_cstr(&pk, "kind");
            pack_cstr(&pk, "key");
            msgpack_pack_uint64(&pk, 1);
            msgpack_pack_uint64(&pk, 1);
            msgpack_pack_uint64(&pk, 0);
            msgpack_pack_map(&pk, 0);
            uint8_t *rr = wrap(t.data, t.size, "sig", 3, &len);
            if (decode_copy(rr, len, err, sizeof err) == 0)
                fail_msg("id of %zu bytes at position %d decoded", idlens[k], pos);
            free(rr);
            msgpack_sbuffer_destroy(&t);
        }
    }
}

static void wrong_shapes(void **state)
{
    char err[256];
    hdr h;
    /* 8 and 10 header fields */
    h = good_hdr();
    h.nfields = 8;
    assert_int_equal(decode_hdr(&h, err, sizeof err), -1);
    h.nfields = 10;
    assert_int_equal(decode_hdr(&h, err, sizeof err), -1);
    h.nfields = 0;
    assert_int_equal(decode_hdr(&h, err, sizeof err), -1);
    /* other formats */
    h = good_hdr();
    h.format = 0;
    assert_int_equal(decode_hdr(&h, err, sizeof err), -1);
    h.format = 2;
    err[0] = 0;
    assert_int_equal(decode_hdr(&h, err, sizeof err), -1);
    assert_err_has(err, "format");
    /* body that is not a map */
    static const uint8_t arr[] = { 0x90 };
    h = good_hdr();
    h.body = arr;
    h.body_len = 1;
    assert_int_equal(decode_hdr(&h, err, sizeof err), -1);
    /* body map key that is not a string, or empty */
    static const uint8_t intkey[] = { 0x81, 0x01, 0x02 };
    static const uint8_t emptykey[] = { 0x81, 0xa0, 0x02 };
    h.body = intkey;
    h.body_len = sizeof intkey;
    assert_int_equal(decode_hdr(&h, err, sizeof err), -1);
    h.body = emptykey;
    h.body_len = sizeof emptykey;
    assert_int_equal(decode_hdr(&h, err, sizeof err), -1);

    /* outer shape: [tbs] / [tbs, sig, x] / {tbs: sig} / [str, bin] / [bin, str] / empty sig / huge sig */
    msgpack_sbuffer tbs, o;
    msgpack_packer pk;
    h = good_hdr();
    pack_tbs(&tbs, &h);
    uint8_t sig[PROTO_SIG_MAX + 1];
    memset(sig, 0x5a, sizeof sig);
    for (int v = 0; v < 8; v++) {
        msgpack_sbuffer_init(&o);
        msgpack_packer_init(&pk, &o, msgpack_sbuffer_write);
        switch (v) {
        case 0: msgpack_pack_array(&pk, 1); pack_bin(&pk, tbs.data, tbs.size); break;
        case 1: msgpack_pack_array(&pk, 3); pack_bin(&pk, tbs.data, tbs.size); pack_bin(&pk, sig, 64);
                msgpack_pack_nil(&pk); break;
        case 2: msgpack_pack_map(&pk, 1); pack_bin(&pk, tbs.data, tbs.size); pack_bin(&pk, sig, 64); break;
        case 3: msgpack_pack_array(&pk, 2); pack_str(&pk, tbs.data, tbs.size); pack_bin(&pk, sig, 64); break;
        case 4: msgpack_pack_array(&pk, 2); pack_bin(&pk, tbs.data, tbs.size); pack_str(&pk, (char *)sig, 64); break;
        case 5: msgpack_pack_array(&pk, 2); pack_bin(&pk, tbs.data, tbs.size); pack_bin(&pk, sig, 0); break;
        case 6: msgpack_pack_array(&pk, 2); pack_bin(&pk, tbs.data, tbs.size); pack_bin(&pk, sig, PROTO_SIG_MAX + 1); break;
        case 7: msgpack_pack_array(&pk, 2); pack_bin(&pk, tbs.data, tbs.size); pack_bin(&pk, sig, PROTO_SIG_MAX); break;
        }
        int rc = decode_copy((const uint8_t *)o.data, o.size, err, sizeof err);
        if (v == 7)
            assert_int_equal(rc, 0);   /* 512 bytes of signature is within the limit */
        else if (rc == 0)
            fail_msg("outer variant %d decoded", v);
        msgpack_sbuffer_destroy(&o);
    }
    msgpack_sbuffer_destroy(&tbs);
    /* nothing at all */
    assert_int_equal(decode_copy((const uint8_t *)"", 0, err, sizeof err), -1);
}

/* ---- strings ---- */

static const char *const bad_utf8[] = {
    "\x80",                 /* lone continuation */
    "a\xc3",                /* truncated 2-byte */
    "\xe3\x81",             /* truncated 3-byte */
    "\xc0\xaf",             /* overlong '/' */
    "\xc1\xbf",             /* overlong */
    "\xe0\x80\xaf",         /* overlong 3-byte */
    "\xf0\x80\x80\xaf",     /* overlong 4-byte */
    "\xed\xa0\x80",         /* surrogate U+D800 */
    "\xed\xbf\xbf",         /* surrogate U+DFFF */
    "\xf4\x90\x80\x80",     /* U+110000 */
    "\xf8\x88\x80\x80\x80", /* 5-byte form */
    "\xff",
    "\xe6\x96\x87\xe4\xba",  /* "文" then truncated */
};

static void utf8_validator(void **state)
{
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++)
        if (proto_utf8_valid(bad_utf8[i], strlen(bad_utf8[i])))
            fail_msg("bad UTF-8 #%zu accepted", i);
    static const char *const good[] = { "", "abc", "文京区", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80",
                                        "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
                                        "\xed\x9f\xbf", "\xee\x80\x80", "😀" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!proto_utf8_valid(good[i], strlen(good[i])))
            fail_msg("good UTF-8 #%zu refused", i);
    /* NUL is refused even though it is valid UTF-8 */
    assert_int_equal(proto_utf8_valid("a\0b", 3), 0);
    /* every sequence of up to three bytes (and each after an ASCII byte)
     * against the definition, decoded the slow way: the validator has a
     * fast path for three-byte sequences */
    for (uint32_t v = 0; v < (1u << 24); v++) {
        unsigned char b[4] = { 'a', (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v };
        for (size_t len = 1; len <= 3; len++) {
            if (len < 3 && (v & ((1u << (8 * (3 - len))) - 1)))
                continue;   /* shorter strings: each once */
            const unsigned char *q = b + 1;
            int want = 1;
            size_t i = 0;
            while (i < len && want) {
                unsigned c = q[i], cp, need;
                if (c == 0) { want = 0; break; }
                if (c < 0x80) { i++; continue; }
                need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
                if (!need || c > 0xf4 || i + need > len) { want = 0; break; }
                cp = c & (0xff >> (need + 1));
                for (size_t k = 1; k < need; k++) {
                    if ((q[i + k] & 0xc0) != 0x80)
                        want = 0;
                    cp = (cp << 6) | (q[i + k] & 0x3f);
                }
                if (cp < (need == 2 ? 0x80u : need == 3 ? 0x800u : 0x10000u) || cp > 0x10ffff ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                    want = 0;
                i += need;
            }
            if (proto_utf8_valid((const char *)q, len) != want ||
                proto_utf8_valid((const char *)b, len + 1) != want)
                fail_msg("UTF-8 of %zu bytes %02x %02x %02x: want %d", len, q[0], q[1], q[2], want);
        }
    }
}

static void invalid_strings(void **state)
{
    char err[256];
    proto_id a = mkid(8);
    uint8_t *rec = NULL;
    size_t len;
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        const char *s = bad_utf8[i];
        size_t sl = strlen(s);
        hdr h;
        /* as the key */
        h = good_hdr();
        h.key = s;
        h.key_len = sl;
        if (decode_hdr(&h, err, sizeof err) == 0)
            fail_msg("key with bad UTF-8 #%zu decoded", i);
        assert_int_equal(proto_record_sign(&a, &ids[ED_A].id, "certification", s, 1, 0, 0, NULL,
                                           ids[ED_A].key, &rec, &len, err, sizeof err), -1);
        /* as a body string value, top level and nested */
        msgpack_sbuffer body;
        msgpack_packer pk;
        for (int where = 0; where < 4; where++) {
            msgpack_sbuffer_init(&body);
            msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
            msgpack_pack_map(&pk, 1);
            if (where == 3) {
                pack_str(&pk, s, sl);          /* as a field name */
                msgpack_pack_uint64(&pk, 1);
            } else {
                pack_cstr(&pk, "f");
                if (where == 0) {
                    pack_str(&pk, s, sl);
                } else if (where == 1) {
                    msgpack_pack_array(&pk, 2);
                    pack_cstr(&pk, "ok");
                    pack_str(&pk, s, sl);
                } else {
                    msgpack_pack_map(&pk, 1);
                    pack_cstr(&pk, "g");
                    pack_str(&pk, s, sl);
                }
            }
            h = good_hdr();
            h.body = (const uint8_t *)body.data;
            h.body_len = body.size;
            if (decode_hdr(&h, err, sizeof err) == 0)
                fail_msg("body with bad UTF-8 #%zu (place %d) decoded", i, where);
            msgpack_sbuffer_destroy(&body);
        }
        /* the body builder refuses it too, and a failed body cannot be signed */
        proto_body *b = proto_body_new();
        assert_int_equal(proto_body_str(b, "f", s), -1);
        assert_int_equal(proto_record_sign(&a, &ids[ED_A].id, "certification", "k", 1, 0, 0, b,
                                           ids[ED_A].key, &rec, &len, err, sizeof err), -1);
        proto_body_free(b);
        b = proto_body_new();
        const char *v[] = { "fine", s };
        assert_int_equal(proto_body_strs(b, "f", v, 2), -1);
        assert_int_equal(proto_record_sign(&a, &ids[ED_A].id, "certification", "k", 1, 0, 0, b,
                                           ids[ED_A].key, &rec, &len, err, sizeof err), -1);
        proto_body_free(b);
    }

    /* keys: NUL inside, control characters, empty, too long; 256 bytes ok */
    hdr h = good_hdr();
    h.key = "a\0b";
    h.key_len = 3;
    assert_int_equal(decode_hdr(&h, err, sizeof err), -1);
    h.key = "a\nb";
    h.key_len = 3;
    assert_int_equal(decode_hdr(&h, err, sizeof err), -1);
    h.key = "\x1f";
    h.key_len = 1;
    assert_int_equal(decode_hdr(&h, err, sizeof err), -1);
    h.key = "";
    h.key_len = 0;
    assert_int_equal(decode_hdr(&h, err, sizeof err), -1);
    assert_int_equal(proto_record_sign(&a, &ids[ED_A].id, "certification", "", 1, 0, 0, NULL,
                                       ids[ED_A].key, &rec, &len, err, sizeof err), -1);
    assert_int_equal(proto_record_sign(&a, &ids[ED_A].id, "certification", "a\tb", 1, 0, 0, NULL,
                                       ids[ED_A].key, &rec, &len, err, sizeof err), -1);
    char k[PROTO_KEY_MAX + 2];
    memset(k, 'k', sizeof k);
    k[PROTO_KEY_MAX + 1] = 0;
    h.key = k;
    h.key_len = PROTO_KEY_MAX + 1;
    assert_int_equal(decode_hdr(&h, err, sizeof err), -1);
    assert_int_equal(proto_record_sign(&a, &ids[ED_A].id, "certification", k, 1, 0, 0, NULL,
                                       ids[ED_A].key, &rec, &len, err, sizeof err), -1);
    h.key_len = PROTO_KEY_MAX;
    assert_int_equal(decode_hdr(&h, err, sizeof err), 0);
    k[PROTO_KEY_MAX] = 0;
    assert_int_equal(proto_record_sign(&a, &ids[ED_A].id, "certification", k, 1, 0, 0, NULL,
                                       ids[ED_A].key, &rec, &len, err, sizeof err), 0);
    proto_record r;
    assert_int_equal(proto_record_decode(rec, len, &r, err, sizeof err), 0);
    assert_int_equal(strlen(r.key), PROTO_KEY_MAX);
    free(rec);

    /* body strings: PROTO_FIELD_MAX ok, one more refused (by hand) */
    char *longs = malloc(PROTO_FIELD_MAX + 2);
    memset(longs, 'x', PROTO_FIELD_MAX + 1);
    longs[PROTO_FIELD_MAX + 1] = 0;
    for (int over = 0; over <= 1; over++) {
        msgpack_sbuffer body;
        msgpack_packer pk;
        msgpack_sbuffer_init(&body);
        msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 1);
        pack_cstr(&pk, "f");
        pack_str(&pk, longs, PROTO_FIELD_MAX + (size_t)over);
        h = good_hdr();
        h.body = (const uint8_t *)body.data;
        h.body_len = body.size;
        assert_int_equal(decode_hdr(&h, err, sizeof err), over ? -1 : 0);
        msgpack_sbuffer_destroy(&body);
    }
    proto_body *b = proto_body_new();
    assert_int_equal(proto_body_str(b, "f", longs), -1);
    proto_body_free(b);
    free(longs);
}

/* ---- the text rule (proto/text.h) ---- */

/* Decode h both ways: strict (what arrives) and as stored (what is read back). */
static void decode_both(const hdr *h, int strict, int stored)
{
    size_t len;
    char err[256];
    proto_record r;
    uint8_t *raw = build_signed(h, ED_A, &len);
    assert_int_equal(proto_record_decode(raw, len, &r, err, sizeof err), strict);
    assert_int_equal(proto_record_decode_stored(raw, len, &r, err, sizeof err), stored);
    assert_int_equal(decode_copy(raw, len, err, sizeof err), strict);   /* and the split */
    free(raw);
}

static void body_with(hdr *h, msgpack_sbuffer *body, const char *field, const char *val)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(body);
    msgpack_packer_init(&pk, body, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    pack_cstr(&pk, field);
    pack_cstr(&pk, val);
    *h = good_hdr();
    h->body = (const uint8_t *)body->data;
    h->body_len = body->size;
}

static void text_rule(void **state)
{
    (void)state;
    hdr h = good_hdr();
    msgpack_sbuffer body;
    /* keys: U+009B (a C1 CSI), DEL, ESC, a bidi override are refused on
     * arrival; an old stored key with a C1 or DEL still reads back */
    h.key = "A\xc2\x9b" "2J";
    decode_both(&h, -1, 0);
    h.key = "A\x7f";
    decode_both(&h, -1, 0);
    h.key = "\xe2\x80\xae" "gpj.exe";   /* U+202E RIGHT-TO-LEFT OVERRIDE */
    decode_both(&h, -1, 0);
    h.key = "A\x1b[2J";
    decode_both(&h, -1, -1);                 /* C0 in keys was refused before too */
    h.key = "文京-2026-001";
    decode_both(&h, 0, 0);

    /* body strings: ESC and C1 refused, \n and \t allowed (free text) */
    body_with(&h, &body, "company", "\x1b[2J\x1b]8;;http://evil/\x1b\\x\x1b]8;;\x1b\\");
    decode_both(&h, -1, 0);
    msgpack_sbuffer_destroy(&body);
    body_with(&h, &body, "company", "A\xc2\x9b" "31m");
    decode_both(&h, -1, 0);
    msgpack_sbuffer_destroy(&body);
    body_with(&h, &body, "company", "A\rB");
    decode_both(&h, -1, 0);
    msgpack_sbuffer_destroy(&body);
    body_with(&h, &body, "summary", "一行目\n二行目\t続き");
    decode_both(&h, 0, 0);
    msgpack_sbuffer_destroy(&body);
    body_with(&h, &body, "na\x1bme", "x");   /* field names: nothing */
    decode_both(&h, -1, 0);
    msgpack_sbuffer_destroy(&body);

    /* writing: proto_body_str and proto_record_sign apply the same rule */
    proto_body *b = proto_body_new();
    assert_int_equal(proto_body_str(b, "summary", "一行目\n二行目"), 0);
    proto_body_free(b);
    b = proto_body_new();
    assert_int_equal(proto_body_str(b, "company", "\x1b[2J"), -1);
    proto_body_free(b);
    b = proto_body_new();
    const char *v[] = { "ok", "\xc2\x9b" };
    assert_int_equal(proto_body_strs(b, "tags", v, 2), -1);
    proto_body_free(b);
    proto_id a = mkid(1);
    uint8_t *rec;
    size_t len;
    char err[256];
    assert_int_equal(proto_record_sign(&a, &ids[ED_A].id, "certification", "A\xc2\x9b", 1, 0, 0, NULL,
                                       ids[ED_A].key, &rec, &len, err, sizeof err), -1);
}

/* ---- body values: floats, ext, depth, item counts ---- */

static void body_floats_ext(void **state)
{
    char err[256];
    static const uint8_t f32[] = { 0xca, 0x3f, 0x80, 0x00, 0x00 };
    static const uint8_t f64[] = { 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0 };
    static const uint8_t inarr[] = { 0x92, 0x01, 0xca, 0, 0, 0, 0 };
    static const uint8_t inmap[] = { 0x81, 0xa1, 'g', 0xcb, 0, 0, 0, 0, 0, 0, 0, 0 };
    static const uint8_t ext1[] = { 0xd4, 0x01, 0x00 };
    static const uint8_t ext8[] = { 0xc7, 0x01, 0x05, 0x00 };
    static const uint8_t invalid[] = { 0xc1 };
    static const struct { const uint8_t *v; size_t n; const char *why; } c[] = {
        { f32, sizeof f32, "floating" }, { f64, sizeof f64, "floating" },
        { inarr, sizeof inarr, "floating" }, { inmap, sizeof inmap, "floating" },
        { ext1, sizeof ext1, "ext" }, { ext8, sizeof ext8, "ext" },
        { invalid, sizeof invalid, "" },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        size_t bl;
        uint8_t *body = body1("f", c[i].v, c[i].n, &bl);
        hdr h = good_hdr();
        h.body = body;
        h.body_len = bl;
        err[0] = 0;
        if (decode_hdr(&h, err, sizeof err) == 0)
            fail_msg("body case %zu decoded", i);
        assert_err_has(err, c[i].why);
        free(body);
    }
    /* nil, bool, negative ints are fine */
    static const uint8_t okv[] = { 0x93, 0xc0, 0xc3, 0xd0, 0x80 };
    size_t bl;
    uint8_t *body = body1("f", okv, sizeof okv, &bl);
    hdr h = good_hdr();
    h.body = body;
    h.body_len = bl;
    assert_int_equal(decode_hdr(&h, err, sizeof err), 0);
    free(body);
}

/* body = { "f": <k nested arrays around 1> }: the body map itself is one
 * level, so the total depth is k + 1. */
static int decode_nested(unsigned k, uint8_t open, char *err, size_t errlen)
{
    uint8_t *v = malloc(k * 3 + 1);
    size_t n = 0;
    for (unsigned i = 0; i < k; i++) {
        v[n++] = open;
        if (open == 0x81) {       /* {"g": ...} */
            v[n++] = 0xa1;
            v[n++] = 'g';
        }
    }
    v[n++] = 0x01;
    size_t bl;
    uint8_t *body = body1("f", v, n, &bl);
    hdr h = good_hdr();
    h.body = body;
    h.body_len = bl;
    int rc = decode_hdr(&h, err, errlen);
    free(body);
    free(v);
    return rc;
}

static void body_depth(void **state)
{
    char err[256];
    const uint8_t opens[] = { 0x91, 0x81 };
    for (int o = 0; o < 2; o++) {
        for (unsigned k = 0; k + 1 <= PROTO_BODY_DEPTH; k++)
            if (decode_nested(k, opens[o], err, sizeof err))
                fail_msg("body of depth %u refused: %s", k + 1, err);
        for (unsigned k = PROTO_BODY_DEPTH; k < PROTO_BODY_DEPTH + 4; k++) {
            err[0] = 0;
            if (decode_nested(k, opens[o], err, sizeof err) == 0)
                fail_msg("body of depth %u decoded (limit %u)", k + 1, PROTO_BODY_DEPTH);
            assert_err_has(err, "deep");
        }
        /* very deep: refused without trouble */
        err[0] = 0;
        assert_int_equal(decode_nested(15000, opens[o], err, sizeof err), -1);
        assert_err_has(err, "deep");
    }

    /* a record at the depth limit still works with the body accessors */
    uint8_t *v = malloc(PROTO_BODY_DEPTH);
    memset(v, 0x91, PROTO_BODY_DEPTH - 1);
    v[PROTO_BODY_DEPTH - 1] = 0x01;
    msgpack_sbuffer body;
    msgpack_packer pk;
    msgpack_sbuffer_init(&body);
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pack_cstr(&pk, "deep");
    msgpack_sbuffer_write(&body, (const char *)v, PROTO_BODY_DEPTH);
    pack_cstr(&pk, "after");
    msgpack_pack_int64(&pk, -9);
    free(v);
    hdr h = good_hdr();
    h.body = (const uint8_t *)body.data;
    h.body_len = body.size;
    size_t len;
    uint8_t *rec = build_signed(&h, ED_A, &len);
    proto_record r;
    assert_int_equal(proto_record_decode(rec, len, &r, err, sizeof err), 0);
    int64_t iv;
    assert_int_equal(proto_body_get_int(&r, "after", &iv), 0);
    assert_int_equal(iv, -9);
    struct seen seen = { 0 };
    assert_int_equal(proto_body_foreach(&r, collect, &seen), 0);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.text[1], "-9");
    free(rec);
    msgpack_sbuffer_destroy(&body);
}

static void body_items(void **state)
{
    char err[256];
    for (int over = 0; over <= 1; over++) {
        msgpack_sbuffer body;
        msgpack_packer pk;
        msgpack_sbuffer_init(&body);
        msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2);
        pack_cstr(&pk, "arr");
        msgpack_pack_array(&pk, PROTO_BODY_ITEMS + (unsigned)over);
        for (unsigned i = 0; i < PROTO_BODY_ITEMS + (unsigned)over; i++)
            msgpack_pack_uint64(&pk, i);
        pack_cstr(&pk, "x");
        msgpack_pack_nil(&pk);
        hdr h = good_hdr();
        h.body = (const uint8_t *)body.data;
        h.body_len = body.size;
        err[0] = 0;
        assert_int_equal(decode_hdr(&h, err, sizeof err), over ? -1 : 0);
        if (over)
            assert_err_has(err, "items");
        msgpack_sbuffer_destroy(&body);
    }
    /* body builder: at most PROTO_BODY_ITEMS fields */
    proto_body *b = proto_body_new();
    for (unsigned i = 0; i < PROTO_BODY_ITEMS; i++) {
        char f[16];
        snprintf(f, sizeof f, "f%u", i);
        assert_int_equal(proto_body_int(b, f, i), 0);
    }
    assert_int_equal(proto_body_int(b, "one_more", 1), -1);
    proto_body_free(b);
}

/* A dry body (a check's: catalog_check) refuses every value a real body
 * refuses, at the same call, and a real body of the same calls is what
 * proto_body_str_checked builds too; a dry body is never encoded or signed. */
static void body_dry_refuses_as_a_body_does(void **state)
{
    static char big[PROTO_FIELD_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    const char *vals[] = { "ok", "tab\there", "nl\nhere", "c1 \xc2\x85", "bidi \xe2\x80\xae", "bad \xff", big,
                           "日本語" };
    for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++) {
        proto_body *real = proto_body_new(), *dry = proto_body_new_dry();
        assert_non_null(real);
        assert_non_null(dry);
        int r = proto_body_str(real, "f", vals[v]);
        assert_int_equal(proto_body_str(dry, "f", vals[v]), r);
        /* after a refusal both refuse everything, after success both go on */
        assert_int_equal(proto_body_int(dry, "n", 1), proto_body_int(real, "n", 1));
        const char *items[] = { vals[v], "x" };
        assert_int_equal(proto_body_strs(dry, "l", items, 2), proto_body_strs(real, "l", items, 2));
        assert_int_equal(proto_body_str(dry, "bad\x01name", "x"), proto_body_str(real, "bad\x01name", "x"));
        uint8_t *enc;
        size_t el;
        assert_int_equal(proto_body_encode(dry, &enc, &el), -1);
        assert_null(enc);
        proto_body_free(real);
        proto_body_free(dry);
    }
    /* the field count: PROTO_BODY_ITEMS, then refused */
    proto_body *dry = proto_body_new_dry();
    for (unsigned i = 0; i < PROTO_BODY_ITEMS; i++) {
        char f[16];
        snprintf(f, sizeof f, "f%u", i);
        assert_int_equal(proto_body_str(dry, f, "v"), 0);
    }
    assert_int_equal(proto_body_str(dry, "one_more", "v"), -1);
    proto_body_free(dry);
    /* proto_body_str_checked: the same bytes as proto_body_str for text that
     * passes the rule, and the same limits on length and field names */
    proto_body *a = proto_body_new(), *b = proto_body_new();
    assert_int_equal(proto_body_str(a, "t", "改行\nあり"), 0);
    assert_int_equal(proto_body_str_checked(b, "t", "改行\nあり"), 0);
    assert_int_equal(proto_body_str_checked(b, "u", big), -1);
    assert_int_equal(proto_body_str(a, "u", big), -1);
    uint8_t *ea, *eb;
    size_t la, lb;
    proto_body_free(a);
    proto_body_free(b);
    a = proto_body_new();
    b = proto_body_new();
    proto_body_str(a, "t", "改行\nあり");
    proto_body_str_checked(b, "t", "改行\nあり");
    assert_int_equal(proto_body_encode(a, &ea, &la), 0);
    assert_int_equal(proto_body_encode(b, &eb, &lb), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(ea, eb, la);
    assert_int_equal(proto_body_str_checked(b, "bad\x01name", "x"), -1);
    free(ea);
    free(eb);
    proto_body_free(a);
    proto_body_free(b);
}

/* ---- kinds, seq, flags ---- */

static void bad_kinds(void **state)
{
    char err[256];
    proto_id a = mkid(10);
    uint8_t *rec = NULL;
    size_t len;
    char k33[PROTO_KIND_MAX + 2], k32[PROTO_KIND_MAX + 1];
    memset(k33, 'a', PROTO_KIND_MAX + 1);
    k33[PROTO_KIND_MAX + 1] = 0;
    memset(k32, 'z', PROTO_KIND_MAX);
    k32[PROTO_KIND_MAX] = 0;
    const char *bad[] = { "", "Member", "member-x", "member1", "mem ber", "メンバー", "member\n",
                          "MEMBER", "a.b", k33 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(proto_kind_valid(bad[i]));
        err[0] = 0;
        assert_int_equal(proto_record_sign(&a, &ids[ED_A].id, bad[i], "k", 1, 0, 0, NULL,
                                           ids[ED_A].key, &rec, &len, err, sizeof err), -1);
        assert_err_has(err, "kind");
        hdr h = good_hdr();
        h.kind = bad[i];
        h.kind_len = strlen(bad[i]);
        if (decode_hdr(&h, err, sizeof err) == 0)
            fail_msg("kind \"%s\" decoded", bad[i]);
    }
    /* NUL inside the kind (the C string would read "cert") */
    hdr h = good_hdr();
    h.kind = "cert\0x";
    h.kind_len = 6;
    assert_int_equal(decode_hdr(&h, err, sizeof err), -1);

    const char *good[] = { "a", "_", "certification", "member", "some_kind", k32 };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_true(proto_kind_valid(good[i]));
        h = good_hdr();
        h.kind = good[i];
        h.kind_len = 0;
        assert_int_equal(decode_hdr(&h, err, sizeof err), 0);
        assert_int_equal(proto_record_sign(&a, &ids[ED_A].id, good[i], "k", 1, 0, 0, NULL,
                                           ids[ED_A].key, &rec, &len, err, sizeof err), 0);
        proto_record r;
        assert_int_equal(proto_record_decode(rec, len, &r, err, sizeof err), 0);
        assert_string_equal(r.kind, good[i]);
        free(rec);
    }
}

static void seq_and_flags(void **state)
{
    char err[256];
    proto_id a = mkid(11);
    uint8_t *rec = NULL;
    size_t len;
    hdr h;
    /* seq 0 */
    err[0] = 0;
    assert_int_equal(proto_record_sign(&a, &ids[ED_A].id, "policy", "k", 0, 0, 0, NULL,
                                       ids[ED_A].key, &rec, &len, err, sizeof err), -1);
    assert_err_has(err, "seq");
    h = good_hdr();
    h.seq = 0;
    err[0] = 0;
    assert_int_equal(decode_hdr(&h, err, sizeof err), -1);
    assert_err_has(err, "seq");
    /* the largest seq and time */
    h = good_hdr();
    h.seq = UINT64_MAX;
    h.time_ms = UINT64_MAX;
    size_t l;
    uint8_t *raw = build_signed(&h, ED_A, &l);
    proto_record r;
    assert_int_equal(proto_record_decode(raw, l, &r, err, sizeof err), 0);
    assert_true(r.seq == UINT64_MAX && r.time_ms == UINT64_MAX);
    free(raw);

    /* unknown flags: refused by the decoder, including bits above 32 that a
     * 32-bit flags field would silently drop */
    static const uint64_t badf[] = { 2, 3, 0x80, 0x80000000u, 0x100000000ull, 0x100000001ull, UINT64_MAX };
    for (size_t i = 0; i < sizeof badf / sizeof badf[0]; i++) {
        h = good_hdr();
        h.flags = badf[i];
        err[0] = 0;
        if (decode_hdr(&h, err, sizeof err) == 0)
            fail_msg("flags 0x%llx decoded", (unsigned long long)badf[i]);
        assert_err_has(err, "flag");
    }
    h = good_hdr();
    h.flags = PROTO_FLAG_TOMBSTONE;
    raw = build_signed(&h, ED_A, &l);
    assert_int_equal(proto_record_decode(raw, l, &r, err, sizeof err), 0);
    assert_int_equal(r.flags, PROTO_FLAG_TOMBSTONE);
    free(raw);

    /* the encoder never makes a record the decoder refuses: unknown flags
     * are refused at signing time (or at the latest decode of the result) */
    for (size_t i = 0; i < 4; i++) {   /* the ones that fit 32 bits */
        uint32_t f = (uint32_t)badf[i];
        rec = NULL;
        if (proto_record_sign(&a, &ids[ED_A].id, "policy", "k", 1, 0, f, NULL,
                              ids[ED_A].key, &rec, &len, err, sizeof err) == 0) {
            int rc = proto_record_decode(rec, len, &r, err, sizeof err);
            free(rec);
            if (rc == 0)
                fail_msg("flags 0x%x round-tripped", f);
            fail_msg("proto_record_sign made a record with flags 0x%x that decode refuses", f);
        }
    }
}

/* ---- ids ---- */

static void id_strings(void **state)
{
    char s[PROTO_ID_STR], sh[10];
    proto_id id, back;

    /* known vectors (RFC 4648 base32, computed independently) */
    for (size_t i = 0; i < 32; i++)
        id.b[i] = (uint8_t)i;
    proto_id_str(&id, s);
    assert_string_equal(s, "AAAQ-EAYE-AUDA-OCAJ-BIFQ-YDIO-B4IB-CEQT-CQKR-MFYY-DENB-WHA5-DYPQ");
    proto_id_short(&id, sh);
    assert_string_equal(sh, "AAAQ-EAYE");
    memset(id.b, 0xff, 32);
    proto_id_str(&id, s);
    assert_string_equal(s, "7777-7777-7777-7777-7777-7777-7777-7777-7777-7777-7777-7777-777Q");
    memset(id.b, 0, 32);
    id.b[0] = 0x80;
    proto_id_str(&id, s);
    assert_string_equal(s, "QAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA");
    assert_int_equal(strlen(s), PROTO_ID_STR - 1);
    memset(id.b, 0, 32);
    id.b[31] = 1;
    proto_id_str(&id, s);
    assert_string_equal(s, "AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAQ");
    assert_int_equal(proto_id_parse(s, &back), 0);
    assert_memory_equal(back.b, id.b, 32);

    /* round trips over many ids, in every accepted spelling */
    for (unsigned t = 0; t < 500; t++) {
        for (size_t i = 0; i < 32; i++)
            id.b[i] = (uint8_t)((t * 2654435761u >> (i % 24)) ^ (i * 37) ^ t);
        proto_id_str(&id, s);
        assert_int_equal(strlen(s), 64);
        for (size_t i = 0; i < 64; i++) {
            if (i % 5 == 4)
                assert_int_equal(s[i], '-');
            else
                assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", s[i]));
        }
        memset(&back, 0, sizeof back);
        assert_int_equal(proto_id_parse(s, &back), 0);
        assert_memory_equal(back.b, id.b, 32);
        /* lowercase */
        char lo[PROTO_ID_STR];
        for (size_t i = 0; i < sizeof lo; i++)
            lo[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
        memset(&back, 0, sizeof back);
        assert_int_equal(proto_id_parse(lo, &back), 0);
        assert_memory_equal(back.b, id.b, 32);
        /* without dashes, and with spaces instead */
        char nd[64], sp[PROTO_ID_STR];
        size_t o = 0;
        for (size_t i = 0; s[i]; i++)
            if (s[i] != '-')
                nd[o++] = s[i];
        nd[o] = 0;
        assert_int_equal(o, 52);
        memset(&back, 0, sizeof back);
        assert_int_equal(proto_id_parse(nd, &back), 0);
        assert_memory_equal(back.b, id.b, 32);
        for (size_t i = 0; i < sizeof sp; i++)
            sp[i] = s[i] == '-' ? ' ' : s[i];
        memset(&back, 0, sizeof back);
        assert_int_equal(proto_id_parse(sp, &back), 0);
        assert_memory_equal(back.b, id.b, 32);
        /* short form is the start of the long one */
        proto_id_short(&id, sh);
        assert_memory_equal(sh, s, 9);
        assert_int_equal(sh[9], 0);
    }
}

static void id_parse_refuses(void **state)
{
    proto_id id;
    const char *ok = "AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQTCQKRMFYYDENBWHA5DYPQ";
    assert_int_equal(proto_id_parse(ok, &id), 0);
    char buf[80];
    /* 51 and 53 characters, and empty */
    memcpy(buf, ok, 51);
    buf[51] = 0;
    assert_int_equal(proto_id_parse(buf, &id), -1);
    snprintf(buf, sizeof buf, "%sA", ok);
    assert_int_equal(proto_id_parse(buf, &id), -1);
    snprintf(buf, sizeof buf, "A%s", ok);
    assert_int_equal(proto_id_parse(buf, &id), -1);
    assert_int_equal(proto_id_parse("", &id), -1);
    assert_int_equal(proto_id_parse("----", &id), -1);
    /* every character outside the alphabet, in every position class */
    const char *badc = "01890=_.+/!@#\t\n\xc3\xa9";
    for (const char *c = badc; *c; c++) {
        for (size_t pos = 0; pos < 52; pos += 17) {
            strcpy(buf, ok);
            buf[pos] = *c;
            if (proto_id_parse(buf, &id) == 0)
                fail_msg("id with 0x%02x at %zu parsed", (unsigned char)*c, pos);
        }
    }
    /* the last character carries one bit: the other four must be zero */
    strcpy(buf, ok);
    for (const char *c = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"; *c; c++) {
        buf[51] = *c;
        int want = (*c == 'A' || *c == 'Q') ? 0 : -1;   /* 00000 and 10000 */
        if (proto_id_parse(buf, &id) != want)
            fail_msg("last character %c: expected %d", *c, want);
    }
    /* hex helpers */
    uint8_t b[4];
    char hx[9];
    assert_int_equal(proto_unhex("00ff7Fa0", b, 4), 0);
    assert_memory_equal(b, "\x00\xff\x7f\xa0", 4);
    proto_hex(b, 4, hx);
    assert_string_equal(hx, "00ff7fa0");
    assert_int_equal(proto_unhex("00ff7fa", b, 4), -1);
    assert_int_equal(proto_unhex("00ff7fa0a", b, 4), -1);
    assert_int_equal(proto_unhex("00ff7fg0", b, 4), -1);
    assert_int_equal(proto_unhex("00ff7f 0", b, 4), -1);
    /* zero id */
    memset(&id, 0, sizeof id);
    assert_true(proto_id_is_zero(&id));
    id.b[31] = 1;
    assert_false(proto_id_is_zero(&id));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(foreach_stops),
        cmocka_unit_test(verify_matrix),
        cmocka_unit_test(flipped_bytes),
        cmocka_unit_test(ecdsa_high_s_refused),
        cmocka_unit_test(truncated_and_trailing),
        cmocka_unit_test(size_limits),
        cmocka_unit_test(wrong_header_types),
        cmocka_unit_test(wrong_shapes),
        cmocka_unit_test(utf8_validator),
        cmocka_unit_test(text_rule),
        cmocka_unit_test(invalid_strings),
        cmocka_unit_test(body_floats_ext),
        cmocka_unit_test(body_depth),
        cmocka_unit_test(body_items),
        cmocka_unit_test(body_dry_refuses_as_a_body_does),
        cmocka_unit_test(bad_kinds),
        cmocka_unit_test(seq_and_flags),
        cmocka_unit_test(id_strings),
        cmocka_unit_test(id_parse_refuses),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
