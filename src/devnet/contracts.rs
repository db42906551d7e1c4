//! The stand-in L1 contracts (Solidity in `contracts/`, runtime bytecode in
//! `contracts/out/*.hex`, rebuilt by `contracts/build.sh`) and the ABI of the
//! calls and events they share with the real mainnet contracts.
//!
//! The devnet installs the runtime bytecode at the chain-config addresses with
//! `anvil_setCode`, so the contracts hold no constructor state. Each one takes
//! the real calls (same selectors and ABI) and emits the real events (same
//! signatures and topic layout); what each one checks is documented in its
//! Solidity source.

use alloy_primitives::{Address, B256, U256, address, keccak256};
use alloy_sol_types::{SolCall, SolEvent, SolValue};

use crate::rollup::starknet::da::pages::MemoryPage;
use crate::rollup::zksync::abi as zk;
use crate::rollup::zksync::calldata::{CommitBatch, CommitVersion, StoredBatch};

/// Runtime bytecode of `contracts/StarknetCoreStandIn.sol` (hex, no `0x`).
pub const STARKNET_CORE_RUNTIME_HEX: &str =
    include_str!("../../contracts/out/StarknetCoreStandIn.hex");
/// Runtime bytecode of `contracts/MemoryPageFactRegistryStandIn.sol` (hex, no `0x`).
pub const MEMORY_PAGE_REGISTRY_RUNTIME_HEX: &str =
    include_str!("../../contracts/out/MemoryPageFactRegistryStandIn.hex");
/// Runtime bytecode of `contracts/SharpVerifierStandIn.sol` (hex, no `0x`).
pub const SHARP_VERIFIER_RUNTIME_HEX: &str =
    include_str!("../../contracts/out/SharpVerifierStandIn.hex");
/// Runtime bytecode of `contracts/ZksyncDiamondStandIn.sol` (hex, no `0x`).
pub const ZKSYNC_DIAMOND_RUNTIME_HEX: &str =
    include_str!("../../contracts/out/ZksyncDiamondStandIn.hex");

/// Default address of the Starknet core contract (mainnet's proxy address).
pub const STARKNET_CORE_ADDRESS: Address = address!("c662c410C0ECf747543f5bA90660f6ABeBD9C8c4");
/// Default address of the memory-page fact registry (mainnet's, used until 2024).
pub const MEMORY_PAGE_REGISTRY_ADDRESS: Address =
    address!("FD14567eaf9ba941cB8c8a94eEC14831ca7fD1b4");
/// Default address of the SHARP verifier stand-in (the mainnet GpsStatementVerifier
/// implementation that emitted `LogMemoryPagesHashes` in 2023, `chains/starknet-mainnet.toml`).
pub const SHARP_VERIFIER_ADDRESS: Address = address!("d51A3D50d4D2f99a345a66971E650EEA064DD8dF");
/// Default address of the ZKsync Era diamond proxy (mainnet's, as in `chains/zksync-era-mainnet.json`).
pub const ZKSYNC_DIAMOND_ADDRESS: Address = address!("32400084C286CF3E17e7B677ea9583e60a000324");

/// A stand-in contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StandIn {
    /// Stand-in for the Starknet core contract.
    StarknetCore,
    /// Stand-in for the memory-page fact registry.
    MemoryPageRegistry,
    /// Stand-in for the SHARP verifier.
    SharpVerifier,
    /// Stand-in for the ZKsync diamond proxy.
    ZksyncDiamond,
}

impl StandIn {
    /// Every stand-in contract.
    pub const ALL: [StandIn; 4] = [
        StandIn::StarknetCore,
        StandIn::MemoryPageRegistry,
        StandIn::SharpVerifier,
        StandIn::ZksyncDiamond,
    ];

    /// The Solidity contract name (and `contracts/out/<name>.hex`).
    pub fn name(self) -> &'static str {
        match self {
            StandIn::StarknetCore => "StarknetCoreStandIn",
            StandIn::MemoryPageRegistry => "MemoryPageFactRegistryStandIn",
            StandIn::SharpVerifier => "SharpVerifierStandIn",
            StandIn::ZksyncDiamond => "ZksyncDiamondStandIn",
        }
    }

    /// The default address to install it at.
    pub fn default_address(self) -> Address {
        match self {
            StandIn::StarknetCore => STARKNET_CORE_ADDRESS,
            StandIn::MemoryPageRegistry => MEMORY_PAGE_REGISTRY_ADDRESS,
            StandIn::SharpVerifier => SHARP_VERIFIER_ADDRESS,
            StandIn::ZksyncDiamond => ZKSYNC_DIAMOND_ADDRESS,
        }
    }

    /// The runtime bytecode as checked in (hex without `0x`).
    pub fn runtime_hex(self) -> &'static str {
        match self {
            StandIn::StarknetCore => STARKNET_CORE_RUNTIME_HEX.trim(),
            StandIn::MemoryPageRegistry => MEMORY_PAGE_REGISTRY_RUNTIME_HEX.trim(),
            StandIn::SharpVerifier => SHARP_VERIFIER_RUNTIME_HEX.trim(),
            StandIn::ZksyncDiamond => ZKSYNC_DIAMOND_RUNTIME_HEX.trim(),
        }
    }

    /// The runtime bytecode, for `anvil_setCode`.
    pub fn runtime_bytecode(self) -> Vec<u8> {
        hex::decode(self.runtime_hex()).expect("checked-in bytecode is hex (tested)")
    }
}

/// The ABI shared by the stand-ins and the mainnet contracts.
pub mod abi {
    alloy_sol_types::sol! {
        // Starknet core.
        event LogStateUpdate(uint256 globalRoot, int256 blockNumber, uint256 blockHash);
        function updateState(uint256[] programOutput, uint256 onchainDataHash, uint256 onchainDataSize);
        function updateStateKzgDA(uint256[] programOutput, bytes[] kzgProofs);
        function stateRoot() returns (uint256);
        function stateBlockNumber() returns (int256);
        function stateBlockHash() returns (uint256);

        // Memory-page fact registry.
        event LogMemoryPageFactContinuous(bytes32 factHash, uint256 memoryHash, uint256 prod);
        function registerContinuousMemoryPage(uint256 startAddr, uint256[] values, uint256 z, uint256 alpha, uint256 prime);
        function isValid(bytes32 fact) returns (bool);

        // SHARP verifier stand-in: the real event, a devnet-only entry point.
        event LogMemoryPagesHashes(bytes32 factHash, bytes32[] pagesHashes);
        function registerTaskFact(bytes32 factHash, bytes32[] pagesHashes);

        /// Stand-in only: the chain's return from a settlement layer (see the Solidity source).
        function migrateFromSettlementLayer(uint256 lastBatch, bytes32 lastRoot);
    }

    /// The v13.1 single-proof `updateStateKzgDA` (same name, other signature).
    pub mod v0_13_1 {
        alloy_sol_types::sol! {
            function updateStateKzgDA(uint256[] programOutput, bytes kzgProof);
        }
    }
}

/// `LogStateUpdate(uint256,int256,uint256)`.
pub const LOG_STATE_UPDATE: B256 = abi::LogStateUpdate::SIGNATURE_HASH;
/// `LogMemoryPagesHashes(bytes32,bytes32[])`.
pub const LOG_MEMORY_PAGES_HASHES: B256 = abi::LogMemoryPagesHashes::SIGNATURE_HASH;
/// `LogMemoryPageFactContinuous(bytes32,uint256,uint256)`.
pub const LOG_MEMORY_PAGE_FACT_CONTINUOUS: B256 = abi::LogMemoryPageFactContinuous::SIGNATURE_HASH;
/// `BlockCommit(uint256,bytes32,bytes32)`.
pub const BLOCK_COMMIT: B256 = zk::BlockCommit::SIGNATURE_HASH;
/// `BlockExecution(uint256,bytes32,bytes32)`.
pub const BLOCK_EXECUTION: B256 = zk::BlockExecution::SIGNATURE_HASH;
/// `BlocksRevert(uint256,uint256,uint256)`.
pub const BLOCKS_REVERT: B256 = zk::BlocksRevert::SIGNATURE_HASH;

/// `updateStateKzgDA(uint256[],bytes)` (v0.13.1).
pub const UPDATE_STATE_KZG_V0_13_1_SELECTOR: [u8; 4] = abi::v0_13_1::updateStateKzgDACall::SELECTOR;
/// `registerContinuousMemoryPage(uint256,uint256[],uint256,uint256,uint256)`.
pub const REGISTER_PAGE_SELECTOR: [u8; 4] = abi::registerContinuousMemoryPageCall::SELECTOR;

/// The fact a continuous memory page registers, computed as the real registry
/// does: `(factHash, memoryHash, prod)`.
pub fn memory_page_fact(page: &MemoryPage) -> (B256, U256, U256) {
    let prime = page.prime;
    let mut prod = U256::from(1u8);
    for (i, value) in page.values.iter().enumerate() {
        let address = page.start_addr + U256::from(i);
        let lin_comb = address.add_mod(value.mul_mod(page.alpha, prime), prime);
        prod = prod.mul_mod(page.z.add_mod(prime - lin_comb, prime), prime);
    }
    let mut values = Vec::with_capacity(32 * page.values.len());
    page.values
        .iter()
        .for_each(|v| values.extend_from_slice(&v.to_be_bytes::<32>()));
    let memory_hash = U256::from_be_bytes(keccak256(&values).0);
    let mut packed = Vec::with_capacity(8 * 32);
    for word in [
        U256::from(1u8), // CONTINUOUS_PAGE
        prime,
        U256::from(page.values.len()),
        page.z,
        page.alpha,
        prod,
        memory_hash,
        page.start_addr,
    ] {
        packed.extend_from_slice(&word.to_be_bytes::<32>());
    }
    (keccak256(&packed), memory_hash, prod)
}

/// The `commitment` topic the ZKsync stand-in emits for a committed batch:
/// `keccak256(abi.encode(CommitBatchInfo))` (pre-Boojum: of the `CommitBlockInfo`).
/// Not the real batch commitment; see `contracts/ZksyncDiamondStandIn.sol`.
pub fn standin_commitment(version: CommitVersion, batch: &CommitBatch) -> B256 {
    let encoded = match version {
        CommitVersion::PreBoojum => {
            // The call encoder is the one place that lays out the pre-Boojum
            // struct; encode a one-block call and take the struct back out of it.
            let call = crate::rollup::zksync::encode::commit_call(
                version,
                crate::rollup::zksync::encode::stored_batch(0, B256::ZERO, 0),
                vec![batch.clone()],
            );
            let bytes = crate::rollup::zksync::calldata::encode_commit(&call);
            match zk::commitBlocksCall::abi_decode(&bytes) {
                Ok(decoded) => decoded._newBlocksData[0].abi_encode(),
                Err(_) => unreachable!("a call this module encoded decodes"),
            }
        }
        _ => zk::info(batch).abi_encode(),
    };
    keccak256(encoded)
}

/// Execute calldata for `batches` (consecutive) in `version`'s execute call.
/// v26+ payloads are `u8 encoding version ‖ abi.encode(stored infos, empty
/// priority-op proofs)`; v29 mainnet payloads carry more (interop roots, logs,
/// messages), which the stand-in ignores as it takes the batch range alone.
pub fn encode_execute(
    version: CommitVersion,
    chain_id: U256,
    chain_address: Address,
    batches: &[StoredBatch],
) -> Vec<u8> {
    let from = U256::from(batches.first().map_or(0, |b| b.batch_number));
    let to = U256::from(batches.last().map_or(0, |b| b.batch_number));
    let proofs: Vec<zk::PriorityOpsBatchInfo> = batches
        .iter()
        .map(|_| zk::PriorityOpsBatchInfo {
            leftPath: vec![],
            rightPath: vec![],
            itemHashes: vec![],
        })
        .collect();
    match version {
        CommitVersion::PreBoojum => zk::executeBlocksCall {
            _blocksData: batches.iter().map(zk::StoredBatchInfo::from).collect(),
        }
        .abi_encode(),
        CommitVersion::Boojum => zk::executeBatchesCall {
            _batchesData: batches.iter().map(zk::StoredBatchInfo::from).collect(),
        }
        .abi_encode(),
        CommitVersion::V24 => zk::executeBatchesSharedBridge_0Call {
            _chainId: chain_id,
            _batchesData: batches.iter().map(zk::StoredBatchInfo::from).collect(),
        }
        .abi_encode(),
        CommitVersion::V26 => {
            let infos: Vec<zk::StoredBatchInfo> =
                batches.iter().map(zk::StoredBatchInfo::from).collect();
            let mut data = vec![0u8];
            data.extend_from_slice(&(infos, proofs).abi_encode_params());
            zk::executeBatchesSharedBridge_1Call {
                _chainId: chain_id,
                _processFrom: from,
                _processTo: to,
                _executeData: data.into(),
            }
            .abi_encode()
        }
        CommitVersion::V29 => {
            let infos: Vec<zk::StoredBatchInfoV29> =
                batches.iter().map(zk::StoredBatchInfoV29::from).collect();
            let mut data = vec![1u8];
            data.extend_from_slice(&(infos, proofs).abi_encode_params());
            zk::executeBatchesSharedBridge_2Call {
                _chainAddress: chain_address,
                _processFrom: from,
                _processTo: to,
                _executeData: data.into(),
            }
            .abi_encode()
        }
    }
}

/// Revert calldata (`revertBlocks` / `revertBatches` / `revertBatchesSharedBridge`).
pub fn encode_revert(
    version: CommitVersion,
    chain_id: U256,
    chain_address: Address,
    new_last_batch: u64,
) -> Vec<u8> {
    let n = U256::from(new_last_batch);
    match version {
        CommitVersion::PreBoojum => zk::revertBlocksCall { _newLastBlock: n }.abi_encode(),
        CommitVersion::Boojum => zk::revertBatchesCall { _newLastBatch: n }.abi_encode(),
        CommitVersion::V24 | CommitVersion::V26 => zk::revertBatchesSharedBridge_0Call {
            _chainId: chain_id,
            _newLastBatch: n,
        }
        .abi_encode(),
        CommitVersion::V29 => zk::revertBatchesSharedBridge_1Call {
            _chainAddress: chain_address,
            _newLastBatch: n,
        }
        .abi_encode(),
    }
}

/// A log as a stand-in emits it: emitter, topics, data.
pub type StandInLog = (Address, Vec<B256>, Vec<u8>);

/// The logs the Starknet stand-ins emit, in order, when they accept `tx`
/// (empty for a call none of them takes): the contracts' events computed in
/// Rust, for an L1 held in memory to serve the devnet's transactions as anvil
/// would. `sharp_devnet` checks them against the logs the contracts emit on anvil.
pub fn starknet_standin_logs(tx: &super::PlannedTx) -> Vec<StandInLog> {
    use crate::rollup::starknet::da::program_output::{
        HeaderVersion, L1Binding, detect, parse_l1_calldata,
    };
    use crate::rollup::starknet::events::{
        LOG_STATE_TRANSITION_FACT, StateUpdateEvent, encode_state_update,
    };
    use crate::rollup::starknet::sharp;

    let selector = tx.calldata.get(..4).unwrap_or_default();
    if selector == REGISTER_PAGE_SELECTOR || selector == sharp::REGISTER_PAGE_BATCH_SELECTOR {
        let pages = sharp::pages_in_call(&tx.calldata).unwrap_or_default();
        return pages
            .iter()
            .map(|page| {
                let (fact, memory_hash, prod) = memory_page_fact(page);
                let log = abi::LogMemoryPageFactContinuous {
                    factHash: fact,
                    memoryHash: memory_hash,
                    prod,
                };
                (
                    tx.to,
                    vec![LOG_MEMORY_PAGE_FACT_CONTINUOUS],
                    log.encode_data(),
                )
            })
            .collect();
    }
    if let Ok(call) = abi::registerTaskFactCall::abi_decode(&tx.calldata) {
        let log = abi::LogMemoryPagesHashes {
            factHash: call.factHash,
            pagesHashes: call.pagesHashes,
        };
        return vec![(tx.to, vec![LOG_MEMORY_PAGES_HASHES], log.encode_data())];
    }
    let Ok(update) = parse_l1_calldata(&tx.calldata) else {
        return Vec::new();
    };
    let Ok(output) = detect(&update.program_output, &HeaderVersion::ALL) else {
        return Vec::new();
    };
    let mut logs = Vec::new();
    if let L1Binding::Calldata {
        onchain_data_hash,
        onchain_data_size,
    } = update.binding
    {
        let main: Vec<U256> = update
            .program_output
            .iter()
            .map(crate::rollup::starknet::da::felt_to_u256)
            .collect();
        let fact = sharp::state_transition_fact_of(&main, onchain_data_hash, onchain_data_size);
        logs.push((tx.to, vec![LOG_STATE_TRANSITION_FACT], fact.to_vec()));
    }
    let word = |felt: &starknet_types_core::felt::Felt| U256::from_be_bytes(felt.to_bytes_be());
    // The 4-word header (no block hash) is announced with the 2-argument event.
    let block_hash = match (output.version, output.new_block_hash) {
        (HeaderVersion::V0_11, None) => None,
        (_, hash) => Some(hash.as_ref().map_or(U256::ZERO, word)),
    };
    let (topic, data) = encode_state_update(&StateUpdateEvent {
        global_root: word(&output.new_root),
        l2_block: u64::try_from(word(&output.new_block_number)).unwrap_or(u64::MAX),
        block_hash,
    });
    logs.push((tx.to, vec![topic], data));
    logs
}

/// `registerTaskFact(bytes32,bytes32[])` calldata for the SHARP verifier stand-in.
pub fn encode_register_task_fact(fact: B256, pages_hashes: Vec<B256>) -> Vec<u8> {
    abi::registerTaskFactCall {
        factHash: fact,
        pagesHashes: pages_hashes,
    }
    .abi_encode()
}

/// Calldata that brings a chain back from its settlement layer onto the
/// stand-in: it continues from `last_batch` (committed, verified and executed
/// there) with state root `last_root`.
pub fn encode_migrate_from_settlement_layer(last_batch: u64, last_root: B256) -> Vec<u8> {
    abi::migrateFromSettlementLayerCall {
        lastBatch: U256::from(last_batch),
        lastRoot: last_root,
    }
    .abi_encode()
}

/// `updateStateKzgDA(uint256[],bytes)` calldata (Starknet v0.13.1).
pub fn encode_update_state_kzg_v0_13_1(
    program_output: &[starknet_types_core::felt::Felt],
    proof: &[u8; 48],
) -> Vec<u8> {
    abi::v0_13_1::updateStateKzgDACall {
        programOutput: program_output
            .iter()
            .map(crate::rollup::starknet::da::felt_to_u256)
            .collect(),
        kzgProof: proof.to_vec().into(),
    }
    .abi_encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_and_topics_match_the_mainnet_values() {
        // Published values (Etherscan / era-contracts), not recomputed from the same strings.
        assert_eq!(UPDATE_STATE_KZG_V0_13_1_SELECTOR, [0xb7, 0x2d, 0x42, 0xa1]);
        assert_eq!(REGISTER_PAGE_SELECTOR, [0x55, 0x78, 0xce, 0xae]);
        assert_eq!(abi::updateStateCall::SELECTOR, [0x77, 0x55, 0x26, 0x41]);
        assert_eq!(
            abi::updateStateKzgDACall::SELECTOR,
            [0x50, 0x7e, 0xe5, 0x28]
        );
        assert_eq!(BLOCK_COMMIT, crate::rollup::zksync::events::BLOCK_COMMIT);
        assert_eq!(
            BLOCK_EXECUTION,
            crate::rollup::zksync::events::BLOCK_EXECUTION
        );
        assert_eq!(BLOCKS_REVERT, crate::rollup::zksync::events::BLOCKS_REVERT);
        assert_eq!(
            LOG_STATE_UPDATE,
            keccak256("LogStateUpdate(uint256,int256,uint256)")
        );
        // The topic in the go-ethereum binding of GpsStatementVerifier.
        assert_eq!(
            LOG_MEMORY_PAGES_HASHES,
            alloy_primitives::b256!(
                "73b132cb33951232d83dc0f1f81c2d10f9a2598f057404ed02756716092097bb"
            )
        );
        assert_eq!(
            LOG_MEMORY_PAGES_HASHES,
            crate::rollup::starknet::sharp::LOG_MEMORY_PAGES_HASHES
        );
        assert_eq!(zk::executeBatchesCall::SELECTOR, [0xc3, 0xd9, 0x3e, 0x7c]);
        assert_eq!(zk::executeBlocksCall::SELECTOR, [0xce, 0x9d, 0xcf, 0x16]);
        assert_eq!(zk::commitBlocksCall::SELECTOR, [0x0c, 0x4d, 0xd8, 0x10]);
        assert_eq!(zk::revertBatchesCall::SELECTOR, [0x97, 0xc0, 0x9d, 0x34]);
    }

    #[test]
    fn checked_in_bytecode_is_hex() {
        for c in StandIn::ALL {
            assert!(c.runtime_bytecode().len() > 100, "{}", c.name());
        }
    }

    #[test]
    fn memory_page_fact_of_an_empty_page() {
        let page = MemoryPage {
            start_addr: U256::from(5u8),
            values: vec![],
            z: U256::from(3u8),
            alpha: U256::from(2u8),
            prime: crate::rollup::starknet::da::stark_prime(),
        };
        let (_, memory_hash, prod) = memory_page_fact(&page);
        assert_eq!(prod, U256::from(1u8));
        assert_eq!(memory_hash, U256::from_be_bytes(keccak256([]).0));
    }
}
