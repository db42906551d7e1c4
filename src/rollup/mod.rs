//! Rollup-specific decoding and state engines.

pub mod starknet;
pub mod zksync;
