#!/usr/bin/env bash
# Runs every benchmark script in bench/ (in name order) against bin/portico. Each script
# prints its own table: the Portico figure, the anchor a user would otherwise run (kpt,
# git, fork/exec) measured in the same run, and their ratio. See docs/benchmarks.md.
set -uo pipefail
cd "$(dirname "$0")/.."
export PORTICO_BIN="$PWD/bin/portico" PORTICO_ROOT="$PWD"
status=0
for b in bench/*.sh; do
  [ -e "$b" ] || continue
  echo "== $(basename "$b" .sh)"
  bash "$b" || { echo "bench $(basename "$b") FAILED"; status=1; }
  echo
done
exit $status
