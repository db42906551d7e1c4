//! The snapshot manifest (`manifest.json`): what the snapshot claims, and the
//! size, leaf range and SHA-256 of every chunk.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{
    MAX_CHUNK_BYTES, MAX_CHUNK_LEAVES, MAX_MANIFEST_BYTES, SNAPSHOT_FORMAT_VERSION, SnapshotError,
};
use crate::follow::L1BatchRecord;

/// File name of the manifest inside a snapshot directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The manifest. Everything in it is a claim the import checks: the chunks
/// by checksum, the leaves by count, the state by recomputing the roots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotManifest {
    /// Snapshot format, `SNAPSHOT_FORMAT_VERSION` when written by this build.
    pub format_version: u32,
    /// Chain name (the store's and the chain config's), e.g. `starknet-sepolia`.
    pub chain: String,
    /// `starknet` or `zksync`.
    pub rollup: String,
    /// The batch whose state the snapshot holds.
    pub batch: u64,
    /// Where the batch came from on L1 (absent for a store built from files);
    /// the import writes it back so `follow` continues after it.
    pub l1: Option<L1BatchRecord>,
    /// The root the exporting store's audit recorded as L1's for this batch.
    pub claimed_root: Option<String>,
    /// State roots the import recomputes and compares.
    pub roots: Roots,
    /// Leaf counts per kind the import compares.
    pub leaves: LeafCounts,
    /// Every chunk file with its size and SHA-256, in order.
    pub chunks: Vec<ChunkInfo>,
}

/// State roots, 0x-hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roots {
    /// Starknet: the global state root; ZKsync: the tree root.
    pub state_root: String,
    /// Starknet only.
    pub contracts_root: Option<String>,
    /// Starknet only.
    pub classes_root: Option<String>,
    /// Starknet only: `pre-v0.14` or `v0.14` (how the global root combines the two).
    pub global_root_rule: Option<String>,
    /// ZKsync only: the next free enumeration index.
    pub next_index: Option<u64>,
}

/// How many leaves of each kind the chunks hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeafCounts {
    /// Every record of every chunk.
    pub total: u64,
    /// Starknet contract records.
    pub contracts: u64,
    /// Starknet storage slot records.
    pub storage: u64,
    /// Starknet class records.
    pub classes: u64,
    /// Starknet alias records.
    pub aliases: u64,
    /// ZKsync tree leaves.
    pub zksync: u64,
}

/// One chunk file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkInfo {
    /// File name inside the snapshot directory (`chunk-000000.zst`).
    pub file: String,
    /// Compressed size in bytes.
    pub size: u64,
    /// Index of the chunk's first leaf in the whole snapshot.
    pub first_leaf: u64,
    /// Number of leaves (records) in the chunk.
    pub leaves: u64,
    /// SHA-256 of the compressed file, 0x-hex.
    pub sha256: String,
}

impl SnapshotManifest {
    /// Reads `dir/manifest.json` (at most [`MAX_MANIFEST_BYTES`]) and checks
    /// that it is self-consistent: format, names, contiguous chunk ranges
    /// within the caps, counts that add up.
    pub fn read(dir: &Path) -> Result<Self, SnapshotError> {
        let path = dir.join(MANIFEST_FILE);
        let file = std::fs::File::open(&path).map_err(SnapshotError::io(&path))?;
        let mut bytes = Vec::new();
        file.take(MAX_MANIFEST_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(SnapshotError::io(&path))?;
        Self::parse(&bytes)
    }

    /// Parses and checks manifest bytes (the untrusted half of [`Self::read`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, SnapshotError> {
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(SnapshotError::ManifestTooLarge);
        }
        let manifest: SnapshotManifest =
            serde_json::from_slice(bytes).map_err(|e| SnapshotError::Manifest(e.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Writes `manifest.json` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), SnapshotError> {
        let path = dir.join(MANIFEST_FILE);
        let tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
        let bytes = serde_json::to_vec_pretty(self).expect("manifest serialises");
        std::fs::write(&tmp, bytes).map_err(SnapshotError::io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(SnapshotError::io(&path))
    }

    fn validate(&self) -> Result<(), SnapshotError> {
        let bad = |detail: String| Err(SnapshotError::Manifest(detail));
        if self.format_version != SNAPSHOT_FORMAT_VERSION {
            return Err(SnapshotError::FormatVersion(self.format_version));
        }
        super::check_chain_name(&self.chain)?;
        if !matches!(self.rollup.as_str(), "starknet" | "zksync") {
            return bad(format!("unknown rollup {:?}", self.rollup));
        }
        let mut next = 0u64;
        for (i, chunk) in self.chunks.iter().enumerate() {
            if chunk.file != chunk_file_name(i) {
                return bad(format!("chunk {i} is named {:?}", chunk.file));
            }
            if chunk.first_leaf != next {
                return bad(format!(
                    "chunk {i} starts at leaf {}, expected {next}",
                    chunk.first_leaf
                ));
            }
            if chunk.leaves == 0 || chunk.leaves > MAX_CHUNK_LEAVES {
                return bad(format!("chunk {i} holds {} leaves", chunk.leaves));
            }
            if chunk.size > MAX_CHUNK_BYTES {
                return bad(format!("chunk {i} is {} bytes", chunk.size));
            }
            next = next
                .checked_add(chunk.leaves)
                .ok_or_else(|| SnapshotError::Manifest("leaf count overflows".into()))?;
        }
        if next != self.leaves.total {
            return bad(format!(
                "chunks hold {next} leaves, leaves.total says {}",
                self.leaves.total
            ));
        }
        let l = &self.leaves;
        let parts = [l.contracts, l.storage, l.classes, l.aliases, l.zksync]
            .iter()
            .try_fold(0u64, |a, b| a.checked_add(*b));
        if parts != Some(l.total) {
            return bad("leaf counts by kind do not add up to leaves.total".into());
        }
        if let Some(l1) = &self.l1
            && l1.batch != self.batch
        {
            return bad(format!("l1 record is for batch {}", l1.batch));
        }
        Ok(())
    }
}

/// `chunk-000042.zst`.
pub fn chunk_file_name(index: usize) -> String {
    format!("chunk-{index:06}.zst")
}
