#!/usr/bin/env python3
"""bench/sim.py — a discrete-event model of catalogd's gossip (issue 14).

What one new record costs and how fast it spreads, for alliances too large
to run on one machine.  The model follows daemon/gossip.c, daemon/ingest.c
and daemon/peer.c as built, not an idealised gossip:

* Connections (peer.c): every member ranks the others by SHA-256(own id ||
  their id) and dials the `fanout` lowest it knows (peer_targets_changed);
  it accepts every inbound connection; one connection per pair.  The graph
  is grown the way an alliance grows (build_graph): members join one by one
  through the first, and outbound connections that are no longer targets
  are closed only while a node has more than `fanout` of them, so stale
  ones stay.  Ids are random 32-byte strings drawn from the seed, or the
  bench's daemons' own; the bench can also pass the connections it read
  from its daemons.
* The broadcast tree (daemon/tree.c; `tree` = 1, the default, with a
  fanout; `--flood` or tree = 0 models the protocol before it, described in
  the next three points): every link starts eager; a new record goes whole
  (records, push: 1) to the eager links but the one it came on, and 50 ms
  later (lazy_ms) an announce goes to `lazy_peers` (2) lazy links drawn at
  random; a pushed copy of a record held already makes the receiver prune
  the link (want push: 0, both ends lazy); an announce of a record not held
  waits graft_ms (250 ms) and then wants it with push: 1, making the link
  eager both ways.  The eager links persist from trial to trial, as the
  daemons' do from record to record; run() spreads one record first (not
  counted: it floods every link and prunes them to a tree) and reports it
  as first_bytes_ratio.  A differing digest is answered settle_ms later
  with the receiver's own digest (again: 1) and only that, if it still
  differs, with a hello.  Connections: build_graph with the inbound bound
  (4 x fanout) and stale outbound connections closed once every target is
  reached.
* Before the tree: the author pushes the record whole (a records frame) to every peer
  (gossip_push_local, outbox_flush), one send after the other.
* A node receiving a records frame drops it if it holds the record
  (precheck, no signature check); otherwise it verifies it on the loop
  thread (a batch of <= 4 records is verified inline), applies it in one
  LMDB write transaction (one fdatasync) and, with a fanout, announces it
  to every other established peer except the one it came from
  (gossip_relay, announce_all).
* A node receiving an announce for a record it lacks sends a want to the
  announcer, unless a want for that author went out less than 3 s ago
  (the in-flight table, INFLIGHT_MS); the announcer answers with the
  record, once per connection (owed ranges).  A node that holds the record
  ignores the announce.
* Anti-entropy (gossip_tick, on_digest, on_hello): every node sends a
  digest to one random peer every `sync_interval_ms` (2,000 ms, the
  default and the bench's), at a phase of its own.  A digest that differs
  from the receiver's is answered with a hello carrying the whole version
  vector (one entry per author); a hello whose digest differs is answered
  with a hello, at most once per 500 ms per connection; a hello naming a
  seq the receiver lacks makes it want the record.  While a record is
  spreading, probes that cross between a node that holds it and one that
  does not cost two hellos, so these are counted.  The digests themselves
  are sent whether or not a record is spreading: they are idle cost, not
  counted against the record (the bench subtracts an idle window too).

Message sizes are those of proto/msg.c's encoders (msgpack, a 4-byte
length) plus TLS 1.3's 22 bytes per record of <= 16 KiB (5-byte header,
content type, 16-byte tag): what `bytes_in`/`bytes_out` count.  TCP/IP
headers are not counted, as the daemon does not count them.

CPU (µs, the bench passes its own measurements):
  verify_us   one Ed25519 verification (1e6 / verify_rate_1core)
  apply_us    precheck + one LMDB write transaction + the log line (CPU)
  fsync_us    the transaction's fdatasync (wall time; the loop waits, the
              CPU is free: measured by the bench on its own data directory).
              On one machine the nodes share one disk, whose flushes do not
              overlap (100 fdatasyncs issued at once on this machine's disk
              take ~13 ms, 0.13 ms each): `disks` = 1 queues them, first
              come first served; `disks` = 0 gives every node its own
  msg_us      per frame sent or received (TLS, framing, decode, syscalls,
              the wake-up); derived by calibrate() from the CPU all
              daemons spent per record in the bench's 100-node run
  vv_entry_us per version-vector entry of a hello built or read (assumed)
Every node is one libuv loop: its work is serial.  `cores` = C models C
cores shared by all nodes (the bench: 100 daemons on 2 cores): a node needs
a core to run, and the machine runs at most C at once, first come first
served; `cores` = 0 gives every node its own machine (the WAN).

Latency: loopback 0.05 ms one way, jitter 0.005 ms + 2 %, 20 Gbit/s.  WAN (`--wan`): every member is placed
in its prefecture (47 prefectures, as many nodes per prefecture as its
municipalities plus one for the prefecture itself: 1,788 in all; for other
sizes proportionally) around the prefectural capital, and a message takes
    access(a) + access(b) + route km × 1.5 / 200 km/ms + jitter
one way.  access: 0.5–2.5 ms per end (FTTH, a municipal gateway or a data
centre).  Route: within a prefecture direct (prefectural networks and
regional ISPs exchange locally); otherwise through the exchange of each
end's region, Tokyo (Hokkaido, Tohoku, Kanto, Koshinetsu, Shizuoka) or
Osaka (the rest), since Japanese inter-ISP traffic mostly meets at the
Tokyo and Osaka IXs.  Fibre carries light at ~200 km/ms and runs ~1.5
times the great-circle distance.  Jitter: exponential, mean 0.1 ms + 2 %
of the base, and messages on one connection stay in order (TCP).  This
gives 2–5 ms one way inside a prefecture, ~6 ms Tokyo–Osaka, ~20 ms
Sapporo–Naha: the round trips of Japanese networks (10–15 ms
Tokyo–Osaka, 40–50 ms Hokkaido–Okinawa).  Each node's uplink is
100 Mbit/s (frames queue behind each other).

Time to reach all is read as the bench reads it: when the last node logs
"applied" (node_applied logs after its relay).  Not modelled: loss and
reconnection, TCP slow start, a sleeping process's wake-up latency, fork
reconciliation, records in batches (one record per trial).

Run alone:  python3 bench/sim.py --nodes 1788 --fanout 8 --wan
"""
import argparse
import base64
import collections
import hashlib
import heapq
import math
import random
import statistics
import sys

# ---- message sizes (proto/msg.c's encoders) ----

TLS_RECORD_MAX = 16384
TLS_OVERHEAD = 22


def mp_uint(v):
    return 1 if v < 128 else 2 if v < 256 else 3 if v < 65536 else 5 if v < 2 ** 32 else 9


def mp_str(n):
    return n + (1 if n < 32 else 2 if n < 256 else 3)


def mp_bin(n):
    return n + (2 if n < 256 else 3 if n < 65536 else 5)


def mp_arr(n):
    return 1 if n < 16 else 3 if n < 65536 else 5


def tls(frame):
    return frame + TLS_OVERHEAD * max(1, math.ceil(frame / TLS_RECORD_MAX))


def head(t, fields):
    """4-byte length, {t: type, ...}: map header, "t", the type's name."""
    return 4 + mp_arr(fields + 1) + mp_str(1) + mp_str(len(t))


ID = mp_bin(32)


def size_records(rec_bytes):
    return tls(head("records", 1) + mp_str(4) + mp_arr(1) + mp_bin(rec_bytes))


def size_announce(seq):
    return tls(head("announce", 1) + mp_str(1) + mp_arr(1) + mp_arr(3) + ID + mp_uint(seq) + ID)


def size_want(seq):
    return tls(head("want", 1) + mp_str(1) + mp_arr(1) + mp_arr(3) + ID + mp_uint(seq) + mp_uint(seq))


def size_digest():
    return tls(head("digest", 1) + mp_str(1) + ID)


def size_digest_again():
    """The answer to a differing digest, a while later: digest + again: 1."""
    return tls(head("digest", 2) + mp_str(1) + ID + mp_str(5) + mp_uint(1))


def size_records_push(rec_bytes):
    """A records frame pushed along the broadcast tree: + push: 1."""
    return tls(head("records", 2) + mp_str(4) + mp_uint(1) + mp_str(4) + mp_arr(1) + mp_bin(rec_bytes))


def size_prune():
    """want {r: [], push: 0}: make this link lazy."""
    return tls(head("want", 2) + mp_str(1) + mp_arr(0) + mp_str(4) + mp_uint(0))


def size_graft(seq):
    """want {r: [[author, seq, seq]], push: 1}: send it and make this link eager."""
    return size_want(seq) + mp_str(4) + mp_uint(1)


def size_hello(authors, seq):
    body = head("hello", 4) + mp_str(1) + mp_uint(2) + mp_str(7) + ID + mp_str(6) + ID + mp_str(2)
    return tls(body + mp_arr(authors) + authors * (mp_arr(3) + ID + mp_uint(seq) + ID))


# ---- the connection graph (daemon/peer.c) ----

def node_ids(n, rng):
    return [bytes(rng.getrandbits(8) for _ in range(32)) for _ in range(n)]


def parse_member_id(s):
    """A member id as catalogctl prints it (base32 in groups of 4, proto/util.c) -> 32 bytes."""
    raw = s.replace("-", "").replace(" ", "").upper()
    return base64.b32decode(raw + "=" * (-len(raw) % 8))


INBOUND_PER_FANOUT = 4   # NODE_PEER_INBOUND_PER_FANOUT


def build_graph(ids, fanout, rank=None, bound=0, close_reached=False):
    """Adjacency lists of the connections an alliance ends with when its
    members joined in the order of `ids`, each through the first (the
    founder, as the bench and most alliances do), following daemon/peer.c:

    * a member dials the `fanout` others of lowest rank SHA-256(own id ||
      their id) among the members it knows (peer_targets_changed) and
      accepts every inbound connection; it dials no one it is connected to
      already, in either direction (connected_to);
    * a newcomer first dials its sponsor, then its targets once it holds
      the member list; the members already there learn of it when it is
      admitted and dial it if it ranks among their targets, as soon as it
      listens (their dials retry from 250 ms), so before its own dials,
      which wait for its initial sync;
    * outbound connections to members no longer among the targets (the
      sponsor, a target displaced by a newcomer) are closed, newest first
      (the peer list is newest first), only while the node has more than
      `fanout` outbound connections (on_tick): a target reached through an
      inbound connection leaves a stale outbound one open, so nearly every
      node keeps exactly `fanout` outbound connections;
    * close_reached (the daemons since the broadcast tree): stale outbound
      connections are also closed once every target is connected, in
      either direction, so the sponsor's connection does not stay open;
    * bound > 0 (max_inbound_peers): a member with `bound` inbound
      connections refuses a dial from a member it does not dial itself
      (MSG_ERR_FULL), and the dialer takes its next-ranked member; a
      newcomer's dial to its sponsor is never refused (it has no alliance
      yet).
    fanout 0 = everyone (a full mesh).  rank(i, j): the order, for tests."""
    n = len(ids)
    if fanout == 0 or fanout >= n - 1:
        return [[j for j in range(n) if j != i] for i in range(n)]
    if rank is None:
        def rank(i, j):
            return hashlib.sha256(ids[i] + ids[j]).digest()
    wanted = [[] for _ in range(n)]     # (rank, member), lowest first, at most fanout
    out = [[] for _ in range(n)]        # members i dialled, oldest first
    inbound = [0] * n
    full = [set() for _ in range(n)]    # members that refused i as full
    conn = {}                           # (low, high) -> initiator

    def key(i, j):
        return (i, j) if i < j else (j, i)

    def dial(i, j, sponsor=False):
        """1 connected, 0 connected already, -1 refused as full."""
        if key(i, j) in conn:
            return 0
        if bound and not sponsor and inbound[j] >= bound and i not in {m for _, m in wanted[j]}:
            full[i].add(j)
            return -1
        conn[key(i, j)] = i
        out[i].append(j)
        inbound[j] += 1
        return 1

    def close(i, j):
        out[i].remove(j)
        del conn[key(i, j)]
        inbound[j] -= 1

    def choose(i, known):
        return sorted((rank(i, j), j) for j in known if j != i and j not in full[i])[:fanout]

    def trim(work):
        while work:
            i = work.pop()
            want = {m for _, m in wanted[i]}
            reached = close_reached and want and all(key(i, m) in conn for m in want)
            while len(out[i]) > fanout or reached:
                stale = next((j for j in reversed(out[i]) if j not in want), None)
                if stale is None:
                    break
                close(i, stale)
                # the other end dials back if it wanted this connection
                if i in {m for _, m in wanted[stale]} and dial(stale, i) == 1:
                    work.append(stale)

    def dial_targets(k, known):
        # refused members drop out of the targets: the next-ranked take their place
        while True:
            wanted[k] = choose(k, known)
            if all(dial(k, j) >= 0 for _, j in wanted[k]):
                return

    for k in range(n):
        work = []
        wanted[k] = []
        if k:
            dial(k, 0, sponsor=True)
        for i in range(k):
            w = wanted[i]
            r = rank(i, k)
            if len(w) < fanout or r < w[-1][0]:
                w.append((r, k))
                w.sort()
                del w[fanout:]
                if dial(i, k) == 1:
                    work.append(i)
        dial_targets(k, range(k))
        work.append(k)
        trim(work)
    adj = [[] for _ in range(n)]
    for a, b in conn:
        adj[a].append(b)
        adj[b].append(a)
    return [sorted(a) for a in adj]


def fanout_targets(ids, fanout):
    """Each member's `fanout` lowest-ranked others, once all are known: the
    connections every node keeps whatever the history (the rest of its
    connections are stale outbound ones and others' choices)."""
    n = len(ids)
    return [sorted(heapq.nsmallest(fanout, (j for j in range(n) if j != i),
                                   key=lambda j: hashlib.sha256(ids[i] + ids[j]).digest())) for i in range(n)]


def bfs(adj, src):
    dist = [-1] * len(adj)
    dist[src] = 0
    q = collections.deque([src])
    while q:
        u = q.popleft()
        for v in adj[u]:
            if dist[v] < 0:
                dist[v] = dist[u] + 1
                q.append(v)
    return dist


# ---- latency ----

# prefecture, capital (lat, lon), municipalities (市区町村, Tokyo's 23 wards
# included), exchange region (T: Tokyo, O: Osaka)
PREFECTURES = [
    ("北海道", 43.06, 141.35, 179, "T"), ("青森", 40.82, 140.74, 40, "T"), ("岩手", 39.70, 141.15, 33, "T"),
    ("宮城", 38.27, 140.87, 35, "T"), ("秋田", 39.72, 140.10, 25, "T"), ("山形", 38.24, 140.36, 35, "T"),
    ("福島", 37.75, 140.47, 59, "T"), ("茨城", 36.34, 140.45, 44, "T"), ("栃木", 36.57, 139.88, 25, "T"),
    ("群馬", 36.39, 139.06, 35, "T"), ("埼玉", 35.86, 139.65, 63, "T"), ("千葉", 35.61, 140.12, 54, "T"),
    ("東京", 35.69, 139.69, 62, "T"), ("神奈川", 35.45, 139.64, 33, "T"), ("新潟", 37.90, 139.02, 30, "T"),
    ("富山", 36.70, 137.21, 15, "O"), ("石川", 36.59, 136.63, 19, "O"), ("福井", 36.07, 136.22, 17, "O"),
    ("山梨", 35.66, 138.57, 27, "T"), ("長野", 36.65, 138.18, 77, "T"), ("岐阜", 35.39, 136.72, 42, "O"),
    ("静岡", 34.98, 138.38, 35, "T"), ("愛知", 35.18, 136.91, 54, "O"), ("三重", 34.73, 136.51, 29, "O"),
    ("滋賀", 35.00, 135.87, 19, "O"), ("京都", 35.02, 135.76, 26, "O"), ("大阪", 34.69, 135.52, 43, "O"),
    ("兵庫", 34.69, 135.18, 41, "O"), ("奈良", 34.69, 135.83, 39, "O"), ("和歌山", 34.23, 135.17, 30, "O"),
    ("鳥取", 35.50, 134.24, 19, "O"), ("島根", 35.47, 133.05, 19, "O"), ("岡山", 34.66, 133.93, 27, "O"),
    ("広島", 34.40, 132.46, 23, "O"), ("山口", 34.19, 131.47, 19, "O"), ("徳島", 34.07, 134.56, 24, "O"),
    ("香川", 34.34, 134.04, 17, "O"), ("愛媛", 33.84, 132.77, 20, "O"), ("高知", 33.56, 133.53, 34, "O"),
    ("福岡", 33.61, 130.42, 60, "O"), ("佐賀", 33.25, 130.30, 20, "O"), ("長崎", 32.74, 129.87, 21, "O"),
    ("熊本", 32.79, 130.74, 45, "O"), ("大分", 33.24, 131.61, 18, "O"), ("宮崎", 31.91, 131.42, 26, "O"),
    ("鹿児島", 31.56, 130.56, 43, "O"), ("沖縄", 26.21, 127.68, 41, "O"),
]
HUBS = {"T": (35.69, 139.69), "O": (34.69, 135.52)}
ALL_LOCAL_GOVERNMENTS = sum(p[3] + 1 for p in PREFECTURES)   # 1,741 municipalities + 47 prefectures


def km(a, b):
    la1, lo1, la2, lo2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 6371 * 2 * math.asin(math.sqrt(h))


def place_nodes(n, rng):
    """(prefecture index, (lat, lon), access ms) per node: prefectures get
    nodes in proportion to their local governments; positions scatter
    around the capital (wider for Hokkaido and Okinawa's islands)."""
    weights = [p[3] + 1 for p in PREFECTURES]
    total = sum(weights)
    counts = [w * n // total for w in weights]
    rest = sorted(range(len(weights)), key=lambda i: -(weights[i] * n / total - counts[i]))
    for i in rest[:n - sum(counts)]:
        counts[i] += 1
    out = []
    for k, c in enumerate(counts):
        _, lat, lon, _, _ = PREFECTURES[k]
        spread = 1.0 if k == 0 else 0.6 if k == 46 else 0.3
        for _ in range(c):
            out.append((k, (lat + rng.gauss(0, spread * 0.7), lon + rng.gauss(0, spread)),
                        rng.uniform(0.5, 2.5)))
    rng.shuffle(out)
    return out


def wan_base_ms(pa, pb):
    (ka, a, acc_a), (kb, b, acc_b) = pa, pb
    if ka == kb:
        route = km(a, b)
    else:
        ha, hb = HUBS[PREFECTURES[ka][4]], HUBS[PREFECTURES[kb][4]]
        route = km(a, ha) + km(ha, hb) + km(hb, b)
    return acc_a + acc_b + route * 1.5 / 200


# ---- the model ----

# The defaults are the costs the bench measured in issue 14's 100-node run
# (docs/SCALING.md), so that running this file alone prints what the bench
# printed then.
DEFAULTS = dict(
    verify_us=117.0,      # 8,576 verifications/s on one core (bench/verify_rate)
    apply_us=40.0,        # precheck, one small LMDB write transaction, the log line: an assumption
    fsync_us=144.0,       # fdatasync of a 4 KiB write in the bench's data directory, median
    msg_us=45.3,          # per frame sent or received: calibrate() on 1,629 us per record per node
    vv_entry_us=0.5,      # per version-vector entry of a hello (an LMDB read of vv and sum): an assumption
    record_bytes=697,     # bench/verify_rate's record
    seq=5,                # the seq in announces and wants (WAN: 1,000, a member some years in)
    vv_authors=None,      # authors in a hello's vector (None: every node)
    sync_interval_ms=2000,
    cores=2,
    disks=1,              # 1: one disk shared by all nodes (loopback), 0: one per node (the WAN)
    loopback_ms=0.05,
    uplink_mbps=100.0,    # WAN uplink per node; loopback: 20,000
    jitter_ms=0.005,      # exponential jitter per message: this mean (WAN: 0.1 ms) ...
    jitter_frac=0.02,     # ... plus this fraction of the link's base latency
    inflight_ms=3000,
    hello_gap_ms=500,
    tree=1,               # the broadcast tree (daemon/tree.c); 0: announce to every peer (before it)
    lazy_peers=2,         # NODE_TREE_LAZY_PEERS
    lazy_ms=50.0,         # NODE_TREE_LAZY_MS
    graft_ms=250.0,       # NODE_TREE_GRAFT_MS
    settle_ms=1000.0,     # a differing digest answered with ours after NODE_DIGEST_SETTLE_MS, at the next tick
    inbound_bound=None,   # None: NODE_PEER_INBOUND_PER_FANOUT x fanout; 0: no bound (build_graph)
)


PROBE_HORIZON_MS = 60000   # a node nobody reaches (a disconnected graph) stops the probes here


class Node:
    __slots__ = ("id", "adj", "applied", "logged", "hop", "got_from", "inflight_at", "sent", "last_hello",
                 "tasks", "steps", "busy", "core", "waiting", "uplink_free", "bytes_in", "hello_bytes",
                 "recs_in", "hellos_in", "msgs", "graft_wait", "recheck")

    def __init__(self, i, adj):
        self.id = i
        self.adj = adj
        self.applied = self.logged = None   # µs: applied (transaction done), logged (after the relay)
        self.hop = self.got_from = None
        self.inflight_at = None             # a want for the author left then (the in-flight table)
        self.sent = set()                   # peers this node sent the record to after a want
        self.last_hello = {}                # peer -> when this node last sent it a hello
        self.tasks = collections.deque()    # frames waiting for the loop
        self.steps = collections.deque()    # ("cpu" | "fsync", µs, action at the end)
        self.busy = self.core = self.waiting = False
        self.uplink_free = 0.0
        self.bytes_in = self.hello_bytes = self.recs_in = self.hellos_in = self.msgs = 0
        self.graft_wait = False             # an announce came: a graft is due unless the tree brings it
        self.recheck = {}                   # peer -> what its differing digest said: ours goes back later


class Model:
    """One alliance: the graph, its links' base latencies and the costs.
    trial(author) spreads one record and returns what it cost."""

    def __init__(self, n, fanout, wan=False, seed=1, adj=None, ids=None, **kw):
        self.p = dict(DEFAULTS)
        self.p.update({k: v for k, v in kw.items() if v is not None})
        if not wan and kw.get("uplink_mbps") is None:
            self.p["uplink_mbps"] = 20000.0
        if wan and kw.get("cores") is None:
            self.p["cores"] = 0
        if wan and kw.get("disks") is None:
            self.p["disks"] = 0
        if wan and kw.get("seq") is None:
            self.p["seq"] = 1000
        if wan and kw.get("jitter_ms") is None:
            self.p["jitter_ms"] = 0.1
        self.n, self.fanout, self.wan = n, fanout, wan
        # the broadcast tree only with a fanout (daemon/tree.c: tree_on)
        self.tree = bool(self.p["tree"]) and fanout > 0 and fanout < n - 1
        rng = random.Random(seed)
        self.rng = rng
        self.ids = node_ids(n, rng)   # drawn even when given, so the rest of the seed's use is the same
        if ids is not None:
            assert len(ids) == n
            self.ids = list(ids)
        bound = self.p["inbound_bound"]
        if bound is None:
            bound = INBOUND_PER_FANOUT * fanout if self.p["tree"] else 0
        self.adj = adj if adj is not None else build_graph(self.ids, fanout, bound=bound,
                                                           close_reached=bool(self.p["tree"]))
        self.base = {}
        places = place_nodes(n, rng) if wan else None
        for i in range(n):
            for j in self.adj[i]:
                if i < j:
                    b = wan_base_ms(places[i], places[j]) if wan else self.p["loopback_ms"]
                    self.base[(i, j)] = self.base[(j, i)] = b * 1000.0
        p = self.p
        authors = p["vv_authors"] if p["vv_authors"] else n
        self.size = {"rec": size_records(p["record_bytes"]), "ann": size_announce(p["seq"]),
                     "want": size_want(p["seq"]), "dig": size_digest(),
                     "hello": size_hello(authors, p["seq"]),
                     "push": size_records_push(p["record_bytes"]), "prune": size_prune(),
                     "graft": size_graft(p["seq"]), "dig2": size_digest_again()}
        # the tree's eager links, (from, to): every link at first; kept from
        # trial to trial, as the daemons keep theirs from record to record
        self.eager = {(i, j) for i in range(n) for j in self.adj[i]} if self.tree else set()
        self.hello_us = p["msg_us"] + authors * p["vv_entry_us"]

    # -- the event loop --

    def _push(self, t, what, *args):
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, what, args))

    def _send(self, t, src, dst, kind, payload=None):
        s = self.nodes[src]
        size = self.size[kind]
        start = max(t, s.uplink_free)
        s.uplink_free = start + size * 8 / self.p["uplink_mbps"]   # µs
        base = self.base[(src, dst)]
        at = s.uplink_free + base
        jitter = self.p["jitter_ms"] * 1000 + self.p["jitter_frac"] * base
        if jitter > 0:
            at += self.jrng.expovariate(1.0 / jitter)
        key = (src, dst)
        at = max(at, self._last.get(key, 0.0))
        self._last[key] = at
        if kind != "dig":
            d = self.nodes[dst]
            d.bytes_in += size
            if kind == "hello":
                d.hello_bytes += size
        self.counts[kind] += 1
        self._push(at, "deliver", dst, (kind, src, payload))

    def _deliver(self, t, x, msg):
        nd = self.nodes[x]
        nd.tasks.append(msg)
        if not nd.busy:
            nd.busy = True
            self._run(t, nd)

    def _release(self, t, nd):
        if not nd.core:
            return
        nd.core = False
        if self._waitq:
            other = self._waitq.popleft()
            other.core = True
            other.waiting = False
            self._push(t, "run", other.id)
        else:
            self._free += 1

    def _run(self, t, nd):
        shared = self.p["cores"] > 0
        while True:
            if not nd.steps and not nd.tasks:
                self._release(t, nd)
                nd.busy = False
                return
            if shared and not nd.core:
                if self._free:
                    self._free -= 1
                    nd.core = True
                else:
                    if not nd.waiting:
                        nd.waiting = True
                        self._waitq.append(nd)
                    return
            if not nd.steps:
                # the decision is taken when the loop gets to the frame
                nd.steps = collections.deque(self._handle(t, nd, nd.tasks.popleft()))
                continue
            kind, dur, action = nd.steps[0]
            if kind == "fsync" and self.p["disks"]:
                # one disk for every node: flushes queue behind each other
                self._release(t, nd)
                self._disk_free = max(t, self._disk_free) + dur
                self._push(self._disk_free, "done", nd.id)
                return
            if kind == "fsync":
                self._release(t, nd)
            elif kind == "cpu":
                self._cpu += dur
            self._push(t + dur, "done", nd.id)
            return

    def _done(self, t, x):
        nd = self.nodes[x]
        _, _, action = nd.steps.popleft()
        if action:
            action(t)
        self._run(t, nd)

    # -- the protocol: what a node does with each frame --

    def _apply(self, nd, hop, src):
        def act(t):
            nd.applied = t
            nd.hop = hop
            nd.got_from = src
            self._reached += 1
        return act

    def _logged(self, nd):
        # node_applied logs "applied ... new records" after the relay:
        # the time the bench reads from the log
        def act(t):
            nd.logged = t
        return act

    def _sender(self, src, dst, kind, payload=None):
        return lambda t: self._send(t, src, dst, kind, payload)

    def _handle(self, t, nd, msg):
        kind, src, payload = msg
        p = self.p
        mus = p["msg_us"]
        nd.msgs += 1
        steps = []
        if kind in ("probe", "dig", "flush", "graft_due", "again"):
            nd.msgs -= 1   # the probes run whether or not a record spreads: idle cost
        if kind == "author":
            for q in nd.adj:
                if not self.tree:
                    steps.append(("cpu", mus, self._sender(nd.id, q, "rec", 0)))
                    nd.msgs += 1
                elif (nd.id, q) in self.eager:
                    steps.append(("cpu", mus, self._sender(nd.id, q, "push", 0)))
                    nd.msgs += 1
            if self.tree:
                self._push(p["lazy_ms"] * 1000, "task", nd.id, ("flush", None, None))
            return steps
        if kind == "push" and nd.applied is not None:
            # pushed along the tree, and held: prune the link (both ends lazy)
            nd.recs_in += 1
            steps.append(("cpu", mus, None))
            if (nd.id, src) in self.eager:
                self.eager.discard((nd.id, src))
                steps.append(("cpu", mus, self._sender(nd.id, src, "prune")))
                nd.msgs += 1
            return steps
        if kind == "push":
            kind = "rec"
        if kind == "prune":
            steps.append(("cpu", mus, None))
            self.eager.discard((nd.id, src))
            return steps
        if kind == "flush":
            # the lazy batch: announced to lazy_peers lazy links drawn at random
            lazy = [q for q in nd.adj if q != nd.got_from and (nd.id, q) not in self.eager]
            for q in self.prng.sample(lazy, min(len(lazy), p["lazy_peers"])):
                steps.append(("cpu", mus, self._sender(nd.id, q, "ann")))
                nd.msgs += 1
            return steps
        if kind == "graft_due":
            if nd.applied is None and (nd.inflight_at is None or t - nd.inflight_at >= p["inflight_ms"] * 1000):
                nd.inflight_at = t
                self.eager.add((nd.id, src))
                steps.append(("cpu", mus, self._sender(nd.id, src, "graft")))
                nd.msgs += 1
            return steps
        if kind == "again":
            # our digest, a while after theirs differed, unless we caught up
            # with what it told us
            theirs = nd.recheck.pop(src)
            if theirs != (nd.applied is not None):
                steps.append(("cpu", mus, self._sender(nd.id, src, "dig2", nd.applied is not None)))
                nd.msgs += 1
            return steps
        if kind == "rec":
            nd.recs_in += 1
            if nd.applied is not None:
                return [("cpu", mus, None)]          # held: dropped before any signature check
            steps.append(("cpu", mus + p["verify_us"] + p["apply_us"], None))
            steps.append(("fsync", p["fsync_us"], self._apply(nd, payload + 1, src)))
            for q in nd.adj:
                if q == src:
                    continue
                if not self.tree:                     # relay: announce to every other peer
                    steps.append(("cpu", mus, self._sender(nd.id, q, "ann")))
                    nd.msgs += 1
                elif (nd.id, q) in self.eager:        # the tree: push to eager links
                    steps.append(("cpu", mus, self._sender(nd.id, q, "push", payload + 1)))
                    nd.msgs += 1
            if self.tree:
                steps.append(("cpu", 0.0, lambda t2: self._push(t2 + p["lazy_ms"] * 1000, "task", nd.id,
                                                                ("flush", None, None))))
            steps.append(("cpu", 0.0, self._logged(nd)))
            return steps
        if kind == "ann" and self.tree:
            steps.append(("cpu", mus, None))
            if nd.applied is None and not nd.graft_wait:
                nd.graft_wait = True
                self._push(t + p["graft_ms"] * 1000, "task", nd.id, ("graft_due", src, None))
            return steps
        if kind == "ann":
            steps.append(("cpu", mus, None))
            if nd.applied is None and (nd.inflight_at is None or t - nd.inflight_at >= p["inflight_ms"] * 1000):
                nd.inflight_at = t
                steps.append(("cpu", mus, self._sender(nd.id, src, "want")))
                nd.msgs += 1
            return steps
        if kind == "graft":
            kind = "want"
            self.eager.add((nd.id, src))
        if kind == "want":
            steps.append(("cpu", mus, None))
            if src not in nd.sent:                    # a record is sent once per connection
                nd.sent.add(src)
                steps.append(("cpu", mus, self._sender(nd.id, src, "rec", nd.hop)))
                nd.msgs += 1
            return steps
        if kind == "probe":
            q = self.prng.choice(nd.adj)
            steps.append(("cpu", mus, self._sender(nd.id, q, "dig", nd.applied is not None)))
            return steps
        if kind == "dig" and self.tree:
            # differing: our digest goes back a while later (at most once
            # per peer at a time), and only if it still differs then a hello
            steps.append(("cpu", mus, None))
            if payload != (nd.applied is not None) and src not in nd.recheck:
                nd.recheck[src] = payload
                self._push(t + p["settle_ms"] * 1000, "task", nd.id, ("again", src, None))
            return steps
        if kind == "dig2":
            kind = "dig"
        if kind == "dig":
            steps.append(("cpu", mus, None))
            if payload != (nd.applied is not None):  # digests differ: answer with a hello
                nd.last_hello[src] = t
                steps.append(("cpu", self.hello_us, self._sender(nd.id, src, "hello", nd.applied is not None)))
                nd.msgs += 1
            return steps
        if kind == "hello":
            nd.hellos_in += 1
            steps.append(("cpu", self.hello_us, None))
            has = nd.applied is not None
            if payload and not has and (nd.inflight_at is None or t - nd.inflight_at >= p["inflight_ms"] * 1000):
                nd.inflight_at = t
                steps.append(("cpu", mus, self._sender(nd.id, src, "want")))
                nd.msgs += 1
            if payload != has and t - nd.last_hello.get(src, -1e18) > p["hello_gap_ms"] * 1000:
                nd.last_hello[src] = t
                steps.append(("cpu", self.hello_us, self._sender(nd.id, src, "hello", has)))
                nd.msgs += 1
            return steps
        raise ValueError(kind)

    def trial(self, author, seed):
        """Spread one record written by `author` at t = 0 (its commit
        done, as the bench's clock starts at the put's reply)."""
        self.jrng = random.Random(seed * 7919 + 1)
        self.prng = random.Random(seed * 104729 + 3)
        self.nodes = [Node(i, self.adj[i]) for i in range(self.n)]
        self._heap, self._seq, self._last = [], 0, {}
        self._free, self._waitq = self.p["cores"], collections.deque()
        self._disk_free = 0.0
        self._cpu = 0.0
        self.counts = collections.Counter()
        self._reached = 1
        a = self.nodes[author]
        a.applied, a.logged, a.hop = 0.0, 0.0, 0
        self._deliver(0.0, author, ("author", None, None))
        interval = self.p["sync_interval_ms"] * 1000
        if interval:
            for i in range(self.n):
                self._push(self.prng.uniform(0, interval), "probe", i)
        while self._heap:
            t, _, what, args = heapq.heappop(self._heap)
            if what == "deliver":
                self._deliver(t, *args)
            elif what == "done":
                self._done(t, *args)
            elif what == "run":
                nd = self.nodes[args[0]]
                self._run(t, nd)
            elif what == "task":
                self._deliver(t, *args)
            elif what == "probe":
                if self._reached == self.n or t > PROBE_HORIZON_MS * 1000:
                    continue   # everyone holds it: probes are idle cost again
                self._deliver(t, args[0], ("probe", None, None))
                self._push(t + interval, "probe", args[0])
        others = [nd for nd in self.nodes if nd.id != author]
        return {
            # when the last node applied it (its transaction done), and when
            # the last logged it (after its relay: what the bench measures)
            "reach_all_ms": max(nd.applied for nd in self.nodes) / 1000 if self._reached == self.n else None,
            "logged_all_ms": max(nd.logged for nd in self.nodes) / 1000 if self._reached == self.n else None,
            "hops": [nd.hop for nd in self.nodes],
            "applied_ms": [None if nd.applied is None else nd.applied / 1000 for nd in self.nodes],
            "bytes_in": [nd.bytes_in for nd in self.nodes],
            "bytes_ratio": [nd.bytes_in / self.p["record_bytes"] for nd in others],
            "hello_ratio": [nd.hello_bytes / self.p["record_bytes"] for nd in others],
            "recs_in": [nd.recs_in for nd in others],
            "hellos": self.counts["hello"],
            # frames handled per receiving node (all nodes' over n - 1, as
            # the bench divides the CPU of all daemons)
            "msgs_per_node": sum(nd.msgs for nd in self.nodes) / max(1, self.n - 1),
            "cpu_per_node_us": self._cpu / max(1, self.n - 1),
            "counts": dict(self.counts),
        }


def run(n, fanout, wan=False, trials=10, seed=1, ids=None, adj=None, **kw):
    """Trials with authors drawn from the seed: the figures of one scenario.
    ids: the members' ids (32 bytes each) when the graph must be a real
    alliance's (the bench passes its daemons'); else drawn from the seed.
    adj: the connections themselves (the bench's, read from its daemons)."""
    m = Model(n, fanout, wan=wan, seed=seed, ids=ids, adj=adj, **kw)
    rng = random.Random(seed + 17)
    authors = [rng.randrange(n) for _ in range(trials)]
    first = None
    if m.tree:
        # the first record after the graph formed floods every link and
        # prunes the tree down (the daemons' first records are the joins'
        # membership records); the trials are the records after it
        first = m.trial(rng.randrange(n), seed * 1000 - 1)
    res = [m.trial(a, seed * 1000 + k) for k, a in enumerate(authors)]
    ecc = [max(bfs(m.adj, a)) for a in authors]
    reach = [r["logged_all_ms"] for r in res]   # as the bench measures: the last "applied" log line
    hops = collections.Counter(h for r in res for h in r["hops"])
    ratios = [statistics.mean(r["bytes_ratio"]) for r in res]
    deg = [len(a) for a in m.adj]
    return {
        "nodes": n, "fanout": fanout, "wan": wan, "trials": trials,
        "reach_all_p50_ms": statistics.median(reach), "reach_all_max_ms": max(reach),
        "hops_max": max(hops), "hops": dict(sorted(hops.items())), "bfs_max": max(ecc),
        "bytes_per_node_ratio": statistics.mean(ratios),
        "bytes_per_node_ratio_max": max(max(r["bytes_ratio"]) for r in res),
        "hello_ratio": statistics.mean(statistics.mean(r["hello_ratio"]) for r in res),
        "records_per_node": statistics.mean(statistics.mean(r["recs_in"]) for r in res),
        "hellos_per_record": statistics.mean(r["hellos"] for r in res),
        "msgs_per_node": statistics.mean(r["msgs_per_node"] for r in res),
        "cpu_per_node_us": statistics.mean(r["cpu_per_node_us"] for r in res),
        "connections_mean": statistics.mean(deg), "connections_max": max(deg), "connections_min": min(deg),
        "degrees": deg, "connections_max_others": max(deg[1:]) if len(deg) > 1 else 0,
        "params": m.p, "sizes": m.size, "tree": m.tree,
        "first_bytes_ratio": statistics.mean(first["bytes_ratio"]) if first else None,
        "eager_per_node": len(m.eager) / n if m.tree else None,
    }


def calibrate(cpu_per_node_us, n=100, fanout=8, seed=1, ids=None, adj=None, **kw):
    """msg_us from the CPU all daemons spent per record per receiving node
    in the bench (cpu_per_node_us): what is left after one verification
    and one transaction, shared over the frames a node handles per record
    (counted by the model itself, which does not depend on msg_us much)."""
    p = dict(DEFAULTS)
    p.update({k: v for k, v in kw.items() if v is not None})
    r = run(n, fanout, trials=3, seed=seed, ids=ids, adj=adj, **kw)
    frames = r["msgs_per_node"]
    rest = cpu_per_node_us - p["verify_us"] - p["apply_us"]
    return max(1.0, rest / frames), frames


def tree_note(r):
    if not r.get("tree"):
        return "; no broadcast tree (announce to every peer)"
    return (f"; broadcast tree: {r['eager_per_node']:.2f} eager links per node after the first record, "
            f"which cost {r['first_bytes_ratio']:.2f} x (every link eager until pruned)")


def report(r, name, measured_ms=None):
    """The fig() lines of a scenario, as bench/run.py prints them."""
    lines = []
    hops = ", ".join(f"{h}: {c}" for h, c in r["hops"].items())
    p = r["params"]
    if not r["wan"]:
        ratio = ""
        if measured_ms:
            ratio = f"ratio to the measured {measured_ms[0]:.1f} ms: {r['reach_all_max_ms'] / measured_ms[0]:.2f}"
            if len(measured_ms) > 1:
                ratio += f" (p50 to the measured median {measured_ms[1]:.1f} ms: " \
                    f"{r['reach_all_p50_ms'] / measured_ms[1]:.2f})"
            ratio += "; "
        lines.append((f"{name}", round(r["reach_all_max_ms"], 1), "ms",
                      f"{ratio}simulated, {r['nodes']} nodes, fanout {r['fanout']}, loopback on {p['cores']} shared "
                      f"cores: time to reach all, max of {r['trials']} trials (p50 {r['reach_all_p50_ms']:.1f} ms); "
                      f"hops max {r['hops_max']} (graph distance {r['bfs_max']}); {r['connections_mean']:.1f} connections per node (max "
                      f"{r['connections_max']}); bytes per node {r['bytes_per_node_ratio']:.2f} x record, "
                      f"{r['records_per_node']:.2f} copies{tree_note(r)}"))
        return lines
    pre = f"sim_{r['nodes']}_wan"
    lines.append((f"{pre}_reach_all_ms", round(r["reach_all_max_ms"], 1), "ms",
                  f"simulated, fanout {r['fanout']}, WAN latencies: max of {r['trials']} trials "
                  f"(p50 {r['reach_all_p50_ms']:.1f} ms)"))
    lines.append((f"sim_{r['nodes']}_hops_max", r["hops_max"], "hops", f"distribution over nodes and trials {{{hops}}}; "
                  f"the path the record took first, the graph's own distance from the author is at most {r['bfs_max']}"))
    lines.append((f"sim_{r['nodes']}_bytes_per_node_ratio", round(r["bytes_per_node_ratio"], 2), "x record size",
                  f"bytes received per node per record / {p['record_bytes']}-byte record (max "
                  f"{r['bytes_per_node_ratio_max']:.1f}), {r['hello_ratio']:.2f} x of it anti-entropy hellos; "
                  f"target for a broadcast tree <= 1.5; "
                  f"{r['records_per_node']:.2f} copies of the record per node, {r['hellos_per_record']:.0f} "
                  f"anti-entropy hellos of {r['sizes']['hello']} bytes per record{tree_note(r)}"))
    lines.append((f"sim_{r['nodes']}_connections_per_node", round(float(r["connections_mean"]), 1), "connections",
                  f"max {r['connections_max']} (the founder, through whom all joined, has {r['degrees'][0]}; the "
                  f"others at most {r['connections_max_others']}), min {r['connections_min']}"))
    lines.append((f"sim_{r['nodes']}_cpu_per_record_per_node", round(r["cpu_per_node_us"]), "us",
                  f"{r['msgs_per_node']:.1f} frames of {p['msg_us']:.1f} us, one verification of {p['verify_us']:.0f} us "
                  f"and one transaction per node"))
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description="discrete-event model of catalogd's gossip (see the docstring)")
    ap.add_argument("--nodes", type=int, default=ALL_LOCAL_GOVERNMENTS)
    ap.add_argument("--fanout", type=int, default=8)
    ap.add_argument("--wan", action="store_true", help="WAN latencies between Japanese local governments")
    ap.add_argument("--trials", type=int, default=None, help="default: 20 on loopback, 10 on the WAN")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cores", type=int, default=None, help="shared cores (0: a machine per node)")
    ap.add_argument("--no-anti-entropy", action="store_true", help="leave out the digest probes")
    ap.add_argument("--flood", action="store_true",
                    help="the protocol before the broadcast tree: announce to every peer, no inbound bound")
    ap.add_argument("--lazy-peers", type=int, default=None, help="lazy links a batch of announces goes to")
    ap.add_argument("--measured-ms", type=float, nargs="+", default=None,
                    help="the bench's max (and median) time to reach all, for the ratio")
    for k in ("verify_us", "apply_us", "fsync_us", "msg_us", "vv_entry_us", "uplink_mbps"):
        ap.add_argument("--" + k.replace("_", "-"), type=float, default=None)
    for k in ("record_bytes", "seq", "vv_authors", "sync_interval_ms"):
        ap.add_argument("--" + k.replace("_", "-"), type=int, default=None)
    a = ap.parse_args(argv)
    kw = {k: getattr(a, k) for k in ("verify_us", "apply_us", "fsync_us", "msg_us", "vv_entry_us",
                                     "uplink_mbps", "record_bytes", "seq", "vv_authors", "sync_interval_ms",
                                     "cores") if getattr(a, k) is not None}
    if a.no_anti_entropy:
        kw["sync_interval_ms"] = 0
    if a.flood:
        kw["tree"] = 0
    if a.lazy_peers is not None:
        kw["lazy_peers"] = a.lazy_peers
    trials = a.trials or (10 if a.wan else 20)
    r = run(a.nodes, a.fanout, wan=a.wan, trials=trials, seed=a.seed, **kw)
    for name, value, unit, ratio in report(r, f"sim_{a.nodes}_loopback", a.measured_ms):
        print(f"{name} {value} {unit}" + (f"  {ratio}" if ratio else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
