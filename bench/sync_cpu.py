#!/usr/bin/env python3
"""Where a newcomer's CPU goes in an initial sync, repeatably (issue 14).

The wall-clock ratio of `make bench` moves with whatever else the machine
runs; this measures CPU per record instead, on the same data every time:

    python3 bench/sync_cpu.py prepare DIR [N]      founder with N imported certifications
                                                   (default 100000) and an admitted newcomer,
                                                   both stopped: the template
    python3 bench/sync_cpu.py run DIR [TRIALS]     copy the template, start the newcomer, then
                                                   the founder; when the digests match, print
                                                   the newcomer's CPU by thread (schedstat, ns)
                                                   and the founder's, per record; the newcomer's
                                                   minor page faults per record, both peak RSS

BUILD picks the binaries (default build).  SYNC_CPU_RECORD=FILE records
a perf profile of the newcomer (attached before the founder starts, so the
whole sync is in it; SYNC_CPU_LOOP=1: its loop thread only,
SYNC_CPU_CALLGRAPH=dwarf for call chains, SYNC_CPU_EVENT=page-faults: every
page fault instead of CPU samples).  This machine's perf has no
hardware counters (a VM): CPU time from schedstat is the figure, and
callgrind (valgrind --tool=callgrind on the newcomer of a small template)
gives instruction counts.  SYNC_CPU_KEEP=1 keeps the last trial's data;
SYNC_CPU_WRAP="valgrind --tool=callgrind ..." runs the newcomer under it
(with SYNC_CPU_INTERVAL=600000: no anti-entropy probe, whose hello makes
the founder send again what a newcomer slowed down by valgrind has not yet
applied).  A newcomer that slow may still be sent records twice: the line
ends with what the founder sent, so that two runs are compared only when
they took in the same records.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import harness  # noqa: E402
from ctlclient import Ctl  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))


def threads_cpu(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[int(tid)] = int(f.read().split()[0])
        except OSError:
            pass
    return out


def faults_hwm(pid):
    """Minor page faults of the whole process, and its peak RSS in kB."""
    with open(f"/proc/{pid}/stat") as f:
        minflt = int(f.read().rsplit(")", 1)[1].split()[7])
    hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return minflt, hwm


def prepare(d, n):
    env = harness.Env(BUILD)
    env.tmp = d
    os.makedirs(d, exist_ok=True)
    founder = env.found()
    csv = os.path.join(d, "catalog.csv")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_catalog.py"), str(n), csv], check=True)
    founder.run("import", csv, timeout=1200)
    newcomer = env.join(founder, start=False)
    founder.stop()
    with open(os.path.join(d, "template.json"), "w") as f:
        json.dump({"founder": [founder.name, founder.addr, founder.web_addr],
                   "newcomer": [newcomer.name, newcomer.addr, newcomer.web_addr]}, f)
    print(f"template in {d}: {n} certifications")


def start(build, data, addr, web, level, wrap=()):
    return subprocess.Popen(list(wrap) + [os.path.join(build, "catalogd"), "--data", data, "--log-level", level,
                             "--sync-interval", os.environ.get("SYNC_CPU_INTERVAL", "2000"),
                             "--listen", addr, "--web-listen", web],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_sock(path, proc, timeout=60):
    t0 = time.time()
    while not os.path.exists(path):
        if proc.poll() is not None or time.time() - t0 > timeout:
            raise RuntimeError(f"no control socket at {path}")
        time.sleep(0.01)
    while True:
        try:
            c = Ctl(path)
            c.call({"cmd": "status"})
            return c
        except (OSError, EOFError, RuntimeError):
            if time.time() - t0 > timeout:
                raise
            time.sleep(0.01)


def metric(c, name):
    for line in c.call({"cmd": "metrics"})["text"].splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    return None


def run(d, trials):
    with open(os.path.join(d, "template.json")) as f:
        t = json.load(f)
    fname, faddr, fweb = t["founder"]
    nname, naddr, nweb = t["newcomer"]
    for trial in range(trials):
        w = os.path.join(d, "trial")
        shutil.rmtree(w, ignore_errors=True)
        os.makedirs(w)
        for name in (fname, nname):
            shutil.copytree(os.path.join(d, name), os.path.join(w, name), symlinks=True)
            for junk in ("control.sock", "catalogd.lock"):
                try:
                    os.unlink(os.path.join(w, name, junk))
                except OSError:
                    pass
        # the newcomer first, so a counter attached to its loop thread sees
        # the whole sync; it dials the founder with backoff, the founder
        # dials it at once when it starts
        nproc = start(BUILD, os.path.join(w, nname), naddr, nweb, "info",
                      os.environ.get("SYNC_CPU_WRAP", "").split())
        cn = wait_sock(os.path.join(w, nname, "control.sock"), nproc)
        perf = None
        if os.environ.get("SYNC_CPU_RECORD"):
            cg = os.environ.get("SYNC_CPU_CALLGRAPH")
            ev = os.environ.get("SYNC_CPU_EVENT")
            perf = subprocess.Popen(["perf", "record"] +
                                    (["-e", ev, "-c", "1"] if ev else ["-F", os.environ.get("SYNC_CPU_FREQ", "2000")]) +
                                    ["-o", os.environ["SYNC_CPU_RECORD"]] +
                                    (["--call-graph", cg] if cg else []) +
                                    ["-t" if os.environ.get("SYNC_CPU_LOOP") else "-p", str(nproc.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        cpu0 = threads_cpu(nproc.pid)
        nflt0, _ = faults_hwm(nproc.pid)
        t0 = time.time()
        fproc = start(BUILD, os.path.join(w, fname), faddr, fweb, "debug")
        cf = wait_sock(os.path.join(w, fname, "control.sock"), fproc)
        want = cf.call({"cmd": "status"})["digest"]
        fcpu0 = sum(threads_cpu(fproc.pid).values())
        while cn.call({"cmd": "status"})["digest"] != want:
            time.sleep(0.01)
            if time.time() - t0 > 600:
                raise RuntimeError("sync timed out")
        dt = time.time() - t0
        recs = cn.call({"cmd": "status"})["records"]
        cpu1 = threads_cpu(nproc.pid)
        with open(f"/proc/{nproc.pid}/io") as f:
            io = dict(line.split(": ") for line in f.read().splitlines())
        nflt, nhwm = faults_hwm(nproc.pid)
        _, fhwm = faults_hwm(fproc.pid)
        fcpu = sum(threads_cpu(fproc.pid).values()) - fcpu0
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait()
        sent = metric(cf, "catalogd_records_sent_total")
        loop = cpu1.get(nproc.pid, 0) - cpu0.get(nproc.pid, 0)
        pool = sum(v - cpu0.get(k, 0) for k, v in cpu1.items() if k != nproc.pid)
        print(f"trial {trial}: {recs} records in {dt:.2f} s ({recs / dt:.0f}/s); newcomer loop "
              f"{loop / 1e3 / recs:.2f} us/record ({loop / 1e9:.2f} s), pool {pool / 1e3 / recs:.2f} us/record, "
              f"founder {fcpu / 1e3 / recs:.2f} us/record; newcomer wrote {int(io['wchar']) / 1e6:.0f} MB, "
              f"{(nflt - nflt0) / recs:.3f} page faults/record; peak RSS newcomer {nhwm / 1024:.1f} MB, "
              f"founder {fhwm / 1024:.1f} MB; founder sent {sent} records", flush=True)
        cn.close()
        cf.close()
        for p in (nproc, fproc):
            p.send_signal(signal.SIGTERM)
            p.wait()
    if not os.environ.get("SYNC_CPU_KEEP"):
        shutil.rmtree(os.path.join(d, "trial"), ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "prepare":
        prepare(os.path.abspath(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 100000)
    elif len(sys.argv) >= 3 and sys.argv[1] == "run":
        run(os.path.abspath(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    else:
        sys.exit(__doc__)
