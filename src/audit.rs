//! Per-batch audit verdicts: the root the rollup claimed on L1 against the root
//! zkreplay computed, plus every data-availability check of the decoders.
//!
//! A mismatch is a finding, never a crash: it is recorded with the expected and
//! actual values in the same atomic commit as the batch it judges.

use serde::{Deserialize, Serialize};

use crate::store::{Column, Store, StoreBatch, StoreError, keys};

/// The outcome of a batch's audit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// Computed root equals the claimed root and every check passed.
    Match,
    /// The roots differ or a check failed.
    Mismatch,
    /// No claimed root is known yet (e.g. a ZKsync batch committed but not executed).
    Pending,
}

/// One named check with what was expected (from L1) and what was found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub expected: String,
    pub actual: String,
}

impl Check {
    /// A check that passes when `expected == actual`.
    pub fn equal(name: impl Into<String>, expected: impl ToString, actual: impl ToString) -> Self {
        let (expected, actual) = (expected.to_string(), actual.to_string());
        Check {
            name: name.into(),
            passed: expected == actual,
            expected,
            actual,
        }
    }
}

/// The audit record of one batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAudit {
    pub batch: u64,
    /// Root accepted on L1 (0x-hex), when known.
    pub claimed_root: Option<String>,
    /// Root zkreplay computed (0x-hex).
    pub computed_root: String,
    pub verdict: Verdict,
    pub checks: Vec<Check>,
}

impl BatchAudit {
    /// Judges a batch: the root check first, then the decoders' checks.
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
                if checks.iter().all(|c| c.passed) {
                    Verdict::Match
                } else {
                    Verdict::Mismatch
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

    /// Adds this audit, and the verified pointer it moves, to the batch's atomic commit.
    ///
    /// The verified pointer is the last batch of an unbroken run of matching
    /// batches from the start: the first batch that does not match holds it
    /// (a finding needs a human; a pending batch waits to be judged).
    pub fn write(&self, store: &Store, batch: &mut StoreBatch) -> Result<(), StoreError> {
        batch.put(
            Column::Audits,
            keys::batch(self.batch),
            serde_json::to_vec(self).expect("audit serialises"),
        );
        let held = store.get(Column::Meta, keys::VERIFICATION_HELD)?.is_some();
        if !held {
            let key = if self.verdict == Verdict::Match {
                keys::VERIFIED_BATCH
            } else {
                keys::VERIFICATION_HELD
            };
            batch.put(Column::Meta, key, self.batch.to_be_bytes());
        }
        Ok(())
    }

    /// Rolls the audits and the verified pointer back to `target` (`None`: before
    /// any batch) as part of an unwind's atomic write; `next_batch` is the first
    /// batch number that was never applied.
    pub fn unwind(
        store: &Store,
        target: Option<u64>,
        next_batch: u64,
        batch: &mut StoreBatch,
    ) -> Result<(), StoreError> {
        let first_undone = target.map_or(0, |t| t + 1);
        for n in first_undone..next_batch {
            batch.delete(Column::Audits, keys::batch(n).to_vec());
        }
        if let Some(held) = read_batch_pointer(store, keys::VERIFICATION_HELD)?
            && held >= first_undone
        {
            batch.delete(Column::Meta, keys::VERIFICATION_HELD);
        }
        if let Some(verified) = Self::verified_batch(store)?
            && verified >= first_undone
        {
            match target {
                Some(t) => batch.put(Column::Meta, keys::VERIFIED_BATCH, t.to_be_bytes()),
                None => batch.delete(Column::Meta, keys::VERIFIED_BATCH),
            }
        }
        Ok(())
    }

    /// The last verified batch: the newest batch such that it and every batch before it matched.
    pub fn verified_batch(store: &Store) -> Result<Option<u64>, StoreError> {
        read_batch_pointer(store, keys::VERIFIED_BATCH)
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
}
