//! The RocksDB store: one database per rollup chain, named column families,
//! and atomic per-batch commits.
//!
//! Every change that belongs to one batch (trie nodes, flat leaves, history,
//! batch record, checkpoint) goes into one [`StoreBatch`] and is written with
//! one RocksDB write batch, so after a crash at any instant the store sits at
//! a batch boundary. The write-ahead log is on and not fsynced per batch: a
//! killed process loses nothing the OS already holds; only power loss can drop
//! the newest batches, and then the store is still at an earlier boundary.
//!
//! Key encodings of every column live in [`keys`].

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBWithThreadMode, Direction, IteratorMode,
    MultiThreaded, Options, ReadOptions, WriteBatch,
};
use serde::{Deserialize, Serialize};

mod damage;
use damage::{is_missing_file, open_error};
pub mod keys;
pub mod verify;

/// Bumped whenever a key encoding or value layout changes incompatibly.
pub const FORMAT_VERSION: u32 = 2;

/// The column families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// Manifest and checkpoint.
    Meta,
    /// Merkle trie nodes, content-addressed by hash (never deleted, so every past root stays provable).
    Nodes,
    /// Current flat values (storage slots, contract records, class leaves, ZKsync leaves).
    Leaves,
    /// Value of every leaf as of each batch that changed it, for time travel.
    History,
    /// Per-batch records: roots and DA summary.
    Batches,
    /// Per-batch audit verdicts: claimed vs computed root and every check.
    Audits,
    /// Every DA payload fetched from L1 (blobs, calldata), zstd-compressed, so a replay never needs the network twice.
    Archive,
}

impl Column {
    /// Every column family, in the order they are opened and verified.
    pub const ALL: [Column; 7] = [
        Column::Meta,
        Column::Nodes,
        Column::Leaves,
        Column::History,
        Column::Batches,
        Column::Audits,
        Column::Archive,
    ];

    /// RocksDB column-family name.
    pub fn name(self) -> &'static str {
        match self {
            Column::Meta => "meta",
            Column::Nodes => "nodes",
            Column::Leaves => "leaves",
            Column::History => "history",
            Column::Batches => "batches",
            Column::Audits => "audits",
            Column::Archive => "archive",
        }
    }
}

/// The stores under `dir`: `dir` itself when it is a store, else every
/// immediate subdirectory that is one (`follow` keeps one store per chain
/// under its data directory), sorted by name.
pub fn discover(dir: &Path) -> Vec<std::path::PathBuf> {
    let is_store = |p: &Path| p.join("CURRENT").is_file();
    if is_store(dir) {
        return vec![dir.to_path_buf()];
    }
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        // `.name` directories are work in progress (an unfinished snapshot import).
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .filter(|p| is_store(p))
        .collect();
    found.sort();
    found
}

/// Store-layer errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB refused an operation (I/O, lock held by another process, ...).
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// The store was created for another chain; opening it for this one is refused.
    #[error("store at {path} was created for chain {found:?}, not {expected:?}")]
    ChainMismatch {
        /// Store directory.
        path: String,
        /// Chain name asked for.
        expected: String,
        /// Chain name in the store's manifest.
        found: String,
    },
    /// The store's key or value layout version is not `FORMAT_VERSION`; rebuild or re-import it.
    #[error(
        "store at {path} has format version {found}, this build reads version {FORMAT_VERSION}"
    )]
    FormatMismatch {
        /// Store directory.
        path: String,
        /// Format version in the store's manifest.
        found: u32,
    },
    /// The directory has no store manifest.
    #[error("store at {path} has no manifest: not a zkreplay store, or it was never initialised")]
    MissingManifest {
        /// Store directory.
        path: String,
    },
    /// A stored value does not decode (a bug or a manual edit; RocksDB checksums passed).
    #[error("corrupt {what} in the store: {detail}")]
    Corrupt {
        /// Which kind of value (e.g. `audit`, `checkpoint`).
        what: &'static str,
        /// Decoder error or offending length.
        detail: String,
    },
    /// RocksDB found a file of the store damaged (a block that fails its
    /// checksum, a truncated or missing table file). Never mapped to "absent":
    /// a damaged store must not answer.
    #[error(
        "store at {path} is damaged: {problem}; run `zkreplay verify --data-dir {path}` and \
         restore the store from a backup or rebuild it"
    )]
    Damaged {
        /// Store directory.
        path: String,
        /// What RocksDB reported (e.g. which file failed its checksum).
        problem: String,
    },
}

impl StoreError {
    /// Whether this error says the store's files are damaged.
    pub fn is_damage(&self) -> bool {
        matches!(self, StoreError::Damaged { .. })
    }
}

/// The short problem of a [`StoreError::Damaged`] (e.g. "file 000011.sst
/// failed its checksum") found in the text of any error that wraps one, so
/// layers that only see a rendered error (the API) can say what is wrong
/// without quoting paths.
pub fn damage_summary(text: &str) -> Option<&str> {
    let start = text.find(DAMAGED_MARK)? + DAMAGED_MARK.len();
    let rest = &text[start..];
    let end = rest.find([';', '(']).unwrap_or(rest.len());
    Some(rest[..end].trim())
}

/// What [`StoreError::Damaged`] renders before its problem.
const DAMAGED_MARK: &str = " is damaged: ";

/// A raw key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// Identity of a store, written once when it is created and checked on every open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Key and value layout version, `FORMAT_VERSION` at creation.
    pub format_version: u32,
    /// Chain identity, e.g. `starknet-sepolia` or `zksync-era-mainnet`.
    pub chain: String,
    /// Rollup family (`starknet` or `zksync`), set by the first engine that
    /// writes the store; older stores fall back to the chain name's prefix.
    #[serde(default)]
    pub rollup: Option<String>,
}

impl Manifest {
    /// The rollup family, when known.
    pub fn kind(&self) -> Option<crate::chain::RollupKind> {
        self.rollup().and_then(crate::chain::RollupKind::from_name)
    }

    /// `starknet` or `zksync`, when known.
    pub fn rollup(&self) -> Option<&str> {
        self.rollup.as_deref().or_else(|| {
            ["starknet", "zksync"]
                .into_iter()
                .find(|kind| self.chain.starts_with(kind))
        })
    }
}

/// An open store.
pub struct Store {
    db: DBWithThreadMode<MultiThreaded>,
    path: String,
    damage: Damage,
}

/// Damage met by reads of one open store: counted for `/metrics`, and once
/// any is met the store refuses every later read ([`Store::damage`]), because
/// a store that lost one file can answer "absent" for a key that file held.
#[derive(Default)]
struct Damage {
    /// Set once `first` is; the per-read check loads only this.
    seen: std::sync::atomic::AtomicBool,
    errors: AtomicU64,
    first: Mutex<Option<String>>,
    /// `verify` reads on past damage to report every damaged file.
    keep_reading: std::sync::atomic::AtomicBool,
}

/// Database options shared by every way of opening a store: RocksDB's own
/// protections on. `paranoid_checks` makes open fail on a table file that is
/// truncated, missing or has a bad footer or index (instead of opening
/// without it) and stops writes after a background error; block checksums are
/// verified on every read ([`read_options`]) and, always in RocksDB, by
/// compaction, which therefore never copies a damaged block forward.
fn db_options() -> Options {
    let mut options = Options::default();
    options.set_paranoid_checks(true);
    // One memtable budget for all column families together: RocksDB's default
    // is 64 MiB per family (and up to two per family while one flushes), so a
    // follower's memory grew with the data written until each family's
    // memtable filled, up to about 900 MiB over 7 families.
    options.set_db_write_buffer_size(MEMTABLE_BUDGET_BYTES);
    // One block cache for all column families, holding the table files'
    // index and filter blocks too. By default each family has its own
    // 32 MiB cache, and every open table file keeps its index and filter
    // blocks on the heap outside any cache (all files stay open), which grows
    // with the store's size. On the devnet this changed little (the growth
    // measured there was the allocator's, see lib.rs); it bounds what a
    // mainnet-sized store would add. L0 files' blocks stay pinned, as they
    // are read on every lookup.
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(&Cache::new_lru_cache(BLOCK_CACHE_BYTES));
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    options.set_block_based_table_factory(&table);
    options
}

/// The store's memtables, all column families together.
const MEMTABLE_BUDGET_BYTES: usize = 64 << 20;

/// The store's block cache (data, index and filter blocks), all column families together.
const BLOCK_CACHE_BYTES: usize = 64 << 20;

/// Read options of every read: checksums verified (RocksDB's default, stated
/// here so that no later change can drop it silently).
fn read_options() -> ReadOptions {
    let mut options = ReadOptions::default();
    options.set_verify_checksums(true);
    options
}

impl Store {
    /// Opens the store at `path`, creating it for `chain` if it does not exist,
    /// and refuses a store created for another chain or format version.
    pub fn open(path: &Path, chain: &str) -> Result<Self, StoreError> {
        let mut options = db_options();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let descriptors = Column::ALL.iter().map(|c| {
            // The database's options, so that every family shares its block cache.
            let mut cf_options = options.clone();
            // Nodes and history are write-once and read by point lookups; compress cold data well.
            cf_options.set_compression_type(rocksdb::DBCompressionType::Lz4);
            ColumnFamilyDescriptor::new(c.name(), cf_options)
        });
        let db =
            DBWithThreadMode::<MultiThreaded>::open_cf_descriptors(&options, path, descriptors)
                .map_err(|e| open_error(path, e))?;
        let store = Store::wrap(db, path);
        store.check_files()?;
        match store.manifest()? {
            Some(found) => {
                if found.format_version != FORMAT_VERSION {
                    return Err(StoreError::FormatMismatch {
                        path: store.path,
                        found: found.format_version,
                    });
                }
                if found.chain != chain {
                    return Err(StoreError::ChainMismatch {
                        path: store.path,
                        expected: chain.to_owned(),
                        found: found.chain,
                    });
                }
            }
            None => {
                let manifest = Manifest {
                    format_version: FORMAT_VERSION,
                    chain: chain.to_owned(),
                    rollup: None,
                };
                let mut batch = StoreBatch::default();
                batch.put(
                    Column::Meta,
                    keys::MANIFEST,
                    serde_json::to_vec(&manifest).expect("manifest serialises"),
                );
                store.commit(batch)?;
            }
        }
        Ok(store)
    }

    /// Opens an existing store without knowing its chain (read-only tools, `status`).
    pub fn open_existing(path: &Path) -> Result<(Self, Manifest), StoreError> {
        let chain = {
            let store = Store::open_read_only(path)?;
            store
                .manifest()?
                .ok_or(StoreError::MissingManifest {
                    path: store.path.clone(),
                })?
                .chain
        };
        let store = Store::open(path, &chain)?;
        let manifest = store.manifest()?.ok_or(StoreError::MissingManifest {
            path: store.path.clone(),
        })?;
        Ok((store, manifest))
    }

    /// Opens a read-only follower of a store another process writes (RocksDB
    /// secondary instance); call [`Store::catch_up`] to see newer commits.
    /// `scratch` holds the secondary's own logs.
    pub fn open_secondary(path: &Path, scratch: &Path) -> Result<(Self, Manifest), StoreError> {
        // A secondary instance tolerates table files it cannot open (its
        // primary may have deleted them) by falling back to the newest
        // version whose files all open: on a damaged store it would silently
        // serve an older state (a value of 0 where the real one is not,
        // "batch N is not applied yet", "no manifest"). So the store is
        // first opened read-only, which applies the paranoid checks and
        // fails naming the file, and only then as a secondary.
        drop(Store::open_read_only(path)?);
        let mut options = db_options();
        // A secondary keeps every file open; no limit avoids reopen churn.
        options.set_max_open_files(-1);
        let names: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
        let db =
            DBWithThreadMode::<MultiThreaded>::open_cf_as_secondary(&options, path, scratch, names)
                .map_err(|e| open_error(path, e))?;
        let store = Store::wrap(db, path);
        store.check_files()?;
        let manifest = store.manifest()?.ok_or(StoreError::MissingManifest {
            path: store.path.clone(),
        })?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(StoreError::FormatMismatch {
                path: store.path,
                found: manifest.format_version,
            });
        }
        Ok((store, manifest))
    }

    /// A read-only instance (no lock, so a writer may hold the store), with
    /// the paranoid checks: every table file is opened and its size checked.
    /// A writer's compaction can delete a file while this opens, so a missing
    /// file is retried a few times before it counts as damage.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let mut options = db_options();
        // Open every table file now, so that a bad one fails the open.
        options.set_max_open_files(-1);
        let names: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
        let mut attempt = 0;
        loop {
            match DBWithThreadMode::<MultiThreaded>::open_cf_for_read_only(
                &options,
                path,
                names.iter(),
                false,
            ) {
                Ok(db) => {
                    let store = Store::wrap(db, path);
                    match store.check_files() {
                        Err(StoreError::Damaged { .. }) if attempt < 3 => {}
                        other => return other.map(|()| store),
                    }
                }
                Err(e) if attempt < 3 && is_missing_file(&e) => {}
                Err(e) => return Err(open_error(path, e)),
            }
            attempt += 1;
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    fn wrap(db: DBWithThreadMode<MultiThreaded>, path: &Path) -> Self {
        Store {
            db,
            path: path.display().to_string(),
            damage: Damage::default(),
        }
    }

    /// The store's directory.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The table files of the store's current version.
    pub fn live_files(&self) -> Result<Vec<rocksdb::LiveFile>, StoreError> {
        self.db.live_files().map_err(|e| self.read_error(e))
    }

    /// Writes every memtable to table files (tools and tests that need the
    /// data on disk, e.g. to check it file by file).
    pub fn flush(&self) -> Result<(), StoreError> {
        for column in Column::ALL {
            self.db.flush_cf(&self.cf(column))?;
        }
        Ok(())
    }

    /// Catches a secondary instance up with its primary; a no-op error on a primary is ignored.
    pub fn catch_up(&self) -> Result<(), StoreError> {
        match self.db.try_catch_up_with_primary() {
            Ok(()) => Ok(()),
            // A primary instance reports "Not supported": it is always current.
            Err(e) if e.kind() == rocksdb::ErrorKind::NotSupported => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The manifest, if the store was initialised.
    pub fn manifest(&self) -> Result<Option<Manifest>, StoreError> {
        self.get(Column::Meta, keys::MANIFEST)?
            .map(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                    what: "manifest",
                    detail: e.to_string(),
                })
            })
            .transpose()
    }

    /// Records the rollup family in the manifest; refuses a store that already
    /// holds another family's state.
    pub fn claim_rollup(&self, kind: crate::chain::RollupKind) -> Result<(), StoreError> {
        let rollup = kind.as_str();
        let mut manifest = self.manifest()?.ok_or(StoreError::MissingManifest {
            path: self.path.clone(),
        })?;
        match manifest.rollup.as_deref() {
            Some(existing) if existing == rollup => Ok(()),
            Some(existing) => Err(StoreError::ChainMismatch {
                path: self.path.clone(),
                expected: rollup.to_owned(),
                found: existing.to_owned(),
            }),
            None => {
                manifest.rollup = Some(rollup.to_owned());
                let mut batch = StoreBatch::default();
                batch.put(
                    Column::Meta,
                    keys::MANIFEST,
                    serde_json::to_vec(&manifest).expect("manifest serialises"),
                );
                self.commit(batch)
            }
        }
    }

    /// Point lookup.
    pub fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.refuse_if_damaged()?;
        self.db
            .get_cf_opt(&self.cf(column), key, &read_options())
            .map_err(|e| self.read_error(e))
    }

    /// The entry with the greatest key `<= key` that starts with `prefix`, if any.
    /// Used for time travel: history keys end in a big-endian batch number.
    pub fn get_at_or_before(
        &self,
        column: Column,
        prefix: &[u8],
        key: &[u8],
    ) -> Result<Option<KeyValue>, StoreError> {
        self.refuse_if_damaged()?;
        let mut iter = self
            .db
            .raw_iterator_cf_opt(&self.cf(column), read_options());
        iter.seek_for_prev(key);
        // Status first: an iterator that met a damaged block may still sit on
        // an older entry of the same prefix, which would be a wrong answer.
        iter.status().map_err(|e| self.read_error(e))?;
        if let (Some(k), Some(v)) = (iter.key(), iter.value())
            && k.starts_with(prefix)
        {
            return Ok(Some((k.to_vec(), v.to_vec())));
        }
        Ok(None)
    }

    /// All entries whose key starts with `prefix`, in key order.
    pub fn scan_prefix(&self, column: Column, prefix: &[u8]) -> Result<Vec<KeyValue>, StoreError> {
        self.refuse_if_damaged()?;
        let iter = self.db.iterator_cf_opt(
            &self.cf(column),
            read_options(),
            IteratorMode::From(prefix, Direction::Forward),
        );
        let mut out = Vec::new();
        for item in iter {
            let (k, v) = item.map_err(|e| self.read_error(e))?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    /// Up to `limit` entries with keys `>= start`, in key order.
    pub fn scan_from(
        &self,
        column: Column,
        start: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StoreError> {
        self.refuse_if_damaged()?;
        let iter = self.db.iterator_cf_opt(
            &self.cf(column),
            read_options(),
            IteratorMode::From(start, Direction::Forward),
        );
        let mut out = Vec::new();
        for item in iter.take(limit) {
            let (k, v) = item.map_err(|e| self.read_error(e))?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    /// Writes a batch atomically.
    pub fn commit(&self, batch: StoreBatch) -> Result<(), StoreError> {
        let mut write = WriteBatch::default();
        for op in batch.ops {
            match op {
                Op::Put(column, key, value) => write.put_cf(&self.cf(column), key, value),
                Op::Delete(column, key) => write.delete_cf(&self.cf(column), key),
            }
        }
        self.db.write(write).map_err(|e| self.read_error(e))?;
        Ok(())
    }

    fn cf(&self, column: Column) -> std::sync::Arc<rocksdb::BoundColumnFamily<'_>> {
        self.db
            .cf_handle(column.name())
            .expect("every column family is created on open")
    }
}

/// Changes buffered for one atomic commit.
#[derive(Debug, Default)]
pub struct StoreBatch {
    ops: Vec<Op>,
}

#[derive(Debug)]
enum Op {
    Put(Column, Vec<u8>, Vec<u8>),
    Delete(Column, Vec<u8>),
}

impl StoreBatch {
    /// Queues a write of `key` in `column`.
    pub fn put(&mut self, column: Column, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(Op::Put(column, key.into(), value.into()));
    }

    /// Queues a deletion of `key` in `column`.
    pub fn delete(&mut self, column: Column, key: impl Into<Vec<u8>>) {
        self.ops.push(Op::Delete(column, key.into()));
    }

    /// Operations queued.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Read access to content-addressed trie nodes. Tries read through this trait
/// and return their new nodes to the caller, who writes them in the batch's
/// [`StoreBatch`] (pathfinder's pattern: the tree never writes by itself).
pub trait NodeReader {
    /// The encoded node stored under `key`, `None` when absent.
    fn node(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
}

impl NodeReader for Store {
    fn node(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(Column::Nodes, key)
    }
}

/// An in-memory node map, for tests and benchmarks that do not need RocksDB.
impl NodeReader for std::collections::HashMap<Vec<u8>, Vec<u8>> {
    fn node(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get(key).cloned())
    }
}

#[cfg(test)]
mod tests;
