// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Stand-in for Starknet's memory-page fact registry on a local devnet.
/// @notice Same function, same event, same fact hash as the real registry
/// (cairo-lang `MemoryPageFactRegistry.registerContinuousMemoryPage`):
///   memoryHash = keccak256(values),
///   prod       = Π_i (z − (startAddr + i + alpha·values[i])) mod prime,
///   factHash   = keccak256(abi.encodePacked(CONTINUOUS_PAGE = 1, prime, n, z,
///                alpha, prod, memoryHash, startAddr)).
/// The real contract computes `prod` eight cells at a time with the factors
/// negated (an even count leaves the product unchanged); this one takes the
/// plain loop, which yields the same value.
/// `registerContinuousPageBatch` (selector 0x739ef303, the 2024 mainnet
/// registry's batch call) registers each entry as the single call does.
contract MemoryPageFactRegistryStandIn {
    struct MemoryPageEntry {
        uint256 startAddr;
        uint256[] values;
        uint256 z;
        uint256 alpha;
        uint256 prime;
    }

    event LogMemoryPageFactContinuous(bytes32 factHash, uint256 memoryHash, uint256 prod);

    uint256 private constant CONTINUOUS_PAGE = 1;

    mapping(bytes32 => bool) private _facts;

    function isValid(bytes32 fact) external view returns (bool) {
        return _facts[fact];
    }

    function registerContinuousMemoryPage(
        uint256 startAddr,
        uint256[] calldata values,
        uint256 z,
        uint256 alpha,
        uint256 prime
    ) external returns (bytes32 factHash, uint256 memoryHash, uint256 prod) {
        return _register(startAddr, values, z, alpha, prime);
    }

    function registerContinuousPageBatch(MemoryPageEntry[] calldata memoryPageEntries) external {
        for (uint256 i = 0; i < memoryPageEntries.length; i++) {
            MemoryPageEntry calldata e = memoryPageEntries[i];
            _register(e.startAddr, e.values, e.z, e.alpha, e.prime);
        }
    }

    function _register(uint256 startAddr, uint256[] calldata values, uint256 z, uint256 alpha, uint256 prime)
        private
        returns (bytes32 factHash, uint256 memoryHash, uint256 prod)
    {
        // The real registry's input limits, kept so that what fails on mainnet fails here.
        require(values.length < 2 ** 20, "Too many memory values.");
        require(prime < 2 ** 254, "prime is too big for the optimizations in this function.");
        require(z < prime, "Invalid value of z.");
        require(alpha < prime, "Invalid value of alpha.");
        require(startAddr < 2 ** 64 && startAddr < prime, "Invalid value of startAddr.");

        prod = 1;
        uint256 n = values.length;
        for (uint256 i = 0; i < n; i++) {
            uint256 linComb = addmod(startAddr + i, mulmod(values[i], alpha, prime), prime);
            prod = mulmod(prod, addmod(z, prime - linComb, prime), prime);
        }
        memoryHash = uint256(keccak256(abi.encodePacked(values)));
        factHash = keccak256(abi.encodePacked(CONTINUOUS_PAGE, prime, n, z, alpha, prod, memoryHash, startAddr));
        emit LogMemoryPageFactContinuous(factHash, memoryHash, prod);
        _facts[factHash] = true;
    }
}
