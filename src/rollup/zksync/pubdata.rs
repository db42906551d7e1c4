//! Boojum-era pubdata: `u32 n_user_logs ‖ n × 88-byte L2→L1 log ‖ u32
//! n_messages ‖ (u32 len ‖ bytes)* ‖ u32 n_bytecodes ‖ (u32 len ‖ bytes)* ‖
//! compressed state diffs` (see [`super::compression`]).
//!
//! Pubdata from calldata must be consumed to its last byte; pubdata
//! reassembled from blobs is followed by zero padding up to the blob size,
//! and only zeros may follow the state diffs.

use serde::{Deserialize, Serialize};

use super::compression::{CompressionError, StateDiffs};
use super::cursor::{Cursor, Truncated};
use super::{L2_LOG_SIZE, L2Log};

/// Why pubdata was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PubdataError {
    /// The pubdata ends before a declared count or item.
    #[error("pubdata truncated: {0}")]
    Truncated(#[from] Truncated),
    /// A declared count cannot fit in the bytes left (refused before allocating).
    #[error("{count} {what} cannot fit in the {available} bytes left")]
    CountTooLarge {
        /// What was counted (user logs, messages, bytecodes).
        what: &'static str,
        /// The declared count.
        count: u64,
        /// Bytes left.
        available: usize,
    },
    /// The compressed state diffs do not decode.
    #[error("state diffs: {0}")]
    StateDiffs(#[from] CompressionError),
    /// Calldata pubdata has bytes after the state diffs; holds how many.
    #[error("{0} bytes left after the state diffs")]
    TrailingBytes(usize),
    /// Blob pubdata has a nonzero byte after the state diffs; holds its offset.
    #[error("non-zero byte in the blob padding at offset {0}")]
    NonZeroPadding(usize),
}

/// Parsed pubdata of one batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pubdata {
    /// User L2→L1 logs (88 bytes each).
    pub user_logs: Vec<L2Log>,
    /// L2→L1 messages.
    pub messages: Vec<Vec<u8>>,
    /// Published bytecodes.
    pub bytecodes: Vec<Vec<u8>>,
    /// The compressed state diffs, decoded.
    pub state_diffs: StateDiffs,
    /// Bytes the parser used (the rest, if any, was zero padding).
    pub consumed: usize,
}

/// What may follow the state diffs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trailer {
    /// Nothing: the pubdata must end with the state diffs (calldata).
    None,
    /// Zero padding (pubdata reassembled from blobs).
    ZeroPadding,
}

impl Pubdata {
    /// Parses one batch's pubdata; `trailer` says what may follow the state diffs.
    pub fn parse(bytes: &[u8], trailer: Trailer) -> Result<Self, PubdataError> {
        let mut c = Cursor::new(bytes);
        let n_logs = c.u32()? as u64;
        if n_logs.saturating_mul(L2_LOG_SIZE as u64) > c.remaining() as u64 {
            return Err(PubdataError::CountTooLarge {
                what: "user logs",
                count: n_logs,
                available: c.remaining(),
            });
        }
        let user_logs = (0..n_logs)
            .map(|_| Ok(L2Log::parse(c.take(L2_LOG_SIZE)?).expect("88 bytes")))
            .collect::<Result<Vec<_>, Truncated>>()?;
        let messages = read_chunks(&mut c, "messages")?;
        let bytecodes = read_chunks(&mut c, "bytecodes")?;
        let state_diffs = StateDiffs::read(&mut c)?;
        let consumed = c.position();
        match trailer {
            Trailer::None if c.remaining() > 0 => {
                return Err(PubdataError::TrailingBytes(c.remaining()));
            }
            Trailer::ZeroPadding => {
                if let Some(pos) = c.rest().iter().position(|b| *b != 0) {
                    // An offset inside the input: no overflow.
                    return Err(PubdataError::NonZeroPadding(consumed.saturating_add(pos)));
                }
            }
            _ => {}
        }
        Ok(Pubdata {
            user_logs,
            messages,
            bytecodes,
            state_diffs,
            consumed,
        })
    }

    /// Encodes (the inverse of [`Pubdata::parse`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(self.user_logs.len() as u32).to_be_bytes());
        for log in &self.user_logs {
            log.encode(&mut out);
        }
        for list in [&self.messages, &self.bytecodes] {
            out.extend_from_slice(&(list.len() as u32).to_be_bytes());
            for item in list {
                out.extend_from_slice(&(item.len() as u32).to_be_bytes());
                out.extend_from_slice(item);
            }
        }
        out.extend_from_slice(&self.state_diffs.encode());
        out
    }
}

fn read_chunks(c: &mut Cursor<'_>, what: &'static str) -> Result<Vec<Vec<u8>>, PubdataError> {
    let n = c.u32()? as u64;
    // Every chunk has at least its 4-byte length.
    if n.saturating_mul(4) > c.remaining() as u64 {
        return Err(PubdataError::CountTooLarge {
            what,
            count: n,
            available: c.remaining(),
        });
    }
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let len = c.u32()? as usize;
        out.push(c.take(len)?.to_vec());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_counts_are_rejected_before_allocation() {
        let bytes = [0xff, 0xff, 0xff, 0xff, 0, 0];
        assert!(matches!(
            Pubdata::parse(&bytes, Trailer::None),
            Err(PubdataError::CountTooLarge { .. })
        ));
    }
}
