//! ZKsync tree: writes per second with root computation on a 1M-leaf tree,
//! against the Blake2s hash rate (the limit: writes/s <= hash rate / hashes per write).
//!
//! The 1M-leaf tree is built once per run in an in-memory node map (the
//! `NodeReader` of `HashMap`); every measured update starts from its root.

use std::collections::HashMap;

use alloy_primitives::B256;
use blake2::{Blake2s256, Digest};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use zkreplay::rollup::zksync::tree::{LeafWrite, Tree, empty_root, hash_branch};

const LEAVES: u64 = 1_000_000;
const WRITES: u64 = 1_000;

fn key(i: u64) -> B256 {
    B256::from(<[u8; 32]>::from(Blake2s256::digest(i.to_le_bytes())))
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("zksync_tree");
    group.sample_size(10);

    group.throughput(Throughput::Elements(1));
    let (a, b) = ([1u8; 32], [2u8; 32]);
    group.bench_function("blake2s_64_bytes", |bench| {
        bench.iter(|| hash_branch(std::hint::black_box(&a), std::hint::black_box(&b)))
    });

    let mut store: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let root = {
        let start = std::time::Instant::now();
        let mut tree = Tree::new(&store, empty_root());
        let writes = (0..LEAVES)
            .map(|i| LeafWrite::new(&key(i), i + 1, &B256::with_last_byte(1)))
            .collect();
        let update = tree.update(writes).unwrap();
        eprintln!(
            "built {LEAVES} leaves in {:.1?}, {} nodes",
            start.elapsed(),
            update.nodes.len()
        );
        for (k, v) in update.nodes {
            store.insert(k.to_vec(), v);
        }
        update.root
    };

    let mut seed = 0u64;
    let mut next_writes = move || {
        seed += 1;
        (0..WRITES)
            .map(|j| {
                let i = (seed * 7919 + j * 104_729) % LEAVES;
                LeafWrite::new(&key(i), i + 1, &B256::from([seed as u8; 32]))
            })
            .collect::<Vec<_>>()
    };
    {
        let mut tree = Tree::new(&store, root);
        tree.update(next_writes()).unwrap();
        eprintln!(
            "hashes per write (updates of existing leaves, {WRITES}/batch): {:.1}",
            tree.hashes as f64 / WRITES as f64
        );
    }
    group.throughput(Throughput::Elements(WRITES));
    group.bench_function("update_1000_existing_leaves_of_1M", |bench| {
        bench.iter_batched(
            &mut next_writes,
            |writes| {
                let mut tree = Tree::new(&store, root);
                tree.update(writes).unwrap().root
            },
            BatchSize::SmallInput,
        )
    });
    let mut fresh = LEAVES;
    group.bench_function("insert_1000_new_leaves_into_1M", |bench| {
        bench.iter_batched(
            || {
                fresh += WRITES;
                (fresh..fresh + WRITES)
                    .map(|i| LeafWrite::new(&key(i), i + 1, &B256::with_last_byte(2)))
                    .collect::<Vec<_>>()
            },
            |writes| {
                let mut tree = Tree::new(&store, root);
                tree.update(writes).unwrap().root
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
