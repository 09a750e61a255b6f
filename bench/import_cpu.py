#!/usr/bin/env python3
"""Where a receiving member's CPU goes in an import, repeatably (issue 14).

    python3 bench/import_cpu.py N [TRIALS]

Each trial founds a fresh 3-node alliance (a, b, c), imports the same N
generated rows on a (bench/gen_catalog.py N, prefix I), and when every
digest matches prints each process's CPU over the import (schedstat, ns),
per record: the receivers b and c by thread (the loop thread, the libuv
pool's threads), the writer a and catalogctl.

BUILD picks the binaries (default build).  IMPORT_CPU_WRAP="valgrind
--tool=callgrind --separate-threads=yes --callgrind-out-file=F" restarts b
under that command before the import (its figures are then valgrind's;
with callgrind, its counters are zeroed right before the import and dumped
when the digests match: the dump named *.import.*).
IMPORT_CPU_SEARCH=1 searches on b and c before the import, so that their
catalog index exists and is updated as the import is applied.
IMPORT_CPU_PERF=FILE records `perf record -e cpu-clock` of b over the
import (IMPORT_CPU_CALLGRAPH=dwarf for call chains; IMPORT_CPU_EVENT=page-faults:
every page fault instead of CPU samples).
"""
import os
import resource
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import harness  # noqa: E402
from ctlclient import Ctl  # noqa: E402

from sync_cpu import threads_cpu  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))


def minflt(pid):
    """Minor page faults of the process, and the bytes it wrote (wchar)."""
    with open(f"/proc/{pid}/stat") as f:
        flt = int(f.read().rsplit(")", 1)[1].split()[7])
    with open(f"/proc/{pid}/io") as f:
        io = dict(line.split(": ") for line in f.read().splitlines())
    return flt, int(io["wchar"])


def split(pid, c0, c1):
    loop = c1.get(pid, 0) - c0.get(pid, 0)
    pool = sum(v - c0.get(k, 0) for k, v in c1.items() if k != pid)
    return loop, pool


METRICS = ("catalogd_peer_received_records_total", "catalogd_records_dropped_total",
           "catalogd_records_applied_total", "catalogd_records_sent_total", "catalogd_verify_batches_total",
           "catalogd_verify_pool_jobs_total")


def metrics(c):
    out = {}
    for line in c.call({"cmd": "metrics"})["text"].splitlines():
        name = line.split("{")[0].split(" ")[0]
        if name in METRICS:
            out[name] = out.get(name, 0) + int(float(line.split()[-1]))
    return out


def trial(n, csv):
    env = harness.Env(BUILD)
    try:
        a = env.found()
        b = env.join(a)
        c = env.join(a)
        harness.wait_until(lambda: harness.digests_equal([a, b, c]), 60, what="the 3 nodes to converge")
        wrap = os.environ.get("IMPORT_CPU_WRAP")
        if wrap:
            b.stop()
            real = env.daemon
            wrapper = os.path.join(env.tmp, "wrap.sh")
            with open(wrapper, "w") as f:
                f.write(f"#!/bin/sh\nexec {wrap} {real} \"$@\"\n")
            os.chmod(wrapper, 0o755)
            env.daemon = wrapper
            b.start(wait=False)
            env.daemon = real
            harness.wait_until(lambda: b.answers(), 120, what="b under the wrapper")
            harness.wait_until(lambda: harness.digests_equal([a, b, c]), 120, what="the 3 nodes to converge")
            time.sleep(2)
        conns = [Ctl(os.path.join(x.dir, "control.sock")) for x in (a, b, c)]
        perf = None
        if os.environ.get("IMPORT_CPU_PERF"):
            cg = os.environ.get("IMPORT_CPU_CALLGRAPH")
            ev = os.environ.get("IMPORT_CPU_EVENT")
            perf = subprocess.Popen(["perf", "record"] + (["-e", ev, "-c", "1"] if ev else ["-e", "cpu-clock", "-F", "4000"]) + [
                                     "-o", os.environ["IMPORT_CPU_PERF"]] +
                                    (["--call-graph", cg] if cg else []) + ["-p", str(b.proc.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        if wrap and "callgrind" in wrap:
            subprocess.run(["callgrind_control", "-z", str(b.proc.pid)], check=True,
                           stdout=subprocess.DEVNULL)
        if os.environ.get("IMPORT_CPU_SEARCH"):
            # a search on each receiver first: its catalog index is built
            # and then updated in place by every certification applied
            for x in conns[1:]:
                x.call({"cmd": "csearch", "q": "みらい", "limit": 10})
            time.sleep(0.5)
        m0 = [metrics(x) for x in conns[1:]]
        cpu0 = {x.name: threads_cpu(x.proc.pid) for x in (a, b, c)}
        flt0 = {x.name: minflt(x.proc.pid) for x in (b, c)}
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        a.run("import", csv, timeout=600)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        want = conns[0].call({"cmd": "status"})["digest"]
        while not all(x.call({"cmd": "status"})["digest"] == want for x in conns[1:]):
            if time.time() - t0 > 900:
                raise RuntimeError("timeout")
            time.sleep(0.005)
        dt = time.time() - t0
        cpu1 = {x.name: threads_cpu(x.proc.pid) for x in (a, b, c)}
        flt1 = {x.name: minflt(x.proc.pid) for x in (b, c)}
        if wrap and "callgrind" in wrap:
            subprocess.run(["callgrind_control", "-d", "import", str(b.proc.pid)], check=True,
                           stdout=subprocess.DEVNULL)
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait()
        m1 = [metrics(x) for x in conns[1:]]
        for x in conns:
            x.close()
        us = 1e3 * n   # ns -> us per record
        parts = []
        for x in (b, c):
            lp, pl = split(x.proc.pid, cpu0[x.name], cpu1[x.name])
            parts.append(f"{x.name}: loop {lp / us:.1f} pool {pl / us:.1f} total {(lp + pl) / us:.1f} "
                         f"faults/record {(flt1[x.name][0] - flt0[x.name][0]) / n:.2f} "
                         f"written/record {(flt1[x.name][1] - flt0[x.name][1]) / n:.0f} B")
        wl, wp = split(a.proc.pid, cpu0[a.name], cpu1[a.name])
        ctl_cpu = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) * 1e9
        print(f"{n} rows in {dt:.3f} s; us/record: " + "; ".join(parts) +
              f"; writer loop {wl / us:.1f} pool {wp / us:.1f}; catalogctl {ctl_cpu / us:.1f}", flush=True)
        for x, p0, p1 in zip((b, c), m0, m1):
            print(f"  {x.name}: " + ", ".join(f"{k[9:]} {p1.get(k, 0) - p0.get(k, 0)}" for k in METRICS))
        if wrap:
            b.stop()
    finally:
        env.cleanup()


def main():
    n = int(sys.argv[1])
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    csv = f"/tmp/import_cpu_{n}.csv"
    if not os.path.exists(csv):
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_catalog.py"), str(n), csv,
                        "--prefix", "I"], check=True)
    for _ in range(trials):
        trial(n, csv)


if __name__ == "__main__":
    main()
