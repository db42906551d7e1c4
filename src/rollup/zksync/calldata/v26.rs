//! `commitBatchesSharedBridge(uint256,uint256,uint256,bytes)` (`0x98f81962`,
//! protocol v26–v28): `bytes = u8 encoding version (0) ‖ abi.encode(StoredBatchInfo,
//! CommitBatchInfo[])`; the DA field has the v26 header
//! ([`crate::rollup::zksync::da::parse_v26_field`]).

use alloy_sol_types::SolCall;

use super::{CalldataError, CommitCall, CommitVersion};
use crate::rollup::zksync::abi::{
    self, StoredBatchInfo, commitBatchesSharedBridge_1Call as CommitCallV26,
};

/// Selector of `commitBatchesSharedBridge(uint256,uint256,uint256,bytes)`.
pub const SELECTOR: [u8; 4] = [0x98, 0xf8, 0x19, 0x62];
/// The commit-data encoding version this format carries.
pub const ENCODING_VERSION: u8 = 0;

/// Decodes v26–v28 commit calldata (selector included).
pub fn decode(input: &[u8]) -> Result<CommitCall, CalldataError> {
    let call = CommitCallV26::abi_decode(input)?;
    let (previous, batches) =
        abi::decode_versioned::<StoredBatchInfo>(&call._commitData, ENCODING_VERSION)?;
    Ok(CommitCall {
        version: CommitVersion::V26,
        chain_id: Some(call._chainId),
        chain_address: None,
        process_range: Some((call._processFrom, call._processTo)),
        previous,
        batches,
    })
}

/// Encodes a call in the v26 format (selector included); the inverse of [`decode`].
pub fn encode(call: &CommitCall) -> Vec<u8> {
    let (from, to) = call.process_range.unwrap_or_default();
    CommitCallV26 {
        _chainId: call.chain_id.unwrap_or_default(),
        _processFrom: from,
        _processTo: to,
        _commitData: abi::encode_versioned::<StoredBatchInfo>(ENCODING_VERSION, call),
    }
    .abi_encode()
}

#[cfg(test)]
mod tests {
    #[test]
    fn selector_matches_the_signature() {
        use alloy_sol_types::SolCall;
        assert_eq!(super::CommitCallV26::SELECTOR, super::SELECTOR);
    }
}
