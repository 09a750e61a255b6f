/* daemon/node.c — publish and react to applied records; see node.h. */
#include "daemon/node.h"
#include "daemon/control.h"
#include "daemon/gossip.h"
#include "daemon/log.h"
#include "daemon/peer.h"
#include "daemon/rotate.h"
#include "catalog/index.h"
#include "proto/msg.h"
#include "proto/util.h"
#include "store/kind.h"

#include <stdlib.h>
#include <string.h>

/* Records handed to node_applied at a time: decoded views on the stack, so a
 * large batch (an import chunk, 1024 pipelined puts) needs no allocation. */
#define PUBLISH_SLICE 64

int node_publish(catalogd *d, store_write_item *items, size_t n, char *err, size_t errlen)
{
    if (!n)
        return 0;
    if (store_write_many(d->st, d->id.key, items, n, err, errlen))
        return -1;
    proto_record recs[PUBLISH_SLICE];
    int res[PUBLISH_SLICE];
    for (size_t i = 0; i < n;) {
        size_t m = 0;
        for (; i < n && m < PUBLISH_SLICE; i++) {
            /* as the store decoded them (with the text rule): decoding
             * them again here was ~1 % of an import's writer */
            recs[m] = items[i].rec;
            res[m++] = STORE_NEW;
        }
        node_applied(d, recs, res, m, NULL);
    }
    return 0;
}

int node_publish_one(catalogd *d, const char *kind, const char *key, uint32_t flags,
                     const proto_body *body, uint8_t **out, size_t *out_len, char *err, size_t errlen)
{
    store_write_item it = { .kind = kind, .key = key, .flags = flags, .body = body };
    if (node_publish(d, &it, 1, err, errlen))
        return -1;
    if (out) {
        *out = it.out;
        *out_len = it.out_len;
    } else {
        free(it.out);
    }
    return 0;
}

void node_applied(catalogd *d, const proto_record *recs, const int *results, size_t n,
                  struct peer *from)
{
    int catalog = 0, membership = 0, keys = 0;
    size_t fresh = 0, last = 0;
    for (size_t i = 0; i < n; i++) {
        int res = results[i];
        if (res != STORE_NEW && res != STORE_FORK)
            continue;
        const kind_def *k = kind_of(recs[i].kind);
        if (res == STORE_FORK) {
            /* whatever its kind: the version it forks may be a certification
             * or adoption (one seq signed as a note here and a certification
             * there), and the winner may change which key is current; the
             * index is rebuilt then (forks are rare) */
            catalog = 1;
            if (d->index)
                catalog_index_note_all(d->index);
        } else if (k->flags & KIND_F_CATALOG) {
            catalog = 1;   /* a new record changes its own key only */
            if (d->index)
                catalog_index_note(d->index, recs[i].kind, &recs[i].author, recs[i].key);
        }
        /* a fork may have changed the winner of a membership record (the
         * one held or this one), and with it the members derived from the
         * log (store/store_member.c) */
        if (res == STORE_FORK || (k->flags & KIND_F_MEMBERSHIP))
            membership = 1;
        if (res == STORE_FORK && k->id == KIND_MEMBER)
            keys = 1;   /* a new winner of a fork of rotations changes a key */
        if (!from) {
            d->counters.records_signed[k->id]++;
            gossip_push_local(d, recs[i].raw, recs[i].raw_len);
            continue;
        }
        if (res == STORE_NEW) {
            fresh++;
            last = i;
            from->recs_in++;
            d->records_in++;
            d->counters.records_applied[k->id]++;
            /* A long range (initial sync) outlasts the wait for an answer:
             * while its records keep coming (recs are in (author, seq)
             * order), asking again would only fetch them twice. */
            if (i + 1 == n || memcmp(&recs[i + 1].author, &recs[i].author, 32))
                gossip_progress(d, &recs[i].author, recs[i].seq);
        } else {
            char a[PROTO_ID_STR];
            d->counters.forks_detected++;
            proto_id_str(&recs[i].author, a);
            log_warn(d, "equivocation: member %s signed two records with seq %llu; evidence kept",
                     a, (unsigned long long)recs[i].seq);
            gossip_fork_evidence(d, from, &recs[i]);
        }
    }
    /* The transaction rewrote some author's log (a rekey decided or unmade:
     * store/store_apart.c): records the index and the web views hold may
     * have left the log, older versions come back — the index is rebuilt
     * (rare), and the members and keys may have changed with it. */
    uint64_t rw = store_log_rewrites(d->st);
    if (rw != d->log_rewrites) {
        d->log_rewrites = rw;
        catalog = membership = keys = 1;
        if (d->index)
            catalog_index_note_all(d->index);
    }
    if (from && fresh) {
        gossip_relay(d, from, recs, results, n);
        char a[10];
        proto_id_short(&recs[last].author, a);
        log_debug(d, "applied %zu new records from %s (last: %s seq %llu)", fresh, from->addr, a,
                  (unsigned long long)recs[last].seq);
    }
    if (catalog)
        d->catalog_gen++;
    if (membership) {
        peer_targets_changed(d);
        peer_members_changed(d);   /* a member left or was expelled: close it now */
    }
    if (membership || keys)
        rotate_drop_retired(d);   /* a rotation may have retired a connected key */
    control_watch_applied(d, recs, results, n);
    if (from)
        node_genesis_check(d, from);
}

/* One author of the sponsor's last hello: where its log was on the sponsor. */
struct sponsor_pos {
    proto_id author, chain;
    uint64_t seq;
};

void node_note_sponsor_hello(catalogd *d, struct peer *p, const msg *m)
{
    proto_id dg, gh;
    int has_genesis = 1;
    store_digest_get(d->st, &dg, &gh, &has_genesis);
    if (!p->id_known || !node_is_sponsor(d, &p->id) ||
        (has_genesis && !store_genesis_unchecked(d->st)))
        return;
    /* at most MSG_VV_MAX authors: msg_decode bounds the vector */
    struct sponsor_pos *v = malloc((m->hello.vv.n ? m->hello.vv.n : 1) * sizeof *v);
    if (!v)
        return;   /* the last one stays: it too was the sponsor's word */
    size_t n = 0;
    msg_iter it;
    msg_iter_init(&it, m);
    while (n < m->hello.vv.n && msg_vv_next(&it, &v[n].author, &v[n].seq, &v[n].chain))
        n++;
    free(d->sponsor_pos);
    d->sponsor_pos = v;
    d->sponsor_npos = n;
    d->sponsor_next = 0;
}

/* Whether this node holds, of every author that is a current member under
 * the genesis held (the members derived from what it holds), the log the
 * sponsor's last hello named, the same records (equal chain at that seq).
 * Authors that are no member here are left out: their records are refused
 * (an expelled member's, say), so waiting for them would never end.
 * Resumes where the last call found a difference; a decision is made only
 * on a full pass (membership may have changed since). */
static int sponsor_chain_complete(catalogd *d)
{
    if (!d->sponsor_pos)
        return 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t from = pass ? 0 : d->sponsor_next;
        for (size_t i = from; i < d->sponsor_npos; i++) {
            const struct sponsor_pos *e = &d->sponsor_pos[i];
            store_member mb;
            uint8_t ours[32];
            if (store_member_get(d->st, &e->author, &mb) != 0 || mb.status != STORE_MEMBER_ACTIVE)
                continue;
            if (store_chain_get(d->st, &e->author, e->seq, ours, NULL) != 0 ||
                memcmp(ours, e->chain.b, 32)) {
                d->sponsor_next = i;
                return 0;
            }
        }
        if (from == 0)
            return 1;
    }
    return 1;
}

void node_sponsor_changed(catalogd *d)
{
    free(d->sponsor_pos);
    d->sponsor_pos = NULL;
    d->sponsor_npos = d->sponsor_next = 0;
    for (struct peer *p = d->peers; p; p = p->next)
        if (p->state != PEER_CLOSING)
            peer_fail(p, MSG_ERR_ALLIANCE, "this node was told to trust another sponsor");
    if (d->index)
        catalog_index_note_all(d->index);
    d->catalog_gen++;
}

void node_sponsor_member(catalogd *d, proto_id *out)
{
    proto_id m;
    int k = store_key_owner(d->st, &d->sponsor_id, &m);
    *out = k == STORE_KEY_CURRENT || k == STORE_KEY_RETIRED ? m : d->sponsor_id;
}

int node_is_sponsor(catalogd *d, const proto_id *member)
{
    if (!d->have_sponsor)
        return 0;
    if (!memcmp(member, &d->sponsor_id, 32))
        return 1;
    proto_id m;
    node_sponsor_member(d, &m);
    return !memcmp(member, &m, 32);
}

void node_genesis_check(catalogd *d, struct peer *p)
{
    proto_id sp, digest, g;
    int has_g;
    char err[256], sid[PROTO_ID_STR], gh[65];
    if (!store_genesis_unchecked(d->st))
        return;
    /* Decided on the sponsor's word alone, once this node holds the log of
     * every current member as the sponsor's last hello named it (or all the
     * sponsor holds: equal digests): then whether the records lead to it
     * depends neither on how they were batched nor on records this node
     * refuses, such as those of a member expelled since. */
    store_digest_get(d->st, &digest, &g, &has_g);
    if (!p || !p->id_known || !node_is_sponsor(d, &p->id) ||
        (!gossip_in_sync(p, &digest) && !sponsor_chain_complete(d)))
        return;
    int rc = store_genesis_check(d->st, &sp, err, sizeof err);
    if (rc < 0) {
        log_warn(d, "genesis chain check: %s", err);
        return;
    }
    proto_id_str(&sp, sid);
    proto_hex(g.b, 32, gh);
    if (rc == STORE_GENESIS_PINNED) {
        log_info(d, "genesis %.16s… pinned: the membership records lead from it to the sponsor %s",
                 gh, sid);
        free(d->sponsor_pos);
        d->sponsor_pos = NULL;
        d->sponsor_npos = d->sponsor_next = 0;
        peer_targets_changed(d);   /* the other members may be dialed now */
        return;
    }
    log_warn(d, "refused the genesis %.16s… served by the sponsor %s: the membership records "
             "do not lead from it to the sponsor (no current member under it); nothing of it is "
             "kept. Check the sponsor's certificate and run 'catalogctl join' again", gh, sid);
    if (store_alliance_forget(d->st, err, sizeof err))
        log_warn(d, "dropping the refused genesis: %s", err);
    /* kept in the store: a reload or a restart does not trust it again */
    if (store_meta_put(d->st, "sponsor_refused", sp.b, 32))
        log_warn(d, "could not record the refusal of the sponsor %s", sid);
    d->sponsor_refused = 1;
    free(d->sponsor_pos);
    d->sponsor_pos = NULL;
    d->sponsor_npos = d->sponsor_next = 0;
    if (d->index)
        catalog_index_note_all(d->index);
    d->catalog_gen++;
    peer_fail(p, MSG_ERR_ALLIANCE, "the genesis you sent does not lead to you: refused");
    peer_targets_changed(d);
}
