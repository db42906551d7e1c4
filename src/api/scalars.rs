//! 0x-hex scalars, as in EIP-1767 and Starknet tooling. Parsing is strict and
//! every rejection says what was wrong.

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

/// Parses a felt from 0x-hex, refusing values >= P instead of reducing them.
pub fn parse_felt(text: &str) -> Result<Felt, String> {
    let Some(hex) = text.strip_prefix("0x") else {
        return Err(format!("{text:?} is not 0x-prefixed hex"));
    };
    if hex.is_empty() || hex.len() > 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{text:?} is not a hex number of at most 64 digits"));
    }
    let word = crate::hexfmt::parse_word(text).map_err(|e| e.to_string())?;
    let felt = Felt::from_bytes_be(&word.0);
    if felt.to_bytes_be() != word.0 {
        return Err(format!(
            "{text} is not a field element: it is not below the Stark prime"
        ));
    }
    Ok(felt)
}
