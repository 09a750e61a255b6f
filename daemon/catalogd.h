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

typedef struct catalogd {
    uv_loop_t *loop;
    log_cfg log;
    char data_dir[1024];
    char ctl_path[1024];
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
    proto_id sponsor_id;
    char sponsor_addr[256];
    unsigned verify_jobs;        /* thread pool jobs in flight */
    uint64_t started_ms;         /* loop time when dialing began: "silent since the start" */
    heard_mark *heard;           /* members last heard on closed connections */
    size_t nheard, capheard;

    /* connection budgets (proto/limits.h; catalogd.conf and flags) */
    unsigned max_inbound;        /* inbound connections, any state */
    unsigned max_per_addr;       /* inbound connections from one IP address */
    unsigned handshake_ms;       /* accept or dial -> TLS established */
    unsigned idle_ms;            /* established, nothing received -> closed */
    unsigned ninbound;           /* inbound connections now */
    refuse_log refused[NODE_REFUSE_LOG_SLOTS];
    struct inflight_table *inflight; /* wants sent and not yet answered, per author (gossip.c) */
    size_t deferred_bytes;       /* records set aside by every connection's ingest, unverified */

    /* counters (status / bench) */
    uint64_t bytes_in, bytes_out;
    uint64_t records_in, records_out;

    struct outbox *outbox;       /* records written here, not yet pushed (gossip.c) */
    uint64_t catalog_gen;        /* bumped when a certification or adoption changes */
    struct catalog_index *index; /* the catalog's search index (catalog/index.h), at catalog_gen */
    size_t churned;              /* bytes through big batches since the last heap trim */
    size_t churned_at_tick;

    /* every connection reads into this; each read is consumed (decrypted
     * into the connection's own buffer) before the loop reads again */
    char rx[65536];

    uv_signal_t sigterm, sigint, sighup;
    int stopping;
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
