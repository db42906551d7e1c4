//! Encoders that invert the decoders: used by the round-trip property tests and
//! by the future local devnet. Never evidence of correctness on their own; the
//! decoders are checked against real data and cairo-lang vectors.
#![allow(
    clippy::arithmetic_side_effects,
    reason = "encodes diffs this program built (devnet, tests), never input: lengths are of in-memory vectors and compress() asserts the 2^20 header bound first"
)]

use std::collections::HashMap;

use alloy_primitives::U256;
use starknet_types_core::felt::Felt;

use super::aliases::{MAX_NON_COMPRESSED_CONTRACT, MIN_ALIAS};
use super::compression::{
    Bound, HEADER_ELM_BITS, N_BITS_PER_BUCKET, TOTAL_N_BUCKETS, pack_felt, pack_felts,
};
use super::layout_v0_13_3::{Word, join_word};
use super::{DaContract, DaStateDiff, Layout, felt_to_u256, u256_to_felt};
use crate::blob::{BlobError, FIELD_ELEMENTS_PER_BLOB};

/// Serializes a diff in an uncompressed layout (`V0_13_3`/`V0_13_4` give the
/// decompressed form; pass it to [`compress`]). Contracts with `nonce: None` get
/// nonce 0 in layouts that always write one.
pub fn encode_layout(diff: &DaStateDiff, layout: Layout) -> Vec<Felt> {
    let mut out = Vec::new();
    match layout {
        Layout::V0_9 | Layout::V0_10 => {
            let deployments: Vec<&DaContract> = diff
                .contracts
                .iter()
                .filter(|c| c.class_hash.is_some())
                .collect();
            let per = if layout == Layout::V0_9 { 3 } else { 2 };
            out.push(Felt::from(deployments.len() * per));
            for c in &deployments {
                out.extend([c.address, c.class_hash.expect("filtered")]);
                if layout == Layout::V0_9 {
                    out.push(Felt::ZERO); // no constructor calldata
                }
            }
            out.push(Felt::from(diff.contracts.len()));
            for c in &diff.contracts {
                out.push(c.address);
                let n = U256::from(c.storage.len());
                out.push(match layout {
                    Layout::V0_9 => u256_to_felt(&n),
                    _ => u256_to_felt(&((felt_to_u256(&c.nonce.unwrap_or_default()) << 64) | n)),
                });
                c.storage.iter().for_each(|(k, v)| out.extend([*k, *v]));
            }
        }
        Layout::V0_11 | Layout::V0_13_3 | Layout::V0_13_4 => {
            out.push(Felt::from(diff.contracts.len()));
            for c in &diff.contracts {
                out.push(c.address);
                out.push(if layout == Layout::V0_11 {
                    let word = (U256::from(c.class_hash.is_some() as u8) << 128)
                        | (felt_to_u256(&c.nonce.unwrap_or_default()) << 64)
                        | U256::from(c.storage.len());
                    u256_to_felt(&word)
                } else {
                    join_word(&Word {
                        class_flag: c.class_hash.is_some(),
                        n_updates: c.storage.len() as u64,
                        nonce: c.nonce.filter(|n| *n != Felt::ZERO),
                    })
                });
                out.extend(c.class_hash);
                c.storage.iter().for_each(|(k, v)| out.extend([*k, *v]));
            }
            out.push(Felt::from(diff.declared_classes.len()));
            diff.declared_classes
                .iter()
                .for_each(|(k, v)| out.extend([*k, *v]));
        }
    }
    out
}

/// Stateless compression (the inverse of [`super::compression::decompress`]).
/// Panics if `data` has 2^20 elements or more (the header cannot hold that).
pub fn compress(data: &[Felt]) -> Vec<Felt> {
    assert!(
        data.len() < 1 << HEADER_ELM_BITS,
        "data too long to compress"
    );
    // Buckets tried from the narrowest up.
    let mut order: Vec<usize> = (0..N_BITS_PER_BUCKET.len()).collect();
    order.sort_by_key(|i| N_BITS_PER_BUCKET[*i]);
    let mut buckets: Vec<Vec<U256>> = vec![Vec::new(); N_BITS_PER_BUCKET.len()];
    let mut positions: Vec<HashMap<Felt, usize>> = vec![HashMap::new(); N_BITS_PER_BUCKET.len()];
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    let mut indices: Vec<U256> = Vec::with_capacity(data.len());
    for value in data {
        let bits = value.bits() as u32;
        let bucket = *order
            .iter()
            .find(|i| bits <= N_BITS_PER_BUCKET[**i])
            .expect("252-bit bucket fits all");
        match positions[bucket].get(value) {
            Some(pos) => {
                repeats.push((bucket, *pos));
                indices.push(U256::from(TOTAL_N_BUCKETS - 1));
            }
            None => {
                positions[bucket].insert(*value, buckets[bucket].len());
                buckets[bucket].push(felt_to_u256(value));
                indices.push(U256::from(bucket));
            }
        }
    }
    let mut offsets = Vec::with_capacity(buckets.len());
    let mut acc = 0;
    for b in &buckets {
        offsets.push(acc);
        acc += b.len();
    }
    let n_unique = acc;
    let mut header = vec![U256::ZERO, U256::from(data.len())];
    header.extend(buckets.iter().map(|b| U256::from(b.len())));
    header.push(U256::from(repeats.len()));

    let mut out = vec![pack_felt(&header, Bound::Bits(HEADER_ELM_BITS))];
    for (bucket, bits) in buckets.iter().zip(N_BITS_PER_BUCKET) {
        out.extend(pack_felts(bucket, Bound::Bits(bits)));
    }
    if !repeats.is_empty() {
        let pointers: Vec<U256> = repeats
            .iter()
            .map(|(b, i)| U256::from(offsets[*b] + i))
            .collect();
        let bound = if n_unique == 1 {
            Bound::Bits(0)
        } else {
            Bound::of(n_unique as u64)
        };
        out.extend(pack_felts(&pointers, bound));
    }
    out.extend(pack_felts(&indices, Bound::Small(TOTAL_N_BUCKETS)));
    out
}

/// Replaces originals by aliases the way the v0.13.4 OS does (the inverse of
/// [`super::aliases::resolve`]); `alias_of` maps original -> alias and must cover
/// every address > 0xf and key >= 128 that is >= 128.
pub fn apply_aliases(diff: &DaStateDiff, alias_of: &HashMap<Felt, Felt>) -> DaStateDiff {
    let min = Felt::from(MIN_ALIAS);
    let map = |v: &Felt| if *v < min { *v } else { alias_of[v] };
    let contracts = diff
        .contracts
        .iter()
        .map(|c| {
            if c.address <= Felt::from(MAX_NON_COMPRESSED_CONTRACT) {
                return c.clone();
            }
            DaContract {
                address: map(&c.address),
                storage: c.storage.iter().map(|(k, v)| (map(k), *v)).collect(),
                ..c.clone()
            }
        })
        .collect();
    DaStateDiff {
        contracts,
        declared_classes: diff.declared_classes.clone(),
    }
}

/// Splits DA felts into blobs (zero padded), the inverse of IFFT + concatenation.
pub fn felts_to_blobs(felts: &[Felt]) -> Result<Vec<Vec<u8>>, BlobError> {
    felts
        .chunks(FIELD_ELEMENTS_PER_BLOB)
        .map(|chunk| {
            let coefficients: Vec<ark_bls12_381::Fr> = chunk
                .iter()
                .map(|f| crate::blob::fr_from_be_mod_order(&f.to_bytes_be()))
                .collect();
            crate::blob::coefficients_to_blob(&coefficients)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollup::starknet::da::compression::decompress;

    #[test]
    fn compress_round_trips_every_bucket_and_repeats() {
        let data: Vec<Felt> = [0u64, 1, 1 << 20, 1 << 40, 1 << 62, 5, 5, 1, u64::MAX]
            .iter()
            .map(|v| Felt::from(*v))
            .chain([Felt::MAX, Felt::from(1u128 << 100), Felt::MAX])
            .collect();
        let compressed = compress(&data);
        let out = decompress(&compressed).unwrap();
        assert_eq!(out.data, data);
        assert_eq!(out.consumed, compressed.len());
    }
}
