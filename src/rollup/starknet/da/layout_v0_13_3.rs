//! DA layout of v0.13.3 and later (applied to the *decompressed* data). Same
//! shape as v0.11, with a new contract word, least significant bit first:
//!
//! ```text
//! bit 0        class_flag
//! bit 1        n_updates_is_small
//! next 8 or 64 n_updates (8 bits if small)
//! the rest     new nonce, or 0 when the nonce did not change
//! ```

use alloy_primitives::U256;
use starknet_types_core::felt::Felt;

use super::layout_v0_11::parse_packed;
use super::{DaError, DaStateDiff, felt_to_u256, u256_to_felt};

/// Parses the layout from the start of `felts`; returns the diff and the felts used.
pub fn parse(felts: &[Felt]) -> Result<(DaStateDiff, usize), DaError> {
    parse_packed(felts, |word| {
        let fields = split_word(word);
        Ok((
            fields.class_flag,
            fields.nonce,
            U256::from(fields.n_updates),
        ))
    })
}

/// The fields of a v0.13.3 contract word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Word {
    /// Set when the class hash changed (deployment or replacement); the class hash follows the
    /// word.
    pub class_flag: bool,
    /// Number of `(key, value)` storage writes that follow.
    pub n_updates: u64,
    /// `None` when the nonce did not change (encoded as 0).
    pub nonce: Option<Felt>,
}

/// Splits a contract word. Every felt is a valid word, so this cannot fail.
pub fn split_word(word: &U256) -> Word {
    let class_flag = word.bit(0);
    let small = word.bit(1);
    // The count takes 8 or 64 bits after the two flags; the nonce the rest.
    let (mask, shift) = if small {
        (U256::from(u8::MAX), 10)
    } else {
        (U256::from(u64::MAX), 66)
    };
    let n_updates: U256 = word.wrapping_shr(2) & mask;
    let n_updates = n_updates.as_limbs()[0];
    let nonce = word.wrapping_shr(shift);
    Word {
        class_flag,
        n_updates,
        nonce: (nonce != U256::ZERO).then(|| u256_to_felt(&nonce)),
    }
}

/// Builds a contract word (the inverse of [`split_word`]).
#[allow(
    clippy::arithmetic_side_effects,
    reason = "encoder of our own words: U256 shifts drop high bits and never panic"
)]
pub fn join_word(word: &Word) -> Felt {
    let small = word.n_updates < 256;
    let bits: usize = if small { 8 } else { 64 };
    let nonce = word.nonce.map(|n| felt_to_u256(&n)).unwrap_or_default();
    let packed = (((nonce << bits) | U256::from(word.n_updates)) << 2)
        | (U256::from(small as u8) << 1)
        | U256::from(word.class_flag as u8);
    u256_to_felt(&packed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_fields_least_significant_first() {
        // class_flag=1, small, n_updates=3, nonce=5: 5<<10 | 3<<2 | 1<<1 | 1.
        let word = U256::from((5u64 << 10) | (3 << 2) | 2 | 1);
        let fields = split_word(&word);
        assert_eq!(
            fields,
            Word {
                class_flag: true,
                n_updates: 3,
                nonce: Some(Felt::from(5u64))
            }
        );
        assert_eq!(felt_to_u256(&join_word(&fields)), word);
        // Large n_updates: 64 bits, nonce above bit 66.
        let word = (U256::from(9u8) << 66) | (U256::from(300u64) << 2);
        let fields = split_word(&word);
        assert_eq!(
            fields,
            Word {
                class_flag: false,
                n_updates: 300,
                nonce: Some(Felt::from(9u64))
            }
        );
        assert_eq!(split_word(&U256::from(2u8)).nonce, None);
    }
}
