// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Stand-in for the Starknet core contract on a local devnet.
/// @notice Accepts the real state-update calls (same selectors and ABI as the
/// mainnet contract) and emits the real events, so a follower reads a devnet
/// exactly as it reads mainnet:
///  * `LogStateUpdate(uint256,int256)` for a program output with the 4-word
///    header (v0.9 – v0.11.0, which the pre-v0.11.1 contract announced with the
///    2-argument event), `LogStateUpdate(uint256,int256,uint256)` for every
///    later header (the v0.11.1 contract added the block hash to both);
///  * `LogStateTransitionFact(bytes32)` before the state update of a calldata
///    update, with the fact the real contract computes
///    (`OnchainDataFactTreeEncoder.encodeFactWithOnchainData`), which is how a
///    follower finds the update's SHARP memory pages.
/// @dev What it checks and what it does not:
///  * It does NOT verify the STARK proof (no GPS verifier, no fact registry
///    lookup, no config or program hash): a devnet sequencer is trusted to
///    post what it wants, which is what lets tests post faulty batches.
///  * It DOES require the program output's previous root to equal the stored
///    root, like the real contract, so a batch replayed out of order or twice
///    reverts instead of silently forking the devnet's L1 view.
///  * In KZG mode it DOES verify every blob opening with the EIP-4844
///    point-evaluation precompile against `blobhash(i)`, like the real
///    contract: a blob transaction whose blobs do not open to the posted
///    `(z, y)` never lands, so only faults that real L1 would accept reach
///    the follower.
/// It holds no constructor state: it is installed with `anvil_setCode` and
/// starts from root 0, block number 0, block hash 0.
contract StarknetCoreStandIn {
    event LogStateUpdate(uint256 globalRoot, int256 blockNumber);
    event LogStateUpdate(uint256 globalRoot, int256 blockNumber, uint256 blockHash);
    event LogStateTransitionFact(bytes32 stateTransitionFact);

    // Program-output header sizes (words before the KZG segment), per OS version.
    uint256 private constant HEADER_V0_11 = 4;
    uint256 private constant HEADER_V0_11_1 = 5;
    uint256 private constant HEADER_V0_13_1 = 6;
    uint256 private constant HEADER_V0_13_2 = 10;
    // v0.13.1 KZG segment: commitment_low, commitment_high, z, y_low, y_high.
    uint256 private constant KZG_SEGMENT_V0_13_1 = 5;
    address private constant POINT_EVALUATION = address(0x0a);

    uint256 private _globalRoot;
    int256 private _blockNumber;
    uint256 private _blockHash;

    function stateRoot() external view returns (uint256) {
        return _globalRoot;
    }

    function stateBlockNumber() external view returns (int256) {
        return _blockNumber;
    }

    function stateBlockHash() external view returns (uint256) {
        return _blockHash;
    }

    /// Calldata DA (v0.9 – v0.13.0, or later OS versions with use_kzg_da = 0).
    /// The DA is in memory pages registered beforehand; `onchainDataHash` and
    /// `onchainDataSize` bind them in the fact, which the real contract then
    /// requires SHARP to have registered. A stand-in without a verifier does not
    /// check that; it logs the fact as the real contract does.
    function updateState(uint256[] calldata programOutput, uint256 onchainDataHash, uint256 onchainDataSize)
        external
    {
        // The header version is not announced; exactly one of the known layouts
        // must consume the output to its last word, as the follower's decoder requires.
        uint256 fits;
        uint256 header;
        if (_segmentsEnd(programOutput, HEADER_V0_11)) {
            fits++;
            header = HEADER_V0_11;
        }
        if (programOutput.length > HEADER_V0_11_1 && _segmentsEnd(programOutput, HEADER_V0_11_1)) {
            fits++;
            header = HEADER_V0_11_1;
        }
        if (programOutput.length > HEADER_V0_13_1 && programOutput[5] == 0 && _segmentsEnd(programOutput, HEADER_V0_13_1)) {
            fits++;
            header = HEADER_V0_13_1;
        }
        if (
            programOutput.length > HEADER_V0_13_2 && programOutput[8] == 0 && programOutput[9] == 0
                && _segmentsEnd(programOutput, HEADER_V0_13_2)
        ) {
            fits++;
            header = HEADER_V0_13_2;
        }
        require(fits == 1, "UNKNOWN_OR_AMBIGUOUS_OUTPUT");
        emit LogStateTransitionFact(_stateTransitionFact(programOutput, onchainDataHash, onchainDataSize));
        if (header == HEADER_V0_13_2) {
            _update(programOutput[0], programOutput[1], programOutput[3], programOutput[5]);
        } else if (header == HEADER_V0_13_1 || header == HEADER_V0_11_1) {
            _update(programOutput[0], programOutput[1], programOutput[2], programOutput[3]);
        } else {
            // The 4-word header has no block hash, and its contract logged none.
            _updateLegacy(programOutput[0], programOutput[1], programOutput[2]);
        }
    }

    /// Blob DA, Starknet v0.13.1 (one blob, one proof).
    function updateStateKzgDA(uint256[] calldata programOutput, bytes calldata kzgProof) external {
        uint256 end = HEADER_V0_13_1 + KZG_SEGMENT_V0_13_1;
        require(programOutput.length > end && programOutput[5] == 1, "NOT_A_V0_13_1_KZG_OUTPUT");
        require(_segmentsEnd(programOutput, end), "STARKNET_OUTPUT_LENGTH");
        _verifyBlob(
            0,
            programOutput[8],
            _joinY(programOutput[9], programOutput[10]),
            _joinCommitment(programOutput[6], programOutput[7]),
            kzgProof
        );
        _update(programOutput[0], programOutput[1], programOutput[2], programOutput[3]);
    }

    /// Blob DA, Starknet v0.13.2 and later (one proof per blob).
    function updateStateKzgDA(uint256[] calldata programOutput, bytes[] calldata kzgProofs) external {
        require(
            programOutput.length > HEADER_V0_13_2 + 2 && programOutput[8] == 1 && programOutput[9] == 0,
            "NOT_A_V0_13_2_KZG_OUTPUT"
        );
        uint256 z = programOutput[10];
        uint256 nBlobs = programOutput[11];
        require(nBlobs == kzgProofs.length && nBlobs <= 16, "N_BLOBS");
        uint256 commitments = HEADER_V0_13_2 + 2;
        uint256 evaluations = commitments + 2 * nBlobs;
        require(_segmentsEnd(programOutput, evaluations + 2 * nBlobs), "STARKNET_OUTPUT_LENGTH");
        for (uint256 i = 0; i < nBlobs; i++) {
            _verifyBlob(
                i,
                z,
                _joinY(programOutput[evaluations + 2 * i], programOutput[evaluations + 2 * i + 1]),
                _joinCommitment(programOutput[commitments + 2 * i], programOutput[commitments + 2 * i + 1]),
                kzgProofs[i]
            );
        }
        _update(programOutput[0], programOutput[1], programOutput[3], programOutput[5]);
    }

    function _update(uint256 prevRoot, uint256 newRoot, uint256 blockNumber, uint256 blockHash) private {
        _store(prevRoot, newRoot, blockNumber, blockHash);
        emit LogStateUpdate(newRoot, int256(blockNumber), blockHash);
    }

    function _updateLegacy(uint256 prevRoot, uint256 newRoot, uint256 blockNumber) private {
        _store(prevRoot, newRoot, blockNumber, 0);
        emit LogStateUpdate(newRoot, int256(blockNumber));
    }

    function _store(uint256 prevRoot, uint256 newRoot, uint256 blockNumber, uint256 blockHash) private {
        require(prevRoot == _globalRoot, "INVALID_PREVIOUS_ROOT");
        require(blockNumber <= uint256(type(int256).max), "INVALID_BLOCK_NUMBER");
        _globalRoot = newRoot;
        _blockNumber = int256(blockNumber);
        _blockHash = blockHash;
    }

    /// The fact tree of the program output (main part) and the DA node:
    /// `keccak256(keccak256(output), len, onchainDataHash, len + onchainDataSize) + 1`.
    function _stateTransitionFact(uint256[] calldata programOutput, uint256 onchainDataHash, uint256 onchainDataSize)
        private
        pure
        returns (bytes32)
    {
        uint256 n = programOutput.length;
        bytes32 main = keccak256(abi.encodePacked(programOutput));
        uint256 root = uint256(keccak256(abi.encodePacked(main, n, onchainDataHash, n + onchainDataSize)));
        unchecked {
            return bytes32(root + 1);
        }
    }

    /// True when the two message segments (length-prefixed) starting at
    /// `start` end exactly at the end of the output.
    function _segmentsEnd(uint256[] calldata output, uint256 start) private pure returns (bool) {
        uint256 n = output.length;
        if (start >= n) return false;
        uint256 toL1 = output[start];
        if (toL1 >= n) return false;
        uint256 next = start + 1 + toL1;
        if (next >= n) return false;
        uint256 toL2 = output[next];
        if (toL2 >= n) return false;
        return next + 1 + toL2 == n;
    }

    /// `high ‖ low`, 192 bits each: the 48-byte KZG commitment.
    function _joinCommitment(uint256 low, uint256 high) private pure returns (bytes memory) {
        require(low < 2 ** 192 && high < 2 ** 192, "COMMITMENT_HALF_TOO_BIG");
        return abi.encodePacked(uint192(high), uint192(low));
    }

    function _joinY(uint256 low, uint256 high) private pure returns (uint256) {
        require(low < 2 ** 128 && high < 2 ** 128, "Y_HALF_TOO_BIG");
        return (high << 128) | low;
    }

    function _verifyBlob(uint256 index, uint256 z, uint256 y, bytes memory commitment, bytes calldata proof)
        private
        view
    {
        require(proof.length == 48, "KZG_PROOF_LENGTH");
        bytes32 versionedHash = blobhash(index);
        require(versionedHash != bytes32(0), "MISSING_BLOB");
        (bool ok, bytes memory out) =
            POINT_EVALUATION.staticcall(abi.encodePacked(versionedHash, z, y, commitment, proof));
        require(ok && out.length == 64, "INVALID_KZG_PROOF");
    }
}
