/*
 * daemon/catalogd.h — the daemon's state.  One struct owns it all; every
 * module of the daemon takes a pointer to it.
 */
#ifndef DAEMON_CATALOGD_H
#define DAEMON_CATALOGD_H

#include <uv.h>
#include <openssl/ssl.h>
#include "certs/certs.h"
#include "store/store.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "proto/limits.h"

struct peer;
struct catalog_index;
struct control_client;
struct web;

/* An address whose refused connections were logged lately (peer.c). */
typedef struct {
    char host[64];
    uint64_t at_ms;       /* when last logged */
    unsigned suppressed;  /* refused since, not logged */
} refuse_log;

/* When a member was last heard on a connection now closed (peer.c), so
 * that status's "last heard" outlives the connection.  One per member id
 * ever connected: bounded by the alliance. */
typedef struct {
    proto_id id;
    uint64_t at_ms;
} heard_mark;

/* Why a connection was refused before it could speak (peer.c); the metrics
 * name each (daemon/metrics.c). */
enum catalogd_refusal {
    REFUSED_NOT_MEMBER,          /* its key is no current member's (nor the sponsor's) */
    REFUSED_WRONG_MEMBER,        /* dialed one member, another answered */
    REFUSED_BAD_CERT,            /* an unusable certificate */
    REFUSED_MAX_CONNECTIONS,     /* max_connections inbound already */
    REFUSED_MAX_PER_ADDRESS,     /* max_connections_per_address from its address */
    REFUSED_HANDSHAKE_TIMEOUT,   /* inbound, no TLS session within handshake_timeout_ms */
    REFUSED_INBOUND_FULL,        /* a member, at hello: max_inbound_peers members inbound already */
    REFUSED_REASONS
};

/* Why a peer's records were refused (ingest.c): the connection is closed,
 * except for RECORD_FORMER, the rekey's two and RECORD_CHAIN_WAIT. */
enum catalogd_record_refusal {
    RECORD_MALFORMED,            /* not a record */
    RECORD_RULES,                /* breaks the store's or its kind's rules */
    RECORD_SEQ_JUMP,             /* a seq further ahead than any honest peer sends */
    RECORD_FORMER,               /* a former member's, beyond its cut: dropped, the
                                  * connection stays (an honest relay may hold it) */
    RECORD_REKEY_CUT,            /* signed by a key a rekey retired, after the rekey's
                                  * cut: kept apart out of the log within bounds, else
                                  * dropped; the connection stays (as FORMER) */
    RECORD_REKEY_WAIT,           /* signed by a key of a rekey not decided here yet:
                                  * set aside as a gap, the connection stays */
    RECORD_CHAIN_WAIT,           /* a gap that took its predecessor's key in triage and
                                  * did not verify under it, or one past its author's
                                  * log end not signed by the key a rekey retired: set
                                  * aside as the gap it is, judged again later */
    RECORD_REFUSALS
};

/* What the closed connections of one member carried (metrics.c adds a
 * connection's counts when it closes, so a member's totals outlive its
 * connections).  Only connections that were established count: their
 * member is one of the alliance's, so the table is bounded by it. */
typedef struct {
    proto_id id;
    uint64_t bytes_in, bytes_out, recs_in, recs_out;
    uint64_t last_match_ms;      /* when a digest it sent last equalled ours; 0 never */
} member_traffic;

#define CATALOGD_KINDS 6         /* store/kind.h's kind_id values (metrics.c asserts it) */
#define CATALOGD_PEER_ERRORS 6   /* proto/msg.h's MSG_ERR_* (1..5); 0 for any other code */

/* Event counters for the metrics (daemon/metrics.c formats them).  Only
 * ever incremented, where the event happens; rates are the scraper's job. */
typedef struct {
    uint64_t records_signed[CATALOGD_KINDS];   /* written here (node_applied, from NULL), by kind_id */
    uint64_t records_applied[CATALOGD_KINDS];  /* from peers, new here, by kind_id */
    uint64_t forks_detected;                   /* equivocations applied as evidence */
    uint64_t verify_failures;                  /* peers' records whose signature did not verify */
    uint64_t verify_batches;                   /* batches of peers' records verified (ingest.c) */
    uint64_t verify_pool_jobs;                 /* thread pool jobs they were cut into (0 for one on the loop) */
    uint64_t records_refused[RECORD_REFUSALS];
    uint64_t records_dropped;                  /* set aside over a budget (fetched again later) */
    uint64_t peers_refused[REFUSED_REASONS];
    uint64_t peer_failures[CATALOGD_PEER_ERRORS]; /* connections closed for breaking the protocol */
    uint64_t control_requests, control_errors;
    /* web view exports queued on the thread pool (a HEAD builds none), and
     * those stopped before the end (client gone, daemon stopping) */
    uint64_t web_export_builds, web_export_cancelled;
    uint64_t tree_prunes, tree_grafts;         /* broadcast tree links made lazy / eager by us (tree.c) */
    member_traffic *closed;                    /* per member ever established; see member_traffic */
    size_t nclosed, capclosed;
} catalogd_counters;

typedef struct catalogd {
    uv_loop_t *loop;
    log_cfg log;
    char data_dir[1024];
    char ctl_path[1024];
    char conf_file[1100];    /* the settings file read at start and on SIGHUP */
    int conf_explicit;       /* named by --config: it must exist */
    char listen_addr[256];   /* "" = do not listen */
    config conf;             /* the settings running now (daemon/config.h) */
    config conf_flags;       /* the command line's, which win over the file on every reload */
    certs_identity id;
    store *st;

    /* control socket */
    uv_pipe_t ctl;
    int ctl_open;
    struct control_client *ctl_clients;   /* every connected client (closed on stop) */
    unsigned nctl_clients;

    /* the web view (web.c): NULL when off */
    struct web *web;

    /* network */
    SSL_CTX *ssl_ctx;
    uv_tcp_t listener;
    int listening;
    struct peer *peers;          /* every connection, any state */
    unsigned fanout;             /* 0 = every member */
    unsigned sync_interval_ms;   /* anti-entropy period */
    uv_timer_t tick;             /* connect / anti-entropy timer */
    uint64_t last_sync_ms;
    struct dial *dials;          /* per-member reconnect state */
    int have_sponsor;
    int sponsor_refused;         /* it served a genesis that does not lead to it: not dialed
                                    nor accepted until `catalogctl join` names a sponsor again
                                    (meta sponsor_refused: kept over restarts and reloads) */
    struct sponsor_pos *sponsor_pos;   /* while the genesis awaits its chain check: the
                                          sponsor's last hello vector (node.c) */
    size_t sponsor_npos, sponsor_next;
    proto_id sponsor_id;
    char sponsor_addr[256];
    unsigned verify_jobs;        /* thread pool jobs in flight */
    uint64_t started_ms;         /* loop time when dialing began: "silent since the start" */
    uint64_t departed_ms;        /* loop time this node learnt it left or was expelled; 0 */
    heard_mark *heard;           /* members last heard on closed connections */
    size_t nheard, capheard;

    /* connection budgets (proto/limits.h; catalogd.conf and flags) */
    unsigned max_inbound;        /* inbound connections, any state */
    unsigned max_per_addr;       /* inbound connections from one IP address */
    unsigned max_inbound_peers;  /* max_inbound_peers as set (0: NODE_PEER_INBOUND_PER_FANOUT x fanout) */
    unsigned handshake_ms;       /* accept or dial -> TLS established */
    unsigned idle_ms;            /* established, nothing received -> closed */
    unsigned ninbound;           /* inbound connections now */
    refuse_log refused[NODE_REFUSE_LOG_SLOTS];
    struct inflight_table *inflight; /* wants sent and not yet answered, per author (gossip.c) */
    size_t deferred_bytes;       /* records set aside by every connection's ingest, unverified */

    /* counters (status / bench) */
    uint64_t bytes_in, bytes_out;
    uint64_t records_in, records_out;
    catalogd_counters counters;  /* the metrics' (daemon/metrics.h) */

    struct outbox *outbox;       /* records written here, not yet pushed (gossip.c) */
    struct tree *tree;           /* the broadcast tree's lazy batch and graft waits (tree.c) */
    uint64_t catalog_gen;        /* bumped when a certification or adoption changes */
    uint64_t log_rewrites;       /* store_log_rewrites as node_applied last saw it */
    struct catalog_index *index; /* the catalog's search index (catalog/index.h), at catalog_gen */
    struct indexer_job *index_job; /* its build on the thread pool (daemon/indexer.c), or NULL */
    unsigned nctl_parked;        /* control csearch requests waiting for that build */
    size_t churned;              /* bytes through big batches since the last heap trim */
    size_t churned_at_tick;

    /* every connection reads into this; each read is consumed (decrypted
     * into the connection's own buffer) before the loop reads again */
    char rx[65536];

    uv_signal_t sigterm, sigint, sighup;
    int stopping;
    int rotating;                /* a key rotation is under way (rotate.h) */
    uint64_t rekey_rederives;    /* store_rekey_stats' rederives when node_applied last looked:
                                  * a rekey may be decided (or unmade) by any record of an
                                  * author with an open epoch, not only a membership record */
    unsigned backups_running;    /* backups on the thread pool, their clients gone or not */
    uv_timer_t stop_timer;       /* closes what a clean stop left open */

    /* systemd notification (notify.c) */
    int notify;                  /* NOTIFY_SOCKET was set at start */
    uint64_t notify_at_ms;       /* when the status line was last built */
    char notify_status[512];     /* the STATUS= line last sent (fits a whole alliance name) */
} catalogd;

/* A batch of about `bytes` was handled and its memory freed.  malloc keeps
 * freed heap for reuse; after a few MB of such batches (an import, a sync,
 * an index rebuild) it is handed back, and store pages the work mapped are
 * released (store_release_pages), so a burst of work does not leave the
 * daemon's resident size at its high-water mark.  The timer tick finishes
 * the job once a burst is over. */
void catalogd_churn(catalogd *d, size_t bytes);
#define CATALOGD_CHURN_NOW ((size_t)-1 / 2)   /* trim now */

/* Read the sponsor that `catalogctl join` wrote into the store and dial it
 * (on SIGHUP and on the control command "sponsor"), so that joining needs
 * no restart. */
void catalogd_reload_sponsor(catalogd *d);

#endif
