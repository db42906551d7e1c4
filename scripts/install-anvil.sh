#!/usr/bin/env bash
# Installs anvil (Foundry's local Ethereum node) from the npm registry into
# tools/ and links the binary for this machine's platform to tools/bin/anvil,
# where the demo and the tests look for it. Idempotent: does nothing when the
# pinned version is already linked. Prints the binary's path.
set -euo pipefail

VERSION="1.7.1"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LINK="$ROOT/tools/bin/anvil"

# The npm package ships one optional dependency per platform
# (@foundry-rs/anvil-{linux,darwin}-{amd64,arm64}); npm installs the one that
# matches, and this names it the same way.
platform() {
    local os arch
    case "$(uname -s)" in
        Linux) os=linux ;;
        Darwin) os=darwin ;;
        *) echo "install-anvil: unsupported OS $(uname -s)" >&2; return 1 ;;
    esac
    case "$(uname -m)" in
        x86_64 | amd64) arch=amd64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) echo "install-anvil: unsupported CPU $(uname -m)" >&2; return 1 ;;
    esac
    echo "$os-$arch"
}

if [[ -x "$LINK" ]] && "$LINK" --version 2>/dev/null | grep -q "$VERSION"; then
    echo "$LINK"
    exit 0
fi

if ! command -v npm >/dev/null; then
    echo "install-anvil: npm is required (Debian: apt-get install -y npm)" >&2
    exit 1
fi

PLATFORM="$(platform)"
npm install --no-audit --no-fund --silent --prefix "$ROOT/tools" "@foundry-rs/anvil@$VERSION" >&2
BIN="$ROOT/tools/node_modules/@foundry-rs/anvil-$PLATFORM/bin/anvil"
if [[ ! -x "$BIN" ]]; then
    echo "install-anvil: $BIN missing after npm install (platform $PLATFORM)" >&2
    exit 1
fi
mkdir -p "$ROOT/tools/bin"
ln -sf "../node_modules/@foundry-rs/anvil-$PLATFORM/bin/anvil" "$LINK"
echo "$LINK"
