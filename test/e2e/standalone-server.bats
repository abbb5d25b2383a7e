#!/usr/bin/env bats
# `portico standalone`, transport side: HTTPS with its own CA, the kubeconfig, bearer-token
# authentication, request limits, bad input, clean shutdown and restart with the same
# identity. Driven with curl and openssl (kubectl is exercised in standalone-kubectl.bats).

load lib/standalone

setup_file() {
  command -v curl >/dev/null || { echo "curl is missing" >&2; return 1; }
  standalone_start "$BATS_FILE_TMPDIR/data"
}

teardown_file() {
  standalone_stop || true
}

@test "writes a 0600 kubeconfig with the portico context, CA data and token, and says where" {
  [ "$(stat -c %a "$KUBECONFIG")" = 600 ]
  [ "$(stat -c %a "$STANDALONE_DIR/token")" = 600 ]
  [ "$(stat -c %a "$STANDALONE_DIR/serving.key")" = 600 ]
  grep -q '^current-context: portico$' "$KUBECONFIG"
  grep -q 'certificate-authority-data: ' "$KUBECONFIG"
  [[ "$STANDALONE_URL" =~ ^https://127\.0\.0\.1:[0-9]+$ ]]
  [ "${#STANDALONE_TOKEN}" -ge 32 ]
  grep -q "kubeconfig written to $STANDALONE_DIR/kubeconfig" "$STANDALONE_LOG"
  # kubectl's view of it
  [ "$(kubectl config current-context)" = portico ]
}

@test "serves TLS that verifies against its CA for 127.0.0.1 and localhost" {
  run standalone_curl -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $STANDALONE_TOKEN" /healthz
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  port=${STANDALONE_URL##*:}
  run curl -sS --max-time 10 --cacert "$STANDALONE_CA" -o /dev/null -w '%{http_code}' "https://localhost:$port/healthz"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  # and not against some other CA
  run curl -sS --max-time 10 -o /dev/null "https://127.0.0.1:$port/healthz"
  [ "$status" -ne 0 ]
}

@test "requests without the bearer token get 401 with a Status, reason Unauthorized" {
  run standalone_curl -w '\n%{http_code}' /api/v1/namespaces
  [ "$status" -eq 0 ]
  [ "${lines[-1]}" = 401 ]
  [[ "$output" == *'"kind":"Status"'* ]]
  [[ "$output" == *'"reason":"Unauthorized"'* ]]
  run standalone_curl -w '\n%{http_code}' -H "Authorization: Bearer not-the-token" /api/v1/namespaces
  [ "${lines[-1]}" = 401 ]
  run standalone_curl -w '\n%{http_code}' -H "Authorization: Basic dTpw" /apis
  [ "${lines[-1]}" = 401 ]
  run standalone_curl -o /dev/null -w '%{http_code}' /version
  [ "$output" = 401 ]
  run standalone_curl -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $STANDALONE_TOKEN" /version
  [ "$output" = 200 ]
}

@test "a body over 3 MiB gets 413 RequestEntityTooLarge and the server keeps serving" {
  head -c $((3 * 1024 * 1024 + 10)) /dev/zero | tr '\0' 'a' >"$BATS_TEST_TMPDIR/big"
  run standalone_curl -w '\n%{http_code}' -H "Authorization: Bearer $STANDALONE_TOKEN" \
    -H 'Content-Type: application/json' --data-binary @"$BATS_TEST_TMPDIR/big" /api/v1/namespaces/default/configmaps
  [[ "${lines[-1]}" = 413 ]] || { echo "$output" | tail -c 300; false; }
  [[ "$output" == *'Request entity too large: limit is 3145728'* ]]
  [[ "$output" == *'"reason":"RequestEntityTooLarge"'* ]]
  run standalone_curl -o /dev/null -w '%{http_code}' /healthz
  [ "$output" = 200 ]
}

@test "malformed HTTP, plaintext on the TLS port and broken handshakes do not stop it" {
  port=${STANDALONE_URL##*:}
  # plaintext HTTP on the TLS port gets Go's (kube-apiserver's) plain 400
  run curl -sS -i --max-time 5 "http://127.0.0.1:$port/healthz"
  [[ "$output" == *"HTTP/1.0 400 Bad Request"* ]] || { echo "$output"; false; }
  [[ "$output" == *"Client sent an HTTP request to an HTTPS server."* ]]
  # garbage instead of a ClientHello
  head -c 4096 /dev/urandom | timeout 5 bash -c "cat >/dev/tcp/127.0.0.1/$port" || true
  # a valid TLS session carrying garbage instead of HTTP
  printf 'NOT HTTP AT ALL\r\n\r\n' | timeout 5 openssl s_client -quiet -connect "127.0.0.1:$port" \
    -CAfile "$STANDALONE_CA" >/dev/null 2>&1 || true
  # a header section that never ends, cut short
  printf 'GET /api HTTP/1.1\r\nHost: x\r\nX-A: ' | timeout 5 openssl s_client -quiet -connect "127.0.0.1:$port" \
    -CAfile "$STANDALONE_CA" >/dev/null 2>&1 || true
  run standalone_curl -o /dev/null -w '%{http_code}' /healthz
  [ "$output" = 200 ]
  kill -0 "$STANDALONE_PID"
}

@test "many concurrent keep-alive connections are served" {
  pids=()
  for i in $(seq 1 20); do
    standalone_curl -o /dev/null -w '%{http_code}\n' /healthz /healthz /healthz >"$BATS_TEST_TMPDIR/c$i" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  [ "$(cat "$BATS_TEST_TMPDIR"/c* | grep -c '^200$')" -eq 20 ] || cat "$BATS_TEST_TMPDIR"/c*
}

@test "SIGTERM stops it cleanly; a restart reuses the CA and the token" {
  # a server of this test's own, so that its exit status can be read
  STANDALONE_DIR= STANDALONE_PID=
  standalone_start "$BATS_TEST_TMPDIR/own"
  ca_before=$(sed -n 's/^ *certificate-authority-data: //p' "$KUBECONFIG")
  token_before=$STANDALONE_TOKEN
  standalone_stop || { echo "exit status $?"; tail -30 "$STANDALONE_LOG"; false; }
  grep -q 'standalone: stopped' "$STANDALONE_LOG"
  [ ! -e "$STANDALONE_DIR/kubeconfig.tmp" ]
  standalone_start "$STANDALONE_DIR"
  [ "$(sed -n 's/^ *certificate-authority-data: //p' "$KUBECONFIG")" = "$ca_before" ]
  [ "$STANDALONE_TOKEN" = "$token_before" ]
  run standalone_curl -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $STANDALONE_TOKEN" /healthz
  [ "$output" = 200 ]
  standalone_stop || { echo "exit status $?"; tail -30 "$STANDALONE_LOG"; false; }
}

@test "bad flags and an unusable listen address fail with a message" {
  run "$PORTICO_BIN" standalone
  [ "$status" -eq 2 ]
  [[ "$output" == *"--data"* ]]
  run "$PORTICO_BIN" standalone --data "$BATS_TEST_TMPDIR/d" --listen nonsense
  [ "$status" -eq 2 ]
  port=${STANDALONE_URL##*:}
  run "$PORTICO_BIN" standalone --data "$BATS_TEST_TMPDIR/d2" --listen "127.0.0.1:$port"
  [ "$status" -eq 1 ]
  [[ "$output" == *"listen on 127.0.0.1:$port"* ]]
}
