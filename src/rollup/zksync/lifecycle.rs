//! A batch's lifecycle on its settlement layer: committed (`BlockCommit`),
//! proven (`BlocksVerification`), executed (`BlockExecution`). Only an
//! executed batch is final: `BlocksRevert` drops committed and proven batches
//! above the executed ones, so the follower's verified pointer (and the API's
//! default reads) must follow executed batches whose roots matched, never
//! commits alone.
//!
//! While a chain settles on a ZK chain (the Gateway) its lifecycle events are
//! L2 events there, invisible from L1. What reaches L1 is the Gateway's state
//! diffs, which carry the chain's `totalBatchesCommitted/Verified/Executed`
//! ([`super::gateway::CounterTracker`]); [`SettledLifecycle`] turns them into
//! the same three stages, with one more rule: an execution on the Gateway is
//! final only once the Gateway batch that carried it is itself executed on L1.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::events::{BatchEvent, Verification};
use super::gateway::Counters;

/// How far a batch has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Committed on L1 (`BlockCommit`).
    Committed,
    /// Its proof verified on L1 (`BlocksVerification`).
    Proven,
    /// Executed on L1 (`BlockExecution`): final.
    Executed,
}

/// The highest batch in each stage (batches are committed, proven and
/// executed in order, so three numbers describe every batch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// Highest committed batch.
    pub committed: u64,
    /// Highest proven batch.
    pub proven: u64,
    /// Highest executed batch.
    pub executed: u64,
}

impl Lifecycle {
    /// The stage of `batch`; `None` when it is not (or no longer) committed.
    pub fn stage(&self, batch: u64) -> Option<Stage> {
        if batch <= self.executed {
            Some(Stage::Executed)
        } else if batch <= self.proven {
            Some(Stage::Proven)
        } else if batch <= self.committed {
            Some(Stage::Committed)
        } else {
            None
        }
    }

    /// Applies a diamond-proxy lifecycle event.
    pub fn on_event(&mut self, event: &BatchEvent) {
        match *event {
            BatchEvent::Commit { batch, .. } => self.committed = self.committed.max(batch),
            BatchEvent::Execution { batch, .. } => {
                self.executed = self.executed.max(batch);
                self.proven = self.proven.max(batch);
                self.committed = self.committed.max(batch);
            }
            BatchEvent::Revert {
                total_committed,
                total_verified,
                total_executed,
            } => {
                // The contract never reverts executed batches; the totals are authoritative.
                self.committed = total_committed.max(self.executed);
                self.proven = total_verified.min(self.committed).max(self.executed);
                self.executed = self.executed.max(total_executed.min(self.committed));
            }
        }
    }

    /// Applies a `BlocksVerification`.
    pub fn on_verification(&mut self, v: &Verification) {
        self.proven = self.proven.max(v.current_last_verified);
        self.committed = self.committed.max(self.proven);
    }

    /// The verified pointer: the highest batch that is executed on L1 and up to
    /// which every computed root matched (`matched_through`, the state
    /// engine's running match pointer).
    pub fn verified_pointer(&self, matched_through: u64) -> u64 {
        self.executed.min(matched_through)
    }
}

/// The lifecycle of a chain settled on a ZK chain, from the counters its
/// diamond there keeps, as read from each settlement batch committed on L1.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettledLifecycle {
    /// The chain's stages: committed and proven as the latest settlement batch
    /// committed on L1 says; executed only as far as settlement batches
    /// executed on L1 say.
    pub stages: Lifecycle,
    /// Counters per settlement batch committed on L1 but not yet executed there.
    pending: BTreeMap<u64, Counters>,
    /// Counters as of the last settlement batch executed on L1.
    settled: Counters,
}

impl SettledLifecycle {
    /// Starts from the chain's stages when it moved onto the settlement layer.
    pub fn new(at_migration: Lifecycle) -> Self {
        SettledLifecycle {
            stages: at_migration,
            pending: BTreeMap::new(),
            settled: Counters {
                committed: Some(at_migration.committed),
                verified: Some(at_migration.proven),
                executed: Some(at_migration.executed),
            },
        }
    }

    /// Settlement batch `settlement_batch` (committed on L1) left the chain's counters at `counters`.
    pub fn observe(&mut self, settlement_batch: u64, counters: Counters) {
        self.pending.insert(settlement_batch, counters);
        self.recompute();
    }

    /// `BlockExecution` of the settlement chain on L1 named `settlement_batch`.
    pub fn settlement_executed(&mut self, settlement_batch: u64) {
        let later = split_after(&mut self.pending, settlement_batch);
        for counters in self.pending.values() {
            self.settled = merge(self.settled, *counters);
        }
        self.pending = later;
        self.recompute();
    }

    /// `BlocksRevert` of the settlement chain kept its batches up to `keep`:
    /// later settlement batches, and the chain's commits they carried, are gone.
    pub fn settlement_reverted(&mut self, keep: u64) {
        split_after(&mut self.pending, keep);
        self.recompute();
    }

    fn recompute(&mut self) {
        let latest = self
            .pending
            .values()
            .fold(self.settled, |acc, c| merge(acc, *c));
        let executed = self.settled.executed.unwrap_or(self.stages.executed);
        self.stages = Lifecycle {
            committed: latest.committed.unwrap_or(executed).max(executed),
            proven: latest.verified.unwrap_or(executed).max(executed),
            executed,
        };
    }
}

/// `newer` where it knows a value, else `older` (later settlement batches win,
/// including after a revert lowered a counter).
/// Splits off and returns the entries after `key` (settlement batch numbers
/// come from L1 events: `u64::MAX` has nothing after it).
fn split_after(map: &mut BTreeMap<u64, Counters>, key: u64) -> BTreeMap<u64, Counters> {
    match key.checked_add(1) {
        Some(next) => map.split_off(&next),
        None => BTreeMap::new(),
    }
}

fn merge(older: Counters, newer: Counters) -> Counters {
    Counters {
        committed: newer.committed.or(older.committed),
        verified: newer.verified.or(older.verified),
        executed: newer.executed.or(older.executed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;

    #[test]
    fn stages_follow_events_and_revert_keeps_executed() {
        let mut l = Lifecycle::default();
        for batch in 1..=5 {
            l.on_event(&BatchEvent::Commit {
                batch,
                state_root: B256::ZERO,
                commitment: B256::ZERO,
            });
        }
        l.on_verification(&Verification {
            previous_last_verified: 0,
            current_last_verified: 3,
        });
        l.on_event(&BatchEvent::Execution {
            batch: 2,
            state_root: B256::ZERO,
            commitment: B256::ZERO,
        });
        assert_eq!(l.stage(2), Some(Stage::Executed));
        assert_eq!(l.stage(3), Some(Stage::Proven));
        assert_eq!(l.stage(5), Some(Stage::Committed));
        assert_eq!(l.stage(6), None);
        // A matching root does not make a batch verified before it is executed.
        assert_eq!(l.verified_pointer(5), 2);
        assert_eq!(l.verified_pointer(1), 1);
        l.on_event(&BatchEvent::Revert {
            total_committed: 3,
            total_verified: 3,
            total_executed: 2,
        });
        assert_eq!((l.committed, l.proven, l.executed), (3, 3, 2));
        assert_eq!(l.stage(4), None);
    }

    #[test]
    fn settled_execution_waits_for_the_settlement_batch() {
        let at = |c: u64, v: u64, e: u64| Counters {
            committed: Some(c),
            verified: Some(v),
            executed: Some(e),
        };
        let mut l = SettledLifecycle::new(Lifecycle {
            committed: 10,
            proven: 10,
            executed: 10,
        });
        l.observe(100, at(12, 10, 10));
        l.observe(101, at(14, 12, 12));
        assert_eq!(
            (l.stages.committed, l.stages.proven, l.stages.executed),
            (14, 12, 10)
        );
        l.settlement_executed(100);
        assert_eq!(l.stages.executed, 10);
        l.settlement_executed(101);
        assert_eq!(l.stages.executed, 12);
        l.observe(102, at(16, 12, 12));
        l.settlement_reverted(101);
        assert_eq!(
            (l.stages.committed, l.stages.proven, l.stages.executed),
            (14, 12, 12)
        );
    }
}
