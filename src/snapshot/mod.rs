//! State snapshots: export a store's state at one batch as a manifest plus
//! zstd-compressed chunks of leaves, and import it into a fresh store by
//! rebuilding the tries from the leaves — accepted only when the recomputed
//! root equals the manifest's root (and, given an L1 endpoint, the root L1
//! accepted for that batch). The format is documented in `snapshots/README.md`.
//!
//! Nothing in a snapshot is trusted: the manifest is read with a size cap,
//! every chunk's SHA-256 and size are checked before it is decompressed, a
//! chunk decompresses through a bounded reader (its leaf count times the
//! largest record, never more than [`MAX_CHUNK_BYTES`]), records are parsed
//! from fixed-width fields, keys must be strictly increasing, and the root
//! decides in the end. An import builds its store in a temporary directory
//! next to the target and renames it into place only when it is complete, so
//! a failed or killed import never leaves a store behind.
//!
//! [`zksync_era`] reads the snapshot-recovery format of Matter Labs'
//! zksync-era (gzip-compressed protobuf storage-log chunks).
#![warn(clippy::arithmetic_side_effects)]

pub mod chunk;
pub mod export;
pub mod fetch;
pub mod import;
pub mod l1;
pub mod manifest;
pub mod sort;
pub mod zksync_era;

pub use export::{ExportOptions, export};
pub use import::{ImportOptions, ImportReport, import};
pub use manifest::SnapshotManifest;

/// Format version of the manifest and the chunk records.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;
/// Largest manifest accepted (bytes); a manifest of 100,000 chunks is ~25 MB.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;
/// Largest chunk accepted, compressed or decompressed (bytes).
pub const MAX_CHUNK_BYTES: u64 = 256 << 20;
/// Most leaves one chunk may hold.
pub const MAX_CHUNK_LEAVES: u64 = 1 << 21;
/// Default leaves per chunk of an export.
pub const DEFAULT_CHUNK_LEAVES: u64 = 100_000;
/// zstd window a chunk may ask for (log2 bytes): 16 MiB bounds the decoder's
/// own buffer whatever the frame header claims.
pub const MAX_ZSTD_WINDOW_LOG: u32 = 24;

/// Why an export or an import failed. Every way a snapshot can be wrong has
/// its own variant; an import that returns any of them left no store behind.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("Starknet state: {0}")]
    Starknet(#[from] crate::rollup::starknet::state::StateError),
    #[error("Starknet trie: {0}")]
    StarknetTrie(#[from] crate::rollup::starknet::trie::TrieError),
    #[error("ZKsync state: {0}")]
    Zksync(#[from] crate::rollup::zksync::state::StateError),
    #[error("ZKsync tree: {0}")]
    ZksyncTree(#[from] crate::rollup::zksync::tree::TreeError),
    #[error("no store for {wanted:?} under {dir}")]
    NoStore { dir: String, wanted: String },
    #[error("the store has no state at batch {batch} (it holds batches up to {last:?})")]
    NoSuchBatch { batch: u64, last: Option<u64> },
    #[error("output directory {0} is not empty")]
    OutputNotEmpty(String),
    #[error("a store already exists at {0} (from another snapshot or a follower)")]
    TargetExists(String),
    #[error("manifest: {0}")]
    Manifest(String),
    #[error("manifest is larger than {MAX_MANIFEST_BYTES} bytes")]
    ManifestTooLarge,
    #[error("unsupported snapshot format version {0} (this build reads {SNAPSHOT_FORMAT_VERSION})")]
    FormatVersion(u32),
    #[error("chunk {file}: SHA-256 {found} differs from the manifest's {expected}")]
    Checksum {
        file: String,
        expected: String,
        found: String,
    },
    #[error("chunk {file}: {found} bytes on disk, the manifest says {expected}")]
    ChunkSize {
        file: String,
        expected: u64,
        found: u64,
    },
    #[error(
        "chunk {file}: decompresses to more than its cap of {cap} bytes (oversized chunk or decompression bomb)"
    )]
    Oversized { file: String, cap: u64 },
    #[error("chunk {file}: cannot decompress: {detail}")]
    Decompress { file: String, detail: String },
    #[error("chunk {file}: {detail}")]
    Record { file: String, detail: String },
    #[error("snapshot leaves out of order or repeated at leaf {leaf}: {detail}")]
    Order { leaf: u64, detail: String },
    #[error("{what}: the snapshot holds {found}, the manifest says {expected}")]
    Count {
        what: &'static str,
        expected: u64,
        found: u64,
    },
    #[error("recomputed {what} {computed} differs from the manifest's {expected}")]
    RootMismatch {
        what: &'static str,
        expected: String,
        computed: String,
    },
    #[error("L1 accepted root {l1} for batch {batch}, the snapshot's root is {snapshot}")]
    L1RootMismatch {
        batch: u64,
        l1: String,
        snapshot: String,
    },
    #[error("L1 check: {0}")]
    L1(String),
    #[error("zksync-era snapshot: {0}")]
    Era(String),
    #[error("zksync-era snapshot: factory dependency {index}: {source}")]
    FactoryDep {
        index: u64,
        #[source]
        source: zksync_era::BytecodeError,
    },
}

impl SnapshotError {
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| SnapshotError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The store of `wanted` (a chain name, or a rollup family when it names
/// one store) under `dir`: `dir` itself when it is a store, else
/// `dir/<chain>` as `follow` lays them out.
pub fn find_store(
    dir: &std::path::Path,
    wanted: &str,
) -> Result<std::path::PathBuf, SnapshotError> {
    let mut matches = Vec::new();
    for path in crate::store::discover(dir) {
        // Read-only: no lock, so a follower may be writing the store (an
        // export reads it as a secondary instance), and nothing in it changes.
        let manifest = crate::store::Store::open_read_only(&path)?
            .manifest()?
            .ok_or_else(|| crate::store::StoreError::MissingManifest {
                path: path.display().to_string(),
            })?;
        if manifest.chain == wanted || manifest.rollup() == Some(wanted) {
            matches.push(path);
        }
    }
    match matches.len() {
        1 => Ok(matches.remove(0)),
        _ => Err(SnapshotError::NoStore {
            dir: dir.display().to_string(),
            wanted: wanted.to_owned(),
        }),
    }
}

/// A chain name is used as a directory name: refuse anything but
/// `[A-Za-z0-9._-]` (and `.`/`..`), since it comes from an untrusted manifest.
pub fn check_chain_name(name: &str) -> Result<(), SnapshotError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name != "."
        && name != ".."
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(SnapshotError::Manifest(format!(
            "chain name {name:?} is not a plain directory name"
        )))
    }
}
