//! `zkreplay status --data-dir DIR`: per rollup store, the last applied batch,
//! the verified pointer, the findings and the L1 position. Opens the stores as
//! read-only secondaries, so it works while a follower is writing them.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;

use crate::audit::{BatchAudit, Verdict};
use crate::chain::RollupKind;
use crate::follow::L1Cursor;
use crate::follow::run::last_applied_batch;
use crate::store::{Column, Store, discover, keys};

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A store, or a directory of stores (one per chain, as `follow` writes them).
    #[arg(long, env = "ZKREPLAY_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Print one JSON object per rollup instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One rollup's status line.
#[derive(Debug, serde::Serialize)]
pub struct RollupStatus {
    pub chain: String,
    pub last_applied_batch: Option<u64>,
    pub verified_batch: Option<u64>,
    pub findings: u64,
    pub first_finding: Option<u64>,
    pub l1_block: Option<u64>,
}

/// Reads the status of every store under `dir`.
pub fn read_status(dir: &std::path::Path) -> anyhow::Result<Vec<RollupStatus>> {
    let scratch = tempfile::tempdir()?;
    let mut out = Vec::new();
    for (i, path) in discover(dir).iter().enumerate() {
        let (store, manifest) = Store::open_secondary(path, &scratch.path().join(i.to_string()))
            .with_context(|| format!("opening store {}", path.display()))?;
        let kind = if manifest.rollup() == Some("zksync") {
            RollupKind::Zksync
        } else {
            RollupKind::Starknet
        };
        let mut findings = 0;
        let mut first_finding = None;
        let mut next = 0u64;
        loop {
            let chunk = store.scan_from(Column::Audits, &keys::batch(next), 1024)?;
            let Some((last_key, _)) = chunk.last() else {
                break;
            };
            let last: [u8; 8] = last_key.as_slice().try_into().context("audit key")?;
            next = u64::from_be_bytes(last) + 1;
            for (key, value) in &chunk {
                let audit: BatchAudit = serde_json::from_slice(value)?;
                if audit.verdict == Verdict::Mismatch {
                    findings += 1;
                    let batch: [u8; 8] = key.as_slice().try_into().context("audit key")?;
                    first_finding.get_or_insert(u64::from_be_bytes(batch));
                }
            }
        }
        out.push(RollupStatus {
            chain: manifest.chain,
            last_applied_batch: last_applied_batch(&store, kind)?,
            verified_batch: BatchAudit::verified_batch(&store)?,
            findings,
            first_finding,
            l1_block: L1Cursor::read(&store)?.map(|c| c.block),
        });
    }
    Ok(out)
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let statuses = read_status(&args.data_dir)?;
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
    // Exit 1 when any rollup has a finding, so scripts can alert on it.
    Ok(i32::from(statuses.iter().any(|s| s.findings > 0)))
}

/// A fixed-width table of statuses.
pub fn table(statuses: &[RollupStatus]) -> String {
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    let mut out = format!(
        "{:<24} {:>12} {:>12} {:>9} {:>12}\n",
        "rollup", "last batch", "verified", "findings", "L1 block"
    );
    for s in statuses {
        out += &format!(
            "{:<24} {:>12} {:>12} {:>9} {:>12}\n",
            s.chain,
            opt(s.last_applied_batch),
            opt(s.verified_batch),
            s.findings,
            opt(s.l1_block)
        );
    }
    out
}
