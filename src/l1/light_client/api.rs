//! HTTP client of the beacon light-client API (ethereum/beacon-APIs
//! `apis/beacon/light_client/{bootstrap,updates,finality_update}.yaml`),
//! asking for SSZ (`Accept: application/octet-stream`): smaller than JSON,
//! and decoded by the same containers the proofs hash. Every answer is
//! untrusted: sizes are bounded before anything is allocated, and the
//! [`super::LightClientStore`] verifies what is decoded here.
//!
//! JSON is not accepted: every client that serves these endpoints
//! (Lighthouse, Teku, Nimbus, Lodestar, Prysm) serves SSZ too, and a node
//! that answers JSON anyway is refused with [`ApiError::NotSsz`].

use alloy_primitives::B256;
use serde::Deserialize;
use ssz_types::typenum::Unsigned;
use tower::ServiceExt;

use super::ChainSpec;
use super::types::{
    LightClientBootstrap, LightClientFinalityUpdate, LightClientUpdate, leading_header_slot,
};
use crate::l1::L1Error;
use crate::l1::transport::{
    ConcurrencyLayer, GetStack, HttpReply, Redacted, RetrySettings, get_stack_accepting,
};

/// Bound on one light-client object. A mainnet update is about 27 KB: a
/// sync committee (512 keys of 48 bytes and an aggregate key, 24.6 KB), two
/// light-client headers (~0.9 KB each with a full 32-byte `extra_data`),
/// 13 branch nodes, the aggregate signature and bits; a bootstrap is smaller.
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
    pub fn new(
        url: &str,
        retry: &RetrySettings,
        concurrency: &ConcurrencyLayer,
    ) -> Result<Self, L1Error> {
        Ok(Self {
            single: get_stack_accepting(url, retry, concurrency, MAX_OBJECT_BYTES, Some(SSZ))?,
            updates: get_stack_accepting(url, retry, concurrency, MAX_UPDATES_RESPONSE, Some(SSZ))?,
            json: get_stack_accepting(
                url,
                retry,
                concurrency,
                MAX_JSON_RESPONSE,
                Some("application/json"),
            )?,
            endpoint: Redacted::new(url),
        })
    }

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
        let body = self
            .ssz(&self.single, &path, what, MAX_OBJECT_BYTES)
            .await?;
        let layout = spec.layout(leading_header_slot(&body).map_err(|e| self.decode(what, e))?);
        LightClientBootstrap::from_ssz(&body, layout).map_err(|e| self.decode(what, e))
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
        let body = self
            .ssz(&self.updates, &path, what, MAX_UPDATES_RESPONSE)
            .await?;
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
        let body = self.ssz(&self.single, path, what, MAX_OBJECT_BYTES).await?;
        let layout = spec.layout(leading_header_slot(&body).map_err(|e| self.decode(what, e))?);
        LightClientFinalityUpdate::<N>::from_ssz(&body, layout)
            .map(Into::into)
            .map_err(|e| self.decode(what, e))
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

    /// A 2xx SSZ body.
    async fn ssz(
        &self,
        stack: &GetStack,
        path: &str,
        what: &'static str,
        limit: usize,
    ) -> Result<Vec<u8>, ApiError> {
        let reply = self.get(stack, path, what, limit).await?;
        if let Some(content_type) = &reply.content_type
            && content_type.to_ascii_lowercase().contains("json")
        {
            return Err(ApiError::NotSsz {
                endpoint: self.endpoint.to_string(),
                what,
                content_type: content_type.clone(),
            });
        }
        Ok(reply.body)
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

/// Splits an `updates` answer into `(context, payload)` chunks (framing in
/// [`LightClientApi::updates`]). Every length is checked against the bytes
/// actually received and against [`MAX_OBJECT_BYTES`]; nothing is allocated
/// from a length field.
pub fn split_chunks(body: &[u8], max_chunks: u64) -> Result<Vec<([u8; 4], &[u8])>, String> {
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
    #[error("{endpoint}: the {what} exceeds {limit} bytes (response too large)")]
    TooLarge {
        endpoint: String,
        what: &'static str,
        limit: usize,
    },
    #[error(
        "{endpoint}: the {what} came as {content_type}; zkreplay asks for SSZ (application/octet-stream)"
    )]
    NotSsz {
        endpoint: String,
        what: &'static str,
        content_type: String,
    },
    #[error("{endpoint}: malformed {what}: {detail}")]
    Framing {
        endpoint: String,
        what: &'static str,
        detail: String,
    },
    #[error("{endpoint}: the {what} is not valid SSZ: {detail}")]
    Decode {
        endpoint: String,
        what: &'static str,
        detail: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(context: [u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut out = ((payload.len() + 4) as u64).to_le_bytes().to_vec();
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
