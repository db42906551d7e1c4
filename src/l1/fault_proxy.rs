//! A reverse proxy in front of an L1 node that injects the faults public
//! providers produce (HTTP 429 with `Retry-After`, 503, JSON-RPC rate-limit
//! errors, slow answers, refused `eth_getLogs` ranges), so resilience is tested
//! against real HTTP rather than mocks. Seeded, hence reproducible in
//! distribution; counters tell a test how many faults it actually survived.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// What to inject.
#[derive(Clone, Debug)]
pub struct FaultConfig {
    pub seed: u64,
    /// Chance in [0, 1] that a request gets a fault instead of (or before) forwarding.
    pub probability: f64,
    /// Drawn uniformly when a fault fires.
    pub kinds: Vec<FaultKind>,
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
    pub forwarded: AtomicU64,
    pub too_many_requests: AtomicU64,
    pub service_unavailable: AtomicU64,
    pub rpc_rate_limit: AtomicU64,
    pub delayed: AtomicU64,
    pub range_refused: AtomicU64,
}

/// A plain copy of [`FaultCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub forwarded: u64,
    pub too_many_requests: u64,
    pub service_unavailable: u64,
    pub rpc_rate_limit: u64,
    pub delayed: u64,
    pub range_refused: u64,
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
    shutdown: Option<oneshot::Sender<()>>,
}

impl FaultProxyHandle {
    pub fn counts(&self) -> FaultCounts {
        let c = &self.counters;
        FaultCounts {
            forwarded: c.forwarded.load(Ordering::Relaxed),
            too_many_requests: c.too_many_requests.load(Ordering::Relaxed),
            service_unavailable: c.service_unavailable.load(Ordering::Relaxed),
            rpc_rate_limit: c.rpc_rate_limit.load(Ordering::Relaxed),
            delayed: c.delayed.load(Ordering::Relaxed),
            range_refused: c.range_refused.load(Ordering::Relaxed),
        }
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
        let state = Arc::new(ProxyState {
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
    forward(&state, method, uri, body).await
}

async fn forward(state: &ProxyState, method: Method, uri: Uri, body: Bytes) -> Response {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("{}{}", state.upstream, path);
    let request = match method {
        Method::POST => state
            .client
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body),
        Method::GET => state.client.get(&url),
        _ => return StatusCode::METHOD_NOT_ALLOWED.into_response(),
    };
    let upstream = match request.send().await {
        Ok(upstream) => upstream,
        Err(_) => return (StatusCode::BAD_GATEWAY, "upstream unreachable").into_response(),
    };
    let status =
        StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = upstream.headers().get(header::CONTENT_TYPE).cloned();
    let Ok(body) = upstream.bytes().await else {
        return (StatusCode::BAD_GATEWAY, "upstream body failed").into_response();
    };
    state.counters.forwarded.fetch_add(1, Ordering::Relaxed);
    let mut headers = HeaderMap::new();
    if let Some(content_type) = content_type {
        headers.insert(header::CONTENT_TYPE, content_type);
    }
    (status, headers, body).into_response()
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
