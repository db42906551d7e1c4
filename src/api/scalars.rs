//! 0x-hex scalars, as in EIP-1767 and Starknet tooling. Parsing is strict and
//! every rejection says what was wrong.

use alloy_primitives::{Address, B256, U256};
use async_graphql::{Description, InputValueError, InputValueResult, Scalar, ScalarType, Value};
use starknet_types_core::felt::Felt;

/// A Starknet field element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeltScalar(pub Felt);

impl Description for FeltScalar {
    fn description() -> &'static str {
        "A Starknet field element (below 2^251 + 17·2^192 + 1), as 0x-prefixed hex."
    }
}

#[Scalar(name = "Felt", use_type_description)]
impl ScalarType for FeltScalar {
    fn parse(value: Value) -> InputValueResult<Self> {
        let Value::String(text) = &value else {
            return Err(InputValueError::custom(
                "Felt must be a 0x-prefixed hex string",
            ));
        };
        parse_felt(text)
            .map(FeltScalar)
            .map_err(InputValueError::custom)
    }

    fn to_value(&self) -> Value {
        Value::String(format!("{:#x}", self.0))
    }
}

/// A 64-bit unsigned integer; accepted as a number, decimal string or 0x-hex, returned as 0x-hex.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Long(pub u64);

impl Description for Long {
    fn description() -> &'static str {
        "A 64-bit unsigned integer. Input: a number, a decimal string or 0x-hex; output: 0x-hex."
    }
}

#[Scalar(name = "Long", use_type_description)]
impl ScalarType for Long {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(n) => n
                .as_u64()
                .map(Long)
                .ok_or_else(|| InputValueError::custom("Long must be a non-negative integer")),
            Value::String(text) => {
                let parsed = match text.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => text.parse(),
                };
                parsed
                    .map(Long)
                    .map_err(|_| InputValueError::custom(format!("invalid Long {text:?}")))
            }
            _ => Err(InputValueError::custom("Long must be a number or a string")),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(format!("{:#x}", self.0))
    }
}

/// An unsigned integer of up to 256 bits as 0x-hex (token balances).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BigInt(pub alloy_primitives::U256);

impl Description for BigInt {
    fn description() -> &'static str {
        "An unsigned integer of up to 256 bits, as 0x-prefixed hex."
    }
}

#[Scalar(name = "BigInt", use_type_description)]
impl ScalarType for BigInt {
    fn parse(value: Value) -> InputValueResult<Self> {
        let Value::String(text) = &value else {
            return Err(InputValueError::custom(
                "BigInt must be a 0x-prefixed hex string",
            ));
        };
        let word = crate::hexfmt::parse_word(text).map_err(InputValueError::custom)?;
        Ok(BigInt(word.into()))
    }

    fn to_value(&self) -> Value {
        Value::String(format!("{:#x}", self.0))
    }
}

/// An account or contract address, validated by the rollup it is used with.
///
/// The scalar itself only requires 0x-hex of at most 64 digits, because the two
/// families differ: a Starknet address is a felt, a ZKsync address 20 bytes.
/// Resolvers call [`AddressScalar::starknet`] or [`AddressScalar::zksync`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressScalar(pub B256);

impl Description for AddressScalar {
    fn description() -> &'static str {
        "An account or contract address as 0x-prefixed hex. Starknet: a felt (below the Stark \
         prime). ZKsync: 20 bytes (at most 40 hex digits). Output: 40 hex digits for a 20-byte \
         address, otherwise without leading zeros."
    }
}

#[Scalar(name = "Address", use_type_description)]
impl ScalarType for AddressScalar {
    fn parse(value: Value) -> InputValueResult<Self> {
        let Value::String(text) = &value else {
            return Err(InputValueError::custom(
                "Address must be a 0x-prefixed hex string",
            ));
        };
        parse_hex_word(text)
            .map(AddressScalar)
            .map_err(InputValueError::custom)
    }

    fn to_value(&self) -> Value {
        Value::String(if self.0[..12].iter().all(|b| *b == 0) {
            format!("0x{}", hex::encode(&self.0[12..]))
        } else {
            crate::hexfmt::format_word(&self.0)
        })
    }
}

impl AddressScalar {
    /// The address as a Starknet felt.
    pub fn starknet(&self) -> Result<Felt, String> {
        felt_of_word(&self.0, "address")
    }

    /// The address as a ZKsync (EVM) address.
    pub fn zksync(&self) -> Result<Address, String> {
        if self.0[..12].iter().any(|b| *b != 0) {
            return Err(format!(
                "{} is not a ZKsync address: it does not fit in 20 bytes",
                crate::hexfmt::format_word(&self.0)
            ));
        }
        Ok(Address::from_slice(&self.0[12..]))
    }
}

/// A 256-bit word: storage keys and values, mapping positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Word(pub B256);

impl Description for Word {
    fn description() -> &'static str {
        "A 256-bit word (storage keys and values). Input: 0x-prefixed hex of at most 64 digits, \
         or a non-negative integer; output: 0x-hex without leading zeros (0x0 for zero). A \
         Starknet rollup requires felts (below the Stark prime)."
    }
}

#[Scalar(name = "Word", use_type_description)]
impl ScalarType for Word {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => parse_hex_word(text)
                .map(Word)
                .map_err(InputValueError::custom),
            Value::Number(n) => n
                .as_u64()
                .map(|n| Word(B256::from(U256::from(n))))
                .ok_or_else(|| InputValueError::custom("Word must be a non-negative integer")),
            _ => Err(InputValueError::custom(
                "Word must be a 0x-prefixed hex string or a non-negative integer",
            )),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(crate::hexfmt::format_word(&self.0))
    }
}

/// A felt as the 32-byte big-endian word it is stored as.
impl From<Felt> for Word {
    fn from(felt: Felt) -> Self {
        Word(B256::from(felt.to_bytes_be()))
    }
}

impl From<B256> for Word {
    fn from(word: B256) -> Self {
        Word(word)
    }
}

impl Word {
    /// The word as a Starknet felt.
    pub fn starknet(&self, what: &str) -> Result<Felt, String> {
        felt_of_word(&self.0, what)
    }
}

/// Exactly 32 bytes as 0x-hex with all 64 digits (hashes and proof words).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes32(pub B256);

impl Description for Bytes32 {
    fn description() -> &'static str {
        "32 bytes as 0x-prefixed hex of exactly 64 digits (hashes, proof words)."
    }
}

#[Scalar(name = "Bytes32", use_type_description)]
impl ScalarType for Bytes32 {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) if text.len() == 66 => parse_hex_word(text)
                .map(Bytes32)
                .map_err(InputValueError::custom),
            _ => Err(InputValueError::custom(
                "Bytes32 must be 0x followed by exactly 64 hex digits",
            )),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(format!("{:#x}", self.0))
    }
}

/// Parses strict 0x-hex of 1 to 64 digits into a big-endian word.
pub fn parse_hex_word(text: &str) -> Result<B256, String> {
    let Some(hex) = text.strip_prefix("0x") else {
        return Err(format!("{text:?} is not 0x-prefixed hex"));
    };
    if hex.is_empty() || hex.len() > 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let shown: String = text.chars().take(80).collect();
        return Err(format!(
            "{shown:?} is not a hex number of at most 64 digits"
        ));
    }
    crate::hexfmt::parse_word(text).map_err(|e| e.to_string())
}

/// Parses a felt from 0x-hex, refusing values >= P instead of reducing them.
pub fn parse_felt(text: &str) -> Result<Felt, String> {
    felt_of_word(&parse_hex_word(text)?, "value")
}

/// The felt equal to `word`, refusing words >= P instead of reducing them.
fn felt_of_word(word: &B256, what: &str) -> Result<Felt, String> {
    let felt = Felt::from_bytes_be(&word.0);
    if felt.to_bytes_be() != word.0 {
        return Err(format!(
            "{what} {} is not a field element: it is not below the Stark prime",
            crate::hexfmt::format_word(word)
        ));
    }
    Ok(felt)
}
