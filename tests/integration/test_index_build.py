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


def response(s):
    s.settimeout(60 * SLOW)
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
