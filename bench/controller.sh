#!/usr/bin/env bash
# Benchmark of the operator runtime (controller/): events per second from API write
# through informer and work queue to a no-op reconciler, resident memory with 10,000
# cached objects of about 2 KiB, and CPU used while idle. Runs `portico standalone` as the
# API server and `portico controller` (built-in observer, logs at warn: a no-op reconcile
# that reads the cache) against it. Anchors measured in the same run: the API server's
# own create rate (the writer's ceiling), and kubectl (client-go) holding the same list.
set -euo pipefail
BIN=${PORTICO_BIN:-bin/portico}
W=$(mktemp -d /tmp/portico-bench-controller.XXXXXX)
pids=()
# (stderr closed first: bash would report each killed background job as "Killed")
cleanup() { exec 2>/dev/null; for p in "${pids[@]}"; do kill -9 "$p" || true; done; rm -rf "$W"; }
trap cleanup EXIT
here=$(cd "$(dirname "$0")" && pwd)
N_MEM=${BENCH_CONTROLLER_OBJECTS:-10000}
N_RATE=${BENCH_CONTROLLER_EVENTS:-5000}

"$BIN" standalone --data "$W/sa" --listen 127.0.0.1:0 >"$W/sa.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ -s "$W/sa/kubeconfig" ] && break; sleep 0.05; done
URL=$(sed -nE 's/^ *server: (https:[^ ]+)$/\1/p' "$W/sa/kubeconfig" | head -1)
TOKEN=$(cat "$W/sa/token")
HP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" controller --kubeconfig "$W/sa/kubeconfig" --leader-elect=false --log-level warn \
  --workers 4 --health-addr "127.0.0.1:$HP" >"$W/ctl.log" 2>&1 &
CTL=$!
pids+=($CTL)
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$HP/readyz" >/dev/null && break; sleep 0.05; done

reconciled() {
  curl -s "http://127.0.0.1:$HP/metrics" |
    sed -nE 's/^portico_reconcile_total\{controller="observer",result="success"\} ([0-9]+)$/\1/p'
}
wait_reconciled() { # N -> waits until at least N reconciles (bounded: 120 s)
  local end=$((SECONDS + 120))
  while [ "$(reconciled || echo 0)" -lt "$1" ]; do
    [ $SECONDS -lt $end ] || { echo "timed out at $(reconciled) of $1 reconciles" >&2; return 1; }
    sleep 0.02
  done
}
now_ms() { date +%s%3N; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }

# 1. Backlog drain: the controller is paused while N_MEM 2 KiB objects are written, then
#    resumed; the time to reconcile them all is the pipeline's own throughput.
kill -STOP "$CTL"
write_rate_big=$(python3 "$here/controller-writer.py" "$URL" "$W/sa/ca.crt" "$TOKEN" "$N_MEM" 4 big 1900)
t0=$(now_ms)
cpu0=$(cpu_ticks "$CTL")
kill -CONT "$CTL"
wait_reconciled "$N_MEM"
t1=$(now_ms)
drain_cpu_ms=$(( ($(cpu_ticks "$CTL") - cpu0) * 1000 / $(getconf CLK_TCK) ))
per_cpu_s=$(( N_MEM * 1000 / (drain_cpu_ms > 0 ? drain_cpu_ms : 1) ))
drain_rate=$(( N_MEM * 1000 / (t1 - t0 > 0 ? t1 - t0 : 1) ))

# 2. Memory with N_MEM cached objects; kubectl holding the same list as the anchor.
sleep 1
rss=$(rss_kib "$CTL")
kubectl_rss=$( { /usr/bin/time -f '%M' kubectl --kubeconfig "$W/sa/kubeconfig" get configmaps -A -o json >/dev/null; } 2>&1 | tail -1)

# 3. Idle CPU: nothing changes for 10 s.
c0=$(cpu_ticks "$CTL")
sleep 10
c1=$(cpu_ticks "$CTL")
idle_ms=$(( (c1 - c0) * 1000 / $(getconf CLK_TCK) ))

# 4. Live: API writes and reconciles concurrently, from the first write to the last reconcile.
base=$(reconciled)
t0=$(now_ms)
write_rate=$(python3 "$here/controller-writer.py" "$URL" "$W/sa/ca.crt" "$TOKEN" "$N_RATE" 4 live 64)
wait_reconciled $((base + N_RATE))
t1=$(now_ms)
live_rate=$(( N_RATE * 1000 / (t1 - t0 > 0 ? t1 - t0 : 1) ))
total=$(reconciled)

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.2f' % (a/b if b else 0))" "$1" "$2"; }
printf '%-58s %12s %16s %8s\n' "measure" "portico" "anchor" "ratio"
printf '%-58s %12s %16s %8s\n' "events/s, backlog of $N_MEM (watch -> queue -> no-op)" "$drain_rate" \
  "$write_rate_big (API writes)" "$(ratio "$drain_rate" "$write_rate_big")"
printf '%-58s %12s %16s %8s\n' "events per controller CPU-second (same backlog)" "$per_cpu_s" "-" "-"
printf '%-58s %12s %16s %8s\n' "events/s, live ($N_RATE creates, write -> reconcile)" "$live_rate" \
  "$write_rate (API writes)" "$(ratio "$live_rate" "$write_rate")"
printf '%-58s %12s %16s %8s\n' "resident MiB with $N_MEM objects of ~2 KiB cached" "$((rss / 1024))" \
  "$((kubectl_rss / 1024)) (kubectl)" "$(ratio "$rss" "$kubectl_rss")"
printf '%-58s %12s %16s %8s\n' "CPU ms used in 10 s idle" "$idle_ms" "-" "-"
echo "targets: >= 5000 events/s; < 64 MiB with 10,000 objects; no CPU while idle ($total reconciles)"
