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
//! Gateway (log key and `keccak(message)` equal; relayed pubdata that no log
//! announces fails `relayed.pubdata_message`); the chain id; that the
//! relayed pubdata parses to its last byte; that the initial-write count
//! matches the difference of `indexRepeatedStorageChanges` between
//! consecutive relayed `StoredBatchInfo`s; and, when the state is applied,
//! the computed root against `batchHash`. [`relayed_batches`] adds, per batch:
//! that both messages are there (the chain's commit sends both in one
//! transaction); that the relayed `commitment` is the Executor's
//! `keccak(keccak(passThrough(root, index)), metadataHash, auxiliaryOutputHash)`,
//! tying the relayed root to what the chain's proof verifies; and that the
//! settlement chain's own state diffs store `keccak(StoredBatchInfo)` under
//! the chain diamond's `storedBatchHashes[batch]`. [`CounterTracker`] reads
//! the chain's committed / verified / executed counters from the same state
//! diffs, which is how the follower learns, from L1 alone, that the chain
//! executed a batch on the settlement chain.
//!
//! **Not verified:** that the Gateway batch carrying the messages was proven
//! and executed on L1 (the caller must follow the Gateway's `BlockExecution`);
//! the chain's own commit on the Gateway (an L2 transaction, not on L1): the
//! relay contract checked `keccak(pubdata)` against the chain's
//! L2-DA-validator output there, which reaches L1 only folded into
//! `auxiliaryOutputHash` (its preimage is not relayed), so that check is only
//! as good as the Gateway's proof; `metadataHash`/`auxiliaryOutputHash` and the batch
//! `commitment` are passed through, not recomputed; messages from senders
//! that are not configured are accepted as unattributed (reported as such).

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::{SolType, sol_data};
use serde::{Deserialize, Serialize};

use super::abi::{StoredBatchInfo, StoredBatchInfoV29};
use super::calldata::StoredBatch;
use super::decode::Writes;
use super::genesis::GatewayConfig;
use super::pubdata::{Pubdata, PubdataError, Trailer};
use super::{L1_MESSENGER, L2Log};
use crate::audit::Check;

mod counters;

pub use counters::{CounterTracker, Counters};

/// The leading version byte of both relayed message kinds.
pub const RELAYED_VERSION: u8 = 0;

/// Why a relayed message was rejected.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The message does not decode as the expected ABI tuple (too short, or
    /// an offset or length out of range).
    #[error("ABI decoding: {0}")]
    Abi(#[from] alloy_sol_types::Error),
    /// The leading `uint8` is not [`RELAYED_VERSION`]: a protocol version
    /// whose message layout this decoder does not know.
    #[error("unknown relayed message version {0}")]
    Version(u8),
    /// An Executor message is neither 352 bytes (8-field `StoredBatchInfo`,
    /// before v29) nor 384 bytes (9 fields, from v29).
    #[error("message of {0} bytes is not a relayed StoredBatchInfo")]
    NotBatchInfo(usize),
    /// Relayed pubdata of the chain does not parse to its last byte: sent
    /// by the configured `RelayedSLDAValidator`, or any relayed pubdata for
    /// the chain when no senders are configured.
    #[error("relayed pubdata of batch {batch}: {source}")]
    Pubdata {
        /// The chain's batch number the message names.
        batch: u64,
        /// Where and why parsing stopped.
        source: PubdataError,
    },
    /// A relayed pubdata message names a `uint256` batch number above `u64::MAX`.
    #[error("chain batch number {0} does not fit in u64")]
    BatchNumber(U256),
    /// A settlement batch carries only one of a chain batch's two messages;
    /// the chain's commit sends both in one transaction, so one cannot be
    /// missing from a settlement batch that carries the other.
    #[error("settlement batch {settlement_batch} relays batch {batch} without its {missing}")]
    Unpaired {
        /// The chain's batch number.
        batch: u64,
        /// The settlement-chain batch whose pubdata was read.
        settlement_batch: u64,
        /// The message not found: `"pubdata"` or `"StoredBatchInfo"`.
        missing: &'static str,
    },
    /// The chain configs lack a value [`SettledChain::from_configs`] needs;
    /// the message names it.
    #[error("settled-chain config lacks {0}")]
    Config(&'static str),
}

type PubdataMessage = (
    sol_data::Uint<8>,
    sol_data::Uint<256>,
    sol_data::Uint<256>,
    sol_data::Bytes,
);
type InfoMessage8 = (
    sol_data::Uint<8>,
    StoredBatchInfo,
    sol_data::FixedBytes<32>,
    sol_data::FixedBytes<32>,
);
type InfoMessage9 = (
    sol_data::Uint<8>,
    StoredBatchInfoV29,
    sol_data::FixedBytes<32>,
    sol_data::FixedBytes<32>,
);

/// A chain's pubdata relayed by `RelayedSLDAValidator`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayedPubdata {
    /// The chain the pubdata belongs to (`uint256 chainId`).
    pub chain_id: U256,
    /// The chain's batch number, as relayed (not yet checked to fit `u64`).
    pub batch_number: U256,
    /// The chain's pubdata: logs, messages, bytecodes and state diffs, with
    /// nothing after the state diffs.
    pub pubdata: Vec<u8>,
}

/// A chain's `StoredBatchInfo` relayed by its Executor on the Gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayedBatchInfo {
    /// The chain's `StoredBatchInfo`; `batch_hash` is its new state root.
    pub stored: StoredBatch,
    /// `metadataHash`, an input of the batch commitment; passed through, not recomputed.
    pub metadata_hash: B256,
    /// `auxiliaryOutputHash`, which folds in the L2 DA validator's output;
    /// passed through, not recomputed.
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
    let (v, stored, metadata_hash, auxiliary_output_hash) = match message.len() {
        352 => {
            let (v, s, m, a) = InfoMessage8::abi_decode_params(message)?;
            (v, StoredBatch::from(&s), m, a)
        }
        384 => {
            let (v, s, m, a) = InfoMessage9::abi_decode_params(message)?;
            (v, StoredBatch::from(&s), m, a)
        }
        len => return Err(GatewayError::NotBatchInfo(len)),
    };
    check_version(v)?;
    Ok(RelayedBatchInfo {
        stored,
        metadata_hash,
        auxiliary_output_hash,
    })
}

/// Encodes an Executor message (inverse of [`parse_relayed_batch_info`]).
pub fn encode_relayed_batch_info(info: &RelayedBatchInfo) -> Vec<u8> {
    let s = &info.stored;
    match s.dependency_roots_rolling_hash {
        None => InfoMessage8::abi_encode_params(&(
            RELAYED_VERSION,
            StoredBatchInfo::from(s),
            info.metadata_hash,
            info.auxiliary_output_hash,
        )),
        Some(_) => InfoMessage9::abi_encode_params(&(
            RELAYED_VERSION,
            StoredBatchInfoV29::from(s),
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
    /// The chain's batch number.
    pub batch_number: u64,
    /// The relayed pubdata, parsed to the last byte.
    pub pubdata: Option<Pubdata>,
    /// The relayed `StoredBatchInfo` (new state root, next free index).
    pub info: Option<RelayedBatchInfo>,
    /// Whether the pubdata message's sender is the configured
    /// `RelayedSLDAValidator` (always false without configured senders).
    pub pubdata_attributed: bool,
    /// Whether the `StoredBatchInfo` message's sender is the configured
    /// diamond on the Gateway (always false without configured senders).
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
        // With configured senders the sender decides the message kind, so a
        // message can never be read as the other kind by coincidence. A
        // message no messenger log announces at all (its hash is not the one
        // any sender's log names) is still read as relayed pubdata, unattributed,
        // so that pubdata other than what the validator sent is a failed check
        // of its batch rather than a batch without pubdata.
        let (try_pubdata, try_info) = match (validator, diamond) {
            (Some(v), Some(d)) => (sender == Some(v) || sender.is_none(), sender == Some(d)),
            _ => (true, true),
        };
        if try_pubdata && let Ok(relayed) = parse_relayed_pubdata(message) {
            if relayed.chain_id != chain_id {
                continue;
            }
            let attributed = match validator {
                Some(v) if sender == Some(v) => true,
                Some(_) if sender.is_none() => false,
                Some(_) => continue,
                None => false,
            };
            let n = u64::try_from(relayed.batch_number)
                .map_err(|_| GatewayError::BatchNumber(relayed.batch_number))?;
            let parsed = match Pubdata::parse(&relayed.pubdata, Trailer::None) {
                Ok(parsed) => parsed,
                // An unannounced message that is not pubdata is no one's pubdata.
                Err(_) if validator.is_some() && !attributed => continue,
                Err(source) => return Err(GatewayError::Pubdata { batch: n, source }),
            };
            let entry = entry(&mut out, n);
            entry.pubdata = Some(parsed);
            entry.pubdata_attributed = attributed;
        } else if try_info && let Ok(info) = parse_relayed_batch_info(message) {
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

// ------------------------------------------------------------ settled chain

/// Storage slots of `ZKChainStorage`, the diamond's storage from slot 0
/// (matter-labs/era-contracts l1-contracts/contracts/state-transition/
/// chain-deps/ZKChainStorage.sol: `uint256[7]` deprecated, governor, pending
/// governor, validators, verifier, then these four in this order). This one
/// is `totalBatchesExecuted`.
pub const TOTAL_BATCHES_EXECUTED_SLOT: u64 = 11;
/// `totalBatchesVerified` of `ZKChainStorage`.
pub const TOTAL_BATCHES_VERIFIED_SLOT: u64 = 12;
/// `totalBatchesCommitted` of `ZKChainStorage`.
pub const TOTAL_BATCHES_COMMITTED_SLOT: u64 = 13;
/// `mapping(uint256 batchNumber => bytes32) storedBatchHashes`, each value
/// `keccak(abi.encode(StoredBatchInfo))`.
pub const STORED_BATCH_HASHES_SLOT: u64 = 14;

/// A chain settling on a ZK chain, as the settlement chain's data names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettledChain {
    /// The chain's id, as its relayed pubdata messages name it.
    pub chain_id: U256,
    /// The settlement chain's `RelayedSLDAValidator`.
    pub relayed_da_validator: Address,
    /// The chain's diamond proxy on the settlement chain.
    pub diamond_on_layer: Address,
}

impl SettledChain {
    /// From the chain's config, its settlement period and the settlement chain's config.
    pub fn from_configs(
        chain: &crate::chain::ZksyncChain,
        period: &super::history::SettlementPeriod,
        settlement: &crate::chain::ZksyncChain,
    ) -> Result<Self, GatewayError> {
        let missing = |what: &'static str| GatewayError::Config(what);
        Ok(SettledChain {
            chain_id: U256::from(chain.chain_id.ok_or(missing("the chain's chain_id"))?),
            relayed_da_validator: settlement
                .relayed_da_validator
                .ok_or(missing("the settlement chain's relayed_da_validator"))?,
            diamond_on_layer: period
                .diamond_on_layer
                .ok_or(missing("the period's diamond_on_layer"))?,
        })
    }

    /// The derived key (on the settlement chain) of a `ZKChainStorage` slot of the chain's diamond.
    pub fn slot_key(&self, slot: U256) -> B256 {
        super::derived_key(&self.diamond_on_layer, &B256::from(slot))
    }

    /// The derived key of `storedBatchHashes[batch]`.
    pub fn stored_batch_hash_key(&self, batch: u64) -> B256 {
        let mut preimage = [0u8; 64];
        preimage[..32].copy_from_slice(&U256::from(batch).to_be_bytes::<32>());
        preimage[32..].copy_from_slice(&U256::from(STORED_BATCH_HASHES_SLOT).to_be_bytes::<32>());
        self.slot_key(U256::from_be_bytes(keccak256(preimage).0))
    }

    fn gateway_config(&self) -> GatewayConfig {
        GatewayConfig {
            first_batch: 0,
            relayed_da_validator: Some(self.relayed_da_validator),
            diamond_on_gateway: Some(self.diamond_on_layer),
        }
    }
}

/// One of the chain's batches as the settlement chain relayed it to L1.
#[derive(Clone, Debug)]
pub struct RelayedBatch {
    /// The chain's batch number.
    pub batch_number: u64,
    /// The relayed pubdata, parsed to its last byte.
    pub pubdata: Pubdata,
    /// The relayed `StoredBatchInfo` (8 fields before v29, 9 from v29).
    pub info: RelayedBatchInfo,
    /// The settlement-chain batch whose pubdata carried both messages.
    pub settlement_batch: u64,
    /// Checks of the relayed data against itself and the settlement chain's state diffs.
    pub checks: Vec<Check>,
}

impl RelayedBatch {
    /// The writes and the roots to judge them by, for the state engine.
    pub fn input(&self) -> super::state::PlanInput {
        super::state::PlanInput {
            batch_number: self.batch_number,
            claimed_root: Some(self.info.stored.batch_hash),
            index_repeated_storage_changes: Some(self.info.stored.index_repeated_storage_changes),
            writes: self.pubdata.state_diffs.clone().into(),
        }
    }

    /// No check failed; a skipped check does not count as failed.
    pub fn all_passed(&self) -> bool {
        !self.checks.iter().any(Check::failed)
    }
}

/// The chain's batches carried by one settlement-chain batch, in batch order,
/// each with both its pubdata and its `StoredBatchInfo` (the chain's commit on
/// the settlement chain sends both in one transaction, so a batch with only
/// one of them is an error, not a partial result).
pub fn relayed_batches(
    settlement_batch: u64,
    settlement: &Pubdata,
    chain: &SettledChain,
) -> Result<Vec<RelayedBatch>, GatewayError> {
    let config = chain.gateway_config();
    let mut out = Vec::new();
    for found in extract(settlement, chain.chain_id, Some(&config))? {
        let batch = found.batch_number;
        let pubdata_check = pubdata_message_check(found.pubdata_attributed, settlement, chain);
        let (pubdata, info) = match (found.pubdata, found.info) {
            (Some(p), Some(i)) => (p, i),
            (None, _) => {
                return Err(GatewayError::Unpaired {
                    batch,
                    settlement_batch,
                    missing: "pubdata",
                });
            }
            (_, None) => {
                return Err(GatewayError::Unpaired {
                    batch,
                    settlement_batch,
                    missing: "StoredBatchInfo",
                });
            }
        };
        let checks = vec![
            pubdata_check,
            commitment_check(&info),
            stored_hash_check(settlement, chain, &info),
        ];
        out.push(RelayedBatch {
            batch_number: batch,
            pubdata,
            info,
            settlement_batch,
            checks,
        });
    }
    Ok(out)
}

/// `keccak(abi.encode(StoredBatchInfo))`, the value the diamond stores per batch.
pub fn stored_batch_hash(stored: &StoredBatch) -> B256 {
    let info = RelayedBatchInfo {
        stored: stored.clone(),
        metadata_hash: B256::ZERO,
        auxiliary_output_hash: B256::ZERO,
    };
    // The message is `abi.encode(uint8, StoredBatchInfo, bytes32, bytes32)` of static
    // types: the struct's encoding is the words after the version word.
    let message = encode_relayed_batch_info(&info);
    // A fixed-size encoding of our own, longer than 96 bytes.
    keccak256(&message[32..message.len().saturating_sub(64)])
}

/// The batch commitment the Executor computes: `keccak(abi.encode(keccak(
/// passThroughData), metadataHash, auxiliaryOutputHash))`, where the pass-through
/// data is `abi.encodePacked(uint64 indexRepeatedStorageChanges, bytes32
/// newStateRoot, uint64 0, bytes32 0)` (era-contracts Executor.sol
/// `_createBatchCommitment`, `_batchPassThroughData`). It ties the relayed root
/// and index to the commitment the proof verifies.
pub fn batch_commitment(info: &RelayedBatchInfo) -> B256 {
    let mut pass_through = Vec::with_capacity(80);
    pass_through.extend_from_slice(&info.stored.index_repeated_storage_changes.to_be_bytes());
    pass_through.extend_from_slice(info.stored.batch_hash.as_slice());
    pass_through.extend_from_slice(&[0u8; 8]);
    pass_through.extend_from_slice(&[0u8; 32]);
    let mut words = Vec::with_capacity(96);
    words.extend_from_slice(keccak256(pass_through).as_slice());
    words.extend_from_slice(info.metadata_hash.as_slice());
    words.extend_from_slice(info.auxiliary_output_hash.as_slice());
    keccak256(words)
}

/// The relayed pubdata must be the message the `RelayedSLDAValidator` sent:
/// the messenger log it emitted names `keccak(message)`. Relayed pubdata
/// that no log announces is not what the validator checked against the
/// chain's DA commitment on the settlement chain.
fn pubdata_message_check(attributed: bool, settlement: &Pubdata, chain: &SettledChain) -> Check {
    let validator_logs = settlement
        .user_logs
        .iter()
        .filter(|l| {
            l.sender == L1_MESSENGER
                && l.key == B256::left_padding_from(chain.relayed_da_validator.as_slice())
        })
        .count();
    Check::outcome(
        "relayed.pubdata_message",
        attributed,
        if attributed {
            "keccak(relayed pubdata message) is the value of a RelayedSLDAValidator messenger log"
                .to_string()
        } else {
            format!(
                "keccak(relayed pubdata message) is the value of no messenger log \
                 ({validator_logs} RelayedSLDAValidator logs in the settlement batch)"
            )
        },
    )
}

fn commitment_check(info: &RelayedBatchInfo) -> Check {
    let computed = batch_commitment(info);
    Check::outcome(
        "relayed.commitment",
        computed == info.stored.commitment,
        format!(
            "keccak(passThrough(root, index), metadataHash, auxiliaryOutputHash) = {computed}, relayed {}",
            info.stored.commitment
        ),
    )
}

/// The settlement chain's own state diffs must store this `StoredBatchInfo`'s
/// hash under `storedBatchHashes[batch]` of the chain's diamond: a first
/// write (a recommitted batch after a revert rewrites an existing slot, which
/// only the settlement chain's index map could name, so that case is skipped).
fn stored_hash_check(settlement: &Pubdata, chain: &SettledChain, info: &RelayedBatchInfo) -> Check {
    let key = chain.stored_batch_hash_key(info.stored.batch_number);
    let expected = stored_batch_hash(&info.stored);
    match settlement
        .state_diffs
        .initial
        .iter()
        .find(|w| w.derived_key == key)
    {
        Some(w) => {
            let stored = w.value.apply(&B256::ZERO);
            Check::outcome(
                "relayed.stored_batch_hash",
                stored == expected,
                format!("settlement state stores {stored}, keccak(StoredBatchInfo) {expected}"),
            )
        }
        None => Check::skipped(
            "relayed.stored_batch_hash",
            format!(
                "no first write of storedBatchHashes[{}] in the settlement batch",
                info.stored.batch_number
            ),
        ),
    }
}
