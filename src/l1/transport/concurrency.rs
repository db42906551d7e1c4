//! The concurrency layer: a semaphore bounding the requests in flight to one endpoint.

use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Semaphore;
use tower::{Layer, Service, ServiceExt};

use super::BoxFut;

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
