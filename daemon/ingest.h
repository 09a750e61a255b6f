/*
 * daemon/ingest.h — taking in records from one peer connection.
 *
 * Records that records frames bring are collected (ingest_add) until the
 * connection has no whole frame left to read (ingest_flush) or a batch is
 * full, then handed to one verify job: prechecked against the store (no
 * signature yet), verified on the libuv thread pool, applied in one LMDB
 * write transaction, and reported to node_applied().  While one batch is
 * verified the next is collected (at most a bound: ingest_full tells the
 * connection to stop reading, so TCP pushes back).  Records that cannot
 * apply yet (a gap, an author not yet admitted) are set aside by author
 * (daemon/defer.h) and retried after a batch once the store says their
 * author changed (admitted, a key, its log moved).  A broken record or a
 * bad signature fails the connection (peer_fail).
 *
 * An ingest belongs to one peer and lives as long as it (verify jobs hold a
 * reference on the peer).  Loop thread only.
 */
#ifndef DAEMON_INGEST_H
#define DAEMON_INGEST_H

#include <stddef.h>
#include <stdint.h>

struct peer;
typedef struct ingest ingest;

ingest *ingest_new(struct peer *p);
void ingest_free(ingest *g);

/* A record's bytes from a frame being read (copied); 0, or -1 out of memory. */
int  ingest_add(ingest *g, const uint8_t *raw, size_t len);
/* A records frame is done: start a batch now if enough has been collected
 * (the frame is still in use up the stack, so it is verified off the loop). */
void ingest_frame_done(ingest *g);
/* No whole frame is left to read: verify what has been collected. */
void ingest_flush(ingest *g);

int ingest_busy(const ingest *g);   /* a batch is being verified */
int ingest_full(const ingest *g);   /* busy, and the next batch is full: stop reading */

#endif
