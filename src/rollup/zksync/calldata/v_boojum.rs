//! `commitBatches` (`0x701f58c5`), Boojum: the last field is the pubdata
//! itself (before 1.4.2) or `source byte ‖ …` (1.4.2 onwards, blobs from
//! March 2024). The layout is read from the evidence, see
//! [`crate::rollup::zksync::da::parse_boojum_field`].

use alloy_sol_types::SolCall;

use super::{CalldataError, CommitCall, CommitVersion};
use crate::rollup::zksync::abi::{self, commitBatchesCall};
use crate::rollup::zksync::{L1_MESSENGER, PUBDATA_HASH_LOG_KEY, da, system_log_value};

/// Selector of `commitBatches` (Boojum, before the shared bridge).
pub const SELECTOR: [u8; 4] = [0x70, 0x1f, 0x58, 0xc5];

/// Decodes Boojum `commitBatches` calldata (selector included).
pub fn decode(input: &[u8]) -> Result<CommitCall, CalldataError> {
    let call = commitBatchesCall::abi_decode(input)?;
    let batches = abi::batches(&call._newBatchesData, |field, logs| {
        da::parse_boojum_field(
            field,
            system_log_value(logs, L1_MESSENGER, PUBDATA_HASH_LOG_KEY),
        )
    })?;
    Ok(CommitCall {
        version: CommitVersion::Boojum,
        chain_id: None,
        chain_address: None,
        process_range: None,
        previous: (&call._lastCommittedBatchData).into(),
        batches,
    })
}

/// Encodes a call in the Boojum format (selector included); the inverse of [`decode`].
pub fn encode(call: &CommitCall) -> Vec<u8> {
    commitBatchesCall::new(abi::boojum_arguments(call)).abi_encode()
}

#[cfg(test)]
mod tests {
    #[test]
    fn selector_matches_the_signature() {
        use alloy_sol_types::SolCall;
        assert_eq!(super::commitBatchesCall::SELECTOR, super::SELECTOR);
    }
}
