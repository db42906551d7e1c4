//! Starknet data availability: every format Starknet has posted to L1, decoded
//! into the normalized [`StateDiff`](crate::diff::StateDiff), and bound to what the
//! STARK proof committed to.
//!
//! The path of one L1 state update:
//!
//! ```text
//! blobs ──IFFT──┐                         ┌─ layout_v0_9 / v0_10 / v0_11
//!               ├─ DA felts ─(compression)┤                              ─► DaStateDiff ─(aliases)─► StateDiff
//! memory pages ─┘                         └─ layout_v0_13_3 (v0.13.3+)
//! program output (updateState / updateStateKzgDA) ─► header, roots, KZG segment ─► binding checks
//! ```
//!
//! Each wire format is its own small module; [`batch::decode_batch`] chooses between
//! them from evidence only (the L1 function, the program-output header, and which
//! decoders accept the data exactly), never from a guess.

use alloy_primitives::U256;
use starknet_types_core::felt::Felt;

pub mod aliases;
pub mod batch;
pub mod binding;
pub mod compression;
pub mod encode;
pub mod layout_v0_10;
pub mod layout_v0_11;
pub mod layout_v0_13_3;
pub mod layout_v0_9;
pub mod pages;
pub mod program_output;

pub use aliases::{AliasSource, MemoryAliases};
pub use batch::{BatchInput, DaInput, DecodedBatch, decode_batch};
pub use binding::Finding;

/// Why Starknet DA data was rejected. Every decoder returns one of these on
/// malformed input; none of them panics.
#[derive(Debug, thiserror::Error)]
pub enum DaError {
    /// A field or list ends before the felts it needs.
    #[error("truncated data: {what} needs {needed} more felts, {available} left")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Felts it needs.
        needed: usize,
        /// Felts left in the input.
        available: usize,
    },
    /// A count field announces more items than the felts left could hold (checked before
    /// anything is allocated for them).
    #[error("{what} = {count} exceeds the data: only {available} felts left")]
    CountExceedsData {
        /// The count field.
        what: &'static str,
        /// The count as posted, in decimal (it may not fit a `usize`).
        count: String,
        /// Felts left after the count.
        available: usize,
    },
    /// A 32-byte word is not below the field modulus, so it is no field element: the data is
    /// not honest DA.
    #[error("{what} at index {index} is not below the {field} modulus")]
    ElementOutOfRange {
        /// The value being read.
        what: &'static str,
        /// Its position in the input.
        index: usize,
        /// The field whose modulus was exceeded (`Stark`).
        field: &'static str,
    },
    /// The stateless-compression packing is inconsistent (bucket sizes, pointers or unused
    /// slots do not add up).
    #[error("bad packing: {0}")]
    BadPacking(String),
    /// A compression version or program-output header no decoder knows, or a header
    /// flag (`full_output = 1`) never posted to L1.
    #[error("unknown or unsupported version: {0}")]
    UnknownVersion(String),
    /// An aliased address or key has no mapping in contract 0x2, neither in the
    /// alias source nor in the batch's own 0x2 writes: the diff would be incomplete.
    #[error("alias {alias:#x} ({context}) has no mapping in contract 0x2")]
    UnmappedAlias {
        /// The alias as posted.
        alias: Felt,
        /// Whether it stood for a `contract address` or a `storage key`.
        context: &'static str,
    },
    /// A 0x2 write gives an alias below 128, or gives one alias to two different
    /// addresses (within the batch or against the mappings known so far).
    #[error("alias table conflict: {0}")]
    AliasConflict(String),
    /// The store or chain history that answers alias questions failed; not evidence against the
    /// data.
    #[error("alias source failed: {0}")]
    AliasSource(Box<dyn std::error::Error + Send + Sync>),
    /// A nonce, class hash, storage key or declared class is given twice; the OS
    /// squashes the diff before posting it, so honest data never does this.
    #[error("{what} listed twice: {key}")]
    Duplicate {
        /// What was repeated.
        what: &'static str,
        /// The repeated key, in hex.
        key: String,
    },
    /// The zero padding after the DA in a blob holds a non-zero felt.
    #[error("data after the end of the DA must be zero, felt {index} is not")]
    NonZeroTail {
        /// Position of the first non-zero felt.
        index: usize,
    },
    /// Memory pages or program output hold felts after the DA, which must fill them exactly.
    #[error("{unused} felts left over after the DA ({consumed} consumed)")]
    TrailingData {
        /// Felts the DA used.
        consumed: usize,
        /// Felts left after it.
        unused: usize,
    },
    /// A blob is malformed (length, or an element above the BLS12-381 modulus).
    #[error(transparent)]
    Blob(#[from] crate::blob::BlobError),
    /// An `updateState*` or `registerContinuousMemoryPage` calldata cannot be
    /// ABI-decoded or has another selector.
    #[error("calldata: {0}")]
    Calldata(String),
    /// No layout, or more than one, accepts the data and nothing bound to the proof decides;
    /// `--layout` settles it.
    #[error("cannot choose the DA layout: {0}")]
    LayoutUndetermined(String),
    /// The v0.14 OS encrypts the compressed DA when its config lists public keys
    /// (sequencer `os/encrypt.cairo`): a finding on the batch, not a decode bug.
    #[error("DA encrypted (for {n_keys} key(s)), state cannot be rebuilt without the keys")]
    Encrypted {
        /// Number of public keys the DA was encrypted for.
        n_keys: usize,
    },
}

/// Recognises an encrypted DA (sequencer `starknet/core/os/encrypt.cairo`,
/// `encrypt_state_diff`): `[n_keys, sn_public_keys[n_keys],
/// encrypted_symmetric_keys[n_keys], ciphertext…]` in place of the compressed DA.
/// A compressed DA starts with its header felt, whose lowest 20 bits are the
/// compression version 0; a non-zero count below 2^20 there cannot be one, so a
/// first felt `n_keys` in `1..2^20` followed by room for `2·n_keys` keys and a
/// ciphertext is an encrypted DA. Returns `n_keys`.
pub fn encrypted_da_keys(felts: &[Felt]) -> Option<usize> {
    let first = felt_to_u256(felts.first()?);
    let n_keys = usize::try_from(first).ok()?;
    let header_bits = compression::HEADER_ELM_BITS as usize;
    let fits = n_keys
        .checked_mul(2)
        .and_then(|keys| keys.checked_add(1))
        .is_some_and(|prefix| prefix < felts.len());
    (n_keys > 0 && n_keys < (1 << header_bits) && fits).then_some(n_keys)
}

/// A DA wire format. `V0_11` covers v0.11 through v0.13.2 (calldata, and the
/// uncompressed blobs of v0.13.1/v0.13.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Layout {
    /// ≤ v0.9: deployments segment, then `(addr, n_updates, (key, value)*)`.
    V0_9,
    /// v0.10: deployments segment, word = `nonce << 64 | n_updates`.
    V0_10,
    /// v0.11 – v0.13.2: `class_flag << 128 | nonce << 64 | n_updates`, declared classes.
    V0_11,
    /// v0.13.3: stateless compression and the packed contract word.
    V0_13_3,
    /// v0.13.4+: v0.13.3 plus stateful compression (aliases in contract 0x2).
    V0_13_4,
}

impl Layout {
    /// True for the layouts whose DA is stateless-compressed.
    pub fn is_compressed(self) -> bool {
        matches!(self, Layout::V0_13_3 | Layout::V0_13_4)
    }

    /// The layout's version label (`0.9` … `0.13.4`), as `--layout` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Layout::V0_9 => "0.9",
            Layout::V0_10 => "0.10",
            Layout::V0_11 => "0.11",
            Layout::V0_13_3 => "0.13.3",
            Layout::V0_13_4 => "0.13.4",
        }
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One contract's entry in the DA, exactly as posted (addresses and keys may be aliases).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DaContract {
    /// The contract's address as posted (an alias from v0.13.4 on, see [`aliases`]).
    pub address: Felt,
    /// New nonce; `None` when the layout says it did not change (v0.13.3+) or has no nonces (≤ v0.9).
    pub nonce: Option<Felt>,
    /// New class hash (deployment or class replacement).
    pub class_hash: Option<Felt>,
    /// `(key, new value)` in posted order.
    pub storage: Vec<(Felt, Felt)>,
}

/// A decoded DA state diff in posted order, before alias resolution.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DaStateDiff {
    /// Contracts in posted order; one address may appear more than once.
    pub contracts: Vec<DaContract>,
    /// `(class hash, compiled class hash)`.
    pub declared_classes: Vec<(Felt, Felt)>,
}

impl DaStateDiff {
    /// Converts to the normalized diff. Entries for the same contract are merged;
    /// the same storage key, nonce, class hash or declared class given twice is
    /// rejected (the OS squashes before serializing, so that cannot be honest data).
    pub fn to_state_diff(&self) -> Result<crate::diff::StateDiff, DaError> {
        let mut out = crate::diff::StateDiff::default();
        for contract in &self.contracts {
            let entry = out
                .contracts
                .entry(felt_to_word(&contract.address))
                .or_default();
            if let Some(nonce) = contract.nonce
                && entry.nonce.replace(felt_to_word(&nonce)).is_some()
            {
                return Err(duplicate("nonce of contract", &contract.address));
            }
            if let Some(class_hash) = contract.class_hash
                && entry
                    .class_hash
                    .replace(felt_to_word(&class_hash))
                    .is_some()
            {
                return Err(duplicate("class hash of contract", &contract.address));
            }
            for (key, value) in &contract.storage {
                if entry
                    .storage
                    .insert(felt_to_word(key), felt_to_word(value))
                    .is_some()
                {
                    return Err(DaError::Duplicate {
                        what: "storage key",
                        key: format!("{:#x}/{:#x}", contract.address, key),
                    });
                }
            }
        }
        for (class_hash, compiled) in &self.declared_classes {
            if out
                .declared_classes
                .insert(felt_to_word(class_hash), felt_to_word(compiled))
                .is_some()
            {
                return Err(duplicate("declared class", class_hash));
            }
        }
        Ok(out)
    }
}

fn duplicate(what: &'static str, key: &Felt) -> DaError {
    DaError::Duplicate {
        what,
        key: format!("{key:#x}"),
    }
}

/// The Stark prime `2^251 + 17·2^192 + 1`, big-endian.
pub const STARK_PRIME_BE: [u8; 32] = {
    let mut p = [0u8; 32];
    p[0] = 0x08;
    p[7] = 0x11;
    p[31] = 0x01;
    p
};

/// The Stark prime as a `U256`.
pub fn stark_prime() -> U256 {
    U256::from_be_bytes(STARK_PRIME_BE)
}

/// Reads a 32-byte big-endian value as a felt, rejecting values >= P
/// (`Felt::from_bytes_be` would silently reduce them).
pub fn felt_from_be_checked(
    bytes: &[u8; 32],
    what: &'static str,
    index: usize,
) -> Result<Felt, DaError> {
    if bytes.as_slice() >= STARK_PRIME_BE.as_slice() {
        return Err(DaError::ElementOutOfRange {
            what,
            index,
            field: "Stark",
        });
    }
    Ok(Felt::from_bytes_be(bytes))
}

/// Converts a `U256` to a felt, rejecting values >= P.
pub fn felt_from_u256(value: &U256, what: &'static str, index: usize) -> Result<Felt, DaError> {
    felt_from_be_checked(&value.to_be_bytes::<32>(), what, index)
}

/// A felt as an integer (for bit fields).
pub fn felt_to_u256(felt: &Felt) -> U256 {
    U256::from_be_bytes(felt.to_bytes_be())
}

/// A `U256` known to be below P as a felt (internal use: values built from bit fields).
pub(crate) fn u256_to_felt(value: &U256) -> Felt {
    debug_assert!(*value < stark_prime());
    Felt::from_bytes_be(&value.to_be_bytes::<32>())
}

/// A felt as the normalized 32-byte word.
pub fn felt_to_word(felt: &Felt) -> alloy_primitives::B256 {
    alloy_primitives::B256::from(felt.to_bytes_be())
}

/// A cursor over DA felts that turns every short read or oversized count into a typed error.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    felts: &'a [Felt],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(felts: &'a [Felt]) -> Self {
        Self { felts, pos: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        // `pos` never passes the end.
        self.felts.len().saturating_sub(self.pos)
    }

    pub(crate) fn next(&mut self, what: &'static str) -> Result<Felt, DaError> {
        let felt = *self.felts.get(self.pos).ok_or(DaError::Truncated {
            what,
            needed: 1,
            available: 0,
        })?;
        // Below the length, so one more does not overflow.
        self.pos = self.pos.saturating_add(1);
        Ok(felt)
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [Felt], DaError> {
        let slice = self
            .felts
            .get(self.pos..)
            .and_then(|rest| rest.get(..n))
            .ok_or(DaError::Truncated {
                what,
                needed: n,
                available: self.remaining(),
            })?;
        // `pos + n` is at most the length.
        self.pos = self.pos.saturating_add(n);
        Ok(slice)
    }

    /// Reads a count of items that each need at least `felts_per_item` felts, and
    /// checks it against the data actually left before anyone allocates for it.
    pub(crate) fn count(
        &mut self,
        what: &'static str,
        felts_per_item: usize,
    ) -> Result<usize, DaError> {
        let raw = self.next(what)?;
        self.check_count(what, &felt_to_u256(&raw), felts_per_item)
    }

    pub(crate) fn check_count(
        &self,
        what: &'static str,
        count: &U256,
        felts_per_item: usize,
    ) -> Result<usize, DaError> {
        let available = self.remaining();
        // An item of no felts is bounded by the felts left all the same.
        let max = available.checked_div(felts_per_item).unwrap_or(available);
        match usize::try_from(*count) {
            Ok(n) if n <= max => Ok(n),
            _ => Err(DaError::CountExceedsData {
                what,
                count: format!("{count}"),
                available,
            }),
        }
    }
}

/// How a decoder's input ends: blobs are zero-padded after the DA, memory pages
/// and program outputs hold exactly the DA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DaEnd {
    /// The DA must use every felt.
    Exact,
    /// Felts after the DA must all be zero.
    ZeroPadded,
}

impl DaEnd {
    /// Checks the felts after `consumed` against the rule.
    pub fn check(self, felts: &[Felt], consumed: usize) -> Result<(), DaError> {
        // A decoder consumes at most its input; the tail is what it left.
        let tail = felts.get(consumed..).unwrap_or_default();
        match self {
            DaEnd::Exact if !tail.is_empty() => Err(DaError::TrailingData {
                consumed,
                unused: tail.len(),
            }),
            DaEnd::Exact => Ok(()),
            DaEnd::ZeroPadded => match tail.iter().position(|f| *f != Felt::ZERO) {
                Some(offset) => Err(DaError::NonZeroTail {
                    // Inside `felts`: no overflow.
                    index: consumed.saturating_add(offset),
                }),
                None => Ok(()),
            },
        }
    }
}

/// Decodes DA felts with a known layout. Returns the posted (possibly aliased)
/// diff and the number of felts the DA occupies (the compressed length for
/// compressed layouts: the length `z` is computed over).
pub fn decode_da(
    felts: &[Felt],
    layout: Layout,
    end: DaEnd,
) -> Result<(DaStateDiff, usize), DaError> {
    let (diff, consumed) = match layout {
        Layout::V0_9 => layout_v0_9::parse(felts)?,
        Layout::V0_10 => layout_v0_10::parse(felts)?,
        Layout::V0_11 => layout_v0_11::parse(felts)?,
        Layout::V0_13_3 | Layout::V0_13_4 => {
            if let Some(n_keys) = encrypted_da_keys(felts) {
                return Err(DaError::Encrypted { n_keys });
            }
            let decompressed = compression::decompress(felts)?;
            let (diff, used) = layout_v0_13_3::parse(&decompressed.data)?;
            DaEnd::Exact.check(&decompressed.data, used)?;
            (diff, decompressed.consumed)
        }
    };
    end.check(felts, consumed)?;
    Ok((diff, consumed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prime_constant_matches_the_definition() {
        let p = (U256::from(1u8) << 251) + (U256::from(17u8) << 192) + U256::from(1u8);
        assert_eq!(stark_prime(), p);
    }

    #[test]
    fn range_check_rejects_p_and_accepts_p_minus_one() {
        assert!(matches!(
            felt_from_be_checked(&STARK_PRIME_BE, "x", 3),
            Err(DaError::ElementOutOfRange { index: 3, .. })
        ));
        let p_minus_1 = (stark_prime() - U256::from(1u8)).to_be_bytes::<32>();
        assert_eq!(felt_from_be_checked(&p_minus_1, "x", 0).unwrap(), Felt::MAX);
    }

    #[test]
    fn reader_rejects_counts_larger_than_the_data() {
        let felts = [Felt::from(1_000_000u64), Felt::ONE];
        let mut reader = Reader::new(&felts);
        assert!(matches!(
            reader.count("n", 2),
            Err(DaError::CountExceedsData { .. })
        ));
        let huge = [Felt::MAX];
        assert!(matches!(
            Reader::new(&huge).count("n", 1),
            Err(DaError::CountExceedsData { .. })
        ));
    }
}
