//! The normalized state diff that every rollup decoder produces and every
//! state engine consumes.
//!
//! Words are 32-byte big-endian values (`B256`): a Starknet felt, a ZKsync
//! storage value or derived key. Range checks specific to a rollup (felts must
//! be below the Stark prime) happen when the diff is applied, so decoders of
//! untrusted data never have to guess what the consumer accepts.

use std::collections::BTreeMap;

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

/// Everything one batch changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateDiff {
    /// Per-contract changes, keyed by contract address.
    pub contracts: BTreeMap<B256, ContractDiff>,
    /// Classes declared in this batch: class hash -> compiled class hash (Starknet).
    pub declared_classes: BTreeMap<B256, B256>,
    /// Writes addressed only by a derived key, in published order (ZKsync publishes
    /// `blake2s(address, key)` rather than the pair, and the order of first writes
    /// fixes their enumeration indices, so this must stay a sequence).
    pub derived_writes: Vec<(B256, B256)>,
}

/// What one batch changes in one contract.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractDiff {
    /// Storage key -> new value. A zero value deletes the slot.
    pub storage: BTreeMap<B256, B256>,
    /// New nonce, when it changed.
    pub nonce: Option<B256>,
    /// New class hash, when the contract was deployed or its class replaced.
    pub class_hash: Option<B256>,
}

impl StateDiff {
    /// True when the diff changes nothing.
    pub fn is_empty(&self) -> bool {
        self.contracts.is_empty()
            && self.declared_classes.is_empty()
            && self.derived_writes.is_empty()
    }

    /// Number of storage writes (contract storage plus derived-key writes).
    pub fn storage_write_count(&self) -> usize {
        self.contracts
            .values()
            .map(|c| c.storage.len())
            .sum::<usize>()
            + self.derived_writes.len()
    }

    /// Merges `later` into `self`, later writes winning: the diff of two
    /// consecutive batches applied as one.
    pub fn squash(&mut self, later: StateDiff) {
        for (address, diff) in later.contracts {
            let entry = self.contracts.entry(address).or_default();
            entry.storage.extend(diff.storage);
            if diff.nonce.is_some() {
                entry.nonce = diff.nonce;
            }
            if diff.class_hash.is_some() {
                entry.class_hash = diff.class_hash;
            }
        }
        self.declared_classes.extend(later.declared_classes);
        self.derived_writes.extend(later.derived_writes);
    }
}
