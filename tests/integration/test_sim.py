"""bench/sim.py, the model of the gossip protocol (issue 14): its invariants
on small graphs, hand-counted bytes, the connection rule of daemon/peer.c,
and determinism.  No daemon runs here; these check the model's behaviour,
never how long it takes."""
import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench"))
import sim  # noqa: E402

# no CPU, no jitter, no queueing at the uplink, no anti-entropy: every link
# takes the same time, so the first copy of a record comes along a shortest path
IDEAL = dict(verify_us=0.0, apply_us=0.0, fsync_us=0.0, msg_us=0.0, vv_entry_us=0.0, jitter_ms=0.0,
             jitter_frac=0.0, uplink_mbps=1e12, sync_interval_ms=0, cores=0, record_bytes=600, seq=5, tree=0)
# the same with the broadcast tree (daemon/tree.c), as built now
TREE = dict(IDEAL, tree=1)


def test_sizes_hand_counted(env):
    # records: len 4, fixmap 1, "t" 2, "records" 8, "recs" 5, fixarray 1, bin16 3 + 600; TLS 22
    assert sim.size_records(600) == 4 + 1 + 2 + 8 + 5 + 1 + 3 + 600 + 22 == 646
    # announce: len 4, fixmap 1, "t" 2, "announce" 9, "a" 2, fixarray 1, [fixarray 1, bin 34, 5 → 1, bin 34]; TLS 22
    assert sim.size_announce(5) == 4 + 1 + 2 + 9 + 2 + 1 + 1 + 34 + 1 + 34 + 22 == 111
    assert sim.size_want(5) == 4 + 1 + 2 + 5 + 2 + 1 + 1 + 34 + 1 + 1 + 22 == 74
    # a hello's vector: 72 bytes per author with seq < 65536 (3-byte uint), ≥ 256
    assert sim.size_hello(1001, 1000) - sim.size_hello(1000, 1000) == 72
    # past 16 KiB the frame is several TLS records, 22 bytes each
    big = sim.size_hello(1000, 1000)
    assert big > 3 * 16384 and (big - 22 * 5) // 16384 == 4


def test_line_bytes_and_hops(env):
    # 0 - 1 - 2 - 3, written by 0: push to 1; 1 announces to 2, 2 wants, 1
    # sends; 2 announces to 3, 3 wants, 2 sends; 3 has nobody left to tell
    adj = [[1], [0, 2], [1, 3], [2]]
    m = sim.Model(4, 0, adj=adj, **IDEAL)
    r = m.trial(0, 1)
    R, A, W = 646, 111, 74
    assert r["bytes_in"] == [0, R + W, A + R + W, A + R]
    assert r["hops"] == [0, 1, 2, 3]
    assert r["counts"] == {"rec": 3, "ann": 2, "want": 2}
    # the link takes 0.05 ms: a hop past the first is announce, want, record
    assert abs(r["reach_all_ms"] - 0.05 * 7) < 1e-9


def test_ring_bytes(env):
    # ring 0-1-2-3-0 written by 0: 1 and 3 get the push and both announce to
    # 2; 2 wants from the first only (the in-flight table), applies, and
    # announces to 3 (not back to where it came from), which holds it
    adj = [[1, 3], [0, 2], [1, 3], [0, 2]]
    r = sim.Model(4, 0, adj=adj, **IDEAL).trial(0, 1)
    R, A, W = 646, 111, 74
    first = 1 if r["bytes_in"][1] > R else 3    # whose announce 2 answered
    other = 4 - first
    assert r["bytes_in"][0] == 0
    assert r["bytes_in"][2] == 2 * A + R
    assert r["bytes_in"][first] == R + W
    assert r["bytes_in"][other] == R + A
    assert r["hops"] == [0, 1, 2, 1]
    assert r["counts"] == {"rec": 3, "ann": 3, "want": 1}


def test_hops_are_graph_distance(env):
    for n, f, seed in ((30, 3, 1), (60, 2, 2), (40, 8, 3)):
        m = sim.Model(n, f, seed=seed, **IDEAL)
        for a in (0, n // 2, n - 1):
            r = m.trial(a, a)
            assert r["reach_all_ms"] is not None, "every node reached"
            assert all(t is not None for t in r["applied_ms"])
            assert r["hops"] == sim.bfs(m.adj, a), (n, f, a)
            # each node applies the record once, and gets it once when links are equal
            assert r["counts"]["rec"] == n - 1


def test_every_node_reached_with_costs(env):
    # shared cores, jitter, anti-entropy: still everyone, each copy counted
    r = sim.run(50, 4, trials=5, seed=3, vv_authors=50)
    assert r["connections_min"] >= 4
    assert r["hops_max"] >= r["bfs_max"]
    assert r["records_per_node"] >= 1.0
    m = sim.Model(50, 4, seed=3)
    t = m.trial(7, 7)
    assert all(x is not None for x in t["applied_ms"])
    assert t["applied_ms"][7] == 0.0


def test_connections_follow_peer_c(env):
    # every node ends connected to its `fanout` lowest SHA-256(self || other),
    # in one direction or the other; the rest are others' choices and stale
    # outbound connections, at most `fanout` outbound per node
    import random
    ids = sim.node_ids(40, random.Random(5))
    adj = sim.build_graph(ids, 6)
    targets = sim.fanout_targets(ids, 6)
    for i, me in enumerate(ids):
        order = sorted((j for j in range(len(ids)) if j != i), key=lambda j: hashlib.sha256(me + ids[j]).digest())
        assert targets[i] == sorted(order[:6])
        assert set(targets[i]) <= set(adj[i])
        assert i not in adj[i]
        assert all(i in adj[j] for j in adj[i])
    edges = sum(len(a) for a in adj) // 2
    union = {frozenset((i, j)) for i in range(len(ids)) for j in targets[i]}
    assert len(union) < edges <= 40 * 6
    full = sim.build_graph(ids[:10], 0)
    assert all(len(a) == 9 for a in full)


def test_connections_by_hand(env):
    # fanout 1; 0 founds, 1 and 2 join through it.  0 ranks 2 before 1, 1
    # ranks 2 before 0, 2 ranks 1 before 0.  1 joins: dials 0 (its sponsor
    # and target).  2 joins: dials 0 (sponsor); 0 wants 2, reached already;
    # 1 now wants 2 and dials it, has two outbound and closes the one to 0,
    # no longer wanted; 2 wants 1, reached already, and keeps its sponsor
    # connection since it has no more than one outbound.
    order = {0: [2, 1], 1: [2, 0], 2: [1, 0]}
    adj = sim.build_graph([b"a", b"b", b"c"], 1, rank=lambda i, j: order[i].index(j))
    assert adj == [[2], [2], [0, 1]]


def test_deterministic_with_seed(env):
    a = sim.run(40, 4, trials=4, seed=9)
    b = sim.run(40, 4, trials=4, seed=9)
    c = sim.run(40, 4, trials=4, seed=10)
    keys = ("reach_all_p50_ms", "reach_all_max_ms", "hops", "bytes_per_node_ratio", "connections_mean")
    assert [a[k] for k in keys] == [b[k] for k in keys]
    assert [a[k] for k in keys] != [c[k] for k in keys]
    w1 = sim.run(120, 8, wan=True, trials=2, seed=4)
    w2 = sim.run(120, 8, wan=True, trials=2, seed=4)
    assert w1["reach_all_max_ms"] == w2["reach_all_max_ms"] and w1["hops"] == w2["hops"]


def test_member_ids_as_printed(env):
    # proto/util.c prints 32 bytes as 52 base32 characters in groups of 4
    assert sim.parse_member_id("-".join(["AAAA"] * 13)) == bytes(32)
    b = bytes(range(32))
    import base64
    s = base64.b32encode(b).decode().rstrip("=")
    grouped = "-".join(s[i:i + 4] for i in range(0, 52, 4))
    assert sim.parse_member_id(grouped) == b
    # the graph of given ids is the one peer.c builds from them
    ids = [bytes([i]) * 32 for i in range(12)]
    m = sim.Model(12, 3, ids=ids, **IDEAL)
    assert m.adj == sim.build_graph(ids, 3)


def test_tree_line_and_ring(env):
    # a line has no cycle: every link stays eager, each node gets one push
    # and nobody has a lazy link to announce on
    P = sim.size_records_push(600)
    assert P == sim.size_records(600) + 6
    m = sim.Model(4, 1, adj=[[1], [0, 2], [1, 3], [2]], **TREE)
    assert m.tree
    r = m.trial(0, 1)
    assert r["bytes_in"] == [0, P, P, P]
    assert r["counts"] == {"push": 3}
    assert abs(r["reach_all_ms"] - 0.05 * 3) < 1e-9   # one trip per hop
    # a ring: the first record reaches 2 along both sides; the second copy
    # prunes a link of the cycle, after which each node gets exactly one copy
    m = sim.Model(4, 1, adj=[[1, 3], [0, 2], [1, 3], [0, 2]], **TREE)
    first = m.trial(0, 1)
    assert first["counts"]["prune"] >= 1
    assert len(m.eager) == 2 * 3, m.eager   # a spanning tree, eager both ways
    for author in (0, 1, 2, 3):
        r = m.trial(author, author + 2)
        assert r["counts"]["push"] == 3 and "prune" not in r["counts"], r["counts"]
        assert all(t is not None for t in r["applied_ms"])


def test_tree_steady_state_bytes(env):
    # after the first record the eager links are a spanning tree: one copy
    # per node, plus lazy announces to lazy_peers links per node
    m = sim.Model(60, 4, seed=2, **TREE)
    m.trial(0, 1)
    assert len(m.eager) == 2 * 59
    r = m.trial(17, 2)
    assert all(t is not None for t in r["applied_ms"])
    assert r["recs_in"] == [1] * 59
    per_node = sim.size_records_push(600) + 2 * sim.size_announce(5)
    assert max(r["bytes_in"]) <= sim.size_records_push(600) + 8 * sim.size_announce(5)
    assert abs(sum(r["bytes_in"]) / 59 - per_node) < sim.size_announce(5)


def test_tree_repairs_a_cut(env):
    # an eager link removed (a node on the tree left): the part cut off
    # hears of the record from a lazy announce and grafts
    m = sim.Model(60, 4, seed=2, **TREE)
    m.trial(0, 1)
    a, b = next(iter(sorted(m.eager)))
    m.eager.discard((a, b))
    m.eager.discard((b, a))
    r = m.trial(a, 3)
    assert all(t is not None for t in r["applied_ms"]), "the cut-off part was not reached"
    assert r["counts"].get("graft", 0) >= 1


def test_inbound_bound_and_sponsor(env):
    # every member joins through the founder: without the rules the
    # founder keeps many of the newcomers' sponsor connections; with them
    # (close once every target is reached, inbound bounded at 4 x fanout)
    # nobody is a hub
    import random
    ids = sim.node_ids(300, random.Random(7))
    old = sim.build_graph(ids, 8)
    new = sim.build_graph(ids, 8, bound=32, close_reached=True)
    assert len(old[0]) > 32
    assert len(new[0]) < len(old[0]) / 2
    assert max(len(a) for a in new) <= 32
    # a bound that bites: refused dialers take their next-ranked member
    tight = sim.build_graph(ids, 8, bound=10, close_reached=True)
    assert max(len(a) for a in tight) <= 10 + 8
    assert min(len(a) for a in tight) >= 1
    assert min(sim.bfs(tight, 0)) >= 0, "the graph stays connected"
