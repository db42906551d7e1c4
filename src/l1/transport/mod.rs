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
//!
//! | file             | layer                                                   |
//! |------------------|---------------------------------------------------------|
//! | `retry.rs`       | [`RetryLayer`]: backoff, jitter, `Retry-After`, budget  |
//! | `concurrency.rs` | [`ConcurrencyLayer`]: requests in flight per endpoint   |
//! | `classify.rs`    | what is retryable; rate limit vs refused range          |
//! | `http.rs`        | the HTTP POST/GET services with bounded bodies          |
//! | `redact.rs`      | [`Redacted`] endpoint names                             |
//! | `ranges.rs`      | [`split_log_ranges`]                                    |

/// The associated types and `poll_ready` of a layer over an inner service
/// `$inner` that is [`CloneIntoFuture`]: the layer waits in its future, so it
/// is always ready itself.
macro_rules! ready_waits_in_future {
    ($inner:ident) => {
        type Response = $inner::Response;
        type Error = $inner::Error;
        type Future = $crate::l1::transport::BoxFut<$inner::Response, $inner::Error>;

        fn poll_ready(
            &mut self,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            std::task::Poll::Ready(Ok(()))
        }
    };
}

mod classify;
mod concurrency;
mod http;
mod ranges;
mod redact;
mod retry;

use std::future::Future;
use std::pin::Pin;

use tower::Service;

pub use classify::{
    Exhausted, GetClassifier, RpcClassifier, is_range_refusal, is_rate_limit, retryable_status,
};
pub use concurrency::{Concurrency, ConcurrencyLayer};
pub use http::{GetLayers, GetStack, HttpFailure, HttpGet, HttpJsonRpc, HttpReply};
pub use ranges::split_log_ranges;
pub use redact::Redacted;
pub use retry::{Retry, RetryClassifier, RetryLayer, RetrySettings, Verdict};

/// A boxed, sendable future: the shape alloy's `Transport` requires, reused by the GET services.
pub type BoxFut<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

/// An inner service that a layer clones into its [`BoxFut`] and awaits there.
/// Both layers wait in the future (for a semaphore slot, for each attempt's
/// readiness), so they are always ready themselves.
pub trait CloneIntoFuture<Req>:
    Service<Req, Future: Send, Response: Send + 'static, Error: Send + 'static> + Clone + Send + 'static
{
}

impl<S, Req> CloneIntoFuture<Req> for S where
    S: Service<Req, Future: Send, Response: Send + 'static, Error: Send + 'static>
        + Clone
        + Send
        + 'static
{
}
