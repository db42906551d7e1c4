//! ZKsync Era: commit calldata, pubdata and the Blake2s state tree.
//!
//! The flow for one L1 commit transaction:
//!
//! 1. [`calldata::decode_commit`] picks the decoder by function selector (one
//!    module per commit format) and returns a [`calldata::CommitCall`]: the
//!    previous `StoredBatchInfo` and, per batch, the commit fields, system logs
//!    and the operator's DA input ([`da::DaInput`]: pre-Boojum write lists,
//!    calldata pubdata, or blob openings).
//! 2. [`decode::decode_batches`] turns that into [`decode::DecodedBatch`]es:
//!    pubdata from calldata or blobs ([`blob`]), parsed by [`pubdata`] and
//!    [`compression`], with a list of checks (pubdata hash against the system
//!    log, every byte consumed, blob KZG and linear hash, initial-write count
//!    against `indexRepeatedStorageChanges`).
//! 3. [`state::ZksyncState::plan`] resolves the writes against the store,
//!    assigns enumeration indices, computes the [`tree`] update and returns one
//!    [`crate::store::StoreBatch`] (nodes, leaves, history, batch record,
//!    checkpoint); [`state::ZksyncState::unwind`] undoes committed but
//!    unexecuted batches (`BlocksRevert`).
//!
//! [`gateway`] extracts a chain's batches from a settlement chain's pubdata;
//! [`encode`] inverts the decoders (property tests, local devnet).

use alloy_primitives::{Address, B256};
use blake2::{Blake2s256, Digest};
use serde::{Deserialize, Serialize};

pub mod abi;
pub mod blob;
pub mod bytecode;
pub mod calldata;
pub mod compression;
mod cursor;
pub mod da;
pub mod decode;
pub mod encode;
pub mod events;
pub mod gateway;
pub mod genesis;
pub mod history;
pub mod lifecycle;
pub mod pubdata;
pub mod query;
pub mod state;
pub mod tree;

/// `blake2s256(bytes12(0) ‖ address ‖ key)`: the derived key of a storage slot.
pub fn derived_key(address: &Address, key: &B256) -> B256 {
    let mut input = [0u8; 64];
    input[12..32].copy_from_slice(address.as_slice());
    input[32..].copy_from_slice(key.as_slice());
    B256::from(<[u8; 32]>::from(Blake2s256::digest(input)))
}

/// One L2→L1 log as published (88 bytes): `u8 shard ‖ u8 is_service ‖ u16 tx
/// number ‖ address sender ‖ bytes32 key ‖ bytes32 value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct L2Log {
    /// Byte 0: shard id (0 = rollup shard).
    pub shard_id: u8,
    /// Byte 1: set for system (service) logs.
    pub is_service: bool,
    /// Bytes 2..4 (big-endian): index of the emitting transaction in the batch.
    pub tx_number_in_block: u16,
    /// Bytes 4..24: the emitting L2 contract.
    pub sender: Address,
    /// Bytes 24..56: log key (for system logs, which value it carries).
    pub key: B256,
    /// Bytes 56..88: log value.
    pub value: B256,
}

/// Size of an encoded [`L2Log`].
pub const L2_LOG_SIZE: usize = 88;

/// The L1 messenger system contract, sender of the pubdata-hash system log.
pub const L1_MESSENGER: Address = Address::new([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x08,
]);
/// The pubdata chunk publisher, sender of the blob linear-hash system logs (v23–v25).
pub const PUBDATA_CHUNK_PUBLISHER: Address = Address::new([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x11,
]);
/// System log key of `keccak(pubdata)` (`TOTAL_L2_TO_L1_PUBDATA_KEY`).
pub const PUBDATA_HASH_LOG_KEY: u64 = 1;
/// System log key of the first blob's linear hash (`BLOB_ONE_HASH_KEY`); blob i uses key 7 + i.
pub const BLOB_ONE_HASH_LOG_KEY: u64 = 7;

impl L2Log {
    /// Parses one 88-byte log; `None` when `bytes` is not exactly 88 bytes.
    pub fn parse(bytes: &[u8]) -> Option<L2Log> {
        if bytes.len() != L2_LOG_SIZE {
            return None;
        }
        Some(L2Log {
            shard_id: bytes[0],
            is_service: bytes[1] != 0,
            tx_number_in_block: u16::from_be_bytes([bytes[2], bytes[3]]),
            sender: Address::from_slice(&bytes[4..24]),
            key: B256::from_slice(&bytes[24..56]),
            value: B256::from_slice(&bytes[56..88]),
        })
    }

    /// Appends the 88-byte published form to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.shard_id);
        out.push(self.is_service as u8);
        out.extend_from_slice(&self.tx_number_in_block.to_be_bytes());
        out.extend_from_slice(self.sender.as_slice());
        out.extend_from_slice(self.key.as_slice());
        out.extend_from_slice(self.value.as_slice());
    }

    /// Parses a concatenation of logs (the `systemLogs` field).
    pub fn parse_all(bytes: &[u8]) -> Option<Vec<L2Log>> {
        if !bytes.len().is_multiple_of(L2_LOG_SIZE) {
            return None;
        }
        bytes.chunks_exact(L2_LOG_SIZE).map(L2Log::parse).collect()
    }
}

/// The value of the system log sent by `sender` under `key`, if present.
pub fn system_log_value(logs: &[L2Log], sender: Address, key: u64) -> Option<B256> {
    let key = B256::from(alloy_primitives::U256::from(key));
    logs.iter()
        .find(|l| l.sender == sender && l.key == key)
        .map(|l| l.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_round_trips() {
        let log = L2Log {
            shard_id: 0,
            is_service: true,
            tx_number_in_block: 513,
            sender: L1_MESSENGER,
            key: B256::repeat_byte(1),
            value: B256::repeat_byte(2),
        };
        let mut bytes = Vec::new();
        log.encode(&mut bytes);
        assert_eq!(bytes.len(), L2_LOG_SIZE);
        assert_eq!(L2Log::parse(&bytes), Some(log));
        assert_eq!(L2Log::parse_all(&bytes[1..]), None);
    }
}
