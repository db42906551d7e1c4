//! Starknet feeder-gateway state updates (`get_state_update`), the format
//! Starknet nodes and explorers serve and our Sepolia fixtures use.
//!
//! Both shapes of `storage_diffs` are accepted: the gateway's map
//! `{address: [{key, value}]}` and the list `[{address, storage_entries}]`
//! some clients emit. `nonces` likewise as a map or a list.

use std::collections::BTreeMap;

use alloy_primitives::B256;
use serde::Deserialize;

use crate::diff::{ContractDiff, StateDiff};
use crate::hexfmt::{HexError, parse_word};

/// Why a state-update file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum FeederError {
    /// The file is not JSON of the `get_state_update` shape.
    #[error("not a state update: {0}")]
    Json(#[from] serde_json::Error),
    /// A hash, address, key or value is not valid hex of at most 32 bytes.
    #[error("bad hex in {field}: {source}")]
    Hex {
        /// Which value, e.g. `contract address`.
        field: &'static str,
        /// What is wrong with the hex.
        source: HexError,
    },
}

/// A parsed state update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeederStateUpdate {
    /// The L2 block hash, when the file gives one.
    pub block_hash: Option<B256>,
    /// The global state root before the update, when given.
    pub old_root: Option<B256>,
    /// The global state root after the update, when given.
    pub new_root: Option<B256>,
    /// The update's storage, nonce, deployment and class changes.
    pub diff: StateDiff,
}

#[derive(Deserialize)]
struct RawUpdate {
    block_hash: Option<String>,
    old_root: Option<String>,
    new_root: Option<String>,
    state_diff: RawDiff,
}

#[derive(Deserialize)]
struct RawDiff {
    #[serde(default)]
    storage_diffs: Option<RawStorageDiffs>,
    #[serde(default)]
    nonces: Option<RawNonces>,
    #[serde(default)]
    deployed_contracts: Vec<RawAddressClass>,
    #[serde(default)]
    replaced_classes: Vec<RawAddressClass>,
    #[serde(default)]
    declared_classes: Vec<RawDeclared>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawStorageDiffs {
    Map(BTreeMap<String, Vec<RawEntry>>),
    List(Vec<RawContractStorage>),
}

#[derive(Deserialize)]
struct RawContractStorage {
    address: String,
    storage_entries: Vec<RawEntry>,
}

#[derive(Deserialize)]
struct RawEntry {
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawNonces {
    Map(BTreeMap<String, String>),
    List(Vec<RawNonce>),
}

#[derive(Deserialize)]
struct RawNonce {
    contract_address: String,
    nonce: String,
}

#[derive(Deserialize)]
struct RawAddressClass {
    address: String,
    class_hash: String,
}

#[derive(Deserialize)]
struct RawDeclared {
    class_hash: String,
    compiled_class_hash: String,
}

/// Parses a feeder-gateway state update.
pub fn parse_state_update(json: &[u8]) -> Result<FeederStateUpdate, FeederError> {
    let raw: RawUpdate = serde_json::from_slice(json)?;
    let word = |field: &'static str, text: &str| {
        parse_word(text).map_err(|source| FeederError::Hex { field, source })
    };
    let optional = |field: &'static str, text: &Option<String>| {
        text.as_deref().map(|t| word(field, t)).transpose()
    };

    let mut diff = StateDiff::default();
    let entries: Vec<(String, Vec<RawEntry>)> = match raw.state_diff.storage_diffs {
        None => Vec::new(),
        Some(RawStorageDiffs::Map(map)) => map.into_iter().collect(),
        Some(RawStorageDiffs::List(list)) => list
            .into_iter()
            .map(|c| (c.address, c.storage_entries))
            .collect(),
    };
    for (address, writes) in entries {
        let contract = diff
            .contracts
            .entry(word("storage_diffs address", &address)?)
            .or_default();
        for entry in writes {
            contract.storage.insert(
                word("storage key", &entry.key)?,
                word("storage value", &entry.value)?,
            );
        }
    }
    let nonces: Vec<(String, String)> = match raw.state_diff.nonces {
        None => Vec::new(),
        Some(RawNonces::Map(map)) => map.into_iter().collect(),
        Some(RawNonces::List(list)) => list
            .into_iter()
            .map(|n| (n.contract_address, n.nonce))
            .collect(),
    };
    for (address, nonce) in nonces {
        contract_entry(&mut diff, word("nonces address", &address)?).nonce =
            Some(word("nonce", &nonce)?);
    }
    // A class replacement in the same block as a deployment wins: the feeder lists
    // deployments first, and the final class is the replaced one.
    for deployed in raw
        .state_diff
        .deployed_contracts
        .iter()
        .chain(&raw.state_diff.replaced_classes)
    {
        contract_entry(&mut diff, word("contract address", &deployed.address)?).class_hash =
            Some(word("class hash", &deployed.class_hash)?);
    }
    for declared in raw.state_diff.declared_classes {
        diff.declared_classes.insert(
            word("class hash", &declared.class_hash)?,
            word("compiled class hash", &declared.compiled_class_hash)?,
        );
    }
    Ok(FeederStateUpdate {
        block_hash: optional("block_hash", &raw.block_hash)?,
        old_root: optional("old_root", &raw.old_root)?,
        new_root: optional("new_root", &raw.new_root)?,
        diff,
    })
}

fn contract_entry(diff: &mut StateDiff, address: B256) -> &mut ContractDiff {
    diff.contracts.entry(address).or_default()
}
