"""An attack run against what staff and administrators touch: the web view's
requests, and catalogctl's printing of what other members wrote.  Each test
here failed on the code before its fix (docs/SECURITY.md lists them)."""
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

from harness import SLOW


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def cert(node, key, *fields):
    node.ctl("certification", "add", key, "事業者名=株式会社テスト", "製品・サービス名=防災アプリ", "分野=防災",
             "認定日=2026-04-01", "有効期限=fy-end+2", *fields)


def response_head(s, timeout):
    """The status line of the answer, or None when none came within timeout."""
    s.settimeout(timeout)
    got = b""
    try:
        while b"\r\n" not in got:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except (socket.timeout, ConnectionResetError):
        pass
    return got.split(b"\r\n")[0] if got else None


def h2o_buffers(pid):
    """The temporary files libh2o holds open to buffer a request body."""
    fds = os.path.join("/proc", str(pid), "fd")
    held = []
    for fd in os.listdir(fds):
        try:
            if "h2o.b." in os.readlink(os.path.join(fds, fd)):
                held.append(fd)
        except OSError:
            pass
    return held


def test_web_request_bodies_are_refused_not_buffered(env):
    """The view serves GET and HEAD only; libh2o's default accepted a body of
    up to 1 GB per request before the handler ran, buffered in a file under
    /tmp: 64 connections of one address could fill 64 GB of disk, signed in
    or not."""
    a = env.found()
    for head in (b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n",
                 b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"):
        s = socket.create_connection(("127.0.0.1", a.web_port))
        s.sendall(head)
        chunked = b"chunked" in head
        try:
            for _ in range(48):   # 3 MiB of the announced 100 MiB
                s.sendall(b"10000\r\n" + b"x" * 65536 + b"\r\n" if chunked else b"x" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass   # refused while sending: fine
        status = response_head(s, 5 * SLOW)
        # an answer at once (413), not a wait for the rest of the body
        assert status is not None and b" 413 " in status + b" ", (head, status)
        assert not h2o_buffers(a.proc.pid), (head, h2o_buffers(a.proc.pid))
        s.close()
    # an empty body (Content-Length: 0, as some clients send with GET) is fine
    s = socket.create_connection(("127.0.0.1", a.web_port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    status = response_head(s, 5 * SLOW)
    assert status and (b" 200 " in status or b" 503 " in status), status
    s.close()


def test_web_nul_in_a_parameter_or_the_path_is_refused(env):
    """A percent-encoded NUL cut a parameter short without a word (q=abc%00def
    searched for "abc"; c=ID%00… named the record ID), and a path with one
    was served as the page before it (/members%00x as /members)."""
    a = env.found()
    for bad in ("/?q=abc%00def", "/?q%00x=1", "/new?days=30%00", "/members%00x", "/%00",
                "/static/style.css%00x"):
        st, body = get(a.web_url + bad)
        assert st == 400 and "使えない文字" in body, (bad, st, body[-400:])
    # what is not a NUL stays as it was
    st, body = get(a.web_url + "/?q=" + urllib.parse.quote("%00"))   # the text "%00"
    assert st == 200 and 'value="%00"' in body, (st, body[-400:])
    st, body = get(a.web_url + "/members")
    assert st == 200 and "<h1>加盟団体</h1>" in body, st


FORGED_HASH = "  hash: " + "0" * 64


def test_cli_a_line_break_in_a_field_forges_no_line(env):
    """Another member's text may hold line breaks (概要, KPI: multi-line
    fields; a withdrawal's reason).  Printed raw they made lines of their own
    in an administrator's terminal: a second "hash:" in `get` (the hash a
    contract officer compares with the evidence sheet's), a whole 第N版 in
    `certification history`."""
    a = env.found()
    cert(a, "文京-2026-701", "概要=防災の説明\n" + FORGED_HASH)
    out = a.ctl("get", "certification", "文京-2026-701")
    hashes = [l for l in out.splitlines() if l.startswith("  hash: ")]
    assert len(hashes) == 1 and hashes[0] != FORGED_HASH, out
    assert "防災の説明" in out, out
    # the value itself is kept (JSON carries it exactly)
    got = a.ctl_json("get", "certification", "文京-2026-701")
    assert got[0]["body"]["summary"] == "防災の説明\n" + FORGED_HASH, got
    # a withdrawal whose reason forges the next version
    forged = "第9版  2026-04-02 10:00  状態: 認定中"
    a.ctl("certification", "withdraw", "文京-2026-701", "--reason", "誤登録\n" + forged)
    for args in (("certification", "history", "文京-2026-701"), ("certification", "show", "文京-2026-701"),
                 ("history", "certification", "文京-2026-701")):
        out = a.ctl(*args)
        assert "誤登録" in out, (args, out)
        assert not any(l.startswith(("第9版", "  hash: 0000")) for l in out.splitlines()), (args, out)


def held_by(pid, local_port, peer_port):
    """Whether process pid holds the TCP connection local_port <- peer_port."""
    import subprocess
    out = subprocess.run(["ss", "-tnpH", "state", "established",
                          f"( sport = :{local_port} and dport = :{peer_port} )"],
                         capture_output=True, text=True).stdout
    return f"pid={pid}," in out


def big_catalog(env):
    """A node whose /export.csv is ~8 MB: beyond what the sockets' buffers take."""
    import csv
    a = env.found()
    path = os.path.join(env.tmp, "big.csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["認定番号", "事業者名", "製品・サービス名", "分野", "認定日", "有効期限", "概要"])
        for i in range(2000):
            w.writerow([f"大-{i:04d}", "株式会社テスト", f"製品{i}", "防災", "2026-04-01", "2027-03-31", "説明" * 650])
    assert a.ctl_json("import", path)["created"] == 2000
    return a


def test_web_a_response_nobody_reads_is_cut_off(env):
    """libh2o 2.2 times out reading a request but never sending a response:
    a client that asked for an export and read nothing kept its connection
    (one of 256) and the response for ever."""
    from harness import wait_until
    a = big_catalog(env)
    def ask():
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", a.web_port))
        s.sendall(b"GET /export.csv HTTP/1.1\r\nHost: x\r\n\r\n")
        port = s.getsockname()[1]
        wait_until(lambda: held_by(a.proc.pid, a.web_port, port), 10, what="the connection to be served")
        return s, port
    (s, port), (slow, slow_port) = ask(), ask()
    slow.setblocking(False)

    def closed_while_slow_reads():
        try:   # a slow client: a little every half second
            slow.recv(2048)
        except BlockingIOError:
            pass
        return not held_by(a.proc.pid, a.web_port, port)
    # never read: the daemon lets go of it once it sees no progress
    wait_until(closed_while_slow_reads, 40, interval=0.5, what="the stalled connection to be closed")
    assert "read none of its answer" in a.logtext(), a.logtext()[-600:]
    # the one that reads, however slowly, is served on
    assert held_by(a.proc.pid, a.web_port, slow_port)
    s.close()
    slow.close()
    # a client that reads gets the whole export
    with urllib.request.urlopen(a.web_url + "/export.csv", timeout=30) as r:
        body = r.read().decode("utf-8-sig")
    assert body.count("\r\n") == 2001, body.count("\r\n")


NETNS_SIGN_INS = r'''
import base64, http.client, os, ssl, subprocess, sys
sys.path.insert(0, sys.argv[1])
from harness import Env
from test_web_auth import PASSWORD, add_user, make_cert
# a namespace of our own: loopback, and a /64 of local addresses (one host's)
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["ip", "-6", "route", "add", "local", "fd00:1::/64", "dev", "lo"], check=True)
with open("/proc/sys/net/ipv6/ip_nonlocal_bind", "w") as f:   # this namespace's own setting
    f.write("1")
env = Env(sys.argv[2])
try:
    n = env.node()
    add_user(n, "suzuki", PASSWORD)
    cert, key, ctx = make_cert(env)
    ctx.check_hostname = False
    n.start("--web-listen", f"[::]:{n.web_port}", "--web-users-file", os.path.join(n.dir, "web-users"),
            "--web-tls-cert", cert, "--web-tls-key", key)
    out = []
    for i in range(8):   # one guess from each of 8 addresses of the /64
        c = http.client.HTTPSConnection("::1", n.web_port, context=ctx, timeout=10,
                                        source_address=(f"fd00:1::{i + 1:x}", 0))
        token = base64.b64encode(f"suzuki:guess-{i}-abcdef".encode()).decode()
        c.request("GET", "/", headers={"Authorization": "Basic " + token})
        out.append(c.getresponse().status)
        c.close()
    print(" ".join(map(str, out)))
    sys.exit(0 if n.stop() == 0 else 1)
finally:
    env.cleanup()
'''


def test_web_failed_sign_ins_counted_per_ipv6_64(env):
    """Failed sign-ins were counted per exact address: over IPv6 a guesser
    holding one /64 (what one host is handed) took 5 guesses a minute from
    each of its 2^64 addresses.  Counted per /64 now, as connections are."""
    import subprocess
    import sys
    script = os.path.join(env.tmp, "netns_sign_ins.py")
    with open(script, "w") as f:
        f.write(NETNS_SIGN_INS)
    here = os.path.dirname(os.path.abspath(__file__))
    p = subprocess.run(["unshare", "--net", sys.executable, script, here, os.path.abspath(env.build)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, (p.stdout, p.stderr[-2000:])
    assert p.stdout.split() == ["401"] * 5 + ["429"] * 3, p.stdout


def held_export(a, source):
    """A connection from source (a 127.0.0.x address) that asks for the ~8 MB
    export and reads nothing more than the status line: its status line."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((source, 0))
    s.connect(("127.0.0.1", a.web_port))
    s.sendall(b"GET /export.csv HTTP/1.1\r\nHost: x\r\n\r\n")
    return s, response_head(s, 10 * SLOW)


def test_web_responses_held_by_slow_clients_are_bounded(env):
    """A client that reads slowly is making progress and is served on; but
    every connection's answer was held in memory as long as it took: 256
    slow exports of tens of MB each.  An answer that would take the bytes
    held past NODE_WEB_INFLIGHT_MAX (128 MiB) in all, or past a quarter of
    it for its own source (one client on 17 connections held the whole
    budget), is a 503 instead, until some are sent; small answers always go."""
    import threading
    from harness import wait_until
    a = big_catalog(env)
    held = []
    stop = threading.Event()

    def read_slowly():
        # every held client takes a little now and then: progress, so the
        # stall cut-off leaves them be however long the exports take to
        # make (under AddressSanitizer several seconds each)
        while not stop.wait(1.0):
            for s in list(held):
                try:
                    s.recv(4096, socket.MSG_DONTWAIT)
                except OSError:
                    pass
    reader = threading.Thread(target=read_slowly, daemon=True)
    reader.start()
    # one source: its share (32 MiB: four 8 MB exports) then 503
    statuses = []
    for _ in range(8):
        s, st = held_export(a, "127.0.0.2")
        held.append(s)
        statuses.append(st)
        if st and b" 503 " in st:
            break
    assert statuses[-1] and b" 503 " in statuses[-1], statuses
    assert 2 <= len(statuses) - 1 <= 4 and all(b" 200 " in st for st in statuses[:-1]), statuses
    # ...while another source is served
    s, st = held_export(a, "127.0.0.3")
    held.append(s)
    assert st and b" 200 " in st, st
    # many sources: the whole budget, then 503 for everyone
    statuses = []
    for i in range(4, 40):
        s, st = held_export(a, f"127.0.0.{i}")
        held.append(s)
        statuses.append(st)
        if st and b" 503 " in st:
            break
    assert statuses[-1] and b" 503 " in statuses[-1], statuses
    assert len(statuses) >= 8, statuses   # 128 MiB held in all before the first refusal of a new source
    # it says so, in Japanese; a small page still fits in what is left, and
    # monitoring's /healthz is answered
    st, body = get(a.web_url + "/export.csv")
    assert st == 503 and "混み合っています" in body, (st, body[:300])
    assert get(a.web_url + "/members")[0] == 200
    assert get(a.web_url + "/healthz")[0] in (200, 503) and "混み合" not in get(a.web_url + "/healthz")[1]
    assert "whose client read none of its answer" not in a.logtext()   # slow, not stalled
    # once the held answers are gone, the export is served again, whole
    stop.set()
    reader.join()
    for s in held:
        s.close()
    wait_until(lambda: get(a.web_url + "/export.csv")[0] == 200, 10, what="the export to be served again")
    with urllib.request.urlopen(a.web_url + "/export.csv", timeout=30) as r:
        assert r.read().decode("utf-8-sig").count("\r\n") == 2001


def test_web_speaks_http1_only(env):
    """libh2o answered an Upgrade: h2c and an HTTP/2 preface in clear; an
    HTTP/2 client then held up to 100 answers on one connection behind a
    flow-control window of 0, where the stall cut-off saw nothing to cut."""
    a = env.found()
    s = socket.create_connection(("127.0.0.1", a.web_port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
              b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
    st = response_head(s, 10 * SLOW)
    s.close()
    assert st and st.startswith(b"HTTP/1.1 ") and b" 101 " not in st, st
    s = socket.create_connection(("127.0.0.1", a.web_port))
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
    s.settimeout(10 * SLOW)
    try:
        got = s.recv(64)
    except (socket.timeout, ConnectionResetError):
        got = b""
    s.close()
    # an HTTP/2 server's first bytes are its SETTINGS frame: type 4
    assert not (len(got) >= 4 and got[3] == 4 and not got.startswith(b"HTTP/")), got
