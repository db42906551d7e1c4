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
//! * the blob's KZG commitment (computed locally) equals the published one;
//! * the KZG opening proof of `p(z) = y` verifies (c-kzg);
//! * `keccak(chunk)` equals the blob linear hash (v26 header, or the system log before);
//! * `z = keccak(linear_hash ‖ versioned_hash)[16..32]` and `p(z) = y` evaluated on the decoded polynomial.

use alloy_primitives::{B256, keccak256};
use ark_bls12_381::Fr;
use ark_ff::{BigInteger, PrimeField};

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
    let coefficients = kzg_blob::blob_to_coefficients(blob)?;
    let mut out = Vec::with_capacity(PUBDATA_PER_BLOB);
    for (k, c) in coefficients.iter().rev().enumerate() {
        let le = c.into_bigint().to_bytes_le();
        if le[31..].iter().any(|b| *b != 0) {
            return Err(ZkBlobError::WideCoefficient { index: k });
        }
        out.extend_from_slice(&le[..31]);
    }
    Ok(out)
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
    let coefficients = pubdata_to_coefficients(chunk)?;
    let z = Fr::from_be_bytes_mod_order(z);
    Ok(B256::from(kzg_blob::fr_to_be(&kzg_blob::evaluate(
        &coefficients,
        z,
    ))))
}

/// `z` left-padded to the 32 bytes the point-evaluation precompile takes.
pub fn pad_point(z: &[u8; 16]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[16..].copy_from_slice(z);
    out
}
