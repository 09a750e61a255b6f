/*
 * daemon/tree.h — the epidemic broadcast tree (Plumtree, SSB's EBT) over a
 * bounded fanout: new records travel whole along eager links only; the
 * other (lazy) links get their (author, seq) in batched announces, a few
 * peers per batch; a copy pushed twice prunes the link it came on (lazy
 * both ways), and an announced record that does not come by itself within
 * NODE_TREE_GRAFT_MS is fetched from the announcer and grafts that link
 * (eager both ways).  docs/PROTOCOL.md "Broadcast tree", DECISIONS.md.
 *
 * Only with a fanout (d->fanout > 0): with every member connected a record
 * goes from its author straight to everyone and is never relayed.  Peers
 * whose hello did not say push: 1 (catalogd before the tree) get what they
 * always got: records written here whole, records relayed as announces at
 * once.  gossip.c calls these; the link state lives in each peer
 * (p->tl), the batch and the waits in d->tree.
 */
#ifndef DAEMON_TREE_H
#define DAEMON_TREE_H

#include <stdint.h>
#include <stddef.h>
#include "proto/record.h"

/* Timing (the budgets are in proto/limits.h).  A batch of lazy announces
 * leaves this long after its first entry: a burst of records costs one
 * frame per lazy peer, and only repair waits for it. */
#define NODE_TREE_LAZY_MS 50u
/* An announced record not received this long after the announce is
 * grafted: longer than the tree takes on loopback under load (~150 ms for
 * 100 nodes) so a late eager copy does not make a graft and then a prune. */
#define NODE_TREE_GRAFT_MS 250u
/* A link pruned is not pruned again (a frame pushed before our prune
 * arrived) within this long. */
#define NODE_TREE_PRUNE_AGAIN_MS 1000u

struct peer;
struct catalogd;

/* One connection's place in the tree; zero (eager, not yet known to speak
 * the flags) for a new connection. */
typedef struct tree_link {
    int speaks;               /* its hello said push: 1 */
    int lazy;                 /* announces only: pruned (by either end) */
    uint64_t pruned_ms;       /* when we last sent it a prune */
} tree_link;

/* The tree is in use here: a fanout, and the peer speaks the flags. */
int tree_on(const struct peer *p);

/* Records new here (ok[i] set for those to pass on) came from `from`:
 * pushed whole (push: 1) to eager links, queued for the lazy ones. */
void tree_relay(struct catalogd *d, struct peer *from, const proto_record *recs, const int *ok, size_t n);
/* The outbox's records frame (n records written here), which gossip.c sent
 * to every eager or old peer: its entries are queued for the lazy ones. */
void tree_push_local(struct catalogd *d, const uint8_t *frame, size_t len, uint32_t n);

/* A record (author a, seq) came in a frame pushed to us: 1 if one came so
 * before (on any connection) among the last NODE_TREE_SEEN, else noted. */
int tree_seen(struct catalogd *d, const proto_id *a, uint64_t seq);
/* A records frame the peer pushed (push: 1) held a record we have: prune. */
void tree_duplicate(struct peer *p);
/* The peer's want said push: 0 (it pruned us) or 1 (it grafted us). */
void tree_mode(struct peer *p, int push);
/* An announce from p named records of `a` up to `to` we lack (from `from`):
 * wait for the tree, then graft.  0 if taken; -1 if not (no memory, the
 * waits are full): want them now. */
int tree_wait(struct peer *p, const proto_id *a, uint64_t from, uint64_t to);

void tree_peer_gone(struct peer *p);
void tree_shutdown(struct catalogd *d);   /* flush the batch, close the timer */

#endif
