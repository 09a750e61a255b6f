#!/bin/sh
# tests/fuzz/campaign.sh — issue 15's fuzzing campaign: every libFuzzer
# target run to its number of executions, one at a time, then what it found
# merged into the corpus that `make check` replays.
#
#   tests/fuzz/campaign.sh [TARGET...]        (or: make fuzz-campaign)
#
# Targets default to every tests/fuzz/fuzz_*.c.  Executions per target
# default to the issue's: 10^7 for the decoders of peer input (fuzz_msg:
# frames and messages, fuzz_record), 10^6 for the others; fuzz_cert stops
# at 10^6 or after an hour, whichever comes first.  Environment:
#   RUNS=N        executions for every target instead
#   SECONDS_MAX=S stop each target after S seconds (a first pass)
#   CAP=200       at most this many files in a target's committed corpus
#   SEED_MAX=8192 inputs larger than this many bytes are not committed
#   MERGE=0       do not touch the committed corpus (measure only)
#
# One fuzzer process at a time (the machine is shared): no -jobs, -workers
# or -fork.  A crash stops libFuzzer; the reproducer is saved into the
# target's corpus as crash_<sha1> (or leak_, timeout_, oom_) when the
# target is done (so `make check` replays it and fails until it is fixed),
# and fuzzing goes on with the executions left, at most RESTARTS times;
# "crashes" counts distinct reproducers.  The inputs the run found are merged with -merge=1: only
# those that add coverage to the committed corpus are added, as fuzzed_<sha1>,
# smallest first, up to CAP files.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=$HERE/build
CORPUS=$HERE/corpus
CAP=${CAP:-200}
SEED_MAX=${SEED_MAX:-8192}
MERGE=${MERGE:-1}
RESTARTS=${RESTARTS:-5}

make --no-print-directory -C "$HERE" >/dev/null || { echo "campaign: make fuzz failed" >&2; exit 2; }

if [ $# -eq 0 ]; then
    set -- $(cd "$HERE" && ls fuzz_*.c | sed 's/\.c$//')
fi

default_runs() {
    case $1 in
    fuzz_msg|fuzz_record) echo 10000000 ;;
    *) echo 1000000 ;;
    esac
}

# libFuzzer's last "cov: N ft: M" pair in a log
last_stat() {   # FILE FIELD
    grep -o "$2: [0-9]*" "$1" | tail -1 | sed 's/.*: //'
}

WORK=$(mktemp -d /tmp/fuzz-campaign.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM
SUMMARY=$WORK/summary
printf "%-14s %10s %8s %9s %6s %6s %7s %6s\n" target execs secs exec/s cov ft crashes corpus >"$SUMMARY"
status=0

for t in "$@"; do
    t=${t%.c}
    fz=$BIN/$t
    [ -x "$fz" ] || { echo "campaign: no target $t" >&2; status=2; continue; }
    dir=$CORPUS/$t
    mkdir -p "$dir"
    runs=${RUNS:-$(default_runs "$t")}
    limit=${SECONDS_MAX:-0}
    [ "$t" = fuzz_cert ] && [ "$limit" = 0 ] && limit=3600
    new=$WORK/$t.new
    art=$WORK/$t.art
    found_dir=$WORK/$t.crashes   # into the corpus when the target is done, so a restart does not start on them
    mkdir -p "$new" "$art" "$found_dir"
    done_execs=0 crashes=0 tries=0 cov=0 ft=0
    start=$(date +%s)
    if [ "$limit" != 0 ]; then
        echo "== $t: $runs executions or ${limit}s" >&2
    else
        echo "== $t: $runs executions" >&2
    fi
    while :; do
        left=$((runs - done_execs))
        [ "$left" -gt 0 ] || break
        tlimit=0
        if [ "$limit" != 0 ]; then
            tlimit=$((limit - ($(date +%s) - start)))
            [ "$tlimit" -gt 0 ] || break
        fi
        log=$WORK/$t.log.$tries
        # new inputs go into $new; the committed corpus is read, not written
        (cd "$ROOT" && "$fz" -runs="$left" -max_total_time="$tlimit" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$art/" "$new" "$dir") >"$log" 2>&1
        rc=$?
        n=$(grep -o "stat::number_of_executed_units: [0-9]*" "$log" | sed 's/.*: //')
        [ -n "$n" ] || n=$(grep -o "^#[0-9]*" "$log" | tail -1 | tr -d '#')
        done_execs=$((done_execs + ${n:-0}))
        c=$(last_stat "$log" cov); [ -n "$c" ] && cov=$c
        f=$(last_stat "$log" ft); [ -n "$f" ] && ft=$f
        tries=$((tries + 1))
        if [ $rc -ne 0 ]; then
            found=0
            for a in "$art"/*; do
                [ -f "$a" ] || continue
                kind=$(basename "$a" | sed 's/-.*//')      # crash, leak, timeout, oom, slow-unit
                [ "$kind" = slow ] && { rm -f "$a"; continue; }
                sha=$(sha1sum "$a" | cut -c1-40)
                [ -f "$found_dir/${kind}_$sha" ] || crashes=$((crashes + 1))
                mv "$a" "$found_dir/${kind}_$sha"
                found=1
                echo "   $t: $kind, saved as corpus/$t/${kind}_$sha" >&2
                grep -m1 -A12 "ERROR: \|==ERROR\|runtime error\|deadly signal" "$log" | sed 's/^/     /' >&2
            done
            if [ $found = 0 ]; then
                echo "   $t: fuzzer failed (rc $rc), log:" >&2
                tail -20 "$log" | sed 's/^/     /' >&2
                status=1
                break
            fi
            status=1
            [ $tries -le "$RESTARTS" ] || break
        else
            break
        fi
    done
    cp "$found_dir"/* "$dir"/ 2>/dev/null
    secs=$(($(date +%s) - start))
    [ $secs -gt 0 ] || secs=1
    if [ "$MERGE" = 1 ]; then
        # a minimal set covering the committed corpus and the new inputs
        # (a reproducer in the corpus crashes the merge's child, which
        # libFuzzer survives; its artifact stays in $art, not in the tree);
        # what of it is not committed yet is added, smallest first
        m=$WORK/$t.merged
        mkdir -p "$m"
        (cd "$ROOT" && "$fz" -merge=1 -timeout=10 -artifact_prefix="$art/" "$m" "$dir" "$new") >"$WORK/$t.merge.log" 2>&1
        have=$(ls "$dir" | wc -l)
        ( cd "$dir" && sha1sum * 2>/dev/null | cut -c1-40 ) | sort >"$WORK/$t.have"
        for f in $(ls -S -r "$m"); do
            [ "$have" -lt "$CAP" ] || break
            [ "$(stat -c %s "$m/$f")" -le "$SEED_MAX" ] || continue
            sha=$(sha1sum "$m/$f" | cut -c1-40)
            grep -q "^$sha\$" "$WORK/$t.have" && continue
            cp "$m/$f" "$dir/fuzzed_$sha"
            echo "$sha" >>"$WORK/$t.have"
            have=$((have + 1))
        done
    fi
    files=$(ls "$dir" | wc -l)
    printf "%-14s %10s %8s %9s %6s %6s %7s %6s\n" "$t" "$done_execs" "$secs" $((done_execs / secs)) \
        "$cov" "$ft" "$crashes" "$files" >>"$SUMMARY"
    tail -1 "$SUMMARY" >&2
done
cat "$SUMMARY"
exit $status
