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
    pub chain: String,
    pub store: PathBuf,
    pub batch: u64,
    pub state_root: String,
    pub leaves: u64,
    pub l1_checked: bool,
    /// The store already held this snapshot (a rerun after a finished import).
    pub already_imported: bool,
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
        let (mut finish, stats) =
            super::zksync_era::build(&store, &header, options.l1_root, options.max_chunk_bytes)?;
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
            builder.finish(manifest, options.l1_root)?
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
        tracing::debug!(
            chunk = i,
            of = manifest.chunks.len(),
            leaves = info.first_leaf + info.leaves,
            leaves_per_s = ((info.first_leaf + info.leaves) as f64
                / started.elapsed().as_secs_f64().max(1e-9)) as u64,
            "snapshot chunk imported"
        );
    }
    Ok(())
}

/// The last write of an import: records, checkpoint, audit.
pub struct Finish {
    pub write: StoreBatch,
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

// ------------------------------------------------------------------ Starknet

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Contracts,
    Classes,
    Aliases,
}

struct Contract {
    address: Felt,
    class_hash: Felt,
    nonce: Felt,
    claimed_root: Felt,
    root: Felt,
    pending: Vec<(Felt, Felt)>,
    last_key: Option<Felt>,
}

struct StarknetBuilder<'s> {
    store: &'s Store,
    batch: u64,
    write: StoreBatch,
    phase: Phase,
    contract: Option<Contract>,
    last_address: Option<Felt>,
    contract_leaves: Vec<(Felt, Felt)>,
    contracts_root: Felt,
    class_leaves: Vec<(Felt, Felt)>,
    last_class: Option<Felt>,
    classes_root: Felt,
    last_alias_original: Option<Felt>,
    aliases_written: u64,
    leaf: u64,
    counts: super::manifest::LeafCounts,
    hashes: u64,
}

impl<'s> StarknetBuilder<'s> {
    fn new(store: &'s Store, batch: u64) -> Self {
        StarknetBuilder {
            store,
            batch,
            write: StoreBatch::default(),
            phase: Phase::Contracts,
            contract: None,
            last_address: None,
            contract_leaves: Vec::new(),
            contracts_root: Felt::ZERO,
            class_leaves: Vec::new(),
            last_class: None,
            classes_root: Felt::ZERO,
            last_alias_original: None,
            aliases_written: 0,
            leaf: 0,
            counts: Default::default(),
            hashes: 0,
        }
    }

    fn order(&self, detail: String) -> SnapshotError {
        SnapshotError::Order {
            leaf: self.leaf,
            detail,
        }
    }

    fn felt(&self, what: &'static str, bytes: &[u8]) -> Result<Felt, SnapshotError> {
        to_felt(what, &B256::from_slice(bytes)).map_err(|e| SnapshotError::Order {
            leaf: self.leaf,
            detail: e.to_string(),
        })
    }

    fn push(&mut self, record: &[u8]) -> Result<(), SnapshotError> {
        let result = self.push_record(record);
        self.leaf += 1;
        result
    }

    fn push_record(&mut self, record: &[u8]) -> Result<(), SnapshotError> {
        match record[0] {
            TAG_CONTRACT => {
                if self.phase != Phase::Contracts {
                    return Err(self.order("contract after the contracts section".into()));
                }
                self.finish_contract()?;
                let address = self.felt("contract address", &record[1..33])?;
                if self.last_address.is_some_and(|last| address <= last) {
                    return Err(self.order(format!("contract {address:#x} not above the previous")));
                }
                self.last_address = Some(address);
                self.contract = Some(Contract {
                    address,
                    class_hash: self.felt("class hash", &record[33..65])?,
                    nonce: self.felt("nonce", &record[65..97])?,
                    claimed_root: self.felt("storage root", &record[97..129])?,
                    root: Felt::ZERO,
                    pending: Vec::new(),
                    last_key: None,
                });
                self.counts.contracts += 1;
            }
            TAG_STORAGE => {
                let key = self.felt("storage key", &record[1..33])?;
                let value = self.felt("storage value", &record[33..65])?;
                let leaf = self.leaf;
                let contract = self.contract.as_mut().ok_or(SnapshotError::Order {
                    leaf,
                    detail: "storage slot outside a contract".into(),
                })?;
                if contract.last_key.is_some_and(|last| key <= last) || value == Felt::ZERO {
                    return Err(SnapshotError::Order {
                        leaf,
                        detail: format!("slot {key:#x}: not above the previous, or zero"),
                    });
                }
                contract.last_key = Some(key);
                contract.pending.push((key, value));
                let address = contract.address;
                let leaf_key = keys::leaf(
                    keys::LEAF_STARKNET_STORAGE,
                    &[&address.to_bytes_be(), &key.to_bytes_be()],
                );
                put_leaf(
                    &mut self.write,
                    leaf_key,
                    value.to_bytes_be().to_vec(),
                    self.batch,
                );
                if address == ALIAS_CONTRACT && key != Felt::ZERO {
                    // The engine's reverse index of the alias table (see StarknetState::plan).
                    let alias_key = keys::leaf(keys::LEAF_STARKNET_ALIAS, &[&value.to_bytes_be()]);
                    self.write
                        .put(Column::Leaves, alias_key, key.to_bytes_be().to_vec());
                    self.aliases_written += 1;
                }
                self.counts.storage += 1;
                if self.contract.as_ref().expect("set").pending.len() >= FLUSH_LEAVES {
                    self.flush_storage()?;
                }
            }
            TAG_CLASS => {
                if self.phase > Phase::Classes {
                    return Err(self.order("class after the aliases section".into()));
                }
                if self.phase == Phase::Contracts {
                    self.finish_contracts()?;
                    self.phase = Phase::Classes;
                }
                let class_hash = self.felt("class hash", &record[1..33])?;
                let compiled = self.felt("compiled class hash", &record[33..65])?;
                if self.last_class.is_some_and(|last| class_hash <= last) || compiled == Felt::ZERO
                {
                    return Err(self.order(format!(
                        "class {class_hash:#x}: not above the previous, or zero"
                    )));
                }
                self.last_class = Some(class_hash);
                let leaf_key = keys::leaf(keys::LEAF_STARKNET_CLASS, &[&class_hash.to_bytes_be()]);
                put_leaf(
                    &mut self.write,
                    leaf_key,
                    compiled.to_bytes_be().to_vec(),
                    self.batch,
                );
                self.class_leaves
                    .push((class_hash, class_leaf_hash(&compiled)));
                self.hashes += 1;
                self.counts.classes += 1;
                if self.class_leaves.len() >= FLUSH_LEAVES {
                    self.flush_classes()?;
                }
            }
            TAG_ALIAS => {
                if self.phase != Phase::Aliases {
                    self.finish_contracts()?;
                    self.flush_classes()?;
                    self.commit()?;
                    self.phase = Phase::Aliases;
                }
                let alias = self.felt("alias", &record[1..33])?;
                let original = self.felt("aliased key", &record[33..65])?;
                if self
                    .last_alias_original
                    .is_some_and(|last| original <= last)
                {
                    return Err(
                        self.order(format!("alias of {original:#x} not above the previous"))
                    );
                }
                self.last_alias_original = Some(original);
                let stored = self.store.get(
                    Column::Leaves,
                    &keys::leaf(keys::LEAF_STARKNET_ALIAS, &[&alias.to_bytes_be()]),
                )?;
                if stored.as_deref() != Some(&original.to_bytes_be()[..]) {
                    return Err(self.order(format!(
                        "alias {alias:#x} -> {original:#x} is not in contract 0x2's storage"
                    )));
                }
                self.counts.aliases += 1;
            }
            other => {
                return Err(self.order(format!("unknown record tag {other:#04x}")));
            }
        }
        if self.write.len() >= 4 * FLUSH_LEAVES {
            self.commit()?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), SnapshotError> {
        if !self.write.is_empty() {
            self.store.commit(std::mem::take(&mut self.write))?;
        }
        Ok(())
    }

    fn flush_storage(&mut self) -> Result<(), SnapshotError> {
        let Some(contract) = self.contract.as_mut() else {
            return Ok(());
        };
        if contract.pending.is_empty() {
            return Ok(());
        }
        if contract.root != Felt::ZERO {
            // The update reads the nodes of the previous flush back.
            let write = std::mem::take(&mut self.write);
            self.store.commit(write)?;
        }
        let contract = self.contract.as_mut().expect("checked");
        let update =
            Trie::<_, PedersenHasher>::new(self.store).update(contract.root, &contract.pending)?;
        contract.pending.clear();
        contract.root = update.root;
        self.hashes += update.hashes;
        for (key, node) in update.new_nodes {
            self.write.put(Column::Nodes, key.to_vec(), node);
        }
        Ok(())
    }

    fn finish_contract(&mut self) -> Result<(), SnapshotError> {
        self.flush_storage()?;
        let Some(contract) = self.contract.take() else {
            return Ok(());
        };
        if contract.root != contract.claimed_root {
            return Err(SnapshotError::RootMismatch {
                what: "storage root of a contract",
                expected: format!(
                    "{:#x} (contract {:#x})",
                    contract.claimed_root, contract.address
                ),
                computed: format!("{:#x}", contract.root),
            });
        }
        let state = ContractState {
            class_hash: contract.class_hash,
            storage_root: contract.root,
            nonce: contract.nonce,
        };
        if state == ContractState::default() {
            return Err(self.order(format!("contract {:#x} is empty", contract.address)));
        }
        let leaf_key = keys::leaf(
            keys::LEAF_STARKNET_CONTRACT,
            &[&contract.address.to_bytes_be()],
        );
        put_leaf(&mut self.write, leaf_key, state.encode(), self.batch);
        self.contract_leaves
            .push((contract.address, state.leaf_hash()));
        self.hashes += 3;
        if self.contract_leaves.len() >= FLUSH_LEAVES {
            self.flush_contracts()?;
        }
        Ok(())
    }

    fn flush_contracts(&mut self) -> Result<(), SnapshotError> {
        if self.contract_leaves.is_empty() {
            return Ok(());
        }
        if self.contracts_root != Felt::ZERO {
            self.commit()?;
        }
        let update = Trie::<_, PedersenHasher>::new(self.store)
            .update(self.contracts_root, &self.contract_leaves)?;
        self.contract_leaves.clear();
        self.contracts_root = update.root;
        self.hashes += update.hashes;
        for (key, node) in update.new_nodes {
            self.write.put(Column::Nodes, key.to_vec(), node);
        }
        Ok(())
    }

    fn finish_contracts(&mut self) -> Result<(), SnapshotError> {
        if self.phase == Phase::Contracts {
            self.finish_contract()?;
            self.flush_contracts()?;
        }
        Ok(())
    }

    fn flush_classes(&mut self) -> Result<(), SnapshotError> {
        if self.class_leaves.is_empty() {
            return Ok(());
        }
        if self.classes_root != Felt::ZERO {
            self.commit()?;
        }
        let update = Trie::<_, PoseidonHasher>::new(self.store)
            .update(self.classes_root, &self.class_leaves)?;
        self.class_leaves.clear();
        self.classes_root = update.root;
        self.hashes += update.hashes;
        for (key, node) in update.new_nodes {
            self.write.put(Column::Nodes, key.to_vec(), node);
        }
        Ok(())
    }

    fn finish(
        mut self,
        manifest: &SnapshotManifest,
        l1_root: Option<B256>,
    ) -> Result<Finish, SnapshotError> {
        self.finish_contracts()?;
        self.flush_classes()?;
        self.commit()?;
        let expected = &manifest.leaves;
        for (what, expected, found) in [
            ("contracts", expected.contracts, self.counts.contracts),
            ("storage slots", expected.storage, self.counts.storage),
            ("classes", expected.classes, self.counts.classes),
            ("aliases", expected.aliases, self.counts.aliases),
            (
                "aliases in contract 0x2",
                expected.aliases,
                self.aliases_written,
            ),
            ("ZKsync leaves", expected.zksync, 0),
        ] {
            if expected != found {
                return Err(SnapshotError::Count {
                    what,
                    expected,
                    found,
                });
            }
        }
        let rule = match manifest.roots.global_root_rule.as_deref() {
            Some("pre-v0.14") => GlobalRootRule::PreV0_14,
            Some("v0.14") | None => GlobalRootRule::V0_14,
            Some(other) => {
                return Err(SnapshotError::Manifest(format!(
                    "unknown global root rule {other:?}"
                )));
            }
        };
        let global = global_root(self.contracts_root, self.classes_root, rule);
        let word = |f: &Felt| B256::from(f.to_bytes_be());
        check_root(
            "contracts root",
            manifest.roots.contracts_root.as_ref(),
            &format_word(&word(&self.contracts_root)),
        )?;
        check_root(
            "classes root",
            manifest.roots.classes_root.as_ref(),
            &format_word(&word(&self.classes_root)),
        )?;
        let computed = format_word(&word(&global));
        check_root("state root", Some(&manifest.roots.state_root), &computed)?;
        let mut checks = vec![Check::equal(
            "snapshot.manifest_root",
            &manifest.roots.state_root,
            &computed,
        )];
        l1_check(l1_root, self.batch, &word(&global), &mut checks)?;
        let claimed = l1_root
            .map(|r| format_word(&r))
            .or_else(|| manifest.claimed_root.clone())
            .unwrap_or_else(|| manifest.roots.state_root.clone());
        let audit = BatchAudit::judge(self.batch, Some(claimed), format!("{global:#x}"), checks);
        let roots = BatchRoots {
            batch: self.batch,
            contracts_root: self.contracts_root,
            classes_root: self.classes_root,
            global_root: global,
            hashes: self.hashes,
        };
        let tip = StarknetTip {
            next_batch: self.batch + 1,
            contracts_root: self.contracts_root,
            classes_root: self.classes_root,
            global_root: global,
        };
        let mut write = StoreBatch::default();
        write.put(
            Column::Batches,
            keys::batch(self.batch),
            serde_json::to_vec(&roots).expect("roots serialise"),
        );
        write.put(
            Column::Meta,
            keys::CHECKPOINT,
            serde_json::to_vec(&tip).expect("checkpoint serialises"),
        );
        Ok(Finish { write, audit })
    }
}

/// A leaf and its history entry as of the snapshot's batch.
fn put_leaf(write: &mut StoreBatch, key: Vec<u8>, value: Vec<u8>, batch: u64) {
    write.put(Column::History, keys::history(&key, batch), value.clone());
    write.put(Column::Leaves, key, value);
}

// ------------------------------------------------------------------ ZKsync

/// Rebuilds the ZKsync tree from leaves in strictly increasing tree-key order.
pub struct ZksyncBuilder<'s> {
    store: &'s Store,
    batch: u64,
    next_index: u64,
    root: B256,
    last_key: Option<TreeKey>,
    pending: Vec<ZkLeaf>,
    pending_indices: HashSet<u64>,
    count: u64,
}

impl<'s> ZksyncBuilder<'s> {
    pub fn new(store: &'s Store, batch: u64, next_index: u64) -> Self {
        ZksyncBuilder {
            store,
            batch,
            next_index,
            root: empty_root(),
            last_key: None,
            pending: Vec::with_capacity(FLUSH_LEAVES),
            pending_indices: HashSet::new(),
            count: 0,
        }
    }

    pub fn push(&mut self, leaf: &ZkLeaf) -> Result<(), SnapshotError> {
        let key = tree_key(leaf);
        let index = u64::from_be_bytes(leaf[32..40].try_into().expect("8 bytes"));
        let order = |detail: String| SnapshotError::Order {
            leaf: self.count,
            detail,
        };
        if self.last_key.is_some_and(|last| key <= last) {
            return Err(order(format!(
                "derived key {} is not above the previous leaf's in tree order",
                B256::from_slice(&leaf[..32])
            )));
        }
        if index == 0 || index >= self.next_index {
            return Err(order(format!(
                "enumeration index {index} outside 1..{}",
                self.next_index
            )));
        }
        if !self.pending_indices.insert(index)
            || self
                .store
                .get(
                    Column::Leaves,
                    &keys::leaf(keys::LEAF_ZKSYNC_BY_INDEX, &[&index.to_be_bytes()]),
                )?
                .is_some()
        {
            return Err(order(format!("enumeration index {index} used twice")));
        }
        self.last_key = Some(key);
        self.pending.push(*leaf);
        self.count += 1;
        if self.pending.len() >= FLUSH_LEAVES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SnapshotError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let writes = self
            .pending
            .iter()
            .map(|l| LeafWrite {
                key: tree_key(l),
                leaf_hash: crate::rollup::zksync::tree::hash_leaf(
                    u64::from_be_bytes(l[32..40].try_into().expect("8 bytes")),
                    &B256::from_slice(&l[40..]),
                ),
            })
            .collect();
        let update = Tree::new(self.store, self.root).update(writes)?;
        let mut write = StoreBatch::default();
        for (key, node) in update.nodes {
            write.put(Column::Nodes, key.to_vec(), node);
        }
        for leaf in self.pending.drain(..) {
            let leaf_key = keys::leaf(keys::LEAF_ZKSYNC_BY_KEY, &[&leaf[..32]]);
            write.put(
                Column::History,
                keys::history(&leaf_key, self.batch),
                leaf[32..].to_vec(),
            );
            write.put(Column::Leaves, leaf_key, leaf[32..].to_vec());
            write.put(
                Column::Leaves,
                keys::leaf(keys::LEAF_ZKSYNC_BY_INDEX, &[&leaf[32..40]]),
                leaf[..32].to_vec(),
            );
        }
        self.store.commit(write)?;
        self.pending_indices.clear();
        self.root = update.root;
        Ok(())
    }

    /// Flushes, checks counts and roots, and returns the final write.
    pub fn finish(
        mut self,
        manifest: &SnapshotManifest,
        l1_root: Option<B256>,
    ) -> Result<Finish, SnapshotError> {
        self.flush()?;
        if self.count != manifest.leaves.zksync {
            return Err(SnapshotError::Count {
                what: "ZKsync leaves",
                expected: manifest.leaves.zksync,
                found: self.count,
            });
        }
        // Indices are handed out densely from 1: every one below next_index is a leaf.
        if self.count != self.next_index - 1 {
            return Err(SnapshotError::Count {
                what: "ZKsync leaves below next_index",
                expected: self.next_index - 1,
                found: self.count,
            });
        }
        self.finish_roots(
            &manifest.roots.state_root,
            manifest.claimed_root.clone(),
            l1_root,
        )
    }

    /// The final write once every leaf is in: the root judged against
    /// `expected` (the manifest's) and L1's.
    pub fn finish_roots(
        mut self,
        expected: &str,
        claimed: Option<String>,
        l1_root: Option<B256>,
    ) -> Result<Finish, SnapshotError> {
        self.flush()?;
        let computed = format_word(&self.root);
        check_root("state root", Some(&expected.to_owned()), &computed)?;
        let mut checks = vec![Check::equal("snapshot.manifest_root", expected, &computed)];
        l1_check(l1_root, self.batch, &self.root, &mut checks)?;
        let claimed = l1_root
            .map(|r| format_word(&r))
            .or(claimed)
            .unwrap_or_else(|| expected.to_owned());
        let audit = BatchAudit::judge(self.batch, Some(claimed.clone()), computed, checks);
        let matches = audit.verdict != crate::audit::Verdict::Mismatch;
        let record = BatchRecord {
            batch: self.batch,
            computed_root: self.root,
            claimed_root: parse_hex_word(&claimed),
            matches: Some(matches),
            next_index: self.next_index,
            initial_writes: 0,
            repeated_writes: 0,
        };
        // The snapshot's batch is the floor of this store: nothing below it can
        // be unwound (there is no history below it), so it counts as executed.
        let tip = ZksyncTip {
            batch: self.batch,
            root: self.root,
            next_index: self.next_index,
            last_executed: self.batch,
            last_proven: self.batch,
            verified: if matches { self.batch } else { 0 },
        };
        let mut write = StoreBatch::default();
        write.put(
            Column::Batches,
            keys::batch(self.batch).to_vec(),
            serde_json::to_vec(&record).expect("record serialises"),
        );
        write.put(
            Column::Meta,
            keys::CHECKPOINT,
            serde_json::to_vec(&tip).expect("checkpoint serialises"),
        );
        Ok(Finish { write, audit })
    }

    pub fn count(&self) -> u64 {
        self.count
    }
}
