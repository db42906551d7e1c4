//! `commitBatchesSharedBridge(uint256,uint256,uint256,bytes)` (`0x98f81962`,
//! protocol v26–v28): `bytes = u8 encoding version (0) ‖ abi.encode(StoredBatchInfo,
//! CommitBatchInfo[])`; the DA field has the v26 header
//! ([`crate::rollup::zksync::da::parse_v26_field`]).

use alloy_sol_types::{SolCall, SolValue, sol};

use super::abi::{self, CommitBatchInfo, StoredBatchInfo};
use super::{CalldataError, CommitCall, CommitVersion};
use crate::rollup::zksync::da;

/// Selector of `commitBatchesSharedBridge(uint256,uint256,uint256,bytes)`.
pub const SELECTOR: [u8; 4] = [0x98, 0xf8, 0x19, 0x62];
/// The commit-data encoding version this format carries.
pub const ENCODING_VERSION: u8 = 0;

sol! {
    function commitBatchesSharedBridge(uint256 _chainId, uint256 _processFrom, uint256 _processTo, bytes _commitData);
}

/// Decodes v26–v28 commit calldata (selector included).
pub fn decode(input: &[u8]) -> Result<CommitCall, CalldataError> {
    let call = commitBatchesSharedBridgeCall::abi_decode(input)?;
    let (&version, data) = call
        ._commitData
        .split_first()
        .ok_or(CalldataError::EmptyCommitData)?;
    if version != ENCODING_VERSION {
        return Err(CalldataError::EncodingVersion {
            found: version,
            expected: ENCODING_VERSION,
        });
    }
    let (previous, infos) = <(StoredBatchInfo, Vec<CommitBatchInfo>)>::abi_decode_params(data)?;
    let batches = infos
        .iter()
        .map(|b| abi::batch(b, |field, _| da::parse_v26_field(field)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CommitCall {
        version: CommitVersion::V26,
        chain_id: Some(call._chainId),
        chain_address: None,
        process_range: Some((call._processFrom, call._processTo)),
        previous: (&previous).into(),
        batches,
    })
}

/// Encodes a call in the v26 format (selector included); the inverse of [`decode`].
pub fn encode(call: &CommitCall) -> Vec<u8> {
    let previous: StoredBatchInfo = (&call.previous).into();
    let infos: Vec<CommitBatchInfo> = call.batches.iter().map(abi::info).collect();
    let mut data = vec![ENCODING_VERSION];
    data.extend_from_slice(&(previous, infos).abi_encode_params());
    let (from, to) = call.process_range.unwrap_or_default();
    commitBatchesSharedBridgeCall {
        _chainId: call.chain_id.unwrap_or_default(),
        _processFrom: from,
        _processTo: to,
        _commitData: data.into(),
    }
    .abi_encode()
}

#[cfg(test)]
mod tests {
    #[test]
    fn selector_matches_the_signature() {
        use alloy_sol_types::SolCall;
        assert_eq!(
            super::commitBatchesSharedBridgeCall::SELECTOR,
            super::SELECTOR
        );
    }
}
