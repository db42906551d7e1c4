#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test zkreplay, detecting
# each requirement by the exact file or command the build and the tests use.
# Idempotent and quiet when everything is present; only package registries are
# used.
#   Debian: gcc, g++ and make (RocksDB's C++ and jemalloc's C, which is built
#           with make), libclang-dev (RocksDB's bindgen loads libclang.so), libssl-dev +
#           pkg-config (the L1 client's HTTPS), nodejs + npm (the tools below),
#           chromium (the GraphiQL browser test)
#   npm:    anvil (the local L1 of the demo and the follower tests) and solc
#           0.8.28 (the contract-drift test) into tools/, GraphiQL's assets into
#           web/node_modules (served offline)
#
#   --dry-run   print what is missing and exit, installing nothing
# ZKREPLAY_DEPS_ROOT=DIR makes every file and command check look below DIR
# instead of /, so tests/it/repo.rs can run the detection against a fake machine.
set -euo pipefail
cd "$(dirname "$0")/.."

SOLC_VERSION="0.8.28"
dry_run=0
[ "${1:-}" = "--dry-run" ] && dry_run=1
fake_root="${ZKREPLAY_DEPS_ROOT:-}"

# A command on PATH, or (fake root) in one of the root's bin directories.
have_command() {
  if [ -n "$fake_root" ]; then
    for dir in usr/local/bin usr/bin bin; do
      [ -x "$fake_root/$dir/$1" ] && return 0
    done
    return 1
  fi
  command -v "$1" >/dev/null 2>&1
}

# clang-sys (bindgen's loader) looks for `libclang.so` or `libclang-*.so` in
# $LIBCLANG_PATH, `llvm-config --libdir` and these directories; nothing else
# counts (libclang-cpp.so.14 is a different library, and libclang.so.1 alone
# is not found at build time).
have_libclang() {
  local dirs=()
  if [ -z "$fake_root" ]; then
    [ -n "${LIBCLANG_PATH:-}" ] && dirs+=("$LIBCLANG_PATH")
    if command -v llvm-config >/dev/null 2>&1; then dirs+=("$(llvm-config --libdir)"); fi
  fi
  local r="$fake_root"
  shopt -s nullglob
  dirs+=("$r"/usr/lib* "$r"/usr/lib*/* "$r"/usr/lib*/*/* "$r"/usr/lib*/*/*/*
         "$r"/usr/local/lib* "$r"/usr/local/lib*/* "$r"/usr/local/llvm*/lib*
         "$r"/usr/local/opt/llvm*/lib* "$r"/opt/llvm*/lib* "$r"/lib*)
  local dir file
  for dir in "${dirs[@]}"; do
    for file in "$dir"/libclang.so "$dir"/libclang-*.so; do
      if [ -e "$file" ]; then shopt -u nullglob; return 0; fi
    done
  done
  shopt -u nullglob
  return 1
}

# OpenSSL as openssl-sys finds it: through pkg-config.
have_openssl() {
  have_command pkg-config || return 1
  if [ -n "$fake_root" ]; then
    PKG_CONFIG_LIBDIR="$fake_root/usr/lib/pkgconfig:$fake_root/usr/share/pkgconfig:$(printf '%s:' "$fake_root"/usr/lib/*/pkgconfig)" \
      pkg-config --exists openssl
  else
    pkg-config --exists openssl
  fi
}

missing=()
# The cc crate calls `cc` and `c++`; tikv-jemalloc-sys runs configure and make.
have_command cc || missing+=(gcc)
have_command c++ || missing+=(g++)
have_command make || missing+=(make)
have_libclang || missing+=(libclang-dev)
have_command pkg-config || missing+=(pkg-config)
have_openssl || missing+=(libssl-dev)
have_command npm || missing+=(nodejs npm)
have_command chromium || missing+=(chromium)

npm_missing=()
[ -f tools/node_modules/solc/package.json ] &&
  grep -q "\"version\": \"$SOLC_VERSION\"" tools/node_modules/solc/package.json ||
  npm_missing+=("solc@$SOLC_VERSION")

if [ "$dry_run" = 1 ]; then
  echo "debian: ${missing[*]:-}"
  echo "npm: ${npm_missing[*]:-}"
  exit 0
fi

if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: missing ${missing[*]}; install them with your package manager (the names are Debian's)" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]} (Debian packages)" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Re-check with the same test the build uses: a package that installed but
  # did not provide the file would fail the build minutes later.
  if ! have_libclang; then
    echo "install-deps: libclang-dev installed but no libclang.so or libclang-*.so found; set LIBCLANG_PATH" >&2
    exit 1
  fi
fi
if [ ${#npm_missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${npm_missing[*]} (npm) into tools/" >&2
  npm install --prefix tools --no-audit --no-fund --silent "${npm_missing[@]}" >&2
fi
scripts/install-anvil.sh >/dev/null
scripts/install-web.sh >/dev/null
