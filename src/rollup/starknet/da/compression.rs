//! v0.13.3+ stateless compression (decoder).
//!
//! Layout of the compressed felts:
//! 1. a header felt: 9 elements of 20 bits, least significant first: version (0),
//!    data length, the lengths of the six unique-value buckets (values of at most
//!    252/125/83/62/31/15 bits) and the number of repeated values;
//! 2. each unique-value bucket packed `251 / bits` values per felt (252-bit values
//!    one per felt), first value in the least significant bits;
//! 3. the repeated-value pointers (indices into the concatenated unique values),
//!    packed in base `n_unique`, `251 / ceil(log2 n_unique)` per felt;
//! 4. one bucket index per data element (0..6, 6 = repeated), packed in base 7,
//!    83 per felt.
//!
//! Element `i` of the data is the next unused value of bucket `index[i]`.
//! Packing is positional in base `bound` (not bit fields) whenever the bound is
//! not a power of two, so unpacking divides by small integers; that is done on
//! 64-bit limbs, chunk by chunk, so decompression is linear in the input.

use std::num::{NonZeroU64, NonZeroU128};

use alloy_primitives::U256;
use starknet_types_core::felt::Felt;

use super::{DaError, Reader, felt_to_u256, u256_to_felt};

/// The only compression version there is.
pub const COMPRESSION_VERSION: u64 = 0;
/// Bits a packed felt may use.
pub const MAX_N_BITS: u32 = 251;
/// Bit widths of the unique-value buckets, in header order.
pub const N_BITS_PER_BUCKET: [u32; 6] = [252, 125, 83, 62, 31, 15];
/// Unique-value buckets plus the repeated-value bucket.
pub const TOTAL_N_BUCKETS: u64 = 7;
/// Header elements: version, data length, 6 bucket lengths, repeated count.
pub const HEADER_LEN: usize = 9;
/// Bits per header element.
pub const HEADER_ELM_BITS: u32 = 20;

/// The decompressed data and how many compressed felts it used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decompressed {
    /// The decompressed DA felts, `data_len` of them.
    pub data: Vec<Felt>,
    /// Number of felts of the input that the compressed DA occupies.
    pub consumed: usize,
}

/// The compression header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Compression version; always [`COMPRESSION_VERSION`] once read.
    pub version: u64,
    /// Number of felts the data decompresses to.
    pub data_len: usize,
    /// Number of unique values in each bucket, in [`N_BITS_PER_BUCKET`] order.
    pub bucket_lens: [usize; 6],
    /// Number of data elements that repeat an earlier unique value.
    pub n_repeating: usize,
}

/// The bound of a packed element: a power of two (bit field) or a small integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bound {
    Bits(u32),
    Small(u64),
}

impl Bound {
    /// The bound for positional packing with base `bound` (`bound` >= 2).
    pub(crate) fn of(bound: u64) -> Bound {
        if bound.is_power_of_two() {
            Bound::Bits(bound.trailing_zeros())
        } else {
            Bound::Small(bound)
        }
    }

    /// Elements per felt, as cairo-lang defines it (`251 // ceil(log2(bound))`, one
    /// element when the bound exceeds 2^251).
    pub(crate) fn per_felt(self) -> usize {
        let bits = match self {
            Bound::Bits(bits) => bits,
            // ceil(log2 n): the bit length of n - 1 (leading zeros are at most 64).
            Bound::Small(n) => u64::BITS.saturating_sub(n.saturating_sub(1).leading_zeros()),
        };
        match MAX_N_BITS.checked_div(bits) {
            // Bound 1: a felt holds any number of zeros; cairo-lang takes 251.
            None => MAX_N_BITS as usize,
            // Wider than a packed felt: one element each.
            Some(0) => 1,
            Some(per_felt) => per_felt as usize,
        }
    }
}

/// Reads a compressed DA from the start of `felts` (which may continue with padding).
pub fn decompress(felts: &[Felt]) -> Result<Decompressed, DaError> {
    let mut reader = Reader::new(felts);
    let header = read_header(&mut reader)?;

    let n_unique: usize = header.bucket_lens.iter().sum();
    let mut unique = Vec::with_capacity(n_unique.min(felts.len().saturating_mul(16)));
    for (len, bits) in header.bucket_lens.iter().zip(N_BITS_PER_BUCKET) {
        unpack_chunk(
            &mut reader,
            *len,
            Bound::Bits(bits),
            "unique-value bucket",
            |v| unique.push(u256_to_felt(&v)),
        )?;
    }

    let mut pointers = Vec::new();
    if header.n_repeating > 0 {
        if n_unique == 0 {
            return Err(DaError::BadPacking(
                "repeated values but no unique values".into(),
            ));
        }
        let bound = if n_unique == 1 {
            Bound::Bits(0)
        } else {
            Bound::of(n_unique as u64)
        };
        // Each pointer needs at least 1/251 of a felt, so this bounds the allocation by the input.
        pointers.reserve(
            header
                .n_repeating
                .min(felts.len().saturating_mul(MAX_N_BITS as usize)),
        );
        unpack_chunk(
            &mut reader,
            header.n_repeating,
            bound,
            "repeated-value pointers",
            |v| pointers.push(v.as_limbs()[0] as usize),
        )?;
    }

    let mut indices = Vec::with_capacity(header.data_len.min(felts.len().saturating_mul(83)));
    unpack_chunk(
        &mut reader,
        header.data_len,
        Bound::Small(TOTAL_N_BUCKETS),
        "bucket indices",
        |v| indices.push(v.as_limbs()[0] as usize),
    )?;

    // Each bucket's values in `unique` (which holds exactly the bucket
    // lengths, in order), consumed front to back.
    let mut buckets = Vec::with_capacity(header.bucket_lens.len());
    let mut rest = unique.as_slice();
    for len in header.bucket_lens {
        let (bucket, tail) = rest.split_at_checked(len).ok_or_else(|| {
            DaError::BadPacking("unique values shorter than their buckets".into())
        })?;
        buckets.push(bucket.iter());
        rest = tail;
    }
    let mut repeats = pointers.iter();
    let mut data = Vec::with_capacity(indices.len());
    for index in indices {
        // Indices are base-7 digits: 0..6 a bucket, 6 a repeated value.
        let value = match buckets.get_mut(index) {
            Some(bucket) => *bucket.next().ok_or_else(|| {
                DaError::BadPacking(format!("bucket {index} used more often than its length"))
            })?,
            None => {
                let pointer = *repeats.next().ok_or_else(|| {
                    DaError::BadPacking("more repeated elements than pointers".into())
                })?;
                *unique.get(pointer).ok_or_else(|| {
                    DaError::BadPacking(format!(
                        "repeated-value pointer {pointer} past the unique values"
                    ))
                })?
            }
        };
        data.push(value);
    }
    // The encoder emits each unique value once and each repeat once, so every
    // bucket must be used up exactly.
    if buckets.iter().any(|b| b.len() != 0) || repeats.len() != 0 {
        return Err(DaError::BadPacking(
            "bucket lengths do not match the bucket indices".into(),
        ));
    }
    Ok(Decompressed {
        data,
        consumed: reader.position(),
    })
}

/// Reads and validates the header felt.
pub(crate) fn read_header(reader: &mut Reader<'_>) -> Result<Header, DaError> {
    let mut elements = Vec::with_capacity(HEADER_LEN);
    unpack_chunk(
        reader,
        HEADER_LEN,
        Bound::Bits(HEADER_ELM_BITS),
        "compression header",
        |v| elements.push(v.as_limbs()[0] as usize),
    )?;
    let version = elements[0] as u64;
    if version != COMPRESSION_VERSION {
        return Err(DaError::UnknownVersion(format!(
            "compression version {version}"
        )));
    }
    let mut bucket_lens = [0usize; 6];
    bucket_lens.copy_from_slice(&elements[2..8]);
    Ok(Header {
        version,
        data_len: elements[1],
        bucket_lens,
        n_repeating: elements[8],
    })
}

/// Unpacks `n` elements of `bound` from the felts they occupy, checking that the
/// felts exist, that no packed felt holds more than its elements, and that the
/// unused slots of the last felt are zero.
pub(crate) fn unpack_chunk(
    reader: &mut Reader<'_>,
    n: usize,
    bound: Bound,
    what: &'static str,
    mut push: impl FnMut(U256),
) -> Result<(), DaError> {
    let per_felt = bound.per_felt();
    let n_felts = n.div_ceil(per_felt);
    let felts = reader.take(n_felts, what)?;
    let mut left = n;
    for felt in felts {
        let take = left.min(per_felt);
        unpack_felt(&felt_to_u256(felt), bound, per_felt, take, what, &mut push)?;
        left = left.saturating_sub(take);
    }
    Ok(())
}

/// Splits one packed felt into `per_felt` elements, passing the first `take` on.
fn unpack_felt(
    packed: &U256,
    bound: Bound,
    per_felt: usize,
    take: usize,
    what: &'static str,
    push: &mut impl FnMut(U256),
) -> Result<(), DaError> {
    let bad = || {
        DaError::BadPacking(format!(
            "{what}: packed felt holds data beyond its elements"
        ))
    };
    match bound {
        Bound::Bits(0) => {
            // Every element is 0 (bound 1).
            if *packed != U256::ZERO {
                return Err(bad());
            }
            (0..take).for_each(|_| push(U256::ZERO));
        }
        Bound::Bits(bits) => {
            // Below 256 bits the shifts are exact; the wrapping forms only
            // spell out that nothing can panic.
            let mask = if bits >= 256 {
                U256::MAX
            } else {
                U256::from(1u8)
                    .wrapping_shl(bits as usize)
                    .wrapping_sub(U256::from(1u8))
            };
            let mut rest = *packed;
            for i in 0..per_felt {
                let element = rest & mask;
                rest = if bits >= 256 {
                    U256::ZERO
                } else {
                    rest.wrapping_shr(bits as usize)
                };
                if i < take {
                    push(element);
                } else if element != U256::ZERO {
                    return Err(bad());
                }
            }
            if rest != U256::ZERO {
                return Err(bad());
            }
        }
        Bound::Small(base) => {
            let base = NonZeroU64::new(base)
                .filter(|b| b.get() >= 2)
                .ok_or_else(|| DaError::BadPacking(format!("{what}: base {base} below 2")))?;
            let mut limbs = *packed.as_limbs();
            let (chunk_base, chunk_len) = largest_power_below_u64(base);
            let mut produced = 0usize;
            while produced < per_felt {
                let digits = chunk_len.min(per_felt.saturating_sub(produced));
                let divisor = if digits == chunk_len {
                    chunk_base
                } else {
                    // Fewer digits than fit a u64: the power fits too.
                    base.checked_pow(digits as u32).ok_or_else(bad)?
                };
                let mut chunk = div_rem_limbs(&mut limbs, divisor);
                for _ in 0..digits {
                    let element = chunk % base;
                    chunk /= base;
                    if produced < take {
                        push(U256::from(element));
                    } else if element != 0 {
                        return Err(bad());
                    }
                    // Below per_felt: no overflow.
                    produced = produced.saturating_add(1);
                }
            }
            if limbs != [0; 4] {
                return Err(bad());
            }
        }
    }
    Ok(())
}

/// `(base^k, k)` with the largest `k` such that `base^k` fits in a u64
/// (`base` at least 2, so `k` is at most 64).
fn largest_power_below_u64(base: NonZeroU64) -> (NonZeroU64, usize) {
    let mut power = base;
    let mut k = 1usize;
    while let Some(next) = power.checked_mul(base) {
        power = next;
        k = k.saturating_add(1);
    }
    (power, k)
}

/// Divides little-endian limbs in place by `divisor`, returning the remainder.
fn div_rem_limbs(limbs: &mut [u64; 4], divisor: NonZeroU64) -> u64 {
    let divisor = NonZeroU128::from(divisor);
    let mut rem: u128 = 0;
    for limb in limbs.iter_mut().rev() {
        let cur = (rem << 64) | *limb as u128;
        *limb = (cur / divisor) as u64;
        rem = cur % divisor;
    }
    rem as u64
}

/// Packs elements (each below `bound`) into one felt, first element least significant.
#[allow(
    clippy::arithmetic_side_effects,
    reason = "the encoder packs its own elements, each below `bound`, at most `per_felt` of them: under 2^251"
)]
pub(crate) fn pack_felt(elements: &[U256], bound: Bound) -> Felt {
    let mut acc = U256::ZERO;
    for element in elements.iter().rev() {
        acc = match bound {
            Bound::Bits(0) => U256::ZERO,
            Bound::Bits(bits) if bits >= 256 => *element,
            Bound::Bits(bits) => (acc << bits) | element,
            Bound::Small(base) => acc * U256::from(base) + element,
        };
    }
    u256_to_felt(&acc)
}

/// Packs elements into as many felts as needed.
pub(crate) fn pack_felts(elements: &[U256], bound: Bound) -> Vec<Felt> {
    elements
        .chunks(bound.per_felt())
        .map(|chunk| pack_felt(chunk, bound))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_per_felt_follow_cairo_lang() {
        assert_eq!(Bound::Bits(20).per_felt(), 12);
        assert_eq!(Bound::Bits(252).per_felt(), 1);
        assert_eq!(Bound::Bits(125).per_felt(), 2);
        assert_eq!(Bound::Bits(83).per_felt(), 3);
        assert_eq!(Bound::Bits(62).per_felt(), 4);
        assert_eq!(Bound::Bits(31).per_felt(), 8);
        assert_eq!(Bound::Bits(15).per_felt(), 16);
        assert_eq!(Bound::Small(7).per_felt(), 83);
        assert_eq!(Bound::of(5).per_felt(), 83);
        assert_eq!(Bound::of(8).per_felt(), 83);
        assert_eq!(Bound::of(9).per_felt(), 62);
    }

    #[test]
    fn base_seven_round_trip() {
        let digits: Vec<U256> = (0..83u64).map(|i| U256::from(i % 7)).collect();
        let felt = pack_felt(&digits, Bound::Small(7));
        let mut out = Vec::new();
        unpack_felt(
            &felt_to_u256(&felt),
            Bound::Small(7),
            83,
            83,
            "t",
            &mut |v| out.push(v),
        )
        .unwrap();
        assert_eq!(out, digits);
    }

    #[test]
    fn rejects_nonzero_version_and_truncation() {
        let header = pack_felt(&[U256::from(1u8), U256::from(2u8)], Bound::Bits(20));
        assert!(matches!(
            decompress(&[header]),
            Err(DaError::UnknownVersion(_))
        ));
        let header = pack_felt(
            &[U256::ZERO, U256::from(2u8), U256::from(2u8)],
            Bound::Bits(20),
        );
        assert!(matches!(
            decompress(&[header]),
            Err(DaError::Truncated { .. })
        ));
        assert!(matches!(decompress(&[]), Err(DaError::Truncated { .. })));
    }
}
