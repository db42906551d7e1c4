//! `zkreplay verify --data-dir DIR [--full]`: is every store under `DIR`
//! intact? Reads every block with its checksum verified, re-derives every
//! batch's root from the stored leaves and compares it with the batch record
//! and the audited root; `--full` also re-hashes every stored trie node.
//! Exit code 0 when every store is intact, 1 when any is damaged.
//! Opens the stores read-only, so a follower may keep writing them (the
//! check covers the state as of the open).

use std::io::Write;
use std::path::PathBuf;

use crate::store::verify::{Report, verify};
use crate::store::{Store, StoreError, discover};

/// Arguments of `verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A store, or a directory of stores (one per chain, as `follow` writes them).
    #[arg(long, env = "ZKREPLAY_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Also re-hash every stored trie node against the hash it is stored under.
    #[arg(long, env = "ZKREPLAY_VERIFY_FULL")]
    pub full: bool,
}

/// Runs `zkreplay verify`; exit code 1 when a store is damaged.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let stores = discover(&args.data_dir);
    anyhow::ensure!(
        !stores.is_empty(),
        "no store found under {}",
        args.data_dir.display()
    );
    let mut damaged = 0usize;
    for path in &stores {
        println!("verifying {}", path.display());
        match verify_one(path, args.full) {
            Ok(report) => {
                print_report(&report);
                if !report.is_clean() {
                    damaged += 1;
                }
            }
            Err(e) => {
                println!("  DAMAGED: {e}");
                damaged += 1;
            }
        }
    }
    if damaged == 0 {
        println!("every store is intact ({} checked)", stores.len());
        Ok(0)
    } else {
        println!("{damaged} of {} stores are DAMAGED", stores.len());
        Ok(1)
    }
}

fn verify_one(path: &std::path::Path, full: bool) -> Result<Report, anyhow::Error> {
    let store = Store::open_read_only(path)?;
    let manifest = store.manifest()?.ok_or(StoreError::MissingManifest {
        path: path.display().to_string(),
    })?;
    let kind = manifest.kind().ok_or_else(|| {
        anyhow::anyhow!(
            "chain {:?} is neither starknet-* nor zksync-*",
            manifest.chain
        )
    })?;
    println!("  chain {} ({})", manifest.chain, kind.as_str());
    let mut progress = |line: &str| {
        println!("  {line}");
        let _ = std::io::stdout().flush();
    };
    Ok(verify(&store, kind, full, &mut progress)?)
}

fn print_report(report: &Report) {
    let entries: u64 = report.entries.iter().map(|(_, n)| n).sum();
    println!(
        "  {entries} entries read, {} batch roots re-derived from the leaves, {} matched their record and audit{}",
        report.batches_rederived,
        report.roots_matched,
        if report.nodes_rehashed > 0 {
            format!(", {} trie nodes re-hashed", report.nodes_rehashed)
        } else {
            String::new()
        }
    );
    if report.is_clean() {
        println!("  OK: intact");
    } else {
        println!("  DAMAGED: {} problems", report.problems.len());
        for problem in report.problems.iter().take(50) {
            println!("    {problem}");
        }
        if report.problems.len() > 50 {
            println!("    ... and {} more", report.problems.len() - 50);
        }
    }
}
