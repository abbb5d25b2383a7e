#!/usr/bin/env bats
# Acceptance audit of `portico standalone` against issue 2 and SPEC §1, with the real
# kubectl 1.32 and curl: the flows a user types (secrets of every kind, delete -f of a file
# holding a namespace and its objects, describe with Events, edit/replace/apply twice,
# label/annotate, output formats, waits), the raw answers to bad input (status code and
# Status reason as kube-apiserver gives them, and the server still serving after each),
# watch resumption and 410 Gone, and a server stop under `kubectl get -w`.

load lib/standalone

TD="$PORTICO_ROOT/test/e2e/testdata/registry"

setup_file() {
  # a short watch history, so that 410 Gone is reachable in a few writes
  export PORTICO_WATCH_HISTORY=5
  standalone_start "$BATS_FILE_TMPDIR/data"
  kc apply -f "$TD/widgets-crd.yaml" >/dev/null
  kc wait --for=condition=Established crd/widgets.example.com --timeout=10s >/dev/null
}

teardown_file() {
  standalone_stop || true
}

setup() {
  export KUBECONFIG=$BATS_FILE_TMPDIR/data/kubeconfig
  STANDALONE_DIR=$BATS_FILE_TMPDIR/data
  STANDALONE_URL=$(sed -n 's/^ *server: //p' "$KUBECONFIG")
  STANDALONE_TOKEN=$(sed -n 's/^ *token: //p' "$KUBECONFIG")
}

# raw request with the token: api METHOD PATH [curl args]; prints "BODY CODE"
api() {
  local method=$1 path=$2
  shift 2
  standalone_curl -X "$method" -H "Authorization: Bearer $STANDALONE_TOKEN" \
    -w ' %{http_code}' "$@" "$path"
}

still_serving() {
  run kc get --raw /readyz
  [ "$status" -eq 0 ]
  run kc get ns default -o name
  [ "$output" = "namespace/default" ]
}

@test "audit: secrets from kubectl create (protobuf) get type Opaque; docker-registry, tls, --from-file" {
  kc create secret generic plain --from-literal=x=hello >/dev/null
  run kc get secret plain -o jsonpath='{.type}'
  [ "$output" = "Opaque" ]
  [ "$(kc get secret plain -o jsonpath='{.data.x}' | base64 -d)" = "hello" ]
  run kc get secrets --field-selector type=Opaque -o name
  [[ "$output" == *"secret/plain"* ]]
  printf 'file-bytes' >"$BATS_TEST_TMPDIR/f.txt"
  kc create secret generic fromfile --from-file="$BATS_TEST_TMPDIR/f.txt" \
    --from-file=other="$BATS_TEST_TMPDIR/f.txt" >/dev/null
  [ "$(kc get secret fromfile -o jsonpath='{.data.other}' | base64 -d)" = "file-bytes" ]
  [ "$(kc get secret fromfile -o jsonpath='{.data.f\.txt}' | base64 -d)" = "file-bytes" ]
  kc create secret docker-registry reg --docker-server=r.example --docker-username=u \
    --docker-password=p >/dev/null
  kc create secret tls tls1 --cert="$STANDALONE_DIR/serving.crt" --key="$STANDALONE_DIR/serving.key" >/dev/null
  run kc get secret reg tls1 plain
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" =~ ^NAME\ +TYPE\ +DATA\ +AGE$ ]]
  [[ "$output" =~ reg\ +kubernetes.io/dockerconfigjson\ +1 ]]
  [[ "$output" =~ tls1\ +kubernetes.io/tls\ +2 ]]
  [[ "$output" =~ plain\ +Opaque\ +1 ]]
  run kc describe secret plain
  [[ "$output" =~ Type:\ +Opaque ]]
  [[ "$output" == *"x:  5 bytes"* ]]
}

@test "audit: kubectl delete -f of a namespace and its objects deletes each, as on a cluster" {
  cat >"$BATS_TEST_TMPDIR/ns.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: audit-ns}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: audit-ns}
data: {k: v}
---
apiVersion: v1
kind: Secret
metadata: {name: sec, namespace: audit-ns}
stringData: {password: s3cr3t}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: lease1, namespace: audit-ns}
spec: {holderIdentity: me, leaseDurationSeconds: 15}
YAML
  run kc apply -f "$BATS_TEST_TMPDIR/ns.yaml"
  [ "$status" -eq 0 ]
  run kc apply -f "$BATS_TEST_TMPDIR/ns.yaml"
  [[ "$output" == *"namespace/audit-ns unchanged"* ]]
  [[ "$output" == *"configmap/cfg unchanged"* ]]
  [[ "$output" == *"lease.coordination.k8s.io/lease1 unchanged"* ]]
  run kc get lease -n audit-ns
  [[ "${lines[0]}" =~ ^NAME\ +HOLDER\ +AGE$ ]]
  [[ "${lines[1]}" =~ ^lease1\ +me\  ]]
  run kc delete -f "$BATS_TEST_TMPDIR/ns.yaml"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *'configmap "cfg" deleted'* ]]
  [[ "$output" == *'lease.coordination.k8s.io "lease1" deleted'* ]]
  run kc get ns audit-ns
  [ "$status" -ne 0 ]
  # a namespace deleted with content: Terminating, new content refused, then gone
  kc create ns audit-ns2 >/dev/null
  kc create cm inside -n audit-ns2 >/dev/null
  run api DELETE /api/v1/namespaces/audit-ns2
  [[ "$output" == *'"phase":"Terminating"'*' 200' ]]
  kc wait --for=delete ns/audit-ns2 --timeout=20s >/dev/null
  run kc get cm inside -n audit-ns2
  [ "$status" -ne 0 ]
  still_serving
}

@test "audit: describe lists the object's Events (involvedObject field selectors), get events filters" {
  kc apply -f "$TD/widget-w1.yaml" >/dev/null
  uid=$(kc get wd w1 -o jsonpath='{.metadata.uid}')
  run api POST /api/v1/namespaces/default/events -H 'Content-Type: application/json' -d '{
    "metadata":{"name":"w1.audit"},"type":"Warning","reason":"Audited","message":"looked at it",
    "involvedObject":{"apiVersion":"example.com/v1","kind":"Widget","name":"w1","namespace":"default","uid":"'"$uid"'"},
    "source":{"component":"audit"},"count":1,
    "firstTimestamp":"2026-01-01T00:00:00Z","lastTimestamp":"2026-01-01T00:00:00Z"}'
  [[ "$output" == *" 201" ]]
  run kc describe wd w1
  [ "$status" -eq 0 ]
  [[ "$output" =~ Warning\ +Audited\ +.*audit\ +looked\ at\ it ]]
  run kc describe ns default
  [[ "$output" =~ Status:\ +Active ]]
  kc create cm described --from-literal=a=b >/dev/null
  run kc describe cm described
  [[ "$output" == *"Events:  <none>"* ]]
  run kc get events --field-selector type=Warning
  [[ "$output" =~ Warning\ +Audited\ +widget/w1 ]]
  run kc get events --field-selector type=Normal
  [[ "$output" != *Audited* ]]
  run kc get events --field-selector involvedObject.name=nope
  [[ "$output" == *"No resources found"* ]]
  run kc get ev -A
  [[ "${lines[0]}" =~ ^NAMESPACE\ +LAST\ SEEN\ +TYPE\ +REASON\ +OBJECT ]]
}

@test "audit: label/annotate, output formats, sort-by, waits, replace, server-side apply" {
  kc apply -f "$TD/widget-w1.yaml" >/dev/null
  run kc apply -f "$TD/widget-w1.yaml"
  [ "$output" = "widget.example.com/w1 unchanged" ]
  run kc label wd w1 app=db
  [ "$status" -ne 0 ]
  [[ "$output" == *"--overwrite is false"* ]]
  kc label wd w1 app=db --overwrite >/dev/null
  kc annotate wd w1 note=x >/dev/null
  kc annotate wd w1 note- >/dev/null
  run kc get wd w1 -o jsonpath='{.metadata.labels.app}/{.metadata.annotations.note}'
  [ "$output" = "db/" ]
  run kc label wd w1 'bad key=x'
  [ "$status" -ne 0 ]
  [[ "$output" == *"is invalid"* ]]
  run kc get wd -o name
  [ "$output" = "widget.example.com/w1" ]
  run kc get wd -o custom-columns=N:.metadata.name,S:.spec.size
  [[ "${lines[1]}" =~ ^w1\ +small$ ]]
  printf 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w0}\nspec: {size: large, replicas: 7}\n' | kc apply -f - >/dev/null
  run kc get wd --sort-by=.spec.replicas -o name
  [ "${lines[0]}" = "widget.example.com/w1" ]
  [ "${lines[1]}" = "widget.example.com/w0" ]
  kc patch wd w0 --subresource=status --type=merge \
    -p '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null
  run kc wait --for=jsonpath='{.status.conditions[0].status}'=True wd/w0 --timeout=5s
  [ "$status" -eq 0 ]
  run kc wait --for=condition=Ready wd/w0 --timeout=5s
  [ "$status" -eq 0 ]
  kc get wd w0 -o yaml >"$BATS_TEST_TMPDIR/w0.yaml"
  sed -i 's/replicas: 7/replicas: 8/' "$BATS_TEST_TMPDIR/w0.yaml"
  run kc replace -f "$BATS_TEST_TMPDIR/w0.yaml"
  [ "$output" = "widget.example.com/w0 replaced" ]
  run kc replace -f "$BATS_TEST_TMPDIR/w0.yaml"
  [ "$status" -ne 0 ]
  [[ "$output" == *"Conflict"*"the object has been modified"* ]]
  run kc apply --server-side -f "$TD/widget-w1.yaml"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  (kc wait --for=delete wd/w0 --timeout=15s >"$BATS_TEST_TMPDIR/wait.out" 2>&1; echo $? >>"$BATS_TEST_TMPDIR/wait.out") &
  sleep 0.5
  kc delete wd w0 --wait=false >/dev/null
  wait
  run cat "$BATS_TEST_TMPDIR/wait.out"
  [[ "$output" == *"condition met"* ]]
  [ "${lines[-1]}" = "0" ]
}

@test "audit: kubectl edit with an invalid change fails with the field error and keeps the file" {
  kc apply -f "$TD/widget-w1.yaml" >/dev/null
  cat >"$BATS_TEST_TMPDIR/ed.sh" <<'SH'
#!/bin/sh
sed -i 's/size: small/size: huge/' "$1"
SH
  chmod +x "$BATS_TEST_TMPDIR/ed.sh"
  TMPDIR=$BATS_TEST_TMPDIR EDITOR=$BATS_TEST_TMPDIR/ed.sh run kubectl --request-timeout=20s edit wd w1
  [ "$status" -ne 0 ]
  [[ "$output" == *"A copy of your changes has been stored"* ]]
  # the copy named in the message holds the change and the server's field error
  kept=$(sed -n 's/.*A copy of your changes has been stored to "\(.*\)".*/\1/p' <<<"$output")
  [ -f "$kept" ]
  grep -q 'spec.size: Unsupported value: "huge"' "$kept"
  grep -q 'size: huge' "$kept"
  run kc get wd w1 -o jsonpath='{.spec.size}'
  [ "$output" = "small" ]
}

@test "audit: bad input gets kube-apiserver's status and reason, and the server keeps serving" {
  CMS=/api/v1/namespaces/default/configmaps
  run api POST $CMS -H 'Content-Type: application/json' -d '{"apiVersion":'
  [[ "$output" == *'"reason":"BadRequest"'*' 400' ]]
  run api POST $CMS -H 'Content-Type: application/yaml' --data-binary $'a: [\n b'
  [[ "$output" == *'"reason":"BadRequest"'*' 400' ]]
  run api GET /apis/nothing.example/v1/namespaces/default/things
  [[ "$output" == *'"reason":"NotFound"'*' 404' ]]
  run api GET /api/v1/namespaces/default/pods
  [[ "$output" == *' 404' ]]
  head -c 3200000 /dev/zero | tr '\0' a |
    sed 's/^/{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":"/; s/$/"}}/' \
      >"$BATS_TEST_TMPDIR/big.json"
  run api POST $CMS -H 'Content-Type: application/json' --data-binary @"$BATS_TEST_TMPDIR/big.json"
  [[ "$output" == *'"reason":"RequestEntityTooLarge"'*' 413' ]]
  run api GET "$CMS?labelSelector=a%20in%20("
  [[ "$output" == *'"reason":"BadRequest"'*' 400' ]]
  run api GET "$CMS?fieldSelector=spec.x%3Dy"
  [[ "$output" == *'field label not supported: spec.x'*' 400' ]]
  run api POST $CMS -H 'Content-Type: application/json' -d '{"metadata":{"name":"Bad_Name"}}'
  [[ "$output" == *'"reason":"Invalid"'*'"field":"metadata.name"'*' 422' ]]
  # a wrong JSON type in a built-in kind is a decoding error (400), as kube's Go structs give
  run api POST $CMS -H 'Content-Type: application/json' -d '{"metadata":{"name":"t"},"data":{"k":5}}'
  [[ "$output" == *'cannot be handled as a ConfigMap: json: cannot unmarshal number'*'"reason":"BadRequest"'*' 400' ]]
  run api POST $CMS -H 'Content-Type: text/plain' -d 'x'
  [[ "$output" == *'"reason":"UnsupportedMediaType"'*' 415' ]]
  run api POST $CMS -H 'Content-Type: application/json' -d '{"metadata":{"generateName":"gen-"}}'
  [[ "$output" =~ \"name\":\"gen-[a-z0-9]{5}\" ]]
  [[ "$output" == *' 201' ]]
  # delete preconditions
  kc create cm pre >/dev/null
  run api DELETE $CMS/pre -H 'Content-Type: application/json' -d '{"preconditions":{"uid":"nope"}}'
  [[ "$output" == *'Precondition failed: UID in precondition: nope'*'"reason":"Conflict"'*' 409' ]]
  run kc create cm Bad_Name
  [ "$status" -ne 0 ]
  [[ "$output" == *'is invalid'* ]]
  still_serving
}

@test "audit: watch from a resourceVersion resumes, an old one gets 410 Expired" {
  W=/apis/example.com/v1/namespaces/default/widgets
  kc apply -f "$TD/widget-w1.yaml" >/dev/null
  rv=$(kc get wd w1 -o jsonpath='{.metadata.resourceVersion}')
  kc label wd w1 step=1 --overwrite >/dev/null
  run api GET "$W?watch=1&resourceVersion=$rv&timeoutSeconds=1&allowWatchBookmarks=true"
  [[ "$output" == *'"type":"MODIFIED"'*'"step":"1"'* ]]
  [[ "$output" == *' 200' ]]
  # more writes than the history (PORTICO_WATCH_HISTORY=5) holds
  for i in 2 3 4 5 6 7 8; do kc label wd w1 step=$i --overwrite >/dev/null; done
  run api GET "$W?watch=1&resourceVersion=$rv&timeoutSeconds=1"
  [[ "$output" == *'"type":"ERROR"'*'"reason":"Expired","code":410'* ]]
  # a list with limit/continue pages through
  for i in 1 2 3; do kc create cm page-$i >/dev/null; done
  run kc get cm --chunk-size=1 -o name
  [[ "$output" == *"configmap/page-1"*"configmap/page-3"* ]]
}

@test "audit: kubectl get -w ends cleanly when the server stops, and kubectl works after restart" {
  (kc get cm -w >"$BATS_TEST_TMPDIR/w.out" 2>&1; echo "rc=$?" >>"$BATS_TEST_TMPDIR/w.out") &
  sleep 1
  kc create cm seen-by-watch >/dev/null
  sleep 0.5
  standalone_stop
  wait
  run cat "$BATS_TEST_TMPDIR/w.out"
  [[ "$output" == *"seen-by-watch"* ]]
  [[ "$output" == *"rc=0"* ]]
  standalone_start "$STANDALONE_DIR"
  run kc get cm seen-by-watch -o name
  [ "$output" = "configmap/seen-by-watch" ]
}

@test "audit: a namespace left terminating by kill -9 is emptied and removed after the restart" {
  kc create ns audit-k9 >/dev/null
  kc create cm inside -n audit-k9 >/dev/null
  run api DELETE /api/v1/namespaces/audit-k9
  [[ "$output" == *'"phase":"Terminating"'*' 200' ]]
  standalone_kill9
  standalone_start "$STANDALONE_DIR"
  kc wait --for=delete ns/audit-k9 --timeout=20s >/dev/null
  run kc get cm -n audit-k9 -o name
  [ -z "$output" ]
  still_serving
}

@test "audit: kubectl get all and cluster-info work (Service is stored, in category all)" {
  run kc get all
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run kc cluster-info
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"Kubernetes control plane is running at $STANDALONE_URL"* ]]
  svc='apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80, targetPort: http}], selector: {app: web}}'
  kc apply -f - <<<"$svc" >/dev/null
  run kc apply -f - <<<"$svc"
  [ "$output" = "service/web unchanged" ]
  run kc get svc web -o jsonpath='{.spec.type} {.spec.ports[0].protocol} {.spec.ports[0].targetPort}'
  [ "$output" = "ClusterIP TCP http" ]
  kc patch svc web -p '{"spec":{"ports":[{"port":443}]}}' >/dev/null
  run kc get svc web -o jsonpath='{.spec.ports[*].port}'
  [ "$output" = "80 443" ]
  run kc get all -o name
  [[ "$output" == *"service/web"* ]]
  kc delete svc web >/dev/null
}

@test "audit: a CRD version without a schema is refused as apiextensions/v1 does" {
  run kc apply -f - <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: bads.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: bads, kind: Bad}
  versions:
  - {name: v1, served: true, storage: true}
YAML
  [ "$status" -ne 0 ]
  [[ "$output" == *'spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required'* ]]
  run kc get crd bads.example.com
  [ "$status" -ne 0 ]
}

@test "audit: plain HTTP to the HTTPS port gets 400 as from kube-apiserver (Go's TLS server)" {
  hostport=${STANDALONE_URL#https://}
  run curl -sS --max-time 5 -w ' %{http_code}' "http://$hostport/version"
  [[ "$output" == *"Client sent an HTTP request to an HTTPS server."*' 400' ]]
  still_serving
}

@test "audit: kubectl create service (a protobuf Service body) is accepted" {
  run kc create service clusterip pb --tcp=81:8080 --tcp=82:web
  [ "$status" -eq 0 ]
  run kc get svc pb -o jsonpath='{.spec.ports[0].port}/{.spec.ports[0].targetPort}/{.spec.ports[1].targetPort}/{.spec.selector.app}/{.spec.type}'
  [ "$output" = "81/8080/web/pb/ClusterIP" ]
  run kc create service nodeport pbn --tcp=80:8080 --node-port=30080
  [ "$status" -eq 0 ]
  run kc get svc pbn -o jsonpath='{.spec.type}/{.spec.ports[0].nodePort}/{.spec.ports[0].protocol}'
  [ "$output" = "NodePort/30080/TCP" ]
  run kc create service externalname pbe --external-name=example.com
  [ "$status" -eq 0 ]
  run kc get svc pbe -o jsonpath='{.spec.externalName}'
  [ "$output" = "example.com" ]
  # kubectl's Service columns, as the server's table gives them
  run kc get svc pb pbn pbe
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" =~ ^NAME\ +TYPE\ +CLUSTER-IP\ +EXTERNAL-IP\ +PORT\(S\)\ +AGE$ ]]
  [[ "$output" =~ pb\ +ClusterIP\ +\<none\>\ +\<none\>\ +81/TCP,82/TCP ]]
  [[ "$output" =~ pbn\ +NodePort\ +\<none\>\ +\<none\>\ +80:30080/TCP ]]
  [[ "$output" =~ pbe\ +ExternalName\ +\<none\>\ +example.com ]]
}
