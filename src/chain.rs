//! Chain configs: everything chain-specific the follower needs, read from a
//! TOML file per chain (`chains/*.toml`), so another Starknet appchain or ZK
//! Stack chain needs only a new file.

use std::path::{Path, PathBuf};

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use crate::rollup::starknet::state::GlobalRootRule;

/// Which rollup family a chain belongs to: the one type the chain config, the
/// store manifest, the follower and the API share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "lowercase")]
pub enum RollupKind {
    /// Starknet (core contract `LogStateUpdate`, Patricia-Merkle state).
    Starknet,
    /// ZKsync Era or a ZK Stack chain (diamond proxy `BlockCommit`, sparse Merkle tree).
    Zksync,
}

impl RollupKind {
    /// The name chain configs and the store manifest use (`starknet`, `zksync`).
    pub fn as_str(self) -> &'static str {
        match self {
            RollupKind::Starknet => "starknet",
            RollupKind::Zksync => "zksync",
        }
    }

    /// The kind a manifest or chain name starts with.
    pub fn from_name(name: &str) -> Option<Self> {
        [RollupKind::Starknet, RollupKind::Zksync]
            .into_iter()
            .find(|kind| name.starts_with(kind.as_str()))
    }
}

/// One chain config file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// Store chain name; a store opened with another name is refused.
    pub name: String,
    /// Rollup family; selects which `[starknet]` or `[zksync]` table is required.
    pub rollup: RollupKind,
    /// Chain id of the settlement layer (1 = Ethereum mainnet).
    pub l1_chain_id: u64,
    /// First L1 block to scan (the rollup's first commit is at or after it).
    pub first_l1_block: u64,
    /// Blocks per `eth_getLogs` request (the transport still splits refused ranges).
    #[serde(default = "default_log_range")]
    pub log_range: u64,
    /// The format versions the chain used, with the L1 block where each began.
    /// Documentation only: decoders pick the version from L1 evidence
    /// (selector, header, layout) and Starknet's `[[starknet.eras]]`.
    #[serde(default)]
    pub versions: Vec<FormatVersion>,
    /// `[starknet]` table: required when `rollup = "starknet"`.
    #[serde(default)]
    pub starknet: Option<StarknetChain>,
    /// `[zksync]` table: required when `rollup = "zksync"`.
    #[serde(default)]
    pub zksync: Option<ZksyncChain>,
}

/// A format version and where it began.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatVersion {
    /// Version label (e.g. `v0.13.1`, `v26`).
    pub name: String,
    /// First L1 block of the version.
    pub from_l1_block: u64,
    /// What changed (selector, event, DA layout).
    #[serde(default)]
    pub note: String,
}

impl ChainConfig {
    /// The L1 contracts whose calls or logs the follower reads: a transaction it
    /// uses must call one of them or make one emit a log (see
    /// `l1::verify::VerifiedBlock::transaction`). Includes every memory-page
    /// registry and SHARP verifier of every era, ZKsync's ValidatorTimelocks
    /// and the diamonds of the chains it settled on.
    pub fn l1_contracts(&self) -> Vec<Address> {
        let mut out = Vec::new();
        if let Some(s) = &self.starknet {
            out.push(s.core_contract);
            out.extend(s.memory_page_registry);
            out.extend(s.memory_page_registries.iter().map(|c| c.address));
            out.extend(s.sharp_verifiers.iter().map(|c| c.address));
        }
        if let Some(z) = &self.zksync {
            out.push(z.diamond_proxy);
            out.extend(z.history.validator_timelocks.iter().map(|v| v.address));
            for period in &z.history.settlement {
                if let Some(chain) = &period.settlement_config {
                    out.push(chain.diamond_proxy);
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}
/// Starknet contracts and rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StarknetChain {
    /// The Starknet core contract (emits `LogStateUpdate`, receives `updateState*`).
    pub core_contract: Address,
    /// The memory-page fact registry (calldata DA before v0.13.1); absent when
    /// the chain never posted calldata DA or the address is not yet confirmed.
    #[serde(default)]
    pub memory_page_registry: Option<Address>,
    /// First L2 block whose global root always uses the Poseidon combination
    /// (Starknet v0.14.0), for chains without an `eras` table; absent = never.
    #[serde(default)]
    pub v0_14_from_l2_block: Option<u64>,
    /// The Starknet versions the chain ran, each with the first L2 block it
    /// produced, in block order. Where the L1 data cannot decide a format, the
    /// L2 block that `LogStateUpdate` carries selects the era (see
    /// [`crate::rollup::starknet::dispatch`]).
    #[serde(default)]
    pub eras: Vec<StarknetEra>,
    /// Memory-page fact registries that held calldata DA, with their L1 ranges.
    #[serde(default)]
    pub memory_page_registries: Vec<L1Contract>,
    /// SHARP verifier contracts that emit `LogMemoryPagesHashes` (the
    /// implementations behind the SHARP `CallProxy`, which forwards with `call`).
    #[serde(default)]
    pub sharp_verifiers: Vec<L1Contract>,
}

/// A Starknet version and the first L2 block it produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StarknetEra {
    /// `v0.13.1`, `0.14.0`, … (a fourth component is allowed and ignored by dispatch).
    pub version: String,
    /// First L2 block produced by this version.
    pub from_l2_block: u64,
    /// Where the number comes from.
    pub source: String,
}

/// An L1 contract and the L1 blocks it is relevant for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct L1Contract {
    /// Contract address on L1.
    pub address: Address,
    /// First L1 block at which the contract is relevant.
    pub from_l1_block: u64,
    /// Last relevant L1 block; absent = still in use.
    #[serde(default)]
    pub until_l1_block: Option<u64>,
    /// Where the address and range come from.
    pub source: String,
}

impl L1Contract {
    fn overlaps(&self, from: u64, to: u64) -> bool {
        self.from_l1_block <= to && self.until_l1_block.is_none_or(|until| until >= from)
    }
}

impl StarknetChain {
    /// The global-root rule of a batch ending at `l2_block`.
    pub fn root_rule(&self, l2_block: u64) -> GlobalRootRule {
        let first_v0_14 = crate::rollup::starknet::dispatch::first_block_of(
            &self.eras,
            crate::rollup::starknet::dispatch::StarknetVersion::V0_14_0,
        )
        .or(self.v0_14_from_l2_block);
        match first_v0_14 {
            Some(first) if l2_block >= first => GlobalRootRule::V0_14,
            _ => GlobalRootRule::PreV0_14,
        }
    }

    /// The memory-page registries to scan for pages registered in L1 blocks `from..=to`.
    pub fn registries_for(&self, from: u64, to: u64) -> Vec<Address> {
        let mut out: Vec<Address> = self
            .memory_page_registries
            .iter()
            .filter(|c| c.overlaps(from, to))
            .map(|c| c.address)
            .collect();
        if out.is_empty() {
            out.extend(self.memory_page_registry);
        }
        out
    }

    /// The SHARP verifiers whose `LogMemoryPagesHashes` may fall in L1 blocks `from..=to`.
    pub fn verifiers_for(&self, from: u64, to: u64) -> Vec<Address> {
        self.sharp_verifiers
            .iter()
            .filter(|c| c.overlaps(from, to))
            .map(|c| c.address)
            .collect()
    }

    fn validate(&self) -> Result<(), String> {
        let mut previous: Option<(crate::rollup::starknet::dispatch::StarknetVersion, u64)> = None;
        for era in &self.eras {
            let version = era
                .version
                .parse::<crate::rollup::starknet::dispatch::StarknetVersion>()
                .map_err(|e| format!("[[starknet.eras]] {e}"))?;
            if let Some((v, block)) = previous
                && (version <= v || era.from_l2_block < block)
            {
                return Err(format!(
                    "[[starknet.eras]] must be listed in version and L2 block order ({} at {})",
                    era.version, era.from_l2_block
                ));
            }
            previous = Some((version, era.from_l2_block));
        }
        if self.v0_14_from_l2_block.is_some()
            && crate::rollup::starknet::dispatch::first_block_of(
                &self.eras,
                crate::rollup::starknet::dispatch::StarknetVersion::V0_14_0,
            )
            .is_some()
        {
            return Err(
                "v0_14_from_l2_block and a v0.14 era both set the root rule: keep the era".into(),
            );
        }
        for c in self
            .memory_page_registries
            .iter()
            .chain(&self.sharp_verifiers)
        {
            if c.until_l1_block.is_some_and(|u| u < c.from_l1_block) {
                return Err(format!(
                    "{}: until_l1_block before from_l1_block",
                    c.address
                ));
            }
        }
        Ok(())
    }
}

/// ZKsync contracts and genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZksyncChain {
    /// L2 chain id.
    #[serde(default)]
    pub chain_id: Option<u64>,
    /// Diamond proxy (events come from it; commit calls go to a ValidatorTimelock).
    pub diamond_proxy: Address,
    /// Genesis storage-log file, relative to the config file.
    pub genesis_file: Option<PathBuf>,
    /// Expected genesis root, checked when the genesis is applied.
    #[serde(default)]
    pub genesis_root: Option<B256>,
    /// Commit-format eras, settlement periods and ValidatorTimelocks by L1 range.
    #[serde(default)]
    pub history: crate::rollup::zksync::history::History,
    /// When this chain is a settlement layer (the ZKsync Gateway): its
    /// `RelayedSLDAValidator`, the sender of the settled chains' pubdata messages.
    #[serde(default)]
    pub relayed_da_validator: Option<Address>,
}

fn default_log_range() -> u64 {
    2_000
}

/// Chain-config errors.
#[derive(Debug, thiserror::Error)]
pub enum ChainConfigError {
    /// The config file could not be read.
    #[error("reading chain config {path}: {source}")]
    Io {
        /// File path as given.
        path: String,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the config schema (unknown or missing keys).
    #[error("chain config {path}: {source}")]
    Parse {
        /// File path as given.
        path: String,
        /// TOML parse error with its position.
        source: Box<toml::de::Error>,
    },
    /// The file parses but a value is inconsistent (missing rollup table, absent genesis file, ...).
    #[error("chain config {path}: {detail}")]
    Invalid {
        /// File path, or `<text>` for an in-memory config.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

impl ChainConfig {
    /// Reads and validates a config; relative file paths are resolved against its directory.
    pub fn load(path: &Path) -> Result<Self, ChainConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ChainConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = Self::parse(&text).map_err(|e| match e {
            ChainConfigError::Parse { source, .. } => ChainConfigError::Parse {
                path: path.display().to_string(),
                source,
            },
            ChainConfigError::Invalid { detail, .. } => ChainConfigError::Invalid {
                path: path.display().to_string(),
                detail,
            },
            other => other,
        })?;
        if let Some(zksync) = &mut config.zksync
            && let (Some(file), Some(dir)) = (&zksync.genesis_file, path.parent())
            && file.is_relative()
        {
            zksync.genesis_file = Some(dir.join(file));
        }
        // The settlement chains a ZK-chain period names live beside this file.
        if let (Some(zksync), Some(dir)) = (&mut config.zksync, path.parent()) {
            for period in &mut zksync.history.settlement {
                if let Some(name) = &period.chain {
                    let layer = Self::load(&dir.join(format!("{name}.toml")))?;
                    period.settlement_config = layer.zksync.map(Box::new);
                }
            }
        }
        // A missing genesis file would otherwise surface only when a follower
        // first opens an empty store; say so while the config is being read.
        if let Some(file) = config.zksync.as_ref().and_then(|z| z.genesis_file.as_ref())
            && !file.is_file()
        {
            return Err(ChainConfigError::Invalid {
                path: path.display().to_string(),
                detail: format!("genesis_file {} not found", file.display()),
            });
        }
        Ok(config)
    }

    /// Parses and validates config text.
    pub fn parse(text: &str) -> Result<Self, ChainConfigError> {
        let config: ChainConfig = toml::from_str(text).map_err(|e| ChainConfigError::Parse {
            path: "<text>".into(),
            source: Box::new(e),
        })?;
        let invalid = |detail: &str| ChainConfigError::Invalid {
            path: "<text>".into(),
            detail: detail.into(),
        };
        match config.rollup {
            RollupKind::Starknet if config.starknet.is_none() => {
                return Err(invalid("rollup = \"starknet\" needs a [starknet] table"));
            }
            RollupKind::Zksync if config.zksync.is_none() => {
                return Err(invalid("rollup = \"zksync\" needs a [zksync] table"));
            }
            _ => {}
        }
        if let Some(starknet) = &config.starknet {
            starknet.validate().map_err(|detail| invalid(&detail))?;
        }
        if config.log_range == 0 {
            return Err(invalid("log_range must be at least 1"));
        }
        if let Some(zksync) = &config.zksync {
            zksync
                .history
                .validate()
                .map_err(|e| invalid(&e.to_string()))?;
        }
        if config
            .versions
            .windows(2)
            .any(|w| w[1].from_l1_block < w[0].from_l1_block)
        {
            return Err(invalid("versions must be listed in L1 block order"));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_configs_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("chains");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let config = ChainConfig::load(&path).unwrap();
                assert_eq!(
                    path.file_stem().unwrap().to_str().unwrap(),
                    config.name,
                    "file name = chain name"
                );
                seen += 1;
            }
        }
        assert!(seen >= 4, "ships Starknet and ZKsync mainnet and Sepolia");
    }

    #[test]
    fn missing_rollup_table_is_a_clear_error() {
        let err = ChainConfig::parse(
            "name = \"x\"\nrollup = \"starknet\"\nl1_chain_id = 1\nfirst_l1_block = 0\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("[starknet]"), "{err}");
        let err = ChainConfig::parse("name = 3").unwrap_err();
        assert!(matches!(err, ChainConfigError::Parse { .. }));
    }
}
