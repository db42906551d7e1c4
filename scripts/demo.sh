#!/usr/bin/env bash
# The main job on a fresh machine, offline: a local L1 (anvil), simulated
# Starknet and ZKsync sequencers posting every format version, both rollups
# followed from genesis, every batch audited, the state served over GraphQL,
# and a summary. Extra arguments go to `zkreplay demo` (e.g. --with-faults,
# --keep-serving to keep GraphiQL up).
#
# It builds the debug profile, the same build `cargo test` uses, so a machine
# that ran the tests builds nothing here; the hashing crates are optimised even
# in debug (Cargo.toml), which keeps the demo's replay fast.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[demo %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
say "1/3 checking build and test tools (scripts/install-deps.sh installs what is missing)"
scripts/install-deps.sh
say "2/3 building zkreplay (debug profile; a first build takes about 15 minutes on 2 cores, most of it RocksDB's C++; cargo's progress follows)"
cargo build --bin zkreplay
say "3/3 running the demo: anvil, simulated sequencers, both followers, GraphQL"
cargo run --bin zkreplay -- demo "$@"
