//! zkreplay: rebuild ZK-rollup state (Starknet, ZKsync Era) from Ethereum L1 alone
//! and check every computed root against the root L1 accepted.
//!
//! Data flows `scan -> fetch -> decode -> apply -> audit -> serve`; see README.md.

#![warn(missing_docs)]

pub mod api;
pub mod audit;
pub mod blob;
pub mod chain;
pub mod cli;
#[cfg(feature = "devnet")]
pub mod devnet;
pub mod diff;
pub mod follow;
pub mod hexfmt;
pub mod l1;
pub mod rollup;
pub mod snapshot;
pub mod store;
