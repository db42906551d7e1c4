//! 0x-hex parsing and formatting shared by the CLI, fixtures and the API.
//!
//! Untrusted text goes through these functions only, so every caller gets the
//! same typed errors instead of a panic.

use alloy_primitives::B256;

/// Why a hex string was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HexError {
    /// A character is not a hex digit (or a byte string has an odd number of digits); holds the input, truncated.
    #[error("invalid hex digit in {0:?}")]
    InvalidDigit(String),
    /// More than 64 hex digits for a 32-byte word; holds the input.
    #[error("hex value {0:?} is longer than 32 bytes")]
    TooLong(String),
}

/// Parses `0x`-prefixed or bare hex of at most 64 digits into a right-aligned
/// 32-byte word (`"0x1"` -> `0x00..01`).
pub fn parse_word(text: &str) -> Result<B256, HexError> {
    let digits = text.trim();
    let digits = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
        .unwrap_or(digits);
    if digits.len() > 64 {
        return Err(HexError::TooLong(text.to_owned()));
    }
    let mut word = [0u8; 32];
    // Walk from the least significant digit so odd lengths need no padding copy.
    for (i, c) in digits.bytes().rev().enumerate() {
        let nibble = (c as char)
            .to_digit(16)
            .ok_or_else(|| HexError::InvalidDigit(text.to_owned()))? as u8;
        word[31 - i / 2] |= if i % 2 == 0 { nibble } else { nibble << 4 };
    }
    Ok(B256::from(word))
}

/// Parses a hex byte string (optionally `0x`-prefixed, whitespace ignored).
pub fn parse_bytes(text: &str) -> Result<Vec<u8>, HexError> {
    let compact: String = text.split_whitespace().collect();
    let digits = compact
        .strip_prefix("0x")
        .or_else(|| compact.strip_prefix("0X"))
        .unwrap_or(&compact);
    hex::decode(digits).map_err(|_| HexError::InvalidDigit(truncate(text)))
}

/// Formats a word as minimal 0x-hex (`0x0` for zero), the form Starknet tools print.
pub fn format_word(word: &B256) -> String {
    let digits = hex::encode(word.as_slice());
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        "0x0".to_owned()
    } else {
        format!("0x{trimmed}")
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_short_odd_and_full_words() {
        assert_eq!(parse_word("0x1").unwrap(), B256::with_last_byte(1));
        assert_eq!(parse_word("abc").unwrap()[30..], [0x0a, 0xbc]);
        assert_eq!(format_word(&parse_word("0x0").unwrap()), "0x0");
        let full = "0x".to_owned() + &"f".repeat(64);
        assert_eq!(parse_word(&full).unwrap(), B256::repeat_byte(0xff));
        assert!(matches!(
            parse_word(&(full + "0")),
            Err(HexError::TooLong(_))
        ));
        assert!(matches!(parse_word("0xzz"), Err(HexError::InvalidDigit(_))));
    }
}
