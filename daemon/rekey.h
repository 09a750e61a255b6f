/*
 * daemon/rekey.h — the node's side of a rekey by quorum (a member's key
 * lost or stolen; docs/DECISIONS.md 22 and 23): the vote (catalogctl member
 * rekey), what member show tells of rekeys, the live effects of a decision
 * on connections, and a node that becomes the rekeyed member (restored on
 * an empty machine with the new key).
 *
 * The store derives the decisions (store/store_replay.c); this file only
 * reads them.  Every read of the store about rekeys goes through
 * rekey_view_get, so that what the store exposes is used in one place.
 */
#ifndef DAEMON_REKEY_H
#define DAEMON_REKEY_H

#include <msgpack.h>
#include "daemon/catalogd.h"
#include "proto/frame.h"

/* Entries of one member's rekey view listed at most: decisions, proposals
 * of the open epoch, voters of one of them, stale votes.  Each is bounded
 * by the alliance already (one vote per member); this keeps member show's
 * reply one frame. */
#define REKEY_VIEW_MAX 64

/* Bytes of a vote's reason (as an expel's reason). */
#define REKEY_REASON_MAX 1000

typedef struct {
    proto_id id;
    uint64_t time_ms;           /* the time of its vote */
} rekey_voter;

typedef struct {
    uint32_t gen;               /* the epoch it decided: g(X) before it */
    uint64_t cut;               /* X's records <= cut stay under the old keys; K from cut+1 */
    proto_id key;               /* K's id */
    uint64_t decided_ms;        /* the time of the vote that completed the quorum */
    size_t nvotes;              /* voters counted, uncut */
    size_t nvoters;             /* those listed */
    rekey_voter voters[REKEY_VIEW_MAX];
} rekey_decision;

typedef struct {
    proto_id key;
    size_t nvoters;             /* active voters whose current vote names it (those listed) */
    size_t nvotes;              /* the same uncut */
    rekey_voter voters[REKEY_VIEW_MAX];
} rekey_proposal;

typedef struct {
    proto_id by, key;
    uint64_t seq, time_ms, cut;
    uint32_t gen;
    const char *why;            /* a static Japanese phrase */
} rekey_stale;

typedef struct {
    uint32_t gen;               /* g(X): rekeys of X decided */
    size_t ndec;
    rekey_decision dec[8];      /* oldest first */
    int open;                   /* an epoch (X, gen) is open */
    uint64_t open_cut;
    proto_id opened_by;
    uint32_t quorum;            /* votes a proposal needs now */
    size_t nprops;
    rekey_proposal props[REKEY_VIEW_MAX];
    size_t nstale;
    rekey_stale stale[REKEY_VIEW_MAX];
    int cut;                    /* a list above was cut (here or in the store's
                                 * STORE_REKEY_SHOW_MAX): member show says "truncated" */
} rekey_view;

/* X's rekeys as this node's store derived them.  *v is large: allocate it.
 * 0, or -1 (store failure). */
int rekey_view_get(store *st, const proto_id *x, rekey_view *v);

/* A member as people name it: its printed id, its municipality code or its
 * name (a current member's; a code or name of several is refused).  0, or
 * -1 with a Japanese message in err: a code or name that only a former
 * member (left, expelled) bears is refused as no longer a member, not as
 * unknown.  For the verbs that change membership (expel, rekey). */
int rekey_member_ref(store *st, const char *s, proto_id *out, char *err, size_t errlen);
/* The same, former != 0: a code or name no current member bears names the
 * one former member that bears it (several: refused).  For what only
 * reads (member show). */
int rekey_member_ref_ex(store *st, const char *s, int former, proto_id *out, char *err, size_t errlen);

/* Control command member_rekey {member, cert, reason [, cut]}: sign this
 * node's vote.  Reply: member_id, code, name, key, cut, gen, votes,
 * quorum, decided, held (this node's highest seq of the member). */
int rekey_cmd(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen);

/* member show's part: "rekeys", "rekey_epoch", "rekey_stale" added to m.
 * 1 when one of those lists (or a list of voters in them) was cut, else 0:
 * the reply then says "truncated", as for its other lists. */
int rekey_pack_show(catalogd *d, const proto_id *x, proto_map *m, msgpack_packer *pk);

/* Whether key_id, a retired key of member, was replaced by a rekey (not by
 * the member's own rotation): for the reason a connection is closed or a
 * handshake refused. */
int rekey_retired_by_quorum(store *st, const proto_id *member, const proto_id *key_id);

/* Whether key_id is a key a rekey by quorum put in force for member. */
int rekey_installed_by_quorum(store *st, const proto_id *member, const proto_id *key_id);

/* The restored node (catalogctl join --rekeyed MEMBER): once the store
 * derives that this node's key is MEMBER's key in force, the store and
 * the daemon take MEMBER as this node's identity.  Called at the start
 * and after membership records applied; 1 when it rebound now. */
int rekey_adopt_identity(catalogd *d);

/* Before this node signs: 0, or -1 with a Japanese message when its key
 * may not sign its next seq (it is waiting to become the rekeyed member,
 * holds its log short of the decided cut, or its key was replaced by a
 * rekey). */
int rekey_write_check(catalogd *d, char *err, size_t errlen);

#endif
