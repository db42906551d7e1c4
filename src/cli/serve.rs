//! `zkreplay serve`: the read-only GraphQL API over one or more stores, and
//! `zkreplay schema`: print the served GraphQL SDL.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::api::{self, ApiLimits, AppState, RollupHandle};
use crate::chain::ChainConfig;
use crate::store::Store;

/// Where and how the GraphQL API and the monitoring port are served, the
/// same for `serve`, `follow` and `demo`.
#[derive(Clone, Debug, clap::Args)]
pub struct ServerArgs {
    /// GraphQL address (loopback unless told otherwise).
    #[arg(long, env = "ZKREPLAY_GRAPHQL_ADDR", default_value = "127.0.0.1:8547")]
    pub graphql_addr: SocketAddr,
    /// Monitoring address: /health, /ready (stores healthy and, under
    /// `follow`, caught up with L1), /metrics.
    #[arg(long, env = "ZKREPLAY_MONITOR_ADDR", default_value = "127.0.0.1:9090")]
    pub monitor_addr: SocketAddr,
    /// Directory with GraphiQL's npm packages (graphiql, react, react-dom),
    /// served locally (scripts/install-web.sh puts them there).
    #[arg(
        long,
        env = "ZKREPLAY_GRAPHIQL_ASSETS",
        default_value = "web/node_modules"
    )]
    pub graphiql_assets: PathBuf,
    /// GraphQL server limits.
    #[command(flatten)]
    pub limits: ApiLimits,
}

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stores to serve, or directories of stores (one per chain, as `follow`
    /// writes them). Opened as read-only secondaries, so a follower may keep writing them.
    #[arg(
        long = "data-dir",
        env = "ZKREPLAY_DATA_DIR",
        required = true,
        value_delimiter = ','
    )]
    pub data_dirs: Vec<PathBuf>,
    /// Where and how GraphQL and the monitoring port are served.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Directory of chain configs (`<chain>.toml`); a store's config, when present,
    /// supplies `l1ChainId`. Missing files are not an error.
    #[arg(long, env = "ZKREPLAY_CHAINS_DIR", default_value = "chains")]
    pub chains_dir: PathBuf,
    /// After start, read every block of every store once in the background
    /// with checksums verified: damage anywhere (not only on the paths the
    /// open check walks) then makes `/ready` unhealthy and the store refuse
    /// to answer. Costs one sequential read of the stores.
    #[arg(long, env = "ZKREPLAY_SCRUB", default_value_t = true, action = clap::ArgAction::Set)]
    pub scrub: bool,
    /// Start from a snapshot (a directory, or an http(s) URL serving
    /// `manifest.json` and its chunks): import it into the first
    /// `--data-dir` (verified; against L1 with `--rpc-url`), then serve. A
    /// store that already holds this snapshot is served as it is.
    #[arg(long, env = "ZKREPLAY_SNAPSHOT")]
    pub snapshot: Option<String>,
    /// Execution JSON-RPC URL to check the snapshot's root against L1.
    #[arg(long = "rpc-url", env = "ZKREPLAY_RPC_URL")]
    pub rpc_url: Option<String>,
    /// Chain config for that check (default: `<chains-dir>/<chain>.toml`).
    #[arg(long = "chain", env = "ZKREPLAY_CHAIN_CONFIG")]
    pub chain: Option<PathBuf>,
    /// Let the verified pointer pass a snapshot batch not checked against L1.
    #[arg(long, env = "ZKREPLAY_ACCEPT_PARTIAL")]
    pub accept_partial: bool,
}

/// Runs `zkreplay serve` until Ctrl-C; exit code 0 after a clean shutdown.
pub fn run(args: Args) -> anyhow::Result<i32> {
    if let Some(snapshot) = &args.snapshot {
        bootstrap(&args, snapshot)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(args))
}

/// Imports the `--snapshot` into the first data directory (before any
/// runtime starts: the import is blocking work).
fn bootstrap(args: &Args, snapshot: &str) -> anyhow::Result<()> {
    let data_dir = args
        .data_dirs
        .first()
        .context("--snapshot needs a --data-dir to import into")?;
    let local = if snapshot.starts_with("http://") || snapshot.starts_with("https://") {
        let dir = data_dir.join(".snapshot-download");
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(crate::snapshot::fetch::download(snapshot, &dir))
            .with_context(|| format!("downloading {snapshot}"))?;
        dir
    } else {
        PathBuf::from(snapshot)
    };
    let l1 = super::snapshot::L1CheckArgs {
        rpc_url: args.rpc_url.clone(),
        chain: args.chain.clone(),
        chains_dir: args.chains_dir.clone(),
        l1_block: None,
    };
    let report =
        super::snapshot::import_verified(data_dir, &local, &l1, args.accept_partial, None)?;
    tracing::info!(
        chain = %report.chain,
        batch = report.batch,
        root = %report.state_root,
        l1_checked = report.l1_checked,
        already = report.already_imported,
        "snapshot imported"
    );
    Ok(())
}

async fn serve(args: Args) -> anyhow::Result<i32> {
    let scratch =
        tempfile::tempdir().context("creating the secondary instances' scratch directory")?;
    let mut rollups = Vec::new();
    let dirs: Vec<PathBuf> = args
        .data_dirs
        .iter()
        .flat_map(|d| crate::store::discover(d))
        .collect();
    anyhow::ensure!(
        !dirs.is_empty(),
        "no store found under {:?}",
        args.data_dirs
    );
    for (i, dir) in dirs.iter().enumerate() {
        let (store, manifest) = Store::open_secondary(dir, &scratch.path().join(i.to_string()))
            .with_context(|| format!("opening store {}", dir.display()))?;
        let kind = manifest.kind().with_context(|| {
            format!(
                "chain {:?} is neither starknet-* nor zksync-*",
                manifest.chain
            )
        })?;
        // Refuse to serve a store whose last batch does not re-derive.
        let head = crate::store::verify::check_head(&store, kind)
            .with_context(|| format!("checking store {} at open", dir.display()))?;
        tracing::info!(chain = %manifest.chain, batch = ?head.batch, leaves = head.leaves_checked, "store head re-derived at open");
        let mut handle = RollupHandle::new(manifest.chain.clone(), kind, Arc::new(store));
        let config_path = args.chains_dir.join(format!("{}.toml", manifest.chain));
        if config_path.is_file() {
            let config = ChainConfig::load(&config_path)
                .with_context(|| format!("reading {}", config_path.display()))?;
            handle = handle.with_l1_chain_id(config.l1_chain_id);
        }
        rollups.push(handle);
    }
    let stores: Vec<Arc<Store>> = rollups.iter().map(|r| r.store.clone()).collect();
    if args.scrub {
        for store in stores.clone() {
            tokio::task::spawn_blocking(move || match store.scrub() {
                Ok(entries) => {
                    tracing::info!(store = %store.path(), entries, "scrub: every block passed its checksum")
                }
                Err(e) => tracing::error!(store = %store.path(), error = %e, "scrub found damage"),
            });
        }
    }
    // Follow the writers: a secondary sees new commits only after catching up.
    tokio::spawn(async move {
        loop {
            for store in &stores {
                if let Err(e) = store.catch_up() {
                    tracing::warn!(error = %e, "catching up with the store's writer failed");
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let state = AppState {
        graphiql_assets: Some(args.server.graphiql_assets),
        ..AppState::new(api::build_schema(rollups), args.server.limits)
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let (graphql, monitor, task) = api::serve(
        state,
        args.server.graphql_addr,
        args.server.monitor_addr,
        shutdown,
    )
    .await?;
    tracing::info!(%graphql, %monitor, "serving GraphQL on http://{graphql}/graphql, metrics on http://{monitor}/metrics");
    task.await??;
    Ok(0)
}

/// A rollup a follower in this process writes, for [`serve_followed`].
pub struct Followed {
    /// The chain's config.
    pub config: crate::chain::ChainConfig,
    /// The store the follower writes.
    pub store: Arc<Store>,
    /// The follower's live figures.
    pub status: Arc<crate::follow::FollowStatus>,
}

/// Serves stores that followers of this process write (`follow`, `demo`):
/// the API reads the same store instances, `/ready` waits for every
/// follower to catch up, `/metrics` adds the followers' metrics.
pub async fn serve_followed(
    followed: &[Followed],
    server: &ServerArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(
    SocketAddr,
    SocketAddr,
    tokio::task::JoinHandle<Result<(), api::ApiError>>,
)> {
    let rollups = followed
        .iter()
        .map(|f| {
            RollupHandle::new(f.config.name.clone(), f.config.rollup, f.store.clone())
                .with_l1_chain_id(f.config.l1_chain_id)
                .with_follow_status(f.status.clone())
        })
        .collect();
    let state = AppState {
        graphiql_assets: Some(server.graphiql_assets.clone()),
        followers: followed.iter().map(|f| f.status.clone()).collect(),
        ..AppState::new(api::build_schema(rollups), server.limits.clone())
    };
    Ok(api::serve(state, server.graphql_addr, server.monitor_addr, shutdown).await?)
}

/// Prints the served schema's SDL (what `schemas/schema.graphql` must contain).
pub fn print_schema() -> anyhow::Result<i32> {
    print!("{}", api::build_schema(Vec::new()).sdl());
    Ok(0)
}
