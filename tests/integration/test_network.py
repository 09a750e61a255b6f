"""The alliance network: founding, joining, gossip over mutual TLS (issue 3)."""
import os
import subprocess
import sys
import time

from harness import digests_equal, wait_until, SLOW

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def has_record(node, kind, key, author=None):
    args = ["get", kind, key] + (["--author", author] if author else [])
    rc, out, _ = node.run(*args, "--json", check=False)
    return rc == 0 and out.strip() not in ("", "[]")


def test_three_nodes_converge(env):
    a = env.found()
    b = env.join(a)
    c = env.join(a)
    nodes = [a, b, c]
    wait_until(lambda: all(n.status()["peers"] == 2 for n in nodes), 15, what="full mesh")
    for i, n in enumerate(nodes):
        n.ctl("put", "note", f"from{i}", f"text=ノード{i}")
    wait_until(lambda: digests_equal(nodes), 15, what="equal digests")
    for n in nodes:
        for i, src in enumerate(nodes):
            got = n.ctl_json("get", "note", f"from{i}", "--author", src.member_id())
            assert got[0]["body"]["text"] == f"ノード{i}", (n.name, got)
        s = n.status()
        assert s["members"] == 3 and s["alliance"].startswith("ファーストカスタマー"), s
    ml = a.ctl_json("member", "list")
    assert sorted(m["code"] for m in ml) == sorted(n.code for n in nodes)
    admitted = {m["code"]: m["admitted_by"] for m in ml}
    assert admitted[b.code] == a.member_id() and admitted[a.code] == ""
    peers = b.ctl_json("peers")
    assert sum(p["state"] == "established" for p in peers) == 2, peers
    assert sum(p["records_in"] for p in peers) >= 2, peers


def test_chain_of_ten(env):
    nodes = [env.found()]
    for _ in range(9):
        nodes.append(env.join(nodes[-1]))
    wait_until(lambda: all(n.status()["members"] == 10 for n in nodes), 30, what="10 members everywhere")
    t0 = time.time()
    nodes[-1].ctl("put", "note", "chain", "text=最後から最初へ")
    last = nodes[-1].member_id()
    wait_until(lambda: has_record(nodes[0], "note", "chain", last), 10, what="record at the first node")
    wait_until(lambda: digests_equal(nodes), 10, what="equal digests")
    assert time.time() - t0 < 10 * SLOW


def test_restarted_node_catches_up(env):
    a = env.found()
    b = env.join(a)
    c = env.join(a)
    wait_until(lambda: digests_equal([a, b, c]), 15, what="initial convergence")
    c.stop()
    for i in range(500):
        a.ctl("put", "note", f"a{i}", f"v={i}")
    for i in range(500):
        b.ctl("put", "note", f"b{i}", f"v={i}")
    wait_until(lambda: digests_equal([a, b]), 20, what="a and b converge")
    a.stop()   # only b is up when c returns
    c.start()
    wait_until(lambda: digests_equal([b, c]), 30, what="c catches up from b")
    s = c.status()
    assert s["records"] == 1000 + 3 and s["authors"] == 2, s
    a.start()
    wait_until(lambda: digests_equal([a, b, c]), 30, what="all three converge")


def test_large_sync_in_several_batches_sends_each_record_once(env):
    """A newcomer takes in a catalog of several verify batches (the next
    batch is triaged while the one before is verified, and verified while
    that one is written) and the founder sends every record once: a range
    still arriving is not asked for again."""
    a = env.found()
    n = 12000
    csv = os.path.join(env.tmp, "big.csv")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_catalog.py"), str(n), csv], check=True)
    a.run("import", csv, timeout=300)
    b = env.join(a, start=False)
    b.start("--log-level", "debug")
    wait_until(lambda: digests_equal([a, b]), 120, what="newcomer holds the catalog")
    sb = b.status()
    assert sb["records"] == a.status()["records"], (sb, a.status())
    batches = [l for l in b.logtext().splitlines() if "debug: applied" in l]
    assert len(batches) >= 3, batches
    # the collection bound was reached while a batch was verified: the next
    # was triaged then, not when the pool was done (ingest.c triage_ahead)
    assert "records ahead, while" in b.logtext(), batches
    # what a sent b: the catalog once, plus at most a few records it wrote
    # meanwhile (b's admission) that were also pushed
    assert a.status()["records_out"] <= sb["records"] + 5, (a.status(), sb)
    assert n <= sb["records_in"] <= sb["records"], sb


def test_join_while_running_needs_no_restart(env):
    """catalogctl join on a node whose daemon already runs: the daemon takes
    the sponsor at once (no restart) and receives the catalog."""
    a = env.found()
    a.ctl("put", "note", "before", "v=1")
    b = env.node()
    b.start()
    assert b.status()["records"] == 0
    a.run("member", "add", b.cert_file(), "--address", b.addr)
    out = b.run("join", "--sponsor", a.cert_file(), "--address", a.addr)[1]
    assert "running catalogd is dialing it" in out, out
    wait_until(lambda: digests_equal([a, b]), 20, what="b syncs without a restart")
    assert "dialing it" in b.logtext()
    # and it is a member like the others: its own writes reach a
    b.ctl("put", "note", "from-b", "v=2")
    wait_until(lambda: digests_equal([a, b]), 10, what="b's write reaches a")


def test_non_member_refused_at_handshake(env):
    a = env.found()
    stranger = env.node()
    # the stranger believes a is its sponsor, but a never admitted it
    stranger.run("join", "--sponsor", a.cert_file(), "--address", a.addr)
    stranger.start()
    sid = stranger.member_id()
    wait_until(lambda: sid in a.logtext() and "refused peer" in a.logtext(), 10,
               what="refusal logged with the member id")
    line = [l for l in a.logtext().splitlines() if "refused peer" in l and sid in l][0]
    assert "TLS handshake" in line and "not belong to a current member" in line, line
    assert a.status()["peers"] == 0
    assert stranger.status()["records"] == 0


def test_other_alliance_refused_at_hello(env):
    a = env.found("連合A")
    x = env.found("連合B")
    # each admits the other's key, so TLS succeeds both ways; hello must not
    a.run("member", "add", x.cert_file(), "--address", x.addr)
    x.run("member", "add", a.cert_file(), "--address", a.addr)
    wait_until(lambda: "another alliance" in a.logtext() or "another alliance" in x.logtext(), 10,
               what="refusal at hello")
    time.sleep(0.5)
    assert a.status()["alliance"] == "連合A" and x.status()["alliance"] == "連合B"
    # nothing of the other alliance was stored
    assert a.status()["records"] == 2 and x.status()["records"] == 2


def _probe(env, data, target, mode, target_id=None, count=None):
    args = [os.path.join(env.tools, "peerprobe"), "--data", data, "--connect", target.addr, "--mode", mode]
    if target_id:
        args += ["--target-id", target_id]
    if count:
        args += ["--count", str(count)]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30 * SLOW)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_forged_records_refused(env):
    a = env.found()
    b = env.join(a)
    m = env.join(a)   # the member that will misbehave
    wait_until(lambda: digests_equal([a, b, m]), 15, what="convergence")
    m.stop()          # the probe uses m's identity and store
    before = [a.status()["digest"], b.status()["digest"]]
    for mode, code in (("bad-sig", "4"), ("forge-author", "4"), ("malformed", "3"),
                       ("garbage", "1"), ("oversized", "1")):
        rc, out, err = _probe(env, m.dir, a, mode, target_id=b.member_id())
        assert rc == 0, (mode, rc, out, err)
        assert f"recv error {code}" in out, (mode, out)
        if mode.startswith(("bad", "forge")):
            assert "bad signature" in out, out
    time.sleep(0.5)
    # nothing stored at a, nothing forwarded to b
    assert [a.status()["digest"], b.status()["digest"]] == before
    assert not has_record(a, "note", "forged", m.member_id())
    assert not has_record(a, "note", "forged", b.member_id())
    assert not has_record(b, "note", "forged", b.member_id())
    # the daemon keeps working afterwards
    a.ctl("put", "note", "after", "v=1")
    wait_until(lambda: has_record(b, "note", "after", a.member_id()), 10, what="gossip after attacks")


def test_forged_records_of_a_former_member_close_past_the_bound(env):
    """A former member's records beyond its cut that verify under no key
    are not taken for forgeries at once (an honest relay may hold a few,
    signed after a rotation this node never takes), but a peer that sends
    more than NODE_FORMER_UNVERIFIED_MAX of them is closed for a bad
    signature, and nothing of them is kept."""
    a = env.found()
    b = env.join(a)
    m = env.join(a)   # the probe's identity
    f = env.join(a)   # the member that leaves
    wait_until(lambda: digests_equal([a, b, m, f]), 15, what="convergence")
    f.run("member", "leave")
    wait_until(lambda: digests_equal([a, b, m, f]), 15, what="the leave everywhere")
    m.stop()
    before = a.status()["digest"]
    # under the bound: refused, the probe stays connected (no error)
    rc, out, err = _probe(env, m.dir, a, "forge-former", target_id=f.member_id(), count=100)
    assert rc == 3 and "recv error" not in out, (rc, out, err)
    # past it: closed as for a bad signature
    rc, out, err = _probe(env, m.dir, a, "forge-former", target_id=f.member_id(), count=300)
    assert rc == 0 and "recv error 4" in out and "bad signature" in out, (rc, out, err)
    assert a.status()["digest"] == before
    assert not has_record(a, "note", "forged-0", f.member_id())


def test_certification_outside_the_schema_refused(env):
    """A member signs certifications outside the CLI (a 事業者名 with a line
    break, a 法人番号 with a wrong check digit): the receiving node refuses
    them by the catalog schema, stores nothing and logs why; the same record
    with valid fields is taken."""
    a = env.found()
    m = env.join(a)
    wait_until(lambda: digests_equal([a, m]), 15, what="convergence")
    m.stop()
    before = a.status()["digest"]
    for mode, field in (("cert-newline", "事業者名 (company)"), ("cert-corpnum", "法人番号 (corporate_number)")):
        rc, out, err = _probe(env, m.dir, a, mode)
        assert rc == 0, (mode, rc, out, err)
        assert "recv error 3 record refused" in out and field in out, (mode, out)
    time.sleep(0.3)
    assert a.status()["digest"] == before
    assert not has_record(a, "certification", "PROBE-1", m.member_id())
    log = a.logtext()
    assert "改行やタブ" in log and "チェックデジット" in log, log[-2000:]
    rc, out, err = _probe(env, m.dir, a, "cert-ok")
    assert rc == 3 and "recv error" not in out, (rc, out, err)
    wait_until(lambda: has_record(a, "certification", "PROBE-1", m.member_id()), 10, what="valid record stored")


def test_mixed_key_types_and_fanout(env):
    a = env.found(key_type="p256")
    b = env.join(a, key_type="rsa")
    c = env.join(a)
    d = env.join(a, start=False)
    d.start("--fanout", "1")
    d.wait_member()   # it can write only once it has received its own admission
    nodes = [a, b, c, d]
    d.ctl("put", "note", "fan", "v=1")
    wait_until(lambda: digests_equal(nodes), 20, what="convergence with fanout 1 on one node")
    def outbound():
        return [p for p in d.ctl_json("peers") if p["direction"] == "out" and p["state"] == "established"]
    wait_until(lambda: len(outbound()) == 1, 15, what="one outbound connection with fanout 1")
    d.ctl("put", "note", "fan2", "v=2")
    wait_until(lambda: digests_equal(nodes), 20, what="convergence after trimming to the fanout")


def test_equivocation_evidence_spreads(env):
    a = env.found()
    b = env.join(a)
    c = env.join(a)
    m = env.join(a)
    wait_until(lambda: digests_equal([a, b, c, m]), 15, what="convergence")
    m.stop()
    # the same seq, two different records: one shown to a, the other to b
    for node, mode in ((a, "equivocate-a"), (b, "equivocate-b")):
        rc, out, err = _probe(env, m.dir, node, mode)
        assert rc == 3 and "recv error" not in out, (mode, rc, out, err)
    # every node ends with both versions, the same winner and the same digest
    wait_until(lambda: all(n.status()["forks"] == 1 for n in (a, b, c)), 15, what="fork evidence everywhere")
    wait_until(lambda: digests_equal([a, b, c]), 15, what="same winner everywhere")
    wins = {n.ctl_json("get", "note", "fork", "--author", m.member_id())[0]["hash"] for n in (a, b, c)}
    assert len(wins) == 1, wins
    assert "equivocation" in a.logtext() and m.member_id() in a.logtext()
