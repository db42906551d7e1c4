//! The rollup-engine trait: everything rollup-specific the one generic
//! follower ([`super::pipeline`]) needs, and nothing it decides itself.
//!
//! The split follows reth's `Stage` (execute and unwind, the checkpoint saved
//! with the data) and pathfinder's "the tree returns its writes, the caller
//! commits": an engine never writes to the store. It says which L1 logs its
//! batches come from, what one log means, what to read from L1 for a batch,
//! how to decode what was read, and which writes applying (or unwinding) a
//! batch makes. The follower owns target selection, reorg checks, chunking,
//! the L1 cursor, the audit verdict, the L1 batch record, retries, and the one
//! atomic commit per batch or unwind.
//!
//! # Stages and what runs ahead
//!
//! ```text
//!  scan (follower) ─► fetch (async, L1 only) ─► decode (pure, CPU) ─► plan (reads state) ─► commit (follower)
//!                     └──────── runs ahead on a bounded queue ───────┘  └──── strictly in batch order ────┘
//! ```
//!
//! [`RollupEngine::fetch`] reads L1 only, and several fetches run at once
//! (up to the pipeline depth; results are used in batch order).
//! [`RollupEngine::decode`] is pure and runs ahead of apply, in order. Neither
//! may depend on state an earlier, not yet committed batch changes: anything
//! that does goes into [`RollupEngine::plan`], which the follower calls only
//! after the previous batch is committed. (Starknet: aliases of v0.13.4+
//! batches are resolved in `plan`; the FFT, layout detection and binding
//! checks run in `decode`. ZKsync: a batch that names a blob an earlier
//! transaction published is decoded in `plan`, where every earlier batch's
//! blobs are in the store; all others decode ahead.)
//!
//! When a reorg or a revert discards in-flight work the follower drops every
//! fetched and decoded batch; engines keep no state between batches beyond
//! caches of L1 data.

use std::future::Future;

use alloy_primitives::{Address, B256};

use super::{DaMode, FollowError, L1Cursor};
use crate::audit::Check;
use crate::l1::{L1Log, L1Source};
use crate::store::{Store, StoreBatch};

/// Where a rollup stands: the last batch whose writes are committed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// `None` before the first batch (a ZKsync genesis is batch 0).
    pub last_batch: Option<u64>,
}

/// The L1 logs a rollup's batch events are: `eth_getLogs` over `addresses`
/// with topic 0 any of `topics0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSource {
    /// The L1 contracts that emit the events (Starknet: the core contract;
    /// ZKsync: the diamond proxy and the diamonds of its settlement chains).
    pub addresses: Vec<Address>,
    /// The event signatures (`keccak` of the event declaration) to match.
    pub topics0: Vec<B256>,
}

/// What one L1 log means to the follower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum L1Event {
    /// A batch was committed: fetch, decode, plan and commit it. `batch` is
    /// the number the log names (`None` when the log does not number batches
    /// and the batch is simply the next one, as for Starknet).
    Commit {
        /// The batch number, when the log names one.
        batch: Option<u64>,
        /// The state root the log commits to, judged against the computed one
        /// (Starknet `LogStateUpdate.globalRoot`; ZKsync `BlockCommit.batchHash`
        /// or a relayed `StoredBatchInfo.batchHash`).
        claimed_root: B256,
    },
    /// Batches up to `batch` are proven but can still be reverted (ZKsync `BlocksVerification`).
    Proven {
        /// The highest proven batch.
        batch: u64,
    },
    /// Batches up to `batch` are final and can no longer be reverted (ZKsync `BlockExecution`).
    Finalized {
        /// The highest final batch.
        batch: u64,
    },
    /// Every batch above `keep` was withdrawn on L1 (ZKsync `BlocksRevert`):
    /// unwound like a reorg, and in-flight work is discarded.
    Revert {
        /// The highest batch that stays.
        keep: u64,
    },
    /// What the log means depends on L1 data beyond it (a settlement chain's
    /// commit carries this chain's batches in its pubdata): the follower asks
    /// [`RollupEngine::expand`], in L1 order, while scanning.
    Expand,
    /// Not a batch event; the cursor moves past it.
    Ignore,
}

/// One batch for the fetch stage: the log that committed it and where the
/// previous batch's commit log was (Starknet calldata DA: the memory pages
/// between the two belong to this batch).
#[derive(Clone, Debug)]
pub struct BatchJob {
    /// The batch number (the follower numbers Starknet batches itself).
    pub batch: u64,
    /// The root L1 accepted for the batch, from [`L1Event::Commit`].
    pub claimed_root: B256,
    /// The commit log (for a settlement-carried batch, the settlement chain's
    /// log that [`RollupEngine::expand`] expanded).
    pub log: L1Log,
    /// `(L1 block, log index)` of the previous batch's commit log, committed or
    /// in flight; `None` for the first batch the follower sees.
    pub previous: Option<(u64, u64)>,
}

/// What applying one batch writes, returned by [`RollupEngine::plan`]. The
/// follower adds the audit verdict, the L1 batch record and the cursor to
/// `write` and commits it as one atomic write.
#[derive(Debug)]
pub struct Plan {
    /// State writes: nodes, leaves, history, batch roots, the engine's checkpoint.
    pub write: StoreBatch,
    /// Root the engine computed (0x-hex).
    pub computed_root: String,
    /// Root L1 accepted (0x-hex).
    pub claimed_root: String,
    /// Every check the decoder and planner ran, skipped ones included; the
    /// verdict is MATCH only when all ran and passed.
    pub checks: Vec<Check>,
    /// What the batch was, for its L1 record.
    pub summary: BatchSummary,
}

/// The rollup-specific part of a batch's L1 record.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BatchSummary {
    /// Whether the batch's data came from calldata (or memory pages) or blobs.
    pub da_mode: DaMode,
    /// EIP-4844 blobs the batch's data was read from; 0 for calldata.
    pub blob_count: usize,
    /// Decoder that read the data, e.g. `v0.13.4` or `commitBatches/blobs`.
    pub format_version: String,
    /// Starknet: the L2 blocks the batch covers.
    pub l2_blocks: Option<(u64, u64)>,
    /// Starknet: contracts the state diff names; ZKsync: 0 (its writes name
    /// derived keys, not contracts).
    pub contracts_touched: usize,
    /// Storage slots written (ZKsync: initial plus repeated writes).
    pub storage_writes: usize,
    /// Starknet: classes the batch declared; ZKsync: 0.
    pub classes_declared: usize,
    /// ZKsync: `Some(false)` until a `BlockExecution` names the batch (then `Some(true)`).
    pub executed: Option<bool>,
}

/// A rollup family, plugged into the generic follower.
///
/// Errors are [`FollowError`]s with a typed cause; the follower retries only
/// what [`FollowError::is_transient`] calls transient and records evidence
/// against the sequencer ([`FollowError::sequencer_evidence`]) as a MISMATCH before halting.
pub trait RollupEngine: Send + Sync + 'static {
    /// What [`Self::fetch`] read from L1 for one batch (owned: it crosses tasks).
    type Fetched: Send + 'static;
    /// A batch decoded as far as it can be without reading state.
    type Decoded: Send + 'static;

    /// The logs to scan.
    fn events(&self) -> EventSource;

    /// What `log` means. Pure; a log that cannot be parsed is an error of the node.
    fn classify(&self, log: &L1Log) -> Result<L1Event, FollowError>;

    /// The events an [`L1Event::Expand`] log stands for, in order (none, or
    /// several commits). Reads L1 only; it may cache what it read for
    /// [`Self::fetch`] of the batches it names.
    fn expand<S: L1Source>(
        &self,
        source: &S,
        log: &L1Log,
    ) -> impl Future<Output = Result<Vec<L1Event>, FollowError>> + Send {
        let _ = (source, log);
        async { Ok(Vec::new()) }
    }

    /// Writes that must exist before the first batch (ZKsync: the genesis as
    /// batch 0 with its audit); `None` when there is nothing to do.
    fn init(&self, store: &Store) -> Result<Option<InitWrite>, FollowError> {
        let _ = store;
        Ok(None)
    }

    /// Whether a committed batch is final (Starknet: a state update is
    /// accepted with its proof) or only once an [`L1Event::Finalized`] names
    /// it (ZKsync: `BlocksRevert` withdraws committed batches until they are
    /// executed). The verified pointer never passes a batch that is not final.
    fn final_on_commit(&self) -> bool {
        true
    }

    /// The last committed batch.
    fn checkpoint(&self, store: &Store) -> Result<Checkpoint, FollowError>;

    /// The lowest batch an L1 reorg can remove (batches below it were not read from L1).
    fn first_unwindable(&self) -> u64 {
        0
    }

    /// Reads from L1 everything batch `job.batch` needs. Runs ahead of apply,
    /// concurrently with the fetches of other batches (possibly of the same
    /// L1 transaction: an engine may cache what they share).
    fn fetch<S: L1Source>(
        &self,
        source: &S,
        job: &BatchJob,
    ) -> impl Future<Output = Result<Self::Fetched, FollowError>> + Send;

    /// Decodes and checks a fetched batch. Pure (CPU only); the follower runs
    /// it on a blocking thread, ahead of apply.
    fn decode(&self, job: &BatchJob, fetched: Self::Fetched) -> Result<Self::Decoded, FollowError>;

    /// Computes the batch's writes against the committed state (the previous
    /// batch is committed when this is called). Never commits.
    fn plan(
        &self,
        store: &Store,
        job: &BatchJob,
        decoded: Self::Decoded,
    ) -> Result<Plan, FollowError>;

    /// The writes that remove every batch above `keep` (`None`: all of them)
    /// from the state, the engine's checkpoint included. The follower adds the
    /// audits, L1 records and cursor to the same write.
    fn unwind(&self, store: &Store, keep: Option<u64>) -> Result<StoreBatch, FollowError>;

    /// The writes that record batches up to `batch` as proven ([`L1Event::Proven`]).
    fn prove(&self, store: &Store, batch: u64) -> Result<StoreBatch, FollowError> {
        let _ = (store, batch);
        Ok(StoreBatch::default())
    }

    /// Adds to `write` (the atomic write that moves the L1 cursor to
    /// `cursor`, with the batch or mark it commits) what the engine learnt
    /// while scanning the logs the cursor now passes and a restart could not
    /// learn again (ZKsync: a settlement chain's commit that carried none of
    /// this chain's batches still moved this chain's counters there; once
    /// the cursor is past it, it is never scanned again). Called for every
    /// cursor move of the apply stage: a batch, a proven or final mark, a
    /// chunk end. Unwinds are [`Self::unwind`]'s.
    fn cursor_moved(&self, cursor: &L1Cursor, write: &mut StoreBatch) -> Result<(), FollowError> {
        let _ = (cursor, write);
        Ok(())
    }

    /// The writes that mark batches up to `batch` final ([`L1Event::Finalized`]);
    /// the follower marks their L1 records executed in the same write.
    fn finalize(&self, store: &Store, batch: u64) -> Result<StoreBatch, FollowError> {
        let _ = (store, batch);
        Ok(StoreBatch::default())
    }
}

/// Writes an engine needs before its first batch, with the root to audit them by.
#[derive(Debug)]
pub struct InitWrite {
    /// State writes and the engine's checkpoint; the follower adds the audit
    /// and commits them as one write.
    pub write: StoreBatch,
    /// The batch the writes stand for (ZKsync genesis: 0).
    pub batch: u64,
    /// Root the engine computed (0x-hex).
    pub computed_root: String,
    /// Root the chain config names, when it names one.
    pub claimed_root: Option<String>,
}
