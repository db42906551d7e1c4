//! The follower: scan L1 for a rollup's commitments, fetch their data, decode,
//! apply, audit. One generic pipeline ([`pipeline::Follower`]) drives any
//! [`engine::RollupEngine`] (Starknet: [`starknet`], ZKsync: [`zksync`]);
//! fetch and decode run ahead of apply, and apply commits strictly in batch
//! order, each batch (or unwind) one atomic store commit with the L1 cursor.
//!
//! Restart safety: the cursor (the last L1 log fully handled) is written in
//! the same write batch as the state the log produced, so a process killed at
//! any instant resumes from the last committed batch with nothing applied
//! twice. Reorg safety: every applied batch remembers the hash of the L1 block
//! that carried it; when that block is no longer canonical the batches after
//! the fork are unwound before anything new is applied.

mod commit;
pub mod engine;
pub mod pipeline;
pub mod run;
pub mod starknet;
pub mod status;
pub mod zksync;

pub use engine::{Checkpoint, RollupEngine};
pub use pipeline::Follower;
pub use status::FollowStatus;

use std::time::Duration;

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

use crate::audit::Verdict;
use crate::chain::{ChainConfig, RollupKind};
use crate::l1::{BlockTag, L1Block, L1Error, L1Source};
use crate::store::{Column, Store, StoreBatch, StoreError, keys};

/// What to do when a batch's computed root differs from the one L1 accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OnMismatch {
    /// Record the finding and stop replaying this rollup.
    #[default]
    Halt,
    /// Record the finding and keep replaying (the verified pointer stays put).
    Continue,
}

/// Follower settings.
#[derive(Clone, Debug)]
pub struct FollowOptions {
    /// L1 block tag to follow (`finalized` by default).
    pub tag: BlockTag,
    /// What a MISMATCH does to the follower.
    pub on_mismatch: OnMismatch,
    /// Stop once this L1 block is handled (`None`: follow forever).
    pub to_block: Option<u64>,
    /// Wait between sync passes once caught up.
    pub poll_interval: Duration,
    /// Let the verified pointer pass PARTIAL batches (root matched, some
    /// binding check could not run).
    pub accept_partial: bool,
    /// Batches fetched and decoded ahead of apply, per stage queue; 0 runs
    /// fetch, decode and apply one batch at a time.
    pub pipeline_depth: usize,
}

/// Default [`FollowOptions::pipeline_depth`]: enough to hide fetch latency
/// behind apply while bounding memory (a batch in flight holds its blobs,
/// at most 6 x 128 KiB per L1 transaction, plus its decoded diff).
pub const DEFAULT_PIPELINE_DEPTH: usize = 8;

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            tag: BlockTag::Finalized,
            on_mismatch: OnMismatch::Halt,
            to_block: None,
            poll_interval: Duration::from_secs(12),
            accept_partial: false,
            pipeline_depth: DEFAULT_PIPELINE_DEPTH,
        }
    }
}

/// Follower errors, with typed causes. A root mismatch is not an error (it
/// is a finding); [`FollowError::is_transient`] decides what is retried.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// L1 access failed; retried when [`L1Error::is_transient`].
    #[error(transparent)]
    L1(#[from] L1Error),
    /// Reading or writing the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The node lacks a block or transaction its own logs name (it may be
    /// behind a load balancer whose other backends have it).
    #[error("the L1 node does not have {what}, which its own answers name")]
    NotFound {
        /// The missing block or transaction.
        what: String,
    },
    /// The L1 endpoint serves another chain than the chain config's `l1_chain_id`.
    #[error("the L1 node is on chain {found}, the chain config expects {expected}")]
    WrongL1Chain {
        /// Chain id the config expects.
        expected: u64,
        /// Chain id the node reports.
        found: u64,
    },
    /// The chain config is for another rollup family than the engine.
    #[error("chain config {name} is for {found:?}, not {expected:?}")]
    WrongRollup {
        /// Chain config name.
        name: String,
        /// Family the engine handles.
        expected: RollupKind,
        /// Family the config names.
        found: RollupKind,
    },
    /// The chain config lacks something this chain needs; fix the config.
    #[error("chain config {chain}: {detail}")]
    Config {
        /// Chain config name.
        chain: String,
        /// What is missing or wrong.
        detail: String,
    },
    /// A Starknet batch could not be decoded or applied.
    #[error("Starknet batch {batch} (L1 tx {tx}): {cause}")]
    Starknet {
        /// Batch number.
        batch: u64,
        /// The L1 transaction that committed it.
        tx: B256,
        /// What went wrong (boxed: the causes are large and errors are rare).
        #[source]
        cause: Box<StarknetCause>,
    },
    /// A ZKsync batch could not be decoded or applied.
    #[error("ZKsync batch {batch} (L1 tx {tx}): {cause}")]
    Zksync {
        /// Batch number.
        batch: u64,
        /// The L1 transaction that committed it.
        tx: B256,
        /// What went wrong (boxed: the causes are large and errors are rare).
        #[source]
        cause: Box<ZksyncCause>,
    },
    /// A batch's data could not be obtained or read.
    #[error("batch {batch} (L1 tx {tx}): data availability: {cause}")]
    Da {
        /// Batch number.
        batch: u64,
        /// The L1 transaction that committed it.
        tx: B256,
        /// What went wrong.
        #[source]
        cause: DaCause,
    },
    /// The Starknet state could not be read (not tied to one batch).
    #[error("Starknet state: {0}")]
    StarknetState(#[source] crate::rollup::starknet::state::StateError),
    /// The ZKsync state could not be read or unwound (not tied to one batch).
    #[error("ZKsync state: {0}")]
    ZksyncState(#[source] crate::rollup::zksync::state::StateError),
    /// L1 committed batches out of order without a revert in between.
    #[error("L1 tx {tx} commits batch {found}, the follower expects batch {expected}")]
    OutOfSequence {
        /// The commit transaction.
        tx: B256,
        /// Batch the follower expects next.
        expected: u64,
        /// Batch the transaction commits.
        found: u64,
    },
    /// The follower stopped on a MISMATCH (`--on-mismatch halt`) after recording it; see its audit.
    #[error("halted at batch {batch}: {} (see its audit)", .verdict.as_str())]
    Halted {
        /// The batch.
        batch: u64,
        /// Its verdict.
        verdict: Verdict,
    },
    /// A pipeline stage panicked or was cancelled.
    #[error("pipeline stage failed: {0}")]
    Stage(String),
}

/// Why a Starknet batch cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum StarknetCause {
    /// A `LogStateUpdate` log does not decode.
    #[error(transparent)]
    Event(#[from] crate::rollup::starknet::events::EventError),
    /// The DA layout or global-root rule could not be chosen.
    #[error(transparent)]
    Dispatch(#[from] crate::rollup::starknet::dispatch::DispatchError),
    /// The calldata-era memory pages of the update's fact could not be assembled.
    #[error(transparent)]
    Sharp(#[from] crate::rollup::starknet::sharp::SharpError),
    /// The DA does not decode.
    #[error(transparent)]
    Da(#[from] crate::rollup::starknet::da::DaError),
    /// The state diff could not be applied.
    #[error(transparent)]
    State(#[from] crate::rollup::starknet::state::StateError),
}

/// Why a ZKsync batch cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum ZksyncCause {
    /// A lifecycle event does not decode.
    #[error(transparent)]
    Event(#[from] crate::rollup::zksync::events::EventError),
    /// The commit calldata does not decode.
    #[error(transparent)]
    Calldata(#[from] crate::rollup::zksync::calldata::CalldataError),
    /// The writes could not be applied; [`crate::rollup::zksync::state::StateError::sequencer_evidence`] says when this is evidence against the sequencer.
    #[error(transparent)]
    State(#[from] crate::rollup::zksync::state::StateError),
    /// The genesis file could not be read or does not match.
    #[error(transparent)]
    Genesis(#[from] crate::rollup::zksync::genesis::GenesisError),
    /// The commit transaction's calldata holds no batch with this number.
    #[error("the commit transaction does not carry this batch")]
    NotInTransaction,
    /// A Gateway-settled batch could not be extracted from the settlement layer's data.
    #[error(transparent)]
    Gateway(#[from] crate::rollup::zksync::gateway::GatewayError),
    /// The chain's history tables cannot place the batch's L1 block.
    #[error(transparent)]
    History(#[from] crate::rollup::zksync::history::HistoryError),
    /// The settlement chain's own data could not be read, so the batches it carries cannot be found.
    #[error("settlement batch {batch} could not be decoded: {detail}")]
    LayerUndecodable {
        /// Settlement-layer batch number.
        batch: u64,
        /// Why it could not be decoded.
        detail: String,
    },
}

/// Why a batch's data could not be obtained or read.
#[derive(Debug, thiserror::Error)]
pub enum DaCause {
    /// The Starknet update call binds neither blobs nor memory pages.
    #[error("the L1 call binds no DA")]
    NoBinding,
    /// The update call carries no program output.
    #[error("the call carries no program output")]
    NoProgramOutput,
    /// Calldata DA needs a memory-page registry and the chain config names none.
    #[error(
        "calldata DA needs [starknet].memory_page_registries (or memory_page_registry) in the chain config"
    )]
    NoPageRegistry,
    /// The decoder could not produce the batch's writes; the failed or
    /// skipped checks say why.
    #[error("the writes could not be decoded: {}", .0.join("; "))]
    Undecodable(Vec<String>),
}

impl FollowError {
    /// Whether trying again later may succeed: decided by the L1 error
    /// ([`L1Error::is_transient`]), plus answers a node may simply not have
    /// yet (a blob not yet served, a block its own logs name). Evidence of a
    /// lying node (`BlobMismatch`), undecodable data and findings are not
    /// transient: they halt with a record.
    pub fn is_transient(&self) -> bool {
        match self {
            FollowError::L1(e) => e.is_transient() || matches!(e, L1Error::BlobUnavailable { .. }),
            FollowError::NotFound { .. } => true,
            _ => false,
        }
    }

    /// The check a batch fails when this error is evidence against the
    /// sequencer: its published data contradicts the state it builds on, or
    /// (Starknet v0.14 encrypted DA) cannot rebuild the state without keys L1
    /// does not carry; or evidence against what L1 served (a SHARP page the
    /// node does not yield). The batch is recorded as a MISMATCH naming the reason.
    pub fn sequencer_evidence(&self) -> Option<&'static str> {
        match self {
            FollowError::Zksync { cause, .. } => match cause.as_ref() {
                ZksyncCause::State(e) => e.sequencer_evidence(),
                _ => None,
            },
            FollowError::Starknet { cause, .. } => match cause.as_ref() {
                StarknetCause::Da(crate::rollup::starknet::da::DaError::Encrypted { .. }) => {
                    Some("da.encrypted")
                }
                StarknetCause::Sharp(e) => e.evidence_check(),
                _ => None,
            },
            _ => None,
        }
    }

    /// The batch the error is about, when it names one.
    pub fn batch(&self) -> Option<u64> {
        match self {
            FollowError::Starknet { batch, .. }
            | FollowError::Zksync { batch, .. }
            | FollowError::Da { batch, .. }
            | FollowError::Halted { batch, .. } => Some(*batch),
            FollowError::OutOfSequence { expected, .. } => Some(*expected),
            _ => None,
        }
    }
}

/// Where the follower stands on L1, committed with every batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct L1Cursor {
    /// Last L1 block whose logs were all handled, or the block of `log_index`.
    pub block: u64,
    /// Hash of `block`, to detect a reorg under the cursor.
    pub block_hash: B256,
    /// Set when only the logs up to this index of `block` were handled.
    pub log_index: Option<u64>,
}

impl L1Cursor {
    /// The stored cursor, `None` before the first batch.
    pub fn read(store: &Store) -> Result<Option<Self>, StoreError> {
        read_json(store, keys::L1_CURSOR, "L1 cursor")
    }

    /// Adds the cursor to `batch`.
    pub fn write(&self, batch: &mut StoreBatch) {
        batch.put(
            Column::Meta,
            keys::L1_CURSOR,
            serde_json::to_vec(self).expect("cursor serialises"),
        );
    }

    /// Just after `log` (its block, up to its index).
    pub fn at_log(log: &crate::l1::L1Log) -> Self {
        L1Cursor {
            block: log.block_number,
            block_hash: log.block_hash,
            log_index: Some(log.log_index),
        }
    }

    /// Just after the log that committed `record`'s batch.
    pub fn at_record(record: &L1BatchRecord) -> Self {
        L1Cursor {
            block: record.l1_block_number,
            block_hash: record.l1_block_hash,
            log_index: Some(record.log_index),
        }
    }

    /// Past every log of `block`.
    pub fn after_block(block: &L1Block) -> Self {
        L1Cursor {
            block: block.number,
            block_hash: block.hash,
            log_index: None,
        }
    }

    /// True when the log at (`block`, `log_index`) was already handled.
    pub fn covers(&self, block: u64, log_index: u64) -> bool {
        block < self.block
            || (block == self.block && self.log_index.is_none_or(|handled| log_index <= handled))
    }
}

/// How a batch's data reached L1.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DaMode {
    /// Data in the commit transaction's calldata (or memory pages).
    #[default]
    Calldata,
    /// Data in EIP-4844 blobs.
    Blob,
}

/// Where a batch came from on L1, committed with the batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct L1BatchRecord {
    /// Batch number.
    pub batch: u64,
    /// L1 block holding the commit log.
    pub l1_block_number: u64,
    /// Hash of that block.
    pub l1_block_hash: B256,
    /// The commit transaction.
    pub l1_transaction_hash: B256,
    /// Index of the commit log in its block.
    pub log_index: u64,
    /// What the engine reported about the batch (flattened: the stored JSON
    /// keeps one flat object).
    #[serde(flatten)]
    pub summary: engine::BatchSummary,
}

impl L1BatchRecord {
    /// The record of `batch`, `None` when not stored.
    pub fn read(store: &Store, batch: u64) -> Result<Option<Self>, StoreError> {
        read_json(store, &keys::l1_batch(batch), "L1 batch record")
    }

    /// Adds the record to `batch`, keyed by its batch number.
    pub fn write(&self, batch: &mut StoreBatch) {
        batch.put(
            Column::Meta,
            keys::l1_batch(self.batch),
            serde_json::to_vec(self).expect("record serialises"),
        );
    }
}

fn read_json<T: serde::de::DeserializeOwned>(
    store: &Store,
    key: &[u8],
    what: &'static str,
) -> Result<Option<T>, StoreError> {
    store
        .get(Column::Meta, key)?
        .map(|bytes| {
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                what,
                detail: e.to_string(),
            })
        })
        .transpose()
}

/// What one `sync` pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// The block of the followed tag when the pass started (the L1 head it may follow).
    pub l1_head: u64,
    /// L1 block the pass synced up to: the head, or `--to-block` when lower.
    pub target: u64,
    /// Batches applied in the pass.
    pub batches_applied: u64,
    /// Applied batches by verdict.
    pub verdicts: crate::audit::Tally,
    /// Batches unwound (reorgs, ZKsync reverts).
    pub unwound: u64,
    /// Where the time went, per pipeline stage.
    pub stages: StageTimes,
}

impl SyncReport {
    /// MISMATCH batches applied in this pass.
    pub fn mismatches(&self) -> u64 {
        self.verdicts.mismatched
    }
}

/// Time spent per pipeline stage (the benchmark reports their shares). With
/// a pipeline the stages overlap, so they add up to more than `wall`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StageTimes {
    /// Wall-clock time of the passes.
    pub wall: std::time::Duration,
    /// `eth_getLogs` for commit events and memory pages.
    pub scan: std::time::Duration,
    /// Transactions, blocks, blobs (with their KZG checks).
    pub fetch: std::time::Duration,
    /// DA decoding and binding checks.
    pub decode: std::time::Duration,
    /// Tries, audit and the atomic commit.
    pub apply: std::time::Duration,
}

impl StageTimes {
    /// Adds `other`'s times to these.
    pub fn add(&mut self, other: &StageTimes) {
        self.wall += other.wall;
        self.scan += other.scan;
        self.fetch += other.fetch;
        self.decode += other.decode;
        self.apply += other.apply;
    }

    /// Share of the wall-clock time the apply stage was busy (0..=1).
    pub fn apply_busy(&self) -> f64 {
        self.apply.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }

    /// `scan 12% · fetch 40% · decode 8% · apply 40%` (shares of the busy time).
    pub fn shares(&self) -> String {
        let total = (self.scan + self.fetch + self.decode + self.apply)
            .as_secs_f64()
            .max(1e-9);
        let pct = |d: std::time::Duration| 100.0 * d.as_secs_f64() / total;
        format!(
            "scan {:.0}% · fetch {:.0}% · decode {:.0}% · apply {:.0}%",
            pct(self.scan),
            pct(self.fetch),
            pct(self.decode),
            pct(self.apply)
        )
    }
}

/// An answer the node should have had (a block or transaction its own logs name).
pub(crate) fn missing(what: String) -> FollowError {
    FollowError::NotFound { what }
}

/// Checks the node is on the chain the config names.
pub async fn check_l1_chain<S: L1Source>(
    source: &S,
    config: &ChainConfig,
) -> Result<(), FollowError> {
    let found = source.chain_id().await?;
    if found != config.l1_chain_id {
        return Err(FollowError::WrongL1Chain {
            expected: config.l1_chain_id,
            found,
        });
    }
    Ok(())
}

/// The tag's block (the head the follower may follow) and the L1 block to
/// follow up to: that block, capped by `to_block`.
pub async fn target_block<S: L1Source>(
    source: &S,
    options: &FollowOptions,
) -> Result<(L1Block, L1Block), FollowError> {
    let head = source.block_by_tag(options.tag).await?;
    let target = match options.to_block {
        Some(limit) if limit < head.number => source
            .block_by_number(limit)
            .await?
            .ok_or_else(|| missing(format!("block {limit}, below the head")))?,
        _ => head.clone(),
    };
    Ok((head, target))
}

/// Finds the newest applied batch whose L1 block is still canonical, walking
/// back from `last`; `Ok(None)` when none is (unwind everything).
pub async fn last_canonical_batch<S: L1Source>(
    source: &S,
    store: &Store,
    last: Option<u64>,
    first: u64,
) -> Result<Option<u64>, FollowError> {
    let Some(mut n) = last else { return Ok(None) };
    loop {
        if let Some(record) = L1BatchRecord::read(store, n)? {
            let canonical = source.block_by_number(record.l1_block_number).await?;
            if canonical.is_some_and(|b| b.hash == record.l1_block_hash) {
                return Ok(Some(n));
            }
        } else {
            // Batches without an L1 record (genesis, or applied from files) are not reorgable.
            return Ok(Some(n));
        }
        if n == first {
            return Ok(None);
        }
        n -= 1;
    }
}

/// Is the cursor's block still canonical?
pub async fn cursor_is_canonical<S: L1Source>(
    source: &S,
    cursor: &L1Cursor,
) -> Result<bool, FollowError> {
    Ok(source
        .block_by_number(cursor.block)
        .await?
        .is_some_and(|b| b.hash == cursor.block_hash))
}

/// The inclusive `[from, to]` chunks of a block range, `size` blocks each.
pub fn chunks(from: u64, to: u64, size: u64) -> impl Iterator<Item = (u64, u64)> {
    let size = size.max(1);
    let mut next = (from <= to).then_some(from);
    std::iter::from_fn(move || {
        let start = next?;
        let end = to.min(start.saturating_add(size - 1));
        next = (end < to).then(|| end + 1);
        Some((start, end))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_range_exactly() {
        assert_eq!(
            chunks(5, 14, 4).collect::<Vec<_>>(),
            vec![(5, 8), (9, 12), (13, 14)]
        );
        assert_eq!(chunks(5, 5, 100).collect::<Vec<_>>(), vec![(5, 5)]);
        assert_eq!(chunks(6, 5, 1).count(), 0);
    }

    #[test]
    fn cursor_covers_logs_up_to_its_position() {
        let c = L1Cursor {
            block: 10,
            block_hash: B256::ZERO,
            log_index: Some(3),
        };
        assert!(c.covers(9, 100) && c.covers(10, 3));
        assert!(!c.covers(10, 4) && !c.covers(11, 0));
        let whole = L1Cursor {
            log_index: None,
            ..c
        };
        assert!(whole.covers(10, 1000) && !whole.covers(11, 0));
    }
}
