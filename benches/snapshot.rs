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
//! With `ZKREPLAY_BENCH_SNAPSHOT_STARKNET_STORE=DIR` it also exports and
//! imports an existing Starknet store (e.g. the `starknet-bench` store
//! `benches/api_load.rs` keeps in `ZKREPLAY_BENCH_STORE`, built with
//! `StarknetState`, so its roots are real and the import is accepted), after
//! the ZKsync sizes: leaves/s both ways, compressed bytes/leaf, and the peak
//! RSS of each phase. That store is only read (export opens it read-only and
//! as a secondary instance); the snapshot and the imported store go to a
//! temporary directory, deleted at the end. Set
//! `ZKREPLAY_BENCH_SNAPSHOT_LEAVES=` (empty) to run the Starknet store alone.
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
        .filter(|s| !s.trim().is_empty())
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

/// Peak resident memory of this process so far (Linux `VmHWM`), in MiB.
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
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

        // The root, from a first import: it does all the work and is refused
        // at the very end, at the root check.
        let data = tmp.path().join("data");
        let started = Instant::now();
        let computed = match snapshot::import(&ImportOptions::new(&data, &snap)) {
            Err(SnapshotError::RootMismatch { computed, .. }) => computed,
            other => panic!("expected the unknown root to be refused: {other:?}"),
        };
        let first_import_s = started.elapsed().as_secs_f64();
        let mut manifest = SnapshotManifest::read(&snap).unwrap();
        manifest.roots.state_root = computed;
        manifest.write(&snap).unwrap();

        // An accepted import, timed once; criterion samples it only up to
        // 1,000,000 leaves (10 samples of a 10,000,000-leaf import take hours).
        let data = tmp.path().join("accepted");
        let started = Instant::now();
        snapshot::import(&ImportOptions::new(&data, &snap)).unwrap();
        let import_s = started.elapsed().as_secs_f64();
        std::fs::remove_dir_all(&data).unwrap();
        if n <= 1_000_000 {
            let mut run = 0;
            group.bench_function(format!("import_{n}_leaves"), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        run += 1;
                        let data = tmp.path().join(format!("run-{run}"));
                        let started = Instant::now();
                        snapshot::import(&ImportOptions::new(&data, &snap)).unwrap();
                        total += started.elapsed();
                        std::fs::remove_dir_all(&data).unwrap();
                    }
                    total
                })
            });
        }
        println!(
            "snapshot {n} leaves: export {:.0} leaves/s ({export_s:.1} s), import {:.0} leaves/s ({import_s:.1} s; the root-finding run {first_import_s:.1} s), {:.1} compressed bytes/leaf ({} chunks), peak RSS {} MiB",
            n as f64 / export_s,
            n as f64 / import_s,
            bytes as f64 / n as f64,
            manifest.chunks.len(),
            peak_rss_mib().map_or("?".into(), |m| m.to_string()),
        );
    }
    group.finish();
    if let Ok(store) = std::env::var("ZKREPLAY_BENCH_SNAPSHOT_STARKNET_STORE") {
        starknet_store(Path::new(&store));
    }
}

/// Forgets the peak resident memory so far (Linux: writing 5 to
/// `/proc/self/clear_refs` resets `VmHWM`), so each phase reports its own.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Exports the Starknet store at `store` (its last batch) and imports the
/// snapshot into a fresh directory, timing each once.
fn starknet_store(store: &Path) {
    let tmp = tempfile::tempdir().unwrap();
    let peak = |reset: bool| match (reset, peak_rss_mib()) {
        (true, Some(m)) => format!("{m} MiB"),
        (false, Some(m)) => format!("{m} MiB (process peak so far)"),
        (_, None) => "?".into(),
    };

    let snap = tmp.path().join("snap");
    let reset = reset_peak_rss();
    let started = Instant::now();
    let manifest = snapshot::export(&ExportOptions::new(store, "starknet", &snap)).unwrap();
    let export_s = started.elapsed().as_secs_f64();
    let export_peak = peak(reset);
    let bytes: u64 = manifest.chunks.iter().map(|c| c.size).sum();
    let n = manifest.leaves.total;

    let data = tmp.path().join("data");
    let reset = reset_peak_rss();
    let started = Instant::now();
    let report = snapshot::import(&ImportOptions::new(&data, &snap)).unwrap();
    let import_s = started.elapsed().as_secs_f64();
    let import_peak = peak(reset);
    assert_eq!(report.state_root, manifest.roots.state_root);
    println!(
        "snapshot of Starknet store {} ({}, batch {}): {n} leaves ({} contracts, {} storage slots, {} classes, {} aliases); export {:.0} leaves/s ({export_s:.1} s, peak RSS {export_peak}), import {:.0} leaves/s ({import_s:.1} s, peak RSS {import_peak}), {:.1} compressed bytes/leaf ({} chunks, {bytes} bytes)",
        store.display(),
        manifest.chain,
        manifest.batch,
        manifest.leaves.contracts,
        manifest.leaves.storage,
        manifest.leaves.classes,
        manifest.leaves.aliases,
        n as f64 / export_s,
        n as f64 / import_s,
        bytes as f64 / n.max(1) as f64,
        manifest.chunks.len(),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
