# Shared helpers for controller-*.bats: a fault-injecting API server (test/support/
# faultserver.py), `portico controller` processes, and polling. Everything started here is
# killed in controller_teardown.

FAULTSERVER="$PORTICO_ROOT/test/support/faultserver.py"

controller_setup() {
  command -v python3 >/dev/null || skip "python3 is not installed (needed by the fault server)"
  W="$BATS_TEST_TMPDIR"
  PIDS=()
  CURL_AUTH=()
  API_URL=""

}

controller_teardown() {
  local p
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}

# start_fault [PORT] [STATE_FILE]: starts the server, sets FPORT, writes $W/kc.
start_fault() {
  local port=${1:-0} state=${2:-}
  : >"$W/fault.out"
  if [ -n "$state" ]; then
    python3 "$FAULTSERVER" --port "$port" --state "$state" >"$W/fault.out" 2>"$W/fault.err" &
  else
    python3 "$FAULTSERVER" --port "$port" >"$W/fault.out" 2>"$W/fault.err" &
  fi
  FAULT_PID=$!
  PIDS+=("$FAULT_PID")
  local i
  for i in $(seq 100); do grep -q PORT "$W/fault.out" && break; sleep 0.05; done
  FPORT=$(awk '/PORT/{print $2}' "$W/fault.out")
  [ -n "$FPORT" ]
  cat >"$W/kc" <<KC
apiVersion: v1
kind: Config
clusters:
- name: fault
  cluster:
    server: http://127.0.0.1:$FPORT
users:
- name: tester
  user:
    token: e2e-secret-token-do-not-log
contexts:
- name: fault
  context: {cluster: fault, user: tester, namespace: default}
current-context: fault
KC
}

# api METHOD PATH [JSON]: one request to the fault server; prints the body.
api() {
  local base=${API_URL:-http://127.0.0.1:$FPORT}
  local ct=application/json
  [ "$1" = PATCH ] && ct=application/merge-patch+json
  if [ -n "${3:-}" ]; then
    curl -sS "${CURL_AUTH[@]}" -X "$1" -H "Content-Type: $ct" --data "$3" "$base$2"
  else
    curl -sS "${CURL_AUTH[@]}" -X "$1" "$base$2"
  fi
}

# start_standalone [PORT]: runs `portico standalone` on a fresh (or the same) data dir
# $W/sa; sets API_URL, CURL_AUTH, SA_PID and points $W/kc at its kubeconfig.
start_standalone() {
  local port=${1:-0}
  mkdir -p "$W/sa"
  rm -f "$W/sa/kubeconfig"
  "$PORTICO_BIN" standalone --data "$W/sa" --listen "127.0.0.1:$port" >>"$W/sa.log" 2>&1 &
  SA_PID=$!
  PIDS+=("$SA_PID")
  wait_for 30 test -s "$W/sa/kubeconfig"
  cp "$W/sa/kubeconfig" "$W/kc"
  API_URL=$(sed -nE 's/^ *server: (https:[^ ]+)$/\1/p' "$W/sa/kubeconfig" | head -1)
  CURL_AUTH=(--cacert "$W/sa/ca.crt" -H "Authorization: Bearer $(cat "$W/sa/token")")
  wait_for 10 curl -sf "${CURL_AUTH[@]}" "$API_URL/api/v1/namespaces/default"
}

fault() { api POST /_fault "$1" >/dev/null; }

# start_ctl NAME [FLAGS...]: runs `portico controller` with the fault kubeconfig, logs to
# $W/NAME.log; sets CTL_PID.
start_ctl() {
  local name=$1
  shift
  "$PORTICO_BIN" controller --kubeconfig "$W/kc" "$@" >"$W/$name.log" 2>&1 &
  CTL_PID=$!
  PIDS+=("$CTL_PID")
}

# free_port: an unused TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds or time runs out.
wait_for() {
  local secs=$1
  shift
  local end=$((SECONDS + secs))
  while [ $SECONDS -le $end ]; do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  echo "timed out after ${secs}s waiting for: $*" >&2
  return 1
}

# The last resourceVersion the observer logged for KEY in LOG ("absent" after a delete).
last_seen() {
  grep -E "observed .*key=$2\$" "$1" | tail -1 |
    sed -E 's/.*observed (absent|resourceVersion=([0-9]+)).*/\1/; s/^resourceVersion=//'
}

# server_state: "ns/name rv" for every ConfigMap on the fault server, sorted.
server_state() {
  api GET /api/v1/configmaps | python3 -c '
import json, sys
for o in json.load(sys.stdin)["items"]:
    m = o["metadata"]
    print("%s/%s %s" % (m["namespace"], m["name"], m["resourceVersion"]))' | sort
}

# converged LOG [GONE_KEYS...]: the observer's last view of every object equals the
# server's, and each GONE key was last seen absent.
converged() {
  local log=$1 key rv seen
  shift
  while read -r key rv; do
    seen=$(last_seen "$log" "$key")
    [ "$seen" = "$rv" ] || return 1
  done < <(server_state)
  for key in "$@"; do
    [ "$(last_seen "$log" "$key")" = absent ] || return 1
  done
}

# cm NS NAME VALUE: creates or updates a ConfigMap.
cm_create() { api POST "/api/v1/namespaces/$1/configmaps" "{\"metadata\":{\"name\":\"$2\"},\"data\":{\"v\":\"$3\"}}" >/dev/null; }
cm_patch() { api PATCH "/api/v1/namespaces/$1/configmaps/$2" "{\"data\":{\"v\":\"$3\"}}" >/dev/null; }
cm_delete() { api DELETE "/api/v1/namespaces/$1/configmaps/$2" >/dev/null; }

# count_ge FILE REGEX N: FILE has at least N lines matching REGEX.
count_ge() { [ "$(grep -cE "$2" "$1")" -ge "$3" ]; }
