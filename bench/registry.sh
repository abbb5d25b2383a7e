#!/usr/bin/env bash
# The registry alone (store, cache, verbs, watch fan-out), in process: no TLS, no HTTP.
# Builds bench/registry_inproc.c against build/release/libportico.a and prints each figure
# next to the issue's target (there is no kube-apiserver here to run as an anchor; the
# whole-server figures with kubectl-like clients are bench/apiserver.sh's).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build/release/libportico.a >/dev/null
work=$(mktemp -d /tmp/portico-bench-registry.XXXXXX)
trap 'rm -rf "$work"' EXIT
pkgs="libuv libcurl jansson yaml-0.1 libgit2 openssl sqlite3 libseccomp"
cc -std=c11 -D_GNU_SOURCE -O2 -I. $(pkg-config --cflags $pkgs) -o "$work/registry_inproc" \
  bench/registry_inproc.c build/release/libportico.a $(pkg-config --libs $pkgs) -lhttp_parser -lpthread -lm
"$work/registry_inproc" "$work/data" >"$work/out"
printf '%-32s %12s %14s %8s\n' figure portico target ratio
while read -r name value unit; do
  case $name in
    creates_per_s) target=2000; better=high ;;
    list_10000) target=100; better=low ;;
    list_selector_1000_of_10000) target=100; better=low ;;
    watch_latency_p50) target=5; better=low ;;
    watch_latency_p99) target=5; better=low ;;
    rss_10000_objects) target=50; better=low ;;
    *) continue ;;
  esac
  ratio=$(awk -v v="$value" -v t="$target" -v b="$better" 'BEGIN { if (b == "high") printf "%.1fx", v / t; else printf "%.1fx", (v > 0 ? t / v : 0) }')
  printf '%-32s %12s %14s %8s\n' "$name" "$value $unit" "$target $unit" "$ratio"
done <"$work/out"
