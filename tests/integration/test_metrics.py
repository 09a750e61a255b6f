"""Metrics (issue 13): /metrics on the web view's listener and `catalogctl
metrics`, the same Prometheus text (format 0.0.4).  Every scrape is checked
by promtool (Debian's prometheus package: the real parser and linter) and
parsed here to compare its values with what catalogctl says and with what
the test did: records written, traffic with the peer, refusals provoked."""
import os
import re
import shutil
import socket
import struct
import subprocess
import urllib.error
import urllib.request

from harness import SLOW, digests_equal, wait_until

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# a member name the format must escape: a double quote and a backslash
ODD_NAME = '品川"区\\テスト'


def cert(node, key):
    rc, out, err = node.run("certification", "add", key, "事業者名=株式会社メトリクス試験",
                            "製品・サービス名=見守りセンサー", "分野=医療・福祉", "認定日=2026-04-01",
                            "有効期限=2029-03-31", check=False)
    assert rc == 0, (key, err)


def scrape(node):
    with urllib.request.urlopen(node.web_url + "/metrics", timeout=10 * SLOW) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == CONTENT_TYPE, r.headers["Content-Type"]
        return r.read().decode("utf-8")


def promtool(text):
    """promtool check metrics (it reads stdin): exit 0 and nothing to say,
    neither a parse error nor a lint problem."""
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: `make deps` installs Debian's prometheus package"
    p = subprocess.run([tool, "check", "metrics"], input=text.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(), \
        (p.returncode, p.stdout.decode(), p.stderr.decode())


_SAMPLE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def _unescape(v):
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\":
            out.append({"\\": "\\", '"': '"', "n": "\n"}[v[i + 1]])
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def parse(text):
    """The exposition as {name: {frozenset(labels): value}} and {name: type};
    every sample's family must have been introduced by HELP and TYPE, and a
    family's samples must be together."""
    samples, types, helps, done = {}, {}, set(), set()
    current = None
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in helps, f"two HELP lines for {name}"
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            assert name in helps and name not in types, line
            types[name] = typ
            if current:
                done.add(current)
            current = name
            samples[name] = {}
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.groups()
        assert name == current and name not in done, f"{name} outside its family"
        lab = {}
        rest = labels or ""
        while rest:
            lm = _LABEL.match(rest)
            assert lm, f"bad labels in {line!r}"
            lab[lm.group(1)] = _unescape(lm.group(2))
            rest = rest[lm.end():]
        key = frozenset(lab.items())
        assert key not in samples[name], f"duplicate series {line!r}"
        samples[name][key] = float(value)
    return samples, types


def value(samples, name, **labels):
    return samples[name][frozenset(labels.items())]


def series(samples, name):
    """{labels as a dict's items, sorted: value} of one family."""
    return {tuple(sorted(k)): v for k, v in samples[name].items()}


def labelled(samples, name, label):
    """{label value: sample value} of a family with one label."""
    return {dict(k)[label]: v for k, v in samples[name].items()}


def test_metrics_two_nodes(env):
    a = env.found()
    b = env.node(init=False)
    b.muni = ODD_NAME
    b.init()
    env.join(a, b)
    for i in range(3):
        cert(a, f"M-{i}")
    wait_until(lambda: digests_equal([a, b]), 15, what="convergence")

    text = scrape(a)
    promtool(text)
    s, types = parse(text)
    st = a.status()
    assert value(s, "catalogd_records") == st["records"]
    assert value(s, "catalogd_current_entries") == st["current"]
    assert value(s, "catalogd_members") == st["members"] == 2
    assert value(s, "catalogd_store_map_bytes") == st["map_size"]
    assert 0 < value(s, "catalogd_store_used_bytes") <= st["map_size"]
    assert value(s, "catalogd_healthy") == 1
    # signed here: the three certifications and b's admission
    signed = labelled(s, "catalogd_records_signed_total", "kind")
    assert signed == {"certification": 3, "member": 1, "genesis": 0, "adoption": 0, "policy": 0, "other": 0}, signed
    assert types["catalogd_records_signed_total"] == "counter"
    assert types["catalogd_records"] == "gauge"
    info = dict(next(iter(s["catalogd_info"])))
    assert info["member"] == a.code and info["name"] == a.muni and info["member_id"] == a.member_id()
    assert info["version"]

    # b as a's peer: labelled by its code; its name, escaped, in the info metric
    assert f'name="{ODD_NAME.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' in text
    minfo = [dict(k) for k in s["catalogd_member_info"]]
    assert minfo == [{"member": b.code, "code": b.code, "name": ODD_NAME, "member_id": b.member_id()}], minfo
    assert value(s, "catalogd_peer_connected", member=b.code) == 1
    assert value(s, "catalogd_peers", state="established") == 1
    assert value(s, "catalogd_peer_received_bytes_total", member=b.code) > 0
    assert value(s, "catalogd_peer_sent_bytes_total", member=b.code) > 0
    # b holds the genesis, two member records and three certifications, all from a
    assert value(s, "catalogd_peer_sent_records_total", member=b.code) >= 5
    assert value(s, "catalogd_network_received_bytes_total") >= value(s, "catalogd_peer_received_bytes_total",
                                                                       member=b.code)

    def in_sync():
        s2, _ = parse(scrape(a))
        return value(s2, "catalogd_peer_in_sync", member=b.code) == 1 and s2
    s2 = wait_until(in_sync, 10, what="a to see b's digest equal its own")
    age = value(s2, "catalogd_peer_digest_age_seconds", member=b.code)
    assert 0 <= age < 300, age

    # b: everything it holds came from a, and its own name is escaped too
    tb = scrape(b)
    promtool(tb)
    sb, _ = parse(tb)
    applied = labelled(sb, "catalogd_records_applied_total", "kind")
    assert applied["certification"] == 3 and applied["genesis"] == 1, applied
    assert sum(applied.values()) == b.status()["records"]
    assert value(sb, "catalogd_peer_received_records_total", member=a.code) == sum(applied.values())
    assert dict(next(iter(sb["catalogd_info"])))["name"] == ODD_NAME

    # the search index's counts, once a search has brought it up to date
    a.ctl("search")
    s3, _ = parse(scrape(a))
    assert value(s3, "catalogd_catalog_index_current") == 1
    assert value(s3, "catalogd_catalog_entries", kind="certification") == 3
    assert value(s3, "catalogd_catalog_entries", kind="adoption") == 0
    assert value(s3, "catalogd_catalog_index_builds_total") == 1
    assert value(s3, "catalogd_catalog_index_updates_in_place_total") == 0

    # catalogctl metrics: the same text (format, families, series)
    ct = a.ctl("metrics")
    promtool(ct)
    sc, tc = parse(ct)
    assert tc == types
    assert {n: set(v) for n, v in sc.items()} == {n: set(v) for n, v in s3.items()}
    assert value(sc, "catalogd_records") == st["records"]
    assert series(sc, "catalogd_records_signed_total") == series(s, "catalogd_records_signed_total")

    # a certification written here and one received from b: the next search
    # reads just those two into the index, it does not build it again
    cert(a, "MET-4")
    cert(b, "MET-B1")
    wait_until(lambda: digests_equal([a, b]), 10, what="a to hold b's certification")
    out = a.ctl("search")
    assert "MET-4" in out and "MET-B1" in out, out
    s4, _ = parse(scrape(a))
    assert value(s4, "catalogd_catalog_index_current") == 1
    assert value(s4, "catalogd_catalog_entries", kind="certification") == 5
    assert value(s4, "catalogd_catalog_index_builds_total") == 1
    assert value(s4, "catalogd_catalog_index_updates_in_place_total") == 1


def _probe(env, data, target, mode):
    args = [os.path.join(env.tools, "peerprobe"), "--data", data, "--connect", target.addr, "--mode", mode]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30 * SLOW)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def _control_raw(node, frame_body):
    """One request on the control socket as catalogctl would send it (a
    4-byte length and a msgpack map); the reply's bytes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(10 * SLOW)
        c.connect(os.path.join(node.dir, "control.sock"))
        c.sendall(struct.pack(">I", len(frame_body)) + frame_body)
        head = b""
        while len(head) < 4:
            head += c.recv(4 - len(head))
        n = struct.unpack(">I", head)[0]
        body = b""
        while len(body) < n:
            body += c.recv(n - len(body))
        return body


def test_metrics_count_refusals(env):
    a = env.found()
    m = env.join(a)
    cert(m, "R-1")
    wait_until(lambda: digests_equal([a, m]), 15, what="convergence")
    s0, _ = parse(scrape(a))
    got0 = value(s0, "catalogd_peer_received_bytes_total", member=m.code)
    assert got0 > 0
    assert value(s0, "catalogd_peers_refused_total", reason="not_member") == 0
    assert value(s0, "catalogd_verify_failures_total") == 0

    # a key that is no member's: refused at the TLS handshake
    stranger = env.node()
    stranger.run("join", "--sponsor", a.cert_file(), "--address", a.addr)
    stranger.start()
    wait_until(lambda: value(parse(scrape(a))[0], "catalogd_peers_refused_total", reason="not_member") >= 1,
               10, what="the stranger's refusal counted")
    stranger.stop()

    # m's identity, its daemon stopped, sends a forged and a malformed record,
    # and a signed one whose body is malformed (found on the thread pool,
    # where bodies are checked: still "malformed", not "rules")
    m.stop()
    for mode, code in (("bad-sig", "4"), ("malformed", "3"), ("bad-body", "3")):
        rc, out, err = _probe(env, m.dir, a, mode)
        assert rc == 0 and f"recv error {code}" in out, (mode, rc, out, err)
        if mode == "bad-body":
            assert "malformed record: record body: floating point" in out, out

    # an unknown control command: {"cmd": "nope"}
    before = value(parse(a.ctl("metrics"))[0], "catalogd_control_errors_total")
    reply = _control_raw(a, b"\x81\xa3cmd\xa4nope")
    assert b"unknown control command" in reply, reply

    def counted():
        t = scrape(a)
        s, _ = parse(t)
        return (value(s, "catalogd_verify_failures_total") >= 1 and
                value(s, "catalogd_peer_failures_total", reason="signature") >= 1 and
                value(s, "catalogd_records_refused_total", reason="malformed") >= 2 and
                value(s, "catalogd_peer_failures_total", reason="record") >= 1 and (t, s))
    t, s = wait_until(counted, 10, what="the probe's refusals counted")
    promtool(t)
    assert value(s, "catalogd_records_refused_total", reason="malformed") == 2
    assert value(s, "catalogd_records_refused_total", reason="rules") == 0
    assert value(s, "catalogd_control_errors_total") == before + 1
    # m's connections are closed: its traffic is still counted, never less
    assert value(s, "catalogd_peer_connected", member=m.code) == 0
    assert value(s, "catalogd_peer_received_bytes_total", member=m.code) >= got0
    assert value(s, "catalogd_peer_received_records_total", member=m.code) >= 1
    assert value(s, "catalogd_records_applied_total", kind="certification") == 1


def test_metrics_without_web_view(env):
    """web_listen off: no /metrics, and catalogctl metrics still answers."""
    a = env.found()
    a.stop()
    a.start("--web-listen", "")
    try:
        urllib.request.urlopen(a.web_url + "/metrics", timeout=3)
        raise AssertionError("the web view answered although web_listen is off")
    except urllib.error.URLError:
        pass
    t = a.ctl("metrics")
    promtool(t)
    s, _ = parse(t)
    assert value(s, "catalogd_records") == a.status()["records"]
    assert value(s, "catalogd_peers", state="established") == 0
    rc, out, err = a.run("metrics", "--json", check=False)
    assert rc == 2 and "usage" in err, (rc, out, err)
