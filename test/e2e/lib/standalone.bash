# Helpers for end-to-end tests that drive `portico standalone` with the real kubectl.
#
#   load lib/standalone
#   setup_file()    { standalone_start "$BATS_FILE_TMPDIR/data"; }
#   teardown_file() { standalone_stop; }
#
# standalone_start DIR: starts "$PORTICO_BIN" standalone --data DIR --listen 127.0.0.1:0,
#   waits (up to 60 s) for DIR/kubeconfig, exports KUBECONFIG, KUBECACHEDIR (private to the
#   test file), STANDALONE_PID, STANDALONE_URL, STANDALONE_TOKEN, STANDALONE_CA,
#   STANDALONE_LOG. The server's stderr goes to DIR.log (appended across restarts).
# standalone_stop: SIGTERM, waits for exit (10 s, then SIGKILL); returns the exit status when
#   the calling shell started the server (otherwise 0 once it is gone, 124 if killed).
# standalone_kill9: SIGKILL, waits.
# kc ARGS: kubectl with a request timeout, so a hung server fails the test instead of
#   hanging it.

standalone_start() {
  local dir=$1
  mkdir -p "$dir"
  STANDALONE_DIR=$dir
  STANDALONE_LOG=$dir.log
  rm -f "$dir/kubeconfig"
  "$PORTICO_BIN" standalone --data "$dir" --listen 127.0.0.1:0 >>"$STANDALONE_LOG" 2>&1 &
  STANDALONE_PID=$!
  echo "$STANDALONE_PID" >"$dir.pid"
  local i
  for i in $(seq 1 600); do
    [ -s "$dir/kubeconfig" ] && break
    if ! kill -0 "$STANDALONE_PID" 2>/dev/null; then
      echo "standalone exited early; log:" >&2
      cat "$STANDALONE_LOG" >&2
      return 1
    fi
    sleep 0.1
  done
  [ -s "$dir/kubeconfig" ] || { echo "no kubeconfig after 60s" >&2; cat "$STANDALONE_LOG" >&2; return 1; }
  export KUBECONFIG=$dir/kubeconfig
  export KUBECACHEDIR=${BATS_FILE_TMPDIR:-$dir}/kube-cache
  STANDALONE_URL=$(sed -n 's/^ *server: //p' "$KUBECONFIG")
  STANDALONE_TOKEN=$(sed -n 's/^ *token: //p' "$KUBECONFIG")
  STANDALONE_CA=$dir/ca.crt
  export STANDALONE_PID STANDALONE_URL STANDALONE_TOKEN STANDALONE_CA STANDALONE_LOG STANDALONE_DIR
}

standalone_stop() {
  # the pid file is authoritative: a test may have restarted the server in its own shell
  local pid=
  [ -f "${STANDALONE_DIR:-/nonexistent}.pid" ] && pid=$(cat "$STANDALONE_DIR.pid")
  pid=${pid:-${STANDALONE_PID:-}}
  [ -n "$pid" ] || return 0
  rm -f "$STANDALONE_DIR.pid"
  kill -TERM "$pid" 2>/dev/null || return 0
  local i
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    STANDALONE_PID=
    return 124
  fi
  # The exit status is known only to the shell that started the server (127: not ours).
  local rc=0
  wait "$pid" 2>/dev/null || rc=$?
  if [ "$rc" -eq 127 ]; then rc=0; fi
  STANDALONE_PID=
  return $rc
}

standalone_kill9() {
  local pid=
  [ -f "${STANDALONE_DIR:-/nonexistent}.pid" ] && pid=$(cat "$STANDALONE_DIR.pid")
  pid=${pid:-${STANDALONE_PID:-}}
  [ -n "$pid" ] || return 0
  rm -f "$STANDALONE_DIR.pid"
  kill -KILL "$pid" 2>/dev/null
  local i
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  wait "$pid" 2>/dev/null || true
  STANDALONE_PID=
}

kc() {
  kubectl --request-timeout=30s "$@"
}

# curl against the server: standalone_curl [curl args] PATH
standalone_curl() {
  local path=${*: -1}
  local args=("${@:1:$#-1}")
  curl -sS --max-time 20 --cacert "$STANDALONE_CA" "${args[@]}" "$STANDALONE_URL$path"
}
