//! Resilience for every HTTP call to an L1 endpoint, as tower layers rather
//! than loops at call sites:
//!
//! ```text
//! caller ─► Retry (backoff + jitter, Retry-After, budget) ─► Concurrency (semaphore) ─► HTTP
//! ```
//!
//! The same two layers wrap the JSON-RPC transport (an alloy `Transport`, so
//! every provider call goes through them) and the beacon/archive GET service;
//! only the [`RetryClassifier`] differs. Retry sits outside the semaphore so a
//! request sleeping in backoff does not hold a slot.
//!
//! Also here: `eth_getLogs` range splitting ([`split_log_ranges`]), the
//! classification of node answers (rate limit vs refused range), and URL
//! redaction ([`Redacted`]): provider URLs carry API keys in the path or
//! query, so nothing but `scheme://host[:port]` ever reaches a log or an error.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use alloy_json_rpc::{RequestPacket, ResponsePacket};
use alloy_transport::{HttpError, TransportError, TransportErrorKind};
use rand::Rng;
use tokio::sync::Semaphore;
use tower::{Layer, Service, ServiceExt};

use super::L1Error;

/// A boxed, sendable future: the shape alloy's `Transport` requires, reused by the GET services.
pub type BoxFut<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

/// Retry policy shared by every endpoint of one client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySettings {
    /// Retries after the first attempt; the budget that turns a dead node into an error.
    pub max_retries: u32,
    /// Backoff before the first retry; doubles each retry up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Wall-clock budget for one logical request, retries and waits included.
    pub max_elapsed: Duration,
    /// Timeout of one HTTP attempt (connect + full body).
    pub attempt_timeout: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_retries: 8,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(15),
            max_elapsed: Duration::from_secs(180),
            attempt_timeout: Duration::from_secs(60),
        }
    }
}

impl RetrySettings {
    /// Exponential backoff with jitter in `[d/2, d]`: jitter spreads out clients
    /// that were throttled together, the floor keeps the backoff meaningful.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX);
        let full = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        let half = full / 2;
        let jitter_ms = u64::try_from((full - half).as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rand::rng().random_range(0..=jitter_ms))
    }
}

/// What to do with the outcome of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Done,
    /// Try again, after `after` if the server said so (Retry-After).
    Retry {
        after: Option<Duration>,
        reason: String,
    },
}

/// Decides whether an attempt's outcome is final, per protocol (JSON-RPC, beacon GET).
pub trait RetryClassifier<Res, E>: Clone + Send + Sync + 'static {
    fn classify(&self, result: &Result<Res, E>) -> Verdict;
    /// The error returned when the budget runs out; `reason` is the last verdict's.
    fn exhausted(&self, endpoint: &str, attempts: u32, elapsed: Duration, reason: String) -> E;
}

/// Layer adding retries to a service.
#[derive(Clone, Debug)]
pub struct RetryLayer<C> {
    settings: Arc<RetrySettings>,
    classifier: C,
    endpoint: Arc<str>,
}

impl<C> RetryLayer<C> {
    /// `endpoint` is the redacted name used in logs and errors.
    pub fn new(settings: RetrySettings, classifier: C, endpoint: Redacted) -> Self {
        Self {
            settings: Arc::new(settings),
            classifier,
            endpoint: endpoint.to_string().into(),
        }
    }
}

impl<S, C: Clone> Layer<S> for RetryLayer<C> {
    type Service = Retry<S, C>;
    fn layer(&self, inner: S) -> Self::Service {
        Retry {
            inner,
            settings: self.settings.clone(),
            classifier: self.classifier.clone(),
            endpoint: self.endpoint.clone(),
        }
    }
}

/// See [`RetryLayer`].
#[derive(Clone, Debug)]
pub struct Retry<S, C> {
    inner: S,
    settings: Arc<RetrySettings>,
    classifier: C,
    endpoint: Arc<str>,
}

impl<S, C, Req> Service<Req> for Retry<S, C>
where
    Req: Clone + Send + 'static,
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
    C: RetryClassifier<S::Response, S::Error>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFut<S::Response, S::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness of the inner service is awaited per attempt, inside the future.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let inner = self.inner.clone();
        let settings = self.settings.clone();
        let classifier = self.classifier.clone();
        let endpoint = self.endpoint.clone();
        Box::pin(async move {
            let started = Instant::now();
            let mut retries = 0u32;
            loop {
                let mut service = inner.clone();
                let result = match service.ready().await {
                    Ok(ready) => ready.call(request.clone()).await,
                    Err(e) => Err(e),
                };
                let (after, reason) = match classifier.classify(&result) {
                    Verdict::Done => return result,
                    Verdict::Retry { after, reason } => (after, reason),
                };
                let wait = after.unwrap_or_else(|| settings.backoff(retries));
                let elapsed = started.elapsed();
                if retries >= settings.max_retries || elapsed + wait > settings.max_elapsed {
                    tracing::warn!(%endpoint, attempts = retries + 1, %reason, "retry budget exhausted");
                    return Err(classifier.exhausted(&endpoint, retries + 1, elapsed, reason));
                }
                retries += 1;
                tracing::debug!(%endpoint, retry = retries, wait_ms = wait.as_millis() as u64, %reason, "retrying");
                tokio::time::sleep(wait).await;
            }
        })
    }
}

/// Layer bounding the requests in flight to one endpoint.
#[derive(Clone, Debug)]
pub struct ConcurrencyLayer {
    semaphore: Arc<Semaphore>,
}

impl ConcurrencyLayer {
    pub fn new(max_in_flight: usize) -> Self {
        Self {
            semaphore: Arc::new(Semaphore::new(max_in_flight.max(1))),
        }
    }
}

impl<S> Layer<S> for ConcurrencyLayer {
    type Service = Concurrency<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Concurrency {
            inner,
            semaphore: self.semaphore.clone(),
        }
    }
}

/// See [`ConcurrencyLayer`]. Unlike tower's `ConcurrencyLimit`, its future is
/// boxed, which alloy's `Transport` bound requires.
#[derive(Clone, Debug)]
pub struct Concurrency<S> {
    inner: S,
    semaphore: Arc<Semaphore>,
}

impl<S, Req> Service<Req> for Concurrency<S>
where
    Req: Send + 'static,
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFut<S::Response, S::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let mut inner = self.inner.clone();
        let semaphore = self.semaphore.clone();
        Box::pin(async move {
            // The semaphore is never closed, so `ok()` only drops an impossible error.
            let _permit = semaphore.acquire_owned().await.ok();
            inner.ready().await?.call(request).await
        })
    }
}

/// Retry policy for JSON-RPC over HTTP.
#[derive(Clone, Copy, Debug, Default)]
pub struct RpcClassifier;

impl RetryClassifier<ResponsePacket, TransportError> for RpcClassifier {
    fn classify(&self, result: &Result<ResponsePacket, TransportError>) -> Verdict {
        match result {
            Ok(packet) => match packet
                .iter_errors()
                .find(|e| is_rate_limit(e.code, &e.message))
            {
                Some(e) => Verdict::Retry {
                    after: None,
                    reason: format!("rate limited (JSON-RPC {}: {})", e.code, e.message),
                },
                None => Verdict::Done,
            },
            Err(TransportError::Transport(kind)) => match kind {
                TransportErrorKind::HttpErrorWithRetryAfter { error, retry_after }
                    if retryable_status(error.status) =>
                {
                    Verdict::Retry {
                        after: Some(*retry_after),
                        reason: format!("HTTP {}", error.status),
                    }
                }
                TransportErrorKind::HttpError(error) if retryable_status(error.status) => {
                    Verdict::Retry {
                        after: None,
                        reason: format!("HTTP {}", error.status),
                    }
                }
                TransportErrorKind::Custom(custom) => match custom.downcast_ref::<HttpFailure>() {
                    Some(failure) if failure.is_retryable() => Verdict::Retry {
                        after: None,
                        reason: failure.to_string(),
                    },
                    _ => Verdict::Done,
                },
                TransportErrorKind::MissingBatchResponse(_) => Verdict::Retry {
                    after: None,
                    reason: kind.to_string(),
                },
                _ => Verdict::Done,
            },
            Err(_) => Verdict::Done,
        }
    }

    fn exhausted(
        &self,
        endpoint: &str,
        attempts: u32,
        elapsed: Duration,
        reason: String,
    ) -> TransportError {
        TransportErrorKind::custom(Exhausted {
            endpoint: endpoint.to_string(),
            attempts,
            elapsed,
            reason,
        })
    }
}

/// The retry budget ran out (carried inside alloy's error type).
#[derive(Debug, thiserror::Error)]
#[error("{endpoint} gave up after {attempts} attempts in {} ms: {reason}", elapsed.as_millis())]
pub struct Exhausted {
    pub endpoint: String,
    pub attempts: u32,
    pub elapsed: Duration,
    pub reason: String,
}

/// HTTP-level failures; messages never contain the URL (see [`Redacted`]).
#[derive(Debug, thiserror::Error)]
pub enum HttpFailure {
    #[error("{endpoint}: request failed: {detail}")]
    Send { endpoint: String, detail: String },
    #[error("{endpoint}: timed out after {} ms", timeout.as_millis())]
    Timeout { endpoint: String, timeout: Duration },
    #[error("{endpoint}: response exceeds {limit} bytes (response too large)")]
    TooLarge { endpoint: String, limit: usize },
}

impl HttpFailure {
    /// Connection and timeout errors are transient; an oversized answer is not.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, HttpFailure::TooLarge { .. })
    }
}

/// 429 and 5xx are transient by HTTP's own definition.
pub fn retryable_status(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status) && status != 501
}

/// A JSON-RPC error that means "slow down". Providers disagree on codes:
/// -32005 is Infura's "limit exceeded", used both for request rate and for
/// result size, so a message about ranges or results wins over the code.
pub fn is_rate_limit(code: i64, message: &str) -> bool {
    if is_range_refusal(Some(code), message) {
        return false;
    }
    let m = message.to_ascii_lowercase();
    code == 429
        || code == -32005
        || code == -32029
        || m.contains("rate limit")
        || m.contains("rate-limit")
        || m.contains("ratelimit")
        || m.contains("too many requests")
        || m.contains("compute units per second")
        || m.contains("request limit")
}

/// An `eth_getLogs` answer meaning "ask for a narrower range". Matched on the
/// message because every provider words it differently and codes vary
/// (-32005, -32602, -32000, 35, ...).
pub fn is_range_refusal(_code: Option<i64>, message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    const PATTERNS: &[&str] = &[
        "block range",
        "range too large",
        "range is too large",
        "too wide",
        "exceed maximum block range",
        "more than 10000 results",
        "query returned more than",
        "response size exceeded",
        "response too large",
        "log response size",
        "query timeout exceeded",
        "too many logs",
        "limit the query",
    ];
    PATTERNS.iter().any(|p| m.contains(p))
}

/// Fetches logs over `[from, to]` in chunks of at most `max_span` blocks,
/// halving any chunk the node refuses (`refused(&err)`), and concatenates the
/// results in block order. A single block that is still refused is an error:
/// no narrower query exists.
///
/// Iterative (an explicit stack of pending ranges, leftmost on top) so order
/// is preserved without recursion in async code.
pub async fn split_log_ranges<T, E, F, Fut>(
    from: u64,
    to: u64,
    max_span: u64,
    mut fetch: F,
    refused: impl Fn(&E) -> bool,
) -> Result<Vec<T>, E>
where
    F: FnMut(u64, u64) -> Fut,
    Fut: Future<Output = Result<Vec<T>, E>>,
{
    let mut out = Vec::new();
    if from > to {
        return Ok(out);
    }
    let span = max_span.max(1);
    // Chunks are pushed lazily: only the next untouched chunk start is kept,
    // so a huge range does not allocate one entry per chunk up front.
    let mut next_chunk = Some(from);
    let mut pending: Vec<(u64, u64)> = Vec::new();
    loop {
        let (lo, hi) = match pending.pop() {
            Some(range) => range,
            None => match next_chunk {
                Some(start) => {
                    let end = start.saturating_add(span - 1).min(to);
                    next_chunk = if end >= to { None } else { Some(end + 1) };
                    (start, end)
                }
                None => return Ok(out),
            },
        };
        match fetch(lo, hi).await {
            Ok(items) => out.extend(items),
            Err(e) if hi > lo && refused(&e) => {
                let mid = lo + (hi - lo) / 2;
                tracing::debug!(lo, hi, mid, "log range refused, splitting");
                pending.push((mid + 1, hi));
                pending.push((lo, mid));
            }
            Err(e) => return Err(e),
        }
    }
}

/// A URL reduced to `scheme://host[:port]`, with `/…` standing for any path,
/// query, fragment or userinfo (where provider API keys live). Unparseable
/// input is shown as `<invalid url>`, never verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redacted(String);

impl Redacted {
    pub fn new(url: &str) -> Self {
        let Ok(parsed) = url::Url::parse(url) else {
            return Redacted("<invalid url>".to_string());
        };
        let mut out = format!("{}://", parsed.scheme());
        let hidden_userinfo = !parsed.username().is_empty() || parsed.password().is_some();
        if hidden_userinfo {
            out.push_str("…@");
        }
        match parsed.host_str() {
            Some(host) => out.push_str(host),
            None => return Redacted(format!("{}://…", parsed.scheme())),
        }
        if let Some(port) = parsed.port() {
            out.push_str(&format!(":{port}"));
        }
        let has_more = (parsed.path() != "/" && !parsed.path().is_empty())
            || parsed.query().is_some()
            || parsed.fragment().is_some();
        if has_more {
            out.push_str("/…");
        }
        Redacted(out)
    }

    /// Removes any secret part of `url` that a foreign error message may echo
    /// (reqwest and hyper errors sometimes include the full URL).
    pub fn scrub(url: &url::Url, message: &str) -> String {
        let mut message = message.replace(url.as_str(), &Redacted::new(url.as_str()).0);
        let mut secrets: Vec<&str> = vec![url.path(), url.username()];
        secrets.extend(url.password());
        secrets.extend(url.query());
        secrets.extend(url.fragment());
        for secret in secrets {
            if secret.len() > 1 {
                message = message.replace(secret, "…");
            }
        }
        message
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The innermost JSON-RPC service: one HTTP POST per request packet, with a
/// bounded body. Errors name the endpoint only in redacted form and carry
/// `Retry-After` for the retry layer.
#[derive(Clone, Debug)]
pub struct HttpJsonRpc {
    client: reqwest::Client,
    url: Arc<url::Url>,
    endpoint: Redacted,
    max_response_bytes: usize,
    timeout: Duration,
}

impl HttpJsonRpc {
    pub fn new(url: &str, timeout: Duration, max_response_bytes: usize) -> Result<Self, L1Error> {
        let endpoint = Redacted::new(url);
        let parsed = url::Url::parse(url)
            .map_err(|e| L1Error::Config(format!("invalid RPC URL {endpoint}: {e}")))?;
        Ok(Self {
            client: http_client()?,
            url: Arc::new(parsed),
            endpoint,
            max_response_bytes,
            timeout,
        })
    }

    pub fn endpoint(&self) -> &Redacted {
        &self.endpoint
    }
}

impl Service<RequestPacket> for HttpJsonRpc {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = BoxFut<ResponsePacket, TransportError>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, packet: RequestPacket) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let body = packet.serialize().map_err(TransportError::ser_err)?;
            let reply = get_or_post(
                &this.client,
                &this.url,
                &this.endpoint,
                Some(body.get().to_owned()),
                this.timeout,
                this.max_response_bytes,
            )
            .await
            .map_err(TransportErrorKind::custom)?;
            if !(200..300).contains(&reply.status) {
                let body = Redacted::scrub(&this.url, &truncate_lossy(&reply.body, 512));
                let error = HttpError {
                    status: reply.status,
                    body,
                };
                return Err(TransportError::Transport(match reply.retry_after {
                    Some(retry_after) => {
                        TransportErrorKind::HttpErrorWithRetryAfter { error, retry_after }
                    }
                    None => TransportErrorKind::HttpError(error),
                }));
            }
            serde_json::from_slice(&reply.body)
                .map_err(|err| TransportError::deser_err(err, truncate_lossy(&reply.body, 512)))
        })
    }
}

/// One HTTP answer, body already read within its bound.
#[derive(Clone, Debug)]
pub struct HttpReply {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

/// The innermost GET service of the beacon API and blob archives: the request
/// is a path plus query relative to the base URL.
#[derive(Clone, Debug)]
pub struct HttpGet {
    client: reqwest::Client,
    base: Arc<url::Url>,
    endpoint: Redacted,
    max_response_bytes: usize,
    timeout: Duration,
}

impl HttpGet {
    pub fn new(base: &str, timeout: Duration, max_response_bytes: usize) -> Result<Self, L1Error> {
        let endpoint = Redacted::new(base);
        let mut parsed = url::Url::parse(base)
            .map_err(|e| L1Error::Config(format!("invalid URL {endpoint}: {e}")))?;
        // `Url::join` drops the last path segment unless the base ends with '/'.
        if !parsed.path().ends_with('/') {
            let path = format!("{}/", parsed.path());
            parsed.set_path(&path);
        }
        Ok(Self {
            client: http_client()?,
            base: Arc::new(parsed),
            endpoint,
            max_response_bytes,
            timeout,
        })
    }

    pub fn endpoint(&self) -> &Redacted {
        &self.endpoint
    }
}

impl Service<String> for HttpGet {
    type Response = HttpReply;
    type Error = L1Error;
    type Future = BoxFut<HttpReply, L1Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, relative: String) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let url = this
                .base
                .join(relative.trim_start_matches('/'))
                .map_err(|e| L1Error::Config(format!("bad path for {}: {e}", this.endpoint)))?;
            get_or_post(
                &this.client,
                &url,
                &this.endpoint,
                None,
                this.timeout,
                this.max_response_bytes,
            )
            .await
            .map_err(|e| L1Error::Transport(e.to_string()))
        })
    }
}

/// Retry policy for GETs: transport errors, 429 and 5xx.
#[derive(Clone, Copy, Debug, Default)]
pub struct GetClassifier;

impl RetryClassifier<HttpReply, L1Error> for GetClassifier {
    fn classify(&self, result: &Result<HttpReply, L1Error>) -> Verdict {
        match result {
            Ok(reply) if retryable_status(reply.status) => Verdict::Retry {
                after: reply.retry_after,
                reason: format!("HTTP {}", reply.status),
            },
            Ok(_) => Verdict::Done,
            Err(L1Error::Transport(detail)) if !detail.contains("response too large") => {
                Verdict::Retry {
                    after: None,
                    reason: detail.clone(),
                }
            }
            Err(_) => Verdict::Done,
        }
    }

    fn exhausted(
        &self,
        endpoint: &str,
        attempts: u32,
        elapsed: Duration,
        reason: String,
    ) -> L1Error {
        L1Error::RetriesExhausted {
            endpoint: endpoint.to_string(),
            attempts,
            elapsed_ms: elapsed.as_millis(),
            last: reason,
        }
    }
}

/// The full GET stack: retry ∘ concurrency ∘ HTTP.
pub type GetStack = Retry<Concurrency<HttpGet>, GetClassifier>;

/// Builds [`GetStack`] for a base URL.
pub fn get_stack(
    base: &str,
    settings: &RetrySettings,
    concurrency: &ConcurrencyLayer,
    max_response_bytes: usize,
) -> Result<GetStack, L1Error> {
    let http = HttpGet::new(base, settings.attempt_timeout, max_response_bytes)?;
    let endpoint = http.endpoint().clone();
    Ok(RetryLayer::new(settings.clone(), GetClassifier, endpoint).layer(concurrency.layer(http)))
}

fn http_client() -> Result<reqwest::Client, L1Error> {
    reqwest::Client::builder()
        // Never follow redirects: a redirect could move a keyed URL elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| L1Error::Config(format!("HTTP client: {}", error_chain(&e.without_url()))))
}

async fn get_or_post(
    client: &reqwest::Client,
    url: &url::Url,
    endpoint: &Redacted,
    json_body: Option<String>,
    timeout: Duration,
    limit: usize,
) -> Result<HttpReply, HttpFailure> {
    let attempt = async {
        let request = match json_body {
            Some(body) => client
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body),
            None => client.get(url.clone()),
        };
        let send_failure = |e: reqwest::Error| HttpFailure::Send {
            endpoint: endpoint.to_string(),
            detail: Redacted::scrub(url, &error_chain(&e.without_url())),
        };
        let mut response = request.send().await.map_err(send_failure)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let too_large = || HttpFailure::TooLarge {
            endpoint: endpoint.to_string(),
            limit,
        };
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        // Read chunk by chunk so a lying or absent Content-Length cannot make us buffer more than `limit`.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(send_failure)? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpReply {
            status,
            retry_after,
            body,
        })
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(HttpFailure::Timeout {
                endpoint: endpoint.to_string(),
                timeout,
            })
        })
}

/// `error: source: source...`, since reqwest's top-level message alone says little.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn truncate_lossy(bytes: &[u8], max: usize) -> String {
    let cut = &bytes[..bytes.len().min(max)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if bytes.len() > max {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn redaction_keeps_only_scheme_host_and_port() {
        let cases = [
            (
                "https://eth.example.com/v2/SECRETKEY?key=abc",
                "https://eth.example.com/…",
            ),
            (
                "https://user:pw@eth.example.com:8545/",
                "https://…@eth.example.com:8545",
            ),
            ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
            ("http://localhost:5052/", "http://localhost:5052"),
            ("wss://x.io/ws#frag", "wss://x.io/…"),
            ("not a url SECRETKEY", "<invalid url>"),
        ];
        for (url, expected) in cases {
            assert_eq!(Redacted::new(url).to_string(), expected, "{url}");
        }
    }

    #[test]
    fn scrub_removes_secrets_echoed_by_foreign_errors() {
        let url = url::Url::parse("https://eth.example.com/v2/SECRETKEY?key=abc").unwrap();
        let message = format!("error sending request for url ({url}): dns error at /v2/SECRETKEY");
        let scrubbed = Redacted::scrub(&url, &message);
        assert!(
            !scrubbed.contains("SECRETKEY") && !scrubbed.contains("key=abc"),
            "{scrubbed}"
        );
    }

    #[tokio::test]
    async fn errors_from_a_keyed_url_never_contain_the_key() {
        let url = "https://eth.example.com/v2/SECRETKEY?key=abc";
        let settings = RetrySettings {
            max_retries: 1,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
            max_elapsed: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(2),
        };
        let rpc = crate::l1::rpc::EthRpc::new(url, &settings, 1, 1 << 20, 1000).unwrap();
        let error = rpc.chain_id().await.unwrap_err().to_string();
        assert!(
            !error.contains("SECRETKEY") && !error.contains("key=abc"),
            "{error}"
        );
        assert!(error.contains("https://eth.example.com/…"), "{error}");
        let get = get_stack(url, &settings, &ConcurrencyLayer::new(1), 1024).unwrap();
        let error = get
            .oneshot("eth/v1/beacon/genesis".into())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            !error.contains("SECRETKEY") && !error.contains("key=abc"),
            "{error}"
        );
    }

    #[test]
    fn rate_limits_and_range_refusals_are_told_apart() {
        assert!(is_rate_limit(-32005, "limit exceeded"));
        assert!(is_rate_limit(429, "Too Many Requests"));
        assert!(is_rate_limit(
            -32000,
            "Your app has exceeded its compute units per second capacity"
        ));
        assert!(!is_rate_limit(
            -32005,
            "query returned more than 10000 results"
        ));
        assert!(!is_rate_limit(-32000, "execution reverted"));
        assert!(is_range_refusal(
            Some(-32602),
            "eth_getLogs block range too large, max 2000"
        ));
        assert!(is_range_refusal(None, "Log response size exceeded."));
        assert!(!is_range_refusal(Some(-32005), "rate limit exceeded"));
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        let settings = RetrySettings {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            ..RetrySettings::default()
        };
        for retry in 0..40 {
            let wait = settings.backoff(retry);
            let full = Duration::from_millis(100)
                .saturating_mul(1 << retry.min(20))
                .min(Duration::from_secs(1));
            assert!(wait >= full / 2 && wait <= full, "retry {retry}: {wait:?}");
        }
    }

    /// A fake node refusing ranges wider than 3 blocks; each block has one item (its number).
    #[tokio::test]
    async fn range_splitting_halves_refused_ranges_and_keeps_order() {
        let calls = RefCell::new(Vec::new());
        let result = split_log_ranges(
            10,
            30,
            8,
            |lo, hi| {
                calls.borrow_mut().push((lo, hi));
                async move {
                    if hi - lo + 1 > 3 {
                        Err("block range too large")
                    } else {
                        Ok((lo..=hi).collect::<Vec<u64>>())
                    }
                }
            },
            |e: &&str| is_range_refusal(None, e),
        )
        .await
        .unwrap();
        assert_eq!(result, (10..=30).collect::<Vec<_>>());
        let calls = calls.into_inner();
        assert_eq!(calls[0], (10, 17), "first chunk is max_span wide");
        assert!(calls.iter().all(|(lo, hi)| hi - lo < 8));
    }

    #[tokio::test]
    async fn range_splitting_stops_on_other_errors_and_single_blocks() {
        let refused_always = split_log_ranges(
            0,
            5,
            100,
            |_, _| async { Err::<Vec<u64>, _>("block range too large") },
            |e: &&str| is_range_refusal(None, e),
        )
        .await;
        assert_eq!(refused_always, Err("block range too large"));
        let other = split_log_ranges(
            0,
            5,
            100,
            |_, _| async { Err::<Vec<u64>, _>("execution reverted") },
            |e: &&str| is_range_refusal(None, e),
        )
        .await;
        assert_eq!(other, Err("execution reverted"));
        let empty = split_log_ranges(
            5,
            4,
            10,
            |_, _| async { Ok::<Vec<u64>, &str>(vec![1]) },
            |_| true,
        )
        .await;
        assert_eq!(empty, Ok(vec![]));
        let top = split_log_ranges(
            u64::MAX - 1,
            u64::MAX,
            10,
            |lo, hi| async move { Ok::<_, &str>(vec![lo, hi]) },
            |_| true,
        )
        .await;
        assert_eq!(top, Ok(vec![u64::MAX - 1, u64::MAX]));
    }
}
