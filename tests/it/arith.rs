//! Issue 16, item 2: numbers read from a store are checked, not trusted to
//! fit. Each store here is hand-built to be inconsistent the way a damaged
//! one can be (no real chain wrote it); the expectation is the typed error
//! that names the damage. Before the checks these inputs underflowed or
//! indexed past an array: a panic in a debug build, a wrong answer in release.

use std::collections::HashMap;

use starknet_types_core::felt::Felt;
use zkreplay::rollup::starknet::hash::{PedersenHasher, TrieHasher};
use zkreplay::rollup::starknet::trie::{Trie, TrieError};
use zkreplay::rollup::zksync::tree::{Hash, Node, Tree, TreeError, TreeKey, TreeProof};
use zkreplay::store::keys;

/// A Starknet trie whose root is a binary node and whose left child is an
/// edge of 251 levels: one more than the 250 left below the root's children.
fn starknet_store_with_an_overlong_edge() -> (HashMap<Vec<u8>, Vec<u8>>, Felt) {
    let node_key = |hash: Felt| keys::node(PedersenHasher::NODE_TAG, &hash.to_bytes_be()).to_vec();
    let (root, left, right) = (
        Felt::from(0x100u64),
        Felt::from(0x200u64),
        Felt::from(0x300u64),
    );
    let mut store = HashMap::new();
    let binary = [left.to_bytes_be(), right.to_bytes_be()].concat();
    store.insert(node_key(root), binary);
    let mut edge = [Felt::from(0x400u64).to_bytes_be(), [0u8; 32]].concat();
    edge.push(251);
    store.insert(node_key(left), edge);
    (store, root)
}

#[test]
fn a_starknet_edge_longer_than_the_levels_below_it_is_an_error_on_read() {
    let (store, root) = starknet_store_with_an_overlong_edge();
    let trie = Trie::<_, PedersenHasher>::new(&store);
    // Key 0 goes left at the root, into the overlong edge.
    match trie.get_with_proof(root, &Felt::ZERO) {
        Err(TrieError::EdgePastLeaves {
            len: 251,
            height: 250,
        }) => {}
        other => panic!("expected EdgePastLeaves, got {other:?}"),
    }
}

#[test]
fn a_starknet_edge_longer_than_the_levels_below_it_is_an_error_on_update() {
    let (store, root) = starknet_store_with_an_overlong_edge();
    let trie = Trie::<_, PedersenHasher>::new(&store);
    match trie.update(root, &[(Felt::ZERO, Felt::ONE)]) {
        Err(TrieError::EdgePastLeaves {
            len: 251,
            height: 250,
        }) => {}
        other => panic!("expected EdgePastLeaves, got {other:?}"),
    }
}

#[test]
fn a_zksync_lone_leaf_outside_its_subtree_is_an_error() {
    let node_key = |hash: &Hash| keys::node(keys::NODE_ZKSYNC_BLAKE2S, hash).to_vec();
    let (root, left, right): (Hash, Hash, Hash) = ([1; 32], [2; 32], [3; 32]);
    // The probed key goes left at the root (its first bit is 0); the lone leaf
    // stored there has first bit 1, so it belongs in the right subtree, and
    // agrees with the probed key on every bit below.
    let probed = TreeKey([0; 32]);
    let mut misplaced = [0u8; 32];
    misplaced[0] = 0x80;
    let mut store = HashMap::new();
    store.insert(node_key(&root), Node::Branch { left, right }.encode());
    store.insert(
        node_key(&left),
        Node::Single {
            key: TreeKey(misplaced),
            leaf_hash: [9; 32],
        }
        .encode(),
    );
    let tree = Tree::new(&store, root.into());
    match tree.proof(&probed) {
        Err(TreeError::MisplacedLeaf { hash }) => assert_eq!(hash.0, left),
        other => panic!("expected MisplacedLeaf, got {other:?}"),
    }
}

#[test]
fn a_zksync_proof_path_longer_than_the_tree_gives_no_root() {
    // 256 siblings at most, one per level of the depth-256 tree.
    let proof = TreeProof {
        leaf_hash: None,
        merkle_path: vec![[0; 32]; 257],
    };
    assert_eq!(proof.root_for(&TreeKey([0; 32]), &[0; 32]), None);
}
