//! The local DA archive: blobs and L1 transactions the follower already
//! fetched and verified, kept in [`Column::Archive`] so a replay (or a blob
//! the beacon node has since pruned) never needs the network again.
//!
//! Keys: `ARCHIVE_BLOB ‖ versioned hash` → zstd(blob); `ARCHIVE_TRANSACTION ‖
//! tx hash` → zstd(JSON [`L1Transaction`]). It is a content-addressed cache,
//! not rollup state, so it is written with its own small commits rather than
//! in a batch's atomic write: losing an entry only costs a refetch.
//!
//! Read-back check, decided: blobs are re-verified only cheaply — exact
//! length, every element below the BLS modulus, and zstd's frame checksum —
//! not by recomputing the KZG commitment (~36 ms a blob). Entries are only
//! written after a full KZG check against their versioned hash and the key
//! is that hash, so what could change them is disk corruption (caught by the
//! checksums of zstd and RocksDB) or someone editing the store, which is
//! outside the threat model of a local store. [`LocalArchive::with_full_verification`]
//! turns the KZG check on for the paranoid. A corrupt entry is logged and
//! treated as missing, so the caller refetches and overwrites it.

use std::sync::Arc;

use alloy_primitives::B256;

use super::{L1Error, L1Transaction};
use crate::blob::{self, BYTES_PER_BLOB};
use crate::store::keys::{ARCHIVE_BLOB, ARCHIVE_TRANSACTION};
use crate::store::{Column, Store, StoreBatch};

/// zstd level: blobs are mostly already-compressed rollup data plus zero
/// padding, so a low level gets nearly all of the gain cheaply.
const ZSTD_LEVEL: i32 = 3;
/// Largest archived transaction: above any L1 transaction (calldata is bounded by the block gas limit).
const MAX_TRANSACTION_JSON: usize = 64 * 1024 * 1024;

/// The archive column of a store.
#[derive(Clone)]
pub struct LocalArchive {
    store: Arc<Store>,
    full_verification: bool,
}

impl std::fmt::Debug for LocalArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalArchive")
            .field("full_verification", &self.full_verification)
            .finish_non_exhaustive()
    }
}

impl LocalArchive {
    /// The archive column of `store`; blobs read back get the cheap checks only (no KZG recomputation).
    pub fn new(store: Arc<Store>) -> Self {
        Self {
            store,
            full_verification: false,
        }
    }

    /// Also recompute each blob's KZG commitment on read (~36 ms a blob).
    pub fn with_full_verification(mut self, on: bool) -> Self {
        self.full_verification = on;
        self
    }

    /// An archived blob, `None` when absent or found corrupt.
    pub fn blob(&self, versioned_hash: &B256) -> Result<Option<Vec<u8>>, L1Error> {
        let Some(compressed) = self
            .store
            .get(Column::Archive, &key(ARCHIVE_BLOB, versioned_hash))?
        else {
            return Ok(None);
        };
        // The capacity bounds decompression: a frame claiming more is rejected.
        let blob = match zstd::bulk::decompress(&compressed, BYTES_PER_BLOB) {
            Ok(blob) => blob,
            Err(e) => return Ok(corrupt(versioned_hash, &format!("zstd: {e}"))),
        };
        if let Err(e) = blob::parse_elements(&blob) {
            return Ok(corrupt(versioned_hash, &e.to_string()));
        }
        if self.full_verification
            && let Err(e) = super::beacon::verify_blob(versioned_hash, &blob, None)
        {
            return Ok(corrupt(versioned_hash, &e.to_string()));
        }
        Ok(Some(blob))
    }

    /// Archives verified blobs in one commit. Callers pass only blobs already
    /// checked against their versioned hashes.
    pub fn put_blobs<'a>(
        &self,
        blobs: impl IntoIterator<Item = (&'a B256, &'a [u8])>,
    ) -> Result<(), L1Error> {
        let mut batch = StoreBatch::default();
        for (versioned_hash, blob) in blobs {
            batch.put(
                Column::Archive,
                key(ARCHIVE_BLOB, versioned_hash),
                compress(blob)?,
            );
        }
        if !batch.is_empty() {
            self.store.commit(batch)?;
        }
        Ok(())
    }

    /// An archived transaction, `None` when absent or found corrupt.
    pub fn transaction(&self, hash: &B256) -> Result<Option<L1Transaction>, L1Error> {
        let Some(compressed) = self
            .store
            .get(Column::Archive, &key(ARCHIVE_TRANSACTION, hash))?
        else {
            return Ok(None);
        };
        let decoded = zstd::bulk::decompress(&compressed, MAX_TRANSACTION_JSON)
            .map_err(|e| e.to_string())
            .and_then(|json| {
                serde_json::from_slice::<L1Transaction>(&json).map_err(|e| e.to_string())
            });
        match decoded {
            Ok(tx) if tx.hash == *hash => Ok(Some(tx)),
            Ok(tx) => Ok(corrupt(hash, &format!("holds transaction {}", tx.hash))),
            Err(e) => Ok(corrupt(hash, &e)),
        }
    }

    /// Archives a mined transaction. Pending ones (no block) are not archived:
    /// their inclusion is not settled yet.
    pub fn put_transaction(&self, tx: &L1Transaction) -> Result<(), L1Error> {
        if tx.block_number.is_none() {
            return Ok(());
        }
        let json = serde_json::to_vec(tx).map_err(|e| L1Error::Transport(e.to_string()))?;
        let mut batch = StoreBatch::default();
        batch.put(
            Column::Archive,
            key(ARCHIVE_TRANSACTION, &tx.hash),
            compress(&json)?,
        );
        self.store.commit(batch)?;
        Ok(())
    }
}

fn key(tag: u8, hash: &B256) -> [u8; 33] {
    let mut key = [0u8; 33];
    key[0] = tag;
    key[1..].copy_from_slice(hash.as_slice());
    key
}

fn compress(data: &[u8]) -> Result<Vec<u8>, L1Error> {
    let mut compressor = zstd::bulk::Compressor::new(ZSTD_LEVEL)
        .and_then(|mut c| c.include_checksum(true).map(|_| c))
        .map_err(|e| L1Error::Transport(format!("zstd: {e}")))?;
    compressor
        .compress(data)
        .map_err(|e| L1Error::Transport(format!("zstd: {e}")))
}

fn corrupt<T>(hash: &B256, detail: &str) -> Option<T> {
    tracing::warn!(%hash, detail, "corrupt archive entry; refetching");
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive() -> (tempfile::TempDir, LocalArchive) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "test").unwrap();
        (dir, LocalArchive::new(Arc::new(store)))
    }

    #[test]
    fn blobs_and_transactions_round_trip() {
        let (_dir, archive) = archive();
        let mut blob = vec![0u8; BYTES_PER_BLOB];
        blob[100] = 7;
        let hash = B256::repeat_byte(1);
        assert_eq!(archive.blob(&hash).unwrap(), None);
        archive.put_blobs([(&hash, blob.as_slice())]).unwrap();
        assert_eq!(archive.blob(&hash).unwrap(), Some(blob));

        let tx = L1Transaction {
            hash: B256::repeat_byte(2),
            to: None,
            input: vec![1, 2, 3].into(),
            blob_versioned_hashes: vec![hash],
            block_number: Some(5),
            block_hash: Some(B256::repeat_byte(3)),
        };
        archive.put_transaction(&tx).unwrap();
        assert_eq!(archive.transaction(&tx.hash).unwrap(), Some(tx.clone()));
        let pending = L1Transaction {
            hash: B256::repeat_byte(4),
            block_number: None,
            ..tx
        };
        archive.put_transaction(&pending).unwrap();
        assert_eq!(archive.transaction(&pending.hash).unwrap(), None);
    }

    #[test]
    fn corrupt_entries_read_as_missing() {
        let (_dir, archive) = archive();
        let hash = B256::repeat_byte(9);
        let mut batch = StoreBatch::default();
        // Valid zstd of a short blob, then garbage: both must be refused.
        batch.put(
            Column::Archive,
            key(ARCHIVE_BLOB, &hash),
            compress(&[0u8; 10]).unwrap(),
        );
        archive.store.commit(batch).unwrap();
        assert_eq!(archive.blob(&hash).unwrap(), None);
        let mut batch = StoreBatch::default();
        batch.put(Column::Archive, key(ARCHIVE_BLOB, &hash), vec![1u8, 2, 3]);
        archive.store.commit(batch).unwrap();
        assert_eq!(archive.blob(&hash).unwrap(), None);
    }
}
