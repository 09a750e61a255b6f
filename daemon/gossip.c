/*
 * daemon/gossip.c — the sync protocol (DESIGN §4) on established connections.
 *
 * The messages are proto/msg.h's: hello on connect and on a digest
 * mismatch, want (seq ranges to send), records, announce (new records,
 * cheap: fetch if missing), digest (the anti-entropy probe), sums/points
 * (reconciling two logs of one author), ping/pong,
 * error (then close).  Each frame is decoded once by msg_decode, which
 * checks every size and count against proto/limits.h; a table maps each
 * message type to its handler.
 *
 * Every author's log is a dense prefix, so "author A after seq n" is an exact
 * delta.  Equal seqs need not mean equal logs (a member may sign two
 * versions of a seq and show each to other nodes), so a hello carries each
 * author's log chain at its seq (store/store_sum.c); where a peer's chain
 * differs from ours at the same seq, a reconciliation bisects the two logs
 * with sums/points requests to the first seq where they differ, and both
 * sides send each other their version there: fork evidence on both, the
 * same winner (lowest hash), and the next round goes on past it.  With a
 * fanout, new records travel along the broadcast tree (daemon/tree.c):
 * this file calls it from the relay, the outbox, records frames pushed to
 * us, announces, and wants that prune or graft.  What records frames bring goes to the connection's ingest
 * (daemon/ingest.c); what to push is decided by node_applied (daemon/node.c).
 */
#include "daemon/gossip.h"
#include "daemon/ingest.h"
#include "daemon/log.h"
#include "daemon/peer.h"
#include "daemon/node.h"
#include "daemon/tree.h"
#include "store/kind.h"
#include "proto/msg.h"
#include "proto/limits.h"
#include "proto/util.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#define INFLIGHT_MS 3000u

/* ---- tables keyed by author ----
 *
 * An open-addressing index over a dense array of entries whose first member
 * is the author.  Authors are hashes, but a peer chooses which ones it names,
 * so the index is keyed by a random seed of its own: nobody can aim a flood
 * of authors at one chain. */

typedef struct {
    uint32_t *slot;   /* entry index + 1, 0 = empty */
    size_t cap;       /* a power of two, at least twice the entries */
    uint64_t seed;
} author_index;

/* The slot of `a`: holding its entry, or the empty one where it belongs. */
static uint32_t *aidx_slot(author_index *x, const void *entries, size_t stride, const proto_id *a)
{
    size_t mask = x->cap - 1, i = (size_t)proto_id_hash(x->seed, a) & mask;
    while (x->slot[i] && memcmp((const char *)entries + (x->slot[i] - 1) * stride, a, 32))
        i = (i + 1) & mask;
    return &x->slot[i];
}

/* Index entries [0, n) anew in a table of at least 2n slots; -1 out of memory. */
static int aidx_rebuild(author_index *x, const void *entries, size_t stride, size_t n)
{
    size_t cap = x->cap ? x->cap : 64;
    while (cap < 2 * n + 2)
        cap *= 2;
    uint32_t *s = calloc(cap, sizeof *s);
    if (!s)
        return -1;
    if (!x->slot)
        RAND_bytes((unsigned char *)&x->seed, sizeof x->seed);
    free(x->slot);
    x->slot = s;
    x->cap = cap;
    for (size_t k = 0; k < n; k++)
        *aidx_slot(x, entries, stride, (const proto_id *)((const char *)entries + k * stride)) = (uint32_t)k + 1;
    return 0;
}

/* ---- the in-flight table: wants sent, per author ---- */

struct inflight { proto_id author; uint64_t to; uint64_t at_ms; peer *from; };

struct inflight_table {
    struct inflight *e;
    size_t n, cap;
    uint64_t full_prune_ms;   /* when a full table was last pruned */
    author_index idx;
};

void gossip_free(catalogd *d)
{
    if (d->inflight) {
        free(d->inflight->e);
        free(d->inflight->idx.slot);
        free(d->inflight);
        d->inflight = NULL;
    }
}

/* Drop entries older than INFLIGHT_MS (their wants are stale: the next
 * announce or hello asks again) and index the rest anew. */
static void inflight_prune(catalogd *d)
{
    struct inflight_table *t = d->inflight;
    uint64_t now = uv_now(d->loop);
    size_t k = 0;
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        if (now - t->e[i].at_ms < INFLIGHT_MS)
            t->e[k++] = t->e[i];
    if (k == t->n)
        return;
    t->n = k;
    if (aidx_rebuild(&t->idx, t->e, sizeof *t->e, t->n))
        t->n = 0;   /* no memory for the index: forget them all (wants are asked again) */
}

static struct inflight *inflight_find(catalogd *d, const proto_id *a)
{
    struct inflight_table *t = d->inflight;
    if (!t || !t->n)
        return NULL;
    uint32_t s = *aidx_slot(&t->idx, t->e, sizeof *t->e, a);
    return s ? &t->e[s - 1] : NULL;
}

/* The entry of `a`, created if need be; NULL when the table is full of
 * entries still in flight (the want is then sent, only not remembered). */
static struct inflight *inflight_get(catalogd *d, const proto_id *a)
{
    struct inflight_table *t = d->inflight;
    struct inflight *f = inflight_find(d, a);
    if (f)
        return f;
    if (!t && !(t = d->inflight = calloc(1, sizeof *t)))
        return NULL;
    if (t->n >= NODE_INFLIGHT_MAX && uv_now(d->loop) - t->full_prune_ms >= INFLIGHT_MS / 10) {
        /* full: prune now, but not on every miss (a prune is a pass over
         * the table; when it frees nothing the next misses would repeat it) */
        t->full_prune_ms = uv_now(d->loop);
        inflight_prune(d);
    }
    if (t->n >= NODE_INFLIGHT_MAX)
        return NULL;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct inflight *n = realloc(t->e, cap * sizeof *n);
        if (!n)
            return NULL;
        t->e = n;
        t->cap = cap;
    }
    if (2 * (t->n + 1) + 2 > t->idx.cap && aidx_rebuild(&t->idx, t->e, sizeof *t->e, t->n))
        return NULL;
    f = &t->e[t->n];
    *aidx_slot(&t->idx, t->e, sizeof *t->e, a) = (uint32_t)++t->n;
    f->author = *a;
    f->to = 0;
    f->at_ms = 0;
    f->from = NULL;
    return f;
}

/* Records of `a` up to `seq` arrived: a range still being sent is not stalled. */
void gossip_progress(catalogd *d, const proto_id *a, uint64_t seq)
{
    struct inflight *f = inflight_find(d, a);
    if (f && f->to > seq)
        f->at_ms = uv_now(d->loop);
}

void gossip_dropped(catalogd *d, const proto_id *a)
{
    struct inflight *f = inflight_find(d, a);
    if (f)
        f->at_ms = 0;   /* ask again with the next announce or hello */
}

/* ---- what a peer asked for ----
 *
 * Per author, one range owed: [next, hi].  An author's log is a dense
 * prefix, so whatever a peer lacks of it is one range, and every range it
 * asks for merges into that one: a want never makes us send a record twice
 * on one connection, however many overlapping or repeated ranges it lists,
 * and each range costs a hash lookup, never a scan or a move of the queue.
 * next only falls again when the peer's hello says it holds less than we
 * sent (records it had to drop: see daemon/ingest.c). */

typedef struct want_owed {
    proto_id author;
    uint64_t next, hi;   /* owed: [next, hi]; next > hi when nothing is */
    uint32_t qnext;      /* the next author in the send queue, index + 1 */
    int queued;
    uint64_t reset_ms;   /* when a hello last lowered next (0: never) */
} want_owed;

/* A reconciliation of one author's log with one peer.  Invariant: the two
 * logs agree up to lo-1 (chain_0 is the same for both) and differed at hi
 * when last asked, so the first differing seq lies in lo..hi. */
enum { RECON_BISECT = 1,   /* a sums request for lo..hi is in flight */
       RECON_FETCH };      /* k found: versions exchanged, waiting for the fork */
typedef struct recon {
    proto_id author;
    uint64_t lo, hi;
    uint64_t top;             /* the peer's seq whose chain differed from ours */
    uint64_t k;               /* RECON_FETCH: the first differing seq */
    int stage;
    unsigned tries;           /* rounds that found the same k */
    uint64_t at_ms;           /* last request */
} recon;

/* The protocol's state of one connection. */
struct gossip_peer {
    want_owed *owed;          /* per author asked for */
    size_t nowed, capowed;
    author_index idx;
    uint32_t qhead, qtail;    /* authors with records owed, in the order asked: index + 1 */
    recon recons[NODE_RECON_MAX];
    size_t nrecons;
    int hello_seen;
    uint64_t last_sync_ms, last_hello_ms;
    /* The digest the peer last told us (hello, digest) and when it last
     * equalled ours: `status` says "in sync" from these, not from
     * last_sync_ms, which any hello, digest or pong moves. */
    proto_id peer_digest;
    int has_peer_digest;
    uint64_t last_match_ms;
    uint64_t recheck_ms;      /* its digest differed: send ours again (digest again) from then; 0 none */
};

static void recon_forked(catalogd *d, const proto_id *author);

gossip_peer *gossip_peer_new(void)
{
    return calloc(1, sizeof(gossip_peer));
}

void gossip_peer_free(gossip_peer *g)
{
    if (g) {
        free(g->owed);
        free(g->idx.slot);
    }
    free(g);
}

int gossip_ready(const peer *p)
{
    return p->gs && p->gs->hello_seen;
}

int gossip_owes(const peer *p)
{
    return p->gs->qhead != 0;
}

int gossip_idle(const peer *p)
{
    return !p->gs->qhead && !ingest_busy(p->ing);
}

uint64_t gossip_last_sync_ms(const peer *p)
{
    return p->gs->last_sync_ms;
}

int gossip_in_sync(const peer *p, const proto_id *ours)
{
    return p->gs->has_peer_digest && !memcmp(&p->gs->peer_digest, ours, sizeof *ours);
}

uint64_t gossip_last_match_ms(const peer *p)
{
    return p->gs->last_match_ms;
}

static void note_digest(peer *p, const proto_id *theirs, const proto_id *ours)
{
    p->gs->peer_digest = *theirs;
    p->gs->has_peer_digest = 1;
    if (!memcmp(theirs, ours, sizeof *ours))
        p->gs->last_match_ms = uv_now(p->d->loop);
}

static want_owed *owed_find(gossip_peer *g, const proto_id *a)
{
    if (!g->nowed)
        return NULL;
    uint32_t s = *aidx_slot(&g->idx, g->owed, sizeof *g->owed, a);
    return s ? &g->owed[s - 1] : NULL;
}

/* The peer wants [from, to] of `a`, already clipped to what we hold.
 * 0, or -1 when the peer is over NODE_WANT_AUTHORS_MAX (or no memory). */
static int owed_add(gossip_peer *g, const proto_id *a, uint64_t from, uint64_t to)
{
    want_owed *w = owed_find(g, a);
    if (!w) {
        if (g->nowed >= NODE_WANT_AUTHORS_MAX)
            return -1;
        if (g->nowed == g->capowed) {
            size_t cap = g->capowed ? g->capowed * 2 : 16;
            want_owed *n = realloc(g->owed, cap * sizeof *n);
            if (!n)
                return -1;
            g->owed = n;
            g->capowed = cap;
        }
        if (2 * (g->nowed + 1) + 2 > g->idx.cap && aidx_rebuild(&g->idx, g->owed, sizeof *g->owed, g->nowed))
            return -1;
        w = &g->owed[g->nowed];
        *aidx_slot(&g->idx, g->owed, sizeof *g->owed, a) = (uint32_t)++g->nowed;
        *w = (want_owed){ .author = *a, .next = from, .hi = 0 };
    }
    if (from > w->next)
        w->next = from;   /* it holds what lies below */
    if (to > w->hi)
        w->hi = to;
    if (w->next <= w->hi && !w->queued) {
        uint32_t k = (uint32_t)(w - g->owed) + 1;
        w->queued = 1;
        w->qnext = 0;
        if (g->qtail)
            g->owed[g->qtail - 1].qnext = k;
        else
            g->qhead = k;
        g->qtail = k;
    }
    return 0;
}

/* The peer's hello says it holds `a` up to `seq`: what we sent beyond that
 * and it lacks (dropped before it could apply) is owed again when asked. */
static void owed_holds(gossip_peer *g, const proto_id *a, uint64_t seq, uint64_t now)
{
    want_owed *w = owed_find(g, a);
    /* At most once per NODE_WANT_RESEND_MS per author: a peer that keeps
     * saying it holds less than it was sent (hello, then want, again and
     * again) gets a log resent that often, not at line rate. */
    if (w && !w->queued && w->next > seq + 1 &&
        (!w->reset_ms || now - w->reset_ms >= NODE_WANT_RESEND_MS)) {
        w->next = seq + 1;
        w->reset_ms = now;
    }
}

/* Count the runs of one author in a want or announce frame (cheap: no
 * lookup), so an over-budget frame is refused before any work. */
static int frame_author_runs_ok(peer *p, const msg *m)
{
    msg_iter it;
    proto_id a, prev, h;
    uint64_t x, y;
    uint32_t runs = 0;
    int more;
    msg_iter_init(&it, m);
    for (;;) {
        if (m->type == MSG_WANT)
            more = msg_want_next(&it, &a, &x, &y);
        else
            more = msg_announce_next(&it, &a, &x, &h);
        if (!more)
            break;
        if (runs == 0 || memcmp(&a, &prev, 32)) {
            if (++runs > NODE_FRAME_AUTHORS_MAX) {
                peer_fail(p, MSG_ERR_LIMIT, "%s of more than %u authors", msg_type_name(m->type),
                          NODE_FRAME_AUTHORS_MAX);
                return 0;
            }
            prev = a;
        }
    }
    return 1;
}

/* ---- helpers ---- */

/* Send a builder's frame (it stays usable: reset it to build the next). */
static void send_list(peer *p, msg_list *l)
{
    size_t len;
    const uint8_t *f = msg_list_frame(l, &len);
    if (f)
        peer_send_frame(p, f, len);
}

/* Send a frame packed by one of the msg_pack_* encoders. */
static void send_packed(peer *p, int rc, msgpack_sbuffer *sb)
{
    if (rc == 0) {
        peer_send_frame(p, sb->data, sb->size);
        msgpack_sbuffer_destroy(sb);
    }
}

/* ---- sending ---- */

static int pack_vv_entry(void *ctx, const proto_id *a, uint64_t seq, const uint8_t *chain)
{
    /* MSG_VV_MAX is far above any alliance's authors: a vector that does
     * not fit is cut, and the rest is learned by announces */
    return msg_list_add_vv(ctx, a, seq, (const proto_id *)chain) != 0;
}

static void send_hello(peer *p)
{
    catalogd *d = p->d;
    proto_id digest, genesis;
    int has_genesis;
    msg_list l;
    store_digest_get(d->st, &digest, &genesis, &has_genesis);
    if (msg_list_init_hello(&l, has_genesis ? &genesis : NULL, &digest) == 0 && msg_list_set_push(&l, 1) == 0) {
        store_vv_chains(d->st, pack_vv_entry, &l);
        p->gs->last_hello_ms = uv_now(d->loop);
        send_list(p, &l);
    }
    msg_list_destroy(&l);
}

typedef struct {
    msg_list *l;
    size_t bytes;     /* the records' own bytes */
    uint64_t last;
} batch;

/* Records sent from here are records this node holds, so they are decoded
 * as stored: one kept from before the text rule must still advance a
 * range, or the range would be sent again and again.  Only the seq is
 * wanted: the header alone (proto_record_decode_header), not the body's
 * every string, which was most of a sender's CPU per record. */
static int batch_add(void *ctx, const uint8_t *rec, size_t len)
{
    batch *b = ctx;
    if (msg_list_add_record(b->l, rec, len))
        return 1;   /* the frame is full: the rest goes in the next */
    b->bytes += len;
    proto_record r;
    if (proto_record_decode_header(rec, len, &r, NULL, 0) == 0)
        b->last = r.seq;
    return msg_list_count(b->l) >= NODE_BATCH_RECORDS || b->bytes >= NODE_BATCH_BYTES;
}

/* Send what the peer asked for, a batch at a time, while its socket keeps up. */
static void pump_wants(peer *p)
{
    gossip_peer *g = p->gs;
    msg_list l;
    if (!g->qhead || msg_list_init(&l, MSG_RECORDS))
        return;
    while (g->qhead && p->state == PEER_ESTABLISHED && peer_write_queue(p) < NODE_PEER_WRITE_HIGH) {
        want_owed *w = &g->owed[g->qhead - 1];
        batch b = { &l, 0, 0 };
        msg_list_reset(&l);
        store_range(p->d->st, &w->author, w->next, w->hi, batch_add, &b);
        uint32_t n = msg_list_count(&l);
        w->next = n == 0 || b.last >= w->hi ? w->hi + 1 : b.last + 1;
        if (w->next > w->hi) {
            w->queued = 0;
            g->qhead = w->qnext;
            if (!g->qhead)
                g->qtail = 0;
        }
        if (n) {
            p->recs_out += n;
            p->d->records_out += n;
            send_list(p, &l);
            catalogd_churn(p->d, msg_list_bytes(&l));
        }
    }
    msg_list_destroy(&l);
}

void gossip_on_writable(peer *p)
{
    pump_wants(p);
}

static void announce_to(peer *p, const proto_record *recs, const int *ok, size_t n)
{
    msg_list l;
    if (p->state != PEER_ESTABLISHED || msg_list_init(&l, MSG_ANNOUNCE))
        return;
    for (size_t i = 0; i < n; i++) {
        if (!ok[i])
            continue;
        proto_id h;
        proto_record_hash(recs[i].raw, recs[i].raw_len, &h);
        if (msg_list_add_announce(&l, &recs[i].author, recs[i].seq, &h) == MSG_LIST_FULL) {
            send_list(p, &l);
            msg_list_reset(&l);
            msg_list_add_announce(&l, &recs[i].author, recs[i].seq, &h);
        }
    }
    if (msg_list_count(&l))
        send_list(p, &l);
    msg_list_destroy(&l);
}

static void announce_all(catalogd *d, peer *except, const proto_record *recs, const int *ok, size_t n)
{
    for (peer *p = d->peers; p; p = p->next)
        if (p != except && p->state == PEER_ESTABLISHED && p->gs->hello_seen)
            announce_to(p, recs, ok, n);
}

/* One record, whole, in a records frame. */
static void send_one(peer *p, const uint8_t *rec, size_t len)
{
    msg_list l;
    if (msg_list_init(&l, MSG_RECORDS) == 0 && msg_list_add_record(&l, rec, len) == 0) {
        p->recs_out++;
        p->d->records_out++;
        send_list(p, &l);
    }
    msg_list_destroy(&l);
}

/* A record written here is pushed whole to every connected peer: they lack
 * it for certain, and sending it at once saves the announce/want round trip.
 * A peer whose socket is backed up gets only the announce. */
static void push_record(catalogd *d, peer *except, const uint8_t *rec, size_t len)
{
    proto_record r;
    int ok = 1;
    if (proto_record_decode_stored(rec, len, &r, NULL, 0))
        return;
    for (peer *p = d->peers; p; p = p->next) {
        if (p == except || p->state != PEER_ESTABLISHED || !p->gs->hello_seen)
            continue;
        if (peer_write_queue(p) > NODE_PEER_WRITE_HIGH) {
            announce_to(p, &r, &ok, 1);
            continue;
        }
        send_one(p, rec, len);
    }
}

/* ---- the outbox: records written here, pushed once per loop turn ---- */

struct outbox {
    uv_idle_t idle;          /* active while records wait: the loop does not block */
    msg_list recs;           /* the records frame being filled */
    int ready;               /* recs initialised */
};

/* A peer whose socket is backed up gets announces of the outbox's records;
 * it fetches them later. */
static void announce_frame(peer *p, const uint8_t *frame, size_t len, uint32_t n)
{
    msg m;
    msg_iter it;
    const uint8_t *b;
    size_t l;
    proto_record *dec = calloc(n ? n : 1, sizeof *dec);
    int *ok = calloc(n ? n : 1, sizeof *ok);
    if (dec && ok && msg_decode(frame + 4, len - 4, &m, NULL, 0) == 0) {
        msg_iter_init(&it, &m);
        for (uint32_t i = 0; i < n && msg_records_next(&it, &b, &l); i++)
            ok[i] = proto_record_decode_stored(b, l, &dec[i], NULL, 0) == 0;   /* held here already */
        announce_to(p, dec, ok, n);
    } else {
        peer_send_frame(p, frame, len);   /* no memory to announce: send it anyway */
    }
    free(dec);
    free(ok);
}

static void outbox_flush(catalogd *d)
{
    struct outbox *o = d->outbox;
    uint32_t n;
    if (!o || !o->ready || !(n = msg_list_count(&o->recs)))
        return;
    size_t len;
    const uint8_t *f = msg_list_frame(&o->recs, &len);
    for (peer *p = d->peers; f && p; p = p->next) {
        if (p->state != PEER_ESTABLISHED || !p->gs->hello_seen)
            continue;
        if (tree_on(p) && p->tl.lazy)
            continue;   /* announced from the tree's batch */
        if (peer_write_queue(p) <= NODE_PEER_WRITE_HIGH) {
            peer_send_frame(p, f, len);
            p->recs_out += n;
            d->records_out += n;
        } else {
            announce_frame(p, f, len, n);
        }
    }
    if (f)
        tree_push_local(d, f, len, n);
    msg_list_reset(&o->recs);
}

static void on_outbox_idle(uv_idle_t *h)
{
    catalogd *d = h->data;
    uv_idle_stop(h);
    outbox_flush(d);
}

void gossip_flush_local(catalogd *d)
{
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
        /* push: 1, so that a node that got it along another link too
         * prunes this one (the broadcast tree) */
        if (msg_list_init(&o->recs, MSG_RECORDS) || msg_list_set_push(&o->recs, 1)) {
            msg_list_destroy(&o->recs);
            free(o);
            d->outbox = NULL;
            push_record(d, NULL, rec, len);
            return;
        }
        o->ready = 1;
        uv_idle_init(d->loop, &o->idle);
        o->idle.data = d;
    }
    uint32_t n = msg_list_count(&o->recs);
    if (n && (n >= NODE_BATCH_RECORDS || msg_list_bytes(&o->recs) + len > NODE_BATCH_BYTES))
        outbox_flush(d);
    int rc = msg_list_add_record(&o->recs, rec, len);
    if (rc == MSG_LIST_FULL) {
        outbox_flush(d);
        rc = msg_list_add_record(&o->recs, rec, len);
    }
    if (rc) {
        push_record(d, NULL, rec, len);   /* cannot cork it: send it alone */
        return;
    }
    if (msg_list_count(&o->recs) == 1)
        uv_idle_start(&o->idle, on_outbox_idle);
}

static void on_outbox_closed(uv_handle_t *h)
{
    struct outbox *o = (struct outbox *)h;   /* idle is the first member */
    msg_list_destroy(&o->recs);
    free(o);
}

void gossip_shutdown(catalogd *d)
{
    if (d->outbox) {
        outbox_flush(d);
        uv_close((uv_handle_t *)&d->outbox->idle, on_outbox_closed);
        d->outbox = NULL;
    }
    tree_shutdown(d);   /* after the outbox: its records' announces go too */
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
    if (proto_record_decode_stored(rec, len, &r, NULL, 0) || memcmp(&r.author, &f->got->author, 32) ||
        r.seq != f->got->seq || (len == f->got->raw_len && !memcmp(rec, f->got->raw, len)))
        return 0;
    if (f->to->state == PEER_ESTABLISHED)
        send_one(f->to, rec, len);
    return 0;
}

/* Send one record whole to f->to (the reconciliation's own version). */
static int send_held(void *ctx, const uint8_t *rec, size_t len)
{
    fork_ctx *f = ctx;
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

/* With a fanout, peers that speak the broadcast tree get what tree_relay
 * sends (eager: the records, lazy: a batched announce); the others an
 * announce at once, as before the tree. */
static void relay_tree(catalogd *d, peer *from, const proto_record *recs, const int *ok, size_t n)
{
    for (peer *p = d->peers; p; p = p->next)
        if (p != from && p->state == PEER_ESTABLISHED && p->gs->hello_seen && !tree_on(p))
            announce_to(p, recs, ok, n);
    tree_relay(d, from, recs, ok, n);
}

void gossip_relay(catalogd *d, peer *from, const proto_record *recs, const int *results, size_t n)
{
    int *relay = calloc(n ? n : 1, sizeof *relay);
    if (!relay) {
        /* no memory for the list: announce them one by one */
        int one = 1;
        for (size_t i = 0; i < n; i++)
            if (results[i] == STORE_NEW && relay_needed(d, &recs[i].author))
                announce_all(d, from, &recs[i], &one, 1);
        return;
    }
    for (size_t i = 0; i < n; i++)
        relay[i] = results[i] == STORE_NEW && relay_needed(d, &recs[i].author);
    if (d->fanout)
        relay_tree(d, from, recs, relay, n);
    else
        announce_all(d, from, recs, relay, n);
    free(relay);
}

void gossip_fork_evidence(catalogd *d, peer *from, const proto_record *r)
{
    push_record(d, from, r->raw, r->raw_len);
    fork_ctx fc = { d, from, r };
    store_range(d->st, &r->author, r->seq, r->seq, push_other, &fc);
    store_forks_at(d->st, &r->author, r->seq, push_other, &fc);
    recon_forked(d, &r->author);
}

/* ---- wanting ---- */

typedef struct { msg_list l; int ok; peer *to; } want_list;

static void want_begin(want_list *w, peer *to)
{
    w->to = to;
    w->ok = msg_list_init(&w->l, MSG_WANT) == 0;
}

static void want_add(catalogd *d, want_list *w, const proto_id *a, uint64_t from, uint64_t to)
{
    uint64_t now = uv_now(d->loop);
    int former = 0;
    uint64_t cut = 0;
    /* a former member's log beyond its cut is refused: a relay that holds
     * some of it is not asked for it again and again */
    if (store_member_cut(d->st, a, &former, &cut) == 0 && former && to > cut)
        to = cut;
    if (from > to)
        return;
    struct inflight *f = inflight_get(d, a);
    /* Someone is already sending these: ask only for what lies beyond. */
    if (f && now - f->at_ms < INFLIGHT_MS && f->to >= from) {
        if (f->to >= to)
            return;
        from = f->to + 1;
    }
    if (!w->ok)
        return;   /* out of memory: asked again by the next hello */
    if (f) {
        f->to = to;
        f->at_ms = now;
        f->from = w->to;
    }
    if (msg_list_add_want(&w->l, a, from, to) == MSG_LIST_FULL) {
        send_list(w->to, &w->l);
        msg_list_reset(&w->l);
        msg_list_add_want(&w->l, a, from, to);
    }
}

static void want_send(peer *p, want_list *w)
{
    if (w->ok && msg_list_count(&w->l))
        send_list(p, &w->l);
    msg_list_destroy(&w->l);
}

int gossip_graft(peer *p, const proto_id *a, uint64_t to)
{
    catalogd *d = p->d;
    want_list w;
    uint64_t have = store_vv_get(d->st, a);
    if (have >= to)
        return 0;   /* it came along the tree */
    want_begin(&w, p);
    if (w.ok && msg_list_set_push(&w.l, 1))
        w.ok = 0;
    want_add(d, &w, a, have + 1, to);
    int sent = w.ok && msg_list_count(&w.l) > 0;   /* none: being sent by someone already */
    want_send(p, &w);
    if (sent)
        p->tl.lazy = 0;
    return sent;
}

/* ---- reconciliation: where two logs of one author differ ---- */

static recon *recon_find(gossip_peer *g, const proto_id *a)
{
    for (size_t i = 0; i < g->nrecons; i++)
        if (!memcmp(&g->recons[i].author, a, 32))
            return &g->recons[i];
    return NULL;
}

static void recon_drop(gossip_peer *g, recon *r)
{
    *r = g->recons[--g->nrecons];
}

static void recon_ask(peer *p, recon *r)
{
    msgpack_sbuffer sb;
    r->stage = RECON_BISECT;
    r->at_ms = uv_now(p->d->loop);
    send_packed(p, msg_pack_sums(&sb, &r->author, r->lo, r->hi), &sb);
}

/* The peer's log of `a` has the chain `theirs` at seq `top`, and ours there
 * differs: find where.  One reconciliation per author; a hello's further
 * authors beyond NODE_RECON_MAX wait for the next hello. */
static void recon_start(peer *p, const proto_id *a, uint64_t top)
{
    gossip_peer *g = p->gs;
    if (recon_find(g, a) || g->nrecons >= NODE_RECON_MAX)
        return;
    recon *r = &g->recons[g->nrecons++];
    memset(r, 0, sizeof *r);
    r->author = *a;
    r->lo = 1;
    r->hi = top;
    r->top = top;
    char id[PROTO_ID_STR];
    proto_id_str(a, id);
    log_debug(p->d, "logs of %s differ from %s's at or before seq %llu: reconciling", id, p->addr,
              (unsigned long long)top);
    recon_ask(p, r);
}

/* The first differing seq is k: send our version there, and ask for the
 * peer's.  Each node then holds both (fork evidence) and keeps the same
 * winner; the want is sent as is, never held back as in flight, since the
 * range is held here already and only this peer has the other version. */
static void recon_exchange(peer *p, recon *r, uint64_t k)
{
    catalogd *d = p->d;
    if (r->stage == RECON_FETCH && r->k == k) {
        if (++r->tries > NODE_RECON_TRIES) {
            char id[PROTO_ID_STR];
            proto_id_str(&r->author, id);
            log_warn(d, "reconciling %s's log with %s: seq %llu still differs after %u tries; giving up until the next hello",
                     id, p->addr, (unsigned long long)k, NODE_RECON_TRIES);
            recon_drop(p->gs, r);
            return;
        }
    } else {
        r->tries = 1;
    }
    r->stage = RECON_FETCH;
    r->k = k;
    r->at_ms = uv_now(d->loop);
    fork_ctx fc = { d, p, NULL };
    store_range(d->st, &r->author, k, k, send_held, &fc);
    msg_list l;
    if (msg_list_init(&l, MSG_WANT) == 0 && msg_list_add_want(&l, &r->author, k, k) == 0)
        send_list(p, &l);
    msg_list_destroy(&l);
}

static void on_sums(peer *p, const msg *m)
{
    catalogd *d = p->d;
    const proto_id *a = &m->sums.author;
    uint64_t lo = m->sums.lo, hi = m->sums.hi, have = store_vv_get(d->st, a);
    uint64_t seqs[MSG_SUMS_MAX];
    proto_id chains[MSG_SUMS_MAX];
    uint32_t n = 0;
    uint64_t top = hi < have ? hi : have;
    if (lo <= top) {
        uint64_t span = top - lo + 1;
        /* every seq of a short range; else MSG_SUMS_MAX evenly spaced,
         * the last at top, so the asker narrows the range by that factor */
        uint32_t want = span <= MSG_SUMS_MAX ? (uint32_t)span : MSG_SUMS_MAX;
        for (uint32_t i = 0; i < want; i++) {
            uint64_t q = span <= MSG_SUMS_MAX ? lo + i : lo - 1 + (span * (i + 1) + want - 1) / want;
            if (n && q <= seqs[n - 1])
                continue;
            if (store_chain_get(d->st, a, q, chains[n].b, NULL))
                break;
            seqs[n++] = q;
        }
    }
    msgpack_sbuffer sb;
    send_packed(p, msg_pack_points(&sb, a, lo, hi, seqs, chains, n), &sb);
}

static void on_points(peer *p, const msg *m)
{
    gossip_peer *g = p->gs;
    recon *r = recon_find(g, &m->points.author);
    if (!r || r->stage != RECON_BISECT || r->lo != m->points.lo || r->hi != m->points.hi)
        return;   /* not what is asked now (a retry crossed an answer) */
    msg_iter it;
    uint64_t seq, prev = r->lo - 1;
    proto_id theirs;
    msg_iter_init(&it, m);
    while (msg_points_next(&it, &seq, &theirs)) {
        uint8_t ours[32];
        if (store_chain_get(p->d->st, &r->author, seq, ours, NULL) || memcmp(ours, theirs.b, 32)) {
            if (seq == prev + 1) {
                recon_exchange(p, r, seq);   /* agreed at seq-1: seq is the one */
            } else {
                r->lo = prev + 1;
                r->hi = seq;
                recon_ask(p, r);
            }
            return;
        }
        prev = seq;
    }
    /* agreed at every point, the last being the top the peer holds: the
     * logs agree up to there; anything beyond is the next hello's */
    recon_drop(g, r);
}

/* A fork of `author` was applied here: reconciliations of that author that
 * waited for it go on from the seq they found (the logs still agree before
 * it). */
static void recon_forked(catalogd *d, const proto_id *author)
{
    for (peer *p = d->peers; p; p = p->next) {
        if (p->state != PEER_ESTABLISHED || !p->gs)
            continue;
        recon *r = recon_find(p->gs, author);
        if (r && r->stage == RECON_FETCH) {
            r->lo = r->k;
            r->hi = r->top;
            recon_ask(p, r);
        }
    }
}

/* Answers that did not come (a lost race, a refused record) are asked for
 * again; reconciliations that keep failing are dropped. */
static void recon_tick(catalogd *d, uint64_t now)
{
    for (peer *p = d->peers; p; p = p->next) {
        if (p->state != PEER_ESTABLISHED || !p->gs)
            continue;
        gossip_peer *g = p->gs;
        for (size_t i = 0; i < g->nrecons; i++) {
            recon *r = &g->recons[i];
            if (now - r->at_ms < NODE_RECON_RETRY_MS)
                continue;
            if (r->stage == RECON_FETCH) {
                r->lo = r->k;
                r->hi = r->top;
            }
            recon_ask(p, r);
        }
    }
}

/* ---- receiving ---- */

/* Records are collected until no whole frame is left to read (or a batch
 * is full), then verified and written together (daemon/ingest.c). */
/* A frame pushed along the tree (push: 1) that brings a record held here
 * already: the link is redundant for the tree, prune it.  Only (author,
 * seq) is looked at; ingest judges the records. */
static void tree_check_pushed(peer *p, const msg *m)
{
    msg_iter it;
    const uint8_t *b;
    size_t l;
    msg_iter_init(&it, m);
    while (msg_records_next(&it, &b, &l)) {
        proto_record r;
        if (proto_record_decode_stored(b, l, &r, NULL, 0))
            continue;
        /* held, or pushed to us already and being verified */
        int dup = store_vv_get(p->d->st, &r.author) >= r.seq;
        if (tree_seen(p->d, &r.author, r.seq))
            dup = 1;
        if (dup) {
            tree_duplicate(p);
            return;
        }
    }
}

static void on_records(peer *p, const msg *m)
{
    msg_iter it;
    const uint8_t *b;
    size_t l;
    if (m->records.push == 1 && tree_on(p))
        tree_check_pushed(p, m);
    msg_iter_init(&it, m);
    while (msg_records_next(&it, &b, &l))
        if (ingest_add(p->ing, b, l)) {
            peer_fail(p, MSG_ERR_PROTO, "out of memory");
            return;
        }
    ingest_frame_done(p->ing);
}

/* Records of `a` named by a hello or an announce are fetched if we hold
 * some of its log already, or it is a member: anyone can name random
 * authors, and each would cost an in-flight entry and a want. */
static int worth_fetching(catalogd *d, const proto_id *a, uint64_t have)
{
    store_member mb;
    return have || store_member_get(d->st, a, &mb) == 0;
}

/* With a fanout, members connecting here are bounded (peer_inbound_bound):
 * past it a member is told MSG_ERR_FULL and dials its next-ranked member.
 * Not counted or refused: a member we dial ourselves (we would connect
 * anyway), and at its hello a node without an alliance yet (a newcomer
 * syncing from its sponsor: it has no one else to ask; once synced it is
 * shed like the others if it keeps the connection, inbound_shed). */
static unsigned inbound_members(catalogd *d, const peer *except)
{
    unsigned n = 0;
    for (peer *q = d->peers; q; q = q->next)
        n += q != except && !q->outbound && q->state == PEER_ESTABLISHED && q->gs->hello_seen &&
             (!except || memcmp(&q->id, &except->id, 32) != 0) && !peer_is_target(d, &q->id);
    return n;
}

static void refuse_full(peer *p, unsigned n, unsigned bound)
{
    catalogd *d = p->d;
    char text[160];
    snprintf(text, sizeof text, "inbound connections full: %u members connected here (max_inbound_peers %u); "
             "dial another member", n, bound);
    d->counters.peers_refused[REFUSED_INBOUND_FULL]++;
    log_info(d, "refused member %s %s (%s): %s", p->code, p->name, p->addr, text);
    msgpack_sbuffer sb;
    send_packed(p, msg_pack_error(&sb, MSG_ERR_FULL, text), &sb);
    peer_close(p);
}

/* 1 if p was refused. */
static int inbound_full(peer *p)
{
    catalogd *d = p->d;
    unsigned bound = peer_inbound_bound(d), n;
    if (!bound || peer_is_target(d, &p->id) || (n = inbound_members(d, p)) < bound)
        return 0;
    refuse_full(p, n, bound);
    return 1;
}

/* Over the bound (newcomers let in at their hello, the bound lowered by a
 * reload): the newest members past it that this node does not dial, once
 * nothing is owed to them and they have been connected a while, are told
 * MSG_ERR_FULL too. */
static void inbound_shed(catalogd *d, uint64_t now)
{
    unsigned bound = peer_inbound_bound(d), n;
    if (!bound || (n = inbound_members(d, NULL)) <= bound)
        return;
    for (peer *p = d->peers; p && n > bound; p = p->next) {
        if (p->outbound || p->state != PEER_ESTABLISHED || !p->gs->hello_seen || peer_is_target(d, &p->id) ||
            !gossip_idle(p) || now - p->since_ms < NODE_PEER_SHED_AFTER_MS)
            continue;
        refuse_full(p, n, bound);
        n--;
    }
}

static void on_hello(peer *p, const msg *m)
{
    catalogd *d = p->d;
    proto_id digest, genesis;
    int has_genesis;
    store_digest_get(d->st, &digest, &genesis, &has_genesis);
    if (has_genesis && m->hello.has_genesis && memcmp(&genesis, &m->hello.genesis, 32)) {
        char a[65], b[65];
        proto_hex(m->hello.genesis.b, 32, a);
        proto_hex(genesis.b, 32, b);
        peer_fail(p, MSG_ERR_ALLIANCE, "peer belongs to another alliance (genesis %.16s…, ours %.16s…)", a, b);
        return;
    }
    if (!p->gs->hello_seen && !p->outbound && has_genesis && m->hello.has_genesis && inbound_full(p))
        return;
    p->gs->hello_seen = 1;
    p->tl.speaks = m->hello.push == 1;
    p->gs->last_sync_ms = uv_now(d->loop);
    note_digest(p, &m->hello.digest, &digest);
    node_note_sponsor_hello(d, p, m);
    node_genesis_check(d, p);
    if (p->state == PEER_CLOSING)
        return;
    want_list w;
    msg_iter it;
    proto_id a;
    uint64_t seq;
    want_begin(&w, p);
    msg_iter_init(&it, m);
    proto_id chain;
    while (msg_vv_next(&it, &a, &seq, &chain)) {
        uint64_t have = store_vv_get(d->st, &a);
        uint8_t ours[32];
        if (seq > have) {
            /* as for announces (before a genesis is held, from the sponsor,
             * everything), and never a seq no honest log reaches */
            if ((!has_genesis || worth_fetching(d, &a, have)) && seq - have <= NODE_INGEST_SEQ_JUMP_MAX)
                want_add(d, &w, &a, have + 1, seq);
        } else if (store_chain_get(d->st, &a, seq, ours, NULL) == 0 && memcmp(ours, chain.b, 32))
            recon_start(p, &a, seq);   /* same seqs held, different records somewhere */
    }
    want_send(p, &w);
    /* They may lack what we hold: tell them our vector (at most twice a second). */
    if (memcmp(&m->hello.digest, &digest, 32) && uv_now(d->loop) - p->gs->last_hello_ms > 500)
        send_hello(p);
}

/* Every range is clipped to what we hold and merged into what is owed for
 * its author (owed_add); a run of ranges of one author costs one lookup of
 * our vector. */
static void on_want(peer *p, const msg *m)
{
    if (!frame_author_runs_ok(p, m))
        return;
    tree_mode(p, m->want.push);
    msg_iter it;
    proto_id a, run;
    uint64_t from, to, rfrom = 0, rto = 0;
    int have_run = 0;
    msg_iter_init(&it, m);
    for (;;) {
        int more = msg_want_next(&it, &a, &from, &to);
        if (have_run && (!more || memcmp(&a, &run, 32))) {
            uint64_t held = store_vv_get(p->d->st, &run);
            if (rto > held)
                rto = held;
            if (rfrom <= rto && owed_add(p->gs, &run, rfrom, rto)) {
                peer_fail(p, MSG_ERR_LIMIT, "wants of more than %u authors", NODE_WANT_AUTHORS_MAX);
                return;
            }
            have_run = 0;
        }
        if (!more)
            break;
        if (from < 1)
            from = 1;
        if (!have_run) {
            run = a;
            rfrom = from;
            rto = to;
            have_run = 1;
        } else {
            rfrom = from < rfrom ? from : rfrom;
            rto = to > rto ? to : rto;
        }
    }
    pump_wants(p);
}

/* An announce lists an applied batch in (author, seq) order: one want per
 * run of an author, for what we lack of it.  An author we hold nothing of
 * and who is no member is skipped (its records could not apply; once
 * admitted, anti-entropy fetches them). */
static void on_announce(peer *p, const msg *m)
{
    if (!frame_author_runs_ok(p, m))
        return;
    catalogd *d = p->d;
    want_list w;
    msg_iter it;
    proto_id a, h, run;
    uint64_t seq, top = 0;
    int have_run = 0;
    want_begin(&w, p);
    msg_iter_init(&it, m);
    for (;;) {
        int more = msg_announce_next(&it, &a, &seq, &h);
        if (have_run && (!more || memcmp(&a, &run, 32))) {
            uint64_t have = store_vv_get(d->st, &run);
            /* along the tree the record is probably on its way: wait for
             * it before grafting (tree_wait) */
            if (top > have && worth_fetching(d, &run, have) && (!tree_on(p) || tree_wait(p, &run, have + 1, top)))
                want_add(d, &w, &run, have + 1, top);
            have_run = 0;
        }
        if (!more)
            break;
        if (!have_run) {
            run = a;
            top = seq;
            have_run = 1;
        } else if (seq > top) {
            top = seq;
        }
    }
    want_send(p, &w);
}

static void on_digest(peer *p, const msg *m)
{
    proto_id mine;
    p->gs->last_sync_ms = uv_now(p->d->loop);
    store_digest_get(p->d->st, &mine, NULL, NULL);
    note_digest(p, &m->digest.d, &mine);
    node_genesis_check(p->d, p);
    if (p->state == PEER_CLOSING)
        return;
    if (!memcmp(&m->digest.d, &mine, 32)) {
        p->gs->recheck_ms = 0;
        return;
    }
    /* A digest that differs while records spread stops differing by
     * itself: answer it a moment later with ours (gossip_tick), and only a
     * digest that still differs then (again: 1) with a hello. */
    if (m->digest.again == 1)
        send_hello(p);
    else if (!p->gs->recheck_ms)
        p->gs->recheck_ms = uv_now(p->d->loop) + NODE_DIGEST_SETTLE_MS;
}

/* Digests that differed a while ago: send ours again; the peer answers
 * with a hello if they still differ. */
static void digest_recheck(catalogd *d, uint64_t now)
{
    for (peer *p = d->peers; p; p = p->next) {
        if (p->state != PEER_ESTABLISHED || !p->gs || !p->gs->recheck_ms || now < p->gs->recheck_ms)
            continue;
        p->gs->recheck_ms = 0;
        proto_id digest;
        msgpack_sbuffer sb;
        store_digest_get(d->st, &digest, NULL, NULL);
        if (p->gs->has_peer_digest && !memcmp(&p->gs->peer_digest, &digest, 32))
            continue;   /* we caught up with what it sent */
        send_packed(p, msg_pack_digest_again(&sb, &digest), &sb);
    }
}

static void on_ping(peer *p, const msg *m)
{
    msgpack_sbuffer sb;
    send_packed(p, msg_pack_pong(&sb), &sb);
}

static void on_pong(peer *p, const msg *m)
{
    p->gs->last_sync_ms = uv_now(p->d->loop);
}

static void on_error(peer *p, const msg *m)
{
    if (m->error.code == MSG_ERR_FULL && p->outbound) {
        log_info(p->d, "peer %s (%s) is full: %s", p->addr, p->name, m->error.text);
        peer_close(p);
        peer_refused_full(p);
        return;
    }
    log_warn(p->d, "peer %s (%s) reported error %llu: %s", p->addr, p->name,
             (unsigned long long)m->error.code, m->error.text);
    peer_close(p);
}

/* What each message does; every handler gets a message msg_decode has
 * checked completely.  Before the peer's hello only hello and error. */
static const struct {
    void (*fn)(peer *p, const msg *m);
    int before_hello;
} handlers[MSG_TYPE_LAST + 1] = {
    [MSG_HELLO] = { on_hello, 1 },
    [MSG_WANT] = { on_want, 0 },
    [MSG_RECORDS] = { on_records, 0 },
    [MSG_ANNOUNCE] = { on_announce, 0 },
    [MSG_DIGEST] = { on_digest, 0 },
    [MSG_PING] = { on_ping, 0 },
    [MSG_PONG] = { on_pong, 0 },
    [MSG_ERROR] = { on_error, 1 },
    [MSG_SUMS] = { on_sums, 0 },
    [MSG_POINTS] = { on_points, 0 },
};

/* A hello tells what the peer holds: records sent to it and since lost
 * (dropped before they could apply) may be asked for again. */
static void owed_hello(peer *p, const msg *m)
{
    msg_iter it;
    proto_id a, chain;
    uint64_t seq;
    if (!p->gs->nowed)
        return;
    msg_iter_init(&it, m);
    while (msg_vv_next(&it, &a, &seq, &chain))
        owed_holds(p->gs, &a, seq, uv_now(p->d->loop));
}

void gossip_on_frame(peer *p, const uint8_t *f, size_t len)
{
    msg m;
    char err[256];
    if (msg_decode(f, len, &m, err, sizeof err)) {
        peer_fail(p, MSG_ERR_PROTO, "%s", err);
        return;
    }
    if (!p->gs->hello_seen && !handlers[m.type].before_hello) {
        peer_fail(p, MSG_ERR_PROTO, "expected hello first, got %s", msg_type_name(m.type));
        return;
    }
    if (m.type == MSG_HELLO)
        owed_hello(p, &m);
    handlers[m.type].fn(p, &m);
}

void gossip_on_established(peer *p)
{
    send_hello(p);
}

void gossip_peer_gone(peer *p)
{
    /* what was asked of it will not come: let the next announce or hello
     * ask someone else at once instead of after INFLIGHT_MS */
    struct inflight_table *t = p->d->inflight;
    tree_peer_gone(p);
    for (size_t i = 0; t && i < t->n; i++)
        if (t->e[i].from == p) {
            t->e[i].from = NULL;
            t->e[i].at_ms = 0;
        }
}

void gossip_want_refused(peer *p, const proto_id *a)
{
    struct inflight *f = inflight_find(p->d, a);
    if (f && f->from == p) {
        f->from = NULL;
        f->at_ms = 0;
    }
}

void gossip_tick(catalogd *d)
{
    uint64_t now = uv_now(d->loop);
    recon_tick(d, now);
    digest_recheck(d, now);
    inbound_shed(d, now);
    /* the tick that brings the probe may fire a millisecond early */
    if (now - d->last_sync_ms + 50 < d->sync_interval_ms)
        return;
    d->last_sync_ms = now;
    inflight_prune(d);
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
            store_digest_get(d->st, &digest, NULL, NULL);
            send_packed(p, msg_pack_digest(&sb, &digest), &sb);
            break;
        }
    }
}
