//! ZKsync bytecode hashes: how a contract's code is named in the state
//! (`AccountCodeStorage`, `KnownCodesStorage`) and in factory dependencies.

use alloy_primitives::B256;

/// The longest bytecode (in 32-byte words): the hash keeps the length in two bytes.
pub const MAX_BYTECODE_WORDS: usize = (1 << 16) - 1;
/// Version byte of an EraVM bytecode hash.
pub const ERA_VM_MARKER: u8 = 1;
/// Version byte of an EVM bytecode hash (EVM emulator).
pub const EVM_MARKER: u8 = 2;

/// Why bytes are not a ZKsync bytecode with its hash.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BytecodeError {
    /// No bytecode was given (a snapshot's factory dependency without field 1).
    #[error("no bytecode")]
    Missing,
    /// The bytecode length (bytes) is not a multiple of 32.
    #[error("bytecode of {0} bytes is not a whole number of 32-byte words")]
    NotWords(usize),
    /// The bytecode has an even number of words (EraVM requires odd).
    #[error("bytecode of {0} bytes has an even number of 32-byte words")]
    EvenWords(usize),
    /// The bytecode is longer than a hash can encode (2^16 - 1 words).
    #[error("bytecode of {0} bytes is longer than {MAX_BYTECODE_WORDS} words")]
    TooLong(usize),
    /// The named hash is not 32 bytes long.
    #[error("hash of {0} bytes (a bytecode hash has 32)")]
    HashLength(usize),
    /// The named hash has an unknown version byte (not 1 EraVM, 2 EVM) or a non-zero second byte.
    #[error("hash {0} starts with neither EraVM's version byte 1 nor EVM's 2, then 0")]
    Marker(B256),
    /// An EVM hash names a bytecode length longer than the bytecode given.
    #[error("hash {0} names an EVM bytecode of {1} bytes, longer than the {2} bytes given")]
    EvmLength(B256, usize, usize),
    /// An EVM bytecode is padded with non-zero bytes past its named length.
    #[error("hash {0}: the EVM bytecode's padding is not zero")]
    EvmPadding(B256),
    /// The named hash is not the hash recomputed from the bytecode.
    #[error("hash {claimed} is not the bytecode's ({computed})")]
    Mismatch {
        /// The hash the snapshot names.
        claimed: B256,
        /// The hash of the bytecode it carries.
        computed: B256,
    },
}

/// A bytecode length ZKsync accepts (zksync-era `validate_bytecode`, the
/// rule EraVM and padded EVM bytecode share): whole 32-byte words, an odd
/// number of them, at most [`MAX_BYTECODE_WORDS`].
pub fn check_bytecode_length(len: usize) -> Result<(), BytecodeError> {
    if !len.is_multiple_of(32) {
        return Err(BytecodeError::NotWords(len));
    }
    let words = len / 32;
    if words > MAX_BYTECODE_WORDS {
        return Err(BytecodeError::TooLong(len));
    }
    if words.is_multiple_of(2) {
        return Err(BytecodeError::EvenWords(len));
    }
    Ok(())
}

/// The hash of a bytecode as ZKsync writes it (zksync-era
/// `core/lib/basic_types/src/bytecode.rs`, `BytecodeHash::for_generic_bytecode`;
/// era-contracts `KnownCodesStorage.sol` describes the same layout):
/// `sha256(bytecode)` with byte 0 set to the version (`marker`: 1 EraVM,
/// 2 EVM), byte 1 to 0 and bytes 2..4 to the length as a big-endian u16 — in
/// words for EraVM, in bytes of the unpadded code for EVM (`length`).
fn bytecode_hash(marker: u8, bytecode: &[u8], length: u16) -> B256 {
    use sha2::{Digest, Sha256};
    let mut hash: [u8; 32] = Sha256::digest(bytecode).into();
    hash[0] = marker;
    hash[1] = 0;
    hash[2..4].copy_from_slice(&length.to_be_bytes());
    B256::from(hash)
}

/// The hash of an EraVM bytecode, or why the bytecode has no valid length.
pub fn era_vm_bytecode_hash(bytecode: &[u8]) -> Result<B256, BytecodeError> {
    check_bytecode_length(bytecode.len())?;
    // At most MAX_BYTECODE_WORDS words (checked), so it fits the u16.
    let words =
        u16::try_from(bytecode.len() / 32).map_err(|_| BytecodeError::TooLong(bytecode.len()))?;
    Ok(bytecode_hash(ERA_VM_MARKER, bytecode, words))
}

/// Checks a bytecode against the hash named for it and returns the hash.
///
/// What zksync-era's snapshot applier (`core/lib/snapshots_applier/src/lib.rs`,
/// `recover_factory_deps`) checks, and no less: the bytecode has a valid
/// length; without a named hash (old snapshots) it is EraVM bytecode; a named
/// hash starts with a known version byte and equals the hash recomputed
/// from the bytecode — for EVM bytecode over the padded code, with the
/// unpadded length the hash names (which must fit, followed by zero
/// padding, as zksync-era's `trim_padded_evm_bytecode` requires).
pub fn check_named_hash(bytecode: &[u8], named: Option<&[u8]>) -> Result<B256, BytecodeError> {
    check_bytecode_length(bytecode.len())?;
    let Some(raw) = named else {
        return era_vm_bytecode_hash(bytecode);
    };
    let claimed = B256::try_from(raw).map_err(|_| BytecodeError::HashLength(raw.len()))?;
    let computed = match (claimed[0], claimed[1]) {
        (ERA_VM_MARKER, 0) => era_vm_bytecode_hash(bytecode)?,
        (EVM_MARKER, 0) => {
            let length = u16::from_be_bytes([claimed[2], claimed[3]]);
            let code_len = usize::from(length);
            let padding = bytecode.get(code_len..).ok_or(BytecodeError::EvmLength(
                claimed,
                code_len,
                bytecode.len(),
            ))?;
            if padding.iter().any(|&b| b != 0) {
                return Err(BytecodeError::EvmPadding(claimed));
            }
            bytecode_hash(EVM_MARKER, bytecode, length)
        }
        _ => return Err(BytecodeError::Marker(claimed)),
    };
    if computed != claimed {
        return Err(BytecodeError::Mismatch { claimed, computed });
    }
    Ok(computed)
}
