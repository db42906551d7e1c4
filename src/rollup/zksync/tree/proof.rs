//! Merkle proofs of the ZKsync tree: building one from the stored nodes and
//! folding one back to a root (what an API client does to check an answer).
#![allow(
    clippy::arithmetic_side_effects,
    reason = "heights are the tree's own, 0..=256; a proof's path length is checked in root_for"
)]

use alloy_primitives::B256;

use super::{DEPTH, Hash, Node, Tree, TreeError, TreeKey, empty_hashes, fold_single, hash_branch};
use crate::store::NodeReader;

/// A Merkle proof of one tree key against one root.
///
/// `merkle_path` lists sibling hashes from the leaf level up to the root's
/// children (the format of zksync-era's `TreeEntryWithProof`): entry `i` of
/// the full 256-entry path is the sibling at height `i`, combined as
/// `H(node ‖ sibling)` when bit `i` of the tree key (the derived key read as a
/// little-endian U256) is 0, `H(sibling ‖ node)` otherwise. A path shorter
/// than 256 omits its first `256 - len` entries, which are all empty-subtree
/// hashes `EMPTY[i]` (see [`empty_hashes`]): below a leaf that is alone in
/// its subtree, or below an absent key, every sibling is empty, so a proof
/// in a tree of n leaves holds about log2(n) hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeProof {
    /// The leaf hash stored at the key, `None` when the key has no leaf
    /// (then the proven leaf is the empty leaf `EMPTY[0]`).
    pub leaf_hash: Option<Hash>,
    /// Sibling hashes from the leaf level up, the leading empty-subtree siblings left out.
    pub merkle_path: Vec<Hash>,
}

impl TreeProof {
    /// The root this proof yields for `leaf_hash` at `key`; `None` when the
    /// path is longer than the tree is deep (no proof).
    pub fn root_for(&self, key: &TreeKey, leaf_hash: &Hash) -> Option<Hash> {
        let empty = empty_hashes();
        let skipped = DEPTH.checked_sub(self.merkle_path.len())?;
        let mut hash = *leaf_hash;
        for (height, empty_sibling) in empty.iter().enumerate().take(DEPTH) {
            let sibling = if height < skipped {
                empty_sibling
            } else {
                &self.merkle_path[height - skipped]
            };
            hash = if key.bit(DEPTH - 1 - height) == 0 {
                hash_branch(&hash, sibling)
            } else {
                hash_branch(sibling, &hash)
            };
        }
        Some(hash)
    }
}

impl<R: NodeReader + ?Sized> Tree<'_, R> {
    /// The proof of `key` against the tree's current root (any past root works:
    /// nodes are never deleted).
    pub fn proof(&self, key: &TreeKey) -> Result<TreeProof, TreeError> {
        let empty = empty_hashes();
        // Siblings from the root down: entry j is the sibling at height 255 - j.
        let mut top_down: Vec<Hash> = Vec::new();
        let mut hash = self.root;
        let mut height = DEPTH;
        let leaf_hash = loop {
            if hash == empty[height] {
                break None;
            }
            if height == 0 {
                break Some(hash);
            }
            match self.load(&hash)? {
                Node::Branch { left, right } => {
                    let (next, sibling) = if key.bit(DEPTH - height) == 0 {
                        (left, right)
                    } else {
                        (right, left)
                    };
                    top_down.push(sibling);
                    hash = next;
                    height -= 1;
                }
                Node::Single {
                    key: stored,
                    leaf_hash,
                } => {
                    if stored == *key {
                        break Some(leaf_hash);
                    }
                    // Absent key under another key's lone leaf: empty siblings down to
                    // where the two keys part, there the other leaf's subtree, and
                    // below it our side is empty.
                    // The keys differ (checked above); if not below this
                    // node, the stored leaf is not where it belongs.
                    let mut depth = DEPTH - height;
                    loop {
                        if depth >= DEPTH {
                            return Err(TreeError::MisplacedLeaf {
                                hash: B256::from(hash),
                            });
                        }
                        if stored.bit(depth) != key.bit(depth) {
                            break;
                        }
                        top_down.push(empty[DEPTH - depth - 1]);
                        depth += 1;
                    }
                    top_down.push(fold_single(&stored, &leaf_hash, DEPTH - depth - 1));
                    break None;
                }
            }
        };
        let mut merkle_path: Vec<Hash> = top_down.into_iter().rev().collect();
        // Leading empties may be left out too (the verifier fills them in).
        let skipped = DEPTH - merkle_path.len();
        let redundant = merkle_path
            .iter()
            .enumerate()
            .take_while(|(i, h)| **h == empty[skipped + i])
            .count();
        merkle_path.drain(..redundant);
        Ok(TreeProof {
            leaf_hash,
            merkle_path,
        })
    }
}
