//! Every key encoding of the store, in one place.
//!
//! Multi-part keys are fixed-width concatenations so that lexicographic order
//! equals numeric order (batch numbers are big-endian u64).
//!
//! | column  | key                                   | value                                   |
//! |---------|---------------------------------------|-----------------------------------------|
//! | meta    | `manifest`                            | JSON [`super::Manifest`]                |
//! | meta    | `checkpoint`                          | JSON checkpoint of the rollup engine    |
//! | meta    | `verified_batch`, `verification_held` | batch (8, BE), see [`crate::audit`]     |
//! | meta    | `undo/ ‖ batch (8, BE)`               | ZKsync: derived keys (32 each) the batch changed, kept until the batch is executed (for `BlocksRevert`) |
//! | meta    | `halt`                                | JSON [`crate::audit::HaltRecord`]: why the follower stopped |
//! | meta    | `l1_cursor`                           | JSON [`crate::follow::L1Cursor`]: last L1 log handled |
//! | meta    | `l1batch/ ‖ batch (8, BE)`            | JSON [`crate::follow::L1BatchRecord`]: where the batch came from on L1 |
//! | nodes   | `trie tag (1) ‖ node hash (32)`       | encoded node (see the trie modules)     |
//! | leaves  | `LEAF_* tag (1) ‖ fields`             | current value                           |
//! | history | `leaves key ‖ batch (8, BE)`          | value as of that batch (empty = zero)   |
//! | batches | `batch (8, BE)`                       | JSON batch record                       |
//! | audits  | `batch (8, BE)`                       | JSON [`crate::audit::BatchAudit`]       |
//! | archive | `ARCHIVE_* tag (1) ‖ hash (32)`       | zstd-compressed payload (blob by versioned hash, calldata by tx hash) |
//! | archive | `p ‖ published commitment (32)`       | ZKsync blob a later batch may name: versioned hash ‖ KZG commitment ‖ zstd(blob) |
#![warn(clippy::arithmetic_side_effects)]

/// Meta key of the store manifest.
pub const MANIFEST: &[u8] = b"manifest";
/// Meta key of the rollup engine's checkpoint (last committed batch and roots).
pub const CHECKPOINT: &[u8] = b"checkpoint";

/// Meta key of the verified pointer: the last batch (8, BE) of the unbroken run of matching batches.
pub const VERIFIED_BATCH: &[u8] = b"verified_batch";
/// Meta key set (to the batch number, 8 BE) by the first batch that did not match; holds the verified pointer.
pub const VERIFICATION_HELD: &[u8] = b"verification_held";

/// Archive tag: a blob, keyed by its versioned hash.
pub const ARCHIVE_BLOB: u8 = b'b';
/// Archive tag: an L1 transaction (JSON of [`crate::l1::L1Transaction`]), keyed by its hash.
pub const ARCHIVE_TRANSACTION: u8 = b't';

/// Node tag: Starknet Pedersen tries (contract storage tries and the contracts trie).
pub const NODE_STARKNET_PEDERSEN: u8 = 0x01;
/// Node tag: Starknet Poseidon tries (the classes trie).
pub const NODE_STARKNET_POSEIDON: u8 = 0x02;
/// Node tag: the ZKsync Blake2s tree.
pub const NODE_ZKSYNC_BLAKE2S: u8 = 0x03;

/// Leaf tag: Starknet storage slot, `tag ‖ address (32) ‖ key (32)` -> value (32).
pub const LEAF_STARKNET_STORAGE: u8 = b's';
/// Leaf tag: Starknet contract record, `tag ‖ address (32)` -> class hash ‖ storage root ‖ nonce (96).
pub const LEAF_STARKNET_CONTRACT: u8 = b'c';
/// Leaf tag: Starknet class, `tag ‖ class hash (32)` -> compiled class hash (32).
pub const LEAF_STARKNET_CLASS: u8 = b'k';
/// Leaf tag: Starknet alias reverse index, `tag ‖ alias (32)` -> original key or address (32).
/// Written from contract 0x2's storage writes (key = original, value = alias).
pub const LEAF_STARKNET_ALIAS: u8 = b'a';
/// Leaf tag: ZKsync leaf by derived key, `tag ‖ derived key (32)` -> enumeration index (8, BE) ‖ value (32).
pub const LEAF_ZKSYNC_BY_KEY: u8 = b'z';
/// Leaf tag: ZKsync derived key by enumeration index, `tag ‖ index (8, BE)` -> derived key (32).
pub const LEAF_ZKSYNC_BY_INDEX: u8 = b'i';

/// Meta key of the follower's halt record (JSON [`crate::audit::HaltRecord`]): why it stopped.
pub const HALT: &[u8] = b"halt";

/// Archive tag: a ZKsync blob by its contract-side commitment
/// (`keccak(versioned hash ‖ z ‖ y)`), `tag ‖ commitment (32)` -> versioned
/// hash (32) ‖ KZG commitment (48) ‖ zstd(blob); written with the batch that
/// published it, since a later batch may name it (v26+).
pub const ARCHIVE_ZKSYNC_PUBLISHED_BLOB: u8 = b'p';

/// Meta key of the follower's L1 cursor.
pub const L1_CURSOR: &[u8] = b"l1_cursor";

/// Meta key prefix (then the settlement chain's 20-byte diamond address) of
/// a ZKsync chain's progress through its settlement chain's batches (the
/// counters read from them, as of the settlement batch that carried the last
/// committed batch).
pub const ZKSYNC_LAYER_PROGRESS_PREFIX: &[u8] = b"zksync_layer/";
/// Meta key prefix of the per-batch L1 provenance records.
pub const L1_BATCH_PREFIX: &[u8] = b"l1batch/";

/// Meta key of the L1 provenance record of `batch`.
pub fn l1_batch(batch: u64) -> Vec<u8> {
    let mut key = L1_BATCH_PREFIX.to_vec();
    key.extend_from_slice(&batch.to_be_bytes());
    key
}

/// Meta key prefix of the per-batch undo lists (L1 reorgs; ZKsync `BlocksRevert`).
pub const UNDO_PREFIX: &[u8] = b"undo/";

/// Meta key of the undo list of `batch`: the leaves the batch changed.
pub fn undo(batch: u64) -> Vec<u8> {
    let mut key = UNDO_PREFIX.to_vec();
    key.extend_from_slice(&batch.to_be_bytes());
    key
}

/// `tag ‖ hash`: the key of a trie node.
pub fn node(tag: u8, hash: &[u8; 32]) -> [u8; 33] {
    let mut key = [0u8; 33];
    key[0] = tag;
    key[1..].copy_from_slice(hash);
    key
}

/// A history key: the leaves key followed by the big-endian batch number.
pub fn history(leaf_key: &[u8], batch: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(leaf_key.len().saturating_add(8));
    key.extend_from_slice(leaf_key);
    key.extend_from_slice(&batch.to_be_bytes());
    key
}

/// The key of a batch record.
pub fn batch(batch: u64) -> [u8; 8] {
    batch.to_be_bytes()
}

/// `tag ‖ parts...`: a leaves key.
pub fn leaf(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = vec![tag];
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}
