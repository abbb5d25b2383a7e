#!/usr/bin/env bats
# The README's walkthrough really works: its shell blocks are extracted from README.md and
# run as written (with bin/portico -> the binary under test, /tmp/demo and /tmp/bad.yaml ->
# a per-test directory), against a standalone server started the way `make run` starts it.

load lib/standalone

# Prints the Nth ```sh block of README.md (1-based).
readme_block() {
  awk -v want="$1" '/^```sh$/{n++; inblock=(n==want); next} /^```$/{inblock=0} inblock' \
    "$PORTICO_ROOT/README.md"
}

# Rewrites a README block for this test's sandbox. A block that would run make is refused
# (the walkthrough blocks never do; the set-up block is not run here).
localize() {
  local text
  text=$(cat)
  if grep -qE '(^|[;&|] *)make ' <<<"$text"; then echo "refusing to run a block with make" >&2; return 1; fi
  printf '%s\n' "$text" | sed -e "s#bin/portico#$PORTICO_BIN#g" -e "s#/tmp/demo#$BATS_TEST_TMPDIR/demo#g" \
      -e "s#/tmp/bad.yaml#$BATS_TEST_TMPDIR/bad.yaml#g"
}

setup_file() {
  standalone_start "$BATS_FILE_TMPDIR/data"
  kubectl apply -f "$PORTICO_ROOT/crds/" >/dev/null
  kubectl wait --for=condition=Established crd --all --timeout=30s >/dev/null
  kubectl apply -f "$PORTICO_ROOT/manifests/examples/" >/dev/null
}

teardown_file() {
  standalone_stop || true
}

@test "walkthrough part 1: the kubectl commands (without make run and the endless watch)" {
  script=$(readme_block 2 | grep -vE '^make run|^export KUBECONFIG|-w +#' | localize)
  [ -n "$script" ]
  run bash -euo pipefail -c "$script"
  [ "$status" -eq 0 ] || { echo "$script"; echo "$output"; false; }
  [[ "$output" == *"repositories.portico.dev"* ]]
  [[ "$output" == *"blueprints"* ]]
  [[ "$output" == *"configmap/settings created"* ]]
  run kubectl get configmap settings -n team-a -o jsonpath='{.data.tier}'
  [ "$output" = gold ]
}

@test "walkthrough: the invalid PackageDraft is refused with the errors the README shows" {
  script=$(readme_block 3 | localize)
  run bash -c "$script"
  [ "$status" -ne 0 ]
  [[ "$output" == *'The PackageDraft "bad" is invalid'* ]] || { echo "$output"; false; }
  [[ "$output" == *'spec.packageName: Invalid value: "Team A"'* ]]
  [[ "$output" == *'spec.tasks: Invalid value: []: spec.tasks in body should have at least 1 items'* ]]
}

@test "walkthrough part 2: pkg init, fn eval, git tag, pkg get" {
  script=$(readme_block 4 | localize)
  export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
  run bash -euo pipefail -c "$script"
  [ "$status" -eq 0 ] || { echo "$script"; echo "$output"; false; }
  demo=$BATS_TEST_TMPDIR/demo
  grep -q '^  namespace: team-a$' "$demo/app/deployment.yaml"
  grep -q 'image: nginx:1.27' "$demo/app/deployment.yaml"
  grep -q '# comments survive every edit' "$demo/app/deployment.yaml"
  grep -q '^    ref: app/v1$' "$demo/mine/Kptfile"
  grep -q '^    commit: [0-9a-f]\{40\}$' "$demo/mine/Kptfile"
}
