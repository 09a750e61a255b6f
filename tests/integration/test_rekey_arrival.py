"""A rekey's arrival rules (docs/DECISIONS.md 21), real daemons on loopback.
The derivation that decides a rekey is not exercised here: the tool
tests/tools/rekeyrule writes into a stopped node's store what it derives
(an open epoch proposing a key, or a decided rekey with its cut).

A record of a member signed by the key of a rekey this node has not
decided yet waits like a gap: not stored, no "bad signature", the relay
stays connected; once the rekey is decided the same record is taken.  A
record signed by the key the rekey retired, after the rekey's cut, is
refused from the log (kept apart, tests/unit/test_rekey.c) without closing
the relay that sent it."""
import os
import re
import subprocess

from harness import SLOW, digests_equal, wait_until


def refused(node, reason):
    m = re.search(r'^catalogd_records_refused_total\{reason="%s"\} (\d+)' % reason, node.ctl("metrics"), re.M)
    return int(m.group(1)) if m else 0


def established(node, other):
    want = other.member_id()
    return any(p.get("member_id") == want and p["state"] == "established" for p in node.ctl_json("peers"))


def has_note(node, key, author):
    rc, out, _ = node.run("get", "note", key, "--author", author, "--json", check=False)
    return rc == 0 and author in out


def rekeyrule(env, node, member, kdir, *args):
    p = subprocess.run([os.path.join(env.tools, "rekeyrule"), "--data", node.dir, "--member", member,
                        "--key-dir", kdir, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30 * SLOW)
    assert p.returncode == 0, (args, p.stdout, p.stderr)
    return p.stdout.decode()


def test_new_key_waits_and_old_key_after_the_cut_is_refused(env):
    a = env.found()
    m = env.join(a)   # the member whose key is lost
    c = env.join(a)   # a relay that will hold the new key's first record
    d = env.join(a)   # a relay that takes the old key's record after the cut
    mid = m.member_id()
    m.ctl("put", "note", "m1", "v=1")
    wait_until(lambda: digests_equal([a, m, c, d]), 20, what="four nodes in sync")
    # the thief (M's old key) writes after the cut; only m and d take it
    a.stop()
    c.stop()
    m.ctl("put", "note", "thief", "v=after the cut")
    wait_until(lambda: has_note(d, "thief", mid), 20, what="d to take the old key's record")
    m.stop()
    d.stop()
    kdir = os.path.join(env.tmp, "newkey")

    # a: an epoch of M is open at its cut, proposing K; c: K signs M's next seq
    rekeyrule(env, a, mid, kdir, "--open", "vv")
    rekeyrule(env, c, mid, kdir, "--sign", "note", "k1", "v=by the new key")
    a.start()
    c.start()
    wait_until(lambda: refused(a, "rekey_wait") >= 1, 20 * SLOW, what="a to set the new key's record aside")
    assert established(a, c)
    assert "bad signature" not in a.logtext()
    assert not has_note(a, "k1", mid)

    # decided: K from the cut on; d's record of the old key after the cut is
    # refused, d stays connected, and c's record of K is taken
    c.stop()
    a.stop()
    rekeyrule(env, a, mid, kdir, "--decide", "vv")
    a.start()
    d.start()
    wait_until(lambda: refused(a, "rekey_cut") >= 1, 20 * SLOW, what="a to refuse the old key's record")
    assert "after the rekey's cut" in a.logtext()
    assert "kept apart, out of its log" in a.logtext()
    assert established(a, d)
    assert "bad signature" not in a.logtext()
    assert not has_note(a, "thief", mid)
    c.start()
    wait_until(lambda: has_note(a, "k1", mid), 20 * SLOW, what="a to take the new key's record")
    assert not has_note(a, "thief", mid)


def test_new_key_after_its_predecessor_in_one_batch_waits(env):
    """A relay sends M's record at the cut (old key) and the new key's
    first record after it, likely in one batch, to a node where the epoch
    is open.  Triage gives the second its predecessor's key; it does not
    verify there, and that is no forgery: it waits under the epoch's key
    (rekey_wait; or, had the votes come in the same batch, chain_wait
    first: tests/unit/test_rekeyrand.c models that, REKEY_CHAINWAIT) and
    the relay stays connected."""
    a = env.found()
    m = env.join(a)   # the member whose key is lost
    c = env.join(a)   # the relay: holds M's record at the cut and K's next one
    e = env.join(a)   # the node that receives both in one batch
    mid = m.member_id()
    m.ctl("put", "note", "m1", "v=1")
    wait_until(lambda: digests_equal([a, m, c, e]), 20, what="four nodes in sync")
    e.stop()
    m.ctl("put", "note", "m2", "v=at the cut")
    wait_until(lambda: has_note(c, "m2", mid), 20, what="c to take M's record at the cut")
    for n in (a, m, c):
        n.stop()
    kdir = os.path.join(env.tmp, "newkey")
    rekeyrule(env, c, mid, kdir, "--sign", "note", "k1", "v=by the new key")
    # e holds M up to the seq before the cut: the cut is e's vv + 1
    rekeyrule(env, e, mid, kdir, "--open", "vv+1")
    e.start()
    c.start()
    wait_until(lambda: has_note(e, "m2", mid), 20 * SLOW, what="e to take M's record at the cut")
    wait_until(lambda: refused(e, "rekey_wait") >= 1, 20 * SLOW, what="e to set the new key's record aside")
    assert "bad signature" not in e.logtext()
    assert established(e, c)
    assert not has_note(e, "k1", mid)
