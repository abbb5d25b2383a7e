#!/usr/bin/env bash
# `make run`: starts `portico standalone` with its data under .portico/ (kept across runs).
set -euo pipefail
cd "$(dirname "$0")/.."
exec bin/portico standalone --data "${PORTICO_DATA:-$PWD/.portico}" "$@"
