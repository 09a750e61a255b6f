/*
 * daemon/gossip.c — the sync protocol (DESIGN §4) on established connections.
 *
 * Messages are msgpack maps with a type "t":
 *   hello    {v, genesis, digest, vv:[[author, seq]...]}   on connect, and on digest mismatch
 *   want     {r:[[author, from, to]...]}                    seq ranges to send
 *   records  {recs:[bytes...]}                              a batch of signed records
 *   announce {a:[[author, seq, hash]...]}                   new records, cheap: fetch if missing
 *   digest   {d}                                            anti-entropy probe
 *   ping / pong, error {code, text} (then close)
 *
 * Every author's log is a dense prefix, so "author A after seq n" is an exact
 * delta.  What records frames bring goes to the connection's ingest
 * (daemon/ingest.c); what to push is decided by node_applied (daemon/node.c).
 */
#include "daemon/gossip.h"
#include "daemon/ingest.h"
#include "daemon/log.h"
#include "daemon/peer.h"
#include "daemon/node.h"
#include "store/kind.h"
#include "proto/util.h"

#include <stdlib.h>
#include <string.h>

#define PROTO_VERSION 1
#define BATCH_BYTES (256u << 10)
#define BATCH_RECORDS 1024u
#define WRITE_HIGH (1u << 20)
#define INFLIGHT_MS 3000u

struct inflight { proto_id author; uint64_t to; uint64_t at_ms; peer *from; };

typedef struct want_range { proto_id author; uint64_t from, to; } want_range;

/* The protocol's state of one connection. */
struct gossip_peer {
    want_range *wants;        /* ranges the peer asked for, being sent */
    size_t nwants, capwants;
    int hello_seen;
    uint64_t last_sync_ms, last_hello_ms;
};

gossip_peer *gossip_peer_new(void)
{
    return calloc(1, sizeof(gossip_peer));
}

void gossip_peer_free(gossip_peer *g)
{
    if (g)
        free(g->wants);
    free(g);
}

int gossip_idle(const peer *p)
{
    return !p->gs->nwants && !ingest_busy(p->ing);
}

uint64_t gossip_last_sync_ms(const peer *p)
{
    return p->gs->last_sync_ms;
}

/* ---- helpers ---- */

static void begin_msg(msgpack_sbuffer *sb, msgpack_packer *pk, const char *type, uint32_t fields)
{
    proto_frame_begin(sb, pk);
    msgpack_pack_map(pk, fields + 1);
    proto_pack_kv_str(pk, "t", type);
}

static void pack_id(msgpack_packer *pk, const proto_id *id)
{
    msgpack_pack_bin(pk, 32);
    msgpack_pack_bin_body(pk, id->b, 32);
}

/* A message {t: type, field: [n items]} whose items are already packed. */
static void list_msg(msgpack_sbuffer *sb, const char *type, const char *field, uint32_t n,
                     const msgpack_sbuffer *items)
{
    msgpack_packer pk;
    begin_msg(sb, &pk, type, 1);
    proto_pack_cstr(&pk, field);
    msgpack_pack_array(&pk, n);
    msgpack_sbuffer_write(sb, items->data, items->size);
}

/* Records of `a` up to `seq` arrived: a range still being sent is not stalled. */
void gossip_progress(catalogd *d, const proto_id *a, uint64_t seq)
{
    for (size_t i = 0; i < d->ninflight; i++)
        if (!memcmp(&d->inflight[i].author, a, 32)) {
            if (d->inflight[i].to > seq)
                d->inflight[i].at_ms = uv_now(d->loop);
            return;
        }
}

static struct inflight *inflight_get(catalogd *d, const proto_id *a)
{
    for (size_t i = 0; i < d->ninflight; i++)
        if (!memcmp(&d->inflight[i].author, a, 32))
            return &d->inflight[i];
    if (d->ninflight == d->capinflight) {
        size_t cap = d->capinflight ? d->capinflight * 2 : 64;
        struct inflight *n = realloc(d->inflight, cap * sizeof *n);
        if (!n)
            return NULL;
        d->inflight = n;
        d->capinflight = cap;
    }
    struct inflight *f = &d->inflight[d->ninflight++];
    f->author = *a;
    f->to = 0;
    f->at_ms = 0;
    f->from = NULL;
    return f;
}

/* ---- sending ---- */

typedef struct { msgpack_packer *pk; uint32_t n; msgpack_sbuffer tmp; msgpack_packer tpk; } vv_pack;

static int pack_vv_entry(void *ctx, const proto_id *a, uint64_t seq)
{
    vv_pack *v = ctx;
    msgpack_pack_array(&v->tpk, 2);
    pack_id(&v->tpk, a);
    msgpack_pack_uint64(&v->tpk, seq);
    v->n++;
    return 0;
}

static void send_hello(peer *p)
{
    catalogd *d = p->d;
    proto_id digest, genesis;
    int has_genesis;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    vv_pack v = { .n = 0 };
    store_digest_get(d->st, &digest, &genesis, &has_genesis);
    msgpack_sbuffer_init(&v.tmp);
    msgpack_packer_init(&v.tpk, &v.tmp, msgpack_sbuffer_write);
    store_vv(d->st, pack_vv_entry, &v);
    begin_msg(&sb, &pk, "hello", 4);
    proto_pack_kv_u64(&pk, "v", PROTO_VERSION);
    proto_pack_cstr(&pk, "genesis");
    if (has_genesis)
        pack_id(&pk, &genesis);
    else
        msgpack_pack_nil(&pk);
    proto_pack_cstr(&pk, "digest");
    pack_id(&pk, &digest);
    proto_pack_cstr(&pk, "vv");
    msgpack_pack_array(&pk, v.n);
    if (v.tmp.size)
        msgpack_sbuffer_write(&sb, v.tmp.data, v.tmp.size);
    msgpack_sbuffer_destroy(&v.tmp);
    p->gs->last_hello_ms = uv_now(d->loop);
    peer_send(p, &sb);
}

typedef struct {
    msgpack_sbuffer tmp;
    msgpack_packer tpk;
    uint32_t n;
    size_t bytes;
    uint64_t last;
} batch;

static int batch_add(void *ctx, const uint8_t *rec, size_t len)
{
    batch *b = ctx;
    msgpack_pack_bin(&b->tpk, len);
    msgpack_pack_bin_body(&b->tpk, rec, len);
    b->n++;
    b->bytes += len;
    proto_record r;
    if (proto_record_decode(rec, len, &r, NULL, 0) == 0)
        b->last = r.seq;
    return b->n >= BATCH_RECORDS || b->bytes >= BATCH_BYTES;
}

/* Send what the peer asked for, a batch at a time, while its socket keeps up. */
static void pump_wants(peer *p)
{
    while (p->gs->nwants && p->state == PEER_ESTABLISHED && peer_write_queue(p) < WRITE_HIGH) {
        want_range *w = &p->gs->wants[0];
        batch b = { .n = 0, .last = 0 };
        msgpack_sbuffer_init(&b.tmp);
        msgpack_packer_init(&b.tpk, &b.tmp, msgpack_sbuffer_write);
        store_range(p->d->st, &w->author, w->from, w->to, batch_add, &b);
        if (b.n == 0 || b.last >= w->to) {
            memmove(p->gs->wants, p->gs->wants + 1, (p->gs->nwants - 1) * sizeof *p->gs->wants);
            p->gs->nwants--;
        } else {
            w->from = b.last + 1;
        }
        if (b.n) {
            msgpack_sbuffer sb;
            list_msg(&sb, "records", "recs", b.n, &b.tmp);
            p->recs_out += b.n;
            p->d->records_out += b.n;
            peer_send(p, &sb);
            catalogd_churn(p->d, b.tmp.size);
        }
        msgpack_sbuffer_destroy(&b.tmp);
    }
}

void gossip_on_writable(peer *p)
{
    pump_wants(p);
}

static void announce_to(peer *p, const proto_record *recs, const int *ok, size_t n)
{
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ok[i];
    if (!k || p->state != PEER_ESTABLISHED)
        return;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    begin_msg(&sb, &pk, "announce", 1);
    proto_pack_cstr(&pk, "a");
    msgpack_pack_array(&pk, k);
    for (size_t i = 0; i < n; i++) {
        if (!ok[i])
            continue;
        proto_id h;
        proto_record_hash(recs[i].raw, recs[i].raw_len, &h);
        msgpack_pack_array(&pk, 3);
        pack_id(&pk, &recs[i].author);
        msgpack_pack_uint64(&pk, recs[i].seq);
        pack_id(&pk, &h);
    }
    peer_send(p, &sb);
}

static void announce_all(catalogd *d, peer *except, const proto_record *recs, const int *ok, size_t n)
{
    for (peer *p = d->peers; p; p = p->next)
        if (p != except && p->state == PEER_ESTABLISHED && p->gs->hello_seen)
            announce_to(p, recs, ok, n);
}

/* A record written here is pushed whole to every connected peer: they lack
 * it for certain, and sending it at once saves the announce/want round trip.
 * A peer whose socket is backed up gets only the announce. */
/* One record, whole, in a records frame. */
static void send_one(peer *p, const uint8_t *rec, size_t len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    begin_msg(&sb, &pk, "records", 1);
    proto_pack_cstr(&pk, "recs");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_bin(&pk, len);
    msgpack_pack_bin_body(&pk, rec, len);
    p->recs_out++;
    p->d->records_out++;
    peer_send(p, &sb);
}

static void push_record(catalogd *d, peer *except, const uint8_t *rec, size_t len)
{
    proto_record r;
    int ok = 1;
    if (proto_record_decode(rec, len, &r, NULL, 0))
        return;
    for (peer *p = d->peers; p; p = p->next) {
        if (p == except || p->state != PEER_ESTABLISHED || !p->gs->hello_seen)
            continue;
        if (peer_write_queue(p) > WRITE_HIGH) {
            announce_to(p, &r, &ok, 1);
            continue;
        }
        send_one(p, rec, len);
    }
}

/* ---- the outbox: records written here, pushed once per loop turn ---- */

struct outbox {
    uv_idle_t idle;          /* active while records wait: the loop does not block */
    msgpack_sbuffer recs;    /* packed bins of the waiting records */
    msgpack_packer pk;
    uint32_t n;
};

static void outbox_flush(catalogd *d)
{
    struct outbox *o = d->outbox;
    if (!o || !o->n)
        return;
    msgpack_sbuffer sb;
    list_msg(&sb, "records", "recs", o->n, &o->recs);
    proto_frame_end(&sb);
    proto_record *dec = NULL;
    int *ok = NULL;
    for (peer *p = d->peers; p; p = p->next) {
        if (p->state != PEER_ESTABLISHED || !p->gs->hello_seen)
            continue;
        if (peer_write_queue(p) <= WRITE_HIGH) {
            peer_send_frame(p, sb.data, sb.size);
            p->recs_out += o->n;
            d->records_out += o->n;
            continue;
        }
        /* a peer whose socket is backed up gets announces; it fetches later */
        if (!dec) {
            proto_rd r;
            uint32_t n;
            const uint8_t *b;
            uint32_t l;
            dec = calloc(o->n, sizeof *dec);
            ok = calloc(o->n, sizeof *ok);
            if (dec && ok && proto_map_find((uint8_t *)sb.data + 4, sb.size - 4, "recs", &r) == 0 &&
                proto_rd_array(&r, &n) == 0)
                for (uint32_t i = 0; i < n && i < o->n; i++)
                    ok[i] = proto_rd_bin(&r, &b, &l) == 0 &&
                            proto_record_decode(b, l, &dec[i], NULL, 0) == 0;
        }
        if (dec && ok)
            announce_to(p, dec, ok, o->n);
        else
            peer_send_frame(p, sb.data, sb.size);   /* no memory to announce: send it anyway */
    }
    free(dec);
    free(ok);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_clear(&o->recs);
    o->n = 0;
}

static void on_outbox_idle(uv_idle_t *h)
{
    catalogd *d = h->data;
    uv_idle_stop(h);
    outbox_flush(d);
}

void gossip_push_local(catalogd *d, const uint8_t *rec, size_t len)
{
    struct outbox *o = d->outbox;
    if (d->stopping) {
        push_record(d, NULL, rec, len);
        return;
    }
    if (!o) {
        o = d->outbox = calloc(1, sizeof *o);
        if (!o) {
            push_record(d, NULL, rec, len);
            return;
        }
        msgpack_sbuffer_init(&o->recs);
        msgpack_packer_init(&o->pk, &o->recs, msgpack_sbuffer_write);
        uv_idle_init(d->loop, &o->idle);
        o->idle.data = d;
    }
    if (o->n && (o->n >= BATCH_RECORDS || o->recs.size + len > BATCH_BYTES))
        outbox_flush(d);
    msgpack_pack_bin(&o->pk, len);
    msgpack_pack_bin_body(&o->pk, rec, len);
    if (o->n++ == 0)
        uv_idle_start(&o->idle, on_outbox_idle);
}

static void on_outbox_closed(uv_handle_t *h)
{
    struct outbox *o = (struct outbox *)h;   /* idle is the first member */
    msgpack_sbuffer_destroy(&o->recs);
    free(o);
}

void gossip_shutdown(catalogd *d)
{
    if (!d->outbox)
        return;
    outbox_flush(d);
    uv_close((uv_handle_t *)&d->outbox->idle, on_outbox_closed);
    d->outbox = NULL;
}

/* Equivocation evidence travels at once: every peer gets the record we just
 * learned, and the sender gets the one we held, so every node ends up with
 * both, keeps the same winner and reports the fork. */
typedef struct { catalogd *d; peer *to; const proto_record *got; } fork_ctx;

/* Send the sender every version of (author, seq) we hold except its own. */
static int push_other(void *ctx, const uint8_t *rec, size_t len)
{
    fork_ctx *f = ctx;
    proto_record r;
    if (proto_record_decode(rec, len, &r, NULL, 0) || memcmp(&r.author, &f->got->author, 32) ||
        r.seq != f->got->seq || (len == f->got->raw_len && !memcmp(rec, f->got->raw, len)))
        return 0;
    if (f->to->state == PEER_ESTABLISHED)
        send_one(f->to, rec, len);
    return 0;
}

/* Must a record received from a peer be announced onwards?  With every
 * member connected (fanout 0) and a live connection to its author, every
 * peer got it from the author already; otherwise relay. */
static int relay_needed(catalogd *d, const proto_id *author)
{
    if (d->fanout)
        return 1;
    for (peer *p = d->peers; p; p = p->next)
        if (p->state == PEER_ESTABLISHED && p->id_known && !memcmp(&p->id, author, 32))
            return 0;
    return 1;
}

void gossip_relay(catalogd *d, peer *from, const proto_record *recs, const int *results, size_t n)
{
    int *relay = calloc(n ? n : 1, sizeof *relay);
    if (!relay)
        return;   /* the others learn them by anti-entropy */
    for (size_t i = 0; i < n; i++)
        relay[i] = results[i] == STORE_NEW && relay_needed(d, &recs[i].author);
    announce_all(d, from, recs, relay, n);
    free(relay);
}

void gossip_fork_evidence(catalogd *d, peer *from, const proto_record *r)
{
    push_record(d, from, r->raw, r->raw_len);
    fork_ctx fc = { d, from, r };
    store_range(d->st, &r->author, r->seq, r->seq, push_other, &fc);
    store_forks(d->st, push_other, &fc);
}

/* ---- wanting ---- */

typedef struct { msgpack_sbuffer tmp; msgpack_packer tpk; uint32_t n; peer *to; } want_list;

static void want_add(catalogd *d, want_list *w, const proto_id *a, uint64_t from, uint64_t to)
{
    uint64_t now = uv_now(d->loop);
    struct inflight *f = inflight_get(d, a);
    /* Someone is already sending these: ask only for what lies beyond. */
    if (f && now - f->at_ms < INFLIGHT_MS && f->to >= from) {
        if (f->to >= to)
            return;
        from = f->to + 1;
    }
    if (f) {
        f->to = to;
        f->at_ms = now;
        f->from = w->to;
    }
    msgpack_pack_array(&w->tpk, 3);
    pack_id(&w->tpk, a);
    msgpack_pack_uint64(&w->tpk, from);
    msgpack_pack_uint64(&w->tpk, to);
    w->n++;
}

static void want_send(peer *p, want_list *w)
{
    if (w->n) {
        msgpack_sbuffer sb;
        list_msg(&sb, "want", "r", w->n, &w->tmp);
        peer_send(p, &sb);
    }
    msgpack_sbuffer_destroy(&w->tmp);
}

/* ---- receiving ---- */

static void on_records(peer *p, const uint8_t *f, size_t len)
{
    proto_rd r;
    uint32_t n;
    if (proto_map_find(f, len, "recs", &r) || proto_rd_array(&r, &n) || n > 100000) {
        peer_fail(p, ERR_PROTO, "malformed records message");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *b;
        uint32_t l;
        if (proto_rd_bin(&r, &b, &l)) {
            peer_fail(p, ERR_PROTO, "malformed records message");
            return;
        }
        if (ingest_add(p->ing, b, l)) {
            peer_fail(p, ERR_PROTO, "out of memory");
            return;
        }
    }
    ingest_frame_done(p->ing);
}

static void on_hello(peer *p, const uint8_t *f, size_t len)
{
    catalogd *d = p->d;
    proto_rd r;
    uint64_t v;
    struct { proto_id digest, genesis; int has_genesis; } si;
    proto_id g, dg;
    int their_g = 0;
    if (proto_map_u64(f, len, "v", &v) || v != PROTO_VERSION) {
        peer_fail(p, ERR_PROTO, "protocol version %llu not supported (this node speaks %d)",
                  (unsigned long long)v, PROTO_VERSION);
        return;
    }
    if (proto_map_find(f, len, "genesis", &r))
        goto bad;
    if (proto_rd_peek(&r) == PROTO_MP_BIN) {
        if (proto_rd_binfix(&r, g.b, 32))
            goto bad;
        their_g = 1;
    }
    if (proto_map_find(f, len, "digest", &r) || proto_rd_binfix(&r, dg.b, 32))
        goto bad;
    store_digest_get(d->st, &si.digest, &si.genesis, &si.has_genesis);
    if (si.has_genesis && their_g && memcmp(&si.genesis, &g, 32)) {
        char a[65], b[65];
        proto_hex(g.b, 32, a);
        proto_hex(si.genesis.b, 32, b);
        peer_fail(p, ERR_ALLIANCE, "peer belongs to another alliance (genesis %.16s…, ours %.16s…)", a, b);
        return;
    }
    p->gs->hello_seen = 1;
    p->gs->last_sync_ms = uv_now(d->loop);
    uint32_t n;
    if (proto_map_find(f, len, "vv", &r) || proto_rd_array(&r, &n))
        goto bad;
    want_list w = { .n = 0, .to = p };
    msgpack_sbuffer_init(&w.tmp);
    msgpack_packer_init(&w.tpk, &w.tmp, msgpack_sbuffer_write);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t two;
        proto_id a;
        uint64_t seq;
        if (proto_rd_array(&r, &two) || two != 2 || proto_rd_binfix(&r, a.b, 32) || proto_rd_uint(&r, &seq)) {
            msgpack_sbuffer_destroy(&w.tmp);
            goto bad;
        }
        uint64_t have = store_vv_get(d->st, &a);
        if (seq > have)
            want_add(d, &w, &a, have + 1, seq);
    }
    want_send(p, &w);
    /* They may lack what we hold: tell them our vector (at most twice a second). */
    if (memcmp(&dg, &si.digest, 32) && uv_now(d->loop) - p->gs->last_hello_ms > 500)
        send_hello(p);
    return;
bad:
    peer_fail(p, ERR_PROTO, "malformed hello");
}

static void on_want(peer *p, const uint8_t *f, size_t len)
{
    proto_rd r;
    uint32_t n;
    if (proto_map_find(f, len, "r", &r) || proto_rd_array(&r, &n) || n > 100000) {
        peer_fail(p, ERR_PROTO, "malformed want");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t three;
        want_range w;
        if (proto_rd_array(&r, &three) || three != 3 || proto_rd_binfix(&r, w.author.b, 32) ||
            proto_rd_uint(&r, &w.from) || proto_rd_uint(&r, &w.to) || w.from == 0 || w.to < w.from) {
            peer_fail(p, ERR_PROTO, "malformed want range");
            return;
        }
        if (p->gs->nwants == p->gs->capwants) {
            size_t cap = p->gs->capwants ? p->gs->capwants * 2 : 16;
            want_range *nw = realloc(p->gs->wants, cap * sizeof *nw);
            if (!nw)
                return;
            p->gs->wants = nw;
            p->gs->capwants = cap;
        }
        p->gs->wants[p->gs->nwants++] = w;
    }
    pump_wants(p);
}

static void on_announce(peer *p, const uint8_t *f, size_t len)
{
    proto_rd r;
    uint32_t n;
    if (proto_map_find(f, len, "a", &r) || proto_rd_array(&r, &n)) {
        peer_fail(p, ERR_PROTO, "malformed announce");
        return;
    }
    want_list w = { .n = 0, .to = p };
    msgpack_sbuffer_init(&w.tmp);
    msgpack_packer_init(&w.tpk, &w.tmp, msgpack_sbuffer_write);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t three;
        proto_id a, h;
        uint64_t seq;
        if (proto_rd_array(&r, &three) || three != 3 || proto_rd_binfix(&r, a.b, 32) ||
            proto_rd_uint(&r, &seq) || proto_rd_binfix(&r, h.b, 32)) {
            msgpack_sbuffer_destroy(&w.tmp);
            peer_fail(p, ERR_PROTO, "malformed announce");
            return;
        }
        uint64_t have = store_vv_get(p->d->st, &a);
        if (seq > have)
            want_add(p->d, &w, &a, have + 1, seq);
    }
    want_send(p, &w);
}

static void on_digest(peer *p, const uint8_t *f, size_t len)
{
    proto_rd r;
    proto_id dg, mine;
    if (proto_map_find(f, len, "d", &r) || proto_rd_binfix(&r, dg.b, 32)) {
        peer_fail(p, ERR_PROTO, "malformed digest");
        return;
    }
    p->gs->last_sync_ms = uv_now(p->d->loop);
    store_digest_get(p->d->st, &mine, NULL, NULL);
    if (memcmp(&dg, &mine, 32))
        send_hello(p);
}

void gossip_on_frame(peer *p, const uint8_t *f, size_t len)
{
    char t[16];
    if (proto_map_str(f, len, "t", t, sizeof t)) {
        peer_fail(p, ERR_PROTO, "message without a type");
        return;
    }
    if (!p->gs->hello_seen && strcmp(t, "hello") && strcmp(t, "error")) {
        peer_fail(p, ERR_PROTO, "expected hello first, got %s", t);
        return;
    }
    if (!strcmp(t, "hello"))
        on_hello(p, f, len);
    else if (!strcmp(t, "records"))
        on_records(p, f, len);
    else if (!strcmp(t, "want"))
        on_want(p, f, len);
    else if (!strcmp(t, "announce"))
        on_announce(p, f, len);
    else if (!strcmp(t, "digest"))
        on_digest(p, f, len);
    else if (!strcmp(t, "ping")) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        begin_msg(&sb, &pk, "pong", 0);
        peer_send(p, &sb);
    } else if (!strcmp(t, "pong")) {
        p->gs->last_sync_ms = uv_now(p->d->loop);
    } else if (!strcmp(t, "error")) {
        char text[512] = "";
        uint64_t code = 0;
        proto_map_str(f, len, "text", text, sizeof text);
        proto_map_u64(f, len, "code", &code);
        log_warn(p->d, "peer %s (%s) reported error %llu: %s", p->addr, p->name, (unsigned long long)code, text);
        peer_close(p);
    } else {
        peer_fail(p, ERR_PROTO, "unknown message type '%s'", t);
    }
}

void gossip_on_established(peer *p)
{
    send_hello(p);
}

void gossip_peer_gone(peer *p)
{
    /* what was asked of it will not come: let the next announce or hello
     * ask someone else at once instead of after INFLIGHT_MS */
    catalogd *d = p->d;
    for (size_t i = 0; i < d->ninflight; i++)
        if (d->inflight[i].from == p) {
            d->inflight[i].from = NULL;
            d->inflight[i].at_ms = 0;
        }
}

void gossip_tick(catalogd *d)
{
    uint64_t now = uv_now(d->loop);
    /* the tick that brings the probe may fire a millisecond early */
    if (now - d->last_sync_ms + 50 < d->sync_interval_ms)
        return;
    d->last_sync_ms = now;
    unsigned n = 0;
    for (peer *p = d->peers; p; p = p->next)
        n += p->state == PEER_ESTABLISHED && p->gs->hello_seen;
    if (!n)
        return;
    unsigned pick = (unsigned)rand() % n;
    for (peer *p = d->peers; p; p = p->next) {
        if (p->state != PEER_ESTABLISHED || !p->gs->hello_seen)
            continue;
        if (pick-- == 0) {
            proto_id digest;
            msgpack_sbuffer sb;
            msgpack_packer pk;
            store_digest_get(d->st, &digest, NULL, NULL);
            begin_msg(&sb, &pk, "digest", 1);
            proto_pack_cstr(&pk, "d");
            pack_id(&pk, &digest);
            peer_send(p, &sb);
            break;
        }
    }
}
