//! Reads of the Starknet state as of any committed batch (time travel) and
//! Merkle proofs against that batch's root.
//!
//! Flat values come from the `history` column (the last change at or before the
//! batch); proofs walk the tries from the roots recorded for the batch, whose
//! nodes are never deleted.

use alloy_primitives::U256;
use serde::{Deserialize, Serialize};
use starknet_types_core::felt::Felt;

use super::hash::{PedersenHasher, PoseidonHasher, pedersen};
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
    /// The batch the value is read as of.
    pub batch: u64,
    /// The contract address (contracts-trie path).
    pub address: Felt,
    /// The storage key (storage-trie path).
    pub key: Felt,
    /// The value at `key` after the batch; 0 when never written.
    pub value: Felt,
    /// The batch's state root, the one L1 accepted.
    pub global_root: Felt,
    /// How `global_root` follows from `contracts_root` and `classes_root`.
    pub global_root_formula: GlobalRootFormula,
    /// Contracts-trie root after the batch.
    pub contracts_root: Felt,
    /// Classes-trie root after the batch.
    pub classes_root: Felt,
    /// The contract's class hash, an input of its contracts-trie leaf.
    pub class_hash: Felt,
    /// The contract's nonce, an input of its contracts-trie leaf.
    pub nonce: Felt,
    /// Root of the contract's storage trie, an input of its contracts-trie leaf.
    pub storage_root: Felt,
    /// Contracts-trie nodes from `contracts_root` down to the contract's leaf.
    pub contract_proof: Vec<ProofNode>,
    /// Storage-trie nodes from `storage_root` down to the slot.
    pub storage_proof: Vec<ProofNode>,
}

/// Errors of historical reads.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The store failed or holds a damaged record.
    #[error(transparent)]
    State(#[from] StateError),
    /// The request names a batch after the last committed one.
    #[error("batch {requested} is not applied yet (last applied: {last:?})")]
    BatchNotApplied {
        /// The batch asked for.
        requested: u64,
        /// The last committed batch; `None` before the first.
        last: Option<u64>,
    },
    /// Contract addresses and storage keys are trie paths of 251 bits; a felt
    /// at or above 2^251 names no slot (it is not "absent", it is impossible).
    #[error("{what} {value:#x} is not below 2^251, so no Starknet trie can hold it")]
    KeyOutOfRange {
        /// `contract address` or `storage key`.
        what: &'static str,
        /// The felt given.
        value: Felt,
    },
    /// A limb of the balance slots is 2^128 or more, so the token does not keep
    /// an OpenZeppelin/StarkGate u256 balance there.
    #[error(
        "token {token:#x} does not hold a u256 balance for {account:#x}: a limb exceeds 128 bits"
    )]
    NotU256 {
        /// The token contract.
        token: Felt,
        /// The account whose balance was read.
        account: Felt,
    },
}

impl QueryError {
    /// Errors that describe the caller's request, as opposed to the store.
    pub fn is_client_error(&self) -> bool {
        !matches!(self, QueryError::State(_))
    }
}

/// The ETH fee token (StarkGate), the same address on mainnet and Sepolia.
pub const ETH_TOKEN: &str = "0x49d36570d4e46f48e99674bd3fcc84644ddd6b96f7c741b1562b82f9e004dc7";
/// The STRK fee token, the same address on mainnet and Sepolia.
pub const STRK_TOKEN: &str = "0x4718f5a0fc34cc1af16a1cdee98ffb20c31f5cd61d6ab07201858f4287c938d";

/// Storage addresses are reduced below `2^251 - 256` so that every slot of a
/// storage item of up to 256 felts stays below 2^251: cairo-lang
/// `starkware/starknet/public/abi.py` (`get_storage_var_address` returns
/// `res % ADDR_BOUND`) with `ADDR_BOUND = 2**251 - MAX_STORAGE_ITEM_SIZE` and
/// `MAX_STORAGE_ITEM_SIZE = 256` (`starkware/starknet/core/storage/storage.cairo`).
#[allow(
    clippy::arithmetic_side_effects,
    reason = "constants: 2^251 - 256 fits 256 bits"
)]
fn addr_bound() -> U256 {
    (U256::from(1u8) << 251) - U256::from(256u16)
}

/// 2^251: contract addresses and storage keys are paths of the height-251 tries.
#[allow(
    clippy::arithmetic_side_effects,
    reason = "constant: 2^251 fits 256 bits"
)]
fn key_bound() -> U256 {
    U256::from(1u8) << 251
}

fn felt_u256(felt: &Felt) -> U256 {
    U256::from_be_bytes(felt.to_bytes_be())
}

/// Starknet's keccak: keccak-256 truncated to 250 bits (storage variable names).
pub fn sn_keccak(data: &[u8]) -> Felt {
    let mut hash = alloy_primitives::keccak256(data).0;
    hash[0] &= 0x03;
    Felt::from_bytes_be(&hash)
}

/// The storage slot of an account's balance (its low limb; the high limb is the
/// next slot) in an OpenZeppelin/StarkGate ERC-20: the storage variable
/// `ERC20_balances` at `account`, reduced as `get_storage_var_address` does.
pub fn erc20_balance_slot(account: &Felt) -> Felt {
    let hash = felt_u256(&pedersen(&sn_keccak(b"ERC20_balances"), account));
    let bound = addr_bound();
    // A felt is below 2^252 < 2 * bound, so one subtraction reduces it.
    let reduced = hash.checked_sub(bound).unwrap_or(hash);
    Felt::from_bytes_be(&reduced.to_be_bytes::<32>())
}

/// A fee token by name (`ETH`, `STRK`), or `None` for anything else.
pub fn fee_token(name: &str) -> Option<Felt> {
    match name {
        "ETH" => Felt::from_hex(ETH_TOKEN).ok(),
        "STRK" => Felt::from_hex(STRK_TOKEN).ok(),
        _ => None,
    }
}

/// Refuses a felt that cannot be a trie path.
fn trie_key(what: &'static str, value: &Felt) -> Result<(), QueryError> {
    if felt_u256(value) >= key_bound() {
        return Err(QueryError::KeyOutOfRange {
            what,
            value: *value,
        });
    }
    Ok(())
}

/// Historical reads over a Starknet store.
pub struct StarknetReader<'s> {
    store: &'s Store,
}

impl<'s> StarknetReader<'s> {
    /// A reader over `store`; it reads only committed batches.
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
        // Every batch up to the last applied one has a record: a missing
        // one is a damaged store, not a batch "not applied yet".
        Ok(StarknetState::new(self.store)
            .batch_roots(batch)?
            .ok_or_else(|| StateError::Corrupt {
                what: "batch record",
                detail: format!(
                    "batch {batch} is applied (the last applied is {last:?}) but its record is missing"
                ),
            })?)
    }

    /// A storage slot's value as of `batch`.
    pub fn storage_at(&self, address: &Felt, key: &Felt, batch: u64) -> Result<Felt, QueryError> {
        trie_key("storage key", key)?;
        trie_key("contract address", address)?;
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
        trie_key("contract address", address)?;
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
        trie_key("storage key", key)?;
        trie_key("contract address", address)?;
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

    /// An ERC-20 balance as of `batch`: the u256 whose low and high limbs are
    /// the slots [`erc20_balance_slot`] and the next one.
    #[allow(
        clippy::arithmetic_side_effects,
        reason = "`slot + 1` is felt addition, modular by definition (and the slot is below 2^251 - 256)"
    )]
    pub fn erc20_balance(
        &self,
        token: &Felt,
        account: &Felt,
        batch: u64,
    ) -> Result<U256, QueryError> {
        let slot = erc20_balance_slot(account);
        let low = felt_u256(&self.storage_at(token, &slot, batch)?);
        let high = felt_u256(&self.storage_at(token, &(slot + Felt::ONE), batch)?);
        if low.bit_len() > 128 || high.bit_len() > 128 {
            return Err(QueryError::NotU256 {
                token: *token,
                account: *account,
            });
        }
        // `high` has at most 128 bits: the shift loses none.
        Ok(high.wrapping_shl(128) | low)
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
            Some((key, value)) if key.len() == leaf.len().saturating_add(8) => value,
            _ => Vec::new(),
        })
    }
}
