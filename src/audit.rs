//! Per-batch audit verdicts: the root the rollup claimed on L1 against the root
//! zkreplay computed, plus every data-availability check of the decoders.
//!
//! A mismatch is a finding, never a crash: it is recorded with the expected and
//! actual values in the same atomic commit as the batch it judges.

use serde::{Deserialize, Serialize};

use crate::store::{Column, Store, StoreBatch, StoreError, keys};

/// The outcome of a batch's audit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// Computed root equals the claimed root, and every check ran and passed.
    Match,
    /// The roots match and nothing failed, but some binding check could not
    /// run (its evidence was missing); the skipped checks are named in `checks`.
    /// The verified pointer passes it only when the user opts in.
    Partial,
    /// The roots differ, a check failed, or applying the batch proved the
    /// sequencer's data inconsistent.
    Mismatch,
    /// No claimed root is known yet (e.g. a ZKsync batch committed but not executed).
    Pending,
}

impl Verdict {
    /// Every verdict, in the order reports list them.
    pub const ALL: [Verdict; 4] = [
        Verdict::Match,
        Verdict::Partial,
        Verdict::Mismatch,
        Verdict::Pending,
    ];

    /// `MATCH`, `PARTIAL`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Match => "MATCH",
            Verdict::Partial => "PARTIAL",
            Verdict::Mismatch => "MISMATCH",
            Verdict::Pending => "PENDING",
        }
    }
}

/// One named check with what was expected (from L1) and what was found. Both
/// decoders and the follower emit this one type.
///
/// `passed` and `skipped` are never both true: a skipped check did not run
/// (its evidence was missing), so it neither passed nor failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Check name as reported in audits and the API (e.g. `state_root`, `blob[0].linear_hash`).
    pub name: String,
    /// The check ran and `expected` matched `actual`.
    pub passed: bool,
    /// The check could not run; `actual` says why.
    #[serde(default)]
    pub skipped: bool,
    /// Value bound on L1 (or `pass` for a caller-decided outcome).
    pub expected: String,
    /// Value zkreplay found, or why the check failed or could not run.
    pub actual: String,
}

impl Check {
    /// A check that passes when `expected == actual`.
    pub fn equal(name: impl Into<String>, expected: impl ToString, actual: impl ToString) -> Self {
        let (expected, actual) = (expected.to_string(), actual.to_string());
        Check {
            name: name.into(),
            passed: expected == actual,
            skipped: false,
            expected,
            actual,
        }
    }

    /// A check whose outcome was decided by the caller; `detail` says what was compared.
    pub fn outcome(name: impl Into<String>, passed: bool, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            passed,
            skipped: false,
            expected: "pass".into(),
            actual: detail.into(),
        }
    }

    /// A check that could not run; `why` names the missing evidence.
    pub fn skipped(name: impl Into<String>, why: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            passed: false,
            skipped: true,
            expected: "pass".into(),
            actual: why.into(),
        }
    }

    /// Ran and did not pass.
    pub fn failed(&self) -> bool {
        !self.passed && !self.skipped
    }
}

/// A Starknet binding finding is a check like any other.
impl From<crate::rollup::starknet::da::Finding> for Check {
    fn from(f: crate::rollup::starknet::da::Finding) -> Self {
        Check {
            name: f.check,
            passed: f.passed,
            skipped: false,
            expected: f.expected,
            actual: f.actual,
        }
    }
}

/// The audit record of one batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAudit {
    /// Batch this audit judges (ZKsync L1 batch number; Starknet state-update index).
    pub batch: u64,
    /// Root accepted on L1 (0x-hex), when known.
    pub claimed_root: Option<String>,
    /// Root zkreplay computed (0x-hex); empty when the batch could not be
    /// applied (the sequencer's data contradicted the state, see `checks`).
    pub computed_root: String,
    /// Outcome over the root check and every decoder check.
    pub verdict: Verdict,
    /// Every check judged, the root check first.
    pub checks: Vec<Check>,
}

impl BatchAudit {
    /// Judges a batch: the root check first, then the decoders' checks.
    /// MATCH needs every check to have run and passed; a skipped check with
    /// nothing failed is PARTIAL.
    pub fn judge(
        batch: u64,
        claimed_root: Option<String>,
        computed_root: String,
        mut checks: Vec<Check>,
    ) -> Self {
        let verdict = match &claimed_root {
            None => Verdict::Pending,
            Some(claimed) => {
                checks.insert(0, Check::equal("state_root", claimed, &computed_root));
                if checks.iter().any(Check::failed) {
                    Verdict::Mismatch
                } else if checks.iter().any(|c| c.skipped) {
                    Verdict::Partial
                } else {
                    Verdict::Match
                }
            }
        };
        BatchAudit {
            batch,
            claimed_root,
            computed_root,
            verdict,
            checks,
        }
    }

    /// A batch that could not be applied because its data contradicts the
    /// state (evidence against the sequencer): a MISMATCH naming the reason.
    pub fn evidence(batch: u64, claimed_root: String, check: &str, reason: String) -> Self {
        BatchAudit {
            batch,
            claimed_root: Some(claimed_root),
            computed_root: String::new(),
            verdict: Verdict::Mismatch,
            checks: vec![Check::outcome(check, false, reason)],
        }
    }

    /// Names of the checks that did not run.
    pub fn skipped_checks(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| c.skipped)
            .map(|c| c.name.as_str())
            .collect()
    }

    /// Names of the checks that ran and failed.
    pub fn failed_checks(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| c.failed())
            .map(|c| c.name.as_str())
            .collect()
    }

    /// Whether this verdict lets the verified pointer pass the batch.
    pub fn verifies(&self, accept_partial: bool) -> bool {
        self.verdict == Verdict::Match || (accept_partial && self.verdict == Verdict::Partial)
    }

    /// Adds this audit, and the verified pointer it moves, to the batch's atomic commit.
    ///
    /// The verified pointer is the last batch of an unbroken run of verifying
    /// batches from the start (MATCH, or PARTIAL with `accept_partial`): the
    /// first batch that does not verify holds it (a finding needs a human; a
    /// pending batch waits to be judged).
    ///
    /// For a batch that is final once committed (Starknet's state updates are
    /// accepted with their proof); see [`Self::write_unfinal`] otherwise.
    pub fn write(
        &self,
        store: &Store,
        accept_partial: bool,
        batch: &mut StoreBatch,
    ) -> Result<(), StoreError> {
        self.write_as(store, accept_partial, true, batch)
    }

    /// Adds the audit of a batch L1 can still withdraw (a ZKsync batch before
    /// its `BlockExecution`): a batch that does not verify holds the pointer
    /// as in [`Self::write`], but only [`Self::advance_final`] moves it, so
    /// default reads never serve state a `BlocksRevert` can remove.
    pub fn write_unfinal(
        &self,
        store: &Store,
        accept_partial: bool,
        batch: &mut StoreBatch,
    ) -> Result<(), StoreError> {
        self.write_as(store, accept_partial, false, batch)
    }

    /// Moves the verified pointer to `through` (batches up to it became final),
    /// or to the batch before the one holding it, whichever is lower: every
    /// audited batch below the held one verified, so no audit needs reading.
    pub fn advance_final(
        store: &Store,
        through: u64,
        batch: &mut StoreBatch,
    ) -> Result<(), StoreError> {
        let limit = match read_batch_pointer(store, keys::VERIFICATION_HELD)? {
            Some(held) => match held.checked_sub(1) {
                Some(below) => through.min(below),
                None => return Ok(()),
            },
            None => through,
        };
        if Self::verified_batch(store)?.is_none_or(|v| v < limit) {
            batch.put(Column::Meta, keys::VERIFIED_BATCH, limit.to_be_bytes());
        }
        Ok(())
    }

    fn write_as(
        &self,
        store: &Store,
        accept_partial: bool,
        final_now: bool,
        batch: &mut StoreBatch,
    ) -> Result<(), StoreError> {
        batch.put(
            Column::Audits,
            keys::batch(self.batch),
            serde_json::to_vec(self).expect("audit serialises"),
        );
        let held = store.get(Column::Meta, keys::VERIFICATION_HELD)?.is_some();
        if !held {
            if !self.verifies(accept_partial) {
                batch.put(
                    Column::Meta,
                    keys::VERIFICATION_HELD,
                    self.batch.to_be_bytes(),
                );
            } else if final_now {
                batch.put(Column::Meta, keys::VERIFIED_BATCH, self.batch.to_be_bytes());
            }
        }
        Ok(())
    }

    /// Rolls the audits and the verified pointer back to `keep` (`None`: before
    /// any batch) as part of an unwind's atomic write. Every audit above `keep`
    /// is found by scanning, so one recorded for a batch that was never applied
    /// (sequencer evidence) goes too.
    pub fn unwind(
        store: &Store,
        keep: Option<u64>,
        batch: &mut StoreBatch,
    ) -> Result<(), StoreError> {
        let first_undone = keep.map_or(0, |t| t + 1);
        let mut next = first_undone;
        loop {
            let chunk = store.scan_from(Column::Audits, &keys::batch(next), 1024)?;
            let Some((last, _)) = chunk.last() else { break };
            next = batch_key(last)? + 1;
            for (key, _) in chunk {
                batch.delete(Column::Audits, key);
            }
        }
        if let Some(held) = read_batch_pointer(store, keys::VERIFICATION_HELD)?
            && held >= first_undone
        {
            batch.delete(Column::Meta, keys::VERIFICATION_HELD);
        }
        if let Some(verified) = Self::verified_batch(store)?
            && verified >= first_undone
        {
            match keep {
                Some(t) => batch.put(Column::Meta, keys::VERIFIED_BATCH, t.to_be_bytes()),
                None => batch.delete(Column::Meta, keys::VERIFIED_BATCH),
            }
        }
        Ok(())
    }

    /// The last verified batch: the newest batch such that it and every batch before it verified.
    pub fn verified_batch(store: &Store) -> Result<Option<u64>, StoreError> {
        read_batch_pointer(store, keys::VERIFIED_BATCH)
    }

    /// Whether the store holds any audit: a follower (or an import) wrote
    /// it, so the verified pointer is authoritative. Stores written only by
    /// the one-shot `zksync apply` tool have none.
    pub fn any(store: &Store) -> Result<bool, StoreError> {
        Ok(!store
            .scan_from(Column::Audits, &keys::batch(0), 1)?
            .is_empty())
    }

    /// The audit of a committed batch.
    pub fn read(store: &Store, batch: u64) -> Result<Option<Self>, StoreError> {
        store
            .get(Column::Audits, &keys::batch(batch))?
            .map(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                    what: "audit",
                    detail: e.to_string(),
                })
            })
            .transpose()
    }

    /// How many audits of each verdict the store holds, and the first batch
    /// of each (in [`Verdict::ALL`] order).
    pub fn tally(store: &Store) -> Result<Tally, StoreError> {
        let mut tally = Tally::default();
        let mut next = 0u64;
        loop {
            let chunk = store.scan_from(Column::Audits, &keys::batch(next), 1024)?;
            let Some((last, _)) = chunk.last() else { break };
            next = batch_key(last)? + 1;
            for (_, value) in &chunk {
                let audit: BatchAudit =
                    serde_json::from_slice(value).map_err(|e| StoreError::Corrupt {
                        what: "audit",
                        detail: e.to_string(),
                    })?;
                tally.add(audit.verdict, audit.batch);
            }
        }
        Ok(tally)
    }
}

/// Audits counted by verdict.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Batches judged MATCH.
    pub matched: u64,
    /// Batches judged PARTIAL.
    pub partial: u64,
    /// Batches judged MISMATCH.
    pub mismatched: u64,
    /// Batches judged PENDING (applied, no L1-accepted root yet).
    pub pending: u64,
    /// The first MISMATCH batch.
    pub first_mismatch: Option<u64>,
    /// The first PARTIAL batch.
    pub first_partial: Option<u64>,
}

impl Tally {
    /// Counts one audit of `batch`, remembering the first PARTIAL and MISMATCH batch.
    pub fn add(&mut self, verdict: Verdict, batch: u64) {
        match verdict {
            Verdict::Match => self.matched += 1,
            Verdict::Partial => {
                self.partial += 1;
                self.first_partial.get_or_insert(batch);
            }
            Verdict::Mismatch => {
                self.mismatched += 1;
                self.first_mismatch.get_or_insert(batch);
            }
            Verdict::Pending => self.pending += 1,
        }
    }

    /// Number of batches counted with `verdict`.
    pub fn count(&self, verdict: Verdict) -> u64 {
        match verdict {
            Verdict::Match => self.matched,
            Verdict::Partial => self.partial,
            Verdict::Mismatch => self.mismatched,
            Verdict::Pending => self.pending,
        }
    }
}

/// Why a follower stopped without applying a batch, kept in the store until a
/// later run applies it, so `status` reports the halt after the process is gone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaltRecord {
    /// The batch the follower could not get past.
    pub batch: Option<u64>,
    /// L1 block and transaction of the batch's commit, when known.
    pub l1_block: Option<u64>,
    /// Hash of the commit transaction.
    pub l1_transaction: Option<alloy_primitives::B256>,
    /// The error, as displayed.
    pub reason: String,
}

impl HaltRecord {
    /// Reads the halt record, if a follower halted and no later run cleared it.
    pub fn read(store: &Store) -> Result<Option<Self>, StoreError> {
        store
            .get(Column::Meta, keys::HALT)?
            .map(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                    what: "halt record",
                    detail: e.to_string(),
                })
            })
            .transpose()
    }

    /// Adds the record to `batch` (replacing any earlier one).
    pub fn write(&self, batch: &mut StoreBatch) {
        batch.put(
            Column::Meta,
            keys::HALT,
            serde_json::to_vec(self).expect("halt record serialises"),
        );
    }

    /// Clears the record (the batch it named has been applied since).
    pub fn clear(batch: &mut StoreBatch) {
        batch.delete(Column::Meta, keys::HALT);
    }
}

fn batch_key(key: &[u8]) -> Result<u64, StoreError> {
    key.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt {
            what: "audit key",
            detail: format!("{} bytes", key.len()),
        })
}

/// Reads a meta key holding a batch number (8 bytes, big-endian).
fn read_batch_pointer(store: &Store, key: &[u8]) -> Result<Option<u64>, StoreError> {
    store
        .get(Column::Meta, key)?
        .map(|bytes| {
            bytes
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt {
                    what: "batch pointer",
                    detail: "not 8 bytes".into(),
                })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_check_or_root_mismatch_is_a_mismatch() {
        let ok = BatchAudit::judge(
            1,
            Some("0x1".into()),
            "0x1".into(),
            vec![Check::equal("kzg", "a", "a")],
        );
        assert_eq!(ok.verdict, Verdict::Match);
        let bad_root = BatchAudit::judge(1, Some("0x1".into()), "0x2".into(), vec![]);
        assert_eq!(bad_root.verdict, Verdict::Mismatch);
        assert_eq!(bad_root.checks[0].expected, "0x1");
        let bad_check = BatchAudit::judge(
            1,
            Some("0x1".into()),
            "0x1".into(),
            vec![Check::equal("z", "a", "b")],
        );
        assert_eq!(bad_check.verdict, Verdict::Mismatch);
        assert_eq!(
            BatchAudit::judge(1, None, "0x1".into(), vec![]).verdict,
            Verdict::Pending
        );
    }

    #[test]
    fn a_skipped_check_is_partial_and_a_failure_wins_over_it() {
        let partial = BatchAudit::judge(
            1,
            Some("0x1".into()),
            "0x1".into(),
            vec![
                Check::equal("kzg", "a", "a"),
                Check::skipped("pubdata_hash", "no hash"),
            ],
        );
        assert_eq!(partial.verdict, Verdict::Partial);
        assert_eq!(partial.skipped_checks(), ["pubdata_hash"]);
        assert!(!partial.verifies(false) && partial.verifies(true));
        let failed = BatchAudit::judge(
            1,
            Some("0x1".into()),
            "0x2".into(),
            vec![Check::skipped("pubdata_hash", "no hash")],
        );
        assert_eq!(failed.verdict, Verdict::Mismatch);
        assert_eq!(failed.failed_checks(), ["state_root"]);
    }
}
