//! The L1 events of a Starknet state update, in every signature mainnet has used.
//!
//! The core contract announces each accepted update with `LogStateUpdate`:
//! * `LogStateUpdate(uint256 globalRoot, int256 blockNumber)` until the v0.11.1
//!   contract (cairo-lang v0.10.0 … v0.11.0.2 `starknet/solidity/Starknet.sol`);
//! * `LogStateUpdate(uint256 globalRoot, int256 blockNumber, uint256 blockHash)` from
//!   v0.11.1 on (cairo-lang v0.11.1 and later).
//!
//! The same transaction emits `LogStateTransitionFact(bytes32 stateTransitionFact)`,
//! which links a calldata update to its SHARP memory pages (see [`super::sharp`]).

use alloy_primitives::{B256, I256, U256};
use alloy_sol_types::SolEvent;

mod abi {
    pub(super) mod v0_10 {
        alloy_sol_types::sol! {
            event LogStateUpdate(uint256 globalRoot, int256 blockNumber);
        }
    }
    pub(super) mod v0_11_1 {
        alloy_sol_types::sol! {
            event LogStateUpdate(uint256 globalRoot, int256 blockNumber, uint256 blockHash);
        }
    }
    alloy_sol_types::sol! {
        event LogStateTransitionFact(bytes32 stateTransitionFact);
    }
}

/// topic0 of `LogStateUpdate(uint256,int256)` (core contract before v0.11.1).
pub const LOG_STATE_UPDATE_V0_10: B256 = abi::v0_10::LogStateUpdate::SIGNATURE_HASH;
/// topic0 of `LogStateUpdate(uint256,int256,uint256)` (v0.11.1 and later).
pub const LOG_STATE_UPDATE: B256 = abi::v0_11_1::LogStateUpdate::SIGNATURE_HASH;
/// topic0 of `LogStateTransitionFact(bytes32)`.
pub const LOG_STATE_TRANSITION_FACT: B256 = abi::LogStateTransitionFact::SIGNATURE_HASH;

/// Every topic0 that announces a state update: filter the core contract's logs on these.
pub const STATE_UPDATE_TOPICS: [B256; 2] = [LOG_STATE_UPDATE_V0_10, LOG_STATE_UPDATE];

/// A decoded `LogStateUpdate`, whichever signature emitted it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateUpdateEvent {
    /// The global state root L1 accepted.
    pub global_root: U256,
    /// The last L2 block of the update.
    pub l2_block: u64,
    /// The L2 block hash; `None` for the pre-v0.11.1 signature, which has none.
    pub block_hash: Option<U256>,
}

/// Why an L1 log is not a Starknet event this module knows.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The log has no topics, so no event signature.
    #[error("log has no topic0")]
    NoTopic,
    /// topic0 is neither `LogStateUpdate` signature; holds it.
    #[error("topic0 {0} is not LogStateUpdate (either signature)")]
    UnknownTopic(B256),
    /// The log's data or topics do not ABI-decode as the event.
    #[error("{event}: {detail}")]
    Abi {
        /// The event being decoded.
        event: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// The `int256 blockNumber` is negative or above `u64::MAX`; holds it.
    #[error("LogStateUpdate block number {0} is not a valid L2 block")]
    BlockNumber(I256),
}

/// Decodes `LogStateUpdate` of either signature from a log's topics and data.
pub fn decode_state_update(topics: &[B256], data: &[u8]) -> Result<StateUpdateEvent, EventError> {
    let topic0 = *topics.first().ok_or(EventError::NoTopic)?;
    let abi_error = |e: alloy_sol_types::Error| EventError::Abi {
        event: "LogStateUpdate",
        detail: e.to_string(),
    };
    let (global_root, block_number, block_hash) = match topic0 {
        LOG_STATE_UPDATE => {
            let e = abi::v0_11_1::LogStateUpdate::decode_raw_log(topics.iter().copied(), data)
                .map_err(abi_error)?;
            (e.globalRoot, e.blockNumber, Some(e.blockHash))
        }
        LOG_STATE_UPDATE_V0_10 => {
            let e = abi::v0_10::LogStateUpdate::decode_raw_log(topics.iter().copied(), data)
                .map_err(abi_error)?;
            (e.globalRoot, e.blockNumber, None)
        }
        other => return Err(EventError::UnknownTopic(other)),
    };
    let l2_block =
        u64::try_from(block_number).map_err(|_| EventError::BlockNumber(block_number))?;
    Ok(StateUpdateEvent {
        global_root,
        l2_block,
        block_hash,
    })
}

/// Decodes `LogStateTransitionFact`: the fact of the update, which for a calldata
/// update is the `factHash` SHARP logs with the hashes of its memory pages.
pub fn decode_state_transition_fact(topics: &[B256], data: &[u8]) -> Result<B256, EventError> {
    abi::LogStateTransitionFact::decode_raw_log(topics.iter().copied(), data)
        .map(|e| e.stateTransitionFact)
        .map_err(|e| EventError::Abi {
            event: "LogStateTransitionFact",
            detail: e.to_string(),
        })
}

/// Encodes a `LogStateUpdate` log body (for the devnet and tests): the 3-word
/// signature when `block_hash` is given, the 2-word one otherwise.
pub fn encode_state_update(event: &StateUpdateEvent) -> (B256, Vec<u8>) {
    let block_number = I256::try_from(event.l2_block).unwrap_or(I256::MAX);
    match event.block_hash {
        Some(block_hash) => (
            LOG_STATE_UPDATE,
            abi::v0_11_1::LogStateUpdate {
                globalRoot: event.global_root,
                blockNumber: block_number,
                blockHash: block_hash,
            }
            .encode_data(),
        ),
        None => (
            LOG_STATE_UPDATE_V0_10,
            abi::v0_10::LogStateUpdate {
                globalRoot: event.global_root,
                blockNumber: block_number,
            }
            .encode_data(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;

    #[test]
    fn topics_are_the_keccak_of_the_published_signatures() {
        // Signatures as cairo-lang's Starknet.sol declares them (v0.10.0 and v0.11.1).
        assert_eq!(
            LOG_STATE_UPDATE_V0_10,
            keccak256("LogStateUpdate(uint256,int256)")
        );
        assert_eq!(
            LOG_STATE_UPDATE,
            keccak256("LogStateUpdate(uint256,int256,uint256)")
        );
        assert_eq!(
            LOG_STATE_TRANSITION_FACT,
            keccak256("LogStateTransitionFact(bytes32)")
        );
        // The prefixes the issue and explorers quote.
        assert_eq!(&LOG_STATE_UPDATE_V0_10[..4], &[0xe8, 0x01, 0x22, 0x13]);
        assert_eq!(&LOG_STATE_UPDATE[..4], &[0xd3, 0x42, 0xdd, 0xf7]);
    }

    #[test]
    fn decodes_both_signatures() {
        for block_hash in [None, Some(U256::from(0xabcu64))] {
            let event = StateUpdateEvent {
                global_root: U256::from(7u64),
                l2_block: 4_883,
                block_hash,
            };
            let (topic, data) = encode_state_update(&event);
            assert_eq!(decode_state_update(&[topic], &data).unwrap(), event);
        }
    }

    #[test]
    fn rejects_other_topics_short_data_and_negative_blocks() {
        assert!(matches!(
            decode_state_update(&[B256::ZERO], &[]),
            Err(EventError::UnknownTopic(_))
        ));
        assert!(matches!(
            decode_state_update(&[], &[]),
            Err(EventError::NoTopic)
        ));
        assert!(matches!(
            decode_state_update(&[LOG_STATE_UPDATE], &[0u8; 64]),
            Err(EventError::Abi { .. })
        ));
        let mut data = vec![0u8; 64];
        data[32..].copy_from_slice(&I256::MINUS_ONE.to_be_bytes::<32>());
        assert!(matches!(
            decode_state_update(&[LOG_STATE_UPDATE_V0_10], &data),
            Err(EventError::BlockNumber(_))
        ));
    }
}
