//! The proofs of `zkreplay::l1::verify` on a real mainnet block: Ethereum
//! block 19299001 (155 transactions, all receipts) as a node served it, from
//! `../shared/fixtures/ethereum/mainnet-block-19299001` (see its PROVENANCE).
//! The expected hash, roots and the four SHARP memory-page logs come from the
//! fixture, not from this codebase; every flipped byte must be refused.

use crate::common;

use alloy_consensus::{Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Bytes, address, b256};
use alloy_rlp::{Decodable, Encodable};
use serde_json::Value;
use zkreplay::l1::verify::{VerifiedBlock, VerifyError, receipt_from_rpc};
use zkreplay::l1::{L1Log, LogFilter, RawBlock};

const BLOCK_HASH: B256 = b256!("a57e16d46dcae15744d84e1bbf9470cc93a1c9eb3a39eaf8e389b5b7b49a492f");
/// SHARP's MemoryPageFactRegistry (starknet-docs `learn/protocol/sharp.mdx`, via the fixture's PROVENANCE).
const REGISTRY: Address = address!("fd14567eaf9ba941cb8c8a94eec14831ca7fd1b4");
/// The four `registerContinuousMemoryPage` transactions the PROVENANCE lists.
const PAGE_TXS: [B256; 4] = [
    b256!("331a0e976a71c1ca5ae1b4b20d3ae32836d410f920dae522582ec527650b9de1"),
    b256!("3e0d936d367dec8d872bdccb0493e9d8ed422ae9f9c12124b3882e627c648855"),
    b256!("67b6e8d499804ecdd9ab3daa5c60ac18f2f40acd0fa40e02f8a64c7581276545"),
    b256!("aec9e0418cd0e1033c506b456876687962f56e962ad5c542174d5f2bce4900b8"),
];

struct Fixture {
    raw: RawBlock,
    receipts: Vec<ReceiptEnvelope>,
    receipts_json: Vec<Value>,
}

fn fixture() -> Fixture {
    let dir = common::fixtures().join("ethereum/mainnet-block-19299001/raw");
    let block = common::read_json(&dir.join("block.json"))["result"].take();
    let receipts_json = common::read_json(&dir.join("receipts.json"))["result"].take();
    let block: alloy_rpc_types_eth::Block = serde_json::from_value(block).unwrap();
    let receipts: Vec<alloy_rpc_types_eth::TransactionReceipt> =
        serde_json::from_value(receipts_json.clone()).unwrap();
    Fixture {
        raw: RawBlock::from_rpc(block).expect("full transactions"),
        receipts: receipts.into_iter().map(receipt_from_rpc).collect(),
        receipts_json: serde_json::from_value(receipts_json).unwrap(),
    }
}

/// The memory-page logs exactly as the node's JSON states them (index, tx, data).
fn claimed_page_logs(receipts: &[Value]) -> Vec<L1Log> {
    let hex =
        |v: &Value| u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    receipts
        .iter()
        .flat_map(|r| r["logs"].as_array().unwrap())
        .filter(|log| log["address"].as_str().unwrap().parse::<Address>().unwrap() == REGISTRY)
        .map(|log| L1Log {
            address: REGISTRY,
            topics: serde_json::from_value(log["topics"].clone()).unwrap(),
            data: serde_json::from_value(log["data"].clone()).unwrap(),
            block_number: hex(&log["blockNumber"]),
            block_hash: serde_json::from_value(log["blockHash"].clone()).unwrap(),
            transaction_hash: serde_json::from_value(log["transactionHash"].clone()).unwrap(),
            log_index: hex(&log["logIndex"]),
            removed: false,
        })
        .collect()
}

fn page_filter(topic0: B256) -> LogFilter {
    LogFilter {
        addresses: vec![REGISTRY],
        topics0: vec![topic0],
        from_block: 19_299_001,
        to_block: 19_299_001,
    }
}

#[test]
fn mainnet_block_19299001_verifies_and_proves_its_four_memory_page_logs() {
    let f = fixture();
    assert_eq!(f.raw.transactions.len(), 155);
    assert_eq!(f.receipts.len(), 155);
    let block =
        VerifiedBlock::verify(f.raw, BLOCK_HASH, f.receipts).expect("the real block verifies");
    assert_eq!(block.number(), 19_299_001);
    assert_eq!(block.transaction_hashes().len(), 155);

    let claimed = claimed_page_logs(&f.receipts_json);
    assert_eq!(claimed.len(), 4, "PROVENANCE: one log per page transaction");
    let claimed_txs: Vec<B256> = claimed.iter().map(|l| l.transaction_hash).collect();
    assert_eq!(claimed_txs, PAGE_TXS);
    let refs: Vec<&L1Log> = claimed.iter().collect();
    let proved = block
        .prove_logs(&refs, &page_filter(claimed[0].topics[0]))
        .unwrap();
    assert_eq!(proved, claimed);

    for hash in PAGE_TXS {
        let tx = block.transaction(hash, &[REGISTRY]).unwrap();
        assert_eq!(tx.to, Some(REGISTRY));
        assert_eq!(
            &tx.input[..4],
            &[0x55, 0x78, 0xce, 0xae],
            "registerContinuousMemoryPage"
        );
        assert_eq!(tx.block_hash, Some(BLOCK_HASH));
    }
    // Followed contracts are enforced: the same transaction is refused for another recipient.
    assert!(matches!(
        block.transaction(PAGE_TXS[0], &[Address::repeat_byte(1)]),
        Err(VerifyError::UnexpectedRecipient { .. })
    ));
    assert!(matches!(
        block.transaction(B256::repeat_byte(9), &[]),
        Err(VerifyError::TransactionNotInBlock { .. })
    ));
}

/// Flips byte `at` of `bytes`.
fn flipped(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at] ^= 0x01;
    out
}

/// Positions to flip: every byte of short encodings, a spread of long ones.
fn positions(len: usize) -> impl Iterator<Item = usize> {
    let step = (len / 47).max(1);
    (0..len).step_by(step).chain([len - 1])
}

#[test]
fn a_flipped_byte_in_the_header_is_refused() {
    let f = fixture();
    let mut rlp = Vec::new();
    f.raw.header.encode(&mut rlp);
    let mut refused = 0;
    for at in 0..rlp.len() {
        let bytes = flipped(&rlp, at);
        // A flip that breaks the RLP is refused before hashing; one that keeps it must not hash right.
        let Ok(header) = Header::decode(&mut bytes.as_slice()) else {
            refused += 1;
            continue;
        };
        let raw = RawBlock {
            header,
            transactions: f.raw.transactions.clone(),
        };
        match VerifiedBlock::verify(raw, BLOCK_HASH, f.receipts.clone()) {
            Err(VerifyError::HeaderHash { .. }) => refused += 1,
            other => panic!("header byte {at} flipped: {:?}", other.map(|b| b.hash())),
        }
    }
    assert_eq!(refused, rlp.len());
}

#[test]
fn a_flipped_byte_in_a_transaction_is_refused() {
    let f = fixture();
    let (mut checked, mut undecodable) = (0, 0);
    for index in [0, 1, 77, 154] {
        let encoded = f.raw.transactions[index].encoded_2718();
        for at in positions(encoded.len()) {
            let bytes = flipped(&encoded, at);
            let Ok(tx) = TxEnvelope::decode_2718(&mut bytes.as_slice()) else {
                undecodable += 1;
                continue;
            };
            let mut raw = f.raw.clone();
            raw.transactions[index] = tx;
            let error = VerifiedBlock::verify(raw, BLOCK_HASH, f.receipts.clone()).unwrap_err();
            assert!(
                matches!(
                    error,
                    VerifyError::TransactionsRoot {
                        number: 19_299_001,
                        ..
                    }
                ),
                "tx {index} byte {at}: {error}"
            );
            assert!(error.to_string().contains("transactionsRoot"));
            checked += 1;
        }
    }
    assert!(
        checked > 150,
        "{checked} decodable flips checked, {undecodable} undecodable"
    );
}

#[test]
fn a_flipped_byte_in_a_receipt_is_refused() {
    let f = fixture();
    let mut checked = 0;
    // 0..3: ordinary receipts; the last: a page transaction's receipt with its log.
    let page_receipt = f
        .receipts
        .iter()
        .position(|r| r.logs().iter().any(|l| l.address == REGISTRY))
        .unwrap();
    for index in [0, 1, 2, page_receipt] {
        let encoded = f.receipts[index].encoded_2718();
        for at in positions(encoded.len()) {
            let bytes = flipped(&encoded, at);
            let Ok(receipt) = ReceiptEnvelope::decode_2718(&mut bytes.as_slice()) else {
                continue;
            };
            let mut receipts = f.receipts.clone();
            receipts[index] = receipt;
            let error = VerifiedBlock::verify(f.raw.clone(), BLOCK_HASH, receipts).unwrap_err();
            assert!(
                matches!(
                    error,
                    VerifyError::ReceiptsRoot {
                        number: 19_299_001,
                        ..
                    }
                ),
                "receipt {index} byte {at}: {error}"
            );
            checked += 1;
        }
    }
    assert!(checked > 150, "{checked}");
    // A failed transaction shown as successful changes the receipt, hence the root.
    let mut receipts = f.receipts.clone();
    let succeeded = receipts.iter().position(ReceiptEnvelope::status).unwrap();
    let receipt = receipts[succeeded].as_receipt_with_bloom_mut().unwrap();
    receipt.receipt.status = false.into();
    assert!(matches!(
        VerifiedBlock::verify(f.raw.clone(), BLOCK_HASH, receipts),
        Err(VerifyError::ReceiptsRoot { .. })
    ));
    // A receipt withheld.
    let mut receipts = f.receipts;
    receipts.pop();
    assert!(matches!(
        VerifiedBlock::verify(f.raw, BLOCK_HASH, receipts),
        Err(VerifyError::ReceiptCount { receipts: 154, .. })
    ));
}

#[test]
fn a_forged_or_withheld_log_is_refused() {
    let f = fixture();
    let claimed = claimed_page_logs(&f.receipts_json);
    let block = VerifiedBlock::verify(f.raw, BLOCK_HASH, f.receipts).unwrap();
    let filter = page_filter(claimed[0].topics[0]);
    for at in 0..claimed[1].data.len() {
        let mut forged = claimed.clone();
        forged[1].data = Bytes::from(flipped(&forged[1].data, at));
        let refs: Vec<&L1Log> = forged.iter().collect();
        let error = block.prove_logs(&refs, &filter).unwrap_err();
        assert!(
            matches!(&error, VerifyError::ForgedLog { detail, .. } if detail.contains("data")),
            "{error}"
        );
    }
    let mut forged = claimed.clone();
    forged[2].transaction_hash = PAGE_TXS[0];
    let refs: Vec<&L1Log> = forged.iter().collect();
    assert!(matches!(
        block.prove_logs(&refs, &filter),
        Err(VerifyError::ForgedLog { .. })
    ));
    let mut moved = claimed.clone();
    moved[0].log_index += 1;
    let refs: Vec<&L1Log> = moved.iter().collect();
    assert!(matches!(
        block.prove_logs(&refs, &filter),
        Err(VerifyError::ForgedLog { .. })
    ));
    let refs: Vec<&L1Log> = claimed[1..].iter().collect();
    let error = block.prove_logs(&refs, &filter).unwrap_err();
    assert!(
        matches!(error, VerifyError::WithheldLog { log_index, .. } if log_index == claimed[0].log_index),
        "{error}"
    );
}
