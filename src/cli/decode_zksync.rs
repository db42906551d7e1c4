//! `zkreplay decode zksync --calldata FILE [--blob FILE...]`: decodes one
//! commit transaction's calldata (and its blobs) and prints one JSON object
//! per batch.
//!
//! Every number here comes from an untrusted file, so arithmetic is checked.

#![warn(clippy::arithmetic_side_effects)]

use std::collections::HashMap;
use std::path::PathBuf;

use alloy_primitives::B256;
use anyhow::Context;
use serde_json::{Value, json};

use crate::rollup::zksync::calldata::decode_commit;
use crate::rollup::zksync::compression::{OpKind, ValueOp};
use crate::rollup::zksync::decode::{BlobStore, DecodedBatch, decode_batches};

/// Arguments of `decode zksync`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Raw commit calldata (binary, starting with the selector; `0x` hex text is accepted too).
    #[arg(long, env = "ZKREPLAY_CALLDATA")]
    pub calldata: PathBuf,
    /// Blob files (131,072 raw bytes or hex text), in any order.
    #[arg(long)]
    pub blob: Vec<PathBuf>,
}

/// Runs `zkreplay decode zksync`; exit code 1 when a batch's checks failed.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let input = read_binary(&args.calldata)?;
    let call =
        decode_commit(&input).with_context(|| format!("decoding {}", args.calldata.display()))?;
    let mut blobs = BlobStore::default();
    for path in &args.blob {
        blobs
            .add(read_binary(path)?)
            .with_context(|| format!("blob {}", path.display()))?;
    }
    let (lines, failed) = decode_json(&call, &mut blobs)?;
    for line in lines {
        println!("{line}");
    }
    Ok(if failed { 1 } else { 0 })
}

/// Every batch of a decoded call as the JSON `run` prints, and whether any
/// failed a check or could not be decoded (also the fuzz target of this path).
pub fn decode_json(
    call: &crate::rollup::zksync::calldata::CommitCall,
    blobs: &mut BlobStore,
) -> Result<(Vec<Value>, bool), IndexOverflow> {
    let batches = decode_batches(call, blobs, None);
    let mut known: HashMap<u64, B256> = HashMap::new();
    let mut next_index = call.previous.index_repeated_storage_changes;
    let mut failed = false;
    let mut lines = Vec::with_capacity(batches.len());
    for batch in &batches {
        lines.push(batch_json(batch, &mut known, &mut next_index)?);
        failed |= !batch.all_passed() || batch.writes.is_none();
    }
    Ok((lines, failed))
}

/// Reads a binary file, or hex text when the file looks like hex.
pub fn read_binary(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let text = std::str::from_utf8(&bytes).ok().map(str::trim);
    if let Some(text) = text
        && !text.is_empty()
        && text
            .trim_start_matches("0x")
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b.is_ascii_whitespace())
        && let Ok(decoded) = crate::hexfmt::parse_bytes(text)
    {
        return Ok(decoded);
    }
    Ok(bytes)
}

fn op_json(op: &ValueOp, resolved: Option<B256>) -> Value {
    let kind = match op.kind {
        OpKind::Full => "full",
        OpKind::Add => "add",
        OpKind::Sub => "sub",
        OpKind::Transform => "transform",
    };
    json!({ "op": kind, "len": op.len, "operand": op.operand, "resolved": resolved })
}

/// The enumeration indices of a batch's initial writes run past `u64::MAX`:
/// the commit claims an `indexRepeatedStorageChanges` no real chain can reach.
#[derive(Debug, thiserror::Error)]
#[error(
    "batch {batch}: {initial} initial writes after indexRepeatedStorageChanges {start} \
     overflow the 64-bit enumeration index"
)]
pub struct IndexOverflow {
    batch: u64,
    initial: usize,
    start: u64,
}

/// One batch as JSON; `known` tracks values written earlier in the same call so
/// repeated writes to them can be resolved.
fn batch_json(
    batch: &DecodedBatch,
    known: &mut HashMap<u64, B256>,
    next_index: &mut u64,
) -> Result<Value, IndexOverflow> {
    let (initial, repeated) = match &batch.writes {
        Some(w) => {
            let start = *next_index;
            let overflow = || IndexOverflow {
                batch: batch.batch_number,
                initial: w.initial.len(),
                start,
            };
            let mut initial = Vec::with_capacity(w.initial.len());
            for iw in &w.initial {
                let value = iw.value.apply(&B256::ZERO);
                known.insert(*next_index, value);
                *next_index = next_index.checked_add(1).ok_or_else(overflow)?;
                initial.push(
                    json!({ "derived_key": iw.derived_key, "value": op_json(&iw.value, Some(value)) }),
                );
            }
            let repeated: Vec<Value> = w
                .repeated
                .iter()
                .map(|rw| {
                    let resolved = if rw.value.is_absolute() {
                        Some(rw.value.apply(&B256::ZERO))
                    } else {
                        known.get(&rw.index).map(|p| rw.value.apply(p))
                    };
                    if let Some(v) = resolved {
                        known.insert(rw.index, v);
                    }
                    json!({ "index": rw.index, "value": op_json(&rw.value, resolved) })
                })
                .collect();
            (Value::from(initial), Value::from(repeated))
        }
        None => (Value::Null, Value::Null),
    };
    *next_index = batch.index_repeated_storage_changes;
    Ok(json!({
        "batch_number": batch.batch_number,
        "new_state_root": batch.new_state_root,
        "index_repeated_storage_changes": batch.index_repeated_storage_changes,
        "initial_writes": initial,
        "repeated_writes": repeated,
        "l2_to_l1_logs": batch.l2_to_l1_logs,
        "messages": batch.messages,
        "bytecodes": batch.bytecodes,
        "checks": batch.checks,
    }))
}
