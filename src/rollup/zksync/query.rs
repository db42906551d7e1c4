//! Reads of the ZKsync state as of any committed batch (time travel) and
//! Merkle proofs against that batch's root, plus the storage layout of the
//! system contracts the API reads balances and nonces from.
//!
//! Every slot is addressed by its derived key `blake2s(12 zero bytes ‖
//! address ‖ key)` ([`super::derived_key`]). Values come from the history
//! column (the last change at or before the batch); proofs walk the tree from
//! the root recorded for the batch, whose nodes are never deleted.
//!
//! System contract layouts (era-contracts `system-contracts/contracts`,
//! Solidity storage rules, compiled with zksolc, which keeps them):
//!
//! * `L2BaseToken` (0x…800a) holds ETH: `mapping(address => uint256) balance`
//!   is its first state variable (slot 0), so an account's balance is at
//!   `keccak256(pad32(account) ‖ pad32(0))`.
//! * `NonceHolder` (0x…8003): `mapping(uint256 => uint256) rawNonces` at slot 0,
//!   keyed by `uint256(uint160(account))`, so the slot is again
//!   `keccak256(pad32(account) ‖ pad32(0))` — the same formula as zksync-era's
//!   `get_nonce_key` (`get_address_mapping_key(account, H256::zero())`), not the
//!   bare address. The value packs `deploymentNonce · 2^128 + minNonce`: the
//!   high 128 bits count CREATE deployments, the low 128 bits are the
//!   transaction nonce (`minNonce`).

use alloy_primitives::{Address, B256, U256, keccak256};

use super::derived_key;
use super::state::{BatchRecord, StateError, ZksyncTip, leaf_at, read_checkpoint, read_record};
use super::tree::{Tree, TreeError, TreeKey, empty_hashes, hash_leaf};
use crate::store::Store;

/// The NonceHolder system contract.
pub const NONCE_HOLDER: Address = Address::new([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x03,
]);
/// The L2BaseToken system contract (ETH on Era).
pub const L2_BASE_TOKEN: Address = Address::new([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x0a,
]);

/// The slot of `account`'s entry in a Solidity `mapping(address => _)` whose
/// base slot is `position`: `keccak256(pad32(account) ‖ position)`.
pub fn mapping_slot(account: &Address, position: &B256) -> B256 {
    let mut input = [0u8; 64];
    input[12..32].copy_from_slice(account.as_slice());
    input[32..].copy_from_slice(position.as_slice());
    keccak256(input)
}

/// The NonceHolder slot of `account` (see the module docs).
pub fn nonce_slot(account: &Address) -> B256 {
    mapping_slot(account, &B256::ZERO)
}

/// The L2BaseToken balance slot of `account` (see the module docs).
pub fn base_token_balance_slot(account: &Address) -> B256 {
    mapping_slot(account, &B256::ZERO)
}

/// An account's two nonces, unpacked from its NonceHolder word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nonces {
    /// Transaction nonce (`minNonce`, low 128 bits).
    pub transaction: U256,
    /// CREATE deployment nonce (high 128 bits).
    pub deployment: U256,
}

impl Nonces {
    /// Splits a NonceHolder storage word into its two nonces.
    pub fn unpack(raw: &B256) -> Self {
        let raw = U256::from_be_bytes(raw.0);
        Nonces {
            transaction: raw & U256::from(u128::MAX),
            deployment: raw.wrapping_shr(128),
        }
    }
}

/// A slot's value with its Merkle proof against the batch's state root; see
/// [`super::tree::TreeProof`] for the path format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZksyncStorageProof {
    /// Batch whose state is proved.
    pub batch: u64,
    /// Contract of the slot.
    pub address: Address,
    /// Storage key.
    pub key: B256,
    /// Tree key: `blake2s(bytes12(0) ‖ address ‖ key)`.
    pub derived_key: B256,
    /// Enumeration index of the leaf, 0 when the slot was never written.
    pub leaf_index: u64,
    /// Value at the batch (zero when never written).
    pub value: B256,
    /// The batch's computed state root.
    pub root: B256,
    /// Sibling hashes from the leaf up, shortened as [`super::tree::TreeProof`] describes.
    pub merkle_path: Vec<B256>,
}

/// Errors of historical reads.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The state could not be read.
    #[error(transparent)]
    State(#[from] StateError),
    /// The tree could not be read or the proof built.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// The batch asked for is beyond the last applied batch.
    #[error("batch {requested} is not applied yet (last applied: {last:?})")]
    BatchNotApplied {
        /// Batch asked for.
        requested: u64,
        /// Last applied batch, `None` before genesis.
        last: Option<u64>,
    },
    /// The tree leaf and the value history disagree for a slot: the store is corrupt.
    #[error("slot {derived_key} at batch {batch}: the tree's leaf disagrees with the history")]
    Inconsistent {
        /// Tree key of the slot.
        derived_key: B256,
        /// Batch read.
        batch: u64,
    },
}

/// Historical reads over a ZKsync store.
pub struct ZksyncReader<'s> {
    store: &'s Store,
}

impl<'s> ZksyncReader<'s> {
    /// A reader over `store`.
    pub fn new(store: &'s Store) -> Self {
        ZksyncReader { store }
    }

    /// The engine's checkpoint, `None` before genesis.
    pub fn checkpoint(&self) -> Result<Option<ZksyncTip>, QueryError> {
        Ok(read_checkpoint(self.store)?)
    }

    /// The last applied batch (0 = genesis), `None` before genesis.
    pub fn last_batch(&self) -> Result<Option<u64>, QueryError> {
        Ok(self.checkpoint()?.map(|c| c.batch))
    }

    /// The record of a committed batch, or a clear error when it is not applied.
    pub fn record(&self, batch: u64) -> Result<BatchRecord, QueryError> {
        let last = self.last_batch()?;
        let not_applied = QueryError::BatchNotApplied {
            requested: batch,
            last,
        };
        if last.is_none_or(|last| batch > last) {
            return Err(not_applied);
        }
        read_record(self.store, batch)?.ok_or(not_applied)
    }

    /// A slot's (enumeration index, value) as of `batch`; (0, 0) when never written.
    pub fn slot_at(
        &self,
        address: &Address,
        key: &B256,
        batch: u64,
    ) -> Result<(u64, B256), QueryError> {
        self.record(batch)?;
        let derived = derived_key(address, key);
        Ok(leaf_at(self.store, &derived, batch)?.unwrap_or((0, B256::ZERO)))
    }

    /// A slot's value as of `batch` (0 when never written).
    pub fn storage_at(
        &self,
        address: &Address,
        key: &B256,
        batch: u64,
    ) -> Result<B256, QueryError> {
        Ok(self.slot_at(address, key, batch)?.1)
    }

    /// A slot's value with its Merkle proof against the root of `batch`.
    pub fn storage_proof(
        &self,
        address: &Address,
        key: &B256,
        batch: u64,
    ) -> Result<ZksyncStorageProof, QueryError> {
        let record = self.record(batch)?;
        let derived = derived_key(address, key);
        let (leaf_index, value) = leaf_at(self.store, &derived, batch)?.unwrap_or((0, B256::ZERO));
        let proof =
            Tree::new(self.store, record.computed_root).proof(&TreeKey::from_derived(&derived))?;
        // The value comes from history, the path from the tree: refuse to hand out
        // a proof that cannot verify because the two disagree.
        let expected_leaf = hash_leaf(leaf_index, &value);
        if proof.leaf_hash.unwrap_or(empty_hashes()[0]) != expected_leaf {
            return Err(QueryError::Inconsistent {
                derived_key: derived,
                batch,
            });
        }
        Ok(ZksyncStorageProof {
            batch,
            address: *address,
            key: *key,
            derived_key: derived,
            leaf_index,
            value,
            root: record.computed_root,
            merkle_path: proof.merkle_path.into_iter().map(B256::from).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_word_splits_into_deployment_and_transaction_nonces() {
        let mut raw = [0u8; 32];
        raw[15] = 3; // deployment nonce 3 (bit 128 and up)
        raw[31] = 7; // transaction nonce 7
        let nonces = Nonces::unpack(&B256::from(raw));
        assert_eq!(nonces.deployment, U256::from(3));
        assert_eq!(nonces.transaction, U256::from(7));
    }

    #[test]
    fn mapping_slot_is_keccak_of_padded_key_and_position() {
        // keccak256(pad32(0x01) ‖ pad32(0)), a well-known Solidity mapping slot.
        let account = Address::with_last_byte(1);
        assert_eq!(
            format!("{:x}", mapping_slot(&account, &B256::ZERO)),
            "ada5013122d395ba3c54772283fb069b10426056ef8ca54750cb9bb552a59e7d"
        );
    }
}
