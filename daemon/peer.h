/*
 * daemon/peer.h — connections to other members: TCP + TLS 1.3 (mutual,
 * through OpenSSL memory BIOs so libuv does all the I/O), framing, dialing
 * with jittered exponential backoff, and the listener.
 *
 * The protocol spoken over a connection lives in gossip.c (its state in
 * p->gs) and the records it brings go to ingest.c (p->ing); this file only
 * moves frames.  A peer is accepted only when the key it presents belongs
 * to a current member (or, before this node has an alliance or while the
 * genesis it holds awaits its chain check, only the sponsor it was told to
 * trust; never a sponsor whose genesis it refused).
 */
#ifndef DAEMON_PEER_H
#define DAEMON_PEER_H

#include <msgpack.h>
#include "daemon/catalogd.h"
#include "proto/frame.h"
#include "daemon/tree.h"

enum peer_state { PEER_CONNECTING, PEER_HANDSHAKE, PEER_ESTABLISHED, PEER_CLOSING };

typedef struct peer {
    struct peer *next;
    catalogd *d;
    uv_tcp_t tcp;
    uv_timer_t timer;         /* handshake, idle/ping or closing deadline, by state */
    uv_connect_t creq;
    SSL *ssl;
    BIO *rbio, *wbio;
    int outbound;
    enum peer_state state;
    int refs;                 /* handle + thread-pool jobs; freed at 0 */
    char addr[256];
    char host[64];            /* inbound: the remote IP address (per-address cap) */
    proto_id id;              /* from the verified certificate: the member its key belongs to */
    proto_id key_id;          /* the hash of the key it presented (the member id until a rotation) */
    int id_known;
    proto_id expect;          /* outbound: the member we meant to reach */
    int has_expect;
    char code[8], name[192];
    proto_buf in;
    uint64_t since_ms;
    uint64_t last_rx_ms;      /* when it last sent us anything (idle timeout) */
    uint64_t last_frame_ms;   /* when its last whole frame arrived (status: last heard); 0 none */
    uint64_t recs_in, recs_out, bytes_in, bytes_out;
    int read_paused;          /* socket not read: too much undecrypted input */
    int write_blocked;        /* frames not handled: too much output queued (NODE_PEER_WRITE_HIGH) */
    int failed;               /* closed for breaking the protocol (peer_fail) */
    uint32_t former_unverified;   /* NODE_FORMER_UNVERIFIED_MAX (ingest.c) */
    struct gossip_peer *gs;   /* the protocol's state (gossip.c) */
    struct ingest *ing;       /* records being taken in (ingest.c) */
    tree_link tl;             /* its link in the broadcast tree (tree.c) */
} peer;

int  peer_init(catalogd *d, char *err, size_t errlen);     /* TLS context */
int  peer_listen(catalogd *d, char *err, size_t errlen);
void peer_start(catalogd *d);                               /* dialing + timers */
void peer_shutdown(catalogd *d);
/* Close every connection now, flushed or not (the end of the stop grace). */
void peer_force_close(catalogd *d);
void peer_free_all(catalogd *d);

/* Send a whole frame (length prefix included; proto/msg.h builds them); copied. */
void peer_send_frame(peer *p, const void *frame, size_t len);
/* Send an error frame and close. */
void peer_fail(peer *p, unsigned code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void peer_close(peer *p);
void peer_pump(peer *p);      /* take in what has arrived; while busy, collect the next batch */
void peer_unref(peer *p);

unsigned peer_count_established(catalogd *d);
void peer_pack_list(catalogd *d, msgpack_packer *pk);
/* Members or addresses changed: reconsider whom to dial (nobody once this
 * node itself left or was expelled). */
void peer_targets_changed(catalogd *d);
/* Membership changed: close every open connection with a member that is no
 * longer active (left, expelled), logged; all of them if this node itself
 * is no longer a member.  The handshake refuses them from then on. */
void peer_members_changed(catalogd *d);
size_t peer_write_queue(peer *p);
/* When a whole frame last came from member `id`, on any connection open or
 * closed since the start; 0 never. */
uint64_t peer_last_heard_ms(catalogd *d, const proto_id *id);
/* The member's connection furthest along (established first), or NULL. */
peer *peer_of_member(catalogd *d, const proto_id *id);
extern const char *const peer_state_names[];

/* Inbound member connections this node accepts now (0: no bound, when
 * every member is dialled). */
unsigned peer_inbound_bound(catalogd *d);
/* The member is one this node dials itself (within its fanout). */
int peer_is_target(catalogd *d, const proto_id *id);
/* p, an outbound connection, was refused with MSG_ERR_FULL: dial the
 * next-ranked member instead for NODE_PEER_FULL_RETRY_MS. */
void peer_refused_full(peer *p);

#endif
