//! From a decoded commit call to per-batch results with checks: the pubdata
//! (from calldata or blobs) parsed to the last byte, and every binding L1 made
//! to it checked.

use std::collections::HashMap;
use std::sync::Arc;

use alloy_primitives::{B256, keccak256};
use serde::{Deserialize, Serialize};

use super::blob::{self as zkblob, PUBDATA_PER_BLOB};
use super::calldata::{CommitBatch, CommitCall};
use super::compression::{InitialWrite, RepeatedWrite, StateDiffs, ValueOp};
use super::da::{BlobOpening, DaInput};
use super::pubdata::{Pubdata, Trailer};
use super::{
    BLOB_ONE_HASH_LOG_KEY, L1_MESSENGER, PUBDATA_CHUNK_PUBLISHER, PUBDATA_HASH_LOG_KEY,
    system_log_value,
};
use crate::audit::Check;
use crate::blob::{self as kzg, VerifiedBlob};

/// Blobs available to the decoder, each with its KZG commitment computed once
/// ([`VerifiedBlob`]), indexed by that commitment.
#[derive(Default)]
pub struct BlobStore {
    by_commitment: HashMap<[u8; 48], Arc<VerifiedBlob>>,
    /// Contract-side blob commitment (`keccak(versioned_hash ‖ z ‖ y)`) -> KZG commitment,
    /// for v26 batches that name a blob published earlier.
    by_published: HashMap<B256, [u8; 48]>,
}

impl BlobStore {
    /// Adds a blob (its commitment is computed here, not trusted from anywhere).
    pub fn add(&mut self, blob: Vec<u8>) -> Result<[u8; 48], kzg::BlobError> {
        let verified = VerifiedBlob::from_bytes(blob)?;
        let commitment = verified.commitment;
        self.insert(verified);
        Ok(commitment)
    }

    /// Adds a blob whose commitment is already bound to it.
    pub fn insert(&mut self, blob: impl Into<Arc<VerifiedBlob>>) {
        let blob = blob.into();
        self.by_commitment.insert(blob.commitment, blob);
    }

    /// Adds a blob an earlier transaction published under `published`
    /// (its contract-side commitment).
    pub fn insert_published(&mut self, published: B256, blob: Arc<VerifiedBlob>) {
        self.by_published.insert(published, blob.commitment);
        self.insert(blob);
    }

    /// The bytes of the blob with this KZG commitment.
    pub fn get(&self, commitment: &[u8; 48]) -> Option<&[u8]> {
        self.by_commitment
            .get(commitment)
            .map(|b| b.bytes.as_slice())
    }

    /// The blob with this KZG commitment.
    pub fn verified(&self, commitment: &[u8; 48]) -> Option<&Arc<VerifiedBlob>> {
        self.by_commitment.get(commitment)
    }

    /// Records the contract-side commitment of an opening seen in calldata.
    pub fn note_published(&mut self, opening: &BlobOpening) {
        let vh = kzg::versioned_hash(&opening.commitment);
        self.by_published
            .insert(opening.published_commitment(&vh), opening.commitment);
    }

    /// The KZG commitment of the blob published under this contract-side commitment.
    pub fn by_published(&self, published: &B256) -> Option<[u8; 48]> {
        self.by_published.get(published).copied()
    }

    /// Whether no blob is held.
    pub fn is_empty(&self) -> bool {
        self.by_commitment.is_empty()
    }
}

/// The writes of one batch in the published form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Writes {
    /// First writes of slots, with their derived keys (each takes the next enumeration index).
    pub initial: Vec<InitialWrite>,
    /// Writes to slots already enumerated, by index.
    pub repeated: Vec<RepeatedWrite>,
}

impl From<StateDiffs> for Writes {
    fn from(d: StateDiffs) -> Self {
        Writes {
            initial: d.initial,
            repeated: d.repeated,
        }
    }
}

/// One batch, decoded and checked.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DecodedBatch {
    /// L1 batch number.
    pub batch_number: u64,
    /// Root L1 accepted for the batch (`newStateRoot`).
    pub new_state_root: B256,
    /// `indexRepeatedStorageChanges` after the batch.
    pub index_repeated_storage_changes: u64,
    /// `indexRepeatedStorageChanges` of the batch before (from the previous batch of the call
    /// or the call's `StoredBatchInfo`).
    pub previous_index_repeated_storage_changes: u64,
    /// `None` when the pubdata could not be obtained or parsed (see `checks`).
    pub writes: Option<Writes>,
    /// L2→L1 logs in the pubdata.
    pub l2_to_l1_logs: usize,
    /// L2→L1 messages in the pubdata.
    pub messages: usize,
    /// Published bytecodes in the pubdata.
    pub bytecodes: usize,
    /// The raw pubdata (Boojum onwards), for gateway extraction and re-parsing.
    #[serde(skip)]
    pub pubdata: Option<Vec<u8>>,
    /// The parsed pubdata, when it parsed (not serialized).
    #[serde(skip)]
    pub parsed: Option<Pubdata>,
    /// DA binding checks (pubdata hash, blob linear hashes and commitments).
    pub checks: Vec<Check>,
}

impl DecodedBatch {
    /// Whether no check failed (skipped checks count as not failed).
    pub fn all_passed(&self) -> bool {
        !self.checks.iter().any(Check::failed)
    }
}

/// Decodes and checks every batch of a call. `tx_versioned_hashes` are the blob
/// versioned hashes of the L1 transaction, when known.
pub fn decode_batches(
    call: &CommitCall,
    blobs: &mut BlobStore,
    tx_versioned_hashes: Option<&[B256]>,
) -> Vec<DecodedBatch> {
    let mut previous_index = call.previous.index_repeated_storage_changes;
    let mut tx_blob_index = 0usize;
    let mut out = Vec::with_capacity(call.batches.len());
    for batch in &call.batches {
        let decoded = decode_batch(
            batch,
            previous_index,
            blobs,
            tx_versioned_hashes,
            &mut tx_blob_index,
        );
        previous_index = batch.index_repeated_storage_changes;
        out.push(decoded);
    }
    out
}

/// Decodes and checks batch `index` of a call alone, with exactly the context
/// [`decode_batches`] would give it: the previous batch's index counter, the
/// position of its first blob in the transaction, and the blobs the call's
/// earlier batches published. `None` when the call has no such batch.
pub fn decode_batch_at(
    call: &CommitCall,
    index: usize,
    blobs: &mut BlobStore,
    tx_versioned_hashes: Option<&[B256]>,
) -> Option<DecodedBatch> {
    let batch = call.batches.get(index)?;
    let mut previous_index = call.previous.index_repeated_storage_changes;
    let mut tx_blob_index = 0usize;
    for earlier in &call.batches[..index] {
        previous_index = earlier.index_repeated_storage_changes;
        if let DaInput::Blobs(openings) = &earlier.da.input {
            for opening in openings.iter().filter(|o| o.prepublished.is_none()) {
                blobs.note_published(opening);
                // One per blob of the call (at most MAX_BLOBS a batch): no overflow.
                tx_blob_index = tx_blob_index.saturating_add(1);
            }
        }
    }
    Some(decode_batch(
        batch,
        previous_index,
        blobs,
        tx_versioned_hashes,
        &mut tx_blob_index,
    ))
}

fn decode_batch(
    batch: &CommitBatch,
    previous_index: u64,
    blobs: &mut BlobStore,
    tx_versioned_hashes: Option<&[B256]>,
    tx_blob_index: &mut usize,
) -> DecodedBatch {
    let mut checks = Vec::new();
    let mut result = DecodedBatch {
        batch_number: batch.batch_number,
        new_state_root: batch.new_state_root,
        index_repeated_storage_changes: batch.index_repeated_storage_changes,
        previous_index_repeated_storage_changes: previous_index,
        writes: None,
        l2_to_l1_logs: 0,
        messages: 0,
        bytecodes: 0,
        pubdata: None,
        parsed: None,
        checks: vec![],
    };
    let pubdata_hash_log = system_log_value(&batch.system_logs, L1_MESSENGER, PUBDATA_HASH_LOG_KEY);
    if let Some(header) = &batch.da.header {
        // The v26 header is bound to the proof only through the L2 DA validator's output
        // hash, which the batch publishes as a system log. The log is found by value
        // (a keccak preimage match), so its key number need not be known here.
        let output = header.output_hash();
        checks.push(Check::outcome(
            "l2_da_validator_output_hash",
            batch.system_logs.iter().any(|l| l.value == output),
            format!("keccak(DA header) {output}"),
        ));
    }
    let expected_pubdata_hash = batch
        .da
        .header
        .as_ref()
        .map(|h| h.full_pubdata_hash)
        .or(pubdata_hash_log);

    let pubdata: Option<(Vec<u8>, Trailer)> = match &batch.da.input {
        DaInput::PreBoojum(data) => {
            result.writes = Some(Writes {
                initial: data
                    .initial
                    .iter()
                    .map(|(k, v)| InitialWrite {
                        derived_key: *k,
                        value: ValueOp::full(*v),
                    })
                    .collect(),
                repeated: data
                    .repeated
                    .iter()
                    .map(|(i, v)| RepeatedWrite {
                        index: *i,
                        value: ValueOp::full(*v),
                    })
                    .collect(),
            });
            result.l2_to_l1_logs = data.l2_logs;
            result.messages = data.messages.len();
            result.bytecodes = data.factory_deps.len();
            None
        }
        DaInput::Calldata { pubdata, .. } => Some((pubdata.clone(), Trailer::None)),
        DaInput::Blobs(openings) => {
            let linear_hashes: Vec<Option<B256>> = (0..openings.len())
                .map(|i| match &batch.da.header {
                    Some(h) => h.blob_linear_hashes.get(i).copied(),
                    None => BLOB_ONE_HASH_LOG_KEY.checked_add(i as u64).and_then(|key| {
                        system_log_value(&batch.system_logs, PUBDATA_CHUNK_PUBLISHER, key)
                    }),
                })
                .collect();
            let mut joined = Vec::with_capacity(openings.len().saturating_mul(PUBDATA_PER_BLOB));
            let mut complete = true;
            for (i, opening) in openings.iter().enumerate() {
                let kzg_commitment = match opening.prepublished {
                    Some(published) => match blobs.by_published(&published) {
                        Some(c) => c,
                        None => {
                            checks.push(Check::skipped(
                                format!("blob[{i}]"),
                                format!("names blob {published} published earlier; not seen"),
                            ));
                            complete = false;
                            continue;
                        }
                    },
                    None => {
                        blobs.note_published(opening);
                        let vh = kzg::versioned_hash(&opening.commitment);
                        match tx_versioned_hashes.and_then(|v| v.get(*tx_blob_index)) {
                            Some(expected) => checks.push(Check::outcome(
                                format!("blob[{i}].versioned_hash"),
                                *expected == vh,
                                format!("computed {vh}, transaction {expected}"),
                            )),
                            None => checks.push(Check::skipped(
                                format!("blob[{i}].versioned_hash"),
                                format!("computed {vh}; transaction hashes not given"),
                            )),
                        }
                        *tx_blob_index = tx_blob_index.saturating_add(1);
                        opening.commitment
                    }
                };
                match blobs.get(&kzg_commitment) {
                    Some(blob) => match verify_blob(
                        blob,
                        opening,
                        &kzg_commitment,
                        linear_hashes[i],
                        &mut checks,
                        i,
                    ) {
                        Some(chunk) => joined.extend_from_slice(&chunk),
                        None => complete = false,
                    },
                    None => {
                        checks.push(Check::skipped(
                            format!("blob[{i}]"),
                            format!("blob 0x{} not supplied", hex::encode(kzg_commitment)),
                        ));
                        complete = false;
                    }
                }
            }
            complete.then_some((joined, Trailer::ZeroPadding))
        }
    };

    if let Some((bytes, trailer)) = pubdata {
        if trailer == Trailer::None {
            match expected_pubdata_hash {
                Some(expected) => {
                    let actual = keccak256(&bytes);
                    checks.push(Check::outcome(
                        "pubdata_hash",
                        actual == expected,
                        format!("keccak(pubdata) {actual}, committed {expected}"),
                    ));
                }
                None => checks.push(Check::skipped(
                    "pubdata_hash",
                    "no pubdata hash in the commit",
                )),
            }
        }
        match Pubdata::parse(&bytes, trailer) {
            Ok(parsed) => {
                checks.push(Check::outcome(
                    "pubdata_consumed",
                    true,
                    format!("{} bytes parsed", parsed.consumed),
                ));
                if trailer == Trailer::ZeroPadding
                    && let Some(expected) = expected_pubdata_hash
                {
                    let actual = keccak256(&bytes[..parsed.consumed]);
                    checks.push(Check::outcome(
                        "pubdata_hash",
                        actual == expected,
                        format!("keccak(pubdata) {actual}, committed {expected}"),
                    ));
                }
                result.l2_to_l1_logs = parsed.user_logs.len();
                result.messages = parsed.messages.len();
                result.bytecodes = parsed.bytecodes.len();
                result.writes = Some(parsed.state_diffs.clone().into());
                result.parsed = Some(parsed);
            }
            Err(e) => checks.push(Check::outcome("pubdata_parse", false, e.to_string())),
        }
        result.pubdata = Some(bytes);
    }

    if let Some(writes) = &result.writes {
        let delta = batch
            .index_repeated_storage_changes
            .checked_sub(previous_index);
        checks.push(Check::outcome(
            "initial_writes_match_index_delta",
            delta == Some(writes.initial.len() as u64),
            format!(
                "{} initial writes, indexRepeatedStorageChanges {} -> {}",
                writes.initial.len(),
                previous_index,
                batch.index_repeated_storage_changes
            ),
        ));
    }
    result.checks = checks;
    result
}

/// Verifies one blob against its opening; returns its pubdata chunk when it decodes.
fn verify_blob(
    blob: &[u8],
    opening: &BlobOpening,
    kzg_commitment: &[u8; 48],
    expected_linear_hash: Option<B256>,
    checks: &mut Vec<Check>,
    i: usize,
) -> Option<Vec<u8>> {
    let vh = kzg::versioned_hash(kzg_commitment);
    if opening.prepublished.is_none() {
        let proof = kzg::verify_point_proof(
            &opening.commitment,
            &zkblob::pad_point(&opening.opening_point),
            &opening.claimed_value.0,
            &opening.proof,
        );
        checks.push(Check::outcome(
            format!("blob[{i}].kzg_proof"),
            proof == Ok(true),
            format!("{proof:?}"),
        ));
    }
    let decoded = match zkblob::DecodedBlob::decode(blob) {
        Ok(decoded) => decoded,
        Err(e) => {
            checks.push(Check::outcome(
                format!("blob[{i}].decode"),
                false,
                e.to_string(),
            ));
            return None;
        }
    };
    let linear = decoded.linear_hash();
    match expected_linear_hash {
        Some(expected) => checks.push(Check::outcome(
            format!("blob[{i}].linear_hash"),
            linear == expected,
            format!("keccak(chunk) {linear}, committed {expected}"),
        )),
        None => checks.push(Check::skipped(
            format!("blob[{i}].linear_hash"),
            format!("keccak(chunk) {linear}; no committed linear hash"),
        )),
    }
    if opening.prepublished.is_none() {
        let z = zkblob::opening_point(&linear, &vh);
        checks.push(Check::outcome(
            format!("blob[{i}].opening_point"),
            z == opening.opening_point,
            format!("z = 0x{}", hex::encode(z)),
        ));
        let y = decoded.evaluate(&opening.opening_point);
        checks.push(Check::outcome(
            format!("blob[{i}].p(z)=y"),
            y == opening.claimed_value,
            format!("p(z) = {y}"),
        ));
    }
    Some(decoded.chunk)
}
