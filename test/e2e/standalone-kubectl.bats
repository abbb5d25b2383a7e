#!/usr/bin/env bats
# `portico standalone` as the real kubectl sees it: discovery (aggregated and legacy),
# OpenAPI v3 (default `kubectl apply` and `explain` need it), protobuf creates of core
# kinds, client-side apply with three-way merges, a namespaced and a cluster-scoped CRD
# (printer columns, selectors, -A, describe, categories), watch, the write verbs, and a
# kill -9 restart. Registry corner cases live in registry-kubectl.bats.

load lib/standalone

TD="$PORTICO_ROOT/test/e2e/testdata"

setup_file() {
  standalone_start "$BATS_FILE_TMPDIR/data"
}

teardown_file() {
  standalone_stop || true
}

setup() {
  # a test may have restarted the server: follow it
  export KUBECONFIG=$BATS_FILE_TMPDIR/data/kubeconfig
  STANDALONE_DIR=$BATS_FILE_TMPDIR/data
}

@test "kubectl sees Kubernetes 1.32 and the core kinds through aggregated discovery" {
  run kc version
  [ "$status" -eq 0 ]
  [[ "$output" == *"Server Version: v1.32."* ]]
  run kc api-resources -v=8
  [ "$status" -eq 0 ] || { echo "$output" | tail -20; false; }
  [[ "$output" == *"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"* ]]
  for kind in ConfigMap Secret Namespace Event Lease CustomResourceDefinition; do
    echo "$output" | grep -qE " $kind\$" || { echo "missing $kind"; false; }
  done
  # legacy discovery documents too
  run kc get --raw /api/v1
  [[ "$output" == *'"kind":"APIResourceList"'* && *'"name":"configmaps"'* ]]
  run kc get --raw /apis
  [[ "$output" == *'"kind":"APIGroupList"'* && *'"name":"coordination.k8s.io"'* ]]
  run kc get --raw /openapi/v3
  [[ "$output" == *'"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash='* ]]
}

@test "create namespace, configmap and secret generic arrive as protobuf and read back right" {
  run kc create namespace proto-ns -v=8
  [ "$status" -eq 0 ] || { echo "$output" | tail; false; }
  [[ "$output" == *"Content-Type: application/vnd.kubernetes.protobuf"* ]]
  [[ "$output" == *"namespace/proto-ns created"* ]]
  kc -n proto-ns create configmap settings --from-literal=mode=fast --from-literal='greeting=hello world'
  kc -n proto-ns create secret generic creds --from-literal=password='s3cr3t!' --from-literal=user=admin
  run kc -n proto-ns get configmap settings -o jsonpath='{.data.mode}|{.data.greeting}'
  [ "$output" = "fast|hello world" ]
  run kc -n proto-ns get secret creds -o jsonpath='{.data.password} {.data.user}'
  [ "$output" = "$(printf 's3cr3t!' | base64) $(printf admin | base64)" ]
  kc -n proto-ns create secret generic typed --type=example.com/token --from-literal=t=x
  run kc -n proto-ns get secret typed -o jsonpath='{.type}'
  [ "$output" = example.com/token ]
  run kc get ns proto-ns -o jsonpath='{.status.phase}'
  [ "$output" = Active ]
}

@test "client-side apply of a core kind: OpenAPI v3 is fetched, re-apply three-way merges" {
  cat >"$BATS_TEST_TMPDIR/cm.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
  labels: {stage: one}
data: {k1: v1, k2: v2}
YAML
  run kc apply -f "$BATS_TEST_TMPDIR/cm.yaml" -v=6
  [ "$status" -eq 0 ] || { echo "$output" | tail; false; }
  [[ "$output" == *"GET $STANDALONE_URL/openapi/v3/api/v1?hash="*" 200 OK"* ]]
  [[ "$output" == *"fieldValidation=Strict"* ]]
  sed -i 's/k2: v2/k3: v3/; s/stage: one/stage: two/' "$BATS_TEST_TMPDIR/cm.yaml"
  run kc apply -f "$BATS_TEST_TMPDIR/cm.yaml"
  [[ "$output" == "configmap/applied configured" ]]
  run kc get cm applied -o jsonpath='{.data} {.metadata.labels.stage}'
  [ "$output" = '{"k1":"v1","k3":"v3"} two' ]
  # strict validation refuses unknown fields of a core kind
  run kc apply -f - <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: strict}
bogus: field
YAML
  [ "$status" -ne 0 ]
  [[ "$output" == *'unknown field "bogus"'* ]]
}

@test "a namespaced and a cluster-scoped CRD: columns, labels, selectors, -A, yaml/json/jsonpath, describe, explain" {
  kc apply -f "$TD/widgets-crd.yaml"
  kc wait --for=condition=Established crd/widgets.test.portico.dev crd/gadgets.test.portico.dev --timeout=20s
  run kc apply -f "$TD/widgets.yaml"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run kc get widgets
  [[ "${lines[0]}" =~ ^NAME\ +SIZE\ +COLOR\ +PHASE\ +AGE$ ]]
  [[ "${lines[1]}" =~ ^alpha\ +3\ +red\ + ]]
  [ "${#lines[@]}" -eq 3 ]
  run kc get wd -A --show-labels
  [[ "${lines[0]}" =~ ^NAMESPACE\ +NAME\ +SIZE.*LABELS$ ]]
  [[ "$output" =~ team-b\ +gamma\ +7\ +green.*app=blog ]]
  run kc get wd -A -l 'app=shop,tier in (front,middle)' -o name
  [ "$output" = "widget.test.portico.dev/alpha" ]
  run kc get wd -l 'tier!=front' -o jsonpath='{.items[*].metadata.name}'
  [ "$output" = "beta" ]
  run kc get porticotest -A -o name
  [ "${#lines[@]}" -eq 3 ]
  kc get wd alpha -o yaml | grep -qE '^  owner: alice$'
  kc -n team-b get wd gamma -o json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["spec"]["extra"]=={"anything":[1,2],"goes":"here"}, d'
  run kc get gadgets
  [[ "${lines[1]}" =~ ^g1\ + ]]
  run kc get gadget g1 -o jsonpath='{.metadata.namespace}'
  [ -z "$output" ]
  run kc describe widget alpha
  [[ "$output" == *"Name:         alpha"* && *"tier=front"* && *"Size:   3"* ]]
  run kc explain widgets.spec.color
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"ENUM:"*"green"* ]]
}

@test "validation errors come back as 422 Invalid with field paths" {
  run kc apply -f - <<'YAML'
apiVersion: test.portico.dev/v1
kind: Widget
metadata: {name: bad}
spec: {size: 50, color: purple, owner: "Not Lower"}
YAML
  [ "$status" -ne 0 ]
  [[ "$output" == *'The Widget "bad" is invalid'* ]]
  [[ "$output" == *"spec.size"* && *"spec.color"* && *"spec.owner"* ]]
  run kc apply -f - <<'YAML'
apiVersion: test.portico.dev/v1
kind: Widget
metadata: {name: Bad_Name}
spec: {size: 1}
YAML
  [ "$status" -ne 0 ]
  [[ "$output" == *"metadata.name"* ]]
  run kc apply -f - <<'YAML'
apiVersion: test.portico.dev/v1
kind: Sprocket
metadata: {name: nope}
YAML
  [ "$status" -ne 0 ]
  [[ "$output" == *'no matches for kind "Sprocket"'* ]]
}

@test "get -w streams changes while they happen" {
  kc get wd -w --output-watch-events >"$BATS_TEST_TMPDIR/watch" 2>&1 &
  wpid=$!
  sleep 2
  kc apply -f - <<'YAML'
apiVersion: test.portico.dev/v1
kind: Widget
metadata: {name: watched}
spec: {size: 2}
YAML
  kc label wd watched seen=yes
  for _ in $(seq 1 100); do
    grep -qE '^MODIFIED +watched ' "$BATS_TEST_TMPDIR/watch" && break
    sleep 0.1
  done
  kill "$wpid" 2>/dev/null || true
  wait "$wpid" 2>/dev/null || true
  cat "$BATS_TEST_TMPDIR/watch"
  grep -qE '^EVENT +NAME +SIZE' "$BATS_TEST_TMPDIR/watch"
  grep -qE '^ADDED +alpha +3 ' "$BATS_TEST_TMPDIR/watch"
  grep -qE '^ADDED +watched +2 ' "$BATS_TEST_TMPDIR/watch"
  grep -qE '^MODIFIED +watched +2 ' "$BATS_TEST_TMPDIR/watch"
}

@test "label, annotate, patch (merge, json, status), edit, stale replace, wait, finalizers, chunking" {
  kc label wd alpha color=warm
  kc annotate wd alpha note='first note'
  kc annotate wd alpha note='second' --overwrite
  run kc get wd alpha -o jsonpath='{.metadata.labels.color} {.metadata.annotations.note}'
  [ "$output" = "warm second" ]
  kc patch wd alpha --type=merge -p '{"spec":{"size":4}}'
  kc patch wd alpha --type=json -p '[{"op":"replace","path":"/spec/color","value":"blue"}]'
  run kc get wd alpha -o jsonpath='{.spec.size} {.spec.color} {.metadata.generation}'
  [ "$output" = "4 blue 3" ]
  kc patch wd alpha --subresource=status --type=merge -p '{"status":{"phase":"Ready"}}'
  run kc get wd alpha -o jsonpath='{.status.phase} {.metadata.generation}'
  [ "$output" = "Ready 3" ]
  run kc get wd alpha
  [[ "${lines[1]}" =~ ^alpha\ +4\ +blue\ +Ready\ + ]]

  EDITOR="sed -i s/owner:\ alice/owner:\ bob/" kc edit wd alpha
  run kc get wd alpha -o jsonpath='{.spec.owner}'
  [ "$output" = bob ]

  kc get wd alpha -o yaml >"$BATS_TEST_TMPDIR/stale.yaml"
  kc patch wd alpha --type=merge -p '{"spec":{"size":6}}'
  run kc replace -f "$BATS_TEST_TMPDIR/stale.yaml"
  [ "$status" -ne 0 ]
  [[ "$output" == *"the object has been modified; please apply your changes to the latest version and try again"* ]]

  kc wait --for=condition=Ready wd/beta --timeout=20s >"$BATS_TEST_TMPDIR/wait" 2>&1 &
  waitpid=$!
  sleep 1
  kc patch wd beta --subresource=status --type=merge \
    -p '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Done","message":"ok"}]}}'
  wait "$waitpid"
  grep -q 'condition met' "$BATS_TEST_TMPDIR/wait"

  kc patch wd beta --type=merge -p '{"metadata":{"finalizers":["test.portico.dev/hold"]}}'
  kc delete wd beta --wait=false
  run kc get wd beta -o jsonpath='{.metadata.deletionTimestamp}'
  [ "$status" -eq 0 ] && [ -n "$output" ]
  kc patch wd beta --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]'
  run kc get wd beta
  [ "$status" -ne 0 ]
  [[ "$output" == *'widgets.test.portico.dev "beta" not found'* ]]

  for i in 1 2 3 4 5 6 7; do kc create configmap "page-$i" --from-literal=i="$i" >/dev/null; done
  run kc get configmaps -l '!nonexistent' --chunk-size=3 -o name -v=6
  [[ "$output" == *"limit=3"* && *"continue="* ]]
  [ "$(echo "$output" | grep -c '^configmap/page-')" -eq 7 ]
}

@test "kill -9 and restart keep every object and resourceVersion" {
  before=$(kc get wd,cm,secrets,ns -A -o jsonpath='{range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}={.metadata.resourceVersion}{"\n"}{end}' | sort)
  [ -n "$before" ]
  standalone_kill9
  standalone_start "$BATS_FILE_TMPDIR/data"
  after=$(kc get wd,cm,secrets,ns -A -o jsonpath='{range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}={.metadata.resourceVersion}{"\n"}{end}' | sort)
  [ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); false; }
  # writes continue from a newer resourceVersion
  old=$(kc get wd alpha -o jsonpath='{.metadata.resourceVersion}')
  kc label wd alpha restarted=yes
  new=$(kc get wd alpha -o jsonpath='{.metadata.resourceVersion}')
  [ "$new" -gt "$old" ]
}

@test "deleting a CRD stops serving its kind" {
  kc delete crd gadgets.test.portico.dev
  for _ in $(seq 1 50); do
    kc get gadgets >/dev/null 2>&1 || break
    sleep 0.2
  done
  run kc get gadgets
  [ "$status" -ne 0 ]
  # a fresh discovery says so; a cached one gets the list's 404
  [[ "$output" == *'the server doesn'"'"'t have a resource type "gadgets"'* ||
     "$output" == *'the server could not find the requested resource'* ]]
  run kc get gadgets --cache-dir "$BATS_TEST_TMPDIR/fresh-cache"
  [[ "$output" == *'the server doesn'"'"'t have a resource type "gadgets"'* ]]
}
