//! Starknet's binary Merkle-Patricia trie of height 251, persisted as
//! content-addressed nodes.
//!
//! Node hashes follow the Starknet commitment: a binary node is `H(left, right)`,
//! an edge node (a run of `len` single-child levels with path bits `path`) is
//! `H(child, path) + len`, a leaf is its value, and the empty trie has root 0.
//!
//! An update walks only the paths of the changed keys, loading the nodes it
//! crosses and returning the nodes it creates; the caller writes them in the
//! batch's atomic commit. Old nodes are never deleted, so every past root stays
//! readable and provable.
//!
//! Stored encodings (value of `keys::node(tag, hash)`):
//! binary = `left (32) ‖ right (32)`, edge = `child (32) ‖ path (32) ‖ len (1)`.

use std::marker::PhantomData;

use alloy_primitives::U256;
use starknet_types_core::felt::Felt;

use super::hash::TrieHasher;
use crate::store::{NodeReader, StoreError, keys};

/// Height of every Starknet trie: keys are below 2^251.
pub const HEIGHT: usize = 251;

/// Trie-layer errors.
#[derive(Debug, thiserror::Error)]
pub enum TrieError {
    /// The node store failed to read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A node reachable from the root is not in the store: a damaged or
    /// incomplete store, not evidence against the chain.
    #[error("trie node {hash:#x} is missing from the store")]
    MissingNode {
        /// The node's hash.
        hash: Felt,
    },
    /// A stored node is neither 64 bytes (binary) nor 65 bytes with an edge
    /// length in 1..=251: a damaged store.
    #[error("trie node {hash:#x} has a malformed encoding ({len} bytes)")]
    MalformedNode {
        /// The node's hash.
        hash: Felt,
        /// Length of the stored encoding in bytes.
        len: usize,
    },
    /// A key is 2^251 or above, so it has no leaf in a trie of height 251.
    #[error("trie key {key:#x} does not fit in 251 bits")]
    KeyTooLarge {
        /// The key.
        key: Felt,
    },
    /// A stored edge longer than the levels left below it: a damaged store.
    #[error("trie edge of {len} levels at height {height} runs past the leaves")]
    EdgePastLeaves {
        /// Levels the edge spans.
        len: usize,
        /// Height of the node the edge starts below.
        height: usize,
    },
}

/// A decoded inner node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    /// Two children, hashed as `H(left, right)`.
    Binary {
        /// Hash of the subtree whose next key bit is 0.
        left: Felt,
        /// Hash of the subtree whose next key bit is 1.
        right: Felt,
    },
    /// `len` single-child levels, hashed as `H(child, path) + len`.
    Edge {
        /// Hash of the node (or leaf value) at the end of the edge.
        child: Felt,
        /// The `len` key bits the edge follows, as an integer.
        path: U256,
        /// Levels the edge spans, 1..=251.
        len: usize,
    },
}

/// One step of a Merkle proof, from the root down.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ProofNode {
    /// A binary node on the path: both children's hashes.
    Binary {
        /// Hash of the 0-side child.
        left: Felt,
        /// Hash of the 1-side child.
        right: Felt,
    },
    /// An edge node on the path.
    Edge {
        /// Hash of the node (or leaf value) at the end of the edge.
        child: Felt,
        /// The `len` key bits the edge follows, as a felt.
        path: Felt,
        /// Levels the edge spans.
        len: usize,
    },
}

/// The nodes an update created, as `(store key, encoding)` pairs to write.
pub type NewNodes = Vec<([u8; 33], Vec<u8>)>;

/// The result of [`Trie::update`].
#[derive(Debug)]
pub struct TrieUpdate {
    /// The root after the update (0 for an empty trie).
    pub root: Felt,
    /// The nodes the update created, to write in the batch's commit.
    pub new_nodes: NewNodes,
    /// Hash invocations spent, for benchmarks and metrics.
    pub hashes: u64,
}

/// A trie hashed with `H`, reading nodes through `R`.
pub struct Trie<'r, R, H> {
    reader: &'r R,
    _hasher: PhantomData<H>,
}

/// A subtree while an update is in flight.
#[derive(Clone, Copy, Debug)]
enum Subtree {
    Empty,
    /// An existing non-empty subtree known by hash: a leaf value at height 0,
    /// else a binary or edge node in the store (loaded only if needed).
    Stored(Felt),
    /// A binary node created by this update (not in the store yet, and known not to be an edge).
    NewBinary(Felt),
    /// An edge not yet hashed: `len` levels following `path`, ending at `child`
    /// (the hash of a leaf or a binary node).
    Edge {
        path: U256,
        len: usize,
        child: Felt,
    },
}

impl<'r, R: NodeReader, H: TrieHasher> Trie<'r, R, H> {
    /// A trie reading its nodes from `reader`; which trie is chosen by the root
    /// passed to each call.
    pub fn new(reader: &'r R) -> Self {
        Trie {
            reader,
            _hasher: PhantomData,
        }
    }

    /// Applies `updates` (sorted by key, unique keys; value 0 deletes) to the
    /// trie with root `root` and returns the new root and the created nodes.
    pub fn update(&self, root: Felt, updates: &[(Felt, Felt)]) -> Result<TrieUpdate, TrieError> {
        let keyed: Vec<(U256, Felt)> = updates
            .iter()
            .map(|(key, value)| Ok((key_bits(key)?, *value)))
            .collect::<Result<_, TrieError>>()?;
        debug_assert!(
            keyed.windows(2).all(|w| w[0].0 < w[1].0),
            "updates must be sorted and unique"
        );
        let mut work = Work {
            new_nodes: Vec::new(),
            hashes: 0,
        };
        let start = if root == Felt::ZERO {
            Subtree::Empty
        } else {
            Subtree::Stored(root)
        };
        let subtree = self.update_subtree(&mut work, start, HEIGHT, &keyed)?;
        let root = match subtree {
            Subtree::Empty => Felt::ZERO,
            other => self.materialize(&mut work, other),
        };
        Ok(TrieUpdate {
            root,
            new_nodes: work.new_nodes,
            hashes: work.hashes,
        })
    }

    /// The value at `key` under `root` (0 when absent), with the nodes on its path
    /// from the root down: the Merkle proof of membership or non-membership.
    pub fn get_with_proof(
        &self,
        root: Felt,
        key: &Felt,
    ) -> Result<(Felt, Vec<ProofNode>), TrieError> {
        let bits = key_bits(key)?;
        let mut proof = Vec::new();
        let mut current = root;
        let mut height = HEIGHT;
        if root == Felt::ZERO {
            return Ok((Felt::ZERO, proof));
        }
        while height > 0 {
            match self.load(current)? {
                Node::Binary { left, right } => {
                    proof.push(ProofNode::Binary { left, right });
                    // Above 0 (the loop's condition): exact.
                    height = height.saturating_sub(1);
                    current = if bits.bit(height) { right } else { left };
                }
                Node::Edge { child, path, len } => {
                    proof.push(ProofNode::Edge {
                        child,
                        path: u256_to_felt(path),
                        len,
                    });
                    let below = height
                        .checked_sub(len)
                        .ok_or(TrieError::EdgePastLeaves { len, height })?;
                    let key_path = bits.wrapping_shr(below) & low_mask(len);
                    if key_path != path {
                        return Ok((Felt::ZERO, proof));
                    }
                    height = below;
                    current = child;
                }
            }
        }
        Ok((current, proof))
    }

    fn update_subtree(
        &self,
        work: &mut Work,
        subtree: Subtree,
        height: usize,
        updates: &[(U256, Felt)],
    ) -> Result<Subtree, TrieError> {
        let Some(&(_, last)) = updates.last() else {
            return Ok(subtree);
        };
        let Some(child_height) = height.checked_sub(1) else {
            // A leaf: its (only) update's value.
            return Ok(if last == Felt::ZERO {
                Subtree::Empty
            } else {
                Subtree::Stored(last)
            });
        };
        let (left, right) = self.split(subtree, height)?;
        let mid = updates.partition_point(|(key, _)| !key.bit(child_height));
        let left = self.update_subtree(work, left, child_height, &updates[..mid])?;
        let right = self.update_subtree(work, right, child_height, &updates[mid..])?;
        self.join(work, left, right, child_height)
    }

    /// The two children (at `height - 1`) of a subtree at `height`.
    fn split(&self, subtree: Subtree, height: usize) -> Result<(Subtree, Subtree), TrieError> {
        let edge = match subtree {
            Subtree::Empty => return Ok((Subtree::Empty, Subtree::Empty)),
            Subtree::Stored(hash) | Subtree::NewBinary(hash) => match self.load(hash)? {
                Node::Binary { left, right } => {
                    return Ok((Subtree::Stored(left), Subtree::Stored(right)));
                }
                Node::Edge { child, path, len } => (path, len, child),
            },
            Subtree::Edge { path, len, child } => (path, len, child),
        };
        let (path, len, child) = edge;
        // Stored edges are 1..=251 long (decode_node); one longer than the
        // levels below it only comes from a damaged store.
        let rest_len = len
            .checked_sub(1)
            .filter(|_| len <= height)
            .ok_or(TrieError::EdgePastLeaves { len, height })?;
        let rest = if rest_len == 0 {
            Subtree::Stored(child)
        } else {
            Subtree::Edge {
                path: path & low_mask(rest_len),
                len: rest_len,
                child,
            }
        };
        Ok(if path.bit(rest_len) {
            (Subtree::Empty, rest)
        } else {
            (rest, Subtree::Empty)
        })
    }

    /// Combines two children at `child_height` into their parent.
    fn join(
        &self,
        work: &mut Work,
        left: Subtree,
        right: Subtree,
        child_height: usize,
    ) -> Result<Subtree, TrieError> {
        match (left, right) {
            (Subtree::Empty, Subtree::Empty) => Ok(Subtree::Empty),
            (only, Subtree::Empty) => self.extend_edge(false, only, child_height),
            (Subtree::Empty, only) => self.extend_edge(true, only, child_height),
            (left, right) => {
                let left = self.materialize(work, left);
                let right = self.materialize(work, right);
                let hash = H::hash(&left, &right);
                work.hashes = work.hashes.saturating_add(1);
                let mut encoding = Vec::with_capacity(64);
                encoding.extend_from_slice(&left.to_bytes_be());
                encoding.extend_from_slice(&right.to_bytes_be());
                work.new_nodes
                    .push((keys::node(H::NODE_TAG, &hash.to_bytes_be()), encoding));
                Ok(Subtree::NewBinary(hash))
            }
        }
    }

    /// The edge that reaches the single non-empty child `child` (at
    /// `child_height`) through bit `bit`; merges with the child's own edge.
    fn extend_edge(
        &self,
        bit: bool,
        child: Subtree,
        child_height: usize,
    ) -> Result<Subtree, TrieError> {
        let (path, len, end) = match child {
            Subtree::Empty => unreachable!("join handles empty children"),
            Subtree::Edge { path, len, child } => (path, len, child),
            Subtree::NewBinary(hash) => (U256::ZERO, 0, hash),
            Subtree::Stored(hash) if child_height == 0 => (U256::ZERO, 0, hash),
            Subtree::Stored(hash) => match self.load(hash)? {
                Node::Edge { child, path, len } => (path, len, child),
                Node::Binary { .. } => (U256::ZERO, 0, hash),
            },
        };
        // `len` is below the child's height (at most 250): the shift and the
        // sum are exact.
        let path = if bit {
            path | U256::from(1u8).wrapping_shl(len)
        } else {
            path
        };
        Ok(Subtree::Edge {
            path,
            len: len.saturating_add(1),
            child: end,
        })
    }

    /// The hash of a subtree, recording edge nodes as they are hashed.
    fn materialize(&self, work: &mut Work, subtree: Subtree) -> Felt {
        match subtree {
            Subtree::Empty => Felt::ZERO,
            Subtree::Stored(hash) | Subtree::NewBinary(hash) => hash,
            Subtree::Edge { path, len, child } => {
                let path_felt = u256_to_felt(path);
                let hash = edge_hash::<H>(&child, &path_felt, len);
                work.hashes = work.hashes.saturating_add(1);
                let mut encoding = Vec::with_capacity(65);
                encoding.extend_from_slice(&child.to_bytes_be());
                encoding.extend_from_slice(&path_felt.to_bytes_be());
                encoding.push(len as u8);
                work.new_nodes
                    .push((keys::node(H::NODE_TAG, &hash.to_bytes_be()), encoding));
                hash
            }
        }
    }

    fn load(&self, hash: Felt) -> Result<Node, TrieError> {
        let bytes = self
            .reader
            .node(&keys::node(H::NODE_TAG, &hash.to_bytes_be()))?
            .ok_or(TrieError::MissingNode { hash })?;
        decode_node(hash, &bytes)
    }
}

struct Work {
    new_nodes: NewNodes,
    hashes: u64,
}

/// Decodes a stored node; `hash` is only used in the error.
pub fn decode_node(hash: Felt, bytes: &[u8]) -> Result<Node, TrieError> {
    match bytes.as_chunks::<32>() {
        (&[left, right], []) => Ok(Node::Binary {
            left: Felt::from_bytes_be(&left),
            right: Felt::from_bytes_be(&right),
        }),
        (&[child, path], &[len]) if (1..=HEIGHT).contains(&usize::from(len)) => Ok(Node::Edge {
            child: Felt::from_bytes_be(&child),
            path: U256::from_be_bytes(path),
            len: usize::from(len),
        }),
        _ => Err(TrieError::MalformedNode {
            hash,
            len: bytes.len(),
        }),
    }
}

/// Recomputes the root from a value and its proof, without trusting anything
/// else: what a client does with a proof served by zkreplay.
pub fn verify_proof<H: TrieHasher>(
    root: Felt,
    key: &Felt,
    value: Felt,
    proof: &[ProofNode],
) -> bool {
    let Ok(bits) = key_bits(key) else {
        return false;
    };
    // Walk down to check the path is the key's path, then hash back up.
    let mut height = HEIGHT;
    let mut expected = root;
    for (i, node) in proof.iter().enumerate() {
        match node {
            ProofNode::Binary { left, right } => {
                if H::hash(left, right) != expected {
                    return false;
                }
                let Some(below) = height.checked_sub(1) else {
                    return false;
                };
                height = below;
                expected = if bits.bit(height) { *right } else { *left };
            }
            ProofNode::Edge { child, path, len } => {
                // A proof is the client's input: its lengths are checked here.
                let Some(below) = height.checked_sub(*len).filter(|_| *len != 0) else {
                    return false;
                };
                if edge_hash::<H>(child, path, *len) != expected {
                    return false;
                }
                let path_bits = U256::from_be_bytes(path.to_bytes_be());
                if bits.wrapping_shr(below) & low_mask(*len) != path_bits {
                    // Non-membership: the key leaves the edge, so the value must be 0
                    // and this must be the last node.
                    return value == Felt::ZERO && i.saturating_add(1) == proof.len();
                }
                height = below;
                expected = *child;
            }
        }
    }
    if proof.is_empty() {
        return root == Felt::ZERO && value == Felt::ZERO;
    }
    height == 0 && expected == value
}

fn key_bits(key: &Felt) -> Result<U256, TrieError> {
    let bits = U256::from_be_bytes(key.to_bytes_be());
    if bits.bit_len() > HEIGHT {
        return Err(TrieError::KeyTooLarge { key: *key });
    }
    Ok(bits)
}

/// The `len` lowest bits set (`len` at most 251, a trie's height).
fn low_mask(len: usize) -> U256 {
    U256::from(1u8)
        .wrapping_shl(len)
        .wrapping_sub(U256::from(1u8))
}

/// An edge node's hash: `H(child, path) + len`.
#[allow(
    clippy::arithmetic_side_effects,
    reason = "felt addition, modular by definition"
)]
fn edge_hash<H: TrieHasher>(child: &Felt, path: &Felt, len: usize) -> Felt {
    H::hash(child, path) + Felt::from(len as u64)
}

fn u256_to_felt(value: U256) -> Felt {
    Felt::from_bytes_be(&value.to_be_bytes())
}
