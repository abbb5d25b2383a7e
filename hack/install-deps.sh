#!/usr/bin/env bash
# Installs every Debian package that building, testing and running Portico needs.
# Idempotent: asks apt only for what is missing, and runs `apt-get update` only then.
# Usage: hack/install-deps.sh [--check]   (--check lists what is missing and exits 1 if any)
set -euo pipefail

packages=(
  # toolchain and build
  build-essential pkg-config make gcc clang
  # libraries Portico links against
  libuv1-dev libcurl4-openssl-dev libjansson-dev libyaml-dev libgit2-dev libssl-dev
  libsqlite3-dev libhttp-parser-dev libseccomp-dev
  # unit tests
  check
  # end-to-end tests: real git servers (git daemon, smart HTTP behind lighttpd), tools
  git lighttpd openssl bats curl python3 python3-yaml procps iproute2 util-linux
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${1:-}" = "--check" ]; then
  if [ ${#missing[@]} -gt 0 ]; then echo "missing: ${missing[*]}"; exit 1; fi
  echo "all dependencies present"; exit 0
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# lighttpd is only used by tests, started on demand; never as a system service.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now lighttpd >/dev/null 2>&1 || true; fi
$SUDO service lighttpd stop >/dev/null 2>&1 || true
for tool in kubectl kpt; do
  command -v "$tool" >/dev/null 2>&1 || echo "install-deps: WARNING: $tool is not installed; end-to-end tests that need it will skip loudly" >&2
done
