//! `snapshot export`: the state of one store at one batch, streamed from the
//! store's history column into chunks.
//!
//! Every leaf's value as of batch N is the newest history entry at or before
//! N (history keys end in the big-endian batch), so an export reads the
//! history column once, in order, a page at a time: memory stays bounded by
//! the page, the current chunk and (ZKsync) one sort run.
//!
//! Record layout (see `snapshots/README.md`):
//! * Starknet, in this order: per contract by address, `c ‖ address ‖
//!   class hash ‖ nonce ‖ storage root` followed by its storage slots `s ‖
//!   key ‖ value` by key; then the classes `k ‖ class hash ‖ compiled class
//!   hash` by class hash; then the alias map `a ‖ alias ‖ original` in the
//!   order of contract 0x2's storage keys.
//! * ZKsync: `derived key ‖ enumeration index (8, BE) ‖ value`, in tree-key
//!   order (the derived key as a little-endian number), so the import can
//!   build the tree chunk after chunk.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use alloy_primitives::B256;

use super::chunk::ChunkWriter;
use super::manifest::{LeafCounts, Roots, SnapshotManifest};
use super::sort::{LeafSorter, zk_leaf};
use super::{DEFAULT_CHUNK_LEAVES, MAX_CHUNK_LEAVES, SNAPSHOT_FORMAT_VERSION, SnapshotError};
use crate::audit::BatchAudit;
use crate::chain::RollupKind;
use crate::follow::L1BatchRecord;
use crate::hexfmt::format_word;
use crate::rollup::starknet::state::{ALIAS_CONTRACT, StarknetState};
use crate::store::{Column, KeyValue, Store, keys};

/// Starknet record tags (the first byte of every Starknet record).
pub const TAG_CONTRACT: u8 = b'c';
/// Storage slot record: `'s'` ‖ slot key (32) ‖ value (32); follows its contract's record.
pub const TAG_STORAGE: u8 = b's';
/// Class record: `'k'` ‖ class hash (32) ‖ compiled class hash (32).
pub const TAG_CLASS: u8 = b'k';
/// Alias record: `'a'` ‖ alias (32) ‖ aliased key (32), from the alias contract 0x2.
pub const TAG_ALIAS: u8 = b'a';
/// Length of a ZKsync record.
pub const ZKSYNC_RECORD: usize = 72;
/// Longest record of either rollup (a Starknet contract record).
pub const MAX_RECORD: u64 = 129;

/// Length of the Starknet record starting with `tag`.
pub fn starknet_record_len(tag: u8) -> Option<usize> {
    match tag {
        TAG_CONTRACT => Some(129),
        TAG_STORAGE | TAG_CLASS | TAG_ALIAS => Some(65),
        _ => None,
    }
}

/// What to export.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// A store, or a directory of stores (`follow`'s data directory).
    pub data_dir: PathBuf,
    /// Chain name, or rollup family when the directory holds one store of it.
    pub rollup: String,
    /// Batch to export (default: the last applied).
    pub batch: Option<u64>,
    /// Output directory (created; must be empty).
    pub out: PathBuf,
    /// Records per chunk file.
    pub chunk_leaves: u64,
}

impl ExportOptions {
    /// Options for the last applied batch with `DEFAULT_CHUNK_LEAVES` records per chunk.
    pub fn new(data_dir: &Path, rollup: &str, out: &Path) -> Self {
        ExportOptions {
            data_dir: data_dir.to_path_buf(),
            rollup: rollup.to_owned(),
            batch: None,
            out: out.to_path_buf(),
            chunk_leaves: DEFAULT_CHUNK_LEAVES,
        }
    }
}

/// Exports the state at one batch; the manifest is written last, so a
/// directory without one is an unfinished export.
pub fn export(options: &ExportOptions) -> Result<SnapshotManifest, SnapshotError> {
    let path = super::find_store(&options.data_dir, &options.rollup)?;
    // A secondary instance reads a store a follower may be writing.
    let scratch = tempfile::tempdir().map_err(SnapshotError::io(&options.out))?;
    let (store, store_manifest) = Store::open_secondary(&path, scratch.path())?;
    store.catch_up()?;
    let kind = store_manifest
        .kind()
        .ok_or_else(|| SnapshotError::NoStore {
            dir: path.display().to_string(),
            wanted: "a store that holds rollup state".into(),
        })?;
    prepare_out(&options.out)?;
    let chunk_leaves = options.chunk_leaves.clamp(1, MAX_CHUNK_LEAVES);
    let mut writer = ChunkWriter::new(&options.out, chunk_leaves);
    let (batch, roots, leaves) = match kind {
        RollupKind::Starknet => export_starknet(&store, options.batch, &mut writer)?,
        RollupKind::Zksync => export_zksync(&store, options.batch, &mut writer)?,
    };
    let (chunks, total) = writer.finish()?;
    debug_assert_eq!(total, leaves.total);
    let manifest = SnapshotManifest {
        format_version: SNAPSHOT_FORMAT_VERSION,
        chain: store_manifest.chain.clone(),
        rollup: kind.as_str().to_owned(),
        batch,
        l1: L1BatchRecord::read(&store, batch)?,
        claimed_root: BatchAudit::read(&store, batch)?.and_then(|a| a.claimed_root),
        roots,
        leaves,
        chunks,
    };
    manifest.write(&options.out)?;
    Ok(manifest)
}

fn prepare_out(out: &Path) -> Result<(), SnapshotError> {
    if out.exists() {
        let mut entries = std::fs::read_dir(out).map_err(SnapshotError::io(out))?;
        if entries.next().is_some() {
            return Err(SnapshotError::OutputNotEmpty(out.display().to_string()));
        }
    }
    std::fs::create_dir_all(out).map_err(SnapshotError::io(out))
}

fn export_starknet(
    store: &Store,
    batch: Option<u64>,
    writer: &mut ChunkWriter,
) -> Result<(u64, Roots, LeafCounts), SnapshotError> {
    let state = StarknetState::new(store);
    let last = state.checkpoint()?.next_batch.checked_sub(1);
    let n = batch
        .or(last)
        .ok_or(SnapshotError::NoSuchBatch { batch: 0, last })?;
    let record = state
        .batch_roots(n)?
        .filter(|_| last.is_some_and(|l| n <= l))
        .ok_or(SnapshotError::NoSuchBatch { batch: n, last })?;
    let rule = if record.classes_root == starknet_types_core::felt::Felt::ZERO
        && record.global_root == record.contracts_root
        && record.contracts_root != starknet_types_core::felt::Felt::ZERO
    {
        "pre-v0.14"
    } else {
        "v0.14"
    };
    let word = |f: &starknet_types_core::felt::Felt| format_word(&B256::from(f.to_bytes_be()));
    let roots = Roots {
        state_root: word(&record.global_root),
        contracts_root: Some(word(&record.contracts_root)),
        classes_root: Some(word(&record.classes_root)),
        global_root_rule: Some(rule.to_owned()),
        next_index: None,
    };
    let mut counts = LeafCounts::default();
    let mut contracts = HistoryAt::new(store, vec![keys::LEAF_STARKNET_CONTRACT], n);
    let mut storage = HistoryAt::new(store, vec![keys::LEAF_STARKNET_STORAGE], n);
    let mut pending_slot = storage.next_leaf()?;
    let mut record = Vec::with_capacity(129);
    while let Some((key, value)) = contracts.next_leaf()? {
        let address = &key[1..33];
        if value.len() != 96 {
            return Err(corrupt("contract record", value.len()));
        }
        record.clear();
        record.push(TAG_CONTRACT);
        record.extend_from_slice(address);
        record.extend_from_slice(&value[..32]); // class hash
        record.extend_from_slice(&value[64..96]); // nonce
        record.extend_from_slice(&value[32..64]); // storage root
        writer.push(&record)?;
        counts.contracts = counts.contracts.saturating_add(1);
        while let Some((slot_key, slot_value)) = &pending_slot {
            match slot_key[1..33].cmp(address) {
                std::cmp::Ordering::Greater => break,
                std::cmp::Ordering::Less => {
                    return Err(SnapshotError::Store(crate::store::StoreError::Corrupt {
                        what: "storage slot",
                        detail: format!(
                            "slot of 0x{} has no contract record",
                            hex::encode(&slot_key[1..33])
                        ),
                    }));
                }
                std::cmp::Ordering::Equal => {
                    if slot_value.len() != 32 {
                        return Err(corrupt("storage value", slot_value.len()));
                    }
                    record.clear();
                    record.push(TAG_STORAGE);
                    record.extend_from_slice(&slot_key[33..65]);
                    record.extend_from_slice(slot_value);
                    writer.push(&record)?;
                    counts.storage = counts.storage.saturating_add(1);
                }
            }
            pending_slot = storage.next_leaf()?;
        }
    }
    if let Some((slot_key, _)) = pending_slot {
        return Err(SnapshotError::Store(crate::store::StoreError::Corrupt {
            what: "storage slot",
            detail: format!(
                "slot of 0x{} has no contract record",
                hex::encode(&slot_key[1..33])
            ),
        }));
    }
    let mut classes = HistoryAt::new(store, vec![keys::LEAF_STARKNET_CLASS], n);
    while let Some((key, value)) = classes.next_leaf()? {
        if value.len() != 32 {
            return Err(corrupt("class leaf", value.len()));
        }
        record.clear();
        record.push(TAG_CLASS);
        record.extend_from_slice(&key[1..33]);
        record.extend_from_slice(&value);
        writer.push(&record)?;
        counts.classes = counts.classes.saturating_add(1);
    }
    // The alias map is contract 0x2's storage read backwards (key = original,
    // value = alias), as of batch N; slot 0 is the counter, not an alias.
    let mut prefix = vec![keys::LEAF_STARKNET_STORAGE];
    prefix.extend_from_slice(&ALIAS_CONTRACT.to_bytes_be());
    let mut aliases = HistoryAt::new(store, prefix, n);
    while let Some((key, value)) = aliases.next_leaf()? {
        if key[33..65] == [0u8; 32] {
            continue;
        }
        record.clear();
        record.push(TAG_ALIAS);
        record.extend_from_slice(&value);
        record.extend_from_slice(&key[33..65]);
        writer.push(&record)?;
        counts.aliases = counts.aliases.saturating_add(1);
    }
    // Each count is of records written one by one: the sum fits u64.
    counts.total = [counts.storage, counts.classes, counts.aliases]
        .into_iter()
        .fold(counts.contracts, u64::saturating_add);
    Ok((n, roots, counts))
}

fn export_zksync(
    store: &Store,
    batch: Option<u64>,
    writer: &mut ChunkWriter,
) -> Result<(u64, Roots, LeafCounts), SnapshotError> {
    use crate::rollup::zksync::state::{read_checkpoint, read_record};
    let last = read_checkpoint(store)?.map(|t| t.batch);
    let n = batch
        .or(last)
        .ok_or(SnapshotError::NoSuchBatch { batch: 0, last })?;
    let record = read_record(store, n)?
        .filter(|_| last.is_some_and(|l| n <= l))
        .ok_or(SnapshotError::NoSuchBatch { batch: n, last })?;
    let mut sorter = LeafSorter::default();
    let mut history = HistoryAt::new(store, vec![keys::LEAF_ZKSYNC_BY_KEY], n);
    while let Some((key, value)) = history.next_leaf()? {
        if key.len() != 33 || value.len() != 40 {
            return Err(corrupt("ZKsync leaf", value.len()));
        }
        let index = u64::from_be_bytes(value[..8].try_into().expect("8 bytes"));
        sorter.push(zk_leaf(
            &B256::from_slice(&key[1..33]),
            index,
            &B256::from_slice(&value[8..40]),
        ))?;
    }
    let mut count = 0u64;
    sorter.drain(|leaf| {
        count = count.saturating_add(1);
        writer.push(leaf)
    })?;
    let roots = Roots {
        state_root: format_word(&record.computed_root),
        contracts_root: None,
        classes_root: None,
        global_root_rule: None,
        next_index: Some(record.next_index),
    };
    let counts = LeafCounts {
        total: count,
        zksync: count,
        ..LeafCounts::default()
    };
    Ok((n, roots, counts))
}

fn corrupt(what: &'static str, len: usize) -> SnapshotError {
    SnapshotError::Store(crate::store::StoreError::Corrupt {
        what,
        detail: format!("{len} bytes"),
    })
}

/// The leaves under `prefix` as of `batch`: for each leaves key, the newest
/// history entry at or before the batch, skipped when empty (deleted). Reads
/// the history column a page at a time.
pub struct HistoryAt<'s> {
    store: &'s Store,
    prefix: Vec<u8>,
    batch: u64,
    next_start: Option<Vec<u8>>,
    page: VecDeque<KeyValue>,
}

const PAGE: usize = 4096;

impl<'s> HistoryAt<'s> {
    /// Iterator over the leaves under `prefix` as of `batch`.
    pub fn new(store: &'s Store, prefix: Vec<u8>, batch: u64) -> Self {
        HistoryAt {
            store,
            next_start: Some(prefix.clone()),
            prefix,
            batch,
            page: VecDeque::new(),
        }
    }

    fn next_entry(&mut self) -> Result<Option<KeyValue>, SnapshotError> {
        if self.page.is_empty() {
            let Some(start) = self.next_start.take() else {
                return Ok(None);
            };
            let page = self.store.scan_from(Column::History, &start, PAGE)?;
            let full = page.len() == PAGE;
            let last_key = page.last().map(|(k, _)| k.clone());
            self.page = page
                .into_iter()
                .take_while(|(k, _)| k.starts_with(&self.prefix))
                .collect();
            // Another page only when this one was full and all of it under the prefix.
            if full && self.page.len() == PAGE {
                let mut next = last_key.expect("full page");
                next.push(0);
                self.next_start = Some(next);
            }
        }
        Ok(self.page.pop_front())
    }

    fn peek_entry(&mut self) -> Result<Option<&KeyValue>, SnapshotError> {
        if self.page.is_empty()
            && self
                .next_entry()?
                .map(|e| self.page.push_front(e))
                .is_none()
        {
            return Ok(None);
        }
        Ok(self.page.front())
    }

    /// The next leaves key with a value as of the batch, and that value.
    pub fn next_leaf(&mut self) -> Result<Option<KeyValue>, SnapshotError> {
        loop {
            let Some((key, value)) = self.next_entry()? else {
                return Ok(None);
            };
            // `leaf key ‖ batch`, the leaf key not empty.
            let (leaf_len, batch) = match key.split_last_chunk::<8>() {
                Some((leaf, batch)) if !leaf.is_empty() => (leaf.len(), u64::from_be_bytes(*batch)),
                _ => return Err(corrupt("history key", key.len())),
            };
            let mut chosen = (batch <= self.batch).then_some(value);
            loop {
                let same = match self.peek_entry()? {
                    Some((next, _)) => {
                        next.len() == key.len() && next[..leaf_len] == key[..leaf_len]
                    }
                    None => false,
                };
                if !same {
                    break;
                }
                let (next, value) = self.next_entry()?.expect("peeked");
                // `next` is as long as `key`, so it ends in a batch number too.
                if history_batch(&next).is_some_and(|b| b <= self.batch) {
                    chosen = Some(value);
                }
            }
            if let Some(value) = chosen
                && !value.is_empty()
            {
                return Ok(Some((key[..leaf_len].to_vec(), value)));
            }
        }
    }
}

/// The batch number that ends a history key.
fn history_batch(key: &[u8]) -> Option<u64> {
    key.last_chunk::<8>().map(|b| u64::from_be_bytes(*b))
}
