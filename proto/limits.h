/*
 * proto/limits.h — the one place for limits: the peer protocol's, and the
 * node's budgets per connection and per control client.
 *
 * Every bound on what a peer may send us (frame sizes, counts per message,
 * lengths, nesting) is a named constant here, with the reason for its
 * value, so that a reviewer can check all of them in one file and a change
 * to one is a change to the protocol that shows up as such.  The daemon's
 * other budgets (queue lengths, memory held per peer, batch sizes) belong
 * here too as they are given names; do not scatter literals elsewhere.
 *
 * The decoders that enforce these are proto/frame.c (frame lengths) and
 * proto/msg.c (everything inside a peer frame); proto/record.h keeps the
 * limits of a record itself (PROTO_RECORD_MAX and the rest), since records
 * are checked by their own decoder wherever they come from.
 *
 * Counts were chosen so that no honest peer reaches them, while still
 * bounding the work one frame can cause.  Sizes below use the smallest
 * possible msgpack encoding of each item, i.e. the most items an attacker
 * can pack into one frame.
 */
#ifndef PROTO_LIMITS_H
#define PROTO_LIMITS_H

/* ---- frames (proto/frame.h) ---- */

/* Control socket frames (catalogctl <-> catalogd, local only): replies may
 * list many records, and the peer is the node's own operator. */
#define PROTO_CTL_FRAME_MAX  (16u << 20)

/* Peer frames, body bytes (without the 4-byte length).  The biggest frame an
 * honest peer sends is a records batch: gossip.c closes a batch at 1024
 * records or 256 KiB, and its last record may add up to PROTO_RECORD_MAX
 * (64 KiB), so 4 MiB leaves a wide margin while capping what a receiver
 * buffers for one frame before it can refuse it. */
#define PROTO_PEER_FRAME_MAX (4u << 20)

/* ---- peer messages (proto/msg.h) ---- */

/* The protocol version a hello carries in "v"; a hello with another version
 * is refused (there is no negotiation yet). */
#define MSG_PROTO_VERSION 2u   /* 2: vv entries carry the log chain; sums/points */

/* Records in one records frame ("recs").  As before proto/msg.c existed.
 * Honest frames hold at most 1024; a real record is well over 100 bytes (two
 * ids, kind, key, a signature), so an honest 4 MiB frame could not hold
 * 100000 even if a sender filled it.  The bound matters because every record
 * of a frame is copied and queued before any signature is checked. */
#define MSG_RECORDS_MAX 100000u

/* Seq ranges in one want frame ("r").  As before proto/msg.c existed.  An
 * honest want answers one hello or one announce and lists at most one range
 * per entry of it (see the static asserts below); each range a peer sends us
 * becomes a queued send job on our side. */
#define MSG_WANT_RANGES_MAX 100000u

/* Entries in one announce frame ("a").  An announce lists the records of one
 * applied batch that are new here.  A records frame is at most 1024 records,
 * but gossip.c applies what several frames brought (up to 4096 + one frame)
 * together with the records set aside for a missing author or predecessor
 * (up to 50000) as one batch, and announces it in one frame: an honest
 * announce can list ~55,000 entries.  An entry takes at least 70 bytes, so a
 * 4 MiB frame carries at most 59,918 of them: 65536 is above anything a frame
 * can hold, i.e. it refuses no announce an older node sends, and states the
 * bound on the work of one frame (a version-vector lookup and possibly a want
 * range per entry) without relying on the frame and entry sizes. */
#define MSG_ANNOUNCE_MAX 65536u

/* Authors in a hello's version vector ("vv"): one entry per author whose
 * records the sender holds.  Authors are members (current or former); an
 * alliance has at most ~1,800 (every municipality of Japan), so 8192 leaves
 * room for members who left and joined again under new keys, and an honest
 * vector stays far below it (8192 entries with their chains are ~640 KiB, a sixth of a frame).
 * Each entry costs a version-vector lookup and possibly a want range, and a
 * hello comes on every connect and every digest mismatch, so the cap is well
 * below what a 4 MiB frame could carry (~59,000 entries). */
#define MSG_VV_MAX 8192u

/* Points in one points reply ("p"), the answer to a sums request during a
 * reconciliation (daemon/gossip.c): chain values at evenly spaced seqs of the
 * asked range, or at every seq when the range has at most this many.  Each
 * round narrows the range where two logs first differ by this factor, so a
 * log of a million records takes four round trips; a reply stays ~3 KiB. */
#define MSG_SUMS_MAX 64u

/* Bytes of an error's "text" kept by the decoder and sent by the encoder.
 * peer.c formats error texts into 512 bytes.  A longer text is cut (at a
 * UTF-8 character boundary), not refused: the connection is closing anyway
 * and the text is only logged. */
#define MSG_ERROR_TEXT_MAX 512u

/* Bytes of a message type name ("t").  The longest name is "announce" (8),
 * so this leaves room for new types; a longer "t" is refused without being
 * looked up or quoted in the error. */
#define MSG_TYPE_MAX 16u

/* Fields (key/value pairs) in one message map.  The largest message, hello,
 * has 5; unknown keys are skipped for forward compatibility, and 32 leaves
 * room for future fields while keeping the duplicate-key check (each key
 * against every earlier one) trivially cheap. */
#define MSG_FIELDS_MAX 32u

/* Bytes of one field name.  Our names are 1-7 bytes; the bound keeps the
 * duplicate-key check cheap. */
#define MSG_KEY_MAX 64u

/* Nesting allowed inside a field's value, counting the value itself: the
 * deepest known field (vv, r, a: an array of arrays) needs 2; unknown fields
 * may nest up to 8 (as proto_map_find always allowed), which bounds the
 * recursion of skipping them. */
#define MSG_SKIP_DEPTH 8u

/* A want answers one hello or one announce with at most one range per entry,
 * so the want limit must admit what the other two allow. */
_Static_assert(MSG_WANT_RANGES_MAX >= MSG_VV_MAX, "a hello's wants fit one want frame");
_Static_assert(MSG_WANT_RANGES_MAX >= MSG_ANNOUNCE_MAX, "an announce's wants fit one want frame");

/* ---- the node's budgets (daemon/) ----
 *
 * What one connection or one control client may make this node hold or do
 * before it pushes back.  Tuning that bounds nothing (verify chunks, timer
 * periods, backoff) stays next to the code it tunes. */

/* A records frame we send closes at this many records or bytes, whichever
 * comes first (a want's batch, the outbox of records written here): large
 * enough that a batch is one verify job and one LMDB transaction at the
 * receiver, small enough to keep frames far below PROTO_PEER_FRAME_MAX. */
#define NODE_BATCH_RECORDS 1024u
#define NODE_BATCH_BYTES   (256u << 10)

/* Bytes queued for one peer (TLS buffer + socket queue) above which no more
 * wanted ranges are sent, and a record written here is only announced to
 * it: a slow peer is served at its pace and never makes us buffer more. */
#define NODE_PEER_WRITE_HIGH (1u << 20)

/* Undecrypted bytes received from one peer above which its socket is not
 * read (TCP pushes back), and below which reading resumes. */
#define NODE_PEER_RBIO_HIGH (1u << 20)
#define NODE_PEER_RBIO_LOW  (256u << 10)

/* Records collected from one peer for the next batch while the previous one
 * is verified; beyond it the connection is not read. */
#define NODE_INGEST_COLLECT_MAX 4096u

/* Records of one peer set aside because they cannot apply yet (a gap, an
 * author not yet admitted); beyond it they are dropped and fetched again by
 * anti-entropy. */
#define NODE_INGEST_DEFER_MAX 50000u

/* Reply bytes queued for one control client above which its requests are
 * not read, and below which reading resumes: a client that pipelines
 * requests without reading replies cannot make them pile up here. */
#define NODE_CONTROL_WRITE_HIGH (1u << 20)
#define NODE_CONTROL_WRITE_LOW  (256u << 10)

/* Reconciliations (daemon/gossip.c: finding the first seq where this
 * node's log of an author and a peer's differ) in progress with one peer;
 * one per author at a time, and a hello's further differing authors wait
 * for the next hello.  Each costs a small struct and one sums request in
 * flight. */
#define NODE_RECON_MAX 32u

/* A reconciliation waiting for an answer (points, or the fork evidence for
 * the seq found) is asked again after this long, at most NODE_RECON_TRIES
 * times at one seq; after that it is dropped and the next hello starts it
 * afresh (the peer may have refused the record we sent). */
#define NODE_RECON_RETRY_MS 1000u
#define NODE_RECON_TRIES 8u

/* Pipelined puts group-committed in one transaction. */
#define NODE_CONTROL_PUT_BATCH 1024u

#endif
