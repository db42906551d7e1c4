//! Starknet's history on L1: the calldata-era page path on real mainnet
//! transactions, the era table of the shipped configs, v0.14 class migration and
//! encrypted DA.
//!
//! Real data: `../shared/fixtures/ethereum/mainnet-block-19299001` (Ethereum block
//! 19,299,001 as `eth_getBlockByNumber` + receipts, with four
//! `registerContinuousMemoryPage` transactions to SHARP's registry 0xFD14…).
//! Expected memory hashes, products and page facts are the ones the real registry
//! logged. The fixture has no `LogMemoryPagesHashes` (it is in a later L1 block),
//! so the selection test builds that one event from the pages the fixture's
//! README pairs (header of L2 block 579,400 + the page right after it); that part
//! is simulated, and says so.

use crate::common;

use std::path::{Path, PathBuf};

use alloy_primitives::{Address, B256, U256};
use serde_json::Value;
use starknet_types_core::felt::Felt;
use zkreplay::chain::ChainConfig;
use zkreplay::diff::StateDiff;
use zkreplay::rollup::starknet::da::batch::{BatchInput, DaInput, decode_batch};
use zkreplay::rollup::starknet::da::pages::MemoryPage;
use zkreplay::rollup::starknet::da::program_output::{self, HeaderVersion, L1Binding, L1Update};
use zkreplay::rollup::starknet::da::{
    DaEnd, DaError, Layout, MemoryAliases, binding, decode_da, felt_from_u256,
};
use zkreplay::rollup::starknet::dispatch::{self, LayoutRule};
use zkreplay::rollup::starknet::sharp::{
    self, LOG_MEMORY_PAGE_FACT_CONTINUOUS, PageRegistration, PagesHashes,
};
use zkreplay::rollup::starknet::state::{ClassChange, GlobalRootRule, StarknetState};
use zkreplay::store::Store;

fn block_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/ethereum/mainnet-block-19299001")
}

fn rpc_result(file: &str) -> Value {
    let text = std::fs::read_to_string(block_dir().join("raw").join(file)).unwrap();
    let mut value: Value = serde_json::from_str(&text).unwrap();
    value["result"].take()
}

/// One real page registration: the transaction input and its registry log.
pub struct RealRegistration {
    pub input: Vec<u8>,
    pub topics: Vec<B256>,
    pub data: Vec<u8>,
}

pub const REGISTRY: &str = "0xfd14567eaf9ba941cb8c8a94eec14831ca7fd1b4";

/// Every transaction of block 19,299,001 sent to the registry, with the registry
/// log of its receipt.
pub fn real_registrations() -> Vec<RealRegistration> {
    let block = rpc_result("block.json");
    let receipts = rpc_result("receipts.json");
    let mut out = Vec::new();
    for tx in block["transactions"].as_array().unwrap() {
        if tx["to"].as_str() != Some(REGISTRY) {
            continue;
        }
        let receipt = receipts
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["transactionHash"] == tx["hash"])
            .unwrap();
        assert_eq!(receipt["status"], "0x1");
        let log = receipt["logs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["address"].as_str() == Some(REGISTRY))
            .unwrap();
        out.push(RealRegistration {
            input: common::bytes(&tx["input"]),
            topics: log["topics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| B256::from_slice(&common::bytes(t)))
                .collect(),
            data: common::bytes(&log["data"]),
        });
    }
    out
}

pub fn felts(page: &MemoryPage) -> Vec<Felt> {
    page.values
        .iter()
        .enumerate()
        .map(|(i, v)| felt_from_u256(v, "page value", i).unwrap())
        .collect()
}

pub fn page_at(pages: &[MemoryPage], start: u64) -> MemoryPage {
    pages
        .iter()
        .find(|p| p.start_addr == U256::from(start))
        .unwrap()
        .clone()
}

pub fn real_pages() -> Vec<MemoryPage> {
    real_registrations()
        .iter()
        .flat_map(|r| sharp::pages_in_call(&r.input).unwrap())
        .collect()
}

#[test]
fn real_registry_logs_match_the_recomputed_memory_hash_product_and_fact() {
    let registrations = real_registrations();
    assert_eq!(
        registrations.len(),
        4,
        "the block has four page registrations"
    );
    for registration in &registrations {
        assert_eq!(registration.topics[0], LOG_MEMORY_PAGE_FACT_CONTINUOUS);
        let logged = sharp::decode_page_fact(&registration.topics, &registration.data).unwrap();
        let pages = sharp::pages_in_call(&registration.input).unwrap();
        assert_eq!(pages.len(), 1);
        let page = &pages[0];
        let memory_hash = sharp::memory_hash(&page.values);
        assert_eq!(U256::from_be_bytes(memory_hash.0), logged.memory_hash);
        let prod = sharp::page_prod(page).unwrap();
        assert_eq!(prod, logged.prod);
        assert_eq!(sharp::page_fact(page, memory_hash, prod), logged.fact_hash);
    }
}

#[test]
fn real_header_pages_parse_as_the_five_word_v0_11_1_header() {
    let pages = real_pages();
    for (start, block) in [(3_149_201u64, 579_400u64), (3_149_990, 579_415)] {
        let words = felts(&page_at(&pages, start));
        assert_eq!(words.len(), 7);
        let output = program_output::detect(&words, &HeaderVersion::ALL).unwrap();
        assert_eq!(output.version, HeaderVersion::V0_11);
        assert_eq!(output.new_block_number, Felt::from(block));
        assert_eq!(output.new_block_hash, Some(words[3]));
        assert_eq!(output.config_hash, words[4]);
        assert!(output.messages_to_l1.is_empty() && output.messages_to_l2.is_empty());
    }
}

#[test]
fn real_state_diff_pages_decode_exactly_in_the_v0_11_layout() {
    let pages = real_pages();
    // (page, contracts, the block-hash contract 0x1 key it writes) as the
    // fixture's README reads them.
    for (start, contracts, block_hash_key) in [
        (3_149_208u64, 85usize, 579_390u64),
        (3_148_670, 61, 579_410),
    ] {
        let words = felts(&page_at(&pages, start));
        let (diff, used) = decode_da(&words, Layout::V0_11, DaEnd::Exact).unwrap();
        assert_eq!(used, words.len());
        assert_eq!(diff.contracts.len(), contracts);
        assert!(diff.declared_classes.is_empty());
        let block_hashes = diff
            .contracts
            .iter()
            .find(|c| c.address == Felt::ONE)
            .expect("the block-hash contract 0x1 is written");
        assert!(
            block_hashes
                .storage
                .iter()
                .any(|(key, _)| *key == Felt::from(block_hash_key))
        );
    }
}

/// Simulated join (the real `LogMemoryPagesHashes` is not in the fixtures): the
/// real header of L2 block 579,400 and the real page that follows it in memory,
/// among the block's other real pages as decoys.
#[test]
fn pages_of_a_fact_are_selected_among_real_decoys_and_decode() {
    let registrations = real_registrations();
    let pages = real_pages();
    let header = page_at(&pages, 3_149_201);
    let da = page_at(&pages, 3_149_208);
    assert_eq!(
        header.start_addr + U256::from(7u8),
        da.start_addr,
        "contiguous"
    );
    let fact = sharp::state_transition_fact(&header.values, &[&da.values]);
    let pages_hashes = vec![
        PagesHashes {
            fact_hash: B256::repeat_byte(0xde),
            pages_hashes: vec![sharp::memory_hash(&page_at(&pages, 3_149_990).values)],
        },
        PagesHashes {
            fact_hash: fact,
            pages_hashes: vec![
                sharp::memory_hash(&header.values),
                sharp::memory_hash(&da.values),
            ],
        },
    ];
    let logged: Vec<PageRegistration<'_>> = registrations
        .iter()
        .map(|r| PageRegistration {
            memory_hash: sharp::decode_page_fact(&r.topics, &r.data)
                .unwrap()
                .memory_hash,
            calldata: &r.input,
        })
        .collect();
    let selected = sharp::select_fact_pages(fact, &pages_hashes, &logged).unwrap();
    assert_eq!(selected.main, header);
    assert_eq!(selected.da, vec![da.clone()]);

    // The page path into the batch decoder, as the follower will call it: the
    // update's program output is the main page, its binding the DA node.
    let onchain_data_hash = binding::onchain_data_hash(header.values.len(), &[&da.values]);
    let update = L1Update {
        program_output: felts(&header),
        binding: L1Binding::Calldata {
            onchain_data_hash,
            onchain_data_size: U256::from(da.values.len()),
        },
    };
    let mainnet = ChainConfig::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("chains/starknet-mainnet.toml"),
    )
    .unwrap();
    let rule = dispatch::layout_rule_at(mainnet.starknet.as_ref().unwrap(), 579_400).unwrap();
    assert_eq!(rule, LayoutRule::Fixed(Layout::V0_11));
    let decoded = decode_batch(
        &BatchInput {
            batch: Some(0),
            da: DaInput::Pages(&selected.da),
            l1_update: Some(&update),
            versioned_hashes: None,
            blobs_checked: false,
            layout: rule.forced(),
        },
        &MemoryAliases::new(),
    )
    .unwrap();
    assert!(decoded.all_checks_passed(), "{:?}", decoded.findings);
    assert_eq!(decoded.diff.contracts.len(), 85);

    // Without the DA page the error names the fact and the missing hash.
    let err = sharp::select_fact_pages(fact, &pages_hashes, &logged[..0]).unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&fact.to_string()), "{text}");
    assert!(
        text.contains(&sharp::memory_hash(&header.values).to_string()),
        "{text}"
    );
}

fn mainnet() -> ChainConfig {
    ChainConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("chains/starknet-mainnet.toml"))
        .unwrap()
}

/// ACCEPTANCE: the shipped mainnet config and the dispatcher give a layout for
/// every era, never `LayoutUndetermined`.
#[test]
fn mainnet_config_resolves_a_layout_for_every_era() {
    let config = mainnet();
    let chain = config.starknet.as_ref().unwrap();
    let mut blocks = vec![0u64, 5_000, 30_000, 70_000, 700_000];
    blocks.extend(chain.eras.iter().map(|e| e.from_l2_block));
    blocks.extend(chain.eras.iter().map(|e| e.from_l2_block + 1));
    for block in blocks {
        let rule = dispatch::layout_rule_at(chain, block)
            .unwrap_or_else(|e| panic!("L2 block {block}: {e}"));
        for before in [false, true] {
            for in_batch in [false, true] {
                let layout = rule.resolve(before, in_batch);
                match rule {
                    LayoutRule::Fixed(fixed) => assert_eq!(layout, fixed),
                    LayoutRule::Compressed => assert!(layout.is_compressed()),
                }
            }
        }
    }
    let at = |block| dispatch::layout_rule_at(chain, block).unwrap();
    // The boundaries the L1 data cannot show by itself.
    assert_eq!(at(4_882), LayoutRule::Fixed(Layout::V0_9));
    assert_eq!(at(4_883), LayoutRule::Fixed(Layout::V0_10));
    assert_eq!(at(28_613), LayoutRule::Fixed(Layout::V0_11));
    assert_eq!(at(700_000), LayoutRule::Fixed(Layout::V0_11));
    assert_eq!(at(934_456), LayoutRule::Fixed(Layout::V0_11));
    assert_eq!(at(934_457), LayoutRule::Compressed);
    // Every listed number names a source.
    assert!(chain.eras.iter().all(|e| !e.source.trim().is_empty()));
    assert!(
        chain
            .memory_page_registries
            .iter()
            .chain(&chain.sharp_verifiers)
            .all(|c| !c.source.trim().is_empty())
    );
}

#[test]
fn mainnet_registries_cover_the_real_registration_block() {
    let config = mainnet();
    let chain = config.starknet.as_ref().unwrap();
    let registry: Address = REGISTRY.parse().unwrap();
    assert!(
        chain
            .registries_for(19_299_001, 19_299_001)
            .contains(&registry)
    );
    assert_eq!(chain.registries_for(13_500_000, 13_500_001).len(), 2);
    assert!(!chain.verifiers_for(19_299_001, 19_299_100).is_empty());
}

/// Simulated (no real v0.14.1 batch in the fixtures): a class entry for a class
/// that already has a leaf is an update of that leaf, reported as such.
#[test]
fn a_migrated_compiled_class_hash_changes_the_class_leaf() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "starknet-test").unwrap();
    let state = StarknetState::new(&store);
    let word = |v: u64| B256::from(Felt::from(v).to_bytes_be());
    let class = word(0xc1a55);
    let (poseidon_compiled, blake_compiled) = (word(0x1111), word(0x2222));

    let mut declare = StateDiff::default();
    declare.declared_classes.insert(class, poseidon_compiled);
    let entries = state.classify_class_entries(&declare).unwrap();
    assert_eq!(entries[0].change, ClassChange::Declared);
    let declared = state
        .apply_and_commit(&declare, GlobalRootRule::V0_14)
        .unwrap();

    let mut migrate = StateDiff::default();
    migrate.declared_classes.insert(class, blake_compiled);
    let entries = state.classify_class_entries(&migrate).unwrap();
    assert_eq!(
        entries[0].change,
        ClassChange::CompiledHashUpdated {
            previous: Felt::from(0x1111u64)
        }
    );
    let migrated = state
        .apply_and_commit(&migrate, GlobalRootRule::V0_14)
        .unwrap();
    assert_ne!(migrated.classes_root, declared.classes_root);
    assert_eq!(
        state.compiled_class_hash(&Felt::from(0xc1a55u64)).unwrap(),
        Some(Felt::from(0x2222u64))
    );
    // The migrated trie is the trie of a chain that declared the class with the
    // new hash directly: one leaf, replaced.
    let other = tempfile::tempdir().unwrap();
    let other_store = Store::open(other.path(), "starknet-test").unwrap();
    let direct = StarknetState::new(&other_store)
        .apply_and_commit(&migrate, GlobalRootRule::V0_14)
        .unwrap();
    assert_eq!(migrated.classes_root, direct.classes_root);
    // Repeating the current hash changes nothing.
    let entries = state.classify_class_entries(&migrate).unwrap();
    assert_eq!(entries[0].change, ClassChange::Unchanged);
}

/// Simulated: the v0.14 OS's encrypted DA layout (sequencer `os/encrypt.cairo`:
/// `[n_keys, sn_public_keys, encrypted_symmetric_keys, ciphertext]`) in place of
/// the compressed DA, behind a real-shaped v0.13.2+ program output.
#[test]
fn an_encrypted_da_is_reported_as_such() {
    let n_keys = 2usize;
    let mut da = vec![Felt::from(n_keys as u64)];
    da.extend((0..2 * n_keys).map(|i| Felt::from(0xabcdef_u64 + i as u64)));
    da.extend((0..40).map(|i| Felt::from(u64::MAX - i)));
    let mut output = vec![
        Felt::from(1u8),
        Felt::from(2u8),
        Felt::from(9u8),
        Felt::from(10u8),
    ];
    output.extend([
        Felt::from(3u8),
        Felt::from(4u8),
        Felt::ZERO,
        Felt::from(5u8),
    ]);
    output.extend([Felt::ZERO, Felt::ZERO, Felt::ZERO, Felt::ZERO]);
    let update = L1Update {
        program_output: output,
        binding: L1Binding::None,
    };
    for layout in [None, Some(Layout::V0_13_4)] {
        let err = decode_batch(
            &BatchInput {
                batch: Some(7),
                da: DaInput::Felts(&da),
                l1_update: Some(&update),
                versioned_hashes: None,
                blobs_checked: false,
                layout,
            },
            &MemoryAliases::new(),
        )
        .unwrap_err();
        assert!(matches!(err, DaError::Encrypted { n_keys: 2 }), "{err}");
        assert!(
            err.to_string()
                .contains("DA encrypted (for 2 key(s)), state cannot be rebuilt without the keys")
        );
    }
}

#[test]
fn blob_count_is_not_capped_at_six() {
    // A v0.14-style header with nine blobs: z, n_blobs, 9 commitments, 9 evaluations.
    let mut output = vec![Felt::from(1u8); 8];
    output.extend([Felt::ONE, Felt::ZERO, Felt::from(77u8), Felt::from(9u8)]);
    output.extend((0..36).map(|i| Felt::from(i as u64)));
    output.extend([Felt::ZERO, Felt::ZERO]);
    let parsed = program_output::parse(&output, HeaderVersion::V0_13_2).unwrap();
    assert_eq!(parsed.kzg.unwrap().commitments.len(), 9);
}
