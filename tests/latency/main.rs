//! The tests that measure latency (the GraphQL hardening of issue 16: a cheap
//! query must stay fast while abusive ones run) in a binary of their own.
//! Cargo runs test binaries one after another, so nothing but these tests
//! shares the CPU with them; inside the one `it` binary they would race the
//! CPU-heavy replays of other modules and their timings would mean nothing.
//! Run with `cargo test --test latency`.

// A test binary exports nothing: `pub` in its modules only shares helpers
// between them, which is what `unreachable_pub` would flag.
#![allow(unreachable_pub)]
// `alone()` is held across awaits on purpose: it serialises whole tests, each
// on its own runtime and test thread, so no task of another test waits on it.
#![allow(clippy::await_holding_lock)]

// The helpers of the `it` binary; this one uses only some of them.
#[allow(dead_code)]
#[path = "../it/common.rs"]
mod common;

mod api_limits;

/// Held by every test of this binary: they measure latency, so they run one
/// at a time (cargo's test threads would otherwise run two at once).
fn alone() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A test that failed while holding the lock must not fail the others.
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
