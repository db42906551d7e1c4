// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Stand-in for the SHARP verifier (GpsStatementVerifier) on a local devnet.
/// @notice Emits the real `LogMemoryPagesHashes(bytes32 factHash, bytes32[] pagesHashes)`
/// (cairo-lang `GpsOutputParser.registerGpsFacts`: one event per task, naming
/// the task's fact and the memory hashes of its continuous pages in output
/// order, the main part first) and records the fact like a fact registry.
/// @dev The real verifier derives both from a verified proof and the task
/// metadata (`verifyProofAndRegister`). This stand-in verifies nothing: a
/// devnet's SHARP is trusted to register what it is told, so its one entry
/// point, `registerTaskFact`, is not a mainnet function. A follower reads only
/// the event, which is the real one.
contract SharpVerifierStandIn {
    event LogMemoryPagesHashes(bytes32 factHash, bytes32[] pagesHashes);

    mapping(bytes32 => bool) private _facts;

    function isValid(bytes32 fact) external view returns (bool) {
        return _facts[fact];
    }

    function registerTaskFact(bytes32 factHash, bytes32[] calldata pagesHashes) external {
        require(pagesHashes.length > 0, "NO_PAGES");
        _facts[factHash] = true;
        emit LogMemoryPagesHashes(factHash, pagesHashes);
    }
}
