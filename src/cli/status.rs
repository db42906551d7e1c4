//! `zkreplay status --data-dir DIR`: per rollup store, the last applied batch,
//! the verified pointer, the findings and the L1 position. Opens the stores as
//! read-only secondaries, so it works while a follower is writing them.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;

use crate::audit::{BatchAudit, HaltRecord, Tally};
use crate::chain::RollupKind;
use crate::follow::L1Cursor;
use crate::follow::run::last_applied_batch;
use crate::store::{Store, discover};

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A store, or a directory of stores (one per chain, as `follow` writes them).
    #[arg(long, env = "ZKREPLAY_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Print one JSON object per rollup instead of a table.
    #[arg(long, env = "ZKREPLAY_JSON")]
    pub json: bool,
    /// An L1 node to measure the lag against (blocks from the store's L1 cursor to the tag).
    #[arg(long, env = "ZKREPLAY_RPC_URL")]
    pub rpc_url: Option<String>,
    /// The L1 tag the lag is measured to.
    #[arg(long, env = "ZKREPLAY_L1_TAG", value_enum, default_value = "finalized")]
    pub l1_tag: crate::l1::BlockTag,
}

/// One rollup's status line.
#[derive(Debug, serde::Serialize)]
pub struct RollupStatus {
    /// Chain name of the store.
    pub chain: String,
    /// Last applied batch, `None` for an empty store.
    pub last_applied_batch: Option<u64>,
    /// Verified pointer: the last batch up to which every root matched L1.
    pub verified_batch: Option<u64>,
    /// ZKsync: the last batch committed, proven (`BlocksVerification`) and
    /// executed (`BlockExecution`, final) on the settlement layer.
    pub lifecycle: Option<crate::rollup::zksync::lifecycle::Lifecycle>,
    /// Audits by verdict (MATCH, PARTIAL, MISMATCH, PENDING) and the first
    /// MISMATCH and PARTIAL batches.
    pub verdicts: Tally,
    /// MISMATCH batches (findings).
    pub findings: u64,
    /// The first MISMATCH batch.
    pub first_finding: Option<u64>,
    /// Why the follower stopped, when it halted without applying a batch.
    pub halted: Option<HaltRecord>,
    /// Last L1 block the follower handled.
    pub l1_block: Option<u64>,
    /// Blocks between the L1 tag and `l1_block` (only with `--rpc-url`).
    pub l1_lag: Option<u64>,
}

impl RollupStatus {
    /// A finding or a halt: something a human must look at.
    pub fn needs_attention(&self) -> bool {
        self.findings > 0 || self.halted.is_some()
    }
}

/// Reads the status of every store under `dir`.
pub fn read_status(dir: &std::path::Path) -> anyhow::Result<Vec<RollupStatus>> {
    let scratch = tempfile::tempdir()?;
    let mut out = Vec::new();
    for (i, path) in discover(dir).iter().enumerate() {
        let (store, manifest) = Store::open_secondary(path, &scratch.path().join(i.to_string()))
            .with_context(|| format!("opening store {}", path.display()))?;
        let kind = manifest.kind().unwrap_or(RollupKind::Starknet);
        // A damaged head must not be summarised as a healthy verified pointer.
        crate::store::verify::check_head(&store, kind)
            .with_context(|| format!("checking store {}", path.display()))?;
        let verdicts = BatchAudit::tally(&store)?;
        out.push(RollupStatus {
            chain: manifest.chain,
            last_applied_batch: last_applied_batch(&store, kind)?,
            verified_batch: BatchAudit::verified_batch(&store)?,
            lifecycle: match kind {
                RollupKind::Zksync => {
                    crate::rollup::zksync::state::read_checkpoint(&store)?.map(|c| {
                        crate::rollup::zksync::lifecycle::Lifecycle {
                            committed: c.batch,
                            proven: c.last_proven,
                            executed: c.last_executed,
                        }
                    })
                }
                RollupKind::Starknet => None,
            },
            findings: verdicts.mismatched,
            first_finding: verdicts.first_mismatch,
            verdicts,
            halted: HaltRecord::read(&store)?,
            l1_block: L1Cursor::read(&store)?.map(|c| c.block),
            l1_lag: None,
        });
    }
    Ok(out)
}

/// Runs `zkreplay status`; exit code 1 when a rollup has a finding or its follower halted.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let mut statuses = read_status(&args.data_dir)?;
    if let Some(url) = &args.rpc_url {
        let head = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(async {
                let rpc = crate::l1::rpc::EthRpc::new(
                    url,
                    &crate::l1::transport::RetrySettings::default(),
                    2,
                    1 << 20,
                    1,
                )?;
                rpc.block_by_tag(args.l1_tag).await
            })
            .context("reading the L1 head")?;
        for status in &mut statuses {
            status.l1_lag = status.l1_block.map(|b| head.number.saturating_sub(b));
        }
    }
    anyhow::ensure!(
        !statuses.is_empty(),
        "no store found under {}",
        args.data_dir.display()
    );
    if args.json {
        for status in &statuses {
            println!("{}", json!(status));
        }
    } else {
        print!("{}", table(&statuses));
    }
    // Exit 1 when any rollup has a finding or its follower halted, so scripts can alert on it.
    Ok(i32::from(
        statuses.iter().any(RollupStatus::needs_attention),
    ))
}

/// A fixed-width table of statuses.
pub fn table(statuses: &[RollupStatus]) -> String {
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    let mut out = format!(
        "{:<24} {:>12} {:>12} {:>7} {:>7} {:>9} {:>12} {:>10}\n",
        "rollup", "last batch", "verified", "match", "partial", "mismatch", "L1 block", "L1 lag"
    );
    for s in statuses {
        out += &format!(
            "{:<24} {:>12} {:>12} {:>7} {:>7} {:>9} {:>12} {:>10}\n",
            s.chain,
            opt(s.last_applied_batch),
            opt(s.verified_batch),
            s.verdicts.matched,
            s.verdicts.partial,
            s.verdicts.mismatched,
            opt(s.l1_block),
            opt(s.l1_lag)
        );
        if let Some(halt) = &s.halted {
            out += &format!("  HALTED at batch {}: {}\n", opt(halt.batch), halt.reason);
        }
    }
    out
}
