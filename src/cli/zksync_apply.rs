//! `zkreplay zksync apply --data-dir DIR --genesis FILE [--calldata FILE...]`:
//! applies the genesis and every batch of the given commit transactions in
//! order, printing `{"batch", "computed_root", "claimed_root", "match"}` per
//! batch. A batch number already in the store with another committed root is
//! a recommit after `BlocksRevert`: the store is unwound to the batch before
//! it first. Exits 0 only if every root matches.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;

use super::decode_zksync::read_binary;
use crate::chain::ChainConfig;
use crate::rollup::zksync::calldata::decode_commit;
use crate::rollup::zksync::decode::{BlobStore, decode_batches};
use crate::rollup::zksync::genesis;
use crate::rollup::zksync::state::{PlanInput, ZksyncState, read_checkpoint};
use crate::store::Store;

/// Arguments of `zksync apply`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Store directory (created if missing).
    #[arg(long, env = "ZKREPLAY_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Genesis storage logs (`InitialState*.json` or the Postgres CSV dump); used
    /// when the store is new, otherwise checked against the stored genesis root.
    #[arg(long, env = "ZKREPLAY_ZKSYNC_GENESIS")]
    pub genesis: Option<PathBuf>,
    /// Chain config TOML (`chains/*.toml`: name, genesis file, expected genesis root).
    #[arg(long, env = "ZKREPLAY_ZKSYNC_CHAIN_CONFIG")]
    pub chain_config: Option<PathBuf>,
    /// Store chain name (overridden by the chain config's `name`).
    #[arg(
        long,
        env = "ZKREPLAY_ZKSYNC_CHAIN",
        default_value = "zksync-era-mainnet"
    )]
    pub chain: String,
    /// Commit calldata files, applied in order.
    #[arg(long)]
    pub calldata: Vec<PathBuf>,
    /// Blob files for blob-carrying commits.
    #[arg(long)]
    pub blob: Vec<PathBuf>,
}

/// Runs `zkreplay zksync apply`; exit code 1 when a computed root differs.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let config = args
        .chain_config
        .as_deref()
        .map(ChainConfig::load)
        .transpose()?;
    let chain = config
        .as_ref()
        .map(|c| c.name.clone())
        .unwrap_or(args.chain.clone());
    let genesis_path = args.genesis.clone().or_else(|| {
        config
            .as_ref()
            .and_then(|c| c.zksync.as_ref())
            .and_then(|z| z.genesis_file.clone())
    });
    let store = Store::open(&args.data_dir, &chain)?;
    let mut all_match = true;

    let mut state = match read_checkpoint(&store)? {
        Some(_) => {
            let state = ZksyncState::open(&store)?;
            if let Some(path) = &genesis_path {
                let root = genesis::root(&genesis::load(path)?)?;
                let stored = state.record(0)?.map(|r| r.computed_root);
                anyhow::ensure!(
                    stored == Some(root),
                    "genesis {} has root {root}, the store's genesis is {stored:?}",
                    path.display()
                );
            }
            state
        }
        None => {
            let path = genesis_path.context(
                "the store is new: --genesis (or a chain config with genesis_file) is required",
            )?;
            let leaves = genesis::leaves(&genesis::load(&path)?)?;
            let expected = config
                .as_ref()
                .and_then(|c| c.zksync.as_ref())
                .and_then(|z| z.genesis_root);
            let state = ZksyncState::init_genesis(&store, &leaves, expected)?;
            let cp = state.checkpoint();
            println!(
                "{}",
                json!({ "batch": 0, "computed_root": cp.root, "claimed_root": expected, "match": expected.map(|e| e == cp.root) })
            );
            state
        }
    };

    let mut blobs = BlobStore::default();
    for path in &args.blob {
        blobs
            .add(read_binary(path)?)
            .with_context(|| format!("blob {}", path.display()))?;
    }
    for path in &args.calldata {
        let call = decode_commit(&read_binary(path)?)
            .with_context(|| format!("decoding {}", path.display()))?;
        for batch in decode_batches(&call, &mut blobs, None) {
            let n = batch.batch_number;
            for check in batch.checks.iter().filter(|c| c.failed()) {
                tracing::warn!(batch = n, check = %check.name, detail = %check.actual, "check failed");
                all_match = false;
            }
            let input = PlanInput::from_decoded(&batch).with_context(|| {
                format!("batch {n}: writes could not be decoded: {:?}", batch.checks)
            })?;
            if n <= state.checkpoint().batch {
                let record = state.record(n)?;
                if record.as_ref().and_then(|r| r.claimed_root) == input.claimed_root {
                    tracing::info!(batch = n, "already applied with the same root; skipped");
                    continue;
                }
                tracing::warn!(
                    batch = n,
                    "recommitted with another root: unwinding to {}",
                    n - 1
                );
                state.unwind(n - 1)?;
            }
            let applied = state.apply_and_commit(&input)?;
            let r = &applied.record;
            all_match &= r.matches == Some(true);
            println!(
                "{}",
                json!({ "batch": n, "computed_root": r.computed_root, "claimed_root": r.claimed_root, "match": r.matches == Some(true) })
            );
        }
    }
    Ok(if all_match { 0 } else { 1 })
}
