//! `zkreplay snapshot export|import`: move verified state between stores.

use std::path::PathBuf;

use anyhow::Context;

use crate::chain::ChainConfig;
use crate::l1::client::{L1Endpoints, RpcL1};
use crate::snapshot::{self, ExportOptions, ImportOptions, SnapshotManifest};

/// Subcommands of `zkreplay snapshot`.
#[derive(Debug, clap::Subcommand)]
pub enum SnapshotCommand {
    /// Write the state at one batch as a manifest plus zstd chunks of leaves.
    Export(ExportArgs),
    /// Verify a snapshot and rebuild a store from it (`DIR/<chain>`).
    Import(ImportArgs),
}

/// Arguments of `zkreplay snapshot export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// A store, or a data directory of stores (`DIR/<chain>`).
    #[arg(long, env = "ZKREPLAY_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Chain name (or `starknet` / `zksync` when the directory holds one store of it).
    #[arg(long, env = "ZKREPLAY_SNAPSHOT_ROLLUP")]
    pub rollup: String,
    /// Batch to export (default: the last applied).
    #[arg(long, env = "ZKREPLAY_SNAPSHOT_BATCH")]
    pub batch: Option<u64>,
    /// Output directory (created; must be empty).
    #[arg(long, env = "ZKREPLAY_SNAPSHOT_OUT")]
    pub out: PathBuf,
    /// Leaves per chunk.
    #[arg(long, env = "ZKREPLAY_SNAPSHOT_CHUNK_LEAVES", default_value_t = snapshot::DEFAULT_CHUNK_LEAVES)]
    pub chunk_leaves: u64,
}

/// Arguments of `zkreplay snapshot import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Data directory; the store is created at `DIR/<chain>`.
    #[arg(long, env = "ZKREPLAY_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Snapshot directory: zkreplay's (`manifest.json`) or zksync-era's
    /// (`snapshot_header.json` beside its `.proto.gzip` files).
    #[arg(long, env = "ZKREPLAY_SNAPSHOT")]
    pub from: PathBuf,
    /// Where to read the root L1 accepted for the batch.
    #[command(flatten)]
    pub l1: L1CheckArgs,
    /// Let the verified pointer pass the snapshot batch when it was not checked against L1.
    #[arg(long, env = "ZKREPLAY_ACCEPT_PARTIAL")]
    pub accept_partial: bool,
    /// Chain name for a zksync-era snapshot (its header names none).
    #[arg(long, env = "ZKREPLAY_ERA_CHAIN")]
    pub era_chain: Option<String>,
}

/// Where to read the root L1 accepted for a snapshot's batch.
#[derive(Debug, Clone, clap::Args)]
pub struct L1CheckArgs {
    /// Execution JSON-RPC URL: the snapshot is accepted only if its root is
    /// the one L1 accepted for its batch.
    #[arg(long = "rpc-url", env = "ZKREPLAY_RPC_URL")]
    pub rpc_url: Option<String>,
    /// Chain config (`chains/*.toml`) naming the contract whose commit log
    /// holds the root (default: `chains/<chain>.toml`).
    #[arg(long = "chain", env = "ZKREPLAY_CHAIN_CONFIG")]
    pub chain: Option<PathBuf>,
    /// Directory of chain configs, for the default above.
    #[arg(long, env = "ZKREPLAY_CHAINS_DIR", default_value = "chains")]
    pub chains_dir: PathBuf,
    /// zksync-era snapshots only (their header names no L1 block): the L1
    /// block whose `BlockCommit` committed the snapshot's batch.
    #[arg(long, env = "ZKREPLAY_SNAPSHOT_L1_BLOCK")]
    pub l1_block: Option<u64>,
}

/// Runs `zkreplay snapshot export|import`; returns the process exit code.
pub fn run(command: SnapshotCommand) -> anyhow::Result<i32> {
    match command {
        SnapshotCommand::Export(args) => export(args),
        SnapshotCommand::Import(args) => import(args),
    }
}

fn export(args: ExportArgs) -> anyhow::Result<i32> {
    let mut options = ExportOptions::new(&args.data_dir, &args.rollup, &args.out);
    options.batch = args.batch;
    options.chunk_leaves = args.chunk_leaves;
    let started = std::time::Instant::now();
    let manifest = snapshot::export(&options)?;
    let bytes: u64 = manifest.chunks.iter().map(|c| c.size).sum();
    println!(
        "exported {} batch {}: {} leaves in {} chunks, {} bytes ({:.1} bytes/leaf), root {}, {:.1}s",
        manifest.chain,
        manifest.batch,
        manifest.leaves.total,
        manifest.chunks.len(),
        bytes,
        bytes as f64 / manifest.leaves.total.max(1) as f64,
        manifest.roots.state_root,
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

fn import(args: ImportArgs) -> anyhow::Result<i32> {
    let report = import_verified(
        &args.data_dir,
        &args.from,
        &args.l1,
        args.accept_partial,
        args.era_chain.as_deref(),
    )?;
    println!(
        "{} {} batch {} into {}: {} leaves, root {} ({}), {:.1}s",
        if report.already_imported {
            "already imported"
        } else {
            "imported"
        },
        report.chain,
        report.batch,
        report.store.display(),
        report.leaves,
        report.state_root,
        if report.l1_checked {
            "equal to the root L1 accepted"
        } else {
            "not checked against L1"
        },
        report.seconds
    );
    Ok(0)
}

/// Reads L1's root for the snapshot's batch when an RPC URL is given, then imports.
pub fn import_verified(
    data_dir: &std::path::Path,
    from: &std::path::Path,
    l1: &L1CheckArgs,
    accept_partial: bool,
    era_chain: Option<&str>,
) -> anyhow::Result<snapshot::ImportReport> {
    let l1_root = match &l1.rpc_url {
        None => None,
        Some(url) => {
            let native = from.join(snapshot::manifest::MANIFEST_FILE).is_file();
            let (chain, at) = if native {
                let manifest = SnapshotManifest::read(from)?;
                (manifest.chain.clone(), Err(manifest))
            } else {
                let header = snapshot::zksync_era::EraHeader::read(from)?;
                let l1_block = l1.l1_block.context(
                    "checking a zksync-era snapshot against L1 needs --l1-block: the block of its batch's BlockCommit (the header names none)",
                )?;
                let chain = era_chain.unwrap_or("zksync-era-mainnet").to_owned();
                let at = snapshot::l1::CommitLog {
                    batch: header.l1_batch_number,
                    l1_block,
                    block_hash: None,
                    transaction: None,
                    l2_block: None,
                };
                (chain, Ok(at))
            };
            let config_path = l1
                .chain
                .clone()
                .unwrap_or_else(|| l1.chains_dir.join(format!("{chain}.toml")));
            let config = ChainConfig::load(&config_path)
                .with_context(|| format!("loading {}", config_path.display()))?;
            anyhow::ensure!(
                config.name == chain,
                "chain config {} is for {}, the snapshot is {chain}",
                config_path.display(),
                config.name
            );
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let root = runtime.block_on(async {
                let source = RpcL1::connect(L1Endpoints::new(url.clone()), None).await?;
                let root = match &at {
                    Err(manifest) => snapshot::l1::l1_root(&source, &config, manifest).await?,
                    Ok(at) => snapshot::l1::commit_root(&source, &config, at).await?,
                };
                anyhow::Ok(root)
            })?;
            Some(root)
        }
    };
    let mut options = ImportOptions::new(data_dir, from);
    options.l1_root = l1_root;
    options.accept_partial = accept_partial;
    options.era_chain = era_chain.map(str::to_owned);
    Ok(snapshot::import(&options)?)
}
