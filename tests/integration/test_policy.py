"""The alliance's policy (issue 12): a change proposed by one member comes
into force on every node once the change quorum has endorsed it, and the
new 分野 is usable in a certification from then on, on every node."""
import urllib.parse
import urllib.request

from harness import digests_equal, wait_until


def web(node, path, params=()):
    qs = urllib.parse.urlencode(list(params))
    with urllib.request.urlopen(node.web_url + path + ("?" + qs if qs else ""), timeout=10) as r:
        return r.read().decode("utf-8")


def cert(node, key, area):
    return node.run("certification", "add", key, "事業者名=株式会社テスト宇宙", "製品・サービス名=小型衛星観測",
                    f"分野={area}", "認定日=2026-04-01", "有効期限=fy-end+2", "法人番号=7000012050002",
                    check=False)


def show(node):
    return node.ctl_json("policy", "show")


def three(env):
    """A 3-member alliance (admission 1, expulsion quorum 2)."""
    a = env.found()
    b = env.join(a)
    c = env.join(a)
    nodes = [a, b, c]
    wait_until(lambda: all(len([m for m in n.ctl_json("member", "list") if m["status"] == "member"]) == 3
                           for n in nodes), 20, what="every node to see three members")
    return nodes


def test_change_with_quorum(env):
    a, b, c = nodes = three(env)
    p0 = show(a)["in_force"]
    assert p0["parent"] == "" and p0["admission"] == 1 and p0["expulsion"] == 2, p0
    assert "宇宙" not in p0["areas"]
    assert all(show(n)["quorum"] == 2 for n in nodes)

    out = a.ctl_json("policy", "propose", "areas+=宇宙")
    pid = out["id"]
    assert len(pid) == 64 and out["in_force"] is False, out
    # every node holds the proposal, pending with a's vote only
    for n in nodes:
        wait_until(lambda: any(p["id"] == pid for p in show(n)["proposals"]), 15,
                   what=f"{n.name} to hold the proposal")
        s = show(n)
        assert s["in_force"]["id"] == p0["id"], s
        prop = [p for p in s["proposals"] if p["id"] == pid][0]
        assert prop["state"] == "pending" and [e["code"] for e in prop["endorsers"]] == [a.code], prop
        assert "宇宙" in prop["areas"]
    # below the quorum the new 分野 is refused on every node, naming what is allowed
    for i, n in enumerate(nodes):
        rc, out, err = cert(n, f"宇宙-{i}", "宇宙")
        assert rc == 3, (rc, out, err)
        assert "分野" in err and "宇宙" in err and "防災" in err, err
    assert 'value="宇宙"' not in web(a, "/search")
    assert "宇宙" not in a.ctl("fields", "certification")
    human = a.ctl("policy", "show")
    assert "pending proposals:" in human and f"131059 文京区" in human and "+宇宙" in human, human

    # b endorses: 2 of 3, in force everywhere
    out = b.ctl_json("policy", "endorse", pid)
    assert out["in_force"] is True, out
    for n in nodes:
        wait_until(lambda: show(n)["in_force"]["id"] == pid, 15, what=f"{n.name} to put the policy in force")
    shows = [show(n) for n in nodes]
    assert all(s["in_force"] == shows[0]["in_force"] for s in shows), shows
    pin = shows[0]["in_force"]
    assert "宇宙" in pin["areas"] and pin["parent"] == p0["id"], pin
    assert sorted(e["code"] for e in pin["endorsers"]) == sorted([a.code, b.code]), pin
    assert all(not s["proposals"] for s in shows), shows
    human = c.ctl("policy", "show")
    assert f"policy in force: {pid[:16]}" in human and "宇宙" in human, human
    assert f"{b.code} {b.muni}" in human, human

    # the new 分野 written on c is accepted and replicates everywhere
    rc, out, err = cert(c, "宇宙-1", "宇宙")
    assert rc == 0, (rc, out, err)
    wait_until(lambda: digests_equal(nodes), 20, what="the certification to replicate")
    for n in nodes:
        got = n.ctl_json("certification", "show", "宇宙-1", "--author", c.code)
        text = str(got)
        assert "宇宙" in text, got
        # and the area filter finds it, from the policy in force: catalogctl,
        # the web view's checkboxes and its search, catalogctl fields
        res = n.ctl_json("search", "--area", "宇宙")
        assert len(res) == 1, res
        assert 'value="宇宙"' in web(n, "/search")
        found = web(n, "/search", [("area", "宇宙")])
        assert "小型衛星観測" in found, found[-1500:]
        assert "宇宙" in n.ctl("fields", "certification")
    # endorsing what is in force is refused
    rc, out, err = c.run("policy", "endorse", pid, check=False)
    assert rc == 3 and "in force" in err, (rc, out, err)


def test_stale_parent_and_votes_that_do_not_count(env):
    a, b, c = nodes = three(env)
    g = show(a)["in_force"]["id"]
    # two proposals on the genesis policy; the first to reach the quorum wins
    p1 = a.ctl_json("policy", "propose", "areas+=宇宙")["id"]
    p2 = b.ctl_json("policy", "propose", "areas+=深海", "routes-=入札")["id"]
    for n in nodes:
        wait_until(lambda: {p1, p2} <= {p["id"] for p in show(n)["proposals"]}, 15,
                   what=f"{n.name} to hold both proposals")
    c.ctl("policy", "endorse", p1)
    for n in nodes:
        wait_until(lambda: show(n)["in_force"]["id"] == p1, 15, what=f"{n.name} to put p1 in force")
    # p2 amends a policy no longer in force: stale, and can never come into force
    s = show(c)
    assert [p["state"] for p in s["proposals"] if p["id"] == p2] == ["stale"], s
    rc, out, err = c.run("policy", "endorse", p2, check=False)
    assert rc == 3 and "not in force" in err, (rc, out, err)
    # the next proposal amends p1
    p3 = a.ctl_json("policy", "propose", "expulsion=3")["id"]
    assert [p["parent"] for p in show(a)["proposals"] if p["id"] == p3] == [p1]

    # c leaves: a left member cannot endorse, and the proposal stays short
    c.ctl("member", "leave")
    for n in (a, b):
        wait_until(lambda: any(m["member_id"] == c.member_id() and m["status"] == "left"
                               for m in n.ctl_json("member", "list")), 15, what=f"{n.name} to see c leave")
    rc, out, err = c.run("policy", "endorse", p3, check=False)
    assert rc == 3 and "not (yet) a current member" in err, (rc, out, err)
    # two active members now: the quorum is min(2, 2); a's vote alone does not do
    assert show(a)["quorum"] == 2
    assert show(a)["in_force"]["id"] == p1
    # c's vote for p1, cast before it left, still counts
    assert show(b)["in_force"]["id"] == p1
    # b endorses p3: in force on a and b (c, which left, is not followed)
    wait_until(lambda: any(p["id"] == p3 for p in show(b)["proposals"]), 15, what="b to hold p3")
    b.ctl("policy", "endorse", p3)
    for n in (a, b):
        wait_until(lambda: show(n)["in_force"]["id"] == p3, 15, what=f"{n.name} to put p3 in force")
    assert show(a)["in_force"]["expulsion"] == 3
    assert "深海" not in show(b)["in_force"]["areas"]
    assert g != p3
