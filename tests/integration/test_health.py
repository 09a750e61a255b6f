"""Health (issue 13): `catalogctl status` says per member whether its digest
equals ours and when it was last heard, names what is wrong (a fork, a
silent member, a nearly full map, our certificate nearing its end) and
exits 0 when healthy, 1 when degraded."""
import json
import os
import subprocess

from harness import SLOW, digests_equal, wait_until


def status(node):
    rc, out, err = node.run("status", "--json", check=False)
    assert rc in (0, 1), (rc, out, err)
    return rc, json.loads(out)


def peer_of(st, node):
    mid = node.member_id()
    return next(p for p in st["health"]["peers"] if p["member_id"] == mid)


def found_with_conf(env, text):
    f = env.node()
    f.run("alliance", "create", "--name", "健全性試験アライアンス", "--address", f.addr)
    with open(os.path.join(f.dir, "catalogd.conf"), "w") as fh:
        fh.write(text)
    return f.start()


def test_two_nodes_in_sync_are_healthy(env):
    a = env.found()
    b = env.join(a)
    a.ctl("put", "note", "h1", "v=1")
    wait_until(lambda: digests_equal([a, b]), 15, what="convergence")

    def in_sync(x, y):
        rc, st = status(x)
        return rc == 0 and peer_of(st, y)["in_sync"]
    wait_until(lambda: in_sync(a, b) and in_sync(b, a), 15, what="both nodes to see the other in sync")
    rc, st = status(a)
    assert rc == 0 and st["health"]["ok"] is True and st["health"]["problems"] == [], st
    p = peer_of(st, b)
    assert p["state"] == "established" and p["code"] == b.code and p["name"] == b.muni, p
    assert isinstance(p["last_heard_s"], int) and p["last_heard_s"] < 10, p
    assert isinstance(p["last_sync_s"], int), p
    # the existing fields are still there
    for k in ("member_id", "digest", "records", "peers", "forks", "map_used", "map_size"):
        assert k in st, k
    assert 0 < st["map_used"] < st["map_size"], st
    # the table says it plainly
    rc, out, err = a.run("status", check=False)
    assert rc == 0, (rc, out, err)
    assert "health:    ok" in out and "IN SYNC" in out and "PROBLEM" not in out, out
    row = next(l for l in out.splitlines() if l.startswith(b.code))
    assert "established" in row and " yes " in row, row


def test_silent_member_degrades_and_is_named(env):
    a = found_with_conf(env, "member_silence_warn_s = 3\n")
    b = env.join(a)
    c = env.join(a)
    wait_until(lambda: digests_equal([a, b, c]), 15, what="convergence")
    wait_until(lambda: status(a)[0] == 0, 15, what="a healthy while every member talks")
    c.stop()

    def silent():
        rc, st = status(a)
        return rc == 1 and [p for p in st["health"]["problems"] if p["code"] == "member_silent"]
    probs = wait_until(silent, 20, what="the stopped member reported silent")
    assert len(probs) == 1 and c.code in probs[0]["text"] and c.muni in probs[0]["text"], probs
    rc, st = status(a)
    assert st["health"]["ok"] is False, st
    pc = peer_of(st, c)
    assert pc["in_sync"] is False and pc["state"] != "established" and pc["last_heard_s"] >= 3, pc
    assert peer_of(st, b)["last_heard_s"] < 3, st
    rc, out, err = a.run("status", check=False)
    assert rc == 1 and "DEGRADED" in out and f"PROBLEM:   member {c.code} {c.muni} not heard from" in out, out
    # back again: healthy again
    c.start()
    wait_until(lambda: status(a)[0] == 0, 20, what="a healthy once the member is back")


def test_fork_degrades_and_names_the_member(env):
    a = env.found()
    b = env.join(a)
    m = env.join(a)
    wait_until(lambda: digests_equal([a, b, m]), 15, what="convergence")
    m.stop()
    for node, mode in ((a, "equivocate-a"), (b, "equivocate-b")):
        p = subprocess.run([os.path.join(env.tools, "peerprobe"), "--data", m.dir, "--connect", node.addr,
                            "--mode", mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30 * SLOW)
        assert p.returncode == 3, (mode, p.returncode, p.stdout, p.stderr)
    wait_until(lambda: status(a)[1]["forks"] >= 1, 15, what="fork evidence on a")
    rc, st = status(a)
    forks = [p for p in st["health"]["problems"] if p["code"] == "fork"]
    assert rc == 1 and st["health"]["ok"] is False and forks, st
    assert m.code in forks[0]["text"] and m.muni in forks[0]["text"] and m.member_id() in forks[0]["text"], forks
    rc, out, err = a.run("status", check=False)
    assert rc == 1 and "FORKS:" in out and f"PROBLEM:   fork: member {m.code}" in out, out
