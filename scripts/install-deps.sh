#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test zkreplay. Idempotent and
# quiet when everything is present; only package registries are used.
#   Debian: libclang (RocksDB's bindgen), OpenSSL headers + pkg-config (the L1
#           client's HTTPS), chromium (the GraphiQL browser test)
#   npm:    anvil (the local L1 for the follower tests and the demo) into tools/,
#           GraphiQL's assets into web/node_modules (served offline)
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
if ! ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 && ! ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1; then
  missing+=(libclang-dev)
fi
dpkg -s libssl-dev >/dev/null 2>&1 || missing+=(libssl-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for script in scripts/install-anvil.sh scripts/install-web.sh; do
  if [ -x "$script" ]; then "$script" >/dev/null; fi
done
