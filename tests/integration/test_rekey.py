"""Rekey of a lost or stolen key (issue 12, docs/DECISIONS.md "Rekey of a
lost or stolen key"): real daemons on loopback.  Three members A, B, X
(rekey quorum 2).  X's machine is lost: its data directory is deleted, and
a thief holds a copy of its key and data.  B votes `member rekey X NEW.pem`
(one vote: nothing is decided, the new key is refused at the handshake); the
thief writes a certification beyond the cut B fixed, and only A gets it; A
votes too and the rekey is decided: A closes the thief's connection, drops
its record from X's log, and A and B refuse the old key at the handshake.
X's node, restored on an empty machine with the new key (catalogctl init,
then join --rekeyed), becomes X, catches up on X's log up to the cut and
writes on under the new key; A and B take its record, and the three
digests are equal."""
import os
import shutil
import subprocess

from harness import SLOW, Node, digests_equal, wait_until


def cert(node, key, company, check=True):
    return node.run("certification", "add", key, f"事業者名={company}", "製品・サービス名=防災アプリ",
                    "分野=防災", "認定日=2026-04-01", "有効期限=fy-end+2", check=check)


def ctl_call(node, req):
    """One control request through the bench client (catalogctl has no verb for vv)."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                    "bench"))
    from ctlclient import Ctl
    c = Ctl(os.path.join(node.dir, "control.sock"))
    try:
        return c.call(req)
    finally:
        c.close()


def vv_of(node, member_id):
    """The highest seq of member_id's log that node holds."""
    return next((s for a, s in ctl_call(node, {"cmd": "vv"})["vv"] if a == member_id), 0)


def holds(node, key, author):
    rc, out, _ = node.run("certification", "show", key, "--author", author, "--json", check=False)
    return rc == 0


def probe(env, data, target):
    """A TLS handshake with the identity in data: "recv hello" only if accepted."""
    p = subprocess.run([os.path.join(env.tools, "peerprobe"), "--data", data, "--connect", target.addr,
                        "--mode", "cert-ok"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30 * SLOW)
    return p.stdout.decode()


def established(node, member_id):
    return any(p.get("member_id") == member_id and p["state"] == "established" for p in node.ctl_json("peers"))


def test_rekey_of_a_stolen_key(env):
    a = env.found()
    b = env.join(a)
    x = env.join(a)
    x_id = x.member_id()
    for i in range(3):
        cert(x, f"文京-2026-{i:03d}", "株式会社エックス")
    wait_until(lambda: digests_equal([a, b, x]), 30, what="three nodes in sync")
    n0 = vv_of(a, x_id)
    assert n0 >= 3 and vv_of(b, x_id) == n0, n0

    # X's machine is lost; the thief kept a copy of its key and data
    x.stop()
    thief_dir = os.path.join(env.tmp, "thief")
    shutil.copytree(x.dir, thief_dir)
    shutil.rmtree(x.dir)
    # X's administrator makes a new key on an empty machine, same code and name
    x2 = Node(env, "x2", x.code, x.muni)
    x2.port, x2.addr = x.port, x.addr   # the same address as before
    x2.init()
    new_pem = x2.cert_file()
    new_key = x2.member_id()
    assert new_key != x_id

    # B votes first: it fixes the cut at the seq of X it holds
    out = b.ctl("member", "rekey", x.code, new_pem, "--reason", "鍵を保存したPCの盗難")
    assert f"{x.code} {x.muni} の鍵の再発行に投票しました" in out, out
    assert f"固定する時点: seq {n0}（このノードが持つこの団体の最新の記録" in out, out
    assert f"元の鍵で署名された seq {n0 + 1} 以降の記録は拒否されます" in out, out
    assert "1 / 2 票（あと 1 票で決定" in out, out
    # one vote is not enough, on both nodes
    for n in (a, b):
        wait_until(lambda: (n.ctl_json("member", "show", x_id).get("rekey_epoch") or {}).get("cut") == n0, 20,
                   what=f"{n.name} to hold B's vote")
        shown = n.ctl_json("member", "show", x_id)
        assert shown["rekeys"] == [], shown
        props = shown["rekey_epoch"]["proposals"]
        assert [(p["key"], p["votes"]) for p in props] == [(new_key, 1)], props
        assert [(v["code"], v["name"]) for v in props[0]["voters"]] == [(b.code, b.muni)], props
    text = a.ctl("member", "show", x.code)
    assert f"投票中の鍵の再発行: 時点 seq {n0}" in text and f"{b.code} {b.muni}" in text, text
    assert f"時点を固定した団体: {b.code} {b.muni}\n" in text, text

    # the restored node joins with the new key: refused at the handshake
    # while only one vote is in, and it refuses to write
    _, out, _ = x2.run("join", "--sponsor", a.cert_file(), "--address", a.addr, "--rekeyed", x_id)
    assert f"このノードは {x_id} になります" in out, out
    x2.start()
    wait_until(lambda: f"member id {new_key}" in a.logtext() and "refused peer" in a.logtext(), 20,
               what="A to refuse the new key after one vote")
    rc, _, err = cert(x2, "文京-2026-900", "株式会社エックス", check=False)
    assert rc == 3 and "鍵の再発行で" in err and "待っています" in err, (rc, err)

    # the thief, with B away, writes a certification beyond the cut; A takes it
    b.stop()
    thief = Node(env, "thief", x.code, x.muni)
    thief.dir = thief_dir
    thief.start()
    wait_until(lambda: established(a, x_id), 20, what="the thief to connect to A with X's old key")
    cert(thief, "文京-2026-666", "株式会社ニセモノ")
    wait_until(lambda: holds(a, "文京-2026-666", x_id), 20, what="A to take the thief's record")
    assert vv_of(a, x_id) == n0 + 1

    # A votes: without --cut it takes the open epoch's cut, and that is the quorum
    out = a.ctl("member", "rekey", x_id, new_pem, "--reason", "鍵を保存したPCの盗難")
    assert f"固定する時点: seq {n0}（すでに始まっている投票が固定した時点" in out, out
    assert f"2 / 2 票 — 決定しました。seq {n0 + 1} から新しい鍵" in out, out
    # live: A closes the thief's connection at once, with the reason
    wait_until(lambda: "a key that a rekey by quorum replaced" in a.logtext(), 10,
               what="A to close the thief's connection")
    thief.stop()
    # the thief's record is gone from A's log: X's log ends at the cut
    assert vv_of(a, x_id) == n0, vv_of(a, x_id)
    assert not holds(a, "文京-2026-666", x_id)
    rc, out, _ = a.run("history", "certification", "文京-2026-666", "--author", x_id, check=False)
    assert "ニセモノ" not in out, out

    # B comes back and learns the decision from A
    b.start()
    for n in (a, b):
        wait_until(lambda: [(r["cut"], r["from_seq"], r["key"]) for r in
                            n.ctl_json("member", "show", x_id)["rekeys"]] == [(n0, n0 + 1, new_key)], 30,
                   what=f"{n.name} to hold the decision")
        shown = n.ctl_json("member", "show", x_id)
        assert sorted((v["code"], v["name"]) for v in shown["rekeys"][0]["voters"]) == \
            sorted([(a.code, a.muni), (b.code, b.muni)]), shown
        assert [(k["key"], k["from_seq"], k["how"]) for k in shown["keys"]] == \
            [(x_id, 1, "admitted"), (new_key, n0 + 1, "rekeyed")], shown["keys"]
    text = b.ctl("member", "show", x.code)
    assert "鍵の再発行（決定 1 件）" in text and f"seq {n0 + 1}" in text, text
    # B never holds the thief's record, and the old key is refused at both handshakes
    assert not holds(b, "文京-2026-666", x_id)
    for n in (a, b):
        assert "recv hello" not in probe(env, thief_dir, n), n.name
        wait_until(lambda: "presented a key of that member that a rekey by quorum replaced" in n.logtext(), 10,
                   what=f"{n.name} to refuse the old key")
    assert not holds(b, "文京-2026-666", x_id) and vv_of(b, x_id) == n0
    wait_until(lambda: digests_equal([a, b]), 30, what="A and B in sync without the thief's record")

    # the restored node: accepted with the new key, it becomes X, holds X's
    # log up to the cut, and writes on at the cut + 1
    wait_until(lambda: x2.ctl_json("status")["member_id"] == x_id, 60, what="the restored node to become X")
    wait_until(lambda: vv_of(x2, x_id) == n0, 60, what="the restored node to hold X's log up to the cut")
    for i in range(3):
        assert holds(x2, f"文京-2026-{i:03d}", x_id), i
    assert "this node is member" in x2.logtext()
    cert(x2, "文京-2026-100", "株式会社エックス")
    assert vv_of(x2, x_id) == n0 + 1
    for n in (a, b):
        wait_until(lambda: holds(n, "文京-2026-100", x_id), 30, what=f"{n.name} to take X's new record")
        assert vv_of(n, x_id) == n0 + 1
    wait_until(lambda: digests_equal([a, b, x2]), 30, what="three nodes in sync after the rekey")
    for n in (a, b, x2):
        assert "bad signature" not in n.logtext(), n.name

    # a newcomer after the rekey syncs X's log across the cut from its
    # sponsor: the records before the cut verify under the old key, those
    # after it under the new one, and the sponsor is not closed for a bad
    # signature (a run of one author's records in a batch takes its
    # predecessor's key only where the author's key does not change)
    cert(x2, "文京-2026-101", "株式会社エックス")
    c = env.join(a)
    wait_until(lambda: digests_equal([a, b, x2, c]), 60, what="the newcomer to sync X's log across the cut")
    assert vv_of(c, x_id) == n0 + 2 and holds(c, "文京-2026-100", x_id) and holds(c, "文京-2026-001", x_id)
    for n in (a, c):
        assert "bad signature" not in n.logtext(), n.name
    c.stop()

    # the restored node's files swapped back to the old key (a backup of
    # the wrong files): the node says so at the start and refuses to sign
    # (decision 13: the old key is not the one in force at its next seq)
    x2.stop()
    old = Node(env, "x-old", x.code, x.muni)
    shutil.copytree(x2.dir, old.dir)
    for f in ("node.key", "node.crt"):
        shutil.copy(os.path.join(thief_dir, f), os.path.join(old.dir, f))
    os.chmod(os.path.join(old.dir, "node.key"), 0o600)
    old.start(listen=False)
    assert "replaced by a rekey by quorum" in old.logtext() and "join --rekeyed" in old.logtext()
    assert old.ctl_json("status")["member_id"] == x_id
    rc, _, err = cert(old, "文京-2026-901", "株式会社エックス", check=False)
    assert rc == 3 and "鍵の再発行（加盟団体の投票）で無効になりました" in err, (rc, err)
    assert vv_of(old, x_id) == n0 + 2


def test_rekey_refusals(env):
    """member rekey refuses, exit 3 with a Japanese reason: this node, an
    unknown member, one not active, an unreadable file, a file that is no
    certificate, the member's current key, another member's key, a
    certificate of another municipality; no --reason is a usage error."""
    a = env.found()
    b = env.join(a)
    c = env.join(a)
    fresh = Node(env, "fresh", b.code, b.muni)
    fresh.init()
    pem = fresh.cert_file()

    def refused(node, *args):
        rc, out, err = node.run("member", "rekey", *args, check=False)
        assert rc == 3, (args, rc, out, err)
        return err

    assert "このノード自身" in refused(a, a.member_id(), pem, "--reason", "r")
    assert "見つかりません" in refused(a, "999999", pem, "--reason", "r")
    assert "読めません" in refused(a, b.code, os.path.join(env.tmp, "none.pem"), "--reason", "r")
    junk = os.path.join(env.tmp, "junk.pem")
    with open(junk, "w") as f:
        f.write("これは証明書ではない\n")
    assert "証明書ではありません" in refused(a, b.code, junk, "--reason", "r")
    # a file larger than a certificate can be is refused whole, not cut
    # short (member add reads it the same way)
    big = os.path.join(env.tmp, "big.pem")
    with open(pem, "rb") as f, open(big, "wb") as g:
        g.write(f.read() + b"\n" * 70000)
    assert "大きすぎます" in refused(a, b.code, big, "--reason", "r")
    rc, _, err = a.run("member", "add", big, check=False)
    assert rc != 0 and "大きすぎます" in err, (rc, err)
    assert "いまの鍵" in refused(a, b.code, b.cert_file(), "--reason", "r")
    assert "別の加盟団体" in refused(a, b.code, c.cert_file(), "--reason", "r")
    other = env.node(name="other")   # another municipality's code
    assert "団体コード" in refused(a, b.muni, other.cert_file(), "--reason", "r")
    rc, _, err = a.run("member", "rekey", b.code, pem, check=False)
    assert rc == 2 and "--reason" in err, (rc, err)
    # a member that left
    c.ctl("member", "leave")
    wait_until(lambda: next(m for m in a.ctl_json("member", "list") if m["member_id"] == c.member_id())["status"]
               == "left", 20, what="A to see C leave")
    cfresh = Node(env, "cfresh", c.code, c.muni)
    cfresh.init()
    assert "加盟中ではありません" in refused(a, c.member_id(), cfresh.cert_file(), "--reason", "r")
    # the restricted socket refuses the write
    help_rows = {r["name"]: r["access"] for r in ctl_call(a, {"cmd": "help"})["commands"]}
    assert help_rows.get("member_rekey") == "write", help_rows
