#!/usr/bin/env bash
# Installs anvil (Foundry's local Ethereum node) from the npm registry into
# tools/, where tests/l1.rs finds it. Idempotent: does nothing when the pinned
# version is already there. Prints the binary's path.
set -euo pipefail

VERSION="1.7.1"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"

if [[ -x "$BIN" ]] && "$BIN" --version 2>/dev/null | grep -q "$VERSION"; then
    echo "$BIN"
    exit 0
fi

if ! command -v npm >/dev/null; then
    echo "install-anvil: npm is required (apt-get install -y npm)" >&2
    exit 1
fi

npm install --no-audit --no-fund --silent --prefix "$ROOT/tools" "@foundry-rs/anvil@$VERSION" >&2
if [[ ! -x "$BIN" ]]; then
    echo "install-anvil: $BIN missing after npm install" >&2
    exit 1
fi
echo "$BIN"
