#!/bin/sh
# Compiles contracts/*.sol with solcjs (npm `solc`, pinned to 0.8.28) and writes
# the runtime bytecode to contracts/out/*.hex, which is checked in so that Rust
# builds need no node. `--check` compares instead of writing (exit 2 on drift).
#
# solc is looked up in $SOLC_JS_DIR, then tools/node_modules/solc under the
# repository root; install it with:
#   npm install --prefix tools --no-audit --no-fund solc@0.8.28
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
solc_dir=${SOLC_JS_DIR:-$root/tools/node_modules/solc}
if [ ! -f "$solc_dir/package.json" ]; then
  echo "solc not found at $solc_dir; run: npm install --prefix tools --no-audit --no-fund solc@0.8.28" >&2
  exit 3
fi
version=$(node -e "console.log(require('$solc_dir/package.json').version)")
if [ "$version" != "0.8.28" ]; then
  echo "solc $version found, 0.8.28 required (the checked-in bytecode was built with it)" >&2
  exit 3
fi
mkdir -p "$root/contracts/out"
exec node "$root/contracts/build.mjs" "$solc_dir" "$@"
