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
    Starknet,
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
    pub rollup: RollupKind,
    /// Chain id of the settlement layer (1 = Ethereum mainnet).
    pub l1_chain_id: u64,
    /// First L1 block to scan (the rollup's first commit is at or after it).
    pub first_l1_block: u64,
    /// Blocks per `eth_getLogs` request (the transport still splits refused ranges).
    #[serde(default = "default_log_range")]
    pub log_range: u64,
    /// The format versions the chain used, with the L1 block where each began.
    /// Decoders pick the version from L1 evidence (selector, header, layout);
    /// this table documents the history and bounds the search.
    #[serde(default)]
    pub versions: Vec<FormatVersion>,
    #[serde(default)]
    pub starknet: Option<StarknetChain>,
    #[serde(default)]
    pub zksync: Option<ZksyncChain>,
}

/// A format version and where it began.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatVersion {
    pub name: String,
    pub from_l1_block: u64,
    /// What changed (selector, event, DA layout).
    #[serde(default)]
    pub note: String,
}

impl ChainConfig {
    /// The L1 contracts whose calls the follower reads: a transaction it uses
    /// must call one of them (see `l1::verify::VerifiedBlock::transaction`).
    pub fn l1_contracts(&self) -> Vec<Address> {
        let starknet = self
            .starknet
            .iter()
            .flat_map(|s| std::iter::once(s.core_contract).chain(s.memory_page_registry));
        let zksync = self.zksync.iter().map(|z| z.diamond_proxy);
        starknet.chain(zksync).collect()
    }

    /// The compressed DA layout in force at `l1_block` according to the
    /// version table. v0.13.3 and v0.13.4 share one wire format, so when the
    /// data alone cannot tell them apart (no write to the alias contract) the
    /// follower breaks the tie with this; `None` when the table is silent.
    pub fn starknet_compressed_layout(
        &self,
        l1_block: u64,
    ) -> Option<crate::rollup::starknet::da::Layout> {
        use crate::rollup::starknet::da::Layout;
        let current = self
            .versions
            .iter()
            .rev()
            .find(|v| v.from_l1_block <= l1_block)?;
        let version: Vec<u64> = current
            .name
            .trim_start_matches('v')
            .split('.')
            .map(|p| p.parse().unwrap_or(0))
            .collect();
        match version.as_slice() {
            [0, 13, 3, ..] => Some(Layout::V0_13_3),
            [0, 13, p, ..] if *p >= 4 => Some(Layout::V0_13_4),
            [0, minor, ..] if *minor >= 14 => Some(Layout::V0_13_4),
            _ => None,
        }
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
    /// (Starknet v0.14.0); absent = never.
    #[serde(default)]
    pub v0_14_from_l2_block: Option<u64>,
}

impl StarknetChain {
    /// The global-root rule of a batch ending at `l2_block`.
    pub fn root_rule(&self, l2_block: u64) -> GlobalRootRule {
        match self.v0_14_from_l2_block {
            Some(first) if l2_block >= first => GlobalRootRule::V0_14,
            _ => GlobalRootRule::PreV0_14,
        }
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
}

fn default_log_range() -> u64 {
    2_000
}

/// Chain-config errors.
#[derive(Debug, thiserror::Error)]
pub enum ChainConfigError {
    #[error("reading chain config {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("chain config {path}: {source}")]
    Parse {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("chain config {path}: {detail}")]
    Invalid { path: String, detail: String },
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
        if config.log_range == 0 {
            return Err(invalid("log_range must be at least 1"));
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
