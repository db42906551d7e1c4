//! The apply stage's one writer: each batch, unwind and finality mark
//! becomes exactly one atomic store commit with the L1 cursor.

use std::sync::Arc;

use super::engine::{BatchJob, Plan, RollupEngine};
use super::{FollowError, L1BatchRecord, L1Cursor};
use crate::audit::{BatchAudit, HaltRecord, Verdict};
use crate::l1::{L1Block, L1Log};
use crate::store::{Column, Store, StoreBatch, keys};

/// What the blocking apply work needs (owned, so it can leave the async task).
pub(super) struct Committer<E> {
    pub(super) engine: Arc<E>,
    pub(super) store: Arc<Store>,
    pub(super) accept_partial: bool,
    pub(super) chain: String,
}

impl<E: RollupEngine> Committer<E> {
    /// Plans the batch, judges it and commits state, audit, L1 record and cursor in one write.
    /// Evidence against the sequencer found while planning is committed as a
    /// MISMATCH audit naming it (with the halt record) before the error returns.
    pub(super) fn commit_batch(
        &self,
        job: &BatchJob,
        decoded: E::Decoded,
    ) -> Result<BatchAudit, FollowError> {
        let plan = match self.engine.plan(&self.store, job, decoded) {
            Ok(plan) => plan,
            Err(error) => {
                if let Some(check) = error.sequencer_evidence() {
                    let claimed = crate::hexfmt::format_word(&job.claimed_root);
                    let audit = BatchAudit::evidence(job.batch, claimed, check, error.to_string());
                    let mut write = StoreBatch::default();
                    audit.write(&self.store, self.accept_partial, &mut write)?;
                    halt_record(&error, Some(&job.log)).write(&mut write);
                    self.store.commit(write)?;
                    log_verdict(&self.chain, &job.log, &audit);
                }
                return Err(error);
            }
        };
        let Plan {
            mut write,
            computed_root,
            claimed_root,
            checks,
            summary,
        } = plan;
        let audit = BatchAudit::judge(job.batch, Some(claimed_root), computed_root, checks);
        if self.engine.final_on_commit() {
            audit.write(&self.store, self.accept_partial, &mut write)?;
        } else {
            audit.write_unfinal(&self.store, self.accept_partial, &mut write)?;
        }
        let log = &job.log;
        L1BatchRecord {
            batch: job.batch,
            l1_block_number: log.block_number,
            l1_block_hash: log.block_hash,
            l1_transaction_hash: log.transaction_hash,
            log_index: log.log_index,
            summary,
        }
        .write(&mut write);
        self.move_cursor(L1Cursor::at_log(log), &mut write)?;
        HaltRecord::clear(&mut write);
        self.store.commit(write)?;
        log_verdict(&self.chain, log, &audit);
        Ok(audit)
    }

    /// Records batches up to `batch` as proven: the engine's writes and the cursor.
    pub(super) fn commit_proven(&self, log: &L1Log, batch: u64) -> Result<(), FollowError> {
        let mut write = self.engine.prove(&self.store, batch)?;
        self.move_cursor(L1Cursor::at_log(log), &mut write)?;
        self.store.commit(write)?;
        Ok(())
    }

    /// Marks batches up to `batch` final: the engine's writes, their L1
    /// records, the verified pointer (for engines whose batches become final
    /// only now) and the cursor.
    pub(super) fn commit_finalized(&self, log: &L1Log, batch: u64) -> Result<(), FollowError> {
        let mut write = self.engine.finalize(&self.store, batch)?;
        let last = self.engine.checkpoint(&self.store)?.last_batch;
        if !self.engine.final_on_commit()
            && let Some(last) = last
        {
            BatchAudit::advance_final(&self.store, last.min(batch), &mut write)?;
        }
        let mut n = last.map_or(0, |l| l.min(batch));
        while let Some(mut record) = L1BatchRecord::read(&self.store, n)? {
            if record.summary.executed != Some(false) {
                break;
            }
            record.summary.executed = Some(true);
            record.write(&mut write);
            match n.checked_sub(1) {
                Some(previous) => n = previous,
                None => break,
            }
        }
        self.move_cursor(L1Cursor::at_log(log), &mut write)?;
        self.store.commit(write)?;
        Ok(())
    }

    /// Moves the cursor past every log of `block` (the end of a scanned chunk).
    pub(super) fn commit_chunk_end(&self, block: &L1Block) -> Result<(), FollowError> {
        let mut write = StoreBatch::default();
        self.move_cursor(L1Cursor::after_block(block), &mut write)?;
        self.store.commit(write)?;
        Ok(())
    }

    /// Writes the cursor, with what the engine must save as the cursor passes logs.
    fn move_cursor(&self, cursor: L1Cursor, write: &mut StoreBatch) -> Result<(), FollowError> {
        self.engine.cursor_moved(&cursor, write)?;
        cursor.write(write);
        Ok(())
    }

    /// Removes every batch above `keep` — state, audits, L1 records — and
    /// sets the cursor (`None`: removed), in one commit; returns how many went.
    pub(super) fn commit_unwind(
        &self,
        keep: Option<u64>,
        cursor: Option<L1Cursor>,
        why: &str,
    ) -> Result<u64, FollowError> {
        let last = self.engine.checkpoint(&self.store)?.last_batch;
        let first_undone = keep.map_or(0, |k| k + 1);
        let unwound = last.map_or(0, |l| (l + 1).saturating_sub(first_undone));
        let mut write = if unwound > 0 {
            self.engine.unwind(&self.store, keep)?
        } else {
            StoreBatch::default()
        };
        BatchAudit::unwind(&self.store, keep, &mut write)?;
        // L1 records above `keep`, found by scanning (some may belong to
        // batches whose state a crash already removed).
        let mut start = keys::l1_batch(first_undone);
        loop {
            let chunk = self.store.scan_from(Column::Meta, &start, 256)?;
            let full = chunk.len() == 256;
            let mut records = chunk
                .into_iter()
                .take_while(|(k, _)| k.starts_with(keys::L1_BATCH_PREFIX))
                .peekable();
            if records.peek().is_none() {
                break;
            }
            for (key, _) in records {
                // The successor of a fixed-width key.
                start = [key.as_slice(), &[0]].concat();
                write.delete(Column::Meta, key);
            }
            if !full {
                break;
            }
        }
        match &cursor {
            Some(c) => c.write(&mut write),
            None => write.delete(Column::Meta, keys::L1_CURSOR),
        }
        self.store.commit(write)?;
        if unwound > 0 {
            tracing::warn!(chain = %self.chain, unwound, kept = ?keep, "{why}: unwound batches");
        }
        Ok(unwound)
    }
}

/// Logs a batch's verdict: loudly when it is a finding.
fn log_verdict(chain: &str, log: &L1Log, audit: &BatchAudit) {
    match audit.verdict {
        Verdict::Mismatch => tracing::error!(
            chain, batch = audit.batch, l1_block = log.block_number, tx = %log.transaction_hash,
            claimed = ?audit.claimed_root, computed = %audit.computed_root,
            failed = ?audit.failed_checks(),
            "FINDING: batch does not match what L1 accepted"
        ),
        Verdict::Partial => tracing::warn!(
            chain, batch = audit.batch, l1_block = log.block_number,
            skipped = ?audit.skipped_checks(),
            "batch root matches, but some binding checks could not run (PARTIAL)"
        ),
        _ => tracing::info!(
            chain, batch = audit.batch, l1_block = log.block_number,
            root = %audit.computed_root, "batch applied"
        ),
    }
}

/// The halt record of an error, with the L1 log of its batch when known.
pub(super) fn halt_record(error: &FollowError, log: Option<&L1Log>) -> HaltRecord {
    let tx = match error {
        FollowError::Starknet { tx, .. }
        | FollowError::Zksync { tx, .. }
        | FollowError::Da { tx, .. }
        | FollowError::OutOfSequence { tx, .. } => Some(*tx),
        _ => log.map(|l| l.transaction_hash),
    };
    HaltRecord {
        batch: error.batch(),
        l1_block: log.map(|l| l.block_number),
        l1_transaction: tx,
        reason: error.to_string(),
    }
}
