//! Subscriptions: each committed batch, announced once the store holds it.
//!
//! One poller per rollup watches the store (every 250 ms) and publishes the
//! last applied batch on a watch channel; every subscription only waits on
//! that channel. So the work of polling does not grow with the number of
//! subscribers, and a subscription whose client has gone costs nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::{Context, Result, Subscription};
use futures_util::Stream;
use tokio::sync::watch;

use super::scalars::Long;
use super::schema::{RollupHandle, find_rollup};

/// How often a poller asks the store for its last batch.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Root of every GraphQL subscription (streams of new batches).
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Emits each batch once it is committed (the store is polled, so nothing
    /// uncommitted is ever announced).
    async fn batch_applied(
        &self,
        ctx: &Context<'_>,
        rollup: String,
    ) -> Result<impl Stream<Item = Long>> {
        let handle = find_rollup(ctx, &rollup)?;
        let mut last = ctx.data_unchecked::<BatchWatch>().subscribe(&handle);
        let start = last
            .borrow_and_update()
            .map_or(Some(0), |b| b.checked_add(1));
        Ok(futures_util::stream::unfold(
            (last, start),
            |(mut last, next)| async move {
                let next = next?;
                loop {
                    let applied = *last.borrow_and_update();
                    if let Some(applied) = applied
                        && applied >= next
                    {
                        return Some((Long(next), (last, next.checked_add(1))));
                    }
                    last.changed().await.ok()?;
                }
            },
        ))
    }
}

/// The last applied batch of each rollup, shared by every subscription; a
/// rollup's poller starts with its first subscription.
#[derive(Clone, Default)]
pub struct BatchWatch(Arc<Mutex<HashMap<String, watch::Receiver<Option<u64>>>>>);

impl BatchWatch {
    /// A receiver of `handle`'s last applied batch, starting its poller if needed.
    fn subscribe(&self, handle: &RollupHandle) -> watch::Receiver<Option<u64>> {
        let mut pollers = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(receiver) = pollers.get(&handle.name) {
            return receiver.clone();
        }
        let (sender, receiver) = watch::channel(handle.last_batch().ok().flatten());
        let polled = handle.clone();
        tokio::spawn(async move {
            let handle = polled;
            loop {
                tokio::time::sleep(POLL_INTERVAL).await;
                if let Err(e) = handle.store.catch_up() {
                    tracing::warn!(rollup = %handle.name, error = %e, "catching up with the store's writer failed");
                }
                if let Ok(last) = handle.last_batch() {
                    sender.send_if_modified(|current| {
                        let changed = *current != last;
                        *current = last;
                        changed
                    });
                }
            }
        });
        pollers.insert(handle.name.clone(), receiver.clone());
        receiver
    }
}
