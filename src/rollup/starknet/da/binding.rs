//! Binding checks: is the decoded DA exactly what the STARK proof committed to?
//!
//! Blob mode: the OS commits to the DA through a point `z` and one evaluation
//! `y_j = p_j(z) mod r` per blob (v0.13.2+:
//! `z = Poseidon(poseidon_many(da), poseidon_many(c_low_0, c_high_0, ...))`;
//! v0.13.1: `z = Poseidon(poseidon_many(da), Poseidon(c_low, c_high))`), and L1
//! checks each blob's KZG commitment and proof. Calldata mode: `updateState`
//! carries `onchainDataHash`, the GPS fact-tree node over the DA pages
//! (`1 + keccak(h_1, end_1, h_2, end_2, ...)`, `h_i = keccak(page_i)`, `end_i`
//! counted from the start of the output, page 0 included), and `onchainDataSize`.
//!
//! Every check yields a [`Finding`], passed or not; a failure is evidence about
//! the sequencer, not a crash.

use alloy_primitives::{B256, U256, keccak256};
use ark_bls12_381::Fr;
use serde::Serialize;
use starknet_types_core::felt::Felt;
use starknet_types_core::hash::{Poseidon, StarkHash};

use super::pages::MemoryPage;
use super::program_output::{HeaderVersion, KzgSegment, split_commitment};
use crate::blob;

/// The outcome of one binding check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The batch (L1 update) the check is about, when the caller knows it.
    pub batch: Option<u64>,
    /// Which check, e.g. `"kzg.z"`, `"kzg.y[1]"`, `"calldata.onchain_data_hash"`.
    pub check: String,
    /// `expected == actual`.
    pub passed: bool,
    /// The value the proof committed to (program output or L1 calldata).
    pub expected: String,
    /// The value computed from the data.
    pub actual: String,
}

impl Finding {
    /// A finding for `check`, passed when the two values print the same.
    pub fn new(check: impl Into<String>, expected: impl ToString, actual: impl ToString) -> Self {
        let (expected, actual) = (expected.to_string(), actual.to_string());
        Finding {
            batch: None,
            check: check.into(),
            passed: expected == actual,
            expected,
            actual,
        }
    }
}

/// `z` as the v0.13.2+ OS computes it.
pub fn z_v0_13_2(da: &[Felt], commitments: &[[u8; 48]]) -> Felt {
    let halves: Vec<Felt> = commitments
        .iter()
        .flat_map(|c| {
            let (low, high) = split_commitment(c);
            [low, high]
        })
        .collect();
    Poseidon::hash(&Poseidon::hash_array(da), &Poseidon::hash_array(&halves))
}

/// `z` as the v0.13.1 OS computes it (one blob).
pub fn z_v0_13_1(da: &[Felt], commitment: &[u8; 48]) -> Felt {
    let (low, high) = split_commitment(commitment);
    Poseidon::hash(&Poseidon::hash_array(da), &Poseidon::hash(&low, &high))
}

/// `z` for a header version.
pub fn z_for(version: HeaderVersion, da: &[Felt], commitments: &[[u8; 48]]) -> Option<Felt> {
    match version {
        HeaderVersion::V0_13_1 => commitments.first().map(|c| z_v0_13_1(da, c)),
        HeaderVersion::V0_13_2 => Some(z_v0_13_2(da, commitments)),
        HeaderVersion::PreV0_7 | HeaderVersion::V0_7 | HeaderVersion::V0_11 => None,
    }
}

/// What blob mode can check, beyond the blobs themselves.
pub struct BlobEvidence<'a> {
    /// The program-output header version, which decides how `z` is computed.
    pub version: HeaderVersion,
    /// The KZG segment of the program output (`z`, `y`s, commitments).
    pub kzg: &'a KzgSegment,
    /// The blob versioned hashes of the L1 transaction, when known.
    pub versioned_hashes: Option<&'a [B256]>,
    /// Whether the L1 source checked blob `j` against `versioned_hashes[j]`.
    pub blobs_checked: bool,
    /// The KZG proofs of `updateStateKzgDA`, when known.
    pub proofs: Option<&'a [[u8; 48]]>,
}

/// Blob-mode checks. `coefficients[j]` are blob `j`'s polynomial coefficients,
/// `da` the exact DA felts.
pub fn blob_checks(
    blobs: &[Vec<u8>],
    coefficients: &[Vec<Fr>],
    da: &[Felt],
    evidence: &BlobEvidence<'_>,
) -> Vec<Finding> {
    let kzg = evidence.kzg;
    let mut findings = vec![Finding::new(
        "kzg.n_blobs",
        kzg.commitments.len(),
        blobs.len(),
    )];
    match z_for(evidence.version, da, &kzg.commitments) {
        Some(z) => findings.push(Finding::new("kzg.z", hex_felt(&kzg.z), hex_felt(&z))),
        None => findings.push(Finding::new(
            "kzg.z",
            "a KZG header",
            format!("{:?}", evidence.version),
        )),
    }
    let z_fr = blob::fr_from_be_mod_order(&kzg.z.to_bytes_be());
    for (j, blob_bytes) in blobs.iter().enumerate() {
        let posted_commitment = kzg.commitments.get(j);
        let posted = |v: Option<String>| v.unwrap_or_else(|| "missing".into());
        match blob_commitment(blob_bytes, posted_commitment, j, evidence) {
            Ok(c) => findings.push(Finding::new(
                format!("kzg.commitment[{j}]"),
                posted(posted_commitment.map(hex48)),
                hex48(&c),
            )),
            Err(e) => findings.push(Finding::new(
                format!("kzg.commitment[{j}]"),
                "a valid blob",
                e,
            )),
        }
        if let Some(coeffs) = coefficients.get(j) {
            let y = blob::fr_to_be(&blob::evaluate(coeffs, z_fr));
            findings.push(Finding::new(
                format!("kzg.y[{j}]"),
                posted(
                    kzg.evaluations
                        .get(j)
                        .map(|y| format!("0x{}", hex::encode(y))),
                ),
                format!("0x{}", hex::encode(y)),
            ));
        }
        if let (Some(hashes), Some(c)) = (evidence.versioned_hashes, posted_commitment) {
            findings.push(Finding::new(
                format!("kzg.versioned_hash[{j}]"),
                posted(hashes.get(j).map(|h| h.to_string())),
                blob::versioned_hash(c).to_string(),
            ));
        }
        if let (Some(proofs), Some(c), Some(y)) =
            (evidence.proofs, posted_commitment, kzg.evaluations.get(j))
        {
            let verdict = match proofs.get(j) {
                Some(proof) => match blob::verify_point_proof(c, &kzg.z.to_bytes_be(), y, proof) {
                    Ok(true) => "valid".to_string(),
                    Ok(false) => "invalid".to_string(),
                    Err(e) => e.to_string(),
                },
                None => "missing".to_string(),
            };
            findings.push(Finding::new(format!("kzg.proof[{j}]"), "valid", verdict));
        }
    }
    findings
}

/// Blob `j`'s KZG commitment. A blob the L1 source checked against the
/// transaction's versioned hash `h_j` has exactly one commitment hashing to
/// `h_j`: when the posted one does, it is the blob's (sha256 is collision
/// resistant) and the 4,096-point multi-scalar multiplication is skipped.
/// Otherwise the commitment is recomputed, so a failed check names the
/// blob's real commitment.
fn blob_commitment(
    blob_bytes: &[u8],
    posted: Option<&[u8; 48]>,
    j: usize,
    evidence: &BlobEvidence<'_>,
) -> Result<[u8; 48], blob::BlobError> {
    let checked_hash = evidence
        .versioned_hashes
        .filter(|_| evidence.blobs_checked)
        .and_then(|hashes| hashes.get(j));
    match (checked_hash, posted) {
        (Some(hash), Some(c)) if blob::versioned_hash(c) == *hash => Ok(*c),
        _ => blob::commitment(blob_bytes),
    }
}

/// The GPS fact-tree node over the DA pages that `updateState` calls `onchainDataHash`.
pub fn onchain_data_hash(main_page_len: usize, pages: &[&[U256]]) -> B256 {
    // Lengths of pages in memory: the saturating sums below are exact.
    let mut node = Vec::with_capacity(pages.len().saturating_mul(64));
    let mut end = main_page_len;
    for page in pages {
        let mut bytes = Vec::with_capacity(page.len().saturating_mul(32));
        page.iter()
            .for_each(|v| bytes.extend_from_slice(&v.to_be_bytes::<32>()));
        end = end.saturating_add(page.len());
        node.extend_from_slice(keccak256(&bytes).as_slice());
        node.extend_from_slice(&U256::from(end).to_be_bytes::<32>());
    }
    let hash = U256::from_be_bytes(keccak256(&node).0).wrapping_add(U256::from(1u8));
    B256::from(hash.to_be_bytes::<32>())
}

/// Calldata-mode checks against `updateState`'s `onchainDataHash` and `onchainDataSize`.
pub fn calldata_checks(
    pages: &[MemoryPage],
    da_len: usize,
    main_page_len: usize,
    onchain_data_hash_posted: &B256,
    onchain_data_size_posted: &U256,
) -> Vec<Finding> {
    let values: Vec<&[U256]> = pages.iter().map(|p| p.values.as_slice()).collect();
    let total: usize = values.iter().map(|v| v.len()).sum();
    let mut findings = vec![
        Finding::new(
            "calldata.onchain_data_hash",
            onchain_data_hash_posted.to_string(),
            onchain_data_hash(main_page_len, &values).to_string(),
        ),
        Finding::new(
            "calldata.onchain_data_size",
            onchain_data_size_posted,
            total,
        ),
        Finding::new("calldata.da_length", total, da_len),
    ];
    let prime = super::stark_prime();
    // Findings number pages from 1, so page `number` is followed by
    // `pages[number]`; numbers stay below pages.len() + 2, no overflow.
    for (number, page) in (1usize..).zip(pages) {
        findings.push(Finding::new(
            format!("calldata.page_prime[{number}]"),
            prime,
            page.prime,
        ));
        if let Some(next) = pages.get(number) {
            let end = page
                .start_addr
                .saturating_add(U256::from(page.values.len()));
            findings.push(Finding::new(
                format!("calldata.page_contiguous[{}]", number.saturating_add(1)),
                end,
                next.start_addr,
            ));
        }
    }
    findings
}

fn hex_felt(f: &Felt) -> String {
    format!("{f:#x}")
}

fn hex48(c: &[u8; 48]) -> String {
    format!("0x{}", hex::encode(c))
}

pub(crate) fn ser_felt<S: serde::Serializer>(f: &Felt, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{f:#x}"))
}

pub(crate) fn ser_opt_felt<S: serde::Serializer>(
    f: &Option<Felt>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match f {
        Some(f) => ser_felt(f, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_passes_only_on_equality() {
        assert!(Finding::new("a", "0x1", "0x1").passed);
        assert!(!Finding::new("a", "0x1", "0x2").passed);
    }
}
