/* daemon/tree.c — the epidemic broadcast tree; see tree.h. */
#include "daemon/tree.h"
#include "daemon/gossip.h"
#include "daemon/log.h"
#include "daemon/peer.h"
#include "proto/msg.h"
#include "proto/limits.h"
#include "proto/util.h"

#include <stdlib.h>
#include <string.h>

/* An (author, seq) to announce lazily; `from` already holds it. */
typedef struct { proto_id author; uint64_t seq; proto_id hash; peer *from; } lazy_entry;

/* An announced record we lack: grafted from `from` at due_ms unless it
 * came by itself. */
typedef struct { proto_id author; uint64_t from_seq, to; peer *from; uint64_t due_ms; } graft_wait;

struct tree {
    uv_timer_t timer;        /* first member: closed with the struct */
    lazy_entry *lazy;
    size_t nlazy, caplazy;
    uint64_t flush_ms;       /* when the batch goes out; 0 empty */
    graft_wait *waits;
    size_t nwaits, capwaits;
    /* (author, seq) of the records pushed to us lately, keyed by a hash of
     * the author: a second push of one while the first is still being
     * verified (not yet held) is a duplicate too */
    struct { uint64_t h, seq; } seen[NODE_TREE_SEEN];
    unsigned nextseen;
    uint64_t seed;
};

static void on_timer(uv_timer_t *t);
static void send_mode(peer *p, int push);

static struct tree *tree_get(catalogd *d)
{
    if (d->tree || d->stopping)
        return d->tree;   /* (none made once stopping: its timer would outlive the loop) */
    struct tree *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    uv_timer_init(d->loop, &t->timer);
    t->timer.data = d;
    t->seed = ((uint64_t)rand() << 32) ^ (uint64_t)rand();
    d->tree = t;
    return t;
}

int tree_on(const peer *p)
{
    return p->d->fanout && p->tl.speaks;
}

/* Run the timer at `due` (loop time) unless it runs sooner already. */
static void arm_at(catalogd *d, struct tree *t, uint64_t due)
{
    uint64_t now = uv_now(d->loop), in = due > now ? due - now : 0;
    if (d->stopping)
        return;
    if (!uv_is_active((uv_handle_t *)&t->timer) || uv_timer_get_due_in(&t->timer) > in)
        uv_timer_start(&t->timer, on_timer, in, 0);
}

/* ---- the lazy batch ---- */

static int lazy_target(const peer *p)
{
    return p->state == PEER_ESTABLISHED && gossip_ready(p) && tree_on(p) && p->tl.lazy;
}

/* Announce the batch to at most NODE_TREE_LAZY_PEERS lazy links, drawn at
 * random among those that lack some entry (the one an entry came from holds
 * it): the tree carries the records, these only let a node the tree missed
 * notice and graft, and each extra peer costs every node an announce per
 * record. */
static void lazy_flush(catalogd *d, struct tree *t)
{
    peer *pick[NODE_TREE_LAZY_PEERS];
    unsigned npick = 0, seen = 0;
    if (!t->nlazy)
        return;
    for (peer *p = d->peers; p; p = p->next) {
        if (!lazy_target(p))
            continue;
        size_t i = 0;
        while (i < t->nlazy && t->lazy[i].from == p)
            i++;
        if (i == t->nlazy)
            continue;
        /* reservoir sampling: each candidate kept with probability k/seen */
        seen++;
        if (npick < NODE_TREE_LAZY_PEERS)
            pick[npick++] = p;
        else {
            unsigned r = (unsigned)rand() % seen;
            if (r < NODE_TREE_LAZY_PEERS)
                pick[r] = p;
        }
    }
    for (unsigned k = 0; k < npick; k++) {
        peer *p = pick[k];
        msg_list l;
        if (msg_list_init(&l, MSG_ANNOUNCE)) {
            msg_list_destroy(&l);
            break;
        }
        for (size_t i = 0; i < t->nlazy; i++) {
            lazy_entry *e = &t->lazy[i];
            if (e->from == p)
                continue;
            if (msg_list_add_announce(&l, &e->author, e->seq, &e->hash) == MSG_LIST_FULL) {
                size_t len;
                const uint8_t *f = msg_list_frame(&l, &len);
                if (f)
                    peer_send_frame(p, f, len);
                msg_list_reset(&l);
                msg_list_add_announce(&l, &e->author, e->seq, &e->hash);
            }
        }
        size_t len;
        const uint8_t *f = msg_list_count(&l) ? msg_list_frame(&l, &len) : NULL;
        if (f)
            peer_send_frame(p, f, len);
        msg_list_destroy(&l);
    }
    t->nlazy = 0;
    t->flush_ms = 0;
}

static void lazy_add(catalogd *d, peer *from, const proto_record *r)
{
    struct tree *t = tree_get(d);
    if (!t)
        return;   /* no memory: the anti-entropy probe finds what the tree missed */
    if (t->nlazy >= NODE_TREE_LAZY_MAX)
        lazy_flush(d, t);
    if (t->nlazy == t->caplazy) {
        size_t cap = t->caplazy ? t->caplazy * 2 : 64;
        lazy_entry *n = realloc(t->lazy, cap * sizeof *n);
        if (!n)
            return;
        t->lazy = n;
        t->caplazy = cap;
    }
    lazy_entry *e = &t->lazy[t->nlazy++];
    e->author = r->author;
    e->seq = r->seq;
    proto_record_hash(r->raw, r->raw_len, &e->hash);
    e->from = from;
    if (!t->flush_ms) {
        t->flush_ms = uv_now(d->loop) + NODE_TREE_LAZY_MS;
        arm_at(d, t, t->flush_ms);
    }
}

/* ---- pushing ---- */

static int has_lazy(catalogd *d, const peer *except)
{
    for (peer *p = d->peers; p; p = p->next)
        if (p != except && lazy_target(p))
            return 1;
    return 0;
}

void tree_relay(catalogd *d, peer *from, const proto_record *recs, const int *ok, size_t n)
{
    msg_list l;
    uint32_t count = 0;
    if (msg_list_init(&l, MSG_RECORDS) || msg_list_set_push(&l, 1)) {
        msg_list_destroy(&l);
        return;
    }
    int lazy = has_lazy(d, from);
    for (size_t i = 0; i < n; i++) {
        if (!ok[i])
            continue;
        if (lazy)
            lazy_add(d, from, &recs[i]);
        if (msg_list_add_record(&l, recs[i].raw, recs[i].raw_len) == 0)
            count++;
    }
    size_t len;
    const uint8_t *f = count ? msg_list_frame(&l, &len) : NULL;
    for (peer *p = d->peers; f && p; p = p->next) {
        if (p == from || p->state != PEER_ESTABLISHED || !gossip_ready(p) || !tree_on(p) || p->tl.lazy)
            continue;
        if (peer_write_queue(p) > NODE_PEER_WRITE_HIGH)
            continue;   /* backed up: it fetches them from the next hello or probe */
        peer_send_frame(p, f, len);
        p->recs_out += count;
        d->records_out += count;
    }
    msg_list_destroy(&l);
}

void tree_push_local(catalogd *d, const uint8_t *frame, size_t len, uint32_t n)
{
    msg m;
    msg_iter it;
    const uint8_t *b;
    size_t bl;
    if (!has_lazy(d, NULL) || msg_decode(frame + 4, len - 4, &m, NULL, 0))
        return;
    msg_iter_init(&it, &m);
    for (uint32_t i = 0; i < n && msg_records_next(&it, &b, &bl); i++) {
        proto_record r;
        if (proto_record_decode_stored(b, bl, &r, NULL, 0) == 0)   /* held here already */
            lazy_add(d, NULL, &r);
    }
}

/* ---- prune and graft ---- */

int tree_seen(catalogd *d, const proto_id *a, uint64_t seq)
{
    struct tree *t = tree_get(d);
    uint64_t h = t ? t->seed : 0, w;
    if (!t)
        return 0;
    for (int i = 0; i < 4; i++) {
        memcpy(&w, a->b + 8 * i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    h |= 1;   /* 0 marks an empty slot */
    for (unsigned i = 0; i < NODE_TREE_SEEN; i++)
        if (t->seen[i].h == h && t->seen[i].seq == seq)
            return 1;
    t->seen[t->nextseen].h = h;
    t->seen[t->nextseen].seq = seq;
    t->nextseen = (t->nextseen + 1) % NODE_TREE_SEEN;
    return 0;
}

static void send_mode(peer *p, int push)
{
    msg_list l;
    size_t len;
    const uint8_t *f;
    if (msg_list_init(&l, MSG_WANT) == 0 && msg_list_set_push(&l, push) == 0 &&
        (f = msg_list_frame(&l, &len)))
        peer_send_frame(p, f, len);
    msg_list_destroy(&l);
}

void tree_duplicate(peer *p)
{
    catalogd *d = p->d;
    uint64_t now = uv_now(d->loop);
    if (!tree_on(p))
        return;
    /* once per round trip is enough: the frames it pushed meanwhile were
     * sent before our prune arrived */
    if (p->tl.lazy && p->tl.pruned_ms && now - p->tl.pruned_ms < NODE_TREE_PRUNE_AGAIN_MS)
        return;
    p->tl.lazy = 1;
    p->tl.pruned_ms = now;
    d->counters.tree_prunes++;
    log_debug(d, "tree: %s pushed a record held here: link made lazy", p->addr);
    send_mode(p, 0);
}

void tree_mode(peer *p, int push)
{
    if (push < 0)
        return;
    if (push && p->tl.lazy)
        log_debug(p->d, "tree: %s grafted the link: records pushed to it", p->addr);
    p->tl.lazy = !push;
}

int tree_wait(peer *p, const proto_id *a, uint64_t from, uint64_t to)
{
    catalogd *d = p->d;
    struct tree *t = tree_get(d);
    if (!t)
        return -1;
    for (size_t i = 0; i < t->nwaits; i++)
        if (!memcmp(&t->waits[i].author, a, 32)) {
            if (t->waits[i].to < to)
                t->waits[i].to = to;   /* the first announcer is asked, when it comes to that */
            return 0;
        }
    if (t->nwaits >= NODE_TREE_WAITS_MAX)
        return -1;
    if (t->nwaits == t->capwaits) {
        size_t cap = t->capwaits ? t->capwaits * 2 : 16;
        graft_wait *n = realloc(t->waits, cap * sizeof *n);
        if (!n)
            return -1;
        t->waits = n;
        t->capwaits = cap;
    }
    graft_wait *w = &t->waits[t->nwaits++];
    w->author = *a;
    w->from_seq = from;
    w->to = to;
    w->from = p;
    w->due_ms = uv_now(d->loop) + NODE_TREE_GRAFT_MS;
    arm_at(d, t, w->due_ms);
    return 0;
}

static void waits_due(catalogd *d, struct tree *t, uint64_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < t->nwaits; i++) {
        graft_wait *w = &t->waits[i];
        if (w->due_ms > now) {
            t->waits[k++] = *w;
            continue;
        }
        if (!w->from || w->from->state != PEER_ESTABLISHED)
            continue;   /* the announcer left: the next announce or probe asks someone else */
        if (gossip_graft(w->from, &w->author, w->to)) {
            d->counters.tree_grafts++;
            char id[10];
            proto_id_short(&w->author, id);
            log_debug(d, "tree: %s's seq %llu did not come along the tree: grafting the link to %s",
                      id, (unsigned long long)w->to, w->from->addr);
        }
    }
    t->nwaits = k;
}

static void on_timer(uv_timer_t *h)
{
    catalogd *d = h->data;
    struct tree *t = d->tree;
    uint64_t now = uv_now(d->loop), next = 0;
    if (!t)
        return;
    if (t->flush_ms && t->flush_ms <= now)
        lazy_flush(d, t);
    waits_due(d, t, now);
    if (t->flush_ms)
        next = t->flush_ms;
    for (size_t i = 0; i < t->nwaits; i++)
        if (!next || t->waits[i].due_ms < next)
            next = t->waits[i].due_ms;
    if (next)
        arm_at(d, t, next);
}

void tree_peer_gone(peer *p)
{
    catalogd *d = p->d;
    struct tree *t = d->tree;
    /* An eager link lost (its node left or restarts): the tree is cut
     * here, and the part beyond would hear of new records only from the
     * few lazy announces a batch sends.  Graft every lazy link of this node
     * at once: the next record floods them and prunes them back to a tree. */
    if (tree_on(p) && !p->tl.lazy && gossip_ready(p) && !d->stopping) {
        for (peer *q = d->peers; q; q = q->next) {
            if (q == p || !lazy_target(q))
                continue;
            q->tl.lazy = 0;
            d->counters.tree_grafts++;
            send_mode(q, 1);
        }
        log_debug(d, "tree: eager link to %s lost: lazy links grafted", p->addr);
    }
    if (!t)
        return;
    for (size_t i = 0; i < t->nlazy; i++)
        if (t->lazy[i].from == p)
            t->lazy[i].from = NULL;
    for (size_t i = 0; i < t->nwaits; i++)
        if (t->waits[i].from == p)
            t->waits[i].from = NULL;
}

static void on_closed(uv_handle_t *h)
{
    struct tree *t = (struct tree *)h;   /* the timer is the first member */
    free(t->lazy);
    free(t->waits);
    free(t);
}

void tree_shutdown(catalogd *d)
{
    struct tree *t = d->tree;
    if (!t)
        return;
    lazy_flush(d, t);
    uv_close((uv_handle_t *)&t->timer, on_closed);
    d->tree = NULL;
}
