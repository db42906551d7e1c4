//! Starknet state commitment against roots computed by other implementations:
//! the real Sepolia chain (feeder updates with `new_root`), pathfinder's unit
//! vectors, and cairo-lang's own Patricia trees (the oracle fixtures).

use crate::common;

use std::collections::BTreeMap;
use std::process::Command;

use alloy_primitives::B256;
use starknet_types_core::felt::Felt;
use zkreplay::diff::StateDiff;
use zkreplay::hexfmt::parse_word;
use zkreplay::rollup::starknet::feeder::parse_state_update;
use zkreplay::rollup::starknet::hash::pedersen;
use zkreplay::rollup::starknet::state::{
    ContractState, GlobalRootRule, StarknetState, global_root,
};
use zkreplay::rollup::starknet::trie::HEIGHT;
use zkreplay::store::Store;

fn sepolia_files() -> Vec<std::path::PathBuf> {
    (0..8)
        .map(|i| common::fixtures().join(format!("starknet/sepolia-genesis-feeder/{i}.json")))
        .collect()
}

#[test]
fn sepolia_genesis_blocks_reproduce_every_new_root() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "starknet-sepolia").unwrap();
    let state = StarknetState::new(&store);
    for file in sepolia_files() {
        let update = parse_state_update(&std::fs::read(&file).unwrap()).unwrap();
        let roots = state
            .apply_and_commit(&update.diff, GlobalRootRule::PreV0_14)
            .unwrap();
        let claimed = update.new_root.expect("fixture has new_root");
        assert_eq!(
            B256::from(roots.global_root.to_bytes_be()),
            claimed,
            "{}",
            file.display()
        );
    }
    // Block 7 declares Sierra classes: its root must come from the Poseidon combination.
    let last = state.checkpoint().unwrap();
    assert_ne!(last.classes_root, Felt::ZERO);
    assert_ne!(last.global_root, last.contracts_root);
}

#[test]
fn cli_applies_updates_in_one_run_and_split_across_runs() {
    let files = sepolia_files();
    let run = |dir: &std::path::Path, files: &[std::path::PathBuf]| {
        let output = Command::new(env!("CARGO_BIN_EXE_zkreplay"))
            .args(["starknet", "apply-updates", "--data-dir"])
            .arg(dir)
            .args(files)
            .output()
            .unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (output.status.code(), lines)
    };
    let one = tempfile::tempdir().unwrap();
    let (code, lines) = run(one.path(), &files);
    assert_eq!(code, Some(0));
    assert_eq!(lines.len(), 8);
    for (line, file) in lines.iter().zip(&files) {
        let expected = common::read_json(file)["new_root"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(line["claimed_root"], expected);
        assert_eq!(line["computed_root"], expected);
        assert_eq!(line["match"], true);
    }
    let split = tempfile::tempdir().unwrap();
    for chunk in [&files[..3], &files[3..4], &files[4..]] {
        let (code, lines) = run(split.path(), chunk);
        assert_eq!(code, Some(0), "{lines:?}");
        assert!(lines.iter().all(|l| l["match"] == true));
    }
    // A mismatch exits non-zero: block 0 replayed on top of block 7 keeps the
    // contracts deployed in blocks 3-7, so it cannot reproduce block 0's root.
    let (code, lines) = run(split.path(), &files[..1]);
    assert_eq!(code, Some(1));
    assert_eq!(lines[0]["match"], false);
}

#[test]
fn pathfinder_contract_leaf_vector() {
    // pathfinder crates/merkle-tree contract_state tests.
    let state = ContractState {
        class_hash: common::felt(
            "0x2ff4903e17f87b298ded00c44bfeb22874c5f73be2ced8f1d9d9556fb509779",
        ),
        storage_root: common::felt(
            "0x4fb440e8ca9b74fc12a22ebffe0bc0658206337897226117b985434c239c028",
        ),
        nonce: Felt::ZERO,
    };
    assert_eq!(
        state.leaf_hash(),
        common::felt("0x7161b591c893836263a64f2a7e0d829c92f6956148a60ce5e99a3f55c7973f3")
    );
}

#[test]
fn pathfinder_v0_14_genesis_root() {
    // The v0.14 genesis: contract 0x2 holds key 0x0 = 0x80 (the alias counter), no classes.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "starknet-v0.14-genesis").unwrap();
    let mut diff = StateDiff::default();
    diff.contracts
        .entry(B256::with_last_byte(2))
        .or_default()
        .storage
        .insert(B256::ZERO, B256::with_last_byte(0x80));
    let roots = StarknetState::new(&store)
        .apply_and_commit(&diff, GlobalRootRule::V0_14)
        .unwrap();
    assert_eq!(roots.classes_root, Felt::ZERO);
    assert_eq!(
        roots.global_root,
        common::felt("0x68bcf9e9257ab6bffd9425833a208aaab6b85649fd21c787a546cb7cb9abf")
    );
    // The pre-v0.14 rule would have returned the contracts root: the rule matters.
    assert_eq!(
        global_root(roots.contracts_root, Felt::ZERO, GlobalRootRule::PreV0_14),
        roots.contracts_root
    );
}

/// The oracle chains: logical diff + alias writes of each batch, applied in order,
/// must give cairo-lang's contracts, classes and global roots and its contract leaves.
#[test]
fn cairo_lang_oracle_roots_are_reproduced() {
    for set in ["seed1_blob", "seed2_calldata"] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "oracle").unwrap();
        let state = StarknetState::new(&store);
        let folder = common::fixtures().join("starknet/oracle").join(set);
        let mut names: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("batch_"))
            .collect();
        names.sort();
        assert!(names.len() >= 4, "{set}: expected batch files");
        for name in names {
            let batch = common::read_json(&folder.join(&name));
            let diff = oracle_committed_diff(&batch);
            let roots = state
                .apply_and_commit(&diff, GlobalRootRule::V0_14)
                .unwrap();
            let expected = &batch["expected"];
            assert_eq!(
                roots.contracts_root,
                common::felt(expected["contracts_root"].as_str().unwrap()),
                "{set}/{name}"
            );
            assert_eq!(
                roots.classes_root,
                common::felt(expected["classes_root"].as_str().unwrap()),
                "{set}/{name}"
            );
            assert_eq!(
                roots.global_root,
                common::felt(expected["global_root"].as_str().unwrap()),
                "{set}/{name}"
            );
            for touched in expected["touched_contracts"]
                .as_object()
                .into_iter()
                .flatten()
            {
                let (address, info) = touched;
                let contract = state.contract(&common::felt(address)).unwrap();
                assert_eq!(
                    contract.storage_root,
                    common::felt(info["storage_root"].as_str().unwrap()),
                    "{name} {address}"
                );
                assert_eq!(
                    contract.leaf_hash(),
                    common::felt(info["leaf_hash"].as_str().unwrap()),
                    "{name} {address}"
                );
            }
            for sample in expected["storage_samples"].as_array().unwrap() {
                let value = state
                    .storage(
                        &common::felt(sample["contract"].as_str().unwrap()),
                        &common::felt(sample["key"].as_str().unwrap()),
                    )
                    .unwrap();
                assert_eq!(
                    value,
                    common::felt(sample["value"].as_str().unwrap()),
                    "{name} sample {sample}"
                );
            }
        }
    }
}

/// `logical_diff` + `alias_writes` as one [`StateDiff`] (FORMAT.md: "Committed diff").
fn oracle_committed_diff(batch: &serde_json::Value) -> StateDiff {
    let word = |v: &serde_json::Value| parse_word(v.as_str().unwrap()).unwrap();
    let logical = &batch["logical_diff"];
    let mut diff = StateDiff::default();
    for (address, class_hash) in logical["class_hashes"].as_object().unwrap() {
        diff.contracts
            .entry(parse_word(address).unwrap())
            .or_default()
            .class_hash = Some(word(class_hash));
    }
    for (address, nonce) in logical["nonces"].as_object().unwrap() {
        diff.contracts
            .entry(parse_word(address).unwrap())
            .or_default()
            .nonce = Some(word(nonce));
    }
    for (address, writes) in logical["storage"].as_object().unwrap() {
        let contract = diff
            .contracts
            .entry(parse_word(address).unwrap())
            .or_default();
        for (key, value) in writes.as_object().unwrap() {
            contract
                .storage
                .insert(parse_word(key).unwrap(), word(value));
        }
    }
    for (class_hash, compiled) in logical["declared_classes"].as_object().unwrap() {
        diff.declared_classes
            .insert(parse_word(class_hash).unwrap(), word(compiled));
    }
    let aliases = diff.contracts.entry(B256::with_last_byte(2)).or_default();
    for (key, value) in batch["alias_writes"].as_object().unwrap() {
        aliases
            .storage
            .insert(parse_word(key).unwrap(), word(value));
    }
    diff
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// A root computed from scratch from the full leaf set, by a recursive
    /// definition written independently of the incremental trie code.
    fn reference_root(leaves: &BTreeMap<Felt, Felt>) -> Felt {
        fn bits(f: &Felt) -> Vec<bool> {
            f.to_bits_be()[256 - HEIGHT..].to_vec()
        }
        // Returns (hash, edge) of the subtree at `depth` for leaves sharing a prefix.
        fn build(leaves: &[(Vec<bool>, Felt)], depth: usize) -> (Felt, Option<(Vec<bool>, Felt)>) {
            if depth == HEIGHT {
                return (leaves[0].1, None);
            }
            let (left, right): (Vec<_>, Vec<_>) =
                leaves.iter().cloned().partition(|(b, _)| !b[depth]);
            let side = |part: &[(Vec<bool>, Felt)], bit: bool| {
                let (hash, edge) = build(part, depth + 1);
                let (mut path, child) = edge.unwrap_or((Vec::new(), hash));
                path.insert(0, bit);
                let path_felt = path.iter().fold(Felt::ZERO, |acc, b| {
                    acc * Felt::TWO + if *b { Felt::ONE } else { Felt::ZERO }
                });
                (
                    pedersen(&child, &path_felt) + Felt::from(path.len() as u64),
                    Some((path, child)),
                )
            };
            match (left.is_empty(), right.is_empty()) {
                (false, true) => side(&left, false),
                (true, false) => side(&right, true),
                _ => {
                    let (l, _) = build(&left, depth + 1);
                    let (r, _) = build(&right, depth + 1);
                    (pedersen(&l, &r), None)
                }
            }
        }
        let nonzero: Vec<_> = leaves
            .iter()
            .filter(|(_, v)| **v != Felt::ZERO)
            .map(|(k, v)| (bits(k), *v))
            .collect();
        if nonzero.is_empty() {
            Felt::ZERO
        } else {
            build(&nonzero, 0).0
        }
    }

    fn key_strategy() -> impl Strategy<Value = Felt> {
        // Mix clustered small keys (long shared prefixes) with full 251-bit keys.
        prop_oneof![
            (0u64..64).prop_map(Felt::from),
            any::<[u8; 32]>().prop_map(|mut b| {
                b[0] &= 0x07;
                Felt::from_bytes_be(&b)
            }),
        ]
    }

    fn writes_strategy() -> impl Strategy<Value = Vec<(Felt, Felt)>> {
        prop::collection::vec(
            (
                key_strategy(),
                prop_oneof![
                    Just(Felt::ZERO),
                    (1u64..5).prop_map(Felt::from),
                    any::<u64>().prop_map(Felt::from)
                ],
            ),
            1..40,
        )
    }

    fn diff_of(writes: &[(Felt, Felt)]) -> StateDiff {
        let mut diff = StateDiff::default();
        let contract = diff
            .contracts
            .entry(B256::with_last_byte(0x42))
            .or_default();
        contract.class_hash = Some(B256::with_last_byte(7));
        for (k, v) in writes {
            contract
                .storage
                .insert(B256::from(k.to_bytes_be()), B256::from(v.to_bytes_be()));
        }
        diff
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

        #[test]
        fn any_split_gives_the_same_roots_as_one_batch(writes in writes_strategy(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4)) {
            let mut cut_points: Vec<usize> = cuts.iter().map(|c| c.index(writes.len() + 1)).collect();
            cut_points.push(0);
            cut_points.push(writes.len());
            cut_points.sort();
            let split_dir = tempfile::tempdir().unwrap();
            let split_store = Store::open(split_dir.path(), "p").unwrap();
            let split = StarknetState::new(&split_store);
            for pair in cut_points.windows(2) {
                split.apply_and_commit(&diff_of(&writes[pair[0]..pair[1]]), GlobalRootRule::PreV0_14).unwrap();
            }
            let once_dir = tempfile::tempdir().unwrap();
            let once_store = Store::open(once_dir.path(), "p").unwrap();
            let once = StarknetState::new(&once_store);
            // Later writes win inside one batch, as in a squashed diff.
            let roots = once.apply_and_commit(&diff_of(&writes), GlobalRootRule::PreV0_14).unwrap();
            prop_assert_eq!(split.checkpoint().unwrap().global_root, roots.global_root);

            let final_values: BTreeMap<Felt, Felt> = writes.iter().cloned().collect();
            let storage_root = once.contract(&Felt::from(0x42u64)).unwrap().storage_root;
            prop_assert_eq!(storage_root, reference_root(&final_values));

            // Reopening the store gives the same roots.
            let before = split.checkpoint().unwrap();
            drop(split_store);
            let reopened = Store::open(split_dir.path(), "p").unwrap();
            prop_assert_eq!(StarknetState::new(&reopened).checkpoint().unwrap(), before);
        }

        #[test]
        fn deleting_everything_returns_root_zero(writes in writes_strategy()) {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path(), "p").unwrap();
            let state = StarknetState::new(&store);
            state.apply_and_commit(&diff_of(&writes), GlobalRootRule::PreV0_14).unwrap();
            let mut clear = diff_of(&writes.iter().map(|(k, _)| (*k, Felt::ZERO)).collect::<Vec<_>>());
            clear.contracts.values_mut().for_each(|c| c.class_hash = Some(B256::ZERO));
            let roots = state.apply_and_commit(&clear, GlobalRootRule::PreV0_14).unwrap();
            prop_assert_eq!(roots.global_root, Felt::ZERO);
            prop_assert_eq!(roots.contracts_root, Felt::ZERO);
        }
    }
}
