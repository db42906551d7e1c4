//! ZKsync Era acceptance tests on the real data in ../shared/fixtures/zksync
//! (expected values come only from the fixtures, never from this code).

use crate::common;

use std::path::PathBuf;

use alloy_primitives::{Address, B256, U256};
use serde_json::Value;
use zkreplay::hexfmt::parse_bytes;
use zkreplay::rollup::zksync::calldata::{CommitVersion, decode_commit, encode_commit};
use zkreplay::rollup::zksync::compression::StateDiffs;
use zkreplay::rollup::zksync::decode::{BlobStore, decode_batches};
use zkreplay::rollup::zksync::tree::{LeafWrite, Tree, empty_root, root_of};
use zkreplay::rollup::zksync::{blob as zkblob, derived_key, genesis};

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/zksync")
        .join(rel)
}

fn json(rel: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(rel)).unwrap()).unwrap()
}

fn address(v: &Value) -> Address {
    Address::from_word(common::word(v))
}

// ---------------------------------------------------------------- tree

fn case_leaves(case: &Value) -> Vec<(B256, u64, B256)> {
    case["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let dk = common::word(&l["derived_key"]);
            // The derived key is also recomputed from (address, key).
            assert_eq!(
                derived_key(&address(&l["address"]), &common::word(&l["storage_key"])),
                dk
            );
            (
                dk,
                l["leaf_index"].as_u64().unwrap(),
                common::word(&l["value"]),
            )
        })
        .collect()
}

#[test]
fn merkle_tree_reference_roots() {
    let cases = json("merkle_tree/merkle_tree_cases.json");
    let mut seen = Vec::new();
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let leaves = case_leaves(case);
        let expected = common::word(&case["expected_root"]);
        assert_eq!(root_of(&leaves).unwrap(), expected, "case {name}");
        seen.push(name.to_owned());

        // Batching must not change the final root; check prefix roots where given.
        let mut store = std::collections::HashMap::new();
        let mut root = empty_root();
        for (k, chunk) in leaves
            .chunks(if name.starts_with("witness") { 1 } else { 9 })
            .enumerate()
        {
            let update = {
                let mut tree = Tree::new(&store, root);
                tree.update(
                    chunk
                        .iter()
                        .map(|(d, i, v)| LeafWrite::new(d, *i, v))
                        .collect(),
                )
                .unwrap()
            };
            for (key, value) in update.nodes {
                store.insert(key.to_vec(), value);
            }
            root = update.root;
            if let Some(prefix) = case.get("expected_root_after_each_leaf") {
                assert_eq!(
                    root,
                    common::word(&prefix[k]),
                    "case {name} after leaf {}",
                    k + 1
                );
            }
        }
        if !leaves.is_empty() {
            assert_eq!(root, expected, "case {name} batched");
        }
    }
    for required in [
        "empty_tree",
        "single_leaf",
        "hundred_leaves_5_addresses",
        "six_logs_root_hash_compatibility",
    ] {
        assert!(
            seen.iter().any(|s| s == required),
            "{required} missing from fixture"
        );
    }
}

// ---------------------------------------------------------------- genesis

#[test]
fn genesis_roots_from_json_and_csv() {
    let expected = json("genesis/expected_roots.json");
    for (net, file) in [
        ("mainnet", "genesis/InitialStateMainnet.json"),
        ("sepolia", "genesis/InitialStateSepolia.json"),
    ] {
        let logs = genesis::load(&fixture(file)).unwrap();
        let leaves = genesis::leaves(&logs).unwrap();
        assert_eq!(
            leaves.len() as u64,
            expected[net]["leaves"].as_u64().unwrap(),
            "{net}"
        );
        assert_eq!(
            genesis::root(&logs).unwrap(),
            common::word(&expected[net]["expected_root"]),
            "{net}"
        );
        assert_eq!(
            leaves.last().unwrap().1 + 1,
            expected[net]["next_leaf_index_derived"].as_u64().unwrap()
        );
    }
    let csv = genesis::load(&fixture("genesis/InitialState.csv")).unwrap();
    let json_logs = genesis::load(&fixture("genesis/InitialStateMainnet.json")).unwrap();
    assert_eq!(
        genesis::leaves(&csv).unwrap(),
        genesis::leaves(&json_logs).unwrap()
    );
    assert_eq!(
        genesis::root(&csv).unwrap(),
        common::word(&expected["mainnet"]["expected_root"])
    );
}

// ---------------------------------------------------------------- calldata

fn facts_for(file: &str) -> Value {
    json("calldata/calldata_facts.json")["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"].as_str().unwrap().ends_with(file))
        .unwrap()
        .clone()
}

fn check_calldata_file(file: &str, version: CommitVersion) {
    let facts = facts_for(file);
    let input = std::fs::read(fixture(&format!("calldata/{file}"))).unwrap();
    let call = decode_commit(&input).unwrap();
    assert_eq!(call.version, version);
    assert_eq!(
        format!("0x{}", hex::encode(version.selector())),
        facts["selector"].as_str().unwrap()
    );
    let prev = &facts["previous_stored_batch_info"];
    assert_eq!(
        call.previous.batch_number,
        prev["batch_number"].as_u64().unwrap()
    );
    assert_eq!(
        call.previous.batch_hash,
        common::word(&prev["batch_hash_state_root"])
    );
    assert_eq!(
        call.previous.index_repeated_storage_changes,
        prev["index_repeated_storage_changes"].as_u64().unwrap()
    );

    let decoded = decode_batches(&call, &mut BlobStore::default(), None);
    let expected = facts["batches"].as_array().unwrap();
    assert_eq!(decoded.len(), expected.len());
    for (d, e) in decoded.iter().zip(expected) {
        let n = d.batch_number;
        assert_eq!(n, e["batch_number"].as_u64().unwrap());
        assert_eq!(d.new_state_root, common::word(&e["new_state_root"]), "{n}");
        assert_eq!(
            d.index_repeated_storage_changes,
            e["index_repeated_storage_changes"].as_u64().unwrap(),
            "{n}"
        );
        assert_eq!(
            d.previous_index_repeated_storage_changes,
            e["previous_index_repeated_storage_changes"]
                .as_u64()
                .unwrap(),
            "{n}"
        );
        let writes = d
            .writes
            .as_ref()
            .unwrap_or_else(|| panic!("{n}: no writes: {:?}", d.checks));
        assert_eq!(
            writes.initial.len() as u64,
            e["initial_writes"].as_u64().unwrap(),
            "{n}"
        );
        assert_eq!(
            writes.repeated.len() as u64,
            e["repeated_writes"].as_u64().unwrap(),
            "{n}"
        );
        // Initial-write count equals the difference of indexRepeatedStorageChanges.
        assert_eq!(
            writes.initial.len() as u64,
            d.index_repeated_storage_changes - d.previous_index_repeated_storage_changes
        );
        for c in &d.checks {
            assert!(!c.failed(), "{n}: {c:?}");
        }
        if let Some(p) = e.get("pubdata") {
            let parsed = d.parsed.as_ref().unwrap();
            // Every byte of pubdata consumed.
            assert_eq!(
                parsed.consumed as u64,
                p["bytes_consumed"].as_u64().unwrap()
            );
            assert_eq!(
                d.pubdata.as_ref().unwrap().len() as u64,
                p["pubdata_len"].as_u64().unwrap()
            );
            assert_eq!(parsed.consumed, d.pubdata.as_ref().unwrap().len());
            assert_eq!(
                d.l2_to_l1_logs as u64,
                p["user_l2_to_l1_logs"].as_u64().unwrap()
            );
            assert_eq!(d.messages as u64, p["l2_to_l1_messages"].as_u64().unwrap());
            assert_eq!(
                d.bytecodes as u64,
                p["published_bytecodes"].as_u64().unwrap()
            );
            assert_eq!(
                parsed.state_diffs.enum_index_size as u64,
                p["enum_index_size"].as_u64().unwrap()
            );
            let ops = &p["value_ops"];
            let count = |k: zkreplay::rollup::zksync::compression::OpKind| {
                writes
                    .initial
                    .iter()
                    .map(|w| w.value.kind)
                    .chain(writes.repeated.iter().map(|w| w.value.kind))
                    .filter(|x| *x == k)
                    .count() as u64
            };
            use zkreplay::rollup::zksync::compression::OpKind;
            assert_eq!(
                count(OpKind::Full),
                ops["nocompression"].as_u64().unwrap(),
                "{n}"
            );
            assert_eq!(count(OpKind::Add), ops["add"].as_u64().unwrap(), "{n}");
            assert_eq!(count(OpKind::Sub), ops["sub"].as_u64().unwrap(), "{n}");
            assert_eq!(
                count(OpKind::Transform),
                ops["transform"].as_u64().unwrap(),
                "{n}"
            );
            assert!(
                d.checks
                    .iter()
                    .any(|c| c.name == "pubdata_hash" && c.passed),
                "{n}: {:?}",
                d.checks
            );
        }
    }
    // The encoder inverts the decoder on real data.
    assert!(
        encode_commit(&call) == input,
        "{file} must re-encode byte for byte"
    );
}

#[test]
fn mainnet_commit_351000_351004_decodes_completely() {
    check_calldata_file(
        "commit_l1_batch_351000-351004_mainnet.calldata",
        CommitVersion::Boojum,
    );
}

#[test]
fn sepolia_commit_4470_decodes() {
    check_calldata_file(
        "commit_l1_batch_4470_testnet_sepolia.calldata",
        CommitVersion::Boojum,
    );
}

#[test]
fn goerli_pre_boojum_199995_200003_decodes() {
    check_calldata_file(
        "commit_l1_batch_200000_testnet_goerli.calldata",
        CommitVersion::PreBoojum,
    );
}

// ---------------------------------------------------------------- compression

#[test]
fn commitment_vectors_state_diff_compression_round_trips() {
    for file in [
        "commitment/post_boojum_1_4_1_test.json",
        "commitment/post_boojum_1_4_2_test.json",
        "commitment/post_boojum_1_5_0_test.json",
        "commitment/post_boojum_1_5_0_test_with_evm.json",
        "commitment/post_gateway_test.json",
    ] {
        let v = json(file);
        let input = &v["input"]["PostBoojum"];
        let compressed: Vec<u8> = v["auxiliary_output"]["PostBoojum"]["state_diffs_compressed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_u64().unwrap() as u8)
            .collect();
        let diffs = StateDiffs::decode(&compressed).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut records: Vec<&Value> = input["state_diffs"].as_array().unwrap().iter().collect();
        // Published order is (address, key).
        records.sort_by_key(|r| {
            (
                address(&r["address"]),
                U256::from_be_bytes(common::word(&r["key"]).0),
            )
        });
        let (initial, repeated): (Vec<&Value>, Vec<&Value>) = records
            .into_iter()
            .partition(|r| r["enumeration_index"].as_u64() == Some(0));
        assert_eq!(diffs.initial.len(), initial.len(), "{file}");
        assert_eq!(diffs.repeated.len(), repeated.len(), "{file}");
        for (w, r) in diffs.initial.iter().zip(&initial) {
            let dk: Vec<u8> = r["derived_key"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_u64().unwrap() as u8)
                .collect();
            assert_eq!(w.derived_key.as_slice(), &dk[..], "{file}");
            assert_eq!(
                derived_key(&address(&r["address"]), &common::word(&r["key"])),
                w.derived_key,
                "{file}"
            );
            assert_eq!(
                w.value.apply(&B256::ZERO),
                common::word(&r["final_value"]),
                "{file}"
            );
        }
        for (w, r) in diffs.repeated.iter().zip(&repeated) {
            assert_eq!(w.index, r["enumeration_index"].as_u64().unwrap(), "{file}");
            assert_eq!(
                w.value.apply(&common::word(&r["initial_value"])),
                common::word(&r["final_value"]),
                "{file}"
            );
        }
        assert_eq!(diffs.encode(), compressed, "{file}: re-encoding");
    }
}

// ---------------------------------------------------------------- KZG

#[test]
fn kzg_vector_reproduced() {
    let v = json("kzg/kzg_test_0.json");
    let pubdata = parse_bytes(v["pubdata"].as_str().unwrap()).unwrap();
    let out = &v["expected_outputs"];
    let hexv = |k: &str| parse_bytes(out[k].as_str().unwrap()).unwrap();

    let blob = zkblob::pubdata_to_blob(&pubdata).unwrap();
    let commitment = zkreplay::blob::commitment(&blob).unwrap();
    assert_eq!(commitment.to_vec(), hexv("kzg_commitment"));
    let vh = zkreplay::blob::versioned_hash(&commitment);
    assert_eq!(vh.to_vec(), hexv("versioned_hash"));
    let linear = zkblob::linear_hash(&pubdata);
    let z = zkblob::opening_point(&linear, &vh);
    assert_eq!(zkblob::pad_point(&z).to_vec(), hexv("opening_point"));
    let y = zkblob::evaluate_at(&pubdata, &z).unwrap();
    assert_eq!(y.to_vec(), hexv("opening_value"));
    let proof: [u8; 48] = hexv("opening_proof").try_into().unwrap();
    assert!(
        zkreplay::blob::verify_point_proof(&commitment, &zkblob::pad_point(&z), &y.0, &proof)
            .unwrap()
    );
    let blob_proof: [u8; 48] = hexv("blob_proof").try_into().unwrap();
    assert!(zkreplay::blob::verify_blob_proof(&blob, &commitment, &blob_proof).unwrap());
    // The 144-byte pubdata commitment: z (16) ‖ y (32) ‖ commitment (48) ‖ proof (48).
    let mut packed = z.to_vec();
    packed.extend_from_slice(y.as_slice());
    packed.extend_from_slice(&commitment);
    packed.extend_from_slice(&proof);
    assert_eq!(packed, hexv("pubdata_commitment"));

    // Blob -> pubdata round trip: the decoded chunk is the pubdata plus zero padding.
    let decoded = zkblob::blob_to_pubdata(&blob).unwrap();
    assert_eq!(&decoded[..pubdata.len()], &pubdata[..]);
    assert!(decoded[pubdata.len()..].iter().all(|b| *b == 0));
    let parsed = zkreplay::rollup::zksync::pubdata::Pubdata::parse(
        &decoded,
        zkreplay::rollup::zksync::pubdata::Trailer::ZeroPadding,
    )
    .unwrap();
    assert_eq!(parsed.consumed, pubdata.len());
}

/// The opening Matter Labs' crate computed for the vector's pubdata proves its
/// blob committed under the vector's versioned hash without recomputing the
/// commitment; no other blob, and no opening with one field changed, proves
/// anything.
#[test]
fn kzg_vector_opening_proves_its_blob_and_nothing_else() {
    use zkreplay::rollup::zksync::da::BlobOpening;
    let v = json("kzg/kzg_test_0.json");
    let pubdata = parse_bytes(v["pubdata"].as_str().unwrap()).unwrap();
    let out = &v["expected_outputs"];
    let hexv = |k: &str| parse_bytes(out[k].as_str().unwrap()).unwrap();
    let opening = BlobOpening {
        opening_point: hexv("opening_point")[16..].try_into().unwrap(),
        claimed_value: B256::from_slice(&hexv("opening_value")),
        commitment: hexv("kzg_commitment").try_into().unwrap(),
        proof: hexv("opening_proof").try_into().unwrap(),
        prepublished: None,
    };
    let versioned_hash = B256::from_slice(&hexv("versioned_hash"));
    let blob = zkblob::pubdata_to_blob(&pubdata).unwrap();
    assert_eq!(
        zkblob::proven_versioned_hash(&blob, std::slice::from_ref(&opening)),
        Some(versioned_hash)
    );

    // Another blob: the same pubdata with its last byte changed.
    let mut other = pubdata.clone();
    *other.last_mut().unwrap() ^= 1;
    let other_blob = zkblob::pubdata_to_blob(&other).unwrap();
    assert_eq!(
        zkblob::proven_versioned_hash(&other_blob, std::slice::from_ref(&opening)),
        None
    );
    // A blob that is not a ZKsync blob (an element wider than 31 bytes).
    let mut wide = blob.clone();
    wide[1] ^= 0x40;
    assert_eq!(
        zkblob::proven_versioned_hash(&wide, std::slice::from_ref(&opening)),
        None
    );
    // Each field of the opening matters.
    let mut point = opening;
    point.opening_point[15] ^= 1;
    let mut value = opening;
    value.claimed_value.0[31] ^= 1;
    let mut proof = opening;
    proof.proof = opening.commitment;
    let commitment = BlobOpening {
        commitment: zkreplay::blob::commitment(&other_blob).unwrap(),
        ..opening
    };
    for changed in [point, value, proof, commitment] {
        assert_eq!(zkblob::proven_versioned_hash(&blob, &[changed]), None);
    }
    // Among several openings the blob's own is found.
    let foreign = BlobOpening {
        commitment: zkreplay::blob::commitment(&other_blob).unwrap(),
        ..opening
    };
    assert_eq!(
        zkblob::proven_versioned_hash(&blob, &[foreign, opening]),
        Some(versioned_hash)
    );
}

// ---------------------------------------------------------------- state, store, revert

use zkreplay::rollup::zksync::state::{PlanInput, StateError, ZksyncState};
use zkreplay::store::Store;

pub fn multi_batch_inputs() -> (Value, Vec<PlanInput>) {
    let v = json("multi-batch/vectors-seed1.json");
    let inputs = v["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let e = &b["expected"];
            let compressed = parse_bytes(e["compressed_state_diffs"].as_str().unwrap()).unwrap();
            let diffs = StateDiffs::decode(&compressed).unwrap();
            assert!(
                diffs.encode() == compressed,
                "batch {}: compression re-encodes",
                b["batch_number"]
            );
            PlanInput {
                batch_number: b["batch_number"].as_u64().unwrap(),
                claimed_root: Some(common::word(&e["root"])),
                index_repeated_storage_changes: Some(
                    e["index_repeated_storage_changes"].as_u64().unwrap(),
                ),
                writes: diffs.into(),
            }
        })
        .collect();
    (v, inputs)
}

pub fn mainnet_genesis(store: &Store) -> ZksyncState<'_> {
    let logs = genesis::load(&fixture("genesis/InitialStateMainnet.json")).unwrap();
    let expected = common::word(&json("genesis/expected_roots.json")["mainnet"]["expected_root"]);
    ZksyncState::init_genesis(store, &genesis::leaves(&logs).unwrap(), Some(expected)).unwrap()
}

#[test]
fn multi_batch_replay_from_genesis_matches_every_root() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "zksync-test").unwrap();
    let mut state = mainnet_genesis(&store);
    let (v, inputs) = multi_batch_inputs();
    for (input, b) in inputs.iter().zip(v["batches"].as_array().unwrap()) {
        let applied = state.apply_and_commit(input).unwrap();
        assert_eq!(
            applied.record.matches,
            Some(true),
            "batch {}",
            input.batch_number
        );
        // Every leaf gets the fixture's index and final value.
        for w in b["initial_writes"].as_array().unwrap() {
            let (index, value) = state
                .leaf(&common::word(&w["derived_key"]))
                .unwrap()
                .unwrap();
            assert_eq!(index, w["leaf_index"].as_u64().unwrap());
            assert_eq!(value, common::word(&w["value"]));
        }
        for w in b["repeated_writes"].as_array().unwrap() {
            let (index, value) = state
                .leaf(&common::word(&w["derived_key"]))
                .unwrap()
                .unwrap();
            assert_eq!(index, w["leaf_index"].as_u64().unwrap());
            assert_eq!(value, common::word(&w["final_value"]));
        }
        assert_eq!(
            state.checkpoint().next_index,
            b["expected"]["index_repeated_storage_changes"]
                .as_u64()
                .unwrap()
        );
    }
    assert_eq!(state.checkpoint().verified, 12);
    // The store survives a reopen at the same checkpoint.
    let checkpoint = state.checkpoint().clone();
    drop(store);
    let store = Store::open(dir.path(), "zksync-test").unwrap();
    assert_eq!(ZksyncState::open(&store).unwrap().checkpoint(), &checkpoint);
}

#[test]
fn reverted_and_recommitted_batches_unwind_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "zksync-test").unwrap();
    let mut state = mainnet_genesis(&store);
    let (v, inputs) = multi_batch_inputs();
    let roots: Vec<B256> = v["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| common::word(&b["expected"]["root"]))
        .collect();
    for input in &inputs[..7] {
        state.apply_and_commit(input).unwrap();
    }
    state.mark_executed(2).unwrap();
    // A slot first written in batch 5 and one rewritten in batch 6.
    let new_in_5 = inputs[4].writes.initial[0].derived_key;
    let before = state.leaf_at(&new_in_5, 4).unwrap();
    assert_eq!(before, None);

    // BlocksRevert to 4: state, root and next index are those of batch 4.
    state.unwind(4).unwrap();
    assert_eq!(state.checkpoint().batch, 4);
    assert_eq!(state.checkpoint().root, roots[3]);
    assert_eq!(
        state.checkpoint().next_index,
        inputs[3].index_repeated_storage_changes.unwrap()
    );
    assert_eq!(state.leaf(&new_in_5).unwrap(), None);
    assert!(state.record(5).unwrap().is_none());

    // Recommit batch 5 with other data: only half of its initial writes.
    let mut other = inputs[4].clone();
    let keep = other.writes.initial.len() / 2;
    other.writes.initial.truncate(keep);
    other.index_repeated_storage_changes =
        Some(inputs[3].index_repeated_storage_changes.unwrap() + keep as u64);
    other.claimed_root = None;
    let applied = state.apply_and_commit(&other).unwrap();
    assert_ne!(applied.record.computed_root, roots[4]);
    // A batch 6 written for the original 5 no longer fits (its indices moved).
    assert!(matches!(
        state.apply_and_commit(&inputs[5]),
        Err(StateError::IndexMismatch { .. }) | Err(StateError::UnknownIndex { .. })
    ));

    // Revert again and replay the original batches: every root matches.
    state.unwind(4).unwrap();
    for (input, root) in inputs[4..].iter().zip(&roots[4..]) {
        let applied = state.apply_and_commit(input).unwrap();
        assert_eq!(
            applied.record.computed_root, *root,
            "batch {}",
            input.batch_number
        );
    }
    // Executed batches cannot be unwound.
    state.mark_executed(10).unwrap();
    assert!(matches!(
        state.unwind(9),
        Err(StateError::UnwindExecuted { .. })
    ));
    assert!(matches!(
        state.unwind(13),
        Err(StateError::UnwindAhead { .. })
    ));
}

#[test]
fn out_of_order_and_inconsistent_batches_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "zksync-test").unwrap();
    let mut state = mainnet_genesis(&store);
    let (_, inputs) = multi_batch_inputs();
    assert!(matches!(
        state.apply_and_commit(&inputs[1]),
        Err(StateError::OutOfOrder { .. })
    ));
    let mut wrong = inputs[0].clone();
    wrong.index_repeated_storage_changes = Some(1);
    assert!(matches!(
        state.apply_and_commit(&wrong),
        Err(StateError::IndexMismatch { .. })
    ));
    // Nothing was written by the refused batches.
    assert_eq!(state.checkpoint().batch, 0);
    let mut root_mismatch = inputs[0].clone();
    root_mismatch.claimed_root = Some(B256::ZERO);
    let applied = state.apply_and_commit(&root_mismatch).unwrap();
    assert_eq!(applied.record.matches, Some(false));
    assert_eq!(state.checkpoint().verified, 0);
}

// ---------------------------------------------------------------- encoders, every version, blobs

use zkreplay::rollup::zksync::calldata::{CommitBatch, CommitCall};
use zkreplay::rollup::zksync::da::DaInput;
use zkreplay::rollup::zksync::encode::{self, BatchSpec, Publish};
use zkreplay::rollup::zksync::gateway;
use zkreplay::rollup::zksync::pubdata::{Pubdata, Trailer};

/// Specs of the multi-batch fixture's batches (pubdata holds their compressed diffs).
pub fn multi_batch_specs() -> Vec<BatchSpec> {
    let (v, inputs) = multi_batch_inputs();
    v["batches"]
        .as_array()
        .unwrap()
        .iter()
        .zip(inputs)
        .map(|(b, input)| {
            let compressed =
                parse_bytes(b["expected"]["compressed_state_diffs"].as_str().unwrap()).unwrap();
            BatchSpec {
                batch_number: input.batch_number,
                timestamp: 1_700_000_000 + input.batch_number,
                index_repeated_storage_changes: input.index_repeated_storage_changes.unwrap(),
                new_state_root: input.claimed_root.unwrap(),
                pubdata: encode::pubdata_with_diffs(StateDiffs::decode(&compressed).unwrap()),
            }
        })
        .collect()
}

fn genesis_stored() -> zkreplay::rollup::zksync::calldata::StoredBatch {
    encode::stored_batch(
        0,
        common::word(&json("genesis/expected_roots.json")["mainnet"]["expected_root"]),
        21,
    )
}

pub fn build_call(
    version: CommitVersion,
    publish: Publish,
    specs: &[BatchSpec],
    previous_index: u64,
) -> (CommitCall, Vec<Vec<u8>>) {
    let mut blobs = Vec::new();
    let batches: Vec<CommitBatch> = specs
        .iter()
        .map(|s| {
            let (b, mut bl) = encode::batch(version, s, publish).unwrap();
            blobs.append(&mut bl);
            b
        })
        .collect();
    let mut previous = genesis_stored();
    previous.index_repeated_storage_changes = previous_index;
    previous.batch_number = specs[0].batch_number - 1;
    (encode::commit_call(version, previous, batches), blobs)
}

#[test]
fn every_commit_version_round_trips_and_replays_to_the_fixture_roots() {
    let specs = multi_batch_specs();
    for version in [
        CommitVersion::Boojum,
        CommitVersion::V24,
        CommitVersion::V26,
        CommitVersion::V29,
    ] {
        for publish in [Publish::Calldata, Publish::Blobs] {
            let (call, blobs) = build_call(version, publish, &specs[..4], 21);
            let bytes = encode_commit(&call);
            assert_eq!(bytes[..4], version.selector());
            let decoded = decode_commit(&bytes).unwrap();
            assert_eq!(decoded, call, "{version:?} {publish:?}");
            let mut store = BlobStore::default();
            let mut hashes = Vec::new();
            for blob in blobs {
                hashes.push(zkreplay::blob::versioned_hash(&store.add(blob).unwrap()));
            }
            let batches = decode_batches(&decoded, &mut store, Some(&hashes));
            let dir = tempfile::tempdir().unwrap();
            let db = Store::open(dir.path(), "zksync-test").unwrap();
            let mut state = mainnet_genesis(&db);
            for (b, spec) in batches.iter().zip(&specs) {
                for c in &b.checks {
                    assert!(
                        c.passed,
                        "{version:?} {publish:?} batch {}: {c:?}",
                        b.batch_number
                    );
                }
                if publish == Publish::Blobs {
                    for check in [
                        "kzg_proof",
                        "linear_hash",
                        "p(z)=y",
                        "opening_point",
                        "versioned_hash",
                    ] {
                        assert!(
                            b.checks.iter().any(|c| c.name.ends_with(check)),
                            "{check} missing: {:?}",
                            b.checks
                        );
                    }
                }
                assert_eq!(
                    b.writes.as_ref().unwrap().initial,
                    spec.pubdata.state_diffs.initial
                );
                let applied = state
                    .apply_and_commit(&PlanInput::from_decoded(b).unwrap())
                    .unwrap();
                assert_eq!(
                    applied.record.matches,
                    Some(true),
                    "{version:?} {publish:?} batch {}",
                    b.batch_number
                );
            }
        }
    }
    // Pre-Boojum: absolute values only; round trip of the calldata.
    let mut spec = specs[0].clone();
    for w in &mut spec.pubdata.state_diffs.initial {
        w.value = zkreplay::rollup::zksync::compression::ValueOp::full(w.value.apply(&B256::ZERO));
    }
    spec.pubdata.state_diffs.repeated.clear();
    let (call, _) = build_call(CommitVersion::PreBoojum, Publish::Calldata, &[spec], 21);
    assert_eq!(decode_commit(&encode_commit(&call)).unwrap(), call);
}

#[test]
fn blob_tampering_and_missing_blobs_are_reported_not_fatal() {
    let specs = multi_batch_specs();
    let (mut call, blobs) = build_call(CommitVersion::V26, Publish::Blobs, &specs[..1], 21);
    // Wrong claimed value: the KZG proof and p(z) = y fail.
    if let DaInput::Blobs(openings) = &mut call.batches[0].da.input {
        openings[0].claimed_value = B256::repeat_byte(1);
    }
    let mut store = BlobStore::default();
    store.add(blobs[0].clone()).unwrap();
    let b = &decode_batches(&call, &mut store, None)[0];
    let failed: Vec<&str> = b
        .checks
        .iter()
        .filter(|c| c.failed())
        .map(|c| c.name.as_str())
        .collect();
    assert!(
        failed.contains(&"blob[0].kzg_proof") && failed.contains(&"blob[0].p(z)=y"),
        "{:?}",
        b.checks
    );
    // No blob supplied: skipped, no writes, no panic.
    let b = &decode_batches(&call, &mut BlobStore::default(), None)[0];
    assert!(b.writes.is_none() && b.checks.iter().any(|c| c.skipped));
    // Wrong transaction versioned hash.
    let (call, _) = build_call(CommitVersion::V26, Publish::Blobs, &specs[..1], 21);
    let b = &decode_batches(&call, &mut store, Some(&[B256::repeat_byte(7)]))[0];
    assert!(
        b.checks
            .iter()
            .any(|c| c.name == "blob[0].versioned_hash" && c.failed())
    );
}

#[test]
fn v26_batches_can_name_a_blob_published_by_an_earlier_transaction() {
    let specs = multi_batch_specs();
    let (first, blobs) = build_call(CommitVersion::V26, Publish::Blobs, &specs[..1], 21);
    let (mut second, _) = build_call(CommitVersion::V26, Publish::Blobs, &specs[..1], 21);
    // The second transaction carries no blob and names the first one's by its contract-side commitment.
    if let DaInput::Blobs(openings) = &mut second.batches[0].da.input {
        let vh = zkreplay::blob::versioned_hash(&openings[0].commitment);
        openings[0].prepublished = Some(openings[0].published_commitment(&vh));
    }
    let second = decode_commit(&encode_commit(&second)).unwrap();
    let mut store = BlobStore::default();
    store.add(blobs[0].clone()).unwrap();
    // Unknown until the publishing transaction was seen.
    assert!(
        decode_batches(&second, &mut BlobStore::default(), None)[0]
            .writes
            .is_none()
    );
    decode_batches(&first, &mut store, None);
    let b = &decode_batches(&second, &mut store, None)[0];
    assert!(b.all_passed() && b.writes.is_some(), "{:?}", b.checks);
}

// ---------------------------------------------------------------- gateway

#[test]
fn gateway_extraction_recovers_a_chains_batches_from_settlement_pubdata() {
    let specs = multi_batch_specs();
    let chain = U256::from(324);
    let validator = Address::repeat_byte(0x11);
    let diamond = Address::repeat_byte(0x22);
    let stranger = Address::repeat_byte(0x33);
    let mut messages = Vec::new();
    let mut logs = Vec::new();
    let mut send = |sender: Address, message: Vec<u8>| {
        logs.push(gateway::message_log(sender, &message));
        messages.push(message);
    };
    for s in &specs[..3] {
        send(
            validator,
            gateway::encode_relayed_pubdata(chain, U256::from(s.batch_number), &s.pubdata.encode()),
        );
        let info = gateway::RelayedBatchInfo {
            stored: encode::stored_batch(
                s.batch_number,
                s.new_state_root,
                s.index_repeated_storage_changes,
            ),
            metadata_hash: B256::repeat_byte(4),
            auxiliary_output_hash: B256::repeat_byte(5),
        };
        assert_eq!(
            gateway::parse_relayed_batch_info(&gateway::encode_relayed_batch_info(&info)).unwrap(),
            info
        );
        send(diamond, gateway::encode_relayed_batch_info(&info));
    }
    // Another chain's batch and a forged message from an unknown sender.
    send(
        validator,
        gateway::encode_relayed_pubdata(U256::from(999), U256::from(1), &specs[5].pubdata.encode()),
    );
    send(
        stranger,
        gateway::encode_relayed_pubdata(chain, U256::from(1), &specs[5].pubdata.encode()),
    );
    let settlement = Pubdata {
        user_logs: logs,
        messages,
        bytecodes: vec![],
        state_diffs: StateDiffs {
            enum_index_size: 4,
            initial: vec![],
            repeated: vec![],
        },
        consumed: 0,
    };
    // The settlement pubdata itself round-trips through its wire format.
    let settlement = Pubdata::parse(&settlement.encode(), Trailer::None).unwrap();
    let config = genesis::GatewayConfig {
        first_batch: 1,
        relayed_da_validator: Some(validator),
        diamond_on_gateway: Some(diamond),
    };
    let batches = gateway::extract(&settlement, chain, Some(&config)).unwrap();
    assert_eq!(
        batches.iter().map(|b| b.batch_number).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );

    let dir = tempfile::tempdir().unwrap();
    let db = Store::open(dir.path(), "zksync-test").unwrap();
    let mut state = mainnet_genesis(&db);
    for b in &batches {
        assert!(b.pubdata_attributed && b.info_attributed);
        let info = b.info.as_ref().unwrap();
        let input = PlanInput {
            batch_number: b.batch_number,
            claimed_root: Some(info.stored.batch_hash),
            index_repeated_storage_changes: Some(info.stored.index_repeated_storage_changes),
            writes: b.writes().unwrap(),
        };
        assert_eq!(
            state.apply_and_commit(&input).unwrap().record.matches,
            Some(true),
            "batch {}",
            b.batch_number
        );
    }
    // Without configured senders the forged message is indistinguishable: reported unattributed.
    let loose = gateway::extract(&settlement, chain, None).unwrap();
    assert!(loose.iter().all(|b| !b.pubdata_attributed));
}

// ---------------------------------------------------------------- CLI

fn run_cli(args: &[&str]) -> i32 {
    use clap::Parser;
    zkreplay::cli::run(zkreplay::cli::Cli::parse_from(args)).unwrap()
}

#[test]
fn cli_apply_replays_commits_and_follows_a_recommit() {
    let specs = multi_batch_specs();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, call: &CommitCall| {
        let path = dir.path().join(name);
        std::fs::write(&path, encode_commit(call)).unwrap();
        path.display().to_string()
    };
    let a = write(
        "a.calldata",
        &build_call(CommitVersion::V26, Publish::Calldata, &specs[..6], 21).0,
    );
    // Batch 5 recommitted with other data: half its initial writes; its root computed in a scratch store.
    let mut other = specs[4].clone();
    let keep = other.pubdata.state_diffs.initial.len() / 2;
    other.pubdata.state_diffs.initial.truncate(keep);
    other.index_repeated_storage_changes = specs[3].index_repeated_storage_changes + keep as u64;
    other.new_state_root = {
        let scratch = tempfile::tempdir().unwrap();
        let db = Store::open(scratch.path(), "scratch").unwrap();
        let mut state = mainnet_genesis(&db);
        for input in &multi_batch_inputs().1[..4] {
            state.apply_and_commit(input).unwrap();
        }
        let input = PlanInput {
            batch_number: 5,
            claimed_root: None,
            index_repeated_storage_changes: None,
            writes: other.pubdata.state_diffs.clone().into(),
        };
        state.apply_and_commit(&input).unwrap().record.computed_root
    };
    let b = write(
        "b.calldata",
        &build_call(
            CommitVersion::V26,
            Publish::Calldata,
            &[other],
            specs[3].index_repeated_storage_changes,
        )
        .0,
    );
    let c = write(
        "c.calldata",
        &build_call(
            CommitVersion::V26,
            Publish::Calldata,
            &specs[4..8],
            specs[3].index_repeated_storage_changes,
        )
        .0,
    );
    let mut bad_spec = specs[0].clone();
    bad_spec.new_state_root = B256::repeat_byte(9);
    let bad = write(
        "bad.calldata",
        &build_call(CommitVersion::V26, Publish::Calldata, &[bad_spec], 21).0,
    );

    let data = dir.path().join("db");
    let data = data.to_str().unwrap();
    let genesis_file = fixture("genesis/InitialStateMainnet.json");
    let genesis_file = genesis_file.to_str().unwrap();
    let apply = |files: &[&str]| {
        let mut args = vec![
            "zkreplay",
            "zksync",
            "apply",
            "--data-dir",
            data,
            "--genesis",
            genesis_file,
        ];
        for f in files {
            args.extend(["--calldata", f]);
        }
        run_cli(&args)
    };
    assert_eq!(apply(&[&a]), 0);
    assert_eq!(apply(&[&b]), 0, "recommit of batch 5 unwinds and applies");
    assert_eq!(
        apply(&[&c]),
        0,
        "recommit of the original 5.. unwinds again"
    );
    {
        let db = Store::open(std::path::Path::new(data), "zksync-era-mainnet").unwrap();
        let state = ZksyncState::open(&db).unwrap();
        assert_eq!(state.checkpoint().batch, 8);
        assert_eq!(state.checkpoint().root, specs[7].new_state_root);
    }
    // The shipped chain config: name and expected genesis root come from it.
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("chains/zksync-era-mainnet.toml");
    let cfg_db = dir.path().join("db3");
    let args = [
        "zkreplay",
        "zksync",
        "apply",
        "--data-dir",
        cfg_db.to_str().unwrap(),
        "--chain-config",
        config.to_str().unwrap(),
        "--genesis",
        genesis_file,
        "--calldata",
        &a,
    ];
    assert_eq!(run_cli(&args), 0);
    assert_eq!(
        zkreplay::chain::ChainConfig::load(&config)
            .unwrap()
            .zksync
            .unwrap()
            .genesis_root,
        Some(common::word(
            &json("genesis/expected_roots.json")["mainnet"]["expected_root"]
        ))
    );
    // A wrong claimed root: exit 1.
    let fresh = dir.path().join("db2");
    let args = [
        "zkreplay",
        "zksync",
        "apply",
        "--data-dir",
        fresh.to_str().unwrap(),
        "--genesis",
        genesis_file,
        "--calldata",
        &bad,
    ];
    assert_eq!(run_cli(&args), 1);
    // decode zksync on real calldata: exit 0.
    let real = fixture("calldata/commit_l1_batch_4470_testnet_sepolia.calldata");
    assert_eq!(
        run_cli(&[
            "zkreplay",
            "decode",
            "zksync",
            "--calldata",
            real.to_str().unwrap()
        ]),
        0
    );
}

// ---------------------------------------------------------------- properties

mod props {
    use super::*;
    use proptest::prelude::*;
    use zkreplay::rollup::zksync::compression::{InitialWrite, OpKind, RepeatedWrite, ValueOp};
    use zkreplay::rollup::zksync::{L1_MESSENGER, L2Log, da, events};

    fn value_op() -> impl Strategy<Value = ValueOp> {
        (0u8..4, 0u8..32, any::<[u8; 32]>()).prop_map(|(k, len, bytes)| {
            if k == 0 {
                return ValueOp::full(B256::from(bytes));
            }
            let kind = [OpKind::Add, OpKind::Sub, OpKind::Transform][k as usize - 1];
            let mut operand = [0u8; 32];
            operand[32 - len as usize..].copy_from_slice(&bytes[32 - len as usize..]);
            ValueOp {
                kind,
                len,
                operand: B256::from(operand),
            }
        })
    }

    fn state_diffs() -> impl Strategy<Value = StateDiffs> {
        (1u8..=8).prop_flat_map(|size| {
            let max = if size == 8 {
                u64::MAX
            } else {
                (1u64 << (8 * size as u32)) - 1
            };
            (
                Just(size),
                proptest::collection::vec((any::<[u8; 32]>(), value_op()), 0..20),
                proptest::collection::vec((0..=max, value_op()), 0..20),
            )
                .prop_map(|(size, initial, repeated)| StateDiffs {
                    enum_index_size: size,
                    initial: initial
                        .into_iter()
                        .map(|(k, value)| InitialWrite {
                            derived_key: B256::from(k),
                            value,
                        })
                        .collect(),
                    repeated: repeated
                        .into_iter()
                        .map(|(index, value)| RepeatedWrite { index, value })
                        .collect(),
                })
        })
    }

    fn pubdata() -> impl Strategy<Value = Pubdata> {
        (
            proptest::collection::vec(
                (
                    any::<u8>(),
                    any::<bool>(),
                    any::<u16>(),
                    any::<[u8; 20]>(),
                    any::<[u8; 32]>(),
                    any::<[u8; 32]>(),
                ),
                0..4,
            ),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..4),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..4),
            state_diffs(),
        )
            .prop_map(|(logs, messages, bytecodes, state_diffs)| {
                let user_logs = logs
                    .into_iter()
                    .map(|(shard_id, is_service, tx, sender, key, value)| L2Log {
                        shard_id,
                        is_service,
                        tx_number_in_block: tx,
                        sender: Address::from(sender),
                        key: B256::from(key),
                        value: B256::from(value),
                    })
                    .collect();
                let mut p = Pubdata {
                    user_logs,
                    messages,
                    bytecodes,
                    state_diffs,
                    consumed: 0,
                };
                p.consumed = p.encode().len();
                p
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn compression_round_trips(diffs in state_diffs()) {
            let bytes = diffs.encode();
            prop_assert_eq!(StateDiffs::decode(&bytes).unwrap(), diffs);
        }

        #[test]
        fn value_compression_inverts(prev in any::<[u8; 32]>(), new in any::<[u8; 32]>()) {
            let (prev, new) = (B256::from(prev), B256::from(new));
            let op = ValueOp::compress(&prev, &new);
            prop_assert_eq!(op.apply(&prev), new);
        }

        #[test]
        fn pubdata_round_trips(p in pubdata()) {
            let bytes = p.encode();
            prop_assert_eq!(&Pubdata::parse(&bytes, Trailer::None).unwrap(), &p);
            let mut padded = bytes.clone();
            padded.extend_from_slice(&[0; 64]);
            prop_assert_eq!(&Pubdata::parse(&padded, Trailer::ZeroPadding).unwrap(), &p);
        }

        #[test]
        fn calldata_round_trips(p in pubdata(), n in 1u64..1_000_000, idx in 1u64..u64::MAX / 2, root in any::<[u8; 32]>(), v in 0usize..4) {
            let version = [CommitVersion::Boojum, CommitVersion::V24, CommitVersion::V26, CommitVersion::V29][v];
            let spec = BatchSpec { batch_number: n, timestamp: n * 3, index_repeated_storage_changes: idx, new_state_root: B256::from(root), pubdata: p };
            let (batch, _) = encode::batch(version, &spec, Publish::Calldata).unwrap();
            let call = encode::commit_call(version, encode::stored_batch(n - 1, B256::ZERO, idx), vec![batch]);
            let decoded = decode_commit(&encode_commit(&call)).unwrap();
            prop_assert_eq!(&decoded, &call);
            let b = &decode_batches(&decoded, &mut BlobStore::default(), None)[0];
            prop_assert!(b.checks.iter().any(|c| c.name == "pubdata_hash" && c.passed));
            prop_assert_eq!(b.parsed.as_ref().unwrap().state_diffs.clone(), spec.pubdata.state_diffs);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..3000), sel in 0usize..6) {
            let selectors: [[u8; 4]; 5] = [
                CommitVersion::PreBoojum.selector(), CommitVersion::Boojum.selector(), CommitVersion::V24.selector(),
                CommitVersion::V26.selector(), CommitVersion::V29.selector(),
            ];
            let mut input = bytes.clone();
            if sel < 5 {
                input.splice(0..0, selectors[sel]);
            }
            if let Ok(call) = decode_commit(&input) {
                let _ = decode_batches(&call, &mut BlobStore::default(), None);
            }
            let _ = Pubdata::parse(&bytes, Trailer::None);
            let _ = Pubdata::parse(&bytes, Trailer::ZeroPadding);
            let _ = StateDiffs::decode(&bytes);
            let _ = da::parse_v26_field(&bytes);
            let _ = da::parse_source_field(&bytes);
            let _ = da::parse_boojum_field(&bytes, Some(B256::ZERO));
            let _ = da::parse_pre_boojum_initial(&bytes);
            let _ = da::parse_pre_boojum_repeated(&bytes);
            let _ = gateway::parse_relayed_pubdata(&bytes);
            let _ = gateway::parse_relayed_batch_info(&bytes);
            let _ = L2Log::parse_all(&bytes);
            let topics: Vec<B256> = bytes.chunks(32).take(4).map(|c| { let mut w = [0u8; 32]; w[..c.len()].copy_from_slice(c); B256::from(w) }).collect();
            let _ = events::parse_log(&topics, &bytes);
        }

        #[test]
        fn pubdata_with_hostile_counts_never_panics(n_logs in any::<u32>(), n_msgs in any::<u32>(), len in any::<u32>(), tail in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut bytes = n_logs.to_be_bytes().to_vec();
            bytes.extend_from_slice(&n_msgs.to_be_bytes());
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.extend_from_slice(&tail);
            let _ = Pubdata::parse(&bytes, Trailer::None);
            let _ = Pubdata::parse(&[0, 0, 0, 0, 0, 0, 0, 0].iter().chain(&bytes).copied().collect::<Vec<_>>(), Trailer::ZeroPadding);
            let _ = L1_MESSENGER;
        }
    }

    #[test]
    fn random_blobs_never_panic() {
        let mut rng = 0x9e3779b97f4a7c15u64;
        for round in 0..3 {
            let mut blob = vec![0u8; zkreplay::blob::BYTES_PER_BLOB];
            for b in blob.iter_mut() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                *b = rng as u8;
            }
            if round > 0 {
                // In-range elements that are not 31-byte coefficients.
                for chunk in blob.chunks_mut(32) {
                    chunk[0] = 0;
                }
            }
            assert!(zkblob::blob_to_pubdata(&blob).is_err());
            assert!(zkblob::blob_to_pubdata(&blob[1..]).is_err());
        }
    }
}
