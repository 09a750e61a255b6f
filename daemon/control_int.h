/*
 * daemon/control_int.h — inside the control socket, for its files only
 * (control.c: transport and commands; control_watch.c: the watch stream).
 */
#ifndef DAEMON_CONTROL_INT_H
#define DAEMON_CONTROL_INT_H

#include <msgpack.h>
#include <uv.h>
#include "daemon/catalogd.h"
#include "proto/frame.h"
#include "proto/record.h"
#include "store/store.h"

/* put: kind, key, fields [[name, value], ...], tombstone.
 *
 * Puts are group-committed: the puts a client has pipelined and that
 * arrived together are signed and written in one LMDB transaction (one
 * fsync), and each still gets its own reply, in order. */
typedef struct {
    char kind[PROTO_KIND_MAX + 1], key[PROTO_KEY_MAX + 1];
    uint32_t flags;
    proto_body *body;
} put_req;

typedef struct {
    put_req *req;            /* prepared, not yet written */
    store_write_item *w;     /* as many, filled when written */
    size_t n, cap;
} put_batch;

struct control_watch;

typedef struct control_client {
    uv_pipe_t pipe;
    catalogd *d;
    struct control_client *next, **pprev;   /* d->ctl_clients */
    proto_buf in;
    msgpack_sbuffer out;   /* replies to the requests of one read, sent together */
    int paused;            /* not reading or answering: the client is slow to take its replies */
    int read_only;         /* refuse CONTROL_WRITE commands (a restricted socket, the web view) */
    int reply_now;         /* the request just answered was a write: serve() sends its reply at once */
    put_batch batch;       /* puts waiting for their transaction; empty between reads */
    struct control_job *job;     /* work in flight on the thread pool (a backup, a key
                                  * rotation): its reply comes first, so this client's
                                  * later requests wait for it */
    struct control_watch *watch; /* set by a watch request: the connection is a stream
                                  * from then on (control_watch.c) */
    uint8_t *parked;             /* a csearch held while the search index is built on the
                                  * thread pool (a copy of the request); its later requests
                                  * wait behind it, as behind a job */
    size_t parked_len;
} control_client;

/* Replies are packed straight into c->out, one frame after another: begin
 * reserves the frame's length, end writes it, cancel drops the frame. */
size_t control_reply_begin(control_client *c, msgpack_packer *pk);
void   control_reply_end(control_client *c, size_t at);
void   control_reply_cancel(control_client *c, size_t at);
void   control_reply_error(control_client *c, const char *err);
/* Send what c->out holds in one write (closes the client if it cannot). */
void   control_out_flush(control_client *c);
/* Reply bytes the client has not taken yet: sent and unsent. */
size_t control_queued(control_client *c);
void   control_client_close(control_client *c);

/* ---- control_watch.c ----
 *
 * watch [since: [[member id, seq], ...]] [from_start]: the connection
 * becomes a stream of the records this node holds, each once, in each
 * author's seq order: first (catch-up) every record after `since` (absent:
 * after what the node holds now; from_start: all), then, once caught up,
 * each record as node_applied hands it over.  The position is per author,
 * kept here: a client that is slow to read (past NODE_CONTROL_WRITE_HIGH
 * queued) is not dropped and nothing is lost — it goes back to catch-up,
 * which reads the store from its position once the queue drains.  A client
 * that reconnects with the position it saw resumes with no gap and no
 * repeat, across a daemon restart too.  First frame: {ok, watch: true,
 * start: [[member id, seq], ...] (the position the stream starts after),
 * members: [[member id, code, name, status], ...]}; then one {ok, record: bin} per
 * record, and after membership records {ok, members} again.  A fork's
 * second version (STORE_FORK: evidence, or a new winner of the same seq)
 * is not sent: the stream has one record per (author, seq), the first the
 * node applied. */
int  control_watch_start(control_client *c, const uint8_t *req, size_t len, char *err, size_t errlen);
/* The client's queue has drained (on_write): go on with the catch-up. */
void control_watch_drained(control_client *c);
void control_watch_free(control_client *c);

#endif
