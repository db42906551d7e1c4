//! Starknet blob decoding throughput: IFFT + decompress + parse, on real blobs
//! from ../shared/fixtures (Sepolia v0.13.3, three compressed blobs; mainnet
//! v0.13.1, one uncompressed blob). Target: >= 500 blobs/s on one core.
//!
//! Run with `cargo bench --bench starknet_da -- --warm-up-time 1 --measurement-time 3`.

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use zkreplay::rollup::starknet::da::batch::blobs_to_felts;
use zkreplay::rollup::starknet::da::{DaEnd, Layout, decode_da};

fn read_blob(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    zkreplay::hexfmt::parse_bytes(&text).unwrap()
}

fn bench(c: &mut Criterion) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/starknet");
    let compressed: Vec<Vec<u8>> = (0..3)
        .map(|i| {
            read_blob(&fixtures.join(format!("sepolia-v0.13.3-batches/l1-7070043/blob{i}.hex")))
        })
        .collect();
    let plain = vec![read_blob(
        &fixtures.join("mainnet-v0.13.1-blobs/631861/blob.hex"),
    )];

    let mut group = c.benchmark_group("starknet_da");
    group.throughput(Throughput::Elements(compressed.len() as u64));
    group.bench_function("v0.13.3 compressed blobs: ifft+decompress+parse", |b| {
        b.iter(|| {
            let (felts, _) = blobs_to_felts(&compressed).unwrap();
            decode_da(&felts, Layout::V0_13_3, DaEnd::ZeroPadded).unwrap()
        })
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("v0.13.1 blob: ifft+parse", |b| {
        b.iter(|| {
            let (felts, _) = blobs_to_felts(&plain).unwrap();
            decode_da(&felts, Layout::V0_11, DaEnd::ZeroPadded).unwrap()
        })
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("ifft only", |b| {
        b.iter(|| zkreplay::blob::blob_to_coefficients(&plain[0]).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
