//! ZKsync blobs: 126,976 pubdata bytes per EIP-4844 blob.
//!
//! The pubdata (zero-padded to 126,976 bytes) is cut into 4096 chunks of 31
//! bytes; chunk k, read little-endian, is the coefficient of degree 4095 − k
//! of the blob polynomial p, and the blob holds p's evaluations (see
//! [`crate::blob`]). Decoding is the inverse FFT, coefficients in reverse
//! order, each written as 31 little-endian bytes.
//!
//! Verification of one blob against its calldata opening:
//! * `0x01 ‖ sha256(commitment)[1..]` equals the versioned hash of the transaction;
//! * the blob is the one committed under that versioned hash: the L1 source
//!   checked it by the node's KZG proof, by the opening below
//!   ([`proven_versioned_hash`]) or by recomputing its commitment;
//! * the KZG opening proof of `p(z) = y` verifies (c-kzg);
//! * `keccak(chunk)` equals the blob linear hash (v26 header, or the system log before);
//! * `z = keccak(linear_hash ‖ versioned_hash)[16..32]` and `p(z) = y` evaluated on the decoded polynomial.

use alloy_primitives::{B256, keccak256};
use ark_bls12_381::Fr;
use ark_ff::{BigInteger, PrimeField};

use super::da::BlobOpening;
use crate::blob::{self as kzg_blob, BlobError};

/// Pubdata bytes carried by one blob.
pub const PUBDATA_PER_BLOB: usize = 4096 * 31;

/// Why a ZKsync blob was rejected.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ZkBlobError {
    /// The blob itself is malformed (length or an element above the field modulus).
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// A coefficient has a nonzero top byte, which ZKsync's packing never produces: not a ZKsync blob.
    #[error("coefficient {index} does not fit in 31 bytes: not a ZKsync blob")]
    WideCoefficient {
        /// Index of the coefficient.
        index: usize,
    },
    /// A pubdata chunk given to the encoder exceeds `PUBDATA_PER_BLOB`; holds its length.
    #[error("pubdata chunk of {0} bytes exceeds one blob")]
    ChunkTooLarge(usize),
}

/// Decodes one blob into its 126,976 pubdata bytes.
pub fn blob_to_pubdata(blob: &[u8]) -> Result<Vec<u8>, ZkBlobError> {
    DecodedBlob::decode(blob).map(|decoded| decoded.chunk)
}

/// A blob decoded once (one inverse FFT): its polynomial and its pubdata.
pub struct DecodedBlob {
    /// Coefficients of the blob polynomial, lowest degree first.
    coefficients: Vec<Fr>,
    /// The 126,976 pubdata bytes.
    pub chunk: Vec<u8>,
}

impl DecodedBlob {
    /// Decodes a blob; refuses one whose coefficients do not fit ZKsync's packing.
    pub fn decode(blob: &[u8]) -> Result<Self, ZkBlobError> {
        let coefficients = kzg_blob::blob_to_coefficients(blob)?;
        let mut chunk = Vec::with_capacity(PUBDATA_PER_BLOB);
        for (k, c) in coefficients.iter().rev().enumerate() {
            let le = c.into_bigint().to_bytes_le();
            // Refusing instead of truncating keeps blob -> chunk one-to-one,
            // which `proven_versioned_hash` relies on.
            if le[31..].iter().any(|b| *b != 0) {
                return Err(ZkBlobError::WideCoefficient { index: k });
            }
            chunk.extend_from_slice(&le[..31]);
        }
        Ok(DecodedBlob {
            coefficients,
            chunk,
        })
    }

    /// `keccak(chunk)`, the blob's linear hash.
    pub fn linear_hash(&self) -> B256 {
        keccak256(&self.chunk)
    }

    /// `p(z)`, z given as 16 big-endian bytes.
    pub fn evaluate(&self, z: &[u8; 16]) -> B256 {
        evaluate_coefficients(&self.coefficients, z)
    }
}

/// `p(z)` for coefficients lowest degree first, z given as 16 big-endian bytes.
fn evaluate_coefficients(coefficients: &[Fr], z: &[u8; 16]) -> B256 {
    let z = Fr::from_be_bytes_mod_order(z);
    B256::from(kzg_blob::fr_to_be(&kzg_blob::evaluate(coefficients, z)))
}

/// The versioned hash under which one of `openings` (from verified commit
/// calldata) proves `blob` committed, without recomputing the blob's KZG
/// commitment (a 4,096-point multi-scalar multiplication, ~36 ms). For an
/// opening of commitment `C` at `z` to `y` the checks are: `z` is
/// `keccak(keccak(chunk) ‖ h)[16..32]` for this blob's own pubdata chunk and
/// `h = 0x01 ‖ sha256(C)[1..]`, the blob's polynomial gives `p(z) = y`, and
/// the KZG proof of `p(z) = y` verifies against `C`.
///
/// Why that binds the blob to `h`: `z` is fixed by the blob's bytes before
/// anyone can adapt to it, so a polynomial other than `C`'s agrees with `C`'s
/// at `z` with probability at most 4,096 / 2^128 per attempt — the
/// Fiat–Shamir argument of EIP-4844's own blob proofs, with ZKsync's
/// challenge instead of the consensus one. `None` proves nothing either way:
/// the caller falls back to recomputing the commitment.
pub fn proven_versioned_hash(blob: &[u8], openings: &[BlobOpening]) -> Option<B256> {
    let decoded = DecodedBlob::decode(blob).ok()?;
    let linear = decoded.linear_hash();
    openings.iter().find_map(|opening| {
        let versioned_hash = kzg_blob::versioned_hash(&opening.commitment);
        if opening_point(&linear, &versioned_hash) != opening.opening_point
            || decoded.evaluate(&opening.opening_point) != opening.claimed_value
        {
            return None;
        }
        let proof = kzg_blob::verify_point_proof(
            &opening.commitment,
            &pad_point(&opening.opening_point),
            &opening.claimed_value.0,
            &opening.proof,
        );
        (proof == Ok(true)).then_some(versioned_hash)
    })
}

/// The blob polynomial's coefficients (lowest degree first) for a pubdata chunk.
pub fn pubdata_to_coefficients(chunk: &[u8]) -> Result<Vec<Fr>, ZkBlobError> {
    if chunk.len() > PUBDATA_PER_BLOB {
        return Err(ZkBlobError::ChunkTooLarge(chunk.len()));
    }
    let mut padded = chunk.to_vec();
    padded.resize(PUBDATA_PER_BLOB, 0);
    let mut coefficients: Vec<Fr> = padded
        .chunks_exact(31)
        .map(Fr::from_le_bytes_mod_order)
        .collect();
    coefficients.reverse();
    Ok(coefficients)
}

/// Encodes a pubdata chunk (at most 126,976 bytes) as a blob.
pub fn pubdata_to_blob(chunk: &[u8]) -> Result<Vec<u8>, ZkBlobError> {
    Ok(kzg_blob::coefficients_to_blob(&pubdata_to_coefficients(
        chunk,
    )?)?)
}

/// `keccak` of the chunk zero-padded to a full blob.
pub fn linear_hash(chunk: &[u8]) -> B256 {
    let mut padded = chunk.to_vec();
    padded.resize(PUBDATA_PER_BLOB.max(chunk.len()), 0);
    keccak256(padded)
}

/// The opening point `keccak(linear_hash ‖ versioned_hash)[16..32]`.
pub fn opening_point(linear_hash: &B256, versioned_hash: &B256) -> [u8; 16] {
    let mut input = [0u8; 64];
    input[..32].copy_from_slice(linear_hash.as_slice());
    input[32..].copy_from_slice(versioned_hash.as_slice());
    keccak256(input)[16..].try_into().expect("16 bytes")
}

/// `p(z)` for the polynomial of `chunk`, z given as 16 big-endian bytes.
pub fn evaluate_at(chunk: &[u8], z: &[u8; 16]) -> Result<B256, ZkBlobError> {
    Ok(evaluate_coefficients(&pubdata_to_coefficients(chunk)?, z))
}

/// `z` left-padded to the 32 bytes the point-evaluation precompile takes.
pub fn pad_point(z: &[u8; 16]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[16..].copy_from_slice(z);
    out
}
