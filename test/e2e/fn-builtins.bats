#!/usr/bin/env bats
# Every built-in on the catalog's documented examples, run three ways on copies of the same
# package: by kpt as an exec function (`kpt fn eval --exec "portico fn run NAME"`), by
# `portico fn eval --image` (in-process fast path) and by `portico fn eval --image
# --no-in-process` (sandboxed subprocess). The three trees must be identical, and the
# result must show the documented change.

load lib/fn-sandbox

setup() {
  command -v kpt >/dev/null || skip "kpt is not installed: SKIPPING the kpt side of the built-in tests"
  A="$BATS_TEST_TMPDIR/kpt" B="$BATS_TEST_TMPDIR/inproc" C="$BATS_TEST_TMPDIR/sandboxed"
  mkdir -p "$A"
}

# three_ways NAME IMAGE [eval args...]: runs the function on $A, $B, $C (copies of $A).
three_ways() {
  local name=$1 image=$2; shift 2
  cp -r "$A" "$B"; cp -r "$A" "$C"
  run kpt fn eval "$A" --exec "$PORTICO_BIN fn run $name" "$@"
  echo "kpt: $output"
  [ "$status" -eq 0 ]
  run "$PORTICO_BIN" fn eval "$B" --image "$image" "$@"
  echo "portico: $output"
  [ "$status" -eq 0 ]
  diff -r "$A" "$B"
  if strict_sandbox_refused; then
    echo "# THIS KERNEL REFUSES THE NAMESPACES THE STRICT SANDBOX NEEDS: SKIPPING the --no-in-process leg of $name" >&3
    return 0
  fi
  # (--memory: an ASan-built portico reserves terabytes of shadow address space)
  run "$PORTICO_BIN" fn eval "$C" --image "$image" --no-in-process --memory 100Ti "$@"
  echo "portico --no-in-process: $output"
  [ "$status" -eq 0 ]
  diff -r "$A" "$C"
}

deployment() { # deployment FILE NAME
  cat >"$1" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $2 # the app
  namespace: old
  labels:
    app: $2
spec:
  replicas: 3
  selector:
    matchLabels:
      app: $2
  template:
    metadata:
      labels:
        app: $2
    spec:
      containers:
        - name: nginx
          image: nginx:1.14.2
          ports:
            - containerPort: 80
YAML
}

@test "set-namespace: namespaced resources and the Namespace move; cluster-scoped kinds stay" {
  deployment "$A/deploy.yaml" nginx
  cat >"$A/more.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: old
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: rb
  namespace: old
subjects:
  - kind: ServiceAccount
    name: default
    namespace: old
YAML
  three_ways set-namespace gcr.io/kpt-fn/set-namespace:v0.4.1 -- namespace=example-ns
  grep -q '  namespace: example-ns' "$A/deploy.yaml"
  grep -q 'name: nginx # the app' "$A/deploy.yaml"
  # The Namespace is renamed and the RoleBinding moves; its subjects stay (only
  # ClusterRoleBinding subjects follow, as the catalog function does).
  run grep -c 'example-ns' "$A/more.yaml"
  [ "$output" -eq 2 ]
  ! grep -A3 'kind: ClusterRole' "$A/more.yaml" | grep -q namespace
}

@test "set-namespace: namespaceMatcher changes only the matching namespace" {
  cat >"$A/r.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  namespace: example1
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: b
  namespace: example2
YAML
  three_ways set-namespace set-namespace:v0.4 -- namespace=new-example namespaceMatcher=example1
  run grep -c 'namespace: new-example' "$A/r.yaml"
  [ "$output" -eq 1 ]
  grep -q 'namespace: example2' "$A/r.yaml"
}

@test "set-namespace: the catalog's replace-all case (Namespace, CRD webhook, APIService, ClusterRoleBinding)" {
  cat >"$A/resources.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: example1
  annotations:
    internal.kpt.dev/upstream-identifier: "|Namespace|~C|example"
---
apiVersion: v1
kind: Service
metadata:
  name: the-service
  namespace: example2
  annotations:
    internal.kpt.dev/upstream-identifier: "|Service|example|the-service"
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crd
spec:
  conversion:
    webhook:
      clientConfig:
        service:
          name: crd-svc
          namespace: example3
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: crb
subjects:
  - kind: ServiceAccount
    name: default
    namespace: example5
YAML
  three_ways set-namespace set-namespace:v0.4.1 -- namespace=new-ns
  [ "$(grep -c 'new-ns' "$A/resources.yaml")" -eq 4 ]
  [[ "$output" == *'namespace [example1 example2 example3 example5] updated to "new-ns", 4 value(s) changed'* ]]
  [[ "$output" == *'all `depends-on` annotations are up-to-date'* ]]
}

@test "set-namespace: resources from several namespaces need namespaceMatcher" {
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: one\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: two\n' >"$A/r.yaml"
  cp -r "$A" "$B"
  run "$PORTICO_BIN" fn eval "$B" --image set-namespace:v0.4.1 -- namespace=x
  [ "$status" -eq 1 ]
  [[ "$output" == *"expect a single upstream namespace, found [one two]"* ]]
  diff -r "$A" "$B"
}

@test "set-labels: metadata, selectors and pod templates" {
  deployment "$A/deploy.yaml" nginx
  cat >"$A/svc.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: nginx
spec:
  selector:
    app: nginx
YAML
  three_ways set-labels gcr.io/kpt-fn/set-labels:v0.2.0 -- color=orange fruit=apple
  run grep -c 'color: orange' "$A/deploy.yaml"
  [ "$output" -eq 3 ]
  run grep -c 'fruit: apple' "$A/svc.yaml"
  [ "$output" -eq 2 ]
}

@test "set-annotations: metadata and pod templates" {
  deployment "$A/deploy.yaml" nginx
  three_ways set-annotations gcr.io/kpt-fn/set-annotations:v0.1.4 -- owner=team-a
  run grep -c 'owner: team-a' "$A/deploy.yaml"
  [ "$output" -eq 2 ]
}

@test "apply-setters: scalar, pattern and list setters marked with kpt-set comments" {
  cat >"$A/r.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-app # kpt-set: ${app}
spec:
  replicas: 1 # kpt-set: ${replicas}
  template:
    spec:
      containers:
        - name: app
          image: nginx:1.0 # kpt-set: ${image}:${tag}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: envs
data:
  list: # kpt-set: ${environments}
    - dev
  untouched: keep # kpt-set: ${missing}
YAML
  three_ways apply-setters gcr.io/kpt-fn/apply-setters:v0.2.0 -- app=shop replicas=4 image=nginx tag=1.21 'environments=[dev, stage, prod]'
  grep -q 'name: shop # kpt-set: ${app}' "$A/r.yaml"
  grep -q 'replicas: 4 # kpt-set: ${replicas}' "$A/r.yaml"
  grep -q 'image: nginx:1.21 # kpt-set: ${image}:${tag}' "$A/r.yaml"
  grep -q -- '- prod' "$A/r.yaml"
  grep -q 'untouched: keep' "$A/r.yaml"
}

@test "search-replace: by path and value, and by regex with capture groups" {
  deployment "$A/deploy.yaml" nginx
  three_ways search-replace gcr.io/kpt-fn/search-replace:v0.2.0 -- by-path=metadata.name by-value=nginx put-value=web
  grep -q 'name: web # the app' "$A/deploy.yaml"
  grep -q 'app: nginx' "$A/deploy.yaml"
  rm -rf "$B" "$C"
  three_ways search-replace gcr.io/kpt-fn/search-replace:v0.2.0 -- 'by-path=spec.**.image' 'by-value-regex=nginx:(.*)' 'put-value=registry.example/nginx:${1}'
  grep -q 'image: registry.example/nginx:1.14.2' "$A/deploy.yaml"
}

@test "ensure-name-substring: prepends unless already present" {
  deployment "$A/a.yaml" nginx
  deployment "$A/b.yaml" prod-api
  three_ways ensure-name-substring gcr.io/kpt-fn/ensure-name-substring:v0.2.0 -- prepend=prod-
  grep -q 'name: prod-nginx # the app' "$A/a.yaml"
  grep -q 'name: prod-api # the app' "$A/b.yaml"
  ! grep -q 'prod-prod' "$A/b.yaml"
}

@test "set-image: new name and tag for the matching image only" {
  deployment "$A/deploy.yaml" nginx
  cat >>"$A/deploy.yaml" <<'YAML'
        - name: sidecar
          image: busybox:1.30
YAML
  three_ways set-image gcr.io/kpt-fn/set-image:v0.1.1 -- name=nginx newName=bitnami/nginx newTag=1.21.6
  grep -q 'image: bitnami/nginx:1.21.6' "$A/deploy.yaml"
  grep -q 'image: busybox:1.30' "$A/deploy.yaml"
}

@test "apply-replacements: a ConfigMap value copied into a container image" {
  deployment "$A/deploy.yaml" nginx
  cat >"$A/source.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: images
data:
  nginx: nginx:1.25.3
YAML
  cat >"$BATS_TEST_TMPDIR/fn-config.yaml" <<'YAML'
apiVersion: fn.kpt.dev/v1alpha1
kind: ApplyReplacements
metadata:
  name: replace-image
replacements:
  - source:
      kind: ConfigMap
      name: images
      fieldPath: data.nginx
    targets:
      - select:
          kind: Deployment
        fieldPaths:
          - spec.template.spec.containers.[name=nginx].image
YAML
  three_ways apply-replacements gcr.io/kpt-fn/apply-replacements:v0.1.1 --fn-config "$BATS_TEST_TMPDIR/fn-config.yaml"
  grep -q 'image: nginx:1.25.3' "$A/deploy.yaml"
}

@test "unknown function image: a clear error naming it, package untouched" {
  deployment "$A/deploy.yaml" nginx
  cp -r "$A" "$B"
  run "$PORTICO_BIN" fn eval "$A" --image gcr.io/kpt-fn/does-not-exist:v1 -- a=b
  [ "$status" -eq 1 ]
  [[ "$output" == *"gcr.io/kpt-fn/does-not-exist:v1"* ]]
  diff -r "$A" "$B"
}

@test "a built-in that fails reports an error result and leaves the package untouched" {
  deployment "$A/deploy.yaml" nginx
  cp -r "$A" "$B"
  run "$PORTICO_BIN" fn eval "$A" --image set-namespace:v0.4.1 --results-dir "$BATS_TEST_TMPDIR/res"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"FunctionConfig is missing"* ]]
  grep -q 'severity: error' "$BATS_TEST_TMPDIR/res/results.yaml"
  diff -r "$A" "$B"
  run kpt fn eval "$A" --exec "$PORTICO_BIN fn run set-namespace"
  [ "$status" -ne 0 ]
  diff -r "$A" "$B"
}

@test "portico fn run speaks the protocol on stdin and stdout" {
  run "$PORTICO_BIN" fn run set-labels <<'YAML'
apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: x
functionConfig:
  apiVersion: v1
  kind: ConfigMap
  metadata:
    name: conf
  data:
    tier: backend
YAML
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"kind: ResourceList"* ]]
  [[ "$output" == *"tier: backend"* ]]
  run "$PORTICO_BIN" fn run set-labels <<<"not: a resource list"
  [ "$status" -eq 1 ]
  run "$PORTICO_BIN" fn run no-such-function </dev/null
  [ "$status" -eq 2 ]
}

@test "apply-replacements: the catalog's simple example (a Pod spec copied into a Job, created)" {
  cat >"$A/pod.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: my-pod
spec:
  restartPolicy: OnFailure
  containers:
  - name: myapp-container
    image: busybox
YAML
  printf 'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: hello\n' >"$A/job.yaml"
  cat >"$BATS_TEST_TMPDIR/replacements.yaml" <<'YAML'
apiVersion: fn.kpt.dev/v1alpha1
kind: ApplyReplacements
metadata:
  name: replacements-fn-config
replacements:
- source:
    kind: Pod
    name: my-pod
    fieldPath: spec
  targets:
  - select:
      name: hello
      kind: Job
    fieldPaths:
    - spec.template.spec
    options:
      create: true
YAML
  three_ways apply-replacements gcr.io/kpt-fn/apply-replacements:v0.1.1 --fn-config "$BATS_TEST_TMPDIR/replacements.yaml"
  expected='apiVersion: batch/v1
kind: Job
metadata:
  name: hello
spec:
  template:
    spec:
      containers:
      - image: busybox
        name: myapp-container
      restartPolicy: OnFailure'
  [ "$(cat "$A/job.yaml")" = "$expected" ]
}
