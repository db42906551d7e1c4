//! `zkreplay follow`: rebuild one or more rollups' state from an Ethereum node
//! and keep it current, auditing every batch; serves GraphQL next to it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::B256;
use anyhow::Context;
use tokio::sync::watch;

use crate::chain::ChainConfig;
use crate::follow::status::FollowStatus;
use crate::follow::{FollowOptions, OnMismatch, run};
use crate::l1::BlockTag;
use crate::l1::L1Source;
use crate::l1::beacon::BeaconBlockId;
use crate::l1::client::{L1Endpoints, RpcL1};
use crate::l1::light_client::sync::{Clock, LightClient};
use crate::l1::quorum::QuorumL1;
use crate::l1::verified::{FinalityOracle, L1VerifyArgs, VerifiedL1, VerifyLevel, VerifyOptions};
use crate::store::Store;

/// How the beacon node names blocks in its blob endpoints.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum BeaconIds {
    /// A real beacon node: the slot derived from the block timestamp.
    Slot,
    /// anvil and similar devnets: the execution block number.
    BlockNumber,
}

/// Arguments of `follow`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Chain config TOML (`chains/*.toml`); repeat to follow several rollups.
    #[arg(
        long = "chain",
        env = "ZKREPLAY_CHAIN_CONFIG",
        required = true,
        value_delimiter = ','
    )]
    pub chains: Vec<PathBuf>,
    /// Execution JSON-RPC URL (logged only redacted). Repeat (or separate
    /// with commas) for a quorum: what no proof covers (the chain id, the
    /// block a tag names, `eth_call`) must then be the same at every endpoint.
    #[arg(
        long = "rpc-url",
        env = "ZKREPLAY_RPC_URL",
        required = true,
        value_delimiter = ','
    )]
    pub rpc_urls: Vec<String>,
    /// Beacon API URL: blobs, and the light-client API with `--beacon-light-client`.
    #[arg(long, env = "ZKREPLAY_BEACON_URL")]
    pub beacon_url: Option<String>,
    /// How the beacon node names blocks when asked for blobs (`slot`, or the execution block number on devnets).
    #[arg(
        long,
        env = "ZKREPLAY_BEACON_BLOCK_ID",
        value_enum,
        default_value = "slot"
    )]
    pub beacon_block_id: BeaconIds,
    /// Blobscan-style archive (`GET {url}/blobs/{versioned_hash}`) for pruned blobs.
    #[arg(long, env = "ZKREPLAY_BLOB_ARCHIVE_URL")]
    pub blob_archive_url: Option<String>,
    /// Directory holding one store per chain (`DIR/<chain name>`).
    #[arg(long, env = "ZKREPLAY_DATA_DIR")]
    pub data_dir: PathBuf,
    /// L1 block tag to follow; `safe` and `latest` unwind on reorgs.
    #[arg(long, env = "ZKREPLAY_L1_TAG", value_enum, default_value = "finalized")]
    pub l1_tag: BlockTag,
    /// On a root mismatch: record it and stop (`halt`) or keep replaying (`continue`).
    #[arg(long, env = "ZKREPLAY_ON_MISMATCH", value_enum, default_value = "halt")]
    pub on_mismatch: OnMismatch,
    /// Let the verified pointer pass PARTIAL batches (root matched, some
    /// binding check could not run for lack of evidence).
    #[arg(long, env = "ZKREPLAY_ACCEPT_PARTIAL")]
    pub accept_partial: bool,
    /// Batches fetched and decoded ahead of apply per stage queue (memory
    /// grows with it); 0 runs fetch, decode and apply one batch at a time.
    #[arg(long, env = "ZKREPLAY_PIPELINE_DEPTH", default_value_t = crate::follow::DEFAULT_PIPELINE_DEPTH)]
    pub pipeline_depth: usize,
    /// Stop after this L1 block (default: follow forever).
    #[arg(long, env = "ZKREPLAY_TO_BLOCK")]
    pub to_block: Option<u64>,
    /// Milliseconds between polls of the L1 tag.
    #[arg(long, env = "ZKREPLAY_POLL_INTERVAL_MS", default_value_t = 12_000)]
    pub poll_interval_ms: u64,
    /// Where and how GraphQL and the monitoring port are served.
    #[command(flatten)]
    pub server: super::serve::ServerArgs,
    /// Do not serve GraphQL and metrics (followers only).
    #[arg(long, env = "ZKREPLAY_NO_SERVE")]
    pub no_serve: bool,
    /// Requests in flight per L1 endpoint.
    #[arg(long, env = "ZKREPLAY_MAX_CONCURRENCY", default_value_t = 8)]
    pub max_concurrency: usize,
    /// How L1 answers are proved.
    #[command(flatten)]
    pub verify: L1VerifyArgs,
    /// Anchor the L1 header chain on the finalized execution block the beacon
    /// light client proves (sync-committee signatures over `--beacon-url`'s
    /// light-client API), and never follow past it until a newer finality
    /// update verifies. Ethereum mainnet only.
    #[arg(
        long,
        env = "ZKREPLAY_BEACON_LIGHT_CLIENT",
        requires = "beacon_url",
        conflicts_with = "checkpoint"
    )]
    pub beacon_light_client: bool,
    /// The beacon block root the light client trusts to start from (a
    /// recent finalized block root, from a source you trust); without it,
    /// the root the beacon node calls finalized now is trusted, with a warning.
    #[arg(
        long,
        env = "ZKREPLAY_BEACON_CHECKPOINT",
        requires = "beacon_light_client"
    )]
    pub beacon_checkpoint: Option<B256>,
}

/// Runs `zkreplay follow`; exit code 1 when a follower stopped on an error.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(follow(args))
}

/// What the follower reads L1 through: every endpoint, behind the proofs.
pub type FollowedL1 = VerifiedL1<QuorumL1<RpcL1>>;

/// One chain's follower ready to run.
pub struct Prepared {
    /// The chain's config.
    pub config: ChainConfig,
    /// The chain's store.
    pub store: Arc<Store>,
    /// The verified L1 source it reads.
    pub source: FollowedL1,
    /// Live figures, shared with the API and the metrics.
    pub status: Arc<FollowStatus>,
}

/// Puts `endpoints` behind a quorum and the proofs of `verify`, anchored on
/// `--l1-checkpoint` or, with `--l1-trust-endpoint-finalized`, on the block
/// the endpoints call finalized now.
pub async fn verified_l1(
    endpoints: Vec<RpcL1>,
    config: &ChainConfig,
    verify: &L1VerifyArgs,
) -> anyhow::Result<FollowedL1> {
    verified_l1_with(endpoints, config, verify, None).await
}

/// The header chain is only as trustworthy as the block it starts from: a
/// start that would take that block from the endpoints must be asked for.
fn require_trusted_start(verify: &L1VerifyArgs, light_client: bool) -> anyhow::Result<()> {
    if verify.level != VerifyLevel::Off
        && verify.checkpoint.is_none()
        && !light_client
        && !verify.trust_endpoint_finalized
    {
        anyhow::bail!(
            "no trusted L1 starting point: pass --l1-checkpoint HASH (a finalized block hash you trust), \
             --beacon-light-client, or --l1-trust-endpoint-finalized to trust the block the endpoints call finalized now"
        );
    }
    Ok(())
}

/// [`verified_l1`], anchored on (and capped by) `light_client` when given.
pub async fn verified_l1_with(
    endpoints: Vec<RpcL1>,
    config: &ChainConfig,
    verify: &L1VerifyArgs,
    light_client: Option<Arc<dyn FinalityOracle>>,
) -> anyhow::Result<FollowedL1> {
    require_trusted_start(verify, light_client.is_some())?;
    let mut options = VerifyOptions::new(verify.level, config.l1_contracts());
    options.cache_blocks = verify.cache_blocks;
    let mut source = VerifiedL1::new(QuorumL1::new(endpoints)?, options);
    if let Some(oracle) = light_client {
        source = source.with_finality_oracle(oracle);
    }
    if let Some(anchor) = source
        .anchor(verify.checkpoint)
        .await
        .with_context(|| format!("{}: anchoring the L1 header chain", config.name))?
    {
        tracing::info!(chain = %config.name, level = ?verify.level, number = anchor.number, hash = %anchor.hash, "L1 answers are proved against headers chained to this block");
    }
    Ok(source)
}

/// Opens the store of each chain and connects to L1.
pub async fn prepare(args: &Args) -> anyhow::Result<Vec<Prepared>> {
    let mut out = Vec::new();
    // One beacon chain behind every followed rollup: one light client.
    let mut light_client: Option<Arc<dyn FinalityOracle>> = None;
    // Refused before any store is opened or endpoint contacted.
    require_trusted_start(&args.verify, args.beacon_light_client)?;
    for path in &args.chains {
        let config = ChainConfig::load(path)?;
        let dir = args.data_dir.join(&config.name);
        let store = Arc::new(
            Store::open(&dir, &config.name)
                .with_context(|| format!("opening {}", dir.display()))?,
        );
        // Refuse to extend a store whose last batch does not re-derive.
        let head = crate::store::verify::check_head(&store, config.rollup)
            .with_context(|| format!("checking {} at open", dir.display()))?;
        tracing::info!(chain = %config.name, batch = ?head.batch, leaves = head.leaves_checked, "store head re-derived at open");
        let mut sources = Vec::new();
        for url in &args.rpc_urls {
            let mut endpoints = L1Endpoints::new(url.clone());
            endpoints.beacon_url = args.beacon_url.clone();
            endpoints.beacon_block_id = match args.beacon_block_id {
                BeaconIds::Slot => BeaconBlockId::Slot,
                BeaconIds::BlockNumber => BeaconBlockId::ExecutionBlockNumber,
            };
            endpoints.blob_archive_url = args.blob_archive_url.clone();
            endpoints.max_concurrency = args.max_concurrency;
            endpoints.max_log_range = config.log_range;
            let source = RpcL1::connect(endpoints, Some(store.clone()))
                .await
                .with_context(|| format!("{}: connecting to L1", config.name))?;
            sources.push(source);
        }
        if args.beacon_light_client && light_client.is_none() {
            let chain_id = match sources.first() {
                Some(source) => source.chain_id().await?,
                None => anyhow::bail!("no --rpc-url"),
            };
            light_client = Some(start_light_client(args, chain_id).await?);
        }
        let source = verified_l1_with(sources, &config, &args.verify, light_client.clone()).await?;
        let status = Arc::new(FollowStatus::new(config.name.clone()));
        out.push(Prepared {
            config,
            store,
            source,
            status,
        });
    }
    Ok(out)
}

/// `--beacon-light-client`: bootstraps from `--beacon-checkpoint` (or the
/// node's finalized root), then syncs to the newest finality update; refuses
/// when the beacon node's data does not verify.
pub async fn start_light_client(
    args: &Args,
    chain_id: u64,
) -> anyhow::Result<Arc<dyn FinalityOracle>> {
    use crate::l1::light_client::ChainSpec;
    use crate::l1::light_client::api::LightClientApi;
    use crate::l1::transport::{GetLayers, RetrySettings};
    if args.verify.level == VerifyLevel::Off {
        anyhow::bail!(
            "--beacon-light-client anchors the header chain: it needs --l1-verify full or headers"
        );
    }
    let Some(url) = &args.beacon_url else {
        anyhow::bail!("--beacon-light-client needs --beacon-url");
    };
    // Chain id 1 (EIP-155): the only beacon chain whose constants are built in.
    if chain_id != 1 {
        anyhow::bail!(
            "--beacon-light-client knows the beacon chain of Ethereum mainnet only (chain id 1), this L1 is chain id {chain_id}: use --l1-checkpoint"
        );
    }
    let api = LightClientApi::new(url, &GetLayers::new(RetrySettings::default(), 4))?;
    let root = match args.beacon_checkpoint {
        Some(root) => root,
        None => {
            let root = api.finalized_block_root().await.context(
                "--beacon-light-client: asking the beacon node for its finalized block root",
            )?;
            tracing::warn!(%root, "no --beacon-checkpoint: trusting the beacon node's finalized block root as the light client's start");
            root
        }
    };
    // `SYNC_COMMITTEE_SIZE` = 512 (consensus-specs `presets/mainnet/altair.yaml`).
    let light_client = LightClient::<ssz_types::typenum::U512>::bootstrap(
        api,
        ChainSpec::mainnet(),
        Clock::System,
        root,
    )
    .await
    .with_context(|| {
        format!("--beacon-light-client: bootstrapping from beacon block root {root}")
    })?;
    let proved = light_client
        .sync()
        .await
        .context("--beacon-light-client: syncing to the newest finality update")?;
    tracing::info!(slot = proved.slot, beacon_root = %proved.beacon_root, number = proved.block_number, hash = %proved.block_hash, "beacon light client: finalized execution block proved by the sync committee");
    Ok(Arc::new(light_client))
}

/// Runs every prepared follower to completion (or until Ctrl-C); the exit code
/// is 1 when a follower stopped on an error (a halt for any reason).
pub async fn run_all(prepared: Vec<Prepared>, options: FollowOptions) -> anyhow::Result<i32> {
    let (stop, shutdown) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C: stopping after the current batch");
            let _ = stop.send(true);
        }
    });
    let mut tasks = Vec::new();
    for p in prepared {
        let options = options.clone();
        let shutdown = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let result = run::run(
                &p.source, &p.store, &p.config, &options, &p.status, shutdown,
            )
            .await;
            let proved = p.source.stats();
            tracing::info!(
                chain = %p.config.name,
                level = ?p.source.level(),
                headers = proved.headers,
                blocks = proved.blocks,
                block_bytes = proved.block_bytes,
                proof_ms = proved.proof_micros / 1000,
                cache_hits = proved.cache_hits,
                "L1 answers proved"
            );
            (p.config.name, result)
        }));
    }
    let mut code = 0;
    for task in tasks {
        let (name, result) = task.await?;
        if let Err(error) = result {
            tracing::error!(chain = %name, %error, "follower stopped");
            code = 1;
        }
    }
    Ok(code)
}

async fn follow(args: Args) -> anyhow::Result<i32> {
    let prepared = prepare(&args).await?;
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = if args.no_serve {
        None
    } else {
        let followed: Vec<super::serve::Followed> = prepared
            .iter()
            .map(|p| super::serve::Followed {
                config: p.config.clone(),
                store: p.store.clone(),
                status: p.status.clone(),
            })
            .collect();
        let (graphql, monitor, task) =
            super::serve::serve_followed(&followed, &args.server, async {
                let _ = server_stopped.await;
            })
            .await?;
        tracing::info!(%graphql, %monitor, "serving GraphQL on http://{graphql}/graphql, metrics on http://{monitor}/metrics");
        Some(task)
    };
    let options = FollowOptions {
        tag: args.l1_tag,
        on_mismatch: args.on_mismatch,
        to_block: args.to_block,
        poll_interval: Duration::from_millis(args.poll_interval_ms),
        accept_partial: args.accept_partial,
        pipeline_depth: args.pipeline_depth,
    };
    let stores: Vec<Arc<Store>> = prepared.iter().map(|p| p.store.clone()).collect();
    let mut code = run_all(prepared, options).await?;
    // A finding recorded with `--on-mismatch continue` also fails the run.
    for store in &stores {
        if crate::audit::BatchAudit::tally(store)?.mismatched > 0 {
            code = 1;
        }
    }
    let _ = stop_server.send(());
    if let Some(task) = server {
        let _ = task.await;
    }
    Ok(code)
}
