#!/usr/bin/env bash
# The main job until the follower exists: replay the real Starknet Sepolia
# blocks 0-7 from the shared fixtures into a fresh store and print, per block,
# the computed state root next to the root the chain published.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
data_dir=$(mktemp -d -t zkreplay-demo.XXXXXX)
fixtures=../shared/fixtures/starknet/sepolia-genesis-feeder
cargo run -q -- starknet apply-updates --data-dir "$data_dir" "$fixtures"/{0,1,2,3,4,5,6,7}.json
echo "all roots match; store left in $data_dir" >&2
