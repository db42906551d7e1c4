//! The follow loop: sync, publish status, wait for the next L1 block, repeat.
//! Transient L1 failures are retried here (after the transport's own retries
//! gave up); anything that would need a human (a halt on mismatch, data that
//! cannot be decoded, the wrong chain) ends the loop with the error.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;

use super::engine::RollupEngine;
use super::pipeline::Follower;
use super::starknet::StarknetEngine;
use super::status::FollowStatus;
use super::zksync::ZksyncEngine;
use super::{FollowError, FollowOptions, L1Cursor, check_l1_chain};
use crate::audit::BatchAudit;
use crate::chain::{ChainConfig, RollupKind};
use crate::l1::L1Source;
use crate::store::Store;

/// Follows one chain until `options.to_block` is handled (forever without it)
/// or `shutdown` flips to true.
pub async fn run<S: L1Source>(
    source: &S,
    store: &Arc<Store>,
    config: &ChainConfig,
    options: &FollowOptions,
    status: &FollowStatus,
    shutdown: watch::Receiver<bool>,
) -> Result<(), FollowError> {
    check_l1_chain(source, config).await?;
    store.claim_rollup(config.rollup)?;
    match config.rollup {
        RollupKind::Starknet => {
            let engine = Arc::new(StarknetEngine::new(config)?);
            run_engine(engine, source, store, config, options, status, shutdown).await
        }
        RollupKind::Zksync => {
            let engine = Arc::new(ZksyncEngine::new(config)?);
            run_engine(engine, source, store, config, options, status, shutdown).await
        }
    }
}

/// The follow loop over any engine.
pub async fn run_engine<E: RollupEngine, S: L1Source>(
    engine: Arc<E>,
    source: &S,
    store: &Arc<Store>,
    config: &ChainConfig,
    options: &FollowOptions,
    status: &FollowStatus,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), FollowError> {
    let follower = Follower::new(engine, source, store.clone(), config, options);
    let progress = progress_bar(&config.name);
    let mut failures = 0u32;
    loop {
        let result = follower.sync().await;
        publish_position(store, config, status)?;
        match result {
            Ok(report) => {
                failures = 0;
                status.record_sync(&report);
                status.set_l1_head(report.l1_head);
                status.set_caught_up(true);
                if let Some(bar) = &progress {
                    bar.set_message(format!(
                        "L1 block {} · batch {} · verified {}",
                        report.target,
                        fmt_opt(status_last(store, config)?),
                        fmt_opt(BatchAudit::verified_batch(store)?)
                    ));
                    bar.tick();
                }
                if options.to_block.is_some_and(|limit| report.target >= limit) {
                    if let Some(bar) = progress {
                        bar.finish();
                    }
                    return Ok(());
                }
            }
            Err(error) if error.is_transient() => {
                failures += 1;
                status.record_l1_error();
                tracing::warn!(chain = %config.name, %error, failures, "L1 request failed; retrying");
            }
            Err(other) => return Err(other),
        }
        // Back off while L1 keeps failing; otherwise poll at the configured pace.
        let wait = if failures == 0 {
            options.poll_interval
        } else {
            Duration::from_millis(250 << failures.min(7))
                .min(options.poll_interval.max(Duration::from_secs(1)))
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return Ok(());
        }
    }
}

fn publish_position(
    store: &Store,
    config: &ChainConfig,
    status: &FollowStatus,
) -> Result<(), FollowError> {
    status.set_position(
        L1Cursor::read(store)?.map(|c| c.block),
        status_last(store, config)?,
        BatchAudit::verified_batch(store)?,
    );
    Ok(())
}

/// The last applied batch of either rollup kind.
pub fn status_last(store: &Store, config: &ChainConfig) -> Result<Option<u64>, FollowError> {
    last_applied_batch(store, config.rollup)
}

/// The last applied batch of a store of `kind`.
pub fn last_applied_batch(store: &Store, kind: RollupKind) -> Result<Option<u64>, FollowError> {
    match kind {
        RollupKind::Starknet => super::starknet::last_batch(store),
        RollupKind::Zksync => super::zksync::last_batch(store),
    }
}

fn fmt_opt(value: Option<u64>) -> String {
    value.map_or_else(|| "-".into(), |v| v.to_string())
}

/// A spinner with the chain's progress on a terminal; logs alone otherwise.
fn progress_bar(chain: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix:.bold} [{elapsed_precise}] {msg}")
            .expect("static template"),
    );
    bar.set_prefix(chain.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

/// Statuses of several followers, for the API and metrics.
pub type Statuses = Vec<Arc<FollowStatus>>;
