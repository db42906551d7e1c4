//! A ZK Stack chain's history as its chain config records it: which commit
//! format (era) and which settlement layer were in force at an L1 point.
//!
//! Decoders still choose the format from the L1 evidence (the commit
//! selector, the DA field that hashes to the pubdata-hash system log); the era
//! table says what the evidence must show, so a commit in an unexpected format
//! is a finding rather than silently accepted. The settlement table cannot be
//! read from one transaction: while a chain settles on a ZK chain such as the
//! ZKsync Gateway, its commits are transactions on that chain and its batches
//! reach L1 only inside the settlement chain's pubdata, so the follower has to
//! know, per L1 range, where to look.
//!
//! A boundary is an exact L1 block or, where the public sources name the
//! boundary only by its block's timestamp (an L1 timestamp identifies one
//! post-merge block), that timestamp. Sources that give only a date are
//! recorded in comments, never as a boundary.

use std::path::PathBuf;

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};

use super::calldata::CommitVersion;

/// Where on L1 something begins: an exact block, or the timestamp of that
/// block (used only when the block number has no public source). Each table
/// entry carries these two fields as `from_l1_block` / `from_l1_timestamp`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L1Boundary {
    /// Exact first L1 block.
    pub from_l1_block: Option<u64>,
    /// First L1 block timestamp (Unix seconds), when no exact block is sourced.
    pub from_l1_timestamp: Option<u64>,
}

/// A table entry that begins at an L1 boundary.
trait Bounded {
    fn boundary(&self) -> L1Boundary;
    fn label(&self) -> &str;
}

macro_rules! bounded {
    ($t:ty, |$item:ident| $label:expr) => {
        impl Bounded for $t {
            fn boundary(&self) -> L1Boundary {
                L1Boundary {
                    from_l1_block: self.from_l1_block,
                    from_l1_timestamp: self.from_l1_timestamp,
                }
            }
            fn label(&self) -> &str {
                let $item = self;
                $label
            }
        }
    };
}

/// The L1 block the follower is at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L1Point {
    /// L1 block number.
    pub block: u64,
    /// The block's timestamp; needed only to place it against a timestamp boundary.
    pub timestamp: Option<u64>,
}

impl L1Point {
    /// A point known by block number only.
    pub fn block(block: u64) -> Self {
        L1Point {
            block,
            timestamp: None,
        }
    }

    /// A point with its block timestamp (Unix seconds).
    pub fn at(block: u64, timestamp: u64) -> Self {
        L1Point {
            block,
            timestamp: Some(timestamp),
        }
    }
}

/// Why the history could not place an L1 point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// The L1 block is before the first entry of a history table.
    #[error("L1 block {block} is before the chain's first recorded era")]
    BeforeHistory {
        /// The L1 block.
        block: u64,
    },
    /// An entry begins at a timestamp and the point was given without one.
    #[error(
        "L1 block {block}: the boundary of `{name}` is a timestamp ({timestamp}); the block's timestamp is needed"
    )]
    TimestampNeeded {
        /// The L1 block.
        block: u64,
        /// The entry's name.
        name: String,
        /// The entry's boundary timestamp, Unix seconds.
        timestamp: u64,
    },
    /// The history tables are inconsistent (missing or unordered boundaries, a settlement period without its chain).
    #[error("{0}")]
    Invalid(String),
}

impl L1Boundary {
    /// Whether `point` is at or after this boundary.
    fn reached(&self, point: L1Point, name: &str) -> Result<bool, HistoryError> {
        match (self.from_l1_block, self.from_l1_timestamp) {
            (Some(block), _) => Ok(point.block >= block),
            (None, Some(timestamp)) => match point.timestamp {
                Some(t) => Ok(t >= timestamp),
                None => Err(HistoryError::TimestampNeeded {
                    block: point.block,
                    name: name.to_string(),
                    timestamp,
                }),
            },
            (None, None) => Err(HistoryError::Invalid(format!(
                "`{name}` has neither from_l1_block nor from_l1_timestamp"
            ))),
        }
    }

    fn describe(&self) -> String {
        match (self.from_l1_block, self.from_l1_timestamp) {
            (Some(b), _) => format!("L1 block {b}"),
            (None, Some(t)) => format!("L1 timestamp {t}"),
            (None, None) => "nowhere".into(),
        }
    }
}

/// How a batch's pubdata is laid out in the commit's DA field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DaLayout {
    /// Pre-Boojum: explicit initial/repeated write lists.
    PreBoojumLists,
    /// Boojum before 1.4.2: the whole field is the pubdata.
    Inline,
    /// 1.4.2 (v21) to v25: `u8 source ‖ …` (0 = calldata, 1 = blobs).
    SourceByte,
    /// v26+: hashes and blob linear hashes, then the source byte.
    V26Header,
}

/// One commit-format era.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Era {
    /// Era label (e.g. `v26`).
    pub name: String,
    /// The commit function in force (its selector is [`CommitVersion::selector`]).
    pub commit: CommitVersion,
    /// The DA field layout in force.
    pub da: DaLayout,
    /// First L1 block of the era.
    #[serde(default)]
    pub from_l1_block: Option<u64>,
    /// First L1 timestamp of the era, when no exact block is sourced.
    #[serde(default)]
    pub from_l1_timestamp: Option<u64>,
    /// Whether the chain's `StoredBatchInfo` has 9 fields (v29+) in this era.
    #[serde(default)]
    pub nine_field_stored_batch_info: bool,
}

/// Which layer carried the chain's batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettlementKind {
    /// Commits are L1 transactions to the chain's own diamond proxy.
    L1,
    /// Commits are transactions on a ZK chain; the batches reach L1 inside
    /// that chain's pubdata as relayed L2→L1 messages.
    ZkChain,
}

/// One settlement period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementPeriod {
    /// Layer the chain settled on in this period.
    pub layer: SettlementKind,
    /// The settlement chain's config name (`chains/<name>.toml`), for `zk_chain`.
    #[serde(default)]
    pub chain: Option<String>,
    /// The chain's diamond proxy on the settlement chain (sender of its
    /// relayed `StoredBatchInfo` messages), for `zk_chain`.
    #[serde(default)]
    pub diamond_on_layer: Option<Address>,
    /// First L1 block of the period.
    #[serde(default)]
    pub from_l1_block: Option<u64>,
    /// First L1 timestamp of the period, when no exact block is sourced.
    #[serde(default)]
    pub from_l1_timestamp: Option<u64>,
    /// The settlement chain's own config (`chains/<chain>.toml`), loaded
    /// beside this one by [`crate::chain::ChainConfig::load`].
    #[serde(skip)]
    pub settlement_config: Option<Box<crate::chain::ZksyncChain>>,
}

/// A contract that forwarded the chain's commits on L1 during a block range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorTimelock {
    /// The ValidatorTimelock contract on L1.
    pub address: Address,
    /// First L1 block it forwarded commits.
    #[serde(default)]
    pub from_l1_block: Option<u64>,
    /// First L1 timestamp it forwarded commits, when no exact block is sourced.
    #[serde(default)]
    pub from_l1_timestamp: Option<u64>,
}

/// The history tables of one chain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct History {
    /// `[[zksync.history.eras]]`: commit formats, in L1 order.
    #[serde(default)]
    pub eras: Vec<Era>,
    /// `[[zksync.history.settlement]]`: settlement layers, in L1 order.
    #[serde(default)]
    pub settlement: Vec<SettlementPeriod>,
    /// `[[zksync.history.validator_timelocks]]`: commit forwarders, in L1 order.
    #[serde(default)]
    pub validator_timelocks: Vec<ValidatorTimelock>,
}

bounded!(Era, |e| e.name.as_str());
bounded!(SettlementPeriod, |s| s.chain.as_deref().unwrap_or("l1"));
bounded!(ValidatorTimelock, |_v| "validator timelock");

impl History {
    /// The commit-format era in force at `point`.
    pub fn era_at(&self, point: L1Point) -> Result<&Era, HistoryError> {
        last_reached(&self.eras, point)
    }

    /// The settlement period in force at `point`.
    pub fn settlement_at(&self, point: L1Point) -> Result<&SettlementPeriod, HistoryError> {
        last_reached(&self.settlement, point)
    }

    /// The ValidatorTimelock in force at `point`, if the config lists any.
    pub fn validator_timelock_at(
        &self,
        point: L1Point,
    ) -> Result<Option<&ValidatorTimelock>, HistoryError> {
        if self.validator_timelocks.is_empty() {
            return Ok(None);
        }
        last_reached(&self.validator_timelocks, point).map(Some)
    }

    /// Checks the tables: each boundary set, the first of each table at an
    /// exact block, blocks and timestamps each in increasing order, a ZK-chain
    /// period naming its chain and the chain's diamond there.
    pub fn validate(&self) -> Result<(), HistoryError> {
        check_order(&self.eras)?;
        check_order(&self.settlement)?;
        check_order(&self.validator_timelocks)?;
        for s in &self.settlement {
            match s.layer {
                SettlementKind::ZkChain if s.chain.is_none() || s.diamond_on_layer.is_none() => {
                    return Err(HistoryError::Invalid(format!(
                        "a zk_chain settlement period (from {}) needs `chain` and `diamond_on_layer`",
                        s.boundary().describe()
                    )));
                }
                SettlementKind::L1 if s.chain.is_some() => {
                    return Err(HistoryError::Invalid(format!(
                        "an l1 settlement period (from {}) names a chain",
                        s.boundary().describe()
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The config files of the settlement chains this history names.
    pub fn settlement_chains(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for name in self.settlement.iter().filter_map(|s| s.chain.as_ref()) {
            let file = PathBuf::from(format!("{name}.toml"));
            if !out.contains(&file) {
                out.push(file);
            }
        }
        out
    }
}

fn last_reached<T: Bounded>(items: &[T], point: L1Point) -> Result<&T, HistoryError> {
    let mut found = None;
    // The last exact block boundary before the entry being placed: an entry
    // that begins at a timestamp begins strictly after it.
    let mut exact_before: Option<u64> = None;
    for (i, item) in items.iter().enumerate() {
        let reached = match item.boundary().reached(point, item.label()) {
            Ok(reached) => reached,
            Err(HistoryError::TimestampNeeded { .. })
                if exact_before.is_some_and(|b| point.block <= b) =>
            {
                false
            }
            // A timestamp boundary without the point's timestamp is still
            // passed when a later entry starts at a block the point has reached.
            Err(HistoryError::TimestampNeeded { .. })
                if items[i..].iter().skip(1).any(|later| {
                    later
                        .boundary()
                        .from_l1_block
                        .is_some_and(|b| point.block >= b)
                }) =>
            {
                true
            }
            Err(e) => return Err(e),
        };
        if reached {
            found = Some(item);
        } else {
            break;
        }
        if let Some(b) = item.boundary().from_l1_block {
            exact_before = Some(b);
        }
    }
    found.ok_or(HistoryError::BeforeHistory { block: point.block })
}

fn check_order<T: Bounded>(items: &[T]) -> Result<(), HistoryError> {
    let (mut last_block, mut last_time) = (None::<u64>, None::<u64>);
    for (i, item) in items.iter().enumerate() {
        let (from, name) = (item.boundary(), item.label());
        if from.from_l1_block.is_none() && from.from_l1_timestamp.is_none() {
            return Err(HistoryError::Invalid(format!(
                "`{name}` has neither from_l1_block nor from_l1_timestamp"
            )));
        }
        if i == 0 && from.from_l1_block.is_none() {
            return Err(HistoryError::Invalid(format!(
                "the first entry `{name}` must start at an exact L1 block"
            )));
        }
        if let Some(b) = from.from_l1_block {
            if last_block.is_some_and(|l| b <= l) {
                return Err(HistoryError::Invalid(format!(
                    "`{name}` starts at L1 block {b}, not after the entry before"
                )));
            }
            last_block = Some(b);
        }
        if let Some(t) = from.from_l1_timestamp {
            if last_time.is_some_and(|l| t <= l) {
                return Err(HistoryError::Invalid(format!(
                    "`{name}` starts at L1 timestamp {t}, not after the entry before"
                )));
            }
            last_time = Some(t);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn era(name: &str, block: Option<u64>, timestamp: Option<u64>) -> Era {
        Era {
            name: name.into(),
            commit: CommitVersion::Boojum,
            da: DaLayout::Inline,
            from_l1_block: block,
            from_l1_timestamp: timestamp,
            nine_field_stored_batch_info: false,
        }
    }

    #[test]
    fn timestamp_boundary_needs_the_block_timestamp() {
        let history = History {
            eras: vec![era("a", Some(10), None), era("b", None, Some(1_000))],
            ..Default::default()
        };
        history.validate().unwrap();
        assert_eq!(history.era_at(L1Point::block(10)).unwrap().name, "a");
        assert!(matches!(
            history.era_at(L1Point::block(11)),
            Err(HistoryError::TimestampNeeded { .. })
        ));
        assert_eq!(history.era_at(L1Point::at(11, 999)).unwrap().name, "a");
        assert_eq!(history.era_at(L1Point::at(11, 1_000)).unwrap().name, "b");
        // A later exact block settles it without a timestamp.
        let with_later = History {
            eras: vec![
                era("a", Some(10), None),
                era("b", None, Some(1_000)),
                era("c", Some(20), None),
            ],
            ..Default::default()
        };
        assert_eq!(with_later.era_at(L1Point::block(25)).unwrap().name, "c");
        assert!(with_later.era_at(L1Point::block(15)).is_err());
        assert!(matches!(
            history.era_at(L1Point::block(9)),
            Err(HistoryError::BeforeHistory { block: 9 })
        ));
    }

    #[test]
    fn validation_rejects_disorder_and_incomplete_periods() {
        let unordered = History {
            eras: vec![era("a", Some(10), None), era("b", Some(10), None)],
            ..Default::default()
        };
        assert!(unordered.validate().is_err());
        let starts_at_time = History {
            eras: vec![era("a", None, Some(5))],
            ..Default::default()
        };
        assert!(starts_at_time.validate().is_err());
        let no_diamond = History {
            settlement: vec![SettlementPeriod {
                layer: SettlementKind::ZkChain,
                chain: Some("gw".into()),
                diamond_on_layer: None,
                from_l1_block: Some(1),
                from_l1_timestamp: None,
                settlement_config: None,
            }],
            ..Default::default()
        };
        assert!(no_diamond.validate().is_err());
    }
}
