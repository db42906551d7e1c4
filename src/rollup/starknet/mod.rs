//! Starknet: data-availability decoding and the Patricia-trie state commitment.

pub mod da;
pub mod dispatch;
pub mod events;
pub mod feeder;
pub mod hash;
pub mod query;
pub mod sharp;
pub mod state;
pub mod trie;
