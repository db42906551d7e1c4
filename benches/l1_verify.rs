//! Cost of proving one real mainnet block: Ethereum block 19299001 (155
//! transactions, all receipts) from ../shared/fixtures. Prints the bytes a
//! node sends for it (JSON) and the RLP bytes proved; measures parsing the
//! JSON and the proofs (header hash, transactionsRoot, receiptsRoot).
//!
//! Run with `cargo bench --bench l1_verify -- --warm-up-time 1 --measurement-time 3`.

use std::path::Path;

use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{b256, keccak256};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use zkreplay::l1::RawBlock;
use zkreplay::l1::verify::{VerifiedBlock, receipt_from_rpc};

fn result(path: &Path) -> (usize, serde_json::Value) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    (bytes.len(), json["result"].take())
}

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/ethereum/mainnet-block-19299001/raw");
    let hash = b256!("a57e16d46dcae15744d84e1bbf9470cc93a1c9eb3a39eaf8e389b5b7b49a492f");
    let (block_bytes, block_json) = result(&dir.join("block.json"));
    let (receipt_bytes, receipts_json) = result(&dir.join("receipts.json"));
    let parse = || {
        let block: alloy_rpc_types_eth::Block = serde_json::from_value(block_json.clone()).unwrap();
        let receipts: Vec<alloy_rpc_types_eth::TransactionReceipt> =
            serde_json::from_value(receipts_json.clone()).unwrap();
        (
            RawBlock::from_rpc(block).unwrap(),
            receipts
                .into_iter()
                .map(receipt_from_rpc)
                .collect::<Vec<_>>(),
        )
    };
    let (raw, receipts) = parse();
    let verified = VerifiedBlock::verify(raw.clone(), hash, receipts.clone()).unwrap();
    eprintln!(
        "block 19299001: {} transactions; JSON from the node {} bytes (block {block_bytes} + receipts {receipt_bytes}); RLP proved {} bytes",
        raw.transactions.len(),
        block_bytes + receipt_bytes,
        verified.encoded_len()
    );

    let mut group = c.benchmark_group("l1_verify");
    group.throughput(Throughput::Bytes((block_bytes + receipt_bytes) as u64));
    group.bench_function(
        "block 19299001: prove header, transactions, receipts",
        |b| {
            b.iter_batched(
                || (raw.clone(), receipts.clone()),
                |(raw, receipts)| VerifiedBlock::verify(raw, hash, receipts).unwrap(),
                BatchSize::SmallInput,
            )
        },
    );
    // The floor: one keccak-256 pass over the bytes proved. A proof hashes
    // every transaction and receipt into its trie and every transaction
    // again for its hash, so it cannot be faster than this.
    let mut rlp = Vec::with_capacity(verified.encoded_len());
    alloy_rlp::Encodable::encode(verified.header(), &mut rlp);
    for tx in &raw.transactions {
        tx.encode_2718(&mut rlp);
    }
    for receipt in &receipts {
        receipt.encode_2718(&mut rlp);
    }
    group.bench_function(
        "block 19299001: one keccak-256 pass over the proved RLP",
        |b| b.iter(|| keccak256(std::hint::black_box(&rlp))),
    );
    group.bench_function("block 19299001: parse JSON + prove", |b| {
        b.iter(|| {
            let (raw, receipts) = parse();
            VerifiedBlock::verify(raw, hash, receipts).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
