//! The operator's DA input of one batch: where its pubdata is and what L1 was
//! told about it.
//!
//! * pre-Boojum: explicit write lists ([`PreBoojumData`]);
//! * Boojum before 1.4.2: the whole field is the pubdata (no source byte);
//! * 1.4.2–v25: `u8 source ‖ …`, source 0 = `pubdata ‖ 32-byte blob
//!   commitment`, source 1 = per blob `z (16) ‖ y (32) ‖ commitment (48) ‖
//!   proof (48)`;
//! * v26+: `state_diff_hash (32) ‖ full_pubdata_hash (32) ‖ u8 n_blobs ‖
//!   n_blobs × blob linear hash (32) ‖ u8 source ‖ …`, source 0 = `pubdata ‖
//!   n_blobs × 32-byte blob commitment`, source 1 = per blob the 144 bytes
//!   above and 32 bytes naming a blob published earlier (zero when the blob
//!   is in this transaction).

use alloy_primitives::{B256, keccak256};
use serde::{Deserialize, Serialize};

use super::cursor::{Cursor, Truncated};

/// Bytes of one blob opening (`z ‖ y ‖ commitment ‖ proof`).
pub const BLOB_OPENING_SIZE: usize = 144;
/// Maximum blobs per batch the decoder accepts (the contracts allow 6; 16 is a safe cap).
pub const MAX_BLOBS: usize = 16;

/// Why a DA input was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DaError {
    /// The DA field ends before a declared part.
    #[error("DA input truncated: {0}")]
    Truncated(#[from] Truncated),
    /// The DA field is empty where a source byte or header was required.
    #[error("empty DA input")]
    Empty,
    /// The pubdata source byte is neither 0 (calldata) nor 1 (blobs); holds it.
    #[error("unknown pubdata source byte {0}")]
    UnknownSource(u8),
    /// The blob openings are not a whole number of openings, or not one per blob the v26 header counts.
    #[error("blob openings take {len} bytes, not a multiple of {unit}")]
    BadBlobInputLength {
        /// Bytes of openings.
        len: usize,
        /// Bytes per opening (144, or 176 with the v26 prepublished hash).
        unit: usize,
    },
    /// More than `MAX_BLOBS` blobs; holds the count.
    #[error("{0} blobs exceed the supported maximum")]
    TooManyBlobs(usize),
    /// A pre-Boojum write or log list does not parse.
    #[error("pre-Boojum {what} list: {detail}")]
    PreBoojumList {
        /// Which list.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// Neither Boojum layout hashes to the pubdata-hash system log, so the pubdata cannot be located.
    #[error(
        "cannot tell the pubdata layout: neither the whole field nor the source-byte form hashes to the pubdata-hash system log"
    )]
    UnknownLayout,
}

/// One blob opening as published in calldata.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobOpening {
    /// Opening point z (16 bytes; the precompile takes it left-padded to 32).
    pub opening_point: [u8; 16],
    /// Claimed value y = p(z).
    pub claimed_value: B256,
    /// KZG commitment to the blob (48 bytes).
    #[serde(with = "serde_bytes48")]
    pub commitment: [u8; 48],
    /// KZG proof that p(z) = y (48 bytes).
    #[serde(with = "serde_bytes48")]
    pub proof: [u8; 48],
    /// v26+: a blob published earlier (by commitment), used instead of a blob of this transaction.
    pub prepublished: Option<B256>,
}

impl BlobOpening {
    fn read(c: &mut Cursor<'_>) -> Result<Self, Truncated> {
        Ok(BlobOpening {
            opening_point: c.array()?,
            claimed_value: c.word()?,
            commitment: c.array()?,
            proof: c.array()?,
            prepublished: None,
        })
    }

    /// Appends the 144-byte published form `z ‖ y ‖ commitment ‖ proof` to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.opening_point);
        out.extend_from_slice(self.claimed_value.as_slice());
        out.extend_from_slice(&self.commitment);
        out.extend_from_slice(&self.proof);
    }

    /// The blob commitment the contracts record: `keccak(versioned_hash ‖ z (16) ‖ y)`.
    pub fn published_commitment(&self, versioned_hash: &B256) -> B256 {
        let mut input = Vec::with_capacity(80);
        input.extend_from_slice(versioned_hash.as_slice());
        input.extend_from_slice(&self.opening_point);
        input.extend_from_slice(self.claimed_value.as_slice());
        keccak256(input)
    }
}

/// Pre-Boojum write lists (uncompressed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreBoojumData {
    /// `initialStorageChanges`: `(derived key, value)` pairs.
    pub initial: Vec<(B256, B256)>,
    /// `repeatedStorageChanges`: `(enumeration index, value)` pairs.
    pub repeated: Vec<(u64, B256)>,
    /// The raw `l2Logs` field (`u32 count ‖ count × 88-byte log`).
    #[serde(skip)]
    pub l2_logs_raw: Vec<u8>,
    /// Number of L2→L1 logs in `l2_logs_raw`.
    pub l2_logs: usize,
    /// `l2ArbitraryLengthMessages` (not serialized).
    #[serde(skip)]
    pub messages: Vec<Vec<u8>>,
    /// `factoryDeps`: published bytecodes (not serialized).
    #[serde(skip)]
    pub factory_deps: Vec<Vec<u8>>,
}

/// The v26+ header of the DA input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaHeader {
    /// Hash of the state-diff part of the pubdata.
    pub state_diff_hash: B256,
    /// `keccak` of the full pubdata.
    pub full_pubdata_hash: B256,
    /// Linear hash of each blob's pubdata, in blob order.
    pub blob_linear_hashes: Vec<B256>,
}

impl DaHeader {
    /// `keccak(state_diff_hash ‖ full_pubdata_hash ‖ u8 n_blobs ‖ linear hashes)`: what the
    /// L2 DA validator output (a system log of the batch) must equal.
    pub fn output_hash(&self) -> B256 {
        let mut bytes = Vec::with_capacity(
            self.blob_linear_hashes
                .len()
                .saturating_mul(32)
                .saturating_add(65),
        );
        bytes.extend_from_slice(self.state_diff_hash.as_slice());
        bytes.extend_from_slice(self.full_pubdata_hash.as_slice());
        bytes.push(self.blob_linear_hashes.len() as u8);
        for l in &self.blob_linear_hashes {
            bytes.extend_from_slice(l.as_slice());
        }
        keccak256(bytes)
    }
}

/// Where a batch's pubdata is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DaInput {
    /// Pre-Boojum explicit write lists.
    PreBoojum(PreBoojumData),
    /// Pubdata inline; `blob_commitments` are the trailing 32-byte commitments (none before 1.4.2).
    Calldata {
        /// The pubdata.
        pubdata: Vec<u8>,
        /// Trailing blob commitments.
        blob_commitments: Vec<B256>,
        /// Whether the field started with a source byte (1.4.2 onwards).
        source_byte: bool,
    },
    /// Pubdata in blobs, one opening per blob.
    Blobs(Vec<BlobOpening>),
}

/// A parsed DA field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaField {
    /// The v26+ header; `None` before v26.
    pub header: Option<DaHeader>,
    /// Where the pubdata is.
    pub input: DaInput,
}

/// Parses a Boojum-era field (`0x701f58c5`), telling the pre-1.4.2 layout
/// (pubdata only) from the source-byte layout by which one hashes to the
/// pubdata-hash system log: evidence, not a guess.
pub fn parse_boojum_field(
    field: &[u8],
    pubdata_hash_log: Option<B256>,
) -> Result<DaField, DaError> {
    if let Some(expected) = pubdata_hash_log {
        if keccak256(field) == expected {
            return Ok(DaField {
                header: None,
                input: DaInput::Calldata {
                    pubdata: field.to_vec(),
                    blob_commitments: vec![],
                    source_byte: false,
                },
            });
        }
        // `0 ‖ pubdata ‖ 32-byte commitment`, hashed without the commitment.
        let source_pubdata = match field.split_first() {
            Some((0, rest)) => rest.split_last_chunk::<32>().map(|(pubdata, _)| pubdata),
            _ => None,
        };
        if source_pubdata.is_some_and(|pubdata| keccak256(pubdata) == expected) {
            return parse_source_field(field);
        }
    }
    if field.first() == Some(&1) {
        return parse_source_field(field);
    }
    Err(DaError::UnknownLayout)
}

/// Parses the 1.4.2–v25 layout: `u8 source ‖ …`.
pub fn parse_source_field(field: &[u8]) -> Result<DaField, DaError> {
    let (&source, rest) = field.split_first().ok_or(DaError::Empty)?;
    let input = match source {
        0 => {
            let (pubdata, commitment) = rest.split_last_chunk::<32>().ok_or(Truncated {
                offset: 1,
                needed: 32,
                available: rest.len(),
            })?;
            DaInput::Calldata {
                pubdata: pubdata.to_vec(),
                blob_commitments: vec![B256::from(*commitment)],
                source_byte: true,
            }
        }
        1 => DaInput::Blobs(read_openings(rest, false)?),
        other => return Err(DaError::UnknownSource(other)),
    };
    Ok(DaField {
        header: None,
        input,
    })
}

/// Parses the v26+ operator DA input.
pub fn parse_v26_field(field: &[u8]) -> Result<DaField, DaError> {
    let mut c = Cursor::new(field);
    let state_diff_hash = c.word()?;
    let full_pubdata_hash = c.word()?;
    let n_blobs = c.u8()? as usize;
    if n_blobs > MAX_BLOBS {
        return Err(DaError::TooManyBlobs(n_blobs));
    }
    let blob_linear_hashes = (0..n_blobs)
        .map(|_| c.word())
        .collect::<Result<Vec<_>, _>>()?;
    let source = c.u8()?;
    let rest = c.rest();
    let input = match source {
        0 => {
            // At most MAX_BLOBS commitments: no overflow.
            let tail = n_blobs.saturating_mul(32);
            let pubdata_len = rest.len().checked_sub(tail).ok_or(Truncated {
                offset: c.position(),
                needed: tail,
                available: rest.len(),
            })?;
            let (pubdata, commitments) = rest.split_at(pubdata_len);
            DaInput::Calldata {
                pubdata: pubdata.to_vec(),
                blob_commitments: commitments.chunks_exact(32).map(B256::from_slice).collect(),
                source_byte: true,
            }
        }
        1 => {
            let openings = read_openings(rest, true)?;
            if openings.len() != n_blobs {
                return Err(DaError::BadBlobInputLength {
                    len: rest.len(),
                    unit: BLOB_OPENING_SIZE + 32,
                });
            }
            DaInput::Blobs(openings)
        }
        other => return Err(DaError::UnknownSource(other)),
    };
    Ok(DaField {
        header: Some(DaHeader {
            state_diff_hash,
            full_pubdata_hash,
            blob_linear_hashes,
        }),
        input,
    })
}

fn read_openings(bytes: &[u8], with_prepublished: bool) -> Result<Vec<BlobOpening>, DaError> {
    let unit = if with_prepublished {
        BLOB_OPENING_SIZE + 32
    } else {
        BLOB_OPENING_SIZE
    };
    if !bytes.len().is_multiple_of(unit) {
        return Err(DaError::BadBlobInputLength {
            len: bytes.len(),
            unit,
        });
    }
    let n_blobs = bytes.chunks_exact(unit).len();
    if n_blobs > MAX_BLOBS {
        return Err(DaError::TooManyBlobs(n_blobs));
    }
    let mut c = Cursor::new(bytes);
    let mut out = Vec::with_capacity(n_blobs);
    while c.remaining() > 0 {
        let mut opening = BlobOpening::read(&mut c)?;
        if with_prepublished {
            let named = c.word()?;
            opening.prepublished = (named != B256::ZERO).then_some(named);
        }
        out.push(opening);
    }
    Ok(out)
}

/// Encodes a DA field in the layout it was parsed from (the inverse of the parsers).
pub fn encode_field(field: &DaField) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(h) = &field.header {
        out.extend_from_slice(h.state_diff_hash.as_slice());
        out.extend_from_slice(h.full_pubdata_hash.as_slice());
        out.push(h.blob_linear_hashes.len() as u8);
        for l in &h.blob_linear_hashes {
            out.extend_from_slice(l.as_slice());
        }
    }
    match &field.input {
        DaInput::PreBoojum(_) => {}
        DaInput::Calldata {
            pubdata,
            blob_commitments,
            source_byte,
        } => {
            if *source_byte {
                out.push(0);
            }
            out.extend_from_slice(pubdata);
            for c in blob_commitments {
                out.extend_from_slice(c.as_slice());
            }
        }
        DaInput::Blobs(openings) => {
            out.push(1);
            for o in openings {
                o.write(&mut out);
                if field.header.is_some() {
                    out.extend_from_slice(o.prepublished.unwrap_or_default().as_slice());
                }
            }
        }
    }
    out
}

/// Parses the pre-Boojum `u32 count ‖ count × (key32 ‖ value32)` list.
pub fn parse_pre_boojum_initial(bytes: &[u8]) -> Result<Vec<(B256, B256)>, DaError> {
    parse_list(bytes, 64, "initial").map(|items| {
        items
            .iter()
            .map(|i| (B256::from_slice(&i[..32]), B256::from_slice(&i[32..])))
            .collect()
    })
}

/// Parses the pre-Boojum `u32 count ‖ count × (u64 index ‖ value32)` list.
pub fn parse_pre_boojum_repeated(bytes: &[u8]) -> Result<Vec<(u64, B256)>, DaError> {
    parse_list(bytes, 40, "repeated").map(|items| {
        items
            .iter()
            .map(|i| {
                (
                    u64::from_be_bytes(i[..8].try_into().expect("8 bytes")),
                    B256::from_slice(&i[8..]),
                )
            })
            .collect()
    })
}

/// Counts the entries of a pre-Boojum `u32 count ‖ …` list of `unit`-byte entries.
pub fn parse_list<'a>(
    bytes: &'a [u8],
    unit: usize,
    what: &'static str,
) -> Result<Vec<&'a [u8]>, DaError> {
    let mut c = Cursor::new(bytes);
    let count = c.u32()? as usize;
    if count.checked_mul(unit) != Some(c.remaining()) {
        return Err(DaError::PreBoojumList {
            what,
            detail: format!(
                "{count} entries of {unit} bytes, {} bytes present",
                c.remaining()
            ),
        });
    }
    Ok(c.rest().chunks_exact(unit).collect())
}

mod serde_bytes48 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8; 48], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", hex::encode(bytes)))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 48], D::Error> {
        let text = String::deserialize(d)?;
        let bytes = hex::decode(text.trim_start_matches("0x")).map_err(serde::de::Error::custom)?;
        bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("expected 48 bytes"))
    }
}
