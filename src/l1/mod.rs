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
use std::sync::Arc;

use alloy_consensus::{Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::BlockHashOrNumber;
use alloy_primitives::{Address, B256, Bytes};
use serde::{Deserialize, Serialize};

/// Block tags the follower can follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BlockTag {
    /// The node's head; reorgs must be unwound.
    Latest,
    /// The `safe` block (justified by the beacon chain); rare reorgs must be unwound.
    Safe,
    /// The `finalized` block (the default): never reorgs.
    Finalized,
}

/// The header fields the follower needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct L1Block {
    /// Block number.
    pub number: u64,
    /// Block hash (keccak of the RLP header).
    pub hash: B256,
    /// Hash of the parent block.
    pub parent_hash: B256,
    /// Block timestamp, Unix seconds.
    pub timestamp: u64,
}

/// One event log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct L1Log {
    /// Contract that emitted the log.
    pub address: Address,
    /// Topics; topic 0 is the event signature hash.
    pub topics: Vec<B256>,
    /// ABI-encoded non-indexed event fields.
    pub data: Bytes,
    /// Block holding the log.
    pub block_number: u64,
    /// Hash of that block (a reorg changes it).
    pub block_hash: B256,
    /// Transaction that emitted the log.
    pub transaction_hash: B256,
    /// Position of the log in its block.
    pub log_index: u64,
    /// Set by the node when a reorg removed the log.
    pub removed: bool,
}

/// The transaction fields the decoders need.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct L1Transaction {
    /// Transaction hash.
    pub hash: B256,
    /// Recipient; `None` for a contract creation.
    pub to: Option<Address>,
    /// Calldata: 4-byte selector then ABI-encoded arguments.
    pub input: Bytes,
    /// Empty unless the transaction is an EIP-4844 blob transaction.
    pub blob_versioned_hashes: Vec<B256>,
    /// Block holding the transaction; `None` while pending.
    pub block_number: Option<u64>,
    /// Hash of that block; `None` while pending.
    pub block_hash: Option<B256>,
}

/// A block exactly as a node serves it, before any check: the consensus
/// header and the signed transactions, in block order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawBlock {
    /// Consensus header as served (its hash is computed, not taken from the node).
    pub header: Header,
    /// Signed transactions in block order.
    pub transactions: Vec<TxEnvelope>,
}

/// An `eth_getLogs` query over an inclusive block range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFilter {
    /// Emitting contracts to match; empty matches all.
    pub addresses: Vec<Address>,
    /// Any of these event signatures (topic 0); empty matches all.
    pub topics0: Vec<B256>,
    /// First block of the range (inclusive).
    pub from_block: u64,
    /// Last block of the range (inclusive).
    pub to_block: u64,
}

/// L1 access errors.
#[derive(Debug, thiserror::Error)]
pub enum L1Error {
    /// The request did not complete (connection, TLS, timeout, an oversized answer); transient.
    #[error("transport: {0}")]
    Transport(String),
    /// The node answered with a JSON-RPC error that is not a rate limit.
    #[error("rpc error {code}: {message}")]
    Rpc {
        /// JSON-RPC error code.
        code: i64,
        /// JSON-RPC error message.
        message: String,
    },
    /// The node answered with a rate-limit JSON-RPC error; transient.
    #[error("rate limited by {endpoint}")]
    RateLimited {
        /// Endpoint, redacted.
        endpoint: String,
    },
    /// The answer is not what was asked for or does not parse (wrong block, bad hash, null result, undecodable JSON); evidence against the node.
    #[error("malformed answer from {endpoint}: {detail}")]
    Malformed {
        /// Endpoint, redacted.
        endpoint: String,
        /// What is wrong with the answer.
        detail: String,
    },
    /// Neither the beacon node nor an archive has the blob (pruned, or never published).
    #[error("blob {versioned_hash} is not available from the beacon node or the archive")]
    BlobUnavailable {
        /// Versioned hash the L1 transaction committed to.
        versioned_hash: B256,
    },
    /// A blob was served whose KZG commitment does not hash to the versioned hash: evidence against the node, never retried.
    #[error("blob served for {versioned_hash} does not match it: {detail}")]
    BlobMismatch {
        /// Versioned hash asked for.
        versioned_hash: B256,
        /// What did not match.
        detail: String,
    },
    /// Reading or writing the local archive failed.
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The retry layer gave up on transient faults (attempts or time budget spent).
    #[error("{endpoint} gave up after {attempts} attempts in {elapsed_ms} ms: {last}")]
    RetriesExhausted {
        /// Endpoint, redacted.
        endpoint: String,
        /// Attempts made.
        attempts: u32,
        /// Time spent, milliseconds.
        elapsed_ms: u128,
        /// The last fault, as displayed.
        last: String,
    },
    /// A beacon node or blob archive answered a non-2xx HTTP status the client cannot act on.
    #[error("beacon node {endpoint} answered HTTP {status} for {what}")]
    BeaconStatus {
        /// Endpoint, redacted.
        endpoint: String,
        /// HTTP status code.
        status: u16,
        /// What was asked for (e.g. the blob sidecars of a slot).
        what: String,
    },
    /// An execution block is older than beacon genesis, so it has no slot (and no blobs).
    #[error("block {number} has timestamp {timestamp}, before beacon genesis {genesis_time}")]
    BeforeGenesis {
        /// Execution block number.
        number: u64,
        /// Its timestamp, Unix seconds.
        timestamp: u64,
        /// Beacon genesis time, Unix seconds.
        genesis_time: u64,
    },
    /// The L1 settings are unusable (no endpoint, zero slot time, bad key); fix the configuration.
    #[error("configuration: {0}")]
    Config(String),
    /// A devnet transaction or cheat call failed (local tooling only).
    #[error("devnet transaction failed: {0}")]
    Devnet(String),
    /// A node's answer contradicts what it was proved against: evidence of a
    /// lying or broken node, so never retried.
    #[error("L1 answer did not verify: {0}")]
    Unverified(#[from] verify::VerifyError),
    /// Endpoints of a quorum gave different answers to a question no proof covers.
    #[error("L1 endpoints disagree on {what}: {answers}")]
    Disagreement {
        /// What was asked.
        what: String,
        /// Each endpoint's answer.
        answers: String,
    },
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

/// A proof, cheaper than recomputing a KZG commitment (~36 ms per blob),
/// that a blob is the one committed under a versioned hash. A rollup whose
/// verified commit calldata opens each blob's commitment at a point derived
/// from the blob itself can give one (ZKsync's openings do).
pub trait BlobBinding: Send + Sync {
    /// The versioned hash `blob` is proven committed under. `None` proves
    /// nothing: the source then recomputes the blob's commitment, so a blob
    /// that is genuine but whose opening is wrong still comes back, and the
    /// rollup's own checks record the bad opening against the sequencer.
    fn proven_versioned_hash(&self, blob: &[u8]) -> Option<B256>;
}

/// The blobs of one transaction to fetch: their versioned hashes (the answer
/// keeps their order) and, when the rollup has one, a cheaper proof of them.
#[derive(Clone)]
pub struct BlobRequest {
    /// The transaction's blob versioned hashes.
    pub versioned_hashes: Vec<B256>,
    /// Proves blobs without recomputing their commitments.
    pub binding: Option<Arc<dyn BlobBinding>>,
}

impl BlobRequest {
    /// Blobs checked by the node's KZG proofs or their recomputed commitments.
    pub fn new(versioned_hashes: Vec<B256>) -> Self {
        BlobRequest {
            versioned_hashes,
            binding: None,
        }
    }

    /// Blobs checked first by `binding`.
    pub fn with_binding(self, binding: Arc<dyn BlobBinding>) -> Self {
        BlobRequest {
            binding: Some(binding),
            ..self
        }
    }
}

/// Everything the follower reads from L1.
pub trait L1Source: Send + Sync {
    /// Chain id of the L1 (`eth_chainId`).
    fn chain_id(&self) -> impl Future<Output = Result<u64, L1Error>> + Send;
    /// The block a tag currently points at.
    fn block_by_tag(&self, tag: BlockTag) -> impl Future<Output = Result<L1Block, L1Error>> + Send;
    /// Header fields of block `number`; `None` beyond the head.
    fn block_by_number(
        &self,
        number: u64,
    ) -> impl Future<Output = Result<Option<L1Block>, L1Error>> + Send;
    /// Header fields of the block with `hash`; `None` when the node does not know it.
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
    /// The transaction with `hash`; `None` when the node does not know it.
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
    /// `wanted.versioned_hashes`, each already checked against its versioned
    /// hash: by the node's KZG proof when it sends one, else by
    /// `wanted.binding` when it proves the blob, else by recomputing the
    /// commitment.
    fn blobs(
        &self,
        block: &L1Block,
        wanted: &BlobRequest,
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
