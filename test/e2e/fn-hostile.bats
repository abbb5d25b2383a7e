#!/usr/bin/env bats
# Hostile functions (test/fn-hostile/*.c) run through `portico fn eval --exec`. Each must
# be contained, killed within its limit and reported clearly; the package and the host
# stay unchanged and the caller keeps working.

setup_file() {
  export HOSTILE_BIN="$BATS_FILE_TMPDIR/bin"
  mkdir -p "$HOSTILE_BIN"
  for src in "$PORTICO_ROOT"/test/fn-hostile/*.c; do
    name=$(basename "$src" .c)
    cc -O1 -o "$HOSTILE_BIN/$name" "$src" -lseccomp || return 1
  done
  printf '#!/bin/sh\nexec cat\n' >"$HOSTILE_BIN/identity"
  chmod 755 "$HOSTILE_BIN"/*
}

load lib/fn-sandbox

setup() {
  # Every test needs the strict sandbox but the one that checks the refusal itself.
  [[ "$BATS_TEST_DESCRIPTION" == *"kernel that refuses namespaces"* ]] || require_strict_sandbox
  PKG="$BATS_TEST_TMPDIR/pkg"
  mkdir -p "$PKG"
  cat >"$PKG/Kptfile" <<'YAML'
apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: pkg
YAML
  cat >"$PKG/cm.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config # keep me
data:
  key: value
YAML
  BEFORE=$(cd "$PKG" && find . -type f | sort | xargs sha256sum)
}

# The package is byte for byte what setup wrote.
assert_package_untouched() {
  after=$(cd "$PKG" && find . -type f | sort | xargs sha256sum)
  [ "$after" = "$BEFORE" ] || { echo "package changed:"; diff <(echo "$BEFORE") <(echo "$after"); return 1; }
}

assert_no_escape() {
  if grep -q 'ESCAPED' <<<"$output"; then echo "$output"; return 1; fi
}

# A well-behaved function still runs afterwards.
assert_caller_works() {
  run "$PORTICO_BIN" fn eval "$PKG" --exec "$HOSTILE_BIN/identity"
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
}

# Lets uid 65534 reach DIR: o+rx on it and every ancestor below /tmp (bats makes them 0700).
open_path() {
  local d=$1
  while [ "$d" != / ] && [ "$d" != /tmp ]; do chmod o+rx "$d"; d=$(dirname "$d"); done
}

hostile() { # hostile NAME [portico flags...] [-- args for the program]
  local name=$1; shift
  run "$PORTICO_BIN" fn eval "$PKG" --exec "$HOSTILE_BIN/$name${HOSTILE_ARGS:+ $HOSTILE_ARGS}" "$@"
  echo "$output"
}

@test "fork bomb is contained by the process limit and killed at the wall time" {
  start=$SECONDS
  hostile forkbomb --timeout 2s
  [ "$status" -eq 1 ]
  [[ "$output" == *"wall time limit"* ]]
  [ $((SECONDS - start)) -lt 10 ]
  sleep 0.2
  ! pgrep -f "$HOSTILE_BIN/forkbomb"
  assert_package_untouched
  assert_caller_works
}

@test "busy loop is killed at the CPU time limit" {
  start=$SECONDS
  hostile busyloop --cpu-time 1s --timeout 20s
  [ "$status" -eq 1 ]
  [[ "$output" == *"CPU time limit"* ]]
  [ $((SECONDS - start)) -lt 10 ]
  assert_package_untouched
}

@test "sleep forever (with a setsid child) is killed at the wall time, children included" {
  start=$SECONDS
  hostile sleeper --timeout 1s
  [ "$status" -eq 1 ]
  [[ "$output" == *"killed after"*"wall time limit of 1000 ms"* ]]
  [ $((SECONDS - start)) -lt 8 ]
  sleep 0.2
  ! pgrep -f "$HOSTILE_BIN/sleeper"
  assert_package_untouched
}

@test "memory hog is stopped by the memory limit" {
  hostile memhog --memory 256Mi
  [ "$status" -eq 1 ]
  assert_no_escape
  [[ "$output" == *"memory hog stopped after"* ]]
  mib=$(sed -nE 's/.*stopped after ([0-9]+) MiB.*/\1/p' <<<"$output" | head -1)
  [ "$mib" -le 256 ]
  assert_package_untouched
}

@test "network: no connection reaches a listener on the host's loopback" {
  port_file="$BATS_TEST_TMPDIR/port"
  got="$BATS_TEST_TMPDIR/got"
  python3 - "$port_file" "$got" <<'PY' &
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(5)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(8)
try:
    c, _ = s.accept(); open(sys.argv[2], "w").write("connected\n")
except Exception:
    pass
PY
  listener=$!
  for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
  HOSTILE_ARGS=$(cat "$port_file") hostile netconnect
  kill "$listener" 2>/dev/null || true
  [ "$status" -eq 1 ]
  assert_no_escape
  [[ "$output" == *"connect 127.0.0.1"* ]]
  [ ! -e "$got" ]
  assert_package_untouched
}

@test "reading host files and the controller's secrets fails" {
  secret_dir="$BATS_TEST_TMPDIR/secrets"
  mkdir -p "$secret_dir" && echo "s3cr3t-token" >"$secret_dir/token" && chmod 644 "$secret_dir/token"
  HOSTILE_ARGS="$secret_dir/token $PKG/cm.yaml $HOME/.bashrc" hostile readhost
  [ "$status" -eq 1 ]
  assert_no_escape
  [[ "$output" == *"cannot read /etc/shadow"* ]]
  [[ "$output" != *"s3cr3t"* ]]
  assert_package_untouched
}

@test "writing outside the sandbox fails; its private /tmp never reaches the host" {
  target="$BATS_TEST_TMPDIR/host-file"
  echo original >"$target"
  rm -f /tmp/portico-hostile-marker
  HOSTILE_ARGS="$PKG/cm.yaml $target $PKG/new.yaml" hostile writehost
  [ "$status" -eq 1 ]
  assert_no_escape
  [[ "$output" == *"wrote private /tmp/portico-hostile-marker"* ]]
  [ ! -e /tmp/portico-hostile-marker ]
  [ "$(cat "$target")" = original ]
  [ ! -e /etc/pwned ] && [ ! -e /usr/pwned ]
  assert_package_untouched
}

@test "gigabytes of output are cut at the output limit" {
  start=$SECONDS
  hostile bigoutput --max-output 1Mi
  [ "$status" -eq 1 ]
  [[ "$output" == *"output larger than its limit"* ]]
  [ $((SECONDS - start)) -lt 10 ]
  assert_package_untouched
}

@test "ptrace is refused" {
  hostile tracer
  [ "$status" -eq 1 ]
  assert_no_escape
  [[ "$output" == *"ptrace: Operation not permitted"* ]]
}

@test "kill(-1) reaches only the sandbox's own processes" {
  sleep 30 &
  bystander=$!
  hostile killall
  [ "$status" -eq 1 ]
  [[ "$output" == *"kill(-1) returned 0 and I am still here"* ]]
  kill -0 "$bystander"
  kill "$bystander"
  assert_caller_works
}

@test "setuid, mount, chroot, unshare and module loading are refused" {
  hostile privesc
  [ "$status" -eq 1 ]
  assert_no_escape
  [[ "$output" == *"uid=65534 euid=65534"* ]]
}

@test "the environment is empty: the caller's secrets do not leak" {
  SECRET_TOKEN=hunter2 AWS_SECRET_ACCESS_KEY=leak run env SECRET_TOKEN=hunter2 \
    "$PORTICO_BIN" fn eval "$PKG" --exec "$HOSTILE_BIN/envleak"
  echo "$output"
  [ "$status" -eq 1 ]
  assert_no_escape
  [[ "$output" == *"environment has 0 entries"* ]]
  [[ "$output" != *"hunter2"* ]]
}

@test "exit 0 with garbage output is a failure and leaves the package untouched" {
  hostile garbage
  [ "$status" -eq 1 ]
  [[ "$output" == *"not a valid ResourceList"* ]]
  assert_package_untouched
  assert_caller_works
}

@test "results file records the failure in kpt's format" {
  hostile garbage --results-dir "$BATS_TEST_TMPDIR/results"
  [ "$status" -eq 1 ]
  grep -q 'kind: FunctionResultList' "$BATS_TEST_TMPDIR/results/results.yaml"
  grep -q 'exitCode: 1' "$BATS_TEST_TMPDIR/results/results.yaml"
}

@test "seen from the host: new namespaces, all but the user namespace owned by the caller's, no capabilities" {
  command -v python3 >/dev/null || skip "python3 is not installed: SKIPPING the host-side namespace inspection"
  # A function that waits (and marks its command line), inspected from outside while it runs.
  marker="ns-probe-$$-$RANDOM"
  printf '#!/bin/sh\nsleep 4\ncat\n' >"$HOSTILE_BIN/$marker"
  chmod 755 "$HOSTILE_BIN/$marker"
  "$PORTICO_BIN" fn eval "$PKG" --exec "$HOSTILE_BIN/$marker" >/dev/null 2>&1 &
  caller=$!
  pid=
  for _ in $(seq 60); do
    pid=$(pgrep -f "^/bin/sh $HOSTILE_BIN/$marker" | head -1)
    [ -n "$pid" ] && break
    sleep 0.05
  done
  [ -n "$pid" ] || { kill "$caller"; echo "function not found"; return 1; }
  run python3 - "$pid" <<'PY'
import fcntl, os, sys
pid = sys.argv[1]
NS_GET_USERNS = 0xB701
mine = os.readlink("/proc/self/ns/user")
theirs = os.readlink(f"/proc/{pid}/ns/user")
print("user", "new" if theirs != mine else "SHARED")
for t in ("mnt", "net", "pid", "ipc", "uts"):
    new = os.readlink(f"/proc/{pid}/ns/{t}") != os.readlink(f"/proc/self/ns/{t}")
    fd = os.open(f"/proc/{pid}/ns/{t}", os.O_RDONLY)
    owner = os.readlink(f"/proc/self/fd/{fcntl.ioctl(fd, NS_GET_USERNS)}")
    print(t, "new" if new else "SHARED", "owned-by-caller" if owner == mine else "owned-by-other")
for line in open(f"/proc/{pid}/status"):
    if line.split(":")[0] in ("Uid", "CapPrm", "CapEff", "CapBnd", "NoNewPrivs", "Seccomp"):
        print(" ".join(line.split()))
PY
  kill "$caller" 2>/dev/null
  wait "$caller" 2>/dev/null || true
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"user new"* ]]
  for t in mnt net pid ipc uts; do
    if [ "$(id -u)" -eq 0 ]; then
      [[ "$output" == *"$t new owned-by-caller"* ]]
    else
      [[ "$output" == *"$t new owned-by-other"* ]] # built inside its own user namespace
    fi
  done
  [[ "$output" == *"Uid: 65534 65534 65534 65534"* ]]
  [[ "$output" == *"CapPrm: 0000000000000000"* ]]
  [[ "$output" == *"CapEff: 0000000000000000"* ]]
  [[ "$output" == *"CapBnd: 0000000000000000"* ]]
  [[ "$output" == *"NoNewPrivs: 1"* ]]
  [[ "$output" == *"Seccomp: 2"* ]]
}

@test "a kernel that refuses namespaces: refused unless --sandbox=weak, which warns and still limits" {
  run "$HOSTILE_BIN/deny-namespaces" "$PORTICO_BIN" fn eval "$PKG" --exec "$HOSTILE_BIN/identity"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"refuses the namespaces"*"--sandbox=weak"* ]]
  assert_package_untouched
  # Weak mode runs the function as uid 65534 on the host's file system: it must reach it.
  open_path "$HOSTILE_BIN"
  run "$HOSTILE_BIN/deny-namespaces" "$PORTICO_BIN" fn eval "$PKG" --exec "$HOSTILE_BIN/identity" --sandbox=weak
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"SANDBOX WEAK MODE"* ]]
  run "$HOSTILE_BIN/deny-namespaces" "$PORTICO_BIN" fn eval "$PKG" --exec "$HOSTILE_BIN/envleak" --sandbox=weak
  [ "$status" -eq 1 ]
  assert_no_escape
  run "$HOSTILE_BIN/deny-namespaces" "$PORTICO_BIN" fn eval "$PKG" --exec "$HOSTILE_BIN/bigoutput" --sandbox=weak --max-output 1Mi
  [ "$status" -eq 1 ]
  [[ "$output" == *"output larger than its limit"* ]]
  assert_package_untouched
}

@test "an unprivileged caller gets the same sandbox, built inside its own user namespace" {
  command -v setpriv >/dev/null || skip "setpriv is not installed: SKIPPING the unprivileged-caller test"
  [ "$(id -u)" -eq 0 ] || skip "needs root to switch to an unprivileged user: SKIPPING"
  chmod -R a+rwX "$BATS_TEST_TMPDIR"
  open_path "$HOSTILE_BIN"
  open_path "$BATS_TEST_TMPDIR"
  run setpriv --reuid=65534 --regid=65534 --clear-groups "$PORTICO_BIN" fn eval "$PKG" --exec "$HOSTILE_BIN/identity"
  echo "$output"
  if [[ "$output" == *"Permission denied"* ]]; then skip "the test directories are not reachable by uid 65534: SKIPPING"; fi
  if [[ "$output" == *"refuses the namespaces"* ]]; then skip "THIS KERNEL REFUSES USER NAMESPACES TO UNPRIVILEGED USERS, SKIPPING (Portico refused, as it must)"; fi
  [ "$status" -eq 0 ]
  run setpriv --reuid=65534 --regid=65534 --clear-groups "$PORTICO_BIN" fn eval "$PKG" --exec "$HOSTILE_BIN/privesc"
  [ "$status" -eq 1 ]
  assert_no_escape
  run setpriv --reuid=65534 --regid=65534 --clear-groups "$PORTICO_BIN" fn eval "$PKG" --exec "$HOSTILE_BIN/forkbomb" --timeout 2s
  [ "$status" -eq 1 ]
  [[ "$output" == *"wall time limit"* ]]
  assert_package_untouched
}
