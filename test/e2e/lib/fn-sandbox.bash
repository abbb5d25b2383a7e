# Shared by the fn-*.bats suites: does this kernel let Portico build its strict sandbox?
# Some kernels and container runtimes refuse user (or other) namespaces; there Portico
# refuses to run untrusted functions (tested by the deny-namespaces test in fn-hostile.bats,
# which runs everywhere), and the tests that need a working strict sandbox skip, loudly.
# The probe runs once per test file: a real `portico fn eval --exec /bin/cat`.

strict_sandbox_refused() {
  local cache="$BATS_FILE_TMPDIR/strict-sandbox-probe"
  if [ ! -f "$cache" ]; then
    local pkg="$BATS_FILE_TMPDIR/strict-sandbox-probe-pkg"
    mkdir -p "$pkg"
    printf 'apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: probe\n' >"$pkg/Kptfile"
    local out
    out=$("$PORTICO_BIN" fn eval "$pkg" --exec /bin/cat 2>&1)
    if [[ "$out" == *"refuses the namespaces"* ]]; then
      printf 'refused: %s\n' "$(grep -m1 'refuses the namespaces' <<<"$out")" >"$cache"
    else
      echo ok >"$cache"
    fi
  fi
  [ "$(head -c 7 "$cache")" = refused ]
}

# Skips the current test, loudly, when the strict sandbox cannot be built here.
require_strict_sandbox() {
  if strict_sandbox_refused; then
    skip "THIS KERNEL REFUSES THE NAMESPACES THE STRICT SANDBOX NEEDS, SKIPPING ($(cat "$BATS_FILE_TMPDIR/strict-sandbox-probe"))"
  fi
}
