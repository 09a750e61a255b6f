/* tests/unit/test_msg.c — proto/msg (typed peer messages) and proto/limits.
 *
 * Frames handed to the decoder are built independently of the encoders:
 * with msgpack-c directly, the way daemon/gossip.c and daemon/peer.c pack
 * them by hand (the "legacy" builders below copy their code), or byte by
 * byte.  Every frame body given to msg_decode lives in a malloc'd block of
 * exactly its length, so an over-read shows up under AddressSanitizer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/msg.h"

#define assert_err_has(err, needle) do {                                  \
        const char *e_ = (err);                                           \
        if (!e_ || !strstr(e_, (needle)))                                 \
            fail_msg("error \"%s\" lacks \"%s\"", e_ ? e_ : "(null)", (needle)); \
    } while (0)

/* ---- helpers ---- */

/* A log chain for vv entries (protocol 2): its value matters to no test here. */
#define VVCH (&(proto_id){ { 0 } })

static proto_id id_of(uint8_t seed)
{
    proto_id id;
    for (unsigned i = 0; i < sizeof id.b; i++)
        id.b[i] = (uint8_t)(seed * 31u + i);
    return id;
}

/* Decode a body from an exact-size heap copy.  The copy is freed: only
 * fixed fields of *m may be looked at afterwards (use decode_keep to
 * iterate). */
static int decode(const void *body, size_t len, msg *m, char *err, size_t errlen)
{
    uint8_t *b = malloc(len ? len : 1);
    assert_non_null(b);
    if (len)
        memcpy(b, body, len);
    int rc = msg_decode(b, len, m, err, errlen);
    free(b);
    return rc;
}

/* A whole frame in sb (4-byte prefix): check the prefix, return an exact
 * heap copy of the body (the caller frees it). */
static uint8_t *body_of(const void *frame, size_t size, size_t *len)
{
    const uint8_t *d = frame;
    assert_true(size >= 4);
    size_t n = (size_t)d[0] << 24 | (size_t)d[1] << 16 | (size_t)d[2] << 8 | d[3];
    assert_int_equal(n, size - 4);
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    memcpy(b, d + 4, n);
    *len = n;
    return b;
}

/* Decode a whole frame expected to be valid; the body copy is returned in
 * *keep so that iterators may walk it (the caller frees it). */
static void decode_keep(const void *frame, size_t size, msg *m, uint8_t **keep)
{
    size_t n;
    char err[256] = "";
    *keep = body_of(frame, size, &n);
    if (msg_decode(*keep, n, m, err, sizeof err))
        fail_msg("valid frame refused: %s", err);
}

/* Expect a body to be refused with an error containing `needle`. */
static void refused(const void *body, size_t len, const char *needle)
{
    msg m;
    char err[256] = "";
    if (decode(body, len, &m, err, sizeof err) == 0)
        fail_msg("accepted a frame that should fail with \"%s\"", needle);
    assert_true(err[0] != 0);
    assert_err_has(err, needle);
}

static void refused_sb(msgpack_sbuffer *sb, const char *needle)
{
    refused(sb->data, sb->size, needle);
    msgpack_sbuffer_destroy(sb);
}

/* A bare msgpack body (no frame prefix) built with msgpack-c. */
static void body_begin(msgpack_sbuffer *sb, msgpack_packer *pk)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
}

static void pk_id(msgpack_packer *pk, const proto_id *id)
{
    msgpack_pack_bin(pk, 32);
    msgpack_pack_bin_body(pk, id->b, 32);
}

static void pk_binn(msgpack_packer *pk, uint8_t fill, size_t n)
{
    uint8_t b[64];
    memset(b, fill, sizeof b);
    assert_true(n <= sizeof b);
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, b, n);
}

/* ---- the legacy builders: byte for byte what gossip.c and peer.c pack ---- */

static void begin_msg(msgpack_sbuffer *sb, msgpack_packer *pk, const char *type, uint32_t fields)
{
    proto_frame_begin(sb, pk);
    msgpack_pack_map(pk, fields + 1);
    proto_pack_kv_str(pk, "t", type);
}

static void list_msg(msgpack_sbuffer *sb, const char *type, const char *field, uint32_t n,
                     const msgpack_sbuffer *items)
{
    msgpack_packer pk;
    begin_msg(sb, &pk, type, 1);
    proto_pack_cstr(&pk, field);
    msgpack_pack_array(&pk, n);
    msgpack_sbuffer_write(sb, items->data, items->size);
}

typedef struct { proto_id a; uint64_t seq; } vv_ent;

/* send_hello */
static void legacy_hello(msgpack_sbuffer *sb, const proto_id *genesis, const proto_id *digest,
                         const vv_ent *vv, uint32_t n)
{
    msgpack_packer pk, tpk;
    msgpack_sbuffer tmp;
    msgpack_sbuffer_init(&tmp);
    msgpack_packer_init(&tpk, &tmp, msgpack_sbuffer_write);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_array(&tpk, 3);
        pk_id(&tpk, &vv[i].a);
        msgpack_pack_uint64(&tpk, vv[i].seq);
        pk_id(&tpk, VVCH);
    }
    begin_msg(sb, &pk, "hello", 4);
    proto_pack_kv_u64(&pk, "v", MSG_PROTO_VERSION);
    proto_pack_cstr(&pk, "genesis");
    if (genesis)
        pk_id(&pk, genesis);
    else
        msgpack_pack_nil(&pk);
    proto_pack_cstr(&pk, "digest");
    pk_id(&pk, digest);
    proto_pack_cstr(&pk, "vv");
    msgpack_pack_array(&pk, n);
    if (tmp.size)
        msgpack_sbuffer_write(sb, tmp.data, tmp.size);
    msgpack_sbuffer_destroy(&tmp);
    proto_frame_end(sb);
}

/* pump_wants' batch_add + list_msg */
static void legacy_records(msgpack_sbuffer *sb, const uint8_t *const *recs, const size_t *lens, uint32_t n)
{
    msgpack_sbuffer tmp;
    msgpack_packer tpk;
    msgpack_sbuffer_init(&tmp);
    msgpack_packer_init(&tpk, &tmp, msgpack_sbuffer_write);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_bin(&tpk, lens[i]);
        msgpack_pack_bin_body(&tpk, recs[i], lens[i]);
    }
    list_msg(sb, "records", "recs", n, &tmp);
    msgpack_sbuffer_destroy(&tmp);
    proto_frame_end(sb);
}

/* send_one */
static void legacy_one_record(msgpack_sbuffer *sb, const uint8_t *rec, size_t len)
{
    msgpack_packer pk;
    begin_msg(sb, &pk, "records", 1);
    proto_pack_cstr(&pk, "recs");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_bin(&pk, len);
    msgpack_pack_bin_body(&pk, rec, len);
    proto_frame_end(sb);
}

typedef struct { proto_id a; uint64_t from, to; } want_ent;

/* want_add + want_send */
static void legacy_want(msgpack_sbuffer *sb, const want_ent *w, uint32_t n)
{
    msgpack_sbuffer tmp;
    msgpack_packer tpk;
    msgpack_sbuffer_init(&tmp);
    msgpack_packer_init(&tpk, &tmp, msgpack_sbuffer_write);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_array(&tpk, 3);
        pk_id(&tpk, &w[i].a);
        msgpack_pack_uint64(&tpk, w[i].from);
        msgpack_pack_uint64(&tpk, w[i].to);
    }
    list_msg(sb, "want", "r", n, &tmp);
    msgpack_sbuffer_destroy(&tmp);
    proto_frame_end(sb);
}

typedef struct { proto_id a; uint64_t seq; proto_id h; } ann_ent;

/* announce_to */
static void legacy_announce(msgpack_sbuffer *sb, const ann_ent *e, uint32_t n)
{
    msgpack_packer pk;
    begin_msg(sb, &pk, "announce", 1);
    proto_pack_cstr(&pk, "a");
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_array(&pk, 3);
        pk_id(&pk, &e[i].a);
        msgpack_pack_uint64(&pk, e[i].seq);
        pk_id(&pk, &e[i].h);
    }
    proto_frame_end(sb);
}

/* gossip_tick */
static void legacy_digest(msgpack_sbuffer *sb, const proto_id *d)
{
    msgpack_packer pk;
    begin_msg(sb, &pk, "digest", 1);
    proto_pack_cstr(&pk, "d");
    pk_id(&pk, d);
    proto_frame_end(sb);
}

/* gossip_on_frame's answer to ping (and a ping, the same way) */
static void legacy_bare(msgpack_sbuffer *sb, const char *type)
{
    msgpack_packer pk;
    begin_msg(sb, &pk, type, 0);
    proto_frame_end(sb);
}

/* peer_fail */
static void legacy_error(msgpack_sbuffer *sb, unsigned code, const char *text)
{
    msgpack_packer pk;
    proto_frame_begin(sb, &pk);
    msgpack_pack_map(&pk, 3);
    proto_pack_kv_str(&pk, "t", "error");
    proto_pack_kv_u64(&pk, "code", code);
    proto_pack_kv_str(&pk, "text", text);
    proto_frame_end(sb);
}

static void assert_same_bytes(const void *a, size_t an, const void *b, size_t bn)
{
    assert_int_equal(an, bn);
    if (memcmp(a, b, an)) {
        for (size_t i = 0; i < an; i++)
            if (((const uint8_t *)a)[i] != ((const uint8_t *)b)[i])
                fail_msg("frames differ at byte %zu of %zu", i, an);
    }
}

/* ---- names ---- */

static void names(void **state)
{
    static const char *const expect[] = { NULL, "hello", "want", "records", "announce",
                                          "digest", "ping", "pong", "error", "sums", "points" };
    for (int t = MSG_HELLO; t <= MSG_TYPE_LAST; t++) {
        assert_string_equal(msg_type_name((enum msg_type)t), expect[t]);
        assert_int_equal(msg_type_from(expect[t], strlen(expect[t])), t);
    }
    assert_string_equal(msg_type_name(0), "?");
    assert_string_equal(msg_type_name((enum msg_type)(MSG_TYPE_LAST + 1)), "?");
    assert_int_equal(msg_type_from("hell", 4), 0);
    assert_int_equal(msg_type_from("hellox", 6), 0);
    assert_int_equal(msg_type_from("hello", 5), MSG_HELLO);   /* not NUL-terminated at 5 */
    assert_int_equal(msg_type_from("", 0), 0);
    assert_int_equal(MSG_ERR_PROTO, 1);
    assert_int_equal(MSG_ERR_ALLIANCE, 2);
    assert_int_equal(MSG_ERR_RECORD, 3);
    assert_int_equal(MSG_ERR_SIGNATURE, 4);
    assert_int_equal(MSG_ERR_LIMIT, 5);
    assert_string_equal(msg_error_name(MSG_ERR_PROTO), "protocol");
    assert_string_equal(msg_error_name(MSG_ERR_ALLIANCE), "alliance");
    assert_string_equal(msg_error_name(MSG_ERR_RECORD), "record");
    assert_string_equal(msg_error_name(MSG_ERR_SIGNATURE), "signature");
    assert_string_equal(msg_error_name(0), "?");
    assert_string_equal(msg_error_name(MSG_ERR_LIMIT), "limit");
    assert_int_equal(MSG_ERR_FULL, 6);
    assert_string_equal(msg_error_name(MSG_ERR_FULL), "full");
    assert_string_equal(msg_error_name(7), "?");
    assert_int_equal(MSG_PROTO_VERSION, 2);
    assert_int_equal(PROTO_PEER_FRAME_MAX, 4u << 20);
    assert_int_equal(PROTO_CTL_FRAME_MAX, 16u << 20);
}

/* ---- sums and points (reconciliation) ---- */

static void sums_points(void **state)
{
    proto_id a = id_of(1);
    msgpack_sbuffer sb;
    msg m;
    char err[256];
    assert_int_equal(msg_pack_sums(&sb, &a, 3, 900), 0);
    assert_int_equal(decode(sb.data + 4, sb.size - 4, &m, err, sizeof err), 0);
    assert_int_equal(m.type, MSG_SUMS);
    assert_memory_equal(m.sums.author.b, a.b, 32);
    assert_true(m.sums.lo == 3 && m.sums.hi == 900);
    msgpack_sbuffer_destroy(&sb);
    assert_int_equal(msg_pack_sums(&sb, &a, 0, 1), -1);
    assert_int_equal(msg_pack_sums(&sb, &a, 5, 4), -1);

    uint64_t seqs[MSG_SUMS_MAX];
    proto_id ch[MSG_SUMS_MAX];
    for (uint32_t i = 0; i < MSG_SUMS_MAX; i++) {
        seqs[i] = 10 + 3 * i;
        ch[i] = id_of((uint8_t)(i + 2));
    }
    assert_int_equal(msg_pack_points(&sb, &a, 10, 10 + 3 * (MSG_SUMS_MAX - 1), seqs, ch, MSG_SUMS_MAX), 0);
    uint8_t *keep;
    decode_keep((const uint8_t *)sb.data, sb.size, &m, &keep);   /* iterated below */
    assert_int_equal(m.type, MSG_POINTS);
    assert_int_equal(msg_count(&m), MSG_SUMS_MAX);
    msg_iter it;
    uint64_t q;
    proto_id c;
    uint32_t n = 0;
    msg_iter_init(&it, &m);
    while (msg_points_next(&it, &q, &c)) {
        assert_true(q == seqs[n]);
        assert_memory_equal(c.b, ch[n].b, 32);
        n++;
    }
    assert_int_equal(n, MSG_SUMS_MAX);
    free(keep);
    msgpack_sbuffer_destroy(&sb);
    /* an empty answer is valid */
    assert_int_equal(msg_pack_points(&sb, &a, 1, 1, seqs, ch, 0), 0);
    assert_int_equal(decode(sb.data + 4, sb.size - 4, &m, err, sizeof err), 0);
    assert_int_equal(msg_count(&m), 0);
    msgpack_sbuffer_destroy(&sb);
    /* the encoder refuses what the decoder would */
    assert_int_equal(msg_pack_points(&sb, &a, 11, 400, seqs, ch, 2), -1);   /* 10 < lo */
    assert_int_equal(msg_pack_points(&sb, &a, 10, 12, seqs, ch, 2), -1);    /* 13 > hi */
    seqs[1] = seqs[0];
    assert_int_equal(msg_pack_points(&sb, &a, 1, 400, seqs, ch, 2), -1);    /* not increasing */

    /* decoder: too many points, a point outside the range, an empty range */
    msgpack_packer pk;
    for (int bad = 0; bad < 4; bad++) {
        body_begin(&sb, &pk);
        msgpack_pack_map(&pk, 5);
        proto_pack_kv_str(&pk, "t", "points");
        proto_pack_kv_bin(&pk, "author", a.b, 32);
        proto_pack_kv_u64(&pk, "lo", bad == 3 ? 0 : 1);
        proto_pack_kv_u64(&pk, "hi", 1000);
        proto_pack_cstr(&pk, "p");
        uint32_t np = bad == 0 ? MSG_SUMS_MAX + 1 : 2;
        msgpack_pack_array(&pk, np);
        for (uint32_t i = 0; i < np; i++) {
            msgpack_pack_array(&pk, 2);
            msgpack_pack_uint64(&pk, bad == 1 && i == 1 ? 1001 : bad == 2 ? 5 : i + 1);
            pk_id(&pk, &a);
        }
        const char *why[] = { "more than", "outside", "outside", "empty range" };
        assert_int_equal(decode(sb.data, sb.size, &m, err, sizeof err), -1);
        if (!strstr(err, why[bad]))
            fail_msg("case %d: %s", bad, err);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* ---- round trips, byte-identical to the legacy builders ---- */

static void roundtrip_hello(void **state)
{
    proto_id g = id_of(1), d = id_of(2);
    vv_ent vv[] = { { id_of(3), 1 }, { id_of(4), 0 }, { id_of(5), 127 }, { id_of(6), 128 },
                    { id_of(7), 65536 }, { id_of(8), UINT64_MAX } };
    uint32_t nvv = sizeof vv / sizeof vv[0];
    for (int with_genesis = 0; with_genesis < 2; with_genesis++) {
        for (uint32_t n = 0; n <= nvv; n += nvv) {
            msg_list l;
            assert_int_equal(msg_list_init_hello(&l, with_genesis ? &g : NULL, &d), 0);
            for (uint32_t i = 0; i < n; i++)
                assert_int_equal(msg_list_add_vv(&l, &vv[i].a, vv[i].seq, VVCH), 0);
            assert_int_equal(msg_list_count(&l), n);
            size_t len;
            const uint8_t *f = msg_list_frame(&l, &len);
            assert_non_null(f);

            msgpack_sbuffer sb;
            legacy_hello(&sb, with_genesis ? &g : NULL, &d, vv, n);
            assert_same_bytes(f, len, sb.data, sb.size);
            msgpack_sbuffer_destroy(&sb);

            msg m;
            uint8_t *keep;
            decode_keep(f, len, &m, &keep);
            assert_int_equal(m.type, MSG_HELLO);
            assert_true(m.hello.v == MSG_PROTO_VERSION);
            assert_int_equal(m.hello.has_genesis, with_genesis);
            if (with_genesis)
                assert_memory_equal(m.hello.genesis.b, g.b, 32);
            assert_memory_equal(m.hello.digest.b, d.b, 32);
            assert_int_equal(msg_count(&m), n);
            assert_int_equal(m.hello.vv.n, n);
            msg_iter it;
            proto_id a;
            uint64_t seq;
            uint32_t i = 0;
            msg_iter_init(&it, &m);
            while (msg_vv_next(&it, &a, &seq, VVCH)) {
                assert_true(i < n);
                assert_memory_equal(a.b, vv[i].a.b, 32);
                assert_true(seq == vv[i].seq);
                i++;
            }
            assert_int_equal(i, n);
            assert_int_equal(msg_vv_next(&it, &a, &seq, VVCH), 0);   /* stays exhausted */
            free(keep);
            msg_list_destroy(&l);
        }
    }
}

static void roundtrip_want(void **state)
{
    want_ent w[] = { { id_of(1), 1, 1 }, { id_of(2), 5, 100000 }, { id_of(3), 200, UINT64_MAX },
                     { id_of(4), UINT64_MAX, UINT64_MAX } };
    uint32_t n = sizeof w / sizeof w[0];
    msg_list l;
    assert_int_equal(msg_list_init(&l, MSG_WANT), 0);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(msg_list_add_want(&l, &w[i].a, w[i].from, w[i].to), 0);
    size_t len;
    const uint8_t *f = msg_list_frame(&l, &len);
    msgpack_sbuffer sb;
    legacy_want(&sb, w, n);
    assert_same_bytes(f, len, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);

    msg m;
    uint8_t *keep;
    decode_keep(f, len, &m, &keep);
    assert_int_equal(m.type, MSG_WANT);
    assert_int_equal(msg_count(&m), n);
    msg_iter it;
    proto_id a;
    uint64_t from, to;
    uint32_t i = 0;
    msg_iter_init(&it, &m);
    while (msg_want_next(&it, &a, &from, &to)) {
        assert_memory_equal(a.b, w[i].a.b, 32);
        assert_true(from == w[i].from && to == w[i].to);
        i++;
    }
    assert_int_equal(i, n);
    free(keep);
    msg_list_destroy(&l);
}

static void roundtrip_records(void **state)
{
    /* lengths around every msgpack bin header form, up to the record limit */
    static const size_t lens[] = { 0, 1, 255, 256, 65535, PROTO_RECORD_MAX };
    uint32_t n = sizeof lens / sizeof lens[0];
    uint8_t *recs[sizeof lens / sizeof lens[0]];
    for (uint32_t i = 0; i < n; i++) {
        recs[i] = malloc(lens[i] ? lens[i] : 1);
        assert_non_null(recs[i]);
        for (size_t k = 0; k < lens[i]; k++)
            recs[i][k] = (uint8_t)(k * 7 + i);
    }
    msg_list l;
    assert_int_equal(msg_list_init(&l, MSG_RECORDS), 0);
    size_t bytes = 0;
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(msg_list_add_record(&l, recs[i], lens[i]), 0);
        bytes += lens[i];
    }
    assert_int_equal(msg_list_count(&l), n);
    assert_true(msg_list_bytes(&l) > bytes && msg_list_bytes(&l) <= bytes + 5 * n);
    size_t len;
    const uint8_t *f = msg_list_frame(&l, &len);
    msgpack_sbuffer sb;
    legacy_records(&sb, (const uint8_t *const *)recs, lens, n);
    assert_same_bytes(f, len, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);

    msg m;
    uint8_t *keep;
    decode_keep(f, len, &m, &keep);
    assert_int_equal(m.type, MSG_RECORDS);
    assert_int_equal(msg_count(&m), n);
    msg_iter it;
    const uint8_t *r;
    size_t rl;
    uint32_t i = 0;
    msg_iter_init(&it, &m);
    while (msg_records_next(&it, &r, &rl)) {
        assert_int_equal(rl, lens[i]);
        if (rl)
            assert_memory_equal(r, recs[i], rl);
        /* zero-copy: the record points into the frame body */
        assert_true(r >= keep && r + rl <= keep + len - 4);
        i++;
    }
    assert_int_equal(i, n);
    free(keep);

    /* one record the way send_one packs it */
    msg_list_reset(&l);
    assert_int_equal(msg_list_count(&l), 0);
    assert_int_equal(msg_list_add_record(&l, recs[2], lens[2]), 0);
    f = msg_list_frame(&l, &len);
    legacy_one_record(&sb, recs[2], lens[2]);
    assert_same_bytes(f, len, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);

    for (uint32_t k = 0; k < n; k++)
        free(recs[k]);
    msg_list_destroy(&l);
}

static void roundtrip_announce(void **state)
{
    ann_ent e[] = { { id_of(1), 1, id_of(11) }, { id_of(2), 300, id_of(12) },
                    { id_of(3), UINT64_MAX, id_of(13) } };
    uint32_t n = sizeof e / sizeof e[0];
    msg_list l;
    assert_int_equal(msg_list_init(&l, MSG_ANNOUNCE), 0);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(msg_list_add_announce(&l, &e[i].a, e[i].seq, &e[i].h), 0);
    size_t len;
    const uint8_t *f = msg_list_frame(&l, &len);
    msgpack_sbuffer sb;
    legacy_announce(&sb, e, n);
    assert_same_bytes(f, len, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);

    msg m;
    uint8_t *keep;
    decode_keep(f, len, &m, &keep);
    assert_int_equal(m.type, MSG_ANNOUNCE);
    assert_int_equal(msg_count(&m), n);
    msg_iter it;
    proto_id a, h;
    uint64_t seq;
    uint32_t i = 0;
    msg_iter_init(&it, &m);
    while (msg_announce_next(&it, &a, &seq, &h)) {
        assert_memory_equal(a.b, e[i].a.b, 32);
        assert_memory_equal(h.b, e[i].h.b, 32);
        assert_true(seq == e[i].seq);
        i++;
    }
    assert_int_equal(i, n);
    free(keep);
    msg_list_destroy(&l);
}

static void roundtrip_fixed(void **state)
{
    msgpack_sbuffer sb, ref;
    msg m;
    uint8_t *keep;
    proto_id d = id_of(9);

    assert_int_equal(msg_pack_digest(&sb, &d), 0);
    legacy_digest(&ref, &d);
    assert_same_bytes(sb.data, sb.size, ref.data, ref.size);
    decode_keep(sb.data, sb.size, &m, &keep);
    assert_int_equal(m.type, MSG_DIGEST);
    assert_memory_equal(m.digest.d.b, d.b, 32);
    assert_int_equal(msg_count(&m), 0);
    free(keep);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&ref);

    assert_int_equal(msg_pack_ping(&sb), 0);
    legacy_bare(&ref, "ping");
    assert_same_bytes(sb.data, sb.size, ref.data, ref.size);
    decode_keep(sb.data, sb.size, &m, &keep);
    assert_int_equal(m.type, MSG_PING);
    free(keep);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&ref);

    assert_int_equal(msg_pack_pong(&sb), 0);
    legacy_bare(&ref, "pong");
    assert_same_bytes(sb.data, sb.size, ref.data, ref.size);
    decode_keep(sb.data, sb.size, &m, &keep);
    assert_int_equal(m.type, MSG_PONG);
    /* no list: iterators give nothing */
    msg_iter it;
    proto_id a;
    uint64_t s;
    msg_iter_init(&it, &m);
    assert_int_equal(msg_vv_next(&it, &a, &s, VVCH), 0);
    free(keep);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&ref);

    const char *text = "record refused: 文京区 — seq 3 after 1";
    assert_int_equal(msg_pack_error(&sb, MSG_ERR_RECORD, text), 0);
    legacy_error(&ref, MSG_ERR_RECORD, text);
    assert_same_bytes(sb.data, sb.size, ref.data, ref.size);
    decode_keep(sb.data, sb.size, &m, &keep);
    assert_int_equal(m.type, MSG_ERROR);
    assert_true(m.error.code == MSG_ERR_RECORD);
    assert_string_equal(m.error.text, text);
    assert_int_equal(m.error.text_len, strlen(text));
    assert_int_equal(m.error.truncated, 0);
    free(keep);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&ref);

    assert_int_equal(msg_pack_error(&sb, 77, NULL), 0);
    decode_keep(sb.data, sb.size, &m, &keep);
    assert_true(m.error.code == 77);
    assert_string_equal(m.error.text, "");
    free(keep);
    msgpack_sbuffer_destroy(&sb);
}

/* Frames other code builds today: peerprobe's hello (genesis as a bin, an
 * empty vv), an error without code or text, and field orders we never send. */
static void other_senders(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msg m;
    char err[256];
    proto_id g = id_of(1), d = id_of(2);

    proto_frame_begin(&sb, &pk);
    msgpack_pack_map(&pk, 5);
    proto_pack_kv_str(&pk, "t", "hello");
    proto_pack_kv_u64(&pk, "v", MSG_PROTO_VERSION);
    proto_pack_kv_bin(&pk, "genesis", g.b, 32);
    proto_pack_kv_bin(&pk, "digest", d.b, 32);
    proto_pack_cstr(&pk, "vv");
    msgpack_pack_array(&pk, 0);
    proto_frame_end(&sb);
    assert_int_equal(decode(sb.data + 4, sb.size - 4, &m, err, sizeof err), 0);
    assert_int_equal(m.type, MSG_HELLO);
    assert_int_equal(m.hello.has_genesis, 1);
    assert_int_equal(msg_count(&m), 0);
    msgpack_sbuffer_destroy(&sb);

    /* error with nothing but its type */
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 1);
    proto_pack_kv_str(&pk, "t", "error");
    assert_int_equal(decode(sb.data, sb.size, &m, err, sizeof err), 0);
    assert_int_equal(m.type, MSG_ERROR);
    assert_true(m.error.code == 0);
    assert_string_equal(m.error.text, "");
    msgpack_sbuffer_destroy(&sb);

    /* "t" last, fields in another order, v as a uint64 form */
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 5);
    proto_pack_cstr(&pk, "vv");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 3);
    pk_id(&pk, &g);
    msgpack_pack_uint64(&pk, 9);
    pk_id(&pk, &g);
    proto_pack_kv_bin(&pk, "digest", d.b, 32);
    proto_pack_cstr(&pk, "genesis");
    msgpack_pack_nil(&pk);
    proto_pack_cstr(&pk, "v");
    msgpack_sbuffer_write(&sb, "\xcf\0\0\0\0\0\0\0\x02", 9);
    proto_pack_kv_str(&pk, "t", "hello");
    assert_int_equal(decode(sb.data, sb.size, &m, err, sizeof err), 0);
    assert_int_equal(m.hello.has_genesis, 0);
    assert_int_equal(msg_count(&m), 1);
    msgpack_sbuffer_destroy(&sb);

    /* a key as str8 is the same key */
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 2);
    msgpack_sbuffer_write(&sb, "\xd9\x01t", 3);
    proto_pack_cstr(&pk, "digest");
    msgpack_sbuffer_write(&sb, "\xd9\x01" "d", 3);
    pk_id(&pk, &d);
    assert_int_equal(decode(sb.data, sb.size, &m, err, sizeof err), 0);
    assert_int_equal(m.type, MSG_DIGEST);
    msgpack_sbuffer_destroy(&sb);

    /* err may be NULL */
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 1);
    proto_pack_kv_str(&pk, "t", "nope");
    assert_int_equal(decode(sb.data, sb.size, &m, NULL, 0), -1);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- unknown keys ---- */

/* A value nested `depth` levels deep: [[[...[1]...]]] (depth >= 1), or a map
 * chain when `maps`. */
static void pk_nested(msgpack_packer *pk, unsigned depth, int maps)
{
    for (unsigned i = 0; i < depth; i++) {
        if (maps) {
            msgpack_pack_map(pk, 1);
            proto_pack_cstr(pk, "k");
        } else {
            msgpack_pack_array(pk, 1);
        }
    }
    msgpack_pack_uint64(pk, 1);
}

/* The broadcast tree's optional flags (push on hello, want and records,
 * again on digest): absent they decode as -1 (what a node before the tree
 * sends), set they round-trip, and a frame without items is still valid
 * (a prune is a want with no ranges). */
static void tree_flags(void **state)
{
    msg m;
    uint8_t *keep;
    size_t len;
    const uint8_t *f;
    msg_list l;
    proto_id a = id_of(1), d = id_of(2);

    assert_int_equal(msg_list_init(&l, MSG_WANT), 0);
    f = msg_list_frame(&l, &len);
    decode_keep(f, len, &m, &keep);
    assert_int_equal(m.want.push, -1);
    free(keep);
    assert_int_equal(msg_list_set_push(&l, 0), 0);
    f = msg_list_frame(&l, &len);
    decode_keep(f, len, &m, &keep);
    assert_int_equal(m.type, MSG_WANT);
    assert_int_equal(m.want.push, 0);
    assert_int_equal(msg_count(&m), 0);
    free(keep);
    assert_int_equal(msg_list_set_push(&l, 1), 0);
    assert_int_equal(msg_list_add_want(&l, &a, 3, 4), 0);
    assert_int_equal(msg_list_set_push(&l, 0), -1);   /* after an item: refused */
    f = msg_list_frame(&l, &len);
    decode_keep(f, len, &m, &keep);
    assert_int_equal(m.want.push, 1);
    assert_int_equal(msg_count(&m), 1);
    free(keep);
    msg_list_destroy(&l);

    static const uint8_t rec[3] = { 1, 2, 3 };
    assert_int_equal(msg_list_init(&l, MSG_RECORDS), 0);
    assert_int_equal(msg_list_set_push(&l, 1), 0);
    assert_int_equal(msg_list_add_record(&l, rec, sizeof rec), 0);
    f = msg_list_frame(&l, &len);
    decode_keep(f, len, &m, &keep);
    assert_int_equal(m.records.push, 1);
    assert_int_equal(msg_count(&m), 1);
    free(keep);
    msg_list_reset(&l);   /* the flag stays */
    assert_int_equal(msg_list_add_record(&l, rec, sizeof rec), 0);
    f = msg_list_frame(&l, &len);
    decode_keep(f, len, &m, &keep);
    assert_int_equal(m.records.push, 1);
    free(keep);
    msg_list_destroy(&l);

    assert_int_equal(msg_list_init(&l, MSG_ANNOUNCE), 0);
    assert_int_equal(msg_list_set_push(&l, 1), -1);   /* not an announce's */
    msg_list_destroy(&l);

    assert_int_equal(msg_list_init_hello(&l, &d, &d), 0);
    f = msg_list_frame(&l, &len);
    decode_keep(f, len, &m, &keep);
    assert_int_equal(m.hello.push, -1);
    free(keep);
    assert_int_equal(msg_list_set_push(&l, 1), 0);
    assert_int_equal(msg_list_add_vv(&l, &a, 7, &d), 0);
    f = msg_list_frame(&l, &len);
    decode_keep(f, len, &m, &keep);
    assert_int_equal(m.hello.push, 1);
    assert_int_equal(msg_count(&m), 1);
    free(keep);
    msg_list_destroy(&l);

    msgpack_sbuffer sb;
    assert_int_equal(msg_pack_digest(&sb, &d), 0);
    decode_keep(sb.data, sb.size, &m, &keep);
    assert_int_equal(m.digest.again, -1);
    free(keep);
    msgpack_sbuffer_destroy(&sb);
    assert_int_equal(msg_pack_digest_again(&sb, &d), 0);
    decode_keep(sb.data, sb.size, &m, &keep);
    assert_int_equal(m.digest.again, 1);
    assert_memory_equal(m.digest.d.b, d.b, 32);
    free(keep);
    msgpack_sbuffer_destroy(&sb);

    /* a flag of another type is refused */
    msgpack_packer pk;
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 3);
    proto_pack_kv_str(&pk, "t", "want");
    proto_pack_cstr(&pk, "r");
    msgpack_pack_array(&pk, 0);
    proto_pack_kv_str(&pk, "push", "yes");
    refused_sb(&sb, "'push' is not an unsigned integer");
}

static void unknown_keys_skipped(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msg m;
    char err[256] = "";
    proto_id d = id_of(2);

    /* unknown keys before and after, of every type we accept, and the known
     * field of another message type ("recs" in a digest) */
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 11);
    proto_pack_cstr(&pk, "future");
    pk_nested(&pk, MSG_SKIP_DEPTH, 1);
    proto_pack_kv_str(&pk, "t", "digest");
    proto_pack_cstr(&pk, "recs");
    msgpack_pack_str(&pk, 3);
    msgpack_pack_str_body(&pk, "abc", 3);
    proto_pack_cstr(&pk, "n");
    msgpack_pack_nil(&pk);
    proto_pack_kv_bool(&pk, "b", 1);
    proto_pack_cstr(&pk, "neg");
    msgpack_pack_int64(&pk, -5);
    proto_pack_kv_bin(&pk, "bin", "xyz", 3);
    proto_pack_cstr(&pk, "arr");
    pk_nested(&pk, MSG_SKIP_DEPTH, 0);
    proto_pack_cstr(&pk, "");
    msgpack_pack_map(&pk, 0);
    proto_pack_kv_bin(&pk, "d", d.b, 32);
    proto_pack_cstr(&pk, "vv");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_uint64(&pk, 12345);
    if (decode(sb.data, sb.size, &m, err, sizeof err))
        fail_msg("unknown keys not skipped: %s", err);
    assert_int_equal(m.type, MSG_DIGEST);
    assert_memory_equal(m.digest.d.b, d.b, 32);
    msgpack_sbuffer_destroy(&sb);

    /* ping and pong ignore whatever they carry */
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 2);
    proto_pack_kv_str(&pk, "t", "ping");
    proto_pack_kv_u64(&pk, "nonce", 42);
    assert_int_equal(decode(sb.data, sb.size, &m, err, sizeof err), 0);
    assert_int_equal(m.type, MSG_PING);
    msgpack_sbuffer_destroy(&sb);

    /* a field name of exactly MSG_KEY_MAX bytes is fine */
    char key[MSG_KEY_MAX + 2];
    memset(key, 'k', sizeof key);
    key[MSG_KEY_MAX] = 0;
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 2);
    proto_pack_kv_str(&pk, "t", "pong");
    proto_pack_kv_u64(&pk, key, 1);
    assert_int_equal(decode(sb.data, sb.size, &m, err, sizeof err), 0);
    msgpack_sbuffer_destroy(&sb);
    key[MSG_KEY_MAX] = 'k';
    key[MSG_KEY_MAX + 1] = 0;
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 2);
    proto_pack_kv_str(&pk, "t", "pong");
    proto_pack_kv_u64(&pk, key, 1);
    refused_sb(&sb, "field name longer than");
}

/* ---- limits: N accepted, N + 1 refused ---- */

/* {t: type, field: [n items]} with items packed by `item`, as a bare body */
static void raw_list(msgpack_sbuffer *sb, const char *type, const char *field, uint32_t n,
                     void (*item)(msgpack_packer *, uint32_t))
{
    msgpack_packer pk;
    body_begin(sb, &pk);
    if (!strcmp(type, "hello")) {
        proto_id d = id_of(1);
        msgpack_pack_map(&pk, 5);
        proto_pack_kv_str(&pk, "t", type);
        proto_pack_kv_u64(&pk, "v", MSG_PROTO_VERSION);
        proto_pack_cstr(&pk, "genesis");
        msgpack_pack_nil(&pk);
        proto_pack_kv_bin(&pk, "digest", d.b, 32);
    } else {
        msgpack_pack_map(&pk, 2);
        proto_pack_kv_str(&pk, "t", type);
    }
    proto_pack_cstr(&pk, field);
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++)
        item(&pk, i);
}

static void item_vv(msgpack_packer *pk, uint32_t i)
{
    proto_id a = id_of((uint8_t)i);
    msgpack_pack_array(pk, 3);
    pk_id(pk, &a);
    msgpack_pack_uint64(pk, i);
    pk_id(pk, &a);
}

static void item_want(msgpack_packer *pk, uint32_t i)
{
    proto_id a = id_of((uint8_t)i);
    msgpack_pack_array(pk, 3);
    pk_id(pk, &a);
    msgpack_pack_uint64(pk, 1);
    msgpack_pack_uint64(pk, 1 + i);
}

static void item_rec(msgpack_packer *pk, uint32_t i)
{
    pk_binn(pk, (uint8_t)i, 0);
}

static void item_ann(msgpack_packer *pk, uint32_t i)
{
    proto_id a = id_of((uint8_t)i);
    msgpack_pack_array(pk, 3);
    pk_id(pk, &a);
    msgpack_pack_uint64(pk, i);
    pk_id(pk, &a);
}

static void limit_case(const char *type, const char *field, uint32_t max,
                       void (*item)(msgpack_packer *, uint32_t))
{
    msgpack_sbuffer sb;
    msg m;
    char err[256] = "";
    raw_list(&sb, type, field, max, item);
    if (decode(sb.data, sb.size, &m, err, sizeof err))
        fail_msg("%s with %u items refused: %s", type, max, err);
    assert_int_equal(msg_count(&m), max);
    msgpack_sbuffer_destroy(&sb);
    raw_list(&sb, type, field, max + 1, item);
    refused_sb(&sb, "more than");
}

static void list_limits(void **state)
{
    limit_case("hello", "vv", MSG_VV_MAX, item_vv);
    limit_case("want", "r", MSG_WANT_RANGES_MAX, item_want);
    limit_case("records", "recs", MSG_RECORDS_MAX, item_rec);
    limit_case("announce", "a", MSG_ANNOUNCE_MAX, item_ann);
    /* the values asked for */
    assert_int_equal(MSG_RECORDS_MAX, 100000);
    assert_int_equal(MSG_WANT_RANGES_MAX, 100000);
    assert_int_equal(MSG_ERROR_TEXT_MAX, 512);
}

/* A records message of one bin of `len` bytes, as a bare body. */
static void one_bin_records(msgpack_sbuffer *sb, size_t len)
{
    msgpack_packer pk;
    uint8_t *b = calloc(1, len ? len : 1);
    assert_non_null(b);
    body_begin(sb, &pk);
    msgpack_pack_map(&pk, 2);
    proto_pack_kv_str(&pk, "t", "records");
    proto_pack_cstr(&pk, "recs");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_bin(&pk, len);
    msgpack_pack_bin_body(&pk, b, len);
    free(b);
}

static void size_limits(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msg m;
    char err[256] = "";

    /* a record of PROTO_RECORD_MAX bytes, then one byte more */
    one_bin_records(&sb, PROTO_RECORD_MAX);
    assert_int_equal(decode(sb.data, sb.size, &m, err, sizeof err), 0);
    msgpack_sbuffer_destroy(&sb);
    one_bin_records(&sb, PROTO_RECORD_MAX + 1);
    refused_sb(&sb, "record longer than");

    /* MSG_FIELDS_MAX fields, then one more */
    for (uint32_t extra = 0; extra < 2; extra++) {
        uint32_t n = MSG_FIELDS_MAX + extra;
        body_begin(&sb, &pk);
        msgpack_pack_map(&pk, n);
        proto_pack_kv_str(&pk, "t", "ping");
        for (uint32_t i = 1; i < n; i++) {
            char k[16];
            snprintf(k, sizeof k, "x%u", i);
            proto_pack_kv_u64(&pk, k, i);
        }
        if (!extra) {
            assert_int_equal(decode(sb.data, sb.size, &m, err, sizeof err), 0);
            msgpack_sbuffer_destroy(&sb);
        } else {
            refused_sb(&sb, "fields, more than");
        }
    }

    /* unknown values nested MSG_SKIP_DEPTH deep, then one deeper */
    for (int maps = 0; maps < 2; maps++)
        for (unsigned extra = 0; extra < 2; extra++) {
            body_begin(&sb, &pk);
            msgpack_pack_map(&pk, 2);
            proto_pack_kv_str(&pk, "t", "ping");
            proto_pack_cstr(&pk, "deep");
            pk_nested(&pk, MSG_SKIP_DEPTH + extra, maps);
            if (!extra) {
                assert_int_equal(decode(sb.data, sb.size, &m, err, sizeof err), 0);
                msgpack_sbuffer_destroy(&sb);
            } else {
                refused_sb(&sb, "nested too deeply");
            }
        }

    /* a type name of MSG_TYPE_MAX bytes is looked up (and unknown), one
     * more is refused as too long */
    char t[MSG_TYPE_MAX + 2];
    memset(t, 'z', sizeof t);
    t[MSG_TYPE_MAX] = 0;
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 1);
    proto_pack_kv_str(&pk, "t", t);
    refused_sb(&sb, "unknown message type 'zzzzzzzzzzzzzzzz'");
    t[MSG_TYPE_MAX] = 'z';
    t[MSG_TYPE_MAX + 1] = 0;
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 1);
    proto_pack_kv_str(&pk, "t", t);
    refused_sb(&sb, "message type longer than");
}

/* Error texts: kept up to MSG_ERROR_TEXT_MAX bytes, cut at a character
 * boundary beyond, control characters replaced. */
static void error_text(void **state)
{
    msgpack_sbuffer sb;
    msg m;
    char err[256] = "";
    char text[MSG_ERROR_TEXT_MAX + 16];

    memset(text, 'a', sizeof text);
    text[MSG_ERROR_TEXT_MAX] = 0;
    legacy_error(&sb, 1, text);
    assert_int_equal(decode(sb.data + 4, sb.size - 4, &m, err, sizeof err), 0);
    assert_int_equal(m.error.text_len, MSG_ERROR_TEXT_MAX);
    assert_int_equal(m.error.truncated, 0);
    assert_string_equal(m.error.text, text);
    msgpack_sbuffer_destroy(&sb);

    text[MSG_ERROR_TEXT_MAX] = 'b';
    text[MSG_ERROR_TEXT_MAX + 1] = 0;
    legacy_error(&sb, 1, text);
    assert_int_equal(decode(sb.data + 4, sb.size - 4, &m, err, sizeof err), 0);
    assert_int_equal(m.error.text_len, MSG_ERROR_TEXT_MAX);
    assert_int_equal(m.error.truncated, 1);
    text[MSG_ERROR_TEXT_MAX] = 0;
    assert_string_equal(m.error.text, text);
    msgpack_sbuffer_destroy(&sb);

    /* a 3-byte character across the cut is dropped whole */
    memset(text, 'a', sizeof text);
    memcpy(text + MSG_ERROR_TEXT_MAX - 1, "あ", 3);
    text[MSG_ERROR_TEXT_MAX + 2] = 0;
    legacy_error(&sb, 1, text);
    assert_int_equal(decode(sb.data + 4, sb.size - 4, &m, err, sizeof err), 0);
    assert_int_equal(m.error.text_len, MSG_ERROR_TEXT_MAX - 1);
    assert_int_equal(m.error.truncated, 1);
    msgpack_sbuffer_destroy(&sb);
    /* ... and the encoder cuts the same way */
    assert_int_equal(msg_pack_error(&sb, 1, text), 0);
    uint8_t *keep;
    decode_keep(sb.data, sb.size, &m, &keep);
    assert_int_equal(m.error.text_len, MSG_ERROR_TEXT_MAX - 1);
    assert_int_equal(m.error.truncated, 0);   /* what was sent fit */
    free(keep);
    msgpack_sbuffer_destroy(&sb);

    /* control characters and NUL become '?' */
    msgpack_packer pk;
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 3);
    proto_pack_kv_str(&pk, "t", "error");
    proto_pack_kv_u64(&pk, "code", 4);
    proto_pack_cstr(&pk, "text");
    msgpack_pack_str(&pk, 8);
    msgpack_pack_str_body(&pk, "a\nb\0c\x1b[\x7f", 8);
    assert_int_equal(decode(sb.data, sb.size, &m, err, sizeof err), 0);
    assert_string_equal(m.error.text, "a?b?c?[?");
    assert_int_equal(m.error.text_len, 8);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- malformed messages ---- */

static void malformed_top(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;

    refused("", 0, "not a msgpack map");
    refused("\x91\xa1t", 3, "not a msgpack map");
    refused("\xc1", 1, "not a msgpack map");
    refused("\x80", 1, "without a type");
    /* a map announcing more than its buffer holds */
    refused("\xdf\xff\xff\xff\xff", 5, "map longer than its buffer");
    refused("\x82\xa1t\xa4ping", 7, "truncated");

    /* "t" of the wrong type, unknown "t" (quoted, escaped) */
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 1);
    proto_pack_kv_u64(&pk, "t", 1);
    refused_sb(&sb, "type is not a string");
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 1);
    proto_pack_kv_str(&pk, "t", "hell\no'");
    refused_sb(&sb, "unknown message type 'hell\\x0ao\\x27'");
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 1);
    proto_pack_kv_str(&pk, "t", "");
    refused_sb(&sb, "unknown message type ''");

    /* a key that is not a string */
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 2);
    proto_pack_kv_str(&pk, "t", "ping");
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_uint64(&pk, 2);
    refused_sb(&sb, "field name is not a string");

    /* trailing bytes after a valid message */
    for (int junk = 0; junk < 3; junk++) {
        body_begin(&sb, &pk);
        msgpack_pack_map(&pk, 1);
        proto_pack_kv_str(&pk, "t", "ping");
        if (junk == 0)
            msgpack_pack_nil(&pk);
        else if (junk == 1)
            msgpack_sbuffer_write(&sb, "\xc1", 1);
        else {
            msgpack_pack_map(&pk, 1);
            proto_pack_kv_str(&pk, "t", "ping");
        }
        refused_sb(&sb, "trailing bytes");
    }

    /* duplicate keys: the type, a known field, an unknown one */
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 2);
    proto_pack_kv_str(&pk, "t", "ping");
    proto_pack_kv_str(&pk, "t", "pong");
    refused_sb(&sb, "field 't' twice");
    proto_id d = id_of(1);
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 3);
    proto_pack_kv_str(&pk, "t", "digest");
    proto_pack_kv_bin(&pk, "d", d.b, 32);
    proto_pack_kv_bin(&pk, "d", d.b, 32);
    refused_sb(&sb, "field 'd' twice");
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 3);
    proto_pack_kv_u64(&pk, "x\x01", 1);
    proto_pack_kv_str(&pk, "t", "ping");
    proto_pack_kv_u64(&pk, "x\x01", 2);
    refused_sb(&sb, "field 'x\\x01' twice");

    /* junk in an unknown field: float, ext, a reserved byte */
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 2);
    proto_pack_kv_str(&pk, "t", "ping");
    proto_pack_cstr(&pk, "f");
    msgpack_pack_double(&pk, 1.5);
    refused_sb(&sb, "floating point");
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 2);
    proto_pack_kv_str(&pk, "t", "ping");
    proto_pack_cstr(&pk, "e");
    msgpack_pack_ext(&pk, 1, 1);
    msgpack_pack_ext_body(&pk, "x", 1);
    refused_sb(&sb, "ext types");
    body_begin(&sb, &pk);
    msgpack_pack_map(&pk, 2);
    proto_pack_kv_str(&pk, "t", "ping");
    proto_pack_cstr(&pk, "j");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_nil(&pk);
    msgpack_sbuffer_write(&sb, "\xc1", 1);
    refused_sb(&sb, "field 'j'");
}

static void hello_fields(msgpack_packer *pk, int skip, int bad)
{
    /* skip: which field to leave out (0 none, 1 v, 2 genesis, 3 digest, 4 vv);
     * bad: which field to break */
    proto_id g = id_of(1), d = id_of(2);
    msgpack_pack_map(pk, 5 - (skip != 0));
    proto_pack_kv_str(pk, "t", "hello");
    if (skip != 1) {
        proto_pack_cstr(pk, "v");
        if (bad == 1)
            proto_pack_cstr(pk, "1");
        else if (bad == 11)
            msgpack_pack_uint64(pk, 3);
        else if (bad == 12)
            msgpack_pack_int64(pk, -1);
        else
            msgpack_pack_uint64(pk, MSG_PROTO_VERSION);
    }
    if (skip != 2) {
        proto_pack_cstr(pk, "genesis");
        if (bad == 2)
            pk_binn(pk, 1, 31);
        else if (bad == 21)
            proto_pack_cstr(pk, "none");
        else if (bad == 22)
            msgpack_pack_false(pk);
        else
            pk_id(pk, &g);
    }
    if (skip != 3) {
        proto_pack_cstr(pk, "digest");
        if (bad == 3)
            pk_binn(pk, 1, 33);
        else if (bad == 31)
            msgpack_pack_nil(pk);
        else
            pk_id(pk, &d);
    }
    if (skip != 4) {
        proto_pack_cstr(pk, "vv");
        if (bad == 4) {
            msgpack_pack_map(pk, 0);
            return;
        }
        msgpack_pack_array(pk, 2);
        msgpack_pack_array(pk, 3);
        pk_id(pk, &g);
        msgpack_pack_uint64(pk, 5);
        pk_id(pk, &g);
        if (bad == 41) {            /* four elements */
            msgpack_pack_array(pk, 4);
            pk_id(pk, &g);
            msgpack_pack_uint64(pk, 5);
            pk_id(pk, &g);
            msgpack_pack_uint64(pk, 5);
        } else if (bad == 42) {     /* short author */
            msgpack_pack_array(pk, 3);
            pk_binn(pk, 1, 31);
            msgpack_pack_uint64(pk, 5);
            pk_id(pk, &g);
        } else if (bad == 43) {     /* negative seq */
            msgpack_pack_array(pk, 3);
            pk_id(pk, &g);
            msgpack_pack_int64(pk, -1);
            pk_id(pk, &g);
        } else if (bad == 44) {     /* seq as a string */
            msgpack_pack_array(pk, 3);
            pk_id(pk, &g);
            proto_pack_cstr(pk, "5");
            pk_id(pk, &g);
        } else if (bad == 45) {     /* not an array */
            pk_id(pk, &g);
        } else {
            msgpack_pack_array(pk, 3);
            pk_id(pk, &d);
            msgpack_pack_uint64(pk, 7);
            pk_id(pk, &d);
        }
    }
}

static void hello_case(int skip, int bad, const char *needle)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    body_begin(&sb, &pk);
    hello_fields(&pk, skip, bad);
    if (!needle) {
        msg m;
        char err[256] = "";
        if (decode(sb.data, sb.size, &m, err, sizeof err))
            fail_msg("hello (skip %d, bad %d) refused: %s", skip, bad, err);
        msgpack_sbuffer_destroy(&sb);
        return;
    }
    /* the type is known on failure */
    msg m;
    assert_int_equal(decode(sb.data, sb.size, &m, NULL, 0), -1);
    assert_int_equal(m.type, MSG_HELLO);
    refused_sb(&sb, needle);
}

static void malformed_hello(void **state)
{
    hello_case(0, 0, NULL);
    hello_case(1, 0, "malformed hello: no 'v'");
    hello_case(2, 0, "malformed hello: no 'genesis'");
    hello_case(3, 0, "malformed hello: no 'digest'");
    hello_case(4, 0, "malformed hello: no 'vv'");
    hello_case(0, 1, "'v' is not an unsigned integer");
    hello_case(0, 12, "'v' is not an unsigned integer");
    hello_case(0, 11, "protocol version 3 not supported (this node speaks 2)");
    /* the version is judged first, whatever else is wrong */
    hello_case(3, 11, "protocol version 3 not supported");
    hello_case(0, 2, "'genesis' is neither a 32-byte bin nor nil");
    hello_case(0, 21, "'genesis' is neither");
    hello_case(0, 22, "'genesis' is neither");
    hello_case(0, 3, "'digest' is not a 32-byte bin");
    hello_case(0, 31, "'digest' is not a 32-byte bin");
    hello_case(0, 4, "'vv' is not an array");
    hello_case(0, 41, "'vv' item 1: expected [author");
    hello_case(0, 42, "'vv' item 1");
    hello_case(0, 43, "'vv' item 1");
    hello_case(0, 44, "'vv' item 1");
    hello_case(0, 45, "'vv' item 1");
}

/* {t: type, field: [one item packed by fn]} or {t: type} when !field */
static void one_item(msgpack_sbuffer *sb, const char *type, const char *field,
                     void (*fn)(msgpack_packer *))
{
    msgpack_packer pk;
    body_begin(sb, &pk);
    msgpack_pack_map(&pk, field ? 2 : 1);
    proto_pack_kv_str(&pk, "t", type);
    if (field) {
        proto_pack_cstr(&pk, field);
        fn(&pk);
    }
}

static void w_from0(msgpack_packer *pk)
{
    proto_id a = id_of(1);
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3);
    pk_id(pk, &a);
    msgpack_pack_uint64(pk, 0);
    msgpack_pack_uint64(pk, 5);
}

static void w_backwards(msgpack_packer *pk)
{
    proto_id a = id_of(1);
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3);
    pk_id(pk, &a);
    msgpack_pack_uint64(pk, 6);
    msgpack_pack_uint64(pk, 5);
}

static void w_two(msgpack_packer *pk)
{
    proto_id a = id_of(1);
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    pk_id(pk, &a);
    msgpack_pack_uint64(pk, 1);
}

static void w_not_array(msgpack_packer *pk)
{
    msgpack_pack_uint64(pk, 1);
}

static void r_str(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    pk_binn(pk, 0, 3);
    proto_pack_cstr(pk, "record");
}

static void a_short_hash(msgpack_packer *pk)
{
    proto_id a = id_of(1);
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3);
    pk_id(pk, &a);
    msgpack_pack_uint64(pk, 1);
    pk_binn(pk, 0, 31);
}

static void a_seq_bool(msgpack_packer *pk)
{
    proto_id a = id_of(1);
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3);
    pk_id(pk, &a);
    msgpack_pack_true(pk);
    pk_id(pk, &a);
}

static void d_nil(msgpack_packer *pk)
{
    msgpack_pack_nil(pk);
}

static void d_short(msgpack_packer *pk)
{
    pk_binn(pk, 0, 16);
}

static void code_str(msgpack_packer *pk)
{
    proto_pack_cstr(pk, "1");
}

static void text_bin(msgpack_packer *pk)
{
    pk_binn(pk, 'a', 4);
}

static void malformed_lists_and_fields(void **state)
{
    msgpack_sbuffer sb;
    one_item(&sb, "want", "r", w_from0);
    refused_sb(&sb, "malformed want: 'r' item 0: empty range");
    one_item(&sb, "want", "r", w_backwards);
    refused_sb(&sb, "empty range");
    one_item(&sb, "want", "r", w_two);
    refused_sb(&sb, "'r' item 0: expected [author");
    one_item(&sb, "want", "r", w_not_array);
    refused_sb(&sb, "'r' is not an array");
    one_item(&sb, "want", NULL, NULL);
    refused_sb(&sb, "malformed want: no 'r'");

    one_item(&sb, "records", "recs", r_str);
    refused_sb(&sb, "malformed records: 'recs' item 1: expected a bin");
    one_item(&sb, "records", NULL, NULL);
    refused_sb(&sb, "no 'recs'");

    one_item(&sb, "announce", "a", a_short_hash);
    refused_sb(&sb, "malformed announce: 'a' item 0");
    one_item(&sb, "announce", "a", a_seq_bool);
    refused_sb(&sb, "'a' item 0");
    one_item(&sb, "announce", NULL, NULL);
    refused_sb(&sb, "no 'a'");

    one_item(&sb, "digest", "d", d_nil);
    refused_sb(&sb, "malformed digest: 'd' is not a 32-byte bin");
    one_item(&sb, "digest", "d", d_short);
    refused_sb(&sb, "'d' is not a 32-byte bin");
    one_item(&sb, "digest", NULL, NULL);
    refused_sb(&sb, "no 'd'");

    one_item(&sb, "error", "code", code_str);
    refused_sb(&sb, "'code' is not an unsigned integer");
    one_item(&sb, "error", "text", text_bin);
    refused_sb(&sb, "'text' is not a string");
}

/* Every proper prefix of every valid message is refused (with a message),
 * and so is each frame with one byte appended. */
static void truncated_frames(void **state)
{
    msgpack_sbuffer f[8];
    proto_id g = id_of(1), d = id_of(2);
    vv_ent vv[] = { { id_of(3), 300 }, { id_of(4), 1 } };
    want_ent w[] = { { id_of(5), 1, 70000 } };
    ann_ent a[] = { { id_of(6), 2, id_of(7) } };
    const uint8_t rec[] = { 0x92, 0xc4, 0x01, 0x00, 0xc4, 0x01, 0x00 };
    const uint8_t *recs[] = { rec, rec };
    const size_t lens[] = { sizeof rec, 3 };
    legacy_hello(&f[0], &g, &d, vv, 2);
    legacy_want(&f[1], w, 1);
    legacy_records(&f[2], recs, lens, 2);
    legacy_announce(&f[3], a, 1);
    legacy_digest(&f[4], &d);
    legacy_bare(&f[5], "ping");
    legacy_bare(&f[6], "pong");
    legacy_error(&f[7], 1, "bye");
    for (int i = 0; i < 8; i++) {
        const uint8_t *body = (const uint8_t *)f[i].data + 4;
        size_t n = f[i].size - 4;
        msg m;
        char err[256];
        assert_int_equal(decode(body, n, &m, err, sizeof err), 0);
        for (size_t k = 0; k < n; k++) {
            err[0] = 0;
            if (decode(body, k, &m, err, sizeof err) == 0)
                fail_msg("message %d cut to %zu of %zu bytes accepted", i, k, n);
            assert_true(err[0] != 0);
        }
        uint8_t *more = malloc(n + 1);
        memcpy(more, body, n);
        more[n] = 0;
        refused(more, n + 1, "trailing bytes");
        free(more);
        msgpack_sbuffer_destroy(&f[i]);
    }
}

/* ---- iterators ---- */

static void iterators(void **state)
{
    msg_list l;
    proto_id a = id_of(1), d = id_of(2);
    assert_int_equal(msg_list_init_hello(&l, NULL, &d), 0);
    assert_int_equal(msg_list_add_vv(&l, &a, 3, VVCH), 0);
    assert_int_equal(msg_list_add_vv(&l, &d, 4, VVCH), 0);
    size_t len;
    const uint8_t *fr = msg_list_frame(&l, &len);
    msg m;
    uint8_t *keep;
    decode_keep(fr, len, &m, &keep);

    /* the next function of another type yields nothing, and leaves the
     * iterator usable */
    msg_iter it, it2;
    proto_id x, h;
    uint64_t s, t;
    const uint8_t *r;
    size_t rl;
    msg_iter_init(&it, &m);
    assert_int_equal(msg_want_next(&it, &x, &s, &t), 0);
    assert_int_equal(msg_records_next(&it, &r, &rl), 0);
    assert_int_equal(msg_announce_next(&it, &x, &s, &h), 0);
    assert_int_equal(msg_vv_next(&it, &x, &s, VVCH), 1);
    assert_true(s == 3);
    /* two iterators over one list are independent; a copy of m works too */
    msg copy = m;
    msg_iter_init(&it2, &copy);
    assert_int_equal(msg_vv_next(&it2, &x, &s, VVCH), 1);
    assert_true(s == 3);
    assert_int_equal(msg_vv_next(&it, &x, &s, VVCH), 1);
    assert_true(s == 4);
    assert_memory_equal(x.b, d.b, 32);
    assert_int_equal(msg_vv_next(&it, &x, &s, VVCH), 0);
    assert_int_equal(msg_vv_next(&it2, &x, &s, VVCH), 1);
    assert_int_equal(msg_vv_next(&it2, &x, &s, VVCH), 0);
    free(keep);

    /* an empty list */
    msg_list_reset(&l);
    fr = msg_list_frame(&l, &len);
    decode_keep(fr, len, &m, &keep);
    assert_int_equal(msg_count(&m), 0);
    msg_iter_init(&it, &m);
    assert_int_equal(msg_vv_next(&it, &x, &s, VVCH), 0);
    free(keep);
    msg_list_destroy(&l);
}

/* ---- the builder ---- */

static void builder_rules(void **state)
{
    msg_list l;
    proto_id a = id_of(1), h = id_of(2);
    uint8_t rec[8] = { 0 };
    size_t len;

    /* types without a list, and hello through the wrong init */
    assert_int_equal(msg_list_init(&l, MSG_PING), -1);
    assert_null(msg_list_frame(&l, &len));
    assert_int_equal(len, 0);
    assert_int_equal(msg_list_add_record(&l, rec, 1), -1);
    msg_list_destroy(&l);
    assert_int_equal(msg_list_init(&l, MSG_HELLO), -1);
    msg_list_destroy(&l);
    assert_int_equal(msg_list_init(&l, 0), -1);
    msg_list_destroy(&l);

    /* items of another type, invalid items: refused, builder unchanged */
    assert_int_equal(msg_list_init(&l, MSG_WANT), 0);
    assert_int_equal(msg_list_add_want(&l, &a, 1, 1), 0);
    size_t before = msg_list_bytes(&l);
    assert_int_equal(msg_list_add_record(&l, rec, 1), -1);
    assert_int_equal(msg_list_add_vv(&l, &a, 1, VVCH), -1);
    assert_int_equal(msg_list_add_announce(&l, &a, 1, &h), -1);
    assert_int_equal(msg_list_add_want(&l, &a, 0, 1), -1);
    assert_int_equal(msg_list_add_want(&l, &a, 5, 4), -1);
    assert_int_equal(msg_list_count(&l), 1);
    assert_int_equal(msg_list_bytes(&l), before);
    /* the frame may be asked for again, also after more adds */
    const uint8_t *f1 = msg_list_frame(&l, &len);
    uint8_t *copy1 = malloc(len);
    memcpy(copy1, f1, len);
    size_t len1 = len;
    const uint8_t *f2 = msg_list_frame(&l, &len);
    assert_same_bytes(f2, len, copy1, len1);
    assert_int_equal(msg_list_add_want(&l, &h, 2, 9), 0);
    f2 = msg_list_frame(&l, &len);
    assert_true(len > len1);
    msg m;
    uint8_t *keep;
    decode_keep(f2, len, &m, &keep);
    assert_int_equal(msg_count(&m), 2);
    free(keep);
    free(copy1);
    msg_list_destroy(&l);

    assert_int_equal(msg_list_init(&l, MSG_RECORDS), 0);
    uint8_t *big = calloc(1, PROTO_RECORD_MAX + 1);
    assert_int_equal(msg_list_add_record(&l, big, PROTO_RECORD_MAX + 1), -1);
    assert_int_equal(msg_list_add_record(&l, big, PROTO_RECORD_MAX), 0);
    free(big);
    msg_list_destroy(&l);
}

/* The builder stops at the count limit and at the frame limit, and what it
 * built up to there decodes. */
static void builder_limits(void **state)
{
    msg_list l;
    proto_id a = id_of(1), h = id_of(2);
    size_t len;
    const uint8_t *f;
    msg m;
    uint8_t *keep;

    /* counts */
    assert_int_equal(msg_list_init_hello(&l, &a, &h), 0);
    for (uint32_t i = 0; i < MSG_VV_MAX; i++)
        assert_int_equal(msg_list_add_vv(&l, &a, UINT64_MAX, VVCH), 0);
    assert_int_equal(msg_list_add_vv(&l, &a, 1, VVCH), MSG_LIST_FULL);
    f = msg_list_frame(&l, &len);
    decode_keep(f, len, &m, &keep);
    assert_int_equal(msg_count(&m), MSG_VV_MAX);
    free(keep);
    /* reset: room again, the hello's fields kept */
    msg_list_reset(&l);
    assert_int_equal(msg_list_add_vv(&l, &a, 1, VVCH), 0);
    f = msg_list_frame(&l, &len);
    decode_keep(f, len, &m, &keep);
    assert_int_equal(m.hello.has_genesis, 1);
    assert_memory_equal(m.hello.genesis.b, a.b, 32);
    assert_memory_equal(m.hello.digest.b, h.b, 32);
    free(keep);
    msg_list_destroy(&l);

    /* announces and wants: the frame limit binds before the count limit
     * (65536 entries of 72 bytes, 100000 ranges of 53 bytes exceed 4 MiB) */
    assert_int_equal(msg_list_init(&l, MSG_ANNOUNCE), 0);
    uint32_t k = 0;
    while (msg_list_add_announce(&l, &a, k, &h) == 0)
        k++;
    assert_int_equal(msg_list_add_announce(&l, &a, k, &h), MSG_LIST_FULL);
    assert_true(k > PROTO_PEER_FRAME_MAX / 73 && k < MSG_ANNOUNCE_MAX);
    f = msg_list_frame(&l, &len);
    assert_true(len - 4 <= PROTO_PEER_FRAME_MAX && len - 4 > PROTO_PEER_FRAME_MAX - 72);
    decode_keep(f, len, &m, &keep);
    assert_int_equal(msg_count(&m), k);
    free(keep);
    msg_list_destroy(&l);

    assert_int_equal(msg_list_init(&l, MSG_WANT), 0);
    k = 0;
    while (msg_list_add_want(&l, &a, 1, UINT64_MAX) == 0)
        k++;
    assert_int_equal(msg_list_add_want(&l, &a, 1, UINT64_MAX), MSG_LIST_FULL);
    assert_true(k > PROTO_PEER_FRAME_MAX / 54 && k < MSG_WANT_RANGES_MAX);
    f = msg_list_frame(&l, &len);
    assert_true(len - 4 <= PROTO_PEER_FRAME_MAX);
    decode_keep(f, len, &m, &keep);
    assert_int_equal(msg_count(&m), k);
    free(keep);
    msg_list_destroy(&l);

    /* records: big ones fill the frame; the last that fits, then FULL; the
     * frame is at most PROTO_PEER_FRAME_MAX and decodes */
    uint8_t *rec = calloc(1, PROTO_RECORD_MAX);
    assert_int_equal(msg_list_init(&l, MSG_RECORDS), 0);
    uint32_t n = 0;
    int rc;
    while ((rc = msg_list_add_record(&l, rec, PROTO_RECORD_MAX)) == 0)
        n++;
    assert_int_equal(rc, MSG_LIST_FULL);
    assert_int_equal(n, PROTO_PEER_FRAME_MAX / (PROTO_RECORD_MAX + 5) );
    f = msg_list_frame(&l, &len);
    assert_true(len - 4 <= PROTO_PEER_FRAME_MAX);
    /* what proto_frame_take accepts, and the decoder too */
    proto_buf b = { 0 };
    const uint8_t *body;
    size_t bl;
    assert_int_equal(proto_buf_append(&b, f, len), 0);
    assert_int_equal(proto_frame_take(&b, PROTO_PEER_FRAME_MAX, &body, &bl), 1);
    assert_int_equal(msg_decode(body, bl, &m, NULL, 0), 0);
    assert_int_equal(msg_count(&m), n);
    proto_buf_free(&b);
    /* the limit is exact: a record that brings the body to exactly
     * PROTO_PEER_FRAME_MAX fits, one byte more does not (the array header
     * of 63 and 64 items is the same size; a bin16 header is 3 bytes) */
    size_t rest = PROTO_PEER_FRAME_MAX - (len - 4) - 3;
    assert_true(rest >= 256 && rest < 65536);
    assert_int_equal(msg_list_add_record(&l, rec, rest + 1), MSG_LIST_FULL);
    assert_int_equal(msg_list_add_record(&l, rec, rest), 0);
    f = msg_list_frame(&l, &len);
    assert_int_equal(len - 4, PROTO_PEER_FRAME_MAX);
    decode_keep(f, len, &m, &keep);
    assert_int_equal(msg_count(&m), n + 1);
    free(keep);
    assert_int_equal(msg_list_add_record(&l, rec, 0), MSG_LIST_FULL);
    msg_list_reset(&l);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(msg_list_add_record(&l, rec, PROTO_RECORD_MAX), 0);
    /* small records still fit into the rest */
    uint32_t small = 0;
    while (msg_list_add_record(&l, rec, 100) == 0)
        small++;
    assert_true(small > 0);
    f = msg_list_frame(&l, &len);
    assert_true(len - 4 <= PROTO_PEER_FRAME_MAX);
    assert_true(len - 4 > PROTO_PEER_FRAME_MAX - 102);
    decode_keep(f, len, &m, &keep);
    assert_int_equal(msg_count(&m), n + small);
    free(keep);
    /* after a reset a full-size record fits at once */
    msg_list_reset(&l);
    assert_int_equal(msg_list_add_record(&l, rec, PROTO_RECORD_MAX), 0);
    free(rec);
    msg_list_destroy(&l);

    /* the count limit of records, with empty bins */
    assert_int_equal(msg_list_init(&l, MSG_RECORDS), 0);
    for (uint32_t i = 0; i < MSG_RECORDS_MAX; i++)
        assert_int_equal(msg_list_add_record(&l, (const uint8_t *)"", 0), 0);
    assert_int_equal(msg_list_add_record(&l, (const uint8_t *)"", 0), MSG_LIST_FULL);
    msg_list_destroy(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),
        cmocka_unit_test(sums_points),
        cmocka_unit_test(roundtrip_hello),
        cmocka_unit_test(roundtrip_want),
        cmocka_unit_test(roundtrip_records),
        cmocka_unit_test(roundtrip_announce),
        cmocka_unit_test(roundtrip_fixed),
        cmocka_unit_test(other_senders),
        cmocka_unit_test(unknown_keys_skipped),
        cmocka_unit_test(tree_flags),
        cmocka_unit_test(list_limits),
        cmocka_unit_test(size_limits),
        cmocka_unit_test(error_text),
        cmocka_unit_test(malformed_top),
        cmocka_unit_test(malformed_hello),
        cmocka_unit_test(malformed_lists_and_fields),
        cmocka_unit_test(truncated_frames),
        cmocka_unit_test(iterators),
        cmocka_unit_test(builder_rules),
        cmocka_unit_test(builder_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
