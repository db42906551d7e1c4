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
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("trie node {hash:#x} is missing from the store")]
    MissingNode { hash: Felt },
    #[error("trie node {hash:#x} has a malformed encoding ({len} bytes)")]
    MalformedNode { hash: Felt, len: usize },
    #[error("trie key {key:#x} does not fit in 251 bits")]
    KeyTooLarge { key: Felt },
}

/// A decoded inner node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    Binary { left: Felt, right: Felt },
    Edge { child: Felt, path: U256, len: usize },
}

/// One step of a Merkle proof, from the root down.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ProofNode {
    Binary { left: Felt, right: Felt },
    Edge { child: Felt, path: Felt, len: usize },
}

/// The nodes an update created, as `(store key, encoding)` pairs to write.
pub type NewNodes = Vec<([u8; 33], Vec<u8>)>;

/// The result of [`Trie::update`].
#[derive(Debug)]
pub struct TrieUpdate {
    pub root: Felt,
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
                    height -= 1;
                    current = if bits.bit(height) { right } else { left };
                }
                Node::Edge { child, path, len } => {
                    proof.push(ProofNode::Edge {
                        child,
                        path: u256_to_felt(path),
                        len,
                    });
                    let key_path = (bits >> (height - len)) & low_mask(len);
                    if key_path != path {
                        return Ok((Felt::ZERO, proof));
                    }
                    height -= len;
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
        if updates.is_empty() {
            return Ok(subtree);
        }
        if height == 0 {
            let value = updates[updates.len() - 1].1;
            return Ok(if value == Felt::ZERO {
                Subtree::Empty
            } else {
                Subtree::Stored(value)
            });
        }
        let (left, right) = self.split(subtree, height)?;
        let child_height = height - 1;
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
        debug_assert!(len >= 1 && len <= height);
        let rest_len = len - 1;
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
                work.hashes += 1;
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
        let path = if bit {
            path | (U256::from(1u8) << len)
        } else {
            path
        };
        Ok(Subtree::Edge {
            path,
            len: len + 1,
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
                let hash = H::hash(&child, &path_felt) + Felt::from(len as u64);
                work.hashes += 1;
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
    let word = |i: usize| -> [u8; 32] {
        bytes[i * 32..(i + 1) * 32]
            .try_into()
            .expect("length checked")
    };
    match bytes.len() {
        64 => Ok(Node::Binary {
            left: Felt::from_bytes_be(&word(0)),
            right: Felt::from_bytes_be(&word(1)),
        }),
        65 if (1..=HEIGHT).contains(&(bytes[64] as usize)) => Ok(Node::Edge {
            child: Felt::from_bytes_be(&word(0)),
            path: U256::from_be_bytes(word(1)),
            len: bytes[64] as usize,
        }),
        len => Err(TrieError::MalformedNode { hash, len }),
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
                if H::hash(left, right) != expected || height == 0 {
                    return false;
                }
                height -= 1;
                expected = if bits.bit(height) { *right } else { *left };
            }
            ProofNode::Edge { child, path, len } => {
                if *len == 0
                    || *len > height
                    || H::hash(child, path) + Felt::from(*len as u64) != expected
                {
                    return false;
                }
                let path_bits = U256::from_be_bytes(path.to_bytes_be());
                if (bits >> (height - len)) & low_mask(*len) != path_bits {
                    // Non-membership: the key leaves the edge, so the value must be 0
                    // and this must be the last node.
                    return value == Felt::ZERO && i + 1 == proof.len();
                }
                height -= len;
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

fn low_mask(len: usize) -> U256 {
    (U256::from(1u8) << len) - U256::from(1u8)
}

fn u256_to_felt(value: U256) -> Felt {
    Felt::from_bytes_be(&value.to_be_bytes())
}
