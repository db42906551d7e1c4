//! Starknet's mainnet-shaped history (issue 12) on anvil, replayed by the
//! `zkreplay follow` binary: v0.9 → v0.10 → v0.11.0 (the 2-argument
//! `LogStateUpdate` era) → v0.11.1 → v0.13.1 → v0.13.3 → v0.13.4 → v0.14.0 →
//! v0.14.1 (a Blake2s compiled-class-hash update of an existing class), one
//! era per configured L2 block; calldata pages found through SHARP
//! (`LogStateTransitionFact` → the verifier stand-in's `LogMemoryPagesHashes`
//! → `LogMemoryPageFactContinuous`) on a memory-page registry that changes
//! address mid-history (and then takes `registerContinuousPageBatch`), with
//! other SHARP customers' jobs registered before, between and after
//! Starknet's pages.
//!
//! "No decoy read" is checked on the wire: the binary runs behind the fault
//! proxy recording every JSON-RPC call, proving answers against headers only
//! (`--l1-verify headers`, so each transaction the engine reads is one
//! `eth_getTransactionByHash` and no block is fetched with its transactions;
//! anvil mines one transaction per block). A negative control runs the same
//! history without the verifier in the config (the fallback that scans every
//! registration since the previous update) and must see decoy reads. Under
//! `--l1-verify full` the same record shows no decoy's block or receipts
//! downloaded: the SHARP walk reads its logs as leads proved only against
//! headers, and full proofs cover what the engine uses (the listing's block,
//! the pages' transactions, the update); its negative control, the fallback
//! config under `full`, must show decoy blocks downloaded.
//!
//! Plumbing: the expected roots come from our own simulator
//! (`src/devnet/starknet_gen`), so this proves the L1 path (stand-in events,
//! fact → page selection, era dispatch, the follower binary), not the roots.
//! The roots the simulator computes are those of `StarknetState`, which is
//! checked against outside references elsewhere: cairo-lang 0.14.0.1's own
//! Patricia trees for pre-v0.14 roots with the alias contract
//! (`starknet_state::cairo_lang_oracle_roots_are_reproduced`), pathfinder's
//! v0.14 genesis root for the v0.14 rule (`starknet_state::pathfinder_v0_14_genesis_root`),
//! and real Sepolia blocks (`starknet_state::sepolia_genesis_blocks_reproduce_every_new_root`).
//! The decoders of the eras are checked on real or cairo-lang data in
//! `starknet_da` (v0.13.1 mainnet blobs, Sepolia v0.13.3 / v0.13.4 batches,
//! cairo-lang calldata pages) and `starknet_history` (real mainnet v0.11.1 pages);
//! the v0.9 and v0.10 layouts only by round trip.
//!
//! Needs anvil: `scripts/install-anvil.sh` (or `ZKREPLAY_ANVIL`).

use crate::common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use alloy_primitives::{B256, U256};
use serde_json::{Value, json};
use starknet_types_core::felt::Felt;
use zkreplay::audit::{BatchAudit, Verdict};
use zkreplay::chain::ChainConfig;
use zkreplay::cli::devnet::plan;
use zkreplay::devnet::anvil::Anvil;
use zkreplay::devnet::contracts::{StandInLog, starknet_standin_logs};
use zkreplay::devnet::run::{DevnetOutcome, run as run_devnet};
use zkreplay::devnet::starknet_gen::{self, StarknetFormat};
use zkreplay::follow::L1BatchRecord;
use zkreplay::hexfmt::format_word;
use zkreplay::l1::fault_proxy::{FaultConfig, FaultProxy};
use zkreplay::rollup::starknet::events::{LOG_STATE_UPDATE, LOG_STATE_UPDATE_V0_10};
use zkreplay::rollup::starknet::sharp::LOG_MEMORY_PAGE_FACT_CONTINUOUS;
use zkreplay::rollup::starknet::state::StarknetState;
use zkreplay::store::Store;

const SEED: u64 = 12;

fn anvil() -> Anvil {
    Anvil::start(common::root())
        .unwrap_or_else(|e| panic!("{e} (scripts/install-anvil.sh installs it)"))
}

/// Starts anvil and submits the mainnet-shaped history (no ZKsync batches).
async fn devnet(dir: &Path, decoys: bool) -> (Anvil, DevnetOutcome) {
    let anvil = anvil();
    let mut plan = plan(SEED, 0, 0, &[]);
    plan.starknet = starknet_gen::mainnet_shaped(SEED, decoys);
    let outcome = run_devnet(&anvil.url, &dir.join("devnet"), plan)
        .await
        .unwrap();
    (anvil, outcome)
}

/// Runs `zkreplay follow` on the devnet's Starknet config through `rpc`
/// (JSON-RPC and beacon API) up to the finalized block; returns the wall time.
fn follow(outcome: &DevnetOutcome, rpc: &str, data_dir: &Path, verify: &str) -> f64 {
    follow_with(&outcome.starknet_config, outcome, rpc, data_dir, verify)
}

fn follow_with(
    config: &Path,
    outcome: &DevnetOutcome,
    rpc: &str,
    data_dir: &Path,
    verify: &str,
) -> f64 {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_zkreplay"))
        .args(["follow", "--chain"])
        .arg(config)
        .args(["--rpc-url", rpc, "--beacon-url", rpc])
        .args(["--beacon-block-id", "block-number", "--no-serve"])
        .args(["--poll-interval-ms", "50", "--l1-verify", verify])
        // anvil is this test's own node: its finalized block is the anchor.
        .arg("--l1-trust-endpoint-finalized")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--to-block", &outcome.finalized_block.to_string()])
        .env("ZKREPLAY_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "follow: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed().as_secs_f64()
}

/// `zkreplay status --json` of the replay: one chain, at the finalized block, no findings.
fn assert_no_findings(outcome: &DevnetOutcome, rpc: &str, data_dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_zkreplay"))
        .args(["status", "--json", "--rpc-url", rpc, "--data-dir"])
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "status: {out:?}");
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["findings"], 0, "{}", lines[0]);
    assert_eq!(
        lines[0]["l1_block"], outcome.finalized_block,
        "{}",
        lines[0]
    );
}

/// `(format_version, l2_blocks, contracts, storage writes, classes declared)` of a batch.
type BatchShape = (String, Option<(u64, u64)>, usize, usize, usize);

/// What two replays of the history must agree on, L1 positions aside (the
/// decoys move every later transaction to another L1 block).
#[derive(Debug, PartialEq)]
struct Replay {
    audits: Vec<BatchAudit>,
    summaries: Vec<BatchShape>,
    checkpoint: String,
}

fn replay_of(data_dir: &Path, outcome: &DevnetOutcome) -> Replay {
    let config = ChainConfig::load(&outcome.starknet_config).unwrap();
    let store = Store::open(&data_dir.join(&config.name), &config.name).unwrap();
    let batches = outcome.batches.iter().filter(|b| b.rollup == "starknet");
    let mut audits = Vec::new();
    let mut summaries = Vec::new();
    for batch in batches {
        // Starknet updates are numbered from 0 in replay order.
        let n = batch.number - 1;
        let audit = BatchAudit::read(&store, n).unwrap().unwrap();
        assert_eq!(audit.verdict, Verdict::Match, "batch {n}: {audit:?}");
        assert_eq!(
            audit.computed_root,
            format_word(&batch.expected_root),
            "batch {n} ({})",
            batch.format
        );
        let record = L1BatchRecord::read(&store, n).unwrap().unwrap();
        assert_eq!(record.l1_block_number, *batch.l1_blocks.last().unwrap());
        let s = record.summary;
        summaries.push((
            s.format_version,
            s.l2_blocks,
            s.contracts_touched,
            s.storage_writes,
            s.classes_declared,
        ));
        audits.push(audit);
    }
    Replay {
        audits,
        summaries,
        checkpoint: format!("{:?}", StarknetState::new(&store).checkpoint().unwrap()),
    }
}

/// The transactions a recorded client read (by hash, lowercase); panics on a
/// fetch of a block or its receipts named in `forbidden_blocks` (by hash or number).
fn transactions_read(requests: &[Value], forbidden_blocks: &HashSet<String>) -> HashSet<String> {
    let mut read = HashSet::new();
    for request in requests {
        let method = request["method"].as_str().unwrap_or_default();
        if let "eth_getTransactionByHash" | "eth_getTransactionReceipt" = method {
            read.insert(request["params"][0].as_str().unwrap().to_lowercase());
        }
    }
    let downloaded = blocks_downloaded(requests);
    let forbidden: Vec<&String> = downloaded
        .iter()
        .filter(|b| forbidden_blocks.contains(*b))
        .collect();
    assert!(
        forbidden.is_empty(),
        "decoys' blocks or receipts were fetched: {forbidden:?}"
    );
    read
}

/// The blocks (hash or number, lowercase) a recorded client fetched with
/// their transactions or receipts: what a full proof downloads.
fn blocks_downloaded(requests: &[Value]) -> HashSet<String> {
    // A block id is a hash or number string, or an object naming one.
    let id = |v: &Value| -> String {
        let text = v
            .as_str()
            .or_else(|| v["blockHash"].as_str())
            .or_else(|| v["blockNumber"].as_str())
            .unwrap_or_else(|| panic!("unexpected block id {v}"));
        text.to_lowercase()
    };
    let mut out = HashSet::new();
    for request in requests {
        let params = &request["params"];
        match request["method"].as_str().unwrap_or_default() {
            "eth_getBlockByHash" | "eth_getBlockByNumber" if params[1] == json!(true) => {
                out.insert(id(&params[0]));
            }
            "eth_getBlockReceipts" => {
                out.insert(id(&params[0]));
            }
            _ => {}
        }
    }
    out
}

async fn rpc(url: &str, method: &str, params: Value) -> Value {
    let answer: Value = reqwest::Client::new()
        .post(url)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["result"].clone()
}

fn hex_of(word: &B256) -> String {
    format!("{word:#x}")
}

/// ACCEPTANCE (issue 12): the history replays to the true roots through
/// `zkreplay follow` over anvil with zero findings, without reading a decoy
/// page; with the decoys removed the result is identical.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mainnet_shaped_history_replays_on_anvil_without_reading_a_decoy() {
    let dir = tempfile::tempdir().unwrap();
    let (anvil, outcome) = devnet(&dir.path().join("with"), true).await;
    let config = ChainConfig::load(&outcome.starknet_config).unwrap();
    let chain = config.starknet.as_ref().unwrap();
    let starknet: Vec<_> = outcome
        .batches
        .iter()
        .filter(|b| b.rollup == "starknet")
        .collect();
    assert_eq!(starknet.len(), 12);

    // The config the devnet wrote: every era at its L2 block, the two registries
    // with adjoining L1 ranges, the verifier.
    let versions: Vec<&str> = chain.eras.iter().map(|e| e.version.as_str()).collect();
    assert_eq!(
        versions,
        [
            "v0.9.0", "v0.10.0", "v0.11.0", "v0.11.1", "v0.13.1", "v0.13.3", "v0.13.4", "v0.14.0",
            "v0.14.1"
        ]
    );
    let registries = &chain.memory_page_registries;
    assert_eq!(registries.len(), 2);
    let switch = registries[1].from_l1_block;
    assert_eq!(registries[0].until_l1_block, Some(switch - 1));
    assert!(switch > outcome.first_block);
    assert_eq!(chain.sharp_verifiers.len(), 1);

    // What L1 holds: the 2-argument LogStateUpdate for the three 4-word-header
    // batches, the 3-argument one after; pages of both registries, decoys on both.
    let logs = |address: String, topic: B256| {
        rpc(
            &anvil.url,
            "eth_getLogs",
            json!([{"fromBlock": "0x0", "toBlock": "latest", "address": address, "topics": [hex_of(&topic)]}]),
        )
    };
    let core = format!("{:#x}", chain.core_contract);
    assert_eq!(
        logs(core.clone(), LOG_STATE_UPDATE_V0_10)
            .await
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        logs(core, LOG_STATE_UPDATE).await.as_array().unwrap().len(),
        9
    );
    let decoys: HashSet<String> = starknet
        .iter()
        .flat_map(|b| b.decoy_txs.iter().map(hex_of))
        .collect();
    let mut own_pages: HashSet<String> = HashSet::new();
    for registry in registries {
        let registered = logs(
            format!("{:#x}", registry.address),
            LOG_MEMORY_PAGE_FACT_CONTINUOUS,
        )
        .await;
        let txs: Vec<String> = registered
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["transactionHash"].as_str().unwrap().to_string())
            .collect();
        assert!(
            txs.iter().any(|t| decoys.contains(t)),
            "decoys on {registry:?}"
        );
        assert!(
            txs.iter().any(|t| !decoys.contains(t)),
            "own pages on {registry:?}"
        );
        own_pages.extend(txs.into_iter().filter(|t| !decoys.contains(t)));
    }
    // The stand-ins' logs, transaction by transaction, are the ones the Rust
    // emulation an in-memory L1 serves (`follow::a_mainnet_shaped_history…`).
    let planned = starknet_gen::generate(starknet_gen::mainnet_shaped(SEED, true)).unwrap();
    for (batch, submitted) in planned.iter().zip(&starknet) {
        assert_eq!(batch.txs.len(), submitted.l1_blocks.len());
        for (tx, block) in batch.txs.iter().zip(&submitted.l1_blocks) {
            let on_anvil: Vec<StandInLog> = rpc(
                &anvil.url,
                "eth_getLogs",
                json!([{"fromBlock": format!("{block:#x}"), "toBlock": format!("{block:#x}")}]),
            )
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["address"].as_str().unwrap().parse().unwrap(),
                    l["topics"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(common::word)
                        .collect(),
                    common::bytes(&l["data"]),
                )
            })
            .collect();
            assert_eq!(on_anvil, starknet_standin_logs(tx), "{}", tx.label);
        }
    }

    // Each decoy is alone in its block (anvil mines one transaction per block),
    // so fetching that block with its transactions would be reading it.
    let mut decoy_blocks: HashSet<String> = HashSet::new();
    for tx in &decoys {
        let found = rpc(&anvil.url, "eth_getTransactionByHash", json!([tx])).await;
        let block = rpc(
            &anvil.url,
            "eth_getBlockByHash",
            json!([found["blockHash"], false]),
        )
        .await;
        assert_eq!(block["transactions"].as_array().unwrap().len(), 1);
        decoy_blocks.insert(found["blockHash"].as_str().unwrap().to_string());
        decoy_blocks.insert(found["blockNumber"].as_str().unwrap().to_string());
    }

    // 1. The binary through a recording proxy, proving logs and transactions
    //    against headers (`headers`: every transaction the engine reads is one
    //    eth_getTransactionByHash, and no block is fetched with its transactions).
    let (proxy, handle) = FaultProxy::start(&anvil.url, FaultConfig::default())
        .await
        .unwrap();
    handle.record_requests();
    let recorded_run = dir.path().join("recorded");
    let proxy_url = format!("http://{proxy}");
    let seconds = follow(&outcome, &proxy_url, &recorded_run, "headers");
    let requests = handle.recorded_requests();
    eprintln!(
        "recorded replay: {} batches in {seconds:.2} s, {} JSON-RPC calls",
        starknet.len(),
        requests.len()
    );
    let read_txs = transactions_read(&requests, &decoy_blocks);
    let read_decoys: Vec<&String> = decoys.iter().filter(|t| read_txs.contains(*t)).collect();
    assert!(
        read_decoys.is_empty(),
        "decoy transactions read: {read_decoys:?}"
    );
    // The record is complete enough to catch a read: every own page was read through it.
    let unread: Vec<&String> = own_pages
        .iter()
        .filter(|t| !read_txs.contains(*t))
        .collect();
    assert!(unread.is_empty(), "own pages never read: {unread:?}");
    assert_no_findings(&outcome, &anvil.url, &recorded_run);
    let with_decoys = replay_of(&recorded_run, &outcome);

    // Negative control, so that the check above can fail: without the verifier
    // in the config the follower falls back to the pages registered since the
    // previous update that hash to `onchainDataHash`, which reads every
    // registration in the window, decoys included (and still picks the right
    // pages: the same replay). The record sees those reads.
    let text = std::fs::read_to_string(&outcome.starknet_config).unwrap();
    let verifier = text.find("[[starknet.sharp_verifiers]]").unwrap();
    let end = verifier + text[verifier..].find("\n\n").unwrap();
    let no_verifier = dir.path().join("no-verifier.toml");
    std::fs::write(
        &no_verifier,
        format!("{}{}", &text[..verifier], &text[end..]),
    )
    .unwrap();
    let before = handle.recorded_requests().len();
    let fallback_run = dir.path().join("fallback");
    follow_with(&no_verifier, &outcome, &proxy_url, &fallback_run, "headers");
    let fallback_reads = transactions_read(&handle.recorded_requests()[before..], &HashSet::new());
    assert!(
        decoys.iter().any(|t| fallback_reads.contains(t)),
        "the fallback path reads decoys, and the record must show it"
    );
    assert_no_findings(&outcome, &anvil.url, &fallback_run);
    assert_eq!(replay_of(&fallback_run, &outcome), with_decoys);

    // The layouts the eras and the alias contract selected.
    let expected = [
        "v0.11 header, 0.9 DA",
        "v0.11 header, 0.10 DA",
        "v0.11 header, 0.11 DA",
        "v0.11 header, 0.11 DA",
        "v0.11 header, 0.11 DA",
        "v0.13.1 header, 0.11 DA",
        "v0.13.2+ header, 0.13.3 DA",
        "v0.13.2+ header, 0.13.4 DA",
        "v0.13.2+ header, 0.13.4 DA",
        "v0.13.2+ header, 0.13.4 DA",
        "v0.13.2+ header, 0.13.4 DA",
        "v0.13.2+ header, 0.13.4 DA",
    ];
    for (n, (summary, want)) in with_decoys.summaries.iter().zip(expected).enumerate() {
        assert_eq!(summary.0, want, "batch {n}");
        assert_eq!(
            summary.1.map(|b| b.1),
            Some(n as u64 + 1),
            "L2 block of batch {n}"
        );
    }

    // The v0.14.1 batch updated an existing class's compiled class hash: the
    // leaf holds the new hash, and the entry is not counted as a declaration.
    let migration = planned
        .iter()
        .find(|b| b.format == StarknetFormat::V0_14_1Blob.label())
        .unwrap();
    let declared_before: HashSet<B256> = planned
        .iter()
        .take_while(|b| b.number < migration.number)
        .flat_map(|b| b.diff.declared_classes.keys().copied())
        .collect();
    let migrated: BTreeMap<B256, B256> = migration
        .diff
        .declared_classes
        .iter()
        .filter(|(class, _)| declared_before.contains(*class))
        .map(|(c, h)| (*c, *h))
        .collect();
    assert_eq!(migrated.len(), 1);
    let n = migration.number as usize - 1;
    assert_eq!(
        with_decoys.summaries[n].4,
        migration.diff.declared_classes.len() - 1
    );
    {
        let store = Store::open(&recorded_run.join(&config.name), &config.name).unwrap();
        let state = StarknetState::new(&store);
        for (class, compiled) in &migrated {
            let class = Felt::from_bytes_be(&class.0);
            assert_eq!(
                state.compiled_class_hash(&class).unwrap(),
                Some(Felt::from_bytes_be(&compiled.0))
            );
        }
    }

    // 2. The default (full proofs) binary through the recording proxy: the
    //    same replay, and no decoy's block or receipts downloaded (the walk's
    //    logs are leads; the proofs cover the listing, the pages and the update).
    let before = handle.recorded_requests().len();
    let full_run = dir.path().join("full");
    let seconds = follow(&outcome, &proxy_url, &full_run, "full");
    let full_requests = handle.recorded_requests()[before..].to_vec();
    let downloaded = blocks_downloaded(&full_requests);
    eprintln!(
        "full-proof replay: {seconds:.2} s, {} JSON-RPC calls, {} blocks downloaded",
        full_requests.len(),
        downloaded.len()
    );
    let full_reads = transactions_read(&full_requests, &decoy_blocks);
    assert!(
        decoys.iter().all(|t| !full_reads.contains(t)),
        "decoy transactions read under full proofs"
    );
    // The record sees downloads: every own page's block was downloaded (to
    // prove its transaction).
    for tx in &own_pages {
        let found = rpc(&anvil.url, "eth_getTransactionByHash", json!([tx])).await;
        let block = found["blockHash"].as_str().unwrap().to_lowercase();
        assert!(downloaded.contains(&block), "own page {tx} not proved");
    }
    assert_no_findings(&outcome, &anvil.url, &full_run);
    assert_eq!(replay_of(&full_run, &outcome), with_decoys);
    // Negative control under full proofs: the fallback config proves every
    // registration it reads, and the record shows decoys' blocks downloaded.
    let before = handle.recorded_requests().len();
    let full_fallback_run = dir.path().join("full-fallback");
    follow_with(
        &no_verifier,
        &outcome,
        &proxy_url,
        &full_fallback_run,
        "full",
    );
    let fallback_downloads = blocks_downloaded(&handle.recorded_requests()[before..]);
    assert!(
        decoy_blocks.iter().any(|b| fallback_downloads.contains(b)),
        "the fallback path under full proofs downloads decoys' blocks, and the record must show it"
    );
    assert_eq!(replay_of(&full_fallback_run, &outcome), with_decoys);
    drop(anvil);

    // 3. The same history without the decoys, on a fresh node: identical.
    let (bare_anvil, bare) = devnet(&dir.path().join("without"), false).await;
    assert!(bare.batches.iter().all(|b| b.decoy_txs.is_empty()));
    let bare_run = dir.path().join("bare");
    let seconds = follow(&bare, &bare_anvil.url, &bare_run, "full");
    eprintln!("replay without decoys: {seconds:.2} s");
    assert_no_findings(&bare, &bare_anvil.url, &bare_run);
    assert_eq!(replay_of(&bare_run, &bare), with_decoys);
    let roots = |o: &DevnetOutcome| -> Vec<(B256, U256)> {
        o.batches
            .iter()
            .map(|b| (b.expected_root, U256::from(b.number)))
            .collect()
    };
    assert_eq!(roots(&bare), roots(&outcome));
}
