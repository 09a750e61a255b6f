/*
 * daemon/gossip.h — the sync protocol (DESIGN §4) on established
 * connections: hello and version vectors, wants and the records sent for
 * them, announces, the anti-entropy probe, ping/pong and error.
 *
 * peer.c moves frames and calls the gossip_on_* entry points; ingest.c takes
 * in the records; node.c alone calls the pushing functions.
 */
#ifndef DAEMON_GOSSIP_H
#define DAEMON_GOSSIP_H

#include "daemon/catalogd.h"
#include "proto/record.h"

struct peer;
typedef struct gossip_peer gossip_peer;   /* the protocol's state of one connection */

gossip_peer *gossip_peer_new(void);
void gossip_peer_free(gossip_peer *g);

void gossip_on_established(struct peer *p);
void gossip_on_frame(struct peer *p, const uint8_t *f, size_t len);
void gossip_on_writable(struct peer *p);
void gossip_tick(catalogd *d);
void gossip_peer_gone(struct peer *p);
/* p answered a want of author a's log with a record this node refused
 * without closing p (a rekey's retired key after its cut): p will send
 * nothing better for it, so the want is no longer in flight from p and the
 * next hello, announce or reconciliation asks another peer at once. */
void gossip_want_refused(struct peer *p, const proto_id *a);
void gossip_shutdown(catalogd *d);
void gossip_free(catalogd *d);   /* the in-flight table, after the loop ended */

/* The peer's hello arrived (the connection speaks the protocol). */
int gossip_ready(const struct peer *p);
/* Graft (tree.c): want records of `a` after what is held, up to `to`, with
 * push: 1, unless they arrived or someone sends them already; 1 if sent. */
int gossip_graft(struct peer *p, const proto_id *a, uint64_t to);

/* Nothing is being sent for the peer or verified from it. */
int gossip_idle(const struct peer *p);
/* Wanted records are still owed to p (being sent, a batch at a time). */
int gossip_owes(const struct peer *p);
/* When the peer last showed it is in sync (hello, digest, pong); 0 never. */
uint64_t gossip_last_sync_ms(const struct peer *p);
/* The digest the peer last sent equals `ours` (the store's now). */
int gossip_in_sync(const struct peer *p, const proto_id *ours);
/* When a digest the peer sent last equalled ours; 0 never. */
uint64_t gossip_last_match_ms(const struct peer *p);

/* Records of `a` up to `seq` arrived (ingest): a range still being sent by
 * someone is not stalled, so it is not asked for again. */
void gossip_progress(catalogd *d, const proto_id *a, uint64_t seq);
/* Records of `a` were dropped before they could apply (ingest's budgets):
 * the want for them is no longer in flight, so it is asked again at once. */
void gossip_dropped(catalogd *d, const proto_id *a);

/* Pushing, for daemon/node.c only (node_applied decides what is pushed):
 * a record written here goes whole to every peer (with a fanout, to its
 * eager links in the broadcast tree, daemon/tree.h) — records written in one
 * turn of the event loop (a group-committed batch of puts, an import chunk)
 * are corked and leave as one records frame per peer before the loop next
 * waits; records received from `from` are passed on where needed
 * (results[i] == STORE_NEW: with a fanout along the tree, else announced);
 * a fork's evidence goes to every peer and the
 * version we held back to `from`. */
void gossip_push_local(catalogd *d, const uint8_t *rec, size_t len);
/* Send what gossip_push_local holds now rather than at the next loop turn
 * (before this node closes its connections: its own leave record). */
void gossip_flush_local(catalogd *d);
void gossip_relay(catalogd *d, struct peer *from, const proto_record *recs, const int *results, size_t n);
void gossip_fork_evidence(catalogd *d, struct peer *from, const proto_record *r);

#endif
