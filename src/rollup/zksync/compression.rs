//! State-diff compression (version 1), the tail of every Boojum-era pubdata.
//!
//! Layout: `u8 version (1) ‖ u24 length ‖ u8 enum_index_size ‖ u16 n_initial
//! ‖ n_initial × (derived_key ‖ packed value) ‖ repeated writes (enum_index
//! (enum_index_size bytes, BE) ‖ packed value)` until `length` bytes after the
//! `enum_index_size` byte are used.
//!
//! A packed value is a metadata byte `len << 3 | op` and `len` operand bytes
//! (big-endian): op 0 = the full 32-byte value (length bits 0, 32 bytes
//! follow), 1 = previous + operand, 2 = previous − operand (both mod 2^256),
//! 3 = the operand is the new value. Initial writes are packed against a
//! previous value of zero.

use std::num::NonZeroUsize;

use alloy_primitives::{B256, U256};
use serde::{Deserialize, Serialize};

use super::cursor::{Cursor, Truncated};

/// The only compression version in use.
pub const COMPRESSION_VERSION: u8 = 1;

/// Why compressed state diffs were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompressionError {
    /// The state diffs end before a declared field or write.
    #[error("state diffs truncated: {0}")]
    Truncated(#[from] Truncated),
    /// The version byte is not `COMPRESSION_VERSION` (1); holds it.
    #[error("unknown state-diff compression version {0}")]
    UnknownVersion(u8),
    /// `enum_index_size` is not in 1..=8; holds it.
    #[error("enumeration index size {0} is not in 1..=8")]
    BadEnumIndexSize(u8),
    /// A metadata byte names an operation other than 0..=3.
    #[error("unknown value operation {op} (metadata byte {metadata:#04x})")]
    UnknownOperation {
        /// Operation bits (`metadata & 7`).
        op: u8,
        /// The whole metadata byte.
        metadata: u8,
    },
    /// A full-value (op 0) metadata byte has nonzero length bits; holds it.
    #[error("full-value metadata byte {0:#04x} has non-zero length bits")]
    BadFullValueMetadata(u8),
    /// The u24 `length` exceeds the bytes present.
    #[error("declared state-diff length {declared} exceeds the {available} bytes present")]
    LengthBeyondInput {
        /// The declared length.
        declared: usize,
        /// Bytes present after the `enum_index_size` byte.
        available: usize,
    },
    /// `n_initial` initial writes cannot fit in `length` bytes (each takes at least 33).
    #[error("{initial} initial writes do not fit in a {length}-byte state diff")]
    TooManyInitialWrites {
        /// `n_initial` as published.
        initial: usize,
        /// The declared length.
        length: usize,
    },
    /// A write crosses the end of `length`; holds the offset it started at.
    #[error("state diff ended inside a write at offset {0}")]
    WriteOverrunsLength(usize),
}

/// How a new value is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// Op 0: the operand is the full 32-byte value.
    Full,
    /// Op 1: new value = previous + operand (mod 2^256).
    Add,
    /// Op 2: new value = previous − operand (mod 2^256).
    Sub,
    /// Op 3: the operand is the new value (shortened).
    Transform,
}

/// One packed value: the operation and its operand bytes (kept with their
/// published length so encoding reproduces the bytes exactly).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueOp {
    /// The operation (low 3 bits of the metadata byte).
    pub kind: OpKind,
    /// Operand length in bytes (32 for [`OpKind::Full`], 0..=31 otherwise).
    pub len: u8,
    /// The operand, right-aligned.
    pub operand: B256,
}

impl ValueOp {
    /// A full 32-byte value.
    pub fn full(value: B256) -> Self {
        ValueOp {
            kind: OpKind::Full,
            len: 32,
            operand: value,
        }
    }

    /// True when the new value does not depend on the previous one.
    pub fn is_absolute(&self) -> bool {
        matches!(self.kind, OpKind::Full | OpKind::Transform)
    }

    /// The new value given the previous one.
    pub fn apply(&self, previous: &B256) -> B256 {
        let prev = U256::from_be_bytes(previous.0);
        let operand = U256::from_be_bytes(self.operand.0);
        let new = match self.kind {
            OpKind::Full | OpKind::Transform => operand,
            OpKind::Add => prev.wrapping_add(operand),
            OpKind::Sub => prev.wrapping_sub(operand),
        };
        B256::from(new.to_be_bytes::<32>())
    }

    /// The cheapest packing of `new` given `previous`. Ties go, in order, to
    /// add, sub, transform; a value needing 32 bytes is published in full.
    pub fn compress(previous: &B256, new: &B256) -> Self {
        let prev = U256::from_be_bytes(previous.0);
        let new_value = U256::from_be_bytes(new.0);
        let candidates = [
            (OpKind::Add, new_value.wrapping_sub(prev)),
            (OpKind::Sub, prev.wrapping_sub(new_value)),
            (OpKind::Transform, new_value),
        ];
        let mut best: Option<ValueOp> = None;
        for (kind, operand) in candidates {
            let len = operand.byte_len();
            if len <= 31 && best.is_none_or(|b| (len as u8) < b.len) {
                best = Some(ValueOp {
                    kind,
                    len: len as u8,
                    operand: B256::from(operand.to_be_bytes::<32>()),
                });
            }
        }
        best.unwrap_or(ValueOp::full(*new))
    }

    /// Reads one packed value.
    pub(crate) fn read(cursor: &mut Cursor<'_>) -> Result<Self, CompressionError> {
        let metadata = cursor.u8()?;
        let op = metadata & 0b111;
        let len = metadata >> 3;
        let kind = match op {
            0 => OpKind::Full,
            1 => OpKind::Add,
            2 => OpKind::Sub,
            3 => OpKind::Transform,
            _ => return Err(CompressionError::UnknownOperation { op, metadata }),
        };
        if kind == OpKind::Full {
            if len != 0 {
                return Err(CompressionError::BadFullValueMetadata(metadata));
            }
            return Ok(ValueOp::full(cursor.word()?));
        }
        let bytes = cursor.take(len as usize)?;
        let mut operand = [0u8; 32];
        // `len` is the top 5 bits of a byte: at most 31, no underflow.
        operand[32usize.saturating_sub(bytes.len())..].copy_from_slice(bytes);
        Ok(ValueOp {
            kind,
            len,
            operand: B256::from(operand),
        })
    }

    /// Appends the packed value.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self.kind {
            OpKind::Full => {
                out.push(0);
                out.extend_from_slice(self.operand.as_slice());
            }
            kind => {
                let op = match kind {
                    OpKind::Add => 1,
                    OpKind::Sub => 2,
                    _ => 3,
                };
                let len = self.len.min(31);
                out.push((len << 3) | op);
                out.extend_from_slice(&self.operand[32usize.saturating_sub(len.into())..]);
            }
        }
    }
}

/// A first write of a slot: its derived key and packed value (against zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitialWrite {
    /// Derived key of the slot (`blake2s(bytes12(0) ‖ address ‖ key)`).
    pub derived_key: B256,
    /// The new value, packed against zero.
    pub value: ValueOp,
}

/// A write to a slot that already has an enumeration index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepeatedWrite {
    /// Enumeration index of the slot (`enum_index_size` bytes, big-endian, as published).
    pub index: u64,
    /// The new value, packed against the slot's previous value.
    pub value: ValueOp,
}

/// Decoded compressed state diffs of one batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateDiffs {
    /// Bytes per repeated write's enumeration index (1..=8).
    pub enum_index_size: u8,
    /// Initial writes, in published order.
    pub initial: Vec<InitialWrite>,
    /// Repeated writes, in published order.
    pub repeated: Vec<RepeatedWrite>,
}

impl StateDiffs {
    /// Reads compressed state diffs at the cursor, consuming exactly the
    /// declared length.
    pub(crate) fn read(cursor: &mut Cursor<'_>) -> Result<Self, CompressionError> {
        let version = cursor.u8()?;
        if version != COMPRESSION_VERSION {
            return Err(CompressionError::UnknownVersion(version));
        }
        let length = cursor.uint_be(3)? as usize;
        let enum_index_size = cursor.u8()?;
        if !(1..=8).contains(&enum_index_size) {
            return Err(CompressionError::BadEnumIndexSize(enum_index_size));
        }
        if length > cursor.remaining() {
            return Err(CompressionError::LengthBeyondInput {
                declared: length,
                available: cursor.remaining(),
            });
        }
        let body = cursor.take(length)?;
        let mut body = Cursor::new(body);
        let n_initial = body.uint_be(2)? as usize;
        // Each initial write takes at least 33 bytes; check before allocating.
        if n_initial.saturating_mul(33) > body.remaining() {
            return Err(CompressionError::TooManyInitialWrites {
                initial: n_initial,
                length,
            });
        }
        let mut initial = Vec::with_capacity(n_initial);
        for _ in 0..n_initial {
            let derived_key = body.word()?;
            let value = ValueOp::read(&mut body)?;
            initial.push(InitialWrite { derived_key, value });
        }
        // A repeated write takes at least its index and a metadata byte.
        let min_write = NonZeroUsize::MIN.saturating_add(enum_index_size.into());
        let mut repeated = Vec::with_capacity(body.remaining() / min_write);
        while body.remaining() > 0 {
            let start = body.position();
            let index = body
                .uint_be(enum_index_size as usize)
                .map_err(|_| CompressionError::WriteOverrunsLength(start))?;
            let value = ValueOp::read(&mut body).map_err(|e| match e {
                CompressionError::Truncated(_) => CompressionError::WriteOverrunsLength(start),
                other => other,
            })?;
            repeated.push(RepeatedWrite { index, value });
        }
        Ok(StateDiffs {
            enum_index_size,
            initial,
            repeated,
        })
    }

    /// Decodes a standalone compressed state-diff blob, which must be used to its last byte.
    pub fn decode(bytes: &[u8]) -> Result<Self, CompressionError> {
        let mut cursor = Cursor::new(bytes);
        let diffs = Self::read(&mut cursor)?;
        if cursor.remaining() != 0 {
            return Err(CompressionError::LengthBeyondInput {
                declared: cursor.position(),
                available: bytes.len(),
            });
        }
        Ok(diffs)
    }

    /// Encodes (the inverse of [`StateDiffs::decode`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&(self.initial.len() as u16).to_be_bytes());
        for w in &self.initial {
            body.extend_from_slice(w.derived_key.as_slice());
            w.value.write(&mut body);
        }
        let size = self.enum_index_size as usize;
        for w in &self.repeated {
            // `size` is 1..=8 (checked on read, ours on write).
            body.extend_from_slice(&w.index.to_be_bytes()[8usize.saturating_sub(size)..]);
            w.value.write(&mut body);
        }
        let mut out = Vec::with_capacity(body.len().saturating_add(5));
        out.push(COMPRESSION_VERSION);
        out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        out.push(self.enum_index_size);
        out.extend_from_slice(&body);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_apply_mod_2_256() {
        let max = B256::repeat_byte(0xff);
        let one = ValueOp {
            kind: OpKind::Add,
            len: 1,
            operand: B256::with_last_byte(1),
        };
        assert_eq!(one.apply(&max), B256::ZERO);
        let sub = ValueOp {
            kind: OpKind::Sub,
            len: 1,
            operand: B256::with_last_byte(1),
        };
        assert_eq!(sub.apply(&B256::ZERO), max);
    }

    #[test]
    fn rejects_bad_headers_without_panicking() {
        assert!(matches!(
            StateDiffs::decode(&[2, 0, 0, 2, 4, 0, 0]),
            Err(CompressionError::UnknownVersion(2))
        ));
        assert!(matches!(
            StateDiffs::decode(&[1, 0, 0, 2, 9, 0, 0]),
            Err(CompressionError::BadEnumIndexSize(9))
        ));
        assert!(matches!(
            StateDiffs::decode(&[1, 0xff, 0, 2, 4, 0, 0]),
            Err(CompressionError::LengthBeyondInput { .. })
        ));
        assert!(matches!(
            StateDiffs::decode(&[1, 0, 0, 2, 4, 0xff, 0xff]),
            Err(CompressionError::TooManyInitialWrites { .. })
        ));
        assert!(
            StateDiffs::decode(&[1, 0, 0, 2, 4, 0, 0])
                .unwrap()
                .initial
                .is_empty()
        );
    }
}
