/* proto/msg.c — typed peer messages; see msg.h. */
#include "proto/msg.h"
#include "proto/frame.h"
#include "proto/util.h"

#include <stdio.h>
#include <string.h>

/* ---- names ---- */

static const char *const type_names[MSG_TYPE_LAST + 1] = {
    [MSG_HELLO] = "hello",     [MSG_WANT] = "want",   [MSG_RECORDS] = "records",
    [MSG_ANNOUNCE] = "announce", [MSG_DIGEST] = "digest", [MSG_PING] = "ping",
    [MSG_PONG] = "pong",       [MSG_ERROR] = "error", [MSG_SUMS] = "sums",
    [MSG_POINTS] = "points",
};

const char *msg_type_name(enum msg_type t)
{
    if ((unsigned)t < 1 || (unsigned)t > MSG_TYPE_LAST)
        return "?";
    return type_names[t];
}

enum msg_type msg_type_from(const char *s, size_t len)
{
    for (unsigned t = 1; t <= MSG_TYPE_LAST; t++)
        if (strlen(type_names[t]) == len && !memcmp(type_names[t], s, len))
            return (enum msg_type)t;
    return 0;
}

const char *msg_error_name(uint64_t code)
{
    switch (code) {
    case MSG_ERR_PROTO: return "protocol";
    case MSG_ERR_ALLIANCE: return "alliance";
    case MSG_ERR_RECORD: return "record";
    case MSG_ERR_SIGNATURE: return "signature";
    case MSG_ERR_LIMIT: return "limit";
    case MSG_ERR_FULL: return "full";
    default: return "?";
    }
}

/* ---- decoding ---- */

/* Every field name any message uses.  A key that is not one of these, or is
 * one but not of the message's type, is skipped. */
enum { K_T, K_V, K_GENESIS, K_DIGEST, K_VV, K_R, K_RECS, K_A, K_D, K_CODE, K_TEXT,
       K_AUTHOR, K_LO, K_HI, K_P, K_PUSH, K_AGAIN, K_COUNT };
static const char *const key_names[K_COUNT] = {
    "t", "v", "genesis", "digest", "vv", "r", "recs", "a", "d", "code", "text",
    "author", "lo", "hi", "p", "push", "again",
};

/* Where each known field's value starts (valid when have[k]). */
typedef struct {
    proto_rd at[K_COUNT];
    int have[K_COUNT];
} field_pos;

/* Peer-supplied bytes quoted in an error message: printable ASCII as is,
 * anything else as \xNN, at most `max` input bytes (then "..."). */
static void quote(char *out, size_t outlen, const char *s, size_t n, size_t max)
{
    size_t o = 0;
    for (size_t i = 0; i < n && i < max && o + 5 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
    }
    if (n > max && o + 4 < outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    if (outlen)
        out[o < outlen ? o : outlen - 1] = 0;
}

/* Pass 1: the top-level map.  Every key is checked (str, length, no
 * duplicate), every value is skipped within the depth limit, the map must
 * end the frame; the known keys' positions are noted. */
static int scan_fields(const uint8_t *frame, size_t len, field_pos *f, char *err, size_t errlen)
{
    proto_rd r;
    uint32_t n;
    const char *keys[MSG_FIELDS_MAX];
    uint32_t klens[MSG_FIELDS_MAX];
    proto_rd_init(&r, frame, len);
    memset(f->have, 0, sizeof f->have);
    if (proto_rd_peek(&r) != PROTO_MP_MAP)
        return proto_err(err, errlen, "message is not a msgpack map");
    if (proto_rd_map(&r, &n))
        return proto_err(err, errlen, "malformed message: %s", r.err);
    if (n > MSG_FIELDS_MAX)
        return proto_err(err, errlen, "message has %u fields, more than %u", n, MSG_FIELDS_MAX);
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        uint32_t kl;
        char q[MSG_KEY_MAX * 4 + 8];
        if (proto_rd_peek(&r) == PROTO_MP_NONE)
            return proto_err(err, errlen, "message truncated");
        if (proto_rd_peek(&r) != PROTO_MP_STR)
            return proto_err(err, errlen, "message field name is not a string");
        if (proto_rd_str(&r, &k, &kl))
            return proto_err(err, errlen, "malformed message: %s", r.err);
        if (kl > MSG_KEY_MAX)
            return proto_err(err, errlen, "message field name longer than %u bytes", MSG_KEY_MAX);
        for (uint32_t j = 0; j < i; j++)
            if (klens[j] == kl && !memcmp(keys[j], k, kl)) {
                quote(q, sizeof q, k, kl, MSG_KEY_MAX);
                return proto_err(err, errlen, "message has field '%s' twice", q);
            }
        keys[i] = k;
        klens[i] = kl;
        proto_rd at = r;
        if (proto_rd_skip(&r, MSG_SKIP_DEPTH)) {
            quote(q, sizeof q, k, kl, MSG_KEY_MAX);
            return proto_err(err, errlen, "message field '%s': %s", q, r.err);
        }
        for (int x = 0; x < K_COUNT; x++)
            if (strlen(key_names[x]) == kl && !memcmp(key_names[x], k, kl)) {
                f->at[x] = at;
                f->have[x] = 1;
                break;
            }
    }
    if (!proto_rd_done(&r))
        return proto_err(err, errlen, "trailing bytes after the message");
    return 0;
}

/* The context of a per-type decode, for error messages. */
typedef struct {
    const char *type;
    char *err;
    size_t errlen;
} dctx;

static int need(const field_pos *f, int k, const dctx *c)
{
    if (!f->have[k])
        return proto_err(c->err, c->errlen, "malformed %s: no '%s'", c->type, key_names[k]);
    return 0;
}

static int rd_id(proto_rd *r, proto_id *out)
{
    return proto_rd_binfix(r, out->b, sizeof out->b);
}

static int field_id(const field_pos *f, int k, proto_id *out, const dctx *c)
{
    proto_rd r = f->at[k];
    if (need(f, k, c))
        return -1;
    if (rd_id(&r, out))
        return proto_err(c->err, c->errlen, "malformed %s: '%s' is not a %u-byte bin", c->type,
                         key_names[k], PROTO_ID_LEN);
    return 0;
}

/* One list item: 0 if valid (the cursor moved past it), else -1 with a
 * description of what the item should be in *why. */
typedef int (*item_fn)(proto_rd *r, const char **why);

static int item_vv(proto_rd *r, const char **why)
{
    uint32_t k;
    proto_id a, chain;
    uint64_t seq;
    *why = "expected [author (32-byte bin), seq (uint), chain (32-byte bin)]";
    return proto_rd_array(r, &k) || k != 3 || rd_id(r, &a) || proto_rd_uint(r, &seq) ||
                   rd_id(r, &chain)
               ? -1
               : 0;
}

static int item_want(proto_rd *r, const char **why)
{
    uint32_t k;
    proto_id a;
    uint64_t from, to;
    *why = "expected [author (32-byte bin), from (uint), to (uint)]";
    if (proto_rd_array(r, &k) || k != 3 || rd_id(r, &a) || proto_rd_uint(r, &from) ||
        proto_rd_uint(r, &to))
        return -1;
    if (from == 0 || to < from) {
        *why = "empty range (needs 1 <= from <= to)";
        return -1;
    }
    return 0;
}

static int item_record(proto_rd *r, const char **why)
{
    const uint8_t *b;
    uint32_t len;
    *why = "expected a bin";
    if (proto_rd_bin(r, &b, &len))
        return -1;
    if (len > PROTO_RECORD_MAX) {
        *why = "a record longer than PROTO_RECORD_MAX (64 KiB)";
        return -1;
    }
    return 0;
}

static int item_announce(proto_rd *r, const char **why)
{
    uint32_t k;
    proto_id a, h;
    uint64_t seq;
    *why = "expected [author (32-byte bin), seq (uint), hash (32-byte bin)]";
    return proto_rd_array(r, &k) || k != 3 || rd_id(r, &a) || proto_rd_uint(r, &seq) ||
                   rd_id(r, &h)
               ? -1
               : 0;
}

static int field_list(const field_pos *f, int k, uint32_t max, item_fn item, msg_items *out,
                      const dctx *c)
{
    proto_rd r = f->at[k];
    uint32_t n;
    if (need(f, k, c))
        return -1;
    if (proto_rd_array(&r, &n))
        return proto_err(c->err, c->errlen, "malformed %s: '%s' is not an array", c->type,
                         key_names[k]);
    if (n > max)
        return proto_err(c->err, c->errlen, "malformed %s: '%s' has %u items, more than %u", c->type,
                         key_names[k], n, max);
    out->p = r.p;
    for (uint32_t i = 0; i < n; i++) {
        const char *why;
        if (item(&r, &why))
            return proto_err(c->err, c->errlen, "malformed %s: '%s' item %u: %s", c->type,
                             key_names[k], i, why);
    }
    out->end = r.p;
    out->n = n;
    return 0;
}

static int field_uint(const field_pos *f, int k, uint64_t *out, const dctx *c)
{
    proto_rd r = f->at[k];
    if (need(f, k, c))
        return -1;
    if (proto_rd_uint(&r, out))
        return proto_err(c->err, c->errlen, "malformed %s: '%s' is not an unsigned integer", c->type,
                         key_names[k]);
    return 0;
}

/* An optional flag (push, again): -1 when absent, else 0 or 1 (any other
 * unsigned value counts as 1, for a later version's values). */
static int field_flag(const field_pos *f, int k, int *out, const dctx *c)
{
    uint64_t v;
    *out = -1;
    if (!f->have[k])
        return 0;
    if (field_uint(f, k, &v, c))
        return -1;
    *out = v != 0;
    return 0;
}

/* author, lo, hi: the head of sums and points */
static int decode_range(const field_pos *f, proto_id *author, uint64_t *lo, uint64_t *hi, const dctx *c)
{
    if (field_id(f, K_AUTHOR, author, c) || field_uint(f, K_LO, lo, c) || field_uint(f, K_HI, hi, c))
        return -1;
    if (*lo == 0 || *hi < *lo)
        return proto_err(c->err, c->errlen, "malformed %s: empty range (needs 1 <= lo <= hi)", c->type);
    return 0;
}

static int decode_points(const field_pos *f, msg *m, const dctx *c)
{
    if (decode_range(f, &m->points.author, &m->points.lo, &m->points.hi, c))
        return -1;
    proto_rd r = f->at[K_P];
    uint32_t n;
    if (need(f, K_P, c))
        return -1;
    if (proto_rd_array(&r, &n))
        return proto_err(c->err, c->errlen, "malformed points: 'p' is not an array");
    if (n > MSG_SUMS_MAX)
        return proto_err(c->err, c->errlen, "malformed points: 'p' has %u items, more than %u", n,
                         MSG_SUMS_MAX);
    m->points.p.p = r.p;
    uint64_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k;
        uint64_t seq;
        proto_id ch;
        if (proto_rd_array(&r, &k) || k != 2 || proto_rd_uint(&r, &seq) || rd_id(&r, &ch))
            return proto_err(c->err, c->errlen,
                             "malformed points: 'p' item %u: expected [seq (uint), chain (32-byte bin)]", i);
        if (seq < m->points.lo || seq > m->points.hi || (i && seq <= prev))
            return proto_err(c->err, c->errlen,
                             "malformed points: 'p' item %u: seq outside lo..hi or not increasing", i);
        prev = seq;
    }
    m->points.p.end = r.p;
    m->points.p.n = n;
    return 0;
}

static int decode_hello(const field_pos *f, msg *m, const dctx *c)
{
    proto_rd r = f->at[K_V];
    /* the version first: another version's hello may differ in anything else */
    if (need(f, K_V, c))
        return -1;
    if (proto_rd_uint(&r, &m->hello.v))
        return proto_err(c->err, c->errlen, "malformed hello: 'v' is not an unsigned integer");
    if (m->hello.v != MSG_PROTO_VERSION)
        return proto_err(c->err, c->errlen, "protocol version %llu not supported (this node speaks %u)",
                         (unsigned long long)m->hello.v, MSG_PROTO_VERSION);
    if (need(f, K_GENESIS, c))
        return -1;
    r = f->at[K_GENESIS];
    m->hello.has_genesis = proto_rd_peek(&r) != PROTO_MP_NIL;
    if (m->hello.has_genesis ? rd_id(&r, &m->hello.genesis) : proto_rd_nil(&r))
        return proto_err(c->err, c->errlen, "malformed hello: 'genesis' is neither a %u-byte bin nor nil",
                         PROTO_ID_LEN);
    if (!m->hello.has_genesis)
        memset(&m->hello.genesis, 0, sizeof m->hello.genesis);
    if (field_id(f, K_DIGEST, &m->hello.digest, c) || field_flag(f, K_PUSH, &m->hello.push, c))
        return -1;
    return field_list(f, K_VV, MSG_VV_MAX, item_vv, &m->hello.vv, c);
}

/* Copy an error text: cut at a UTF-8 boundary, control bytes made '?'. */
static void copy_text(msg *m, const char *s, uint32_t n)
{
    size_t keep = n;
    m->error.truncated = 0;
    if (keep > MSG_ERROR_TEXT_MAX) {
        keep = MSG_ERROR_TEXT_MAX;
        /* s[keep] is the first byte dropped: a continuation byte means the
         * character it belongs to started before the cut */
        while (keep > 0 && ((unsigned char)s[keep] & 0xc0) == 0x80)
            keep--;
        m->error.truncated = 1;
    }
    for (size_t i = 0; i < keep; i++) {
        unsigned char ch = (unsigned char)s[i];
        m->error.text[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    m->error.text[keep] = 0;
    m->error.text_len = keep;
}

static int decode_error(const field_pos *f, msg *m, const dctx *c)
{
    m->error.code = 0;
    m->error.text[0] = 0;
    m->error.text_len = 0;
    m->error.truncated = 0;
    if (f->have[K_CODE]) {
        proto_rd r = f->at[K_CODE];
        if (proto_rd_uint(&r, &m->error.code))
            return proto_err(c->err, c->errlen, "malformed error: 'code' is not an unsigned integer");
    }
    if (f->have[K_TEXT]) {
        proto_rd r = f->at[K_TEXT];
        const char *s;
        uint32_t n;
        if (proto_rd_str(&r, &s, &n))
            return proto_err(c->err, c->errlen, "malformed error: 'text' is not a string");
        copy_text(m, s, n);
    }
    return 0;
}

int msg_decode(const uint8_t *frame, size_t len, msg *out, char *err, size_t errlen)
{
    field_pos f;
    out->type = 0;
    if (scan_fields(frame, len, &f, err, errlen))
        return -1;
    if (!f.have[K_T])
        return proto_err(err, errlen, "message without a type");
    proto_rd r = f.at[K_T];
    const char *t;
    uint32_t tl;
    if (proto_rd_str(&r, &t, &tl))
        return proto_err(err, errlen, "message type is not a string");
    if (tl > MSG_TYPE_MAX)
        return proto_err(err, errlen, "message type longer than %u bytes", MSG_TYPE_MAX);
    enum msg_type type = msg_type_from(t, tl);
    if (!type) {
        char q[MSG_TYPE_MAX * 4 + 8];
        quote(q, sizeof q, t, tl, MSG_TYPE_MAX);
        return proto_err(err, errlen, "unknown message type '%s'", q);
    }
    out->type = type;
    dctx c = { type_names[type], err, errlen };
    switch (type) {
    case MSG_HELLO:
        return decode_hello(&f, out, &c);
    case MSG_WANT:
        return field_list(&f, K_R, MSG_WANT_RANGES_MAX, item_want, &out->want.r, &c) ||
               field_flag(&f, K_PUSH, &out->want.push, &c);
    case MSG_RECORDS:
        return field_list(&f, K_RECS, MSG_RECORDS_MAX, item_record, &out->records.recs, &c) ||
               field_flag(&f, K_PUSH, &out->records.push, &c);
    case MSG_ANNOUNCE:
        return field_list(&f, K_A, MSG_ANNOUNCE_MAX, item_announce, &out->announce.a, &c);
    case MSG_DIGEST:
        return field_id(&f, K_D, &out->digest.d, &c) || field_flag(&f, K_AGAIN, &out->digest.again, &c);
    case MSG_PING:
    case MSG_PONG:
        return 0;
    case MSG_ERROR:
        return decode_error(&f, out, &c);
    case MSG_SUMS:
        return decode_range(&f, &out->sums.author, &out->sums.lo, &out->sums.hi, &c);
    case MSG_POINTS:
        return decode_points(&f, out, &c);
    }
    return proto_err(err, errlen, "unknown message type");   /* not reached */
}

static const msg_items *items_of(const msg *m)
{
    switch (m->type) {
    case MSG_HELLO: return &m->hello.vv;
    case MSG_WANT: return &m->want.r;
    case MSG_RECORDS: return &m->records.recs;
    case MSG_ANNOUNCE: return &m->announce.a;
    case MSG_POINTS: return &m->points.p;
    default: return NULL;
    }
}

uint32_t msg_count(const msg *m)
{
    const msg_items *it = items_of(m);
    return it ? it->n : 0;
}

void msg_iter_init(msg_iter *it, const msg *m)
{
    const msg_items *items = items_of(m);
    it->type = m->type;
    if (items) {
        proto_rd_init(&it->r, items->p, (size_t)(items->end - items->p));
        it->left = items->n;
    } else {
        proto_rd_init(&it->r, NULL, 0);
        it->left = 0;
    }
}

/* Every read below was done once by msg_decode on the same bytes; the
 * checks only keep a misused iterator (wrong type, freed frame aside) from
 * returning garbage. */
static int iter_step(msg_iter *it, enum msg_type type)
{
    return it->type == type && it->left > 0 && !it->r.err;
}

int msg_vv_next(msg_iter *it, proto_id *author, uint64_t *seq, proto_id *chain)
{
    uint32_t k;
    if (!iter_step(it, MSG_HELLO))
        return 0;
    it->left--;
    return !(proto_rd_array(&it->r, &k) || rd_id(&it->r, author) || proto_rd_uint(&it->r, seq) ||
             rd_id(&it->r, chain));
}

int msg_points_next(msg_iter *it, uint64_t *seq, proto_id *chain)
{
    uint32_t k;
    if (!iter_step(it, MSG_POINTS))
        return 0;
    it->left--;
    return !(proto_rd_array(&it->r, &k) || proto_rd_uint(&it->r, seq) || rd_id(&it->r, chain));
}

int msg_want_next(msg_iter *it, proto_id *author, uint64_t *from, uint64_t *to)
{
    uint32_t k;
    if (!iter_step(it, MSG_WANT))
        return 0;
    it->left--;
    return !(proto_rd_array(&it->r, &k) || rd_id(&it->r, author) || proto_rd_uint(&it->r, from) ||
             proto_rd_uint(&it->r, to));
}

int msg_records_next(msg_iter *it, const uint8_t **rec, size_t *len)
{
    uint32_t l;
    if (!iter_step(it, MSG_RECORDS))
        return 0;
    it->left--;
    if (proto_rd_bin(&it->r, rec, &l))
        return 0;
    *len = l;
    return 1;
}

int msg_announce_next(msg_iter *it, proto_id *author, uint64_t *seq, proto_id *hash)
{
    uint32_t k;
    if (!iter_step(it, MSG_ANNOUNCE))
        return 0;
    it->left--;
    return !(proto_rd_array(&it->r, &k) || rd_id(&it->r, author) || proto_rd_uint(&it->r, seq) ||
             rd_id(&it->r, hash));
}

/* ---- encoding ---- */

/* msgpack-c's pack functions return 0 or -1 (the sbuffer could not grow);
 * these helpers keep the result so a run of packs is checked once. */
static int pk_str(msgpack_packer *pk, const char *s, size_t n)
{
    return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, s, n);
}

static int pk_cstr(msgpack_packer *pk, const char *s)
{
    return pk_str(pk, s, strlen(s));
}

static int pk_id(msgpack_packer *pk, const proto_id *id)
{
    return msgpack_pack_bin(pk, sizeof id->b) | msgpack_pack_bin_body(pk, id->b, sizeof id->b);
}

/* {t: type, ...fields}: the start of every message */
static int pk_head(msgpack_packer *pk, enum msg_type type, uint32_t fields)
{
    return msgpack_pack_map(pk, fields + 1) | pk_cstr(pk, "t") | pk_cstr(pk, type_names[type]);
}

/* The end of a fixed message: length written, or everything dropped. */
static int frame_done(msgpack_sbuffer *sb, int rc)
{
    if (rc || sb->size < 4 || !sb->data) {
        msgpack_sbuffer_destroy(sb);
        msgpack_sbuffer_init(sb);
        return -1;
    }
    proto_frame_end(sb);
    return 0;
}

int msg_pack_digest(msgpack_sbuffer *sb, const proto_id *digest)
{
    msgpack_packer pk;
    proto_frame_begin(sb, &pk);
    return frame_done(sb, pk_head(&pk, MSG_DIGEST, 1) | pk_cstr(&pk, "d") | pk_id(&pk, digest));
}

int msg_pack_digest_again(msgpack_sbuffer *sb, const proto_id *digest)
{
    msgpack_packer pk;
    proto_frame_begin(sb, &pk);
    return frame_done(sb, pk_head(&pk, MSG_DIGEST, 2) | pk_cstr(&pk, "d") | pk_id(&pk, digest) |
                              pk_cstr(&pk, "again") | msgpack_pack_uint64(&pk, 1));
}

static int pk_range(msgpack_packer *pk, const proto_id *author, uint64_t lo, uint64_t hi)
{
    return pk_cstr(pk, "author") | pk_id(pk, author) | pk_cstr(pk, "lo") | msgpack_pack_uint64(pk, lo) |
           pk_cstr(pk, "hi") | msgpack_pack_uint64(pk, hi);
}

int msg_pack_sums(msgpack_sbuffer *sb, const proto_id *author, uint64_t lo, uint64_t hi)
{
    msgpack_packer pk;
    if (lo == 0 || hi < lo)
        return -1;
    proto_frame_begin(sb, &pk);
    return frame_done(sb, pk_head(&pk, MSG_SUMS, 3) | pk_range(&pk, author, lo, hi));
}

int msg_pack_points(msgpack_sbuffer *sb, const proto_id *author, uint64_t lo, uint64_t hi,
                    const uint64_t *seqs, const proto_id *chains, uint32_t n)
{
    msgpack_packer pk;
    if (lo == 0 || hi < lo || n > MSG_SUMS_MAX)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        if (seqs[i] < lo || seqs[i] > hi || (i && seqs[i] <= seqs[i - 1]))
            return -1;
    proto_frame_begin(sb, &pk);
    int rc = pk_head(&pk, MSG_POINTS, 4) | pk_range(&pk, author, lo, hi) | pk_cstr(&pk, "p") |
             msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++)
        rc |= msgpack_pack_array(&pk, 2) | msgpack_pack_uint64(&pk, seqs[i]) | pk_id(&pk, &chains[i]);
    return frame_done(sb, rc);
}

int msg_pack_ping(msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    proto_frame_begin(sb, &pk);
    return frame_done(sb, pk_head(&pk, MSG_PING, 0));
}

int msg_pack_pong(msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    proto_frame_begin(sb, &pk);
    return frame_done(sb, pk_head(&pk, MSG_PONG, 0));
}

/* How many bytes of s (n bytes) to send: all, or cut before MSG_ERROR_TEXT_MAX
 * at a UTF-8 character boundary. */
static size_t text_cut(const char *s, size_t n)
{
    if (n <= MSG_ERROR_TEXT_MAX)
        return n;
    size_t keep = MSG_ERROR_TEXT_MAX;
    while (keep > 0 && ((unsigned char)s[keep] & 0xc0) == 0x80)
        keep--;
    return keep;
}

int msg_pack_error(msgpack_sbuffer *sb, uint64_t code, const char *text)
{
    msgpack_packer pk;
    if (!text)
        text = "";
    proto_frame_begin(sb, &pk);
    int rc = pk_head(&pk, MSG_ERROR, 2) | pk_cstr(&pk, "code") | msgpack_pack_uint64(&pk, code) |
             pk_cstr(&pk, "text") | pk_str(&pk, text, text_cut(text, strlen(text)));
    return frame_done(sb, rc);
}

/* ---- the list builder ---- */

/* Head room reserved in front of the items: the length prefix and the
 * longest header (a hello's: 103 bytes) fit. */
#define LIST_HEAD 128u

static const char *list_field(enum msg_type t)
{
    switch (t) {
    case MSG_HELLO: return "vv";
    case MSG_WANT: return "r";
    case MSG_RECORDS: return "recs";
    case MSG_ANNOUNCE: return "a";
    default: return NULL;
    }
}

static uint32_t list_max(enum msg_type t)
{
    switch (t) {
    case MSG_HELLO: return MSG_VV_MAX;
    case MSG_WANT: return MSG_WANT_RANGES_MAX;
    case MSG_RECORDS: return MSG_RECORDS_MAX;
    case MSG_ANNOUNCE: return MSG_ANNOUNCE_MAX;
    default: return 0;
    }
}

/* A msgpack-c writer into a fixed buffer. */
typedef struct {
    uint8_t *p;
    size_t n, cap;
} fixbuf;

static int fixbuf_write(void *data, const char *buf, size_t len)
{
    fixbuf *f = data;
    if (len > f->cap - f->n)
        return -1;
    if (len)
        memcpy(f->p + f->n, buf, len);
    f->n += len;
    return 0;
}

/* Pack l's header for n items into out (LIST_HEAD bytes); its length, or 0. */
static size_t list_header(const msg_list *l, uint32_t n, uint8_t *out)
{
    fixbuf fb = { out, 0, LIST_HEAD };
    msgpack_packer pk;
    int rc;
    msgpack_packer_init(&pk, &fb, fixbuf_write);
    if (l->type == MSG_HELLO) {
        rc = pk_head(&pk, MSG_HELLO, l->push >= 0 ? 5 : 4) | pk_cstr(&pk, "v") | msgpack_pack_uint64(&pk, MSG_PROTO_VERSION) |
             pk_cstr(&pk, "genesis") | (l->has_genesis ? pk_id(&pk, &l->genesis) : msgpack_pack_nil(&pk)) |
             pk_cstr(&pk, "digest") | pk_id(&pk, &l->digest);
        if (l->push >= 0)
            rc |= pk_cstr(&pk, "push") | msgpack_pack_uint64(&pk, (uint64_t)l->push);
    } else {
        rc = pk_head(&pk, l->type, l->push >= 0 ? 2 : 1);
        if (l->push >= 0)
            rc |= pk_cstr(&pk, "push") | msgpack_pack_uint64(&pk, (uint64_t)l->push);
    }
    rc |= pk_cstr(&pk, list_field(l->type)) | msgpack_pack_array(&pk, n);
    return rc ? 0 : fb.n;
}

/* Bytes of msgpack's array header for n items (fixarray, array 16, array 32). */
static size_t array_header_len(uint32_t n)
{
    return n < 16 ? 1 : n < 65536 ? 3 : 5;
}

static int list_start(msg_list *l, enum msg_type type)   /* type 0: fail */
{
    static const uint8_t zero[LIST_HEAD];
    uint8_t hdr[LIST_HEAD];
    msgpack_sbuffer_init(&l->sb);
    msgpack_packer_init(&l->pk, &l->sb, msgpack_sbuffer_write);
    l->type = type;
    l->n = 0;
    l->failed = 1;
    if (!list_field(type))
        return -1;
    size_t h = list_header(l, 0, hdr);
    if (!h || msgpack_sbuffer_write(&l->sb, (const char *)zero, LIST_HEAD))
        return -1;
    l->hbase = h - array_header_len(0);
    l->failed = 0;
    return 0;
}

int msg_list_init(msg_list *l, enum msg_type type)
{
    l->push = -1;
    l->has_genesis = 0;
    memset(&l->genesis, 0, sizeof l->genesis);
    memset(&l->digest, 0, sizeof l->digest);
    /* msg_list_init_hello is the way to a hello (it needs its fields) */
    return list_start(l, type == MSG_HELLO ? 0 : type);
}

int msg_list_init_hello(msg_list *l, const proto_id *genesis, const proto_id *digest)
{
    l->push = -1;
    l->has_genesis = genesis != NULL;
    if (genesis)
        l->genesis = *genesis;
    else
        memset(&l->genesis, 0, sizeof l->genesis);
    l->digest = *digest;
    return list_start(l, MSG_HELLO);
}

int msg_list_set_push(msg_list *l, int push)
{
    uint8_t hdr[LIST_HEAD];
    if (l->failed || l->n || (l->type != MSG_HELLO && l->type != MSG_WANT && l->type != MSG_RECORDS))
        return -1;
    l->push = push < 0 ? -1 : push != 0;
    size_t h = list_header(l, 0, hdr);
    if (!h)
        return -1;
    l->hbase = h - array_header_len(0);
    return 0;
}

/* Before an add of type t: 0 if it may go ahead, else its result. */
static int add_check(const msg_list *l, enum msg_type t)
{
    if (l->failed || l->type != t)
        return -1;
    if (l->n >= list_max(t))
        return MSG_LIST_FULL;
    return 0;
}

/* The frame body's length with n items and `more` bytes beyond those packed. */
static size_t body_len(const msg_list *l, uint32_t n, size_t more)
{
    return l->hbase + array_header_len(n) + (l->sb.size - LIST_HEAD) + more;
}

/* After packing an item (rc from the packs): keep it, or roll it back. */
static int add_done(msg_list *l, size_t before, int rc)
{
    if (rc) {
        l->sb.size = before;
        return -1;
    }
    if (body_len(l, l->n + 1, 0) > PROTO_PEER_FRAME_MAX) {
        l->sb.size = before;
        return MSG_LIST_FULL;
    }
    l->n++;
    return 0;
}

int msg_list_add_vv(msg_list *l, const proto_id *author, uint64_t seq, const proto_id *chain)
{
    int rc = add_check(l, MSG_HELLO);
    if (rc)
        return rc;
    size_t before = l->sb.size;
    return add_done(l, before, msgpack_pack_array(&l->pk, 3) | pk_id(&l->pk, author) |
                                   msgpack_pack_uint64(&l->pk, seq) | pk_id(&l->pk, chain));
}

int msg_list_add_want(msg_list *l, const proto_id *author, uint64_t from, uint64_t to)
{
    int rc = add_check(l, MSG_WANT);
    if (rc)
        return rc;
    if (from == 0 || to < from)
        return -1;
    size_t before = l->sb.size;
    return add_done(l, before, msgpack_pack_array(&l->pk, 3) | pk_id(&l->pk, author) |
                                   msgpack_pack_uint64(&l->pk, from) | msgpack_pack_uint64(&l->pk, to));
}

int msg_list_add_record(msg_list *l, const uint8_t *rec, size_t len)
{
    int rc = add_check(l, MSG_RECORDS);
    if (rc)
        return rc;
    if (len > PROTO_RECORD_MAX)
        return -1;
    /* refuse before copying what cannot fit (the bin header only adds) */
    if (body_len(l, l->n + 1, len) > PROTO_PEER_FRAME_MAX)
        return MSG_LIST_FULL;
    size_t before = l->sb.size;
    return add_done(l, before, msgpack_pack_bin(&l->pk, len) | msgpack_pack_bin_body(&l->pk, rec, len));
}

int msg_list_add_announce(msg_list *l, const proto_id *author, uint64_t seq, const proto_id *hash)
{
    int rc = add_check(l, MSG_ANNOUNCE);
    if (rc)
        return rc;
    size_t before = l->sb.size;
    return add_done(l, before, msgpack_pack_array(&l->pk, 3) | pk_id(&l->pk, author) |
                                   msgpack_pack_uint64(&l->pk, seq) | pk_id(&l->pk, hash));
}

uint32_t msg_list_count(const msg_list *l)
{
    return l->n;
}

size_t msg_list_bytes(const msg_list *l)
{
    return l->failed ? 0 : l->sb.size - LIST_HEAD;
}

const uint8_t *msg_list_frame(msg_list *l, size_t *len)
{
    uint8_t hdr[LIST_HEAD];
    size_t h = l->failed ? 0 : list_header(l, l->n, hdr);
    if (!h) {
        *len = 0;
        return NULL;
    }
    /* the header goes right before the items, the length right before it */
    uint8_t *start = (uint8_t *)l->sb.data + LIST_HEAD - h - 4;
    memcpy(start + 4, hdr, h);
    msgpack_sbuffer view = { .size = l->sb.size - (LIST_HEAD - h - 4), .data = (char *)start };
    proto_frame_end(&view);
    *len = view.size;
    return start;
}

void msg_list_reset(msg_list *l)
{
    if (!l->failed)
        l->sb.size = LIST_HEAD;
    l->n = 0;
}

void msg_list_destroy(msg_list *l)
{
    msgpack_sbuffer_destroy(&l->sb);
    msgpack_sbuffer_init(&l->sb);
    l->n = 0;
    l->failed = 1;
}
