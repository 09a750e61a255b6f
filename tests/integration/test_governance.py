"""The alliance over time (issue 12, lane B): admission by quorum, leaving
and expulsion applied live (open connections closed within seconds, the
handshake refusing from then on), a former member's later records refused
everywhere without closing the relay that forwards them, and its earlier
records still shown, marked （脱退） or （除名）."""
import os
import subprocess
import time
import urllib.parse
import urllib.request

from harness import SLOW, digests_equal, free_port, wait_until


def members(node):
    return {m["member_id"]: m for m in node.ctl_json("member", "list")}


def status_of(node, other):
    m = members(node).get(other.member_id())
    return m and m["status"]


def established(node, other):
    """node holds an established connection with other."""
    want = other.member_id()
    return any(p.get("member_id") == want and p["state"] == "established" for p in node.ctl_json("peers"))


def cert(node, key, company):
    node.ctl("certification", "add", key, f"事業者名={company}", "製品・サービス名=防災アプリ", "分野=防災",
             "認定日=2026-04-01", "有効期限=fy-end+2")


def web(node, path):
    with urllib.request.urlopen(node.web_url + path, timeout=10 * SLOW) as r:
        return r.read().decode("utf-8-sig")


def probe(env, node, target, mode, source=None):
    args = [os.path.join(env.tools, "peerprobe"), "--data", node.dir, "--connect", target.addr, "--mode", mode]
    if source:
        args += ["--source", source.dir]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30 * SLOW)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def pending_join(env, sponsor, node=None):
    """Like env.join, but the newcomer may stay pending: not waited for."""
    n = node or env.node()
    _, out, _ = sponsor.run("member", "add", n.cert_file(), "--address", n.addr)
    n.run("join", "--sponsor", sponsor.cert_file(), "--address", sponsor.addr)
    n.start()
    return n, out


def test_admission_quorum_two(env):
    """--admission 2: the founder alone admits the second member (quorum
    min(2, 1 active) = 1); after that a newcomer needs two endorsements, is
    refused at the handshake while pending, and is connected, writing and
    replicated once the second member endorses it."""
    a = env.node()
    _, out, _ = a.run("alliance", "create", "--name", "クォーラム連合（試験）", "--admission", "2",
                      "--address", a.addr)
    assert "admission: 2 endorsements" in out, out
    a.start()
    b = env.join(a)   # 1 active member: one endorsement is the quorum
    assert status_of(a, b) == "member"

    # c: a endorses; 2 active members, so c stays pending
    c, out = pending_join(env, a)
    assert "1 of 2 endorsements, pending" in out, out
    cid = c.member_id()
    wait_until(lambda: status_of(b, c) == "pending", 15, what="b to learn of pending c")
    ml = members(a)[cid]
    assert ml["status"] == "pending" and ml["needed"] == 2 and ml["endorsements"] == 1, ml
    assert [(e["code"], e["name"]) for e in ml["endorsed_by"]] == [(a.code, a.muni)], ml
    table = a.ctl("member", "list")
    assert f"1 of 2: {a.code} {a.muni}" in table, table
    # pending: refused at a's handshake, and it holds nothing
    wait_until(lambda: "not admitted yet (pending endorsements)" in a.logtext(), 15,
               what="a to refuse pending c at the handshake")
    time.sleep(1.0 * SLOW)
    assert not established(a, c) and c.status()["peers"] == 0
    # a record signed by pending c, relayed by b (b's daemon stopped for the
    # probe): not accepted on a
    b.stop()
    rc, pout, _ = probe(env, b, a, "relay-from", source=c)
    b.start()
    assert not any(r for r in a.ctl_json("get", "note", "relayed", "--author", cid)), "pending c's record stored"

    # b endorses: c is a member everywhere, connects and replicates
    _, out, _ = b.run("member", "add", c.cert_file(), "--address", c.addr)
    assert "admitted member" in out, out
    wait_until(lambda: status_of(a, c) == "member", 15, what="c admitted on a")
    c.wait_member(30)
    wait_until(lambda: established(a, c), 30, what="a and c connected")
    c.ctl("put", "note", "hello", "text=加盟しました")
    wait_until(lambda: a.ctl_json("get", "note", "hello", "--author", cid) and
               b.ctl_json("get", "note", "hello", "--author", cid), 15, what="c's record on a and b")

    # d, with 3 active members: one endorsement is not enough, two are
    d, out = pending_join(env, a)
    assert "1 of 2 endorsements, pending" in out, out
    wait_until(lambda: status_of(c, d) == "pending", 15, what="c to learn of pending d")
    time.sleep(1.0 * SLOW)
    assert status_of(a, d) == "pending" and d.status()["peers"] == 0
    c.run("member", "add", d.cert_file(), "--address", d.addr)
    d.wait_member(30)
    nodes = [a, b, c, d]
    wait_until(lambda: all(status_of(n, d) == "member" for n in nodes), 15, what="d a member everywhere")
    wait_until(lambda: digests_equal(nodes), 30, what="equal digests")


def test_leave_closes_and_refuses(env):
    a = env.found()
    b = env.join(a)
    c = env.join(a)
    cid = c.member_id()
    cert(c, "L-1", "株式会社脱退前")
    nodes = [a, b, c]
    wait_until(lambda: digests_equal(nodes), 15, what="equal digests")
    wait_until(lambda: established(a, c) and established(b, c), 15, what="c connected to a and b")

    t0 = time.time()
    c.ctl("member", "leave")
    wait_until(lambda: not established(a, c) and not established(b, c), 5, what="a and b to close c")
    assert time.time() - t0 < 5 * SLOW
    for n in (a, b):
        wait_until(lambda: status_of(n, c) == "left", 5, what="c left")
        assert "it left the alliance; it is refused from now on" in n.logtext(), n.name
    # c's own node: it holds no connection and dials nobody
    assert "this node is no longer a member of the alliance: it dials nobody" in c.logtext()
    wait_until(lambda: c.status()["peers"] == 0, 5, what="c to hold no connection")
    time.sleep(2.0 * SLOW)
    assert c.status()["peers"] == 0
    # ...and it does not dial: nobody has refused it at a handshake yet
    assert "at TLS handshake" not in a.logtext() + b.logtext()
    # a reconnect is refused at the handshake, with the reason
    c.stop()
    probe(env, c, a, "cert-ok")
    wait_until(lambda: "at TLS handshake" in a.logtext() and "it left the alliance" in a.logtext().split(
        "at TLS handshake")[-1], 10, what="a to refuse c's reconnect")
    assert not established(a, c)
    # its record stays readable, marked: catalogctl, the web view, the exports
    mark = f"{c.code} {c.muni}（脱退）"
    out = a.ctl("search", "株式会社脱退前")
    assert mark in out, out
    js = a.ctl_json("search", "株式会社脱退前")
    assert js[0]["certifications"][0]["author_status"] == "left", js
    out = a.ctl("export", "--format", "csv")
    assert mark in out, out
    for n in (a, b):
        body = web(n, "/search?q=" + urllib.parse.quote("株式会社脱退前"))
        assert mark in body, body[-2000:]
        csv = web(n, "/export.csv")
        assert mark in csv, csv
    # a member still active is not marked
    assert f"{b.code} {b.muni}（" not in a.ctl("member", "list")


def test_expulsion_closes_and_refuses_later_records(env):
    a = env.found()
    b = env.join(a)
    c = env.join(a)
    d = env.join(a)   # a relay, stopped: its identity forwards c's later record
    cid = c.member_id()
    cert(c, "X-1", "株式会社除名前")
    nodes = [a, b, c, d]
    wait_until(lambda: digests_equal(nodes), 20, what="equal digests")
    d.stop()
    wait_until(lambda: established(a, c) and established(b, c), 15, what="c connected to a and b")

    a.ctl("member", "expel", cid, "--reason", "試験のための除名")
    wait_until(lambda: members(b)[cid]["status"] == "member" and
               len([1 for n in (a, b) if established(n, c)]) == 2, 5, what="one vote: c stays")
    time.sleep(1.0 * SLOW)
    assert established(a, c) and established(b, c), "one vote closed c"
    t0 = time.time()
    b.ctl("member", "expel", cid, "--reason", "試験のための除名")
    wait_until(lambda: not established(a, c) and not established(b, c), 5,
               what="c's connections closed on a and b")
    assert time.time() - t0 < 5 * SLOW
    for n in (a, b):
        wait_until(lambda: status_of(n, c) == "expelled", 5, what="c expelled")
        assert "it was expelled from the alliance; it is refused from now on" in n.logtext(), n.name

    # a record c signs afterwards, forwarded by relay d: refused on a and b,
    # logged, and d is not closed for it (it may have applied it honestly)
    c.stop()
    # c reconnecting is refused at the handshake, with the reason
    probe(env, c, a, "cert-ok")
    wait_until(lambda: "it was expelled from the alliance" in a.logtext().split("at TLS handshake")[-1], 10,
               what="a to refuse c's reconnect")
    for n in (a, b):
        rc, out, err = probe(env, d, n, "relay-from", source=c)
        assert rc == 3 and "recv error" not in out, (n.name, rc, out, err)
        wait_until(lambda: "refused a record of former member" in n.logtext(), 10,
                   what=f"{n.name} to log the refusal")
        line = [l for l in n.logtext().splitlines() if "refused a record of former member" in l][-1]
        assert f"{c.code} {c.muni}" in line and "expelled" in line and "stays connected" in line, line
        assert not n.ctl_json("get", "note", "relayed", "--author", cid), n.name
    # its earlier record stays, marked
    for n in (a, b):
        out = n.ctl("search", "株式会社除名前")
        assert f"{c.code} {c.muni}（除名）" in out, out
        assert f"{c.code} {c.muni}（除名）" in web(n, "/search?q=" + urllib.parse.quote("株式会社除名前"))
    js = a.ctl_json("search", "株式会社除名前")
    assert js[0]["certifications"][0]["author_status"] == "expelled", js
    # and a node that syncs later from nothing takes c's records up to the cut
    e = env.join(a)
    wait_until(lambda: e.ctl("search", "株式会社除名前").find("（除名）") >= 0, 20, what="e to hold c's record")


def test_address_change_reconnects_live(env):
    """c announces a new address and moves there (a new server): a and b,
    which keep it among their targets, reconnect to the new address within
    seconds, without a restart of their own; a record c writes there
    reaches both."""
    a = env.found()
    b = env.join(a)
    c = env.join(a)
    wait_until(lambda: digests_equal([a, b, c]), 20, what="three nodes in sync")
    cid = c.member_id()
    new_port = free_port()
    new_addr = f"127.0.0.1:{new_port}"
    c.ctl("member", "address", new_addr)
    for n in (a, b):
        wait_until(lambda n=n: _member(n, cid)["address"] == new_addr, 15,
                   what=f"{n.name} to learn c's new address")
    c.stop()
    c.port, c.addr = new_port, new_addr   # the node moves: it listens there now
    c.start()

    for n in (a, b):
        # it holds a connection with c again (dialled at the new address, or
        # c's own dial: whichever the pair keeps)
        wait_until(lambda n=n: any(p.get("member_id") == cid and p.get("state") == "established"
                                   for p in n.ctl_json("peers")), 15, what=f"{n.name} connected to c again")
    c.ctl("put", "note", "moved", "text=移転しました")
    wait_until(lambda: digests_equal([a, b, c]), 20, what="c's record from its new address everywhere")


def _member(node, mid):
    return next(m for m in node.ctl_json("member", "list") if m["member_id"] == mid)


def test_expel_by_code_or_name_with_a_reason(env):
    """member expel MEMBER --reason TEXT (issue 12): MEMBER as rekey and
    show take it, the reason required, bounded, and in the vote's record,
    so that member show on any node prints it next to the vote."""
    a = env.found()
    b = env.join(a)
    c = env.join(a)
    cid = c.member_id()
    wait_until(lambda: digests_equal([a, b, c]), 20, what="equal digests")

    # no reason, an empty one, or one past STORE_EXPEL_REASON_MAX: a usage error
    for extra in ((), ("--reason",), ("--reason", ""), ("--reason", "あ" * 334)):
        rc, out, err = a.run("member", "expel", c.code, *extra, check=False)
        assert rc == 2 and ("--reason" in err or "バイトまで" in err), (extra, rc, err)
    rc, _, err = a.run("member", "expel", check=False)
    assert rc == 2 and "--reason" in err, (rc, err)
    # an unknown member, by code or id: refused with a message; nothing written
    before = a.status()["records"]
    rc, _, err = a.run("member", "expel", "999999", "--reason", "不明", check=False)
    assert rc == 3 and "見つかりません" in err, (rc, err)
    stranger = env.node(name="stranger")   # a key no member admitted
    rc, _, err = a.run("member", "expel", stranger.member_id(), "--reason", "不明", check=False)
    assert rc == 3 and "知られていません" in err, (rc, err)
    rc, _, err = a.run("member", "expel", a.code, "--reason", "自分", check=False)
    assert rc == 3 and "このノード自身" in err, (rc, err)
    assert a.status()["records"] == before

    # by 団体コード on a, by 団体名 on b; each with its reason
    why_a = "認定の虚偽記載が判明したため（令和8年度第3回運営会議で決定）"
    why_b = "規約第12条違反"
    rc, out, err = a.run("member", "expel", c.code, "--reason", why_a, check=False)
    assert rc == 0 and "除名に投票しました" in out and c.code in out and why_a in out, (rc, out, err)
    wait_until(lambda: digests_equal([a, b, c]), 20, what="a's vote everywhere")
    j = b.ctl_json("member", "expel", c.muni, "--reason", why_b)
    assert j == {"member_id": cid, "code": c.code, "name": c.muni, "reason": why_b}, j
    wait_until(lambda: status_of(a, c) == "expelled", 15, what="c expelled on a")

    # member show on the other voter's node (a shows b's vote, b a's): the
    # reasons, table and JSON; by member id (a code names active members only)
    wait_until(lambda: len([v for v in a.ctl_json("member", "show", cid)["votes"] if v["op"] == "expel"]) == 2,
               15, what="both votes on a")
    for n in (a, b):
        shown = n.ctl_json("member", "show", cid)
        votes = {v["by"]: v for v in shown["votes"] if v["op"] == "expel"}
        assert votes[a.member_id()]["reason"] == why_a and votes[b.member_id()]["reason"] == why_b, shown
        text = n.ctl("member", "show", cid)
        assert "REASON" in text and why_a in text and why_b in text, text
    # the admissions, recorded without a reason, show none
    shown = a.ctl_json("member", "show", b.code)
    assert all(v["reason"] == "" for v in shown["votes"]), shown
