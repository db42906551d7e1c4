//! The retry layer: exponential backoff with jitter, `Retry-After`, and a
//! budget (attempts and wall-clock) per logical request. What counts as
//! retryable is decided by a [`RetryClassifier`] per protocol (see `classify`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tower::{Layer, Service, ServiceExt};

use super::classify::Exhausted;
use super::{CloneIntoFuture, Redacted};

/// Retry policy shared by every endpoint of one client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySettings {
    /// Retries after the first attempt; the budget that turns a dead node into an error.
    pub max_retries: u32,
    /// Backoff before the first retry; doubles each retry up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest backoff between two attempts.
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
    /// Final: return the outcome (success or a permanent error).
    Done,
    /// Try again, after `after` if the server said so (Retry-After).
    Retry {
        /// The server's `Retry-After`, used instead of the backoff when given.
        after: Option<Duration>,
        /// Why the attempt failed, reported if the budget runs out.
        reason: String,
    },
}

/// Decides whether an attempt's outcome is final, per protocol (JSON-RPC, beacon GET).
pub trait RetryClassifier<Res, E>: Clone + Send + Sync + 'static {
    /// Whether `result` is final or worth another attempt.
    fn classify(&self, result: &Result<Res, E>) -> Verdict;
    /// The error returned when the budget runs out (its `reason` is the last verdict's).
    fn exhausted(&self, exhausted: Exhausted) -> E;
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
    S: CloneIntoFuture<Req>,
    C: RetryClassifier<S::Response, S::Error>,
{
    ready_waits_in_future!(S);

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
                    return Err(classifier.exhausted(Exhausted {
                        endpoint: endpoint.to_string(),
                        attempts: retries + 1,
                        elapsed,
                        reason,
                    }));
                }
                retries += 1;
                tracing::debug!(%endpoint, retry = retries, wait_ms = wait.as_millis() as u64, %reason, "retrying");
                tokio::time::sleep(wait).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
