//! `commitBatchesSharedBridge(address,uint256,uint256,bytes)` (`0x0db9eb87`,
//! protocol v29+): the chain is named by its diamond address; `bytes = u8
//! encoding version (1) ‖ abi.encode(StoredBatchInfo, CommitBatchInfo[])` with
//! the 9-field `StoredBatchInfo` (adds `dependencyRootsRollingHash`); the DA
//! field has the v26 header.

use alloy_sol_types::{SolCall, SolValue, sol};

use super::abi::{self, CommitBatchInfo};
use super::{CalldataError, CommitCall, CommitVersion, StoredBatch};
use crate::rollup::zksync::da;

/// Selector of `commitBatchesSharedBridge(address,uint256,uint256,bytes)`.
pub const SELECTOR: [u8; 4] = [0x0d, 0xb9, 0xeb, 0x87];
/// The commit-data encoding version this format carries.
pub const ENCODING_VERSION: u8 = 1;

sol! {
    struct StoredBatchInfoV29 {
        uint64 batchNumber;
        bytes32 batchHash;
        uint64 indexRepeatedStorageChanges;
        uint256 numberOfLayer1Txs;
        bytes32 priorityOperationsHash;
        bytes32 dependencyRootsRollingHash;
        bytes32 l2LogsTreeRoot;
        uint256 timestamp;
        bytes32 commitment;
    }

    function commitBatchesSharedBridge(address _chainAddress, uint256 _processFrom, uint256 _processTo, bytes _commitData);
}

impl From<&StoredBatchInfoV29> for StoredBatch {
    fn from(s: &StoredBatchInfoV29) -> Self {
        StoredBatch {
            batch_number: s.batchNumber,
            batch_hash: s.batchHash,
            index_repeated_storage_changes: s.indexRepeatedStorageChanges,
            number_of_layer1_txs: s.numberOfLayer1Txs,
            priority_operations_hash: s.priorityOperationsHash,
            dependency_roots_rolling_hash: Some(s.dependencyRootsRollingHash),
            l2_logs_tree_root: s.l2LogsTreeRoot,
            timestamp: s.timestamp,
            commitment: s.commitment,
        }
    }
}

impl From<&StoredBatch> for StoredBatchInfoV29 {
    fn from(s: &StoredBatch) -> Self {
        StoredBatchInfoV29 {
            batchNumber: s.batch_number,
            batchHash: s.batch_hash,
            indexRepeatedStorageChanges: s.index_repeated_storage_changes,
            numberOfLayer1Txs: s.number_of_layer1_txs,
            priorityOperationsHash: s.priority_operations_hash,
            dependencyRootsRollingHash: s.dependency_roots_rolling_hash.unwrap_or_default(),
            l2LogsTreeRoot: s.l2_logs_tree_root,
            timestamp: s.timestamp,
            commitment: s.commitment,
        }
    }
}

/// Decodes v29+ commit calldata (selector included).
pub fn decode(input: &[u8]) -> Result<CommitCall, CalldataError> {
    let call = commitBatchesSharedBridgeCall::abi_decode(input)?;
    let (&version, data) = call
        ._commitData
        .split_first()
        .ok_or(CalldataError::EmptyCommitData)?;
    if version != ENCODING_VERSION {
        return Err(CalldataError::EncodingVersion {
            found: version,
            expected: ENCODING_VERSION,
        });
    }
    let (previous, infos) = <(StoredBatchInfoV29, Vec<CommitBatchInfo>)>::abi_decode_params(data)?;
    let batches = infos
        .iter()
        .map(|b| abi::batch(b, |field, _| da::parse_v26_field(field)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CommitCall {
        version: CommitVersion::V29,
        chain_id: None,
        chain_address: Some(call._chainAddress),
        process_range: Some((call._processFrom, call._processTo)),
        previous: (&previous).into(),
        batches,
    })
}

/// Encodes a call in the v29 format (selector included); the inverse of [`decode`].
pub fn encode(call: &CommitCall) -> Vec<u8> {
    let previous: StoredBatchInfoV29 = (&call.previous).into();
    let infos: Vec<CommitBatchInfo> = call.batches.iter().map(abi::info).collect();
    let mut data = vec![ENCODING_VERSION];
    data.extend_from_slice(&(previous, infos).abi_encode_params());
    let (from, to) = call.process_range.unwrap_or_default();
    commitBatchesSharedBridgeCall {
        _chainAddress: call.chain_address.unwrap_or_default(),
        _processFrom: from,
        _processTo: to,
        _commitData: data.into(),
    }
    .abi_encode()
}

#[cfg(test)]
mod tests {
    #[test]
    fn selector_matches_the_signature() {
        use alloy_sol_types::SolCall;
        assert_eq!(
            super::commitBatchesSharedBridgeCall::SELECTOR,
            super::SELECTOR
        );
    }
}
