/* Fuzz target: peer frames, decoded the way a connection does it.
 *
 * The input is a byte stream from a peer: frames are taken out of it with
 * proto_frame_take and the peer frame limit (as daemon/peer.c does, the
 * bytes arriving in two pieces), and each frame body goes to msg_decode.
 * Of every message that decodes, every list is walked through its iterator
 * (which must yield exactly msg_count items, each within the documented
 * bounds), and the message is built again with the encoders: that frame
 * must decode to the same message.  A broken promise aborts. */
#include "proto/frame.h"
#include "proto/msg.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* Walk m's list; the number of items. */
static uint32_t walk(const msg *m)
{
    msg_iter it;
    proto_id a, h;
    uint64_t s, t;
    const uint8_t *r;
    size_t rl;
    uint32_t n = 0;
    msg_iter_init(&it, m);
    switch (m->type) {
    case MSG_HELLO:
        CHECK(m->hello.v == MSG_PROTO_VERSION);
        while (msg_vv_next(&it, &a, &s, &h))
            n++;
        break;
    case MSG_SUMS:
        CHECK(m->sums.lo >= 1 && m->sums.hi >= m->sums.lo);
        break;
    case MSG_POINTS:
        CHECK(m->points.lo >= 1 && m->points.hi >= m->points.lo);
        t = 0;
        while (msg_points_next(&it, &s, &h)) {
            CHECK(s >= m->points.lo && s <= m->points.hi && (!n || s > t));
            t = s;
            n++;
        }
        CHECK(n <= MSG_SUMS_MAX);
        break;
    case MSG_WANT:
        while (msg_want_next(&it, &a, &s, &t)) {
            CHECK(s >= 1 && t >= s);
            n++;
        }
        break;
    case MSG_RECORDS:
        while (msg_records_next(&it, &r, &rl)) {
            CHECK(rl <= PROTO_RECORD_MAX);
            n++;
        }
        break;
    case MSG_ANNOUNCE:
        while (msg_announce_next(&it, &a, &s, &h))
            n++;
        break;
    case MSG_ERROR:
        CHECK(m->error.text_len <= MSG_ERROR_TEXT_MAX);
        CHECK(strlen(m->error.text) == m->error.text_len);
        for (size_t i = 0; i < m->error.text_len; i++)
            CHECK((unsigned char)m->error.text[i] >= 0x20 && m->error.text[i] != 0x7f);
        break;
    default:
        break;
    }
    /* the next functions of other types yield nothing */
    msg_iter_init(&it, m);
    if (m->type != MSG_HELLO)
        CHECK(!msg_vv_next(&it, &a, &s, &h));
    if (m->type != MSG_POINTS)
        CHECK(!msg_points_next(&it, &s, &h));
    if (m->type != MSG_WANT)
        CHECK(!msg_want_next(&it, &a, &s, &t));
    if (m->type != MSG_RECORDS)
        CHECK(!msg_records_next(&it, &r, &rl));
    if (m->type != MSG_ANNOUNCE)
        CHECK(!msg_announce_next(&it, &a, &s, &h));
    return n;
}

/* Decode a frame made by an encoder (4-byte prefix included) into *out;
 * the body copy is returned for iterating (the caller frees it). */
static uint8_t *decode_own(const uint8_t *f, size_t len, msg *out)
{
    CHECK(f && len >= 4 && len - 4 <= PROTO_PEER_FRAME_MAX);
    size_t n = (size_t)f[0] << 24 | (size_t)f[1] << 16 | (size_t)f[2] << 8 | f[3];
    CHECK(n == len - 4);
    uint8_t *b = malloc(n);
    CHECK(b);
    memcpy(b, f + 4, n);
    CHECK(msg_decode(b, n, out, NULL, 0) == 0);
    return b;
}

/* Build m again with the encoders, decode that, compare. */
static void reencode(const msg *m)
{
    msg_list l;
    msgpack_sbuffer sb;
    msg m2;
    uint8_t *keep = NULL;
    msg_iter it, it2;
    proto_id a, h, a2, h2;
    uint64_t s, t, s2, t2;
    const uint8_t *r, *r2;
    size_t rl, rl2, len;

    switch (m->type) {
    case MSG_HELLO:
    case MSG_WANT:
    case MSG_RECORDS:
    case MSG_ANNOUNCE:
        if (m->type == MSG_HELLO)
            CHECK(msg_list_init_hello(&l, m->hello.has_genesis ? &m->hello.genesis : NULL,
                                      &m->hello.digest) == 0);
        else
            CHECK(msg_list_init(&l, m->type) == 0);
        msg_iter_init(&it, m);
        for (;;) {
            int rc;
            if (m->type == MSG_HELLO && msg_vv_next(&it, &a, &s, &h))
                rc = msg_list_add_vv(&l, &a, s, &h);
            else if (m->type == MSG_WANT && msg_want_next(&it, &a, &s, &t))
                rc = msg_list_add_want(&l, &a, s, t);
            else if (m->type == MSG_RECORDS && msg_records_next(&it, &r, &rl))
                rc = msg_list_add_record(&l, r, rl);
            else if (m->type == MSG_ANNOUNCE && msg_announce_next(&it, &a, &s, &h))
                rc = msg_list_add_announce(&l, &a, s, &h);
            else
                break;
            /* what a peer may send fits one of our frames: the re-encoding
             * is never longer than the input (same or shorter forms) */
            CHECK(rc == 0);
        }
        r = msg_list_frame(&l, &len);
        keep = decode_own(r, len, &m2);
        CHECK(m2.type == m->type && msg_count(&m2) == msg_count(m));
        if (m->type == MSG_HELLO) {
            CHECK(m2.hello.has_genesis == m->hello.has_genesis);
            CHECK(!m->hello.has_genesis || !memcmp(&m2.hello.genesis, &m->hello.genesis, 32));
            CHECK(!memcmp(&m2.hello.digest, &m->hello.digest, 32));
        }
        msg_iter_init(&it, m);
        msg_iter_init(&it2, &m2);
        switch (m->type) {
        case MSG_HELLO:
            while (msg_vv_next(&it, &a, &s, &h)) {
                CHECK(msg_vv_next(&it2, &a2, &s2, &h2));
                CHECK(!memcmp(&a, &a2, 32) && s == s2 && !memcmp(&h, &h2, 32));
            }
            CHECK(!msg_vv_next(&it2, &a2, &s2, &h2));
            break;
        case MSG_WANT:
            while (msg_want_next(&it, &a, &s, &t)) {
                CHECK(msg_want_next(&it2, &a2, &s2, &t2));
                CHECK(!memcmp(&a, &a2, 32) && s == s2 && t == t2);
            }
            CHECK(!msg_want_next(&it2, &a2, &s2, &t2));
            break;
        case MSG_RECORDS:
            while (msg_records_next(&it, &r, &rl)) {
                CHECK(msg_records_next(&it2, &r2, &rl2));
                CHECK(rl == rl2 && (!rl || !memcmp(r, r2, rl)));
            }
            CHECK(!msg_records_next(&it2, &r2, &rl2));
            break;
        default:
            while (msg_announce_next(&it, &a, &s, &h)) {
                CHECK(msg_announce_next(&it2, &a2, &s2, &h2));
                CHECK(!memcmp(&a, &a2, 32) && s == s2 && !memcmp(&h, &h2, 32));
            }
            CHECK(!msg_announce_next(&it2, &a2, &s2, &h2));
            break;
        }
        msg_list_destroy(&l);
        break;
    case MSG_SUMS:
        CHECK(msg_pack_sums(&sb, &m->sums.author, m->sums.lo, m->sums.hi) == 0);
        keep = decode_own((const uint8_t *)sb.data, sb.size, &m2);
        CHECK(m2.type == MSG_SUMS && !memcmp(&m2.sums.author, &m->sums.author, 32) &&
              m2.sums.lo == m->sums.lo && m2.sums.hi == m->sums.hi);
        msgpack_sbuffer_destroy(&sb);
        break;
    case MSG_POINTS: {
        uint64_t seqs[MSG_SUMS_MAX];
        proto_id chains[MSG_SUMS_MAX];
        uint32_t np = 0;
        msg_iter_init(&it, m);
        while (np < MSG_SUMS_MAX && msg_points_next(&it, &seqs[np], &chains[np]))
            np++;
        CHECK(msg_pack_points(&sb, &m->points.author, m->points.lo, m->points.hi, seqs, chains, np) == 0);
        keep = decode_own((const uint8_t *)sb.data, sb.size, &m2);
        CHECK(m2.type == MSG_POINTS && msg_count(&m2) == np && m2.points.lo == m->points.lo &&
              m2.points.hi == m->points.hi);
        msg_iter_init(&it2, &m2);
        for (uint32_t i = 0; i < np; i++) {
            CHECK(msg_points_next(&it2, &s2, &h2));
            CHECK(s2 == seqs[i] && !memcmp(&h2, &chains[i], 32));
        }
        msgpack_sbuffer_destroy(&sb);
        break;
    }
    case MSG_DIGEST:
        CHECK(msg_pack_digest(&sb, &m->digest.d) == 0);
        keep = decode_own((const uint8_t *)sb.data, sb.size, &m2);
        CHECK(m2.type == MSG_DIGEST && !memcmp(&m2.digest.d, &m->digest.d, 32));
        msgpack_sbuffer_destroy(&sb);
        break;
    case MSG_PING:
    case MSG_PONG:
        CHECK((m->type == MSG_PING ? msg_pack_ping(&sb) : msg_pack_pong(&sb)) == 0);
        keep = decode_own((const uint8_t *)sb.data, sb.size, &m2);
        CHECK(m2.type == m->type);
        msgpack_sbuffer_destroy(&sb);
        break;
    case MSG_ERROR:
        CHECK(msg_pack_error(&sb, m->error.code, m->error.text) == 0);
        keep = decode_own((const uint8_t *)sb.data, sb.size, &m2);
        CHECK(m2.type == MSG_ERROR && m2.error.code == m->error.code && !m2.error.truncated);
        CHECK(m2.error.text_len == m->error.text_len && !strcmp(m2.error.text, m->error.text));
        msgpack_sbuffer_destroy(&sb);
        break;
    }
    free(keep);
}

static void one_frame(const uint8_t *f, size_t fl)
{
    /* an exact-size copy: an over-read past the frame shows under ASan */
    uint8_t *b = malloc(fl ? fl : 1);
    msg m;
    char err[256];
    if (!b)
        return;
    memcpy(b, f, fl);
    err[0] = 0;
    if (msg_decode(b, fl, &m, err, sizeof err) == 0) {
        CHECK(m.type >= MSG_HELLO && m.type <= MSG_TYPE_LAST);
        CHECK(walk(&m) == msg_count(&m));
        reencode(&m);
    } else {
        /* every refusal says why, in printable text */
        CHECK(err[0]);
        for (const char *p = err; *p; p++)
            CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
    }
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_buf b = { 0 };
    /* feed in two pieces to exercise partial frames */
    size_t half = size / 2;
    proto_buf_append(&b, data, half);
    for (int round = 0; round < 2; round++) {
        const uint8_t *f;
        size_t fl;
        int rc;
        while ((rc = proto_frame_take(&b, PROTO_PEER_FRAME_MAX, &f, &fl)) == 1)
            one_frame(f, fl);
        if (rc < 0)
            break;   /* the connection would be closed */
        if (round == 0)
            proto_buf_append(&b, data + half, size - half);
    }
    proto_buf_free(&b);
    return 0;
}
