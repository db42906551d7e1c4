//! Classification of node answers: which failures the retry layer retries
//! (per protocol: JSON-RPC, beacon/archive GET), and how a rate limit is
//! told apart from an `eth_getLogs` range refusal.

use std::time::Duration;

use alloy_json_rpc::ResponsePacket;
use alloy_transport::{TransportError, TransportErrorKind};

use super::http::{HttpFailure, HttpReply};
use super::retry::{RetryClassifier, Verdict};
use crate::l1::L1Error;

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

    fn exhausted(&self, exhausted: Exhausted) -> TransportError {
        TransportErrorKind::custom(exhausted)
    }
}

/// The retry budget ran out (carried inside alloy's error type).
#[derive(Debug, thiserror::Error)]
#[error("{endpoint} gave up after {attempts} attempts in {} ms: {reason}", elapsed.as_millis())]
pub struct Exhausted {
    /// Endpoint, redacted.
    pub endpoint: String,
    /// Attempts made.
    pub attempts: u32,
    /// Time spent, retries and waits included.
    pub elapsed: Duration,
    /// Why the last attempt failed.
    pub reason: String,
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

    fn exhausted(&self, exhausted: Exhausted) -> L1Error {
        L1Error::RetriesExhausted {
            endpoint: exhausted.endpoint,
            attempts: exhausted.attempts,
            elapsed_ms: exhausted.elapsed.as_millis(),
            last: exhausted.reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
