//! Live follower status shared with the API (`sync` fields, `/ready`) and
//! exported as Prometheus metrics. Atomics: the follower writes, the server reads.

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::audit::Verdict;

/// `u64::MAX` stands for "unknown" in the gauges below.
const UNKNOWN: u64 = u64::MAX;

/// A Prometheus metric: name, type, help, and how to read it.
type Metric = (
    &'static str,
    &'static str,
    &'static str,
    fn(&FollowStatus) -> Option<u64>,
);

/// One rollup's follower status.
#[derive(Debug)]
pub struct FollowStatus {
    /// Chain name the figures are exported under.
    pub chain: String,
    l1_head: AtomicU64,
    l1_cursor: AtomicU64,
    last_applied_batch: AtomicU64,
    verified_batch: AtomicU64,
    batches_applied: AtomicU64,
    /// Batches applied by this process per verdict, in [`Verdict::ALL`] order.
    verdicts: [AtomicU64; 4],
    findings: AtomicU64,
    unwound: AtomicU64,
    l1_errors: AtomicU64,
    caught_up: AtomicBool,
    stages: std::sync::Mutex<super::StageTimes>,
}

impl FollowStatus {
    /// Status of a follower that has done nothing yet (every figure unknown or zero).
    pub fn new(chain: impl Into<String>) -> Self {
        FollowStatus {
            chain: chain.into(),
            l1_head: AtomicU64::new(UNKNOWN),
            l1_cursor: AtomicU64::new(UNKNOWN),
            last_applied_batch: AtomicU64::new(UNKNOWN),
            verified_batch: AtomicU64::new(UNKNOWN),
            batches_applied: AtomicU64::new(0),
            verdicts: Default::default(),
            findings: AtomicU64::new(0),
            unwound: AtomicU64::new(0),
            l1_errors: AtomicU64::new(0),
            caught_up: AtomicBool::new(false),
            stages: Default::default(),
        }
    }

    /// Records the followed tag's block (the L1 head this follower may follow).
    pub fn set_l1_head(&self, head: u64) {
        self.l1_head.store(head, Ordering::Relaxed);
    }

    /// Records the L1 cursor, the last applied batch and the verified pointer.
    pub fn set_position(&self, cursor: Option<u64>, last: Option<u64>, verified: Option<u64>) {
        self.l1_cursor
            .store(cursor.unwrap_or(UNKNOWN), Ordering::Relaxed);
        self.last_applied_batch
            .store(last.unwrap_or(UNKNOWN), Ordering::Relaxed);
        self.verified_batch
            .store(verified.unwrap_or(UNKNOWN), Ordering::Relaxed);
    }

    /// Adds what a sync pass did: batches, verdicts, unwinds, stage times.
    pub fn record_sync(&self, report: &super::SyncReport) {
        self.batches_applied
            .fetch_add(report.batches_applied, Ordering::Relaxed);
        self.findings
            .fetch_add(report.verdicts.mismatched, Ordering::Relaxed);
        for (counter, verdict) in self.verdicts.iter().zip(Verdict::ALL) {
            counter.fetch_add(report.verdicts.count(verdict), Ordering::Relaxed);
        }
        self.unwound.fetch_add(report.unwound, Ordering::Relaxed);
        self.record_stages(&report.stages);
    }

    /// Batches of a verdict applied by this process.
    pub fn verdict_count(&self, verdict: Verdict) -> u64 {
        let index = Verdict::ALL
            .iter()
            .position(|v| *v == verdict)
            .expect("every verdict is listed");
        self.verdicts[index].load(Ordering::Relaxed)
    }

    /// Adds a pass's stage times.
    pub fn record_stages(&self, stages: &super::StageTimes) {
        if let Ok(mut total) = self.stages.lock() {
            total.add(stages);
        }
    }

    /// Stage times of every pass so far.
    pub fn stages(&self) -> super::StageTimes {
        self.stages.lock().map(|s| *s).unwrap_or_default()
    }

    /// Counts one sync pass that failed with a transient error (and will be retried).
    pub fn record_l1_error(&self) {
        self.l1_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Records whether the follower has reached its L1 target.
    pub fn set_caught_up(&self, caught_up: bool) {
        self.caught_up.store(caught_up, Ordering::Relaxed);
    }

    /// Ready once the follower has reached its L1 target at least once.
    pub fn caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Relaxed)
    }

    fn known(value: &AtomicU64) -> Option<u64> {
        Some(value.load(Ordering::Relaxed)).filter(|v| *v != UNKNOWN)
    }

    /// Batches unwound by this process (reorgs, ZKsync reverts).
    pub fn unwound(&self) -> u64 {
        self.unwound.load(Ordering::Relaxed)
    }

    /// The L1 head last seen, when known.
    pub fn l1_head(&self) -> Option<u64> {
        Self::known(&self.l1_head)
    }

    /// The last L1 block handled, when known.
    pub fn l1_cursor(&self) -> Option<u64> {
        Self::known(&self.l1_cursor)
    }

    /// Blocks between the followed tag's block and the last handled one.
    pub fn lag_blocks(&self) -> Option<u64> {
        Some(Self::known(&self.l1_head)?.saturating_sub(Self::known(&self.l1_cursor)?))
    }

    /// Prometheus text for a set of followers.
    pub fn render(statuses: &[std::sync::Arc<FollowStatus>]) -> String {
        let mut out = String::new();
        let metrics: [Metric; 8] = [
            (
                "zkreplay_follow_batches_applied_total",
                "counter",
                "Batches applied by this process.",
                |s| Some(s.batches_applied.load(Ordering::Relaxed)),
            ),
            (
                "zkreplay_follow_findings_total",
                "counter",
                "Batches whose audit did not match L1.",
                |s| Some(s.findings.load(Ordering::Relaxed)),
            ),
            (
                "zkreplay_follow_unwound_total",
                "counter",
                "Batches unwound (L1 reorgs, ZKsync BlocksRevert).",
                |s| Some(s.unwound.load(Ordering::Relaxed)),
            ),
            (
                "zkreplay_follow_l1_errors_total",
                "counter",
                "L1 requests that failed after retries.",
                |s| Some(s.l1_errors.load(Ordering::Relaxed)),
            ),
            (
                "zkreplay_follow_l1_head",
                "gauge",
                "Block number of the followed L1 tag.",
                |s| FollowStatus::known(&s.l1_head),
            ),
            (
                "zkreplay_follow_l1_lag_blocks",
                "gauge",
                "L1 blocks between the followed tag and the last handled block.",
                FollowStatus::lag_blocks,
            ),
            (
                "zkreplay_follow_last_applied_batch",
                "gauge",
                "Last batch applied to the store.",
                |s| FollowStatus::known(&s.last_applied_batch),
            ),
            (
                "zkreplay_follow_verified_batch",
                "gauge",
                "Verified pointer: last batch of the unbroken run of matches.",
                |s| FollowStatus::known(&s.verified_batch),
            ),
        ];
        let name = "zkreplay_follow_batches_total";
        let _ = writeln!(
            out,
            "# HELP {name} Batches applied by this process, by audit verdict."
        );
        let _ = writeln!(out, "# TYPE {name} counter");
        for status in statuses {
            for verdict in Verdict::ALL {
                let _ = writeln!(
                    out,
                    "{name}{{chain=\"{}\",verdict=\"{}\"}} {}",
                    status.chain,
                    verdict.as_str().to_lowercase(),
                    status.verdict_count(verdict)
                );
            }
        }
        for (name, kind, help, read) in metrics {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for status in statuses {
                if let Some(value) = read(status) {
                    let _ = writeln!(out, "{name}{{chain=\"{}\"}} {value}", status.chain);
                }
            }
        }
        out
    }
}
