#!/usr/bin/env bash
# `make run`: starts `portico standalone` with its data under .portico/ (kept across runs),
# applies crds/ and manifests/examples/ when they exist, prints how to use kubectl, and
# stays in the foreground until Ctrl-C (which stops the server cleanly).
# PORTICO_DATA=DIR changes the data directory; extra arguments go to `portico standalone`
# (e.g. --listen 127.0.0.1:7443).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${PORTICO_DATA:-$PWD/.portico}
kubeconfig=$data/kubeconfig

bin/portico standalone --data "$data" "$@" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' INT TERM EXIT

# the server removes any stale kubeconfig at start and writes a new one once it listens
for _ in $(seq 1 100); do
  [ -s "$kubeconfig" ] && break
  kill -0 $pid 2>/dev/null || { echo "run-standalone: the server exited" >&2; exit 1; }
  sleep 0.1
done
[ -s "$kubeconfig" ] || { echo "run-standalone: no kubeconfig after 10s" >&2; exit 1; }
export KUBECONFIG=$kubeconfig

if [ -d crds ] && ls crds/*.yaml >/dev/null 2>&1; then
  kubectl apply -f crds/
  kubectl wait --for=condition=Established crd --all --timeout=30s >/dev/null || true
else
  echo "run-standalone: no crds/ yet, skipping"
fi
if [ -d manifests/examples ] && ls manifests/examples/*.yaml >/dev/null 2>&1; then
  kubectl apply -f manifests/examples/ || echo "run-standalone: some examples were not applied (see above)"
fi

cat <<MSG

Portico standalone is running (pid $pid, data in $data).
In another shell:

  export KUBECONFIG=$kubeconfig
  kubectl get crds
  kubectl get repositories,packagerevisions -A

Press Ctrl-C to stop.
MSG
wait $pid
