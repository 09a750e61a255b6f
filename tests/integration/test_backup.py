"""Backup and restore (issue 13): a backup taken while puts pour in restores
to a node that catches up with the alliance; restore refuses what it must."""
import os
import re
import stat
import sys
import threading

from harness import digests_equal, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench"))
from ctlclient import Ctl  # noqa: E402


def put_load(sock, prefix, stop, errors):
    """Pipelined puts, 200 at a time on one connection, every reply read,
    until stop is set: the write load a backup is taken under."""
    try:
        c = Ctl(sock)
        c.s.settimeout(120)
        i = 0
        while not stop.is_set():
            frames = [Ctl.frame({"cmd": "put", "kind": "note", "key": f"{prefix}{i + j}", "tombstone": 0,
                                 "fields": [["text", "ｘ" * 200]]}) for j in range(200)]
            c.s.sendall(b"".join(frames))
            for _ in range(200):
                r = c.recv()
                assert r.get("ok"), r
            i += 200
        c.close()
    except Exception as e:  # reported by the test's thread
        errors.append(e)


def ready_records(node):
    """The records the node held when it last started (its log's ready line)."""
    lines = [ln for ln in node.logtext().splitlines() if " ready: " in ln]
    return int(re.search(r" ready: (\d+) records", lines[-1]).group(1))


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_backup_under_load_restores_and_converges(env):
    a = env.found()
    b = env.join(a)
    for i in range(50):
        a.ctl("put", "note", f"before{i}", "text=前")
    wait_until(lambda: digests_equal([a, b]), 15, what="a and b converge")
    errors, stop = [], threading.Event()
    load = threading.Thread(target=put_load, args=(os.path.join(a.dir, "control.sock"), "load", stop, errors))
    load.start()
    wait_until(lambda: a.status()["records"] > 1000, 30, what="the load to start")
    at_start = a.status()["records"]
    backup = os.path.join(env.tmp, "a.backup")
    rc, out, err = a.run("backup", backup)
    at_end = a.status()["records"]
    alive = load.is_alive()
    stop.set()
    load.join()
    assert alive and not errors, errors
    assert at_end > at_start, (at_start, at_end)   # the loop kept serving puts
    assert "backup written to" in out, out
    assert "private key" in err, err
    # the backup: a directory only its owner may enter, every file 0600
    assert mode(backup) == 0o700, oct(mode(backup))
    files = ["node.key", "node.crt", "db/data.mdb"]
    for f in files:
        assert mode(os.path.join(backup, f)) == 0o600, (f, oct(mode(os.path.join(backup, f))))
    assert sorted(os.listdir(backup)) == ["db", "node.crt", "node.key"], os.listdir(backup)
    # a second backup to the same path is refused; the first stays whole
    rc, _, err = a.run("backup", backup, check=False)
    assert rc != 0 and "exists" in err, err
    # records written after the backup, on both nodes
    for i in range(30):
        a.ctl("put", "note", f"after{i}", "text=後")
        b.ctl("put", "note", f"b-after{i}", "text=後")
    wait_until(lambda: digests_equal([a, b]), 30, what="a and b converge after the load")
    total = a.status()["records"]
    me = a.member_id()
    a.stop()
    # restore into a new directory and start the node there, on a's address
    newdir = os.path.join(env.tmp, "a-restored")
    rc, out, err = a.run("restore", backup, "--data", newdir, data=False)
    assert me in out, out
    assert mode(newdir) == 0o700, oct(mode(newdir))
    for f in files:
        assert mode(os.path.join(newdir, f)) == 0o600, f
    a.dir = newdir
    a.start()
    assert a.status()["member_id"] == me
    # the copy is one transaction: the records before it, part of the load, none after
    held = ready_records(a)
    assert at_start <= held <= at_end < total, (at_start, held, at_end, total)
    wait_until(lambda: digests_equal([a, b]), 30, what="the restored node to catch up")
    assert a.status()["records"] == b.status()["records"] == total
    assert "後" in a.ctl("get", "note", "after29")
    assert "後" in a.ctl("get", "note", "b-after29", "--author", b.member_id())
    # and it writes on as itself: b takes its next record
    a.ctl("put", "note", "later", "text=再開")
    wait_until(lambda: digests_equal([a, b]), 15, what="a's next record to reach b")


def test_restore_refusals(env):
    a = env.found()
    a.ctl("put", "note", "k", "text=v")
    backup = os.path.join(env.tmp, "bk")
    a.run("backup", backup)
    # a directory that holds anything is refused, and left as it was
    used = os.path.join(env.tmp, "used")
    os.mkdir(used)
    with open(os.path.join(used, "notes.txt"), "w") as f:
        f.write("x")
    rc, _, err = a.run("restore", backup, "--data", used, check=False, data=False)
    assert rc != 0 and "not empty" in err, err
    assert os.listdir(used) == ["notes.txt"], os.listdir(used)
    # a directory holding another node: refused, and replaced only with --force
    other = env.node()
    rc, _, err = other.run("restore", backup, check=False)
    assert rc != 0 and "not empty" in err, err
    assert other.member_id() != a.member_id()
    other.run("restore", backup, "--force")
    assert other.member_id() == a.member_id()
    # a node whose daemon runs: refused even with --force
    rc, _, err = a.run("restore", backup, "--force", check=False)
    assert rc != 0 and "running" in err, err
    # --data is required
    rc, _, err = a.run("restore", backup, check=False, data=False)
    assert rc == 2, (rc, err)
    # a key that is not the store's: refused before the target is touched
    third = env.node()
    for name in ("node.key", "node.crt"):
        with open(os.path.join(third.dir, name), "rb") as f:
            data = f.read()
        with open(os.path.join(backup, name), "wb") as f:
            f.write(data)
    fresh = os.path.join(env.tmp, "fresh")
    rc, _, err = a.run("restore", backup, "--data", fresh, check=False, data=False)
    assert rc != 0 and "belongs to" in err, err
    assert not os.path.exists(fresh)
    # not a backup at all
    rc, _, err = a.run("restore", used, "--data", fresh, check=False, data=False)
    assert rc != 0 and "not a catalogd backup" in err, err


def test_backup_help_and_relative_path(env):
    a = env.found()
    out = a.ctl("backup", "--help")
    assert "private key" in out and "FILE" in out, out
    assert "--data DIR" in a.ctl("restore", "--help")
    rc, out, err = a.run("backup", check=False)
    assert rc == 2, rc
    # a relative FILE names a path in the client's working directory
    cwd = os.getcwd()
    os.chdir(env.tmp)
    try:
        a.run("backup", "rel.backup")
    finally:
        os.chdir(cwd)
    assert os.path.isfile(os.path.join(env.tmp, "rel.backup", "db", "data.mdb"))
