#!/usr/bin/env python3
"""Test runner: unit binaries (cmocka) and integration modules.

Every test case counts once.  The last line is the summary over all suites:
"N passed, N failed".  Exit status is 0 only when nothing failed.
"""
import glob
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", "build")
# daemons under test check every record hash ingest computed on the pool
# against the bytes it stores (store_check_hashes): a mismatch fails loudly
os.environ.setdefault("CATALOGD_CHECK_HASHES", "1")


def run_unit(path):
    start = time.time()
    p = subprocess.run([path], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=600)
    out = p.stdout.decode("utf-8", "replace")
    passed = failed = 0
    m = re.search(r"\[  PASSED  \] (\d+) test", out)
    if m:
        passed = int(m.group(1))
    m = re.search(r"\[  FAILED  \] (\d+) test", out)
    if m:
        failed = int(m.group(1))
    if p.returncode != 0 and failed == 0:
        failed = 1   # crashed, or a sanitizer stopped it
    name = os.path.basename(path)
    if failed:
        sys.stdout.write(out)
    print(f"unit {name}: {passed} passed, {failed} failed ({time.time() - start:.1f}s)", flush=True)
    return passed, failed


def main():
    only = sys.argv[1:]
    total_p = total_f = 0
    units = sorted(glob.glob(os.path.join(ROOT, BUILD, "tests", "test_*")))
    for u in units:
        if only and not any(o in u for o in only):
            continue
        try:
            p, f = run_unit(u)
        except subprocess.TimeoutExpired:
            p, f = 0, 1
            print(f"unit {u}: timed out")
        total_p += p
        total_f += f
    # fuzz targets replay their seed corpus (and saved crash reproducers)
    for fz in sorted(glob.glob(os.path.join(ROOT, BUILD, "fuzz", "fuzz_*"))):
        name = os.path.basename(fz)
        if only and not any(o in name for o in only):
            continue
        corpus = os.path.join(ROOT, "tests", "fuzz", "corpus", name)
        p = subprocess.run([fz, corpus], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=600)
        ok = p.returncode == 0
        print(f"fuzz {name}: {p.stdout.decode(errors='replace').strip().splitlines()[-1] if ok else 'FAILED'}")
        if not ok:
            sys.stdout.write(p.stdout.decode(errors="replace"))
        total_p += ok
        total_f += not ok
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    import harness
    for mod in sorted(glob.glob(os.path.join(ROOT, "tests", "integration", "test_*.py"))):
        name = os.path.splitext(os.path.basename(mod))[0]
        if only and not any(o in name for o in only):
            continue
        p, f = harness.run_module(name, os.path.join(ROOT, BUILD))
        # a module may hold something across its tests (test_web_browser.py:
        # one Chromium for all); it is let go before the next module runs
        teardown = getattr(sys.modules.get(name), "teardown_module", None)
        if teardown:
            teardown()
        total_p += p
        total_f += f
    print(f"{total_p} passed, {total_f} failed")
    return 1 if total_f else 0


if __name__ == "__main__":
    sys.exit(main())
