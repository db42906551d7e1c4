//! Helpers shared by the integration tests.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use alloy_primitives::B256;
use serde_json::Value;
use starknet_types_core::felt::Felt;
use zkreplay::hexfmt::{parse_bytes, parse_word};
use zkreplay::rollup::starknet::feeder::parse_state_update;
use zkreplay::rollup::starknet::state::{GlobalRootRule, StarknetState};
use zkreplay::store::Store;

/// The crate root (where `Cargo.toml`, `chains/` and `scripts/` are).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A 32-byte word from a JSON hex string (`"0x…"`).
pub fn word(v: &Value) -> B256 {
    parse_word(v.as_str().expect("a hex string")).expect("a 32-byte hex word")
}

/// Bytes from a JSON hex string (`"0x…"`).
pub fn bytes(v: &Value) -> Vec<u8> {
    parse_bytes(v.as_str().expect("a hex string")).expect("hex bytes")
}

/// A felt written as cairo-lang and the feeder gateway write them: hex (`0x…`) or decimal.
pub fn felt(text: &str) -> Felt {
    let text = text.trim();
    if text.starts_with("0x") || text.starts_with("0X") {
        Felt::from_hex(text).expect("a hex felt")
    } else {
        Felt::from_dec_str(text).expect("a decimal felt")
    }
}

/// `../shared/fixtures` relative to the crate root (the CI layout).
pub fn fixtures() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
    assert!(
        dir.is_dir(),
        "fixtures not found at {}: tests need ../shared/fixtures",
        dir.display()
    );
    dir
}

/// Whether a test may skip because an external tool it needs (anvil, chromium,
/// solc) is missing: only when `ZKREPLAY_SKIP_TOOL_TESTS=1` says so. Otherwise
/// the test fails with the command that installs the tool (`.ci/run` never sets it).
/// Returns only when skipping is allowed; the caller then returns.
pub fn skip_missing_tool(tool: &str, install: &str) {
    if std::env::var("ZKREPLAY_SKIP_TOOL_TESTS").is_ok_and(|v| v == "1") {
        println!("NOTE: {tool} not found; skipped (ZKREPLAY_SKIP_TOOL_TESTS=1)");
        return;
    }
    panic!(
        "{tool} not found: install it with `{install}` (or set ZKREPLAY_SKIP_TOOL_TESTS=1 to skip)"
    );
}

pub fn read_json(path: &std::path::Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// Replays Sepolia blocks 0-7 with audits (as `apply-updates` does) and returns the blocks' JSON.
pub fn sepolia_store(dir: &std::path::Path) -> (Arc<Store>, Vec<Value>) {
    let store = Store::open(dir, "starknet-sepolia").unwrap();
    let mut blocks = Vec::new();
    for i in 0..8 {
        let path = fixtures().join(format!("starknet/sepolia-genesis-feeder/{i}.json"));
        // Applied in-process exactly as `apply-updates` does: roots, audit, one commit.
        let update = parse_state_update(&std::fs::read(&path).unwrap()).unwrap();
        let state = StarknetState::new(&store);
        let (roots, mut batch) = state.plan(&update.diff, GlobalRootRule::PreV0_14).unwrap();
        let computed = format!("{:#x}", roots.global_root);
        let claimed = update.new_root.as_ref().map(zkreplay::hexfmt::format_word);
        let audit = zkreplay::audit::BatchAudit::judge(roots.batch, claimed, computed, Vec::new());
        audit.write(&store, false, &mut batch).unwrap();
        store.commit(batch).unwrap();
        blocks.push(read_json(&path));
    }
    (Arc::new(store), blocks)
}
