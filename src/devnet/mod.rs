//! The devnet sequencer simulator's pure parts: stand-in L1 contracts and
//! seeded batch generators that produce the L1 transactions an honest (or, on
//! request, faulty) sequencer would submit.
//!
//! Nothing here touches the network. A generator keeps its own scratch state
//! (a temporary store driven by the same state engines the follower uses) to
//! know the true roots, builds random but realistic state diffs, and encodes
//! them with the project's encoders into real-format calldata and blobs:
//!
//! ```text
//! seed ─► random StateDiff ─► scratch state (true root) ─► encoders ─► PlannedBatch { txs, expected_root }
//! ```
//!
//! A submitter sends each [`PlannedTx`] to L1 (blob transactions when `blobs`
//! is not empty) where the [`contracts`] stand-ins are installed; a follower
//! must then reproduce every `expected_root`.

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use crate::diff::StateDiff;

pub mod anvil;
pub mod contracts;
mod rng;
pub mod run;
pub mod starknet_gen;
pub mod zksync_gen;

pub use rng::Rng;

/// One L1 transaction to submit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedTx {
    /// Contract the transaction calls.
    pub to: Address,
    /// Full calldata, selector included.
    pub calldata: Vec<u8>,
    /// EIP-4844 blobs (131072 bytes each) to attach; empty for a plain calldata transaction.
    pub blobs: Vec<Vec<u8>>,
    /// Human-readable purpose, e.g. `"starknet batch 3 updateStateKzgDA"`.
    pub label: String,
}

/// The transactions of one batch (or of one lifecycle step such as a revert),
/// in submission order, with what a follower must compute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedBatch {
    /// Rollup batch number (for a revert step: the batch the chain reverts to).
    pub number: u64,
    /// The L1 transactions, in submission order.
    pub txs: Vec<PlannedTx>,
    /// The true state root after this batch: what an honest replay computes.
    pub expected_root: B256,
    /// The root posted to L1 (differs from `expected_root` only under [`Fault::TamperedRoot`]).
    pub claimed_root: B256,
    /// The DA format, e.g. `"starknet-v0.11-pages"` or `"zksync-v26-blobs"`; `"zksync-revert"` for a revert step.
    pub format: &'static str,
    /// The deliberate fault this batch carries, if any.
    pub fault: Option<Fault>,
    /// The diff the sequencer really applied (what the decoders must recover
    /// from honest DA). ZKsync: `derived_writes` with final values in published order.
    pub diff: StateDiff,
}

/// The format batch `n` is published in, from a `(first batch, format)`
/// schedule: the entry with the highest first batch at or below `n`.
pub fn scheduled_format<F: Copy>(schedule: &[(u64, F)], n: u64) -> Option<F> {
    schedule
        .iter()
        .filter(|(first, _)| *first <= n)
        .max_by_key(|(first, _)| *first)
        .map(|(_, format)| *format)
}

/// Refuses a schedule that leaves batch 1 without a format.
fn check_schedule<F: Copy>(schedule: &[(u64, F)]) -> Result<(), DevnetError> {
    match scheduled_format(schedule, 1) {
        Some(_) => Ok(()),
        None => Err(DevnetError::Config(
            "the schedule does not cover batch 1".into(),
        )),
    }
}

/// The format of batch `n` when it is to be generated (`n <= last`), `None` past the last.
fn next_format<F: Copy>(
    schedule: &[(u64, F)],
    n: u64,
    last: u64,
) -> Result<Option<F>, DevnetError> {
    if n > last {
        return Ok(None);
    }
    scheduled_format(schedule, n)
        .map(Some)
        .ok_or_else(|| DevnetError::Config(format!("no format for batch {n}")))
}

/// A generator's batches from its `next_batch` until it returns `None`.
fn plan_all(
    mut next_batch: impl FnMut() -> Result<Option<PlannedBatch>, DevnetError>,
) -> Result<Vec<PlannedBatch>, DevnetError> {
    let mut batches = Vec::new();
    while let Some(batch) = next_batch()? {
        batches.push(batch);
    }
    Ok(batches)
}

/// A deliberate sequencer fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// The program output / commit claims a new root that is not the true one.
    TamperedRoot,
    /// The DA posted is not what the proof bound: Starknet pages or blobs carry
    /// altered data while the program output binds the true data (the
    /// `onchainDataHash`, or the KZG point `z`); ZKsync pubdata or blobs carry
    /// altered data while the system logs / DA header bind the true pubdata
    /// (pubdata hash, blob linear hashes).
    DataNotBound,
    /// ZKsync: after this batch, revert the last `k` committed batches and
    /// commit different batches in their place.
    ZksyncRevert {
        /// Number of committed batches to revert.
        k: u64,
    },
}

/// Why a generator could not plan a batch.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// The generator settings are inconsistent (or a generator thread failed).
    #[error("invalid generator configuration: {0}")]
    Config(String),
    /// A generator file could not be read or written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The generator's scratch store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The Starknet scratch state rejected a generated diff.
    #[error("starknet scratch state: {0}")]
    StarknetState(#[from] crate::rollup::starknet::state::StateError),
    /// The ZKsync scratch state rejected generated writes.
    #[error("zksync scratch state: {0}")]
    ZksyncState(#[from] crate::rollup::zksync::state::StateError),
    /// Encoding the Starknet DA failed.
    #[error("starknet DA encoding: {0}")]
    StarknetDa(#[from] crate::rollup::starknet::da::DaError),
    /// The ZKsync genesis could not be built.
    #[error("zksync genesis: {0}")]
    Genesis(#[from] crate::rollup::zksync::genesis::GenesisError),
    /// Encoding a blob failed.
    #[error(transparent)]
    Blob(#[from] crate::blob::BlobError),
}
