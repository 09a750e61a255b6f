"""Lost or stolen key (issue 12, DESIGN §2): real daemons on loopback.  x
writes and loses its node; a thief holding a copy of its old key writes one
more record, which every node takes before anyone notices; b and c rekey x
to a new key (b naming the last record x's staff recognise, c what it
holds): at the quorum the new key signs from the lowest seq they named + 1,
the thief's record goes from every log to quarantine, a record the old key
signs later is stored nowhere (not yet valid: never quarantined from a peer)
without closing the relay that forwards it, and x's node restored empty with the new key catches up on its
own log (hellos of a majority of the other members), continues its seq and
writes again, reaching everyone; all digests equal at the end."""
import os
import re
import shutil
import subprocess

from harness import SLOW, Node, digests_equal, wait_until


def member_of(node, mid):
    return next((m for m in node.ctl_json("member", "list") if m["member_id"] == mid), None)


def has_note(node, key, author):
    rc, out, _ = node.run("get", "note", key, "--author", author, "--json", check=False)
    return rc == 0 and author in out


def probe(env, relay, target, source):
    args = [os.path.join(env.tools, "peerprobe"), "--data", relay.dir, "--connect", target.addr,
            "--mode", "relay-from", "--source", source]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30 * SLOW)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_rekey_after_loss(env):
    a = env.found()   # admission 1, expulsion quorum 2
    b = env.join(a)
    c = env.join(a)
    x = env.join(a)
    x_id = x.member_id()
    for i in range(3):
        x.ctl("put", "note", f"x{i}", f"v={i}")
    wait_until(lambda: digests_equal([a, b, c, x]), 30, what="four nodes in sync")
    n = x.status()["seq"]

    # the loss: x's node is gone; a thief holds a copy of its old key and store
    x.stop()
    thief_dir = os.path.join(env.tmp, "thief")
    at_loss = os.path.join(env.tmp, "x-at-loss")
    shutil.copytree(x.dir, thief_dir)
    shutil.copytree(x.dir, at_loss)
    shutil.rmtree(x.dir)
    for d in (thief_dir, at_loss):
        for f in ("catalogd.lock", "catalogd.sock"):
            if os.path.exists(os.path.join(d, f)):
                os.remove(os.path.join(d, f))
    thief = Node(env, "thief", x.code, x.muni)
    thief.dir = thief_dir
    thief.start()
    thief.ctl("put", "note", "stolen", "v=thief")
    wait_until(lambda: all(has_note(m, "stolen", x_id) for m in (a, b, c)), 30,
               what="the thief's record on every node (nobody noticed yet)")
    thief.stop()

    # x's administrator makes a new key; b and c vote to rekey x to it
    r = env.node(name="x-restored")
    r.code, r.muni = x.code, x.muni
    shutil.rmtree(r.dir)
    r.init()
    new_pem = r.cert_file()
    new_key = r.member_id()
    assert new_key != x_id
    reason = "鍵の紛失 <script>&"
    out = b.ctl("member", "rekey", x_id, new_pem, "--reason", reason, "--seq", n)
    assert "waits for more members' votes" in out, out
    m = member_of(a, x_id)
    assert m["key"] == x_id, m   # one vote is not the quorum
    out = c.ctl("member", "rekey", x_id, new_pem, "--reason", reason)
    assert f"up to seq {n + 1}" in out, out   # c held the thief's record
    for node in (a, b, c):
        wait_until(lambda: (member_of(node, x_id) or {}).get("key") == new_key, 30,
                   what=f"{node.name} to put x's new key in force")
        m = member_of(node, x_id)
        assert m["status"] == "member" and m["key_from_seq"] == n + 1, (node.name, m)
    # the cut is the lowest seq the quorum named: the thief's record is gone
    wait_until(lambda: not any(has_note(m, "stolen", x_id) for m in (a, b, c)), 30,
               what="the thief's record dropped from every log")
    assert all(has_note(m, "x2", x_id) for m in (a, b, c))
    assert all("moved records of a rekeyed member" in m.logtext() for m in (a, b, c))
    wait_until(lambda: digests_equal([a, b, c]), 30, what="a, b, c in sync after the rekey")
    # member show: the keys over time, and the votes with their reason
    sh = a.ctl_json("member", "show", x_id)
    assert [(k["from_seq"], k["key"], k["how"]) for k in sh["keys"]] == \
        [(1, x_id, "admitted"), (n + 1, new_key, "rekeyed")], sh["keys"]
    assert sh["keys"][0]["to_seq"] == n, sh["keys"]
    rk = [v for v in sh["votes"] if v["op"] == "rekey"]
    assert len(rk) == 2 and all(v["reason"] == reason for v in rk), rk
    text = a.ctl("member", "show", x_id)
    assert "keys (2):" in text and "rekeyed" in text and reason in text, text

    # the old key's next record, relayed by b (an honest relay that took it
    # before the rekey, say): not stored by a and c, the relay not closed
    b.stop()
    for target in (a, c):
        rc, out, err = probe(env, b, target, at_loss)
        assert "recv error" not in out, (target.name, rc, out, err)
        wait_until(lambda: "after the rekey of its key" in target.logtext(), 10,
                   what=f"{target.name} to log the refused record of the replaced key")
        assert not has_note(target, "relayed", x_id)
        # counted as not yet valid, never put in quarantine from a peer
        mt = target.ctl("metrics")
        assert re.search(r"^catalogd_rekey_not_yet_total [1-9]", mt, re.M), mt
    b.start()

    # x's node restored empty with the new key: it catches up on its own
    # log from its peers, then writes at seq n + 1
    r.run("join", "--sponsor", b.cert_file(), "--address", b.addr, "--member", x_id)
    r.start()
    # a write before it caught up is refused (before the alliance arrives,
    # as on any new node; after, until its own log is in)
    rc, out, err = r.run("put", "note", "too-early", "v=0", check=False)
    if rc == 0:
        assert "caught up on its own log at seq" in r.logtext(), (out, err)
    else:
        assert any(w in err for w in ("caught up on its own log", "no alliance yet", "not (yet) a current member",
                                      "not yet checked the genesis")), (rc, out, err)
    wait_until(lambda: "caught up on its own log at seq" in r.logtext(), 60, what="x's restored node to catch up")
    assert r.member_id() == x_id or r.status()["member_id"] == x_id
    r.ctl("put", "note", "x-again", "v=new")
    st = r.status()
    assert st["seq"] >= n + 1, st
    assert has_note(r, "x2", x_id)
    for node in (a, b, c):
        wait_until(lambda: has_note(node, "x-again", x_id), 30, what=f"x's new record on {node.name}")
    wait_until(lambda: digests_equal([a, b, c, r]), 30, what="every node in sync at the end")
    for node in (a, b, c):
        assert "bad signature" not in node.logtext(), node.name


def test_rekey_restored_from_backup(env):
    """x's node restored from a backup taken before its last records, with
    the new key in place of the lost one: it fetches the rest of its own
    log from its peers, then writes on after it."""
    a = env.found()
    b = env.join(a)
    c = env.join(a)
    x = env.join(a)
    x_id = x.member_id()
    x.ctl("put", "note", "before-backup", "v=0")
    backup = os.path.join(env.tmp, "x.backup")
    x.run("backup", backup)
    x.ctl("put", "note", "after-backup", "v=1")
    wait_until(lambda: digests_equal([a, b, c, x]), 30, what="four nodes in sync")
    n = x.status()["seq"]
    x.stop()
    shutil.rmtree(x.dir)

    fresh = env.node(name="x-newkey")
    fresh.code, fresh.muni = x.code, x.muni
    shutil.rmtree(fresh.dir)
    fresh.init()
    new_key = fresh.member_id()
    new_pem = fresh.cert_file()
    b.ctl("member", "rekey", x_id, new_pem, "--reason", "サーバー盗難")
    c.ctl("member", "rekey", x_id, new_pem, "--reason", "サーバー盗難")
    wait_until(lambda: all((member_of(m, x_id) or {}).get("key") == new_key for m in (a, b, c)), 30,
               what="x's new key in force everywhere")

    r = Node(env, "x-from-backup", x.code, x.muni)
    r.run("restore", backup, "--data", r.dir, data=False)
    for f in ("node.key", "node.crt"):
        shutil.copy(os.path.join(fresh.dir, f), os.path.join(r.dir, f))
    os.chmod(os.path.join(r.dir, "node.key"), 0o600)
    _, out, _ = r.run("join", "--sponsor", b.cert_file(), "--address", b.addr, "--member", x_id)
    assert "restored backup of member" in out, out
    # only b reachable: one hello of three other members is no majority,
    # even once r holds all b has of its own log (x's last records may
    # have reached only the others)
    a.stop()
    c.stop()
    r.start()
    wait_until(lambda: has_note(r, "after-backup", x_id), 60, what="the restored backup to fetch its log from b")
    wait_until(lambda: r.status()["seq"] == n, 30, what="the restored backup to hold its log up to seq n")
    rc, out, err = r.run("put", "note", "minority", "v=0", check=False)
    assert rc != 0 and "caught up on its own log" in err, (rc, out, err)
    assert "caught up on its own log at seq" not in r.logtext()
    # a second member's hello: the majority (2 of 3)
    a.start()
    wait_until(lambda: "caught up on its own log at seq" in r.logtext(), 60, what="the restored backup to catch up")
    assert "hellos of 2 of 3 other active members" in r.logtext() or \
        "hellos of 3 of 3 other active members" in r.logtext(), r.logtext()[-2000:]
    c.start()
    r.ctl("put", "note", "after-restore", "v=2")
    assert r.status()["seq"] == n + 1
    for node in (a, b, c):
        wait_until(lambda: has_note(node, "after-restore", x_id), 30, what=f"x's new record on {node.name}")
    wait_until(lambda: digests_equal([a, b, c, r]), 30, what="every node in sync at the end")
