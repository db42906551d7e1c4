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

use rocksdb::{
    ColumnFamilyDescriptor, DBWithThreadMode, Direction, IteratorMode, MultiThreaded, Options,
    WriteBatch,
};
use serde::{Deserialize, Serialize};

pub mod keys;

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
    pub const ALL: [Column; 7] = [
        Column::Meta,
        Column::Nodes,
        Column::Leaves,
        Column::History,
        Column::Batches,
        Column::Audits,
        Column::Archive,
    ];

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
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    #[error("store at {path} was created for chain {found:?}, not {expected:?}")]
    ChainMismatch {
        path: String,
        expected: String,
        found: String,
    },
    #[error(
        "store at {path} has format version {found}, this build reads version {FORMAT_VERSION}"
    )]
    FormatMismatch { path: String, found: u32 },
    #[error("store at {path} has no manifest: not a zkreplay store, or it was never initialised")]
    MissingManifest { path: String },
    #[error("corrupt {what} in the store: {detail}")]
    Corrupt { what: &'static str, detail: String },
}

/// A raw key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// Identity of a store, written once when it is created and checked on every open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
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
}

impl Store {
    /// Opens the store at `path`, creating it for `chain` if it does not exist,
    /// and refuses a store created for another chain or format version.
    pub fn open(path: &Path, chain: &str) -> Result<Self, StoreError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let descriptors = Column::ALL.iter().map(|c| {
            let mut cf_options = Options::default();
            // Nodes and history are write-once and read by point lookups; compress cold data well.
            cf_options.set_compression_type(rocksdb::DBCompressionType::Lz4);
            ColumnFamilyDescriptor::new(c.name(), cf_options)
        });
        let db =
            DBWithThreadMode::<MultiThreaded>::open_cf_descriptors(&options, path, descriptors)?;
        let store = Store {
            db,
            path: path.display().to_string(),
        };
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
            let options = Options::default();
            let names: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
            let db = DBWithThreadMode::<MultiThreaded>::open_cf_for_read_only(
                &options, path, names, false,
            )?;
            let store = Store {
                db,
                path: path.display().to_string(),
            };
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
        let mut options = Options::default();
        // A secondary keeps every file open; no limit avoids reopen churn.
        options.set_max_open_files(-1);
        let names: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
        let db = DBWithThreadMode::<MultiThreaded>::open_cf_as_secondary(
            &options, path, scratch, names,
        )?;
        let store = Store {
            db,
            path: path.display().to_string(),
        };
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
        Ok(self.db.get_cf(&self.cf(column), key)?)
    }

    /// The entry with the greatest key `<= key` that starts with `prefix`, if any.
    /// Used for time travel: history keys end in a big-endian batch number.
    pub fn get_at_or_before(
        &self,
        column: Column,
        prefix: &[u8],
        key: &[u8],
    ) -> Result<Option<KeyValue>, StoreError> {
        let mut iter = self.db.raw_iterator_cf(&self.cf(column));
        iter.seek_for_prev(key);
        if let (Some(k), Some(v)) = (iter.key(), iter.value())
            && k.starts_with(prefix)
        {
            return Ok(Some((k.to_vec(), v.to_vec())));
        }
        iter.status()?;
        Ok(None)
    }

    /// All entries whose key starts with `prefix`, in key order.
    pub fn scan_prefix(&self, column: Column, prefix: &[u8]) -> Result<Vec<KeyValue>, StoreError> {
        let iter = self.db.iterator_cf(
            &self.cf(column),
            IteratorMode::From(prefix, Direction::Forward),
        );
        let mut out = Vec::new();
        for item in iter {
            let (k, v) = item?;
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
        let iter = self.db.iterator_cf(
            &self.cf(column),
            IteratorMode::From(start, Direction::Forward),
        );
        let mut out = Vec::new();
        for item in iter.take(limit) {
            let (k, v) = item?;
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
        self.db.write(write)?;
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
    pub fn put(&mut self, column: Column, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(Op::Put(column, key.into(), value.into()));
    }

    pub fn delete(&mut self, column: Column, key: impl Into<Vec<u8>>) {
        self.ops.push(Op::Delete(column, key.into()));
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Read access to content-addressed trie nodes. Tries read through this trait
/// and return their new nodes to the caller, who writes them in the batch's
/// [`StoreBatch`] (pathfinder's pattern: the tree never writes by itself).
pub trait NodeReader {
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
mod tests {
    use super::*;

    #[test]
    fn refuses_a_store_of_another_chain() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path(), "starknet-sepolia").unwrap());
        let err = Store::open(dir.path(), "zksync-era-mainnet")
            .err()
            .expect("must refuse");
        assert!(matches!(err, StoreError::ChainMismatch { .. }), "{err}");
        let (_, manifest) = Store::open_existing(dir.path()).unwrap();
        assert_eq!(manifest.chain, "starknet-sepolia");
    }

    #[test]
    fn refuses_another_format_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "c").unwrap();
        let mut batch = StoreBatch::default();
        let manifest = Manifest {
            format_version: FORMAT_VERSION + 1,
            chain: "c".into(),
            rollup: None,
        };
        batch.put(
            Column::Meta,
            keys::MANIFEST,
            serde_json::to_vec(&manifest).unwrap(),
        );
        store.commit(batch).unwrap();
        drop(store);
        assert!(matches!(
            Store::open(dir.path(), "c"),
            Err(StoreError::FormatMismatch { .. })
        ));
    }

    #[test]
    fn seeks_the_latest_entry_at_or_before_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "c").unwrap();
        let mut batch = StoreBatch::default();
        for n in [2u64, 5, 9] {
            batch.put(
                Column::History,
                [b"p".as_slice(), &n.to_be_bytes()].concat(),
                n.to_be_bytes(),
            );
        }
        store.commit(batch).unwrap();
        let at = |n: u64| {
            store
                .get_at_or_before(
                    Column::History,
                    b"p",
                    &[b"p".as_slice(), &n.to_be_bytes()].concat(),
                )
                .unwrap()
                .map(|(_, v)| u64::from_be_bytes(v.try_into().unwrap()))
        };
        assert_eq!(at(1), None);
        assert_eq!(at(5), Some(5));
        assert_eq!(at(8), Some(5));
        assert_eq!(at(100), Some(9));
    }
}
