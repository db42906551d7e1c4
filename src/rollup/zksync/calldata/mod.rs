//! Commit calldata decoders, one per format, chosen by function selector.
//!
//! | selector     | function                                                        | module          |
//! |--------------|-----------------------------------------------------------------|-----------------|
//! | `0x0c4dd810` | `commitBlocks` (pre-Boojum)                                     | [`v_pre_boojum`] |
//! | `0x701f58c5` | `commitBatches` (Boojum; pubdata inline, then source byte/blobs)| [`v_boojum`]    |
//! | `0x6edd4f12` | `commitBatchesSharedBridge(uint256,StoredBatchInfo,CommitBatchInfo[])` (v24/v25) | [`v24`] |
//! | `0x98f81962` | `commitBatchesSharedBridge(uint256,uint256,uint256,bytes)` (v26–v28) | [`v26`]   |
//! | `0x0db9eb87` | `commitBatchesSharedBridge(address,uint256,uint256,bytes)` (v29+) | [`v29`]       |

use alloy_primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

use super::L2Log;
use super::da::{DaError, DaField};

pub mod v24;
pub mod v26;
pub mod v29;
pub mod v_boojum;
pub mod v_pre_boojum;

/// Why commit calldata was rejected.
#[derive(Debug, thiserror::Error)]
pub enum CalldataError {
    /// The calldata is shorter than a 4-byte selector; holds its length.
    #[error("calldata shorter than a selector ({0} bytes)")]
    TooShort(usize),
    /// The selector is not one of the commit functions (hex, without `0x`).
    #[error("unknown commit selector 0x{0}")]
    UnknownSelector(String),
    /// The arguments do not ABI-decode as the selector's signature says.
    #[error("ABI decoding failed: {0}")]
    Abi(#[from] alloy_sol_types::Error),
    /// A batch's `systemLogs` is not a whole number of 88-byte logs: malformed commit.
    #[error("batch {batch}: system logs are not a whole number of 88-byte logs ({len} bytes)")]
    SystemLogs {
        /// Batch number.
        batch: u64,
        /// Byte length of `systemLogs`.
        len: usize,
    },
    /// A batch's DA field (`pubdataCommitments` / `operatorDAInput`) does not parse.
    #[error("batch {batch}: DA input: {source}")]
    Da {
        /// Batch number.
        batch: u64,
        /// Why the DA field was rejected.
        source: DaError,
    },
    /// The commit-data `bytes` starts with an encoding version this decoder does not know.
    #[error("unsupported commit data encoding version {found} (expected {expected})")]
    EncodingVersion {
        /// Version byte found.
        found: u8,
        /// Version byte the selector implies (0 for v26, 1 for v29).
        expected: u8,
    },
    /// The commit-data `bytes` is empty (no encoding version byte).
    #[error("empty commit data")]
    EmptyCommitData,
}

/// The commit format, one per decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitVersion {
    /// `commitBlocks` (`0x0c4dd810`): explicit write lists, before Boojum.
    PreBoojum,
    /// `commitBatches` (`0x701f58c5`): Boojum, pubdata in the last field.
    Boojum,
    /// `commitBatchesSharedBridge(uint256,…)` (`0x6edd4f12`): protocol v24–v25.
    V24,
    /// `commitBatchesSharedBridge(uint256,uint256,uint256,bytes)` (`0x98f81962`): v26–v28.
    V26,
    /// `commitBatchesSharedBridge(address,uint256,uint256,bytes)` (`0x0db9eb87`): v29+.
    V29,
}

impl CommitVersion {
    /// The 4-byte function selector of this version's commit call.
    pub fn selector(self) -> [u8; 4] {
        match self {
            CommitVersion::PreBoojum => v_pre_boojum::SELECTOR,
            CommitVersion::Boojum => v_boojum::SELECTOR,
            CommitVersion::V24 => v24::SELECTOR,
            CommitVersion::V26 => v26::SELECTOR,
            CommitVersion::V29 => v29::SELECTOR,
        }
    }
}

/// The last committed batch as the contract stores it (`StoredBatchInfo`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredBatch {
    /// `batchNumber` (`blockNumber` pre-Boojum).
    pub batch_number: u64,
    /// The state root after the batch (`batchHash` in the struct).
    pub batch_hash: B256,
    /// `indexRepeatedStorageChanges`: the last enumeration index used so far.
    pub index_repeated_storage_changes: u64,
    /// `numberOfLayer1Txs`: priority operations processed in the batch.
    pub number_of_layer1_txs: U256,
    /// `priorityOperationsHash`: rolling hash of those priority operations.
    pub priority_operations_hash: B256,
    /// v29+ only.
    pub dependency_roots_rolling_hash: Option<B256>,
    /// `l2LogsTreeRoot`: Merkle root of the batch's L2→L1 logs.
    pub l2_logs_tree_root: B256,
    /// `timestamp` of the batch, Unix seconds.
    pub timestamp: U256,
    /// `commitment`: the batch commitment the proof is checked against.
    pub commitment: B256,
}

/// One committed batch (`CommitBatchInfo`, or `CommitBlockInfo` pre-Boojum).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitBatch {
    /// `batchNumber` (`blockNumber` pre-Boojum).
    pub batch_number: u64,
    /// `timestamp`, Unix seconds.
    pub timestamp: u64,
    /// `indexRepeatedStorageChanges`: the last enumeration index after the batch.
    pub index_repeated_storage_changes: u64,
    /// `newStateRoot`: the tree root after the batch, the root zkreplay must reproduce.
    pub new_state_root: B256,
    /// `numberOfLayer1Txs`.
    pub number_of_layer1_txs: U256,
    /// `priorityOperationsHash`.
    pub priority_operations_hash: B256,
    /// Pre-Boojum: `l2LogsTreeRoot`; later: `bootloaderHeapInitialContentsHash`.
    pub bootloader_heap_initial_contents_hash: B256,
    /// Zero pre-Boojum.
    pub events_queue_state_hash: B256,
    /// `systemLogs`, split into 88-byte logs (empty pre-Boojum).
    pub system_logs: Vec<L2Log>,
    /// The DA field (`pubdataCommitments` / `operatorDAInput`), parsed by version.
    pub da: DaField,
}

/// A decoded commit call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitCall {
    /// Which commit format (selector) the call used.
    pub version: CommitVersion,
    /// v24–v28.
    pub chain_id: Option<U256>,
    /// v29+.
    pub chain_address: Option<Address>,
    /// v26+: `(processFrom, processTo)`.
    pub process_range: Option<(U256, U256)>,
    /// `StoredBatchInfo` of the last batch committed before this call.
    pub previous: StoredBatch,
    /// The batches committed, in order.
    pub batches: Vec<CommitBatch>,
}

/// Decodes commit calldata (selector included), choosing the decoder by selector.
pub fn decode_commit(input: &[u8]) -> Result<CommitCall, CalldataError> {
    if input.len() < 4 {
        return Err(CalldataError::TooShort(input.len()));
    }
    let selector: [u8; 4] = input[..4].try_into().expect("4 bytes");
    match selector {
        v_pre_boojum::SELECTOR => v_pre_boojum::decode(input),
        v_boojum::SELECTOR => v_boojum::decode(input),
        v24::SELECTOR => v24::decode(input),
        v26::SELECTOR => v26::decode(input),
        v29::SELECTOR => v29::decode(input),
        other => Err(CalldataError::UnknownSelector(hex::encode(other))),
    }
}

/// Encodes a commit call in its own format (the inverse of [`decode_commit`]).
pub fn encode_commit(call: &CommitCall) -> Vec<u8> {
    match call.version {
        CommitVersion::PreBoojum => v_pre_boojum::encode(call),
        CommitVersion::Boojum => v_boojum::encode(call),
        CommitVersion::V24 => v24::encode(call),
        CommitVersion::V26 => v26::encode(call),
        CommitVersion::V29 => v29::encode(call),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_short_inputs_are_typed_errors() {
        assert!(matches!(
            decode_commit(&[1, 2]),
            Err(CalldataError::TooShort(2))
        ));
        assert!(matches!(
            decode_commit(&[1, 2, 3, 4]),
            Err(CalldataError::UnknownSelector(_))
        ));
        for version in [
            CommitVersion::PreBoojum,
            CommitVersion::Boojum,
            CommitVersion::V24,
            CommitVersion::V26,
            CommitVersion::V29,
        ] {
            assert!(
                matches!(
                    decode_commit(&version.selector()),
                    Err(CalldataError::Abi(_))
                ),
                "{version:?}"
            );
        }
    }
}
