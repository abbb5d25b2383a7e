#!/usr/bin/env bats
# The informer/queue/worker path of `portico controller` against the fault-injecting API
# server: the built-in observer must end up seeing the final state of every object, with
# no missed and no phantom events, across watch drops, 410 relists, 429/5xx back-off,
# server restarts and 1,000 rapid updates.

load controller-helpers

setup() { controller_setup; }
teardown() { controller_teardown; }

@test "controller: observes creates, updates and deletes; health, readiness and metrics" {
  start_fault
  cm_create default a 1
  HP=$(free_port)
  start_ctl ctl --leader-elect=false --health-addr "127.0.0.1:$HP"
  wait_for 15 curl -sf "http://127.0.0.1:$HP/readyz"
  cm_create default b 1
  cm_patch default a 2
  cm_create other c 1
  cm_delete default b
  wait_for 10 converged "$W/ctl.log" default/b
  [ "$(curl -s "http://127.0.0.1:$HP/healthz")" = ok ]
  m=$(curl -s "http://127.0.0.1:$HP/metrics")
  grep -q '^# TYPE portico_reconcile_time_seconds histogram' <<<"$m"
  grep -q '^portico_reconcile_total{controller="observer",result="success"} [1-9]' <<<"$m"
  grep -q '^portico_workqueue_depth{name="observer"} 0' <<<"$m"
  grep -q '^portico_rest_client_requests_total{verb="WATCH",code="200"}\|^portico_rest_client_requests_total{verb="GET",code="200"}' <<<"$m"
  grep -q '^portico_informer_objects{resource="configmaps"} 2' <<<"$m"
  grep -q '^portico_cache_synced 1' <<<"$m"
  # one line per event with the object key; the token never appears
  grep -q 'observed resourceVersion=.* key=other/c' "$W/ctl.log"
  ! grep -q e2e-secret-token "$W/ctl.log"
  # graceful stop drains and exits 0
  kill -TERM "$CTL_PID"
  wait "$CTL_PID"
  grep -q 'controller manager stopped' "$W/ctl.log"
}

@test "controller: 1,000 rapid updates end in the final state of every object" {
  start_fault
  start_ctl ctl --leader-elect=false --health-addr 0 --workers 4
  for i in $(seq 20); do cm_create default "obj$i" 0; done
  python3 - "$FPORT" <<'PY'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for n in range(1000):
    body = json.dumps({"data": {"v": str(n)}})
    c.request("PATCH", "/api/v1/namespaces/default/configmaps/obj%d" % (n % 20 + 1), body,
              {"Content-Type": "application/merge-patch+json"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
  wait_for 30 converged "$W/ctl.log"
  # dedup: far fewer reconciles than events is allowed, but never a phantom object
  ! grep -E 'observed .*key=default/obj(0|2[1-9])$' "$W/ctl.log"
}

@test "controller: watch drops and 5xx on watch back off and resume without losing events" {
  start_fault
  for i in 1 2 3; do cm_create default "d$i" 0; done
  HP=$(free_port)
  start_ctl ctl --leader-elect=false --health-addr "127.0.0.1:$HP"
  wait_for 15 curl -sf "http://127.0.0.1:$HP/readyz"
  fault '{"errors": 2, "status": 503, "method": "GET", "watch": true}'
  fault '{"drop_watches": true}'
  cm_patch default d1 after-drop
  cm_delete default d2
  cm_create default d4 new
  wait_for 20 converged "$W/ctl.log" default/d2
  grep -q 'watch failed (unavailable' "$W/ctl.log"
  r=$(curl -s "http://127.0.0.1:$HP/metrics" | sed -nE 's/^portico_informer_watch_restarts_total\{resource="configmaps"\} ([0-9]+)$/\1/p')
  [ "$r" -ge 1 ]
}

@test "controller: 410 Gone relists and emits the deletes missed meanwhile" {
  start_fault
  for i in 1 2 3; do cm_create default "g$i" 0; done
  start_ctl ctl --leader-elect=false --health-addr 0
  wait_for 15 converged "$W/ctl.log"
  # keep the watch down (errors), change things, then compact history: the next watch
  # from the old resourceVersion gets 410 and the informer must relist.
  fault '{"errors": 1, "status": 500, "method": "GET", "watch": true}'
  fault '{"drop_watches": true}'
  cm_delete default g1
  cm_patch default g2 changed
  fault '{"compact": true}'
  wait_for 30 converged "$W/ctl.log" default/g1
  grep -q 'is gone; relisting' "$W/ctl.log"
  [ "$(grep -c 'observed absent key=default/g1$' "$W/ctl.log")" -eq 1 ]
  # no phantom: g3 did not change, so it was reconciled only once
  [ "$(grep -c 'observed .*key=default/g3$' "$W/ctl.log")" -eq 1 ]
}

@test "controller: 429 with Retry-After on list delays readiness and then syncs" {
  start_fault
  cm_create default r1 0
  fault '{"errors": 2, "status": 429, "retry_after": 1, "method": "GET", "watch": false}'
  HP=$(free_port)
  start=$(date +%s%N)
  start_ctl ctl --leader-elect=false --health-addr "127.0.0.1:$HP"
  wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$HP/healthz"
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/readyz")" = 503 ]
  wait_for 20 curl -sf "http://127.0.0.1:$HP/readyz"
  elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ "$elapsed_ms" -ge 2000 ] # two Retry-After: 1 waits at least
  [ "$(grep -c 'list failed (limit exceeded, HTTP 429)' "$W/ctl.log")" -eq 2 ]
  wait_for 10 converged "$W/ctl.log"
}

@test "controller: API server restart with changes made while it was down" {
  start_fault 0 "$W/state.json"
  port=$FPORT
  for i in 1 2; do cm_create default "s$i" 0; done
  start_ctl ctl --leader-elect=false --health-addr 0
  wait_for 15 converged "$W/ctl.log"
  kill -9 "$FAULT_PID"
  wait "$FAULT_PID" 2>/dev/null || true
  # change the persisted state while the server is down: s1 deleted, s3 created
  python3 - "$W/state.json" <<'PY'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
coll = d["store"]["v1|default|configmaps"]
del coll["s1"]
d["rv"] += 5
coll["s3"] = {"metadata": {"name": "s3", "namespace": "default", "resourceVersion": str(d["rv"]),
              "uid": "u3", "creationTimestamp": "2026-01-01T00:00:00Z"}, "data": {"v": "x"}}
json.dump(d, open(p, "w"))
PY
  sleep 1
  start_fault "$port" "$W/state.json"
  wait_for 40 converged "$W/ctl.log" default/s1
}
