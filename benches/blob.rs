//! Cost of checking one blob against the versioned hash its transaction
//! committed to, as the fetch stage does for every blob: a real Starknet
//! mainnet blob (L2 block 631,861) from ../shared/fixtures. Without a proof
//! (the beacon `blobs` endpoint) the commitment is recomputed, a multi-scalar
//! multiplication over 4,096 points; with the commitment and proof of
//! `blob_sidecars` it is hashed and the proof verified. A ZKsync blob can
//! also be proven by the opening its commit calldata carries.
//!
//! Run with `cargo bench --bench blob -- --warm-up-time 1 --measurement-time 3`.

use std::path::Path;

use alloy_primitives::B256;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use zkreplay::blob::{self, BYTES_PER_BLOB};
use zkreplay::l1::beacon::verify_blob;
use zkreplay::rollup::zksync::blob as zkblob;
use zkreplay::rollup::zksync::da::BlobOpening;

fn bench(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/starknet/mainnet-v0.13.1-blobs/631861/blob.hex");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let bytes = hex::decode(text.trim().trim_start_matches("0x")).unwrap();
    assert_eq!(bytes.len(), BYTES_PER_BLOB);
    let commitment = blob::commitment(&bytes).unwrap();
    let proof = blob::blob_proof(&bytes, &commitment).unwrap();
    let versioned_hash = blob::versioned_hash(&commitment);

    let mut group = c.benchmark_group("blob");
    group.throughput(Throughput::Bytes(BYTES_PER_BLOB as u64));
    group.bench_function("verify without proof (commitment recomputed)", |b| {
        b.iter(|| verify_blob(&versioned_hash, &bytes, None).unwrap())
    });
    group.bench_function("verify with commitment and proof", |b| {
        b.iter(|| verify_blob(&versioned_hash, &bytes, Some((&commitment, &proof))).unwrap())
    });
    group.finish();

    // ZKsync: the opening of its commit calldata (Matter Labs' vector) proves
    // the blob without the commitment being recomputed.
    let vector: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../shared/fixtures/zksync/kzg/kzg_test_0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let field = |key: &str| hex::decode(vector["expected_outputs"][key].as_str().unwrap()).unwrap();
    let pubdata = hex::decode(vector["pubdata"].as_str().unwrap()).unwrap();
    let zksync_blob = zkblob::pubdata_to_blob(&pubdata).unwrap();
    let opening = BlobOpening {
        opening_point: field("opening_point")[16..].try_into().unwrap(),
        claimed_value: B256::from_slice(&field("opening_value")),
        commitment: field("kzg_commitment").try_into().unwrap(),
        proof: field("opening_proof").try_into().unwrap(),
        prepublished: None,
    };
    let expected = Some(B256::from_slice(&field("versioned_hash")));
    let mut group = c.benchmark_group("zksync blob");
    group.throughput(Throughput::Bytes(BYTES_PER_BLOB as u64));
    group.bench_function("proven by its calldata opening", |b| {
        b.iter(|| {
            assert_eq!(
                zkblob::proven_versioned_hash(&zksync_blob, std::slice::from_ref(&opening)),
                expected
            )
        })
    });
    group.bench_function("decoded to pubdata (inverse FFT)", |b| {
        b.iter(|| zkblob::blob_to_pubdata(&zksync_blob).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
