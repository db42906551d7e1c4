//! The follower: scan L1 for a rollup's commitments, fetch their data, decode,
//! apply, audit — one batch at a time, strictly in order, each batch one
//! atomic store commit together with the L1 cursor.
//!
//! Restart safety: the cursor (the last L1 log fully handled) is written in
//! the same write batch as the state the log produced, so a process killed at
//! any instant resumes from the last committed batch with nothing applied
//! twice. Reorg safety: every applied batch remembers the hash of the L1 block
//! that carried it; when that block is no longer canonical the batches after
//! the fork are unwound before anything new is applied.

pub mod engine;
pub mod run;
pub mod starknet;
pub mod status;
pub mod zksync;

pub use status::FollowStatus;

use std::time::Duration;

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

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
    pub tag: BlockTag,
    pub on_mismatch: OnMismatch,
    /// Stop once this L1 block is handled (`None`: follow forever).
    pub to_block: Option<u64>,
    pub poll_interval: Duration,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            tag: BlockTag::Finalized,
            on_mismatch: OnMismatch::Halt,
            to_block: None,
            poll_interval: Duration::from_secs(12),
        }
    }
}

/// Follower errors. A root mismatch is not an error (it is a finding).
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    L1(#[from] L1Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the L1 node is on chain {found}, the chain config expects {expected}")]
    WrongL1Chain { expected: u64, found: u64 },
    #[error("chain config {name} is for {found:?}, not {expected:?}")]
    WrongRollup {
        name: String,
        expected: RollupKind,
        found: RollupKind,
    },
    #[error("batch {batch} (L1 tx {tx}) cannot be applied: {detail}")]
    Undecodable {
        batch: u64,
        tx: B256,
        detail: String,
    },
    #[error("{0}")]
    State(String),
    #[error("halted at batch {batch}: its root does not match L1 (see its audit)")]
    Halted { batch: u64 },
    #[error("reorg deeper than the applied history: no applied batch is on the canonical chain")]
    ReorgTooDeep,
}

/// Where the follower stands on L1, committed with every batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct L1Cursor {
    /// Last L1 block whose logs were all handled, or the block of `log_index`.
    pub block: u64,
    pub block_hash: B256,
    /// Set when only the logs up to this index of `block` were handled.
    pub log_index: Option<u64>,
}

impl L1Cursor {
    pub fn read(store: &Store) -> Result<Option<Self>, StoreError> {
        read_json(store, keys::L1_CURSOR, "L1 cursor")
    }

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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DaMode {
    Calldata,
    Blob,
}

/// Where a batch came from on L1, committed with the batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct L1BatchRecord {
    pub batch: u64,
    pub l1_block_number: u64,
    pub l1_block_hash: B256,
    pub l1_transaction_hash: B256,
    pub log_index: u64,
    pub da_mode: DaMode,
    pub blob_count: usize,
    /// Decoder that read the data, e.g. `v0.13.4` or `commitBatches/blobs`.
    pub format_version: String,
    /// Starknet: the L2 blocks the batch covers.
    pub l2_blocks: Option<(u64, u64)>,
    pub contracts_touched: usize,
    pub storage_writes: usize,
    pub classes_declared: usize,
    /// ZKsync: `BlockExecution` seen for this batch.
    pub executed: Option<bool>,
}

impl L1BatchRecord {
    pub fn read(store: &Store, batch: u64) -> Result<Option<Self>, StoreError> {
        read_json(store, &keys::l1_batch(batch), "L1 batch record")
    }

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
    pub target: u64,
    pub batches_applied: u64,
    pub mismatches: u64,
    pub unwound: u64,
    /// Where the time went, per pipeline stage.
    pub stages: StageTimes,
}

/// Time spent per pipeline stage (the benchmark reports their shares).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StageTimes {
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
    pub fn add(&mut self, other: &StageTimes) {
        self.scan += other.scan;
        self.fetch += other.fetch;
        self.decode += other.decode;
        self.apply += other.apply;
    }

    /// `scan 12% · fetch 40% · decode 8% · apply 40%`.
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

/// Moves the cursor past a whole scanned chunk `..=hi` (`target` when it ends there).
pub async fn finish_chunk<S: L1Source>(
    source: &S,
    store: &Store,
    hi: u64,
    target: &L1Block,
) -> Result<(), FollowError> {
    let end = if hi == target.number {
        target.clone()
    } else {
        source
            .block_by_number(hi)
            .await?
            .ok_or_else(|| missing(format!("block {hi}")))?
    };
    let mut write = StoreBatch::default();
    L1Cursor::after_block(&end).write(&mut write);
    store.commit(write)?;
    Ok(())
}

/// Logs a batch's verdict: loudly when it is a finding.
pub(crate) fn log_verdict(chain: &str, log: &crate::l1::L1Log, audit: &crate::audit::BatchAudit) {
    if audit.verdict == crate::audit::Verdict::Mismatch {
        let failed: Vec<&str> = audit
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect();
        tracing::error!(
            chain, batch = audit.batch, l1_block = log.block_number, tx = %log.transaction_hash,
            claimed = ?audit.claimed_root, computed = %audit.computed_root, ?failed,
            "FINDING: batch does not match what L1 accepted"
        );
    } else {
        tracing::info!(
            chain, batch = audit.batch, l1_block = log.block_number,
            root = %audit.computed_root, "batch applied"
        );
    }
}

/// An answer the node should have had (a block or transaction its own logs name).
pub(crate) fn missing(what: String) -> FollowError {
    FollowError::L1(L1Error::Malformed {
        endpoint: "rpc".into(),
        detail: format!("{what} not found"),
    })
}

pub(crate) fn state_error(e: impl std::fmt::Display) -> FollowError {
    FollowError::State(e.to_string())
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

/// The L1 block to follow up to: the tag's block, capped by `to_block`.
pub async fn target_block<S: L1Source>(
    source: &S,
    options: &FollowOptions,
) -> Result<L1Block, FollowError> {
    let head = source.block_by_tag(options.tag).await?;
    match options.to_block {
        Some(limit) if limit < head.number => {
            Ok(source
                .block_by_number(limit)
                .await?
                .ok_or_else(|| L1Error::Malformed {
                    endpoint: "rpc".into(),
                    detail: format!("block {limit} is below the head but not found"),
                })?)
        }
        _ => Ok(head),
    }
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
