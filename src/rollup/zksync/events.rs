//! The diamond proxy's batch lifecycle events: a batch is committed
//! (`BlockCommit`, topic 2 = new state root), final only once `BlockExecution`
//! names it, and `BlocksRevert` drops committed-but-unexecuted batches, which
//! the follower handles like a reorg ([`super::state::ZksyncState::unwind`]).

use alloy_primitives::{B256, U256, b256};
use serde::{Deserialize, Serialize};

/// `BlockCommit(uint256 indexed batchNumber, bytes32 indexed batchHash, bytes32 indexed commitment)`.
pub const BLOCK_COMMIT: B256 =
    b256!("8f2916b2f2d78cc5890ead36c06c0f6d5d112c7e103589947e8e2f0d6eddb763");
/// `BlockExecution(uint256 indexed batchNumber, bytes32 indexed batchHash, bytes32 indexed commitment)`.
pub const BLOCK_EXECUTION: B256 =
    b256!("2402307311a4d6604e4e7b4c8a15a7e1213edb39c16a31efa70afb06030d3165");
/// `BlocksVerification(uint256 indexed previousLastVerifiedBatch, uint256 indexed currentLastVerifiedBatch)`.
pub const BLOCKS_VERIFICATION: B256 =
    b256!("22c9005dd88c18b552a1cd7e8b3b937fcde9ca69213c1f658f54d572e4877a81");
/// `BlocksRevert(uint256 totalBatchesCommitted, uint256 totalBatchesVerified, uint256 totalBatchesExecuted)`.
pub const BLOCKS_REVERT: B256 =
    b256!("8bd4b15ea7d1bc41ea9abc3fc487ccb89cd678a00786584714faa9d751c84ee5");

/// Why a log that carries one of these topics was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The log has the wrong number of topics for its event.
    #[error("{event}: expected {expected} topics, got {found}")]
    Topics {
        /// Event name.
        event: &'static str,
        /// Topics the event has.
        expected: usize,
        /// Topics the log has.
        found: usize,
    },
    /// The log's data has the wrong length for its event.
    #[error("{event}: expected {expected} data bytes, got {found}")]
    Data {
        /// Event name.
        event: &'static str,
        /// Data bytes the event has.
        expected: usize,
        /// Data bytes the log has.
        found: usize,
    },
    /// A batch number or count does not fit in u64.
    #[error("{event}: batch number {value} does not fit in u64")]
    Number {
        /// Event name.
        event: &'static str,
        /// The value as logged.
        value: U256,
    },
}

/// A lifecycle event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchEvent {
    /// `BlockCommit`: a batch was committed.
    Commit {
        /// Topic 1: `batchNumber`.
        batch: u64,
        /// Topic 2: `batchHash`, the new state root.
        state_root: B256,
        /// Topic 3: `commitment`.
        commitment: B256,
    },
    /// `BlockExecution`: a batch was executed (final).
    Execution {
        /// Topic 1: `batchNumber`.
        batch: u64,
        /// Topic 2: `batchHash`, the state root.
        state_root: B256,
        /// Topic 3: `commitment`.
        commitment: B256,
    },
    /// `BlocksRevert`: committed batches above `total_committed` were dropped.
    Revert {
        /// `totalBatchesCommitted` after the revert.
        total_committed: u64,
        /// `totalBatchesVerified` after the revert.
        total_verified: u64,
        /// `totalBatchesExecuted` after the revert.
        total_executed: u64,
    },
}

/// A `BlocksVerification`: batches up to `current_last_verified` are proven.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Topic 1: `previousLastVerifiedBatch`.
    pub previous_last_verified: u64,
    /// Topic 2: `currentLastVerifiedBatch`.
    pub current_last_verified: u64,
}

/// Parses a `BlocksVerification` log; `Ok(None)` for other events. (Kept out
/// of [`BatchEvent`] so callers matching on it are unaffected.)
pub fn parse_verification(topics: &[B256]) -> Result<Option<Verification>, EventError> {
    if topics.first() != Some(&BLOCKS_VERIFICATION) {
        return Ok(None);
    }
    let event = "BlocksVerification";
    if topics.len() != 3 {
        return Err(EventError::Topics {
            event,
            expected: 3,
            found: topics.len(),
        });
    }
    let number = |word: &B256| {
        let value = U256::from_be_bytes(word.0);
        u64::try_from(value).map_err(|_| EventError::Number { event, value })
    };
    Ok(Some(Verification {
        previous_last_verified: number(&topics[1])?,
        current_last_verified: number(&topics[2])?,
    }))
}

/// Parses a diamond-proxy log; `Ok(None)` for other events.
pub fn parse_log(topics: &[B256], data: &[u8]) -> Result<Option<BatchEvent>, EventError> {
    let Some(topic0) = topics.first() else {
        return Ok(None);
    };
    let number = |event: &'static str, word: &B256| {
        let value = U256::from_be_bytes(word.0);
        u64::try_from(value).map_err(|_| EventError::Number { event, value })
    };
    if *topic0 == BLOCK_COMMIT || *topic0 == BLOCK_EXECUTION {
        let event = if *topic0 == BLOCK_COMMIT {
            "BlockCommit"
        } else {
            "BlockExecution"
        };
        if topics.len() != 4 {
            return Err(EventError::Topics {
                event,
                expected: 4,
                found: topics.len(),
            });
        }
        let batch = number(event, &topics[1])?;
        let (state_root, commitment) = (topics[2], topics[3]);
        return Ok(Some(if *topic0 == BLOCK_COMMIT {
            BatchEvent::Commit {
                batch,
                state_root,
                commitment,
            }
        } else {
            BatchEvent::Execution {
                batch,
                state_root,
                commitment,
            }
        }));
    }
    if *topic0 == BLOCKS_REVERT {
        let event = "BlocksRevert";
        let (&[committed, verified, executed], []) = data.as_chunks::<32>() else {
            return Err(EventError::Data {
                event,
                expected: 96,
                found: data.len(),
            });
        };
        return Ok(Some(BatchEvent::Revert {
            total_committed: number(event, &B256::from(committed))?,
            total_verified: number(event, &B256::from(verified))?,
            total_executed: number(event, &B256::from(executed))?,
        }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;

    #[test]
    fn topics_are_the_event_signature_hashes() {
        assert_eq!(
            keccak256("BlockCommit(uint256,bytes32,bytes32)"),
            BLOCK_COMMIT
        );
        assert_eq!(
            keccak256("BlockExecution(uint256,bytes32,bytes32)"),
            BLOCK_EXECUTION
        );
        assert_eq!(
            keccak256("BlocksRevert(uint256,uint256,uint256)"),
            BLOCKS_REVERT
        );
        assert_eq!(
            keccak256("BlocksVerification(uint256,uint256)"),
            BLOCKS_VERIFICATION
        );
    }

    #[test]
    fn parses_verification() {
        let word = |n: u64| B256::from(U256::from(n));
        assert_eq!(
            parse_verification(&[BLOCKS_VERIFICATION, word(4), word(9)]).unwrap(),
            Some(Verification {
                previous_last_verified: 4,
                current_last_verified: 9
            })
        );
        assert!(parse_verification(&[BLOCKS_VERIFICATION, word(4)]).is_err());
        assert_eq!(parse_verification(&[BLOCK_COMMIT]).unwrap(), None);
        assert_eq!(
            parse_log(&[BLOCKS_VERIFICATION, word(4), word(9)], &[]).unwrap(),
            None
        );
    }

    #[test]
    fn parses_and_rejects() {
        let n = B256::from(U256::from(7));
        let e = parse_log(
            &[
                BLOCK_EXECUTION,
                n,
                B256::repeat_byte(1),
                B256::repeat_byte(2),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            e,
            Some(BatchEvent::Execution {
                batch: 7,
                state_root: B256::repeat_byte(1),
                commitment: B256::repeat_byte(2)
            })
        );
        assert!(parse_log(&[BLOCK_COMMIT, n], &[]).is_err());
        assert!(parse_log(&[BLOCKS_REVERT], &[0; 95]).is_err());
        let mut data = vec![0u8; 96];
        data[31] = 9;
        data[63] = 8;
        data[95] = 7;
        assert_eq!(
            parse_log(&[BLOCKS_REVERT], &data).unwrap(),
            Some(BatchEvent::Revert {
                total_committed: 9,
                total_verified: 8,
                total_executed: 7
            })
        );
        assert_eq!(parse_log(&[B256::ZERO], &[]).unwrap(), None);
        assert!(parse_log(&[BLOCK_COMMIT, B256::repeat_byte(0xff), n, n], &[]).is_err());
    }
}
