//! `zkreplay decode starknet`: decode one Starknet L1 state update (blobs or
//! memory pages, optionally with its `updateState*` calldata) into a state diff,
//! and report the binding checks.
//!
//! Prints `{"layout", "program_output", "contracts", "declared_classes", "checks"}`
//! as JSON on stdout. Exit code 0 when every check passed, 1 when a check failed
//! (the JSON is printed either way); decoding errors are reported on stderr.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};
use starknet_types_core::felt::Felt;

use crate::hexfmt::{format_word, parse_bytes};
use crate::rollup::starknet::da::program_output::{L1Binding, L1Update, parse_l1_calldata};
use crate::rollup::starknet::da::{
    BatchInput, DaInput, Layout, MemoryAliases, decode_batch, felt_from_be_checked, pages,
};
use crate::rollup::starknet::state::StarknetState;

/// Arguments of `decode starknet`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Blob files (hex text, optionally 0x-prefixed), in transaction order.
    #[arg(long = "blob", num_args = 1.., value_name = "FILE", conflicts_with = "pages")]
    pub blobs: Vec<PathBuf>,
    /// Files with the hex calldata of one `registerContinuousMemoryPage` each, in page order.
    #[arg(long = "pages", num_args = 1.., value_name = "FILE")]
    pub pages: Vec<PathBuf>,
    /// The `updateState`/`updateStateKzgDA` calldata (hex) or a JSON array of felts.
    #[arg(long, value_name = "FILE")]
    pub program_output: Option<PathBuf>,
    /// DA layout: `auto` decides from the program output and the data.
    #[arg(long, default_value = "auto", value_parser = parse_layout)]
    pub layout: LayoutArg,
    /// A Starknet store (from `follow` or `starknet apply-updates`) whose alias
    /// table resolves aliases allocated before this batch (v0.13.4+).
    #[arg(long, value_name = "DATA_DIR")]
    pub aliases_from: Option<PathBuf>,
    /// The blob versioned hashes of the L1 transaction (checked against the blobs' commitments).
    #[arg(long = "versioned-hash", value_name = "HASH")]
    pub versioned_hashes: Vec<String>,
}

/// `--layout` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutArg {
    /// Pick the layout from the L1 evidence.
    Auto,
    /// Decode with this layout.
    Fixed(Layout),
}

fn parse_layout(text: &str) -> Result<LayoutArg, String> {
    Ok(match text {
        "auto" => LayoutArg::Auto,
        "0.9" => LayoutArg::Fixed(Layout::V0_9),
        "0.10" => LayoutArg::Fixed(Layout::V0_10),
        // v0.11 through v0.13.2 share one DA layout (v0.13.1/v0.13.2 in blobs).
        "0.11" | "0.13.1" | "0.13.2" => LayoutArg::Fixed(Layout::V0_11),
        "0.13.3" => LayoutArg::Fixed(Layout::V0_13_3),
        "0.13.4" => LayoutArg::Fixed(Layout::V0_13_4),
        other => {
            return Err(format!(
                "unknown layout {other:?}: use auto, 0.9, 0.10, 0.11, 0.13.1, 0.13.3 or 0.13.4"
            ));
        }
    })
}

/// Runs `zkreplay decode starknet`, printing the JSON report; exit code 1 when a check failed.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let (code, output) = execute(&args)?;
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a panic.
    match writeln!(stdout, "{}", serde_json::to_string_pretty(&output)?) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(code),
        other => other.map(|()| code).map_err(Into::into),
    }
}

/// Decodes and builds the JSON report; returns the exit code with it.
pub fn execute(args: &Args) -> anyhow::Result<(i32, Value)> {
    // Aliases committed by earlier batches come from a store's alias index
    // (read-only secondary, so a running follower may own the store).
    let scratch = tempfile::tempdir()?;
    let aliases_store = args
        .aliases_from
        .as_deref()
        .map(|dir| {
            crate::store::Store::open_secondary(dir, scratch.path())
                .map(|(store, _)| store)
                .with_context(|| format!("--aliases-from {}", dir.display()))
        })
        .transpose()?;
    let versioned: Vec<alloy_primitives::B256> = args
        .versioned_hashes
        .iter()
        .map(|h| crate::hexfmt::parse_word(h).with_context(|| format!("--versioned-hash {h}")))
        .collect::<anyhow::Result<_>>()?;
    if args.blobs.is_empty() && args.pages.is_empty() {
        anyhow::bail!("give the DA with --blob FILE... or --pages FILE...");
    }
    let blobs: Vec<Vec<u8>> = args
        .blobs
        .iter()
        .map(|p| read_hex(p))
        .collect::<anyhow::Result<_>>()?;
    let page_list: Vec<pages::MemoryPage> = args
        .pages
        .iter()
        .map(|p| {
            pages::parse_page(&read_hex(p)?).with_context(|| format!("page file {}", p.display()))
        })
        .collect::<anyhow::Result<_>>()?;
    let l1_update = args
        .program_output
        .as_deref()
        .map(read_program_output)
        .transpose()?;

    let input = BatchInput {
        batch: None,
        da: if blobs.is_empty() {
            DaInput::Pages(&page_list)
        } else {
            DaInput::Blobs(&blobs)
        },
        l1_update: l1_update.as_ref(),
        versioned_hashes: (!versioned.is_empty()).then_some(versioned.as_slice()),
        blobs_checked: false,
        layout: match args.layout {
            LayoutArg::Auto => None,
            LayoutArg::Fixed(layout) => Some(layout),
        },
    };
    let decoded = match &aliases_store {
        Some(store) => decode_batch(&input, &StarknetState::new(store))?,
        None => decode_batch(&input, &MemoryAliases::new())?,
    };
    if !decoded.unresolved_aliases.is_empty() {
        let distinct: std::collections::BTreeSet<Felt> =
            decoded.unresolved_aliases.iter().map(|u| u.alias).collect();
        anyhow::bail!(
            "{} aliases ({} entries) were allocated before this batch and cannot be resolved without \
             the alias table (--aliases-from); first: {:#x}",
            distinct.len(),
            decoded.unresolved_aliases.len(),
            distinct.first().expect("non-empty")
        );
    }

    let contracts: Vec<Value> = decoded
        .diff
        .contracts
        .iter()
        .map(|(address, c)| {
            let storage: serde_json::Map<String, Value> = c
                .storage
                .iter()
                .map(|(k, v)| (format_word(k), Value::String(format_word(v))))
                .collect();
            json!({
                "address": format_word(address),
                "nonce": c.nonce.as_ref().map(format_word),
                "class_hash": c.class_hash.as_ref().map(format_word),
                "storage": storage,
            })
        })
        .collect();
    let declared: BTreeMap<String, String> = decoded
        .diff
        .declared_classes
        .iter()
        .map(|(k, v)| (format_word(k), format_word(v)))
        .collect();
    let program_output = decoded.program_output.as_ref().map(|o| {
        let hex = |f: &Felt| format!("{f:#x}");
        json!({
            "version": o.version,
            "prev_root": hex(&o.prev_root),
            "new_root": hex(&o.new_root),
            "prev_block_number": o.prev_block_number.as_ref().map(hex),
            "new_block_number": hex(&o.new_block_number),
            "use_kzg_da": o.use_kzg_da,
        })
    });
    let code = if decoded.all_checks_passed() { 0 } else { 1 };
    Ok((
        code,
        json!({
            "layout": decoded.layout.name(),
            "program_output": program_output,
            "da_length": decoded.da.len(),
            "aliases_allocated": decoded.aliases_allocated,
            "contracts": contracts,
            "declared_classes": declared,
            "checks": decoded.findings,
        }),
    ))
}

fn read_hex(path: &Path) -> anyhow::Result<Vec<u8>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_bytes(&text).with_context(|| format!("{} is not hex", path.display()))
}

/// Calldata of `updateState*`, or a JSON array of felts (hex strings or numbers).
fn read_program_output(path: &Path) -> anyhow::Result<L1Update> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if text.trim_start().starts_with('[') {
        let values: Vec<Value> =
            serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?;
        let program_output = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let word = match v {
                    Value::String(s) => {
                        crate::hexfmt::parse_word(s).map_err(anyhow::Error::from)?
                    }
                    Value::Number(n) => alloy_primitives::B256::from(alloy_primitives::U256::from(
                        n.as_u64()
                            .context("program output numbers must be u64 or hex strings")?,
                    )),
                    _ => anyhow::bail!("program output element {i} is not a felt"),
                };
                Ok(felt_from_be_checked(&word.0, "program output word", i)?)
            })
            .collect::<anyhow::Result<_>>()?;
        return Ok(L1Update {
            program_output,
            binding: L1Binding::None,
        });
    }
    let calldata = parse_bytes(&text)
        .with_context(|| format!("{} is neither JSON nor hex", path.display()))?;
    Ok(parse_l1_calldata(&calldata)?)
}
