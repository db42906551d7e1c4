//! `zkreplay verify --full`: every stored trie and tree node re-hashed
//! against the hash it is stored under.

use starknet_types_core::felt::Felt;

use crate::rollup::starknet::hash::{PedersenHasher, PoseidonHasher, TrieHasher};
use crate::rollup::starknet::trie::{Node as StarkNode, decode_node};
use crate::rollup::zksync::tree::{DEPTH, Node as ZkNode, empty_hashes, hash_branch};
use crate::store::keys;

/// Re-hashes one stored node against the hash in its key.
pub(super) fn rehash_node(key: &[u8], value: &[u8]) -> Result<(), String> {
    let (Some(&tag), Some(hash)) = (key.first(), key.get(1..33)) else {
        return Err(format!("node key 0x{} is malformed", hex::encode(key)));
    };
    let ok = match tag {
        keys::NODE_STARKNET_PEDERSEN => stark_node_hashes::<PedersenHasher>(hash, value)?,
        keys::NODE_STARKNET_POSEIDON => stark_node_hashes::<PoseidonHasher>(hash, value)?,
        keys::NODE_ZKSYNC_BLAKE2S => zk_node_hashes(hash, value)?,
        other => {
            return Err(format!(
                "node 0x{} has unknown tag {other}",
                hex::encode(key)
            ));
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "node 0x{} does not hash to the hash it is stored under",
            hex::encode(hash)
        ))
    }
}

fn stark_node_hashes<H: TrieHasher>(hash: &[u8], value: &[u8]) -> Result<bool, String> {
    let expected = Felt::from_bytes_be_slice(hash);
    let node = decode_node(expected, value).map_err(|e| e.to_string())?;
    Ok(match node {
        StarkNode::Binary { left, right } => H::hash(&left, &right) == expected,
        StarkNode::Edge { child, path, len } => {
            let path = Felt::from_bytes_be(&path.to_be_bytes::<32>());
            H::hash(&child, &path) + Felt::from(len as u64) == expected
        }
    })
}

fn zk_node_hashes(hash: &[u8], value: &[u8]) -> Result<bool, String> {
    let node = ZkNode::decode(value).ok_or_else(|| {
        format!(
            "node 0x{} is malformed ({} bytes)",
            hex::encode(hash),
            value.len()
        )
    })?;
    Ok(match node {
        ZkNode::Branch { left, right } => hash_branch(&left, &right) == hash,
        // A lone-leaf subtree does not record its height: fold up level by
        // level until the hash appears (at most 256 steps).
        ZkNode::Single { key, leaf_hash } => {
            let empty = empty_hashes();
            let mut folded = leaf_hash;
            let mut found = folded == hash;
            for (h, sibling) in empty.iter().enumerate().take(DEPTH) {
                if found {
                    break;
                }
                folded = if key.bit(DEPTH - 1 - h) == 0 {
                    hash_branch(&folded, sibling)
                } else {
                    hash_branch(sibling, &folded)
                };
                found = folded == hash;
            }
            found
        }
    })
}
