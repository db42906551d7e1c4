//! Starknet commitment benchmarks: raw hash rates (the physical limit) and
//! storage writes per second with root computation on a 100,000-leaf state.

use std::hint::black_box;

use alloy_primitives::B256;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use starknet_types_core::felt::Felt;
use zkreplay::diff::StateDiff;
use zkreplay::rollup::starknet::hash::{pedersen, pedersen_types_core, poseidon};
use zkreplay::rollup::starknet::state::{GlobalRootRule, StarknetState};
use zkreplay::store::Store;

const STATE_LEAVES: u64 = 100_000;

fn hashes(c: &mut Criterion) {
    let mut group = c.benchmark_group("starknet_hash");
    group.throughput(Throughput::Elements(1));
    let a = Felt::from_hex("0x3d937c035c878245caf64531a5756109c53068da139362728feb561405371cb")
        .unwrap();
    let b = Felt::from_hex("0x208a0a10250e382e1e4bbe2880906c2791bf6275695e02fbbc6aeff9cd8b31a")
        .unwrap();
    group.bench_function("pedersen_starknet_crypto", |bench| {
        bench.iter(|| pedersen(black_box(&a), black_box(&b)))
    });
    group.bench_function("pedersen_starknet_types_core", |bench| {
        bench.iter(|| pedersen_types_core(black_box(&a), black_box(&b)))
    });
    group.bench_function("poseidon", |bench| {
        bench.iter(|| poseidon(black_box(&a), black_box(&b)))
    });
    group.finish();
}

/// A pseudo-random 250-bit key (splitmix64), so keys spread over the whole trie.
fn key(i: u64) -> B256 {
    let mut x = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut word = [0u8; 32];
    for chunk in word.chunks_mut(8) {
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(x ^ (x >> 31)).to_be_bytes());
    }
    word[0] &= 0x03;
    B256::from(word)
}

fn diff(range: std::ops::Range<u64>, salt: u64) -> StateDiff {
    let mut diff = StateDiff::default();
    let contract = diff
        .contracts
        .entry(B256::with_last_byte(0x42))
        .or_default();
    contract.class_hash = Some(B256::with_last_byte(1));
    for i in range {
        contract.storage.insert(
            key(i),
            B256::from(alloy_primitives::U256::from(i + salt + 1)),
        );
    }
    diff
}

fn storage_writes(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "bench").unwrap();
    let state = StarknetState::new(&store);
    let setup = state
        .apply_and_commit(&diff(0..STATE_LEAVES, 0), GlobalRootRule::PreV0_14)
        .unwrap();
    eprintln!(
        "built a {STATE_LEAVES}-leaf state with {} hashes",
        setup.hashes
    );

    let mut group = c.benchmark_group("starknet_storage_writes");
    group.sample_size(10);
    for writes in [1u64, 100, 10_000] {
        group.throughput(Throughput::Elements(writes));
        // Half overwrites of existing leaves, half new leaves, as in real batches.
        let batch = |salt| {
            let mut d = diff(0..writes / 2, salt);
            d.squash(diff(
                STATE_LEAVES + salt * writes..STATE_LEAVES + salt * writes + writes - writes / 2,
                salt,
            ));
            d
        };
        let (roots, _) = state.plan(&batch(1), GlobalRootRule::PreV0_14).unwrap();
        eprintln!(
            "{writes} writes: {} hashes ({:.1} per write)",
            roots.hashes,
            roots.hashes as f64 / writes as f64
        );
        group.bench_function(
            format!("{writes}_writes_on_{STATE_LEAVES}_leaves"),
            |bench| {
                let mut salt = 1;
                bench.iter_batched(
                    || {
                        salt += 1;
                        batch(salt)
                    },
                    // apply() computes every root and every store change without committing,
                    // so the state stays at 100,000 leaves for each iteration.
                    |d| state.plan(&d, GlobalRootRule::PreV0_14).unwrap(),
                    BatchSize::LargeInput,
                )
            },
        );
    }
    group.finish();
}

criterion_group!(benches, hashes, storage_writes);
criterion_main!(benches);
