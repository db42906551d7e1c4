//! Snapshot export and import throughput (leaves/s) and compressed bytes
//! per leaf, on synthetic ZKsync stores of 1,000,000 and 10,000,000 leaves
//! (`ZKREPLAY_BENCH_SNAPSHOT_LEAVES=1000000,10000000` by default; set it
//! lower for a quick run). Memory stays bounded: the store is written a
//! batch at a time, export streams history through one sort run, import
//! holds one flush of leaves.
//!
//! The leaves are synthetic (random derived keys), so the store is written
//! directly (leaves and history of batch 0) and its root is not known in
//! advance: the first import of each size computes it (and is refused at
//! the root check, after all the work), the manifest is then given that
//! root, and the timed imports are complete, accepted imports.
//!
//! Run in release: `cargo bench --bench snapshot`.

use std::path::Path;
use std::time::{Duration, Instant};

use alloy_primitives::B256;
use blake2::{Blake2s256, Digest};
use criterion::{Criterion, criterion_group, criterion_main};
use zkreplay::rollup::zksync::state::{BatchRecord, ZksyncTip};
use zkreplay::snapshot::{self, ExportOptions, ImportOptions, SnapshotError, SnapshotManifest};
use zkreplay::store::{Column, Store, StoreBatch, keys};

const CHAIN: &str = "zksync-bench";

fn sizes() -> Vec<u64> {
    std::env::var("ZKREPLAY_BENCH_SNAPSHOT_LEAVES")
        .unwrap_or_else(|_| "1000000,10000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("leaf count"))
        .collect()
}

/// A store holding `n` ZKsync leaves as of batch 0 (no tree nodes: only
/// what export reads), written 100,000 leaves per commit.
fn synthetic_store(dir: &Path, n: u64) {
    let store = Store::open(dir, CHAIN).unwrap();
    store
        .claim_rollup(zkreplay::chain::RollupKind::Zksync)
        .unwrap();
    let mut batch = StoreBatch::default();
    for i in 0..n {
        let key = B256::from(<[u8; 32]>::from(Blake2s256::digest(i.to_be_bytes())));
        let mut leaf = Vec::with_capacity(40);
        leaf.extend_from_slice(&(i + 1).to_be_bytes());
        leaf.extend_from_slice(B256::from(alloy_primitives::U256::from(i)).as_slice());
        let leaf_key = keys::leaf(keys::LEAF_ZKSYNC_BY_KEY, &[key.as_slice()]);
        batch.put(Column::History, keys::history(&leaf_key, 0), leaf.clone());
        batch.put(Column::Leaves, leaf_key, leaf);
        if batch.len() >= 200_000 {
            store.commit(std::mem::take(&mut batch)).unwrap();
        }
    }
    let record = BatchRecord {
        batch: 0,
        computed_root: B256::ZERO,
        claimed_root: None,
        matches: None,
        next_index: n + 1,
        initial_writes: 0,
        repeated_writes: 0,
    };
    let tip = ZksyncTip {
        batch: 0,
        root: B256::ZERO,
        next_index: n + 1,
        last_executed: 0,
        last_proven: 0,
        verified: 0,
    };
    batch.put(
        Column::Batches,
        keys::batch(0).to_vec(),
        serde_json::to_vec(&record).unwrap(),
    );
    batch.put(
        Column::Meta,
        keys::CHECKPOINT,
        serde_json::to_vec(&tip).unwrap(),
    );
    store.commit(batch).unwrap();
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(1));
    for n in sizes() {
        let tmp = tempfile::tempdir().unwrap();
        let store_dir = tmp.path().join("store");
        synthetic_store(&store_dir, n);

        // Export.
        let snap = tmp.path().join("snap");
        let started = Instant::now();
        let manifest = snapshot::export(&ExportOptions::new(&store_dir, CHAIN, &snap)).unwrap();
        let export_s = started.elapsed().as_secs_f64();
        let bytes: u64 = manifest.chunks.iter().map(|c| c.size).sum();

        // The root, from a first (refused) import.
        let data = tmp.path().join("data");
        let computed = match snapshot::import(&ImportOptions::new(&data, &snap)) {
            Err(SnapshotError::RootMismatch { computed, .. }) => computed,
            other => panic!("expected the unknown root to be refused: {other:?}"),
        };
        let mut manifest = SnapshotManifest::read(&snap).unwrap();
        manifest.roots.state_root = computed;
        manifest.write(&snap).unwrap();

        let mut import_s = Vec::new();
        group.bench_function(format!("import_{n}_leaves"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    let data = tmp.path().join(format!("data-{}-{i}", import_s.len()));
                    let started = Instant::now();
                    snapshot::import(&ImportOptions::new(&data, &snap)).unwrap();
                    let took = started.elapsed();
                    total += took;
                    import_s.push(took.as_secs_f64());
                    std::fs::remove_dir_all(&data).unwrap();
                }
                total
            })
        });
        let best_import = import_s.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "snapshot {n} leaves: export {:.0} leaves/s ({export_s:.1} s), import {:.0} leaves/s (best {best_import:.1} s), {:.1} compressed bytes/leaf ({} chunks)",
            n as f64 / export_s,
            n as f64 / best_import,
            bytes as f64 / n as f64,
            manifest.chunks.len(),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
