"""Membership derived from the log (issue 12): a fork between two member
records leaves every node with the same membership and the same digest,
whichever version each node held first; a newcomer handed a sponsor outside
the genesis chain refuses that genesis."""
import os
import subprocess

from harness import digests_equal, wait_until, SLOW


def _probe(env, data, target, mode, *extra):
    args = [os.path.join(env.tools, "peerprobe"), "--data", data, "--connect", target.addr,
            "--mode", mode] + [str(x) for x in extra]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60 * SLOW)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def _members(node):
    """member id -> (status, address), as the node derived them."""
    return {m["member_id"]: (m["status"], m["address"]) for m in node.ctl_json("member", "list")}


def test_member_record_fork_same_membership_everywhere(env):
    """m signs two member records at one seq: a vote to expel x (with a's
    vote, the quorum of two) shown to a, and a new address of its own shown
    to b.  When a and b meet, both keep the version with the lower hash and
    derive the same members from it: x expelled exactly when the vote won."""
    a = env.found()
    b = env.join(a)
    m = env.join(a)
    x = env.join(a)
    xid = x.member_id()
    a.run("member", "expel", xid)   # one vote of the two needed
    wait_until(lambda: digests_equal([a, b, m, x]), 20, what="convergence")
    assert _members(a)[xid][0] == "member"
    for n in (x, m, b):
        n.stop()
    rc, out_a, err = _probe(env, m.dir, a, "member-fork-a", "--target-id", xid)
    assert rc == 3 and "recv error" not in out_a, (rc, out_a, err)
    wait_until(lambda: _members(a)[xid][0] == "expelled", 10, what="x expelled on a")
    a.stop()
    b.start()
    rc, out_b, err = _probe(env, m.dir, b, "member-fork-b")
    assert rc == 3 and "recv error" not in out_b, (rc, out_b, err)
    mid = m.member_id()
    wait_until(lambda: _members(b)[mid][1] == "192.0.2.99:7400", 10, what="m's new address on b")
    assert _members(b)[xid][0] == "member"
    ha = out_a.split()[1]
    hb = out_b.split()[1]
    vote_wins = ha < hb
    a.start()
    wait_until(lambda: a.status()["forks"] == 1 and b.status()["forks"] == 1, 20,
               what="fork evidence on both nodes")
    wait_until(lambda: digests_equal([a, b]), 15, what="equal digests")
    wait_until(lambda: _members(a) == _members(b), 10, what="the same members on both nodes")
    ma = _members(a)
    assert ma[xid][0] == ("expelled" if vote_wins else "member"), (vote_wins, ma)
    assert (ma[mid][1] == "192.0.2.99:7400") == (not vote_wins), (vote_wins, ma)
    # what each node derived survives a restart unchanged
    a.stop()
    a.start()
    assert _members(a) == _members(b)
