/* proto/record.c — signed records; see record.h for the format. */
#include "proto/record.h"
#include "proto/mp.h"
#include "proto/text.h"
#include "proto/util.h"

#include <msgpack.h>
#include <openssl/sha.h>
#include <openssl/err.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <stdlib.h>
#include <string.h>

#define RECORD_FORMAT 1

struct proto_body {
    msgpack_sbuffer buf;   /* packed key/value pairs, without the map header */
    msgpack_packer pk;
    uint32_t n;
    int failed;
    int dry;               /* proto_body_new_dry: the bytes are not kept */
};

proto_body *proto_body_new(void)
{
    proto_body *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    msgpack_sbuffer_init(&b->buf);
    msgpack_packer_init(&b->pk, &b->buf, msgpack_sbuffer_write);
    return b;
}

/* The packer's sink of a dry body: every byte is taken and dropped. */
static int discard(void *data, const char *buf, size_t len)
{
    return 0;
}

proto_body *proto_body_new_dry(void)
{
    proto_body *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    msgpack_sbuffer_init(&b->buf);
    msgpack_packer_init(&b->pk, NULL, discard);
    b->dry = 1;
    return b;
}

void proto_body_free(proto_body *b)
{
    if (!b)
        return;
    msgpack_sbuffer_destroy(&b->buf);
    free(b);
}

static int pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

static int body_field(proto_body *b, const char *field)
{
    if (b->failed || b->n >= PROTO_BODY_ITEMS || !field || strlen(field) > 64 ||
        proto_text_check(field, strlen(field), 0, NULL)) {
        b->failed = 1;
        return -1;
    }
    b->n++;
    return pack_str(&b->pk, field, strlen(field)) ? (b->failed = 1, -1) : 0;
}

int proto_body_str(proto_body *b, const char *field, const char *val)
{
    size_t n = strlen(val);
    if (n > PROTO_FIELD_MAX || proto_text_check(val, n, PROTO_TEXT_NL, NULL) || body_field(b, field))
        return b->failed = 1, -1;
    return pack_str(&b->pk, val, n) ? (b->failed = 1, -1) : 0;
}

int proto_body_str_checked(proto_body *b, const char *field, const char *val)
{
    size_t n = strlen(val);
    if (n > PROTO_FIELD_MAX || body_field(b, field))
        return b->failed = 1, -1;
    return pack_str(&b->pk, val, n) ? (b->failed = 1, -1) : 0;
}

int proto_body_bin(proto_body *b, const char *field, const void *val, size_t len)
{
    if (len > PROTO_FIELD_MAX || body_field(b, field))
        return b->failed = 1, -1;
    if (msgpack_pack_bin(&b->pk, len) || msgpack_pack_bin_body(&b->pk, val, len))
        return b->failed = 1, -1;
    return 0;
}

int proto_body_int(proto_body *b, const char *field, int64_t val)
{
    if (body_field(b, field))
        return -1;
    return msgpack_pack_int64(&b->pk, val) ? (b->failed = 1, -1) : 0;
}

int proto_body_strs(proto_body *b, const char *field, const char *const *vals, size_t n)
{
    if (n > PROTO_BODY_ITEMS || body_field(b, field))
        return b->failed = 1, -1;
    if (msgpack_pack_array(&b->pk, n))
        return b->failed = 1, -1;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(vals[i]);
        if (l > PROTO_FIELD_MAX || proto_text_check(vals[i], l, PROTO_TEXT_NL, NULL) ||
            pack_str(&b->pk, vals[i], l))
            return b->failed = 1, -1;
    }
    return 0;
}

int proto_body_encode(const proto_body *b, uint8_t **out, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    *out = NULL;
    *len = 0;
    if (b && (b->failed || b->dry))
        return -1;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, b ? b->n : 0) ||
        (b && b->buf.size && msgpack_sbuffer_write(&sb, b->buf.data, b->buf.size))) {
        msgpack_sbuffer_destroy(&sb);
        return -1;
    }
    *out = (uint8_t *)sb.data;   /* msgpack_sbuffer's data is malloc'd */
    *len = sb.size;
    return 0;
}

void proto_record_hash(const uint8_t *buf, size_t len, proto_id *out)
{
    proto_sha256(buf, len, out->b);
}

int proto_kind_valid(const char *kind)
{
    size_t n = strlen(kind);
    if (n == 0 || n > PROTO_KIND_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((kind[i] >= 'a' && kind[i] <= 'z') || kind[i] == '_'))
            return 0;
    return 1;
}

/* Keys are shown in every listing and log line: no control characters (C0,
 * DEL, C1) and no bidi controls (proto/text.h says why).  `text_rule` 0
 * takes only the rules keys had before (no C0, no NUL), for records a node
 * stored before the text rule. */
static int key_valid(const char *key, size_t n, int text_rule)
{
    if (n == 0 || n > PROTO_KEY_MAX || !proto_utf8_valid(key, n))
        return 0;
    if (text_rule)
        return proto_text_check(key, n, 0, NULL) == 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] < 0x20)
            return 0;
    return 1;
}

/* EVP one-shot signing: Ed25519 signs the message itself, the others hash
 * it with SHA-256 first. */
static const EVP_MD *md_for(EVP_PKEY *k)
{
    return EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
}

/* ECDSA signatures are malleable: (r, s) and (r, n - s) both verify, so
 * anyone could turn a record into a second valid one with the same
 * (author, seq) — false equivocation evidence (DESIGN §3).  EC signatures
 * are therefore made and accepted only in the "low S" form, s <= n/2.
 * Check `sig` (out == NULL: 0 if low S, -1 otherwise), or write its low-S
 * form into out (up to *outlen bytes; *outlen gets the length). */
static int ec_low_s(EVP_PKEY *k, const uint8_t *sig, size_t len, uint8_t *out, size_t *outlen)
{
    const uint8_t *p = sig;
    const BIGNUM *r, *s;
    BIGNUM *order = NULL, *half = NULL, *r2 = NULL, *s2 = NULL;
    ECDSA_SIG *es = NULL;
    int rc = -1, n;
    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC)
        goto keep;
    es = d2i_ECDSA_SIG(NULL, &p, (long)len);
    if (!es || p != sig + len || !EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_ORDER, &order) ||
        !(half = BN_new()) || !BN_rshift1(half, order))
        goto out;
    ECDSA_SIG_get0(es, &r, &s);
    if (BN_cmp(s, half) <= 0)
        goto keep;
    if (!out || !(r2 = BN_dup(r)) || !(s2 = BN_new()) || !BN_sub(s2, order, s) ||
        !ECDSA_SIG_set0(es, r2, s2))
        goto out;
    r2 = s2 = NULL;   /* owned by es now */
    uint8_t *q = out;
    if ((n = i2d_ECDSA_SIG(es, NULL)) <= 0 || (size_t)n > *outlen || i2d_ECDSA_SIG(es, &q) != n)
        goto out;
    *outlen = (size_t)n;
    rc = 0;
    goto out;
keep:
    if (out && len > *outlen)
        goto out;
    if (out) {
        memmove(out, sig, len);
        *outlen = len;
    }
    rc = 0;
out:
    BN_free(r2);
    BN_free(s2);
    BN_free(order);
    BN_free(half);
    ECDSA_SIG_free(es);
    return rc;
}

int proto_record_sign(const proto_id *alliance, const proto_id *author,
                      const char *kind, const char *key, uint64_t seq,
                      uint64_t time_ms, uint32_t flags, const proto_body *body,
                      EVP_PKEY *priv, uint8_t **out, size_t *out_len,
                      char *err, size_t errlen)
{
    if (!proto_kind_valid(kind))
        return proto_err(err, errlen, "invalid record kind '%s' (lowercase letters and _, at most %u)",
                         kind, PROTO_KIND_MAX);
    if (!key_valid(key, strlen(key), 1))
        return proto_err(err, errlen, "invalid record key (1..%u bytes of UTF-8 text without control "
                         "or bidi characters)", PROTO_KEY_MAX);
    if (body && (body->failed || body->dry))
        return proto_err(err, errlen, "record body has an invalid or oversized field");
    if (seq == 0)
        return proto_err(err, errlen, "record seq starts at 1");
    if (flags & ~PROTO_FLAG_TOMBSTONE)
        return proto_err(err, errlen, "record has unknown flags 0x%x", (unsigned)flags);

    msgpack_sbuffer tbs, rec;
    msgpack_packer pk;
    msgpack_sbuffer_init(&tbs);
    msgpack_packer_init(&pk, &tbs, msgpack_sbuffer_write);
    int bad = msgpack_pack_array(&pk, 9) ||
              msgpack_pack_uint32(&pk, RECORD_FORMAT) ||
              msgpack_pack_bin(&pk, PROTO_ID_LEN) || msgpack_pack_bin_body(&pk, alliance->b, PROTO_ID_LEN) ||
              msgpack_pack_bin(&pk, PROTO_ID_LEN) || msgpack_pack_bin_body(&pk, author->b, PROTO_ID_LEN) ||
              pack_str(&pk, kind, strlen(kind)) ||
              pack_str(&pk, key, strlen(key)) ||
              msgpack_pack_uint64(&pk, seq) ||
              msgpack_pack_uint64(&pk, time_ms) ||
              msgpack_pack_uint32(&pk, flags) ||
              msgpack_pack_map(&pk, body ? body->n : 0) ||
              (body && body->buf.size && msgpack_sbuffer_write(&tbs, body->buf.data, body->buf.size));
    if (bad) {
        msgpack_sbuffer_destroy(&tbs);
        return proto_err(err, errlen, "out of memory encoding record");
    }

    uint8_t sig[PROTO_SIG_MAX];
    size_t siglen = sizeof sig, siglen_fixed = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestSignInit(ctx, NULL, md_for(priv), NULL, priv) != 1 ||
        EVP_DigestSign(ctx, sig, &siglen, (const uint8_t *)tbs.data, tbs.size) != 1 ||
        ec_low_s(priv, sig, siglen, sig, &siglen_fixed)) {
        EVP_MD_CTX_free(ctx);
        msgpack_sbuffer_destroy(&tbs);
        ERR_clear_error();
        return proto_err(err, errlen, "signing failed");
    }
    EVP_MD_CTX_free(ctx);
    siglen = siglen_fixed;

    msgpack_sbuffer_init(&rec);
    msgpack_packer_init(&pk, &rec, msgpack_sbuffer_write);
    bad = msgpack_pack_array(&pk, 2) ||
          msgpack_pack_bin(&pk, tbs.size) || msgpack_pack_bin_body(&pk, tbs.data, tbs.size) ||
          msgpack_pack_bin(&pk, siglen) || msgpack_pack_bin_body(&pk, sig, siglen);
    msgpack_sbuffer_destroy(&tbs);
    if (bad) {
        msgpack_sbuffer_destroy(&rec);
        return proto_err(err, errlen, "out of memory encoding record");
    }
    if (rec.size > PROTO_RECORD_MAX) {
        msgpack_sbuffer_destroy(&rec);
        return proto_err(err, errlen, "record is %zu bytes, over the %u byte limit",
                         rec.size, PROTO_RECORD_MAX);
    }
    *out_len = rec.size;
    *out = (uint8_t *)msgpack_sbuffer_release(&rec);
    return 0;
}

/* Validate a body value: strings are UTF-8 and bounded, nesting is bounded,
 * no floats or ext types.  Map keys are short strings.  With text_rule,
 * strings hold no control or bidi characters except \n and \t (which free
 * text needs; the catalog's schema allows them only in its long text
 * fields), field names none at all. */
static int check_value(proto_rd *r, unsigned depth, int text_rule, const char **why)
{
    uint32_t n;
    const char *s;
    const uint8_t *b;
    switch (proto_rd_peek(r)) {
    case PROTO_MP_STR:
        if (proto_rd_str(r, &s, &n))
            return -1;
        if (n > PROTO_FIELD_MAX) { *why = "body string too long"; return -1; }
        if (text_rule) {
            /* proto_text_check validates the UTF-8 itself: one pass, not two */
            int32_t bad;
            if (proto_text_check(s, n, PROTO_TEXT_NL, &bad)) {
                *why = bad < 0 ? "body string is not valid UTF-8" : "body string has a control or bidi character";
                return -1;
            }
        } else if (!proto_utf8_valid(s, n)) {
            *why = "body string is not valid UTF-8";
            return -1;
        }
        return 0;
    case PROTO_MP_BIN:
        if (proto_rd_bin(r, &b, &n))
            return -1;
        if (n > PROTO_FIELD_MAX) { *why = "body binary field too long"; return -1; }
        return 0;
    case PROTO_MP_ARRAY:
    case PROTO_MP_MAP: {
        int map = proto_rd_peek(r) == PROTO_MP_MAP;
        if (depth == 0) { *why = "body nested too deeply"; return -1; }
        if (map ? proto_rd_map(r, &n) : proto_rd_array(r, &n))
            return -1;
        if (n > PROTO_BODY_ITEMS) { *why = "body has too many items"; return -1; }
        struct { const char *p; uint32_t len; } names[PROTO_BODY_ITEMS];
        for (uint32_t i = 0; i < n; i++) {
            if (map) {
                const char *k;
                uint32_t kl;
                if (proto_rd_str(r, &k, &kl))
                    return -1;
                if (kl == 0 || kl > 64 ||
                    (text_rule ? proto_text_check(k, kl, 0, NULL) != 0 : !proto_utf8_valid(k, kl))) {
                    *why = "body field name invalid";
                    return -1;
                }
                /* a field named twice would read differently to different code */
                for (uint32_t j = 0; j < i; j++)
                    if (names[j].len == kl && !memcmp(names[j].p, k, kl)) {
                        *why = "body field named twice";
                        return -1;
                    }
                names[i].p = k;
                names[i].len = kl;
            }
            if (check_value(r, depth - 1, text_rule, why))
                return -1;
        }
        return 0;
    }
    case PROTO_MP_FLOAT: *why = "floating point values are not allowed"; return -1;
    case PROTO_MP_EXT: *why = "msgpack ext types are not allowed"; return -1;
    default:
        return proto_rd_skip(r, 0);   /* nil, bool, int; fails on garbage */
    }
}

/* body: 1 to check the body's contents; 0 to take the rest of the signed
 * part as the body unchecked (proto_record_decode_header). */
static int record_decode(const uint8_t *buf, size_t len, proto_record *rec, int text_rule, int body,
                         char *err, size_t errlen)
{
    memset(rec, 0, sizeof *rec);
    if (len > PROTO_RECORD_MAX)
        return proto_err(err, errlen, "record of %zu bytes exceeds the %u byte limit", len, PROTO_RECORD_MAX);
    proto_rd r, t;
    uint32_t n, tl, sl;
    const uint8_t *tbs, *sig;
    proto_rd_init(&r, buf, len);
    if (proto_rd_array(&r, &n) || n != 2)
        return proto_err(err, errlen, "record: %s", r.err ? r.err : "expected [tbs, sig]");
    if (proto_rd_bin(&r, &tbs, &tl) || proto_rd_bin(&r, &sig, &sl))
        return proto_err(err, errlen, "record: %s", r.err);
    if (!proto_rd_done(&r))
        return proto_err(err, errlen, "record: trailing bytes after signature");
    if (sl == 0 || sl > PROTO_SIG_MAX)
        return proto_err(err, errlen, "record: signature length %u invalid", sl);

    uint64_t fmt, flags;
    const char *kind, *key;
    uint32_t kl, kyl;
    proto_rd_init(&t, tbs, tl);
    if (proto_rd_array(&t, &n) || n != 9)
        return proto_err(err, errlen, "record header: %s", t.err ? t.err : "expected 9 fields");
    if (proto_rd_uint(&t, &fmt) || fmt != RECORD_FORMAT)
        return proto_err(err, errlen, "record header: %s", t.err ? t.err : "unknown record format");
    proto_rd_binfix(&t, rec->alliance.b, PROTO_ID_LEN);
    proto_rd_binfix(&t, rec->author.b, PROTO_ID_LEN);
    proto_rd_str(&t, &kind, &kl);
    proto_rd_str(&t, &key, &kyl);
    proto_rd_uint(&t, &rec->seq);
    proto_rd_uint(&t, &rec->time_ms);
    proto_rd_uint(&t, &flags);
    if (t.err)
        return proto_err(err, errlen, "record header: %s", t.err);
    if (kl == 0 || kl > PROTO_KIND_MAX)
        return proto_err(err, errlen, "record kind has invalid length %u", kl);
    memcpy(rec->kind, kind, kl);
    rec->kind[kl] = 0;
    if (!proto_kind_valid(rec->kind) || strlen(rec->kind) != kl)
        return proto_err(err, errlen, "record kind is not lowercase letters and _");
    if (!key_valid(key, kyl, text_rule))
        return proto_err(err, errlen, "record key invalid (1..%u bytes of UTF-8 text without control "
                         "or bidi characters)", PROTO_KEY_MAX);
    memcpy(rec->key, key, kyl);
    rec->key[kyl] = 0;
    if (rec->seq == 0)
        return proto_err(err, errlen, "record seq 0 is invalid");
    if (flags & ~(uint64_t)PROTO_FLAG_TOMBSTONE)
        return proto_err(err, errlen, "record has unknown flags 0x%llx", (unsigned long long)flags);
    rec->flags = (uint32_t)flags;

    const uint8_t *bstart = t.p;
    const char *why = NULL;
    if (proto_rd_peek(&t) != PROTO_MP_MAP)
        return proto_err(err, errlen, "record body is not a map");
    if (!body)
        t.p = tbs + tl;   /* proto_record_check_text checks it, to the end */
    else if (check_value(&t, PROTO_BODY_DEPTH, text_rule, &why))
        return proto_err(err, errlen, "record body: %s", why ? why : t.err);
    if (!proto_rd_done(&t))
        return proto_err(err, errlen, "record header: trailing bytes after body");
    rec->raw = buf;
    rec->raw_len = len;
    rec->tbs = tbs;
    rec->tbs_len = tl;
    rec->sig = sig;
    rec->sig_len = sl;
    rec->body = bstart;
    rec->body_len = (size_t)(t.p - bstart);
    rec->text_checked = body && text_rule;
    return 0;
}

int proto_record_decode(const uint8_t *buf, size_t len, proto_record *rec,
                        char *err, size_t errlen)
{
    return record_decode(buf, len, rec, 1, 1, err, errlen);
}

int proto_record_decode_stored(const uint8_t *buf, size_t len, proto_record *rec,
                               char *err, size_t errlen)
{
    return record_decode(buf, len, rec, 0, 1, err, errlen);
}

int proto_record_decode_header(const uint8_t *buf, size_t len, proto_record *rec,
                               char *err, size_t errlen)
{
    return record_decode(buf, len, rec, 0, 0, err, errlen);
}

int proto_record_check_text(proto_record *r, char *err, size_t errlen)
{
    proto_rd t;
    const char *why = NULL;
    r->text_checked = 0;
    if (!key_valid(r->key, strlen(r->key), 1))
        return proto_err(err, errlen, "record key invalid (1..%u bytes of UTF-8 text without control "
                         "or bidi characters)", PROTO_KEY_MAX);
    proto_rd_init(&t, r->body, r->body_len);
    if (proto_rd_peek(&t) != PROTO_MP_MAP)
        return proto_err(err, errlen, "record body is not a map");
    if (check_value(&t, PROTO_BODY_DEPTH, 1, &why))
        return proto_err(err, errlen, "record body: %s", why ? why : t.err);
    if (!proto_rd_done(&t))
        return proto_err(err, errlen, "record header: trailing bytes after body");
    r->text_checked = 1;
    return 0;
}

int proto_record_verify(const proto_record *r, EVP_PKEY *pub, char *err, size_t errlen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, md_for(pub), NULL, pub) == 1 &&
             EVP_DigestVerify(ctx, r->sig, r->sig_len, r->tbs, r->tbs_len) == 1 &&
             ec_low_s(pub, r->sig, r->sig_len, NULL, NULL) == 0;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        return proto_err(err, errlen, "bad signature on record %s/%s seq %llu",
                         r->kind, r->key, (unsigned long long)r->seq);
    }
    return 0;
}

/* Position a reader on the value of top-level body field `field`. */
static int body_find(const proto_record *rec, const char *field, proto_rd *r)
{
    uint32_t n, fl;
    const char *f;
    size_t want = strlen(field);
    proto_rd_init(r, rec->body, rec->body_len);
    if (proto_rd_map(r, &n))
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        if (proto_rd_str(r, &f, &fl))
            return -1;
        if (fl == want && memcmp(f, field, fl) == 0)
            return 0;
        if (proto_rd_skip(r, PROTO_BODY_DEPTH))
            return -1;
    }
    return -1;
}

int proto_body_get_str(const proto_record *rec, const char *field, const char **val, size_t *len)
{
    proto_rd r;
    uint32_t n;
    if (body_find(rec, field, &r) || proto_rd_peek(&r) != PROTO_MP_STR || proto_rd_str(&r, val, &n))
        return -1;
    *len = n;
    return 0;
}

int proto_body_get_bin(const proto_record *rec, const char *field, const uint8_t **val, size_t *len)
{
    proto_rd r;
    uint32_t n;
    if (body_find(rec, field, &r) || proto_rd_peek(&r) != PROTO_MP_BIN || proto_rd_bin(&r, val, &n))
        return -1;
    *len = n;
    return 0;
}

int proto_body_get_int(const proto_record *rec, const char *field, int64_t *val)
{
    proto_rd r;
    enum proto_mp_type t;
    if (body_find(rec, field, &r))
        return -1;
    t = proto_rd_peek(&r);
    if (t != PROTO_MP_INT && t != PROTO_MP_UINT)
        return -1;
    return proto_rd_int(&r, val);
}

int proto_body_copy_str(const proto_record *rec, const char *field, char *out, size_t outlen)
{
    const char *s;
    size_t n;
    if (proto_body_get_str(rec, field, &s, &n) || n >= outlen)
        return -1;
    memcpy(out, s, n);
    out[n] = 0;
    return 0;
}

int proto_body_foreach(const proto_record *rec, proto_body_cb cb, void *ctx)
{
    proto_rd r;
    uint32_t n, fl, m, sl;
    const char *f, *s;
    const uint8_t *b;
    char *text = malloc(PROTO_RECORD_MAX * 2 + 64);
    int rc = 0;
    if (!text)
        return -1;
    proto_rd_init(&r, rec->body, rec->body_len);
    if (proto_rd_map(&r, &n)) {
        free(text);
        return -1;
    }
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        size_t tl = 0;
        int64_t iv;
        if (proto_rd_str(&r, &f, &fl))
            break;
        switch (proto_rd_peek(&r)) {
        case PROTO_MP_STR:
            proto_rd_str(&r, &s, &sl);
            memcpy(text, s, sl);
            tl = sl;
            break;
        case PROTO_MP_INT:
        case PROTO_MP_UINT:
            proto_rd_int(&r, &iv);
            tl = (size_t)snprintf(text, 32, "%lld", (long long)iv);
            break;
        case PROTO_MP_BIN:
            proto_rd_bin(&r, &b, &sl);
            proto_hex(b, sl, text);
            tl = sl * 2;
            break;
        case PROTO_MP_ARRAY:
            proto_rd_array(&r, &m);
            for (uint32_t j = 0; j < m; j++) {
                if (proto_rd_peek(&r) == PROTO_MP_STR) {
                    proto_rd_str(&r, &s, &sl);
                    if (j) { memcpy(text + tl, ", ", 2); tl += 2; }
                    memcpy(text + tl, s, sl);
                    tl += sl;
                } else {
                    proto_rd_skip(&r, PROTO_BODY_DEPTH);
                }
            }
            break;
        case PROTO_MP_BOOL: {
            int bv;
            proto_rd_bool(&r, &bv);
            tl = (size_t)snprintf(text, 8, "%s", bv ? "true" : "false");
            break;
        }
        default:
            proto_rd_skip(&r, PROTO_BODY_DEPTH);
            break;
        }
        if (r.err)
            break;
        text[tl] = 0;
        rc = cb(ctx, f, fl, text, tl);
    }
    free(text);
    return r.err ? -1 : rc;
}
