//! Ethereum L1 access: what the follower reads from L1, independent of how it
//! is fetched. The follower is generic over [`L1Source`]; the production
//! implementation speaks execution JSON-RPC and the beacon blob API.
//!
//! | module          | what                                                                 |
//! |-----------------|----------------------------------------------------------------------|
//! | [`client`]      | [`client::RpcL1`], the production [`L1Source`]                       |
//! | [`rpc`]         | execution JSON-RPC over alloy, integrity checks on every answer      |
//! | [`beacon`]      | beacon blob API and the remote blob archive, KZG-checked             |
//! | [`archive`]     | the local content-addressed DA archive in the store                  |
//! | [`transport`]   | retry/backoff/rate-limit/concurrency layers, range splitting, URL redaction |
//! | [`verify`]      | proofs of logs, transactions and receipts against a block header     |
//! | [`header_chain`]| block hashes chained by parent hash to a trusted checkpoint          |
//! | [`verified`]    | [`verified::VerifiedL1`]: an [`L1Source`] whose answers are all proved |
//! | [`light_client`]| beacon light client: sync-committee-signed finalized headers (BLS, SSZ) |
//! | [`quorum`]      | [`quorum::QuorumL1`]: several endpoints that must agree on what is not proved |
//! | [`submit`]      | devnet (anvil) helpers: send calldata and blob transactions, cheats  |
//! | [`fault_proxy`] | an HTTP proxy that injects faults, for resilience tests              |

pub mod archive;
pub mod beacon;
pub mod client;
#[cfg(feature = "devnet")]
pub mod fault_proxy;
pub mod header_chain;
pub mod light_client;
pub mod quorum;
pub mod rpc;
#[cfg(feature = "devnet")]
pub mod submit;
pub mod transport;
pub mod verified;
pub mod verify;

use std::future::Future;

use alloy_consensus::{Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::BlockHashOrNumber;
use alloy_primitives::{Address, B256, Bytes};
use serde::{Deserialize, Serialize};

/// Block tags the follower can follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BlockTag {
    Latest,
    Safe,
    Finalized,
}

/// The header fields the follower needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct L1Block {
    pub number: u64,
    pub hash: B256,
    pub parent_hash: B256,
    pub timestamp: u64,
}

/// One event log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct L1Log {
    pub address: Address,
    pub topics: Vec<B256>,
    pub data: Bytes,
    pub block_number: u64,
    pub block_hash: B256,
    pub transaction_hash: B256,
    pub log_index: u64,
    /// Set by the node when a reorg removed the log.
    pub removed: bool,
}

/// The transaction fields the decoders need.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct L1Transaction {
    pub hash: B256,
    pub to: Option<Address>,
    pub input: Bytes,
    /// Empty unless the transaction is an EIP-4844 blob transaction.
    pub blob_versioned_hashes: Vec<B256>,
    pub block_number: Option<u64>,
    pub block_hash: Option<B256>,
}

/// A block exactly as a node serves it, before any check: the consensus
/// header and the signed transactions, in block order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawBlock {
    pub header: Header,
    pub transactions: Vec<TxEnvelope>,
}

/// An `eth_getLogs` query over an inclusive block range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFilter {
    pub addresses: Vec<Address>,
    /// Any of these event signatures (topic 0); empty matches all.
    pub topics0: Vec<B256>,
    pub from_block: u64,
    pub to_block: u64,
}

/// L1 access errors.
#[derive(Debug, thiserror::Error)]
pub enum L1Error {
    #[error("transport: {0}")]
    Transport(String),
    #[error("rpc error {code}: {message}")]
    Rpc { code: i64, message: String },
    #[error("rate limited by {endpoint}")]
    RateLimited { endpoint: String },
    #[error("malformed answer from {endpoint}: {detail}")]
    Malformed { endpoint: String, detail: String },
    #[error("blob {versioned_hash} is not available from the beacon node or the archive")]
    BlobUnavailable { versioned_hash: B256 },
    #[error("blob served for {versioned_hash} does not match it: {detail}")]
    BlobMismatch {
        versioned_hash: B256,
        detail: String,
    },
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{endpoint} gave up after {attempts} attempts in {elapsed_ms} ms: {last}")]
    RetriesExhausted {
        endpoint: String,
        attempts: u32,
        elapsed_ms: u128,
        last: String,
    },
    #[error("beacon node {endpoint} answered HTTP {status} for {what}")]
    BeaconStatus {
        endpoint: String,
        status: u16,
        what: String,
    },
    #[error("block {number} has timestamp {timestamp}, before beacon genesis {genesis_time}")]
    BeforeGenesis {
        number: u64,
        timestamp: u64,
        genesis_time: u64,
    },
    #[error("configuration: {0}")]
    Config(String),
    #[error("devnet transaction failed: {0}")]
    Devnet(String),
    /// A node's answer contradicts what it was proved against: evidence of a
    /// lying or broken node, so never retried.
    #[error("L1 answer did not verify: {0}")]
    Unverified(#[from] verify::VerifyError),
    /// Endpoints of a quorum gave different answers to a question no proof covers.
    #[error("L1 endpoints disagree on {what}: {answers}")]
    Disagreement { what: String, answers: String },
    /// The source cannot serve this kind of request (e.g. a test double without raw blocks).
    #[error("this L1 source does not serve {0}")]
    Unsupported(&'static str),
}

impl L1Error {
    /// Whether retrying the same request later may succeed (used by callers
    /// above the transport, which already retried transient faults).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            L1Error::Transport(_) | L1Error::RateLimited { .. } | L1Error::RetriesExhausted { .. }
        )
    }
}

/// Everything the follower reads from L1.
pub trait L1Source: Send + Sync {
    fn chain_id(&self) -> impl Future<Output = Result<u64, L1Error>> + Send;
    /// The block a tag currently points at.
    fn block_by_tag(&self, tag: BlockTag) -> impl Future<Output = Result<L1Block, L1Error>> + Send;
    fn block_by_number(
        &self,
        number: u64,
    ) -> impl Future<Output = Result<Option<L1Block>, L1Error>> + Send;
    fn block_by_hash(
        &self,
        hash: B256,
    ) -> impl Future<Output = Result<Option<L1Block>, L1Error>> + Send;
    /// Logs in `[from_block, to_block]`, in chain order; implementations split ranges the node refuses.
    fn logs(&self, filter: &LogFilter) -> impl Future<Output = Result<Vec<L1Log>, L1Error>> + Send;
    /// Logs the caller uses only as leads: to find which of many candidates
    /// it needs, whose data it then checks by other means (a hash it
    /// recomputes) or proves by asking [`Self::logs`] again over the one block
    /// it uses. A proving source ([`verified::VerifiedL1`]) checks only that each
    /// log's block is on the verified chain, so a wide scan through busy
    /// contracts (SHARP's shared memory-page registry) does not download every
    /// block another customer's log sits in. The default is [`Self::logs`].
    fn lead_logs(
        &self,
        filter: &LogFilter,
    ) -> impl Future<Output = Result<Vec<L1Log>, L1Error>> + Send {
        self.logs(filter)
    }
    fn transaction(
        &self,
        hash: B256,
    ) -> impl Future<Output = Result<Option<L1Transaction>, L1Error>> + Send;
    /// `eth_call` at a block number.
    fn call(
        &self,
        to: Address,
        data: Bytes,
        block: u64,
    ) -> impl Future<Output = Result<Bytes, L1Error>> + Send;
    /// The blobs (131,072 bytes each) of a transaction in `block`, in the order of
    /// `versioned_hashes`, each already checked against its versioned hash.
    fn blobs(
        &self,
        block: &L1Block,
        versioned_hashes: &[B256],
    ) -> impl Future<Output = Result<Vec<Vec<u8>>, L1Error>> + Send;

    // Raw answers for [`verified::VerifiedL1`], which checks them itself. The
    // defaults let sources that cannot serve them (test doubles) still compile.

    /// The consensus header of a block, unverified.
    fn raw_header(
        &self,
        block: BlockHashOrNumber,
    ) -> impl Future<Output = Result<Option<Header>, L1Error>> + Send {
        let _ = block;
        async { Err(L1Error::Unsupported("raw headers")) }
    }

    /// A block with all its transactions, unverified.
    fn raw_block(
        &self,
        hash: B256,
    ) -> impl Future<Output = Result<Option<RawBlock>, L1Error>> + Send {
        let _ = hash;
        async { Err(L1Error::Unsupported("raw blocks")) }
    }

    /// Every receipt of block `hash`, in transaction order, unverified;
    /// `transactions` (the block's transaction hashes) lets a source without
    /// `eth_getBlockReceipts` fetch them one by one.
    fn raw_receipts(
        &self,
        hash: B256,
        transactions: &[B256],
    ) -> impl Future<Output = Result<Vec<ReceiptEnvelope>, L1Error>> + Send {
        let _ = (hash, transactions);
        async { Err(L1Error::Unsupported("raw receipts")) }
    }
}
