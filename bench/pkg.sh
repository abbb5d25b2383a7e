#!/usr/bin/env bash
# Package library benchmarks, each next to kpt measured in the same run (medians):
#   1. `pkg get` of a small package and of a 500-resource package (file:// repository);
#   2. `pkg update` (resource-merge, v1 -> v2) of the same packages;
#   3. YAML round trip (parse + write, byte-identical) throughput in MB/s.
# Targets (issue 4): get and update >= 10x faster than kpt; YAML round trip >= 50 MB/s.
set -uo pipefail
P=${PORTICO_BIN:-bin/portico}
P=$(cd "$(dirname "$P")" && pwd)/$(basename "$P") # the update runs cd elsewhere
ROOT=${PORTICO_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
work=$(mktemp -d /tmp/portico-bench-pkg.XXXXXX)
trap 'rm -rf "$work"' EXIT
have_kpt=1
command -v kpt >/dev/null || { have_kpt=0; echo "NOTE: kpt not installed; kpt anchors skipped"; }
RUNS=${BENCH_RUNS:-5}

commit() { git -C "$1" add -A >/dev/null && git -C "$1" -c user.email=b@x -c user.name=b commit -qm "$2" && git -C "$1" tag "$2"; }
# Wall times from bash's own clock ($EPOCHREALTIME, us): reading it starts no process, so a
# figure is the command's own (a `date` on each side added ~2 ms to every figure).
now_us() { REPLY=${EPOCHREALTIME/./}; }
median() { sort -n | awk '{a[NR]=$1} END {printf "%.1f\n", a[int((NR+1)/2)]/1e3}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b == b + 0) printf "%.1fx", b / a; else print "n/a" }'; }

# ---- fixtures: the small app package, and 500 resources in 50 files ----
small=$work/small
mkdir -p "$small" && git -C "$small" init -q -b main
cp -a "$ROOT/test/fixtures/cad/app-v1/." "$small/" && commit "$small" v1
cp -a "$ROOT/test/fixtures/cad/app-v2/." "$small/" && rm -rf "$small/catalog/app/notes/extra.txt" && commit "$small" v2

big=$work/big
mkdir -p "$big/pkg" && git -C "$big" init -q -b main
printf 'apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\ninfo:\n  description: big\n' >"$big/pkg/Kptfile"
gen_big() { # REPLICAS
  for f in $(seq 1 50); do
    : >"$big/pkg/file$f.yaml"
    for r in $(seq 1 10); do
      [ "$r" -gt 1 ] && echo '---' >>"$big/pkg/file$f.yaml"
      cat >>"$big/pkg/file$f.yaml" <<YAML
# resource $r of file $f
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-$f-$r
  namespace: ns-$f
  labels:
    app: app-$f-$r
spec:
  replicas: $1
  template:
    spec:
      containers:
      - name: main
        image: "registry.example.com/app:$1"
        args: [--verbose, --port=8080]
        env:
        - name: MODE
          value: production
YAML
    done
  done
}
gen_big 1 && commit "$big" v1
gen_big 2 && commit "$big" v2

# time_get NAME TOOL URL
time_get() {
  local tool=$1 url=$2
  for i in $(seq "$RUNS"); do
    rm -rf "$work/out"
    local t0; now_us; t0=$REPLY
    if [ "$tool" = kpt ]; then kpt pkg get "$url" "$work/out" >/dev/null 2>&1 || return 1
    else "$P" pkg get "$url" "$work/out" >/dev/null 2>&1 || return 1; fi
    now_us; echo $(( REPLY - t0 ))
  done | median
}

# time_update TOOL URL [RUNS] (each run updates a fresh copy of the v1 package to v2)
time_update() {
  local tool=$1 url=$2 runs=${3:-$RUNS}
  rm -rf "$work/base" && kpt pkg get "$url@v1" "$work/base" >/dev/null 2>&1 ||
    "$P" pkg get "$url@v1" "$work/base" >/dev/null 2>&1 || return 1
  for i in $(seq "$runs"); do
    rm -rf "$work/upd" && cp -a "$work/base" "$work/upd"
    # kpt wants the package under the current directory (this loop runs in the pipeline's
    # subshell: the cd stays there, and no subshell is started inside the timed region)
    cd "$work" || return 1
    local t0; now_us; t0=$REPLY
    if [ "$tool" = kpt ]; then kpt pkg update upd@v2 >"$work/log" 2>&1 || { cat "$work/log" >&2; return 1; }
    else "$P" pkg update upd@v2 >"$work/log" 2>&1 || { cat "$work/log" >&2; return 1; }; fi
    now_us; echo $(( REPLY - t0 ))
  done | median
}

row() { # LABEL PORTICO_MS KPT_MS
  printf '  %-40s %10s ms %10s ms %10s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"
}

echo "pkg get / pkg update, median of $RUNS runs (target: portico >= 10x faster than kpt)"
printf '  %-40s %13s %13s %10s\n' "" "portico" "kpt (anchor)" "speed-up"
for set in "small|file://$small.git/catalog/app" "500 resources|file://$big.git/pkg"; do
  label=${set%%|*} url=${set#*|}
  pg=$(time_get portico "$url@v2") || pg=nan
  kg=nan; [ $have_kpt = 1 ] && { kg=$(time_get kpt "$url@v2") || kg=nan; }
  row "get ($label)" "$pg" "$kg"
  pu=$(time_update portico "$url") || pu=nan
  # kpt needs ~30 s per update of the 500-resource package: 3 runs there
  kruns=$RUNS; [ "$label" = "500 resources" ] && kruns=3
  ku=nan; [ $have_kpt = 1 ] && { ku=$(time_update kpt "$url" $kruns) || ku=nan; }
  row "update v1->v2 ($label)" "$pu" "$ku"
done

# ---- YAML round trip ----
awk 'FNR == 1 && NR > 1 { print "---" } { print }' "$big"/pkg/file*.yaml >"$work/all.yaml"
size=$(stat -c %s "$work/all.yaml")
yaml_rate() { # [ENV=VAL...]: "wall cpu" MB/s of the round trip, median of 3 runs (by wall)
  local res
  for i in 1 2 3; do
    res=$(env "$@" "$P" pkg __bench-yaml "$work/all.yaml" 20) || return 1
    sed -nE 's/.* mb_per_s=([0-9.]+).*cpu_mb_per_s=([0-9.]+).*/\1 \2/p' <<<"$res"
  done | sort -n | sed -n 2p
}
r=$(yaml_rate) && [ -n "$r" ] || { echo "yaml round trip FAILED"; exit 1; }
read -r mbs cpu <<<"$r"
# the same with the fast scanner off: libyaml parses every file (the parser of record)
r=$(yaml_rate PORTICO_YAML_FAST=0) && [ -n "$r" ] || { echo "yaml round trip (libyaml only) FAILED"; exit 1; }
read -r lmbs lcpu <<<"$r"
echo "YAML round trip (parse + write, byte-identical), $((size / 1024)) KiB x 20, median of 3"
printf '  %-40s %10s MB/s wall, %s MB/s of CPU time   (target: >= 50 MB/s)\n' "portico (cad/yaml, fast scanner)" "$mbs" "$cpu"
printf '  %-40s %10s MB/s wall, %s MB/s of CPU time   (fast scanner: %s)\n' "portico, libyaml only (anchor)" "$lmbs" "$lcpu" "$(ratio "$lmbs" "$mbs")"
