//! `zkreplay devnet --rpc-url URL --out-dir DIR`: the seeded sequencer
//! simulator. Installs the stand-in rollup contracts on a local node (anvil),
//! submits generated Starknet and ZKsync batches of every format version as
//! real transactions, and writes the chain configs a follower replays them with.
//! `--era-through-gateway` runs ZKsync Era's history through a Gateway window
//! instead (L1 → Gateway → v29 upgrade on the Gateway → back to L1).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;

use crate::devnet::Fault;
use crate::devnet::run::{DevnetPlan, run as run_devnet};
use crate::devnet::zksync_gen::ZksyncGenConfig;
use crate::devnet::zksync_gen::on_anvil::run_through_gateway;

/// Arguments of `devnet`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// JSON-RPC URL of a local node that accepts `anvil_setCode` (anvil).
    #[arg(long, env = "ZKREPLAY_RPC_URL")]
    pub rpc_url: String,
    /// Where the chain configs (`devnet-starknet.toml`, `devnet-zksync.toml`) go.
    #[arg(long)]
    pub out_dir: PathBuf,
    /// Seed of both sequencer simulators: the same seed and arguments submit
    /// the same batches.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Starknet batches (the default schedule covers v0.11 pages to v0.13.4 in 10).
    #[arg(long, default_value_t = 10)]
    pub starknet_batches: u64,
    /// ZKsync batches (the default schedule covers pre-Boojum to v29 in 12).
    #[arg(long, default_value_t = 12)]
    pub zksync_batches: u64,
    /// Inject a fault: `ROLLUP:BATCH:KIND` with KIND `tampered-root`, `not-bound`
    /// or (ZKsync) `revert=K`; repeatable.
    #[arg(long = "fault", value_parser = parse_fault)]
    pub faults: Vec<(String, u64, Fault)>,
    /// Reorg the L1 blocks of the last N rounds (a round = one batch of each
    /// rollup): mined, kept for `--reorg-pause-ms`, reverted (anvil snapshot)
    /// and mined again one block later.
    #[arg(long, default_value_t = 0)]
    pub reorg_last_rounds: usize,
    /// How long the soon-orphaned blocks stay canonical (let a follower on `latest` apply them).
    #[arg(long, default_value_t = 0)]
    pub reorg_pause_ms: u64,
    /// Starknet: the mainnet-shaped history instead of the default schedule
    /// (v0.9 → v0.14.1, 2-argument LogStateUpdate era, pages found through a
    /// SHARP verifier stand-in, a registry that changes address, other SHARP
    /// customers' decoy pages; `--starknet-batches` is ignored).
    #[arg(long)]
    pub starknet_mainnet_shaped: bool,
    /// ZKsync Era through a Gateway window instead of both rollups' default
    /// histories: Era on L1, then on a Gateway-like chain (the Gateway's v26
    /// then v29 commits with calldata and blob DA, Era's 8- then 9-field
    /// relayed `StoredBatchInfo`), then back on L1. Writes
    /// `devnet-zksync.toml` with Era's settlement periods and
    /// `devnet-gateway.toml` beside it; no Starknet batches
    /// (`--starknet-*`, `--zksync-batches` and `--reorg-*` do not apply;
    /// `--fault zksync:N:tampered-root|not-bound` inside the window does).
    #[arg(long, conflicts_with_all = ["starknet_mainnet_shaped", "reorg_last_rounds"])]
    pub era_through_gateway: bool,
}

fn parse_fault(text: &str) -> Result<(String, u64, Fault), String> {
    let mut parts = text.splitn(3, ':');
    let (Some(rollup), Some(batch), Some(kind)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("expected ROLLUP:BATCH:KIND, e.g. starknet:3:tampered-root".into());
    };
    if rollup != "starknet" && rollup != "zksync" {
        return Err(format!("unknown rollup {rollup:?}: starknet or zksync"));
    }
    let batch: u64 = batch.parse().map_err(|e| format!("batch {batch:?}: {e}"))?;
    let fault = match kind {
        "tampered-root" => Fault::TamperedRoot,
        "not-bound" => Fault::DataNotBound,
        k if k.starts_with("revert=") && rollup == "zksync" => Fault::ZksyncRevert {
            k: k["revert=".len()..]
                .parse()
                .map_err(|e| format!("{k}: {e}"))?,
        },
        other => return Err(format!("unknown fault {other:?}")),
    };
    Ok((rollup.to_string(), batch, fault))
}

/// The plan for the given arguments.
pub fn plan(
    seed: u64,
    starknet_batches: u64,
    zksync_batches: u64,
    faults: &[(String, u64, Fault)],
) -> DevnetPlan {
    let mut plan = DevnetPlan::default();
    plan.starknet.seed = seed;
    plan.starknet.batches = starknet_batches;
    plan.zksync.seed = seed;
    plan.zksync.batches = zksync_batches;
    let pick = |rollup: &str| -> BTreeMap<u64, Fault> {
        faults
            .iter()
            .filter(|(r, _, _)| r == rollup)
            .map(|(_, b, f)| (*b, *f))
            .collect()
    };
    plan.starknet.faults = pick("starknet");
    plan.zksync.faults = pick("zksync");
    plan
}

/// Runs `zkreplay devnet`, printing each submitted batch as a JSON line;
/// exit code 0, any failure is returned as an error.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if args.era_through_gateway {
        return era_through_gateway(&runtime, &args);
    }
    let mut plan = plan(
        args.seed,
        args.starknet_batches,
        args.zksync_batches,
        &args.faults,
    );
    if args.starknet_mainnet_shaped {
        let faults = std::mem::take(&mut plan.starknet.faults);
        plan.starknet = crate::devnet::starknet_gen::mainnet_shaped(args.seed, true);
        plan.starknet.faults = faults;
    }
    let outcome = runtime
        .block_on(run_devnet(&args.rpc_url, &args.out_dir, plan))
        .context("devnet")?;
    for batch in &outcome.batches {
        println!("{}", json!(batch));
    }
    if !outcome.orphaned.is_empty() {
        eprintln!(
            "reorged away {} batches (mined again after the fork)",
            outcome.orphaned.len()
        );
    }
    eprintln!(
        "submitted {} batches in L1 blocks {}..={}; chain configs: {} {}",
        outcome.batches.len(),
        outcome.first_block,
        outcome.last_block,
        outcome.starknet_config.display(),
        outcome.zksync_config.display()
    );
    Ok(0)
}

/// `--era-through-gateway`: the simulator's Gateway history
/// ([`ZksyncGenConfig::through_gateway`] with the given seed and faults)
/// submitted by [`run_through_gateway`]; prints each Era batch as the
/// default mode does.
fn era_through_gateway(runtime: &tokio::runtime::Runtime, args: &Args) -> anyhow::Result<i32> {
    if let Some((rollup, batch, _)) = args.faults.iter().find(|(r, _, _)| r != "zksync") {
        anyhow::bail!("--era-through-gateway runs ZKsync only (fault {rollup}:{batch})");
    }
    let config = ZksyncGenConfig {
        seed: args.seed,
        faults: plan(args.seed, 0, 0, &args.faults).zksync.faults,
        ..ZksyncGenConfig::through_gateway()
    };
    let devnet = runtime
        .block_on(run_through_gateway(&args.rpc_url, &args.out_dir, config))
        .context("devnet")?;
    for batch in &devnet.batches {
        println!("{}", json!(batch));
    }
    eprintln!(
        "submitted {} Era batches (batches {}..{} on the Gateway from L1 block {}, back on L1 \
         at block {}; finalized block {}); chain configs: {} and devnet-gateway.toml beside it",
        devnet.batches.len(),
        devnet.window.from_batch,
        devnet.window.until_batch,
        devnet.gateway_from_block,
        devnet.back_on_l1_block,
        devnet.finalized_block,
        devnet.era_config.display()
    );
    Ok(0)
}
