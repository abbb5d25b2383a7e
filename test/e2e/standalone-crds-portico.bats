#!/usr/bin/env bats
# The shipped CRDs (crds/) and examples (manifests/examples/) applied to `portico
# standalone` with kubectl, as `make run` does: every kind is served with its printer
# columns, short names and the portico category.

load lib/standalone

setup_file() {
  standalone_start "$BATS_FILE_TMPDIR/data"
}

teardown_file() {
  standalone_stop || true
}

@test "kubectl apply -f crds/ establishes every CRD" {
  cd "$PORTICO_ROOT"
  run kc apply -f crds/
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  kc wait --for=condition=Established crd --all --timeout=30s
  for f in crds/*.yaml; do
    plural=$(python3 -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["spec"]["names"]["plural"])' "$f")
    kc get "$plural" -A >/dev/null
  done
}

@test "the examples apply and show up under the portico category" {
  cd "$PORTICO_ROOT"
  run kc apply -f manifests/examples/
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  n=$(ls manifests/examples/*.yaml | wc -l)
  run kc get portico -A -o name
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -ge "$n" ]
  run kc get repositories
  [[ "${lines[0]}" =~ ^NAME\ +TYPE ]]
}
