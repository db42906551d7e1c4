//! Starknet's calldata era from mainnet genesis, through the follower's own
//! fact path (`LogStateTransitionFact` → SHARP's `LogMemoryPagesHashes` →
//! `LogMemoryPageFactContinuous` → page transactions) on an in-memory L1.
//!
//! Program-output headers before v0.8 (cairo-lang
//! `src/starkware/starknet/core/os/output.cairo` at tags v0.6.2, v0.7.0 and
//! v0.8.0; the core contract's Solidity was only published from v0.10, whose
//! `Output.sol` has `HEADER_SIZE = 4`): before v0.7.0 the header was the two
//! roots and an L1→L2 message had the 3-word header `from, to, payload_size`
//! (selector first in the payload, no nonce); v0.7.0 added the block number and
//! the 5-word L1→L2 header; v0.8.0 the config hash. Mainnet ran pre-v0.7 until
//! L2 block 832 (eqlabs/pathfinder `crates/pathfinder/src/state/block_hash.rs`:
//! mainnet `first_0_7_block` = 833). There is no real L1 program output of those
//! eras in ../shared/fixtures, so the outputs here are built word by word from
//! those serializers (plumbing for the layout; what it proves is said per test);
//! the 5-word header is checked on real mainnet pages in `starknet_history`.

use crate::common;
use crate::memory_l1::{CORE, Chain, REGISTRY, RawLog, memory};

use std::sync::Arc;

use alloy_primitives::{Address, B256, U256, address};
use alloy_sol_types::SolEvent;
use starknet_types_core::felt::Felt;
use zkreplay::audit::{BatchAudit, HaltRecord, Verdict};
use zkreplay::chain::ChainConfig;
use zkreplay::devnet::contracts::abi::LogMemoryPageFactContinuous;
use zkreplay::devnet::contracts::encode_register_task_fact;
use zkreplay::follow::starknet::StarknetEngine;
use zkreplay::follow::{FollowError, FollowOptions, Follower, L1BatchRecord, OnMismatch};
use zkreplay::hexfmt::format_word;
use zkreplay::l1::BlockTag;
use zkreplay::rollup::starknet::da::binding::onchain_data_hash;
use zkreplay::rollup::starknet::da::encode::encode_layout;
use zkreplay::rollup::starknet::da::pages::{MemoryPage, encode_page};
use zkreplay::rollup::starknet::da::program_output::{self, HeaderVersion, encode_update_state};
use zkreplay::rollup::starknet::da::{DaContract, DaStateDiff, Layout, felt_to_u256};
use zkreplay::rollup::starknet::events::{
    LOG_STATE_TRANSITION_FACT, StateUpdateEvent, encode_state_update,
};
use zkreplay::rollup::starknet::sharp::{self, LOG_MEMORY_PAGES_HASHES, PagesHashes};
use zkreplay::rollup::starknet::state::{GlobalRootRule, StarknetState};
use zkreplay::store::Store;

/// The 2021 SHARP verifier implementation (chains/starknet-mainnet.toml).
const VERIFIER: Address = address!("a739B175325cCA7b71fcB51C3032935Ef7Ac338F");

fn f(v: u64) -> Felt {
    Felt::from(v)
}

/// An L2→L1 message (3-word header in every version): from, to, payload.
fn to_l1(from: u64, to: u64, payload: &[u64]) -> Vec<Felt> {
    let mut words = vec![f(from), f(to), f(payload.len() as u64)];
    words.extend(payload.iter().map(|p| f(*p)));
    words
}

/// An L1→L2 message as the OS serialized it: before v0.7.0 `from, to,
/// payload_size` with the selector as the first payload word; from v0.7.0
/// `from, to, nonce, selector, payload_size`.
fn to_l2(version: HeaderVersion, from: u64, to: u64, selector: u64, payload: &[u64]) -> Vec<Felt> {
    let mut words = vec![f(from), f(to)];
    if version == HeaderVersion::PreV0_7 {
        words.push(f(payload.len() as u64 + 1));
        words.push(f(selector));
    } else {
        words.extend([f(7), f(selector), f(payload.len() as u64)]);
    }
    words.extend(payload.iter().map(|p| f(*p)));
    words
}

/// A calldata-era program output: the header of `version`, then both message segments.
fn output(
    version: HeaderVersion,
    roots: (Felt, Felt),
    l2_block: u64,
    config_hash: Felt,
    l1: &[Vec<Felt>],
    l2: &[Vec<Felt>],
) -> Vec<Felt> {
    let mut words = vec![roots.0, roots.1];
    match version {
        HeaderVersion::PreV0_7 => {}
        HeaderVersion::V0_7 => words.push(f(l2_block)),
        HeaderVersion::V0_11 => words.extend([f(l2_block), config_hash]),
        other => panic!("{other:?} is not a calldata-era header"),
    }
    for segment in [l1, l2] {
        let flat: Vec<Felt> = segment.iter().flatten().copied().collect();
        words.push(f(flat.len() as u64));
        words.extend(flat);
    }
    words
}

/// Word `i` of mainnet's real v0.11.1-era header page (page 3,149,201 of
/// Ethereum block 19,299,001): real roots (words 0, 1) and config hash (word 4,
/// a Pedersen hash, the kind of value v0.8+ headers carry there).
fn real_header_word(i: usize) -> Felt {
    let path =
        common::fixtures().join("ethereum/mainnet-block-19299001/page_3149201_n7_0x3e0d936d.json");
    common::felt(common::read_json(&path)["values"][i].as_str().unwrap())
}

/// Proves: the decoder reads the pre-v0.7 (2-word), v0.7 (3-word) and v0.8
/// (4-word) headers exactly as cairo-lang's serializers of those tags lay them
/// out, messages included, picks the one version that fits with no hint, and
/// each form is rejected when read at any other header size (so `detect` never
/// has two answers for these outputs).
#[test]
fn early_mainnet_headers_parse_as_cairo_lang_serialized_them() {
    let roots = (real_header_word(0), real_header_word(1));
    let config_hash = real_header_word(4);
    let l2_address = 0x049d_3657_0d4e_46f4u64;
    for (version, l2_block) in [
        (HeaderVersion::PreV0_7, 0u64),
        (HeaderVersion::V0_7, 833),
        (HeaderVersion::V0_11, 2_500),
    ] {
        let l1 = vec![to_l1(l2_address, 0xae0e_e0a6, &[1, 2])];
        let l2 = vec![
            to_l2(version, 0xae0e_e0a6, l2_address, 0x2d75, &[5]),
            to_l2(version, 0xae0e_e0a6, l2_address, 0x2d75, &[]),
        ];
        let words = output(version, roots, l2_block, config_hash, &l1, &l2);
        let parsed = program_output::detect(&words, &HeaderVersion::ALL)
            .unwrap_or_else(|e| panic!("{version:?}: {e}"));
        assert_eq!(parsed.version, version);
        assert_eq!((parsed.prev_root, parsed.new_root), roots);
        assert_eq!(
            parsed.version.has_block_number(),
            version != HeaderVersion::PreV0_7
        );
        if version.has_block_number() {
            assert_eq!(parsed.new_block_number, f(l2_block));
        }
        if version == HeaderVersion::V0_11 {
            assert_eq!(parsed.config_hash, config_hash);
        }
        assert_eq!(parsed.messages_to_l1, l1.concat());
        assert_eq!(parsed.messages_to_l2, l2.concat());
        for other in HeaderVersion::ALL.into_iter().filter(|v| *v != version) {
            assert!(
                program_output::parse(&words, other).is_err(),
                "{version:?} output also reads as {other:?}"
            );
        }
    }
    // A v0.7 output is not a pre-v0.7 one with a 5-word message read as 3 words.
    let v07 = output(
        HeaderVersion::V0_7,
        roots,
        900,
        config_hash,
        &[],
        &[to_l2(HeaderVersion::V0_7, 1, 2, 3, &[4])],
    );
    assert_eq!(
        program_output::detect(&v07, &HeaderVersion::ALL)
            .unwrap()
            .version,
        HeaderVersion::V0_7
    );
}

// ------------------------------------------------------------- the follower

/// One calldata-era update of the in-memory history.
struct EarlyUpdate {
    version: HeaderVersion,
    l2_block: u64,
    diff: DaStateDiff,
}

fn early_updates() -> Vec<EarlyUpdate> {
    let contract = |address: u64, class: Option<u64>, storage: &[(u64, u64)]| DaContract {
        address: f(address),
        nonce: None,
        class_hash: class.map(f),
        storage: storage.iter().map(|(k, v)| (f(*k), f(*v))).collect(),
    };
    let diff = |contracts: Vec<DaContract>| DaStateDiff {
        contracts,
        declared_classes: Vec::new(),
    };
    vec![
        EarlyUpdate {
            version: HeaderVersion::PreV0_7,
            l2_block: 0,
            diff: diff(vec![
                contract(0x1001, Some(0xc1a55), &[]),
                contract(0x2002, None, &[(5, 6), (7, 8)]),
            ]),
        },
        EarlyUpdate {
            version: HeaderVersion::V0_7,
            l2_block: 1,
            diff: diff(vec![contract(0x2002, None, &[(5, 9)])]),
        },
        EarlyUpdate {
            version: HeaderVersion::V0_11,
            l2_block: 2,
            diff: diff(vec![contract(0x3003, None, &[(1, 1)])]),
        },
    ]
}

/// What the in-memory L1 holds, and what a replay must find.
struct EarlyHistory {
    chain: Chain,
    config: ChainConfig,
    /// The root after each update (our own tries: plumbing).
    roots: Vec<Felt>,
    /// Per update: its fact and the memory hash of its DA page.
    facts: Vec<(B256, B256)>,
    /// Index in `chain.entries` of each update's DA-page registration.
    da_registrations: Vec<usize>,
}

fn page(start: u64, words: &[Felt]) -> MemoryPage {
    MemoryPage {
        start_addr: U256::from(start),
        values: words.iter().map(felt_to_u256).collect(),
        z: U256::from(0x1234_5678u64),
        alpha: U256::from(0x9abc_def0u64),
        // The Stark prime, as SHARP's pages use.
        prime: U256::from_str_radix(
            "800000000000011000000000000000000000000000000000000000000000001",
            16,
        )
        .unwrap(),
    }
}

fn registration(chain: &mut Chain, page: &MemoryPage) {
    let memory_hash = sharp::memory_hash(&page.values);
    let prod = sharp::page_prod(page).unwrap();
    let log = LogMemoryPageFactContinuous {
        factHash: sharp::page_fact(page, memory_hash, prod),
        memoryHash: U256::from_be_bytes(memory_hash.0),
        prod,
    };
    chain.push(
        REGISTRY,
        encode_page(page),
        vec![],
        vec![(
            REGISTRY,
            vec![LogMemoryPageFactContinuous::SIGNATURE_HASH],
            log.encode_data().into(),
        )],
    );
}

fn early_history() -> EarlyHistory {
    let scratch = tempfile::tempdir().unwrap();
    let scratch_store = Store::open(scratch.path(), "scratch").unwrap();
    let state = StarknetState::new(&scratch_store);
    let mut chain = Chain {
        fork_from: u64::MAX,
        ..Chain::default()
    };
    let mut roots = Vec::new();
    let mut facts = Vec::new();
    let mut da_registrations = Vec::new();
    let mut previous = Felt::ZERO;
    let mut address = 1_000u64;
    for update in early_updates() {
        let root = state
            .apply_and_commit(
                &update.diff.to_state_diff().unwrap(),
                GlobalRootRule::PreV0_14,
            )
            .unwrap()
            .global_root;
        let l1 = vec![to_l1(0x2002, 0xae0e_e0a6, &[update.l2_block])];
        let l2 = vec![to_l2(update.version, 0xae0e_e0a6, 0x2002, 0x2d75, &[3])];
        let words = output(
            update.version,
            (previous, root),
            update.l2_block,
            f(0x0c0f_19a5),
            &l1,
            &l2,
        );
        let da = encode_layout(&update.diff, Layout::V0_9);
        let main = page(address, &words);
        let da_page = page(address + words.len() as u64, &da);
        address += 10_000;
        let fact = sharp::state_transition_fact(&main.values, &[&da_page.values]);
        // Pages first (the main part, then the DA), then SHARP's listing, then the update.
        registration(&mut chain, &main);
        registration(&mut chain, &da_page);
        da_registrations.push(chain.entries.len() - 1);
        let listing = PagesHashes {
            fact_hash: fact,
            pages_hashes: vec![
                sharp::memory_hash(&main.values),
                sharp::memory_hash(&da_page.values),
            ],
        };
        chain.push(
            VERIFIER,
            encode_register_task_fact(fact, listing.pages_hashes.clone()),
            vec![],
            vec![(
                VERIFIER,
                vec![LOG_MEMORY_PAGES_HASHES],
                sharp::encode_pages_hashes(&listing).into(),
            )],
        );
        // The v0.11.1 signature arrived with the block hash; these eras log the 2-argument one.
        let (topic, data) = encode_state_update(&StateUpdateEvent {
            global_root: felt_to_u256(&root),
            l2_block: update.l2_block,
            block_hash: None,
        });
        let logs: Vec<RawLog> = vec![
            (CORE, vec![LOG_STATE_TRANSITION_FACT], fact.to_vec().into()),
            (CORE, vec![topic], data.into()),
        ];
        let binding = onchain_data_hash(main.values.len(), &[&da_page.values]);
        chain.push(
            CORE,
            encode_update_state(&words, binding, da_page.values.len()),
            vec![],
            logs,
        );
        facts.push((fact, sharp::memory_hash(&da_page.values)));
        roots.push(root);
        previous = root;
    }
    let config = ChainConfig::parse(&format!(
        r#"
name = "starknet-early"
rollup = "starknet"
l1_chain_id = 31337
first_l1_block = 0
log_range = 4
[starknet]
core_contract = "{CORE}"
[[starknet.eras]]
version = "v0.9.0"
from_l2_block = 0
source = "test: every version before v0.10.0 shares the DA layout"
[[starknet.memory_page_registries]]
address = "{REGISTRY}"
from_l1_block = 0
source = "test"
[[starknet.sharp_verifiers]]
address = "{VERIFIER}"
from_l1_block = 0
source = "test"
"#
    ))
    .unwrap();
    EarlyHistory {
        chain,
        config,
        roots,
        facts,
        da_registrations,
    }
}

async fn replay(
    history: &EarlyHistory,
    chain: Chain,
    dir: &std::path::Path,
) -> (
    Arc<Store>,
    Result<zkreplay::follow::SyncReport, FollowError>,
) {
    let l1 = memory(chain);
    let store = Arc::new(Store::open(dir, &history.config.name).unwrap());
    let options = FollowOptions {
        tag: BlockTag::Latest,
        on_mismatch: OnMismatch::Halt,
        ..FollowOptions::default()
    };
    let engine = Arc::new(StarknetEngine::new(&history.config).unwrap());
    let result = Follower::new(engine, &l1, store.clone(), &history.config, &options)
        .sync()
        .await;
    (store, result)
}

/// Plumbing for the roots (our own tries computed them), real for the path:
/// the follower finds each update's pages by its fact, reads the pre-v0.7,
/// v0.7 and v0.8 headers (2-argument `LogStateUpdate`), takes the L2 block of a
/// pre-v0.7 update from the event (its header has none), checks the header's
/// block number against the event from v0.7 on, and reports the header it read.
#[tokio::test]
async fn the_follower_replays_the_pre_v0_8_headers_through_the_fact_path() {
    let history = early_history();
    let dir = tempfile::tempdir().unwrap();
    let (store, result) = replay(&history, history.chain.clone(), dir.path()).await;
    result.unwrap();
    let expected = [
        ("pre-v0.7 header, 0.9 DA", 0u64, false),
        ("v0.7 header, 0.9 DA", 1, true),
        ("v0.11 header, 0.9 DA", 2, true),
    ];
    for (n, (format, l2_block, checked)) in expected.into_iter().enumerate() {
        let audit = BatchAudit::read(&store, n as u64).unwrap().unwrap();
        assert_eq!(audit.verdict, Verdict::Match, "batch {n}: {audit:?}");
        assert_eq!(
            audit.computed_root,
            format_word(&B256::from(history.roots[n].to_bytes_be()))
        );
        let block_check = audit
            .checks
            .iter()
            .find(|c| c.name == "log_state_update.block_number");
        assert_eq!(block_check.is_some(), checked, "batch {n}");
        assert!(block_check.is_none_or(|c| c.passed));
        let record = L1BatchRecord::read(&store, n as u64).unwrap().unwrap();
        assert_eq!(record.summary.format_version, format);
        assert_eq!(record.summary.l2_blocks, Some((l2_block, l2_block)));
    }
}

/// A page SHARP lists that the node never shows registered: the batch is a
/// recorded finding (a MISMATCH audit, counted by `status` and listed by the
/// API's `findings`) naming the fact and the missing memory hash, the batches
/// before it stay MATCH, and the follower halts with the same message instead
/// of retrying.
#[tokio::test]
async fn a_withheld_page_registration_is_a_recorded_finding_naming_fact_and_hash() {
    let history = early_history();
    let mut chain = history.chain.clone();
    // The node withholds the registration log of update 1's DA page (the
    // transaction is still there: only the log that leads to it is missing).
    chain.entries[history.da_registrations[1]].1.clear();
    let dir = tempfile::tempdir().unwrap();
    let (store, result) = replay(&history, chain, dir.path()).await;
    let error = result.unwrap_err();
    let (fact, hash) = history.facts[1];
    let (fact, hash) = (fact.to_string(), hash.to_string());
    let text = error.to_string();
    assert!(text.contains(&fact) && text.contains(&hash), "{text}");
    assert!(!error.is_transient(), "{error}");

    assert_eq!(
        BatchAudit::read(&store, 0).unwrap().unwrap().verdict,
        Verdict::Match
    );
    let audit = BatchAudit::read(&store, 1).unwrap().unwrap();
    assert_eq!(audit.verdict, Verdict::Mismatch);
    assert_eq!(audit.failed_checks(), ["sharp.fact_pages"]);
    let detail = &audit.checks[0].actual;
    assert!(detail.contains(&fact) && detail.contains(&hash), "{detail}");
    assert!(BatchAudit::read(&store, 2).unwrap().is_none());
    let halt = HaltRecord::read(&store).unwrap().unwrap();
    assert_eq!(halt.batch, Some(1));
    assert!(halt.reason.contains(&hash), "{}", halt.reason);

    // The API's findings list the batch with the message.
    let schema = zkreplay::api::build_schema(vec![zkreplay::api::RollupHandle::new(
        "starknet-early",
        zkreplay::api::RollupKind::Starknet,
        store.clone(),
    )]);
    let out = serde_json::to_value(
        schema
            .execute(
                r#"{ rollup(name: "starknet-early") { findings { edges { node { number verdict checks { name actual } } } } } }"#,
            )
            .await,
    )
    .unwrap();
    let edges = out["data"]["rollup"]["findings"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(edges.len(), 1, "{out}");
    let node = &edges[0]["node"];
    assert_eq!(node["number"], "0x1", "{out}");
    assert_eq!(node["checks"][0]["name"], "sharp.fact_pages");
    assert!(
        node["checks"][0]["actual"]
            .as_str()
            .unwrap()
            .contains(&hash)
    );

    // `status` counts it and fails.
    drop(schema);
    drop(store);
    let status = zkreplay::cli::status::read_status(dir.path()).unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].findings, 1);
    assert!(status[0].needs_attention());
}

// ------------------------------------------- real L1 artifacts through the follower
//
// Every real L1 artifact in ../shared/fixtures, served by an in-memory L1 to
// the follower (`Follower` + `StarknetEngine`: fetch with the KZG check of
// each blob against its versioned hash, era dispatch, decode, binding checks,
// plan and one commit), and the state it applied read back from the store.
// What is not in the fixtures is built and said so: the `updateStateKzgDA`
// call of the blob batches (their program output from the published block
// data, `z`, `y` and proofs computed with c-kzg where the real ones are not
// given) and SHARP's `LogMemoryPagesHashes` + the `updateState` call of the
// calldata pages. The state before each batch is not in the fixtures either,
// so each batch is applied to an empty state: its computed root cannot be the
// published one (the audit says MISMATCH, `program_output.prev_root` fails),
// and what is compared is the diff the follower applied.

mod kzg_call {
    alloy_sol_types::sol! {
        function updateStateKzgDA(uint256[] programOutput, bytes kzgProof);
    }
}

fn hex_file(path: &std::path::Path) -> Vec<u8> {
    zkreplay::hexfmt::parse_bytes(std::fs::read_to_string(path).unwrap().trim()).unwrap()
}

fn felt_of(word: &B256) -> Felt {
    Felt::from_bytes_be(&word.0)
}

/// `(proof, y)` opening `blob` at `z` (c-kzg, Ethereum's trusted setup).
fn open_at(blob: &[u8], z: &Felt) -> ([u8; 48], [u8; 32]) {
    let blob = c_kzg::Blob::from_bytes(blob).unwrap();
    let (proof, y) = zkreplay::blob::kzg_settings()
        .compute_kzg_proof(&blob, &c_kzg::Bytes32::new(z.to_bytes_be()))
        .unwrap();
    (
        proof.to_bytes().into_inner(),
        y.as_slice().try_into().unwrap(),
    )
}

/// A state update the in-memory L1 carries in one transaction to the core contract.
struct RealUpdate {
    calldata: Vec<u8>,
    blobs: Vec<Vec<u8>>,
    event: StateUpdateEvent,
    /// Transactions before the update (page registrations, SHARP's listing).
    before: Vec<(Address, Vec<u8>, Vec<RawLog>)>,
    /// Logs the update transaction emits before `LogStateUpdate`.
    extra_logs: Vec<RawLog>,
}

/// Follows `update` with `config` (scan from L1 block 0) on an in-memory L1,
/// recording mismatches and going on.
async fn follow_real(
    mut config: ChainConfig,
    update: RealUpdate,
) -> (
    tempfile::TempDir,
    Arc<Store>,
    Result<zkreplay::follow::SyncReport, FollowError>,
) {
    config.first_l1_block = 0;
    config.log_range = 4;
    let core = config.starknet.as_ref().unwrap().core_contract;
    let mut chain = Chain {
        fork_from: u64::MAX,
        ..Chain::default()
    };
    for (to, input, logs) in update.before {
        chain.push(to, input, vec![], logs);
    }
    let mut hashes = Vec::new();
    for blob in &update.blobs {
        let hash = zkreplay::blob::versioned_hash(&zkreplay::blob::commitment(blob).unwrap());
        chain.blobs.insert(hash, blob.clone());
        hashes.push(hash);
    }
    let (topic, data) = encode_state_update(&update.event);
    let mut logs = update.extra_logs;
    logs.push((core, vec![topic], data.into()));
    chain.push(core, update.calldata, hashes, logs);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), &config.name).unwrap());
    let options = FollowOptions {
        tag: BlockTag::Latest,
        on_mismatch: OnMismatch::Continue,
        ..FollowOptions::default()
    };
    let engine = Arc::new(StarknetEngine::new(&config).unwrap());
    let l1 = memory(chain);
    let result = Follower::new(engine, &l1, store.clone(), &config, &options)
        .sync()
        .await;
    (dir, store, result)
}

/// The follower's batch 0 holds exactly `diff`: every value it names reads
/// back from the store, and the follower's own counts of contracts, storage
/// writes and declared classes are the diff's (so it applied nothing else).
fn assert_applied(store: &Store, diff: &zkreplay::diff::StateDiff, what: &str) {
    let reader = zkreplay::rollup::starknet::query::StarknetReader::new(store);
    for (address, contract) in &diff.contracts {
        let a = felt_of(address);
        for (key, value) in &contract.storage {
            assert_eq!(
                reader.storage_at(&a, &felt_of(key), 0).unwrap(),
                felt_of(value),
                "{what}: {address}/{key}"
            );
        }
        let state = reader.contract_at(&a, 0).unwrap();
        if let Some(nonce) = &contract.nonce {
            assert_eq!(state.nonce, felt_of(nonce), "{what}: nonce of {address}");
        }
        if let Some(class) = &contract.class_hash {
            assert_eq!(
                state.class_hash,
                felt_of(class),
                "{what}: class of {address}"
            );
        }
    }
    for (class, compiled) in &diff.declared_classes {
        assert_eq!(
            reader.compiled_class_hash_at(&felt_of(class), 0).unwrap(),
            felt_of(compiled),
            "{what}: class {class}"
        );
    }
    let summary = L1BatchRecord::read(store, 0).unwrap().unwrap().summary;
    assert_eq!(summary.contracts_touched, diff.contracts.len(), "{what}");
    assert_eq!(
        summary.storage_writes,
        diff.contracts
            .values()
            .map(|c| c.storage.len())
            .sum::<usize>(),
        "{what}"
    );
    assert_eq!(
        summary.classes_declared,
        diff.declared_classes.len(),
        "{what}"
    );
}

/// Batch 0's audit: every check but the root and `prev_root` (the state before
/// the batch is not in the fixtures) passed; returns the names of the checks.
fn assert_bound(store: &Store, what: &str) -> Vec<String> {
    let audit = BatchAudit::read(store, 0).unwrap().unwrap();
    let failed = audit.failed_checks();
    assert!(
        failed
            .iter()
            .all(|c| ["state_root", "program_output.prev_root"].contains(c)),
        "{what}: {failed:?} ({audit:?})"
    );
    assert!(audit.skipped_checks().is_empty(), "{what}: {audit:?}");
    let names: Vec<String> = audit.checks.iter().map(|c| c.name.clone()).collect();
    for needed in [
        "log_state_update.global_root",
        "log_state_update.block_number",
    ] {
        assert!(names.iter().any(|n| n == needed), "{what}: no {needed}");
    }
    names
}

fn mainnet_config() -> ChainConfig {
    ChainConfig::load(&common::root().join("chains/starknet-mainnet.toml")).unwrap()
}

/// A v0.13.1 `updateStateKzgDA(uint256[],bytes)` of one blob: the 6-word
/// header, the KZG segment for `z` and `y`, no messages.
fn v0_13_1_call(header: [Felt; 5], blob: &[u8], z: Felt, proof: [u8; 48], y: [u8; 32]) -> Vec<u8> {
    use alloy_sol_types::SolCall;
    let commitment = zkreplay::blob::commitment(blob).unwrap();
    let (c_low, c_high) = program_output::split_commitment(&commitment);
    let (y_low, y_high) = program_output::split_y(&y);
    let mut words = header.to_vec();
    words.extend([
        Felt::ONE,
        c_low,
        c_high,
        z,
        y_low,
        y_high,
        Felt::ZERO,
        Felt::ZERO,
    ]);
    kzg_call::updateStateKzgDACall {
        programOutput: words.iter().map(felt_to_u256).collect(),
        kzgProof: proof.to_vec().into(),
    }
    .abi_encode()
}

/// Real: mainnet blobs of L2 blocks 631,861 and 671,070 (v0.13.1) and the
/// feeder gateway's state updates of those blocks. The follower's applied diff
/// is the published one (storage, and the nonce v0.13.1 writes for every
/// contract: changed ones in the state update, the others in `nonces.json`,
/// 0x1 at 0). Built: the call (roots, number and hash from the state update;
/// z is our v0.13.1 formula, checked on real data by
/// `starknet_da::mainnet_kzg_z_proof_and_roots`; y and the proof by c-kzg).
#[tokio::test]
async fn real_mainnet_v0_13_1_blobs_through_the_follower_apply_the_published_diff() {
    use zkreplay::rollup::starknet::da::batch::{BatchInput, DaInput, decode_batch};
    use zkreplay::rollup::starknet::da::{MemoryAliases, binding};
    for block in [631_861u64, 671_070] {
        let dir = common::fixtures().join(format!("starknet/mainnet-v0.13.1-blobs/{block}"));
        let blob = hex_file(&dir.join("blob.hex"));
        let published = common::read_json(&dir.join("state_update.json"));
        let mut expected = crate::starknet_da::feeder_diff(&published);
        for entry in common::read_json(&dir.join("nonces.json"))
            .as_array()
            .unwrap()
        {
            let address =
                B256::from(common::felt(entry["address"].as_str().unwrap()).to_bytes_be());
            let nonce = common::felt(&format!("0x{}", entry["nonce"].as_str().unwrap()));
            expected.contracts.entry(address).or_default().nonce =
                Some(B256::from(nonce.to_bytes_be()));
        }
        // The only contract in neither list is 0x1 (the block-hash contract,
        // no nonce): the DA writes its nonce as 0.
        let one = B256::from(Felt::ONE.to_bytes_be());
        for (address, contract) in expected.contracts.iter_mut() {
            if contract.nonce.is_none() {
                assert_eq!(*address, one, "{block}");
                contract.nonce = Some(B256::ZERO);
            }
        }
        // The DA felts z is computed over (plumbing: our decoder's exact DA).
        let blobs = vec![blob.clone()];
        let da = decode_batch(
            &BatchInput {
                batch: None,
                da: DaInput::Blobs(&blobs),
                l1_update: None,
                versioned_hashes: None,
                blobs_checked: false,
                layout: Some(Layout::V0_11),
            },
            &MemoryAliases::new(),
        )
        .unwrap()
        .da;
        let commitment = zkreplay::blob::commitment(&blob).unwrap();
        let z = binding::z_v0_13_1(&da, &commitment);
        let (proof, y) = open_at(&blob, &z);
        let word = |k: &str| common::felt(published[k].as_str().unwrap());
        let new_root = word("new_root");
        let block_hash = word("block_hash");
        let header = [word("old_root"), new_root, f(block), block_hash, f(0xc0f1)];
        let update = RealUpdate {
            calldata: v0_13_1_call(header, &blob, z, proof, y),
            blobs,
            event: StateUpdateEvent {
                global_root: felt_to_u256(&new_root),
                l2_block: block,
                block_hash: Some(felt_to_u256(&block_hash)),
            },
            before: vec![],
            extra_logs: vec![],
        };
        let (_dir, store, result) = follow_real(mainnet_config(), update).await;
        result.unwrap();
        let what = format!("mainnet {block}");
        assert_bound(&store, &what);
        let record = L1BatchRecord::read(&store, 0).unwrap().unwrap();
        assert_eq!(record.summary.format_version, "v0.13.1 header, 0.11 DA");
        assert_applied(&store, &expected, &what);
    }
}

/// Real: mainnet blocks 651,053 – 651,056 (v0.13.1): the blob, the SNOS output's
/// roots, block number and hash, and the z and KZG proof posted on L1. Through
/// the follower every binding check passes with the real z and the real proof
/// (`y` is computed, and only the real value makes the real proof verify).
/// There is no published diff of these blocks in the fixtures: the diff is
/// checked only as the decoder's.
#[tokio::test]
async fn real_mainnet_kzg_batches_pass_every_binding_check_through_the_follower() {
    for block in 651_053u64..=651_056 {
        let dir = common::fixtures().join(format!("starknet/mainnet-kzg/{block}"));
        let blob = hex_file(&dir.join("blob_data.txt"));
        let snos = common::read_json(&dir.join("snos_output.json"));
        let s = |k: &str| common::felt(snos[k].as_str().unwrap());
        let z = common::felt(std::fs::read_to_string(dir.join("x_0.txt")).unwrap().trim());
        let proof: [u8; 48] = hex_file(&dir.join("kzg_proof.txt")).try_into().unwrap();
        let (_, y) = open_at(&blob, &z);
        let header = [
            s("initial_root"),
            s("final_root"),
            s("new_block_number"),
            s("new_block_hash"),
            s("starknet_os_config_hash"),
        ];
        assert_eq!(s("new_block_number"), f(block));
        let update = RealUpdate {
            calldata: v0_13_1_call(header, &blob, z, proof, y),
            blobs: vec![blob],
            event: StateUpdateEvent {
                global_root: felt_to_u256(&s("final_root")),
                l2_block: block,
                block_hash: Some(felt_to_u256(&s("new_block_hash"))),
            },
            before: vec![],
            extra_logs: vec![],
        };
        let (_dir, store, result) = follow_real(mainnet_config(), update).await;
        result.unwrap();
        let names = assert_bound(&store, &format!("mainnet {block}"));
        for check in ["kzg.z", "kzg.proof[0]", "kzg.versioned_hash[0]"] {
            assert!(names.iter().any(|n| n == check), "{block}: no {check}");
        }
    }
}

/// The v0.13.2+ call for `blobs`: the 10-word header, z over the DA, each blob
/// opened at z (c-kzg).
fn v0_13_2_call(header: [Felt; 8], blobs: &[Vec<u8>], da: &[Felt]) -> Vec<u8> {
    use zkreplay::rollup::starknet::da::binding;
    let commitments: Vec<[u8; 48]> = blobs
        .iter()
        .map(|b| zkreplay::blob::commitment(b).unwrap())
        .collect();
    let z = binding::z_v0_13_2(da, &commitments);
    let (proofs, ys): (Vec<[u8; 48]>, Vec<[u8; 32]>) = blobs.iter().map(|b| open_at(b, &z)).unzip();
    let mut words = header.to_vec();
    words.extend([Felt::ONE, Felt::ZERO, z, f(blobs.len() as u64)]);
    for c in &commitments {
        let (low, high) = program_output::split_commitment(c);
        words.extend([low, high]);
    }
    for y in &ys {
        let (low, high) = program_output::split_y(y);
        words.extend([low, high]);
    }
    words.extend([Felt::ZERO, Felt::ZERO]);
    program_output::encode_update_state_kzg(&words, &proofs)
}

/// A Sepolia batch's blobs and per-block feeder updates, as the call and event
/// that carried it (header from the first and last block).
fn sepolia_update(dir: &std::path::Path, da: &[Felt]) -> RealUpdate {
    let mut blob_files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hex"))
        .collect();
    blob_files.sort();
    let blobs: Vec<Vec<u8>> = blob_files.iter().map(|p| hex_file(p)).collect();
    let mut blocks: Vec<(u64, std::path::PathBuf)> = std::fs::read_dir(dir.join("blocks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let stem = p.file_stem().unwrap().to_str().unwrap().to_owned();
            (stem.rsplit('_').next().unwrap().parse().unwrap(), p)
        })
        .collect();
    blocks.sort();
    let first = common::read_json(&blocks[0].1);
    let last = common::read_json(&blocks.last().unwrap().1);
    let word = |v: &serde_json::Value| common::felt(v.as_str().unwrap());
    let (first_block, last_block) = (blocks[0].0, blocks.last().unwrap().0);
    let header = [
        word(&first["old_root"]),
        word(&last["new_root"]),
        f(first_block - 1),
        f(last_block),
        Felt::ZERO,
        word(&last["block_hash"]),
        Felt::ZERO,
        Felt::ZERO,
    ];
    RealUpdate {
        calldata: v0_13_2_call(header, &blobs, da),
        event: StateUpdateEvent {
            global_root: felt_to_u256(&word(&last["new_root"])),
            l2_block: last_block,
            block_hash: Some(felt_to_u256(&word(&last["block_hash"]))),
        },
        blobs,
        before: vec![],
        extra_logs: vec![],
    }
}

fn sepolia_config() -> ChainConfig {
    let mut config =
        ChainConfig::load(&common::root().join("chains/starknet-sepolia.toml")).unwrap();
    config.l1_chain_id = 31337;
    config
}

/// Real: Sepolia v0.13.3 batches of L1 blocks 7,070,019 (1 blob, L2 309,144 –
/// 309,145) and 7,070,043 (3 blobs, 256 L2 blocks), and the v0.13.4 batch of
/// 7,791,723 (2 blobs, 384 L2 blocks). The follower picks the compressed
/// layout, v0.13.3 or v0.13.4 by the alias-contract writes, and applies
/// exactly the diff our decoder reads from the blobs (aliases resolved by the
/// batch's own 0x2 writes), every value of which is the published one of the
/// blocks' updates (squashed); the converse, that every published entry is in
/// the DA unless restored within the range, is
/// `starknet_da::sepolia_v0_13_3_batches_equal_the_squash_of_their_blocks` and
/// `…_v0_13_4_batch_decompresses_and_resolves_in_range_aliases`.
/// Built: the call (header from the blocks, z our v0.13.2 formula, checked on
/// cairo-lang's own batches by `starknet_da::oracle_seed1_blob_batches_decode_and_bind`,
/// c-kzg openings).
#[tokio::test]
async fn real_sepolia_compressed_batches_through_the_follower_apply_the_published_values() {
    use zkreplay::rollup::starknet::da::MemoryAliases;
    use zkreplay::rollup::starknet::da::batch::{BatchInput, DaInput, decode_batch};
    for (batch, layout) in [
        ("sepolia-v0.13.3-batches/l1-7070019", Layout::V0_13_3),
        ("sepolia-v0.13.3-batches/l1-7070043", Layout::V0_13_3),
        ("sepolia-v0.13.4-batches/l1-7791723", Layout::V0_13_4),
    ] {
        let dir = common::fixtures().join("starknet").join(batch);
        // Our decoder's reading of the blobs, the reference the store must hold.
        let probe = sepolia_update(&dir, &[]);
        let decoded = decode_batch(
            &BatchInput {
                batch: None,
                da: DaInput::Blobs(&probe.blobs),
                l1_update: None,
                versioned_hashes: None,
                blobs_checked: false,
                layout: Some(layout),
            },
            &MemoryAliases::new(),
        )
        .unwrap();
        assert!(decoded.unresolved_aliases.is_empty(), "{batch}");
        let published = crate::starknet_da::squash(&crate::starknet_da::block_updates(&dir));
        for (address, got) in &decoded.diff.contracts {
            let want = &published.contracts[address];
            for (key, value) in &got.storage {
                assert_eq!(
                    want.storage.get(key),
                    Some(value),
                    "{batch}: {address}/{key}"
                );
            }
        }
        let update = sepolia_update(&dir, &decoded.da);
        let (_dir, store, result) = follow_real(sepolia_config(), update).await;
        result.unwrap();
        assert_bound(&store, batch);
        let record = L1BatchRecord::read(&store, 0).unwrap().unwrap();
        assert_eq!(
            record.summary.format_version,
            format!("v0.13.2+ header, {} DA", layout.name())
        );
        assert_applied(&store, &decoded.diff, batch);
    }
}

/// Real: the four `registerContinuousMemoryPage` transactions of Ethereum block
/// 19,299,001 (registry 0xFD14…, Feb 2024) with their receipts' real
/// `LogMemoryPageFactContinuous`, served as they are. Built: SHARP's listing
/// (header of L2 block 579,400 and the page after it) and the `updateState`
/// call with its `LogStateTransitionFact` (neither is in the fixtures). The
/// follower finds the two pages by the fact among the block's two other real
/// pages, matches each real logged memory hash to its page, recomputes the
/// fact, reads the real 5-word header and applies exactly the diff the real
/// DA page decodes to (85 contracts).
#[tokio::test]
async fn real_calldata_pages_of_block_19299001_through_the_follower_fact_path() {
    use crate::starknet_history::{
        REGISTRY as REAL_REGISTRY, felts, page_at, real_pages, real_registrations,
    };
    use zkreplay::rollup::starknet::da::{DaEnd, decode_da};
    let registry: Address = REAL_REGISTRY.parse().unwrap();
    // The SHARP verifier implementation of 2023-24 (chains/starknet-mainnet.toml).
    let verifier = address!("d51A3D50d4D2f99a345a66971E650EEA064DD8dF");
    let mut before: Vec<(Address, Vec<u8>, Vec<RawLog>)> = real_registrations()
        .into_iter()
        .map(|r| {
            let log: RawLog = (registry, r.topics, r.data.into());
            (registry, r.input, vec![log])
        })
        .collect();
    assert_eq!(before.len(), 4);
    let pages = real_pages();
    let header = page_at(&pages, 3_149_201);
    let da = page_at(&pages, 3_149_208);
    let fact = sharp::state_transition_fact(&header.values, &[&da.values]);
    let listing = PagesHashes {
        fact_hash: fact,
        pages_hashes: vec![
            sharp::memory_hash(&header.values),
            sharp::memory_hash(&da.values),
        ],
    };
    before.push((
        verifier,
        encode_register_task_fact(fact, listing.pages_hashes.clone()),
        vec![(
            verifier,
            vec![LOG_MEMORY_PAGES_HASHES],
            sharp::encode_pages_hashes(&listing).into(),
        )],
    ));
    let words = felts(&header);
    let mut config = mainnet_config();
    let chain = config.starknet.as_mut().unwrap();
    // The in-memory L1 starts at block 0: every listed address from there.
    for range in chain
        .memory_page_registries
        .iter_mut()
        .chain(chain.sharp_verifiers.iter_mut())
    {
        range.from_l1_block = 0;
    }
    let update = RealUpdate {
        calldata: encode_update_state(
            &words,
            onchain_data_hash(header.values.len(), &[&da.values]),
            da.values.len(),
        ),
        blobs: vec![],
        event: StateUpdateEvent {
            global_root: felt_to_u256(&words[1]),
            l2_block: 579_400,
            block_hash: Some(felt_to_u256(&words[3])),
        },
        before,
        extra_logs: vec![(CORE, vec![LOG_STATE_TRANSITION_FACT], fact.to_vec().into())],
    };
    let (_dir, store, result) = follow_real(config, update).await;
    result.unwrap();
    let names = assert_bound(&store, "block 19,299,001");
    assert!(names.iter().any(|n| n == "calldata.onchain_data_hash"));
    let record = L1BatchRecord::read(&store, 0).unwrap().unwrap();
    assert_eq!(record.summary.format_version, "v0.11 header, 0.11 DA");
    let (posted, _) = decode_da(&felts(&da), Layout::V0_11, DaEnd::Exact).unwrap();
    let diff = posted.to_state_diff().unwrap();
    assert_eq!(diff.contracts.len(), 85);
    assert_applied(&store, &diff, "block 19,299,001");
}
