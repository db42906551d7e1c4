//! One L1 state update from raw inputs to a [`StateDiff`] plus binding findings,
//! with the DA layout chosen from evidence:
//!
//! 1. the L1 function (`updateState`, `updateStateKzgDA` v0.13.1 / v0.13.2+) and the
//!    program-output header that parses the output exactly (one version, or an error);
//! 2. the layouts that header allows, each tried on the DA; only decoders that
//!    accept the data exactly (counts, packing, zero padding) survive; when several
//!    survive, `z` (blobs) or `onchainDataSize` (pages) must single one out;
//! 3. v0.13.3 vs v0.13.4 (same wire format): aliases from the first batch that
//!    writes the alias contract 0x2 on ([`crate::rollup::starknet::dispatch`]
//!    explains why that is exact). Only a source that does not know whether 0x2
//!    was written before (one-shot decoding) leaves a compressed batch without
//!    0x2 writes undetermined, and then `--layout` decides.
//!
//! Nothing is guessed: when the evidence does not single out one layout the error
//! says so.

use alloy_primitives::B256;
use ark_bls12_381::Fr;
use ark_ff::PrimeField;
use starknet_types_core::felt::Felt;

use super::aliases::{self, AliasSource, UnresolvedAlias};
use super::binding::{self, BlobEvidence, Finding};
use super::pages::{self, MemoryPage};
use super::program_output::{self, HeaderVersion, L1Binding, L1Update, ProgramOutput};
use super::{DaEnd, DaError, DaStateDiff, Layout, decode_da, felt_from_be_checked};
use crate::diff::StateDiff;

/// Where the DA of the batch is.
#[derive(Clone, Copy, Debug)]
pub enum DaInput<'a> {
    /// EIP-4844 blobs (131072 bytes each), in transaction order.
    Blobs(&'a [Vec<u8>]),
    /// Memory pages in page order (page 1 first).
    Pages(&'a [MemoryPage]),
    /// DA felts given directly; they must be used exactly.
    Felts(&'a [Felt]),
}

/// Everything known about one L1 state update.
#[derive(Clone, Copy, Debug)]
pub struct BatchInput<'a> {
    /// Batch number to stamp on findings, when the caller has one.
    pub batch: Option<u64>,
    /// Where the DA felts come from.
    pub da: DaInput<'a>,
    /// The `updateState*` call (program output and its binding), when known.
    pub l1_update: Option<&'a L1Update>,
    /// The blob versioned hashes of the L1 transaction, when known.
    pub versioned_hashes: Option<&'a [B256]>,
    /// Whether an [`crate::l1::L1Source`] checked blob `j` against
    /// `versioned_hashes[j]` (the follower's fetch does; a blob read from a
    /// file is not checked): a posted commitment that hashes to that
    /// versioned hash is then the blob's own and is not recomputed.
    pub blobs_checked: bool,
    /// A layout forced by the caller; `None` = choose from evidence.
    pub layout: Option<Layout>,
}

/// A decoded batch.
#[derive(Clone, Debug)]
pub struct DecodedBatch {
    /// The layout the DA was decoded with (forced, or chosen from evidence).
    pub layout: Layout,
    /// The program output of the `updateState*` call, when one was given.
    pub program_output: Option<ProgramOutput>,
    /// The exact DA felts (compressed ones for compressed layouts); `z` is over these.
    pub da: Vec<Felt>,
    /// The diff as posted (aliases not resolved).
    pub posted: DaStateDiff,
    /// The normalized diff, aliases resolved (entries behind unresolved aliases left out).
    pub diff: StateDiff,
    /// Aliases that neither the source nor the batch's 0x2 writes map.
    pub unresolved_aliases: Vec<UnresolvedAlias>,
    /// Aliases this batch allocated (v0.13.4+).
    pub aliases_allocated: usize,
    /// The binding checks of the DA against the program output, stamped with `batch`.
    pub findings: Vec<Finding>,
}

impl DecodedBatch {
    /// Fails when any alias was left unresolved (the diff would be incomplete).
    pub fn require_complete(&self) -> Result<(), DaError> {
        match self.unresolved_aliases.first() {
            Some(u) => Err(DaError::UnmappedAlias {
                alias: u.alias,
                context: if u.in_contract.is_some() {
                    "storage key"
                } else {
                    "contract address"
                },
            }),
            None => Ok(()),
        }
    }

    /// True when every binding check passed.
    pub fn all_checks_passed(&self) -> bool {
        self.findings.iter().all(|f| f.passed)
    }
}

/// Decodes one batch. Aliases (v0.13.4+) come from `aliases` (earlier batches) and
/// from the batch's own 0x2 writes.
pub fn decode_batch<A: AliasSource>(
    input: &BatchInput<'_>,
    aliases: &A,
) -> Result<DecodedBatch, DaError> {
    let program_output = match input.l1_update {
        Some(update) => {
            let candidates: Vec<HeaderVersion> = update
                .header_candidates()
                .iter()
                .copied()
                .filter(|v| input.layout.is_none_or(|l| header_allows(*v, l)))
                .collect();
            Some(program_output::detect(&update.program_output, &candidates)?)
        }
        None => None,
    };

    let (felts, coefficients, end) = match input.da {
        DaInput::Blobs(blobs) => {
            let (felts, coefficients) = blobs_to_felts(blobs)?;
            (felts, coefficients, DaEnd::ZeroPadded)
        }
        DaInput::Pages(pages) => (pages::pages_to_felts(pages)?, Vec::new(), DaEnd::Exact),
        DaInput::Felts(felts) => (felts.to_vec(), Vec::new(), DaEnd::Exact),
    };

    let (layout, posted, da_len) = match input.layout {
        Some(layout) => {
            let (posted, used) = decode_da(&felts, layout, end)?;
            (layout, posted, used)
        }
        None => choose_layout(input, program_output.as_ref(), &felts, end, aliases)?,
    };
    let da = felts[..da_len].to_vec();

    let (resolved, unresolved, allocated) = if layout == Layout::V0_13_4 {
        let resolution = aliases::resolve(&posted, aliases)?;
        (
            resolution.diff,
            resolution.unresolved,
            resolution.allocated_in_batch,
        )
    } else {
        (posted.clone(), Vec::new(), 0)
    };
    let diff = resolved.to_state_diff()?;

    let mut findings = Vec::new();
    if let (Some(output), Some(update)) = (program_output.as_ref(), input.l1_update) {
        match (&input.da, &update.binding, &output.kzg) {
            (DaInput::Blobs(blobs), binding, Some(kzg)) => {
                let proofs = match binding {
                    L1Binding::Kzg { proofs, .. } => Some(proofs.as_slice()),
                    _ => None,
                };
                let evidence = BlobEvidence {
                    version: output.version,
                    kzg,
                    versioned_hashes: input.versioned_hashes,
                    blobs_checked: input.blobs_checked,
                    proofs,
                };
                findings.extend(binding::blob_checks(blobs, &coefficients, &da, &evidence));
            }
            (
                DaInput::Pages(pages),
                L1Binding::Calldata {
                    onchain_data_hash,
                    onchain_data_size,
                },
                None,
            ) => {
                findings.extend(binding::calldata_checks(
                    pages,
                    da.len(),
                    output.len,
                    onchain_data_hash,
                    onchain_data_size,
                ));
            }
            (DaInput::Blobs(_), _, None) => findings.push(Finding::new(
                "mode",
                "use_kzg_da = 1 for blob DA",
                "use_kzg_da = 0",
            )),
            (DaInput::Pages(_), _, Some(_)) => findings.push(Finding::new(
                "mode",
                "use_kzg_da = 0 for page DA",
                "use_kzg_da = 1",
            )),
            _ => {}
        }
    }
    for finding in &mut findings {
        finding.batch = input.batch;
    }

    Ok(DecodedBatch {
        layout,
        program_output,
        da,
        posted,
        diff,
        unresolved_aliases: unresolved,
        aliases_allocated: allocated,
        findings,
    })
}

/// IFFTs every blob and concatenates the coefficients as felts. A coefficient that
/// is not a Stark felt is rejected (no honest blob has one).
pub fn blobs_to_felts(blobs: &[Vec<u8>]) -> Result<(Vec<Felt>, Vec<Vec<Fr>>), DaError> {
    let mut felts = Vec::with_capacity(
        blobs
            .len()
            .saturating_mul(crate::blob::FIELD_ELEMENTS_PER_BLOB),
    );
    let mut all = Vec::with_capacity(blobs.len());
    for blob in blobs {
        let coefficients = crate::blob::blob_to_coefficients(blob)?;
        for c in &coefficients {
            let index = felts.len();
            felts.push(fr_to_felt(c, index)?);
        }
        all.push(coefficients);
    }
    Ok((felts, all))
}

fn fr_to_felt(value: &Fr, index: usize) -> Result<Felt, DaError> {
    // Little-endian limbs to big-endian bytes without an intermediate allocation.
    let limbs = value.into_bigint().0;
    let mut word = [0u8; 32];
    for (bytes, limb) in word.rchunks_exact_mut(8).zip(limbs.iter()) {
        bytes.copy_from_slice(&limb.to_be_bytes());
    }
    felt_from_be_checked(&word, "blob coefficient", index)
}

/// Header versions a forced layout is compatible with.
fn header_allows(version: HeaderVersion, layout: Layout) -> bool {
    match version {
        // Both came before v0.10's DA layout.
        HeaderVersion::PreV0_7 | HeaderVersion::V0_7 => layout == Layout::V0_9,
        HeaderVersion::V0_11 => matches!(layout, Layout::V0_9 | Layout::V0_10 | Layout::V0_11),
        HeaderVersion::V0_13_1 => layout == Layout::V0_11,
        HeaderVersion::V0_13_2 => {
            matches!(layout, Layout::V0_11 | Layout::V0_13_3 | Layout::V0_13_4)
        }
    }
}

fn choose_layout<A: AliasSource>(
    input: &BatchInput<'_>,
    output: Option<&ProgramOutput>,
    felts: &[Felt],
    end: DaEnd,
    aliases: &A,
) -> Result<(Layout, DaStateDiff, usize), DaError> {
    let blob_mode = matches!(input.da, DaInput::Blobs(_));
    // Compressed layouts are tried once as V0_13_3 and split below.
    let candidates: &[Layout] = match (output.map(|o| o.version), blob_mode) {
        (Some(HeaderVersion::PreV0_7 | HeaderVersion::V0_7), _) => &[Layout::V0_9],
        (Some(HeaderVersion::V0_11), _) => &[Layout::V0_9, Layout::V0_10, Layout::V0_11],
        (Some(HeaderVersion::V0_13_1), _) => &[Layout::V0_11],
        (Some(HeaderVersion::V0_13_2), _) | (None, true) => &[Layout::V0_11, Layout::V0_13_3],
        (None, false) => &[Layout::V0_9, Layout::V0_10, Layout::V0_11, Layout::V0_13_3],
    };
    let mut fits = Vec::new();
    let mut failures = Vec::new();
    let mut encrypted = None;
    for layout in candidates {
        match decode_da(felts, *layout, end) {
            Ok((diff, used)) => fits.push((*layout, diff, used)),
            Err(DaError::Encrypted { n_keys }) => encrypted = Some(n_keys),
            Err(e) => failures.push(format!("{layout}: {e}")),
        }
    }
    if let (true, Some(n_keys)) = (fits.is_empty(), encrypted) {
        return Err(DaError::Encrypted { n_keys });
    }
    if fits.len() > 1 {
        // The length the proof bound decides between decoders that both accept the data.
        if let (Some(output), Some(update)) = (output, input.l1_update) {
            fits.retain(|(_, _, used)| bound_length_matches(output, update, &felts[..*used]));
        }
    }
    let (layout, diff, used) = match fits.len() {
        1 => fits.pop().expect("one element"),
        0 => {
            return Err(DaError::LayoutUndetermined(format!(
                "no DA layout accepts the data ({}); check the input or pass --layout",
                failures.join("; ")
            )));
        }
        _ => {
            let names: Vec<String> = fits.iter().map(|(l, _, _)| l.to_string()).collect();
            return Err(DaError::LayoutUndetermined(format!(
                "the data is valid in several layouts ({}) and nothing bound to the proof tells them \
                 apart; pass --layout",
                names.join(", ")
            )));
        }
    };
    if layout != Layout::V0_13_3 {
        return Ok((layout, diff, used));
    }
    let writes_alias_contract = diff
        .contracts
        .iter()
        .any(|c| c.address == aliases::ALIAS_CONTRACT);
    let written_before = if writes_alias_contract {
        None
    } else {
        aliases
            .alias_contract_written()
            .map_err(|e| DaError::AliasSource(Box::new(e)))?
    };
    match (writes_alias_contract, written_before) {
        (true, _) => Ok((Layout::V0_13_4, diff, used)),
        (false, Some(before)) => Ok((
            crate::rollup::starknet::dispatch::compressed_layout(before, false),
            diff,
            used,
        )),
        (false, None) => Err(DaError::LayoutUndetermined(
            "compressed DA without writes to the alias contract 0x2, and no chain history to tell \
             whether 0x2 was written before: pass --layout 0.13.3 or --layout 0.13.4"
                .into(),
        )),
    }
}

/// Whether `da` has the length the L1 update bound: `z` in blob mode,
/// `onchainDataSize` in calldata mode. `true` when nothing binds it.
fn bound_length_matches(output: &ProgramOutput, update: &L1Update, da: &[Felt]) -> bool {
    match (&output.kzg, &update.binding) {
        (Some(kzg), _) => binding::z_for(output.version, da, &kzg.commitments) == Some(kzg.z),
        (
            None,
            L1Binding::Calldata {
                onchain_data_size, ..
            },
        ) => *onchain_data_size == alloy_primitives::U256::from(da.len()),
        _ => true,
    }
}
