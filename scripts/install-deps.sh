#!/usr/bin/env bash
# Installs what a fresh machine lacks to build zkreplay: libclang for RocksDB's
# bindgen, OpenSSL headers for HTTPS. Idempotent and quiet when everything is present.
set -euo pipefail
if ! ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 && ! ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1; then
  echo "installing libclang (needed by RocksDB's bindgen)" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends libclang-dev >/dev/null
fi
# reqwest's TLS (native-tls) links the system OpenSSL; building openssl-sys needs its headers.
if ! pkg-config --exists openssl 2>/dev/null; then
  echo "installing libssl-dev and pkg-config (needed by HTTPS to L1 endpoints)" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends libssl-dev pkg-config >/dev/null
fi
