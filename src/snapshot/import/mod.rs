//! `snapshot import`: verify a snapshot and rebuild a store from it.
//!
//! The store is built in `DIR/.<chain>.import` and renamed to `DIR/<chain>`
//! only after the recomputed roots equal the manifest's (and L1's, when
//! given). Any error removes the temporary directory; a killed import leaves
//! it behind and the next run deletes it and starts over, so no half-built
//! store is ever at the path `follow` and `serve` open.
//!
//! The tries are rebuilt through the state engines' own tries
//! ([`crate::rollup::starknet::trie::Trie`], [`crate::rollup::zksync::tree::Tree`]):
//! leaves arrive in key order, so each flush of a few thousand leaves only
//! extends the right edge of what is already built (the nodes it crosses
//! are read back from the store), and memory is bounded by one flush.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use alloy_primitives::B256;
use sha2::{Digest, Sha256};
use starknet_types_core::felt::Felt;

use super::chunk::{read_records, verify_chunk};
use super::export::{
    MAX_RECORD, TAG_ALIAS, TAG_CLASS, TAG_CONTRACT, TAG_STORAGE, ZKSYNC_RECORD, starknet_record_len,
};
use super::manifest::{MANIFEST_FILE, SnapshotManifest};
use super::sort::{ZkLeaf, tree_key};
use super::{MAX_MANIFEST_BYTES, SnapshotError};
use crate::audit::{BatchAudit, Check};
use crate::chain::RollupKind;
use crate::follow::L1Cursor;
use crate::hexfmt::format_word;
use crate::rollup::starknet::hash::{PedersenHasher, PoseidonHasher};
use crate::rollup::starknet::state::{
    ALIAS_CONTRACT, BatchRoots, ContractState, GlobalRootRule, StarknetTip, class_leaf_hash,
    global_root, to_felt,
};
use crate::rollup::starknet::trie::Trie;
use crate::rollup::zksync::state::{BatchRecord, ZksyncTip};
use crate::rollup::zksync::tree::{LeafWrite, Tree, TreeKey, empty_root};
use crate::store::{Column, Store, StoreBatch, keys};

mod starknet;
mod zksync;

use starknet::StarknetBuilder;
pub use zksync::ZksyncBuilder;

/// Meta key of an imported store: SHA-256 of the manifest it came from, so a
/// rerun of a finished import recognises its own result.
pub const SNAPSHOT_MARK: &[u8] = b"snapshot_import";

/// Leaves per trie update (and write batch): large enough that the right
/// edge re-read per flush costs nothing, small enough to bound memory.
pub const FLUSH_LEAVES: usize = 50_000;

/// How to import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Data directory: the store goes to `DIR/<chain>`, as `follow` lays them out.
    pub data_dir: PathBuf,
    /// Snapshot directory (manifest and chunks).
    pub from: PathBuf,
    /// The root L1 accepted for the snapshot's batch (read by [`super::l1`]);
    /// without it the batch's audit is PARTIAL (the root was not checked
    /// against L1).
    pub l1_root: Option<B256>,
    /// Let the verified pointer pass a PARTIAL snapshot batch.
    pub accept_partial: bool,
    /// Cap on any one chunk, compressed or decompressed (bytes); at most
    /// [`super::MAX_CHUNK_BYTES`]. Bounds the memory of an era import, which
    /// holds one decoded chunk at a time.
    pub max_chunk_bytes: u64,
    /// Chain name of a zksync-era snapshot (its header names none);
    /// default `zksync-era-mainnet`.
    pub era_chain: Option<String>,
}

impl ImportOptions {
    /// Defaults: no L1 root, PARTIAL not accepted, the largest chunk cap.
    pub fn new(data_dir: &Path, from: &Path) -> Self {
        ImportOptions {
            data_dir: data_dir.to_path_buf(),
            from: from.to_path_buf(),
            l1_root: None,
            accept_partial: false,
            max_chunk_bytes: super::MAX_CHUNK_BYTES,
            era_chain: None,
        }
    }
}

/// What an import did.
#[derive(Clone, Debug)]
pub struct ImportReport {
    /// Chain name of the imported store.
    pub chain: String,
    /// Path of the store written.
    pub store: PathBuf,
    /// Batch whose state was imported.
    pub batch: u64,
    /// State root recomputed from the leaves (0x-hex).
    pub state_root: String,
    /// Records imported.
    pub leaves: u64,
    /// Whether the root was also checked against the root L1 accepted.
    pub l1_checked: bool,
    /// The store already held this snapshot (a rerun after a finished import).
    pub already_imported: bool,
    /// Wall-clock time of the import, in seconds.
    pub seconds: f64,
}

/// Imports the snapshot at `options.from`: zkreplay's format when the
/// directory holds `manifest.json`, zksync-era's when it holds
/// `snapshot_header.json` (see [`super::zksync_era`]).
pub fn import(options: &ImportOptions) -> Result<ImportReport, SnapshotError> {
    let started = Instant::now();
    if !options.from.join(MANIFEST_FILE).is_file()
        && options.from.join(super::zksync_era::HEADER_FILE).is_file()
    {
        return import_era(options, started);
    }
    let manifest = SnapshotManifest::read(&options.from)?;
    let digest = file_digest(&options.from.join(MANIFEST_FILE))?;
    let mut report = ImportReport {
        chain: manifest.chain.clone(),
        store: options.data_dir.join(&manifest.chain),
        batch: manifest.batch,
        state_root: manifest.roots.state_root.clone(),
        leaves: manifest.leaves.total,
        l1_checked: options.l1_root.is_some(),
        already_imported: false,
        seconds: 0.0,
    };
    report.already_imported = install(&options.data_dir, &manifest.chain, &digest, |tmp| {
        build(options, &manifest, tmp)
    })?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn import_era(options: &ImportOptions, started: Instant) -> Result<ImportReport, SnapshotError> {
    use super::zksync_era::{EraHeader, HEADER_FILE};
    let chain = options
        .era_chain
        .clone()
        .unwrap_or_else(|| "zksync-era-mainnet".to_owned());
    super::check_chain_name(&chain)?;
    let header = EraHeader::read(&options.from)?;
    let digest = file_digest(&options.from.join(HEADER_FILE))?;
    let mut report = ImportReport {
        chain: chain.clone(),
        store: options.data_dir.join(&chain),
        batch: header.l1_batch_number,
        state_root: header
            .root_hash
            .or(options.l1_root)
            .map(|r| format_word(&r))
            .unwrap_or_default(),
        leaves: 0,
        l1_checked: options.l1_root.is_some(),
        already_imported: false,
        seconds: 0.0,
    };
    let mut leaves = 0;
    report.already_imported = install(&options.data_dir, &chain, &digest, |tmp| {
        let store = Store::open(tmp, &chain)?;
        store.claim_rollup(RollupKind::Zksync)?;
        let (mut finish, stats) = super::zksync_era::build(&store, &header, options)?;
        leaves = stats.storage_logs;
        finish
            .audit
            .write(&store, options.accept_partial, &mut finish.write)?;
        finish
            .write
            .put(Column::Meta, SNAPSHOT_MARK, digest.as_bytes().to_vec());
        store.commit(finish.write)?;
        Ok(())
    })?;
    report.leaves = leaves;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Builds a store with `build` in `data_dir/.<chain>.import` and renames it
/// to `data_dir/<chain>` once complete; returns `true` when the target
/// already holds the import of this very snapshot (nothing done).
fn install(
    data_dir: &Path,
    chain: &str,
    digest: &str,
    build: impl FnOnce(&Path) -> Result<(), SnapshotError>,
) -> Result<bool, SnapshotError> {
    let target = data_dir.join(chain);
    let tmp = data_dir.join(format!(".{chain}.import"));
    if target.exists() {
        if imported_from(&target)?.is_some_and(|d| d == digest) {
            return Ok(true);
        }
        return Err(SnapshotError::TargetExists(target.display().to_string()));
    }
    if tmp.exists() {
        tracing::info!(path = %tmp.display(), "removing an interrupted import");
        std::fs::remove_dir_all(&tmp).map_err(SnapshotError::io(&tmp))?;
    }
    std::fs::create_dir_all(data_dir).map_err(SnapshotError::io(data_dir))?;
    match build(&tmp) {
        Ok(()) => {
            std::fs::rename(&tmp, &target).map_err(SnapshotError::io(&target))?;
            // The rename is the commit point; make it durable.
            if let Ok(dir) = std::fs::File::open(data_dir) {
                let _ = dir.sync_all();
            }
            Ok(false)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

/// The manifest digest recorded in a store built by an import, if any.
pub fn imported_from(store_dir: &Path) -> Result<Option<String>, SnapshotError> {
    if !store_dir.join("CURRENT").is_file() {
        return Ok(None);
    }
    let (store, _) = Store::open_existing(store_dir)?;
    Ok(store
        .get(Column::Meta, SNAPSHOT_MARK)?
        .map(|v| String::from_utf8_lossy(&v).into_owned()))
}

fn file_digest(path: &Path) -> Result<String, SnapshotError> {
    use std::io::Read;
    let path = path.to_path_buf();
    let mut bytes = Vec::new();
    std::fs::File::open(&path)
        .map_err(SnapshotError::io(&path))?
        .take(MAX_MANIFEST_BYTES)
        .read_to_end(&mut bytes)
        .map_err(SnapshotError::io(&path))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

fn build(
    options: &ImportOptions,
    manifest: &SnapshotManifest,
    tmp: &Path,
) -> Result<(), SnapshotError> {
    let digest = file_digest(&options.from.join(MANIFEST_FILE))?;
    let store = Store::open(tmp, &manifest.chain)?;
    let kind = RollupKind::from_name(&manifest.rollup)
        .ok_or_else(|| SnapshotError::Manifest(format!("unknown rollup {}", manifest.rollup)))?;
    store.claim_rollup(kind)?;
    let mut finish = match kind {
        RollupKind::Starknet => {
            let mut builder = StarknetBuilder::new(&store, manifest.batch);
            let max_chunk = options.max_chunk_bytes;
            for_each_chunk(
                &options.from,
                manifest,
                max_chunk,
                MAX_RECORD,
                starknet_record_len,
                |r| builder.push(r),
            )?;
            builder.finish(manifest, options.l1_root)?
        }
        RollupKind::Zksync => {
            let next_index = manifest.roots.next_index.ok_or_else(|| {
                SnapshotError::Manifest("ZKsync snapshot without next_index".into())
            })?;
            let mut builder = ZksyncBuilder::new(&store, manifest.batch, next_index);
            for_each_chunk(
                &options.from,
                manifest,
                options.max_chunk_bytes,
                ZKSYNC_RECORD as u64,
                |_| Some(ZKSYNC_RECORD),
                |r| builder.push(r.try_into().expect("fixed record length")),
            )?;
            builder.finish(manifest, options.l1_root, options.accept_partial)?
        }
    };
    finish
        .audit
        .write(&store, options.accept_partial, &mut finish.write)?;
    if let Some(l1) = &manifest.l1 {
        l1.write(&mut finish.write);
        L1Cursor::at_record(l1).write(&mut finish.write);
    }
    finish
        .write
        .put(Column::Meta, SNAPSHOT_MARK, digest.as_bytes().to_vec());
    store.commit(finish.write)?;
    Ok(())
}

/// Verifies every chunk (size, SHA-256) just before reading it and feeds
/// its records, in order, to `each`.
pub fn for_each_chunk(
    dir: &Path,
    manifest: &SnapshotManifest,
    max_chunk_bytes: u64,
    max_record: u64,
    record_len: impl Fn(u8) -> Option<usize> + Copy,
    mut each: impl FnMut(&[u8]) -> Result<(), SnapshotError>,
) -> Result<(), SnapshotError> {
    let started = Instant::now();
    for (i, info) in manifest.chunks.iter().enumerate() {
        verify_chunk(dir, info)?;
        // The most bytes `leaves` records can take: anything more is refused.
        let cap = info.leaves.saturating_mul(max_record).min(max_chunk_bytes);
        read_records(dir, info, cap, record_len, &mut each)?;
        // The manifest's check (`validate`) proved this sum fits u64.
        let done = info.first_leaf.saturating_add(info.leaves);
        tracing::debug!(
            chunk = i,
            of = manifest.chunks.len(),
            leaves = done,
            leaves_per_s = (done as f64 / started.elapsed().as_secs_f64().max(1e-9)) as u64,
            "snapshot chunk imported"
        );
    }
    Ok(())
}

/// The last write of an import: records, checkpoint, audit.
pub struct Finish {
    /// Write batch holding the remaining records, the checkpoint and the audit.
    pub write: StoreBatch,
    /// Audit recorded for the imported batch.
    pub audit: BatchAudit,
}

fn check_root(
    what: &'static str,
    expected: Option<&String>,
    computed: &str,
) -> Result<(), SnapshotError> {
    if let Some(expected) = expected
        && !expected.eq_ignore_ascii_case(computed)
        && parse_hex_word(expected) != parse_hex_word(computed)
    {
        return Err(SnapshotError::RootMismatch {
            what,
            expected: expected.clone(),
            computed: computed.to_owned(),
        });
    }
    Ok(())
}

/// A 0x-hex number of up to 32 bytes as a word (roots may be written unpadded).
fn parse_hex_word(text: &str) -> Option<B256> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if digits.is_empty() || digits.len() > 64 {
        return None;
    }
    let padded = format!("{digits:0>64}");
    let bytes = hex::decode(padded).ok()?;
    Some(B256::from_slice(&bytes))
}

fn l1_check(
    l1_root: Option<B256>,
    batch: u64,
    computed: &B256,
    checks: &mut Vec<Check>,
) -> Result<(), SnapshotError> {
    match l1_root {
        Some(l1) if l1 != *computed => Err(SnapshotError::L1RootMismatch {
            batch,
            l1: format_word(&l1),
            snapshot: format_word(computed),
        }),
        Some(l1) => {
            checks.push(Check::equal(
                "snapshot.l1_root",
                format_word(&l1),
                format_word(computed),
            ));
            Ok(())
        }
        None => {
            checks.push(Check::skipped(
                "snapshot.l1_root",
                "imported without an L1 endpoint: the root was not read from L1",
            ));
            Ok(())
        }
    }
}

/// A leaf and its history entry as of the snapshot's batch.
fn put_leaf(write: &mut StoreBatch, key: Vec<u8>, value: Vec<u8>, batch: u64) {
    write.put(Column::History, keys::history(&key, batch), value.clone());
    write.put(Column::Leaves, key, value);
}
