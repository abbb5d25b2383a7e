#!/usr/bin/env bats
# The registry behind `portico standalone`, driven by the real kubectl: CRDs served and
# validated, printer columns, selectors, watch, patches, status subresource, conflicts,
# finalizers, pagination, and a kill -9 restart that keeps every object and
# resourceVersion. (Transport, TLS and auth are covered by standalone-server.bats.)

TD="$PORTICO_ROOT/test/e2e/testdata/registry"

start_server() {
  "$PORTICO_BIN" standalone --data "$DATA" --listen 127.0.0.1:0 >>"$DATA.log" 2>&1 &
  echo $! >"$DATA.pid"
  for _ in $(seq 1 300); do
    [ -s "$DATA/kubeconfig" ] && return 0
    sleep 0.1
  done
  cat "$DATA.log" >&2
  return 1
}

setup_file() {
  export DATA="$BATS_FILE_TMPDIR/data"
  export KUBECONFIG="$DATA/kubeconfig"
  export KUBECACHEDIR="$BATS_FILE_TMPDIR/kube-cache"
  start_server
  kubectl apply -f "$TD/widgets-crd.yaml" >/dev/null
  kubectl wait --for=condition=Established crd/widgets.example.com --timeout=10s >/dev/null
}

teardown_file() {
  local pid
  pid=$(cat "$DATA.pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

kc() { kubectl --request-timeout=20s "$@"; }

@test "registry: a CRD is served with its printer columns, short name and output formats" {
  run kc apply -f "$TD/widget-w1.yaml"
  [ "$status" -eq 0 ]
  [[ "$output" == "widget.example.com/w1 created" ]]
  run kc get wd
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" =~ ^NAME\ +REPLICAS\ +READY\ +AGE$ ]]
  [[ "${lines[1]}" =~ ^w1\ +1\ + ]] # default applied
  run kc get widgets w1 -o jsonpath='{.spec.replicas} {.metadata.generation}'
  [ "$output" = "1 1" ]
  kc get wd w1 -o yaml | grep -q '^  uid: '
  kc get wd w1 -o json | grep -q '"resourceVersion": "'
  run kc get wd --show-labels
  [[ "$output" == *"app=web"* ]]
  run kc get wd -A
  [[ "${lines[0]}" =~ ^NAMESPACE\ +NAME ]]
  [[ "${lines[1]}" =~ ^default\ +w1 ]]
}

@test "registry: schema validation answers 422 and unknown fields 400 under --validate=strict" {
  run kc apply -f - <<'YAML'
apiVersion: example.com/v1
kind: Widget
metadata: {name: bad}
spec: {size: huge, replicas: "three"}
YAML
  [ "$status" -ne 0 ]
  [[ "$output" == *'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'* ]]
  [[ "$output" == *'spec.size: Unsupported value: "huge": supported values: "small", "large"'* ]]
  run kc apply -f - <<'YAML'
apiVersion: example.com/v1
kind: Widget
metadata: {name: bad}
spec: {size: small, bogus: 1}
YAML
  [ "$status" -ne 0 ]
  [[ "$output" == *'strict decoding error: unknown field "spec.bogus"'* ]]
  run kc get wd bad
  [ "$status" -ne 0 ]
  [[ "$output" == *'widgets.example.com "bad" not found'* ]]
  run kc create configmap BadName
  [ "$status" -ne 0 ]
  [[ "$output" == *'a lowercase RFC 1123 subdomain'* ]]
}

@test "registry: label selectors, field selectors, label and annotate" {
  kc create configmap sel-a --from-literal=k=v >/dev/null
  kc create configmap sel-b --from-literal=k=v >/dev/null
  kc label configmap sel-a tier=front >/dev/null
  kc label configmap sel-b tier=back >/dev/null
  kc annotate configmap sel-a note=hello >/dev/null
  run kc get cm -l 'tier in (front)' -o name
  [ "$output" = "configmap/sel-a" ]
  run kc get cm -l 'tier,tier!=front' -o name
  [ "$output" = "configmap/sel-b" ]
  run kc get cm --field-selector metadata.name=sel-b -o name
  [ "$output" = "configmap/sel-b" ]
  run kc get cm sel-a -o jsonpath='{.metadata.annotations.note}'
  [ "$output" = "hello" ]
  run kc get cm -l 'tier in (front'
  [ "$status" -ne 0 ]
}

@test "registry: get -w reports additions, changes and deletions" {
  kc get wd -w --output-watch-events -o custom-columns=EVENT:.type,NAME:.object.metadata.name,R:.object.spec.replicas >"$BATS_TEST_TMPDIR/watch" 2>&1 &
  local wpid=$!
  sleep 1.5
  kc apply -f - >/dev/null <<'YAML'
apiVersion: example.com/v1
kind: Widget
metadata: {name: watched}
spec: {size: large}
YAML
  kc patch wd watched --type merge -p '{"spec":{"replicas":4}}' >/dev/null
  kc delete wd watched >/dev/null
  for _ in $(seq 1 50); do grep -q DELETED "$BATS_TEST_TMPDIR/watch" && break; sleep 0.1; done
  kill "$wpid" 2>/dev/null || true
  cat "$BATS_TEST_TMPDIR/watch"
  grep -Eq '^ADDED +watched +1$' "$BATS_TEST_TMPDIR/watch"
  grep -Eq '^MODIFIED +watched +4$' "$BATS_TEST_TMPDIR/watch"
  grep -Eq '^DELETED +watched' "$BATS_TEST_TMPDIR/watch"
}

@test "registry: merge, JSON and status patches; wait for a condition; generation moves on spec only" {
  kc patch wd w1 --type merge -p '{"spec":{"replicas":3}}' >/dev/null
  kc patch wd w1 --type json -p '[{"op":"replace","path":"/spec/size","value":"large"}]' >/dev/null
  run kc get wd w1 -o jsonpath='{.spec.replicas} {.spec.size} {.metadata.generation}'
  [ "$output" = "3 large 3" ]
  kc patch wd w1 --subresource=status --type merge \
    -p '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Up","message":"ok","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}' >/dev/null
  run kc wait --for=condition=Ready wd/w1 --timeout=10s
  [ "$status" -eq 0 ]
  run kc get wd w1 -o jsonpath='{.metadata.generation}'
  [ "$output" = "3" ]
  run kc get wd w1
  [[ "${lines[1]}" =~ ^w1\ +3\ +True ]]
  # status written through the main resource is ignored
  kc patch wd w1 --type merge -p '{"status":{"conditions":[]}}' >/dev/null
  run kc get wd w1 -o jsonpath='{.status.conditions[0].status}'
  [ "$output" = "True" ]
  # strategic merge patch is refused for custom resources, as kube-apiserver does
  run kc patch wd w1 --type strategic -p '{"spec":{"replicas":2}}'
  [ "$status" -ne 0 ]
  [[ "$output" == *UnsupportedMediaType* || "$output" == *"unknown format"* ]]
}

@test "registry: server-side apply creates, updates and drops fields the manager stopped applying" {
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n  labels: {a: "1"}\ndata:\n  x: "1"\n  y: "2"\n' >"$BATS_TEST_TMPDIR/ssa.yaml"
  run kc apply --server-side -f "$BATS_TEST_TMPDIR/ssa.yaml"
  [ "$status" -eq 0 ]
  [[ "$output" == "configmap/ssa serverside-applied" ]]
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  x: "5"\n' >"$BATS_TEST_TMPDIR/ssa.yaml"
  kc apply --server-side -f "$BATS_TEST_TMPDIR/ssa.yaml" >/dev/null
  run kc get cm ssa -o jsonpath='{.data}'
  [ "$output" = '{"x":"5"}' ]
  run kc get cm ssa -o jsonpath='{.metadata.managedFields[0].manager}'
  [ "$output" = "kubectl" ]
}

@test "registry: replace with a stale resourceVersion is a conflict; edit works" {
  kc get wd w1 -o yaml >"$BATS_TEST_TMPDIR/old.yaml"
  kc patch wd w1 --type merge -p '{"spec":{"replicas":5}}' >/dev/null
  run kc replace -f "$BATS_TEST_TMPDIR/old.yaml"
  [ "$status" -ne 0 ]
  [[ "$output" == *"the object has been modified; please apply your changes to the latest version and try again"* ]]
  EDITOR="sed -i s/replicas:\ 5/replicas:\ 6/" kc edit wd w1 >/dev/null
  run kc get wd w1 -o jsonpath='{.spec.replicas}'
  [ "$output" = "6" ]
  kc create configmap edited --from-literal=k=one >/dev/null
  EDITOR="sed -i s/one/two/" kc edit configmap edited >/dev/null
  run kc get configmap edited -o jsonpath='{.data.k}'
  [ "$output" = "two" ]
}

@test "registry: delete waits for finalizers; namespaces take their objects with them" {
  kc apply -f - >/dev/null <<'YAML'
apiVersion: example.com/v1
kind: Widget
metadata: {name: held, finalizers: [example.com/hold]}
spec: {size: small}
YAML
  kc delete wd held --wait=false >/dev/null
  run kc get wd held -o jsonpath='{.metadata.deletionTimestamp}'
  [ -n "$output" ]
  kc patch wd held --type json -p '[{"op":"remove","path":"/metadata/finalizers"}]' >/dev/null
  run kc get wd held
  [ "$status" -ne 0 ]
  kc create namespace gone-soon >/dev/null
  kc create configmap inside -n gone-soon --from-literal=a=b >/dev/null
  kc create secret generic s -n gone-soon --from-literal=p=q >/dev/null
  kc delete namespace gone-soon --timeout=20s >/dev/null
  run kc get configmap inside -n gone-soon
  [ "$status" -ne 0 ]
  run kc create configmap x -n nowhere
  [ "$status" -ne 0 ]
  [[ "$output" == *'namespaces "nowhere" not found'* ]]
}

@test "registry: --chunk-size pages through a list" {
  for i in $(seq 1 9); do echo "---
apiVersion: v1
kind: ConfigMap
metadata: {name: page-$i, labels: {paged: 'yes'}}"; done | kc apply -f - >/dev/null
  run kc get cm -l paged=yes --chunk-size=2 -o name -v=6
  [ "$status" -eq 0 ]
  [ "$(grep -c '^configmap/page-' <<<"$output")" -eq 9 ]
  [ "$(grep -c 'continue=' <<<"$output")" -eq 4 ]
}

@test "registry: kill -9 and restart keep every object and the resourceVersion" {
  kc create configmap durable --from-literal=k=v >/dev/null
  before=$(kc get cm durable -o jsonpath='{.metadata.resourceVersion}')
  count=$(kc get cm -o name | wc -l)
  kill -9 "$(cat "$DATA.pid")"
  wait "$(cat "$DATA.pid")" 2>/dev/null || true
  rm -f "$DATA/kubeconfig"
  start_server
  run kc get cm durable -o jsonpath='{.metadata.resourceVersion}'
  [ "$output" = "$before" ]
  [ "$(kc get cm -o name | wc -l)" -eq "$count" ]
  run kc get wd w1 -o jsonpath='{.spec.replicas}'
  [ "$output" = "6" ]
  kc create configmap after >/dev/null
  after=$(kc get cm after -o jsonpath='{.metadata.resourceVersion}')
  [ "$after" -gt "$before" ]
  # the history did not survive the restart: an older resourceVersion is gone (410)
  run kc get --raw "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=$((before - 1))&timeoutSeconds=2"
  [[ "$output" == *'"type":"ERROR"'* ]]
  [[ "$output" == *'"code":410'* ]]
  [[ "$output" == *'too old resource version'* ]]
}

@test "registry: a watch past the history window gets 410 Gone; a fresh one works" {
  kill "$(cat "$DATA.pid")"
  wait "$(cat "$DATA.pid")" 2>/dev/null || true
  rm -f "$DATA/kubeconfig"
  PORTICO_WATCH_HISTORY=5 start_server
  start=$(kc create configmap window-0 -o jsonpath='{.metadata.resourceVersion}')
  for i in 1 2 3 4 5 6; do kc create configmap "window-$i" >/dev/null; done
  run kc get --raw "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=$start&timeoutSeconds=2"
  [[ "$output" == *'"code":410'* ]]
  recent=$(kc get cm window-5 -o jsonpath='{.metadata.resourceVersion}')
  run kc get --raw "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=$recent&timeoutSeconds=1"
  [ "$status" -eq 0 ]
  [[ "$output" == *'"type":"ADDED"'*'window-6'* ]]
}

@test "registry: deleting the CRD removes its objects" {
  kc delete -f "$TD/widgets-crd.yaml" >/dev/null
  run kc get --raw /apis/example.com/v1/namespaces/default/widgets
  [ "$status" -ne 0 ]
  kc apply -f "$TD/widgets-crd.yaml" >/dev/null
  kc wait --for=condition=Established crd/widgets.example.com --timeout=10s >/dev/null
  run kc get --raw /apis/example.com/v1/namespaces/default/widgets
  [ "$status" -eq 0 ]
  [[ "$output" == *'"items":[]'* ]]
}
