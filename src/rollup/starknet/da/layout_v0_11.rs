//! DA layout of v0.11 through v0.13.2 (calldata pages, and the uncompressed
//! blobs of v0.13.1 and v0.13.2):
//!
//! ```text
//! n_contracts,
//! (address, word, [class_hash if class_flag], (key, value) * n_updates) * n_contracts,
//! n_classes, (class_hash, compiled_class_hash) * n_classes
//! word = class_flag << 128 | nonce << 64 | n_updates
//! ```
//!
//! The nonce is always written, changed or not, so every contract in the DA gets
//! `Some(nonce)`.

use alloy_primitives::U256;
use starknet_types_core::felt::Felt;

use super::{DaContract, DaError, DaStateDiff, Reader, felt_to_u256, u256_to_felt};

/// Parses the layout from the start of `felts`; returns the diff and the felts used.
pub fn parse(felts: &[Felt]) -> Result<(DaStateDiff, usize), DaError> {
    parse_packed(felts, |word| {
        let (class_flag, nonce, n_updates) = split_word(word)?;
        Ok((class_flag, Some(nonce), n_updates))
    })
}

/// The contract and class sections of v0.11 onwards: per contract its address,
/// one packed word (`unpack` gives its class flag, nonce and update count, the
/// packing being what changed between versions), the new class hash when
/// flagged, and its storage writes; then the declared classes.
pub(crate) fn parse_packed(
    felts: &[Felt],
    unpack: impl Fn(&U256) -> Result<(bool, Option<Felt>, U256), DaError>,
) -> Result<(DaStateDiff, usize), DaError> {
    let mut reader = Reader::new(felts);
    // A contract needs at least its address and word.
    let n_contracts = reader.count("n_contracts", 2)?;
    let mut contracts = Vec::with_capacity(n_contracts);
    for _ in 0..n_contracts {
        let address = reader.next("contract address")?;
        let word = felt_to_u256(&reader.next("contract word")?);
        let (class_flag, nonce, n_updates) = unpack(&word)?;
        let class_hash = if class_flag {
            Some(reader.next("class hash")?)
        } else {
            None
        };
        contracts.push(contract_entry(
            &mut reader,
            address,
            nonce,
            class_hash,
            &n_updates,
        )?);
    }
    finish(reader, contracts, true)
}

/// `(class_flag, nonce, n_updates)` of a contract word.
pub fn split_word(word: &U256) -> Result<(bool, Felt, U256), DaError> {
    let mask = U256::from(u64::MAX);
    let n_updates = *word & mask;
    let nonce = word.wrapping_shr(64) & mask;
    let flag = word.wrapping_shr(128);
    if flag > U256::from(1u8) {
        return Err(DaError::BadPacking(format!(
            "contract word {word:#x}: class flag is not 0 or 1"
        )));
    }
    Ok((flag == U256::from(1u8), u256_to_felt(&nonce), n_updates))
}

/// Reads `n` `(key, value)` pairs (`n` already checked against the data).
/// One contract entry's storage writes, `n_updates` `(key, value)` pairs,
/// as every layout lays them out after the contract's header words.
pub(crate) fn contract_entry(
    reader: &mut Reader<'_>,
    address: Felt,
    nonce: Option<Felt>,
    class_hash: Option<Felt>,
    n_updates: &U256,
) -> Result<DaContract, DaError> {
    let n_updates = reader.check_count("n_updates", n_updates, 2)?;
    Ok(DaContract {
        address,
        nonce,
        class_hash,
        storage: read_pairs(reader, n_updates, "storage entry")?,
    })
}

/// The end of a diff: the declared classes (`n_classes` then pairs) when the
/// layout has that section, and the position the diff ended at.
pub(crate) fn finish(
    mut reader: Reader<'_>,
    contracts: Vec<DaContract>,
    has_classes: bool,
) -> Result<(DaStateDiff, usize), DaError> {
    let declared_classes = if has_classes {
        let n_classes = reader.count("n_classes", 2)?;
        read_pairs(&mut reader, n_classes, "declared class")?
    } else {
        Vec::new()
    };
    Ok((
        DaStateDiff {
            contracts,
            declared_classes,
        },
        reader.position(),
    ))
}

pub(crate) fn read_pairs(
    reader: &mut Reader<'_>,
    n: usize,
    what: &'static str,
) -> Result<Vec<(Felt, Felt)>, DaError> {
    // `n` is at most half the felts left: no overflow.
    let flat = reader.take(n.saturating_mul(2), what)?;
    Ok(flat
        .chunks_exact(2)
        .map(|pair| (pair[0], pair[1]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_small_diff() {
        let word = (U256::from(1u8) << 128) | (U256::from(5u8) << 64) | U256::from(1u8);
        let felts = [
            Felt::ONE,
            Felt::from(0x1234u64),
            u256_to_felt(&word),
            Felt::from(0xc1a55u64),
            Felt::from(7u64),
            Felt::from(8u64),
            Felt::ONE,
            Felt::from(0xaau64),
            Felt::from(0xbbu64),
            Felt::ZERO,
        ];
        let (diff, used) = parse(&felts).unwrap();
        assert_eq!(used, 9);
        assert_eq!(diff.contracts[0].nonce, Some(Felt::from(5u64)));
        assert_eq!(diff.contracts[0].class_hash, Some(Felt::from(0xc1a55u64)));
        assert_eq!(
            diff.contracts[0].storage,
            vec![(Felt::from(7u64), Felt::from(8u64))]
        );
        assert_eq!(
            diff.declared_classes,
            vec![(Felt::from(0xaau64), Felt::from(0xbbu64))]
        );
    }

    #[test]
    fn rejects_bad_flag_and_oversized_counts() {
        let word = U256::from(2u8) << 128;
        let felts = [Felt::ONE, Felt::ONE, u256_to_felt(&word), Felt::ZERO];
        assert!(matches!(parse(&felts), Err(DaError::BadPacking(_))));
        let felts = [Felt::ONE, Felt::ONE, Felt::from(1000u64), Felt::ZERO];
        assert!(matches!(
            parse(&felts),
            Err(DaError::CountExceedsData { .. })
        ));
        assert!(matches!(
            parse(&[Felt::from(3u64)]),
            Err(DaError::CountExceedsData { .. })
        ));
    }
}
