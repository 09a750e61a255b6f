#!/bin/sh
# make demo: a local alliance of three members on loopback.
#
# 文京区 founds the alliance; 千代田区 and 大阪市 join by exchanging
# certificates (cert -> member add -> join); a record written on one node
# appears on the others.  The nodes keep running until Ctrl-C.
set -eu
BUILD=${BUILD:-build}
CTL=$BUILD/catalogctl
D=${DEMO_DIR:-var/demo}
BASE=${DEMO_PORT:-7410}
rm -rf "$D"
mkdir -p "$D"
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
wait_sock() {   # until the daemon answers: status exits 1 when degraded (a newcomer not yet
               # in sync), so the test is whether it printed a status at all
    i=0
    until [ -n "$($CTL --data "$1" status --json 2>/dev/null)" ]; do
        i=$((i + 1)); [ $i -lt 100 ] || { echo "node $1 did not start" >&2; exit 1; }
        sleep 0.1
    done
}
start() {   # dir port
    $BUILD/catalogd --data "$1" --listen "127.0.0.1:$2" --web-listen "127.0.0.1:$(($2 + 80))" 2>>"$1.log" &
    pids="$pids $!"
    wait_sock "$1"
}

say "1. 文京区 (131059) founds the alliance"
$CTL init --data $D/bunkyo --code 131059 --name 文京区
$CTL alliance create --data $D/bunkyo --name 'ファーストカスタマー・アライアンス（デモ）' --address 127.0.0.1:$BASE
start $D/bunkyo $BASE

for spec in "chiyoda 131016 千代田区 1" "osaka 271004 大阪市 2"; do
    set -- $spec
    say "2. $3 ($2) joins, sponsored by 文京区"
    $CTL init --data $D/$1 --code $2 --name $3
    $CTL cert --data $D/$1 > $D/$1.pem
    echo "   $3 sends its certificate; 文京区 checks the member id by phone:"
    grep 'member id' $D/$1.pem
    $CTL --data $D/bunkyo member add $D/$1.pem --address 127.0.0.1:$((BASE + $4))
    $CTL cert --data $D/bunkyo > $D/bunkyo.pem
    $CTL join --data $D/$1 --sponsor $D/bunkyo.pem --address 127.0.0.1:$BASE
    start $D/$1 $((BASE + $4))
done

sleep 1
say "3. members as every node sees them"
$CTL --data $D/osaka member list

say "4. 千代田区 writes a record"
$CTL --data $D/chiyoda put note demo-1 'title=デモ記録' 'text=千代田区から全員へ'
sleep 1
say "5. it has arrived at 大阪市 and 文京区"
for n in osaka bunkyo; do
    $CTL --data $D/$n list note
done
say "6. every node holds the same catalog (equal digests)"
for n in bunkyo chiyoda osaka; do
    printf '%-8s ' $n; $CTL --data $D/$n status --json | sed 's/.*"digest":"\([0-9a-f]*\)".*"peers":\([0-9]*\).*/digest \1  peers \2/'
done
if [ -n "${DEMO_EXIT:-}" ]; then exit 0; fi
say "the alliance keeps running: try  $CTL --data $D/osaka peers   (Ctrl-C stops it)"
wait
