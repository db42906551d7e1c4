//! All integration tests, as one test binary (one link, one set of helpers in
//! [`common`]). Run one file's tests with `cargo test --test it <module>::`,
//! e.g. `cargo test --test it starknet_da::`. Tests that measure
//! latency live in their own binary, `tests/latency`.
//!
//! Modules that drive a local L1 (anvil) or the devnet generators need the
//! `devnet` feature (on by default).

// A test binary exports nothing: `pub` in its modules only shares helpers
// between them, which is what `unreachable_pub` would flag.
#![allow(unreachable_pub)]

mod common;

mod api;
mod arith;
mod browser;
#[cfg(feature = "devnet")]
mod devnet;
#[cfg(feature = "devnet")]
mod e2e;
#[cfg(feature = "devnet")]
mod follow;
mod fuzz;
#[cfg(feature = "devnet")]
mod gateway_devnet;
#[cfg(feature = "devnet")]
mod l1;
mod l1_verify;
mod light_client;
#[cfg(feature = "devnet")]
mod memory_l1;
#[cfg(feature = "devnet")]
mod pages;
mod repo;
#[cfg(feature = "devnet")]
mod sharp_devnet;
#[cfg(feature = "devnet")]
mod snapshot;
mod starknet_da;
mod starknet_history;
mod starknet_query;
mod starknet_state;
mod store_damage;
mod zksync;
#[cfg(feature = "devnet")]
mod zksync_gateway;
mod zksync_history;
