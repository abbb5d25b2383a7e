#!/usr/bin/env bash
# Runs every test against one build directory (made by `make SANITIZER=... tests-bin`):
# Check unit tests, fuzz-corpus replays, and the bats end-to-end suites that drive the real
# binary. Prints one summary line at the end: "N passed, N failed, N skipped".
# PORTICO_ONLY=unit|fuzz|e2e runs one part; PORTICO_E2E_FILTER=regex picks bats files.
set -uo pipefail
build=${1:?usage: run-tests.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
only=${PORTICO_ONLY:-}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export PORTICO_BIN="$root/$build/portico"
export PORTICO_ROOT="$root"
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-120}

passed=0 failed=0 skipped=0
failures=()
logdir=$(mktemp -d /tmp/portico-test-logs.XXXXXX)

if [ -z "$only" ] || [ "$only" = unit ]; then
  echo "== unit tests ($build)"
  for t in $(find "$build/test/unit" -type f -perm -u+x 2>/dev/null | sort); do
    name=${t#"$build/test/unit/"}
    log="$logdir/${name//\//_}.log"
    if "$t" >"$log" 2>&1; then status=ok; else status=FAIL; fi
    line=$(grep -E '^[0-9]+%: Checks: ' "$log" | tail -1)
    checks=$(sed -nE 's/.*Checks: ([0-9]+).*/\1/p' <<<"$line")
    bad=$(sed -nE 's/.*Failures: ([0-9]+), Errors: ([0-9]+).*/\1 \2/p' <<<"$line")
    checks=${checks:-0}
    nfail=0
    if [ -n "$bad" ]; then nfail=$(( ${bad% *} + ${bad#* } )); fi
    if [ "$status" = FAIL ] && [ "$nfail" -eq 0 ]; then nfail=1; fi # crash, sanitizer report
    passed=$((passed + checks - (nfail > checks ? checks : nfail)))
    failed=$((failed + nfail))
    printf '  %-40s %s (%s)\n' "$name" "$status" "${line:-no summary}"
    if [ "$status" = FAIL ]; then failures+=("unit $name"); sed 's/^/    | /' "$log" | tail -40; fi
  done
fi

if [ -z "$only" ] || [ "$only" = fuzz ]; then
  echo "== fuzz corpus replays"
  for t in $(find "$build/test/fuzz" -type f -name 'replay-*' -perm -u+x 2>/dev/null | sort); do
    name=${t##*/replay-}
    corpus="test/fuzz/corpus/$name"
    if [ ! -d "$corpus" ]; then echo "  $name: no corpus at $corpus"; failed=$((failed+1)); failures+=("fuzz $name (no corpus)"); continue; fi
    if out=$("$t" "$corpus" 2>&1); then
      passed=$((passed+1)); printf '  %-40s ok (%s)\n' "$name" "$(tail -1 <<<"$out")"
    else
      failed=$((failed+1)); failures+=("fuzz $name"); printf '  %-40s FAIL\n' "$name"; tail -40 <<<"$out" | sed 's/^/    | /'
    fi
  done
fi

if [ -z "$only" ] || [ "$only" = e2e ]; then
  echo "== end-to-end tests (bats, binary $PORTICO_BIN)"
  filter=${PORTICO_E2E_FILTER:-.}
  for f in $(ls test/e2e/*.bats 2>/dev/null | grep -E "$filter"); do
    log="$logdir/$(basename "$f").tap"
    bats --tap "$f" >"$log" 2>&1
    p=$(grep -cE '^ok [0-9]+' "$log" | tr -d ' ')
    s=$(grep -cE '^ok [0-9]+ .*# skip' "$log" | tr -d ' ')
    n=$(grep -cE '^not ok [0-9]+' "$log" | tr -d ' ')
    planned=$(sed -nE 's/^1\.\.([0-9]+)$/\1/p' "$log" | head -1)
    ran=$((p + n))
    if [ -n "$planned" ] && [ "$ran" -lt "$planned" ]; then n=$((n + planned - ran)); fi
    if [ -z "$planned" ]; then n=$((n + 1)); fi
    passed=$((passed + p - s)); skipped=$((skipped + s)); failed=$((failed + n))
    printf '  %-40s %d ok, %d skipped, %d failed\n' "$(basename "$f")" "$((p - s))" "$s" "$n"
    grep -E '^ok [0-9]+ .*# skip' "$log" | sed 's/^/    SKIPPED: /'
    if [ "$n" -gt 0 ]; then
      failures+=("e2e $(basename "$f")")
      awk '/^not ok/{show=1} /^ok /{show=0} show' "$log" | head -80 | sed 's/^/    | /'
      [ -z "$planned" ] && tail -20 "$log" | sed 's/^/    | /'
    fi
  done
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
  echo "Failed:"; printf '  %s\n' "${failures[@]}"
  echo "(logs in $logdir)"
else
  rm -rf "$logdir"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
