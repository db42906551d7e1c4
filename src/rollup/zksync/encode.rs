//! Encoders that invert the decoders: build commit calldata, pubdata and
//! blobs from batches. Used by property tests and the local devnet; never as
//! evidence of correctness (the fixtures come from other implementations).

#![allow(
    clippy::arithmetic_side_effects,
    reason = "encodes batches this program built (devnet, tests), never input: every number is an index or length of in-memory data"
)]

use alloy_primitives::{B256, U256, keccak256};

use super::blob::{self as zkblob, PUBDATA_PER_BLOB};
use super::calldata::{CommitBatch, CommitCall, CommitVersion, StoredBatch};
use super::compression::StateDiffs;
use super::da::{BlobOpening, DaField, DaHeader, DaInput, PreBoojumData};
use super::pubdata::Pubdata;
use super::{
    BLOB_ONE_HASH_LOG_KEY, L1_MESSENGER, L2Log, PUBDATA_CHUNK_PUBLISHER, PUBDATA_HASH_LOG_KEY,
};
use crate::blob::{self as kzg, BlobError};

/// How a batch's pubdata is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Publish {
    /// Pubdata in the commit calldata.
    Calldata,
    /// Pubdata in EIP-4844 blobs of the commit transaction.
    Blobs,
}

/// Fields of a batch an encoder needs.
#[derive(Clone, Debug)]
pub struct BatchSpec {
    /// L1 batch number.
    pub batch_number: u64,
    /// Batch timestamp, Unix seconds.
    pub timestamp: u64,
    /// `indexRepeatedStorageChanges` after the batch.
    pub index_repeated_storage_changes: u64,
    /// Tree root after the batch.
    pub new_state_root: B256,
    /// The pubdata to publish.
    pub pubdata: Pubdata,
}

/// A system log as the L2 system contracts send it.
pub fn system_log(sender: alloy_primitives::Address, key: u64, value: B256) -> L2Log {
    L2Log {
        shard_id: 0,
        is_service: true,
        tx_number_in_block: 0,
        sender,
        key: B256::from(U256::from(key)),
        value,
    }
}

/// A pubdata holding only state diffs.
pub fn pubdata_with_diffs(state_diffs: StateDiffs) -> Pubdata {
    Pubdata {
        user_logs: vec![],
        messages: vec![],
        bytecodes: vec![],
        state_diffs,
        consumed: 0,
    }
}

/// Builds a committed batch in `version`'s layout. For [`Publish::Blobs`] the
/// returned blobs must go with the transaction.
pub fn batch(
    version: CommitVersion,
    spec: &BatchSpec,
    publish: Publish,
) -> Result<(CommitBatch, Vec<Vec<u8>>), BlobError> {
    let pubdata = spec.pubdata.encode();
    let pubdata_hash = keccak256(&pubdata);
    let mut system_logs = vec![system_log(L1_MESSENGER, PUBDATA_HASH_LOG_KEY, pubdata_hash)];
    let mut blobs = Vec::new();
    let v26 = matches!(version, CommitVersion::V26 | CommitVersion::V29);
    let (input, linear_hashes) = match (version, publish) {
        (CommitVersion::PreBoojum, _) => {
            let d = &spec.pubdata.state_diffs;
            let initial = d
                .initial
                .iter()
                .map(|w| (w.derived_key, w.value.apply(&B256::ZERO)))
                .collect();
            let repeated = d
                .repeated
                .iter()
                .map(|w| (w.index, w.value.apply(&B256::ZERO)))
                .collect();
            system_logs.clear();
            let data = PreBoojumData {
                initial,
                repeated,
                l2_logs_raw: vec![0; 4],
                l2_logs: 0,
                messages: vec![],
                factory_deps: vec![],
            };
            (DaInput::PreBoojum(data), vec![])
        }
        (CommitVersion::Boojum, Publish::Calldata) => (
            DaInput::Calldata {
                pubdata: pubdata.clone(),
                blob_commitments: vec![],
                source_byte: false,
            },
            vec![],
        ),
        (_, Publish::Calldata) => (
            DaInput::Calldata {
                pubdata: pubdata.clone(),
                blob_commitments: vec![B256::ZERO],
                source_byte: true,
            },
            vec![B256::ZERO],
        ),
        (_, Publish::Blobs) => {
            let mut openings = Vec::new();
            let mut linear = Vec::new();
            let chunks: Vec<&[u8]> = if pubdata.is_empty() {
                vec![&[][..]]
            } else {
                pubdata.chunks(PUBDATA_PER_BLOB).collect()
            };
            for chunk in chunks {
                let (blob, opening, linear_hash) = blob_opening(chunk)?;
                blobs.push(blob);
                openings.push(opening);
                linear.push(linear_hash);
            }
            if !v26 {
                for (i, l) in linear.iter().enumerate() {
                    system_logs.push(system_log(
                        PUBDATA_CHUNK_PUBLISHER,
                        BLOB_ONE_HASH_LOG_KEY + i as u64,
                        *l,
                    ));
                }
            }
            (DaInput::Blobs(openings), linear)
        }
    };
    let header = v26.then_some(DaHeader {
        state_diff_hash: B256::ZERO,
        full_pubdata_hash: pubdata_hash,
        blob_linear_hashes: linear_hashes,
    });
    if let Some(h) = &header {
        // Key 5 stands for the L2 DA validator output log; decoding matches it by value.
        system_logs.push(system_log(L1_MESSENGER, 5, h.output_hash()));
    }
    let batch = CommitBatch {
        batch_number: spec.batch_number,
        timestamp: spec.timestamp,
        index_repeated_storage_changes: spec.index_repeated_storage_changes,
        new_state_root: spec.new_state_root,
        number_of_layer1_txs: U256::ZERO,
        priority_operations_hash: keccak256([]),
        bootloader_heap_initial_contents_hash: B256::ZERO,
        events_queue_state_hash: B256::ZERO,
        system_logs,
        da: DaField { header, input },
    };
    Ok((batch, blobs))
}

/// One blob for a pubdata chunk with its opening (z from the linear and versioned hashes, y, proof).
pub fn blob_opening(chunk: &[u8]) -> Result<(Vec<u8>, BlobOpening, B256), BlobError> {
    let blob = zkblob::pubdata_to_blob(chunk).map_err(|e| BlobError::Kzg(e.to_string()))?;
    let commitment = kzg::commitment(&blob)?;
    let versioned = kzg::versioned_hash(&commitment);
    let linear = zkblob::linear_hash(chunk);
    let z = zkblob::opening_point(&linear, &versioned);
    let c_blob = c_kzg::Blob::from_bytes(&blob).map_err(|e| BlobError::Kzg(format!("{e:?}")))?;
    let (proof, y) = kzg::kzg_settings()
        .compute_kzg_proof(&c_blob, &c_kzg::Bytes32::new(zkblob::pad_point(&z)))
        .map_err(|e| BlobError::Kzg(format!("{e:?}")))?;
    let opening = BlobOpening {
        opening_point: z,
        claimed_value: B256::from_slice(y.as_slice()),
        commitment,
        proof: proof.to_bytes().into_inner(),
        prepublished: None,
    };
    Ok((blob, opening, linear))
}

/// A commit call of `version` committing `batches` on top of `previous`.
pub fn commit_call(
    version: CommitVersion,
    previous: StoredBatch,
    batches: Vec<CommitBatch>,
) -> CommitCall {
    let first = batches.first().map(|b| b.batch_number).unwrap_or_default();
    let last = batches.last().map(|b| b.batch_number).unwrap_or_default();
    CommitCall {
        version,
        chain_id: matches!(version, CommitVersion::V24 | CommitVersion::V26)
            .then(|| U256::from(324)),
        chain_address: (version == CommitVersion::V29)
            .then(|| alloy_primitives::Address::repeat_byte(0x32)),
        process_range: matches!(version, CommitVersion::V26 | CommitVersion::V29)
            .then(|| (U256::from(first), U256::from(last))),
        previous: StoredBatch {
            dependency_roots_rolling_hash: (version == CommitVersion::V29).then_some(B256::ZERO),
            ..previous
        },
        batches,
    }
}

/// The stored info of a genesis-like previous batch.
pub fn stored_batch(batch_number: u64, root: B256, next_index: u64) -> StoredBatch {
    StoredBatch {
        batch_number,
        batch_hash: root,
        index_repeated_storage_changes: next_index,
        number_of_layer1_txs: U256::ZERO,
        priority_operations_hash: keccak256([]),
        dependency_roots_rolling_hash: None,
        l2_logs_tree_root: B256::ZERO,
        timestamp: U256::ZERO,
        commitment: B256::ZERO,
    }
}
