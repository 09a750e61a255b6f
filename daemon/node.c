/* daemon/node.c — publish and react to applied records; see node.h. */
#include "daemon/node.h"
#include "daemon/gossip.h"
#include "daemon/log.h"
#include "daemon/peer.h"
#include "proto/util.h"
#include "store/kind.h"

#include <stdlib.h>

int node_publish(catalogd *d, store_write_item *items, size_t n, char *err, size_t errlen)
{
    if (!n)
        return 0;
    if (store_write_many(d->st, d->id.key, items, n, err, errlen))
        return -1;
    proto_record *recs = malloc(n * sizeof *recs);
    int *res = malloc(n * sizeof *res);
    size_t m = 0;
    for (size_t i = 0; recs && res && i < n; i++)
        if (proto_record_decode(items[i].out, items[i].out_len, &recs[m], NULL, 0) == 0)
            res[m++] = STORE_NEW;
    if (recs && res) {
        node_applied(d, recs, res, m, NULL);
    } else {
        /* no memory to describe them: still send them, record by record */
        for (size_t i = 0; i < n; i++) {
            proto_record r;
            int one = STORE_NEW;
            if (proto_record_decode(items[i].out, items[i].out_len, &r, NULL, 0) == 0)
                node_applied(d, &r, &one, 1, NULL);
        }
    }
    free(recs);
    free(res);
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
    int catalog = 0, membership = 0, fresh = 0;
    for (size_t i = 0; i < n; i++) {
        int res = results[i];
        if (res != STORE_NEW && res != STORE_FORK)
            continue;
        const kind_def *k = kind_of(recs[i].kind);
        if (k->flags & KIND_F_CATALOG)
            catalog = 1;   /* a fork may change which version is current, too */
        if (res == STORE_NEW && (k->flags & KIND_F_MEMBERSHIP))
            membership = 1;
        if (!from) {
            gossip_push_local(d, recs[i].raw, recs[i].raw_len);
            continue;
        }
        if (res == STORE_NEW) {
            fresh++;
            from->recs_in++;
            d->records_in++;
        } else {
            char a[PROTO_ID_STR];
            proto_id_str(&recs[i].author, a);
            log_warn(d, "equivocation: member %s signed two records with seq %llu; evidence kept",
                     a, (unsigned long long)recs[i].seq);
            gossip_fork_evidence(d, from, &recs[i]);
        }
    }
    if (from && fresh)
        gossip_relay(d, from, recs, results, n);
    if (catalog)
        d->catalog_gen++;
    if (membership)
        peer_targets_changed(d);
}
