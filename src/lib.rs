//! zkreplay: rebuild ZK-rollup state (Starknet, ZKsync Era) from Ethereum L1 alone
//! and check every computed root against the root L1 accepted.
//!
//! Data flows `scan -> fetch -> decode -> apply -> audit -> serve`; see README.md.

#![warn(missing_docs)]

/// jemalloc instead of glibc's malloc, for every binary that links the
/// library: the CLI, the tests, the benchmarks. glibc gives each
/// thread that allocates while another holds an arena an arena of its own
/// (up to 8 per core) and keeps freed memory in each, and a follower
/// allocates blobs and batches on many threads (tokio workers, blocking
/// decode and commit threads, RocksDB's): its peak RSS kept growing with the
/// chain (+102 MiB over 384 Starknet devnet batches, +146 MiB over 768;
/// +23 MiB with glibc held to 2 arenas; mimalloc: +184 MiB; jemalloc: +78 MiB,
/// and 15–19 % more batches per second in one run each). jemalloc's own
/// options (2 arenas, dirty pages returned after 1 s by a background thread)
/// are compiled in by `.cargo/config.toml`. See README, Performance.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
