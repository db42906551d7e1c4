//! EIP-4844 blobs as polynomials over the BLS12-381 scalar field, shared by
//! every rollup that posts blobs.
//!
//! A blob is 4096 big-endian field elements; element `i` is `p(w^bitrev12(i))`
//! where `w` is the 4096th root of unity `7^((r-1)/4096)`. The rollup's data
//! are the coefficients of `p`, recovered with one O(n log n) inverse FFT.
//! KZG checks use c-kzg with the embedded Ethereum mainnet trusted setup,
//! loaded once per process (about 2 s).

use alloy_primitives::B256;
use ark_bls12_381::Fr;
use ark_ff::{BigInt, BigInteger, PrimeField, Zero};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use sha2::{Digest, Sha256};

pub use c_kzg::{BYTES_PER_BLOB, FIELD_ELEMENTS_PER_BLOB};

/// Bytes in a KZG commitment or proof (a compressed G1 point).
pub const BYTES_PER_G1: usize = 48;

/// Why a blob or its KZG data was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlobError {
    /// The blob is not exactly `BYTES_PER_BLOB` (131072) bytes.
    #[error("blob has {actual} bytes, expected {BYTES_PER_BLOB}")]
    WrongLength {
        /// Byte length received.
        actual: usize,
    },
    /// A 32-byte element is >= the BLS12-381 scalar modulus: the blob is corrupt or forged.
    #[error("blob element {index} is not below the BLS12-381 scalar modulus")]
    ElementOutOfRange {
        /// Index of the first offending element (0..4096).
        index: usize,
    },
    /// More than 4096 coefficients were given to encode into one blob.
    #[error("a blob holds at most {FIELD_ELEMENTS_PER_BLOB} coefficients, got {actual}")]
    TooManyCoefficients {
        /// Number of coefficients given.
        actual: usize,
    },
    /// c-kzg refused a blob, commitment or proof (malformed point or setup error).
    #[error("KZG library rejected the input: {0}")]
    Kzg(String),
}

/// Parses a blob's 4096 big-endian field elements, rejecting any element >= r
/// (a real blob can never hold one, so it means corrupt or forged data).
pub fn parse_elements(blob: &[u8]) -> Result<Vec<Fr>, BlobError> {
    if blob.len() != BYTES_PER_BLOB {
        return Err(BlobError::WrongLength { actual: blob.len() });
    }
    blob.chunks_exact(32)
        .enumerate()
        .map(|(index, chunk)| {
            let bytes: &[u8; 32] = chunk.try_into().expect("chunks_exact yields 32 bytes");
            fr_from_be(bytes).ok_or(BlobError::ElementOutOfRange { index })
        })
        .collect()
}

/// Recovers the coefficients of `p` (natural order, lowest degree first) from a blob.
pub fn blob_to_coefficients(blob: &[u8]) -> Result<Vec<Fr>, BlobError> {
    let elements = parse_elements(blob)?;
    let mut evaluations = vec![Fr::zero(); FIELD_ELEMENTS_PER_BLOB];
    // blob[i] = p(w^bitrev(i)), so evaluation at w^j sits at index bitrev(j).
    for (i, element) in elements.into_iter().enumerate() {
        evaluations[bit_reverse_12(i)] = element;
    }
    domain().ifft_in_place(&mut evaluations);
    Ok(evaluations)
}

/// The inverse of [`blob_to_coefficients`]: encodes up to 4096 coefficients as a
/// blob (used by encoders and the devnet, never as evidence of correctness).
pub fn coefficients_to_blob(coefficients: &[Fr]) -> Result<Vec<u8>, BlobError> {
    if coefficients.len() > FIELD_ELEMENTS_PER_BLOB {
        return Err(BlobError::TooManyCoefficients {
            actual: coefficients.len(),
        });
    }
    let mut values = coefficients.to_vec();
    values.resize(FIELD_ELEMENTS_PER_BLOB, Fr::zero());
    domain().fft_in_place(&mut values);
    let mut blob = vec![0u8; BYTES_PER_BLOB];
    for (j, value) in values.iter().enumerate() {
        let i = bit_reverse_12(j);
        blob[i * 32..(i + 1) * 32].copy_from_slice(&fr_to_be(value));
    }
    Ok(blob)
}

/// Evaluates `p(z)` from its coefficients (Horner's rule).
pub fn evaluate(coefficients: &[Fr], z: Fr) -> Fr {
    coefficients
        .iter()
        .rev()
        .fold(Fr::zero(), |acc, c| acc * z + c)
}

/// Reads a big-endian 32-byte value as a field element, `None` when >= r.
pub fn fr_from_be(bytes: &[u8; 32]) -> Option<Fr> {
    let mut limbs = [0u64; 4];
    for (k, limb) in limbs.iter_mut().enumerate() {
        let start = 32 - 8 * (k + 1);
        *limb = u64::from_be_bytes(bytes[start..start + 8].try_into().expect("8 bytes"));
    }
    Fr::from_bigint(BigInt::new(limbs))
}

/// Reduces an arbitrary big-endian byte string modulo r (used where a protocol
/// defines a value "mod r", such as Starknet's evaluation point).
pub fn fr_from_be_mod_order(bytes: &[u8]) -> Fr {
    Fr::from_be_bytes_mod_order(bytes)
}

/// Encodes a field element as 32 big-endian bytes.
pub fn fr_to_be(value: &Fr) -> [u8; 32] {
    let bytes = value.into_bigint().to_bytes_be();
    let mut out = [0u8; 32];
    out[32 - bytes.len()..].copy_from_slice(&bytes);
    out
}

/// EIP-4844 versioned hash of a KZG commitment: `0x01 ‖ sha256(commitment)[1..]`.
pub fn versioned_hash(commitment: &[u8; BYTES_PER_G1]) -> B256 {
    let mut hash: [u8; 32] = Sha256::digest(commitment).into();
    hash[0] = 0x01;
    B256::from(hash)
}

/// A blob whose KZG commitment is known and bound to its versioned hash: the
/// commitment is computed (or checked) once, where the blob enters the
/// program, and travels with it so no later stage recomputes it (~36 ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedBlob {
    /// EIP-4844 versioned hash, `0x01 ‖ sha256(commitment)[1..]`.
    pub versioned_hash: B256,
    /// KZG commitment to the blob polynomial (compressed G1 point).
    pub commitment: [u8; BYTES_PER_G1],
    /// The blob, `BYTES_PER_BLOB` bytes of big-endian field elements.
    pub bytes: Vec<u8>,
}

impl VerifiedBlob {
    /// Computes the blob's commitment.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, BlobError> {
        let commitment = commitment(&bytes)?;
        Ok(VerifiedBlob {
            versioned_hash: versioned_hash(&commitment),
            commitment,
            bytes,
        })
    }

    /// Pairs a blob that was already checked against `versioned_hash` (an
    /// [`crate::l1::L1Source`] guarantees that) with a commitment that hashes
    /// to the same versioned hash: both are then bound to the blob. `None`
    /// when the commitment names another versioned hash.
    pub fn bind(
        versioned_hash: B256,
        commitment: [u8; BYTES_PER_G1],
        bytes: Vec<u8>,
    ) -> Option<Self> {
        (self::versioned_hash(&commitment) == versioned_hash).then_some(VerifiedBlob {
            versioned_hash,
            commitment,
            bytes,
        })
    }
}

/// The process-wide KZG settings (Ethereum mainnet trusted setup), loaded on first use.
pub fn kzg_settings() -> &'static c_kzg::KzgSettings {
    c_kzg::ethereum_kzg_settings(0)
}

/// Computes the KZG commitment of a blob.
pub fn commitment(blob: &[u8]) -> Result<[u8; BYTES_PER_G1], BlobError> {
    let blob = to_kzg_blob(blob)?;
    let commitment = kzg_settings()
        .blob_to_kzg_commitment(&blob)
        .map_err(|e| BlobError::Kzg(format!("{e:?}")))?;
    Ok(commitment.to_bytes().into_inner())
}

/// Computes the blob proof for `commitment` (EIP-4844 `compute_blob_kzg_proof`).
pub fn blob_proof(
    blob: &[u8],
    commitment: &[u8; BYTES_PER_G1],
) -> Result<[u8; BYTES_PER_G1], BlobError> {
    let blob = to_kzg_blob(blob)?;
    let proof = kzg_settings()
        .compute_blob_kzg_proof(&blob, &c_kzg::Bytes48::new(*commitment))
        .map_err(|e| BlobError::Kzg(format!("{e:?}")))?;
    Ok(proof.to_bytes().into_inner())
}

/// Verifies an EIP-4844 blob proof; `Ok(false)` means the proof is well formed but wrong.
pub fn verify_blob_proof(
    blob: &[u8],
    commitment: &[u8; BYTES_PER_G1],
    proof: &[u8; BYTES_PER_G1],
) -> Result<bool, BlobError> {
    let blob = to_kzg_blob(blob)?;
    kzg_settings()
        .verify_blob_kzg_proof(
            &blob,
            &c_kzg::Bytes48::new(*commitment),
            &c_kzg::Bytes48::new(*proof),
        )
        .map_err(|e| BlobError::Kzg(format!("{e:?}")))
}

/// Verifies a KZG opening `p(z) = y` of `commitment` (the point-evaluation precompile's check).
pub fn verify_point_proof(
    commitment: &[u8; BYTES_PER_G1],
    z: &[u8; 32],
    y: &[u8; 32],
    proof: &[u8; BYTES_PER_G1],
) -> Result<bool, BlobError> {
    kzg_settings()
        .verify_kzg_proof(
            &c_kzg::Bytes48::new(*commitment),
            &c_kzg::Bytes32::new(*z),
            &c_kzg::Bytes32::new(*y),
            &c_kzg::Bytes48::new(*proof),
        )
        .map_err(|e| BlobError::Kzg(format!("{e:?}")))
}

fn to_kzg_blob(blob: &[u8]) -> Result<c_kzg::Blob, BlobError> {
    c_kzg::Blob::from_bytes(blob).map_err(|_| BlobError::WrongLength { actual: blob.len() })
}

fn domain() -> Radix2EvaluationDomain<Fr> {
    Radix2EvaluationDomain::new(FIELD_ELEMENTS_PER_BLOB).expect("BLS12-381 Fr has a 2^12 subgroup")
}

fn bit_reverse_12(i: usize) -> usize {
    (i as u16).reverse_bits() as usize >> 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn domain_generator_is_the_published_root_of_unity() {
        // Constant from Starknet's and EIP-4844's specifications, not computed here.
        let expected = Fr::from_str(
            "39033254847818212395286706435128746857159659164139250548781411570340225835782",
        )
        .unwrap();
        assert_eq!(domain().group_gen(), expected);
    }

    #[test]
    fn rejects_wrong_length_and_out_of_range_elements() {
        assert_eq!(
            parse_elements(&[0u8; 31]),
            Err(BlobError::WrongLength { actual: 31 })
        );
        let mut blob = vec![0u8; BYTES_PER_BLOB];
        blob[32..64].copy_from_slice(&[0xff; 32]);
        assert_eq!(
            parse_elements(&blob),
            Err(BlobError::ElementOutOfRange { index: 1 })
        );
    }

    #[test]
    fn bit_reversal_is_an_involution_on_12_bits() {
        assert_eq!(bit_reverse_12(1), 2048);
        assert!((0..4096).all(|i| bit_reverse_12(bit_reverse_12(i)) == i));
    }
}
