#!/usr/bin/env bash
# Function runtime benchmarks, each next to its anchor measured in the same run:
#   1. sandboxed trivial function (start to exit, p50/p99) vs plain fork/exec, and a whole
#      `portico fn eval --exec` vs `kpt fn eval --exec` on a small package;
#   2. `portico fn render` vs `kpt fn render --allow-exec` on a 50-resource package through a
#      3-function exec pipeline;
#   3. a built-in (set-labels) on 50 resources in process.
# Targets (issue 5): sandbox p50 <= 5 ms and p99 <= 15 ms; render >= 20x faster than kpt;
# built-in on 50 resources < 1 ms.
set -uo pipefail
P=${PORTICO_BIN:-bin/portico}
work=$(mktemp -d /tmp/portico-bench-fn.XXXXXX)
trap 'rm -rf "$work"' EXIT
have_kpt=1
command -v kpt >/dev/null || { have_kpt=0; echo "NOTE: kpt not installed; kpt anchors skipped"; }

# Wall times come from bash's own clock ($EPOCHREALTIME, microseconds): reading it starts
# no process, so a figure is the command's own. (A `date` on each side, as before, added
# about 2 ms of fork and exec to every measurement, portico's and kpt's alike.)
now_us() { REPLY=${EPOCHREALTIME/./}; }
# median_ms N CMD...: runs CMD N times, prints the median wall time in ms (one decimal).
median_ms() {
  local n=$1; shift
  local walls=() t0
  for _ in $(seq "$n"); do
    now_us; t0=$REPLY
    "$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; echo "nan"; return 1; }
    now_us; walls+=($(( REPLY - t0 )))
  done
  printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f\n", a[int((NR+1)/2)]/1e3}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.1fx", b / a; else print "n/a" }'; }

# ---- 1. sandbox start-to-exit ----
sb=$("$P" fn run --bench sandbox 300 /bin/true) || { echo "sandbox bench failed"; exit 1; }
fk=$("$P" fn run --bench fork 300 /bin/true) || exit 1
sb50=$(sed -nE 's/.*p50_us=([0-9]+).*/\1/p' <<<"$sb"); sb99=$(sed -nE 's/.*p99_us=([0-9]+).*/\1/p' <<<"$sb")
fk50=$(sed -nE 's/.*p50_us=([0-9]+).*/\1/p' <<<"$fk"); fk99=$(sed -nE 's/.*p99_us=([0-9]+).*/\1/p' <<<"$fk")

mkdir -p "$work/small"
printf 'apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: small\n' >"$work/small/Kptfile"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n' >"$work/small/cm.yaml"
pe=$(median_ms 15 "$P" fn eval "$work/small" --exec /bin/cat)
ke=nan
[ $have_kpt = 1 ] && ke=$(median_ms 7 kpt fn eval "$work/small" --exec /bin/cat)

echo "trivial function, start to exit (300 runs)"
printf '  %-44s %10s %10s\n' "" "p50 ms" "p99 ms"
printf '  %-44s %10.2f %10.2f\n' "portico sandbox (all namespaces, seccomp)" "$(awk -v v="$sb50" 'BEGIN{print v/1000}')" "$(awk -v v="$sb99" 'BEGIN{print v/1000}')"
printf '  %-44s %10.2f %10.2f\n' "plain fork/exec (anchor)" "$(awk -v v="$fk50" 'BEGIN{print v/1000}')" "$(awk -v v="$fk99" 'BEGIN{print v/1000}')"
printf '  sandbox overhead over fork/exec: %.2f ms at p50   (target: p50 <= 5 ms, p99 <= 15 ms)\n' "$(awk -v a="$sb50" -v b="$fk50" 'BEGIN{print (a-b)/1000}')"
echo "whole eval of a 1-resource package with an exec function (median)"
printf '  %-44s %10s ms\n' "portico fn eval --exec /bin/cat" "$pe"
printf '  %-44s %10s ms   (portico %s faster)\n' "kpt fn eval --exec /bin/cat (anchor)" "$ke" "$(ratio "$pe" "$ke")"

# ---- 2. render: 50 resources, 3 exec functions ----
R="$work/render"
mkdir -p "$R/fns" "$R/pkg"
printf '#!/bin/sh\nexec sed -e "s/replicas: 1$/replicas: 2/"\n' >"$R/fns/f1.sh"
printf '#!/bin/sh\nexec sed -e "s/tier: web$/tier: frontend/"\n' >"$R/fns/f2.sh"
printf '#!/bin/sh\nexec sed -e "s/image: nginx$/image: nginx:1.25/"\n' >"$R/fns/f3.sh"
chmod 755 "$R"/fns/*.sh
printf 'apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\npipeline:\n  mutators:\n    - exec: %s\n    - exec: %s\n    - exec: %s\n' \
  "$R/fns/f1.sh" "$R/fns/f2.sh" "$R/fns/f3.sh" >"$R/pkg/Kptfile"
for i in $(seq 1 50); do
  cat >"$R/pkg/app-$i.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-$i # resource $i
  labels:
    tier: web
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: main
          image: nginx
YAML
done
# children_cpu_ms FILE: the children's user + system time in a saved `times` output (ms).
children_cpu_ms() {
  awk 'NR == 2 { t = 0; for (i = 1; i <= NF; i++) { split($i, m, "m"); t += m[1] * 60 + m[2] }; printf "%.0f", t * 1000 }' "$1"
}
# render_once DEST CMD...: one render of a fresh copy of the package at DEST (the copy is
# not timed); appends its wall time (us) to `walls_<tag>` and its CPU time (ms: user +
# system of the command and every process it started, load-independent) to `cpus_<tag>`.
# The CPU time is the difference of bash's `times` (its reaped children) around the
# command, saved to files so that no process runs inside the timed region but the command.
render_once() {
  local tag=$1 dest=$2; shift 2
  local t0 st
  rm -rf "$dest" && cp -r "$R/pkg" "$dest"
  times >"$work/cpu0"
  now_us; t0=$REPLY
  "$@" "$dest" --allow-exec >/dev/null 2>&1
  st=$?
  now_us; eval "walls_$tag+=($(( REPLY - t0 )))"
  times >"$work/cpu1"
  [ "$st" -ne 0 ] && { echo "FAILED: $*" >&2; return 1; }
  eval "cpus_$tag+=($(( $(children_cpu_ms "$work/cpu1") - $(children_cpu_ms "$work/cpu0") )))"
}
median_of() { printf '%s\n' "$@" | sort -n | awk -v d="$DIV" '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/d}'; }
# Rounds interleave the two commands, so that both see the same load: 11 rounds, one kpt
# render and two Portico renders in each.
walls_p=() cpus_p=() walls_k=() cpus_k=()
pr=nan pc=nan kr=nan kc=nan
ok=1
for _ in $(seq 11); do
  render_once p "$R/p" "$P" fn render || { ok=0; break; }
  render_once p "$R/p" "$P" fn render || { ok=0; break; }
  [ $have_kpt = 1 ] && { render_once k "$R/k" kpt fn render || { ok=0; break; }; }
done
if [ $ok = 1 ]; then
  pr=$(DIV=1000 median_of "${walls_p[@]}"); pc=$(DIV=1 median_of "${cpus_p[@]}")
  [ $have_kpt = 1 ] && { kr=$(DIV=1000 median_of "${walls_k[@]}"); kc=$(DIV=1 median_of "${cpus_k[@]}"); }
fi
same="n/a"
if [ $have_kpt = 1 ]; then diff -r "$R/p" "$R/k" >/dev/null && same=identical || same=DIFFERENT; fi
echo "render: 50 resources, 3 exec functions (median wall time of the command)"
printf '  %-44s %10s ms\n' "portico fn render --allow-exec (sandboxed)" "$pr"
printf '  %-44s %10s ms   (portico %s faster; target >= 20x; trees %s)\n' "kpt fn render --allow-exec (anchor)" "$kr" "$(ratio "$pr" "$kr")" "$same"
printf '  %-44s %10s ms   (kpt %s ms: %s less; all processes, load-independent)\n' "CPU time (user+sys), portico" "$pc" "$kc" "$(ratio "$pc" "$kc")"
echo "  (medians of 22 Portico and 11 kpt renders, interleaved)"

# ---- 3. built-in in process on 50 resources ----
{
  printf 'apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n'
  for i in $(seq 1 50); do
    printf -- '- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: app-%d\n    labels:\n      tier: web\n  spec:\n    replicas: 1\n    selector:\n      matchLabels:\n        app: a\n    template:\n      metadata:\n        labels:\n          app: a\n      spec:\n        containers:\n        - name: main\n          image: nginx\n' "$i"
  done
  printf 'functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: conf\n  data:\n    env: prod\n    team: a\n'
} >"$work/rl.yaml"
bi=$("$P" fn run --bench builtin 500 set-labels <"$work/rl.yaml") || exit 1
run50=$(sed -nE 's/^builtin-run p50_us=([0-9]+).*/\1/p' <<<"$bi")
all50=$(sed -nE 's/^builtin-parse-run-write p50_us=([0-9]+).*/\1/p' <<<"$bi")
pk=$(median_ms 9 sh -c "\"$P\" fn run set-labels <\"$work/rl.yaml\"")
echo "built-in set-labels on 50 resources (500 runs, p50)"
printf '  %-44s %10.3f ms   (target < 1 ms)\n' "in process: the function itself" "$(awk -v v="$run50" 'BEGIN{print v/1000}')"
printf '  %-44s %10.3f ms\n' "in process: parse + function + write" "$(awk -v v="$all50" 'BEGIN{print v/1000}')"
printf '  %-44s %10s ms\n' "as a process: portico fn run set-labels" "$pk"
