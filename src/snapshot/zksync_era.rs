//! Import of zksync-era snapshot-recovery snapshots (Matter Labs' format), so
//! a store can start from the snapshots Matter Labs publishes.
//!
//! The format (zksync-era `core/lib/types/src/snapshots.rs` and
//! `core/lib/types/src/proto/mod.proto`):
//! * a header, JSON with camelCase keys: `l1BatchNumber`, `storageLogsChunks`
//!   (`chunkId`, `filepath`), `factoryDepsFilepath`, and in the headers that
//!   carry it `lastL1BatchWithMetadata.metadata.root_hash` (the tree root)
//!   and `.rollup_last_leaf_index` (the next free enumeration index);
//! * storage-log chunks `snapshot_l1_batch_<N>_storage_logs_part_<id>.proto.gzip`:
//!   gzip-compressed protobuf `SnapshotStorageLogsChunk` of
//!   `SnapshotStorageLog { hashed_key | account_address + storage_key,
//!   storage_value, l1_batch_number_of_initial_write, enumeration_index }`;
//! * factory deps `snapshot_l1_batch_<N>_factory_deps.proto.gzip`:
//!   gzip-compressed protobuf `SnapshotFactoryDependencies`.
//!
//! The message structs and their decoders below are written by hand from
//! that `.proto` (field numbers and wire types as published; no build script). The header's own
//! root is only a claim: the tree is rebuilt from the logs and must
//! reproduce it (and L1's root, when the caller read one). The era format
//! has no per-chunk checksums, so every storage-log chunk is capped at
//! [`MAX_CHUNK_BYTES`] compressed and decompressed (a gzip bomb is refused)
//! and every log is checked field by field. The factory-deps file is
//! streamed one dependency at a time, each capped at
//! [`MAX_FACTORY_DEP_BYTES`] ([`stream_factory_deps`]).
//!
//! Factory deps are verified, then dropped: zkreplay serves storage, not
//! bytecode, so no store keeps them. Each must carry a bytecode of a valid
//! ZKsync length and, when it names a hash (current snapshots do), the hash
//! must be that bytecode's ([`check_factory_dep`]), exactly as zksync-era's
//! own snapshot applier checks them before it inserts them.

use std::io::Read;
use std::path::{Path, PathBuf};

use alloy_primitives::{Address, B256};
use serde_json::Value as Json;

use super::import::{Finish, ZksyncBuilder};
use super::sort::{LeafSorter, zk_leaf};
use super::{MAX_CHUNK_BYTES, MAX_MANIFEST_BYTES, SnapshotError};
use crate::rollup::zksync::bytecode::{self, BytecodeError, MAX_BYTECODE_WORDS};

/// Header file name this importer looks for inside a snapshot directory.
pub const HEADER_FILE: &str = "snapshot_header.json";

/// `SnapshotStorageLogsChunk` of zksync-era's `mod.proto`:
/// `repeated SnapshotStorageLog storage_logs = 1;`
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotStorageLogsChunk {
    /// Field 1: the chunk's storage logs.
    pub storage_logs: Vec<SnapshotStorageLog>,
}

/// `SnapshotStorageLog` of zksync-era's `mod.proto`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotStorageLog {
    /// Field 1, obsolete (old snapshots): H160.
    pub account_address: Option<Vec<u8>>,
    /// Field 2, obsolete (old snapshots): H256.
    pub storage_key: Option<Vec<u8>>,
    /// Field 6: the derived key (H256), in current snapshots.
    pub hashed_key: Option<Vec<u8>>,
    /// Field 3, required: H256.
    pub storage_value: Option<Vec<u8>>,
    /// Field 4 (uint32), required.
    pub l1_batch_number_of_initial_write: Option<u32>,
    /// Field 5 (uint64), required.
    pub enumeration_index: Option<u64>,
}

/// `SnapshotFactoryDependencies` of zksync-era's `mod.proto`:
/// `repeated SnapshotFactoryDependency factory_deps = 1;`
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotFactoryDependencies {
    /// Field 1: the factory dependencies (contract bytecodes).
    pub factory_deps: Vec<SnapshotFactoryDependency>,
}

/// `SnapshotFactoryDependency` of zksync-era's `mod.proto`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotFactoryDependency {
    /// Field 1, required.
    pub bytecode: Option<Vec<u8>>,
    /// Field 2: the bytecode hash (missing in old snapshots, whose deps
    /// are all EraVM bytecode).
    pub hash: Option<Vec<u8>>,
}

// The protobuf wire format, decoded by hand: the four messages use only
// varints (wire type 0) and length-delimited bytes/messages (wire type 2).
// (`prost`'s derive was the first choice; its build dependencies change the
// feature set of RocksDB's bindgen and force a 15-minute rebuild of RocksDB
// in every build directory, for four flat messages.) Unknown fields of any
// wire type are skipped, as protobuf requires; every length is checked
// against the bytes actually left, so no length field can make it allocate.

/// Why bytes are not a valid message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtoError {
    /// A field or length runs past the end; holds the byte offset.
    #[error("truncated at byte {0}")]
    Truncated(usize),
    /// A varint has more than 10 bytes; holds its offset.
    #[error("varint longer than 10 bytes at byte {0}")]
    LongVarint(usize),
    /// A known field has the wrong wire type.
    #[error("field {field} has wire type {wire}, expected {expected}")]
    WireType {
        /// Field number.
        field: u64,
        /// Wire type found.
        wire: u64,
        /// Wire type the schema requires.
        expected: u64,
    },
    /// A wire type other than 0, 1, 2 or 5 (groups are not supported).
    #[error("unsupported wire type {wire} at byte {at}")]
    UnknownWireType {
        /// Wire type found.
        wire: u64,
        /// Byte offset of the field's tag.
        at: usize,
    },
    /// A varint does not fit its field's type (e.g. a `uint32` above 2^32 - 1); holds the field number.
    #[error("field {0} does not fit its type")]
    Range(u64),
}

/// A cursor over one message's bytes.
struct Wire<'a> {
    bytes: &'a [u8],
    pos: usize,
}

enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

impl<'a> Wire<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Wire { bytes, pos: 0 }
    }

    /// The next `len` bytes, checked against the bytes left.
    fn take(&mut self, len: usize) -> Result<&'a [u8], ProtoError> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let (taken, _) = rest
            .split_at_checked(len)
            .ok_or(ProtoError::Truncated(self.bytes.len()))?;
        // `pos + len` is at most the message length: no overflow.
        self.pos = self.pos.saturating_add(len);
        Ok(taken)
    }

    fn varint(&mut self) -> Result<u64, ProtoError> {
        let start = self.pos;
        let mut value = 0u64;
        // Ten groups of seven bits: shifts 0, 7, ..., 63.
        for shift in (0..70).step_by(7) {
            let byte = *self
                .bytes
                .get(self.pos)
                .ok_or(ProtoError::Truncated(self.pos))?;
            // Below the message length, so one more does not overflow.
            self.pos = self.pos.saturating_add(1);
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtoError::LongVarint(start))
    }

    /// The next field: (number, value); `None` at the end of the message.
    fn field(&mut self) -> Result<Option<(u64, Value<'a>)>, ProtoError> {
        loop {
            if self.pos == self.bytes.len() {
                return Ok(None);
            }
            let at = self.pos;
            let key = self.varint()?;
            let (number, wire) = (key >> 3, key & 7);
            match wire {
                0 => return Ok(Some((number, Value::Varint(self.varint()?)))),
                2 => {
                    let len = self.varint()?;
                    let len = usize::try_from(len)
                        .map_err(|_| ProtoError::Truncated(self.bytes.len()))?;
                    let bytes = self.take(len)?;
                    return Ok(Some((number, Value::Bytes(bytes))));
                }
                // Unknown fields of fixed width are skipped.
                1 | 5 => {
                    let width = if wire == 1 { 8 } else { 4 };
                    self.take(width)?;
                }
                _ => return Err(ProtoError::UnknownWireType { wire, at }),
            }
        }
    }
}

fn bytes_of(number: u64, value: Value<'_>) -> Result<Vec<u8>, ProtoError> {
    match value {
        Value::Bytes(b) => Ok(b.to_vec()),
        Value::Varint(_) => Err(ProtoError::WireType {
            field: number,
            wire: 0,
            expected: 2,
        }),
    }
}

fn varint_of(number: u64, value: Value<'_>) -> Result<u64, ProtoError> {
    match value {
        Value::Varint(v) => Ok(v),
        Value::Bytes(_) => Err(ProtoError::WireType {
            field: number,
            wire: 2,
            expected: 0,
        }),
    }
}

impl SnapshotStorageLogsChunk {
    /// Decodes the message, skipping unknown fields.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtoError> {
        let mut wire = Wire::new(bytes);
        let mut chunk = SnapshotStorageLogsChunk::default();
        while let Some((number, value)) = wire.field()? {
            if number == 1 {
                let inner = match value {
                    Value::Bytes(b) => b,
                    Value::Varint(_) => {
                        return Err(ProtoError::WireType {
                            field: 1,
                            wire: 0,
                            expected: 2,
                        });
                    }
                };
                chunk.storage_logs.push(SnapshotStorageLog::decode(inner)?);
            }
        }
        Ok(chunk)
    }
}

impl SnapshotStorageLog {
    /// Decodes the message, skipping unknown fields.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtoError> {
        let mut wire = Wire::new(bytes);
        let mut log = SnapshotStorageLog::default();
        while let Some((number, value)) = wire.field()? {
            match number {
                1 => log.account_address = Some(bytes_of(number, value)?),
                2 => log.storage_key = Some(bytes_of(number, value)?),
                3 => log.storage_value = Some(bytes_of(number, value)?),
                4 => {
                    let v = varint_of(number, value)?;
                    log.l1_batch_number_of_initial_write =
                        Some(u32::try_from(v).map_err(|_| ProtoError::Range(number))?);
                }
                5 => log.enumeration_index = Some(varint_of(number, value)?),
                6 => log.hashed_key = Some(bytes_of(number, value)?),
                _ => {}
            }
        }
        Ok(log)
    }

    /// The tree leaf this log describes: derived key (the hashed key, or
    /// derived from address and key in older snapshots), enumeration index,
    /// value; or what is missing or malformed.
    pub fn leaf(&self) -> Result<(B256, u64, B256), &'static str> {
        let derived = match (&self.hashed_key, &self.account_address, &self.storage_key) {
            (Some(hashed), _, _) => word(hashed).ok_or("hashed_key is not 32 bytes")?,
            (None, Some(address), Some(key)) => {
                if address.len() != 20 {
                    return Err("account_address is not 20 bytes");
                }
                let key = word(key).ok_or("storage_key is not 32 bytes")?;
                crate::rollup::zksync::derived_key(&Address::from_slice(address), &key)
            }
            _ => return Err("no hashed_key (nor account_address and storage_key)"),
        };
        let value = self
            .storage_value
            .as_deref()
            .and_then(word)
            .ok_or("storage_value missing or not 32 bytes")?;
        let index = self.enumeration_index.ok_or("enumeration_index missing")?;
        if self.l1_batch_number_of_initial_write.is_none() {
            return Err("l1_batch_number_of_initial_write missing");
        }
        Ok((derived, index, value))
    }
}

impl SnapshotFactoryDependencies {
    /// Decodes a whole (decompressed) factory-deps message; the import
    /// streams it instead ([`stream_factory_deps`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, SnapshotError> {
        let mut deps = SnapshotFactoryDependencies::default();
        stream_factory_deps(bytes, "factory deps", |dep| {
            deps.factory_deps.push(dep);
            Ok(())
        })?;
        Ok(deps)
    }
}

impl SnapshotFactoryDependency {
    /// Decodes one `SnapshotFactoryDependency` message (bytecode = 1,
    /// hash = 2), skipping unknown fields.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtoError> {
        let mut wire = Wire::new(bytes);
        let mut dep = SnapshotFactoryDependency::default();
        while let Some((number, value)) = wire.field()? {
            match number {
                1 => dep.bytecode = Some(bytes_of(number, value)?),
                2 => dep.hash = Some(bytes_of(number, value)?),
                _ => {}
            }
        }
        Ok(dep)
    }
}

/// The largest encoded factory dependency: the longest bytecode
/// ([`MAX_BYTECODE_WORDS`] words), a 32-byte hash, and their tags and lengths.
pub const MAX_FACTORY_DEP_BYTES: u64 = MAX_BYTECODE_WORDS as u64 * 32 + 64;

/// Reads a decompressed `SnapshotFactoryDependencies` stream one dependency
/// at a time and hands each to `each`, in file order. Memory holds one
/// dependency (at most [`MAX_FACTORY_DEP_BYTES`], checked before reading
/// it), whatever the file's size: Era mainnet's factory deps are every
/// bytecode ever deployed, far more than one chunk's cap. A stream of
/// zeros (field number 0, which protobuf forbids) is refused at its first
/// byte; a long stream of valid deps costs one hash per dependency.
pub fn stream_factory_deps(
    reader: impl Read,
    name: &str,
    mut each: impl FnMut(SnapshotFactoryDependency) -> Result<(), SnapshotError>,
) -> Result<(), SnapshotError> {
    let mut reader = std::io::BufReader::new(reader);
    let mut at = 0u64;
    let mut buf = Vec::new();
    let bad = |at: u64, what: String| era(format!("{name}: at byte {at}: {what}"));
    let io = |e: std::io::Error| SnapshotError::Decompress {
        file: name.to_owned(),
        detail: e.to_string(),
    };
    while let Some(key) = read_varint(&mut reader, &mut at, name)? {
        let (number, wire) = (key >> 3, key & 7);
        if number == 0 {
            return Err(bad(at, "field number 0".into()));
        }
        let skip = match wire {
            0 => {
                read_varint(&mut reader, &mut at, name)?
                    .ok_or_else(|| bad(at, "truncated varint".into()))?;
                0
            }
            1 => 8,
            5 => 4,
            2 => {
                let len = read_varint(&mut reader, &mut at, name)?
                    .ok_or_else(|| bad(at, "truncated length".into()))?;
                if number != 1 {
                    len
                } else {
                    if len > MAX_FACTORY_DEP_BYTES {
                        return Err(bad(
                            at,
                            format!(
                                "a factory dependency of {len} bytes (the longest bytecode and its hash take {MAX_FACTORY_DEP_BYTES})"
                            ),
                        ));
                    }
                    buf.clear();
                    (&mut reader).take(len).read_to_end(&mut buf).map_err(io)?;
                    if buf.len() as u64 != len {
                        return Err(bad(at, format!("truncated in a {len}-byte dependency")));
                    }
                    at = at.saturating_add(len);
                    let dep = SnapshotFactoryDependency::decode(&buf)
                        .map_err(|e| bad(at, e.to_string()))?;
                    each(dep)?;
                    0
                }
            }
            _ => return Err(bad(at, format!("unsupported wire type {wire}"))),
        };
        if skip > 0 {
            let skipped =
                std::io::copy(&mut (&mut reader).take(skip), &mut std::io::sink()).map_err(io)?;
            if skipped != skip {
                return Err(bad(at, "truncated field".into()));
            }
            at = at.saturating_add(skip);
        }
    }
    Ok(())
}

/// A varint from `reader`; `None` at a clean end of the stream (before its
/// first byte). `at` counts the bytes read.
fn read_varint(
    reader: &mut impl Read,
    at: &mut u64,
    name: &str,
) -> Result<Option<u64>, SnapshotError> {
    let mut value = 0u64;
    for (i, shift) in (0..70).step_by(7).enumerate() {
        let mut byte = [0u8; 1];
        match reader.read_exact(&mut byte) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && i == 0 => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(era(format!("{name}: at byte {at}: truncated varint")));
            }
            Err(e) => {
                return Err(SnapshotError::Decompress {
                    file: name.to_owned(),
                    detail: e.to_string(),
                });
            }
        }
        *at = at.saturating_add(1);
        value |= u64::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            return Ok(Some(value));
        }
    }
    Err(era(format!(
        "{name}: at byte {at}: varint longer than 10 bytes"
    )))
}

/// Checks one factory dependency of an era snapshot and returns its hash
/// ([`bytecode::check_named_hash`]: what zksync-era's own applier checks).
pub fn check_factory_dep(dep: &SnapshotFactoryDependency) -> Result<B256, BytecodeError> {
    let bytecode = dep.bytecode.as_deref().ok_or(BytecodeError::Missing)?;
    bytecode::check_named_hash(bytecode, dep.hash.as_deref())
}

/// What the header says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EraHeader {
    /// `l1BatchNumber`: the batch whose state the snapshot holds.
    pub l1_batch_number: u64,
    /// Storage-log chunk files, by chunk id.
    pub chunks: Vec<(u64, PathBuf)>,
    /// Factory-dependencies file, when the header names one.
    pub factory_deps: Option<PathBuf>,
    /// Tree root the header carries, when present.
    pub root_hash: Option<B256>,
    /// `rollup_last_leaf_index`: the next free enumeration index.
    pub next_index: Option<u64>,
}

impl EraHeader {
    /// Reads `dir/snapshot_header.json` (capped). File paths are reduced to
    /// their file name inside `dir`: a header never makes the import read
    /// outside the snapshot directory.
    pub fn read(dir: &Path) -> Result<Self, SnapshotError> {
        let path = dir.join(HEADER_FILE);
        let mut bytes = Vec::new();
        std::fs::File::open(&path)
            .map_err(SnapshotError::io(&path))?
            .take(MAX_MANIFEST_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(SnapshotError::io(&path))?;
        Self::parse(&bytes, dir)
    }

    /// Parses header bytes; file paths are resolved to names inside `dir`.
    pub fn parse(bytes: &[u8], dir: &Path) -> Result<Self, SnapshotError> {
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(SnapshotError::ManifestTooLarge);
        }
        let header: Json =
            serde_json::from_slice(bytes).map_err(|e| era(format!("header: {e}")))?;
        let l1_batch_number = header["l1BatchNumber"]
            .as_u64()
            .ok_or_else(|| era("header has no l1BatchNumber".into()))?;
        let local = |value: &Json| -> Result<PathBuf, SnapshotError> {
            let text = value
                .as_str()
                .ok_or_else(|| era("a file path is not a string".into()))?;
            let name = text.rsplit(['/', '\\']).next().unwrap_or(text);
            if name.is_empty() || name == "." || name == ".." {
                return Err(era(format!("file path {text:?} names no file")));
            }
            Ok(dir.join(name))
        };
        let mut chunks = Vec::new();
        for chunk in header["storageLogsChunks"]
            .as_array()
            .ok_or_else(|| era("header has no storageLogsChunks".into()))?
        {
            let id = chunk["chunkId"]
                .as_u64()
                .ok_or_else(|| era("a chunk has no chunkId".into()))?;
            chunks.push((id, local(&chunk["filepath"])?));
        }
        chunks.sort_by_key(|(id, _)| *id);
        if chunks.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(era("two chunks share a chunkId".into()));
        }
        let factory_deps = match &header["factoryDepsFilepath"] {
            Json::Null => None,
            other => Some(local(other)?),
        };
        let metadata = &header["lastL1BatchWithMetadata"]["metadata"];
        let field = |snake: &str, camel: &str| {
            let v = &metadata[snake];
            if v.is_null() { &metadata[camel] } else { v }
        };
        let root_hash = match field("root_hash", "rootHash") {
            Json::Null => None,
            v => Some(
                v.as_str()
                    .and_then(|s| crate::hexfmt::parse_word(s).ok())
                    .ok_or_else(|| era("root_hash is not a 32-byte hex word".into()))?,
            ),
        };
        let next_index = match field("rollup_last_leaf_index", "rollupLastLeafIndex") {
            Json::Null => None,
            v => Some(
                v.as_u64()
                    .ok_or_else(|| era("rollup_last_leaf_index is not a number".into()))?,
            ),
        };
        Ok(EraHeader {
            l1_batch_number,
            chunks,
            factory_deps,
            root_hash,
            next_index,
        })
    }
}

fn era(detail: String) -> SnapshotError {
    SnapshotError::Era(detail)
}

/// Reads a gzip file, refusing more than `cap` (at most [`MAX_CHUNK_BYTES`])
/// bytes on disk or decompressed.
pub fn read_gzip(path: &Path, cap: u64) -> Result<Vec<u8>, SnapshotError> {
    let cap = cap.min(MAX_CHUNK_BYTES);
    let file = std::fs::File::open(path).map_err(SnapshotError::io(path))?;
    let size = file.metadata().map_err(SnapshotError::io(path))?.len();
    let name = path.display().to_string();
    if size > cap {
        return Err(SnapshotError::Oversized { file: name, cap });
    }
    gunzip_capped(std::io::BufReader::new(file.take(cap)), cap, &name)
}

/// Decompresses a gzip stream named `name`, refusing more than `cap`
/// decompressed bytes (one byte more is an error, never an allocation).
pub fn gunzip_capped(
    compressed: impl Read,
    cap: u64,
    name: &str,
) -> Result<Vec<u8>, SnapshotError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(compressed)
        .take(cap.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| SnapshotError::Decompress {
            file: name.to_string(),
            detail: e.to_string(),
        })?;
    if out.len() as u64 > cap {
        return Err(SnapshotError::Oversized {
            file: name.to_string(),
            cap,
        });
    }
    Ok(out)
}

/// What reading an era snapshot found.
#[derive(Clone, Debug, Default)]
pub struct EraStats {
    /// Storage logs read.
    pub storage_logs: u64,
    /// Factory dependencies read.
    pub factory_deps: u64,
    /// Next free enumeration index used for the import.
    pub next_index: u64,
}

/// Rebuilds the tree of the era snapshot in `dir` into `store` as batch
/// `header.l1_batch_number`; returns the final write (records, checkpoint,
/// audit) for the caller to commit. Reads `options.l1_root`,
/// `accept_partial` and `max_chunk_bytes`.
pub fn build(
    store: &crate::store::Store,
    header: &EraHeader,
    options: &super::ImportOptions,
) -> Result<(Finish, EraStats), SnapshotError> {
    let (l1_root, max_chunk_bytes) = (options.l1_root, options.max_chunk_bytes);
    let mut stats = EraStats::default();
    let mut sorter = LeafSorter::default();
    let mut max_index = 0u64;
    for (id, path) in &header.chunks {
        let bytes = read_gzip(path, max_chunk_bytes)?;
        let chunk = SnapshotStorageLogsChunk::decode(bytes.as_slice())
            .map_err(|e| era(format!("chunk {id}: {e}")))?;
        drop(bytes);
        for (i, log) in chunk.storage_logs.iter().enumerate() {
            let (derived, index, value) = log
                .leaf()
                .map_err(|what| era(format!("chunk {id}, log {i}: {what}")))?;
            max_index = max_index.max(index);
            sorter.push(zk_leaf(&derived, index, &value))?;
            stats.storage_logs = stats.storage_logs.saturating_add(1);
        }
    }
    if let Some(path) = &header.factory_deps {
        // Streamed, not capped at `max_chunk_bytes`: the file holds every
        // bytecode the chain knows (see `stream_factory_deps`).
        let file = std::fs::File::open(path).map_err(SnapshotError::io(path))?;
        let name = path.display().to_string();
        stream_factory_deps(flate2::read::GzDecoder::new(file), &name, |dep| {
            check_factory_dep(&dep).map_err(|source| SnapshotError::FactoryDep {
                index: stats.factory_deps,
                source,
            })?;
            stats.factory_deps = stats.factory_deps.saturating_add(1);
            Ok(())
        })?;
        tracing::info!(
            factory_deps = stats.factory_deps,
            "factory deps verified against their hashes (not stored)"
        );
    }
    let next_index = match header.next_index {
        Some(next) => next,
        None => max_index
            .checked_add(1)
            .ok_or_else(|| era("an enumeration_index is 2^64 - 1".into()))?,
    };
    // Indices start at 1, so `next_index - 1` leaves exist below it.
    let below_next = next_index
        .checked_sub(1)
        .ok_or_else(|| era("rollup_last_leaf_index is 0 (indices start at 1)".into()))?;
    stats.next_index = next_index;
    let mut builder = ZksyncBuilder::new(store, header.l1_batch_number, next_index);
    sorter.drain(|leaf| builder.push(leaf))?;
    if builder.count() != below_next {
        return Err(SnapshotError::Count {
            what: "storage logs below rollup_last_leaf_index",
            expected: below_next,
            found: builder.count(),
        });
    }
    let expected = header
        .root_hash
        .or(l1_root)
        .ok_or_else(|| era("the header names no root_hash and no L1 root was read".into()))?;
    let finish = builder.finish_roots(
        &crate::hexfmt::format_word(&expected),
        Some(crate::hexfmt::format_word(&expected)),
        l1_root,
        options.accept_partial,
    )?;
    Ok((finish, stats))
}

fn word(bytes: &[u8]) -> Option<B256> {
    (bytes.len() == 32).then(|| B256::from_slice(bytes))
}
