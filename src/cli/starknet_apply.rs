//! `zkreplay starknet apply-updates`: replay feeder-gateway state updates into
//! a store and compare every computed root with the block's `new_root`.

use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::audit::{BatchAudit, Verdict};
use crate::hexfmt::format_word;
use crate::rollup::starknet::feeder::parse_state_update;
use crate::rollup::starknet::state::{GlobalRootRule, StarknetState};
use crate::store::Store;

/// Arguments of `starknet apply-updates`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Store directory (created if missing). Repeated runs continue where the last one stopped.
    #[arg(long, env = "ZKREPLAY_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Chain the store belongs to; a store of another chain is refused.
    #[arg(long, env = "ZKREPLAY_CHAIN", default_value = "starknet-sepolia")]
    pub chain: String,
    /// Global-root rule of the Starknet version that produced the updates.
    #[arg(long, value_enum, default_value_t = GlobalRootRule::PreV0_14)]
    pub global_root_rule: GlobalRootRule,
    /// Feeder-gateway state-update JSON files, applied in the order given.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Runs `zkreplay starknet apply-updates`; exit code 1 when a computed root differs.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let store = Store::open(&args.data_dir, &args.chain)
        .with_context(|| format!("opening store {}", args.data_dir.display()))?;
    let state = StarknetState::new(&store);
    let progress = ProgressBar::new(args.files.len() as u64);
    progress.set_style(
        ProgressStyle::with_template(
            "{spinner} applying updates {pos}/{len} [{elapsed_precise}] {msg}",
        )
        .expect("static template"),
    );
    let mut all_match = true;
    for file in &args.files {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let update =
            parse_state_update(&bytes).with_context(|| format!("parsing {}", file.display()))?;
        let (roots, mut batch) = state
            .plan(&update.diff, args.global_root_rule)
            .with_context(|| format!("applying {}", file.display()))?;
        let computed = format_word(&roots.global_root.to_bytes_be().into());
        let claimed = update.new_root.as_ref().map(format_word);
        // The verdict is committed with the batch it judges.
        let audit = BatchAudit::judge(roots.batch, claimed.clone(), computed.clone(), Vec::new());
        audit.write(&store, false, &mut batch)?;
        store
            .commit(batch)
            .with_context(|| format!("committing {}", file.display()))?;
        let matched = audit.verdict == Verdict::Match;
        all_match &= matched;
        if !matched {
            tracing::warn!(file = %file.display(), %computed, ?claimed, "state root mismatch");
        }
        progress.suspend(|| {
            println!(
                "{}",
                json!({
                    "file": file.display().to_string(),
                    "batch": roots.batch,
                    "block_hash": update.block_hash.as_ref().map(format_word),
                    "computed_root": computed,
                    "claimed_root": claimed,
                    "match": matched,
                })
            );
        });
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(if all_match { 0 } else { 1 })
}
