//! The settlement-chain path of the ZKsync engine: while a chain settles on
//! a ZK chain (Era on the Gateway), its batches are found inside the
//! settlement chain's L1 commits and taken from the relayed messages.

use std::collections::BTreeMap;

use super::*;
use crate::rollup::zksync::gateway::CounterTracker;

/// A settlement chain this chain's batches went through.
pub(super) struct Layer {
    /// The settlement chain's diamond proxy on L1 (its `BlockCommit` logs).
    pub(super) diamond: Address,
    /// How the settlement chain's messages name this chain.
    pub(super) settled: SettledChain,
}

/// One of this chain's batches as a settlement batch relayed it to L1,
/// decoded and checked (the settlement batch's own checks included).
pub struct Carried {
    /// The settlement chain's commit transaction that carried it.
    pub(super) tx: B256,
    pub(super) batch: RelayedBatch,
    /// The settlement batch's DA checks, named `settlement.*`.
    pub(super) layer_checks: Vec<Check>,
    pub(super) blob_count: usize,
    pub(super) format: String,
}

/// The check no batch carried by a settlement chain can pass from L1 data
/// alone, so such a batch is at best PARTIAL.
pub const RELAYED_PUBDATA_HASH: &str = "relayed.pubdata_hash";

impl ZksyncEngine {
    pub(super) fn layer(&self, address: Address) -> Option<&Layer> {
        self.layers.iter().find(|l| l.diamond == address)
    }

    /// Whether this chain settled on the layer whose diamond emitted `log` at
    /// the log's L1 block (a timestamp boundary needs the block's timestamp).
    pub(super) async fn settled_on<S: L1Source>(
        &self,
        source: &S,
        log: &L1Log,
        layer: &Layer,
    ) -> Result<bool, FollowError> {
        let block = source
            .block_by_hash(log.block_hash)
            .await?
            .ok_or_else(|| missing(format!("block {}", log.block_hash)))?;
        let point = L1Point::at(block.number, block.timestamp);
        let period = match self.chain.history.settlement_at(point) {
            Ok(period) => period,
            Err(HistoryError::BeforeHistory { .. }) => return Ok(false),
            Err(e) => return Err(self.error(0, log.transaction_hash, e)),
        };
        Ok(period.layer == SettlementKind::ZkChain
            && period.diamond_on_layer == Some(layer.settled.diamond_on_layer)
            && period.settlement_config.as_ref().map(|l| l.diamond_proxy) == Some(layer.diamond))
    }

    /// Reads a settlement batch's commit from L1, decodes the settlement
    /// chain's own pubdata (calldata or KZG-checked blobs, with every binding
    /// check) and takes this chain's batches from its messages.
    pub(super) async fn carried_by<S: L1Source>(
        &self,
        source: &S,
        log: &L1Log,
        layer: &Layer,
    ) -> Result<Vec<Arc<Carried>>, FollowError> {
        let hash = log.transaction_hash;
        let settlement_batch =
            match parse_log(&log.topics, &log.data).map_err(|e| malformed_log(log, &e))? {
                Some(BatchEvent::Commit { batch, .. }) => batch,
                _ => return Ok(Vec::new()),
            };
        let tx = self.commit_tx(source, log, settlement_batch).await?;
        let index = tx
            .call
            .batches
            .iter()
            .position(|b| b.batch_number == settlement_batch)
            .ok_or_else(|| self.error(settlement_batch, hash, ZksyncCause::NotInTransaction))?;
        let fetched = ZksyncFetched {
            tx: Arc::new(tx),
            index,
        };
        let decoded = self.decode_with(settlement_batch, &fetched, Vec::new())?;
        let undecodable = |detail: String| {
            self.error(
                settlement_batch,
                hash,
                ZksyncCause::LayerUndecodable {
                    batch: settlement_batch,
                    detail,
                },
            )
        };
        let pubdata = decoded.parsed.as_ref().ok_or_else(|| {
            undecodable(
                decoded
                    .checks
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| format!("{}: {}", c.name, c.actual))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let relayed = relayed_batches(settlement_batch, pubdata, &layer.settled)
            .map_err(|e| self.error(settlement_batch, hash, e))?;
        let blob_count = fetched.tx.versioned_hashes.len();
        let format = format!(
            "via settlement batch {settlement_batch} ({} {})",
            fetched.tx.version,
            if blob_count > 0 { "blobs" } else { "calldata" }
        );
        // The settlement batch's own checks bind the messages to what its L1 commit bound.
        let layer_checks: Vec<Check> = decoded
            .checks
            .iter()
            .map(|c| Check {
                name: format!("settlement.{}", c.name),
                ..c.clone()
            })
            .collect();
        let carried: Vec<Arc<Carried>> = relayed
            .into_iter()
            .map(|batch| {
                Arc::new(Carried {
                    tx: hash,
                    batch,
                    layer_checks: layer_checks.clone(),
                    blob_count,
                    format: format.clone(),
                })
            })
            .collect();
        self.observe_layer(
            layer,
            (log.block_number, log.log_index),
            settlement_batch,
            pubdata,
            decoded.previous_index_repeated_storage_changes,
            &carried,
        );
        Ok(carried)
    }

    /// Plans a batch that reached L1 inside a settlement batch: applied from the
    /// relayed pubdata and judged by the relayed `StoredBatchInfo` (new root,
    /// next free index), exactly as an L1 commit would be.
    pub(super) fn plan_carried(
        &self,
        store: &Store,
        job: &BatchJob,
        carried: &Carried,
    ) -> Result<Plan, FollowError> {
        let hash = job.log.transaction_hash;
        let relayed = &carried.batch;
        let input = relayed.input();
        let state = ZksyncState::open(store).map_err(|e| self.error(job.batch, hash, e))?;
        let (write, applied, _) = state
            .plan(&input)
            .map_err(|e| self.error(job.batch, hash, e))?;
        let mut checks = carried.layer_checks.clone();
        checks.extend(relayed.checks.iter().cloned());
        checks.push(Check::skipped(
            RELAYED_PUBDATA_HASH,
            "the hash the chain committed for its pubdata is in its L2 DA validator's \
             output, a system log of its commit on the settlement chain (an L2 \
             transaction there); L1 sees it only as keccak(systemLogs) inside \
             auxiliaryOutputHash, whose other inputs (state-diff hash, bootloader \
             heap and events queue hashes) are not on L1 either: it cannot be checked \
             from L1 alone",
        ));
        Ok(Plan {
            write,
            computed_root: format_word(&applied.record.computed_root),
            claimed_root: format_word(&relayed.info.stored.batch_hash),
            checks,
            summary: BatchSummary {
                da_mode: da_mode(carried.blob_count),
                blob_count: carried.blob_count,
                format_version: format!(
                    "{}, {}-field StoredBatchInfo",
                    carried.format,
                    if relayed.info.stored.dependency_roots_rolling_hash.is_some() {
                        9
                    } else {
                        8
                    }
                ),
                l2_blocks: None,
                contracts_touched: 0,
                storage_writes: input.writes.initial.len() + input.writes.repeated.len(),
                classes_declared: 0,
                executed: Some(false),
            },
        })
    }
}

/// What this chain's follower knows of its lifecycle on one settlement chain,
/// as of one settlement batch: the counters read from the settlement chain's
/// state diffs, this chain's executed counter per settlement batch not yet
/// executed on L1, and which settlement batch carried each of this chain's
/// batches that a settlement-chain `BlocksRevert` can still withdraw.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct LayerProgress {
    /// The last settlement batch whose state diffs were read, in order.
    through: Option<u64>,
    tracker: CounterTracker,
    /// Settlement batch -> this chain's `totalBatchesExecuted` after it.
    executed_by: BTreeMap<u64, u64>,
    /// This chain's batch -> the settlement batch that carried it.
    carriers: BTreeMap<u64, u64>,
}

/// A layer's progress in memory: the current one (as far as the scan read)
/// and one per settlement batch read (to persist once the L1 cursor passes
/// its commit, and to roll back to on a settlement-chain revert).
#[derive(Default)]
pub(super) struct LayerMemory {
    /// Whether the progress was read from the store (or is known to be empty).
    loaded: bool,
    current: LayerProgress,
    snapshots: BTreeMap<u64, Snapshot>,
    /// The settlement batch whose snapshot the store holds.
    persisted: Option<u64>,
    /// The last settlement batch executed on L1 (a revert cannot go below it).
    executed_through: Option<u64>,
    /// A settlement-chain revert whose unwind of this chain's batches is not committed yet.
    reverting: bool,
}

/// The progress as of one settlement batch, and where its commit log is.
struct Snapshot {
    /// `(L1 block, log index)` of the settlement batch's commit log; `None`
    /// for the progress read from the store (the cursor passed it before).
    at: Option<(u64, u64)>,
    progress: LayerProgress,
}

/// Snapshots kept per layer at most (a snapshot is dropped once a later one
/// is saved with the cursor and its settlement batch is executed on L1; this
/// bounds memory if that never happens).
const MAX_SNAPSHOTS: usize = 4096;

impl LayerProgress {
    /// Settlement batch `settlement_batch`'s state diffs, read in order; a
    /// batch read before (a log expanded again) changes nothing, a gap loses
    /// the counters' values (their relative writes cannot be followed).
    fn read(
        &mut self,
        settled: &SettledChain,
        settlement_batch: u64,
        pubdata: &crate::rollup::zksync::pubdata::Pubdata,
        previous_index: u64,
        carried: &[Arc<Carried>],
    ) -> bool {
        match self.through {
            Some(t) if settlement_batch <= t => return false,
            Some(t) if settlement_batch != t + 1 => self.tracker.lost(),
            _ => {}
        }
        let counters = self.tracker.read(settled, pubdata, previous_index);
        self.through = Some(settlement_batch);
        if let Some(executed) = counters.executed {
            self.executed_by.insert(settlement_batch, executed);
        }
        for c in carried {
            self.carriers.insert(c.batch.batch_number, settlement_batch);
        }
        true
    }
}

impl ZksyncEngine {
    /// Records what settlement batch `settlement_batch` says of this chain.
    pub(super) fn observe_layer(
        &self,
        layer: &Layer,
        at: (u64, u64),
        settlement_batch: u64,
        pubdata: &crate::rollup::zksync::pubdata::Pubdata,
        previous_index: u64,
        carried: &[Arc<Carried>],
    ) {
        let mut memory = self.progress.lock().expect("not poisoned");
        let memory = memory.entry(layer.diamond).or_default();
        if memory.current.read(
            &layer.settled,
            settlement_batch,
            pubdata,
            previous_index,
            carried,
        ) {
            memory.snapshots.insert(
                settlement_batch,
                Snapshot {
                    at: Some(at),
                    progress: memory.current.clone(),
                },
            );
            while memory.snapshots.len() > MAX_SNAPSHOTS {
                memory.snapshots.pop_first();
            }
        }
    }

    /// The settlement chain executed its batch `settlement_batch` on L1: this
    /// chain's batches its state then recorded as executed are final. Returns
    /// the last of them, when known.
    pub(super) fn layer_executed(&self, layer: &Layer, settlement_batch: u64) -> Option<u64> {
        let mut memory = self.progress.lock().expect("not poisoned");
        let memory = memory.entry(layer.diamond).or_default();
        let progress = &mut memory.current;
        let (&at, &executed) = progress
            .executed_by
            .range(..=settlement_batch)
            .next_back()?;
        // Executed settlement batches can no longer be reverted.
        progress.executed_by.retain(|g, _| *g >= at);
        progress.carriers.retain(|_, g| *g > settlement_batch);
        memory.executed_through = memory.executed_through.max(Some(settlement_batch));
        Some(executed)
    }

    /// The settlement chain withdrew its batches above `keep`: its progress
    /// goes back to that batch and this chain's batches they carried are
    /// withdrawn. Returns the last of this chain's batches to keep, when the
    /// withdrawn ones carried any.
    pub(super) fn layer_reverted(&self, layer: &Layer, keep: u64) -> Option<u64> {
        let mut memory = self.progress.lock().expect("not poisoned");
        let memory = memory.entry(layer.diamond).or_default();
        if memory.current.through.is_none_or(|t| t <= keep) {
            // Nothing read above `keep`, or this revert was handled already.
            return None;
        }
        let first_withdrawn = memory
            .current
            .carriers
            .iter()
            .filter(|(_, g)| **g > keep)
            .map(|(n, _)| *n)
            .min();
        memory.snapshots.retain(|g, _| *g <= keep);
        // A withdrawn batch's progress in the store is written again.
        memory.persisted = memory.persisted.filter(|p| *p <= keep);
        memory.current = match memory.snapshots.get(&keep) {
            Some(snapshot) => snapshot.progress.clone(),
            // Not read in this process: keep what is known of the kept
            // batches; the counters' values are lost.
            None => {
                let mut progress = memory.current.clone();
                progress.through = Some(keep);
                progress.tracker.lost();
                progress.executed_by.retain(|g, _| *g <= keep);
                progress.carriers.retain(|_, g| *g <= keep);
                progress
            }
        };
        let keep_batch = first_withdrawn.map(|n| n.saturating_sub(1));
        memory.reverting = keep_batch.is_some();
        keep_batch
    }

    /// The writes that save each layer's progress as of the last settlement
    /// batch whose commit log `cursor` passes (the scan may have read further:
    /// it runs ahead of the commits), in the write that moves the cursor
    /// there. The batches that settlement batch carried are committed by then
    /// (in this write, or before it). A settlement batch that carried none of
    /// this chain's batches is saved this way too, so a restart never loses
    /// the counters it moved.
    pub(super) fn persist_layers(&self, cursor: &L1Cursor, write: &mut StoreBatch) {
        let mut memory = self.progress.lock().expect("not poisoned");
        for (diamond, memory) in memory.iter_mut() {
            let Some((&settlement_batch, snapshot)) =
                memory.snapshots.iter().rev().find(|(_, s)| {
                    s.at.is_none_or(|(block, index)| cursor.covers(block, index))
                })
            else {
                continue;
            };
            if memory.persisted != Some(settlement_batch) {
                write.put(
                    Column::Meta,
                    layer_key(diamond),
                    serde_json::to_vec(&snapshot.progress).expect("progress serialises"),
                );
                memory.persisted = Some(settlement_batch);
            }
            // Earlier snapshots are needed no more once this one is saved
            // and no revert can reach them.
            let floor = settlement_batch.min(memory.executed_through.unwrap_or(0));
            memory.snapshots.retain(|g, _| *g >= floor);
        }
    }

    /// Reads each layer's progress from the store, for layers this process has not followed yet.
    pub(super) fn restore_layers(&self, store: &Store) -> Result<(), FollowError> {
        let mut memory = self.progress.lock().expect("not poisoned");
        for layer in &self.layers {
            let memory = memory.entry(layer.diamond).or_default();
            if memory.loaded {
                continue;
            }
            memory.loaded = true;
            // An unreadable record counts as no progress: finality then waits
            // for this chain's own executions on L1 (later, never wrong).
            if let Some(progress) = store
                .get(Column::Meta, &layer_key(&layer.diamond))?
                .and_then(|bytes| serde_json::from_slice::<LayerProgress>(&bytes).ok())
            {
                if let Some(through) = progress.through {
                    memory.snapshots.insert(
                        through,
                        Snapshot {
                            at: None,
                            progress: progress.clone(),
                        },
                    );
                    memory.persisted = Some(through);
                }
                memory.current = progress;
            }
        }
        Ok(())
    }

    /// The layer writes of an unwind: after a settlement-chain revert, the
    /// rolled-back progress; after anything else (an L1 reorg), no progress
    /// (what was read may be gone from L1).
    pub(super) fn unwind_layers(&self, write: &mut StoreBatch) {
        let mut memory = self.progress.lock().expect("not poisoned");
        let reverting = memory.values().any(|m| m.reverting);
        for (diamond, memory) in memory.iter_mut() {
            if reverting {
                if std::mem::take(&mut memory.reverting) {
                    write.put(
                        Column::Meta,
                        layer_key(diamond),
                        serde_json::to_vec(&memory.current).expect("progress serialises"),
                    );
                    memory.persisted = memory.current.through;
                }
            } else {
                memory.current = LayerProgress::default();
                memory.snapshots.clear();
                memory.persisted = None;
                write.delete(Column::Meta, layer_key(diamond));
            }
        }
    }
}

fn layer_key(diamond: &Address) -> Vec<u8> {
    [keys::ZKSYNC_LAYER_PROGRESS_PREFIX, diamond.as_slice()].concat()
}
