#!/usr/bin/env python3
"""The event loop's longest stall during the first search after a start.

    index_stall.py N [BUILD...]

A node with N certifications (bench/gen_catalog.py) is made once with the
first BUILD's binaries; then for each BUILD a daemon of it is started on
that store and asked its first search (the search index is built then)
while another client asks /healthz again and again on a kept-alive
connection: the longest wait for one /healthz is the loop's longest stall
(every peer, control client and browser waited as long).  Three runs per
build, interleaved; the median of each figure is printed.
"""
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import harness  # noqa: E402

Q = "/?q=%E3%82%B9%E3%83%9E%E3%83%BC%E3%83%88"   # スマート


def poll_healthz(port, stop, worst):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            c.request("GET", "/healthz")
            c.getresponse().read()
        except (OSError, http.client.HTTPException):
            # a loop stalled past libh2o's keep-alive timeout closes the
            # connection when it wakes: the wait until then counts
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        worst[0] = max(worst[0], time.perf_counter() - t0)
    c.close()


def one_run(node):
    node.start()
    time.sleep(0.3)
    stop, worst = threading.Event(), [0.0]
    t = threading.Thread(target=poll_healthz, args=(node.web_port, stop, worst))
    t.start()
    time.sleep(0.2)
    t0 = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", node.web_port, timeout=300)
    c.request("GET", Q)
    r = c.getresponse()
    body = r.read()
    search = time.perf_counter() - t0
    assert r.status == 200 and "件の製品" in body.decode(), r.status
    # the search page's own time on the loop (after the build, when built on the pool)
    print(f"  server-timing: {r.getheader('server-timing')}", flush=True)
    time.sleep(0.2)
    stop.set()
    t.join()
    node.stop()
    return worst[0], search


def main():
    n = int(sys.argv[1])
    builds = sys.argv[2:] or ["build"]
    env = harness.Env(builds[0])
    try:
        a = env.found()
        csv = os.path.join(env.tmp, "catalog.csv")
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "gen_catalog.py"), str(n), csv],
                       check=True)
        t0 = time.time()
        a.run("import", csv, timeout=3600)
        print(f"imported {n} certifications in {time.time() - t0:.0f} s", flush=True)
        a.stop()
        # the builds' runs interleaved, so that a load on the machine falls on each alike
        results = {b: [] for b in builds}
        for _ in range(3):
            for b in builds:
                env.ctl, env.daemon = os.path.join(b, "catalogctl"), os.path.join(b, "catalogd")
                results[b].append(one_run(a))
        for b in builds:
            runs = results[b]
            stall = statistics.median(r[0] for r in runs)
            search = statistics.median(r[1] for r in runs)
            print(f"{b}: longest /healthz wait {stall * 1000:.0f} ms, first search answered in {search * 1000:.0f} ms "
                  f"(runs: {', '.join(f'{r[0] * 1000:.0f}/{r[1] * 1000:.0f}' for r in runs)})", flush=True)
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
