"""Anti-entropy against a member who equivocates on purpose (issue 15): two
nodes shown different versions of the same seqs find every difference when
they meet, and both end with the fork evidence, the same records and the
same digest."""
import os
import subprocess

from harness import digests_equal, wait_until, SLOW


def _probe(env, data, target, mode, *extra):
    args = [os.path.join(env.tools, "peerprobe"), "--data", data, "--connect", target.addr,
            "--mode", mode] + [str(x) for x in extra]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60 * SLOW)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def _apart(env):
    """Founder a, member b, member m (the equivocator); all converged, then m
    and b stopped so that a and b can be shown different things apart."""
    a = env.found()
    b = env.join(a)
    m = env.join(a)
    wait_until(lambda: digests_equal([a, b, m]), 15, what="convergence")
    m.stop()
    b.stop()
    return a, b, m


def test_single_seq_equivocation_repaired_when_nodes_meet(env):
    a, b, m = _apart(env)
    rc, out, err = _probe(env, m.dir, a, "equivocate-a")
    assert rc == 3 and "recv error" not in out, (rc, out, err)
    a.stop()
    b.start()
    rc, out, err = _probe(env, m.dir, b, "equivocate-b")
    assert rc == 3 and "recv error" not in out, (rc, out, err)
    # same version vectors, different records at the last seq of m
    a.start()
    wait_until(lambda: a.status()["forks"] == 1 and b.status()["forks"] == 1, 20,
               what="fork evidence on both nodes")
    wait_until(lambda: digests_equal([a, b]), 15, what="equal digests")
    wins = {n.ctl_json("get", "note", "fork", "--author", m.member_id())[0]["hash"] for n in (a, b)}
    assert len(wins) == 1, wins


def test_xor_balanced_split_repaired_on_both_nodes(env):
    """The attack the XOR digest could not see: version a of 300 records to
    one node, version b of a subset whose hash differences XOR to zero to the
    other.  Equal version vectors, equal XORs; the log chains differ."""
    a, b, m = _apart(env)
    mid = m.member_id()
    rc, out, err = _probe(env, m.dir, a, "split-a", "--count", 300)
    assert rc == 3 and "recv error" not in out, (rc, out, err)
    first = out.splitlines()[0].split()
    assert first[0] == "split" and first[1] == "300", out
    k = int(first[3])
    differ = sorted(int(l.split()[1]) for l in out.splitlines() if l.startswith("seq "))
    assert k == len(differ) and k >= 1, out
    wait_until(lambda: a.status()["records"] >= 300, 15, what="a holds version a")
    a.stop()
    b.start()
    rc, out2, err = _probe(env, m.dir, b, "split-b", "--count", 300)
    assert rc == 3 and "recv error" not in out2, (rc, out2, err)
    assert out2.splitlines()[0] == out.splitlines()[0], (out, out2)
    wait_until(lambda: b.status()["records"] >= 300, 15, what="b holds the mix")
    sb = b.status()
    assert sb["forks"] == 0
    a.start()
    wait_until(lambda: a.status()["forks"] == k and b.status()["forks"] == k, 60,
               what=f"{k} forks on both nodes")
    wait_until(lambda: digests_equal([a, b]), 20, what="equal digests")
    # evidence for exactly as many seqs as differ; equal digests mean equal
    # logs, so the same winner everywhere; the same current records
    base = int(first[5])
    for i in sorted({0, 299} | {d - base - 1 for d in differ[:5]}):
        ga = a.ctl_json("get", "note", f"split-{i}", "--author", mid)[0]["hash"]
        gb = b.ctl_json("get", "note", f"split-{i}", "--author", mid)[0]["hash"]
        assert ga == gb, (i, ga, gb)
    assert "equivocation" in a.logtext() and "equivocation" in b.logtext()
