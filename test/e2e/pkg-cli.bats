#!/usr/bin/env bats
# portico pkg / fn source|sink: bad input, the "beyond kpt" conflict reporting, and the
# commands kpt has no byte-for-byte oracle for (diff, source, sink).

setup_file() {
  export W=$(mktemp -d /tmp/portico-pkg.XXXXXX)
  source "$PORTICO_ROOT/test/fixtures/cad/diff-lib.bash"
  local r=$W/repo
  mkdir -p "$r" && git -C "$r" init -q -b main
  repo_version "$r" app-v1 v1
  repo_version "$r" app-v2 v2
  export URL=file://$W/repo.git
}

teardown_file() {
  [ -n "${W:-}" ] && rm -rf "$W"
}

setup() {
  source "$PORTICO_ROOT/test/fixtures/cad/diff-lib.bash"
  T=$W/$BATS_TEST_NUMBER
  mkdir -p $T
  cd $T
}

# A repository whose v1 is fine and whose v2 breaks a file in the given way.
bad_repo() { # NAME FILE CONTENT
  local r=$W/$1
  mkdir -p $r/pkg && git -C $r init -q -b main
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n' >$r/pkg/cm.yaml
  git_commit $r v1 v1
  printf "$3" >$r/pkg/$2
  git_commit $r v2 v2
}

@test "pkg get: malformed YAML upstream names the file and line, nothing created" {
  bad_repo broken bad.yaml 'a: 1\nb: [1, 2\nc: 3\n'
  run "$PORTICO_BIN" pkg get file://$W/broken.git/pkg@v2 out
  [ "$status" -ne 0 ]
  [[ "$output" == *"bad.yaml:"[0-9]*":"* ]]
  [ ! -e out ]
  [ -z "$(ls -A .)" ]
}

@test "pkg get: duplicate keys are refused with file and line" {
  bad_repo dup dup.yaml 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n'
  run "$PORTICO_BIN" pkg get file://$W/dup.git/pkg@v2 out
  [ "$status" -ne 0 ]
  [[ "$output" == *'dup.yaml:5:3: duplicate key "name"'* ]]
  [ ! -e out ]
}

@test "pkg get: upstream Kptfile of the wrong version is refused" {
  bad_repo wrongkf Kptfile 'apiVersion: kpt.dev/v1alpha1\nkind: Kptfile\nmetadata:\n  name: p\n'
  run "$PORTICO_BIN" pkg get file://$W/wrongkf.git/pkg@v2 out
  [ "$status" -ne 0 ]
  [[ "$output" == *"Kptfile:1:"*"kpt.dev/v1"* ]]
  [ ! -e out ]
}

@test "pkg get: symbolic link out of the package is refused" {
  local r=$W/symlink
  mkdir -p $r/pkg && git -C $r init -q -b main
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n' >$r/pkg/cm.yaml
  ln -s ../../../etc/passwd $r/pkg/evil.yaml
  git_commit $r v1 v1
  run "$PORTICO_BIN" pkg get file://$W/symlink.git/pkg@v1 out
  [ "$status" -ne 0 ]
  [[ "$output" == *"evil.yaml"*"outside the package"* ]]
  [ ! -e out ]
}

@test "pkg get: unreadable repository and ref" {
  run "$PORTICO_BIN" pkg get file://$W/nothing-here.git/pkg@v1 out
  [ "$status" -ne 0 ]
  run "$PORTICO_BIN" pkg get $URL/catalog/app@nope out
  [ "$status" -ne 0 ]
  [[ "$output" == *'unknown ref "nope"'* ]]
  [ ! -e out ]
}

@test "pkg update: malformed local YAML leaves the package untouched" {
  "$PORTICO_BIN" pkg get $URL/catalog/app@v1 pkg 2>/dev/null
  printf 'apiVersion: v1\nkind: [oops\n' >pkg/broken.yaml
  cp -a pkg before
  run "$PORTICO_BIN" pkg update pkg@v2
  [ "$status" -ne 0 ]
  [[ "$output" == *"broken.yaml:"* ]]
  diff -r before pkg
  [ -z "$(ls -A . | grep portico)" ]
}

@test "pkg update: a Kptfile of the wrong kind is refused" {
  "$PORTICO_BIN" pkg get $URL/catalog/app@v1 pkg 2>/dev/null
  sed -i 's/^kind: Kptfile/kind: Kpt/' pkg/Kptfile
  cp -a pkg before
  run "$PORTICO_BIN" pkg update pkg@v2
  [ "$status" -ne 0 ]
  [[ "$output" == *"Kptfile:2:7: kind is \"Kpt\", want Kptfile"* ]]
  diff -r before pkg
}

@test "pkg update: symbolic link out of the local package is refused" {
  "$PORTICO_BIN" pkg get $URL/catalog/app@v1 pkg 2>/dev/null
  ln -s /etc/hostname pkg/host.yaml
  run "$PORTICO_BIN" pkg update pkg@v2
  [ "$status" -ne 0 ]
  [[ "$output" == *"host.yaml"*"outside the package"* ]]
  grep -q 'replicas: 3' pkg/deploy.yaml
}

@test "pkg update: conflicts are reported on stderr and in the results file" {
  "$PORTICO_BIN" pkg get $URL/catalog/app@v1 pkg 2>/dev/null
  sed -i 's/replicas: 3/replicas: 7/; s/"nginx:1.2"/"nginx:1.9"/' pkg/deploy.yaml
  run "$PORTICO_BIN" pkg update pkg@v2 --results-dir results
  [ "$status" -eq 0 ]
  [[ "$output" == *"field spec.replicas: local 7, upstream 4, original 3"* ]]
  [[ "$output" == *'containers[name=nginx].image: local "nginx:1.9", upstream "nginx:1.3"'* ]]
  grep -q 'replicas: 4' pkg/deploy.yaml # upstream wins, as kpt
  grep -q 'kind: FunctionResultList' results/results.yaml
  grep -q 'path: spec.replicas' results/results.yaml
  [ "$(grep -c 'severity: warning' results/results.yaml)" -eq 2 ]
}

@test "pkg update: --on-conflict=fail refuses and leaves the package untouched" {
  "$PORTICO_BIN" pkg get $URL/catalog/app@v1 pkg 2>/dev/null
  sed -i 's/replicas: 3/replicas: 7/' pkg/deploy.yaml
  cp -a pkg before
  run "$PORTICO_BIN" pkg update pkg@v2 --on-conflict=fail
  [ "$status" -ne 0 ]
  [[ "$output" == *"conflicting change"* ]]
  diff -r before pkg
  # without conflicts the same flag lets the update through
  sed -i 's/replicas: 7/replicas: 3/' pkg/deploy.yaml
  run "$PORTICO_BIN" pkg update pkg@v2 --on-conflict fail
  [ "$status" -eq 0 ]
  grep -q 'replicas: 4' pkg/deploy.yaml
}

@test "pkg update: Kptfile comments survive (kpt drops them)" {
  "$PORTICO_BIN" pkg get $URL/catalog/app@v1 pkg 2>/dev/null
  sed -i 's/^info:/# what this package is\ninfo: # the info/' pkg/Kptfile
  run "$PORTICO_BIN" pkg update pkg@v2
  [ "$status" -eq 0 ]
  grep -q '^# what this package is$' pkg/Kptfile
  grep -q '^info: # the info$' pkg/Kptfile
  grep -q 'description: app package, version two' pkg/Kptfile
  grep -q 'ref: v2' pkg/Kptfile
}

@test "pkg update: unsupported strategy is refused" {
  "$PORTICO_BIN" pkg get $URL/catalog/app@v1 pkg 2>/dev/null
  run "$PORTICO_BIN" pkg update pkg@v2 --strategy yolo
  [ "$status" -ne 0 ]
  grep -q 'ref: v1' pkg/Kptfile
}

@test "pkg diff: clean package has no diff, local edit shows" {
  "$PORTICO_BIN" pkg get $URL/catalog/app@v1 pkg 2>/dev/null
  run "$PORTICO_BIN" pkg diff pkg
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  sed -i 's/color: blue/color: red/' pkg/cm.yaml
  run "$PORTICO_BIN" pkg diff pkg
  [ "$status" -eq 0 ]
  [[ "$output" == *"-  color: blue"* ]]
  [[ "$output" == *"+  color: red"* ]]
}

@test "fn source | fn sink round-trips a package byte for byte" {
  "$PORTICO_BIN" pkg get $URL/catalog/app@v2 pkg 2>/dev/null
  "$PORTICO_BIN" fn source pkg >rl.yaml
  grep -q "config.kubernetes.io/path: 'deploy.yaml'" rl.yaml
  grep -q "internal.config.kubernetes.io/index: '0'" rl.yaml
  "$PORTICO_BIN" fn sink out <rl.yaml
  for f in $(cd pkg && find . -name '*.yaml' -o -name Kptfile); do diff pkg/$f out/$f; done
  [ ! -e out/README.md ]
}

@test "fn source matches kpt fn source on kpt-layout packages" {
  command -v kpt >/dev/null || skip "kpt is not installed"
  kpt pkg get $URL/catalog/app@v2 pkg >/dev/null 2>&1
  kpt fn source pkg >k.yaml
  "$PORTICO_BIN" fn source pkg >p.yaml
  diff k.yaml p.yaml
}

@test "fn sink: refuses an existing directory, bad input and escaping paths" {
  mkdir exists
  run sh -c "echo 'apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []' | '$PORTICO_BIN' fn sink exists"
  [ "$status" -ne 0 ]
  run sh -c "printf 'kind: List\n' | '$PORTICO_BIN' fn sink out1"
  [ "$status" -ne 0 ]
  [ ! -e out1 ]
  printf "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: x\n    annotations:\n      config.kubernetes.io/path: '../escape.yaml'\n" >rl.yaml
  run sh -c "'$PORTICO_BIN' fn sink out2 <rl.yaml"
  [ "$status" -ne 0 ]
  [[ "$output" == *"escapes the package"* ]]
  [ ! -e out2 ] && [ ! -e escape.yaml ]
}

@test "pkg: usage errors exit 2" {
  run "$PORTICO_BIN" pkg get
  [ "$status" -eq 2 ]
  run "$PORTICO_BIN" pkg update --bogus
  [ "$status" -eq 2 ]
  run "$PORTICO_BIN" pkg frobnicate
  [ "$status" -eq 2 ]
}
