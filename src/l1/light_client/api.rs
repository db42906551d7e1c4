//! HTTP client of the beacon light-client API (ethereum/beacon-APIs
//! `apis/beacon/light_client/{bootstrap,updates,finality_update}.yaml`),
//! asking for SSZ (`Accept: application/octet-stream`): smaller than JSON,
//! and decoded by the same containers the proofs hash. Every answer is
//! untrusted: sizes are bounded before anything is allocated, and the
//! [`super::LightClientStore`] verifies what is decoded here.
//!
//! A node that answers JSON anyway (the `application/json` schemas of the
//! same files: `{"version", "data"}` with quoted integers and 0x-hex bytes)
//! is read through [`json`], within the same size bounds; the `updates`
//! list then is a JSON array of such objects.

use alloy_primitives::B256;
use serde::Deserialize;
use ssz_types::typenum::Unsigned;
use tower::ServiceExt;

use super::ChainSpec;
use super::types::{
    LightClientBootstrap, LightClientFinalityUpdate, LightClientUpdate, leading_header_slot,
};
use crate::l1::L1Error;
use crate::l1::transport::{GetLayers, GetStack, HttpReply, Redacted};

/// Bound on one light-client object. A mainnet Deneb update is 26,808
/// bytes of SSZ (the minimal-preset vectors' 3,708, plus 480 more keys of
/// 48 bytes and 60 more bytes of participation bits), Electra's 64 more; a
/// bootstrap 25,616, a finality update 2,024. As JSON (hex doubles the
/// bytes) an update is about 57 KB. So 128 KiB is room, not a guess.
pub const MAX_OBJECT_BYTES: usize = 128 * 1024;
/// `MAX_REQUEST_LIGHT_CLIENT_UPDATES` (consensus-specs
/// `specs/altair/light-client/p2p-interface.md`, "Configuration"): the most
/// updates one `updates` answer may hold.
pub const MAX_REQUEST_UPDATES: u64 = 128;
/// `response_chunk_len` (8 bytes) and the fork digest context (4 bytes).
const CHUNK_OVERHEAD: usize = 8 + 4;
/// Bound on one `updates` answer.
pub const MAX_UPDATES_RESPONSE: usize =
    MAX_REQUEST_UPDATES as usize * (CHUNK_OVERHEAD + MAX_OBJECT_BYTES);
/// Bound on a JSON answer (the finalized block header).
const MAX_JSON_RESPONSE: usize = 64 * 1024;

const SSZ: &str = "application/octet-stream";

/// A beacon node's light-client endpoints.
#[derive(Debug)]
pub struct LightClientApi {
    /// Single objects (bootstrap, finality update), SSZ.
    single: GetStack,
    /// The `updates` list, SSZ, bounded by [`MAX_UPDATES_RESPONSE`].
    updates: GetStack,
    /// JSON endpoints (the finalized block root, when the user gives none).
    json: GetStack,
    endpoint: Redacted,
}

impl LightClientApi {
    /// A client for the beacon API at `url`, behind the retry and concurrency layers, with bounded answers.
    pub fn new(url: &str, layers: &GetLayers) -> Result<Self, L1Error> {
        Ok(Self {
            single: layers.stack_accepting(url, MAX_OBJECT_BYTES, Some(SSZ))?,
            updates: layers.stack_accepting(url, MAX_UPDATES_RESPONSE, Some(SSZ))?,
            json: layers.stack_accepting(url, MAX_JSON_RESPONSE, Some("application/json"))?,
            endpoint: Redacted::new(url),
        })
    }

    /// The endpoint, redacted for logs and errors.
    pub fn endpoint(&self) -> &Redacted {
        &self.endpoint
    }

    /// `GET /eth/v1/beacon/light_client/bootstrap/{block_root}`: SSZ of a
    /// `LightClientBootstrap`, in the layout of its header's fork.
    pub async fn bootstrap<N: Unsigned>(
        &self,
        spec: &ChainSpec,
        block_root: B256,
    ) -> Result<LightClientBootstrap<N>, ApiError> {
        let what = "light-client bootstrap";
        let path = format!("eth/v1/beacon/light_client/bootstrap/{block_root}");
        match self
            .fetch(&self.single, &path, what, MAX_OBJECT_BYTES)
            .await?
        {
            Body::Json(body) => {
                let bootstrap: json::Versioned<json::Bootstrap> = self.json(&body, what)?;
                bootstrap.data.parse().map_err(|e| self.malformed(what, e))
            }
            Body::Ssz(body) => {
                let slot = leading_header_slot(&body).map_err(|e| self.decode(what, e))?;
                LightClientBootstrap::from_ssz(&body, spec.layout(slot))
                    .map_err(|e| self.decode(what, e))
            }
        }
    }

    /// `GET /eth/v1/beacon/light_client/updates?start_period=&count=`: at
    /// most `count` (and at most [`MAX_REQUEST_UPDATES`]) updates, by period.
    ///
    /// The SSZ answer is, per beacon-APIs `apis/beacon/light_client/updates.yaml`
    /// (`application/octet-stream`), a "sequence of zero or more
    /// `response_chunk`", each `response_chunk_len` ("Little-endian Uint64
    /// byte length of `response_chunk`") followed by the `response_chunk`
    /// itself: a 4-byte `ForkDigest` context, then the SSZ payload. So the
    /// length counts the context too, as Lighthouse computes it
    /// (`beacon_node/http_api/src/light_client.rs`:
    /// `response_chunk_len = fork_digest.len() + payload.len()`).
    ///
    /// The context is not checked: the layout is chosen by the attested
    /// header's slot, from which the spec derives the context in the first
    /// place, and since Fulu the digest also mixes in the blob schedule
    /// (`specs/fulu/beacon-chain.md`, `compute_fork_digest`), which this
    /// client does not model. A wrong context cannot make an update verify.
    pub async fn updates<N: Unsigned>(
        &self,
        spec: &ChainSpec,
        start_period: u64,
        count: u64,
    ) -> Result<Vec<LightClientUpdate<N>>, ApiError> {
        let what = "light-client updates";
        let count = count.clamp(1, MAX_REQUEST_UPDATES);
        let path =
            format!("eth/v1/beacon/light_client/updates?start_period={start_period}&count={count}");
        let body = match self
            .fetch(&self.updates, &path, what, MAX_UPDATES_RESPONSE)
            .await?
        {
            Body::Ssz(body) => body,
            Body::Json(body) => {
                let updates: Vec<json::Versioned<json::Update>> = self.json(&body, what)?;
                if updates.len() as u64 > count {
                    let detail = format!("more than the {count} updates asked for");
                    return Err(self.malformed(what, detail));
                }
                return updates
                    .into_iter()
                    .map(|u| u.data.parse().map_err(|e| self.malformed(what, e)))
                    .collect();
            }
        };
        let chunks = split_chunks(&body, count).map_err(|detail| ApiError::Framing {
            endpoint: self.endpoint.to_string(),
            what,
            detail,
        })?;
        chunks
            .into_iter()
            .map(|(_context, payload)| {
                let slot = leading_header_slot(payload).map_err(|e| self.decode(what, e))?;
                LightClientUpdate::from_ssz(payload, spec.layout(slot))
                    .map_err(|e| self.decode(what, e))
            })
            .collect()
    }

    /// `GET /eth/v1/beacon/light_client/finality_update`: the node's newest
    /// finality update, as an update without a next sync committee.
    pub async fn finality_update<N: Unsigned>(
        &self,
        spec: &ChainSpec,
    ) -> Result<LightClientUpdate<N>, ApiError> {
        let what = "light-client finality update";
        let path = "eth/v1/beacon/light_client/finality_update";
        let update = match self
            .fetch(&self.single, path, what, MAX_OBJECT_BYTES)
            .await?
        {
            Body::Json(body) => {
                let update: json::Versioned<json::FinalityUpdate> = self.json(&body, what)?;
                update.data.parse().map_err(|e| self.malformed(what, e))?
            }
            Body::Ssz(body) => {
                let slot = leading_header_slot(&body).map_err(|e| self.decode(what, e))?;
                LightClientFinalityUpdate::<N>::from_ssz(&body, spec.layout(slot))
                    .map_err(|e| self.decode(what, e))?
            }
        };
        Ok(update.into())
    }

    /// The root of the block the node calls finalized
    /// (`GET /eth/v1/beacon/headers/finalized`, JSON `data.root`): a starting
    /// point only for a user who gives no `--beacon-checkpoint`, and then
    /// trusted as the node says it.
    pub async fn finalized_block_root(&self) -> Result<B256, ApiError> {
        #[derive(Deserialize)]
        struct Header {
            data: Data,
        }
        #[derive(Deserialize)]
        struct Data {
            root: B256,
        }
        let what = "finalized block header";
        let reply = self
            .get(
                &self.json,
                "eth/v1/beacon/headers/finalized",
                what,
                MAX_JSON_RESPONSE,
            )
            .await?;
        let header: Header =
            serde_json::from_slice(&reply.body).map_err(|e| ApiError::Framing {
                endpoint: self.endpoint.to_string(),
                what,
                detail: e.to_string(),
            })?;
        Ok(header.data.root)
    }

    /// A 2xx body: SSZ as asked, or JSON when the node says so.
    async fn fetch(
        &self,
        stack: &GetStack,
        path: &str,
        what: &'static str,
        limit: usize,
    ) -> Result<Body, ApiError> {
        let reply = self.get(stack, path, what, limit).await?;
        let json = reply
            .content_type
            .as_ref()
            .is_some_and(|t| t.to_ascii_lowercase().contains("json"));
        Ok(if json {
            Body::Json(reply.body)
        } else {
            Body::Ssz(reply.body)
        })
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        body: &[u8],
        what: &'static str,
    ) -> Result<T, ApiError> {
        serde_json::from_slice(body).map_err(|e| self.malformed(what, e.to_string()))
    }

    fn malformed(&self, what: &'static str, detail: String) -> ApiError {
        ApiError::Framing {
            endpoint: self.endpoint.to_string(),
            what,
            detail,
        }
    }

    async fn get(
        &self,
        stack: &GetStack,
        path: &str,
        what: &'static str,
        limit: usize,
    ) -> Result<HttpReply, ApiError> {
        let reply = stack
            .clone()
            .oneshot(path.to_string())
            .await
            .map_err(|error| match error {
                L1Error::Transport(detail) if detail.contains("response too large") => {
                    ApiError::TooLarge {
                        endpoint: self.endpoint.to_string(),
                        what,
                        limit,
                    }
                }
                other => ApiError::L1(other),
            })?;
        if !(200..300).contains(&reply.status) {
            return Err(ApiError::L1(L1Error::BeaconStatus {
                endpoint: self.endpoint.to_string(),
                status: reply.status,
                what: what.to_string(),
            }));
        }
        Ok(reply)
    }

    fn decode(&self, what: &'static str, error: ssz::DecodeError) -> ApiError {
        ApiError::Decode {
            endpoint: self.endpoint.to_string(),
            what,
            detail: format!("{error:?}"),
        }
    }
}

/// What a 2xx answer carried.
enum Body {
    Ssz(Vec<u8>),
    Json(Vec<u8>),
}

/// The JSON forms (beacon-APIs `beacon-node-oapi.yaml` schemas
/// `Deneb.LightClientBootstrap`, `Deneb.LightClientUpdate`,
/// `Deneb.LightClientFinalityUpdate`; Electra's differ only in branch
/// lengths, which the store checks against the gindex depths). Integers
/// are decimal strings, byte strings 0x-hex. Every length is checked before
/// a fixed-size field is built.
pub mod json {
    use alloy_primitives::{Address, B256, Bytes, U256};
    use serde::Deserialize;
    use ssz_types::typenum::Unsigned;
    use ssz_types::{BitVector, FixedVector, VariableList};

    use super::super::types::{
        self, BeaconBlockHeader, ExecutionPayloadHeader, LightClientHeader, SyncAggregate,
        SyncCommittee,
    };

    /// The `{ version, data }` envelope of a beacon API answer.
    #[derive(Deserialize)]
    pub struct Versioned<T> {
        /// Fork name (`deneb`, `electra`, ...).
        pub version: String,
        /// The object.
        pub data: T,
    }

    fn quoted<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }

    fn decimal<'de, D: serde::Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
        let text = String::deserialize(d)?;
        U256::from_str_radix(&text, 10).map_err(serde::de::Error::custom)
    }

    fn fixed<N: Unsigned>(what: &str, bytes: Bytes) -> Result<FixedVector<u8, N>, String> {
        let len = bytes.len();
        FixedVector::new(bytes.to_vec())
            .map_err(|_| format!("{what}: {len} bytes, expected {}", N::to_usize()))
    }

    /// JSON `BeaconBlockHeader`.
    #[derive(Deserialize)]
    pub struct Beacon {
        #[serde(deserialize_with = "quoted")]
        slot: u64,
        #[serde(deserialize_with = "quoted")]
        proposer_index: u64,
        parent_root: B256,
        state_root: B256,
        body_root: B256,
    }

    /// JSON `ExecutionPayloadHeader` (Deneb fields).
    #[derive(Deserialize)]
    pub struct Execution {
        parent_hash: B256,
        fee_recipient: Address,
        state_root: B256,
        receipts_root: B256,
        logs_bloom: Bytes,
        prev_randao: B256,
        #[serde(deserialize_with = "quoted")]
        block_number: u64,
        #[serde(deserialize_with = "quoted")]
        gas_limit: u64,
        #[serde(deserialize_with = "quoted")]
        gas_used: u64,
        #[serde(deserialize_with = "quoted")]
        timestamp: u64,
        extra_data: Bytes,
        #[serde(deserialize_with = "decimal")]
        base_fee_per_gas: U256,
        block_hash: B256,
        transactions_root: B256,
        withdrawals_root: B256,
        #[serde(deserialize_with = "quoted")]
        blob_gas_used: u64,
        #[serde(deserialize_with = "quoted")]
        excess_blob_gas: u64,
    }

    /// JSON `LightClientHeader`.
    #[derive(Deserialize)]
    pub struct Header {
        beacon: Beacon,
        execution: Execution,
        execution_branch: Vec<B256>,
    }

    impl Header {
        fn parse(self) -> Result<LightClientHeader, String> {
            let e = self.execution;
            let extra_len = e.extra_data.len();
            let branch_len = self.execution_branch.len();
            Ok(LightClientHeader {
                beacon: BeaconBlockHeader {
                    slot: self.beacon.slot,
                    proposer_index: self.beacon.proposer_index,
                    parent_root: self.beacon.parent_root,
                    state_root: self.beacon.state_root,
                    body_root: self.beacon.body_root,
                },
                execution: ExecutionPayloadHeader {
                    parent_hash: e.parent_hash,
                    fee_recipient: e.fee_recipient,
                    state_root: e.state_root,
                    receipts_root: e.receipts_root,
                    logs_bloom: fixed("logs_bloom", e.logs_bloom)?,
                    prev_randao: e.prev_randao,
                    block_number: e.block_number,
                    gas_limit: e.gas_limit,
                    gas_used: e.gas_used,
                    timestamp: e.timestamp,
                    extra_data: VariableList::new(e.extra_data.to_vec())
                        .map_err(|_| format!("extra_data: {extra_len} bytes, at most 32"))?,
                    base_fee_per_gas: e.base_fee_per_gas,
                    block_hash: e.block_hash,
                    transactions_root: e.transactions_root,
                    withdrawals_root: e.withdrawals_root,
                    blob_gas_used: e.blob_gas_used,
                    excess_blob_gas: e.excess_blob_gas,
                },
                execution_branch: FixedVector::new(self.execution_branch)
                    .map_err(|_| format!("execution_branch: {branch_len} nodes, expected 4"))?,
            })
        }
    }

    /// JSON `SyncCommittee`.
    #[derive(Deserialize)]
    pub struct Committee {
        pubkeys: Vec<Bytes>,
        aggregate_pubkey: Bytes,
    }

    impl Committee {
        fn parse<N: Unsigned>(self) -> Result<SyncCommittee<N>, String> {
            if self.pubkeys.len() != N::to_usize() {
                return Err(format!(
                    "{} sync committee keys, expected {}",
                    self.pubkeys.len(),
                    N::to_usize()
                ));
            }
            let keys = self
                .pubkeys
                .into_iter()
                .map(|k| fixed("pubkey", k))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(SyncCommittee {
                pubkeys: FixedVector::new(keys).map_err(|e| format!("pubkeys: {e:?}"))?,
                aggregate_pubkey: fixed("aggregate_pubkey", self.aggregate_pubkey)?,
            })
        }
    }

    /// JSON `SyncAggregate`.
    #[derive(Deserialize)]
    pub struct Aggregate {
        sync_committee_bits: Bytes,
        sync_committee_signature: Bytes,
    }

    impl Aggregate {
        fn parse<N: Unsigned>(self) -> Result<SyncAggregate<N>, String> {
            Ok(SyncAggregate {
                // Bits in SSZ order, as the JSON schema's hex string holds them.
                sync_committee_bits: <BitVector<N> as ssz::Decode>::from_ssz_bytes(
                    &self.sync_committee_bits,
                )
                .map_err(|e| format!("sync_committee_bits: {e:?}"))?,
                sync_committee_signature: fixed(
                    "sync_committee_signature",
                    self.sync_committee_signature,
                )?,
            })
        }
    }

    /// JSON `LightClientBootstrap`.
    #[derive(Deserialize)]
    pub struct Bootstrap {
        header: Header,
        current_sync_committee: Committee,
        current_sync_committee_branch: Vec<B256>,
    }

    impl Bootstrap {
        /// Converts to the SSZ type, checking every length.
        pub fn parse<N: Unsigned>(self) -> Result<types::LightClientBootstrap<N>, String> {
            Ok(types::LightClientBootstrap {
                header: self.header.parse()?,
                current_sync_committee: self.current_sync_committee.parse()?,
                current_sync_committee_branch: self.current_sync_committee_branch,
            })
        }
    }

    /// JSON `LightClientUpdate`.
    #[derive(Deserialize)]
    pub struct Update {
        attested_header: Header,
        next_sync_committee: Committee,
        next_sync_committee_branch: Vec<B256>,
        finalized_header: Header,
        finality_branch: Vec<B256>,
        sync_aggregate: Aggregate,
        #[serde(deserialize_with = "quoted")]
        signature_slot: u64,
    }

    impl Update {
        /// Converts to the SSZ type, checking every length.
        pub fn parse<N: Unsigned>(self) -> Result<types::LightClientUpdate<N>, String> {
            Ok(types::LightClientUpdate {
                attested_header: self.attested_header.parse()?,
                next_sync_committee: self.next_sync_committee.parse()?,
                next_sync_committee_branch: self.next_sync_committee_branch,
                finalized_header: self.finalized_header.parse()?,
                finality_branch: self.finality_branch,
                sync_aggregate: self.sync_aggregate.parse()?,
                signature_slot: self.signature_slot,
            })
        }
    }

    /// JSON `LightClientFinalityUpdate`.
    #[derive(Deserialize)]
    pub struct FinalityUpdate {
        attested_header: Header,
        finalized_header: Header,
        finality_branch: Vec<B256>,
        sync_aggregate: Aggregate,
        #[serde(deserialize_with = "quoted")]
        signature_slot: u64,
    }

    impl FinalityUpdate {
        /// Converts to the SSZ type, checking every length.
        pub fn parse<N: Unsigned>(self) -> Result<types::LightClientFinalityUpdate<N>, String> {
            Ok(types::LightClientFinalityUpdate {
                attested_header: self.attested_header.parse()?,
                finalized_header: self.finalized_header.parse()?,
                finality_branch: self.finality_branch,
                sync_aggregate: self.sync_aggregate.parse()?,
                signature_slot: self.signature_slot,
            })
        }
    }
}

/// One chunk of an `updates` answer: its fork-digest context and its SSZ payload.
pub type Chunk<'a> = ([u8; 4], &'a [u8]);

/// Splits an `updates` answer into `(context, payload)` chunks (framing in
/// [`LightClientApi::updates`]). Every length is checked against the bytes
/// actually received and against [`MAX_OBJECT_BYTES`]; nothing is allocated
/// from a length field.
pub fn split_chunks(body: &[u8], max_chunks: u64) -> Result<Vec<Chunk<'_>>, String> {
    let mut chunks = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        if chunks.len() as u64 >= max_chunks {
            return Err(format!("more than the {max_chunks} updates asked for"));
        }
        let Some((length, tail)) = rest.split_first_chunk::<8>() else {
            return Err(format!(
                "{} bytes left, too few for a chunk length",
                rest.len()
            ));
        };
        let length = u64::from_le_bytes(*length);
        if length < 4 || length > (4 + MAX_OBJECT_BYTES) as u64 {
            return Err(format!(
                "chunk {} claims {length} bytes, outside 4..={}",
                chunks.len(),
                4 + MAX_OBJECT_BYTES
            ));
        }
        // In range of usize: bounded by MAX_OBJECT_BYTES above.
        let length = length as usize;
        if tail.len() < length {
            return Err(format!(
                "chunk {} claims {length} bytes, {} remain",
                chunks.len(),
                tail.len()
            ));
        }
        let (chunk, next) = tail.split_at(length);
        let (context, payload) = chunk.split_at(4);
        let mut digest = [0; 4];
        digest.copy_from_slice(context);
        chunks.push((digest, payload));
        rest = next;
    }
    Ok(chunks)
}

/// Failures of the light-client API; verification failures are
/// [`super::LightClientError`]s, raised by the store.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Transport, retry budget, or an HTTP status other than 2xx.
    #[error(transparent)]
    L1(L1Error),
    /// An answer exceeds its size bound.
    #[error("{endpoint}: the {what} exceeds {limit} bytes (response too large)")]
    TooLarge {
        /// Endpoint, redacted.
        endpoint: String,
        /// Which object (bootstrap, updates, ...).
        what: &'static str,
        /// The bound, in bytes.
        limit: usize,
    },
    /// The answer is not framed as the API specifies (bad chunk lengths, malformed JSON).
    #[error("{endpoint}: malformed {what}: {detail}")]
    Framing {
        /// Endpoint, redacted.
        endpoint: String,
        /// Which object.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// An object is not valid SSZ for its fork.
    #[error("{endpoint}: the {what} is not valid SSZ: {detail}")]
    Decode {
        /// Endpoint, redacted.
        endpoint: String,
        /// Which object.
        what: &'static str,
        /// The SSZ decoder's error.
        detail: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(context: [u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut out = (payload.len().saturating_add(4) as u64)
            .to_le_bytes()
            .to_vec();
        out.extend_from_slice(&context);
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn chunks_split_on_their_lengths_and_lying_lengths_are_refused() {
        let mut body = chunk([1, 2, 3, 4], b"first");
        body.extend(chunk([5, 6, 7, 8], b""));
        let chunks = split_chunks(&body, 2).unwrap();
        assert_eq!(
            chunks,
            vec![([1, 2, 3, 4], &b"first"[..]), ([5, 6, 7, 8], &b""[..])]
        );
        assert!(split_chunks(&body, 1).unwrap_err().contains("more than"));
        // A length beyond the body, a huge length, one too short for a context, a cut prefix.
        let mut long = chunk([0; 4], b"abc");
        long[0] += 1;
        assert!(split_chunks(&long, 9).unwrap_err().contains("remain"));
        let mut huge = chunk([0; 4], b"abc");
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(split_chunks(&huge, 9).unwrap_err().contains("outside"));
        let mut short = chunk([0; 4], b"");
        short[0] = 3;
        assert!(split_chunks(&short, 9).unwrap_err().contains("outside"));
        assert!(split_chunks(&[1, 0, 0], 9).unwrap_err().contains("too few"));
    }
}
