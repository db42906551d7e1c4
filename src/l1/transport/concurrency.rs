//! The concurrency layer: a semaphore bounding the requests in flight to one endpoint.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tower::{Layer, Service, ServiceExt};

use super::CloneIntoFuture;

/// Layer bounding the requests in flight to one endpoint.
#[derive(Clone, Debug)]
pub struct ConcurrencyLayer {
    semaphore: Arc<Semaphore>,
}

impl ConcurrencyLayer {
    /// At most `max_in_flight` requests at once (at least 1); more wait for a slot.
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

impl<S: CloneIntoFuture<Req>, Req: Send + 'static> Service<Req> for Concurrency<S> {
    ready_waits_in_future!(S);

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
