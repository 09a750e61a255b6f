"""One node: identity, records through catalogctl, crash safety (issue 2)."""
import json
import os
import signal
import stat
import sys
import threading
import time

from harness import CtlError, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench"))
from ctlclient import Ctl  # noqa: E402


def test_init_validates_and_refuses_overwrite(env):
    n = env.node(init=False)
    rc, out, err = n.run("init", "--code", "131058", "--name", "文京区", check=False)
    assert rc == 1, rc
    assert "check digit" in err and "expected 9" in err, err
    assert not os.path.exists(os.path.join(n.dir, "node.key"))
    rc, out, err = n.run("init", "--code", "13105", "--name", "文京区", check=False)
    assert rc == 1 and "131" not in out, (rc, out)
    n.run("init", "--code", "131059", "--name", "文京区")
    mode = stat.S_IMODE(os.stat(os.path.join(n.dir, "node.key")).st_mode)
    assert mode == 0o600, oct(mode)
    ident = n.member_id()
    rc, out, err = n.run("init", "--code", "131016", "--name", "千代田区", check=False)
    assert rc == 1 and "refusing to overwrite" in err, err
    assert n.member_id() == ident, "identity changed after a refused init"
    # the id printed from the certificate file is the same as the node's
    assert n.run("id", n.cert_file(), data=False)[1].strip() == ident
    assert len(ident.replace("-", "")) == 52


def test_key_types(env):
    for kt in ("ed25519", "p256", "rsa"):
        f = env.node(key_type=kt)
        f.run("alliance", "create", "--name", "連合" + kt)
        f.start()
        f.ctl("put", "note", "k", "v=1")
        got = f.ctl_json("get", "note", "k")
        assert got[0]["body"] == {"v": "1"}, got
        assert f.status()["records"] == 2
        f.stop()


def test_usage_and_refusals(env):
    f = env.found()
    rc, _, err = f.run("frobnicate", check=False)
    assert rc == 2 and "unknown command" in err
    rc, _, err = f.run("put", "note", check=False)
    assert rc == 2 and "usage" in err
    rc, _, err = f.run("put", "Bad-Kind", "k", "a=b", check=False)
    assert rc == 3 and "kind" in err, (rc, err)
    rc, _, err = f.run("put", "note", "k", "x" * 70 + "=v", check=False)
    assert rc == 3 and "field" in err, (rc, err)
    rc, _, err = f.run("put", "genesis", "k", check=False)
    assert rc == 3, rc
    rc, _, err = f.run("put", "note", "k" * 300, "a=b", check=False)
    assert rc == 3 and "key" in err, err
    # nothing of the above was stored
    assert f.status()["records"] == 1
    # a second daemon on the same data dir is refused
    import subprocess
    p = subprocess.run([env.daemon, "--data", f.dir, "--control", os.path.join(env.tmp, "x.sock")],
                       stderr=subprocess.PIPE, timeout=10)
    assert p.returncode == 1 and b"another catalogd" in p.stderr, p.stderr
    # a node without an alliance refuses to write
    lone = env.node().start(listen=False)
    rc, _, err = lone.run("put", "note", "k", "a=b", check=False)
    assert rc == 3 and "no alliance" in err, err
    # catalogctl without a daemon fails cleanly
    lone.stop()
    rc, _, err = lone.run("status", check=False)
    assert rc == 1 and "cannot reach catalogd" in err, err


def test_status_json_keys(env):
    f = env.found()
    s = f.status()
    for k in ("member_id", "code", "name", "records", "digest", "peers", "members", "alliance"):
        assert k in s, k
    assert s["code"] == f.code and s["name"] == f.muni
    assert s["member_id"] == f.member_id()
    assert s["members"] == 1 and s["records"] == 1


def test_last_seq_wins_tombstone_history(env):
    f = env.found()
    f.ctl("put", "note", "a", "title=一", "n=1")
    f.ctl("put", "note", "a", "title=二")
    f.ctl("put", "note", "b", "title=別")
    cur = f.ctl_json("get", "note", "a")
    assert cur[0]["body"] == {"title": "二"} and cur[0]["seq"] == 3, cur
    f.ctl("put", "note", "a", "--delete")
    cur = f.ctl_json("get", "note", "a")
    assert cur[0]["tombstone"] is True, cur
    hist = f.ctl_json("history", "note", "a")
    assert [h["seq"] for h in hist] == [2, 3, 5], hist
    assert hist[0]["body"]["title"] == "一"
    lst = f.ctl_json("list", "note")
    assert sorted(r["key"] for r in lst) == ["a", "b"]
    s = f.status()
    assert s["records"] == 5 and s["current"] == 3, s


def test_sigkill_keeps_acknowledged_records(env):
    f = env.found()
    acked = {}
    for i in range(60):
        out = f.ctl_json("put", "note", f"k{i % 20}", f"v={i}", f"名前=項目{i}")
        acked[f"k{i % 20}"] = (i, out["seq"])
    before = f.status()
    f.kill()
    f.start()
    after = f.status()
    assert after["digest"] == before["digest"], (before, after)
    assert after["records"] == before["records"] == 61
    for k, (i, seq) in acked.items():
        got = f.ctl_json("get", "note", k)
        assert got[0]["seq"] == seq and got[0]["body"]["v"] == str(i), (k, got)
    # writing continues with the next seq after the crash
    out = f.ctl_json("put", "note", "after", "v=x")
    assert out["seq"] == 62, out
    # SIGTERM exits cleanly with status 0
    assert f.stop() == 0


def test_control_socket_mode_and_bad_frames(env):
    import socket
    import struct
    f = env.found()
    sock = os.path.join(f.dir, "control.sock")
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o660
    # an oversized frame closes the connection; the daemon keeps serving
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(struct.pack(">I", 0x7FFFFFFF) + b"x" * 10)
    s.settimeout(5)
    assert s.recv(100) == b""
    s.close()
    # garbage inside a frame gets an error reply, not a crash
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(struct.pack(">I", 3) + b"\xc1\xc1\xc1")
    s.settimeout(5)
    data = s.recv(1000)
    assert b"unknown control command" in data, data
    s.close()
    assert f.status()["records"] == 1


def test_pipelined_puts_from_a_slow_reader(env):
    """A client pipelines 20,000 puts and reads no reply for a while: the
    daemon stops taking its requests once 1 MB of replies wait, then goes
    on as they are read; every put is answered once, in order."""
    f = env.found()
    c = Ctl(os.path.join(f.dir, "control.sock"))
    c.s.settimeout(120)   # a daemon that never reads again fails the test, not hangs it
    n = 20000
    frames = [Ctl.frame({"cmd": "put", "kind": "note", "key": f"k{i}", "tombstone": 0,
                         "fields": [["text", "ｘ" * 150]]}) for i in range(n)]
    sender = threading.Thread(target=lambda: c.s.sendall(b"".join(frames)))
    sender.start()
    time.sleep(1.0)   # replies pile up unread meanwhile
    seqs = []
    for _ in range(n):
        r = c.recv()
        assert r.get("ok"), r
        seqs.append(r["seq"])
    sender.join()
    c.close()
    assert seqs == list(range(seqs[0], seqs[0] + n)), (seqs[:3], seqs[-3:])
    assert f.status()["records"] == n + 1
