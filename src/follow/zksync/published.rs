//! The blobs a committed batch published, kept in the store: from v26 a
//! later batch may name a blob an earlier transaction published, and a
//! restart must still find it.

use alloy_primitives::B256;

use crate::blob::{BYTES_PER_BLOB, VerifiedBlob};
use crate::follow::FollowError;
use crate::store::{Column, Store, keys};

/// The archive key of a published blob: by the blob commitment the contracts
/// record (`keccak(versioned_hash ‖ z ‖ y)`), which is how a later batch names it.
pub(super) fn published_key(published: &B256) -> Vec<u8> {
    [
        &[keys::ARCHIVE_ZKSYNC_PUBLISHED_BLOB][..],
        published.as_slice(),
    ]
    .concat()
}

/// `versioned hash (32) ‖ KZG commitment (48) ‖ zstd(blob)`.
pub(super) fn encode_published(blob: &VerifiedBlob) -> Vec<u8> {
    // Blobs are mostly compressed rollup data plus zero padding; level 3 gets
    // the padding cheaply.
    let compressed = zstd::bulk::compress(&blob.bytes, 3).unwrap_or_else(|_| blob.bytes.clone());
    [
        blob.versioned_hash.as_slice(),
        &blob.commitment[..],
        &compressed,
    ]
    .concat()
}

/// A blob a committed batch published, read back from the store. A corrupt
/// entry counts as absent (the decoder then reports the blob as not seen).
pub(super) fn load_published(
    store: &Store,
    published: &B256,
) -> Result<Option<VerifiedBlob>, FollowError> {
    let Some(value) = store.get(Column::Archive, &published_key(published))? else {
        return Ok(None);
    };
    if value.len() < 80 {
        return Ok(None);
    }
    let (vh, rest) = value.split_at(32);
    let (commitment, compressed) = rest.split_at(48);
    let commitment: [u8; 48] = commitment.try_into().expect("48 bytes");
    // The capacity bounds decompression: a frame claiming more is rejected.
    let bytes = zstd::bulk::decompress(compressed, BYTES_PER_BLOB)
        .ok()
        .or_else(|| (compressed.len() == BYTES_PER_BLOB).then(|| compressed.to_vec()));
    Ok(bytes.and_then(|bytes| VerifiedBlob::bind(B256::from_slice(vh), commitment, bytes)))
}
