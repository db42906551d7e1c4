//! The innermost services: one HTTP POST per JSON-RPC packet and one GET
//! per beacon/archive path, each with a timeout and a bounded body; and the
//! assembled GET stack (retry ∘ concurrency ∘ HTTP).

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use alloy_json_rpc::{RequestPacket, ResponsePacket};
use alloy_transport::{HttpError, TransportError, TransportErrorKind};
use tower::{Layer, Service};

use super::classify::GetClassifier;
use super::concurrency::{Concurrency, ConcurrencyLayer};
use super::retry::{Retry, RetryLayer, RetrySettings};
use super::{BoxFut, Redacted};
use crate::l1::L1Error;

/// HTTP-level failures; messages never contain the URL (see [`Redacted`]).
#[derive(Debug, thiserror::Error)]
pub enum HttpFailure {
    /// The request could not be sent or its answer not read (connection, TLS, body); transient.
    #[error("{endpoint}: request failed: {detail}")]
    Send {
        /// Endpoint, redacted.
        endpoint: String,
        /// The HTTP client's error, without the URL.
        detail: String,
    },
    /// One attempt took longer than its timeout; transient.
    #[error("{endpoint}: timed out after {} ms", timeout.as_millis())]
    Timeout {
        /// Endpoint, redacted.
        endpoint: String,
        /// The attempt timeout.
        timeout: Duration,
    },
    /// The answer is larger than the response cap; reading stopped at the cap and the request is not retried.
    #[error("{endpoint}: response exceeds {limit} bytes (response too large)")]
    TooLarge {
        /// Endpoint, redacted.
        endpoint: String,
        /// The cap, in bytes.
        limit: usize,
    },
}

impl HttpFailure {
    /// Connection and timeout errors are transient; an oversized answer is not.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, HttpFailure::TooLarge { .. })
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
    /// A client POSTing to `url`, each attempt bounded by `timeout` and each answer by `max_response_bytes`.
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

    /// The endpoint, redacted for logs and errors.
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
                None,
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
    /// HTTP status code.
    pub status: u16,
    /// The `Retry-After` header, when present and parseable.
    pub retry_after: Option<Duration>,
    /// The `Content-Type` header, when it is text.
    pub content_type: Option<String>,
    /// The body, at most the response cap.
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
    /// The `Accept` header sent (the beacon API serves SSZ when asked).
    accept: Option<&'static str>,
}

impl HttpGet {
    /// A client for paths under `base`, each attempt bounded by `timeout` and each answer by `max_response_bytes`.
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
            accept: None,
        })
    }

    /// The endpoint, redacted for logs and errors.
    pub fn endpoint(&self) -> &Redacted {
        &self.endpoint
    }

    /// Sends `Accept: accept` with every request.
    pub fn accepting(mut self, accept: &'static str) -> Self {
        self.accept = Some(accept);
        self
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
                this.accept,
                this.timeout,
                this.max_response_bytes,
            )
            .await
            .map_err(|e| L1Error::Transport(e.to_string()))
        })
    }
}

/// The full GET stack: retry ∘ concurrency ∘ HTTP.
pub type GetStack = Retry<Concurrency<HttpGet>, GetClassifier>;

/// The layers a GET client's stacks sit behind: one retry policy and one
/// bound on the requests in flight, shared by every stack built from it.
#[derive(Clone, Debug)]
pub struct GetLayers {
    retry: RetrySettings,
    concurrency: ConcurrencyLayer,
}

impl GetLayers {
    /// Retries as `retry` says, at most `max_in_flight` requests at once.
    pub fn new(retry: RetrySettings, max_in_flight: usize) -> Self {
        Self {
            retry,
            concurrency: ConcurrencyLayer::new(max_in_flight),
        }
    }

    /// Builds [`GetStack`] for a base URL.
    pub fn stack(&self, base: &str, max_response_bytes: usize) -> Result<GetStack, L1Error> {
        self.stack_accepting(base, max_response_bytes, None)
    }

    /// [`Self::stack`] sending `Accept: accept` (e.g. `application/octet-stream` for SSZ).
    pub fn stack_accepting(
        &self,
        base: &str,
        max_response_bytes: usize,
        accept: Option<&'static str>,
    ) -> Result<GetStack, L1Error> {
        let mut http = HttpGet::new(base, self.retry.attempt_timeout, max_response_bytes)?;
        if let Some(accept) = accept {
            http = http.accepting(accept);
        }
        let endpoint = http.endpoint().clone();
        Ok(RetryLayer::new(self.retry.clone(), GetClassifier, endpoint)
            .layer(self.concurrency.layer(http)))
    }
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
    accept: Option<&str>,
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
        let request = match accept {
            Some(accept) => request.header(reqwest::header::ACCEPT, accept),
            None => request,
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
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
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
            content_type,
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
    use tower::ServiceExt;

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
        let get = GetLayers::new(settings, 1).stack(url, 1024).unwrap();
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
}
