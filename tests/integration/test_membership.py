"""Membership derived from the log (issue 12): a fork between two member
records leaves every node with the same membership and the same digest,
whichever version each node held first; a newcomer handed a sponsor outside
the genesis chain refuses that genesis."""
import base64
import os
import shutil
import signal
import subprocess
import time

from harness import digests_equal, wait_until, SLOW


def _probe(env, data, target, mode, *extra):
    args = [os.path.join(env.tools, "peerprobe"), "--data", data, "--connect", target.addr,
            "--mode", mode] + [str(x) for x in extra]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60 * SLOW)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def _id_key(member_id):
    """A member id as shown (base32 of the id's bytes) in the bytes' order."""
    return [B32.index(ch) for ch in member_id.replace("-", "")]


B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


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
    c = env.join(a)   # a third daemon, away while the fork is made
    xid = x.member_id()
    a.run("member", "expel", xid, "--reason", "試験のための除名")   # one vote of the two needed
    wait_until(lambda: digests_equal([a, b, m, x, c]), 20, what="convergence")
    assert _members(a)[xid][0] == "member"
    for n in (x, m, b, c):
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
    # the third daemon, which saw neither version, ends with the same
    # members and the same digest as both
    c.start()
    wait_until(lambda: digests_equal([a, b, c]), 15, what="equal digests on three nodes")
    wait_until(lambda: _members(c) == _members(a) == _members(b), 10, what="the same members on three nodes")
    # what each node derived survives a restart unchanged
    a.stop()
    a.start()
    assert _members(a) == _members(b)


def test_newcomer_refuses_a_genesis_that_does_not_lead_to_its_sponsor(env):
    """l admits the newcomer n, then leaves the alliance; n is told to trust
    l.  l still serves the alliance's records (n is a member in them), but
    under that genesis l is no member any more: n refuses the genesis, keeps
    nothing of it and says why.  Joining again through a member works."""
    a = env.found()
    l = env.join(a)
    n = env.node()
    l.run("member", "add", n.cert_file(), "--address", n.addr)
    l.run("member", "leave")
    assert _members(l)[l.member_id()][0] == "left"
    n.run("join", "--sponsor", l.cert_file(), "--address", l.addr)
    n.start()
    wait_until(lambda: "refused the genesis" in n.logtext(), 20, what="the newcomer to refuse the genesis")
    st = n.status()
    assert st["genesis"] == "" and st["alliance"] == "", st
    assert st["records"] == 0 and st["members"] == 0, st
    log = n.logtext()
    assert "do not lead from it to the sponsor" in log and l.member_id() in log, log[-2000:]
    # it does not take the genesis again from the same sponsor, not after a
    # reload nor after a restart (the refusal is kept in the store)
    assert "pinned" not in n.logtext()
    assert n.status()["genesis"] == ""
    n.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "reloaded" in n.logtext(), 10, what="the reload")
    n.stop()
    n.start()
    time.sleep(2 * SLOW)   # room to dial l, were it trusted again
    assert n.logtext().count("refused the genesis") == 1, n.logtext()[-2000:]
    assert n.status()["genesis"] == "" and n.status()["records"] == 0
    # joining through a current member (the founder) works, live
    n.run("join", "--sponsor", a.cert_file(), "--address", a.addr)
    n.wait_member()
    wait_until(lambda: "pinned: the membership records lead from it to the sponsor" in n.logtext(), 10,
               what="the genesis pinned")
    assert n.status()["genesis"] == a.status()["genesis"]


def test_normal_join_pins_the_genesis_through_a_sponsor_admitted_by_another(env):
    """The sponsor is not the founder: its own admission comes in the
    founder's log; the genesis is pinned once it has arrived."""
    a = env.found()
    b = env.join(a)
    c = env.join(b)
    assert "pinned: the membership records lead from it to the sponsor " + b.member_id() in c.logtext()
    wait_until(lambda: digests_equal([a, b, c]), 15, what="convergence")


def test_member_show(env):
    """member show: the entry, who admitted it and voted on it, and the forks
    it signed, in text and JSON; an unknown id is refused."""
    a = env.found()
    b = env.join(a)
    m = env.join(a)
    aid, bid, mid = a.member_id(), b.member_id(), m.member_id()
    a.run("member", "expel", mid, "--reason", "試験のための除名")
    wait_until(lambda: digests_equal([a, b, m]), 15, what="convergence")
    j = a.ctl_json("member", "show", mid)
    assert j["member_id"] == mid and j["status"] == "member", j
    assert j["admitted_by"] == aid and j["code"] == m.code and j["name"] == m.muni, j
    # a's admission counts no more: its current record about m is the vote
    assert j["endorsements"] == 0 and j["since"], j
    votes = {v["by"]: v for v in j["votes"]}
    assert set(votes) == {aid} and votes[aid]["op"] == "expel" and votes[aid]["by_status"] == "member", j
    assert j["forks"] == [], j
    # b's vote completes the quorum: shown as expelled, with both votes
    b.run("member", "expel", mid, "--reason", "試験のための除名")
    wait_until(lambda: a.ctl_json("member", "show", mid)["status"] == "expelled", 10, what="expelled")
    j = a.ctl_json("member", "show", mid)
    assert {v["by"]: v["op"] for v in j["votes"]} == {aid: "expel", bid: "expel"}, j
    out = a.ctl("member", "show", mid)
    assert "status:       expelled" in out and "admitted by:  " + aid in out, out
    assert "votes and own records (2):" in out and "forks signed (0):" in out, out
    # the founder: no admitter, its own address record none, no votes
    j = a.ctl_json("member", "show", aid)
    assert j["status"] == "member" and j["admitted_by"] == "" and j["votes"] == [], j
    assert "(founder)" in a.ctl("member", "show", aid)
    # forks signed: m equivocates (its daemon stopped), both versions reach a
    m.stop()
    b.stop()
    rc, out1, _ = _probe(env, m.dir, a, "member-fork-b")
    # m is expelled now: refused (its key is no current member's), so no fork is held
    j = a.ctl_json("member", "show", mid)
    assert j["forks"] == [], j
    rc, out, err = a.run("member", "show", "AAAA-BBBB", check=False)
    assert rc != 0 and "member" in err, (rc, out, err)


def test_member_show_says_its_rekey_lists_are_cut(env):
    """member show lists at most STORE_REKEY_SHOW_MAX (64) stale rekey votes
    of a member; past that the reply says "truncated", --json carries it and
    catalogctl warns on stderr, as for the other lists.  a votes to rekey x,
    x leaves, and a signs its vote again (oldrecord: catalogctl refuses a
    vote about a former member): each of those is stale, x being no member."""
    a = env.found()
    env.join(a)
    x = env.join(a)
    xid = x.member_id()
    fresh = env.node(name="fresh", init=False)
    fresh.code, fresh.muni = x.code, x.muni
    fresh.init()
    a.run("member", "rekey", x.code, fresh.cert_file(), "--reason", "鍵の紛失", "--cut", "1")
    x.run("member", "leave")
    wait_until(lambda: _members(a)[xid][0] == "left", 15, what="x left on a")
    x_hex = base64.b32decode(xid.replace("-", "") + "====").hex()   # the record key: the id in hex

    def resign(n, start):
        a.stop()
        for i in range(start, start + n):
            p = subprocess.run([os.path.join(env.tools, "oldrecord"), "--data", a.dir, "--kind", "member",
                                "--key", x_hex, "--set", f"reason=鍵の紛失 {i}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30 * SLOW)
            assert p.returncode == 0, p.stderr.decode()
        a.start()

    # 64 stale votes: all listed, nothing said
    resign(64, 0)
    j = a.ctl_json("member", "show", xid)
    assert len(j["rekey_stale"]) == 64 and "truncated" not in j, (len(j["rekey_stale"]), j.get("truncated"))
    _, _, err = a.run("member", "show", xid)
    assert "警告" not in err, err
    # one more: the first 64 listed, and the reply says it was cut
    resign(1, 64)
    j = a.ctl_json("member", "show", xid)
    assert len(j["rekey_stale"]) == 64 and j.get("truncated") is True, (len(j["rekey_stale"]), j.get("truncated"))
    assert [e["key"] for e in j["rekey_stale"]] == [j["rekey_stale"][0]["key"]] * 64, j["rekey_stale"][:2]
    _, out, err = a.run("member", "show", xid)
    assert "警告: 一覧が catalogd の 1 回の応答の上限で打ち切られています" in err, err
    assert "警告" not in out, out


def test_former_member_by_code_or_name(env):
    """A code or a name that only a former member bears: member show (it
    only reads) finds the member that left or was expelled; rekey and expel
    keep to current members, and say that it is no member any more, not
    that it is unknown."""
    a = env.found()
    b = env.join(a)
    x = env.join(a)
    y = env.join(a)
    xid, yid = x.member_id(), y.member_id()
    x.run("member", "leave")
    a.run("member", "expel", yid, "--reason", "試験のための除名")
    b.run("member", "expel", yid, "--reason", "試験のための除名")
    wait_until(lambda: _members(a)[xid][0] == "left" and _members(a)[yid][0] == "expelled", 15,
               what="x left and y expelled on a")
    pems = {}
    for node in (x, y):   # a new key of each, for the rekey
        fresh = env.node(name="fresh" + node.name, init=False)
        fresh.code, fresh.muni = node.code, node.muni
        fresh.init()
        pems[node.member_id()] = fresh.cert_file()
    for ref, mid, status in ((x.code, xid, "left"), (x.muni, xid, "left"),
                             (y.code, yid, "expelled"), (y.muni, yid, "expelled")):
        j = a.ctl_json("member", "show", ref)
        assert j["member_id"] == mid and j["status"] == status, (ref, j)
        for args in (("rekey", ref, pems[mid], "--reason", "鍵の紛失"),
                     ("expel", ref, "--reason", "試験のための除名")):
            rc, out, err = a.run("member", *args, check=False)
            assert rc == 3, (args, rc, out, err)
            want = "脱退しています" if status == "left" else "除名されています"
            assert f"「{ref}」の団体はもう加盟していません（{want}。member id {mid}）" in err, (args, err)
            assert "見つかりません" not in err, err
    # a current member's code comes first: x's municipality joins again with a new key
    z = env.node(name="z", init=False)
    z.code, z.muni = x.code, x.muni
    z.init()
    env.join(a, node=z)
    zid = z.member_id()
    assert a.ctl_json("member", "show", x.code)["member_id"] == zid
    # it leaves too: two former members bear the code, and member id is asked for
    z.run("member", "leave")
    wait_until(lambda: _members(a)[zid][0] == "left", 15, what="z left on a")
    rc, _, err = a.run("member", "show", x.code, check=False)
    assert rc == 3 and f"「{x.code}」に当たる脱退または除名した団体が 2 件あります。member id で指定してください" in err, err
    rc, _, err = a.run("member", "expel", x.code, "--reason", "r", check=False)
    assert rc == 3 and "もう加盟していません" in err and "2 件" in err, err
    # one nobody bears is unknown
    rc, _, err = a.run("member", "show", "999999", check=False)
    assert rc != 0 and "見つかりません" in err, err


def test_member_show_lists_forks(env):
    a = env.found()
    b = env.join(a)
    m = env.join(a)
    wait_until(lambda: digests_equal([a, b, m]), 15, what="convergence")
    m.stop()
    b.stop()
    rc, out_a, err = _probe(env, m.dir, a, "member-fork-b")
    assert rc == 3, (rc, out_a, err)
    a.stop()
    b.start()
    rc, out_b, err = _probe(env, m.dir, b, "equivocate-b")
    assert rc == 3, (rc, out_b, err)
    a.start()
    wait_until(lambda: a.status()["forks"] == 1 and b.status()["forks"] == 1, 20, what="fork evidence")
    mid = m.member_id()
    for n in (a, b):
        j = n.ctl_json("member", "show", mid)
        assert len(j["forks"]) == 1, j
        f = j["forks"][0]
        assert f["kind"] in ("member", "note") and len(f["hash"]) == 64, f
    assert "forks signed (1):" in a.ctl("member", "show", mid)


def test_newcomer_joins_after_an_expulsion(env):
    """x wrote records, then a and b expelled it.  The genesis is pinned once
    the newcomer holds the log of every current member as the sponsor named
    it (x is none), x's records up to its cut arrive all the same, and the
    newcomer becomes a member that writes and is heard."""
    a = env.found()
    b = env.join(a)
    # x's id sorts after a's and b's, so a newcomer applies the expulsion
    # (in a's and b's logs) before x's records and refuses those
    x = env.node()
    while not (_id_key(x.member_id()) > max(_id_key(a.member_id()), _id_key(b.member_id()))):
        x = env.node()
    env.join(a, node=x)
    for i in range(3):
        x.ctl("put", "note", f"x{i}", "text=前")
    xid = x.member_id()
    wait_until(lambda: digests_equal([a, b, x]), 20, what="x's notes everywhere")
    a.run("member", "expel", xid, "--reason", "試験のための除名")
    b.run("member", "expel", xid, "--reason", "試験のための除名")
    wait_until(lambda: _members(a)[xid][0] == "expelled" and _members(b)[xid][0] == "expelled", 20,
               what="x expelled")
    x.stop()
    wait_until(lambda: digests_equal([a, b]), 20, what="a and b agree")
    n = env.join(a)
    wait_until(lambda: "pinned: the membership records lead from it to the sponsor" in n.logtext(), 20,
               what="the genesis pinned")
    st_n, st_a = n.status(), a.status()
    # x's records up to its cut (what it signed before the expulsion) are
    # taken here too (DECISIONS.md 16), so the newcomer holds all a holds
    wait_until(lambda: digests_equal([n, a]), 20, what="the newcomer holding x's earlier records")
    n.ctl("put", "note", "n1", "text=新")
    nid = n.member_id()
    wait_until(lambda: b.run("get", "note", "n1", "--author", nid, check=False)[0] == 0, 20,
               what="n's note on b")


def test_join_replaces_a_genesis_left_unchecked(env):
    """The sponsor sends the genesis and goes away before the newcomer holds
    the members' logs: the genesis stays unchecked, the newcomer writes
    nothing under it (it says why), and `catalogctl join` through another
    member drops it and starts again, live."""
    a = env.found()
    b = env.join(a)
    n = env.node()
    a.run("member", "add", n.cert_file(), "--address", n.addr)
    wait_until(lambda: digests_equal([a, b]), 15, what="a and b agree")
    a.stop()
    n.run("join", "--sponsor", a.cert_file(), "--address", a.addr)
    n.start()
    rc, out, err = _probe(env, a.dir, n, "genesis-only")
    assert rc == 3 and "recv error" not in out, (rc, out, err)
    wait_until(lambda: n.status()["genesis"] != "", 10, what="the genesis held")
    assert "pinned" not in n.logtext()
    rc, _, err = n.run("put", "note", "k", "text=前", check=False)
    assert rc != 0 and "not yet checked the genesis" in err, (rc, err)
    rc, out, err = n.run("join", "--sponsor", b.cert_file(), "--address", b.addr)
    assert "dropped the genesis" in out, out
    wait_until(lambda: "pinned: the membership records lead from it to the sponsor " + b.member_id()
               in n.logtext(), 20, what="the genesis pinned through b")
    n.wait_member()
    n.ctl("put", "note", "k", "text=後")
    nid = n.member_id()
    wait_until(lambda: b.run("get", "note", "k", "--author", nid, check=False)[0] == 0, 20,
               what="n's note on b")


def _admit_late(env, mode):
    """m (its daemon stopped) sends three notes of a newcomer who is no
    member yet, then the newcomer's admission (m's own record): a sets the
    notes aside, and must take them once the admission is applied — no
    one else holds them, and the probe never answers a want, so only the
    retry of what was set aside can bring them in."""
    a = env.found()
    m = env.join(a)
    wait_until(lambda: digests_equal([a, m]), 20, what="m holds the alliance")
    m.stop()
    before = a.status()["records"]
    rc, out, err = _probe(env, m.dir, a, mode)
    assert rc == 3 and "recv error" not in out, (rc, out, err)
    wait_until(lambda: a.status()["records"] == before + 4, 10,
               what="the newcomer's notes, set aside until its admission, applied")
    assert sum(1 for st, _ in _members(a).values() if st == "member") == 3


def test_records_set_aside_apply_once_their_author_is_admitted(env):
    """The admission comes in a later batch than the notes."""
    _admit_late(env, "admit-late")


def test_records_set_aside_apply_when_their_admission_is_in_the_same_batch(env):
    """The admission comes in the same frame, after the notes: the batch's
    prechecks see no member, the admission is applied with the batch, and
    the notes are taken again after it."""
    _admit_late(env, "admit-same")
