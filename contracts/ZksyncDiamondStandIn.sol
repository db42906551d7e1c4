// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Stand-in for the ZKsync Era diamond proxy (Executor facet) on a local devnet.
/// @notice Accepts every historical commit call with its mainnet selector and
/// ABI, and emits the real lifecycle events:
///   BlockCommit(uint256 indexed batchNumber, bytes32 indexed batchHash, bytes32 indexed commitment)
///   BlockExecution(uint256 indexed batchNumber, bytes32 indexed batchHash, bytes32 indexed commitment)
///   BlocksRevert(uint256 totalBatchesCommitted, uint256 totalBatchesVerified, uint256 totalBatchesExecuted)
/// @dev Deliberate differences from the real Executor:
///  * `batchHash` is the batch's new state root, as on mainnet, but `commitment`
///    is `keccak256(abi.encode(info))` of the committed `CommitBatchInfo` (or
///    `CommitBlockInfo`) rather than the real auxiliary/meta commitment, which
///    would need the whole commitment scheme of every protocol version.
///  * Continuity is checked on batch numbers and state roots only (the real
///    contract compares the hash of the full `StoredBatchInfo`): the previous
///    batch must be the last committed one with the stored root. A fresh
///    stand-in adopts the previous batch of its first commit as its genesis,
///    which lets it take real mainnet calldata for any batch range.
///  * No proofs: executing a batch marks it verified and executed. Execute
///    calls with a byte payload (v26+) are taken by their batch range alone.
///  * Blob openings (source byte 1) are verified with the point-evaluation
///    precompile against `blobhash(i)`, like the real contract, except openings
///    that name a blob published by an earlier transaction (v26+), which the
///    real contract looks up in storage and this one accepts.
/// No constructor state: it is installed with `anvil_setCode`.
contract ZksyncDiamondStandIn {
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

    /// v29+: adds `dependencyRootsRollingHash`.
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

    /// Pre-Boojum `commitBlocks`.
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

    event BlockCommit(uint256 indexed batchNumber, bytes32 indexed batchHash, bytes32 indexed commitment);
    event BlockExecution(uint256 indexed batchNumber, bytes32 indexed batchHash, bytes32 indexed commitment);
    event BlocksRevert(uint256 totalBatchesCommitted, uint256 totalBatchesVerified, uint256 totalBatchesExecuted);

    address private constant POINT_EVALUATION = address(0x0a);
    uint256 private constant BLOB_OPENING_SIZE = 144;

    // How the DA field of a batch is laid out, which decides where blob openings are.
    uint8 private constant DA_NONE = 0; // pre-Boojum, or pubdata without a source byte
    uint8 private constant DA_SOURCE_BYTE = 1; // 1.4.2 – v25: u8 source ‖ …
    uint8 private constant DA_V26 = 2; // v26+: header, then u8 source ‖ …

    bool private _initialized;
    uint256 private _totalCommitted;
    uint256 private _totalVerified;
    uint256 private _totalExecuted;
    mapping(uint256 => bytes32) private _roots;
    mapping(uint256 => bytes32) private _commitments;

    // ------------------------------------------------------------------ getters

    function getTotalBatchesCommitted() external view returns (uint256) {
        return _totalCommitted;
    }

    function getTotalBatchesVerified() external view returns (uint256) {
        return _totalVerified;
    }

    function getTotalBatchesExecuted() external view returns (uint256) {
        return _totalExecuted;
    }

    /// The state root committed for `batchNumber` (not the real `storedBatchHash`).
    function storedBatchRoot(uint256 batchNumber) external view returns (bytes32) {
        return _roots[batchNumber];
    }

    // ------------------------------------------------------------------ commits

    /// 0x0c4dd810, pre-Boojum.
    function commitBlocks(StoredBatchInfo calldata last, CommitBlockInfo[] calldata blocks) external {
        _start(last.batchNumber, last.batchHash);
        for (uint256 i = 0; i < blocks.length; i++) {
            _commit(blocks[i].blockNumber, blocks[i].newStateRoot, keccak256(abi.encode(blocks[i])));
        }
    }

    /// 0x701f58c5, Boojum (pubdata inline before 1.4.2, source byte after).
    function commitBatches(StoredBatchInfo calldata last, CommitBatchInfo[] calldata batches) external {
        _start(last.batchNumber, last.batchHash);
        uint256 blobIndex = 0;
        for (uint256 i = 0; i < batches.length; i++) {
            CommitBatchInfo memory info = batches[i];
            // Before 1.4.2 the field is raw pubdata, which starts with a big-endian
            // u32 log count (first byte 0 in practice); source byte 1 means blobs.
            uint8 layout = info.pubdataCommitments.length > 0 && info.pubdataCommitments[0] == 0x01
                ? DA_SOURCE_BYTE
                : DA_NONE;
            blobIndex = _commitBatch(info, layout, blobIndex);
        }
    }

    /// 0x6edd4f12, v24/v25.
    function commitBatchesSharedBridge(uint256, StoredBatchInfo calldata last, CommitBatchInfo[] calldata batches)
        external
    {
        _start(last.batchNumber, last.batchHash);
        uint256 blobIndex = 0;
        for (uint256 i = 0; i < batches.length; i++) {
            blobIndex = _commitBatch(batches[i], DA_SOURCE_BYTE, blobIndex);
        }
    }

    /// 0x98f81962, v26–v28: `commitData = 0x00 ‖ abi.encode(StoredBatchInfo, CommitBatchInfo[])`.
    function commitBatchesSharedBridge(uint256, uint256 processFrom, uint256 processTo, bytes calldata commitData)
        external
    {
        require(commitData.length > 0 && uint8(commitData[0]) == 0, "UNSUPPORTED_COMMIT_ENCODING");
        (StoredBatchInfo memory last, CommitBatchInfo[] memory batches) =
            abi.decode(commitData[1:], (StoredBatchInfo, CommitBatchInfo[]));
        _checkBounds(batches, processFrom, processTo);
        _start(last.batchNumber, last.batchHash);
        uint256 blobIndex = 0;
        for (uint256 i = 0; i < batches.length; i++) {
            blobIndex = _commitBatch(batches[i], DA_V26, blobIndex);
        }
    }

    /// 0x0db9eb87, v29+: `commitData = 0x01 ‖ abi.encode(StoredBatchInfoV29, CommitBatchInfo[])`.
    function commitBatchesSharedBridge(address, uint256 processFrom, uint256 processTo, bytes calldata commitData)
        external
    {
        require(commitData.length > 0 && uint8(commitData[0]) == 1, "UNSUPPORTED_COMMIT_ENCODING");
        (StoredBatchInfoV29 memory last, CommitBatchInfo[] memory batches) =
            abi.decode(commitData[1:], (StoredBatchInfoV29, CommitBatchInfo[]));
        _checkBounds(batches, processFrom, processTo);
        _start(last.batchNumber, last.batchHash);
        uint256 blobIndex = 0;
        for (uint256 i = 0; i < batches.length; i++) {
            blobIndex = _commitBatch(batches[i], DA_V26, blobIndex);
        }
    }

    // ------------------------------------------------------------------ executes

    function executeBlocks(StoredBatchInfo[] calldata blocks) external {
        for (uint256 i = 0; i < blocks.length; i++) {
            _execute(blocks[i].batchNumber);
        }
    }

    function executeBatches(StoredBatchInfo[] calldata batches) external {
        for (uint256 i = 0; i < batches.length; i++) {
            _execute(batches[i].batchNumber);
        }
    }

    function executeBatchesSharedBridge(uint256, StoredBatchInfo[] calldata batches) external {
        for (uint256 i = 0; i < batches.length; i++) {
            _execute(batches[i].batchNumber);
        }
    }

    /// v26–v28; the payload (stored infos, priority-op proofs) is not needed by a stand-in.
    function executeBatchesSharedBridge(uint256, uint256 processFrom, uint256 processTo, bytes calldata) external {
        _executeRange(processFrom, processTo);
    }

    /// v29+.
    function executeBatchesSharedBridge(address, uint256 processFrom, uint256 processTo, bytes calldata) external {
        _executeRange(processFrom, processTo);
    }

    // ------------------------------------------------------------------ reverts

    function revertBlocks(uint256 newLastBlock) external {
        _revert(newLastBlock);
    }

    function revertBatches(uint256 newLastBatch) external {
        _revert(newLastBatch);
    }

    function revertBatchesSharedBridge(uint256, uint256 newLastBatch) external {
        _revert(newLastBatch);
    }

    function revertBatchesSharedBridge(address, uint256 newLastBatch) external {
        _revert(newLastBatch);
    }

    // ------------------------------------------------------------------ migration

    /// Stand-in for a chain's return from a settlement layer (the Gateway): the
    /// real L1 diamond takes the chain's batch counters and stored batch hashes
    /// from the settlement layer (Admin facet `forwardedBridgeMint`, called by the
    /// asset router) and emits no batch event. This one adopts `lastBatch` as
    /// committed, verified and executed with its state root, so the chain's next
    /// L1 commit continues from it.
    function migrateFromSettlementLayer(uint256 lastBatch, bytes32 lastRoot) external {
        require(lastBatch >= _totalExecuted, "CANNOT_GO_BACK");
        _initialized = true;
        _totalCommitted = lastBatch;
        _totalVerified = lastBatch;
        _totalExecuted = lastBatch;
        _roots[lastBatch] = lastRoot;
    }

    // ------------------------------------------------------------------ internals

    function _start(uint256 prevNumber, bytes32 prevRoot) private {
        if (!_initialized) {
            _initialized = true;
            _totalCommitted = prevNumber;
            _totalVerified = prevNumber;
            _totalExecuted = prevNumber;
            _roots[prevNumber] = prevRoot;
            return;
        }
        require(prevNumber == _totalCommitted, "PREVIOUS_BATCH_NUMBER");
        require(prevRoot == _roots[prevNumber], "PREVIOUS_BATCH_ROOT");
    }

    function _commitBatch(CommitBatchInfo memory info, uint8 layout, uint256 blobIndex) private returns (uint256) {
        blobIndex = _verifyBlobs(info.pubdataCommitments, layout, blobIndex);
        _commit(info.batchNumber, info.newStateRoot, keccak256(abi.encode(info)));
        return blobIndex;
    }

    function _commit(uint256 number, bytes32 root, bytes32 commitment) private {
        require(number == _totalCommitted + 1, "BATCH_NUMBER");
        _totalCommitted = number;
        _roots[number] = root;
        _commitments[number] = commitment;
        emit BlockCommit(number, root, commitment);
    }

    function _checkBounds(CommitBatchInfo[] memory batches, uint256 processFrom, uint256 processTo) private pure {
        require(batches.length > 0, "EMPTY_COMMIT");
        require(
            batches[0].batchNumber == processFrom && batches[batches.length - 1].batchNumber == processTo,
            "INCORRECT_BATCH_BOUNDS"
        );
    }

    function _executeRange(uint256 processFrom, uint256 processTo) private {
        require(processFrom <= processTo, "INCORRECT_BATCH_BOUNDS");
        for (uint256 n = processFrom; n <= processTo; n++) {
            _execute(n);
        }
    }

    function _execute(uint256 number) private {
        require(number == _totalExecuted + 1 && number <= _totalCommitted, "BATCH_NOT_EXECUTABLE");
        _totalExecuted = number;
        if (_totalVerified < number) {
            _totalVerified = number;
        }
        emit BlockExecution(number, _roots[number], _commitments[number]);
    }

    function _revert(uint256 newLastBatch) private {
        require(newLastBatch >= _totalExecuted, "CANNOT_REVERT_EXECUTED");
        require(newLastBatch <= _totalCommitted, "REVERT_AHEAD");
        _totalCommitted = newLastBatch;
        if (_totalVerified > newLastBatch) {
            _totalVerified = newLastBatch;
        }
        emit BlocksRevert(_totalCommitted, _totalVerified, _totalExecuted);
    }

    /// Verifies the blob openings of one DA field; returns the next blob index of the transaction.
    function _verifyBlobs(bytes memory field, uint8 layout, uint256 blobIndex) private view returns (uint256) {
        uint256 offset;
        uint256 unit = BLOB_OPENING_SIZE;
        if (layout == DA_NONE) {
            return blobIndex;
        } else if (layout == DA_SOURCE_BYTE) {
            offset = 0;
        } else {
            // state_diff_hash ‖ full_pubdata_hash ‖ u8 n_blobs ‖ n × linear hash ‖ u8 source
            require(field.length >= 65, "DA_HEADER_TRUNCATED");
            offset = 65 + 32 * uint256(uint8(field[64]));
            unit = BLOB_OPENING_SIZE + 32;
        }
        require(field.length > offset, "DA_SOURCE_MISSING");
        if (uint8(field[offset]) != 1) {
            return blobIndex; // calldata pubdata
        }
        offset += 1;
        require((field.length - offset) % unit == 0, "BLOB_OPENINGS_LENGTH");
        for (; offset < field.length; offset += unit) {
            if (unit > BLOB_OPENING_SIZE && _word(field, offset + BLOB_OPENING_SIZE) != bytes32(0)) {
                continue; // names a blob published earlier
            }
            _verifyOpening(field, offset, blobhash(blobIndex));
            blobIndex++;
        }
        return blobIndex;
    }

    /// `z (16) ‖ y (32) ‖ commitment (48) ‖ proof (48)` at `offset`, checked by the precompile.
    function _verifyOpening(bytes memory field, uint256 offset, bytes32 versionedHash) private view {
        require(versionedHash != bytes32(0), "MISSING_BLOB");
        bytes memory input = new bytes(192);
        assembly {
            let src := add(add(field, 32), offset)
            mstore(add(input, 32), versionedHash)
            mstore(add(input, 64), shr(128, mload(src)))
            mstore(add(input, 96), mload(add(src, 16)))
            mcopy(add(input, 128), add(src, 48), 96)
        }
        (bool ok, bytes memory out) = POINT_EVALUATION.staticcall(input);
        require(ok && out.length == 64, "INVALID_KZG_PROOF");
    }

    function _word(bytes memory data, uint256 offset) private pure returns (bytes32 w) {
        require(data.length >= offset + 32, "OUT_OF_BOUNDS");
        assembly {
            w := mload(add(add(data, 32), offset))
        }
    }
}
