"""The web view's exports are built on the thread pool, not on the event
loop (daemon/web_export.c, web_defer in daemon/web.c): 10,000 rows took
0.3-0.6 s on the loop, during which gossip, the control socket and every
other browser waited.  While one is built the node answers; exports built
at once are bounded per node and per source; a client that goes away
stops its build; a stop cuts a build short and exits cleanly.

What is being built is seen in the metric catalogd_web_exports_building,
read over the web view itself: an answer that says 1 was written while
the export was being built, before the export's own answer."""
import csv
import http.client
import io
import os
import select
import socket
import struct
import time
import urllib.parse
import zipfile

from harness import SLOW, wait_until

ROWS = 10000


def big_catalog(env):
    """A node with 10,000 certifications of ~4 KB each: its XLSX takes the
    better part of a second to build, its CSV of one 分野 ~20 MB."""
    a = env.found()
    path = os.path.join(env.tmp, "big.csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["認定番号", "事業者名", "製品・サービス名", "分野", "認定日", "有効期限", "概要"])
        for i in range(ROWS):
            w.writerow([f"大-{i:05d}", "株式会社テスト", f"製品{i}", "防災" if i % 2 else "教育", "2026-04-01",
                        "2027-03-31", "説明" * 650])
    assert a.ctl_json("import", path)["created"] == ROWS
    status, _, _ = fetch(a, "/")   # the search index is built on the first search
    assert status == 200
    return a


def fetch(a, path, source="127.0.0.1"):
    c = http.client.HTTPConnection("127.0.0.1", a.web_port, timeout=30 * SLOW, source_address=(source, 0))
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def metric(a, name):
    """One unlabelled metric, asked of the web view."""
    status, _, body = fetch(a, "/metrics")
    assert status == 200, status
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    raise AssertionError(f"no {name} in the metrics")


def building(a):
    """catalogd_web_exports_building, asked of the web view."""
    return metric(a, "catalogd_web_exports_building")


def ask(a, path, source="127.0.0.1"):
    """A connection from source that has sent its request for path."""
    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", a.web_port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return s


def answered(s):
    """Whether anything of the answer has arrived on s (not read)."""
    return bool(select.select([s], [], [], 0)[0])


def response(s):
    """The whole answer on s: status, headers, body."""
    s.settimeout(60 * SLOW)
    r = http.client.HTTPResponse(s)
    r.begin()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


def xlsx_rows(body):
    z = zipfile.ZipFile(io.BytesIO(body))
    sheets = sorted(n for n in z.namelist() if n.startswith("xl/worksheets/sheet"))
    return [z.read(n).decode().count("<row ") for n in sheets]


def test_the_loop_answers_while_an_export_is_built(env):
    a = big_catalog(env)
    e = ask(a, "/export.xlsx")
    # /metrics answered with 1 while the export was built: before, the
    # export was built inside its request's callback, and no other request
    # was answered until its answer had been written
    wait_until(lambda: building(a) == 1, 10, interval=0.01, what="an answer while the export is built")
    st, hd, body = response(e)
    assert st == 200, (st, body[:300])
    assert "build;dur=" in hd["server-timing"], hd
    assert xlsx_rows(body) == [ROWS + 1, 1], xlsx_rows(body)   # both sheets, the headers and every row
    e.close()
    assert building(a) == 0
    # the CSV the same way: whole, the rows of one 分野
    e = ask(a, "/export.csv?area=%E9%98%B2%E7%81%BD")
    wait_until(lambda: building(a) == 1 or answered(e), 10, interval=0.01, what="the CSV to be built")
    st, hd, body = response(e)
    assert st == 200 and body.startswith(b"\xef\xbb\xbf"), (st, body[:300])
    assert body.count(b"\r\n") == ROWS // 2 + 1, body.count(b"\r\n")
    assert hd["content-disposition"].startswith('attachment; filename="catalog-'), hd


def test_a_whole_catalog_above_a_sources_share_is_served(env):
    """The CSV of all 10,000 certifications (~40 MB) is more than one
    source's share of the response budget (32 MiB): a source holding
    nothing gets it all the same (it was refused with 503 however often the
    browser asked again)."""
    a = big_catalog(env)
    st, hdr, body = fetch(a, "/export.csv")
    assert st == 200, (st, body[:200].decode(errors="replace"))
    assert len(body) > 32 << 20, len(body)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == ROWS + 1, len(rows)


def test_exports_built_at_once_are_bounded(env):
    """At most NODE_WEB_EXPORT_JOBS_SOURCE_MAX (2) of one source's (429),
    NODE_WEB_EXPORT_JOBS_MAX (3) in all (503), each with Retry-After and a
    message in Japanese; the node answers everything else meanwhile."""
    a = big_catalog(env)

    def attempt():
        held = [ask(a, "/export.xlsx", "127.0.0.2"), ask(a, "/export.xlsx", "127.0.0.2")]
        try:
            wait_until(lambda: building(a) == 2, 10, interval=0.01, what="two exports to be built")
            st, hd, body = fetch(a, "/export.xlsx", "127.0.0.2")
            if st == 200 and any(answered(s) for s in held):
                return None   # one had been finished already: try again
            assert st == 429 and hd.get("retry-after") == "5", (st, hd)
            assert "書き出しを作っている途中です（同時に 2 件まで）" in body.decode(), body.decode()[-600:]
            # another source is served
            held.append(ask(a, "/export.xlsx", "127.0.0.3"))
            wait_until(lambda: building(a) == 3 or any(answered(s) for s in held), 10, interval=0.01,
                       what="a third export to be built")
            st, hd, body = fetch(a, "/export.xlsx", "127.0.0.4")
            if st == 200 and any(answered(s) for s in held):
                return None
            assert st == 503 and hd.get("retry-after") == "5", (st, hd)
            assert "ほかの書き出しを作っているため混み合っています（同時に 3 件まで）" in body.decode()
            assert fetch(a, "/members")[0] == 200   # the rest of the view is served meanwhile
            # the ones being built are whole
            for s in held:
                st, _, body = response(s)
                assert st == 200 and xlsx_rows(body) == [ROWS + 1, 1], st
            return True
        finally:
            for s in held:
                s.close()
    assert any(attempt() for _ in range(3)), "an export finished before the next was asked, three times"
    wait_until(lambda: building(a) == 0, 30, what="the exports to finish")
    st, _, body = fetch(a, "/export.xlsx", "127.0.0.2")
    assert st == 200 and xlsx_rows(body) == [ROWS + 1, 1]


def test_a_head_builds_nothing(env):
    """HEAD on an export is answered like its GET without the body, at once:
    the status, the type and the file name, and no build on the thread
    pool (a link checker or `curl -I` must not take a build slot, nor
    seconds of a core).  The builds counter moves for a GET, not for a
    HEAD."""
    a = big_catalog(env)
    before = metric(a, "catalogd_web_export_builds_total")
    for path, ctype, name in (("/export.xlsx", "spreadsheetml", ".xlsx"), ("/export.csv", "text/csv", ".csv"),
                              ("/export.csv?kind=adoption", "text/csv", ".csv")):
        c = http.client.HTTPConnection("127.0.0.1", a.web_port, timeout=30 * SLOW)
        t0 = time.time()
        c.request("HEAD", path)
        r = c.getresponse()
        body = r.read()
        took = time.time() - t0
        c.close()
        hd = {k.lower(): v for k, v in r.getheaders()}
        assert r.status == 200 and body == b"", (path, r.status, body[:200])
        assert ctype in hd["content-type"] and name in hd["content-disposition"], hd
        assert took < 0.3 * SLOW, (path, took)   # the XLSX's build takes the better part of a second
        assert metric(a, "catalogd_web_export_builds_total") == before, path
        assert building(a) == 0
    # a HEAD answers as its GET would: a bad parameter is still a 400
    c = http.client.HTTPConnection("127.0.0.1", a.web_port, timeout=30 * SLOW)
    c.request("HEAD", "/export.csv?kind=x")
    assert c.getresponse().status == 400
    c.close()
    st, _, body = fetch(a, "/export.csv")
    assert st == 200 and body.startswith(b"\xef\xbb\xbf")
    assert metric(a, "catalogd_web_export_builds_total") == before + 1


def test_a_head_of_the_evidence_builds_nothing(env):
    """HEAD /evidence.xlsx is answered with the headers of its GET (status,
    type, file names) and no workbook: the GET writes and zips it on the
    loop.  Seen without timing: with TMPDIR where no file can be made, the
    GET fails (it needs its temporary file) and the HEAD does not."""
    a = env.found()
    a.run("certification", "add", "文京-2026-001", "事業者名=株式会社テスト", "製品・サービス名=防災アプリ",
          "分野=防災", "認定日=2026-04-01", "有効期限=2027-03-31")
    q = "/evidence.xlsx?" + urllib.parse.urlencode({"c": a.member_id(), "k": "文京-2026-001", "on": "2026-06-01"})
    names = ("content-type", "content-disposition")

    def head(path):
        c = http.client.HTTPConnection("127.0.0.1", a.web_port, timeout=30 * SLOW)
        try:
            c.request("HEAD", path)
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    st, got, body = fetch(a, q)
    assert st == 200 and zipfile.is_zipfile(io.BytesIO(body)), (st, body[:300])
    assert "4号随契確認書_" in urllib.parse.unquote(got["content-disposition"]), got
    st, hd, body = head(q)
    assert st == 200 and body == b"" and {k: hd.get(k) for k in names} == {k: got[k] for k in names}, (st, hd)
    # a HEAD answers as its GET would: an unknown record is its GET's error
    bad = q.replace("2026-001", "2026-999")
    assert head(bad)[0] == fetch(a, bad)[0] != 200
    a.stop()
    a.start(env=dict(os.environ, TMPDIR=os.path.join(env.tmp, "no-such-dir")))
    st, _, body = fetch(a, q)
    assert st == 500 and "一時ファイルを作れません" in body.decode(), (st, body[:300])
    st, hd, body = head(q)
    assert st == 200 and body == b"" and {k: hd.get(k) for k in names} == {k: got[k] for k in names}, (st, hd)


def test_a_client_that_goes_away_stops_its_export(env):
    """A browser that closes the tab or cancels the download while its export
    is built: the build stops (libh2o reads nothing of a connection whose
    request is being served, so the work looks at the socket), its slot is
    given back, and the node goes on as before."""
    a = big_catalog(env)
    cancelled = metric(a, "catalogd_web_export_cancelled_total")
    for i in range(4):   # more than NODE_WEB_EXPORT_JOBS_MAX: every slot is given back
        e = ask(a, "/export.xlsx")
        wait_until(lambda: building(a) == 1, 10, interval=0.01, what="the export to be built")
        if i % 2:   # a reset, or a plain close
            e.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        e.close()
        wait_until(lambda: building(a) == 0, 10, what="the build to stop")
    assert a.logtext().count("went away; its build was stopped") >= 3, a.logtext()[-1500:]
    # a stopped XLSX is not zipped: the workbook is freed unwritten
    assert a.logtext().count("(the workbook was not written)") >= 3, a.logtext()[-1500:]
    assert metric(a, "catalogd_web_export_cancelled_total") >= cancelled + 3
    assert a.proc.poll() is None
    assert fetch(a, "/healthz")[0] in (200, 503)
    st, _, body = fetch(a, "/export.xlsx")
    assert st == 200 and xlsx_rows(body) == [ROWS + 1, 1]
    assert a.stop() == 0


def test_a_stop_during_an_export_cuts_it_short(env):
    """SIGTERM while an export is built: the build stops at its next rows,
    its browser is told (503, in Japanese), and the daemon exits cleanly
    within the stop's grace, its store closed."""
    a = big_catalog(env)

    def attempt():
        e = ask(a, "/export.xlsx")
        wait_until(lambda: building(a) == 1, 10, interval=0.01, what="the export to be built")
        t0 = time.time()
        rc = a.stop()
        took = time.time() - t0
        assert rc == 0, rc
        st, hd, body = response(e)
        e.close()
        log = a.logtext()
        assert "stopped" in log.splitlines()[-1] and "still open at exit" not in log, log[-800:]
        a.start()
        if st == 200:
            return None   # finished before the signal came: try again
        assert st == 503 and "ノードを停止するため、書き出しを中止しました" in body.decode(), (st, body[-600:])
        assert took < 1.4 * SLOW, took   # below the 1.5 s grace: nothing was left to abandon
        return True
    assert any(attempt() for _ in range(3)), "the export finished before the stop, three times"
    assert a.ctl_json("status")["records"] >= ROWS


def test_an_export_that_fails_is_told_on_a_whole_page(env):
    """An export that fails on the thread pool (here: its temporary file
    cannot be made) is answered with the error page every other page
    gets, footer and date included: the page is made on the loop after
    the work, and its date must be the request's, not an empty one."""
    a = env.found()
    a.stop()
    a.start(env=dict(os.environ, TMPDIR=os.path.join(env.tmp, "absent")))
    st, _, body = fetch(a, "/export.xlsx")
    page = body.decode()
    assert st == 500 and "一時ファイルを作れません" in page, (st, page[-600:])
    st, _, other = fetch(a, "/no-such-page")
    assert st == 404 and "現在、このノードが保持する" in other.decode(), other.decode()[-400:]
    assert "現在、このノードが保持する" in page, page[-400:]
