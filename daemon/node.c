/* daemon/node.c — publish and react to applied records; see node.h. */
#include "daemon/node.h"
#include "daemon/control.h"
#include "daemon/gossip.h"
#include "daemon/log.h"
#include "daemon/peer.h"
#include "catalog/index.h"
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
        for (; i < n && m < PUBLISH_SLICE; i++)
            /* the store decoded them with the text rule already */
            if (proto_record_decode_stored(items[i].out, items[i].out_len, &recs[m], NULL, 0) == 0)
                res[m++] = STORE_NEW;
        node_applied(d, recs, res, m, NULL);
    }
    return 0;
}

int node_publish_one(catalogd *d, const char *kind, const char *key, uint32_t flags,
                     const proto_body *body, uint8_t **out, size_t *out_len, char *err, size_t errlen)
{
    store_write_item it = { kind, key, flags, body, NULL, 0 };
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
    int catalog = 0, membership = 0;
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
        if (res == STORE_NEW && (k->flags & KIND_F_MEMBERSHIP))
            membership = 1;
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
    control_watch_applied(d, recs, results, n);
}
