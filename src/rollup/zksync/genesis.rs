//! Genesis state and chain parameters, read from files (never compiled in),
//! so another ZK Stack chain needs a file, not a code change.
//!
//! Genesis leaves: the chain's genesis storage logs sorted by (address, key
//! as a number, operation number), the last value per slot kept, enumeration
//! indices 1..=n in that order; the next free index is n + 1.
//! Accepted formats: the zksync-era `InitialState*.json` (`storage_logs`) and
//! the Postgres `storage_logs` CSV dump (rows with `miniblock_number` 0).

use std::path::Path;

use alloy_primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

use super::derived_key;
use super::tree::{self, TreeError};
use crate::hexfmt;

/// Why a genesis or chain file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The genesis or chain file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// File path.
        path: String,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The JSON genesis file does not parse as `InitialState*.json`.
    #[error("genesis JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A row of the `storage_logs` CSV dump is malformed.
    #[error("genesis CSV line {line}: {detail}")]
    Csv {
        /// Line number in the file (1-based).
        line: usize,
        /// What is wrong with the row.
        detail: String,
    },
    /// A log's published `hashed_key` is not `blake2s(bytes12(0) ‖ address ‖ key)`: the file is inconsistent.
    #[error(
        "genesis log {index}: derived key {found} does not match blake2s(address, key) = {expected}"
    )]
    DerivedKeyMismatch {
        /// Position of the log in the file.
        index: usize,
        /// The published derived key.
        found: B256,
        /// The computed derived key.
        expected: B256,
    },
    /// Building the genesis tree failed.
    #[error(transparent)]
    Tree(#[from] TreeError),
}

/// One genesis storage log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageLog {
    /// Contract whose storage the log writes.
    pub address: Address,
    /// Storage key.
    pub key: B256,
    /// Value written.
    pub value: B256,
    /// Order of the write within the same slot; the last one wins.
    #[serde(default)]
    pub operation_number: u64,
    /// The derived key as published, checked against the computed one when present.
    #[serde(default, alias = "hashed_key")]
    pub hashed_key: Option<B256>,
}

#[derive(Deserialize)]
struct InitialState {
    storage_logs: Vec<StorageLog>,
}

/// A genesis leaf: derived key, enumeration index, value.
pub type Leaf = (B256, u64, B256);

/// Parses `InitialState*.json`.
pub fn parse_json(text: &str) -> Result<Vec<StorageLog>, GenesisError> {
    Ok(serde_json::from_str::<InitialState>(text)?.storage_logs)
}

/// Parses the Postgres `storage_logs` CSV dump (`E'\\x…'` hex literals), keeping
/// rows with `miniblock_number` (column 7) equal to 0.
pub fn parse_csv(text: &str) -> Result<Vec<StorageLog>, GenesisError> {
    let mut logs = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let err = |detail: String| GenesisError::Csv {
            // A line index of text in memory: no overflow.
            line: n.saturating_add(1),
            detail,
        };
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() < 7 {
            return Err(err(format!("{} fields, expected at least 7", fields.len())));
        }
        if fields[6].trim() != "0" {
            continue;
        }
        let hex = |f: &str| -> Result<Vec<u8>, GenesisError> {
            let inner = f
                .trim()
                .trim_start_matches("E'")
                .trim_end_matches('\'')
                .trim_start_matches("\\\\x");
            hexfmt::parse_bytes(inner).map_err(|e| err(e.to_string()))
        };
        let word = |f: &str| -> Result<B256, GenesisError> {
            let bytes = hex(f)?;
            (bytes.len() == 32)
                .then(|| B256::from_slice(&bytes))
                .ok_or_else(|| err(format!("expected 32 bytes in {f}")))
        };
        let address = hex(fields[1])?;
        if address.len() != 20 {
            return Err(err("address is not 20 bytes".into()));
        }
        logs.push(StorageLog {
            address: Address::from_slice(&address),
            key: word(fields[2])?,
            value: word(fields[3])?,
            operation_number: fields[4]
                .trim()
                .parse()
                .map_err(|_| err("bad operation_number".into()))?,
            hashed_key: Some(word(fields[0])?),
        });
    }
    Ok(logs)
}

/// Reads a genesis file, JSON or CSV by content.
pub fn load(path: &Path) -> Result<Vec<StorageLog>, GenesisError> {
    let text = std::fs::read_to_string(path).map_err(|source| GenesisError::Io {
        path: path.display().to_string(),
        source,
    })?;
    if text.trim_start().starts_with('{') {
        parse_json(&text)
    } else {
        parse_csv(&text)
    }
}

/// The genesis leaves in index order (1..=n).
pub fn leaves(logs: &[StorageLog]) -> Result<Vec<Leaf>, GenesisError> {
    let mut sorted: Vec<(usize, &StorageLog)> = logs.iter().enumerate().collect();
    sorted.sort_by_key(|(_, l)| (l.address, U256::from_be_bytes(l.key.0), l.operation_number));
    let mut out: Vec<(Address, B256, B256)> = Vec::new();
    for (index, log) in sorted {
        let expected = derived_key(&log.address, &log.key);
        if let Some(found) = log.hashed_key
            && found != expected
        {
            return Err(GenesisError::DerivedKeyMismatch {
                index,
                found,
                expected,
            });
        }
        match out.last_mut() {
            Some(last) if last.0 == log.address && last.1 == log.key => last.2 = log.value,
            _ => out.push((log.address, log.key, log.value)),
        }
    }
    Ok(out
        .into_iter()
        .enumerate()
        // Enumeration indices start at 1; `i` counts logs in memory.
        .map(|(i, (a, k, v))| (derived_key(&a, &k), (i as u64).saturating_add(1), v))
        .collect())
}

/// The genesis root of a set of storage logs.
pub fn root(logs: &[StorageLog]) -> Result<B256, GenesisError> {
    Ok(tree::root_of(&leaves(logs)?)?)
}

/// Where a chain's pubdata goes once it settles on a Gateway chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayConfig {
    /// First batch settled on the Gateway.
    pub first_batch: u64,
    /// The RelayedSLDAValidator on the Gateway (sender of the relayed pubdata messages).
    pub relayed_da_validator: Option<Address>,
    /// The chain's diamond proxy on the Gateway (sender of the Executor's messages).
    pub diamond_on_gateway: Option<Address>,
}
