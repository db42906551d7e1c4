//! `commitBatchesSharedBridge(address,uint256,uint256,bytes)` (`0x0db9eb87`,
//! protocol v29+): the chain is named by its diamond address; `bytes = u8
//! encoding version (1) ‖ abi.encode(StoredBatchInfo, CommitBatchInfo[])` with
//! the 9-field `StoredBatchInfo` (adds `dependencyRootsRollingHash`); the DA
//! field has the v26 header.

use alloy_sol_types::SolCall;

use super::{CalldataError, CommitCall, CommitVersion};
use crate::rollup::zksync::abi::{
    self, StoredBatchInfoV29, commitBatchesSharedBridge_2Call as CommitCallV29,
};

/// Selector of `commitBatchesSharedBridge(address,uint256,uint256,bytes)`.
pub const SELECTOR: [u8; 4] = [0x0d, 0xb9, 0xeb, 0x87];
/// The commit-data encoding version this format carries.
pub const ENCODING_VERSION: u8 = 1;

/// Decodes v29+ commit calldata (selector included).
pub fn decode(input: &[u8]) -> Result<CommitCall, CalldataError> {
    let call = CommitCallV29::abi_decode(input)?;
    let (previous, batches) =
        abi::decode_versioned::<StoredBatchInfoV29>(&call._commitData, ENCODING_VERSION)?;
    Ok(CommitCall {
        version: CommitVersion::V29,
        chain_id: None,
        chain_address: Some(call._chainAddress),
        process_range: Some((call._processFrom, call._processTo)),
        previous,
        batches,
    })
}

/// Encodes a call in the v29 format (selector included); the inverse of [`decode`].
pub fn encode(call: &CommitCall) -> Vec<u8> {
    let (from, to) = call.process_range.unwrap_or_default();
    CommitCallV29 {
        _chainAddress: call.chain_address.unwrap_or_default(),
        _processFrom: from,
        _processTo: to,
        _commitData: abi::encode_versioned::<StoredBatchInfoV29>(ENCODING_VERSION, call),
    }
    .abi_encode()
}

#[cfg(test)]
mod tests {
    #[test]
    fn selector_matches_the_signature() {
        use alloy_sol_types::SolCall;
        assert_eq!(super::CommitCallV29::SELECTOR, super::SELECTOR);
    }
}
