//! Storage proofs a client checks without trusting this server: Starknet trie
//! nodes from the global root down to the slot, ZKsync Blake2s sibling paths.

use alloy_primitives::B256;
use async_graphql::{ComplexObject, SimpleObject, Union};

use super::scalars::{AddressScalar, Bytes32, FeltScalar, Long};
use crate::rollup::starknet::query::StorageProof as StarknetStorageProof;
use crate::rollup::starknet::trie::ProofNode;
use crate::rollup::zksync::query::ZksyncStorageProof;

/// A storage proof of either rollup family.
#[derive(Union)]
pub enum StorageProof {
    /// Proof against a Starknet global root.
    Starknet(StarknetProof),
    /// Proof against a ZKsync tree root.
    Zksync(ZksyncProof),
}

impl From<StarknetStorageProof> for StorageProof {
    fn from(proof: StarknetStorageProof) -> Self {
        StorageProof::Starknet(proof.into())
    }
}

impl From<ZksyncStorageProof> for StorageProof {
    fn from(proof: ZksyncStorageProof) -> Self {
        StorageProof::Zksync(proof.into())
    }
}

/// A Starknet storage value and its proof against a batch's global root: check
/// `storageProof` from `storageRoot` down to the slot, the contract's leaf
/// `h(h(h(classHash, storageRoot), nonce), 0)` through `contractProof` from
/// `contractsRoot`, then `globalRoot` by `globalRootFormula`.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct StarknetProof {
    batch: Long,
    address: FeltScalar,
    key: FeltScalar,
    value: FeltScalar,
    global_root: FeltScalar,
    /// POSEIDON, CONTRACTS_ROOT (pre-v0.14 with no classes) or EMPTY.
    global_root_formula: String,
    contracts_root: FeltScalar,
    classes_root: FeltScalar,
    class_hash: FeltScalar,
    nonce: FeltScalar,
    storage_root: FeltScalar,
    #[graphql(skip)]
    contract_nodes: Vec<ProofNode>,
    #[graphql(skip)]
    storage_nodes: Vec<ProofNode>,
}

#[ComplexObject]
impl StarknetProof {
    /// Contracts-trie nodes from `contractsRoot` down to the contract's leaf.
    async fn contract_proof(&self) -> Vec<ProofStep> {
        self.contract_nodes.iter().map(ProofStep::from).collect()
    }

    /// Storage-trie nodes from `storageRoot` down to the slot.
    async fn storage_proof(&self) -> Vec<ProofStep> {
        self.storage_nodes.iter().map(ProofStep::from).collect()
    }
}

/// A ZKsync storage value and its Merkle proof against the batch's state root
/// (the Blake2s-256 sparse tree of depth 256). To verify:
///
/// 1. `derivedKey = blake2s(12 zero bytes ‖ address ‖ key)`; the tree key `k` is
///    `derivedKey` read as a little-endian 256-bit number.
/// 2. leaf = `blake2s(leafIndex as u64 big-endian ‖ value)`; an absent slot has
///    `leafIndex` 0 and `value` 0, i.e. the empty leaf `blake2s(40 zero bytes)`.
/// 3. `EMPTY[0]` = the empty leaf, `EMPTY[h+1] = blake2s(EMPTY[h] ‖ EMPTY[h])`.
/// 4. With `n = len(merklePath)`, the sibling at height `i` (0 = leaf level) is
///    `EMPTY[i]` for `i < 256 - n` and `merklePath[i - (256 - n)]` otherwise.
/// 5. For `i` in 0..256: `node = blake2s(node ‖ sibling)` when bit `i` of `k` is
///    0, else `blake2s(sibling ‖ node)` (bit 255 chooses the side at the root).
///    The result must equal `root`, and `root` the root L1 accepted for `batch`.
#[derive(SimpleObject)]
pub struct ZksyncProof {
    batch: Long,
    address: AddressScalar,
    key: Bytes32,
    derived_key: Bytes32,
    /// Enumeration index of the slot's leaf; 0 when the slot was never written.
    leaf_index: Long,
    value: Bytes32,
    /// The batch's state root as computed by zkreplay (compare with L1's).
    root: Bytes32,
    /// Siblings from the leaf level up to the root's children, with the leading
    /// (leaf-side) empty-subtree hashes left out (zksync-era's `merkle_path` order).
    merkle_path: Vec<Bytes32>,
}

impl From<ZksyncStorageProof> for ZksyncProof {
    fn from(p: ZksyncStorageProof) -> Self {
        let mut address = B256::ZERO;
        address[12..].copy_from_slice(p.address.as_slice());
        ZksyncProof {
            batch: Long(p.batch),
            address: AddressScalar(address),
            key: Bytes32(p.key),
            derived_key: Bytes32(p.derived_key),
            leaf_index: Long(p.leaf_index),
            value: Bytes32(p.value),
            root: Bytes32(p.root),
            merkle_path: p.merkle_path.into_iter().map(Bytes32).collect(),
        }
    }
}

impl From<StarknetStorageProof> for StarknetProof {
    fn from(p: StarknetStorageProof) -> Self {
        StarknetProof {
            batch: Long(p.batch),
            address: FeltScalar(p.address),
            key: FeltScalar(p.key),
            value: FeltScalar(p.value),
            global_root: FeltScalar(p.global_root),
            global_root_formula: serde_json::to_value(p.global_root_formula)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            contracts_root: FeltScalar(p.contracts_root),
            classes_root: FeltScalar(p.classes_root),
            class_hash: FeltScalar(p.class_hash),
            nonce: FeltScalar(p.nonce),
            storage_root: FeltScalar(p.storage_root),
            contract_nodes: p.contract_proof,
            storage_nodes: p.storage_proof,
        }
    }
}

/// One trie node on a proof path: binary (`left`, `right`) or edge (`child`, `path`, `length`).
#[derive(SimpleObject)]
pub struct ProofStep {
    left: Option<FeltScalar>,
    right: Option<FeltScalar>,
    child: Option<FeltScalar>,
    path: Option<FeltScalar>,
    length: Option<i32>,
}

impl From<&ProofNode> for ProofStep {
    fn from(node: &ProofNode) -> Self {
        match node {
            ProofNode::Binary { left, right } => ProofStep {
                left: Some(FeltScalar(*left)),
                right: Some(FeltScalar(*right)),
                child: None,
                path: None,
                length: None,
            },
            ProofNode::Edge { child, path, len } => ProofStep {
                left: None,
                right: None,
                child: Some(FeltScalar(*child)),
                path: Some(FeltScalar(*path)),
                length: Some(*len as i32),
            },
        }
    }
}
