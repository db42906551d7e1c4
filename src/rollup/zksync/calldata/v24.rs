//! `commitBatchesSharedBridge(uint256,StoredBatchInfo,CommitBatchInfo[])`
//! (`0x6edd4f12`, protocol v24/v25): the Boojum structs plus a chain id; the
//! DA field always starts with the source byte.

use alloy_sol_types::SolCall;

use super::{CalldataError, CommitCall, CommitVersion};
use crate::rollup::zksync::abi::{self, commitBatchesSharedBridge_0Call as CommitCallV24};
use crate::rollup::zksync::da;

/// Selector of `commitBatchesSharedBridge(uint256,StoredBatchInfo,CommitBatchInfo[])`.
pub const SELECTOR: [u8; 4] = [0x6e, 0xdd, 0x4f, 0x12];

/// Decodes v24/v25 commit calldata (selector included).
pub fn decode(input: &[u8]) -> Result<CommitCall, CalldataError> {
    let call = CommitCallV24::abi_decode(input)?;
    let batches = abi::batches(&call._newBatchesData, |field, _| {
        da::parse_source_field(field)
    })?;
    Ok(CommitCall {
        version: CommitVersion::V24,
        chain_id: Some(call._chainId),
        chain_address: None,
        process_range: None,
        previous: (&call._lastCommittedBatchData).into(),
        batches,
    })
}

/// Encodes a call in the v24/v25 format (selector included); the inverse of [`decode`].
pub fn encode(call: &CommitCall) -> Vec<u8> {
    let (previous, infos) = abi::boojum_arguments(call);
    let chain_id = call.chain_id.unwrap_or_default();
    CommitCallV24::new((chain_id, previous, infos)).abi_encode()
}

#[cfg(test)]
mod tests {
    #[test]
    fn selector_matches_the_signature() {
        use alloy_sol_types::SolCall;
        assert_eq!(super::CommitCallV24::SELECTOR, super::SELECTOR);
    }
}
