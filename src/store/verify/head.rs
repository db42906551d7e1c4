//! The fast check at open: the last batch's root re-derived from what the
//! store holds for it.

use super::*;

pub(super) fn head_problem(store: &Store, batch: u64, problem: impl Into<String>) -> VerifyError {
    VerifyError::Head {
        path: store.path().to_owned(),
        batch,
        problem: problem.into(),
    }
}

/// The checkpoint names `batch` as the last one applied, yet its record is gone.
fn checkpointed_record_missing(store: &Store, batch: u64) -> VerifyError {
    head_problem(
        store,
        batch,
        "the checkpoint names it but its record is missing",
    )
}

pub(super) fn unreadable(store: &Store, problem: impl std::fmt::Display) -> VerifyError {
    VerifyError::Unreadable {
        path: store.path().to_owned(),
        problem: problem.to_string(),
    }
}

/// `Store` errors stay themselves (damage is named there); others are "unreadable".
pub(super) fn starknet_err(
    store: &Store,
    e: crate::rollup::starknet::state::StateError,
) -> VerifyError {
    use crate::rollup::starknet::state::StateError;
    use crate::rollup::starknet::trie::TrieError;
    match e {
        StateError::Store(s) | StateError::Trie(TrieError::Store(s)) => VerifyError::Store(s),
        other => unreadable(store, other),
    }
}

pub(super) fn starknet_head(store: &Store) -> Result<HeadCheck, VerifyError> {
    let state = StarknetState::new(store);
    let tip = state.checkpoint().map_err(|e| starknet_err(store, e))?;
    let Some(last) = tip.next_batch.checked_sub(1) else {
        return Ok(HeadCheck::default());
    };
    let roots = state
        .batch_roots(last)
        .map_err(|e| starknet_err(store, e))?
        .ok_or_else(|| checkpointed_record_missing(store, last))?;
    if (roots.contracts_root, roots.classes_root, roots.global_root)
        != (tip.contracts_root, tip.classes_root, tip.global_root)
    {
        return Err(head_problem(
            store,
            last,
            "the checkpoint's roots differ from the batch record's",
        ));
    }
    if !global_root_fits(&roots) {
        return Err(head_problem(
            store,
            last,
            format!(
                "global root {:#x} is not derived from contracts root {:#x} and classes root {:#x}",
                roots.global_root, roots.contracts_root, roots.classes_root
            ),
        ));
    }
    if let Some(audit) = BatchAudit::read(store, last)? {
        audit_agrees(&audit, &felt_u256(&roots.global_root))
            .map_err(|p| head_problem(store, last, p))?;
    }
    rehash_stored_root::<PedersenHasher>(store, last, roots.contracts_root)?;
    rehash_stored_root::<PoseidonHasher>(store, last, roots.classes_root)?;
    // The leaves the last batch wrote, each proved against the recorded roots.
    let undo = store
        .get(Column::Meta, &keys::undo(last))?
        .unwrap_or_default();
    let mut checked = 0usize;
    for leaf_key in starknet_undo_keys(&undo).into_iter().take(HEAD_SAMPLE) {
        if starknet_leaf_proves(store, &roots, leaf_key, last)? {
            checked = checked.saturating_add(1);
        }
    }
    Ok(HeadCheck {
        batch: Some(last),
        leaves_checked: checked,
    })
}

/// The Starknet undo list: `len (1) ‖ key` entries (see `state::UndoList`);
/// a malformed tail ends the list (the sample is then shorter).
pub(super) fn starknet_undo_keys(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some((&len, tail)) = rest.split_first() {
        let Some((key, tail)) = tail.split_at_checked(usize::from(len)) else {
            break;
        };
        out.push(key);
        rest = tail;
    }
    out
}

/// Proves one leaf the batch wrote against the batch's roots; `Ok(false)` for
/// a key of a kind the tries do not hold (the alias index).
pub(super) fn starknet_leaf_proves(
    store: &Store,
    roots: &BatchRoots,
    leaf_key: &[u8],
    batch: u64,
) -> Result<bool, VerifyError> {
    let Some((&tag, rest)) = leaf_key.split_first() else {
        return Ok(false);
    };
    let word =
        |i: usize| -> Option<Felt> { rest.get(i * 32..(i + 1) * 32).and_then(canonical_felt) };
    let value_at = |key: &[u8]| -> Result<Vec<u8>, VerifyError> {
        Ok(store
            .get_at_or_before(Column::History, key, &keys::history(key, batch))?
            .filter(|(k, _)| k.len() == key.len() + 8)
            .map(|(_, v)| v)
            .unwrap_or_default())
    };
    let felt_of = |bytes: &[u8]| {
        if bytes.len() == 32 {
            Felt::from_bytes_be_slice(bytes)
        } else {
            Felt::ZERO
        }
    };
    let fail = |what: String| head_problem(store, batch, what);
    let contract_at = |address: &Felt| -> Result<ContractState, VerifyError> {
        let record = value_at(&keys::leaf(
            keys::LEAF_STARKNET_CONTRACT,
            &[&address.to_bytes_be()],
        ))?;
        if record.is_empty() {
            return Ok(ContractState::default());
        }
        ContractState::decode(&record).map_err(|e| starknet_err(store, e))
    };
    // Every leaf the tries hold is keyed first by what it is about: the
    // contract's address (storage and contract leaves) or the class hash.
    let Some(subject) = word(0) else {
        return Ok(false);
    };
    let (what, (root_name, root), reached) = match tag {
        keys::LEAF_STARKNET_STORAGE => {
            let Some(key) = word(1) else {
                return Ok(false);
            };
            let value = felt_of(&value_at(leaf_key)?);
            let root = contract_at(&subject)?.storage_root;
            let what = format!("storage {subject:#x}/{key:#x} = {value:#x}");
            let reached = hashes_up::<PedersenHasher>(store, root, &key, value)?;
            (what, ("the contract's storage root", root), reached)
        }
        keys::LEAF_STARKNET_CONTRACT => {
            let root = roots.contracts_root;
            let leaf = contract_at(&subject)?.leaf_hash();
            let reached = hashes_up::<PedersenHasher>(store, root, &subject, leaf)?;
            (
                format!("contract {subject:#x}"),
                ("the contracts root", root),
                reached,
            )
        }
        keys::LEAF_STARKNET_CLASS => {
            let root = roots.classes_root;
            let leaf = class_leaf_hash(&felt_of(&value_at(leaf_key)?));
            let reached = hashes_up::<PoseidonHasher>(store, root, &subject, leaf)?;
            (
                format!("class {subject:#x}"),
                ("the classes root", root),
                reached,
            )
        }
        _ => return Ok(false),
    };
    if !reached {
        return Err(fail(format!(
            "{what} does not hash up to {root_name} {root:#x} through the stored nodes"
        )));
    }
    Ok(true)
}

/// Whether `leaf` at `key` is what the trie at `root` holds, with a proof
/// through the stored nodes that hashes up to `root`.
fn hashes_up<H: TrieHasher>(
    store: &Store,
    root: Felt,
    key: &Felt,
    leaf: Felt,
) -> Result<bool, VerifyError> {
    let (found, proof) = Trie::<_, H>::new(store)
        .get_with_proof(root, key)
        .map_err(|e| starknet_err(store, e.into()))?;
    Ok(found == leaf && verify_proof::<H>(root, key, leaf, &proof))
}

/// The root node of a Starknet trie is stored and hashes to the root.
pub(super) fn rehash_stored_root<H: TrieHasher>(
    store: &Store,
    batch: u64,
    root: Felt,
) -> Result<(), VerifyError> {
    if root == Felt::ZERO {
        return Ok(());
    }
    let key = keys::node(H::NODE_TAG, &root.to_bytes_be());
    let bytes = store
        .get(Column::Nodes, &key)?
        .ok_or_else(|| head_problem(store, batch, format!("root node {root:#x} is missing")))?;
    rehash_node(&key, &bytes).map_err(|p| head_problem(store, batch, p))
}

pub(super) fn zksync_err(
    store: &Store,
    e: crate::rollup::zksync::state::StateError,
) -> VerifyError {
    use crate::rollup::zksync::state::StateError;
    match e {
        StateError::Store(s) | StateError::Tree(tree::TreeError::Store(s)) => VerifyError::Store(s),
        other => unreadable(store, other),
    }
}

pub(super) fn zksync_head(store: &Store) -> Result<HeadCheck, VerifyError> {
    let Some(tip) = read_checkpoint(store).map_err(|e| zksync_err(store, e))? else {
        return Ok(HeadCheck::default());
    };
    let last = tip.batch;
    let record = read_record(store, last)
        .map_err(|e| zksync_err(store, e))?
        .ok_or_else(|| checkpointed_record_missing(store, last))?;
    if record.computed_root != tip.root {
        return Err(head_problem(
            store,
            last,
            "the checkpoint's root differs from the batch record's",
        ));
    }
    zksync_record_agrees(&record).map_err(|p| head_problem(store, last, p))?;
    if let Some(audit) = BatchAudit::read(store, last)? {
        audit_agrees(&audit, &U256::from_be_bytes(tip.root.0))
            .map_err(|p| head_problem(store, last, p))?;
    }
    if tip.root != empty_root() {
        let key = keys::node(keys::NODE_ZKSYNC_BLAKE2S, &tip.root.0);
        let bytes = store.get(Column::Nodes, &key)?.ok_or_else(|| {
            head_problem(store, last, format!("root node {} is missing", tip.root))
        })?;
        rehash_node(&key, &bytes).map_err(|p| head_problem(store, last, p))?;
    }
    // The undo list (kept until the batch is executed) names the keys it wrote.
    let undo = store
        .get(Column::Meta, &keys::undo(last))?
        .unwrap_or_default();
    let tree = Tree::new(store, tip.root);
    let mut checked = 0usize;
    for chunk in undo.chunks_exact(32).take(HEAD_SAMPLE) {
        let derived = B256::from_slice(chunk);
        let Some((index, value)) =
            leaf_at(store, &derived, last).map_err(|e| zksync_err(store, e))?
        else {
            return Err(head_problem(
                store,
                last,
                format!("key {derived} it wrote has no history entry"),
            ));
        };
        let key = TreeKey::from_derived(&derived);
        let proof = tree.proof(&key).map_err(|e| zksync_err(store, e.into()))?;
        let leaf = hash_leaf(index, &value);
        if proof.leaf_hash != Some(leaf) || proof.root_for(&key, &leaf) != Some(tip.root.0) {
            return Err(head_problem(
                store,
                last,
                format!(
                    "leaf {derived} = {value} does not hash up to root {} through the stored nodes",
                    tip.root
                ),
            ));
        }
        checked = checked.saturating_add(1);
    }
    Ok(HeadCheck {
        batch: Some(last),
        leaves_checked: checked,
    })
}
