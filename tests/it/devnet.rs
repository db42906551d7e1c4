//! The devnet generators and stand-in contracts.
//!
//! (a) Every generated batch decodes with the project's own decoders back to
//!     exactly the generated diff, with every binding check passing, and a
//!     replay of the decoded diffs into a fresh store reproduces every expected root.
//! (b) Each fault is caught: by a decoder error, a failed binding check, or a
//!     root that differs from the claimed one; a ZKsync revert unwinds to the
//!     expected root and the recommitted batches replay.
//! (c) With an anvil binary (ZKREPLAY_ANVIL or tools/node_modules/...), the
//!     stand-ins installed with anvil_setCode accept the generated calldata
//!     transactions and a real mainnet commit, and emit the real events with
//!     the expected values.

use crate::common;
use common::skip_missing_tool;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::SolCall;
use serde_json::{Value, json};
use zkreplay::blob;
use zkreplay::devnet::contracts::{self, StandIn};
use zkreplay::devnet::starknet_gen::{self, StarknetBatchSize, StarknetFormat, StarknetGenConfig};
use zkreplay::devnet::zksync_gen::{
    self, REVERT_FORMAT, ZksyncBatchSize, ZksyncFormat, ZksyncGenConfig,
};
use zkreplay::devnet::{Fault, PlannedBatch};
use zkreplay::diff::StateDiff;
use zkreplay::rollup::starknet::da::pages::{self, MemoryPage};
use zkreplay::rollup::starknet::da::program_output::{self, L1Update};
use zkreplay::rollup::starknet::da::{
    BatchInput as SnBatchInput, DaError, DaInput, DecodedBatch as SnDecoded, MemoryAliases,
    decode_batch,
};
use zkreplay::rollup::starknet::state::{GlobalRootRule, StarknetState};
use zkreplay::rollup::zksync::calldata::{CommitVersion, decode_commit};
use zkreplay::rollup::zksync::compression::{InitialWrite, RepeatedWrite, ValueOp};
use zkreplay::rollup::zksync::decode::{
    BlobStore, DecodedBatch as ZkDecoded, Writes, decode_batches,
};
use zkreplay::rollup::zksync::genesis;
use zkreplay::rollup::zksync::state::{PlanInput as ZkPlanInput, ZksyncState};
use zkreplay::store::Store;

// ---------------------------------------------------------------- Starknet helpers

/// The pages, the state update and the blobs of a planned Starknet batch.
struct SnTxs {
    pages: Vec<MemoryPage>,
    update: L1Update,
    blobs: Vec<Vec<u8>>,
}

fn starknet_txs(batch: &PlannedBatch) -> SnTxs {
    let mut pages_out = Vec::new();
    let mut update = None;
    let mut blobs = Vec::new();
    for tx in &batch.txs {
        if tx.to == contracts::MEMORY_PAGE_REGISTRY_ADDRESS {
            pages_out.push(pages::parse_page(&tx.calldata).unwrap());
        } else {
            assert_eq!(tx.to, contracts::STARKNET_CORE_ADDRESS);
            update = Some(program_output::parse_l1_calldata(&tx.calldata).unwrap());
            blobs = tx.blobs.clone();
        }
    }
    SnTxs {
        pages: pages_out,
        update: update.expect("every batch ends with a state update"),
        blobs,
    }
}

fn decode_starknet(
    batch: &PlannedBatch,
    txs: &SnTxs,
    aliases: &MemoryAliases,
) -> Result<SnDecoded, DaError> {
    let hashes: Vec<B256> = txs
        .blobs
        .iter()
        .map(|b| blob::versioned_hash(&blob::commitment(b).unwrap()))
        .collect();
    let da = if txs.blobs.is_empty() {
        DaInput::Pages(&txs.pages)
    } else {
        DaInput::Blobs(&txs.blobs)
    };
    decode_batch(
        &SnBatchInput {
            batch: Some(batch.number),
            da,
            l1_update: Some(&txs.update),
            versioned_hashes: Some(&hashes),
            blobs_checked: false,
            layout: starknet_gen::layout_hint(batch.format),
        },
        aliases,
    )
}

fn starknet_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "devnet-test-starknet").unwrap();
    (dir, store)
}

// ---------------------------------------------------------------- (a) Starknet

/// What replaying a generated Starknet history through the decoders showed.
struct StarknetReplay {
    plan: Vec<PlannedBatch>,
    formats: BTreeMap<&'static str, usize>,
    max_pages: usize,
    max_blobs: usize,
    aliases_allocated: usize,
}

/// Generates `config`'s history, decodes every batch from its L1 transactions
/// with the real decoders and replays it: each must give the generated diff,
/// pass every binding check and reach the expected root.
fn starknet_replay(config: StarknetGenConfig) -> StarknetReplay {
    let plan = starknet_gen::generate(config.clone()).unwrap();
    assert_eq!(plan.len() as u64, config.batches);
    let again = starknet_gen::generate(config).unwrap();
    assert_eq!(plan, again, "the generator is deterministic");

    let (_dir, store) = starknet_store();
    let state = StarknetState::new(&store);
    let mut aliases = MemoryAliases::new();
    let mut replay = StarknetReplay {
        plan: Vec::new(),
        formats: BTreeMap::new(),
        max_pages: 0,
        max_blobs: 0,
        aliases_allocated: 0,
    };
    for batch in &plan {
        let txs = starknet_txs(batch);
        let decoded = decode_starknet(batch, &txs, &aliases)
            .unwrap_or_else(|e| panic!("batch {} ({}): {e}", batch.number, batch.format));
        let failed: Vec<_> = decoded.findings.iter().filter(|f| !f.passed).collect();
        assert!(failed.is_empty(), "batch {}: {failed:?}", batch.number);
        assert!(
            !decoded.findings.is_empty(),
            "batch {}: nothing was checked",
            batch.number
        );
        decoded.require_complete().unwrap();
        let format = StarknetFormat::from_label(batch.format).unwrap();
        assert_eq!(decoded.layout, format.layout(), "batch {}", batch.number);
        assert_eq!(
            decoded.diff, batch.diff,
            "batch {} ({})",
            batch.number, batch.format
        );
        let output = decoded.program_output.as_ref().unwrap();
        assert_eq!(output.new_root.to_bytes_be(), batch.claimed_root.0);
        aliases.record(&decoded.posted).unwrap();
        replay.aliases_allocated += decoded.aliases_allocated;

        let roots = state
            .apply_and_commit(&decoded.diff, GlobalRootRule::PreV0_14)
            .unwrap();
        assert_eq!(
            roots.global_root.to_bytes_be(),
            batch.expected_root.0,
            "batch {} ({})",
            batch.number,
            batch.format
        );
        assert_eq!(batch.expected_root, batch.claimed_root);
        *replay.formats.entry(batch.format).or_insert(0) += 1;
        replay.max_pages = replay.max_pages.max(txs.pages.len());
        replay.max_blobs = replay.max_blobs.max(txs.blobs.len());
    }
    replay.plan = plan;
    replay
}

#[test]
fn starknet_batches_decode_to_the_generated_diffs_and_replay_to_the_expected_roots() {
    let replay = starknet_replay(StarknetGenConfig::default());
    // One batch of every format of the default schedule (the historical
    // formats are replayed by `sharp_devnet`).
    assert_eq!(
        replay.formats.len(),
        starknet_gen::default_schedule().len(),
        "{:?}",
        replay.formats
    );
    assert!(replay.max_pages >= 2, "a batch spans several memory pages");
    assert!(replay.max_blobs >= 2, "a batch spans several blobs");
    assert!(replay.aliases_allocated > 0);
}

/// The benchmark's mainnet-shaped history (`ZKREPLAY_BENCH_SHAPE=mainnet`)
/// rests on sized batches: every format still decodes to its diff and
/// replays to its root, and every batch writes at least what the size asks.
#[test]
fn sized_starknet_batches_write_their_size_and_still_decode_and_replay() {
    let size = StarknetBatchSize {
        contracts: 24,
        writes: 300,
        nonces: 10,
    };
    let replay = starknet_replay(StarknetGenConfig {
        size: Some(size),
        large_batches: vec![],
        ..StarknetGenConfig::default()
    });
    for batch in &replay.plan {
        let diff = &batch.diff;
        let writes: usize = diff.contracts.values().map(|c| c.storage.len()).sum();
        let nonces = diff
            .contracts
            .values()
            .filter(|c| c.nonce.is_some())
            .count();
        assert!(
            writes >= size.writes as usize,
            "batch {}: {writes}",
            batch.number
        );
        assert!(
            diff.contracts.len() >= size.contracts as usize,
            "batch {}",
            batch.number
        );
        // v0.9 posts no nonces (the default schedule starts at v0.11).
        assert!(
            nonces >= size.nonces as usize,
            "batch {}: {nonces}",
            batch.number
        );
    }
}

// ---------------------------------------------------------------- ZKsync helpers

fn zksync_store(logs: &[genesis::StorageLog], root: B256) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "devnet-test-zksync").unwrap();
    let leaves = genesis::leaves(logs).unwrap();
    ZksyncState::init_genesis(&store, &leaves, Some(root)).unwrap();
    (dir, store)
}

/// Decodes the commit transaction of a planned ZKsync batch.
fn decode_zksync(batch: &PlannedBatch) -> Result<ZkDecoded, String> {
    let commit = &batch.txs[0];
    let call = decode_commit(&commit.calldata).map_err(|e| e.to_string())?;
    let mut blobs = BlobStore::default();
    let hashes: Vec<B256> = commit
        .blobs
        .iter()
        .map(|b| blob::versioned_hash(&blobs.add(b.clone()).unwrap()))
        .collect();
    let mut decoded = decode_batches(&call, &mut blobs, Some(&hashes));
    assert_eq!(decoded.len(), 1);
    Ok(decoded.remove(0))
}

/// The writes of a planned diff as full values (to follow the true state past a faulty batch).
fn writes_from_diff(state: &ZksyncState<'_>, diff: &StateDiff) -> Writes {
    let mut writes = Writes {
        initial: vec![],
        repeated: vec![],
    };
    for (key, value) in &diff.derived_writes {
        match state.leaf(key).unwrap() {
            None => writes.initial.push(InitialWrite {
                derived_key: *key,
                value: ValueOp::full(*value),
            }),
            Some((index, _)) => writes.repeated.push(RepeatedWrite {
                index,
                value: ValueOp::full(*value),
            }),
        }
    }
    writes
}

// ---------------------------------------------------------------- (a) ZKsync

/// Generates `config`'s history and replays it through the real decoders
/// from its genesis: every batch must pass every check, give the generated
/// diff and reach the expected root. Returns the plan and its formats.
fn zksync_replay(config: &ZksyncGenConfig) -> (Vec<PlannedBatch>, BTreeMap<&'static str, usize>) {
    let mut generator = zksync_gen::ZksyncGenerator::new(config.clone()).unwrap();
    let logs = generator.genesis_logs().to_vec();
    let genesis_root = generator.genesis_root();
    let mut plan = Vec::new();
    while let Some(b) = generator.next_batch().unwrap() {
        plan.push(b);
    }
    assert_eq!(
        plan,
        zksync_gen::generate(config.clone()).unwrap(),
        "deterministic"
    );
    // The genesis written as InitialState.json loads back to the same root.
    let json_logs = genesis::parse_json(&zksync_gen::genesis_json(&logs)).unwrap();
    assert_eq!(genesis::root(&json_logs).unwrap(), genesis_root);

    let (_dir, store) = zksync_store(&logs, genesis_root);
    let mut state = ZksyncState::open(&store).unwrap();
    let mut formats = BTreeMap::new();
    for batch in &plan {
        let decoded = decode_zksync(batch)
            .unwrap_or_else(|e| panic!("batch {} ({}): {e}", batch.number, batch.format));
        let failed: Vec<_> = decoded.checks.iter().filter(|c| !c.passed).collect();
        assert!(
            failed.is_empty(),
            "batch {} ({}): {failed:?}",
            batch.number,
            batch.format
        );
        let input = ZkPlanInput::from_decoded(&decoded).expect("writes decoded");
        let applied = state.apply_and_commit(&input).unwrap();
        assert_eq!(applied.record.matches, Some(true), "batch {}", batch.number);
        assert_eq!(applied.record.computed_root, batch.expected_root);
        assert_eq!(
            applied.diff, batch.diff,
            "batch {} ({})",
            batch.number, batch.format
        );
        let format = ZksyncFormat::from_label(batch.format).unwrap();
        assert_eq!(batch.txs[0].calldata[..4], format.version.selector());
        if format.publish == zkreplay::rollup::zksync::encode::Publish::Blobs
            && format.version != CommitVersion::PreBoojum
        {
            assert!(!batch.txs[0].blobs.is_empty(), "batch {}", batch.number);
        }
        *formats.entry(batch.format).or_insert(0) += 1;
    }
    (plan, formats)
}

#[test]
fn zksync_batches_decode_to_the_generated_diffs_and_replay_to_the_expected_roots() {
    let config = ZksyncGenConfig::default();
    let (plan, formats) = zksync_replay(&config);
    assert_eq!(formats.len(), 8, "{formats:?}");
    // Execute transactions follow `execute_lag` behind.
    let executes = plan.iter().flat_map(|b| &b.txs[1..]).count() as u64;
    assert_eq!(executes, config.batches - config.execute_lag);
}

/// Sized ZKsync batches (the benchmark's mainnet shape) decode and replay in
/// every format, and each writes exactly `initial + repeated` slots.
#[test]
fn sized_zksync_batches_write_their_size_and_still_decode_and_replay() {
    let size = ZksyncBatchSize {
        initial: 5,
        repeated: 40,
    };
    let config = ZksyncGenConfig {
        size: Some(size),
        ..ZksyncGenConfig::default()
    };
    let (plan, _) = zksync_replay(&config);
    for batch in &plan {
        assert_eq!(
            batch.diff.derived_writes.len() as u64,
            size.initial + size.repeated,
            "batch {}",
            batch.number
        );
    }
}

// ---------------------------------------------------------------- (b) faults

#[test]
fn starknet_faults_are_detected() {
    let mut config = StarknetGenConfig {
        batches: 10,
        large_batches: vec![],
        ..Default::default()
    };
    config.faults = BTreeMap::from([
        (2, Fault::DataNotBound),  // pages
        (4, Fault::TamperedRoot),  // v0.13.1
        (5, Fault::DataNotBound),  // v0.13.2 blob
        (8, Fault::DataNotBound),  // v0.13.3 blob
        (10, Fault::DataNotBound), // v0.13.4 blob
    ]);
    let plan = starknet_gen::generate(config).unwrap();
    let (_dir, store) = starknet_store();
    let state = StarknetState::new(&store);
    let mut aliases = MemoryAliases::new();
    for batch in &plan {
        let txs = starknet_txs(batch);
        let decoded = decode_starknet(batch, &txs, &aliases);
        match batch.fault {
            None => {
                let decoded = decoded.as_ref().unwrap();
                assert!(decoded.all_checks_passed(), "batch {}", batch.number);
                assert_eq!(decoded.diff, batch.diff);
            }
            Some(Fault::DataNotBound) => {
                match &decoded {
                    Ok(d) => {
                        let failed: Vec<&str> = d
                            .findings
                            .iter()
                            .filter(|f| !f.passed)
                            .map(|f| f.check.as_str())
                            .collect();
                        let expected = if txs.blobs.is_empty() {
                            "calldata.onchain_data_hash"
                        } else {
                            "kzg.z"
                        };
                        assert!(
                            failed.contains(&expected),
                            "batch {}: {failed:?}",
                            batch.number
                        );
                        assert_ne!(d.diff, batch.diff, "the posted data differs");
                    }
                    // A decoder that cannot even pick a layout also flags the batch.
                    Err(e) => println!(
                        "batch {}: DataNotBound rejected by the decoder: {e}",
                        batch.number
                    ),
                }
            }
            Some(Fault::TamperedRoot) => {
                let decoded = decoded.as_ref().unwrap();
                assert!(decoded.all_checks_passed());
                assert_eq!(decoded.diff, batch.diff);
                let claimed = decoded.program_output.as_ref().unwrap().new_root;
                assert_ne!(claimed.to_bytes_be(), batch.expected_root.0);
                assert_eq!(claimed.to_bytes_be(), batch.claimed_root.0);
            }
            Some(other) => panic!("unexpected {other:?}"),
        }
        // Follow the true state (the planned diff), as the sequencer did.
        let roots = state
            .apply_and_commit(&batch.diff, GlobalRootRule::PreV0_14)
            .unwrap();
        assert_eq!(roots.global_root.to_bytes_be(), batch.expected_root.0);
        if let Ok(d) = &decoded {
            aliases.record(&d.posted).unwrap();
        }
        // The next program output chains from the root L1 holds, tampered or not.
        if batch.number > 1 {
            let prev = &plan[batch.number as usize - 2];
            let output =
                program_output::detect(&txs.update.program_output, txs.update.header_candidates())
                    .unwrap();
            assert_eq!(output.prev_root.to_bytes_be(), prev.claimed_root.0);
        }
    }
}

#[test]
fn zksync_faults_are_detected_and_a_revert_unwinds() {
    let config = ZksyncGenConfig {
        batches: 11,
        faults: BTreeMap::from([
            (3, Fault::DataNotBound),           // Boojum, inline pubdata (pre-1.4.2)
            (5, Fault::DataNotBound),           // Boojum, blobs
            (6, Fault::TamperedRoot),           // v24 calldata
            (8, Fault::DataNotBound),           // v26 calldata
            (9, Fault::DataNotBound),           // v26 blobs
            (10, Fault::ZksyncRevert { k: 2 }), // after 10: revert to 8, recommit 9, 10, 11
        ]),
        ..Default::default()
    };
    let mut generator = zksync_gen::ZksyncGenerator::new(config).unwrap();
    let logs = generator.genesis_logs().to_vec();
    let (_dir, store) = zksync_store(&logs, generator.genesis_root());
    let mut state = ZksyncState::open(&store).unwrap();
    let mut plan = Vec::new();
    while let Some(b) = generator.next_batch().unwrap() {
        plan.push(b);
    }
    let numbers: Vec<u64> = plan.iter().map(|b| b.number).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 8, 9, 10, 11]);
    for batch in &plan {
        if batch.format == REVERT_FORMAT {
            assert_eq!(batch.fault, Some(Fault::ZksyncRevert { k: 2 }));
            // Batch 10 is a v29 commit, so the revert is the v29 shared-bridge call.
            assert_eq!(
                batch.txs[0].calldata[..4],
                zkreplay::rollup::zksync::abi::revertBatchesSharedBridge_1Call::SELECTOR
            );
            state.unwind(batch.number).unwrap();
            assert_eq!(state.checkpoint().root, batch.expected_root);
            continue;
        }
        let decoded = decode_zksync(batch);
        match batch.fault {
            None | Some(Fault::TamperedRoot) => {
                let decoded = decoded.unwrap();
                assert!(
                    decoded.all_passed(),
                    "batch {}: {:?}",
                    batch.number,
                    decoded.checks
                );
                let applied = state
                    .apply_and_commit(&ZkPlanInput::from_decoded(&decoded).unwrap())
                    .unwrap();
                assert_eq!(applied.record.computed_root, batch.expected_root);
                let tampered = batch.fault == Some(Fault::TamperedRoot);
                assert_eq!(
                    applied.record.matches,
                    Some(!tampered),
                    "batch {}",
                    batch.number
                );
            }
            Some(Fault::DataNotBound) => {
                match &decoded {
                    Ok(d) => {
                        let failed: Vec<&str> = d
                            .checks
                            .iter()
                            .filter(|c| c.failed())
                            .map(|c| c.name.as_str())
                            .collect();
                        assert!(
                            failed
                                .iter()
                                .any(|c| c.ends_with("linear_hash") || *c == "pubdata_hash"),
                            "batch {} ({}): {failed:?}",
                            batch.number,
                            batch.format
                        );
                    }
                    Err(e) => println!(
                        "batch {}: DataNotBound rejected by the decoder: {e}",
                        batch.number
                    ),
                }
                let writes = writes_from_diff(&state, &batch.diff);
                let applied = state
                    .apply_and_commit(&ZkPlanInput {
                        batch_number: batch.number,
                        claimed_root: Some(batch.claimed_root),
                        index_repeated_storage_changes: None,
                        writes,
                    })
                    .unwrap();
                assert_eq!(applied.record.computed_root, batch.expected_root);
            }
            Some(other) => panic!("unexpected {other:?}"),
        }
        // The commit posts the claimed root (the pre-1.4.2 DataNotBound field does not decode).
        if let Ok(call) = decode_commit(&batch.txs[0].calldata) {
            assert_eq!(call.batches[0].new_state_root, batch.claimed_root);
        }
    }
}

// ---------------------------------------------------------------- contract drift

#[test]
fn checked_in_bytecode_matches_the_solidity_sources() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let solc = std::env::var("SOLC_JS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("tools/node_modules/solc"));
    let node = std::process::Command::new("node").arg("--version").output();
    if !solc.join("package.json").exists() || node.is_err() {
        skip_missing_tool("solc (npm) or node", "scripts/install-deps.sh");
        return;
    }
    let out = std::process::Command::new("sh")
        .arg(root.join("contracts/build.sh"))
        .arg("--check")
        .env("SOLC_JS_DIR", &solc)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "contracts/out/*.hex drifted from contracts/*.sol (run contracts/build.sh):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------- (c) anvil

/// A local anvil, killed on drop.
struct Anvil {
    child: std::process::Child,
    url: String,
    client: reqwest::Client,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Anvil {
    async fn start() -> Option<Anvil> {
        let Some(binary) =
            zkreplay::devnet::anvil::Anvil::binary(Path::new(env!("CARGO_MANIFEST_DIR")))
        else {
            skip_missing_tool("anvil", "scripts/install-anvil.sh");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(binary)
            .args(["--port", &port.to_string(), "--silent"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("anvil starts");
        let anvil = Anvil {
            child,
            url: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        for _ in 0..100 {
            if anvil.call("eth_chainId", json!([])).await.is_ok() {
                return Some(anvil);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("anvil did not answer on {}", anvil.url);
    }

    /// One JSON-RPC call; `Err` carries the node's error message.
    async fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let response: Value = self
            .client
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        match response.get("error") {
            Some(error) => Err(error.to_string()),
            None => Ok(response["result"].clone()),
        }
    }

    async fn install(&self, address: Address, code: &[u8]) {
        self.call(
            "anvil_setCode",
            json!([address.to_string(), format!("0x{}", hex::encode(code))]),
        )
        .await
        .unwrap();
    }

    /// Sends a calldata transaction from the first dev account and returns its receipt.
    async fn send(&self, from: &str, to: Address, calldata: &[u8]) -> Result<Value, String> {
        let hash = self
            .call(
                "eth_sendTransaction",
                json!([{"from": from, "to": to.to_string(), "data": format!("0x{}", hex::encode(calldata))}]),
            )
            .await?;
        // Automine mines on submission, but the receipt can lag a moment behind.
        let mut receipt = Value::Null;
        for _ in 0..100 {
            receipt = self
                .call("eth_getTransactionReceipt", json!([hash]))
                .await?;
            if !receipt.is_null() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        if receipt["status"] != json!("0x1") {
            return Err(format!("transaction failed: {receipt}"));
        }
        Ok(receipt)
    }

    /// The revert message of a call that must fail (from `eth_call`, which returns the reason).
    async fn revert_reason(&self, from: &str, to: Address, calldata: &[u8]) -> String {
        self.call(
            "eth_call",
            json!([{"from": from, "to": to.to_string(), "data": format!("0x{}", hex::encode(calldata))}, "latest"]),
        )
        .await
        .expect_err("the call must revert")
    }

    async fn logs(&self, address: Address, topic0: B256) -> Vec<Value> {
        let logs = self
            .call(
                "eth_getLogs",
                json!([{"fromBlock": "0x0", "toBlock": "latest", "address": address.to_string(), "topics": [topic0.to_string()]}]),
            )
            .await
            .unwrap();
        logs.as_array().unwrap().clone()
    }

    async fn eth_call(&self, to: Address, calldata: &[u8]) -> Vec<u8> {
        let out = self
            .call(
                "eth_call",
                json!([{"to": to.to_string(), "data": format!("0x{}", hex::encode(calldata))}, "latest"]),
            )
            .await
            .unwrap();
        hex::decode(out.as_str().unwrap().trim_start_matches("0x")).unwrap()
    }
}

fn data_words(log: &Value) -> Vec<B256> {
    let data = hex::decode(log["data"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    data.chunks(32).map(B256::from_slice).collect()
}

fn topics(log: &Value) -> Vec<B256> {
    log["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(common::word)
        .collect()
}

#[tokio::test]
async fn stand_in_contracts_on_anvil_emit_the_real_events() {
    let Some(anvil) = Anvil::start().await else {
        return;
    };
    let accounts = anvil.call("eth_accounts", json!([])).await.unwrap();
    let from = accounts[0].as_str().unwrap().to_string();
    for c in StandIn::ALL {
        anvil
            .install(c.default_address(), &c.runtime_bytecode())
            .await;
    }

    // Starknet: calldata-mode batches (pages + updateState), one spanning two pages.
    let starknet = starknet_gen::generate(StarknetGenConfig {
        batches: 3,
        schedule: vec![(1, StarknetFormat::V0_11Pages)],
        large_batches: vec![2],
        faults: BTreeMap::from([(3, Fault::TamperedRoot)]),
        ..Default::default()
    })
    .unwrap();
    let mut expected_facts = Vec::new();
    for batch in &starknet {
        for tx in &batch.txs {
            if tx.to == contracts::MEMORY_PAGE_REGISTRY_ADDRESS {
                expected_facts.push(contracts::memory_page_fact(
                    &pages::parse_page(&tx.calldata).unwrap(),
                ));
            }
            anvil
                .send(&from, tx.to, &tx.calldata)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", tx.label));
        }
    }
    let facts = anvil
        .logs(
            contracts::MEMORY_PAGE_REGISTRY_ADDRESS,
            contracts::LOG_MEMORY_PAGE_FACT_CONTINUOUS,
        )
        .await;
    assert!(expected_facts.len() >= 4, "two pages in batch 2");
    assert_eq!(facts.len(), expected_facts.len());
    for (log, (fact, memory_hash, prod)) in facts.iter().zip(&expected_facts) {
        let words = data_words(log);
        assert_eq!(words[0], *fact);
        assert_eq!(U256::from_be_bytes(words[1].0), *memory_hash);
        assert_eq!(U256::from_be_bytes(words[2].0), *prod);
        // The registry records the fact as the real one does.
        let valid = anvil
            .eth_call(
                contracts::MEMORY_PAGE_REGISTRY_ADDRESS,
                &contracts::abi::isValidCall { fact: *fact }.abi_encode(),
            )
            .await;
        assert_eq!(valid[31], 1);
    }
    let updates = anvil
        .logs(
            contracts::STARKNET_CORE_ADDRESS,
            contracts::LOG_STATE_UPDATE,
        )
        .await;
    assert_eq!(updates.len(), starknet.len());
    for (log, batch) in updates.iter().zip(&starknet) {
        let words = data_words(log);
        assert_eq!(words[0], batch.claimed_root, "batch {}", batch.number);
        assert_eq!(U256::from_be_bytes(words[1].0), U256::from(batch.number));
    }
    assert_ne!(starknet[2].claimed_root, starknet[2].expected_root);
    let root = anvil
        .eth_call(
            contracts::STARKNET_CORE_ADDRESS,
            &contracts::abi::stateRootCall {}.abi_encode(),
        )
        .await;
    assert_eq!(B256::from_slice(&root), starknet[2].claimed_root);
    // Replaying an update out of order is refused by the previous-root check.
    let update = starknet[1].txs.last().unwrap();
    let err = anvil
        .revert_reason(&from, update.to, &update.calldata)
        .await;
    assert!(err.contains("INVALID_PREVIOUS_ROOT"), "{err}");
    // The KZG entry points verify blobs: without any, the call reverts.
    let blob_batch = &starknet_gen::generate(StarknetGenConfig {
        batches: 1,
        schedule: vec![(1, StarknetFormat::V0_13_2Blob)],
        large_batches: vec![],
        ..Default::default()
    })
    .unwrap()[0];
    let err = anvil
        .revert_reason(&from, blob_batch.txs[0].to, &blob_batch.txs[0].calldata)
        .await;
    assert!(err.contains("MISSING_BLOB"), "{err}");

    // ZKsync: every calldata commit format, executes, a revert and recommits.
    let zk_config = ZksyncGenConfig {
        batches: 9,
        schedule: vec![
            (1, ZksyncFormat::PRE_BOOJUM),
            (2, ZksyncFormat::BOOJUM_CALLDATA),
            (4, ZksyncFormat::V24_CALLDATA),
            (6, ZksyncFormat::V26_CALLDATA),
            (8, ZksyncFormat::V29_CALLDATA),
        ],
        faults: BTreeMap::from([(8, Fault::ZksyncRevert { k: 2 })]),
        ..Default::default()
    };
    let zksync = zksync_gen::generate(zk_config).unwrap();
    let diamond = contracts::ZKSYNC_DIAMOND_ADDRESS;
    let mut expected_commits = Vec::new();
    for batch in &zksync {
        for tx in &batch.txs {
            anvil
                .send(&from, tx.to, &tx.calldata)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", tx.label));
        }
        if batch.format != REVERT_FORMAT {
            let call = decode_commit(&batch.txs[0].calldata).unwrap();
            let commitment = contracts::standin_commitment(call.version, &call.batches[0]);
            expected_commits.push((batch.number, batch.claimed_root, commitment));
        }
    }
    let commits: Vec<(u64, B256, B256)> = anvil
        .logs(diamond, contracts::BLOCK_COMMIT)
        .await
        .iter()
        .map(|log| {
            let t = topics(log);
            (U256::from_be_bytes(t[1].0).to::<u64>(), t[2], t[3])
        })
        .collect();
    assert_eq!(commits, expected_commits);
    let reverts = anvil.logs(diamond, contracts::BLOCKS_REVERT).await;
    assert_eq!(reverts.len(), 1);
    let totals: Vec<u64> = data_words(&reverts[0])
        .iter()
        .map(|w| U256::from_be_bytes(w.0).to::<u64>())
        .collect();
    assert_eq!(
        totals,
        [6, 5, 5],
        "committed 6 after the revert; 5 executed (lag 3 at batch 8)"
    );
    let executions: Vec<u64> = anvil
        .logs(diamond, contracts::BLOCK_EXECUTION)
        .await
        .iter()
        .map(|log| U256::from_be_bytes(topics(log)[1].0).to::<u64>())
        .collect();
    assert_eq!(executions, (1..=6).collect::<Vec<_>>());
    let committed = anvil
        .eth_call(
            diamond,
            &zkreplay::rollup::zksync::abi::getTotalBatchesCommittedCall {}.abi_encode(),
        )
        .await;
    assert_eq!(U256::from_be_slice(&committed), U256::from(9u8));

    // A real mainnet commit (batches 351000-351004) through a fresh diamond.
    let fresh: Address = "0x00000000000000000000000000000000000d1a30"
        .parse()
        .unwrap();
    anvil
        .install(fresh, &StandIn::ZksyncDiamond.runtime_bytecode())
        .await;
    let calldata = std::fs::read(
        common::fixtures().join("zksync/calldata/commit_l1_batch_351000-351004_mainnet.calldata"),
    )
    .unwrap();
    assert_eq!(calldata[..4], [0x70, 0x1f, 0x58, 0xc5]);
    anvil.send(&from, fresh, &calldata).await.unwrap();
    let facts: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixtures().join("zksync/calldata/calldata_facts.json"))
            .unwrap(),
    )
    .unwrap();
    let file = facts["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == "calldata/commit_l1_batch_351000-351004_mainnet.calldata")
        .unwrap();
    let call = decode_commit(&calldata).unwrap();
    let logs = anvil.logs(fresh, contracts::BLOCK_COMMIT).await;
    assert_eq!(logs.len(), 5);
    for ((log, fact), batch) in logs
        .iter()
        .zip(file["batches"].as_array().unwrap())
        .zip(&call.batches)
    {
        let t = topics(log);
        assert_eq!(
            U256::from_be_bytes(t[1].0),
            U256::from(fact["batch_number"].as_u64().unwrap())
        );
        assert_eq!(t[2], common::word(&fact["new_state_root"]));
        assert_eq!(
            t[3],
            contracts::standin_commitment(CommitVersion::Boojum, batch)
        );
    }
}
