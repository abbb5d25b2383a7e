#!/usr/bin/env bats
# Leader election between two `portico controller` processes on one Lease: exactly one
# reconciles; when the leader is killed (-9, no release) the standby takes over within the
# lease duration; a graceful stop releases the Lease so the standby takes over at once.

load controller-helpers

setup() { controller_setup; }
teardown() { controller_teardown; }

LEASE_FLAGS=(--lease-duration 2s --renew-deadline 1500ms --retry-period 250ms --lease-name e2e-lease)

holder() {
  api GET /apis/coordination.k8s.io/v1/namespaces/default/leases/e2e-lease |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["spec"]["holderIdentity"])'
}

@test "controller leader election: one leader, standby takes over after kill -9" {
  start_fault
  cm_create default l1 0
  start_ctl a "${LEASE_FLAGS[@]}" --health-addr 0
  A=$CTL_PID
  wait_for 15 grep -q 'acquired lease' "$W/a.log"
  start_ctl b "${LEASE_FLAGS[@]}" --health-addr 0
  B=$CTL_PID
  wait_for 15 grep -q 'caches synced' "$W/b.log"
  sleep 1.5
  # one leader: only A holds the lease and reconciles
  ! grep -q 'acquired lease' "$W/b.log"
  [ "$(holder)" = "$(sed -nE 's/.*acquired lease default\/e2e-lease as ([^ ]+).*/\1/p' "$W/a.log")" ]
  [[ "$(holder)" =~ ^[^_]+_${A}_[0-9a-f]{8}$ ]]
  wait_for 10 grep -q 'observed .*key=default/l1$' "$W/a.log"
  cm_patch default l1 1
  wait_for 10 converged "$W/a.log"
  ! grep -q 'observed' "$W/b.log"
  # kill the leader without a chance to release: B takes over within the lease duration
  kill -9 "$A"
  t0=$(date +%s%N)
  wait_for 10 grep -q 'acquired lease' "$W/b.log"
  took_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  echo "takeover after ${took_ms} ms" >&3
  [ "$took_ms" -lt 6000 ]
  [[ "$(holder)" =~ _${B}_ ]]
  # the new leader reconciles everything, including changes made meanwhile
  cm_patch default l1 2
  cm_create default l2 0
  wait_for 10 converged "$W/b.log"
  t=$(api GET /apis/coordination.k8s.io/v1/namespaces/default/leases/e2e-lease |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["spec"]["leaseTransitions"])')
  [ "$t" -ge 1 ]
}

@test "controller leader election: graceful stop releases the lease" {
  start_fault
  # both on the default health address: the second finds it busy and runs without one
  start_ctl a "${LEASE_FLAGS[@]}" --lease-duration 10s --renew-deadline 5s
  A=$CTL_PID
  wait_for 15 grep -q 'acquired lease' "$W/a.log"
  start_ctl b "${LEASE_FLAGS[@]}" --lease-duration 10s --renew-deadline 5s
  wait_for 15 grep -q 'caches synced' "$W/b.log"
  kill -TERM "$A"
  wait "$A"
  grep -q 'released lease' "$W/a.log"
  t0=$SECONDS
  # with a 10 s lease, only the release lets B in this fast
  wait_for 4 grep -q 'acquired lease' "$W/b.log"
}

@test "controller leader election: --leader-elect=false reconciles without a Lease" {
  start_fault
  cm_create default n1 0
  start_ctl a --leader-elect=false --health-addr 0
  wait_for 15 grep -q 'observed .*key=default/n1$' "$W/a.log"
  [ "$(api GET /apis/coordination.k8s.io/v1/namespaces/default/leases | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')" = 0 ]
}

@test "controller: flags are validated" {
  run "$PORTICO_BIN" controller --bogus
  [ "$status" -eq 2 ]
  run "$PORTICO_BIN" controller --workers 0
  [ "$status" -eq 2 ]
  run "$PORTICO_BIN" controller --log-format xml
  [ "$status" -eq 2 ]
  run "$PORTICO_BIN" controller --lease-duration 1s --renew-deadline 2s
  [ "$status" -eq 2 ]
  run "$PORTICO_BIN" controller --help
  [ "$status" -eq 0 ]
  [[ "$output" == *--leader-elect* && "$output" == *--health-addr* && "$output" == *--lease-namespace* ]]
  run env -u KUBECONFIG HOME="$BATS_TEST_TMPDIR" "$PORTICO_BIN" controller --health-addr 0
  [ "$status" -eq 1 ]
  [[ "$output" == *kubeconfig* ]]
}

@test "controller: JSON logs, one line per event with the object key" {
  start_fault
  cm_create default j1 0
  start_ctl a --leader-elect=false --health-addr 0 --log-format json --log-level debug
  wait_for 15 grep -q '"key":"default/j1"' "$W/a.log"
  grep '"key":"default/j1"' "$W/a.log" | head -1 | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); assert d["level"]=="info" and "observed" in d["msg"]'
}

@test "controller leader election: a leader whose Lease is taken stops reconciling at once, then resumes" {
  start_fault
  cm_create default t1 0
  start_ctl a "${LEASE_FLAGS[@]}" --health-addr 0
  wait_for 15 grep -q 'observed .*key=default/t1$' "$W/a.log"
  # another holder takes the Lease with a fresh renewTime (as after a partition)
  now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
  python3 - "$FPORT" "$now" <<'PY'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
# the leader renews concurrently: a 409 on the PUT means our read was stale, read again
for attempt in range(20):
    c.request("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/e2e-lease")
    lease = json.loads(c.getresponse().read())
    lease["spec"].update(holderIdentity="intruder", renewTime=sys.argv[2], leaseDurationSeconds=3)
    c.request("PUT", "/apis/coordination.k8s.io/v1/namespaces/default/leases/e2e-lease", json.dumps(lease),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    if r.status == 200:
        break
    assert r.status == 409, r.status
else:
    raise AssertionError("the Lease could not be taken in 20 attempts")
PY
  wait_for 5 grep -q 'lost lease default/e2e-lease (held by another replica)' "$W/a.log"
  cm_patch default t1 while-not-leader
  sleep 1
  # not the leader: the change is not reconciled
  [ "$(last_seen "$W/a.log" default/t1)" != "$(server_state | awk '$1=="default/t1"{print $2}')" ]
  # the intruder does not renew: A takes the Lease back and reconciles everything again
  wait_for 10 count_ge "$W/a.log" 'acquired lease' 2
  wait_for 10 converged "$W/a.log"
}

@test "controller: an explicit --health-addr that is busy is an error" {
  start_fault
  python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(30)' >"$W/busy" &
  PIDS+=($!)
  wait_for 5 test -s "$W/busy"
  run "$PORTICO_BIN" controller --kubeconfig "$W/kc" --health-addr "127.0.0.1:$(cat "$W/busy")"
  [ "$status" -eq 1 ]
  [[ "$output" == *"cannot listen"* ]]
}
