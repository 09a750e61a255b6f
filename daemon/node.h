/*
 * daemon/node.h — the node's two joints: the one way out and the one fan-out.
 *
 * node_publish() is the only path by which a record written on this node is
 * signed, stored and handed to the network.  node_applied() is the only
 * place that reacts to records accepted from anywhere — written here or
 * received from a peer: the search index, whom to dial, relaying and
 * announcing, fork evidence, counters.  Whatever must happen when the
 * catalog changes (metrics, watchers, the web view) hooks in here; no other
 * file calls the gossip layer to push.
 */
#ifndef DAEMON_NODE_H
#define DAEMON_NODE_H

#include "daemon/catalogd.h"
#include "store/store.h"

struct peer;

/* Sign items[0..n) as this node (consecutive seqs), store them in one write
 * transaction (all or none), then hand them to node_applied.  On success
 * every items[i].out holds the record's bytes (the caller frees them).
 * 0, or -1 with err (then nothing was written and nothing sent). */
int node_publish(catalogd *d, store_write_item *items, size_t n, char *err, size_t errlen);

/* One record: node_publish of a single item.  *out (may be NULL) gets the
 * record's bytes (the caller frees them). */
int node_publish_one(catalogd *d, const char *kind, const char *key, uint32_t flags,
                     const proto_body *body, uint8_t **out, size_t *out_len, char *err, size_t errlen);

/* Records were applied to the store; results[i] is each one's store_result.
 * `from` is the peer they came from, NULL when they were written here.
 * Only STORE_NEW and STORE_FORK records cause anything. */
/* Log the store's rekey bounds once each time they are hit. */
void node_rekey_notes(catalogd *d);
void node_applied(catalogd *d, const proto_record *recs, const int *results, size_t n,
                  struct peer *from);

/* The genesis chain check (docs/DECISIONS.md 1), after records or a digest
 * from peer p.  When p is the sponsor and this node holds everything the
 * sponsor holds (p's last digest is ours), or the log of every author that
 * is a current member here as p's last hello named it: pins a genesis held unchecked
 * if the members derived under it include the sponsor as a current member,
 * and otherwise refuses it (drops everything held under it, logs why,
 * closes p, stops trusting the sponsor).  Nothing to do on a node whose
 * genesis is pinned. */
void node_genesis_check(catalogd *d, struct peer *p);
/* Whether member (a peer's member id) is the sponsor this node was told to
 * trust.  The sponsor is named by the key of the certificate join was
 * given, which is its member id only if it never rotated: a rotated
 * sponsor's key is mapped to its member once this node holds the rotation
 * (the handshake names the member, not the key). */
int node_is_sponsor(catalogd *d, const proto_id *member);
/* The member id to expect when dialing the sponsor (its key's member once
 * known, else the key's hash). */
void node_sponsor_member(catalogd *d, proto_id *out);
/* A hello from the sponsor while this node holds no genesis or an
 * unchecked one: keep its vector, what the chain check compares with. */
struct msg;
void node_note_sponsor_hello(catalogd *d, struct peer *p, const struct msg *m);
/* `catalogctl join` named another sponsor or dropped an unchecked genesis:
 * close every connection and forget what the old sponsor said. */
void node_sponsor_changed(catalogd *d);

#endif
