//! A tiny seeded generator (SplitMix64): the devnet must be reproducible from
//! its seed on every platform and crate version, which a general-purpose RNG
//! crate does not promise.

use alloy_primitives::{Address, B256};
use starknet_types_core::felt::Felt;

/// SplitMix64 (Steele, Lea, Flood 2014).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`: the same seed yields the same sequence.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is irrelevant for test data.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// 32 pseudo-random bytes.
    pub fn bytes32(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_exact_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_be_bytes());
        }
        out
    }

    /// A pseudo-random 32-byte word.
    pub fn b256(&mut self) -> B256 {
        B256::from(self.bytes32())
    }

    /// A pseudo-random address (the low 20 bytes of a word).
    pub fn address(&mut self) -> Address {
        Address::from_slice(&self.bytes32()[12..])
    }

    /// A felt below 2^251 (always below the Stark prime).
    pub fn felt(&mut self) -> Felt {
        let mut bytes = self.bytes32();
        bytes[0] &= 0x07;
        Felt::from_bytes_be(&bytes)
    }

    /// A felt of at most `bits` bits (`bits <= 251`).
    pub fn felt_bits(&mut self, bits: u32) -> Felt {
        let value = alloy_primitives::U256::from_be_bytes(self.bytes32());
        let masked = value >> (256 - bits.min(251) as usize);
        Felt::from_bytes_be(&masked.to_be_bytes::<32>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_felts_in_range() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        assert_eq!(a.next_u64(), b.next_u64());
        for _ in 0..100 {
            assert!(a.felt().bits() <= 251);
            assert!(a.felt_bits(40).bits() <= 40);
            assert!((3..=5).contains(&a.range(3, 5)));
        }
    }
}
