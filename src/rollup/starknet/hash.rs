//! The two Starknet hash functions the state commitment uses, behind one
//! interface so the tries do not care which crate computes them.
//!
//! Pedersen comes from `starknet-crypto` (precomputed lookup tables), which
//! measured faster than `starknet-types-core`'s lambdaworks Pedersen; see the
//! `starknet_hash` benchmark and the README. Poseidon comes from
//! `starknet-types-core`. Both crates share the lambdaworks Montgomery
//! representation, so converting between their `Felt` types is a copy of the
//! raw limbs, not a field operation.

use starknet_types_core::felt::Felt;
use starknet_types_core::hash::{Poseidon, StarkHash};

/// A two-to-one hash over felts, as used by a Patricia trie.
pub trait TrieHasher {
    /// Node-key tag of tries hashed with this function (see `store::keys`).
    const NODE_TAG: u8;
    /// `H(a, b)`.
    fn hash(a: &Felt, b: &Felt) -> Felt;
}

/// Pedersen: contract storage tries and the contracts trie.
pub struct PedersenHasher;

/// Poseidon: the classes trie.
pub struct PoseidonHasher;

impl TrieHasher for PedersenHasher {
    const NODE_TAG: u8 = crate::store::keys::NODE_STARKNET_PEDERSEN;
    fn hash(a: &Felt, b: &Felt) -> Felt {
        pedersen(a, b)
    }
}

impl TrieHasher for PoseidonHasher {
    const NODE_TAG: u8 = crate::store::keys::NODE_STARKNET_POSEIDON;
    fn hash(a: &Felt, b: &Felt) -> Felt {
        Poseidon::hash(a, b)
    }
}

/// Pedersen hash of two felts (starknet-crypto's lookup-table implementation).
pub fn pedersen(a: &Felt, b: &Felt) -> Felt {
    let a = starknet_crypto::Felt::from_raw(a.to_raw());
    let b = starknet_crypto::Felt::from_raw(b.to_raw());
    Felt::from_raw(starknet_crypto::pedersen_hash(&a, &b).to_raw())
}

/// Pedersen hash of two felts computed by starknet-types-core (kept for the benchmark comparison).
pub fn pedersen_types_core(a: &Felt, b: &Felt) -> Felt {
    starknet_types_core::hash::Pedersen::hash(a, b)
}

/// Poseidon hash of two felts (cairo-lang `poseidon_hash(x, y)`).
pub fn poseidon(a: &Felt, b: &Felt) -> Felt {
    Poseidon::hash(a, b)
}

/// Poseidon hash of a sequence (cairo-lang `poseidon_hash_many`).
pub fn poseidon_many(values: &[Felt]) -> Felt {
    Poseidon::hash_array(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_pedersen_implementations_agree_with_the_published_vector() {
        // Vector from StarkWare's signature test data (crypto/signature/test/config).
        let a =
            Felt::from_hex("0x03d937c035c878245caf64531a5756109c53068da139362728feb561405371cb")
                .unwrap();
        let b =
            Felt::from_hex("0x0208a0a10250e382e1e4bbe2880906c2791bf6275695e02fbbc6aeff9cd8b31a")
                .unwrap();
        let expected =
            Felt::from_hex("0x030e480bed5fe53fa909cc0f8c4d99b8f9f2c016be4c41e13a4848797979c662")
                .unwrap();
        assert_eq!(pedersen(&a, &b), expected);
        assert_eq!(pedersen_types_core(&a, &b), expected);
    }
}
