//! External sort of ZKsync leaves into tree-key order with bounded memory.
//!
//! The import builds the tree chunk after chunk, each chunk's keys above the
//! last; that needs the leaves in tree-key order (the derived key read as a
//! little-endian number), which neither the store's columns nor zksync-era's
//! chunks give. Leaves are sorted in runs of [`RUN_LEAVES`] in memory, each
//! run spilled to a temporary file, and the runs merged.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use alloy_primitives::B256;

use super::SnapshotError;
use crate::rollup::zksync::tree::TreeKey;

/// Leaves per in-memory run (72 bytes each: ~36 MB).
pub const RUN_LEAVES: usize = 500_000;

/// A ZKsync leaf as the snapshot stores it: derived key ‖ index (8, BE) ‖ value.
pub type ZkLeaf = [u8; 72];

/// Packs a leaf: derived key (32) ‖ enumeration index (8, big-endian) ‖ value (32).
pub fn zk_leaf(derived_key: &B256, index: u64, value: &B256) -> ZkLeaf {
    let mut leaf = [0u8; 72];
    leaf[..32].copy_from_slice(derived_key.as_slice());
    leaf[32..40].copy_from_slice(&index.to_be_bytes());
    leaf[40..].copy_from_slice(value.as_slice());
    leaf
}

/// The sort key of a leaf: its tree key.
pub fn tree_key(leaf: &ZkLeaf) -> TreeKey {
    TreeKey::from_derived(&B256::from_slice(&leaf[..32]))
}

/// Collects leaves in any order and yields them in tree-key order.
pub struct LeafSorter {
    run: Vec<(TreeKey, ZkLeaf)>,
    spilled: Vec<File>,
    run_leaves: usize,
}

impl Default for LeafSorter {
    fn default() -> Self {
        Self::with_run(RUN_LEAVES)
    }
}

impl LeafSorter {
    /// A sorter that spills a sorted run to a temporary file every `run_leaves` leaves (at least 1).
    pub fn with_run(run_leaves: usize) -> Self {
        LeafSorter {
            run: Vec::new(),
            spilled: Vec::new(),
            run_leaves: run_leaves.max(1),
        }
    }

    /// Adds a leaf, spilling the current run when it is full.
    pub fn push(&mut self, leaf: ZkLeaf) -> Result<(), SnapshotError> {
        self.run.push((tree_key(&leaf), leaf));
        if self.run.len() >= self.run_leaves {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<(), SnapshotError> {
        self.run.sort_unstable_by_key(|(k, _)| *k);
        let file = tempfile::tempfile().map_err(SnapshotError::io(Path::new("sort run")))?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        for (_, leaf) in self.run.drain(..) {
            writer
                .write_all(&leaf)
                .map_err(SnapshotError::io(Path::new("sort run")))?;
        }
        let mut file = writer
            .into_inner()
            .map_err(|e| SnapshotError::io(Path::new("sort run"))(e.into_error()))?;
        std::io::Seek::rewind(&mut file).map_err(SnapshotError::io(Path::new("sort run")))?;
        self.spilled.push(file);
        Ok(())
    }

    /// Every leaf pushed, in tree-key order, to `each`.
    pub fn drain(
        mut self,
        mut each: impl FnMut(&ZkLeaf) -> Result<(), SnapshotError>,
    ) -> Result<(), SnapshotError> {
        if self.spilled.is_empty() {
            self.run.sort_unstable_by_key(|(k, _)| *k);
            for (_, leaf) in &self.run {
                each(leaf)?;
            }
            return Ok(());
        }
        if !self.run.is_empty() {
            self.spill()?;
        }
        let mut readers: Vec<BufReader<File>> = self
            .spilled
            .drain(..)
            .map(|f| BufReader::with_capacity(1 << 16, f))
            .collect();
        let mut heap = BinaryHeap::new();
        for (i, reader) in readers.iter_mut().enumerate() {
            if let Some(leaf) = next_leaf(reader)? {
                heap.push(Reverse((tree_key(&leaf), i, leaf)));
            }
        }
        while let Some(Reverse((_, i, leaf))) = heap.pop() {
            each(&leaf)?;
            if let Some(next) = next_leaf(&mut readers[i])? {
                heap.push(Reverse((tree_key(&next), i, next)));
            }
        }
        Ok(())
    }
}

fn next_leaf(reader: &mut BufReader<File>) -> Result<Option<ZkLeaf>, SnapshotError> {
    let mut leaf = [0u8; 72];
    match reader.read_exact(&mut leaf) {
        Ok(()) => Ok(Some(leaf)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(SnapshotError::io(Path::new("sort run"))(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blake2::{Blake2s256, Digest};

    #[test]
    fn spilled_runs_merge_into_tree_key_order() {
        let mut sorter = LeafSorter::with_run(7);
        let mut expected = Vec::new();
        for i in 0..100u64 {
            let key: [u8; 32] = Blake2s256::digest(i.to_be_bytes()).into();
            let leaf = zk_leaf(&B256::from(key), i + 1, &B256::with_last_byte(i as u8));
            expected.push(leaf);
            sorter.push(leaf).unwrap();
        }
        expected.sort_by_key(tree_key);
        let mut got = Vec::new();
        sorter
            .drain(|l| {
                got.push(*l);
                Ok(())
            })
            .unwrap();
        assert_eq!(got, expected);
    }
}
