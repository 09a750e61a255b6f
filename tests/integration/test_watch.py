"""catalogctl watch (issue 13): new and changed records as the node applies
them, filtered by kind, 分野 and member, as a table or JSON lines; across a
daemon restart it reconnects and resumes where it was, with no record
twice and none missing; --state carries the position across runs; a
watcher that does not read is not dropped and misses nothing."""
import json
import os
import queue
import subprocess
import sys
import threading
import time

from harness import SLOW, digests_equal, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench"))
from ctlclient import Ctl, unpack  # noqa: E402


def cert(node, key, area="防災", product="見守りセンサー"):
    rc, out, err = node.run("certification", "add", key, "事業者名=株式会社ウォッチ試験",
                            f"製品・サービス名={product}", f"分野={area}", "認定日=2026-04-01",
                            "有効期限=2029-03-31", check=False)
    assert rc == 0, (key, err)


class Watcher:
    """catalogctl watch as a process, its lines collected by threads."""

    def __init__(self, node, *args):
        self.p = subprocess.Popen([node.env.ctl, "--data", node.dir, "watch", *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out, self.err = queue.Queue(), []
        threading.Thread(target=self._read, args=(self.p.stdout, self.out.put), daemon=True).start()
        threading.Thread(target=self._read, args=(self.p.stderr, self.err.append), daemon=True).start()

    @staticmethod
    def _read(f, put):
        for line in iter(f.readline, b""):
            put(line.decode("utf-8").rstrip("\n"))

    def lines(self, n, timeout=15):
        got = []
        deadline = time.time() + timeout * SLOW
        while len(got) < n:
            try:
                got.append(self.out.get(timeout=max(0.01, deadline - time.time())))
            except queue.Empty:
                raise AssertionError(f"watch printed {len(got)} of {n} lines: {got}; stderr {self.err}")
        return got

    def quiet(self, seconds=1.0):
        """Nothing more printed for that long (no repeats)."""
        try:
            extra = self.out.get(timeout=seconds)
        except queue.Empty:
            return
        raise AssertionError(f"watch printed more than expected: {extra}")

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=10)


def test_watch_resumes_across_a_restart(env):
    a = env.found()
    b = env.join(a)
    w = Watcher(a, "--json", "--kind", "certification", "--from-start")
    try:
        cert(a, "W-1")
        cert(b, "W-2")
        first = [json.loads(x) for x in w.lines(2)]
        assert sorted(r["key"] for r in first) == ["W-1", "W-2"], first
        byb = next(r for r in first if r["key"] == "W-2")
        assert byb["author_code"] == b.code and byb["author_name"] == b.muni, byb
        assert byb["body"]["areas"] == ["防災"], byb

        # a stops; b certifies two more meanwhile; a comes back and syncs
        a.stop()
        cert(b, "W-3")
        cert(b, "W-4")
        a.start()
        wait_until(lambda: digests_equal([a, b]), 15, what="a to catch up with b")
        cert(a, "W-5")
        rest = [json.loads(x) for x in w.lines(3)]
        # each author's records in its seq order; authors may interleave
        # (the watcher may come back after W-5 was written)
        assert sorted(r["key"] for r in rest) == ["W-3", "W-4", "W-5"], rest
        assert [r["key"] for r in rest if r["author_code"] == b.code] == ["W-3", "W-4"], rest
        w.quiet()
        seen = [(r["author"], r["seq"]) for r in first + rest]
        assert len(set(seen)) == 5, seen
        assert any("接続が切れました" in e for e in w.err) and any("再接続しました" in e for e in w.err), w.err
    finally:
        w.stop()


def test_watch_filters_table_and_state(env):
    a = env.found()
    b = env.join(a)
    state = os.path.join(env.tmp, "watch.state")
    w = Watcher(a, "--area", "防災", "--member", b.code, "--state", state, "--from-start")
    try:
        cert(a, "F-A1", area="防災")                    # a's: filtered out
        cert(b, "F-B1", area="教育")                    # another 分野: out
        cert(b, "F-B2", area="防災", product="避難所マップ")
        lines = w.lines(1)   # a pipe: rows only (the header is for a terminal)
        row = lines[0]
        assert "認定" in row and f"{b.code} {b.muni}" in row and "F-B2" in row and "避難所マップ" in row, row
        w.quiet()
    finally:
        w.stop()
    # the position was kept: a new run shows only what came after it
    wait_until(lambda: digests_equal([a, b]), 15, what="a and b converge")
    cert(b, "F-B3", area="防災")
    w2 = Watcher(a, "--json", "--state", state)
    try:
        got = [json.loads(x) for x in w2.lines(1)]
        assert [r["key"] for r in got] == ["F-B3"], got
        w2.quiet()
    finally:
        w2.stop()
    # refusals: an unknown kind, an unknown 分野, an unknown member
    for args, what in ((["--kind", "nope"], "種別"), (["--area", "宇宙"], "分野"),
                       (["--member", "999999"], "団体")):
        rc, out, err = a.run("watch", *args, check=False, timeout=10)
        assert rc == 2 and what in err, (args, rc, err)


def _record_header(raw):
    """(author, seq) of a record's bytes."""
    outer, _ = unpack(raw)
    tbs = outer[0] if isinstance(outer, list) else outer
    fields, _ = unpack(tbs) if isinstance(tbs, (bytes, bytearray)) else (tbs, 0)
    return bytes(fields[2]), fields[5]


def test_watch_slow_reader_misses_nothing(env):
    """A watcher that reads nothing while far more than the daemon's write
    queue bound (NODE_CONTROL_WRITE_HIGH, 1 MiB) is written is neither
    dropped nor a memory sink: once it reads, every record comes, once, in
    seq order; the daemon answered others meanwhile."""
    a = env.found()
    sock = os.path.join(a.dir, "control.sock")
    w = Ctl(sock)
    w.send({"cmd": "watch"})
    start = w.recv()
    assert start["ok"] and start["watch"], start
    me = None
    # 3,000 notes of ~1 KB each, pipelined: ~3 MB past the watcher
    c = Ctl(sock)
    n = 3000
    for i in range(0, n, 500):
        c.s.sendall(b"".join(Ctl.frame({"cmd": "put", "kind": "note", "key": f"slow{i + j}", "tombstone": 0,
                                        "fields": [["text", "ｘ" * 330]]}) for j in range(500)))
        for _ in range(500):
            assert c.recv()["ok"]
        assert a.status()["records"] > 0   # the loop answers while the watcher sits
    c.close()
    seqs = []
    w.s.settimeout(30 * SLOW)
    while len(seqs) < n:
        f = w.recv()
        if "record" in f:
            author, seq = _record_header(f["record"])
            if me is None:
                me = author
            assert author == me
            seqs.append(seq)
    assert seqs == list(range(seqs[0], seqs[0] + n)), (seqs[:5], seqs[-5:])
    # and it is live again: the next record comes by itself
    a.ctl("put", "note", "after", "text=後")
    while True:
        f = w.recv()
        if "record" in f:
            assert _record_header(f["record"]) == (me, seqs[-1] + 1)
            break
    w.close()
    # a malformed position is refused with a message, not a stream
    r = Ctl(sock)
    r.send({"cmd": "watch", "since": "all"})
    rep = r.recv()
    assert rep["ok"] is False and "since" in rep["error"], rep
    r.close()


def test_watchers_have_a_share_of_their_own(env):
    """Watchers hold their connections: past NODE_CONTROL_WATCHERS_MAX (16)
    the next is refused with a message, and verbs still get in."""
    a = env.found()
    sock = os.path.join(a.dir, "control.sock")
    held = []
    for _ in range(16):
        w = Ctl(sock)
        w.send({"cmd": "watch"})
        assert w.recv()["ok"]
        held.append(w)
    extra = Ctl(sock)
    extra.send({"cmd": "watch"})
    rep = extra.recv()
    assert rep["ok"] is False and "watchers" in rep["error"], rep
    extra.close()
    assert a.status()["records"] >= 1
    held.pop().close()
    # one closed: room for one again
    def room():
        w = Ctl(sock)
        w.send({"cmd": "watch"})
        ok = w.recv()["ok"]
        if ok:
            held.append(w)
        else:
            w.close()
        return ok
    wait_until(room, 10, what="a watcher to be accepted again")
    for w in held:
        w.close()


def test_watch_table_escapes_line_breaks(env):
    """A withdrawal reason may hold a line break (another member's text): the
    table shows it escaped, never as a forged row of its own."""
    a = env.found()
    w = Watcher(a, "--kind", "certification", "--from-start")
    try:
        cert(a, "W-9")
        w.lines(1)
        forged = "誤登録\n2026-12-02 09:00  認定        999999 偽市           W-FAKE            偽の認定"
        rc, out, err = a.run("certification", "withdraw", "W-9", "--reason", forged, check=False)
        assert rc == 0, err
        line = w.lines(1)[0]
        assert "取り下げ" in line, line
        assert "\\u000a" in line and "W-FAKE" in line, line   # on the same line, escaped
        w.quiet(1.0)
    finally:
        w.stop()


def test_watch_shows_a_batch_that_ends_with_members(env):
    """From the start, a founder's log: the genesis (a membership record, so
    the batch ends with a members frame) and a note are shown at once, the
    genesis with the alliance's name — not held back until a later record."""
    a = env.found()
    a.ctl("put", "note", "n1", "text=x")
    w = Watcher(a, "--from-start")
    try:
        first, second = w.lines(2)
        assert "連合の創設" in first and "ファーストカスタマー・アライアンス（試験）" in first, first
        assert f"{a.code} {a.muni}" in first and "n1" in second, (first, second)
        w.quiet()
    finally:
        w.stop()
