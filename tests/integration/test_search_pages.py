"""csearch in pages: a list longer than one control reply
(NODE_CONTROL_PAGE_BYTES, 4 MiB) is printed whole by every catalogctl verb
that searches (list, search, export), a catalog that changes between two
pages is read again, and a --limit says what it left out."""
import csv
import json
import os
import socket
import struct
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "data"))
import gen_fixtures  # noqa: E402  (valid 法人番号)

N = 1500          # certifications of ~4 KB: ~6 MB, two pages or more
PER_PRODUCT = 3   # certifications of one product (same 法人番号 and name): groups span pages


# ---- a little msgpack, for the control socket's own protocol ----

def mp_pack(v):
    if isinstance(v, bool):
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        if v < 0:
            return b"\xd3" + struct.pack(">q", v)
        return b"\xcf" + struct.pack(">Q", v)
    if isinstance(v, str):
        b = v.encode()
        return b"\xdb" + struct.pack(">I", len(b)) + b
    if isinstance(v, dict):
        return b"\xdf" + struct.pack(">I", len(v)) + b"".join(mp_pack(k) + mp_pack(x) for k, x in v.items())
    raise TypeError(v)


def mp_unpack(b, i=0):
    t = b[i]
    if t <= 0x7f:
        return t, i + 1
    if 0x80 <= t <= 0x8f or t in (0xde, 0xdf):
        n, i = (t & 0x0f, i + 1) if t <= 0x8f else \
            ((struct.unpack(">H", b[i + 1:i + 3])[0], i + 3) if t == 0xde else (struct.unpack(">I", b[i + 1:i + 5])[0], i + 5))
        d = {}
        for _ in range(n):
            k, i = mp_unpack(b, i)
            d[k], i = mp_unpack(b, i)
        return d, i
    if 0x90 <= t <= 0x9f or t in (0xdc, 0xdd):
        n, i = (t & 0x0f, i + 1) if t <= 0x9f else \
            ((struct.unpack(">H", b[i + 1:i + 3])[0], i + 3) if t == 0xdc else (struct.unpack(">I", b[i + 1:i + 5])[0], i + 5))
        a = []
        for _ in range(n):
            x, i = mp_unpack(b, i)
            a.append(x)
        return a, i
    if 0xa0 <= t <= 0xbf:
        n = t & 0x1f
        return b[i + 1:i + 1 + n].decode(), i + 1 + n
    sizes = {0xd9: 1, 0xda: 2, 0xdb: 4, 0xc4: 1, 0xc5: 2, 0xc6: 4}
    if t in sizes:
        w = sizes[t]
        n = int.from_bytes(b[i + 1:i + 1 + w], "big")
        raw = b[i + 1 + w:i + 1 + w + n]
        return (raw if t >= 0xc4 and t <= 0xc6 else raw.decode()), i + 1 + w + n
    if t == 0xc0:
        return None, i + 1
    if t in (0xc2, 0xc3):
        return t == 0xc3, i + 1
    uints = {0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8}
    if t in uints:
        w = uints[t]
        return int.from_bytes(b[i + 1:i + 1 + w], "big"), i + 1 + w
    if t >= 0xe0:
        return t - 0x100, i + 1
    raise ValueError(hex(t))


def recv_frame(c):
    def exact(n):
        out = b""
        while len(out) < n:
            chunk = c.recv(n - len(out))
            if not chunk:
                raise ConnectionError("closed")
            out += chunk
        return out
    n = struct.unpack(">I", exact(4))[0]
    return exact(n)


def control(node, req):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(30)
        c.connect(os.path.join(node.dir, "control.sock"))
        body = mp_pack(req)
        c.sendall(struct.pack(">I", len(body)) + body)
        return mp_unpack(recv_frame(c))[0]


class Relay:
    """A socket catalogctl talks to (--socket) that passes every request on
    to the node's control socket unchanged and its reply back; before
    passing on request i it calls before(i) — here: a write to the catalog
    on the node itself, between two pages of one search."""

    def __init__(self, env, node, before):
        self.path = os.path.join(env.tmp, f"relay{id(self)}.sock")
        self.node, self.before, self.n = node, before, 0
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(self.path)
        self.srv.listen(8)
        self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            with c:
                try:
                    req = recv_frame(c)
                    self.before(self.n)
                    self.n += 1
                    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as u:
                        u.connect(os.path.join(self.node.dir, "control.sock"))
                        u.sendall(struct.pack(">I", len(req)) + req)
                        rep = recv_frame(u)
                    c.sendall(struct.pack(">I", len(rep)) + rep)
                except (OSError, ConnectionError):
                    pass

    def close(self):
        self.stop = True
        self.srv.close()
        os.unlink(self.path)


def key(i):
    return f"頁-{i:05d}"


def big_catalog(env):
    a = env.found()
    path = os.path.join(env.tmp, "pages.csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["認定番号", "事業者名", "法人番号", "製品・サービス名", "分野", "認定日", "有効期限", "概要"])
        for i in range(N):
            p = i // PER_PRODUCT
            w.writerow([key(i), f"株式会社頁{p:04d}", gen_fixtures.corp_number(f"9999{p:08d}"),
                        f"頁製品{p:04d}", "防災", "2026-04-01", "2028-03-31", "説明" * 650])
    assert a.ctl_json("import", path)["created"] == N
    # adoptions after the certifications, in the last page
    for j in range(3):
        rc, _, err = a.run("adoption", "add", f"頁導入-{j}", f"認定={a.code}/{key(j * 200)}", "年度=2026",
                           "原課=総務課", "契約方法=4号随契", check=False)
        assert rc == 0, err
    return a


def cert(node, k, p):
    rc, _, err = node.run("certification", "add", k, "事業者名=株式会社追加", f"製品・サービス名=追加製品{p}",
                          "分野=防災", "認定日=2026-04-01", "有効期限=2028-03-31", check=False)
    assert rc == 0, err


def test_search_pages_complete_everywhere(env):
    a = big_catalog(env)

    # certification list: table, --json, --mine
    rc, out, err = a.run("certification", "list")
    assert rc == 0, err
    assert sum(1 for line in out.splitlines() if line.lstrip().startswith("頁-")) == N, out[-500:]
    js = a.ctl_json("certification", "list")
    assert sorted(x["key"] for x in js) == [key(i) for i in range(N)]
    assert len(a.ctl_json("certification", "list", "--mine")) == N
    assert len(a.ctl_json("adoption", "list")) == 3

    # export: CSV and JSON hold every record
    rc, out, err = a.run("export", "--format", "csv", "--output", os.path.join(env.tmp, "all.csv"))
    assert rc == 0, err
    with open(os.path.join(env.tmp, "all.csv"), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == N + 1 and sorted(r[0] for r in rows[1:]) == [key(i) for i in range(N)], len(rows)
    ex = a.ctl_json("export", "--format", "json")
    assert len(ex["certifications"]) == N and len(ex["adoptions"]) == 3

    # search --json: every product whole, its certifications and adoptions together
    res = a.ctl_json("search", "--all")
    assert len(res) == N // PER_PRODUCT, len(res)
    assert all(len(p["certifications"]) == PER_PRODUCT for p in res)
    assert all(len({c["body"]["product"] for c in p["certifications"]}) == 1 for p in res)
    assert sum(len(p["adoptions"]) for p in res) == 3
    for p in res:
        for ad in p["adoptions"]:
            assert ad["body"]["certification"]["key"] in {c["key"] for c in p["certifications"]}, p
    # a limit: the table says on stderr what it left out, --json in a field
    rc, out, err = a.run("search", "--all")
    assert rc == 0 and f"ほかに {N // PER_PRODUCT - 100} 件の製品があります" in err, err
    assert "ほかに" not in out
    rc, out, err = a.run("search", "--all", "--limit", "0")
    assert rc == 0 and "ほかに" not in err and out.count("■ ") == N // PER_PRODUCT
    lim = a.ctl_json("search", "--all", "--limit", "7")
    assert len(lim["products"]) == 7 and lim["total_products"] == N // PER_PRODUCT and lim["more"] is True
    lim = a.ctl_json("search", "--all", "--limit", str(N))
    assert len(lim["products"]) == N // PER_PRODUCT and lim["more"] is False

    # the protocol: one page is not all, and says so
    p1 = control(a, {"cmd": "csearch", "all": 1})
    assert p1["ok"] and p1["complete"] is False, {k: v for k, v in p1.items() if k != "certifications"}
    assert p1["total_certifications"] == N and p1["total_adoptions"] == 3, p1["total_certifications"]
    assert 0 < len(p1["certifications"]) == p1["next_cert_offset"] < N
    assert p1["adoptions"] == [] and p1["next_adoption_offset"] == 0
    pages, got, groups = 1, len(p1["certifications"]), len(p1["groups"])
    co, ao = p1["next_cert_offset"], p1["next_adoption_offset"]
    page = p1
    while not page["complete"]:
        page = control(a, {"cmd": "csearch", "all": 1, "cert_offset": co, "adoption_offset": ao})
        assert page["ok"] and page["generation"] == p1["generation"], page.get("error")
        got += len(page["certifications"])
        groups += len(page["groups"])
        co, ao = page["next_cert_offset"], page["next_adoption_offset"]
        pages += 1
    assert got == N and ao == 3 and pages >= 2 and groups == N // PER_PRODUCT, (got, ao, pages, groups)
    # offsets out of range or not whole numbers are refused with a message
    for bad in ({"cert_offset": N + 1}, {"cert_offset": 2 ** 63}, {"cert_offset": -1}, {"cert_offset": "10"},
                {"cert_offset": 0, "adoption_offset": 4}, {"cert_offset": 10, "adoption_offset": 1}):
        r = control(a, dict({"cmd": "csearch", "all": 1}, **bad))
        assert r["ok"] is False and ("範囲外" in r["error"] or "整数" in r["error"]), (bad, r)


def test_search_pages_catalog_changed_between_pages(env):
    a = big_catalog(env)
    # the generation moves with every write: page 2 of an old page 1 shows it
    p1 = control(a, {"cmd": "csearch", "all": 1})
    cert(a, "頁-追加-0", 0)
    p2 = control(a, {"cmd": "csearch", "all": 1, "cert_offset": p1["next_cert_offset"]})
    assert p2["ok"] and p2["generation"] != p1["generation"]

    # one write between the first two pages: catalogctl reads again, and
    # prints the catalog as it is after the write, whole
    def once(i):
        if i == 1:
            cert(a, "頁-追加-1", 1)
    relay = Relay(env, a, once)
    try:
        rc, out, err = a.run("--socket", relay.path, "certification", "list", "--json", check=False)
    finally:
        relay.close()
    assert rc == 0, err
    assert "最初から読み直します" in err, err
    keys = sorted(x["key"] for x in json.loads(out))
    assert keys == sorted([key(i) for i in range(N)] + ["頁-追加-0", "頁-追加-1"]), len(keys)

    # a write before every page after the first: it gives up with a message
    # (exit 1), it never prints a list
    n = [0]

    def always(i):
        if i > 0:
            n[0] += 1
            cert(a, f"頁-追加-x{n[0]}", 100 + n[0])
    relay = Relay(env, a, always)
    try:
        rc, out, err = a.run("--socket", relay.path, "certification", "list", check=False)
    finally:
        relay.close()
    assert rc == 1 and "完全な一覧を得られませんでした" in err, (rc, err)
    assert err.count("最初から読み直します") == 3, err
    assert "頁-" not in out, out[:300]


def test_truncated_replies_are_flagged(env):
    """A reply cut at NODE_CONTROL_PAGE_BYTES says "truncated", and
    catalogctl warns on stderr in Japanese: the history of one key whose
    100 versions of ~48 KB are more than one reply holds."""
    a = env.found()
    for i in range(100):
        a.ctl("put", "note", "big", *[f"t{k}={i:03d}" + "x" * 16000 for k in range(3)])
    rep = control(a, {"cmd": "history", "kind": "note", "key": "big"})
    assert rep["ok"] and rep.get("truncated") is True and 0 < len(rep["records"]) < 100, \
        (rep.get("truncated"), len(rep.get("records", [])))
    rc, out, err = a.run("history", "note", "big")
    assert rc == 0 and "打ち切られています" in err, err
    rc, out, err = a.run("history", "note", "big", "--json")
    assert rc == 0 and "打ち切られています" in err, err
    # an answer that is whole says nothing
    a.ctl("put", "note", "small", "text=1")
    rc, out, err = a.run("history", "note", "small")
    assert rc == 0 and "打ち切られています" not in err, err
