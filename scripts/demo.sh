#!/usr/bin/env bash
# The main job on a fresh machine, offline: a local L1 (anvil), simulated
# Starknet and ZKsync sequencers posting every format version, both rollups
# followed from genesis, every batch audited, the state served over GraphQL,
# and a summary. Extra arguments go to `zkreplay demo` (e.g. --with-faults,
# --keep-serving to keep GraphiQL up).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo run -q -- demo "$@"
