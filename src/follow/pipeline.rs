//! The one generic follower: scans L1 for an engine's events, fetches and
//! decodes batches ahead of apply on bounded queues, and applies, audits and
//! commits them strictly in order — each batch, each unwind, each finality
//! mark and each chunk end exactly one atomic store commit with the L1 cursor.
//!
//! ```text
//!  scan ──queue──► fetch ──queue──► decode ──queue──► apply + commit
//!  (logs)         (async L1)       (blocking thread)  (blocking thread, in order)
//! ```
//!
//! Each queue holds at most [`FollowOptions::pipeline_depth`] items, so the
//! memory in flight is bounded by the depth, not the chain length; the fetch
//! stage keeps up to that many fetches running at once (L1 latency, not
//! bandwidth, is what a follower waits for), delivering them in order. A pass
//! is cut into segments at every reorg and every revert: the segment's queues
//! are drained up to the revert, the unwind is committed, and a fresh segment
//! starts from the committed cursor, so nothing fetched before an unwind is
//! applied after it.
//!
//! Crash safety does not depend on the pipeline: only the apply stage writes,
//! one commit per item, in L1 order; what is in flight when the process dies
//! is simply fetched again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use tokio::sync::mpsc;

use super::commit::{Committer, halt_record};
use super::engine::{BatchJob, L1Event, RollupEngine};
use super::{
    FollowError, FollowOptions, L1BatchRecord, L1Cursor, OnMismatch, StageTimes, SyncReport,
    chunks, cursor_is_canonical, last_canonical_batch, missing, target_block,
};
use crate::audit::{BatchAudit, Verdict};
use crate::chain::ChainConfig;
use crate::l1::{L1Block, L1Log, L1Source, LogFilter};
use crate::store::{Store, StoreBatch};

/// The generic follower of one chain.
pub struct Follower<'a, E, S> {
    engine: Arc<E>,
    source: &'a S,
    store: Arc<Store>,
    chain: &'a str,
    first_l1_block: u64,
    log_range: u64,
    options: &'a FollowOptions,
}

/// What flows through the stages, in L1 order; `P` is the batch payload of a stage.
enum Item<P> {
    Batch(Arc<BatchJob>, P),
    Mark(Mark),
}

/// Items that pass fetch and decode untouched and are committed by apply.
enum Mark {
    /// Batches up to this one are proven.
    Proven(L1Log, u64),
    /// Batches up to this one are final.
    Finalized(L1Log, u64),
    /// Batches above this one were withdrawn; ends the segment.
    Revert(L1Log, u64),
    /// Every log up to this block is handled.
    ChunkEnd(L1Block),
}

/// How a segment ended.
enum SegmentEnd {
    /// Scanned up to the target.
    Done,
    /// A revert was committed; scan again from the cursor.
    Reverted,
}

impl<'a, E: RollupEngine, S: L1Source> Follower<'a, E, S> {
    /// A follower of `config`'s chain through `engine`, reading L1 from
    /// `source` and committing to `store`.
    pub fn new(
        engine: Arc<E>,
        source: &'a S,
        store: Arc<Store>,
        config: &'a ChainConfig,
        options: &'a FollowOptions,
    ) -> Self {
        Follower {
            engine,
            source,
            store,
            chain: &config.name,
            first_l1_block: config.first_l1_block,
            log_range: config.log_range,
            options,
        }
    }

    /// Brings the store up to the target L1 block: unwinds what a reorg
    /// removed, then applies every batch event in order. On an error that
    /// is not transient, records why the follower halted before returning it.
    pub async fn sync(&self) -> Result<SyncReport, FollowError> {
        let started = Instant::now();
        let mut report = SyncReport::default();
        let result = self.sync_into(&mut report).await;
        report.stages.wall += started.elapsed();
        match result {
            Ok(()) => Ok(report),
            Err(error) => {
                // Sequencer evidence was recorded with its audit where it was found.
                let recorded = error.sequencer_evidence().is_some();
                if !error.is_transient() && !recorded && !matches!(error, FollowError::Store(_)) {
                    self.record_halt(&error)?;
                }
                Err(error)
            }
        }
    }

    async fn sync_into(&self, report: &mut SyncReport) -> Result<(), FollowError> {
        self.init(report)?;
        let (head, target) = target_block(self.source, self.options).await?;
        report.l1_head = head.number;
        report.target = target.number;
        loop {
            if let Some(cursor) = L1Cursor::read(&self.store)?
                && !cursor_is_canonical(self.source, &cursor).await?
            {
                report.unwound += self.unwind_reorged().await?;
            }
            match self.segment(&target, report).await? {
                SegmentEnd::Done => return Ok(()),
                SegmentEnd::Reverted => continue,
            }
        }
    }

    /// Commits the engine's initial writes (e.g. a ZKsync genesis) with their audit.
    fn init(&self, report: &mut SyncReport) -> Result<(), FollowError> {
        let Some(init) = self.engine.init(&self.store)? else {
            return Ok(());
        };
        let mut write = init.write;
        let audit = BatchAudit::judge(init.batch, init.claimed_root, init.computed_root, vec![]);
        audit.write(&self.store, self.options.accept_partial, &mut write)?;
        self.store.commit(write)?;
        report.verdicts.add(audit.verdict, audit.batch);
        self.judge(&audit)
    }

    /// Runs scan, fetch, decode and apply over the logs from the cursor to
    /// `target`, until the target or a revert.
    async fn segment(
        &self,
        target: &L1Block,
        report: &mut SyncReport,
    ) -> Result<SegmentEnd, FollowError> {
        let depth = self.options.pipeline_depth.max(1);
        let (scan_tx, scan_rx) = mpsc::channel(depth);
        let mut scan_time = Duration::ZERO;
        let scan = self.scan(target, scan_tx, &mut scan_time);
        let mut times = StageTimes::default();
        let result = if self.options.pipeline_depth == 0 {
            // One batch at a time: fetch, decode and apply before the next fetch.
            let inline = self.sequential(scan_rx, report, &mut times);
            let (scanned, applied) = tokio::join!(scan, inline);
            applied.and_then(|end| scanned.map(|_| end))
        } else {
            let (fetch_tx, fetch_rx) = mpsc::channel(depth);
            let (decode_tx, decode_rx) = mpsc::channel(depth);
            let mut fetch_time = Duration::ZERO;
            let mut decode_time = Duration::ZERO;
            // Fetches wait on L1 round trips: a whole window of them runs at
            // once. Decodes are CPU work on blocking threads: one per core.
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let fetch = ordered_stage(scan_rx, fetch_tx, depth, &mut fetch_time, |item| {
                self.fetch_item(item)
            });
            let decode = ordered_stage(
                fetch_rx,
                decode_tx,
                depth.min(cores),
                &mut decode_time,
                |item| self.decode_item(item),
            );
            let apply = self.apply_stage(decode_rx, report, &mut times.apply);
            let (scanned, fetched, decoded, applied) = tokio::join!(scan, fetch, decode, apply);
            times.fetch += fetch_time;
            times.decode += decode_time;
            // The most downstream error is the one that stopped the others.
            applied.and_then(|end| decoded.and(fetched).and(scanned).map(|_| end))
        };
        times.scan += scan_time;
        report.stages.add(&times);
        result
    }

    /// Scans the logs from the cursor to `target` and sends their items in
    /// order; stops after a revert (the segment ends there).
    async fn scan(
        &self,
        target: &L1Block,
        out: mpsc::Sender<Item<()>>,
        time: &mut Duration,
    ) -> Result<(), FollowError> {
        let cursor = L1Cursor::read(&self.store)?;
        let from = match &cursor {
            None => self.first_l1_block,
            Some(c) if c.log_index.is_some() => c.block,
            Some(c) => c.block + 1,
        };
        let last = self.engine.checkpoint(&self.store)?.last_batch;
        let mut next_batch = last.map_or(0, |b| b + 1);
        let mut previous = match last {
            Some(b) => {
                L1BatchRecord::read(&self.store, b)?.map(|r| (r.l1_block_number, r.log_index))
            }
            None => None,
        };
        let events = self.engine.events();
        for (lo, hi) in chunks(from, target.number, self.log_range) {
            let started = Instant::now();
            let filter = LogFilter {
                addresses: events.addresses.clone(),
                topics0: events.topics0.clone(),
                from_block: lo,
                to_block: hi,
            };
            let logs = self.source.logs(&filter).await?;
            *time += started.elapsed();
            for log in logs {
                let handled = cursor
                    .as_ref()
                    .is_some_and(|c| c.covers(log.block_number, log.log_index));
                // The cursor stops at a log after each batch it commits; a log
                // standing for several batches is expanded again (the ones
                // already committed are recognised and skipped).
                let at_cursor = cursor.as_ref().is_some_and(|c| {
                    c.block == log.block_number && c.log_index == Some(log.log_index)
                });
                if log.removed || (handled && !at_cursor) {
                    continue;
                }
                let events = match self.engine.classify(&log)? {
                    L1Event::Expand => {
                        let started = Instant::now();
                        let events = self.engine.expand(self.source, &log).await?;
                        *time += started.elapsed();
                        events
                    }
                    _ if handled => continue,
                    event => vec![event],
                };
                for event in events {
                    let item = match event {
                        L1Event::Commit {
                            batch,
                            claimed_root,
                        } => {
                            let batch = batch.unwrap_or(next_batch);
                            if batch < next_batch && self.already_applied(batch, &claimed_root)? {
                                continue;
                            }
                            if batch != next_batch {
                                return Err(FollowError::OutOfSequence {
                                    tx: log.transaction_hash,
                                    expected: next_batch,
                                    found: batch,
                                });
                            }
                            next_batch += 1;
                            let position = (log.block_number, log.log_index);
                            let job = BatchJob {
                                batch,
                                claimed_root,
                                log: log.clone(),
                                previous: previous.replace(position),
                            };
                            Item::Batch(Arc::new(job), ())
                        }
                        L1Event::Proven { batch } => Item::Mark(Mark::Proven(log.clone(), batch)),
                        L1Event::Finalized { batch } => {
                            Item::Mark(Mark::Finalized(log.clone(), batch))
                        }
                        L1Event::Revert { keep } => {
                            let _ = out.send(Item::Mark(Mark::Revert(log.clone(), keep))).await;
                            return Ok(());
                        }
                        // An expansion names batches and marks, never another expansion.
                        L1Event::Ignore | L1Event::Expand => continue,
                    };
                    if out.send(item).await.is_err() {
                        return Ok(());
                    }
                }
            }
            let end = if hi == target.number {
                target.clone()
            } else {
                self.source
                    .block_by_number(hi)
                    .await?
                    .ok_or_else(|| missing(format!("block {hi}")))?
            };
            if out.send(Item::Mark(Mark::ChunkEnd(end))).await.is_err() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// A commit of a batch the store already holds: harmless when L1 names
    /// the same root again (the log was handled before the cursor moved past
    /// it), a sequencing error otherwise.
    fn already_applied(
        &self,
        batch: u64,
        claimed: &alloy_primitives::B256,
    ) -> Result<bool, FollowError> {
        let recorded = BatchAudit::read(&self.store, batch)?.and_then(|a| a.claimed_root);
        Ok(recorded.as_deref() == Some(crate::hexfmt::format_word(claimed).as_str()))
    }

    /// Fetches one item's batch (marks pass through), with the time it took.
    async fn fetch_item(
        &self,
        item: Item<()>,
    ) -> Result<(Item<E::Fetched>, Duration), FollowError> {
        let started = Instant::now();
        Ok(match item {
            Item::Batch(job, ()) => {
                let fetched = self.engine.fetch(self.source, &job).await?;
                tracing::debug!(chain = self.chain, batch = job.batch, "batch fetched");
                (Item::Batch(job, fetched), started.elapsed())
            }
            Item::Mark(mark) => (Item::Mark(mark), Duration::ZERO),
        })
    }

    /// Decodes one item's batch (marks pass through), with the time it took.
    async fn decode_item(
        &self,
        item: Item<E::Fetched>,
    ) -> Result<(Item<E::Decoded>, Duration), FollowError> {
        let started = Instant::now();
        Ok(match item {
            Item::Batch(job, fetched) => {
                let decoded = self.decode(&job, fetched).await?;
                (Item::Batch(job, decoded), started.elapsed())
            }
            Item::Mark(mark) => (Item::Mark(mark), Duration::ZERO),
        })
    }

    async fn apply_stage(
        &self,
        mut input: mpsc::Receiver<Item<E::Decoded>>,
        report: &mut SyncReport,
        time: &mut Duration,
    ) -> Result<SegmentEnd, FollowError> {
        while let Some(item) = input.recv().await {
            let started = Instant::now();
            let end = self.apply_item(item, report).await;
            *time += started.elapsed();
            if let Some(end) = end? {
                return Ok(end);
            }
        }
        Ok(SegmentEnd::Done)
    }

    /// Depth 0: every item goes through fetch, decode and apply before the next.
    async fn sequential(
        &self,
        mut input: mpsc::Receiver<Item<()>>,
        report: &mut SyncReport,
        times: &mut StageTimes,
    ) -> Result<SegmentEnd, FollowError> {
        while let Some(item) = input.recv().await {
            let (item, took) = self.fetch_item(item).await?;
            times.fetch += took;
            let (item, took) = self.decode_item(item).await?;
            times.decode += took;
            let started = Instant::now();
            let end = self.apply_item(item, report).await;
            times.apply += started.elapsed();
            if let Some(end) = end? {
                return Ok(end);
            }
        }
        Ok(SegmentEnd::Done)
    }

    /// Decodes on a blocking thread (CPU work must not stall the fetches).
    async fn decode(
        &self,
        job: &Arc<BatchJob>,
        fetched: E::Fetched,
    ) -> Result<E::Decoded, FollowError> {
        let engine = self.engine.clone();
        let job = job.clone();
        tokio::task::spawn_blocking(move || engine.decode(&job, fetched))
            .await
            .map_err(|e| FollowError::Stage(e.to_string()))?
    }

    /// Applies one item with one commit; `Some` when it ends the segment.
    async fn apply_item(
        &self,
        item: Item<E::Decoded>,
        report: &mut SyncReport,
    ) -> Result<Option<SegmentEnd>, FollowError> {
        match item {
            Item::Batch(job, decoded) => {
                let audit = self
                    .blocking(move |f| f.commit_batch(&job, decoded))
                    .await?;
                report.batches_applied += 1;
                report.verdicts.add(audit.verdict, audit.batch);
                self.judge(&audit)?;
            }
            Item::Mark(Mark::Proven(log, batch)) => {
                self.blocking(move |f| f.commit_proven(&log, batch)).await?;
            }
            Item::Mark(Mark::Finalized(log, batch)) => {
                self.blocking(move |f| f.commit_finalized(&log, batch))
                    .await?;
            }
            Item::Mark(Mark::Revert(log, keep)) => {
                let unwound = self
                    .blocking(move |f| {
                        f.commit_unwind(Some(keep), Some(L1Cursor::at_log(&log)), "BlocksRevert")
                    })
                    .await?;
                report.unwound += unwound;
                return Ok(Some(SegmentEnd::Reverted));
            }
            Item::Mark(Mark::ChunkEnd(block)) => {
                self.blocking(move |f| f.commit_chunk_end(&block)).await?;
            }
        }
        Ok(None)
    }

    /// Runs store work on a blocking thread so the async stages keep going.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Committer<E>) -> Result<T, FollowError> + Send + 'static,
    ) -> Result<T, FollowError> {
        let committer = Committer {
            engine: self.engine.clone(),
            store: self.store.clone(),
            accept_partial: self.options.accept_partial,
            chain: self.chain.to_owned(),
        };
        tokio::task::spawn_blocking(move || work(&committer))
            .await
            .map_err(|e| FollowError::Stage(e.to_string()))?
    }

    /// Stops on a finding when told to.
    fn judge(&self, audit: &BatchAudit) -> Result<(), FollowError> {
        if audit.verdict == Verdict::Mismatch && self.options.on_mismatch == OnMismatch::Halt {
            return Err(FollowError::Halted {
                batch: audit.batch,
                verdict: audit.verdict,
            });
        }
        Ok(())
    }

    /// Unwinds every batch whose L1 block left the canonical chain, in one
    /// commit, and puts the cursor back to the last batch that stayed.
    async fn unwind_reorged(&self) -> Result<u64, FollowError> {
        let last = self.engine.checkpoint(&self.store)?.last_batch;
        let first = self.engine.first_unwindable();
        let keep = last_canonical_batch(self.source, &self.store, last, first)
            .await?
            .or(first.checked_sub(1));
        let cursor = match keep {
            Some(k) => L1BatchRecord::read(&self.store, k)?.map(|r| L1Cursor::at_record(&r)),
            None => None,
        };
        self.blocking(move |f| f.commit_unwind(keep, cursor, "L1 reorg"))
            .await
    }

    /// Records why the follower stopped, so `status` reports it after the
    /// process is gone (cleared by the next batch committed).
    fn record_halt(&self, error: &FollowError) -> Result<(), FollowError> {
        let mut write = StoreBatch::default();
        halt_record(error, None).write(&mut write);
        self.store.commit(write)?;
        tracing::error!(chain = self.chain, %error, "follower halted; recorded in the store");
        Ok(())
    }
}

/// Runs `work` on up to `width` items at once and passes the results on in
/// input order, adding each item's own duration to `time`.
async fn ordered_stage<I, O, W, F>(
    mut input: mpsc::Receiver<I>,
    out: mpsc::Sender<O>,
    width: usize,
    time: &mut Duration,
    work: W,
) -> Result<(), FollowError>
where
    W: Fn(I) -> F,
    F: Future<Output = Result<(O, Duration), FollowError>>,
{
    let mut running = FuturesOrdered::new();
    let mut open = true;
    loop {
        tokio::select! {
            // Keep the window full while the input lasts.
            item = input.recv(), if open && running.len() < width => match item {
                Some(item) => running.push_back(work(item)),
                None => open = false,
            },
            Some(done) = running.next(), if !running.is_empty() => {
                let (item, took) = done?;
                *time += took;
                if out.send(item).await.is_err() {
                    return Ok(());
                }
            }
            else => return Ok(()),
        }
    }
}
