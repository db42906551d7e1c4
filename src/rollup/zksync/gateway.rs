//! Extracting a chain's batches from a settlement chain's (Gateway's) pubdata.
//!
//! Once a chain settles on the ZKsync Gateway, its commits are L2
//! transactions on the Gateway and never reach L1. What reaches L1 is the
//! Gateway's own pubdata, whose L2→L1 messages carry, per settled batch of
//! every chain on it:
//!
//! * from `RelayedSLDAValidator`: `abi.encode(uint8 0, uint256 chainId,
//!   uint256 batchNumber, bytes pubdata)`, the chain's pubdata (calldata DA
//!   only; blobs are not relayed);
//! * from the chain's Executor facet on the Gateway: `abi.encode(uint8 0,
//!   StoredBatchInfo, bytes32 metadataHash, bytes32 auxiliaryOutputHash)`,
//!   whose `batchHash` is the chain's new state root and
//!   `indexRepeatedStorageChanges` its next free index (`StoredBatchInfo` has 8
//!   fields before v29 and 9 from v29; the message length tells which).
//!
//! A message's sender is not in the message: the L1 messenger (`0x8008`)
//! emits a user L2→L1 log with `key` = the sender address and `value` =
//! `keccak(message)`, and this module attributes a message by that log.
//!
//! **Verified here:** the message is in the Gateway pubdata (whose bytes the
//! Gateway's L1 commit bound, checked by [`super::decode`] for the Gateway
//! batch); when the sender addresses are configured, that the message was
//! sent by the configured `RelayedSLDAValidator` / the chain's diamond on the
//! Gateway (log key and `keccak(message)` equal); the chain id; that the
//! relayed pubdata parses to its last byte; that the initial-write count
//! matches the difference of `indexRepeatedStorageChanges` between
//! consecutive relayed `StoredBatchInfo`s; and, when the state is applied,
//! the computed root against `batchHash`.
//!
//! **Not verified:** that the Gateway batch carrying the messages was proven
//! and executed on L1 (the caller must follow the Gateway's `BlockExecution`);
//! the chain's own commit on the Gateway (an L2 transaction, not on L1): the
//! relay contract checked `keccak(pubdata)` against the chain's
//! L2-DA-validator output there, and that check is only as good as the
//! Gateway's proof; `metadataHash`/`auxiliaryOutputHash` and the batch
//! `commitment` are passed through, not recomputed; messages from senders
//! that are not configured are accepted as unattributed (reported as such).

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::{SolType, sol, sol_data};
use serde::{Deserialize, Serialize};

use super::calldata::StoredBatch;
use super::decode::Writes;
use super::genesis::GatewayConfig;
use super::pubdata::{Pubdata, PubdataError, Trailer};
use super::{L1_MESSENGER, L2Log};

/// The leading version byte of both relayed message kinds.
pub const RELAYED_VERSION: u8 = 0;

/// Why a relayed message was rejected.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("ABI decoding: {0}")]
    Abi(#[from] alloy_sol_types::Error),
    #[error("unknown relayed message version {0}")]
    Version(u8),
    #[error("message of {0} bytes is not a relayed StoredBatchInfo")]
    NotBatchInfo(usize),
    #[error("relayed pubdata of batch {batch}: {source}")]
    Pubdata { batch: u64, source: PubdataError },
    #[error("chain batch number {0} does not fit in u64")]
    BatchNumber(U256),
}

sol! {
    struct RelayedStoredBatchInfo8 {
        uint64 batchNumber;
        bytes32 batchHash;
        uint64 indexRepeatedStorageChanges;
        uint256 numberOfLayer1Txs;
        bytes32 priorityOperationsHash;
        bytes32 l2LogsTreeRoot;
        uint256 timestamp;
        bytes32 commitment;
    }

    struct RelayedStoredBatchInfo9 {
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
}

type PubdataMessage = (
    sol_data::Uint<8>,
    sol_data::Uint<256>,
    sol_data::Uint<256>,
    sol_data::Bytes,
);
type InfoMessage8 = (
    sol_data::Uint<8>,
    RelayedStoredBatchInfo8,
    sol_data::FixedBytes<32>,
    sol_data::FixedBytes<32>,
);
type InfoMessage9 = (
    sol_data::Uint<8>,
    RelayedStoredBatchInfo9,
    sol_data::FixedBytes<32>,
    sol_data::FixedBytes<32>,
);

/// A chain's pubdata relayed by `RelayedSLDAValidator`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayedPubdata {
    pub chain_id: U256,
    pub batch_number: U256,
    pub pubdata: Vec<u8>,
}

/// A chain's `StoredBatchInfo` relayed by its Executor on the Gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayedBatchInfo {
    pub stored: StoredBatch,
    pub metadata_hash: B256,
    pub auxiliary_output_hash: B256,
}

/// Decodes a `RelayedSLDAValidator` message.
pub fn parse_relayed_pubdata(message: &[u8]) -> Result<RelayedPubdata, GatewayError> {
    let (version, chain_id, batch_number, pubdata) = PubdataMessage::abi_decode_params(message)?;
    if version != RELAYED_VERSION {
        return Err(GatewayError::Version(version));
    }
    Ok(RelayedPubdata {
        chain_id,
        batch_number,
        pubdata: pubdata.to_vec(),
    })
}

/// Encodes a `RelayedSLDAValidator` message (inverse of [`parse_relayed_pubdata`]).
pub fn encode_relayed_pubdata(chain_id: U256, batch_number: U256, pubdata: &[u8]) -> Vec<u8> {
    PubdataMessage::abi_encode_params(&(
        RELAYED_VERSION,
        chain_id,
        batch_number,
        alloy_primitives::Bytes::copy_from_slice(pubdata),
    ))
}

/// Decodes an Executor message; the layout (8 or 9 fields) is fixed by its length.
pub fn parse_relayed_batch_info(message: &[u8]) -> Result<RelayedBatchInfo, GatewayError> {
    let version = *message
        .get(31)
        .ok_or(GatewayError::NotBatchInfo(message.len()))?;
    match message.len() {
        352 => {
            let (v, s, metadata_hash, auxiliary_output_hash) =
                InfoMessage8::abi_decode_params(message)?;
            check_version(v)?;
            let stored = StoredBatch {
                batch_number: s.batchNumber,
                batch_hash: s.batchHash,
                index_repeated_storage_changes: s.indexRepeatedStorageChanges,
                number_of_layer1_txs: s.numberOfLayer1Txs,
                priority_operations_hash: s.priorityOperationsHash,
                dependency_roots_rolling_hash: None,
                l2_logs_tree_root: s.l2LogsTreeRoot,
                timestamp: s.timestamp,
                commitment: s.commitment,
            };
            Ok(RelayedBatchInfo {
                stored,
                metadata_hash,
                auxiliary_output_hash,
            })
        }
        384 => {
            let (v, s, metadata_hash, auxiliary_output_hash) =
                InfoMessage9::abi_decode_params(message)?;
            check_version(v)?;
            let stored = StoredBatch {
                batch_number: s.batchNumber,
                batch_hash: s.batchHash,
                index_repeated_storage_changes: s.indexRepeatedStorageChanges,
                number_of_layer1_txs: s.numberOfLayer1Txs,
                priority_operations_hash: s.priorityOperationsHash,
                dependency_roots_rolling_hash: Some(s.dependencyRootsRollingHash),
                l2_logs_tree_root: s.l2LogsTreeRoot,
                timestamp: s.timestamp,
                commitment: s.commitment,
            };
            Ok(RelayedBatchInfo {
                stored,
                metadata_hash,
                auxiliary_output_hash,
            })
        }
        len => {
            let _ = version;
            Err(GatewayError::NotBatchInfo(len))
        }
    }
}

/// Encodes an Executor message (inverse of [`parse_relayed_batch_info`]).
pub fn encode_relayed_batch_info(info: &RelayedBatchInfo) -> Vec<u8> {
    let s = &info.stored;
    match s.dependency_roots_rolling_hash {
        None => InfoMessage8::abi_encode_params(&(
            RELAYED_VERSION,
            RelayedStoredBatchInfo8 {
                batchNumber: s.batch_number,
                batchHash: s.batch_hash,
                indexRepeatedStorageChanges: s.index_repeated_storage_changes,
                numberOfLayer1Txs: s.number_of_layer1_txs,
                priorityOperationsHash: s.priority_operations_hash,
                l2LogsTreeRoot: s.l2_logs_tree_root,
                timestamp: s.timestamp,
                commitment: s.commitment,
            },
            info.metadata_hash,
            info.auxiliary_output_hash,
        )),
        Some(dep) => InfoMessage9::abi_encode_params(&(
            RELAYED_VERSION,
            RelayedStoredBatchInfo9 {
                batchNumber: s.batch_number,
                batchHash: s.batch_hash,
                indexRepeatedStorageChanges: s.index_repeated_storage_changes,
                numberOfLayer1Txs: s.number_of_layer1_txs,
                priorityOperationsHash: s.priority_operations_hash,
                dependencyRootsRollingHash: dep,
                l2LogsTreeRoot: s.l2_logs_tree_root,
                timestamp: s.timestamp,
                commitment: s.commitment,
            },
            info.metadata_hash,
            info.auxiliary_output_hash,
        )),
    }
}

fn check_version(v: u8) -> Result<(), GatewayError> {
    if v == RELAYED_VERSION {
        Ok(())
    } else {
        Err(GatewayError::Version(v))
    }
}

/// The messenger log announcing a message from `sender`.
pub fn message_log(sender: Address, message: &[u8]) -> L2Log {
    L2Log {
        shard_id: 0,
        is_service: true,
        tx_number_in_block: 0,
        sender: L1_MESSENGER,
        key: B256::left_padding_from(sender.as_slice()),
        value: keccak256(message),
    }
}

/// Who sent a message, by the messenger log whose value is `keccak(message)`.
pub fn message_sender(logs: &[L2Log], message: &[u8]) -> Option<Address> {
    let hash = keccak256(message);
    logs.iter()
        .find(|l| {
            l.sender == L1_MESSENGER && l.value == hash && l.key[..12].iter().all(|b| *b == 0)
        })
        .map(|l| Address::from_slice(&l.key[12..]))
}

/// One of the chain's batches found in the settlement chain's pubdata.
#[derive(Clone, Debug)]
pub struct GatewayBatch {
    pub batch_number: u64,
    /// The relayed pubdata, parsed to the last byte.
    pub pubdata: Option<Pubdata>,
    /// The relayed `StoredBatchInfo` (new state root, next free index).
    pub info: Option<RelayedBatchInfo>,
    /// Whether the senders were checked against the configured addresses.
    pub pubdata_attributed: bool,
    pub info_attributed: bool,
}

impl GatewayBatch {
    /// The writes, when the pubdata was relayed.
    pub fn writes(&self) -> Option<Writes> {
        self.pubdata.as_ref().map(|p| p.state_diffs.clone().into())
    }
}

/// Extracts `chain_id`'s batches from one settlement-chain batch's parsed pubdata.
///
/// With `config` sender addresses set, messages from other senders are ignored;
/// without them every decodable message counts, marked unattributed.
pub fn extract(
    settlement: &Pubdata,
    chain_id: U256,
    config: Option<&GatewayConfig>,
) -> Result<Vec<GatewayBatch>, GatewayError> {
    let validator = config.and_then(|c| c.relayed_da_validator);
    let diamond = config.and_then(|c| c.diamond_on_gateway);
    let mut out: Vec<GatewayBatch> = Vec::new();
    for message in &settlement.messages {
        let sender = message_sender(&settlement.user_logs, message);
        if let Ok(relayed) = parse_relayed_pubdata(message) {
            if relayed.chain_id != chain_id {
                continue;
            }
            let attributed = match validator {
                Some(v) if sender == Some(v) => true,
                Some(_) => continue,
                None => false,
            };
            let n = u64::try_from(relayed.batch_number)
                .map_err(|_| GatewayError::BatchNumber(relayed.batch_number))?;
            let parsed = Pubdata::parse(&relayed.pubdata, Trailer::None)
                .map_err(|source| GatewayError::Pubdata { batch: n, source })?;
            let entry = entry(&mut out, n);
            entry.pubdata = Some(parsed);
            entry.pubdata_attributed = attributed;
        } else if let Ok(info) = parse_relayed_batch_info(message) {
            let attributed = match diamond {
                Some(d) if sender == Some(d) => true,
                Some(_) => continue,
                None => false,
            };
            let entry = entry(&mut out, info.stored.batch_number);
            entry.info = Some(info);
            entry.info_attributed = attributed;
        }
    }
    out.sort_by_key(|b| b.batch_number);
    Ok(out)
}

fn entry(out: &mut Vec<GatewayBatch>, n: u64) -> &mut GatewayBatch {
    if let Some(pos) = out.iter().position(|b| b.batch_number == n) {
        return &mut out[pos];
    }
    out.push(GatewayBatch {
        batch_number: n,
        pubdata: None,
        info: None,
        pubdata_attributed: false,
        info_attributed: false,
    });
    out.last_mut().expect("just pushed")
}
