//! The Starknet state: per-contract storage tries, the contracts trie and the
//! classes trie, and the applier that turns a [`StateDiff`] into new roots and
//! one atomic store commit.
//!
//! Commitment rules (cairo-lang `starknet/storage/starknet_storage.py`,
//! `business_logic/state/...`; pathfinder `merkle-tree`):
//! - contract leaf = `H(H(H(class_hash, storage_root), nonce), 0)` with Pedersen,
//!   and 0 when all three are 0 (system contracts 0x1 and 0x2 have class hash 0
//!   and nonce 0 but a storage root, so they are not empty);
//! - class leaf = `Poseidon("CONTRACT_CLASS_LEAF_V0", compiled_class_hash)`, 0 deletes;
//! - global root = `poseidon_hash_many("STARKNET_STATE_V0", contracts_root, classes_root)`,
//!   0 when both are 0, and before v0.14.0 the contracts root itself when the
//!   classes root is 0 ([`GlobalRootRule`]).

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};
use starknet_types_core::felt::Felt;

use super::da::aliases::AliasSource;
use super::hash::{PedersenHasher, PoseidonHasher, pedersen, poseidon, poseidon_many};
use super::trie::{NewNodes, Trie, TrieError};
use crate::diff::StateDiff;
use crate::store::{Column, Store, StoreBatch, StoreError, keys};

/// Address of the system contract that maps aliases (stateful compression, v0.13.4+).
pub const ALIAS_CONTRACT: Felt = Felt::TWO;

/// How the global root combines the contracts and classes roots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum GlobalRootRule {
    /// Before Starknet v0.14.0: the contracts root alone while no Sierra class exists.
    #[default]
    #[value(name = "pre-v0.14")]
    PreV0_14,
    /// v0.14.0 and later: always the Poseidon combination (0 only when both are 0).
    #[value(name = "v0.14")]
    V0_14,
}

/// State-layer errors.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The store failed to read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A trie read or update failed (missing or damaged node, key above 2^251).
    #[error(transparent)]
    Trie(#[from] TrieError),
    /// A state-diff word (address, key, value, nonce or class hash) is not below
    /// the Stark prime, so no Starknet state can hold it.
    #[error("{what} {value} is not a Starknet felt (>= the Stark prime)")]
    NotAFelt {
        /// Which word of the diff.
        what: &'static str,
        /// The word as given.
        value: B256,
    },
    /// A record this engine wrote does not decode (or the batch counter would
    /// overflow): a damaged store, not evidence against the chain.
    #[error("corrupt {what} in the store: {detail}")]
    Corrupt {
        /// The record.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

/// Where the Starknet state stands after the last committed batch: the
/// engine's roots, stored under the checkpoint key with every batch (the
/// follower sees it as [`crate::follow::Checkpoint`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StarknetTip {
    /// Number of batches applied so far (the next batch's number).
    pub next_batch: u64,
    /// Root of the contracts trie (Pedersen, leaves per contract address).
    pub contracts_root: Felt,
    /// Root of the classes trie (Poseidon, leaves per Sierra class hash).
    pub classes_root: Felt,
    /// The global state root (by the chain's [`GlobalRootRule`]), compared with
    /// the root L1 accepted.
    pub global_root: Felt,
}

/// What applying one batch produced, stored as the batch record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRoots {
    /// The batch's number, counted from 0 in the order L1 accepted them.
    pub batch: u64,
    /// Contracts-trie root after the batch.
    pub contracts_root: Felt,
    /// Classes-trie root after the batch.
    pub classes_root: Felt,
    /// The state root after the batch, compared with the root L1 accepted.
    pub global_root: Felt,
    /// Hash invocations spent on the tries (metrics and benchmarks).
    pub hashes: u64,
}

/// A contract's leaf data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContractState {
    /// The deployed class (0 for system contracts 0x1 and 0x2 and for no contract).
    pub class_hash: Felt,
    /// Root of the contract's storage trie (Pedersen).
    pub storage_root: Felt,
    /// The account nonce (0 for contracts that never sent a transaction).
    pub nonce: Felt,
}

impl ContractState {
    /// The contracts-trie leaf: 0 for an empty contract.
    pub fn leaf_hash(&self) -> Felt {
        if *self == ContractState::default() {
            return Felt::ZERO;
        }
        let inner = pedersen(&pedersen(&self.class_hash, &self.storage_root), &self.nonce);
        pedersen(&inner, &Felt::ZERO)
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        [self.class_hash, self.storage_root, self.nonce]
            .iter()
            .flat_map(|f| f.to_bytes_be())
            .collect()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, StateError> {
        let (&[class_hash, storage_root, nonce], []) = bytes.as_chunks::<32>() else {
            return Err(StateError::Corrupt {
                what: "contract record",
                detail: format!("{} bytes", bytes.len()),
            });
        };
        Ok(ContractState {
            class_hash: Felt::from_bytes_be(&class_hash),
            storage_root: Felt::from_bytes_be(&storage_root),
            nonce: Felt::from_bytes_be(&nonce),
        })
    }
}

/// The classes-trie leaf of a compiled class hash (0 deletes).
pub fn class_leaf_hash(compiled_class_hash: &Felt) -> Felt {
    if *compiled_class_hash == Felt::ZERO {
        return Felt::ZERO;
    }
    poseidon(&short_string("CONTRACT_CLASS_LEAF_V0"), compiled_class_hash)
}

/// The global state root.
pub fn global_root(contracts_root: Felt, classes_root: Felt, rule: GlobalRootRule) -> Felt {
    if contracts_root == Felt::ZERO && classes_root == Felt::ZERO {
        return Felt::ZERO;
    }
    if rule == GlobalRootRule::PreV0_14 && classes_root == Felt::ZERO {
        return contracts_root;
    }
    poseidon_many(&[
        short_string("STARKNET_STATE_V0"),
        contracts_root,
        classes_root,
    ])
}

/// What one class entry of a batch's DA does to the classes trie. The DA has a
/// single class section (sequencer `os/state/output.cairo`,
/// `output_contract_class_da_changes`: the squashed `class_hash ->
/// compiled_class_hash` dict), so a declaration and the v0.14.1 migration of an
/// existing class's compiled class hash to Blake2s look alike on the wire; the
/// state tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassChange {
    /// The class had no leaf: a declaration.
    Declared,
    /// The class had a leaf with another compiled class hash: an update of the
    /// existing leaf (Blake2s migration, v0.14.1).
    CompiledHashUpdated {
        /// The compiled class hash the leaf held before.
        previous: Felt,
    },
    /// The entry repeats the current compiled class hash (the leaf does not change).
    Unchanged,
}

/// One class entry of a batch, classified against the state before the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassEntry {
    /// The Sierra class hash (the classes-trie key).
    pub class_hash: Felt,
    /// The compiled (CASM) class hash the entry sets.
    pub compiled_class_hash: Felt,
    /// What the entry does to the existing leaf.
    pub change: ClassChange,
}

/// The Starknet state engine over a store.
pub struct StarknetState<'s> {
    store: &'s Store,
}

impl<'s> StarknetState<'s> {
    /// The engine over `store`: [`Self::plan`] returns a batch's writes,
    /// [`Self::apply_and_commit`] also commits them.
    pub fn new(store: &'s Store) -> Self {
        StarknetState { store }
    }

    /// The checkpoint of the last committed batch (default: empty state, batch 0 next).
    pub fn checkpoint(&self) -> Result<StarknetTip, StateError> {
        match self.store.get(Column::Meta, keys::CHECKPOINT)? {
            None => Ok(StarknetTip::default()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
                what: "checkpoint",
                detail: e.to_string(),
            }),
        }
    }

    /// The current state of a contract (all zero when never deployed).
    pub fn contract(&self, address: &Felt) -> Result<ContractState, StateError> {
        let key = keys::leaf(keys::LEAF_STARKNET_CONTRACT, &[&address.to_bytes_be()]);
        self.store
            .get(Column::Leaves, &key)?
            .map(|b| ContractState::decode(&b))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// The current value of a storage slot (0 when unset).
    pub fn storage(&self, address: &Felt, key: &Felt) -> Result<Felt, StateError> {
        let leaf_key = keys::leaf(
            keys::LEAF_STARKNET_STORAGE,
            &[&address.to_bytes_be(), &key.to_bytes_be()],
        );
        Ok(self
            .store
            .get(Column::Leaves, &leaf_key)?
            .map(|b| felt_from_stored(&b))
            .transpose()?
            .unwrap_or(Felt::ZERO))
    }

    /// The compiled class hash of a class (`None` when it has no leaf).
    pub fn compiled_class_hash(&self, class_hash: &Felt) -> Result<Option<Felt>, StateError> {
        let key = keys::leaf(keys::LEAF_STARKNET_CLASS, &[&class_hash.to_bytes_be()]);
        self.store
            .get(Column::Leaves, &key)?
            .map(|b| felt_from_stored(&b))
            .transpose()
    }

    /// Classifies every class entry of `diff` against the current state, in class
    /// hash order: declarations, compiled-class-hash updates (the leaf changes) and
    /// no-op repeats. Call before [`Self::apply`] to report what a batch did.
    pub fn classify_class_entries(&self, diff: &StateDiff) -> Result<Vec<ClassEntry>, StateError> {
        diff.declared_classes
            .iter()
            .map(|(class_hash, compiled)| {
                let class_hash = to_felt("class hash", class_hash)?;
                let compiled_class_hash = to_felt("compiled class hash", compiled)?;
                let change = match self.compiled_class_hash(&class_hash)? {
                    None => ClassChange::Declared,
                    Some(previous) if previous == compiled_class_hash => ClassChange::Unchanged,
                    Some(previous) => ClassChange::CompiledHashUpdated { previous },
                };
                Ok(ClassEntry {
                    class_hash,
                    compiled_class_hash,
                    change,
                })
            })
            .collect()
    }

    /// Computes the next batch's roots from `diff` and returns them with every
    /// store change of the batch (nodes, leaves, history, batch record,
    /// checkpoint). Nothing is written until the caller commits the batch,
    /// possibly after adding its own records (audit verdict) to it.
    pub fn plan(
        &self,
        diff: &StateDiff,
        rule: GlobalRootRule,
    ) -> Result<(BatchRoots, StoreBatch), StateError> {
        let checkpoint = self.checkpoint()?;
        let batch_number = checkpoint.next_batch;
        let mut batch = StoreBatch::default();
        let mut hashes = 0u64;
        // Every leaves key this batch changes, so the batch can be unwound (L1 reorg).
        let mut undo = UndoList::default();

        let mut contract_leaves = Vec::with_capacity(diff.contracts.len());
        for (address, contract_diff) in &diff.contracts {
            let address = to_felt("contract address", address)?;
            let mut state = self.contract(&address)?;
            let mut storage_updates = Vec::with_capacity(contract_diff.storage.len());
            for (key, value) in &contract_diff.storage {
                let (key, value) = (
                    to_felt("storage key", key)?,
                    to_felt("storage value", value)?,
                );
                storage_updates.push((key, value));
                let leaf_key = keys::leaf(
                    keys::LEAF_STARKNET_STORAGE,
                    &[&address.to_bytes_be(), &key.to_bytes_be()],
                );
                undo.push(&leaf_key);
                put_leaf(&mut batch, leaf_key, value, batch_number);
                if address == ALIAS_CONTRACT && key != Felt::ZERO {
                    // Reverse index so decoders can map an alias back to the key or address it stands for.
                    let alias_key = keys::leaf(keys::LEAF_STARKNET_ALIAS, &[&value.to_bytes_be()]);
                    undo.push(&alias_key);
                    batch.put(Column::Leaves, alias_key, key.to_bytes_be());
                }
            }
            if !storage_updates.is_empty() {
                // BTreeMap order over big-endian words is numeric order, as the trie needs.
                let update = Trie::<_, PedersenHasher>::new(self.store)
                    .update(state.storage_root, &storage_updates)?;
                hashes = hashes.saturating_add(update.hashes);
                write_nodes(&mut batch, update.new_nodes);
                state.storage_root = update.root;
            }
            if let Some(nonce) = &contract_diff.nonce {
                state.nonce = to_felt("nonce", nonce)?;
            }
            if let Some(class_hash) = &contract_diff.class_hash {
                state.class_hash = to_felt("class hash", class_hash)?;
            }
            let contract_key = keys::leaf(keys::LEAF_STARKNET_CONTRACT, &[&address.to_bytes_be()]);
            let encoded = if state == ContractState::default() {
                Vec::new()
            } else {
                state.encode()
            };
            undo.push(&contract_key);
            put_raw_leaf(&mut batch, contract_key, encoded, batch_number);
            let leaf = state.leaf_hash();
            hashes = hashes.saturating_add(3);
            contract_leaves.push((address, leaf));
        }
        let contracts = Trie::<_, PedersenHasher>::new(self.store)
            .update(checkpoint.contracts_root, &contract_leaves)?;
        hashes = hashes.saturating_add(contracts.hashes);
        write_nodes(&mut batch, contracts.new_nodes);

        let mut class_leaves = Vec::with_capacity(diff.declared_classes.len());
        for (class_hash, compiled) in &diff.declared_classes {
            let (class_hash, compiled) = (
                to_felt("class hash", class_hash)?,
                to_felt("compiled class hash", compiled)?,
            );
            let leaf_key = keys::leaf(keys::LEAF_STARKNET_CLASS, &[&class_hash.to_bytes_be()]);
            undo.push(&leaf_key);
            put_leaf(&mut batch, leaf_key, compiled, batch_number);
            class_leaves.push((class_hash, class_leaf_hash(&compiled)));
            hashes = hashes.saturating_add(1);
        }
        let classes = Trie::<_, PoseidonHasher>::new(self.store)
            .update(checkpoint.classes_root, &class_leaves)?;
        hashes = hashes.saturating_add(classes.hashes);
        write_nodes(&mut batch, classes.new_nodes);

        let roots = BatchRoots {
            batch: batch_number,
            contracts_root: contracts.root,
            classes_root: classes.root,
            global_root: global_root(contracts.root, classes.root, rule),
            hashes,
        };
        let next = StarknetTip {
            next_batch: batch_number.checked_add(1).ok_or(StateError::Corrupt {
                what: "checkpoint",
                detail: "next batch 2^64 - 1 leaves no batch after it".into(),
            })?,
            contracts_root: roots.contracts_root,
            classes_root: roots.classes_root,
            global_root: roots.global_root,
        };
        batch.put(
            Column::Batches,
            keys::batch(batch_number),
            serde_json::to_vec(&roots).expect("roots serialise"),
        );
        batch.put(Column::Meta, keys::undo(batch_number), undo.0);
        batch.put(
            Column::Meta,
            keys::CHECKPOINT,
            serde_json::to_vec(&next).expect("checkpoint serialises"),
        );
        Ok((roots, batch))
    }

    /// Applies `diff` and commits it atomically; returns the new roots.
    pub fn apply_and_commit(
        &self,
        diff: &StateDiff,
        rule: GlobalRootRule,
    ) -> Result<BatchRoots, StateError> {
        let (roots, batch) = self.plan(diff, rule)?;
        self.store.commit(batch)?;
        Ok(roots)
    }

    /// The writes that undo every batch after `target` (`None`: back to the
    /// empty state), e.g. when an L1 reorg removed the updates that carried
    /// them; the caller commits them in one write with its own records.
    /// Trie nodes are content-addressed and never deleted, so the roots recorded
    /// for `target` are still complete; only leaves, history, the alias index,
    /// batch records and the checkpoint are rolled back.
    pub fn plan_unwind(&self, target: Option<u64>) -> Result<StoreBatch, StateError> {
        let next_batch = self.checkpoint()?.next_batch;
        // Nothing follows batch 2^64 - 1.
        let Some(first_undone) = target.map_or(Some(0), |t| t.checked_add(1)) else {
            return Ok(StoreBatch::default());
        };
        let mut write = StoreBatch::default();
        if first_undone >= next_batch {
            return Ok(write);
        }
        for n in (first_undone..next_batch).rev() {
            let list =
                self.store
                    .get(Column::Meta, &keys::undo(n))?
                    .ok_or(StateError::Corrupt {
                        what: "undo list",
                        detail: format!("batch {n} has none"),
                    })?;
            for leaf_key in UndoList::parse(&list)? {
                if leaf_key.first() == Some(&keys::LEAF_STARKNET_ALIAS) {
                    // Aliases are allocated once; the batch that allocated it is being undone.
                    write.delete(Column::Leaves, leaf_key.to_vec());
                    continue;
                }
                let previous = match n.checked_sub(1) {
                    None => None,
                    Some(before) => self
                        .store
                        .get_at_or_before(
                            Column::History,
                            leaf_key,
                            &keys::history(leaf_key, before),
                        )?
                        .map(|(_, value)| value),
                };
                match previous {
                    Some(value) if !value.is_empty() => {
                        write.put(Column::Leaves, leaf_key.to_vec(), value)
                    }
                    _ => write.delete(Column::Leaves, leaf_key.to_vec()),
                }
                write.delete(Column::History, keys::history(leaf_key, n));
            }
            write.delete(Column::Meta, keys::undo(n));
            write.delete(Column::Batches, keys::batch(n).to_vec());
        }
        let checkpoint = match target {
            None => StarknetTip::default(),
            Some(t) => {
                let roots = self.batch_roots(t)?.ok_or(StateError::Corrupt {
                    what: "batch record",
                    detail: format!("batch {t} missing"),
                })?;
                StarknetTip {
                    next_batch: first_undone,
                    contracts_root: roots.contracts_root,
                    classes_root: roots.classes_root,
                    global_root: roots.global_root,
                }
            }
        };
        write.put(
            Column::Meta,
            keys::CHECKPOINT,
            serde_json::to_vec(&checkpoint).expect("checkpoint serialises"),
        );
        Ok(write)
    }

    /// The roots recorded for a committed batch.
    pub fn batch_roots(&self, batch: u64) -> Result<Option<BatchRoots>, StateError> {
        self.store
            .get(Column::Batches, &keys::batch(batch))?
            .map(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
                    what: "batch record",
                    detail: e.to_string(),
                })
            })
            .transpose()
    }
}

/// Reverse index of the alias table, as committed by earlier batches: decoding a
/// v0.13.4+ batch resolves aliases through it.
impl AliasSource for StarknetState<'_> {
    type Error = StateError;

    fn original_of(&self, alias: &Felt) -> Result<Option<Felt>, StateError> {
        let key = keys::leaf(keys::LEAF_STARKNET_ALIAS, &[&alias.to_bytes_be()]);
        self.store
            .get(Column::Leaves, &key)?
            .map(|b| felt_from_stored(&b))
            .transpose()
    }

    /// The store holds the chain from its first batch, so an unset counter means
    /// contract 0x2 was never written.
    fn alias_contract_written(&self) -> Result<Option<bool>, StateError> {
        let counter = self.storage(&ALIAS_CONTRACT, &super::da::aliases::ALIAS_COUNTER_KEY)?;
        Ok(Some(counter != Felt::ZERO))
    }
}

/// The leaves keys one batch changed, as `length (1) ‖ key` entries.
#[derive(Default)]
struct UndoList(Vec<u8>);

impl UndoList {
    fn push(&mut self, leaf_key: &[u8]) {
        // Leaves keys are at most 65 bytes (tag ‖ address ‖ key).
        self.0.push(leaf_key.len() as u8);
        self.0.extend_from_slice(leaf_key);
    }

    fn parse(bytes: &[u8]) -> Result<Vec<&[u8]>, StateError> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while let Some((&len, tail)) = rest.split_first() {
            let (key, tail) = tail
                .split_at_checked(len as usize)
                .ok_or(StateError::Corrupt {
                    what: "undo list",
                    detail: "truncated entry".into(),
                })?;
            out.push(key);
            rest = tail;
        }
        Ok(out)
    }
}

/// Encodes an ASCII short string as a felt (Cairo's `'...'` literals).
pub fn short_string(text: &str) -> Felt {
    Felt::from_bytes_be_slice(text.as_bytes())
}

/// Converts a diff word to a felt, refusing values >= P instead of reducing them.
pub fn to_felt(what: &'static str, value: &B256) -> Result<Felt, StateError> {
    let felt = Felt::from_bytes_be(&value.0);
    if felt.to_bytes_be() != value.0 {
        return Err(StateError::NotAFelt {
            what,
            value: *value,
        });
    }
    Ok(felt)
}

fn felt_from_stored(bytes: &[u8]) -> Result<Felt, StateError> {
    let word: [u8; 32] = bytes.try_into().map_err(|_| StateError::Corrupt {
        what: "felt value",
        detail: format!("{} bytes", bytes.len()),
    })?;
    Ok(Felt::from_bytes_be(&word))
}

/// Writes a felt leaf (deleted when 0) and its history entry.
fn put_leaf(batch: &mut StoreBatch, key: Vec<u8>, value: Felt, batch_number: u64) {
    let encoded = if value == Felt::ZERO {
        Vec::new()
    } else {
        value.to_bytes_be().to_vec()
    };
    put_raw_leaf(batch, key, encoded, batch_number);
}

/// Writes a leaf (empty encoding = deleted) and records it in history under this batch.
fn put_raw_leaf(batch: &mut StoreBatch, key: Vec<u8>, encoded: Vec<u8>, batch_number: u64) {
    batch.put(
        Column::History,
        keys::history(&key, batch_number),
        encoded.clone(),
    );
    if encoded.is_empty() {
        batch.delete(Column::Leaves, key);
    } else {
        batch.put(Column::Leaves, key, encoded);
    }
}

fn write_nodes(batch: &mut StoreBatch, nodes: NewNodes) {
    for (key, encoding) in nodes {
        batch.put(Column::Nodes, key.to_vec(), encoding);
    }
}
