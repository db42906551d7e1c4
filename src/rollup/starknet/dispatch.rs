//! Which DA format a Starknet update uses, from L1 evidence first and from the
//! chain's era table only where the evidence cannot decide.
//!
//! What the data decides by itself (see [`super::da::batch`]): blob vs calldata
//! (the `updateState*` selector), the program-output header (the only version
//! that parses the output exactly), and compressed vs uncompressed DA (only one
//! decoder accepts the data exactly).
//!
//! What needs the era table, keyed by the L2 block `LogStateUpdate` carries:
//! * the v0.9 → v0.10 contract-word layout (both decoders can accept the same
//!   felts, and the 4-word header is the same);
//! * the v0.14 global-root rule (it only differs while the classes root is 0).
//!
//! What needs neither — v0.13.3 vs v0.13.4 (stateful compression): the wire
//! format is the same, and the blockifier (`sequencer`
//! `crates/blockifier/src/state/stateful_compression.rs`) shows the switch is
//! visible in the data: `allocate_aliases_in_storage` runs for every v0.13.4+
//! block and its `finalize_updates` writes the alias counter (contract 0x2, key
//! 0) when it was never set, so the first v0.13.4 batch always writes 0x2; every
//! key or address from 0x80 up that a batch uses either got its alias written
//! to 0x2 in that batch or in an earlier one. So before 0x2 was ever written,
//! a batch that writes no 0x2 uses no alias, and it reads the same under both
//! layouts; from the first batch that writes 0x2 on, the chain is on aliases.
//! [`compressed_layout`] is that rule.
//!
//! Blake2s compiled-class-hash migration (v0.14.1) needs no number either: a
//! class entry for a class that already has a leaf is an update (see
//! [`super::state::StarknetState::classify_class_entries`]).

use std::fmt;
use std::str::FromStr;

use super::da::Layout;
use crate::chain::{StarknetChain, StarknetEra};

/// A Starknet version `major.minor.patch` (a fourth, build component is ignored:
/// v0.13.1.1 formats like v0.13.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StarknetVersion {
    /// First component (0 for every Starknet release so far).
    pub major: u16,
    /// Second component.
    pub minor: u16,
    /// Third component; 0 when the version string has none.
    pub patch: u16,
}

impl StarknetVersion {
    /// First version with the v0.10 contract word (`nonce << 64 | n_updates`).
    pub const V0_10_0: Self = Self::new(0, 10, 0);
    /// First version with the v0.11 contract word and declared classes in the DA.
    pub const V0_11_0: Self = Self::new(0, 11, 0);
    /// First version with stateless-compressed DA.
    pub const V0_13_3: Self = Self::new(0, 13, 3);
    /// First version whose global root always combines both trie roots.
    pub const V0_14_0: Self = Self::new(0, 14, 0);

    /// The version `major.minor.patch`.
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }
}

impl FromStr for StarknetVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.trim_start_matches('v').split('.').collect();
        let number = |i: usize| -> Result<u16, String> {
            parts
                .get(i)
                .map_or(Ok(0), |p| p.parse::<u16>())
                .map_err(|_| format!("version {text:?} is not major.minor[.patch[.build]]"))
        };
        if parts.is_empty() || parts.len() > 4 {
            return Err(format!(
                "version {text:?} is not major.minor[.patch[.build]]"
            ));
        }
        for i in 3..parts.len() {
            number(i)?;
        }
        Ok(Self::new(number(0)?, number(1)?, number(2)?))
    }
}

impl fmt::Display for StarknetVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The DA layout an era implies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutRule {
    /// One layout, whatever the data.
    Fixed(Layout),
    /// v0.13.3+: the stateless-compressed format; aliases or not is decided by
    /// [`compressed_layout`].
    Compressed,
}

impl LayoutRule {
    /// The layout to force on the decoder, when the era fixes one.
    pub fn forced(self) -> Option<Layout> {
        match self {
            LayoutRule::Fixed(layout) => Some(layout),
            LayoutRule::Compressed => None,
        }
    }

    /// The layout once the alias evidence is known.
    pub fn resolve(
        self,
        alias_contract_written_before: bool,
        batch_writes_alias_contract: bool,
    ) -> Layout {
        match self {
            LayoutRule::Fixed(layout) => layout,
            LayoutRule::Compressed => {
                compressed_layout(alias_contract_written_before, batch_writes_alias_contract)
            }
        }
    }
}

/// Why the era table gives no answer.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// The chain config has an empty `eras` table: fix the config.
    #[error("the chain config lists no Starknet eras")]
    NoEras,
    /// The update's L2 block precedes every era in the chain config: fix the config.
    #[error("L2 block {l2_block} is before the first listed era ({first})")]
    BeforeFirstEra {
        /// The last L2 block of the update, from `LogStateUpdate`.
        l2_block: u64,
        /// The first L2 block of the first listed era.
        first: u64,
    },
    /// An era's version string in the chain config is not `major.minor[.patch[.build]]`.
    #[error("era {0}")]
    BadVersion(String),
}

/// The layout of a version's DA.
pub fn layout_rule(version: StarknetVersion) -> LayoutRule {
    if version < StarknetVersion::V0_10_0 {
        LayoutRule::Fixed(Layout::V0_9)
    } else if version < StarknetVersion::V0_11_0 {
        LayoutRule::Fixed(Layout::V0_10)
    } else if version < StarknetVersion::V0_13_3 {
        LayoutRule::Fixed(Layout::V0_11)
    } else {
        LayoutRule::Compressed
    }
}

/// v0.13.3 or v0.13.4 for a compressed batch (see the module docs): aliases once
/// contract 0x2 has been written, by an earlier batch or by this one.
pub fn compressed_layout(
    alias_contract_written_before: bool,
    batch_writes_alias_contract: bool,
) -> Layout {
    if alias_contract_written_before || batch_writes_alias_contract {
        Layout::V0_13_4
    } else {
        Layout::V0_13_3
    }
}

/// The version that produced `l2_block`.
pub fn version_at(eras: &[StarknetEra], l2_block: u64) -> Result<StarknetVersion, DispatchError> {
    let first = eras.first().ok_or(DispatchError::NoEras)?;
    let era = eras
        .iter()
        .rev()
        .find(|e| e.from_l2_block <= l2_block)
        .ok_or(DispatchError::BeforeFirstEra {
            l2_block,
            first: first.from_l2_block,
        })?;
    era.version.parse().map_err(DispatchError::BadVersion)
}

/// The layout rule for an update whose last L2 block is `l2_block`.
pub fn layout_rule_at(chain: &StarknetChain, l2_block: u64) -> Result<LayoutRule, DispatchError> {
    version_at(&chain.eras, l2_block).map(layout_rule)
}

/// The first L2 block of the first listed era at or after `version`.
pub fn first_block_of(eras: &[StarknetEra], version: StarknetVersion) -> Option<u64> {
    eras.iter()
        .find(|e| {
            e.version
                .parse::<StarknetVersion>()
                .is_ok_and(|v| v >= version)
        })
        .map(|e| e.from_l2_block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order() {
        let v: StarknetVersion = "v0.13.1.1".parse().unwrap();
        assert_eq!(v, StarknetVersion::new(0, 13, 1));
        assert!("0.14".parse::<StarknetVersion>().unwrap() == StarknetVersion::V0_14_0);
        assert!("v0.x".parse::<StarknetVersion>().is_err());
        assert!(StarknetVersion::V0_13_3 < StarknetVersion::V0_14_0);
    }

    #[test]
    fn compressed_layout_follows_the_alias_contract() {
        assert_eq!(compressed_layout(false, false), Layout::V0_13_3);
        assert_eq!(compressed_layout(false, true), Layout::V0_13_4);
        assert_eq!(compressed_layout(true, false), Layout::V0_13_4);
    }
}
