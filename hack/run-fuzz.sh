#!/usr/bin/env bash
# Runs every fuzz target (test/fuzz/*.c) with libFuzzer for N seconds each, growing its
# corpus under test/fuzz/corpus/<name>/. Needs clang; `make test` replays corpora with gcc.
set -euo pipefail
secs=${1:-60}
cd "$(dirname "$0")/.."
command -v clang >/dev/null || { echo "run-fuzz: clang is not installed (hack/install-deps.sh installs it)"; exit 1; }
# the library in its own build directory, built by clang with coverage instrumentation
# (without -fsanitize=fuzzer-no-link libFuzzer only sees the target file's own edges)
CFLAGS=-fsanitize=fuzzer-no-link make SANITIZER=address,undefined CC=clang BUILD=build/fuzz/lib \
  build/fuzz/lib/libportico.a >/dev/null
mkdir -p build/fuzz
for src in test/fuzz/*.c; do
  name=$(basename "$src" .c)
  [ "$name" = replay_main ] && continue
  bin=build/fuzz/$name
  clang -std=c11 -D_GNU_SOURCE -g -O1 -I. $(pkg-config --cflags jansson yaml-0.1) -fsanitize=fuzzer,address,undefined \
    -o "$bin" "$src" build/fuzz/lib/libportico.a \
    $(pkg-config --libs libuv libcurl jansson yaml-0.1 libgit2 openssl sqlite3 libseccomp) -lhttp_parser -lpthread -lm
  mkdir -p "test/fuzz/corpus/$name"
  echo "== fuzzing $name for ${secs}s"
  "$bin" -max_total_time="$secs" -max_len=65536 "test/fuzz/corpus/$name" || exit 1
done
