/*
 * proto/msg.h — typed peer messages: one decoder for everything a peer
 * sends, and the encoders for everything we send.
 *
 * A peer frame (proto/frame.h: 4-byte big-endian length, then one msgpack
 * map) carries one message; "t" names its type:
 *
 *   hello    {t, v: uint, genesis: bin32|nil, digest: bin32, vv: [[author bin32, seq uint, chain bin32]...],
 *             push?: uint}
 *   want     {t, r: [[author bin32, from uint, to uint]...], push?: uint}   1 <= from <= to
 *   records  {t, recs: [record bin...], push?: uint}                each <= PROTO_RECORD_MAX
 *   announce {t, a: [[author bin32, seq uint, hash bin32]...]}
 *   digest   {t, d: bin32, again?: uint}
 *   sums     {t, author: bin32, lo: uint, hi: uint}                  1 <= lo <= hi
 *   points   {t, author: bin32, lo: uint, hi: uint, p: [[seq uint, chain bin32]...]}
 *                                                     lo <= seq <= hi, seqs increasing
 *   ping     {t}
 *   pong     {t}
 *   error    {t, code: uint, text: str}                             then the sender closes
 *
 * The fields marked ? are optional flags of the broadcast tree (docs/PROTOCOL.md,
 * "Broadcast tree"), added without a new protocol version: a node that
 * does not know them skips them (DECISIONS 10).  Decoded as -1 when absent,
 * else 0 or 1 (any unsigned value other than 0 counts as 1); another type
 * is a protocol error.  hello push 1: the sender speaks them; want push 1:
 * push me new records whole (graft), 0: only announce them to me (prune),
 * the ranges may then be empty; records push 1: pushed unasked (a copy we
 * held already makes us prune the link); digest again 1: the sender's
 * answer to a differing digest, sent a while later — if it still differs,
 * send a hello.
 *
 * Decoding (msg_decode) checks the whole frame body once: every field's
 * type, every fixed length, every count against proto/limits.h, every list
 * item, no duplicate keys, no trailing bytes.  After it succeeded nothing
 * about the message can fail any more: the lists are read through iterators
 * that only walk what was already validated.  Decoding copies nothing but
 * fixed-size fields and an error's (bounded) text; list items and records
 * point into the frame.
 *
 * Rules a peer's message must follow (anything else is refused with a
 * message in err, and the caller closes the connection with MSG_ERR_PROTO):
 *   - the body is exactly one msgpack map (nothing after it) of at most
 *     MSG_FIELDS_MAX fields; every key is a str of at most MSG_KEY_MAX bytes;
 *     no key appears twice;
 *   - "t" is present and one of the names below;
 *   - the fields of that type listed above are present with those types
 *     (except error's code and text, which are optional and default to 0
 *     and ""); a hello's v is MSG_PROTO_VERSION;
 *   - any other key (unknown, or a field of another type) is skipped, for
 *     forward compatibility: its value may be any msgpack value except float
 *     and ext, nested at most MSG_SKIP_DEPTH deep;
 *   - list lengths: vv <= MSG_VV_MAX, r <= MSG_WANT_RANGES_MAX,
 *     recs <= MSG_RECORDS_MAX, a <= MSG_ANNOUNCE_MAX, p <= MSG_SUMS_MAX;
 *     each list item is an
 *     array of exactly the listed elements (records: a bin).
 * Every message catalogd sends decodes.  What daemon/gossip.c accepted
 * before this file existed still decodes, except (none of which catalogd
 * ever sends): duplicate keys; trailing bytes; a float, an ext, a key that
 * is not a str or nesting deeper than MSG_SKIP_DEPTH anywhere (they used to
 * pass after the fields gossip.c looked for); a genesis neither
 * bin32 nor nil (any non-bin counted as nil); more than MSG_VV_MAX vv
 * entries; a recs item over PROTO_RECORD_MAX (it failed later as a bad
 * record, error 3; now error 1); an error whose code or text has the wrong
 * type (ignored before); more than MSG_FIELDS_MAX fields or a key over
 * MSG_KEY_MAX bytes.  Records are not decoded here: a recs item is only a
 * bin of the right size; proto_record_decode judges its content.
 *
 * Receiving, as a connection does it:
 *
 *     msg m;
 *     char err[256];
 *     if (msg_decode(f, len, &m, err, sizeof err)) {
 *         peer_fail(p, MSG_ERR_PROTO, "%s", err);   (err names the message and the fault)
 *         return;
 *     }
 *     switch (m.type) {
 *     case MSG_WANT: {
 *         msg_iter it;
 *         want_range w;
 *         msg_iter_init(&it, &m);
 *         while (msg_want_next(&it, &w.author, &w.from, &w.to))
 *             ...   (every range is valid: no check, no failure path)
 *     } ...
 *
 * Which messages are allowed when (hello first, error then close) is the
 * connection's business, not this file's.
 *
 * Encoding: everything the encoders below produce decodes with msg_decode
 * (they enforce the same limits), and the bytes are the same as gossip.c and
 * peer.c packed by hand before (same keys, order and msgpack forms).
 *
 * No function here keeps state between calls or allocates anything that
 * outlives the object it is given; all are safe to call from several
 * threads on different objects.
 */
#ifndef PROTO_MSG_H
#define PROTO_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>
#include "proto/limits.h"
#include "proto/mp.h"
#include "proto/record.h"

/* Message types, as named by "t" on the wire.  0 is never a type. */
enum msg_type {
    MSG_HELLO = 1,  /* "hello"    on connect, and in answer to a differing digest */
    MSG_WANT,       /* "want"     send me these seq ranges */
    MSG_RECORDS,    /* "records"  a batch of signed records */
    MSG_ANNOUNCE,   /* "announce" new records: fetch the ones you lack */
    MSG_DIGEST,     /* "digest"   anti-entropy probe */
    MSG_PING,       /* "ping"     liveness; answered by pong */
    MSG_PONG,       /* "pong" */
    MSG_ERROR,      /* "error"    the sender closes after it */
    MSG_SUMS,       /* "sums"     send me your log chain at points of author's lo..hi */
    MSG_POINTS,     /* "points"   the answer to sums */
};
#define MSG_TYPE_LAST MSG_POINTS

/* Error codes carried by an error message (wire values, never renumber). */
enum msg_error {
    MSG_ERR_PROTO = 1,      /* malformed or unexpected message */
    MSG_ERR_ALLIANCE = 2,   /* the peer's genesis is not ours */
    MSG_ERR_RECORD = 3,     /* a record that is malformed or breaks the store's rules */
    MSG_ERR_SIGNATURE = 4,  /* a record whose signature does not verify */
    MSG_ERR_LIMIT = 5,      /* over a budget of proto/limits.h (wants, announces, records set aside,
                               idle too long) */
    MSG_ERR_FULL = 6,       /* inbound connections full here: dial another member
                               (peers before the broadcast tree report it as "?") */
};

/* The wire name of a type ("hello"...), or "?" for a value that is not one:
 * always a valid string for printf. */
const char *msg_type_name(enum msg_type t);
/* The type named by s[0..len) (not NUL-terminated), or 0 if none. */
enum msg_type msg_type_from(const char *s, size_t len);
/* "protocol", "alliance", "record", "signature", "limit", or "?" for other codes. */
const char *msg_error_name(uint64_t code);

/* ---- decoding ---- */

/* A validated list inside a frame: n items in [p, end).  Read it with a
 * msg_iter; the fields are for this file. */
typedef struct {
    const uint8_t *p, *end;
    uint32_t n;
} msg_items;

/* A decoded message.  Pointers (the lists, inside msg_items) point into the
 * frame given to msg_decode and live as long as it does; everything else is
 * copied, so a msg may be copied freely.  About 550 bytes (the error text):
 * fine on the stack. */
typedef struct msg {
    enum msg_type type;
    union {
        struct {
            uint64_t v;                 /* always MSG_PROTO_VERSION after a successful decode */
            int has_genesis;            /* 0: genesis was nil (the sender has no alliance yet) */
            proto_id genesis;           /* valid when has_genesis */
            proto_id digest;
            msg_items vv;               /* vv.n <= MSG_VV_MAX entries: msg_vv_next */
            int push;                   /* -1 absent, 1: speaks the broadcast tree's flags */
        } hello;
        struct {
            msg_items r;                /* r.n <= MSG_WANT_RANGES_MAX ranges: msg_want_next */
            int push;                   /* -1 absent, 1 graft, 0 prune */
        } want;
        struct {
            msg_items recs;             /* recs.n <= MSG_RECORDS_MAX records: msg_records_next */
            int push;                   /* -1 absent, 1 pushed unasked */
        } records;
        struct {
            msg_items a;                /* a.n <= MSG_ANNOUNCE_MAX entries: msg_announce_next */
        } announce;
        struct {
            proto_id d;
            int again;                  /* -1 absent, 1 the answer to a differing digest */
        } digest;
        struct {
            uint64_t code;              /* 0 when absent; any value (see enum msg_error) */
            /* The text, NUL-terminated, at most MSG_ERROR_TEXT_MAX bytes
             * (cut at a UTF-8 character boundary when longer: truncated is
             * then 1); control characters and NUL are replaced by '?', so
             * it can be logged as it is.  "" when absent. */
            char text[MSG_ERROR_TEXT_MAX + 1];
            size_t text_len;
            int truncated;
        } error;
        struct {
            proto_id author;
            uint64_t lo, hi;            /* 1 <= lo <= hi */
        } sums;
        struct {
            proto_id author;
            uint64_t lo, hi;            /* as in the sums it answers */
            msg_items p;                /* p.n <= MSG_SUMS_MAX points: msg_points_next */
        } points;
        /* ping, pong: no fields */
    };
} msg;

/* Decode one frame body (what proto_frame_take returns: without the length
 * prefix).  0 on success: out holds the message.  -1 when the message
 * breaks any rule above: err says why in one line (printable, safe to send
 * back as an error text and to log; peer-supplied names in it are escaped),
 * out->type is the type when "t" named one (else 0) and the rest of out is
 * unspecified.  err may be NULL.  A hello with another protocol version fails
 * with "protocol version N not supported (this node speaks 1)", whatever
 * its other fields hold.  Nothing is allocated; the frame is only read. */
int msg_decode(const uint8_t *frame, size_t len, msg *out, char *err, size_t errlen);

/* The number of items in m's list (vv, r, recs or a); 0 for types without
 * one. */
uint32_t msg_count(const msg *m);

/* Iterating a decoded message's list.  Initialise with msg_iter_init, then
 * call the next function of the message's type: it returns 1 and the next
 * item, 0 once all msg_count(m) items were returned.  After a successful
 * msg_decode these cannot fail and return exactly msg_count(m) items, in
 * wire order; the next function of another type returns 0 at once.  An
 * iterator reads only the frame (not m), so m may go out of scope, but the
 * frame must live; any number of iterators may walk the same list. */
typedef struct {
    proto_rd r;
    uint32_t left;
    enum msg_type type;
} msg_iter;

void msg_iter_init(msg_iter *it, const msg *m);
/* hello: one vv entry, "the sender holds author's log up to seq, and its
 * chain there is chain" (store/store_sum.c) */
int msg_vv_next(msg_iter *it, proto_id *author, uint64_t *seq, proto_id *chain);
/* points: one point, lo <= *seq <= hi, after the previous one's seq */
int msg_points_next(msg_iter *it, uint64_t *seq, proto_id *chain);
/* want: one range, 1 <= *from <= *to */
int msg_want_next(msg_iter *it, proto_id *author, uint64_t *from, uint64_t *to);
/* records: one record's bytes, *len <= PROTO_RECORD_MAX (not yet decoded:
 * pass them to proto_record_decode); *rec points into the frame */
int msg_records_next(msg_iter *it, const uint8_t **rec, size_t *len);
/* announce: one entry, "author's record seq with this hash exists" */
int msg_announce_next(msg_iter *it, proto_id *author, uint64_t *seq, proto_id *hash);

/* ---- encoding: messages without a list ---- */

/* Each of these initialises sb (do not initialise it first; what it held is
 * not freed) and packs one whole frame into it, length prefix written:
 * send sb->data, sb->size bytes (peer_send(p, &sb) does, and destroys sb).
 * 0 on success; -1 when out of memory, and then sb holds nothing to send
 * and needs no destroy. */
int msg_pack_digest(msgpack_sbuffer *sb, const proto_id *digest);
/* a digest with again: 1 (see the optional flags above) */
int msg_pack_digest_again(msgpack_sbuffer *sb, const proto_id *digest);
/* -1 also when lo == 0 or hi < lo */
int msg_pack_sums(msgpack_sbuffer *sb, const proto_id *author, uint64_t lo, uint64_t hi);
/* n <= MSG_SUMS_MAX points, seqs increasing within lo..hi (else -1) */
int msg_pack_points(msgpack_sbuffer *sb, const proto_id *author, uint64_t lo, uint64_t hi,
                    const uint64_t *seqs, const proto_id *chains, uint32_t n);
int msg_pack_ping(msgpack_sbuffer *sb);
int msg_pack_pong(msgpack_sbuffer *sb);
/* text is cut to MSG_ERROR_TEXT_MAX bytes (at a UTF-8 boundary) if longer;
 * NULL sends "". */
int msg_pack_error(msgpack_sbuffer *sb, uint64_t code, const char *text);

/* ---- encoding: messages with a list (hello, want, records, announce) ---- */

/* A builder: items are added one at a time, packed straight into the frame
 * buffer (a record's bytes are copied once, from the caller's buffer into
 * the frame); the map header and the count are written in front of them
 * when the frame is asked for, so no pass over the items is ever repeated.
 *
 *     msg_list l;
 *     msg_list_init(&l, MSG_WANT);
 *     for (...)
 *         if (msg_list_add_want(&l, &a, from, to) == MSG_LIST_FULL) {
 *             f = msg_list_frame(&l, &len);   (not inside send(): len is set by the call)
 *             send(f, len);
 *             msg_list_reset(&l);
 *             msg_list_add_want(&l, &a, from, to);
 *         }
 *     if (msg_list_count(&l)) {
 *         f = msg_list_frame(&l, &len);
 *         send(f, len);   (peer_send_frame(p, f, len) copies it; l may be reused at once)
 *     }
 *     msg_list_destroy(&l);
 *
 * A msg_list points into itself: never copy or move one after init.  The
 * struct's fields are for this file only. */
typedef struct msg_list {
    msgpack_sbuffer sb;         /* reserved head room, then the packed items */
    msgpack_packer pk;
    enum msg_type type;
    uint32_t n;
    size_t hbase;               /* header bytes (map, fields) before the array's length */
    int failed;                 /* init ran out of memory */
    int has_genesis;            /* hello only */
    int push;                   /* the push flag: -1 none (msg_list_set_push) */
    proto_id genesis, digest;   /* hello only */
} msg_list;

/* MSG_WANT, MSG_RECORDS or MSG_ANNOUNCE.  0, or -1 when out of memory or
 * for another type (the builder is then unusable: adds fail, frame gives
 * NULL; msg_list_destroy is still needed and safe). */
int msg_list_init(msg_list *l, enum msg_type type);
/* A hello with v = MSG_PROTO_VERSION, this genesis (NULL: nil, for a node
 * that has none yet) and digest; its vv entries are added with
 * msg_list_add_vv.  Returns as msg_list_init. */
int msg_list_init_hello(msg_list *l, const proto_id *genesis, const proto_id *digest);

/* Add the optional push flag (0 or 1; -1 removes it) to a hello, want or
 * records builder before its first item.  0, or -1 (another type, items
 * added already, a failed init). */
int msg_list_set_push(msg_list *l, int push);

/* Adding an item returns 0 when it was added; MSG_LIST_FULL when it was not
 * because the frame would exceed its type's count limit or
 * PROTO_PEER_FRAME_MAX: send the frame, reset, and add it again (an item
 * always fits an empty builder); -1 when it was not and never can be (an
 * invalid item: a record longer than PROTO_RECORD_MAX, a range with from == 0
 * or to < from; an add of another type's item; out of memory).  The builder
 * is unchanged by a refused add. */
#define MSG_LIST_FULL 1
int msg_list_add_vv(msg_list *l, const proto_id *author, uint64_t seq, const proto_id *chain);
int msg_list_add_want(msg_list *l, const proto_id *author, uint64_t from, uint64_t to);
int msg_list_add_record(msg_list *l, const uint8_t *rec, size_t len);
int msg_list_add_announce(msg_list *l, const proto_id *author, uint64_t seq, const proto_id *hash);

/* Items added so far, and the bytes they take in the frame (for batching:
 * gossip.c closes a records batch by count and by bytes). */
uint32_t msg_list_count(const msg_list *l);
size_t msg_list_bytes(const msg_list *l);

/* The whole frame (length prefix, map, the items), *len bytes; an empty list
 * gives a valid frame with an empty array.  The pointer lives in l and stays
 * valid until the next add, reset or destroy; asking again (after more
 * adds, say) is fine.  NULL (and *len = 0) only after a failed init.  The
 * frame body starts 4 bytes in, which is what msg_decode takes. */
const uint8_t *msg_list_frame(msg_list *l, size_t *len);

/* Drop the items (keeping the type, a hello's fields and the memory), to
 * build the next frame of the same kind. */
void msg_list_reset(msg_list *l);
void msg_list_destroy(msg_list *l);

#endif
