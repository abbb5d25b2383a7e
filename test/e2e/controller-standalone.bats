#!/usr/bin/env bats
# `portico controller` against the real standalone API server (HTTPS, bearer token,
# persisted store): kubectl writes, 1,000 rapid updates and an API server restart end
# with the observer having seen the final state of every object.

load controller-helpers

setup() { controller_setup; }
teardown() { controller_teardown; }

@test "controller on standalone: kubectl create, patch, delete are observed" {
  start_standalone
  k() { kubectl --kubeconfig "$W/kc" "$@"; }
  k create configmap s1 --from-literal=a=1
  HP=$(free_port)
  start_ctl ctl --health-addr "127.0.0.1:$HP" --lease-duration 3s --renew-deadline 2s --retry-period 500ms
  wait_for 20 curl -sf "http://127.0.0.1:$HP/readyz"
  k create namespace team
  k -n team create configmap s2 --from-literal=a=1
  k patch configmap s1 --type merge -p '{"data":{"a":"2"}}'
  k delete configmap s1
  wait_for 20 converged "$W/ctl.log" default/s1
  k get lease portico-controller -o jsonpath='{.spec.holderIdentity}' | grep -qE "_${CTL_PID}_"
  ! grep -q "$(cat "$W/sa/token")" "$W/ctl.log"
}

@test "controller on standalone: 1,000 rapid updates, then a server restart" {
  start_standalone
  port=${API_URL##*:}
  start_ctl ctl --leader-elect=false --health-addr 0 --workers 4
  wait_for 20 grep -q 'caches synced' "$W/ctl.log"
  python3 - "$API_URL" "$W/sa/ca.crt" "$(cat "$W/sa/token")" <<'PY'
import http.client, json, ssl, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
ctx = ssl.create_default_context(cafile=sys.argv[2])
c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx)
h = {"Authorization": "Bearer " + sys.argv[3], "Content-Type": "application/json"}
def req(m, p, body):
    c.request(m, p, json.dumps(body), h)
    r = c.getresponse(); r.read()
    assert r.status < 300, (m, p, r.status)
for i in range(20):
    req("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "u%d" % i}, "data": {"v": "0"}})
h["Content-Type"] = "application/merge-patch+json"
for n in range(1000):
    req("PATCH", "/api/v1/namespaces/default/configmaps/u%d" % (n % 20), {"data": {"v": str(n)}})
PY
  wait_for 30 converged "$W/ctl.log"
  # restart the API server on the same port and data; change things right after
  kill -9 "$SA_PID"
  wait "$SA_PID" 2>/dev/null || true
  start_standalone "$port"
  api DELETE /api/v1/namespaces/default/configmaps/u3 >/dev/null
  api PATCH /api/v1/namespaces/default/configmaps/u4 '{"data":{"v":"after-restart"}}' >/dev/null
  wait_for 40 converged "$W/ctl.log" default/u3
}

@test "portico standalone runs the controller in-process and drains it before stopping" {
  mkdir -p "$W/sa"
  "$PORTICO_BIN" standalone --data "$W/sa" --listen 127.0.0.1:0 --log-level debug >"$W/sa.log" 2>&1 &
  SA_PID=$!
  PIDS+=("$SA_PID")
  wait_for 30 test -s "$W/sa/kubeconfig"
  wait_for 10 grep -q 'caches synced' "$W/sa.log"
  kubectl --kubeconfig "$W/sa/kubeconfig" create configmap inproc --from-literal=a=b
  wait_for 10 grep -q 'observed resourceVersion=[0-9]* keys=1 key=default/inproc' "$W/sa.log"
  kill -TERM "$SA_PID"
  wait "$SA_PID"
  # the controller stopped first, then the server
  stopped=$(grep -n 'controller manager stopped' "$W/sa.log" | cut -d: -f1)
  down=$(grep -n 'standalone: stopped' "$W/sa.log" | cut -d: -f1)
  [ -n "$stopped" ] && [ -n "$down" ] && [ "$stopped" -lt "$down" ]
}
