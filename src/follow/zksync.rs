//! Following ZKsync Era (and ZK Stack chains): the diamond proxy's
//! `BlockCommit` names each batch and its new state root, the commit
//! transaction carries the pubdata (calldata or blobs), `BlockExecution`
//! makes a batch final and `BlocksRevert` drops committed-but-unexecuted
//! batches, which are unwound like a reorg.

use std::collections::HashMap;

use alloy_primitives::B256;

use super::{
    DaMode, FollowError, FollowOptions, L1BatchRecord, L1Cursor, OnMismatch, SyncReport, chunks,
    cursor_is_canonical, finish_chunk, last_canonical_batch, log_verdict, missing, state_error,
    target_block,
};
use crate::audit::{BatchAudit, Check, Verdict};
use crate::chain::{ChainConfig, RollupKind, ZksyncChain};
use crate::hexfmt::format_word;
use crate::l1::{L1Error, L1Log, L1Source, LogFilter};
use crate::rollup::zksync::calldata::decode_commit;
use crate::rollup::zksync::decode::{BlobStore, DecodedBatch, Status, decode_batches};
use crate::rollup::zksync::events::{
    BLOCK_COMMIT, BLOCK_EXECUTION, BLOCKS_REVERT, BatchEvent, parse_log,
};
use crate::rollup::zksync::genesis;
use crate::rollup::zksync::state::{BatchInput, ZksyncState, read_checkpoint};
use crate::store::{Column, Store, StoreBatch, keys};

/// Follows one ZKsync chain into one store.
pub struct ZksyncFollower<'a, S> {
    pub source: &'a S,
    pub store: &'a Store,
    pub config: &'a ChainConfig,
    pub options: &'a FollowOptions,
    /// Blobs seen so far, by commitment: from v26 a batch may name a blob an
    /// earlier transaction published.
    blobs: BlobStore,
    /// Decoded commit transactions (one transaction commits several batches).
    decoded: HashMap<B256, Vec<DecodedBatch>>,
    /// The commit format of each decoded transaction.
    decoded_version: HashMap<B256, String>,
}

impl<'a, S: L1Source> ZksyncFollower<'a, S> {
    pub fn new(
        source: &'a S,
        store: &'a Store,
        config: &'a ChainConfig,
        options: &'a FollowOptions,
    ) -> Self {
        ZksyncFollower {
            source,
            store,
            config,
            options,
            blobs: BlobStore::default(),
            decoded: HashMap::new(),
            decoded_version: HashMap::new(),
        }
    }

    fn chain(&self) -> Result<&'a ZksyncChain, FollowError> {
        self.config
            .zksync
            .as_ref()
            .ok_or_else(|| FollowError::WrongRollup {
                name: self.config.name.clone(),
                expected: RollupKind::Zksync,
                found: self.config.rollup,
            })
    }

    fn state(&self) -> Result<ZksyncState<'a>, FollowError> {
        ZksyncState::open(self.store).map_err(state_error)
    }

    /// Applies the chain's genesis to a new store (batch 0) and audits it
    /// against the configured genesis root.
    pub fn ensure_genesis(&self) -> Result<(), FollowError> {
        let chain = self.chain()?;
        if read_checkpoint(self.store).map_err(state_error)?.is_none() {
            let path = chain.genesis_file.as_ref().ok_or_else(|| {
                FollowError::State(format!(
                    "{}: [zksync].genesis_file is required",
                    self.config.name
                ))
            })?;
            let leaves =
                genesis::leaves(&genesis::load(path).map_err(state_error)?).map_err(state_error)?;
            ZksyncState::init_genesis(self.store, &leaves, chain.genesis_root)
                .map_err(state_error)?;
        }
        if BatchAudit::read(self.store, 0)?.is_none() {
            let root = self.state()?.checkpoint().root;
            let audit = BatchAudit::judge(
                0,
                chain.genesis_root.as_ref().map(format_word),
                format_word(&root),
                Vec::new(),
            );
            let mut write = StoreBatch::default();
            audit.write(self.store, &mut write)?;
            self.store.commit(write)?;
        }
        Ok(())
    }

    /// Brings the store up to the target L1 block.
    pub async fn sync(&mut self) -> Result<SyncReport, FollowError> {
        let chain = self.chain()?;
        self.ensure_genesis()?;
        let target = target_block(self.source, self.options).await?;
        let mut report = SyncReport {
            target: target.number,
            ..SyncReport::default()
        };
        if let Some(cursor) = L1Cursor::read(self.store)?
            && !cursor_is_canonical(self.source, &cursor).await?
        {
            let last = self.state()?.checkpoint().batch;
            let keep = last_canonical_batch(self.source, self.store, Some(last), 1)
                .await?
                .unwrap_or(0);
            report.unwound += self.unwind(keep, "L1 reorg").await?;
        }
        let from = match L1Cursor::read(self.store)? {
            None => self.config.first_l1_block,
            Some(c) if c.log_index.is_some() => c.block,
            Some(c) => c.block + 1,
        };
        for (lo, hi) in chunks(from, target.number, self.config.log_range) {
            let filter = LogFilter {
                addresses: vec![chain.diamond_proxy],
                topics0: vec![BLOCK_COMMIT, BLOCK_EXECUTION, BLOCKS_REVERT],
                from_block: lo,
                to_block: hi,
            };
            let scan = std::time::Instant::now();
            let logs = self.source.logs(&filter).await?;
            report.stages.scan += scan.elapsed();
            for log in logs {
                if log.removed {
                    continue;
                }
                let cursor = L1Cursor::read(self.store)?;
                if cursor.is_some_and(|c| c.covers(log.block_number, log.log_index)) {
                    continue;
                }
                let event = parse_log(&log.topics, &log.data).map_err(|e| {
                    FollowError::L1(L1Error::Malformed {
                        endpoint: "rpc".into(),
                        detail: format!(
                            "log {} of tx {}: {e}",
                            log.log_index, log.transaction_hash
                        ),
                    })
                })?;
                match event {
                    Some(BatchEvent::Commit {
                        batch, state_root, ..
                    }) => {
                        let verdict = self
                            .apply_commit(&log, batch, state_root, &mut report.stages)
                            .await?;
                        if let Some(verdict) = verdict {
                            report.batches_applied += 1;
                            if verdict == Verdict::Mismatch {
                                report.mismatches += 1;
                                if self.options.on_mismatch == OnMismatch::Halt {
                                    return Err(FollowError::Halted { batch });
                                }
                            }
                        }
                    }
                    Some(BatchEvent::Execution { batch, .. }) => {
                        self.apply_execution(&log, batch)?
                    }
                    Some(BatchEvent::Revert {
                        total_committed, ..
                    }) => {
                        report.unwound += self.unwind(total_committed, "BlocksRevert").await?;
                        self.advance_cursor(&log)?;
                    }
                    None => self.advance_cursor(&log)?,
                }
            }
            // The whole chunk is handled: move the cursor past it.
            finish_chunk(self.source, self.store, hi, &target).await?;
        }
        Ok(report)
    }

    fn advance_cursor(&self, log: &L1Log) -> Result<(), FollowError> {
        let mut write = StoreBatch::default();
        L1Cursor::at_log(log).write(&mut write);
        self.store.commit(write)?;
        Ok(())
    }

    /// Applies the batch a `BlockCommit` names; `None` when it was already applied.
    async fn apply_commit(
        &mut self,
        log: &L1Log,
        batch: u64,
        event_root: B256,
        stages: &mut super::StageTimes,
    ) -> Result<Option<Verdict>, FollowError> {
        let state = self.state()?;
        let current = state.checkpoint().batch;
        let tx_hash = log.transaction_hash;
        let undecodable = |detail: String| FollowError::Undecodable {
            batch,
            tx: tx_hash,
            detail,
        };
        if batch <= current {
            // A recommit without a revert in between cannot happen on a sound
            // chain; an identical root means this log was handled before a crash.
            let record = state.record(batch).map_err(state_error)?;
            if record.as_ref().and_then(|r| r.claimed_root) != Some(event_root) {
                return Err(undecodable(format!(
                    "batch {batch} committed again with root {event_root} without BlocksRevert"
                )));
            }
            self.advance_cursor(log)?;
            return Ok(None);
        }
        if batch != current + 1 {
            return Err(undecodable(format!(
                "batch {batch} committed but the store is at batch {current}"
            )));
        }
        let blob_count = self.decode_transaction(log, stages).await?;
        let apply = std::time::Instant::now();
        let decoded = self
            .decoded
            .get(&tx_hash)
            .and_then(|batches| batches.iter().find(|b| b.batch_number == batch))
            .ok_or_else(|| undecodable("the commit transaction does not carry this batch".into()))?
            .clone();
        let input = BatchInput::from_decoded(&decoded).ok_or_else(|| {
            let failed: Vec<String> = decoded
                .checks
                .iter()
                .filter(|c| c.status == Status::Fail)
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect();
            undecodable(format!("pubdata could not be decoded: {failed:?}"))
        })?;
        let (mut write, applied, _) = state.plan(&input).map_err(|e| undecodable(e.to_string()))?;
        let mut checks: Vec<Check> = decoded
            .checks
            .iter()
            .map(|c| Check {
                name: c.name.clone(),
                passed: c.status != Status::Fail,
                expected: match c.status {
                    Status::Skipped => "skipped".into(),
                    _ => "pass".into(),
                },
                actual: c.detail.clone(),
            })
            .collect();
        checks.push(Check::equal(
            "block_commit.state_root",
            format_word(&event_root),
            format_word(&decoded.new_state_root),
        ));
        let audit = BatchAudit::judge(
            batch,
            Some(format_word(&event_root)),
            format_word(&applied.record.computed_root),
            checks,
        );
        audit.write(self.store, &mut write)?;
        L1BatchRecord {
            batch,
            l1_block_number: log.block_number,
            l1_block_hash: log.block_hash,
            l1_transaction_hash: tx_hash,
            log_index: log.log_index,
            da_mode: if blob_count > 0 {
                DaMode::Blob
            } else {
                DaMode::Calldata
            },
            blob_count,
            format_version: format!(
                "{} {}",
                self.decoded_version
                    .get(&tx_hash)
                    .map_or("", String::as_str),
                if blob_count > 0 { "blobs" } else { "calldata" }
            ),
            l2_blocks: None,
            contracts_touched: 0,
            storage_writes: input.writes.initial.len() + input.writes.repeated.len(),
            classes_declared: 0,
            executed: Some(false),
        }
        .write(&mut write);
        L1Cursor::at_log(log).write(&mut write);
        self.store.commit(write)?;
        stages.apply += apply.elapsed();
        log_verdict(&self.config.name, log, &audit);
        Ok(Some(audit.verdict))
    }

    /// Fetches and decodes a commit transaction once; returns its blob count.
    async fn decode_transaction(
        &mut self,
        log: &L1Log,
        stages: &mut super::StageTimes,
    ) -> Result<usize, FollowError> {
        let fetch = std::time::Instant::now();
        let tx_hash = log.transaction_hash;
        let tx = self
            .source
            .transaction(tx_hash)
            .await?
            .ok_or_else(|| missing(format!("transaction {tx_hash}")))?;
        if !self.decoded.contains_key(&tx_hash) {
            if !tx.blob_versioned_hashes.is_empty() {
                let block = self
                    .source
                    .block_by_hash(log.block_hash)
                    .await?
                    .ok_or_else(|| missing(format!("block {}", log.block_hash)))?;
                let blobs = self.source.blobs(&block, &tx.blob_versioned_hashes).await?;
                // The source checked each blob against its versioned hash already.
                for (hash, blob) in tx.blob_versioned_hashes.iter().zip(blobs) {
                    self.blobs.add_checked(*hash, blob);
                }
            }
            stages.fetch += fetch.elapsed();
            let decode = std::time::Instant::now();
            let call = decode_commit(&tx.input).map_err(|e| FollowError::Undecodable {
                batch: 0,
                tx: tx_hash,
                detail: e.to_string(),
            })?;
            self.decoded_version
                .insert(tx_hash, format!("{:?}", call.version));
            let hashes = (!tx.blob_versioned_hashes.is_empty())
                .then_some(tx.blob_versioned_hashes.as_slice());
            let batches = decode_batches(&call, &mut self.blobs, hashes);
            // Keep only a bounded number of decoded transactions around.
            if self.decoded.len() > 64 {
                self.decoded.clear();
                self.decoded_version.clear();
            }
            self.decoded.insert(tx_hash, batches);
            stages.decode += decode.elapsed();
        }
        Ok(tx.blob_versioned_hashes.len())
    }

    /// `BlockExecution`: the batch (and all before it) can no longer be reverted.
    fn apply_execution(&self, log: &L1Log, batch: u64) -> Result<(), FollowError> {
        let mut state = self.state()?;
        let before = state.checkpoint().last_executed;
        state.mark_executed(batch).map_err(state_error)?;
        let after = state.checkpoint().last_executed;
        let mut write = StoreBatch::default();
        for n in before + 1..=after {
            if let Some(mut record) = L1BatchRecord::read(self.store, n)? {
                record.executed = Some(true);
                record.write(&mut write);
            }
        }
        L1Cursor::at_log(log).write(&mut write);
        self.store.commit(write)?;
        Ok(())
    }

    /// Unwinds every batch above `target`; returns how many were dropped.
    async fn unwind(&self, target: u64, why: &str) -> Result<u64, FollowError> {
        let mut state = self.state()?;
        let current = state.checkpoint().batch;
        // `target` comes from an L1 event: a revert above the head drops
        // nothing (and must not overflow `target + 1` below).
        if target > current {
            return Ok(0);
        }
        // Audits and L1 records above the target may outlive a crash between the
        // state unwind and this cleanup; they are found by scanning, not by `current`.
        let stale_end = self
            .store
            .scan_from(Column::Audits, &keys::batch(target + 1), usize::MAX)?
            .last()
            .and_then(|(k, _)| k.as_slice().try_into().ok().map(u64::from_be_bytes))
            .map_or(current + 1, |last| (last + 1).max(current + 1));
        state.unwind(target).map_err(state_error)?;
        let mut write = StoreBatch::default();
        BatchAudit::unwind(self.store, Some(target), stale_end, &mut write)?;
        for n in target + 1..stale_end {
            write.delete(Column::Meta, keys::l1_batch(n));
        }
        if why == "L1 reorg" {
            match L1BatchRecord::read(self.store, target)? {
                Some(r) => L1Cursor::at_record(&r).write(&mut write),
                None => write.delete(Column::Meta, keys::L1_CURSOR),
            }
        }
        self.store.commit(write)?;
        let dropped = current.saturating_sub(target);
        if dropped > 0 {
            tracing::warn!(chain = %self.config.name, target, dropped, "{why}: unwound ZKsync batches");
        }
        Ok(dropped)
    }
}
