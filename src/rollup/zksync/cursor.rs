//! A bounds-checked reader over untrusted bytes: every read checks the bytes
//! present first, so no length field can make the decoder panic or allocate
//! more than the input holds.

use alloy_primitives::B256;

/// Ran past the end of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("needed {needed} bytes at offset {offset}, only {available} left")]
pub struct Truncated {
    pub offset: usize,
    pub needed: usize,
    pub available: usize,
}

pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.rest().len()
    }

    /// The bytes not read yet (`pos` never passes the end).
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        let rest = self.rest();
        let (out, _) = rest.split_at_checked(n).ok_or(Truncated {
            offset: self.pos,
            needed: n,
            available: rest.len(),
        })?;
        // `pos + n` is at most the input length.
        self.pos = self.pos.saturating_add(n);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Truncated> {
        Ok(self.take(1)?[0])
    }

    /// A big-endian unsigned integer of `n <= 8` bytes.
    pub(crate) fn uint_be(&mut self, n: usize) -> Result<u64, Truncated> {
        debug_assert!(n <= 8);
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Truncated> {
        Ok(self.uint_be(4)? as u32)
    }

    pub(crate) fn word(&mut self) -> Result<B256, Truncated> {
        Ok(B256::from_slice(self.take(32)?))
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Truncated> {
        Ok(self.take(N)?.try_into().expect("take returned N bytes"))
    }
}
