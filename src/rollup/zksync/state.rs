//! Applying ZKsync batches to the store, and unwinding them.
//!
//! One batch becomes one [`StoreBatch`]: the new tree nodes, the current
//! leaves (`z ‖ derived key` -> `index ‖ value`, `i ‖ index` -> derived key),
//! one history entry per changed leaf, the undo list (which leaves changed,
//! kept until the batch is executed), the batch record and the checkpoint.
//!
//! Enumeration indices: the initial writes of a batch take the next free
//! indices in published order; after the batch the next free index must
//! equal the commit's `indexRepeatedStorageChanges`. Repeated writes name
//! their slot by index and carry a value relative to the slot's current value
//! (see [`super::compression`]).
//!
//! Unwinding (`BlocksRevert`): the leaves of every batch above the target are
//! restored from history (or removed, for slots first written there); nodes
//! are content-addressed and never deleted, so the target's root is intact.

use std::collections::HashSet;

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

use super::decode::{DecodedBatch, Writes};
use super::tree::{LeafWrite, Tree, TreeError, empty_root};
use crate::diff::StateDiff;
use crate::store::{Column, Store, StoreBatch, StoreError, keys};

/// Why a batch could not be applied or unwound.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading or writing the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The tree could not be read or updated.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// A batch was applied to a store with no genesis state.
    #[error("the store has no ZKsync genesis; apply a genesis first")]
    NoGenesis,
    /// Genesis was applied to a store that already holds state; holds its last batch.
    #[error("the store already holds ZKsync state (at batch {0})")]
    AlreadyInitialised(u64),
    /// The genesis leaves do not yield the chain's known genesis root: wrong genesis file.
    #[error("genesis root {computed} differs from the expected {expected}")]
    GenesisRoot {
        /// Root of the genesis leaves.
        computed: B256,
        /// Genesis root from the chain config.
        expected: B256,
    },
    /// A batch is not the one after the last applied batch.
    #[error("batch {found} does not follow batch {last}")]
    OutOfOrder {
        /// Last applied batch.
        last: u64,
        /// Batch offered.
        found: u64,
    },
    /// A repeated write names an enumeration index no slot has: evidence against the sequencer.
    #[error("batch {batch}: repeated write names unknown enumeration index {index}")]
    UnknownIndex {
        /// Batch number.
        batch: u64,
        /// The unknown index.
        index: u64,
    },
    /// An initial write names a slot that already has an index: evidence against the sequencer.
    #[error("batch {batch}: initial write of {key}, which already has index {index}")]
    KeyExists {
        /// Batch number.
        batch: u64,
        /// Derived key of the slot.
        key: B256,
        /// The index the slot already has.
        index: u64,
    },
    /// One batch writes the same slot twice: evidence against the sequencer.
    #[error("batch {batch}: slot {key} written twice")]
    DuplicateWrite {
        /// Batch number.
        batch: u64,
        /// Derived key of the slot.
        key: B256,
    },
    /// The next free index after the batch differs from the commit's `indexRepeatedStorageChanges`: evidence against the sequencer.
    #[error(
        "batch {batch}: next free index after the batch is {computed}, the commit says {committed}"
    )]
    IndexMismatch {
        /// Batch number.
        batch: u64,
        /// Index computed from the published initial writes.
        computed: u64,
        /// Index the commit states.
        committed: u64,
    },
    /// An unwind would remove a batch L1 has executed (final).
    #[error("cannot unwind to batch {target}: batch {executed} is executed")]
    UnwindExecuted {
        /// Batch to unwind to.
        target: u64,
        /// Highest executed batch.
        executed: u64,
    },
    /// The unwind target is above the store's last batch.
    #[error("cannot unwind to batch {target}: the store is at batch {current}")]
    UnwindAhead {
        /// Batch to unwind to.
        target: u64,
        /// Last applied batch.
        current: u64,
    },
    /// A batch to unwind has no undo record.
    #[error("batch {batch} has no undo record (executed, or the store is corrupt)")]
    MissingUndo {
        /// Batch number.
        batch: u64,
    },
    /// A stored state record does not decode or contradicts the tree: the store is damaged.
    #[error("corrupt {what}: {detail}")]
    Corrupt {
        /// Which record.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// Enumeration indices would pass 2^64 - 1.
    #[error("batch {batch}: the next enumeration index would pass 2^64 - 1")]
    IndexOverflow {
        /// Batch number.
        batch: u64,
    },
}

impl StateError {
    /// The name of the sequencer's inconsistency when this error proves one:
    /// the published writes contradict the committed state or themselves,
    /// so the batch can never be applied (evidence, not a local fault).
    pub fn sequencer_evidence(&self) -> Option<&'static str> {
        match self {
            StateError::IndexMismatch { .. } => Some("index_repeated_storage_changes"),
            StateError::KeyExists { .. } => Some("initial_write_of_existing_key"),
            StateError::UnknownIndex { .. } => Some("repeated_write_of_unknown_index"),
            StateError::DuplicateWrite { .. } => Some("slot_written_twice"),
            _ => None,
        }
    }
}

/// Where the ZKsync state stands after the last committed batch, stored under
/// the checkpoint key with every batch (the follower sees it as
/// [`crate::follow::Checkpoint`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZksyncTip {
    /// Last applied batch (0 = genesis).
    pub batch: u64,
    /// Tree root after `batch`.
    pub root: B256,
    /// Next free enumeration index.
    pub next_index: u64,
    /// Highest batch named by `BlockExecution` (cannot be unwound).
    pub last_executed: u64,
    /// Highest batch a `BlocksVerification` (or an execution) says is proven;
    /// a `BlocksRevert` can still withdraw it.
    #[serde(default)]
    pub last_proven: u64,
    /// Highest batch up to which every computed root matched the committed
    /// one (executed or not: the verified pointer is `min(verified, last_executed)`).
    pub verified: u64,
}

impl ZksyncTip {
    /// The last batch that is executed on L1 and whose root, and every root
    /// before it, matched: what a store without audits calls verified.
    pub fn verified_and_executed(&self) -> u64 {
        self.verified.min(self.last_executed)
    }
}

/// What the store keeps per batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRecord {
    /// L1 batch number.
    pub batch: u64,
    /// Tree root zkreplay computed.
    pub computed_root: B256,
    /// Root the commit claimed (`newStateRoot`), when known.
    pub claimed_root: Option<B256>,
    /// `Some(true)` when the computed root equals the claimed one.
    pub matches: Option<bool>,
    /// Next free enumeration index after the batch.
    pub next_index: u64,
    /// Initial writes applied.
    pub initial_writes: usize,
    /// Repeated writes applied.
    pub repeated_writes: usize,
}

/// One batch's writes as the engine takes them.
#[derive(Clone, Debug)]
pub struct PlanInput {
    /// L1 batch number.
    pub batch_number: u64,
    /// Root the commit claimed, when known.
    pub claimed_root: Option<B256>,
    /// `indexRepeatedStorageChanges` of the commit, checked when present.
    pub index_repeated_storage_changes: Option<u64>,
    /// The batch's published writes.
    pub writes: Writes,
}

impl PlanInput {
    /// The input for a decoded batch, `None` when its writes could not be decoded.
    pub fn from_decoded(batch: &DecodedBatch) -> Option<Self> {
        Some(PlanInput {
            batch_number: batch.batch_number,
            claimed_root: Some(batch.new_state_root),
            index_repeated_storage_changes: Some(batch.index_repeated_storage_changes),
            writes: batch.writes.clone()?,
        })
    }
}

/// The result of applying a batch.
#[derive(Clone, Debug)]
pub struct Applied {
    /// What the store keeps for the batch.
    pub record: BatchRecord,
    /// The batch's writes resolved to final values, in published order.
    pub diff: StateDiff,
}

/// The ZKsync state engine over a store.
pub struct ZksyncState<'s> {
    store: &'s Store,
    checkpoint: ZksyncTip,
}

impl<'s> ZksyncState<'s> {
    /// Opens the engine at the store's checkpoint.
    pub fn open(store: &'s Store) -> Result<Self, StateError> {
        let checkpoint = read_checkpoint(store)?.ok_or(StateError::NoGenesis)?;
        Ok(ZksyncState { store, checkpoint })
    }

    /// Writes the genesis leaves (indices as given) as batch 0 and opens the engine.
    pub fn init_genesis(
        store: &'s Store,
        leaves: &[(B256, u64, B256)],
        expected_root: Option<B256>,
    ) -> Result<Self, StateError> {
        let (batch, checkpoint) = Self::plan_genesis(store, leaves, expected_root)?;
        if let Some(expected) = expected_root
            && expected != checkpoint.root
        {
            return Err(StateError::GenesisRoot {
                computed: checkpoint.root,
                expected,
            });
        }
        store.commit(batch)?;
        Ok(ZksyncState { store, checkpoint })
    }

    /// Everything the genesis writes as batch 0, without writing it; the
    /// caller judges the root (the checkpoint's) against `expected_root`.
    pub fn plan_genesis(
        store: &Store,
        leaves: &[(B256, u64, B256)],
        expected_root: Option<B256>,
    ) -> Result<(StoreBatch, ZksyncTip), StateError> {
        if let Some(existing) = read_checkpoint(store)? {
            return Err(StateError::AlreadyInitialised(existing.batch));
        }
        let mut batch = StoreBatch::default();
        let update = Tree::new(store, empty_root()).update(
            leaves
                .iter()
                .map(|(k, i, v)| LeafWrite::new(k, *i, v))
                .collect(),
        )?;
        for (key, value) in update.nodes {
            batch.put(Column::Nodes, key.to_vec(), value);
        }
        for (key, index, value) in leaves {
            put_leaf(&mut batch, key, *index, value, 0, true);
        }
        let next_index = leaves
            .iter()
            .map(|l| l.1)
            .max()
            .unwrap_or(0)
            .checked_add(1)
            .ok_or(StateError::IndexOverflow { batch: 0 })?;
        let record = BatchRecord {
            batch: 0,
            computed_root: update.root,
            claimed_root: expected_root,
            matches: expected_root.map(|e| e == update.root),
            next_index,
            initial_writes: leaves.len(),
            repeated_writes: 0,
        };
        let checkpoint = ZksyncTip {
            batch: 0,
            root: update.root,
            next_index,
            last_executed: 0,
            last_proven: 0,
            verified: 0,
        };
        put_record(&mut batch, &record);
        put_checkpoint(&mut batch, &checkpoint);
        Ok((batch, checkpoint))
    }

    /// Where the state stands (last applied batch).
    pub fn checkpoint(&self) -> &ZksyncTip {
        &self.checkpoint
    }

    /// Applies one batch and commits it (tools and tests; the follower plans
    /// with [`Self::plan`] and commits the writes with its own records).
    pub fn apply_and_commit(&mut self, input: &PlanInput) -> Result<Applied, StateError> {
        let (batch, applied, checkpoint) = self.plan(input)?;
        self.store.commit(batch)?;
        self.checkpoint = checkpoint;
        Ok(applied)
    }

    /// Computes everything `input` changes as one [`StoreBatch`] without writing it.
    pub fn plan(&self, input: &PlanInput) -> Result<(StoreBatch, Applied, ZksyncTip), StateError> {
        let n = input.batch_number;
        if Some(n) != self.checkpoint.batch.checked_add(1) {
            return Err(StateError::OutOfOrder {
                last: self.checkpoint.batch,
                found: n,
            });
        }
        let mut seen = HashSet::new();
        let mut resolved: Vec<(B256, u64, B256, bool)> = Vec::with_capacity(
            input
                .writes
                .initial
                .len()
                .saturating_add(input.writes.repeated.len()),
        );
        let mut next_index = self.checkpoint.next_index;
        for w in &input.writes.initial {
            if let Some((index, _)) = self.leaf(&w.derived_key)? {
                return Err(StateError::KeyExists {
                    batch: n,
                    key: w.derived_key,
                    index,
                });
            }
            if !seen.insert(w.derived_key) {
                return Err(StateError::DuplicateWrite {
                    batch: n,
                    key: w.derived_key,
                });
            }
            resolved.push((w.derived_key, next_index, w.value.apply(&B256::ZERO), true));
            next_index = next_index
                .checked_add(1)
                .ok_or(StateError::IndexOverflow { batch: n })?;
        }
        for w in &input.writes.repeated {
            let key = self
                .key_of_index(w.index)?
                .ok_or(StateError::UnknownIndex {
                    batch: n,
                    index: w.index,
                })?;
            let (index, previous) = self.leaf(&key)?.ok_or_else(|| StateError::Corrupt {
                what: "leaf",
                detail: format!("index {} names {key}, which has no leaf", w.index),
            })?;
            if !seen.insert(key) {
                return Err(StateError::DuplicateWrite { batch: n, key });
            }
            resolved.push((key, index, w.value.apply(&previous), false));
        }
        if let Some(committed) = input.index_repeated_storage_changes
            && committed != next_index
        {
            return Err(StateError::IndexMismatch {
                batch: n,
                computed: next_index,
                committed,
            });
        }

        let mut batch = StoreBatch::default();
        let update = Tree::new(self.store, self.checkpoint.root).update(
            resolved
                .iter()
                .map(|(k, i, v, _)| LeafWrite::new(k, *i, v))
                .collect(),
        )?;
        for (key, value) in update.nodes {
            batch.put(Column::Nodes, key.to_vec(), value);
        }
        let mut undo = Vec::with_capacity(resolved.len().saturating_mul(32));
        for (key, index, value, is_new) in &resolved {
            put_leaf(&mut batch, key, *index, value, n, *is_new);
            undo.extend_from_slice(key.as_slice());
        }
        batch.put(Column::Meta, keys::undo(n), undo);
        let matches = input.claimed_root.map(|c| c == update.root);
        let record = BatchRecord {
            batch: n,
            computed_root: update.root,
            claimed_root: input.claimed_root,
            matches,
            next_index,
            initial_writes: input.writes.initial.len(),
            repeated_writes: input.writes.repeated.len(),
        };
        // `n` follows the checkpoint's batch (checked above).
        let verified = if matches == Some(true) && self.checkpoint.verified == self.checkpoint.batch
        {
            n
        } else {
            self.checkpoint.verified
        };
        let checkpoint = ZksyncTip {
            batch: n,
            root: update.root,
            next_index,
            last_executed: self.checkpoint.last_executed,
            last_proven: self.checkpoint.last_proven,
            verified,
        };
        put_record(&mut batch, &record);
        put_checkpoint(&mut batch, &checkpoint);
        let diff = StateDiff {
            derived_writes: resolved.iter().map(|(k, _, v, _)| (*k, *v)).collect(),
            ..Default::default()
        };
        Ok((batch, Applied { record, diff }, checkpoint))
    }

    /// Records that `BlockExecution` named `batch`: it can no longer be unwound,
    /// so its undo list (and those below it) are dropped.
    pub fn mark_executed(&mut self, batch: u64) -> Result<(), StateError> {
        let (write, checkpoint) = self.plan_executed(batch);
        self.store.commit(write)?;
        self.checkpoint = checkpoint;
        Ok(())
    }

    /// The writes of [`Self::mark_executed`], without writing them.
    pub fn plan_executed(&self, batch: u64) -> (StoreBatch, ZksyncTip) {
        let executed = batch.min(self.checkpoint.batch);
        let mut write = StoreBatch::default();
        if executed <= self.checkpoint.last_executed {
            return (write, self.checkpoint.clone());
        }
        // The batches after last_executed, up to executed (which is larger).
        for n in (self.checkpoint.last_executed..=executed).skip(1) {
            write.delete(Column::Meta, keys::undo(n));
        }
        let checkpoint = ZksyncTip {
            last_executed: executed,
            last_proven: self.checkpoint.last_proven.max(executed),
            ..self.checkpoint.clone()
        };
        put_checkpoint(&mut write, &checkpoint);
        (write, checkpoint)
    }

    /// The writes that record a `BlocksVerification` proving batches up to `batch`.
    pub fn plan_proven(&self, batch: u64) -> (StoreBatch, ZksyncTip) {
        let proven = batch.min(self.checkpoint.batch);
        let mut write = StoreBatch::default();
        if proven <= self.checkpoint.last_proven {
            return (write, self.checkpoint.clone());
        }
        let checkpoint = ZksyncTip {
            last_proven: proven,
            ..self.checkpoint.clone()
        };
        put_checkpoint(&mut write, &checkpoint);
        (write, checkpoint)
    }

    /// Unwinds to `target` (`BlocksRevert`): every batch above it is undone in one atomic write.
    pub fn unwind(&mut self, target: u64) -> Result<(), StateError> {
        let (write, checkpoint) = self.plan_unwind(target)?;
        self.store.commit(write)?;
        self.checkpoint = checkpoint;
        Ok(())
    }

    /// The writes of [`Self::unwind`], without writing them.
    pub fn plan_unwind(&self, target: u64) -> Result<(StoreBatch, ZksyncTip), StateError> {
        let current = self.checkpoint.batch;
        if target > current {
            return Err(StateError::UnwindAhead { target, current });
        }
        if target < self.checkpoint.last_executed {
            return Err(StateError::UnwindExecuted {
                target,
                executed: self.checkpoint.last_executed,
            });
        }
        let mut write = StoreBatch::default();
        if target == current {
            return Ok((write, self.checkpoint.clone()));
        }
        // The batches above target (which is below current), newest first.
        for n in (target..=current).rev().take_while(|n| *n != target) {
            let undo = self
                .store
                .get(Column::Meta, &keys::undo(n))?
                .ok_or(StateError::MissingUndo { batch: n })?;
            if undo.len() % 32 != 0 {
                return Err(StateError::Corrupt {
                    what: "undo list",
                    detail: format!("batch {n}: {} bytes", undo.len()),
                });
            }
            for key in undo.chunks_exact(32) {
                let key = B256::from_slice(key);
                let leaf_key = keys::leaf(keys::LEAF_ZKSYNC_BY_KEY, &[key.as_slice()]);
                match self.store.get_at_or_before(
                    Column::History,
                    &leaf_key,
                    // `n` is above target: at least 1.
                    &keys::history(&leaf_key, n.saturating_sub(1)),
                )? {
                    Some((_, previous)) => write.put(Column::Leaves, leaf_key.clone(), previous),
                    None => {
                        if let Some((index, _)) = self.leaf(&key)? {
                            write.delete(
                                Column::Leaves,
                                keys::leaf(keys::LEAF_ZKSYNC_BY_INDEX, &[&index.to_be_bytes()]),
                            );
                        }
                        write.delete(Column::Leaves, leaf_key.clone());
                    }
                }
                write.delete(Column::History, keys::history(&leaf_key, n));
            }
            write.delete(Column::Meta, keys::undo(n));
            write.delete(Column::Batches, keys::batch(n).to_vec());
        }
        let record = self.record(target)?.ok_or_else(|| StateError::Corrupt {
            what: "batch record",
            detail: format!("batch {target} missing"),
        })?;
        let checkpoint = ZksyncTip {
            batch: target,
            root: record.computed_root,
            next_index: record.next_index,
            last_executed: self.checkpoint.last_executed,
            last_proven: self.checkpoint.last_proven.min(target),
            verified: self.checkpoint.verified.min(target),
        };
        put_checkpoint(&mut write, &checkpoint);
        Ok((write, checkpoint))
    }

    /// The current (index, value) of a slot.
    pub fn leaf(&self, derived_key: &B256) -> Result<Option<(u64, B256)>, StateError> {
        self.store
            .get(
                Column::Leaves,
                &keys::leaf(keys::LEAF_ZKSYNC_BY_KEY, &[derived_key.as_slice()]),
            )?
            .map(|v| decode_leaf(&v))
            .transpose()
    }

    /// The (index, value) of a slot as of `batch` (time travel through history).
    pub fn leaf_at(
        &self,
        derived_key: &B256,
        batch: u64,
    ) -> Result<Option<(u64, B256)>, StateError> {
        leaf_at(self.store, derived_key, batch)
    }

    /// The derived key holding enumeration index `index`.
    pub fn key_of_index(&self, index: u64) -> Result<Option<B256>, StateError> {
        match self.store.get(
            Column::Leaves,
            &keys::leaf(keys::LEAF_ZKSYNC_BY_INDEX, &[&index.to_be_bytes()]),
        )? {
            Some(v) if v.len() == 32 => Ok(Some(B256::from_slice(&v))),
            Some(v) => Err(StateError::Corrupt {
                what: "index entry",
                detail: format!("{} bytes", v.len()),
            }),
            None => Ok(None),
        }
    }

    /// The stored record of `batch`.
    pub fn record(&self, batch: u64) -> Result<Option<BatchRecord>, StateError> {
        read_record(self.store, batch)
    }
}

/// Reads the checkpoint, if the store holds ZKsync state.
pub fn read_checkpoint(store: &Store) -> Result<Option<ZksyncTip>, StateError> {
    store
        .get(Column::Meta, keys::CHECKPOINT)?
        .map(|v| {
            serde_json::from_slice(&v).map_err(|e| StateError::Corrupt {
                what: "checkpoint",
                detail: e.to_string(),
            })
        })
        .transpose()
}

/// The (index, value) of a slot as of `batch`, read from history without
/// opening the engine (the API's read path needs no checkpoint per lookup).
pub fn leaf_at(
    store: &Store,
    derived_key: &B256,
    batch: u64,
) -> Result<Option<(u64, B256)>, StateError> {
    let leaf_key = keys::leaf(keys::LEAF_ZKSYNC_BY_KEY, &[derived_key.as_slice()]);
    store
        .get_at_or_before(Column::History, &leaf_key, &keys::history(&leaf_key, batch))?
        .map(|(_, v)| decode_leaf(&v))
        .transpose()
}

/// The stored record of `batch`, without opening the engine.
pub fn read_record(store: &Store, batch: u64) -> Result<Option<BatchRecord>, StateError> {
    store
        .get(Column::Batches, &keys::batch(batch))?
        .map(|v| {
            serde_json::from_slice(&v).map_err(|e| StateError::Corrupt {
                what: "batch record",
                detail: e.to_string(),
            })
        })
        .transpose()
}

fn decode_leaf(v: &[u8]) -> Result<(u64, B256), StateError> {
    if v.len() != 40 {
        return Err(StateError::Corrupt {
            what: "leaf",
            detail: format!("{} bytes", v.len()),
        });
    }
    Ok((
        u64::from_be_bytes(v[..8].try_into().expect("8 bytes")),
        B256::from_slice(&v[8..]),
    ))
}

fn put_leaf(batch: &mut StoreBatch, key: &B256, index: u64, value: &B256, n: u64, is_new: bool) {
    let leaf_key = keys::leaf(keys::LEAF_ZKSYNC_BY_KEY, &[key.as_slice()]);
    let mut leaf = Vec::with_capacity(40);
    leaf.extend_from_slice(&index.to_be_bytes());
    leaf.extend_from_slice(value.as_slice());
    batch.put(Column::History, keys::history(&leaf_key, n), leaf.clone());
    batch.put(Column::Leaves, leaf_key, leaf);
    if is_new {
        batch.put(
            Column::Leaves,
            keys::leaf(keys::LEAF_ZKSYNC_BY_INDEX, &[&index.to_be_bytes()]),
            key.to_vec(),
        );
    }
}

fn put_record(batch: &mut StoreBatch, record: &BatchRecord) {
    batch.put(
        Column::Batches,
        keys::batch(record.batch).to_vec(),
        serde_json::to_vec(record).expect("record serialises"),
    );
}

fn put_checkpoint(batch: &mut StoreBatch, checkpoint: &ZksyncTip) {
    batch.put(
        Column::Meta,
        keys::CHECKPOINT,
        serde_json::to_vec(checkpoint).expect("checkpoint serialises"),
    );
}
