//! Rollup-specific decoding and state engines.
#![warn(clippy::arithmetic_side_effects)]

pub mod starknet;
pub mod zksync;
