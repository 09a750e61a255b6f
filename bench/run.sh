#!/bin/sh
# make bench: print performance figures (see bench/run.py).
cd "$(dirname "$0")/.." || exit 1
exec python3 bench/run.py "$@"
