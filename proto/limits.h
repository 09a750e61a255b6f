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

/* Records of a batch from a peer from which its signatures are checked on
 * several pool threads (daemon/ingest.c), not one.  Below it a batch is one
 * job: records trickling in while in sync, or at a saturated receiver, come
 * in batches of a few to a few hundred, and more runnable threads per
 * receiver only take CPU from the writer (PERFORMANCE §14; §36: cutting
 * batches of 64-255 into jobs of 32 took a 22-node sustained run from 710
 * to 403 records/s).  An import's chunks of 250 rows stay under it
 * (cli/import.c says why). */
#define NODE_VERIFY_SPLIT_MIN 256u

/* Bytes queued for one peer (TLS buffer + socket queue) above which no more
 * wanted ranges are sent, and a record written here is only announced to
 * it: a slow peer is served at its pace and never makes us buffer more. */
#define NODE_PEER_WRITE_HIGH (1u << 20)

/* Bytes queued for one peer at which it is closed (MSG_ERR_LIMIT).  Above
 * NODE_PEER_WRITE_HIGH its frames are not handled (so its requests make no
 * more answers) and wants are not served, so what can still be queued is
 * one batch, one frame's answers and records pushed or announced to it
 * meanwhile: 16 MiB is far above that, and a peer that never reads reaches
 * it only by never reading. */
#define NODE_PEER_WRITE_MAX (16u << 20)

/* Undecrypted bytes received from one peer above which its socket is not
 * read (TCP pushes back), and below which reading resumes. */
#define NODE_PEER_RBIO_HIGH (1u << 20)
#define NODE_PEER_RBIO_LOW  (256u << 10)

/* Records collected from one peer for the next batch while the previous one
 * is verified; beyond it the connection is not read. */
#define NODE_INGEST_COLLECT_MAX 4096u

/* Bytes of records collected from one peer for the next batch (see
 * NODE_INGEST_COLLECT_MAX): a batch is started, or reading paused, once they
 * are reached, so that records of 60 KB do not make 4096 of them (256 MB)
 * wait in memory before any check.  Eight honest records frames
 * (NODE_BATCH_BYTES each) fit, so honest batches stay as large as before. */
#define NODE_INGEST_COLLECT_BYTES (2u << 20)

/* Records of one peer set aside because they cannot apply yet (a gap, an
 * author not yet admitted); beyond it they are dropped and fetched again by
 * anti-entropy.  Set aside records are not verified yet, so the bytes are
 * bounded too, per connection and over all connections: 4 MiB holds the
 * ~13,000 small records an honest initial sync may set aside at once, while
 * a peer sending 64 KiB records held by nobody valid pins at most 64 of them. */
#define NODE_INGEST_DEFER_MAX 50000u
#define NODE_INGEST_DEFER_BYTES (4u << 20)
#define NODE_INGEST_DEFER_TOTAL_BYTES (32u << 20)

/* Only a record close to its author's next expected seq (vv + 1 ..
 * vv + NODE_INGEST_DEFER_WINDOW) is set aside after a gap: what lies further
 * ahead cannot apply before all the records in between arrived, and those are
 * asked for in order, a batch (NODE_BATCH_RECORDS) at a time, so four batches
 * cover what an honest sender can have pushed ahead of a range in flight. */
#define NODE_INGEST_DEFER_WINDOW (4u * NODE_BATCH_RECORDS)

/* Records of authors who are not members (yet) set aside per connection:
 * they apply only once a record admitting the author arrives, usually in the
 * same batch; the rest are fetched again once the author is admitted.  Kept
 * small because anyone can claim to be a new author. */
#define NODE_INGEST_DEFER_UNKNOWN_MAX 256u
#define NODE_INGEST_DEFER_UNKNOWN_BYTES (1u << 20)

/* A record more than this beyond its author's next expected seq is no
 * honest gap: every sender holds a dense log and an author writing a record
 * a second would need 136 years to reach it.  Its sender is closed
 * (MSG_ERR_LIMIT). */
#define NODE_INGEST_SEQ_JUMP_MAX (1ull << 32)

/* Authors (runs of consecutive entries of one author) in one want or
 * announce frame.  An honest want lists one range per entry of a hello or
 * an announce, and an honest announce lists an applied batch in (author,
 * seq) order, so either holds at most one run per author of the alliance:
 * MSG_VV_MAX.  A frame with more runs is refused (MSG_ERR_LIMIT) before any
 * of it is looked up, so one frame costs at most MSG_VV_MAX store lookups. */
#define NODE_FRAME_AUTHORS_MAX MSG_VV_MAX

/* Authors with a want range owed to one peer.  Ranges are kept merged per
 * author (an author's log is dense: what a peer lacks of it is one range),
 * clipped to what we hold, and only for authors we hold, so this bounds
 * nothing an honest peer reaches: every author of the alliance twice over. */
#define NODE_WANT_AUTHORS_MAX (2u * MSG_VV_MAX)

/* A hello that says the peer holds less of an author than was sent to it
 * on this connection (records it had to drop: ingest's budgets) makes that
 * part owed again, at most once per this many milliseconds per author: an
 * honest peer drops records only under load and asks again once, while a
 * peer repeating hello and want would otherwise be sent the log again and
 * again at line rate. */
#define NODE_WANT_RESEND_MS 10000u

/* Entries of the in-flight table (wants sent, per author, gossip.c): one per
 * author being fetched, pruned of entries older than the in-flight time.
 * Announces of authors that are not members are ignored before they reach
 * it, so every author of the alliance twice over is ample; when full, a want
 * is still sent, only not remembered. */
#define NODE_INFLIGHT_MAX (2u * MSG_VV_MAX)

/* Reply bytes queued for one control client above which its requests are
 * not read, and below which reading resumes: a client that pipelines
 * requests without reading replies cannot make them pile up here. */
#define NODE_CONTROL_WRITE_HIGH (1u << 20)
#define NODE_CONTROL_WRITE_LOW  (256u << 10)

/* Bytes of one formatted log line (daemon/log.c) before it is escaped;
 * longer lines are cut.  Escaping may make it up to six times longer. */
#define LOG_LINE_MAX 1024u

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

/* Control clients connected at once.  catalogctl opens one connection per
 * call and the web view a few; 64 leaves room for scripts running verbs in
 * parallel, while bounding the descriptors and buffers local clients hold. */
#define NODE_CONTROL_CLIENTS_MAX 64u

/* Of those, watchers (catalogctl watch) at once: each holds its connection
 * for as long as it runs, so without a share of their own a script that
 * starts watchers in a loop would lock every catalogctl verb out. */
#define NODE_CONTROL_WATCHERS_MAX 16u
_Static_assert(NODE_CONTROL_WATCHERS_MAX < NODE_CONTROL_CLIENTS_MAX, "watchers must leave room for verbs");

/* Records in one page of `list`: the default when the request names no
 * limit, and the most a request may ask for.  A page also closes at
 * NODE_CONTROL_PAGE_BYTES (real records are ~600 B, so 1,000 of them are
 * ~600 KiB, below NODE_CONTROL_WRITE_HIGH: one page is one write).
 * catalogctl fetches page after page (the reply's "next" cursor). */
#define NODE_CONTROL_LIST_DEFAULT 1000u
#define NODE_CONTROL_LIST_MAX     10000u

/* Records or entries in one answer of the other verbs that walk a table
 * (history of one key, forks, members, vv): honest answers are far smaller
 * (a key rewritten 10,000 times, 10,000 members), and the bound keeps one
 * reply from growing with whatever a peer managed to store.  An answer cut
 * here says so ("truncated": true). */
#define NODE_CONTROL_REPLY_MAX 10000u

/* csearch requests held while the search index is built on the thread pool
 * (the first search after a start, a rebuild: seconds at 100,000
 * certifications; daemon/indexer.c), answered when it is built.  A held
 * client is read for nothing else meanwhile, so these are clients, at most
 * NODE_CONTROL_CLIENTS_MAX; past the bound the request is refused at once
 * with an error that says to try again. */
#define NODE_CONTROL_PARKED_MAX 32u

/* Records one connection may send that claim a former member's seqs
 * beyond its cut and verify under no key this node has for them (store.h
 * store_alt_keys.fail_res): an honest relay may hold a few, signed after a
 * rotation beyond the cut that this node never takes, and is not closed
 * for them; past this many the sender is closed as for a bad signature,
 * else any peer could make this node check forged signatures for nothing.
 * Twice what a store keeps of one former member (STORE_FORMER_APART_SEQS
 * seqs of STORE_APART_SEQ_VERSIONS versions). */
#define NODE_FORMER_UNVERIFIED_MAX 256u
_Static_assert(NODE_CONTROL_PARKED_MAX <= NODE_CONTROL_CLIENTS_MAX, "a parked csearch holds a client");

/* Bytes of records in one control answer (a page of `list`, a history, the
 * forks): a page closes at NODE_CONTROL_LIST_* records or at this many
 * bytes, whichever comes first, so that 1,000 records of 60 KB make several
 * pages rather than one answer over PROTO_CTL_FRAME_MAX. */
#define NODE_CONTROL_PAGE_BYTES (4u << 20)
_Static_assert(NODE_CONTROL_PAGE_BYTES + (64u << 10) + 4096u < PROTO_CTL_FRAME_MAX,
               "a page and its last record fit a control frame");

/* Pages of one csearch that catalogctl fetches for one command (a list, a
 * search, an export), and times it starts again when the catalog changed
 * between two pages (the reply's generation).  catalogctl holds every page
 * until it prints (the groups of products span pages), so this bounds its
 * memory to ~1 GiB: 256 pages of NODE_CONTROL_PAGE_BYTES are ~250,000
 * certifications of 4 KB, 25 times the largest catalog expected (10,000).
 * Past either bound the command fails with a message, never prints a
 * shorter list. */
#define NODE_CONTROL_SEARCH_PAGES_MAX    256u
#define NODE_CONTROL_SEARCH_RESTARTS_MAX 3u

/* ---- the broadcast tree (daemon/tree.c) ---- */

/* Lazy links a batch of announces goes to.  Each node receives about this
 * many announces per record on top of the record (~111 bytes each against
 * a ~700-byte record): 2 keeps a node at ~1.4 x the record's bytes, and a
 * node the tree missed still hears of it from ~2 of its neighbours (the
 * anti-entropy probe catches the rest). */
#define NODE_TREE_LAZY_PEERS 2u
/* Entries in the lazy batch (flushed early when full) and announced
 * records waiting for the tree before a graft (beyond: wanted at once). */
#define NODE_TREE_LAZY_MAX 4096u
#define NODE_TREE_WAITS_MAX 1024u
/* Records pushed to us remembered (author hash, seq) to notice a second
 * push of one still being verified: a lookup is a pass over them, per
 * pushed record (small frames: a relay, an outbox). */
#define NODE_TREE_SEEN 256u

/* With a fanout, inbound connections of members past the handshake are
 * bounded at this many per fanout (max_inbound_peers overrides it), so
 * that no member (the founder, a popular sponsor) becomes a hub; a dialer
 * refused with MSG_ERR_FULL dials its next-ranked member instead and tries
 * the refused one again after NODE_PEER_FULL_RETRY_MS. */
#define NODE_PEER_INBOUND_PER_FANOUT 4u
#define NODE_PEER_FULL_RETRY_MS 60000u
/* Members over the bound (newcomers let in while they had no alliance)
 * are shed once connected this long and owed nothing. */
#define NODE_PEER_SHED_AFTER_MS 5000u

/* A differing digest is answered, this long later at the earliest (the
 * next tick), with our digest again (digest again: 1), not with a hello:
 * while records spread, digests differ for a moment and a hello carries the
 * whole version vector (~130 KB at 1,788 members). */
#define NODE_DIGEST_SETTLE_MS 500u

/* ---- connections (daemon/peer.c) ---- */

/* Inbound peer connections held at once, in any state.  An alliance has at
 * most ~1,800 members, each connecting once (twice for a moment, until the
 * duplicate is closed), so 2048 refuses no honest alliance while bounding
 * the descriptors and TLS state strangers can make us hold.  Lowered at
 * start to fit RLIMIT_NOFILE (see NODE_FD_RESERVE); `max_connections`. */
#define NODE_PEER_INBOUND_MAX 2048u

/* Inbound connections from one IP address that have not completed the
 * handshake yet (established members do not count: several municipalities
 * may share a prefecture's NAT gateway).  A member connects once, so 16
 * leaves room for a few members reconnecting at once behind one address,
 * and one host cannot take the whole inbound budget with handshakes it
 * never finishes; `max_connections_per_address`. */
#define NODE_PEER_PER_ADDR_MAX 16u

/* Descriptors kept out of the peers' budget: stdio, LMDB (data and lock
 * files), the listener, the control socket and its clients
 * (NODE_CONTROL_CLIENTS_MAX), libuv's own (epoll, signal pipe, async),
 * syslog.  The rest of RLIMIT_NOFILE is split evenly between inbound
 * connections and our own dials (every member may be dialed while it dials
 * us). */
#define NODE_FD_RESERVE 128u

/* Milliseconds from accept (or from the dial) to a completed TLS handshake.
 * A real handshake takes a few round trips, well under a second even across
 * Japan; 10 s tolerates a congested link, while a connection that sends half
 * a ClientHello, or a byte a second, is closed instead of held forever;
 * `handshake_timeout_ms`. */
#define NODE_PEER_HANDSHAKE_MS 10000u

/* Milliseconds an established peer may send nothing at all before it is
 * closed, and pings: a peer that has sent nothing for a quarter of this is
 * pinged (its pong, or its own ping, is traffic), so a live peer sends
 * something at least every NODE_PEER_IDLE_MS / NODE_PEER_IDLE_PINGS and is
 * closed only after missing that many answers in a row.  Digests
 * (gossip_tick) go to one random peer per sync interval, so they cannot
 * keep every peer alive on their own; `idle_timeout_ms`. */
#define NODE_PEER_IDLE_MS    60000u
#define NODE_PEER_IDLE_PINGS 4u

/* Milliseconds a closing connection may take to flush its last bytes (an
 * error frame, close_notify) before it is closed without them: a peer that
 * stops reading must not hold a descriptor forever. */
#define NODE_PEER_CLOSING_MS 2000u
/* A node that left or was expelled keeps its open connections this long
 * (the others close them once they apply its departure, and its own leave
 * record must reach them first), then closes what is left. */
#define NODE_DEPART_GRACE_MS 5000u

/* Refused connections are logged once per address per this many
 * milliseconds (the count of the others is in the next line), so an
 * attacker's thousands of connections make a few log lines, not thousands;
 * the table remembers NODE_REFUSE_LOG_SLOTS addresses. */
#define NODE_REFUSE_LOG_MS    60000u
#define NODE_REFUSE_LOG_SLOTS 64u

/* Milliseconds between SIGTERM (or SIGINT) and closing whatever is still
 * open without waiting for it: a peer that does not take its close_notify,
 * a write that does not drain.  Below 2 s so that a supervisor's stop
 * (usually 5-10 s before SIGKILL) always sees a clean exit. */
#define NODE_STOP_GRACE_MS 1500u

/* ---- the web view (daemon/web*.c) ----
 *
 * Browsers on the municipality's network are as untrusted as peers: every
 * request is bounded before any page code runs. */

/* Open web connections at once; one more is closed on accept.  Staff
 * browsers keep a few connections each; a department is dozens. */
#define NODE_WEB_CONN_MAX 256u
/* Of them, from one IPv4 address or IPv6 /64: a browser opens at most six
 * per host; a whole office behind one NAT address gets a fair share, and
 * one client holding idle connections cannot lock everyone else out. */
#define NODE_WEB_CONN_PER_ADDR 64u
/* Bytes of a request's target (path and query).  A search form with every
 * field filled is well under 4 KiB; libh2o itself refuses request heads
 * over 8 KiB (H2O_MAX_REQLEN). */
#define NODE_WEB_TARGET_MAX 4096u
/* Query parameters of one request (the search form has about 20, with one
 * per checked 分野). */
#define NODE_WEB_PARAMS_MAX 64u
/* Bytes of a request body.  The view is read-only (GET and HEAD): no page
 * reads a body, and libh2o's own default (1 GB, buffered in a file under
 * /tmp before the handler runs, whoever signs in) let one address fill
 * NODE_WEB_CONN_PER_ADDR GB of disk.  Over this: 413 and the connection
 * closed, without waiting for the rest. */
#define NODE_WEB_REQ_BODY_MAX 0u
/* A request's head must arrive within this long, and a kept-alive
 * connection idle this long is closed (libh2o's http1 request timeout). */
#define NODE_WEB_REQ_TIMEOUT_MS 10000u
/* A response that makes no progress this long (the client reads none of
 * it) is cut off.  libh2o 2.2 has no send timeout: a client that asks for
 * an export and never reads held its connection slot and the response's
 * copy for ever, and four addresses could take every slot.  A live client
 * on a slow link keeps taking bytes; checked every quarter of it. */
#define NODE_WEB_SEND_STALL_MS 10000u
/* Bytes of responses handed to libh2o and not yet sent, in all.  A client
 * that reads a byte a second is making progress, and an export is up to
 * tens of MB: without a bound, 256 such connections held 256 exports in
 * memory.  Two of the largest page fit; past it a request gets 503 for a
 * moment (honest exports finish in seconds and free their share). */
#define NODE_WEB_INFLIGHT_MAX (2u * NODE_WEB_BODY_MAX)
/* ...and per source (an IPv4 address, an IPv6 /64, or behind the trusted
 * proxy a signed-in user): one client reading slowly on 17 connections held
 * the whole budget and every other export got 503 for hours.  A source
 * holding nothing may have one answer above it (up to NODE_WEB_BODY_MAX:
 * a whole catalog's export). */
#define NODE_WEB_INFLIGHT_SOURCE_MAX (NODE_WEB_INFLIGHT_MAX / 4u)
/* An answer this small is sent whatever the budget (error pages, /healthz):
 * NODE_WEB_CONN_MAX of them are a few MB. */
#define NODE_WEB_INFLIGHT_SMALL (16u << 10)
/* Products on one page of search results, and the most a request may ask. */
#define NODE_WEB_PAGE_PRODUCTS 20u
#define NODE_WEB_PAGE_PRODUCTS_MAX 100u
/* The highest page number a search accepts: 2,000,000 products at 20 a
 * page, far beyond any catalog, and (page - 1) * 20 never overflows. */
#define NODE_WEB_PAGE_MAX 100000u
/* Rows (certifications plus adoptions) of one /export.csv or /export.xlsx.
 * The file is built on the thread pool (XLSX through a temporary file): at
 * ~1 KB a row this stays a few MB and well under a second; a bigger
 * export is refused with a hint to narrow it or use catalogctl export. */
#define NODE_WEB_EXPORT_MAX 10000u
/* Exports being built at once (daemon/web_export.c).  libuv's pool has
 * four threads, which also verify peers' signatures and write backups:
 * three exports leave them one, and hold at most three bodies of
 * NODE_WEB_BODY_MAX in the making besides what NODE_WEB_INFLIGHT_MAX
 * holds.  Past it 503.  Past NODE_WEB_EXPORT_JOBS_SOURCE_MAX of one
 * source's (an address, an IPv6 /64, or behind the trusted proxy a user,
 * as the response budgets count) 429, so that one client asking again and
 * again cannot take them all; two, since a browser may fetch the CSV and
 * the XLSX at once, and an office behind one NAT address is one source. */
#define NODE_WEB_EXPORT_JOBS_MAX 3u
#define NODE_WEB_EXPORT_JOBS_SOURCE_MAX 2u
/* Requests for pages that search (the search, its exports, a product, its
 * evidence, the members) held while the search index is built on the
 * thread pool (daemon/indexer.c), and answered when it is built.  Each
 * holds one connection (of NODE_WEB_CONN_MAX) and a few hundred bytes; past
 * the bound 503 with Retry-After.  A held client that goes away is seen
 * every NODE_WEB_PARKED_CHECK_MS (libh2o reads nothing of a connection
 * whose request is being served) and its request let go of at once. */
#define NODE_WEB_PARKED_MAX 128u
#define NODE_WEB_PARKED_CHECK_MS 100u
_Static_assert(NODE_WEB_PARKED_MAX <= NODE_WEB_CONN_MAX, "a parked request holds a connection");
/* 新着: days back at most (ten years), and rows on the page at most.  The
 * page walks each member's log back from its newest record, reading at
 * most NODE_WEB_NEW_SCAN_MAX records in all, so a member that imported
 * 100,000 certifications yesterday costs a bounded read, not the whole log. */
#define NODE_WEB_NEW_DAYS_MAX 3650u
#define NODE_WEB_NEW_ROWS 200u
#define NODE_WEB_NEW_SCAN_MAX 20000u
/* Certifications, and adoptions, shown per product on a page of search
 * results (20 products): a product certified by every member of a large
 * alliance stays whole; one that some member signed thousands of times
 * shows the first ones and says how many more its own page has. */
#define NODE_WEB_SEARCH_ROWS 50u
/* A page body (HTML, CSV, XLSX) is built whole before it is sent; a bigger
 * one is refused with an error page (an export of the whole catalog goes
 * through catalogctl export). */
#define NODE_WEB_BODY_MAX (64u << 20)
/* Certifications and adoptions of one product read for its page or its
 * evidence sheet (one read each on the loop).  A product has one
 * certification per member and a few adoptions per member and year: an
 * alliance of dozens of members stays far below; past it the page shows
 * the first ones and says how many it left out. */
#define NODE_WEB_PRODUCT_RECORDS_MAX 2000u
/* Versions of one record shown on its 履歴 page (each edit or status
 * change is one; a record edited daily for years stays below). */
#define NODE_WEB_HISTORY_MAX 2000u

/* ---- the web view's access control (daemon/web_auth.c) ---- */
/* Bytes of a web user's name (users file, Basic credentials, the proxy's
 * X-Remote-User): an e-mail address or a staff number fits. */
#define NODE_WEB_USER_MAX 64u
/* Bytes of a password in Basic credentials; longer is refused unhashed
 * (a pass phrase is well under it; yescrypt hashes any length). */
#define NODE_WEB_PASSWORD_MAX 256u
/* Bytes of a crypt(3) hash in the users file (yescrypt is ~73, SHA-512 ~106). */
#define NODE_WEB_HASH_MAX 200u
/* Users in the users file, and the file's size: it is read whole on the
 * loop when it changes; a municipality's web users are dozens. */
#define NODE_WEB_USERS_MAX 2000u
#define NODE_WEB_USERS_FILE_MAX (512u << 10)
/* The users file is looked at (stat) at most this often, so that users
 * added or removed apply without a restart. */
#define NODE_WEB_USERS_STAT_MS 1000u
/* Credentials that verified are remembered (user, keyed SHA-256 of the
 * password) this long, in this many slots: a browser sends them with every
 * request, and yescrypt costs tens of milliseconds on the loop. */
#define NODE_WEB_AUTH_CACHE_SLOTS 256u
#define NODE_WEB_AUTH_CACHE_MS (5u * 60u * 1000u)
/* Failed sign-ins per client address: after NODE_WEB_AUTH_FAIL_MAX in a
 * window, the address gets 429 (no hash computed) for the rest of it.
 * The table keeps this many addresses (the oldest window is reused). */
#define NODE_WEB_AUTH_FAIL_MAX 5u
#define NODE_WEB_AUTH_FAIL_WINDOW_MS 60000u
#define NODE_WEB_AUTH_FAIL_SLOTS 1024u
/* Password hashes computed per second, whoever asks: many addresses
 * guessing at once must not take the loop from everything else (the rest
 * get 503 until the next second). */
#define NODE_WEB_AUTH_CRYPTS_PER_S 10u
/* Refusals of one address (429, 403) are logged at most once per this
 * long, with the count of those not logged. */
#define NODE_WEB_AUTH_LOG_MS 60000u

/* The metrics text (daemon/metrics.c): a few hundred bytes per member, so
 * 8 MiB holds any alliance many times over; one control reply carries it,
 * so it stays below a control frame. */
#define NODE_METRICS_BODY_MAX (8u << 20)
_Static_assert(NODE_METRICS_BODY_MAX + 4096u < PROTO_CTL_FRAME_MAX && NODE_METRICS_BODY_MAX <= NODE_WEB_BODY_MAX,
               "the metrics text fits one control reply and one web body");

/* The largest certificate file `catalogctl member add` and `member rekey`
 * read (a certificate is 1-2 KiB; the record that carries it must fit
 * PROTO_RECORD_MAX anyway): a larger file is refused, never cut short. */
#define CLI_CERT_FILE_MAX 65536u

#endif
