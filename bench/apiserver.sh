#!/usr/bin/env bash
# Standalone API server benchmarks (issue 2), against bin/portico over HTTPS with a bearer
# token, driven by bench/apiserver_load.c (libcurl, keep-alive):
# The objects are of a small custom kind (bench.portico.dev/v1 Sample, schema-validated like
# Portico's own kinds) that nothing in the process watches.
#   1. create 10,000 Samples over 8 connections (objects/s), next to the anchor: the
#      same JSON inserted into a bare SQLite table in WAL mode, one durable transaction
#      per object, 8 threads (what an "acknowledged write is committed" store costs alone);
#   2. list the 10,000 objects (ms, median of 5);
#   3. write-to-watch-event latency: create an object, time until its ADDED event
#      reaches a watching client (p50/p99 over 500 writes);
#   4. resident memory of the server holding the 10,000 objects.
# Targets: >= 2,000 creates/s, list < 100 ms, watch p99 < 5 ms, RSS < 50 MiB.
# Wall-clock figures move with the machine's load and disk (the store writes through the
# page cache); the server's CPU time per create is printed as the steadier figure.
set -uo pipefail
cd "$(dirname "$0")/.."
P=${PORTICO_BIN:-bin/portico}
N=${BENCH_OBJECTS:-10000}
work=$(mktemp -d /tmp/portico-bench-apiserver.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p build/bench
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o build/bench/apiserver_load bench/apiserver_load.c \
  $(pkg-config --cflags --libs libcurl) || { echo "cannot build the load driver"; exit 1; }
L=build/bench/apiserver_load

"$P" standalone --data "$work/data" --listen 127.0.0.1:0 --log-level warn 2>"$work/server.log" &
pid=$!
for _ in $(seq 1 100); do [ -s "$work/data/kubeconfig" ] && break; sleep 0.1; done
[ -s "$work/data/kubeconfig" ] || { echo "server did not start"; cat "$work/server.log"; exit 1; }
url=$(sed -n 's/^ *server: //p' "$work/data/kubeconfig")
token=$(cat "$work/data/token")
ca=$work/data/ca.crt

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
"$L" "$url" "$token" "$ca" setup || { echo "setup failed"; exit 1; }
rss0=$(rss_kib)
cpu0=$(cpu_ticks)
create=$("$L" "$url" "$token" "$ca" create "$N" 8 bench) || { echo "create failed"; exit 1; }
cpu1=$(cpu_ticks)
rss1=$(rss_kib)
list=$("$L" "$url" "$token" "$ca" list 5 bench) || { echo "list failed"; exit 1; }
watch=$("$L" "$url" "$token" "$ca" watch 500 bench-watch) || { echo "watch failed"; exit 1; }
rss2=$(rss_kib)

# anchor: bare SQLite, WAL, synchronous=FULL, one transaction per row, 8 writer threads
anchor=$(python3 - "$work/anchor.db" "$N" <<'PY'
import sqlite3, sys, threading, time
path, n = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(path); db.execute("pragma journal_mode=wal"); db.execute("create table o(k text primary key, v text)"); db.close()
per = n // 8
def work(t):
    c = sqlite3.connect(path, timeout=30, isolation_level=None); c.execute("pragma synchronous=full")
    for i in range(per):
        v = '{"apiVersion":"bench.portico.dev/v1","kind":"Sample","metadata":{"name":"bench-%d","labels":{"bench":"yes"}},"spec":{"index":%d,"payload":"0123456789abcdef0123456789abcdef"}}' % (i, i)
        c.execute("begin immediate"); c.execute("insert into o values(?,?)", ("%d-%d" % (t, i), v)); c.execute("commit")
t0 = time.time()
ts = [threading.Thread(target=work, args=(t,)) for t in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
print("%.0f" % (per * 8 / (time.time() - t0)))
PY
)

get() { sed -nE "s/.*$1=([0-9.]+).*/\1/p" <<<"$2"; }
cps=$(get per_second "$create"); items=$(get items "$list"); lp50=$(get p50_ms "$list")
wp50=$(get p50_ms "$watch"); wp99=$(get p99_ms "$watch")
ratio=$(awk -v a="$cps" -v b="$anchor" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }')

echo "standalone API server, $N custom objects over HTTPS (8 keep-alive connections)"
printf '  %-52s %12s %14s\n' "" "portico" "target"
printf '  %-52s %12s %14s\n' "create (objects/s)" "$cps" ">= 2000"
printf '  %-52s %12s %14s\n' "  anchor: bare SQLite WAL, durable insert (rows/s)" "$anchor" "ratio $ratio"
printf '  %-52s %12s %14s\n' "  server CPU per create (ms; load-independent)" "$(awk -v a="$cpu0" -v b="$cpu1" -v n="$N" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.3f", (b-a)/hz*1000/n}')" ""
printf '  %-52s %12s %14s\n' "list all $items objects (ms, median of 5)" "$lp50" "< 100"
printf '  %-52s %12s %14s\n' "write -> watch event p50 (ms, 500 writes)" "$wp50" ""
printf '  %-52s %12s %14s\n' "write -> watch event p99 (ms)" "$wp99" "< 5"
printf '  %-52s %12s %14s\n' "resident memory, idle (MiB)" "$(awk -v k="$rss0" 'BEGIN{printf "%.1f", k/1024}')" ""
printf '  %-52s %12s %14s\n' "resident memory with $N objects (MiB)" "$(awk -v k="$rss1" 'BEGIN{printf "%.1f", k/1024}')" "< 50"
printf '  %-52s %12s %14s\n' "resident memory after list + watch runs (MiB)" "$(awk -v k="$rss2" 'BEGIN{printf "%.1f", k/1024}')" ""
