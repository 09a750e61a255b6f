#!/bin/sh
# Run every test suite: the cmocka unit tests, then the integration tests
# (real daemons on loopback).  Ends with one line: "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 1
exec python3 tests/run.py "$@"
