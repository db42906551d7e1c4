//! What one GraphQL request may still spend while it runs: a deadline, and
//! where its store reads run.
//!
//! The cost model ([`super::cost`]) decides before execution whether a request
//! may run at all; the budget keeps a running request to its deadline. Store
//! reads are CPU and disk work, so a request whose predicted cost is above the
//! inline threshold runs them on the low-priority background threads
//! ([`super::background`]), one unit at a time per
//! request (so a large request has at most one unit queued and cannot crowd
//! out the others), under a server-wide cap on blocking threads. Each unit
//! checks the deadline before it starts, and long units (pages of batches)
//! check it between items, so a request stops within one item of its deadline
//! while the async workers stay free to answer everyone else.

use std::fmt::Display;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::{Context, Error, ErrorExtensions, Result};
use tokio::sync::{Mutex, Semaphore};

use super::limits::LimitError;

/// The per-request id, attached by the HTTP layer, quoted in internal errors.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// A request's deadline and execution place; cheap to clone.
#[derive(Clone)]
pub struct Budget(Arc<Inner>);

struct Inner {
    request_id: String,
    deadline: Option<(Instant, Duration)>,
    /// `None`: run store reads on the calling worker (cheap requests, tests).
    pool: Option<Arc<Semaphore>>,
    /// Held while one of this request's units waits for or runs on the pool.
    turn: Mutex<()>,
}

impl Budget {
    /// No deadline; reads run inline. For requests that bypass the HTTP layer.
    pub fn unlimited(request_id: impl Into<String>) -> Self {
        Budget(Arc::new(Inner {
            request_id: request_id.into(),
            deadline: None,
            pool: None,
            turn: Mutex::new(()),
        }))
    }

    /// A budget ending `timeout` from now; reads run on `pool` when given.
    pub fn new(
        request_id: impl Into<String>,
        timeout: Duration,
        pool: Option<Arc<Semaphore>>,
    ) -> Self {
        #[allow(
            clippy::arithmetic_side_effects,
            reason = "a timeout is at most u64::MAX ms (about 1.8e16 s), far inside Instant's range"
        )]
        let deadline = Instant::now() + timeout;
        Budget(Arc::new(Inner {
            request_id: request_id.into(),
            deadline: Some((deadline, timeout)),
            pool,
            turn: Mutex::new(()),
        }))
    }

    /// The budget attached to the request being resolved.
    pub fn of(ctx: &Context<'_>) -> Self {
        if let Some(budget) = ctx.data_opt::<Budget>() {
            return budget.clone();
        }
        let id = ctx.data_opt::<RequestId>().map_or("-", |r| r.0.as_str());
        Budget::unlimited(id)
    }

    /// An error once the deadline has passed.
    pub fn check(&self) -> Result<()> {
        match self.0.deadline {
            Some((deadline, timeout)) if Instant::now() >= deadline => Err(deadline_error(timeout)),
            _ => Ok(()),
        }
    }

    /// Logs an internal failure with the request id and returns an opaque error.
    pub fn internal(&self, error: impl Display) -> Error {
        let id = &self.0.request_id;
        tracing::error!(request_id = %id, %error, "internal error while resolving a query");
        // A damaged store is not an opaque failure: say what is wrong, so
        // no client takes the missing answer for a transient one.
        if let Some(problem) = crate::store::damage_summary(&error.to_string()) {
            return Error::new(format!(
                "the store is damaged ({problem}); this server will not answer from it (request id {id})"
            ));
        }
        Error::new(format!("internal error (request id {id})"))
    }

    /// Runs one unit of store work within the budget: inline for cheap
    /// requests, otherwise on the background threads, one unit at a time per request.
    pub async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Budget) -> Result<T> + Send + 'static,
    {
        // Past the deadline every unit fails at once without awaiting, so a
        // request of thousands of fields would never yield to the timeout
        // around it; this yields once the task's scheduling budget is spent.
        tokio::task::consume_budget().await;
        self.check()?;
        let Some(pool) = &self.0.pool else {
            return work(self);
        };
        let _turn = self.0.turn.lock().await;
        let permit = match self.0.deadline {
            Some((deadline, timeout)) => {
                tokio::time::timeout_at(deadline.into(), pool.clone().acquire_owned())
                    .await
                    .map_err(|_| deadline_error(timeout))?
            }
            None => pool.clone().acquire_owned().await,
        }
        .map_err(|e| self.internal(e))?;
        self.check()?;
        let budget = self.clone();
        // The permit moves into the unit: if the request is cancelled at its
        // deadline, the unit still counts against the pool until it returns.
        super::background::run(move || {
            let _permit = permit;
            work(&budget)
        })
        .await
        .map_err(|e| self.internal(e))?
    }
}

/// The error a request gets at its deadline.
fn deadline_error(timeout: Duration) -> Error {
    let limit = LimitError::Deadline {
        ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
    };
    Error::new(limit.to_string()).extend_with(|_, e| e.set("code", limit.code()))
}
