//! Blobs from the beacon API and from a remote blob archive, each checked
//! against the versioned hash the L1 transaction committed to before use.
//!
//! Endpoints, newest first:
//! - `GET /eth/v1/beacon/blobs/{block_id}?versioned_hashes=..` → `{"data": ["0x<blob>", ..]}`
//!   (no commitments: each blob is proven by the request's `BlobBinding` when
//!   it has one, else its commitment is recomputed, ~36 ms);
//! - `GET /eth/v1/beacon/blob_sidecars/{block_id}` (deprecated) → sidecars with
//!   `kzg_commitment` and `kzg_proof` (commitment hashed, proof verified: a few ms);
//! - archive `GET {archive}/blobs/{versioned_hash}` (Blobscan-style), for blobs the
//!   beacon node pruned (after ~18 days), as raw bytes, hex text or JSON `{"data": "0x.."}`.

use std::collections::HashMap;
use std::sync::Arc;

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;
use tower::ServiceExt;

use super::transport::{GetLayers, GetStack, HttpReply, Redacted};
use super::{BlobBinding, L1Block, L1Error};
use crate::blob::{self, BYTES_PER_BLOB, BYTES_PER_G1};

/// How a beacon node names the block whose blobs are asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum BeaconBlockId {
    /// A real beacon node: the slot of the execution block's timestamp.
    #[default]
    Slot,
    /// Devnets such as anvil, which serve blobs by execution block number.
    ExecutionBlockNumber,
}

/// Slot of an execution block: `(timestamp - genesis_time) / seconds_per_slot`.
pub fn slot_for_timestamp(
    block: &L1Block,
    genesis_time: u64,
    seconds_per_slot: u64,
) -> Result<u64, L1Error> {
    if seconds_per_slot == 0 {
        return Err(L1Error::Config("SECONDS_PER_SLOT is 0".into()));
    }
    let since = block
        .timestamp
        .checked_sub(genesis_time)
        .ok_or(L1Error::BeforeGenesis {
            number: block.number,
            timestamp: block.timestamp,
            genesis_time,
        })?;
    Ok(since / seconds_per_slot)
}

/// Upper bound on a beacon answer: 128 blobs of hex JSON (2 chars per byte plus
/// sidecar fields). A block holds at most 21 blobs today; this leaves room for
/// future blob-count raises without letting a node make us buffer gigabytes.
pub const MAX_BEACON_RESPONSE: usize = 128 * (2 * BYTES_PER_BLOB + 4096);
/// Upper bound on one archive answer: one blob as hex JSON plus metadata.
pub const MAX_ARCHIVE_RESPONSE: usize = 2 * BYTES_PER_BLOB + 64 * 1024;

/// A beacon node's blob API.
#[derive(Debug)]
pub struct BeaconClient {
    http: GetStack,
    endpoint: Redacted,
    block_id: BeaconBlockId,
    /// (genesis_time, seconds_per_slot), fetched once on first need.
    clock: OnceCell<(u64, u64)>,
}

impl BeaconClient {
    /// A client for the beacon API at `url`, behind the retry and concurrency layers.
    pub fn new(url: &str, block_id: BeaconBlockId, layers: &GetLayers) -> Result<Self, L1Error> {
        Ok(Self {
            http: layers.stack(url, MAX_BEACON_RESPONSE)?,
            endpoint: Redacted::new(url),
            block_id,
            clock: OnceCell::new(),
        })
    }

    /// How this client names blocks when asking for blobs.
    pub fn block_id_mode(&self) -> BeaconBlockId {
        self.block_id
    }

    /// `genesis_time` from `/eth/v1/beacon/genesis`.
    pub async fn genesis_time(&self) -> Result<u64, L1Error> {
        #[derive(Deserialize)]
        struct Genesis {
            data: GenesisData,
        }
        #[derive(Deserialize)]
        struct GenesisData {
            genesis_time: String,
        }
        let path = "eth/v1/beacon/genesis";
        let reply = self.get_ok(path).await?;
        let genesis: Genesis = self.parse(&reply.body, path)?;
        self.number(&genesis.data.genesis_time, "genesis_time")
    }

    /// `SECONDS_PER_SLOT` from `/eth/v1/config/spec`; 12 (mainnet and every
    /// public testnet) when the node does not serve the spec, as anvil does not.
    pub async fn seconds_per_slot(&self) -> Result<u64, L1Error> {
        let path = "eth/v1/config/spec";
        let reply = self.get(path).await?;
        if reply.status == 404 {
            tracing::warn!(endpoint = %self.endpoint, "no /eth/v1/config/spec; assuming 12 s slots");
            return Ok(12);
        }
        let reply = self.require_ok(reply, path)?;
        let spec: serde_json::Value = self.parse(&reply.body, path)?;
        let value = spec
            .get("data")
            .and_then(|d| d.get("SECONDS_PER_SLOT"))
            .and_then(|v| v.as_str())
            .ok_or_else(|| self.malformed(format!("{path} without data.SECONDS_PER_SLOT")))?;
        self.number(value, "SECONDS_PER_SLOT")
    }

    /// Loads genesis time and slot length now (for Slot mode), failing early on a bad endpoint.
    pub async fn clock(&self) -> Result<(u64, u64), L1Error> {
        self.clock
            .get_or_try_init(|| async {
                Ok::<_, L1Error>((self.genesis_time().await?, self.seconds_per_slot().await?))
            })
            .await
            .copied()
    }

    /// The `block_id` path segment for `block`.
    pub async fn block_id(&self, block: &L1Block) -> Result<String, L1Error> {
        match self.block_id {
            BeaconBlockId::ExecutionBlockNumber => Ok(block.number.to_string()),
            BeaconBlockId::Slot => {
                let (genesis, seconds) = self.clock().await?;
                Ok(slot_for_timestamp(block, genesis, seconds)?.to_string())
            }
        }
    }

    /// The verified blobs of `block` among `wanted`. Blobs the node does not
    /// have are absent from the map; a blob whose KZG data contradicts its
    /// versioned hash is an error.
    pub async fn blobs(
        &self,
        block: &L1Block,
        wanted: &[B256],
        binding: Option<Arc<dyn BlobBinding>>,
    ) -> Result<HashMap<B256, Vec<u8>>, L1Error> {
        if wanted.is_empty() {
            return Ok(HashMap::new());
        }
        let id = self.block_id(block).await?;
        let hashes: Vec<String> = wanted.iter().map(|h| h.to_string()).collect();
        let path = format!(
            "eth/v1/beacon/blobs/{id}?versioned_hashes={}",
            hashes.join(",")
        );
        let reply = self.get(&path).await?;
        match reply.status {
            200..=299 => {
                #[derive(Deserialize)]
                struct Blobs {
                    data: Vec<String>,
                }
                let parsed: Blobs = self.parse(&reply.body, "blobs")?;
                let blobs = parsed
                    .data
                    .iter()
                    .map(|hex| decode_blob_hex(hex).map_err(|d| self.malformed(d)))
                    .collect::<Result<Vec<_>, _>>()?;
                let wanted = wanted.to_vec();
                // Checks cost milliseconds each: keep them off the async workers.
                run_blocking(move || Ok(match_blobs(blobs, &wanted, binding.as_deref()))).await
            }
            // Older nodes lack the endpoint; also retried for a block it does not know.
            400 | 404 | 405 | 410 => self.blob_sidecars(&id, wanted).await,
            status => Err(L1Error::BeaconStatus {
                endpoint: self.endpoint.to_string(),
                status,
                what: "blobs".into(),
            }),
        }
    }

    async fn blob_sidecars(
        &self,
        id: &str,
        wanted: &[B256],
    ) -> Result<HashMap<B256, Vec<u8>>, L1Error> {
        #[derive(Deserialize)]
        struct Sidecars {
            data: Vec<Sidecar>,
        }
        #[derive(Deserialize)]
        struct Sidecar {
            blob: String,
            kzg_commitment: String,
            kzg_proof: String,
        }
        let path = format!("eth/v1/beacon/blob_sidecars/{id}");
        let reply = self.get(&path).await?;
        if matches!(reply.status, 404 | 410) {
            return Ok(HashMap::new());
        }
        let reply = self.require_ok(reply, "blob_sidecars")?;
        let sidecars: Sidecars = self.parse(&reply.body, "blob_sidecars")?;
        let mut found = Vec::new();
        for sidecar in sidecars.data {
            let commitment = decode_g1(&sidecar.kzg_commitment).map_err(|d| self.malformed(d))?;
            let versioned_hash = blob::versioned_hash(&commitment);
            // Sidecars of other transactions in the block are skipped before decoding their blob.
            if !wanted.contains(&versioned_hash) {
                continue;
            }
            let proof = decode_g1(&sidecar.kzg_proof).map_err(|d| self.malformed(d))?;
            let blob = decode_blob_hex(&sidecar.blob).map_err(|d| self.malformed(d))?;
            found.push((versioned_hash, blob, commitment, proof));
        }
        run_blocking(move || {
            let mut out = HashMap::new();
            for (versioned_hash, blob, commitment, proof) in found {
                verify_blob(&versioned_hash, &blob, Some((&commitment, &proof)))?;
                out.insert(versioned_hash, blob);
            }
            Ok(out)
        })
        .await
    }

    async fn get(&self, path: &str) -> Result<HttpReply, L1Error> {
        self.http.clone().oneshot(path.to_string()).await
    }

    async fn get_ok(&self, path: &str) -> Result<HttpReply, L1Error> {
        let reply = self.get(path).await?;
        self.require_ok(reply, path)
    }

    fn require_ok(&self, reply: HttpReply, what: &str) -> Result<HttpReply, L1Error> {
        if (200..300).contains(&reply.status) {
            Ok(reply)
        } else {
            Err(L1Error::BeaconStatus {
                endpoint: self.endpoint.to_string(),
                status: reply.status,
                what: what.split('?').next().unwrap_or(what).to_string(),
            })
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(&self, body: &[u8], what: &str) -> Result<T, L1Error> {
        serde_json::from_slice(body).map_err(|e| self.malformed(format!("{what}: {e}")))
    }

    fn number(&self, text: &str, what: &str) -> Result<u64, L1Error> {
        text.parse()
            .map_err(|_| self.malformed(format!("{what} is not a number: {text:.40}")))
    }

    fn malformed(&self, detail: String) -> L1Error {
        L1Error::Malformed {
            endpoint: self.endpoint.to_string(),
            detail,
        }
    }
}

/// A Blobscan-style blob archive: `GET {base}/blobs/{versioned_hash}`.
#[derive(Debug)]
pub struct BlobArchiveClient {
    http: GetStack,
    endpoint: Redacted,
}

impl BlobArchiveClient {
    /// A client for the archive at `url`, behind the retry and concurrency layers.
    pub fn new(url: &str, layers: &GetLayers) -> Result<Self, L1Error> {
        Ok(Self {
            http: layers.stack(url, MAX_ARCHIVE_RESPONSE)?,
            endpoint: Redacted::new(url),
        })
    }

    /// The blob, verified against `versioned_hash` (by `binding` when it
    /// proves the blob, else by its recomputed commitment); `None` when the
    /// archive does not have it.
    pub async fn blob(
        &self,
        versioned_hash: B256,
        binding: Option<Arc<dyn BlobBinding>>,
    ) -> Result<Option<Vec<u8>>, L1Error> {
        let reply = self
            .http
            .clone()
            .oneshot(format!("blobs/{versioned_hash}"))
            .await?;
        if reply.status == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&reply.status) {
            return Err(L1Error::BeaconStatus {
                endpoint: self.endpoint.to_string(),
                status: reply.status,
                what: "archived blob".into(),
            });
        }
        let blob = decode_archive_body(&reply.body).map_err(|detail| L1Error::Malformed {
            endpoint: self.endpoint.to_string(),
            detail,
        })?;
        let checked = blob.clone();
        run_blocking(move || {
            let proven = binding.and_then(|b| b.proven_versioned_hash(&checked));
            if proven == Some(versioned_hash) {
                Ok(())
            } else {
                verify_blob(&versioned_hash, &checked, None)
            }
        })
        .await?;
        Ok(Some(blob))
    }
}

/// Checks `blob` against `versioned_hash`: with the node's commitment and
/// proof, hashes the commitment and verifies the proof (a few ms); without,
/// recomputes the commitment (~36 ms, `cargo bench --bench blob`).
pub fn verify_blob(
    versioned_hash: &B256,
    blob: &[u8],
    kzg: Option<(&[u8; BYTES_PER_G1], &[u8; BYTES_PER_G1])>,
) -> Result<(), L1Error> {
    let mismatch = |detail: String| L1Error::BlobMismatch {
        versioned_hash: *versioned_hash,
        detail,
    };
    if blob.len() != BYTES_PER_BLOB {
        return Err(mismatch(format!(
            "{} bytes, expected {BYTES_PER_BLOB}",
            blob.len()
        )));
    }
    match kzg {
        Some((commitment, proof)) => {
            if blob::versioned_hash(commitment) != *versioned_hash {
                return Err(mismatch(
                    "commitment hashes to another versioned hash".into(),
                ));
            }
            match blob::verify_blob_proof(blob, commitment, proof) {
                Ok(true) => Ok(()),
                Ok(false) => Err(mismatch("KZG proof does not verify".into())),
                Err(e) => Err(mismatch(e.to_string())),
            }
        }
        None => {
            let commitment = blob::commitment(blob).map_err(|e| mismatch(e.to_string()))?;
            if blob::versioned_hash(&commitment) == *versioned_hash {
                Ok(())
            } else {
                Err(mismatch(
                    "recomputed commitment hashes to another versioned hash".into(),
                ))
            }
        }
    }
}

/// Pairs blobs with the wanted versioned hashes: first by `binding`, then
/// the blobs it did not prove by recomputing their commitments; stops as soon
/// as every wanted hash is found. Unmatched or invalid blobs (other
/// transactions' blobs, when a node ignores the filter) are skipped.
fn match_blobs(
    blobs: Vec<Vec<u8>>,
    wanted: &[B256],
    binding: Option<&dyn BlobBinding>,
) -> HashMap<B256, Vec<u8>> {
    let mut out = HashMap::new();
    let all_found = |out: &HashMap<B256, Vec<u8>>| wanted.iter().all(|h| out.contains_key(h));
    let mut unproven = Vec::new();
    for blob in blobs {
        if all_found(&out) {
            return out;
        }
        match binding.and_then(|b| b.proven_versioned_hash(&blob)) {
            Some(hash) if wanted.contains(&hash) => {
                out.insert(hash, blob);
            }
            _ => unproven.push(blob),
        }
    }
    for blob in unproven {
        if all_found(&out) {
            break;
        }
        let Ok(commitment) = blob::commitment(&blob) else {
            continue;
        };
        let versioned_hash = blob::versioned_hash(&commitment);
        if wanted.contains(&versioned_hash) {
            out.entry(versioned_hash).or_insert(blob);
        }
    }
    out
}

async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, L1Error> + Send + 'static,
) -> Result<T, L1Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| L1Error::Transport(format!("blob verification task failed: {e}")))?
}

/// Decodes `0x`-prefixed hex of exactly one blob; the length is checked on
/// the text first so a huge string is rejected before allocating.
fn decode_blob_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if digits.len() != 2 * BYTES_PER_BLOB {
        return Err(format!(
            "blob hex has {} digits, expected {}",
            digits.len(),
            2 * BYTES_PER_BLOB
        ));
    }
    hex::decode(digits).map_err(|e| format!("blob hex: {e}"))
}

fn decode_g1(text: &str) -> Result<[u8; BYTES_PER_G1], String> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let mut out = [0u8; BYTES_PER_G1];
    hex::decode_to_slice(digits, &mut out).map_err(|e| format!("KZG point hex: {e}"))?;
    Ok(out)
}

/// An archive answers raw bytes, hex text, or JSON with a `data` hex field.
fn decode_archive_body(body: &[u8]) -> Result<Vec<u8>, String> {
    if body.len() == BYTES_PER_BLOB {
        return Ok(body.to_vec());
    }
    let text =
        std::str::from_utf8(body).map_err(|_| format!("{}-byte non-blob answer", body.len()))?;
    let text = text.trim();
    if text.starts_with('{') {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("archive JSON: {e}"))?;
        let data = value
            .get("data")
            .and_then(|d| d.as_str())
            .ok_or("archive JSON without a `data` string")?;
        return decode_blob_hex(data);
    }
    decode_blob_hex(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(number: u64, timestamp: u64) -> L1Block {
        L1Block {
            number,
            hash: B256::ZERO,
            parent_hash: B256::ZERO,
            timestamp,
        }
    }

    #[test]
    fn slot_from_timestamp() {
        // Mainnet: genesis 1606824023, 12 s slots; Dencun activated at slot 8626176.
        let dencun = block(19_426_587, 1_710_338_135);
        assert_eq!(
            slot_for_timestamp(&dencun, 1_606_824_023, 12).unwrap(),
            8_626_176
        );
        assert_eq!(slot_for_timestamp(&block(1, 100), 100, 12).unwrap(), 0);
        assert_eq!(slot_for_timestamp(&block(1, 123), 100, 12).unwrap(), 1);
        assert!(matches!(
            slot_for_timestamp(&block(7, 99), 100, 12),
            Err(L1Error::BeforeGenesis { number: 7, .. })
        ));
        assert!(matches!(
            slot_for_timestamp(&block(1, 200), 100, 0),
            Err(L1Error::Config(_))
        ));
    }

    #[test]
    fn archive_bodies_in_every_shape() {
        let blob = vec![0u8; BYTES_PER_BLOB];
        let hex_text = format!("0x{}", hex::encode(&blob));
        assert_eq!(decode_archive_body(&blob).unwrap(), blob);
        assert_eq!(decode_archive_body(hex_text.as_bytes()).unwrap(), blob);
        let json = format!(r#"{{"versionedHash":"0x01","data":"{hex_text}"}}"#);
        assert_eq!(decode_archive_body(json.as_bytes()).unwrap(), blob);
        assert!(decode_archive_body(b"{\"data\":\"0x00\"}").is_err());
        assert!(decode_archive_body(&[1u8; 100]).is_err());
    }

    #[test]
    fn wrong_blobs_are_mismatches() {
        let blob = vec![0u8; BYTES_PER_BLOB];
        let commitment = blob::commitment(&blob).unwrap();
        let proof = blob::blob_proof(&blob, &commitment).unwrap();
        let right = blob::versioned_hash(&commitment);
        assert!(verify_blob(&right, &blob, None).is_ok());
        assert!(verify_blob(&right, &blob, Some((&commitment, &proof))).is_ok());
        let wrong = B256::repeat_byte(1);
        assert!(matches!(
            verify_blob(&wrong, &blob, None),
            Err(L1Error::BlobMismatch { .. })
        ));
        assert!(matches!(
            verify_blob(&right, &blob[1..], None),
            Err(L1Error::BlobMismatch { .. })
        ));
        let mut other = blob.clone();
        other[31] = 1;
        assert!(matches!(
            verify_blob(&right, &other, Some((&commitment, &proof))),
            Err(L1Error::BlobMismatch { .. })
        ));
    }
}
