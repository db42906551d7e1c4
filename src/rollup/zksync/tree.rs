//! The ZKsync Era state tree: a sparse binary Merkle tree of depth 256 over
//! Blake2s-256.
//!
//! * The tree key of a slot is its derived key read as a little-endian U256;
//!   bit 255 of that number picks the side at the root, bit 0 at the leaf level.
//!   [`TreeKey`] keeps the number as big-endian bytes, so byte order equals
//!   left-to-right order in the tree.
//! * leaf = `blake2s(leaf_index u64 BE ‖ value)`, branch = `blake2s(left ‖ right)`,
//!   empty leaf = `blake2s([0; 40])`, empty subtree of height h+1 = `H(e_h ‖ e_h)`.
//!
//! Storage: nodes are content-addressed by their hash under
//! [`keys::NODE_ZKSYNC_BLAKE2S`] and never deleted, so every past root stays
//! readable. A stored node is either a branch (`0x00 ‖ left ‖ right`) or a
//! subtree holding exactly one leaf (`0x01 ‖ tree key ‖ leaf hash`), whose
//! hash is the leaf hash folded up with empty siblings; empty subtrees are
//! never stored (recognised by the precomputed empty hashes). A tree with n
//! random leaves therefore stores about 2n nodes, not 256n.
//!
//! [`Tree::update`] applies one batch of leaf writes in a single pass over the
//! sorted keys and returns the new root plus the nodes to write; the caller
//! puts them into the batch's [`crate::store::StoreBatch`] (the tree never
//! writes by itself).

#![allow(
    clippy::arithmetic_side_effects,
    reason = "heights and depths are the tree's own, 0..=256, and counters of hashes; the numbers read from outside (a stored lone leaf's key, a proof's path length) are checked where they are used: Tree::proof, TreeProof::root_for"
)]

use std::collections::HashMap;
use std::sync::OnceLock;

use alloy_primitives::B256;
use blake2::{Blake2s256, Digest};

use crate::store::{NodeReader, StoreError, keys};

mod proof;
pub use proof::TreeProof;

/// Depth of the tree.
pub const DEPTH: usize = 256;

/// A 32-byte hash.
pub type Hash = [u8; 32];

/// Tree errors.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// Reading a node failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A node the root refers to is not stored: the store is damaged or the root unknown.
    #[error("tree node {hash} is missing from the store")]
    MissingNode {
        /// Hash of the missing node.
        hash: B256,
    },
    /// A stored node is not 65 bytes or has an unknown tag: the store is damaged.
    #[error("tree node {hash} is malformed ({len} bytes)")]
    MalformedNode {
        /// Hash of the node.
        hash: B256,
        /// Its stored length.
        len: usize,
    },
    /// One update writes the same key twice.
    #[error("duplicate key {key} in one tree update")]
    DuplicateKey {
        /// The key.
        key: B256,
    },
    /// A stored lone leaf whose key is not under the subtree holding it: a
    /// damaged store.
    #[error("tree node {hash} holds a leaf outside its subtree")]
    MisplacedLeaf {
        /// Hash of the node.
        hash: B256,
    },
}

/// The tree key: `U256::from_little_endian(derived_key)` as big-endian bytes
/// (the derived key reversed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TreeKey(pub [u8; 32]);

impl TreeKey {
    /// The tree key of a derived key.
    pub fn from_derived(derived_key: &B256) -> Self {
        let mut key = derived_key.0;
        key.reverse();
        TreeKey(key)
    }

    /// The side (0 left, 1 right) taken at depth `d` (0 = the root's children).
    #[inline]
    pub fn bit(&self, depth: usize) -> u8 {
        (self.0[depth / 8] >> (7 - depth % 8)) & 1
    }
}

/// Blake2s-256 of `left ‖ right`, without allocating.
#[inline]
pub fn hash_branch(left: &Hash, right: &Hash) -> Hash {
    let mut input = [0u8; 64];
    input[..32].copy_from_slice(left);
    input[32..].copy_from_slice(right);
    Blake2s256::digest(input).into()
}

/// Blake2s-256 of `leaf_index (u64 BE) ‖ value`.
#[inline]
pub fn hash_leaf(leaf_index: u64, value: &B256) -> Hash {
    let mut input = [0u8; 40];
    input[..8].copy_from_slice(&leaf_index.to_be_bytes());
    input[8..].copy_from_slice(value.as_slice());
    Blake2s256::digest(input).into()
}

/// `EMPTY[h]` = hash of an empty subtree of height `h` (`EMPTY[0]` the empty
/// leaf, `EMPTY[256]` the empty tree's root); computed once per process.
pub fn empty_hashes() -> &'static [Hash; DEPTH + 1] {
    static EMPTY: OnceLock<[Hash; DEPTH + 1]> = OnceLock::new();
    EMPTY.get_or_init(|| {
        let mut hashes = [[0u8; 32]; DEPTH + 1];
        hashes[0] = Blake2s256::digest([0u8; 40]).into();
        for h in 1..=DEPTH {
            hashes[h] = hash_branch(&hashes[h - 1], &hashes[h - 1]);
        }
        hashes
    })
}

/// Root of the empty tree.
pub fn empty_root() -> B256 {
    B256::from(empty_hashes()[DEPTH])
}

/// Hash of a subtree of `height` whose only leaf is `leaf_hash` at `key`.
pub fn fold_single(key: &TreeKey, leaf_hash: &Hash, height: usize) -> Hash {
    let empty = empty_hashes();
    let mut hash = *leaf_hash;
    for (h, sibling) in empty.iter().enumerate().take(height) {
        // The node at height h+1 chooses its child by the bit at depth 255 - h.
        hash = if key.bit(DEPTH - 1 - h) == 0 {
            hash_branch(&hash, sibling)
        } else {
            hash_branch(sibling, &hash)
        };
    }
    hash
}

/// A stored node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    /// An inner node: `0x00 ‖ left ‖ right` stored.
    Branch {
        /// Hash of the left (bit 0) subtree.
        left: Hash,
        /// Hash of the right (bit 1) subtree.
        right: Hash,
    },
    /// A subtree holding one leaf: `0x01 ‖ key ‖ leaf_hash` stored.
    Single {
        /// Tree key of the leaf.
        key: TreeKey,
        /// Leaf hash (`blake2s(index ‖ value)`).
        leaf_hash: Hash,
    },
}

impl Node {
    /// The 65-byte stored form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(65);
        match self {
            Node::Branch { left, right } => {
                out.push(0);
                out.extend_from_slice(left);
                out.extend_from_slice(right);
            }
            Node::Single { key, leaf_hash } => {
                out.push(1);
                out.extend_from_slice(&key.0);
                out.extend_from_slice(leaf_hash);
            }
        }
        out
    }

    /// Parses the stored form; `None` unless 65 bytes with tag 0 or 1.
    pub fn decode(bytes: &[u8]) -> Option<Node> {
        if bytes.len() != 65 {
            return None;
        }
        let a: Hash = bytes[1..33].try_into().ok()?;
        let b: Hash = bytes[33..65].try_into().ok()?;
        match bytes[0] {
            0 => Some(Node::Branch { left: a, right: b }),
            1 => Some(Node::Single {
                key: TreeKey(a),
                leaf_hash: b,
            }),
            _ => None,
        }
    }
}

/// One leaf write: the leaf at `key` becomes `leaf_hash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeafWrite {
    /// Tree key of the leaf.
    pub key: TreeKey,
    /// New leaf hash.
    pub leaf_hash: Hash,
}

impl LeafWrite {
    /// The write of `value` at enumeration index `leaf_index` to the slot with `derived_key`.
    pub fn new(derived_key: &B256, leaf_index: u64, value: &B256) -> Self {
        LeafWrite {
            key: TreeKey::from_derived(derived_key),
            leaf_hash: hash_leaf(leaf_index, value),
        }
    }
}

/// The result of one update: the new root and the new nodes (store key, value).
#[derive(Debug, Default)]
pub struct TreeUpdate {
    /// Root after the update.
    pub root: B256,
    /// Nodes created, as (node key in `Column::Nodes`, encoded node).
    pub nodes: Vec<([u8; 33], Vec<u8>)>,
}

/// The tree at one root, reading nodes through a [`NodeReader`].
pub struct Tree<'r, R: NodeReader + ?Sized> {
    reader: &'r R,
    root: Hash,
    /// Nodes created by this update, not yet in the reader.
    created: HashMap<Hash, Node>,
    /// Number of Blake2s compressions done (for benchmarks).
    pub hashes: u64,
}

impl<'r, R: NodeReader + ?Sized> Tree<'r, R> {
    /// The tree whose root is `root`.
    pub fn new(reader: &'r R, root: B256) -> Self {
        Tree {
            reader,
            root: root.0,
            created: HashMap::new(),
            hashes: 0,
        }
    }

    /// Current root.
    pub fn root(&self) -> B256 {
        B256::from(self.root)
    }

    /// Applies `writes` (any order, keys unique) and returns the new root and
    /// the nodes to persist. The tree moves to the new root.
    pub fn update(&mut self, mut writes: Vec<LeafWrite>) -> Result<TreeUpdate, TreeError> {
        writes.sort_unstable_by_key(|w| w.key);
        if let Some(w) = writes.windows(2).find(|w| w[0].key == w[1].key) {
            return Err(TreeError::DuplicateKey {
                key: B256::from(w[0].key.0),
            });
        }
        self.created.clear();
        let root = self.update_subtree(DEPTH, self.root, &writes)?;
        self.root = root;
        let mut nodes: Vec<([u8; 33], Vec<u8>)> = self
            .created
            .drain()
            .map(|(hash, node)| (keys::node(keys::NODE_ZKSYNC_BLAKE2S, &hash), node.encode()))
            .collect();
        nodes.sort_unstable_by_key(|n| n.0);
        Ok(TreeUpdate {
            root: B256::from(root),
            nodes,
        })
    }

    fn load(&self, hash: &Hash) -> Result<Node, TreeError> {
        if let Some(node) = self.created.get(hash) {
            return Ok(*node);
        }
        let key = keys::node(keys::NODE_ZKSYNC_BLAKE2S, hash);
        let bytes = self.reader.node(&key)?.ok_or(TreeError::MissingNode {
            hash: B256::from(*hash),
        })?;
        Node::decode(&bytes).ok_or(TreeError::MalformedNode {
            hash: B256::from(*hash),
            len: bytes.len(),
        })
    }

    fn store(&mut self, hash: Hash, node: Node) {
        self.created.insert(hash, node);
    }

    fn single(&mut self, height: usize, write: &LeafWrite) -> Hash {
        if height == 0 {
            return write.leaf_hash;
        }
        self.hashes += height as u64;
        let hash = fold_single(&write.key, &write.leaf_hash, height);
        self.store(
            hash,
            Node::Single {
                key: write.key,
                leaf_hash: write.leaf_hash,
            },
        );
        hash
    }

    fn branch(&mut self, left: Hash, right: Hash) -> Hash {
        self.hashes += 1;
        let hash = hash_branch(&left, &right);
        self.store(hash, Node::Branch { left, right });
        hash
    }

    /// New hash of the subtree of `height` currently hashing to `hash`, after `writes`
    /// (sorted, all inside this subtree).
    fn update_subtree(
        &mut self,
        height: usize,
        hash: Hash,
        writes: &[LeafWrite],
    ) -> Result<Hash, TreeError> {
        if writes.is_empty() {
            return Ok(hash);
        }
        if height == 0 {
            // Keys are unique, so exactly one write reaches a leaf position.
            return Ok(writes[0].leaf_hash);
        }
        let empty = empty_hashes();
        if hash == empty[height] {
            return self.build(height, writes);
        }
        match self.load(&hash)? {
            Node::Branch { left, right } => {
                let depth = DEPTH - height;
                let split = writes.partition_point(|w| w.key.bit(depth) == 0);
                let new_left = self.update_subtree(height - 1, left, &writes[..split])?;
                let new_right = self.update_subtree(height - 1, right, &writes[split..])?;
                Ok(self.branch(new_left, new_right))
            }
            Node::Single { key, leaf_hash } => {
                if writes.len() == 1 && writes[0].key == key {
                    return Ok(self.single(height, &writes[0]));
                }
                // Push the existing leaf down next to the new ones (unless overwritten).
                let mut merged = Vec::with_capacity(writes.len() + 1);
                match writes.binary_search_by(|w| w.key.cmp(&key)) {
                    Ok(_) => merged.extend_from_slice(writes),
                    Err(pos) => {
                        merged.extend_from_slice(&writes[..pos]);
                        merged.push(LeafWrite { key, leaf_hash });
                        merged.extend_from_slice(&writes[pos..]);
                    }
                }
                self.build(height, &merged)
            }
        }
    }

    /// Builds a fresh subtree of `height` from `writes` (sorted, non-empty).
    /// It reads no node, so large ones are hashed on several threads ([`Fresh`]).
    fn build(&mut self, height: usize, writes: &[LeafWrite]) -> Result<Hash, TreeError> {
        let mut fresh = Fresh::default();
        let threads = if writes.len() >= 2 * PARALLEL_LEAVES {
            static THREADS: OnceLock<usize> = OnceLock::new();
            *THREADS
                .get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8)))
        } else {
            1
        };
        let hash = fresh.build(height, writes, threads);
        self.hashes += fresh.hashes;
        self.created.extend(fresh.nodes);
        Ok(hash)
    }
}

/// Both halves of a fresh subtree must hold at least this many leaves for
/// them to be hashed on two threads: below it a thread costs more than it saves.
const PARALLEL_LEAVES: usize = 4096;

/// The nodes of a fresh subtree (nothing of it in the store yet). Hashing
/// is nearly all the cost of a build — a leaf alone in its subtree is
/// folded up through every empty level, ~`256 - log2(n)` Blake2s per leaf —
/// and the two halves of a fresh subtree are independent, so the halves of
/// large ones are built on separate threads (snapshot imports and big
/// genesis states are fresh builds of millions of leaves).
#[derive(Default)]
struct Fresh {
    nodes: Vec<(Hash, Node)>,
    hashes: u64,
}

impl Fresh {
    /// The hash of the subtree of `height` holding `writes` (sorted), using
    /// at most `threads` threads.
    fn build(&mut self, height: usize, writes: &[LeafWrite], threads: usize) -> Hash {
        match writes {
            [] => return empty_hashes()[height],
            [write] => {
                if height == 0 {
                    return write.leaf_hash;
                }
                self.hashes += height as u64;
                let hash = fold_single(&write.key, &write.leaf_hash, height);
                self.nodes.push((
                    hash,
                    Node::Single {
                        key: write.key,
                        leaf_hash: write.leaf_hash,
                    },
                ));
                return hash;
            }
            _ => {}
        }
        let depth = DEPTH - height;
        let split = writes.partition_point(|w| w.key.bit(depth) == 0);
        let (left_writes, right_writes) = writes.split_at(split);
        let parallel = threads > 1
            && left_writes.len() >= PARALLEL_LEAVES
            && right_writes.len() >= PARALLEL_LEAVES;
        let (left, right) = if parallel {
            let right_threads = threads / 2;
            let (left, (right, other)) = std::thread::scope(|scope| {
                let right = scope.spawn(|| {
                    let mut other = Fresh::default();
                    let hash = other.build(height - 1, right_writes, right_threads);
                    (hash, other)
                });
                let left = self.build(height - 1, left_writes, threads - right_threads);
                (left, right.join().expect("a tree-building thread panicked"))
            });
            self.hashes += other.hashes;
            self.nodes.extend(other.nodes);
            (left, right)
        } else {
            (
                self.build(height - 1, left_writes, threads),
                self.build(height - 1, right_writes, threads),
            )
        };
        self.hashes += 1;
        let hash = hash_branch(&left, &right);
        self.nodes.push((hash, Node::Branch { left, right }));
        hash
    }
}

/// Root of a tree built from scratch from `leaves` (derived key, leaf index, value)
/// with no store behind it (genesis checks, tests).
pub fn root_of(leaves: &[(B256, u64, B256)]) -> Result<B256, TreeError> {
    let reader: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let mut tree = Tree::new(&reader, empty_root());
    let writes = leaves
        .iter()
        .map(|(k, i, v)| LeafWrite::new(k, *i, v))
        .collect();
    Ok(tree.update(writes)?.root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_root(leaves: &[(TreeKey, Hash)]) -> Hash {
        fn rec(height: usize, leaves: &[(TreeKey, Hash)]) -> Hash {
            if leaves.is_empty() {
                return empty_hashes()[height];
            }
            if height == 0 {
                return leaves[0].1;
            }
            let depth = DEPTH - height;
            let split = leaves.partition_point(|l| l.0.bit(depth) == 0);
            hash_branch(
                &rec(height - 1, &leaves[..split]),
                &rec(height - 1, &leaves[split..]),
            )
        }
        let mut sorted = leaves.to_vec();
        sorted.sort();
        rec(DEPTH, &sorted)
    }

    #[test]
    fn incremental_updates_match_a_naive_rebuild_and_keep_old_roots() {
        let mut store: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        let mut root = empty_root();
        let mut all: HashMap<TreeKey, Hash> = HashMap::new();
        let mut roots = Vec::new();
        for round in 0u64..6 {
            let writes: Vec<LeafWrite> = (0..20u64)
                .map(|i| {
                    let k = (i * 7 + round * 3) % 40;
                    let derived = B256::from(Blake2s256::digest(k.to_be_bytes()).0);
                    LeafWrite::new(&derived, k + 1, &B256::with_last_byte((round + i) as u8))
                })
                .collect();
            let update = {
                let mut tree = Tree::new(&store, root);
                tree.update(writes.clone()).unwrap()
            };
            for (k, v) in update.nodes {
                store.insert(k.to_vec(), v);
            }
            for w in &writes {
                all.insert(w.key, w.leaf_hash);
            }
            let expected: Vec<(TreeKey, Hash)> = all.iter().map(|(k, v)| (*k, *v)).collect();
            assert_eq!(update.root.0, naive_root(&expected), "round {round}");
            root = update.root;
            roots.push(root);
        }
        // Every past root is still fully readable: a no-op-free read of a leaf works.
        for old in roots {
            let mut tree = Tree::new(&store, old);
            assert_eq!(tree.update(vec![]).unwrap().root, old);
        }
    }

    #[test]
    fn proofs_of_present_and_absent_keys_yield_every_past_root() {
        let mut store: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        let mut root = empty_root();
        let mut history: Vec<(B256, HashMap<TreeKey, Hash>)> = vec![(root, HashMap::new())];
        let derived = |k: u64| B256::from(Blake2s256::digest(k.to_be_bytes()).0);
        for round in 0u64..4 {
            let writes: Vec<LeafWrite> = (0..15u64)
                .map(|i| {
                    let k = (i * 3 + round * 11) % 50;
                    LeafWrite::new(&derived(k), k + 1, &B256::with_last_byte((round + i) as u8))
                })
                .collect();
            let update = Tree::new(&store, root).update(writes.clone()).unwrap();
            for (k, v) in update.nodes {
                store.insert(k.to_vec(), v);
            }
            root = update.root;
            let mut leaves = history.last().unwrap().1.clone();
            leaves.extend(writes.iter().map(|w| (w.key, w.leaf_hash)));
            history.push((root, leaves));
        }
        // A tree whose only leaf shares a long prefix with the probed key.
        let mut near = [0u8; 32];
        near[31] = 1;
        let lone = LeafWrite {
            key: TreeKey(near),
            leaf_hash: [7; 32],
        };
        let update = Tree::new(&store, empty_root()).update(vec![lone]).unwrap();
        for (k, v) in update.nodes {
            store.insert(k.to_vec(), v);
        }
        history.push((update.root, HashMap::from([(lone.key, lone.leaf_hash)])));

        let mut probes: Vec<TreeKey> = (0..60u64)
            .map(|k| TreeKey::from_derived(&derived(k)))
            .collect();
        probes.push(TreeKey([0; 32]));
        for (root, leaves) in &history {
            let tree = Tree::new(&store, *root);
            for key in &probes {
                let proof = tree.proof(key).unwrap();
                assert_eq!(proof.leaf_hash, leaves.get(key).copied());
                let leaf = proof.leaf_hash.unwrap_or(empty_hashes()[0]);
                assert_eq!(proof.root_for(key, &leaf), Some(root.0));
                // A different leaf value cannot produce the same root.
                assert_ne!(proof.root_for(key, &[9; 32]), Some(root.0));
                if key.0 != [0; 32] {
                    // Random keys part from their neighbours within a few dozen levels.
                    assert!(proof.merkle_path.len() < 40, "{}", proof.merkle_path.len());
                }
            }
        }
    }

    #[test]
    fn a_fresh_build_on_two_threads_equals_the_one_on_one() {
        let mut writes: Vec<LeafWrite> = (0..2 * PARALLEL_LEAVES as u64 + 500)
            .map(|i| {
                let derived = B256::from(Blake2s256::digest(i.to_be_bytes()).0);
                LeafWrite::new(&derived, i + 1, &B256::with_last_byte(i as u8))
            })
            .collect();
        writes.sort_unstable_by_key(|w| w.key);
        let (mut one, mut two) = (Fresh::default(), Fresh::default());
        let root = one.build(DEPTH, &writes, 1);
        assert_eq!(two.build(DEPTH, &writes, 2), root);
        assert_eq!(one.hashes, two.hashes);
        one.nodes.sort_unstable_by_key(|n| n.0);
        two.nodes.sort_unstable_by_key(|n| n.0);
        assert_eq!(one.nodes, two.nodes);
        // And through `Tree::update`, which takes the threaded path.
        let reader: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        let update = Tree::new(&reader, empty_root()).update(writes).unwrap();
        assert_eq!(update.root.0, root);
        assert_eq!(update.nodes.len(), one.nodes.len());
    }

    #[test]
    fn node_codec_round_trips_and_rejects_garbage() {
        let n = Node::Single {
            key: TreeKey([3; 32]),
            leaf_hash: [4; 32],
        };
        assert_eq!(Node::decode(&n.encode()), Some(n));
        assert_eq!(Node::decode(&[2; 65]), None);
        assert_eq!(Node::decode(&[0; 10]), None);
    }
}
