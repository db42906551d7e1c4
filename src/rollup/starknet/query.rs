//! Reads of the Starknet state as of any committed batch (time travel) and
//! Merkle proofs against that batch's root.
//!
//! Flat values come from the `history` column (the last change at or before the
//! batch); proofs walk the tries from the roots recorded for the batch, whose
//! nodes are never deleted.

use serde::{Deserialize, Serialize};
use starknet_types_core::felt::Felt;

use super::hash::{PedersenHasher, PoseidonHasher};
use super::state::{BatchRoots, ContractState, StarknetState, StateError};
use super::trie::{ProofNode, Trie};
use crate::store::{Column, Store, keys};

/// How the batch's global root is formed from the two trie roots, so a client
/// can check it without knowing Starknet's version history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GlobalRootFormula {
    /// `poseidon_hash_many("STARKNET_STATE_V0", contracts_root, classes_root)`.
    Poseidon,
    /// The contracts root itself (before v0.14.0, while the classes root is 0).
    ContractsRoot,
    /// Both roots are 0.
    Empty,
}

/// A storage value with everything needed to check it against the batch's
/// global root without trusting zkreplay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageProof {
    pub batch: u64,
    pub address: Felt,
    pub key: Felt,
    pub value: Felt,
    pub global_root: Felt,
    pub global_root_formula: GlobalRootFormula,
    pub contracts_root: Felt,
    pub classes_root: Felt,
    pub class_hash: Felt,
    pub nonce: Felt,
    pub storage_root: Felt,
    /// Contracts-trie nodes from `contracts_root` down to the contract's leaf.
    pub contract_proof: Vec<ProofNode>,
    /// Storage-trie nodes from `storage_root` down to the slot.
    pub storage_proof: Vec<ProofNode>,
}

/// Errors of historical reads.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("batch {requested} is not applied yet (last applied: {last:?})")]
    BatchNotApplied { requested: u64, last: Option<u64> },
}

/// Historical reads over a Starknet store.
pub struct StarknetReader<'s> {
    store: &'s Store,
}

impl<'s> StarknetReader<'s> {
    pub fn new(store: &'s Store) -> Self {
        StarknetReader { store }
    }

    /// The last committed batch, if any.
    pub fn last_batch(&self) -> Result<Option<u64>, QueryError> {
        Ok(StarknetState::new(self.store)
            .checkpoint()?
            .next_batch
            .checked_sub(1))
    }

    /// The roots of a committed batch, or a clear error when it is not applied.
    pub fn roots(&self, batch: u64) -> Result<BatchRoots, QueryError> {
        let last = self.last_batch()?;
        if last.is_none_or(|last| batch > last) {
            return Err(QueryError::BatchNotApplied {
                requested: batch,
                last,
            });
        }
        StarknetState::new(self.store)
            .batch_roots(batch)?
            .ok_or(QueryError::BatchNotApplied {
                requested: batch,
                last,
            })
    }

    /// A storage slot's value as of `batch`.
    pub fn storage_at(&self, address: &Felt, key: &Felt, batch: u64) -> Result<Felt, QueryError> {
        self.roots(batch)?;
        let leaf = keys::leaf(
            keys::LEAF_STARKNET_STORAGE,
            &[&address.to_bytes_be(), &key.to_bytes_be()],
        );
        let bytes = self.value_at(&leaf, batch)?;
        Ok(if bytes.len() == 32 {
            Felt::from_bytes_be_slice(&bytes)
        } else {
            Felt::ZERO
        })
    }

    /// A contract's class hash, storage root and nonce as of `batch`.
    pub fn contract_at(&self, address: &Felt, batch: u64) -> Result<ContractState, QueryError> {
        self.roots(batch)?;
        let leaf = keys::leaf(keys::LEAF_STARKNET_CONTRACT, &[&address.to_bytes_be()]);
        let bytes = self.value_at(&leaf, batch)?;
        if bytes.is_empty() {
            return Ok(ContractState::default());
        }
        Ok(ContractState::decode(&bytes)?)
    }

    /// The compiled class hash of a declared class as of `batch` (0 if undeclared).
    pub fn compiled_class_hash_at(
        &self,
        class_hash: &Felt,
        batch: u64,
    ) -> Result<Felt, QueryError> {
        self.roots(batch)?;
        let leaf = keys::leaf(keys::LEAF_STARKNET_CLASS, &[&class_hash.to_bytes_be()]);
        let bytes = self.value_at(&leaf, batch)?;
        Ok(if bytes.len() == 32 {
            Felt::from_bytes_be_slice(&bytes)
        } else {
            Felt::ZERO
        })
    }

    /// A storage value with its Merkle proof against the global root of `batch`.
    pub fn storage_proof(
        &self,
        address: &Felt,
        key: &Felt,
        batch: u64,
    ) -> Result<StorageProof, QueryError> {
        let roots = self.roots(batch)?;
        let contract = self.contract_at(address, batch)?;
        let (value, storage_proof) = Trie::<_, PedersenHasher>::new(self.store)
            .get_with_proof(contract.storage_root, key)
            .map_err(StateError::from)?;
        let (_, contract_proof) = Trie::<_, PedersenHasher>::new(self.store)
            .get_with_proof(roots.contracts_root, address)
            .map_err(StateError::from)?;
        let global_root_formula = if roots.global_root == Felt::ZERO {
            GlobalRootFormula::Empty
        } else if roots.classes_root == Felt::ZERO && roots.global_root == roots.contracts_root {
            GlobalRootFormula::ContractsRoot
        } else {
            GlobalRootFormula::Poseidon
        };
        Ok(StorageProof {
            batch,
            address: *address,
            key: *key,
            value,
            global_root: roots.global_root,
            global_root_formula,
            contracts_root: roots.contracts_root,
            classes_root: roots.classes_root,
            class_hash: contract.class_hash,
            nonce: contract.nonce,
            storage_root: contract.storage_root,
            contract_proof,
            storage_proof,
        })
    }

    /// Whether `class_hash` is in the classes trie of `batch`, with its proof.
    pub fn class_proof(
        &self,
        class_hash: &Felt,
        batch: u64,
    ) -> Result<(Felt, Vec<ProofNode>), QueryError> {
        let roots = self.roots(batch)?;
        Ok(Trie::<_, PoseidonHasher>::new(self.store)
            .get_with_proof(roots.classes_root, class_hash)
            .map_err(StateError::from)?)
    }

    /// The raw history entry of a leaf at or before `batch` (empty = zero / absent).
    fn value_at(&self, leaf: &[u8], batch: u64) -> Result<Vec<u8>, QueryError> {
        let entry = self
            .store
            .get_at_or_before(Column::History, leaf, &keys::history(leaf, batch))
            .map_err(StateError::from)?;
        // The prefix check alone is not enough: a longer key could share the prefix, so
        // require exactly one batch suffix.
        Ok(match entry {
            Some((key, value)) if key.len() == leaf.len() + 8 => value,
            _ => Vec::new(),
        })
    }
}
