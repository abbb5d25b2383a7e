#!/usr/bin/env bats
# In-cluster configuration: no kubeconfig anywhere, KUBERNETES_SERVICE_HOST/PORT and a
# service account directory (token, ca.crt, namespace); the token is re-read when it
# rotates. Runs against `portico standalone` (HTTPS, bearer token).

load controller-helpers

setup() { controller_setup; }
teardown() { controller_teardown; }

@test "controller in-cluster: service account token and CA; token rotation is picked up" {
  start_standalone
  sa="$W/serviceaccount"
  mkdir -p "$sa"
  cp "$W/sa/ca.crt" "$sa/ca.crt"
  echo -n team >"$sa/namespace"
  printf '%s\n' "$(cat "$W/sa/token")" >"$sa/token"
  api POST /api/v1/namespaces '{"metadata":{"name":"team"}}' >/dev/null
  hostport=${API_URL#https://}
  env -u KUBECONFIG HOME="$W/nohome" KUBERNETES_SERVICE_HOST="${hostport%:*}" \
    KUBERNETES_SERVICE_PORT="${hostport##*:}" PORTICO_SERVICEACCOUNT_DIR="$sa" \
    "$PORTICO_BIN" controller --health-addr 0 --lease-duration 3s --renew-deadline 2s \
    --retry-period 300ms >"$W/ctl.log" 2>&1 &
  PIDS+=($!)
  wait_for 20 grep -q 'acquired lease team/portico-controller' "$W/ctl.log"
  grep -q 'source=in-cluster auth=token-file' "$W/ctl.log"
  api POST /api/v1/namespaces/team/configmaps '{"metadata":{"name":"ic1"}}' >/dev/null
  wait_for 10 grep -q 'observed .*key=team/ic1$' "$W/ctl.log"
  # a rotated (here: wrong) token is used on the next request: renewals fail with 401 ...
  sleep 0.05
  echo bogus-token >"$sa/token"
  wait_for 10 grep -q 'lost lease team/portico-controller' "$W/ctl.log"
  # ... and the right one again restores leadership
  printf '%s\n' "$(cat "$W/sa/token")" >"$sa/token"
  wait_for 10 count_ge "$W/ctl.log" 'acquired lease' 2
  ! grep -q "$(cat "$W/sa/token")" "$W/ctl.log"
  ! grep -q bogus-token "$W/ctl.log"
}
