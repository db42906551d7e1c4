//! The ZKsync Era L1 ABI: the Executor's structs, its commit, execute and
//! revert calls of every protocol version and its batch lifecycle events, with
//! the conversions to zkreplay's own [`StoredBatch`] and [`CommitBatch`].
//!
//! All of it is one `sol!` invocation because a call's selector is computed
//! from the structs it takes and `sol!` resolves struct names only inside one
//! invocation; the commit decoders (`calldata/`), the Gateway relay parser and
//! the devnet's stand-in calls share these types. `sol!` numbers overloads in
//! declaration order (`commitBatchesSharedBridge_0Call`, `_1`, `_2`).

use alloy_sol_types::{SolType, SolValue, sol_data};

use super::calldata::{CalldataError, CommitBatch, CommitCall, StoredBatch};
use super::da::{DaError, DaField};
use super::{L2_LOG_SIZE, L2Log};

alloy_sol_types::sol! {
    /// `StoredBatchInfo` up to protocol v28; pre-Boojum `StoredBlockInfo` has
    /// the same layout (`blockNumber`, `blockHash`, …), so the same selectors.
    struct StoredBatchInfo {
        uint64 batchNumber;
        bytes32 batchHash;
        uint64 indexRepeatedStorageChanges;
        uint256 numberOfLayer1Txs;
        bytes32 priorityOperationsHash;
        bytes32 l2LogsTreeRoot;
        uint256 timestamp;
        bytes32 commitment;
    }

    /// `StoredBatchInfo` from protocol v29: `dependencyRootsRollingHash` after
    /// `priorityOperationsHash`.
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

    /// One batch of a Boojum-or-later commit (from v26 the last field is
    /// named `operatorDAInput`; the layout is the same).
    struct CommitBatchInfo {
        uint64 batchNumber;
        uint64 timestamp;
        uint64 indexRepeatedStorageChanges;
        bytes32 newStateRoot;
        uint256 numberOfLayer1Txs;
        bytes32 priorityOperationsHash;
        bytes32 bootloaderHeapInitialContentsHash;
        bytes32 eventsQueueStateHash;
        bytes systemLogs;
        bytes pubdataCommitments;
    }

    /// One block of a pre-Boojum commit: explicit write lists.
    struct CommitBlockInfo {
        uint64 blockNumber;
        uint64 timestamp;
        uint64 indexRepeatedStorageChanges;
        bytes32 newStateRoot;
        uint256 numberOfLayer1Txs;
        bytes32 l2LogsTreeRoot;
        bytes32 priorityOperationsHash;
        bytes initialStorageChanges;
        bytes repeatedStorageChanges;
        bytes l2Logs;
        bytes[] l2ArbitraryLengthMessages;
        bytes[] factoryDeps;
    }

    /// Merkle proofs of a batch's priority operations (v26+ execute payload).
    struct PriorityOpsBatchInfo {
        bytes32[] leftPath;
        bytes32[] rightPath;
        bytes32[] itemHashes;
    }

    event BlockCommit(uint256 indexed batchNumber, bytes32 indexed batchHash, bytes32 indexed commitment);
    event BlockExecution(uint256 indexed batchNumber, bytes32 indexed batchHash, bytes32 indexed commitment);
    event BlocksRevert(uint256 totalBatchesCommitted, uint256 totalBatchesVerified, uint256 totalBatchesExecuted);
    function getTotalBatchesCommitted() returns (uint256);
    function getTotalBatchesVerified() returns (uint256);
    function getTotalBatchesExecuted() returns (uint256);

    /// Pre-Boojum commit, `0x0c4dd810`.
    function commitBlocks(StoredBatchInfo _lastCommittedBlockData, CommitBlockInfo[] _newBlocksData);
    /// Boojum commit, `0x701f58c5`.
    function commitBatches(StoredBatchInfo _lastCommittedBatchData, CommitBatchInfo[] _newBatchesData);
    /// v24/v25 commit, `0x6edd4f12` (`_0`).
    function commitBatchesSharedBridge(uint256 _chainId, StoredBatchInfo _lastCommittedBatchData, CommitBatchInfo[] _newBatchesData);
    /// v26–v28 commit, `0x98f81962` (`_1`): `bytes` = encoding version 0 ‖
    /// `abi.encode(StoredBatchInfo, CommitBatchInfo[])`.
    function commitBatchesSharedBridge(uint256 _chainId, uint256 _processFrom, uint256 _processTo, bytes _commitData);
    /// v29+ commit, `0x0db9eb87` (`_2`): `bytes` = encoding version 1 ‖
    /// `abi.encode(StoredBatchInfoV29, CommitBatchInfo[])`.
    function commitBatchesSharedBridge(address _chainAddress, uint256 _processFrom, uint256 _processTo, bytes _commitData);

    function executeBlocks(StoredBatchInfo[] _blocksData);
    function executeBatches(StoredBatchInfo[] _batchesData);
    /// v24/v25 (`_0`).
    function executeBatchesSharedBridge(uint256 _chainId, StoredBatchInfo[] _batchesData);
    /// v26–v28 (`_1`).
    function executeBatchesSharedBridge(uint256 _chainId, uint256 _processFrom, uint256 _processTo, bytes _executeData);
    /// v29+ (`_2`).
    function executeBatchesSharedBridge(address _chainAddress, uint256 _processFrom, uint256 _processTo, bytes _executeData);
    function revertBlocks(uint256 _newLastBlock);
    function revertBatches(uint256 _newLastBatch);
    /// v24–v28 (`_0`).
    function revertBatchesSharedBridge(uint256 _chainId, uint256 _newLastBatch);
    /// v29+ (`_1`).
    function revertBatchesSharedBridge(address _chainAddress, uint256 _newLastBatch);
}

/// A [`StoredBatch`] from either `StoredBatchInfo` layout: they share eight
/// fields by name; only v29's carries the dependency roots' rolling hash.
macro_rules! stored_batch_from {
    ($info:expr, $dependency_roots_rolling_hash:expr) => {
        StoredBatch {
            batch_number: $info.batchNumber,
            batch_hash: $info.batchHash,
            index_repeated_storage_changes: $info.indexRepeatedStorageChanges,
            number_of_layer1_txs: $info.numberOfLayer1Txs,
            priority_operations_hash: $info.priorityOperationsHash,
            dependency_roots_rolling_hash: $dependency_roots_rolling_hash,
            l2_logs_tree_root: $info.l2LogsTreeRoot,
            timestamp: $info.timestamp,
            commitment: $info.commitment,
        }
    };
}

impl From<&StoredBatchInfo> for StoredBatch {
    fn from(s: &StoredBatchInfo) -> Self {
        stored_batch_from!(s, None)
    }
}

impl From<&StoredBatch> for StoredBatchInfo {
    /// Drops `dependency_roots_rolling_hash`: the struct before v29 has none.
    fn from(s: &StoredBatch) -> Self {
        StoredBatchInfo {
            batchNumber: s.batch_number,
            batchHash: s.batch_hash,
            indexRepeatedStorageChanges: s.index_repeated_storage_changes,
            numberOfLayer1Txs: s.number_of_layer1_txs,
            priorityOperationsHash: s.priority_operations_hash,
            l2LogsTreeRoot: s.l2_logs_tree_root,
            timestamp: s.timestamp,
            commitment: s.commitment,
        }
    }
}

impl From<&StoredBatchInfoV29> for StoredBatch {
    fn from(s: &StoredBatchInfoV29) -> Self {
        stored_batch_from!(s, Some(s.dependencyRootsRollingHash))
    }
}

impl From<&StoredBatch> for StoredBatchInfoV29 {
    /// A batch read from an older format has no `dependencyRootsRollingHash`: zero.
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

/// Converts the `CommitBatchInfo`s of one call, parsing each DA field with
/// `parse_da` (which sees the batch's system logs: the Boojum layout is told
/// apart by the pubdata hash they carry).
pub(crate) fn batches(
    infos: &[CommitBatchInfo],
    parse_da: impl Fn(&[u8], &[L2Log]) -> Result<DaField, DaError>,
) -> Result<Vec<CommitBatch>, CalldataError> {
    infos
        .iter()
        .map(|info| {
            let system_logs = system_logs(info.batchNumber, &info.systemLogs)?;
            let da = parse_da(&info.pubdataCommitments, &system_logs).map_err(|source| {
                CalldataError::Da {
                    batch: info.batchNumber,
                    source,
                }
            })?;
            Ok(CommitBatch {
                batch_number: info.batchNumber,
                timestamp: info.timestamp,
                index_repeated_storage_changes: info.indexRepeatedStorageChanges,
                new_state_root: info.newStateRoot,
                number_of_layer1_txs: info.numberOfLayer1Txs,
                priority_operations_hash: info.priorityOperationsHash,
                bootloader_heap_initial_contents_hash: info.bootloaderHeapInitialContentsHash,
                events_queue_state_hash: info.eventsQueueStateHash,
                system_logs,
                da,
            })
        })
        .collect()
}

/// The `CommitBatchInfo` of one batch (the inverse of [`batches`]).
pub(crate) fn info(batch: &CommitBatch) -> CommitBatchInfo {
    let mut logs = Vec::with_capacity(batch.system_logs.len().saturating_mul(L2_LOG_SIZE));
    for log in &batch.system_logs {
        log.encode(&mut logs);
    }
    CommitBatchInfo {
        batchNumber: batch.batch_number,
        timestamp: batch.timestamp,
        indexRepeatedStorageChanges: batch.index_repeated_storage_changes,
        newStateRoot: batch.new_state_root,
        numberOfLayer1Txs: batch.number_of_layer1_txs,
        priorityOperationsHash: batch.priority_operations_hash,
        bootloaderHeapInitialContentsHash: batch.bootloader_heap_initial_contents_hash,
        eventsQueueStateHash: batch.events_queue_state_hash,
        systemLogs: logs.into(),
        pubdataCommitments: super::da::encode_field(&batch.da).into(),
    }
}

/// The Boojum-layout arguments of a commit call (v24 adds the chain id
/// before them): the previous batch and the committed ones.
pub(crate) fn boojum_arguments(call: &CommitCall) -> (StoredBatchInfo, Vec<CommitBatchInfo>) {
    let previous = StoredBatchInfo::from(&call.previous);
    (previous, call.batches.iter().map(info).collect())
}

/// A batch's `systemLogs`, split into 88-byte logs.
fn system_logs(batch: u64, bytes: &[u8]) -> Result<Vec<L2Log>, CalldataError> {
    L2Log::parse_all(bytes).ok_or(CalldataError::SystemLogs {
        batch,
        len: bytes.len(),
    })
}

/// Decodes v26+ commit data, `u8 encoding version ‖ abi.encode(S,
/// CommitBatchInfo[])` where `S` is the call's `StoredBatchInfo` layout, into
/// the previous batch and the committed ones (DA fields with the v26 header).
pub(crate) fn decode_versioned<S>(
    data: &[u8],
    expected: u8,
) -> Result<(StoredBatch, Vec<CommitBatch>), CalldataError>
where
    S: SolType<RustType = S>,
    for<'a> StoredBatch: From<&'a S>,
{
    let (&found, body) = data.split_first().ok_or(CalldataError::EmptyCommitData)?;
    if found != expected {
        return Err(CalldataError::EncodingVersion { found, expected });
    }
    let (previous, infos) = <(S, sol_data::Array<CommitBatchInfo>)>::abi_decode_params(body)?;
    let committed = batches(&infos, |field, _| super::da::parse_v26_field(field))?;
    Ok((StoredBatch::from(&previous), committed))
}

/// Encodes v26+ commit data (the inverse of [`decode_versioned`]).
pub(crate) fn encode_versioned<S>(version: u8, call: &CommitCall) -> alloy_primitives::Bytes
where
    S: SolType<RustType = S> + SolValue<SolType = S> + for<'a> From<&'a StoredBatch>,
{
    let previous = S::from(&call.previous);
    let infos: Vec<CommitBatchInfo> = call.batches.iter().map(info).collect();
    let body = (previous, infos).abi_encode_params();
    let mut data = Vec::with_capacity(body.len().saturating_add(1));
    data.push(version);
    data.extend_from_slice(&body);
    data.into()
}

#[cfg(test)]
mod tests {
    use alloy_sol_types::SolCall;

    use super::*;

    /// Selectors as mainnet calldata and l2beat's zksync2 project file list them.
    #[test]
    fn selectors_are_the_executor_calls_of_each_version() {
        assert_eq!(commitBlocksCall::SELECTOR, [0x0c, 0x4d, 0xd8, 0x10]);
        assert_eq!(commitBatchesCall::SELECTOR, [0x70, 0x1f, 0x58, 0xc5]);
        assert_eq!(
            commitBatchesSharedBridge_0Call::SELECTOR,
            [0x6e, 0xdd, 0x4f, 0x12]
        );
        assert_eq!(
            commitBatchesSharedBridge_1Call::SELECTOR,
            [0x98, 0xf8, 0x19, 0x62]
        );
        assert_eq!(
            commitBatchesSharedBridge_2Call::SELECTOR,
            [0x0d, 0xb9, 0xeb, 0x87]
        );
    }
}
