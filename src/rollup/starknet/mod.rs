//! Starknet: data-availability decoding and the Patricia-trie state commitment.

pub mod da;
