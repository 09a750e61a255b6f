"""Integration test harness: real catalogd processes on loopback, real TLS,
real LMDB files in a temporary directory, driven through catalogctl.

A test module defines functions named test_*; each gets a fresh Env (its own
temporary directory) and must raise to fail.  Every daemon an Env started is
stopped when the test ends, whatever happened.
"""
import importlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import traceback

SLOW = 3.0 if os.environ.get("CATALOGD_SLOW") else 1.0

# Real municipality codes (全国地方公共団体コード, check digit included).
MUNICIPALITIES = [
    ("131059", "文京区"), ("131016", "千代田区"), ("131024", "中央区"), ("131032", "港区"),
    ("131041", "新宿区"), ("131067", "台東区"), ("131075", "墨田区"), ("131083", "江東区"),
    ("131091", "品川区"), ("131105", "目黒区"), ("131113", "大田区"), ("131121", "世田谷区"),
    ("131130", "渋谷区"), ("131148", "中野区"), ("131156", "杉並区"), ("131164", "豊島区"),
    ("131172", "北区"), ("131181", "荒川区"), ("131199", "板橋区"), ("131202", "練馬区"),
    ("131211", "足立区"), ("131229", "葛飾区"), ("131237", "江戸川区"), ("132012", "八王子市"),
    ("271004", "大阪市"), ("011002", "札幌市"), ("141003", "横浜市"), ("130001", "東京都"),
]


_ports_given = set()
PORT_LOW, PORT_HIGH = 20000, 32768
_port_rng = random.Random(os.getpid() ^ int(time.time() * 1000))


def free_port():
    """A loopback port nobody listens on now, and never one this run handed
    out before: a node's peer and web ports, picked one after the other,
    could otherwise be the same port (the kernel offers a port again once
    its probe socket is closed)."""
    while True:
        # below the kernel's ephemeral range (ip_local_port_range, 32768 up
        # by default), so that no outgoing connection of any process takes
        # the port between the pick and the daemon's bind; free on every
        # address, since some tests listen on 0.0.0.0
        port = _port_rng.randrange(PORT_LOW, PORT_HIGH)
        if port in _ports_given:
            continue
        s = socket.socket()
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            continue
        finally:
            s.close()
        _ports_given.add(port)
        return port


def wait_until(fn, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.time() + timeout * SLOW
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # the daemon may not answer yet
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class CtlError(AssertionError):
    def __init__(self, args, rc, out, err):
        super().__init__(f"catalogctl {' '.join(args)} exited {rc}: {err.strip()}")
        self.rc, self.out, self.err = rc, out, err


class Node:
    def __init__(self, env, name, code, muni, key_type="ed25519"):
        self.env, self.name, self.code, self.muni = env, name, code, muni
        self.key_type = key_type
        self.dir = os.path.join(env.tmp, name)
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        # every node serves its web view on a port of its own (the default,
        # 127.0.0.1:7480, would collide between nodes)
        self.web_port = free_port()
        self.web_addr = f"127.0.0.1:{self.web_port}"
        self.web_url = f"http://{self.web_addr}"
        self.proc = None
        self.logpath = os.path.join(env.tmp, name + ".log")

    def run(self, *args, check=True, data=True, timeout=30):
        cmd = [self.env.ctl] + (["--data", self.dir] if data else []) + [str(a) for a in args]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout * SLOW)
        out, err = p.stdout.decode(), p.stderr.decode()
        if check and p.returncode != 0:
            raise CtlError(args, p.returncode, out, err)
        return p.returncode, out, err

    def ctl(self, *args):
        return self.run(*args)[1]

    def ctl_json(self, *args):
        return json.loads(self.run(*args, "--json")[1])

    def init(self):
        return self.run("init", "--code", self.code, "--name", self.muni, "--key-type", self.key_type)

    def cert_file(self):
        path = os.path.join(self.env.tmp, self.name + ".pem")
        with open(path, "w") as f:
            f.write(self.ctl("cert"))
        return path

    def member_id(self):
        # after a key rotation a second line names the key in force
        return self.ctl("id").splitlines()[0].strip()

    def start(self, *extra, wait=True, listen=True, env=None):
        args = [self.env.daemon, "--data", self.dir, "--log-level", "debug",
                "--sync-interval", "300"]
        if listen:
            args += ["--listen", self.addr]
        if not any(str(a).startswith("--web-listen") for a in extra):
            args += ["--web-listen", self.web_addr]
        args += [str(a) for a in self.env.daemon_args] + [str(a) for a in extra]
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, env=env)
        if self not in self.env.procs:
            self.env.procs.append(self)
        if wait:
            wait_until(lambda: self.proc.poll() is None and self.answers(),
                       timeout=10, what=f"{self.name} to answer on its control socket")
        return self

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.name} did not exit after signal {sig}")
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def wait_member(self, timeout=15):
        """Until this node holds the alliance and its own admission."""
        me = self.member_id()
        wait_until(lambda: any(m["member_id"] == me and m["status"] == "member"
                               for m in self.ctl_json("member", "list")),
                   timeout, what=f"{self.name} to receive its own admission")

    def answers(self):
        """The daemon answers status: exit 0, or 1 with a status (degraded:
        a fork, a silent member), not 1 for an unreachable daemon."""
        rc, out, _ = self.run("status", "--json", check=False)
        return rc == 0 or (rc == 1 and out.startswith("{"))

    def status(self):
        """status --json; exit 1 (degraded) still carries the whole status."""
        rc, out, err = self.run("status", "--json", check=False)
        if rc not in (0, 1):
            raise CtlError(("status", "--json"), rc, out, err)
        return json.loads(out)

    def logtext(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")


class Env:
    def __init__(self, build):
        self.build = build
        self.ctl = os.path.join(build, "catalogctl")
        self.daemon = os.path.join(build, "catalogd")
        self.tools = os.path.join(build, "tools")
        self.tmp = tempfile.mkdtemp(prefix="catalogd-test-")
        self.procs = []
        self.n = 0
        self.daemon_args = []   # appended to every catalogd command line (last wins)

    def node(self, name=None, key_type="ed25519", init=True):
        code, muni = MUNICIPALITIES[self.n % len(MUNICIPALITIES)]
        self.n += 1
        n = Node(self, name or f"n{self.n}", code, muni, key_type)
        if init:
            n.init()
        return n

    def found(self, name="ファーストカスタマー・アライアンス（試験）", key_type="ed25519"):
        """A founding node, started."""
        f = self.node(key_type=key_type)
        f.run("alliance", "create", "--name", name, "--address", f.addr)
        return f.start()

    def join(self, sponsor, node=None, start=True, key_type="ed25519"):
        """Admit a new node through `sponsor` by exchanging certificates."""
        n = node or self.node(key_type=key_type)
        sponsor.run("member", "add", n.cert_file(), "--address", n.addr)
        n.run("join", "--sponsor", sponsor.cert_file(), "--address", sponsor.addr)
        if start:
            n.start()
            n.wait_member()
        return n

    def cleanup(self, keep=False):
        for n in self.procs:
            if n.proc and n.proc.poll() is None:
                n.proc.kill()
                n.proc.wait()
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def digests_equal(nodes):
    ds = [n.status()["digest"] for n in nodes]
    return len(set(ds)) == 1 and ds


def run_module(name, build):
    mod = importlib.import_module(name)
    tests = [(k, v) for k, v in sorted(vars(mod).items()) if k.startswith("test_") and callable(v)]
    passed = failed = 0
    for tname, fn in tests:
        env = Env(build)
        start = time.time()
        ok = True
        try:
            fn(env)
        except Exception:
            ok = False
            print(f"FAIL {name}.{tname} ({time.time() - start:.1f}s)")
            traceback.print_exc()
            for n in env.procs:
                try:
                    tail = n.logtext().splitlines()[-15:]
                    print(f"--- last log lines of {n.name}:\n" + "\n".join(tail))
                except OSError:
                    pass
        finally:
            # sanitizer reports come out at exit: a daemon that exits non-zero fails the test
            for n in env.procs:
                if n.proc and n.proc.poll() is None:
                    try:
                        rc = n.stop()
                    except AssertionError as e:
                        rc = str(e)
                    if rc not in (0, None) and ok:
                        ok = False
                        print(f"FAIL {name}.{tname}: {n.name} exited with {rc} at shutdown")
                        print("\n".join(n.logtext().splitlines()[-30:]))
            env.cleanup(keep=not ok and bool(os.environ.get("KEEP")))
        if ok:
            passed += 1
            print(f"ok   {name}.{tname} ({time.time() - start:.1f}s)", flush=True)
        else:
            failed += 1
    return passed, failed
