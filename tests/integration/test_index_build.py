"""The search index's first build (and a rebuild) runs on the thread pool,
not on the event loop (daemon/indexer.c): at a large catalog it reads
every current certification and adoption, seconds during which the loop
served no peer, no control client and no browser.  Meanwhile the requests
that search — web pages, control csearch — are held (parked, bounded) and
answered when the build ends, with what was applied during the build
folded in; a client that leaves while parked is let go of at once.

What is going on is seen in the metrics, read over the web view (/metrics
does not search): catalogd_catalog_index_building, catalogd_web_parked,
catalogd_control_parked."""
import csv
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse

from harness import SLOW, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench"))
from ctlclient import Ctl  # noqa: E402

ROWS = 32000           # imported in two files (an import is at most 64 MiB)
MARK = "ひまわり"       # in the summary of every 100th row
MARKED = ROWS // 100
Q = urllib.parse.quote(MARK)


def write_csv(path, rows, start=0, prefix="索"):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["認定番号", "事業者名", "製品・サービス名", "分野", "認定日", "有効期限", "概要"])
        for i in range(start, start + rows):
            w.writerow([f"{prefix}-{i:06d}", f"株式会社索引{i % 50}", f"製品{prefix}{i}", "防災" if i % 2 else "教育",
                        "2026-04-01", "2027-03-31", ("説明文" * 400) + (MARK if i % 100 == 7 else "")])


def large_catalog(env):
    """A node holding ROWS certifications of ~3.6 KB (a build of 2-5 s here), restarted: its index
    is not built yet."""
    a = env.found()
    for part in range(2):
        path = os.path.join(env.tmp, f"large{part}.csv")
        write_csv(path, ROWS // 2, start=part * ROWS // 2)
        assert a.ctl_json("import", path)["created"] == ROWS // 2
    a.stop()
    a.start()
    return a


def fetch(a, path):
    c = http.client.HTTPConnection("127.0.0.1", a.web_port, timeout=60 * SLOW)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def metric(a, name):
    status, body = fetch(a, "/metrics")
    assert status == 200, status
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    raise AssertionError(f"no {name} in the metrics")


def ask(a, path):
    s = socket.create_connection(("127.0.0.1", a.web_port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return s


def response(s, timeout=60):
    s.settimeout(timeout * SLOW)
    r = http.client.HTTPResponse(s)
    r.begin()
    body = r.read()
    s.close()
    return r.status, body.decode()


def products(page):
    at = page.find('<p class="count">')
    assert at >= 0, page[-600:]
    return int(page[at + len('<p class="count">'):].split(" 件の製品")[0])


def test_the_first_build_runs_off_the_loop_and_parked_searches_are_answered(env):
    a = large_catalog(env)
    t0 = time.time()
    first = ask(a, "/?q=" + Q)   # starts the build
    wait_until(lambda: metric(a, "catalogd_web_parked") == 1, 5 * SLOW, interval=0.01,
               what="the first search to wait for the build")
    assert metric(a, "catalogd_catalog_index_building") == 1

    # a control csearch waits too (catalogctl search, in the background)
    ctl = subprocess.Popen([a.env.ctl, "--data", a.dir, "search", MARK, "--json"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    wait_until(lambda: metric(a, "catalogd_control_parked") == 1, 5 * SLOW, interval=0.01,
               what="the csearch to wait for the build")

    # a browser that leaves while it waits is let go of at once, not at the end
    gone = ask(a, "/search?q=" + Q)
    wait_until(lambda: metric(a, "catalogd_web_parked") == 2, 5 * SLOW, interval=0.01, what="a second to wait")
    gone.close()
    wait_until(lambda: metric(a, "catalogd_web_parked") == 1, 2 * SLOW, interval=0.01,
               what="the request of the client that left to be let go of")
    # so is a control client that leaves while its csearch waits
    c = Ctl(os.path.join(a.dir, "control.sock"))
    c.send({"cmd": "csearch", "q": MARK})
    wait_until(lambda: metric(a, "catalogd_control_parked") == 2, 5 * SLOW, interval=0.01, what="a second csearch")
    c.s.close()
    wait_until(lambda: metric(a, "catalogd_control_parked") == 1, 2 * SLOW, interval=0.01,
               what="the csearch of the control client that left to be let go of")
    assert metric(a, "catalogd_catalog_index_building") == 1, "the build ended before the checks: too small"

    # the loop answers meanwhile: a control status, at once
    s0 = time.time()
    st = a.status()
    took = time.time() - s0
    assert st["records"] >= ROWS and took < 0.5 * SLOW, took

    # a certification written during the build is folded in when it ends
    extra = os.path.join(env.tmp, "extra.csv")
    write_csv(extra, 1, start=7, prefix="追")   # i=7: marked
    assert a.ctl_json("import", extra)["created"] == 1
    still = metric(a, "catalogd_catalog_index_building")

    status, page = response(first)
    build_s = time.time() - t0
    assert status == 200, page[-600:]
    assert products(page) == MARKED + 1, (products(page), MARKED, still)
    out, err = ctl.communicate(timeout=60 * SLOW)
    assert ctl.returncode == 0, err.decode()
    found = {p["product"] for p in json.loads(out)}
    assert len(found) == MARKED + 1 and "製品追7" in found, (len(found), err.decode())
    assert metric(a, "catalogd_web_parked") == 0 and metric(a, "catalogd_control_parked") == 0
    assert metric(a, "catalogd_catalog_index_building") == 0
    # one build, and the record written meanwhile folded in from its note
    assert metric(a, "catalogd_catalog_index_builds_total") == 1
    assert metric(a, "catalogd_catalog_index_updates_in_place_total") == 1
    log = a.logtext()
    assert "catalog index: building on the thread pool" in log and "built on the thread pool in" in log, log[-1500:]
    assert "a client waiting for the search index went away" in log, log[-1500:]
    # later searches are answered from the index at once, parking nothing
    status, page = fetch(a, "/?q=" + Q)
    assert status == 200 and products(page.decode()) == MARKED + 1
    print(f"build and answer {build_s:.2f} s, status during it {took * 1000:.0f} ms")
    assert a.stop() == 0


def test_a_stop_during_the_build(env):
    """SIGTERM while the index is built and searches wait: they are told
    (503, in Japanese), the build stops at its next record, and the daemon
    exits cleanly within the stop's grace."""
    a = large_catalog(env)
    first = ask(a, "/?q=" + Q)
    wait_until(lambda: metric(a, "catalogd_web_parked") == 1, 5 * SLOW, interval=0.01,
               what="the first search to wait for the build")
    t0 = time.time()
    assert a.stop() == 0
    took = time.time() - t0
    status, page = response(first)
    assert status == 503 and "ノードを停止するため、検索を中止しました" in page, (status, page)
    log = a.logtext()
    assert "still open at exit" not in log and log.splitlines()[-1].endswith("stopped"), log[-800:]
    assert took < 1.4 * SLOW, took


def test_parked_requests_past_their_bound_are_refused_and_the_node_recovers(env):
    """Past NODE_WEB_PARKED_MAX (128) waiting web requests a search is
    answered 503 at once, and past NODE_CONTROL_PARKED_MAX (32) waiting
    csearches an error, both saying to try again; when the build is in,
    the waiting ones are answered and later requests are served as usual.

    The build is held, not raced: the daemon runs with one pool thread
    (UV_THREADPOOL_SIZE, libuv's), which a backup holds while it opens the
    data directory's catalogd.conf, here a FIFO no one writes to until the
    bounds are checked; the index build queued behind it cannot end."""
    a = env.found()
    for i in range(3):
        a.run("certification", "add", f"索-{i}", "事業者名=株式会社索引", f"製品・サービス名=製品{i}", "分野=防災",
              "認定日=2026-04-01", "有効期限=2027-03-31", f"概要={MARK}")
    a.stop()
    a.start(env=dict(os.environ, UV_THREADPOOL_SIZE="1"))   # the index is not built since the start
    fifo = os.path.join(a.dir, "catalogd.conf")
    os.mkfifo(fifo)   # after the start: the daemon read no catalogd.conf
    backup = subprocess.Popen([a.env.ctl, "--data", a.dir, "backup", os.path.join(env.tmp, "held-backup")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    held = []
    try:
        wait_until(lambda: "backup to " in a.logtext() and " started" in a.logtext(), 10 * SLOW,
                   what="the backup to start")

        def ask_from(source, path):
            s = socket.socket()
            s.bind((source, 0))   # NODE_WEB_CONN_PER_ADDR (64) is per address: spread over four
            s.connect(("127.0.0.1", a.web_port))
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            return s

        for i in range(128):
            held.append(ask_from(f"127.0.0.{2 + i % 4}", "/?q=" + Q))
        wait_until(lambda: metric(a, "catalogd_web_parked") == 128, 10 * SLOW, interval=0.02,
                   what="128 searches to wait for the build")
        assert metric(a, "catalogd_catalog_index_building") == 1
        status, page = response(ask_from("127.0.0.6", "/search?q=" + Q), timeout=5)   # at once, not parked
        assert status == 503 and "検索の準備をしています（待てる要求は 128 件まで）" in page, (status, page[-600:])
        assert metric(a, "catalogd_web_parked") == 128

        ctls = []
        for i in range(32):
            c = Ctl(os.path.join(a.dir, "control.sock"))
            c.send({"cmd": "csearch", "q": MARK})
            ctls.append(c)
        wait_until(lambda: metric(a, "catalogd_control_parked") == 32, 10 * SLOW, interval=0.02,
                   what="32 csearches to wait for the build")
        rc, _, err = a.run("search", MARK, check=False)
        assert rc != 0 and "検索索引を作っている途中です（待てる検索は 32 件まで）" in err, (rc, err)
        assert metric(a, "catalogd_control_parked") == 32
        assert metric(a, "catalogd_catalog_index_building") == 1

        # the backup goes on, and the build after it: every waiting one is answered
        with open(fifo, "wb"):
            pass
        out, err = backup.communicate(timeout=30 * SLOW)
        assert backup.returncode == 0, err.decode()
        for s in held:
            status, page = response(s)
            assert status == 200 and products(page) == 3, (status, page[-600:])
        held = []
        for c in ctls:
            r = c.recv()
            assert r.get("ok") and r["products"] == 3, r
            c.close()
    finally:
        for s in held:
            s.close()
        if backup.poll() is None:
            with open(fifo, "wb"):   # lets the backup end, whatever failed
                pass
            backup.wait(timeout=30 * SLOW)
        os.unlink(fifo)
    assert metric(a, "catalogd_web_parked") == 0 and metric(a, "catalogd_control_parked") == 0
    assert metric(a, "catalogd_catalog_index_building") == 0
    # later requests are served from the index, parking nothing
    status, page = fetch(a, "/search?q=" + Q)
    assert status == 200 and products(page.decode()) == 3
    rc, out, err = a.run("search", MARK, "--json")
    assert len(json.loads(out)) == 3, out
    assert a.stop() == 0
