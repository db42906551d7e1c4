//! Time travel and Merkle proofs over a store rebuilt from real Sepolia blocks.
//! Expected values are the values the blocks wrote (fixtures) and the blocks'
//! published `new_root`; proofs are checked by a verifier written here from the
//! Starknet commitment rules, sharing no code with the trie.

use crate::common;

use std::collections::BTreeMap;

use alloy_primitives::B256;
use starknet_types_core::felt::Felt;
use zkreplay::audit::{BatchAudit, Verdict};
use zkreplay::diff::StateDiff;
use zkreplay::rollup::starknet::feeder::parse_state_update;
use zkreplay::rollup::starknet::hash::{pedersen, poseidon_many};
use zkreplay::rollup::starknet::query::{
    GlobalRootFormula, QueryError, StarknetReader, StorageProof,
};
use zkreplay::rollup::starknet::state::{GlobalRootRule, StarknetState};
use zkreplay::rollup::starknet::trie::ProofNode;
use zkreplay::store::Store;

fn b256_felt(word: &B256) -> Felt {
    Felt::from_bytes_be(&word.0)
}

/// Replays Sepolia blocks 0-7 into a fresh store; returns the store and each block's JSON.
fn sepolia_store() -> (tempfile::TempDir, Store, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "starknet-sepolia").unwrap();
    let mut blocks = Vec::new();
    for i in 0..8 {
        let path = common::fixtures().join(format!("starknet/sepolia-genesis-feeder/{i}.json"));
        let update = parse_state_update(&std::fs::read(&path).unwrap()).unwrap();
        StarknetState::new(&store)
            .apply_and_commit(&update.diff, GlobalRootRule::PreV0_14)
            .unwrap();
        blocks.push(common::read_json(&path));
    }
    (dir, store, blocks)
}

/// Independent verifier: walks the proof nodes bottom-up with the commitment rules.
fn verify_trie_path(root: Felt, key: Felt, value: Felt, proof: &[ProofNode]) -> bool {
    let key_bits: Vec<bool> = key.to_bits_be()[5..].to_vec(); // 251 bits, most significant first
    let mut depth = 0usize;
    let mut expected = root;
    for (i, node) in proof.iter().enumerate() {
        match node {
            ProofNode::Binary { left, right } => {
                if pedersen(left, right) != expected {
                    return false;
                }
                expected = if key_bits[depth] { *right } else { *left };
                depth += 1;
            }
            ProofNode::Edge { child, path, len } => {
                if pedersen(child, path) + Felt::from(*len as u64) != expected {
                    return false;
                }
                let path_bits = &path.to_bits_be()[256 - len..];
                if key_bits[depth..depth + len] != *path_bits {
                    return value == Felt::ZERO && i + 1 == proof.len();
                }
                depth += len;
                expected = *child;
            }
        }
    }
    if proof.is_empty() {
        return root == Felt::ZERO && value == Felt::ZERO;
    }
    depth == 251 && expected == value
}

fn verify_storage_proof(proof: &StorageProof, published_root: Felt) -> bool {
    let global = match proof.global_root_formula {
        GlobalRootFormula::Empty => Felt::ZERO,
        GlobalRootFormula::ContractsRoot => proof.contracts_root,
        GlobalRootFormula::Poseidon => poseidon_many(&[
            Felt::from_bytes_be_slice(b"STARKNET_STATE_V0"),
            proof.contracts_root,
            proof.classes_root,
        ]),
    };
    let leaf = pedersen(
        &pedersen(
            &pedersen(&proof.class_hash, &proof.storage_root),
            &proof.nonce,
        ),
        &Felt::ZERO,
    );
    global == published_root
        && proof.global_root == published_root
        && verify_trie_path(
            proof.storage_root,
            proof.key,
            proof.value,
            &proof.storage_proof,
        )
        && verify_trie_path(
            proof.contracts_root,
            proof.address,
            leaf,
            &proof.contract_proof,
        )
}

#[test]
fn values_at_every_batch_equal_what_the_blocks_wrote() {
    let (_dir, store, blocks) = sepolia_store();
    let reader = StarknetReader::new(&store);
    // Every storage write of block n is visible at batch n and at the latest batch
    // unless a later block overwrote it.
    let mut latest: BTreeMap<(String, String), (usize, String)> = BTreeMap::new();
    for (n, block) in blocks.iter().enumerate() {
        for (address, writes) in block["state_diff"]["storage_diffs"].as_object().unwrap() {
            for write in writes.as_array().unwrap() {
                let (key, value) = (
                    write["key"].as_str().unwrap(),
                    write["value"].as_str().unwrap(),
                );
                assert_eq!(
                    reader
                        .storage_at(&common::felt(address), &common::felt(key), n as u64)
                        .unwrap(),
                    common::felt(value),
                    "block {n}"
                );
                if let Some((earlier, old)) = latest.get(&(address.clone(), key.to_owned())) {
                    if *earlier < n {
                        assert_eq!(
                            reader
                                .storage_at(
                                    &common::felt(address),
                                    &common::felt(key),
                                    n as u64 - 1
                                )
                                .unwrap(),
                            common::felt(old)
                        );
                    }
                } else if n > 0 {
                    assert_eq!(
                        reader
                            .storage_at(&common::felt(address), &common::felt(key), n as u64 - 1)
                            .unwrap(),
                        Felt::ZERO
                    );
                }
                latest.insert((address.clone(), key.to_owned()), (n, value.to_owned()));
            }
        }
        for (address, nonce) in block["state_diff"]["nonces"].as_object().unwrap() {
            assert_eq!(
                reader
                    .contract_at(&common::felt(address), n as u64)
                    .unwrap()
                    .nonce,
                common::felt(nonce.as_str().unwrap())
            );
        }
        for deployed in block["state_diff"]["deployed_contracts"]
            .as_array()
            .unwrap()
        {
            let contract = reader
                .contract_at(
                    &common::felt(deployed["address"].as_str().unwrap()),
                    n as u64,
                )
                .unwrap();
            assert_eq!(
                contract.class_hash,
                common::felt(deployed["class_hash"].as_str().unwrap())
            );
        }
    }
    for ((address, key), (_, value)) in &latest {
        assert_eq!(
            reader
                .storage_at(&common::felt(address), &common::felt(key), 7)
                .unwrap(),
            common::felt(value)
        );
    }
    assert!(matches!(
        reader.storage_at(&Felt::ONE, &Felt::ONE, 8),
        Err(QueryError::BatchNotApplied {
            requested: 8,
            last: Some(7)
        })
    ));
}

#[test]
fn proofs_verify_against_the_published_roots() {
    let (_dir, store, blocks) = sepolia_store();
    let reader = StarknetReader::new(&store);
    // The Sepolia ETH fee token.
    let eth = common::felt("0x49d36570d4e46f48e99674bd3fcc84644ddd6b96f7c741b1562b82f9e004dc7");
    let mut checked = 0;
    for (n, block) in blocks.iter().enumerate() {
        let published = common::felt(block["new_root"].as_str().unwrap());
        for (address, writes) in block["state_diff"]["storage_diffs"].as_object().unwrap() {
            for write in writes.as_array().unwrap().iter().take(3) {
                let proof = reader
                    .storage_proof(
                        &common::felt(address),
                        &common::felt(write["key"].as_str().unwrap()),
                        n as u64,
                    )
                    .unwrap();
                assert_eq!(proof.value, common::felt(write["value"].as_str().unwrap()));
                assert!(
                    verify_storage_proof(&proof, published),
                    "block {n} {address}"
                );
                checked += 1;
            }
        }
        // Non-membership: an unset slot of the ETH contract proves 0.
        let absent = reader
            .storage_proof(&eth, &common::felt("0x1234567"), n as u64)
            .unwrap();
        assert_eq!(absent.value, Felt::ZERO);
        assert!(
            verify_storage_proof(&absent, published),
            "absent slot at block {n}"
        );
    }
    assert_eq!(checked, 19, "every sampled write of blocks 0-7 was proven");
    // Tampering with the value breaks the proof.
    let mut forged = reader
        .storage_proof(
            &eth,
            &common::felt("0x6d56a3a16e0bf05482515c10fcf552437cdd1b7b409a6e8cec88c4b8fa03c13"),
            7,
        )
        .unwrap();
    forged.value += Felt::ONE;
    assert!(!verify_storage_proof(
        &forged,
        common::felt(blocks[7]["new_root"].as_str().unwrap())
    ));
}

#[test]
fn apply_updates_commits_the_audit_with_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<_> = (0..3)
        .map(|i| common::fixtures().join(format!("starknet/sepolia-genesis-feeder/{i}.json")))
        .collect();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_zkreplay"))
        .args(["starknet", "apply-updates", "--data-dir"])
        .arg(dir.path())
        .args(&files)
        .output()
        .unwrap()
        .status;
    assert!(status.success());
    let store = Store::open(dir.path(), "starknet-sepolia").unwrap();
    for (n, file) in files.iter().enumerate() {
        let audit = BatchAudit::read(&store, n as u64)
            .unwrap()
            .expect("audit committed");
        assert_eq!(audit.verdict, Verdict::Match);
        assert_eq!(
            audit.claimed_root.as_deref(),
            common::read_json(file)["new_root"].as_str()
        );
    }
}

mod time_travel {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

        /// Random histories: the value read at every past batch is the last value written at or before it.
        #[test]
        fn value_at_every_batch_is_the_last_write(batches in prop::collection::vec(prop::collection::vec((0u8..6, 0u64..4), 0..6), 1..8)) {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path(), "p").unwrap();
            let state = StarknetState::new(&store);
            let address = B256::with_last_byte(0x77);
            for writes in &batches {
                let mut diff = StateDiff::default();
                let contract = diff.contracts.entry(address).or_default();
                contract.class_hash = Some(B256::with_last_byte(1));
                for (key, value) in writes {
                    contract.storage.insert(B256::with_last_byte(*key), B256::from(alloy_primitives::U256::from(*value)));
                }
                state.apply_and_commit(&diff, GlobalRootRule::PreV0_14).unwrap();
            }
            let reader = StarknetReader::new(&store);
            for key in 0u8..6 {
                let mut current = 0u64;
                for (n, writes) in batches.iter().enumerate() {
                    if let Some((_, v)) = writes.iter().rev().find(|(k, _)| *k == key) {
                        current = *v;
                    }
                    let got = reader.storage_at(&b256_felt(&address), &Felt::from(key), n as u64).unwrap();
                    prop_assert_eq!(got, Felt::from(current));
                }
            }
        }
    }
}
