//! A reverse proxy in front of an L1 node that injects the faults public
//! providers produce (HTTP 429 with `Retry-After`, 503, JSON-RPC rate-limit
//! errors, slow answers, refused `eth_getLogs` ranges), so resilience is tested
//! against real HTTP rather than mocks. Seeded, hence reproducible in
//! distribution; counters tell a test how many faults it actually survived.
//!
//! It can also lie ([`Lie`], switched on at run time with
//! [`FaultProxyHandle::set_lie`]): rewrite answers the way a compromised
//! node would, each lie internally consistent where a node could make it so
//! (a rewritten header carries its recomputed hash), so that only the
//! proofs of [`super::verified`] can catch it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{B256, keccak256};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// One kind of injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// HTTP 429 with `Retry-After: 0`.
    TooManyRequests,
    /// HTTP 503.
    ServiceUnavailable,
    /// HTTP 200 with a JSON-RPC error -32005 "rate limit exceeded" (a 429 for GETs).
    RpcRateLimit,
    /// Forwarded after [`FaultConfig::delay`].
    Delay,
}

/// A lie told in JSON-RPC answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lie {
    /// `eth_getLogs`: the first log's data (its last topic if it has no data) has a byte flipped.
    ForgeLog,
    /// `eth_getLogs`: the first log is left out.
    DropLog,
    /// Full blocks: the calldata of transaction `tx` has a byte flipped (its
    /// `hash` field recomputed).
    SwapCalldata {
        /// Hash of the transaction to alter.
        tx: B256,
    },
    /// Receipts: every failed transaction is reported successful.
    FailedAsSuccess,
    /// Receipts: the first receipt's `cumulativeGasUsed` is one more.
    AlterReceipt,
    /// Headers of block `number`: a header of another chain (other parent,
    /// other contents, its own hash).
    ForeignHeader {
        /// Block whose header is replaced.
        number: u64,
    },
    /// Headers from block `number` on: a fork (other contents from `number`,
    /// each header's parent the forked one below, hashes recomputed).
    ForkFrom {
        /// First block of the fork.
        number: u64,
    },
}

/// What to inject.
#[derive(Clone, Debug)]
pub struct FaultConfig {
    /// Seed of the fault draws: the same seed injects the same faults.
    pub seed: u64,
    /// Chance in [0, 1] that a request gets a fault instead of (or before) forwarding.
    pub probability: f64,
    /// Drawn uniformly when a fault fires.
    pub kinds: Vec<FaultKind>,
    /// Wait of a `FaultKind::Delay` fault.
    pub delay: Duration,
    /// Refuse `eth_getLogs` spanning more blocks than this, as providers do.
    pub max_log_range: Option<u64>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            probability: 0.0,
            kinds: vec![
                FaultKind::TooManyRequests,
                FaultKind::ServiceUnavailable,
                FaultKind::RpcRateLimit,
            ],
            delay: Duration::from_millis(50),
            max_log_range: None,
        }
    }
}

/// How many requests were forwarded and how many faults were injected.
#[derive(Debug, Default)]
pub struct FaultCounters {
    /// Requests forwarded upstream.
    pub forwarded: AtomicU64,
    /// HTTP 429 answers injected.
    pub too_many_requests: AtomicU64,
    /// HTTP 503 answers injected.
    pub service_unavailable: AtomicU64,
    /// JSON-RPC rate-limit errors injected.
    pub rpc_rate_limit: AtomicU64,
    /// Requests delayed.
    pub delayed: AtomicU64,
    /// `eth_getLogs` requests refused for their range.
    pub range_refused: AtomicU64,
    /// Answers rewritten by a [`Lie`].
    pub lies: AtomicU64,
}

/// A plain copy of [`FaultCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Requests forwarded upstream.
    pub forwarded: u64,
    /// HTTP 429 answers injected.
    pub too_many_requests: u64,
    /// HTTP 503 answers injected.
    pub service_unavailable: u64,
    /// JSON-RPC rate-limit errors injected.
    pub rpc_rate_limit: u64,
    /// Requests delayed.
    pub delayed: u64,
    /// `eth_getLogs` requests refused for their range.
    pub range_refused: u64,
    /// Answers rewritten by a [`Lie`].
    pub lies: u64,
}

impl FaultCounts {
    /// Faults that failed a request (delays excluded).
    pub fn failures(&self) -> u64 {
        self.too_many_requests + self.service_unavailable + self.rpc_rate_limit + self.range_refused
    }
}

/// The running proxy; stops when dropped.
#[derive(Debug)]
pub struct FaultProxyHandle {
    counters: Arc<FaultCounters>,
    lie: Arc<Mutex<Option<Lie>>>,
    recorded: Arc<Mutex<Option<Vec<Value>>>>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl FaultProxyHandle {
    /// The counters as they are now.
    pub fn counts(&self) -> FaultCounts {
        let c = &self.counters;
        FaultCounts {
            forwarded: c.forwarded.load(Ordering::Relaxed),
            too_many_requests: c.too_many_requests.load(Ordering::Relaxed),
            service_unavailable: c.service_unavailable.load(Ordering::Relaxed),
            rpc_rate_limit: c.rpc_rate_limit.load(Ordering::Relaxed),
            delayed: c.delayed.load(Ordering::Relaxed),
            range_refused: c.range_refused.load(Ordering::Relaxed),
            lies: c.lies.load(Ordering::Relaxed),
        }
    }

    /// Starts keeping every JSON-RPC request body it receives (a test's record
    /// of what a client asked for); off until called, as the record grows
    /// with every request.
    pub fn record_requests(&self) {
        self.recorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(Vec::new);
    }

    /// The JSON-RPC calls received since [`Self::record_requests`], batches
    /// flattened into their calls, in arrival order.
    pub fn recorded_requests(&self) -> Vec<Value> {
        self.recorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_default()
    }

    /// Starts (or with `None` stops) telling `lie` in every answer it applies to.
    pub fn set_lie(&self, lie: Option<Lie>) {
        *self.lie.lock().unwrap_or_else(|p| p.into_inner()) = lie;
    }
}

impl Drop for FaultProxyHandle {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Entry point; see [`FaultProxy::start`].
pub struct FaultProxy;

struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    config: FaultConfig,
    rng: Mutex<StdRng>,
    counters: Arc<FaultCounters>,
    lie: Arc<Mutex<Option<Lie>>>,
    recorded: Arc<Mutex<Option<Vec<Value>>>>,
    /// Hashes of the forked headers of [`Lie::ForkFrom`], by height.
    forked: tokio::sync::Mutex<HashMap<u64, B256>>,
}

impl FaultProxy {
    /// Listens on an ephemeral loopback port and forwards to `upstream`
    /// (e.g. `http://127.0.0.1:8545`), both POST JSON-RPC and GET beacon paths.
    pub async fn start(
        upstream: &str,
        config: FaultConfig,
    ) -> std::io::Result<(SocketAddr, FaultProxyHandle)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let counters = Arc::new(FaultCounters::default());
        let lie = Arc::new(Mutex::new(None));
        let recorded = Arc::new(Mutex::new(None));
        let state = Arc::new(ProxyState {
            lie: lie.clone(),
            recorded: recorded.clone(),
            forked: tokio::sync::Mutex::new(HashMap::new()),
            upstream: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::new(),
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
            config,
            counters: counters.clone(),
        });
        let app = axum::Router::new().fallback(handle).with_state(state);
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = server.await {
                tracing::warn!(error = %e, "fault proxy stopped");
            }
        });
        Ok((
            address,
            FaultProxyHandle {
                counters,
                lie,
                recorded,
                shutdown: Some(shutdown),
            },
        ))
    }
}

async fn handle(
    State(state): State<Arc<ProxyState>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let fault = {
        // A poisoned lock only means another handler panicked; the RNG state is still usable.
        let mut rng = state.rng.lock().unwrap_or_else(|p| p.into_inner());
        let fires = rng.random_bool(state.config.probability.clamp(0.0, 1.0));
        match (fires, state.config.kinds.len()) {
            (true, n) if n > 0 => Some(state.config.kinds[rng.random_range(0..n)]),
            _ => None,
        }
    };
    let counters = &state.counters;
    let request: Option<Value> = (method == Method::POST)
        .then(|| serde_json::from_slice(&body).ok())
        .flatten();
    if let (Some(record), Some(request)) = (
        state
            .recorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut(),
        &request,
    ) {
        match request {
            Value::Array(calls) => record.extend(calls.iter().cloned()),
            call => record.push(call.clone()),
        }
    }
    match fault {
        Some(FaultKind::TooManyRequests) => return too_many_requests(counters),
        Some(FaultKind::RpcRateLimit) => match &request {
            Some(request) => {
                counters.rpc_rate_limit.fetch_add(1, Ordering::Relaxed);
                return rpc_errors(request, -32005, "rate limit exceeded, slow down");
            }
            None => return too_many_requests(counters),
        },
        Some(FaultKind::ServiceUnavailable) => {
            counters.service_unavailable.fetch_add(1, Ordering::Relaxed);
            return (StatusCode::SERVICE_UNAVAILABLE, "upstream unavailable").into_response();
        }
        Some(FaultKind::Delay) => {
            counters.delayed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(state.config.delay).await;
        }
        None => {}
    }
    if let (Some(max), Some(request)) = (state.config.max_log_range, &request)
        && let Some(span) = widest_log_range(request)
        && span > max
    {
        counters.range_refused.fetch_add(1, Ordering::Relaxed);
        return rpc_errors(
            request,
            -32005,
            &format!("eth_getLogs block range too large: {span} blocks, max is {max}"),
        );
    }
    let lie = *state.lie.lock().unwrap_or_else(|p| p.into_inner());
    match (lie, request) {
        (Some(lie), Some(request)) => {
            let (status, headers, answer) = match forward(&state, method, uri, body).await {
                Ok(answer) => answer,
                Err(response) => return response,
            };
            let answer = match serde_json::from_slice::<Value>(&answer) {
                Ok(mut answer) => {
                    if tell(&state, lie, &request, &mut answer).await {
                        state.counters.lies.fetch_add(1, Ordering::Relaxed);
                    }
                    Bytes::from(answer.to_string())
                }
                Err(_) => answer,
            };
            (status, headers, answer).into_response()
        }
        _ => match forward(&state, method, uri, body).await {
            Ok(answer) => answer.into_response(),
            Err(response) => response,
        },
    }
}

async fn forward(
    state: &ProxyState,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Result<(StatusCode, HeaderMap, Bytes), Response> {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("{}{}", state.upstream, path);
    let request = match method {
        Method::POST => state
            .client
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body),
        Method::GET => state.client.get(&url),
        _ => return Err(StatusCode::METHOD_NOT_ALLOWED.into_response()),
    };
    let upstream = match request.send().await {
        Ok(upstream) => upstream,
        Err(_) => return Err((StatusCode::BAD_GATEWAY, "upstream unreachable").into_response()),
    };
    let status =
        StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = upstream.headers().get(header::CONTENT_TYPE).cloned();
    let Ok(body) = upstream.bytes().await else {
        return Err((StatusCode::BAD_GATEWAY, "upstream body failed").into_response());
    };
    state.counters.forwarded.fetch_add(1, Ordering::Relaxed);
    let mut headers = HeaderMap::new();
    if let Some(content_type) = content_type {
        headers.insert(header::CONTENT_TYPE, content_type);
    }
    Ok((status, headers, body))
}

/// Rewrites `answer` (one JSON-RPC response or a batch) to tell `lie` where
/// it applies; whether anything was rewritten.
async fn tell(state: &ProxyState, lie: Lie, request: &Value, answer: &mut Value) -> bool {
    let requests: Vec<&Value> = match request {
        Value::Array(batch) => batch.iter().collect(),
        single => vec![single],
    };
    let answers: Vec<&mut Value> = match answer {
        Value::Array(batch) => batch.iter_mut().collect(),
        single => vec![single],
    };
    let mut told = false;
    for answer in answers {
        let Some(request) = requests.iter().find(|r| r.get("id") == answer.get("id")) else {
            continue;
        };
        let method = request.get("method").and_then(Value::as_str).unwrap_or("");
        let Some(result) = answer.get_mut("result") else {
            continue;
        };
        told |= match (lie, method) {
            (Lie::ForgeLog, "eth_getLogs") => match result.get_mut(0) {
                // Events with every field indexed (ZKsync's) have no data: forge a topic.
                Some(log) => {
                    flip_hex_byte(&mut log["data"])
                        || log["topics"]
                            .as_array_mut()
                            .and_then(|topics| topics.last_mut())
                            .is_some_and(flip_hex_byte)
                }
                None => false,
            },
            (Lie::DropLog, "eth_getLogs") => match result.as_array_mut() {
                Some(logs) if !logs.is_empty() => {
                    logs.remove(0);
                    true
                }
                _ => false,
            },
            (Lie::SwapCalldata { tx }, "eth_getBlockByHash" | "eth_getBlockByNumber") => {
                swap_calldata(result, tx)
            }
            (Lie::FailedAsSuccess, "eth_getBlockReceipts" | "eth_getTransactionReceipt") => {
                receipts(result).into_iter().fold(false, |told, receipt| {
                    let failed = receipt.get("status") == Some(&json!("0x0"));
                    if failed {
                        receipt["status"] = json!("0x1");
                    }
                    told | failed
                })
            }
            (Lie::AlterReceipt, "eth_getBlockReceipts" | "eth_getTransactionReceipt") => {
                match receipts(result).into_iter().next() {
                    Some(receipt) => add_one(&mut receipt["cumulativeGasUsed"]),
                    None => false,
                }
            }
            (Lie::ForeignHeader { number }, "eth_getBlockByHash" | "eth_getBlockByNumber")
                if hex_u64(&result["number"]) == Some(number) =>
            {
                let parent = result["parentHash"]
                    .as_str()
                    .map(|p| keccak256(p.as_bytes()));
                parent.is_some_and(|parent| rewrite_header(result, Some(parent)))
            }
            (Lie::ForkFrom { number }, "eth_getBlockByHash" | "eth_getBlockByNumber") => {
                match hex_u64(&result["number"]) {
                    Some(height) if height >= number => {
                        fork_header(state, number, height, result).await
                    }
                    _ => false,
                }
            }
            _ => false,
        };
    }
    told
}

/// The receipts in a receipts answer (a list, or one).
fn receipts(result: &mut Value) -> Vec<&mut Value> {
    match result {
        Value::Array(list) => list.iter_mut().collect(),
        Value::Object(_) => vec![result],
        _ => Vec::new(),
    }
}

/// Flips the last byte of a 0x-hex string; false if it has none.
fn flip_hex_byte(value: &mut Value) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    let Ok(mut bytes) = hex::decode(text.trim_start_matches("0x")) else {
        return false;
    };
    let Some(last) = bytes.last_mut() else {
        return false;
    };
    *last ^= 0x01;
    *value = json!(format!("0x{}", hex::encode(bytes)));
    true
}

fn add_one(value: &mut Value) -> bool {
    match hex_u64(value) {
        Some(n) => {
            *value = json!(format!("{:#x}", n.wrapping_add(1)));
            true
        }
        None => false,
    }
}

fn hex_u64(value: &Value) -> Option<u64> {
    u64::from_str_radix(value.as_str()?.trim_start_matches("0x"), 16).ok()
}

/// In a full block, flips a calldata byte of transaction `tx` and gives it its new hash.
fn swap_calldata(block: &mut Value, tx: B256) -> bool {
    let Some(transactions) = block.get_mut("transactions").and_then(Value::as_array_mut) else {
        return false;
    };
    let wanted = json!(tx.to_string());
    let Some(found) = transactions
        .iter_mut()
        .find(|t| t.get("hash") == Some(&wanted))
    else {
        return false;
    };
    if !flip_hex_byte(&mut found["input"]) {
        return false;
    }
    let Ok(parsed) = serde_json::from_value::<alloy_rpc_types_eth::Transaction>(found.clone())
    else {
        return false;
    };
    let rehashed = keccak256(parsed.into_inner().encoded_2718());
    found["hash"] = json!(rehashed.to_string());
    true
}

/// Gives a header other contents (and `parent`, if any) and its recomputed hash.
fn rewrite_header(block: &mut Value, parent: Option<B256>) -> bool {
    block["extraData"] = json!("0x6c79696e67"); // "lying"
    if let Some(parent) = parent {
        block["parentHash"] = json!(parent.to_string());
    }
    match serde_json::from_value::<alloy_consensus::Header>(block.clone()) {
        Ok(header) => {
            block["hash"] = json!(header.hash_slow().to_string());
            true
        }
        Err(_) => false,
    }
}

/// Rewrites the header at `height` (≥ `from`) into the fork starting at
/// `from`, fetching and forking the headers between as needed.
async fn fork_header(state: &ProxyState, from: u64, height: u64, block: &mut Value) -> bool {
    let mut forked = state.forked.lock().await;
    for k in from..height {
        if forked.contains_key(&k) {
            continue;
        }
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": [format!("{k:#x}"), false]});
        let reply = state
            .client
            .post(&state.upstream)
            .header(header::CONTENT_TYPE, "application/json")
            .body(request.to_string())
            .send()
            .await;
        let Ok(body) = (match reply {
            Ok(reply) => reply.bytes().await,
            Err(e) => Err(e),
        }) else {
            return false;
        };
        let Ok(mut reply) = serde_json::from_slice::<Value>(&body) else {
            return false;
        };
        let header = &mut reply["result"];
        let parent = k.checked_sub(1).and_then(|p| forked.get(&p).copied());
        if !rewrite_header(header, parent) {
            return false;
        }
        let Some(hash) = header["hash"].as_str().and_then(|h| h.parse().ok()) else {
            return false;
        };
        forked.insert(k, hash);
    }
    let parent = height.checked_sub(1).and_then(|p| forked.get(&p).copied());
    if !rewrite_header(block, parent) {
        return false;
    }
    if let Some(hash) = block["hash"].as_str().and_then(|h| h.parse().ok()) {
        forked.insert(height, hash);
    }
    true
}

fn too_many_requests(counters: &FaultCounters) -> Response {
    counters.too_many_requests.fetch_add(1, Ordering::Relaxed);
    let mut headers = HeaderMap::new();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("0"));
    (StatusCode::TOO_MANY_REQUESTS, headers, "too many requests").into_response()
}

/// A JSON-RPC error answer (HTTP 200) echoing the id of every request in the packet.
fn rpc_errors(request: &Value, code: i64, message: &str) -> Response {
    let error = |id: &Value| json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    let body = match request {
        Value::Array(batch) => Value::Array(
            batch
                .iter()
                .map(|r| error(r.get("id").unwrap_or(&Value::Null)))
                .collect(),
        ),
        single => error(single.get("id").unwrap_or(&Value::Null)),
    };
    axum::Json(body).into_response()
}

/// The widest `[fromBlock, toBlock]` of any `eth_getLogs` in the packet
/// (tags and missing bounds count as unbounded, as providers treat them).
fn widest_log_range(request: &Value) -> Option<u64> {
    let requests: Vec<&Value> = match request {
        Value::Array(batch) => batch.iter().collect(),
        single => vec![single],
    };
    requests
        .into_iter()
        .filter(|r| r.get("method").and_then(Value::as_str) == Some("eth_getLogs"))
        .map(|r| {
            let filter = r.get("params").and_then(|p| p.get(0));
            let bound = |name: &str| {
                filter
                    .and_then(|f| f.get(name))
                    .and_then(Value::as_str)
                    .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
            };
            match (bound("fromBlock"), bound("toBlock")) {
                (Some(from), Some(to)) => to.saturating_sub(from).saturating_add(1),
                _ => u64::MAX,
            }
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_range_width_of_single_and_batch_requests() {
        let single = json!({"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x1","toBlock":"0xa"}]});
        assert_eq!(widest_log_range(&single), Some(10));
        let tagged =
            json!({"method":"eth_getLogs","params":[{"fromBlock":"0x1","toBlock":"latest"}]});
        assert_eq!(widest_log_range(&tagged), Some(u64::MAX));
        let other = json!({"method":"eth_chainId","params":[]});
        assert_eq!(widest_log_range(&other), None);
        let batch = json!([single, other]);
        assert_eq!(widest_log_range(&batch), Some(10));
    }
}
