//! `zkreplay demo`: the whole product on one machine, offline. Starts a real
//! local L1 (anvil), runs the sequencer simulator against it (Starknet and
//! ZKsync batches in every format version, blobs with real KZG data),
//! follows both rollups from genesis over JSON-RPC and the beacon blob API,
//! audits every batch, serves the rebuilt state over GraphQL and prints a
//! summary with a query to try.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::follow::{Prepared, run_all, verified_l1};
use super::serve::{Followed, serve_followed};
use crate::audit::{BatchAudit, Verdict};
use crate::chain::{ChainConfig, RollupKind};
use crate::devnet::anvil::Anvil;
use crate::devnet::run::run as run_devnet;
use crate::follow::run::last_applied_batch;
use crate::follow::status::FollowStatus;
use crate::follow::{FollowOptions, L1BatchRecord, OnMismatch};
use crate::l1::BlockTag;
use crate::l1::client::{L1Endpoints, RpcL1};
use crate::l1::verified::L1VerifyArgs;
use crate::store::Store;

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the stores and the devnet's chain configs go (default: a new temporary directory, kept).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where and how GraphQL and the monitoring port are served.
    #[command(flatten)]
    pub server: super::serve::ServerArgs,
    /// Keep serving GraphQL after the summary, until Ctrl-C.
    #[arg(long)]
    pub keep_serving: bool,
    /// Let the simulated sequencers cheat once each (a tampered root, unbound data)
    /// and watch the audit catch it.
    #[arg(long)]
    pub with_faults: bool,
}

/// Runs `zkreplay demo`; returns the process exit code.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(demo(args))
}

async fn demo(args: Args) -> anyhow::Result<i32> {
    let started = Instant::now();
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => tempfile::Builder::new()
            .prefix("zkreplay-demo.")
            .tempdir()?
            .keep(),
    };
    let root = std::env::current_dir()?;
    eprintln!("[1/4] starting a local L1 (anvil)");
    let anvil = Anvil::start(&root)?;
    eprintln!("      {} (JSON-RPC and beacon blob API)", anvil.url);

    let faults = if args.with_faults {
        vec![
            (
                "starknet".to_string(),
                6,
                crate::devnet::Fault::TamperedRoot,
            ),
            ("zksync".to_string(), 9, crate::devnet::Fault::DataNotBound),
        ]
    } else {
        Vec::new()
    };
    let plan = super::devnet::plan(1, 10, 12, &faults);
    eprintln!(
        "[2/4] simulating the sequencers: {} Starknet + {} ZKsync batches, every format version, submitted as real L1 transactions",
        plan.starknet.batches, plan.zksync.batches
    );
    let outcome = run_devnet(&anvil.url, &data_dir.join("devnet"), plan)
        .await
        .context("devnet")?;
    eprintln!(
        "      {} batches in L1 blocks {}..={}",
        outcome.batches.len(),
        outcome.first_block,
        outcome.last_block
    );

    eprintln!("[3/4] following both rollups from genesis (finalized tag), auditing every batch");
    let mut prepared = Vec::new();
    for path in [&outcome.starknet_config, &outcome.zksync_config] {
        let config = ChainConfig::load(path)?;
        let store = Arc::new(Store::open(&data_dir.join(&config.name), &config.name)?);
        let rpc = RpcL1::connect(L1Endpoints::devnet(anvil.url.clone()), Some(store.clone()))
            .await
            .with_context(|| format!("{}: connecting to L1", config.name))?;
        // Every L1 answer proved against headers, as `follow` does by default,
        // anchored on the finalized block of the demo's own local node.
        let verify = L1VerifyArgs {
            trust_endpoint_finalized: true,
            ..L1VerifyArgs::default()
        };
        let source = verified_l1(vec![rpc], &config, &verify).await?;
        let status = Arc::new(FollowStatus::new(config.name.clone()));
        prepared.push(Prepared {
            config,
            store,
            source,
            status,
        });
    }
    let handles: Vec<(ChainConfig, Arc<Store>)> = prepared
        .iter()
        .map(|p| (p.config.clone(), p.store.clone()))
        .collect();

    // The API serves the same stores while the followers write them.
    let followed: Vec<Followed> = prepared
        .iter()
        .map(|p| Followed {
            config: p.config.clone(),
            store: p.store.clone(),
            status: p.status.clone(),
        })
        .collect();
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let (graphql, monitor, server) = serve_followed(&followed, &args.server, async {
        let _ = server_stopped.await;
    })
    .await?;

    let follow_started = Instant::now();
    let code = run_all(
        prepared,
        FollowOptions {
            tag: BlockTag::Finalized,
            on_mismatch: OnMismatch::Continue,
            to_block: Some(outcome.finalized_block),
            poll_interval: Duration::from_millis(200),
            ..FollowOptions::default()
        },
    )
    .await?;
    let follow_time = follow_started.elapsed();

    eprintln!("[4/4] summary");
    let mut total_batches = 0usize;
    let mut total_findings = 0usize;
    println!(
        "{:<18} {:>8} {:>8} {:>8} {:>9} {:>9}  formats",
        "rollup", "batches", "matched", "partial", "findings", "verified"
    );
    for (config, store) in &handles {
        let last = last_applied_batch(store, config.rollup)?;
        let first = match config.rollup {
            RollupKind::Starknet => 0,
            RollupKind::Zksync => 1,
        };
        let mut tally = crate::audit::Tally::default();
        let mut batches = 0;
        let mut formats = BTreeSet::new();
        for n in first..=last.unwrap_or(0) {
            if last.is_none() {
                break;
            }
            batches += 1;
            if let Some(audit) = BatchAudit::read(store, n)? {
                tally.add(audit.verdict, n);
            }
            if let Some(record) = L1BatchRecord::read(store, n)? {
                formats.insert(record.summary.format_version);
            }
        }
        total_batches += batches;
        total_findings += tally.mismatched as usize;
        let verified = BatchAudit::verified_batch(store)?;
        println!(
            "{:<18} {:>8} {:>8} {:>8} {:>9} {:>9}  {}",
            config.name,
            batches,
            tally.matched,
            tally.partial,
            tally.mismatched,
            verified.map_or_else(|| "-".into(), |v| v.to_string()),
            formats.into_iter().collect::<Vec<_>>().join(", ")
        );
        for n in first..=last.unwrap_or(0) {
            let Some(audit) = BatchAudit::read(store, n)? else {
                continue;
            };
            let label = match audit.verdict {
                Verdict::Mismatch => "finding",
                Verdict::Partial => "partial",
                _ => continue,
            };
            let named: Vec<String> = audit
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| format!("{} (L1: {}, found: {})", c.name, c.expected, c.actual))
                .collect();
            println!("  {label}: {} batch {n}: {}", config.name, named.join("; "));
        }
    }
    println!(
        "replayed {total_batches} batches in {:.1} s ({:.1} batches/s end to end; {:.1} s in all with the simulator)",
        follow_time.as_secs_f64(),
        total_batches as f64 / follow_time.as_secs_f64().max(1e-9),
        started.elapsed().as_secs_f64()
    );
    for f in &followed {
        println!(
            "time per stage, {}: {}",
            f.config.name,
            f.status.stages().shares()
        );
    }
    println!("stores: {}", data_dir.display());
    println!("GraphiQL: http://{graphql}/graphql   metrics: http://{monitor}/metrics");
    println!(
        "try: curl -s http://{graphql}/graphql -H 'content-type: application/json' \\\n       -d '{{\"query\":\"{{ rollups {{ name sync {{ lastAppliedBatch verifiedBatch }} findings(first: 5) {{ edges {{ node {{ number verdict }} }} }} }} }}\"}}'"
    );
    if args.keep_serving {
        eprintln!("serving until Ctrl-C");
        let _ = tokio::signal::ctrl_c().await;
    }
    let _ = stop_server.send(());
    let _ = server.await;
    drop(anvil);
    // Exit 0 for an honest run; with --with-faults the findings are the point.
    let unexpected = (total_findings > 0) != args.with_faults;
    Ok(i32::from(code != 0 || unexpected))
}
