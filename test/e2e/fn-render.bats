#!/usr/bin/env bats
# Differential tests: `portico fn render --allow-exec` against `kpt fn render --allow-exec`
# on the same packages and the same exec pipelines (shell functions, run by Portico in its
# sandbox). The resulting trees must be byte-identical, failures must fail both and leave
# the package untouched.

load lib/fn-sandbox

setup() {
  command -v kpt >/dev/null || skip "kpt is not installed: SKIPPING the render differential tests"
  # Exec functions run in the strict sandbox; only two tests run none.
  case "$BATS_TEST_DESCRIPTION" in
    *"refused without --allow-exec"* | *"built-in in the Kptfile pipeline"*) ;;
    *) require_strict_sandbox ;;
  esac
  FNS="$BATS_TEST_TMPDIR/fns"
  mkdir -p "$FNS"
  printf '#!/bin/sh\nexec sed -e "s/name: app$/name: app-prod/"\n' >"$FNS/rename.sh"
  printf '#!/bin/sh\nexec sed -e "s/replicas: 1$/replicas: 3/"\n' >"$FNS/scale.sh"
  printf '#!/bin/sh\nexec sed -e "s/image: nginx$/image: nginx:1.25/"\n' >"$FNS/pin.sh"
  printf '#!/bin/sh\nexec sed -e "s/value: sub$/value: sub-rendered/"\n' >"$FNS/sub.sh"
  cat >"$FNS/generate.sh" <<'SH'
#!/bin/sh
# Adds a ConfigMap in a new file.
exec sed -e '/^items:$/a\
- apiVersion: v1\
  kind: ConfigMap\
  metadata:\
    name: generated\
    annotations:\
      config.kubernetes.io/path: '"'"'generated.yaml'"'"'\
  data:\
    made-by: generator'
SH
  cat >"$FNS/delete-obsolete.sh" <<'SH'
#!/bin/sh
# Drops every top-level item whose text mentions "name: obsolete".
exec awk '
  function flush() { if (block != "" && block !~ /name: obsolete/) printf "%s", block; block = "" }
  /^items:/ { print; initems = 1; next }
  initems && /^- / { flush(); block = $0 "\n"; next }
  initems && /^[^ -]/ { flush(); initems = 0 }
  initems { block = block $0 "\n"; next }
  { print }
  END { flush() }'
SH
  printf '#!/bin/sh\ncat >/dev/null\necho "replicas must be at most 2" >&2\nexit 1\n' >"$FNS/reject.sh"
  printf '#!/bin/sh\nexec cat\n' >"$FNS/accept.sh"
  chmod 755 "$FNS"/*.sh
  A="$BATS_TEST_TMPDIR/kpt/pkg" B="$BATS_TEST_TMPDIR/portico/pkg"
  mkdir -p "$A/sub/deeper" "$A/other"
}

kptfile() { # kptfile DIR NAME [pipeline yaml...]
  local dir=$1 name=$2; shift 2
  { printf 'apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: %s\n' "$name"; printf '%s\n' "$@"; } >"$dir/Kptfile"
}

resources() {
  cat >"$A/app.yaml" <<'YAML'
# The application.
apiVersion: apps/v1
kind: Deployment
metadata:
  # renamed by the pipeline
  name: app
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: main
          image: nginx
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: obsolete
data:
  a: b
YAML
  cat >"$A/sub/sub.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
data:
  value: sub
YAML
  cat >"$A/sub/deeper/deep.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: app
spec:
  ports:
  - port: 80
    # indented the kpt way
    targetPort: 8080
YAML
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\ndata:\n  replicas: 1\n' >"$A/other/o.yaml"
}

# both [render flags...]: renders copies with kpt and portico; sets KPT_STATUS / PORTICO_STATUS.
both() {
  cp -r "$A" "$BATS_TEST_TMPDIR/original"
  mkdir -p "$(dirname "$B")" && cp -r "$A" "$B"
  run kpt fn render "$A" "$@"
  echo "kpt: $output"
  KPT_STATUS=$status
  run "$PORTICO_BIN" fn render "$B" "$@"
  echo "portico: $output"
  PORTICO_STATUS=$status
}

@test "three-function pipeline with nested subpackages: identical trees" {
  resources
  kptfile "$A" pkg 'pipeline:' '  mutators:' "    - exec: $FNS/rename.sh" "    - exec: $FNS/scale.sh" "    - exec: $FNS/pin.sh"
  kptfile "$A/sub" sub 'pipeline:' '  mutators:' "  - exec: $FNS/sub.sh"
  kptfile "$A/sub/deeper" deeper
  kptfile "$A/other" other 'info:' '  description: no pipeline here'
  both --allow-exec
  [ "$KPT_STATUS" -eq 0 ] && [ "$PORTICO_STATUS" -eq 0 ]
  diff -r "$A" "$B"
  grep -B1 'name: app-prod' "$B/app.yaml" | grep -q '# renamed by the pipeline'
  grep -q 'replicas: 3' "$B/app.yaml"
  grep -q 'image: nginx:1.25' "$B/app.yaml"
  grep -q 'value: sub-rendered' "$B/sub/sub.yaml"
  grep -q 'name: app-prod' "$B/sub/deeper/deep.yaml"
}

@test "functions that create and delete resources: same files created and deleted" {
  resources
  kptfile "$A" pkg 'pipeline:' '  mutators:' "    - exec: $FNS/generate.sh" "    - exec: $FNS/delete-obsolete.sh"
  both --allow-exec
  [ "$KPT_STATUS" -eq 0 ] && [ "$PORTICO_STATUS" -eq 0 ]
  diff -r "$A" "$B"
  [ -f "$B/generated.yaml" ]
  ! grep -q obsolete "$B/app.yaml"
}

@test "selectors and exclusions pick what a function sees" {
  resources
  kptfile "$A" pkg 'pipeline:' '  mutators:' \
    "    - exec: $FNS/rename.sh" '      selectors:' '        - kind: ConfigMap' \
    "    - exec: $FNS/scale.sh" '      exclude:' '        - name: other'
  both --allow-exec
  [ "$KPT_STATUS" -eq 0 ] && [ "$PORTICO_STATUS" -eq 0 ]
  diff -r "$A" "$B"
  grep -q 'name: app$' "$B/app.yaml"
  grep -q 'name: app-prod' "$B/sub/sub.yaml"
}

@test "a failing validator fails both and leaves the package untouched" {
  resources
  kptfile "$A" pkg 'pipeline:' '  mutators:' "    - exec: $FNS/rename.sh" '  validators:' "    - exec: $FNS/accept.sh" "    - exec: $FNS/reject.sh"
  both --allow-exec
  [ "$KPT_STATUS" -ne 0 ] && [ "$PORTICO_STATUS" -eq 1 ]
  [[ "$output" == *"replicas must be at most 2"* ]]
  diff -r "$BATS_TEST_TMPDIR/original" "$B"
  diff -r "$A" "$B"
}

@test "a failing mutator in a subpackage stops the render; nothing is written" {
  resources
  kptfile "$A" pkg 'pipeline:' '  mutators:' "    - exec: $FNS/rename.sh"
  kptfile "$A/sub" sub 'pipeline:' '  mutators:' "    - exec: $FNS/sub.sh" "    - exec: $FNS/reject.sh"
  both --allow-exec
  [ "$KPT_STATUS" -ne 0 ] && [ "$PORTICO_STATUS" -eq 1 ]
  diff -r "$BATS_TEST_TMPDIR/original" "$B"
}

@test "exec functions are refused without --allow-exec, as kpt does" {
  resources
  kptfile "$A" pkg 'pipeline:' '  mutators:' "    - exec: $FNS/rename.sh"
  both
  [ "$KPT_STATUS" -ne 0 ] && [ "$PORTICO_STATUS" -eq 1 ]
  [[ "$output" == *"--allow-exec"* ]]
  diff -r "$BATS_TEST_TMPDIR/original" "$B"
}

@test "configMap and configPath reach the function as its functionConfig" {
  resources
  printf '#!/bin/sh\nexec sed -e "s/replicas: 1$/replicas: 7/"\n' >"$FNS/needs-config.sh"
  cat >"$FNS/check-config.sh" <<'SH'
#!/bin/sh
in=$(cat)
case "$in" in
  *"functionConfig:"*"tier: gold"*) printf '%s\n' "$in" ;;
  *) echo "no config" >&2; exit 1 ;;
esac
SH
  chmod 755 "$FNS"/*.sh
  cat >"$A/fn-config.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: conf
  annotations:
    config.kubernetes.io/local-config: "true"
data:
  tier: gold
YAML
  kptfile "$A" pkg 'pipeline:' '  mutators:' "    - exec: $FNS/check-config.sh" '      configPath: fn-config.yaml' \
    "    - exec: $FNS/check-config.sh" '      configMap:' '        tier: gold'
  both --allow-exec
  [ "$KPT_STATUS" -eq 0 ] && [ "$PORTICO_STATUS" -eq 0 ]
  diff -r "$A" "$B"
}

@test "results-dir: kpt's FunctionResultList with one item per function" {
  resources
  kptfile "$A" pkg 'pipeline:' '  mutators:' "    - exec: $FNS/rename.sh" "    - exec: $FNS/scale.sh"
  both --allow-exec --results-dir "$BATS_TEST_TMPDIR/results"
  [ "$PORTICO_STATUS" -eq 0 ]
  r="$BATS_TEST_TMPDIR/results/results.yaml"
  grep -q '^kind: FunctionResultList' "$r"
  grep -q '^exitCode: 0' "$r"
  [ "$(grep -c 'exitCode: 0' "$r")" -eq 3 ]
  grep -q "exec: $FNS/scale.sh" "$r"
}

@test "results-dir: byte-identical with kpt's for functions in subpackages, passing and failing" {
  resources
  # Reports results the way real functions do: resourceRef, field, file with index 0 (kpt
  # leaves a zero index out), a field kpt does not know (dropped).
  cat >"$FNS/report.sh" <<'SH'
#!/bin/sh
cat
printf 'results:\n- message: checked\n  severity: warning\n  resourceRef:\n    apiVersion: v1\n    kind: ConfigMap\n    name: app\n  file:\n    path: sub.yaml\n    index: 0\n  extra: dropped\n- message: looked at\n  field:\n    path: data.value\n'
SH
  cat >"$FNS/report-fail.sh" <<'SH'
#!/bin/sh
cat
printf 'results:\n- message: broken\n  severity: error\n  resourceRef:\n    apiVersion: v1\n    kind: Service\n    name: app\n  file:\n    path: deep.yaml\n    index: 1\n'
echo "deep went wrong" >&2
exit 1
SH
  chmod 755 "$FNS/report.sh" "$FNS/report-fail.sh"
  kptfile "$A" pkg 'pipeline:' '  mutators:' "    - exec: $FNS/report.sh"
  kptfile "$A/sub" sub 'pipeline:' '  mutators:' "    - exec: $FNS/report.sh"
  mkdir -p "$(dirname "$B")" && cp -r "$A" "$B"
  run kpt fn render "$A" --allow-exec --results-dir "$BATS_TEST_TMPDIR/rk"
  [ "$status" -eq 0 ]
  run "$PORTICO_BIN" fn render "$B" --allow-exec --results-dir "$BATS_TEST_TMPDIR/rp"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"[warning] v1/ConfigMap/app: checked"* ]]
  [[ "$output" == *"[info] data.value: looked at"* ]]
  diff "$BATS_TEST_TMPDIR/rk/results.yaml" "$BATS_TEST_TMPDIR/rp/results.yaml"
  diff -r "$A" "$B"

  rm -rf "$A" "$B" "$BATS_TEST_TMPDIR"/rk "$BATS_TEST_TMPDIR"/rp
  mkdir -p "$A/sub/deeper" "$A/other"
  resources
  kptfile "$A" pkg 'pipeline:' '  mutators:' "    - exec: $FNS/report.sh"
  kptfile "$A/sub" sub 'pipeline:' '  mutators:' "    - exec: $FNS/report.sh"
  kptfile "$A/sub/deeper" deeper 'pipeline:' '  validators:' "    - exec: $FNS/report-fail.sh"
  cp -r "$A" "$BATS_TEST_TMPDIR/k2"
  mkdir -p "$(dirname "$B")" && cp -r "$A" "$B"
  run kpt fn render "$BATS_TEST_TMPDIR/k2" --allow-exec --results-dir "$BATS_TEST_TMPDIR/rk"
  [ "$status" -ne 0 ]
  run "$PORTICO_BIN" fn render "$B" --allow-exec --results-dir "$BATS_TEST_TMPDIR/rp"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"[error] v1/Service/app: broken"* ]]
  diff "$BATS_TEST_TMPDIR/rk/results.yaml" "$BATS_TEST_TMPDIR/rp/results.yaml"
}

@test "a step started early on the previous function's raw output: identical to kpt, also when that guess is wrong" {
  resources
  # echo-config.sh returns a functionConfig of its own: the next step's real input (without
  # it) differs from the raw output it was started on, so that start must be thrown away.
  printf '#!/bin/sh\ncat\nprintf "functionConfig:\\n  apiVersion: v1\\n  kind: ConfigMap\\n  metadata:\\n    name: echoed\\n"\n' >"$FNS/echo-config.sh"
  chmod 755 "$FNS/echo-config.sh"
  kptfile "$A" pkg 'pipeline:' '  mutators:' "    - exec: $FNS/rename.sh" "    - exec: $FNS/echo-config.sh" \
    "    - exec: $FNS/scale.sh" "    - exec: $FNS/pin.sh" '  validators:' "    - exec: $FNS/accept.sh"
  both --allow-exec
  [ "$KPT_STATUS" -eq 0 ] && [ "$PORTICO_STATUS" -eq 0 ]
  grep -q 'replicas: 3' "$B/app.yaml"
  grep -q 'image: nginx:1.25' "$B/app.yaml"
  diff -r "$A" "$B"
}

@test "a mutator that writes a valid list and then exits non-zero fails the render; nothing is written" {
  resources
  # Its output is complete (and already parsed, and handed to the next step) before its
  # exit status is known: the status must still decide.
  printf '#!/bin/sh\ncat\nexec >&-\necho "changed my mind" >&2\nexit 3\n' >"$FNS/late-fail.sh"
  chmod 755 "$FNS/late-fail.sh"
  kptfile "$A" pkg 'pipeline:' '  mutators:' "    - exec: $FNS/rename.sh" "    - exec: $FNS/late-fail.sh" \
    "    - exec: $FNS/scale.sh"
  both --allow-exec
  [ "$KPT_STATUS" -ne 0 ] && [ "$PORTICO_STATUS" -eq 1 ]
  [[ "$output" == *"changed my mind"* ]]
  [[ "$output" == *"Exit code: 3"* ]]
  diff -r "$BATS_TEST_TMPDIR/original" "$B"
  diff -r "$A" "$B"
}

@test "a built-in in the Kptfile pipeline renders in process" {
  resources
  kptfile "$A" pkg 'pipeline:' '  mutators:' '    - image: gcr.io/kpt-fn/set-namespace:v0.4.1' '      configMap:' '        namespace: prod' \
    '    - image: gcr.io/kpt-fn/set-labels:v0.2.0' '      configMap:' '        env: prod'
  mkdir -p "$(dirname "$B")" && cp -r "$A" "$B"
  run "$PORTICO_BIN" fn render "$B"
  echo "$output"
  [ "$status" -eq 0 ]
  grep -q 'namespace: prod' "$B/app.yaml"
  grep -q 'namespace: prod' "$B/sub/deeper/deep.yaml"
  grep -q 'env: prod' "$B/sub/sub.yaml"
  grep -q '# The application.' "$B/app.yaml"
}

@test "eval --match-kind/--match-name select like kpt's; identical trees" {
  resources
  kptfile "$A" pkg
  mkdir -p "$(dirname "$B")" && cp -r "$A" "$B"
  run kpt fn eval "$A" --exec "$FNS/rename.sh" --match-kind ConfigMap --match-name app
  echo "$output"
  [ "$status" -eq 0 ]
  run "$PORTICO_BIN" fn eval "$B" --exec "$FNS/rename.sh" --match-kind ConfigMap --match-name app
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"on 1 resource(s)"* ]]
  diff -r "$A" "$B"
  grep -q 'name: app-prod' "$B/sub/sub.yaml"
  grep -q 'name: app$' "$B/app.yaml"
}

@test "eval --env hands the function exactly the variables asked for" {
  resources
  kptfile "$A" pkg
  printf '#!/bin/sh\nexec sed -e "s/value: sub$/value: $TIER-$HOME/"\n' >"$FNS/env.sh"
  chmod 755 "$FNS/env.sh"
  run env TIER=ignored "$PORTICO_BIN" fn eval "$A" --exec "$FNS/env.sh" -e TIER=gold
  echo "$output"
  [ "$status" -eq 0 ]
  grep -q 'value: gold-$' "$A/sub/sub.yaml"
}

# write_journal DIR ORIG RECORD...: leaves DIR/.portico-journal as a render killed in the
# middle of its write would (format: cad/pkgcommit.h): "O:path" records the original of
# a file (bytes and mode taken from ORIG/path), "N:path" a file the render created; then
# the trailer with the record count and the FNV-1a 64 checksum of everything before it.
write_journal() {
  local dir=$1 orig=$2 j="$1/.portico-journal" n=0 r kind path
  shift 2
  printf 'portico-journal 1\n' >"$j"
  for r in "$@"; do
    kind=${r%%:*} path=${r#*:}
    case $kind in
      O) printf 'O %s %s %s\n%s' "$(stat -c %a "$orig/$path")" "${#path}" "$(stat -c %s "$orig/$path")" "$path" >>"$j"
         cat "$orig/$path" >>"$j"
         printf '\n' >>"$j" ;;
      N) printf 'N 0 %s 0\n%s\n' "${#path}" "$path" >>"$j" ;;
    esac
    n=$((n + 1))
  done
  local h=-3750763034362895579 b # the FNV-1a 64 offset basis, as a signed 64-bit number
  for b in $(od -An -tu1 -v "$j"); do h=$(( (h ^ b) * 1099511628211 )); done
  printf 'end %010d %016x\n' "$n" "$h" >>"$j"
}

@test "an interrupted render is undone by the next one, which says so; then renders as kpt" {
  resources
  kptfile "$A" pkg 'pipeline:' '  mutators:' "    - exec: $FNS/rename.sh" "    - exec: $FNS/generate.sh"
  kptfile "$A/sub" sub
  both --allow-exec # A: kpt's rendered tree; B: portico's, identical
  [ "$KPT_STATUS" -eq 0 ] && [ "$PORTICO_STATUS" -eq 0 ]
  diff -r "$A" "$B"
  ORIG="$BATS_TEST_TMPDIR/original"
  # The state of a render killed halfway through its write: app.yaml rewritten and
  # generated.yaml created, sub/sub.yaml (whose rename was next) still as it was.
  rm -rf "$B" && cp -r "$ORIG" "$B"
  cp "$A/app.yaml" "$B/app.yaml"
  cp "$A/generated.yaml" "$B/generated.yaml"
  write_journal "$B" "$ORIG" O:app.yaml O:sub/sub.yaml N:generated.yaml
  # Without --allow-exec the render itself is refused, after the repair: the tree shows it.
  run "$PORTICO_BIN" fn render "$B"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"recovered 2 file(s) of an interrupted render in $B"* ]]
  diff -r "$ORIG" "$B" # byte for byte the package before the interrupted render, no journal
  # A torn journal (killed while the journal itself was written) is dropped silently.
  printf 'portico-journal 1\nO 644 7 77\napp.yaml# The appl' >"$B/.portico-journal"
  run "$PORTICO_BIN" fn render "$B" --allow-exec
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" != *"recovered"* ]]
  diff -r "$A" "$B"
  # fn eval repairs the package the same way before it reads it.
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stray\n' >"$B/stray.yaml"
  write_journal "$B" "$ORIG" N:stray.yaml
  run "$PORTICO_BIN" fn eval "$B" --exec "$FNS/accept.sh"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"recovered 1 file(s) of an interrupted render in $B"* ]]
  diff -r "$A" "$B"
}
