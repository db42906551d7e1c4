//! The follower end to end over an in-memory L1 that carries the cairo-lang
//! oracle chains (../shared/fixtures/starknet/oracle): the real L1 calldata,
//! blobs and memory pages StarkWare's own Python produced, with the event
//! values it computed. Expected roots are cairo-lang's, never ours.
//!
//! The in-memory L1 is test support only: it lets the tests cut the replay at
//! every L1 block, fork the chain under the follower and tamper with what L1
//! says, deterministically and fast. The same pipeline over real HTTP against
//! anvil is covered by the devnet tests.

mod common;

use std::collections::HashMap;
use std::sync::Mutex;

use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use alloy_sol_types::SolEvent;
use serde_json::Value;
use zkreplay::audit::{BatchAudit, Verdict};
use zkreplay::chain::ChainConfig;
use zkreplay::follow::starknet::{LogMemoryPageFactContinuous, LogStateUpdate, StarknetFollower};
use zkreplay::follow::{FollowError, FollowOptions, L1Cursor, OnMismatch};
use zkreplay::hexfmt::{format_word, parse_bytes, parse_word};
use zkreplay::l1::{BlockTag, L1Block, L1Error, L1Log, L1Source, L1Transaction, LogFilter};
use zkreplay::rollup::starknet::state::StarknetState;
use zkreplay::store::Store;

const CORE: Address = address!("c662c410C0ECf747543f5bA90660f6ABeBD9C8c4");
const REGISTRY: Address = address!("96375087b2F6eFc59e5e0dd5111B4d090EBFDD8B");

/// A log as emitted: address, topics, data.
type RawLog = (Address, Vec<B256>, Bytes);

/// An L1 chain held in memory: one transaction per block.
#[derive(Clone, Default)]
struct Chain {
    /// (tx, logs emitted by it); block n+1 carries entry n (block 0 is empty).
    entries: Vec<(L1Transaction, Vec<RawLog>)>,
    blobs: HashMap<B256, Vec<u8>>,
    /// Blocks at or above this number get hashes salted with `salt` (a fork).
    fork_from: u64,
    salt: u64,
}

impl Chain {
    fn head(&self) -> u64 {
        self.entries.len() as u64
    }

    fn block(&self, number: u64) -> Option<L1Block> {
        (number <= self.head()).then(|| L1Block {
            number,
            hash: self.hash(number),
            parent_hash: if number == 0 {
                B256::ZERO
            } else {
                self.hash(number - 1)
            },
            timestamp: 1_700_000_000 + 12 * number,
        })
    }

    fn hash(&self, number: u64) -> B256 {
        let salt = if number >= self.fork_from {
            self.salt
        } else {
            0
        };
        keccak256([number.to_be_bytes(), salt.to_be_bytes()].concat())
    }

    fn push(
        &mut self,
        to: Address,
        input: Vec<u8>,
        blobs: Vec<B256>,
        logs: Vec<(Address, Vec<B256>, Bytes)>,
    ) {
        let hash = keccak256([&input[..], &(self.entries.len() as u64).to_be_bytes()].concat());
        self.entries.push((
            L1Transaction {
                hash,
                to: Some(to),
                input: input.into(),
                blob_versioned_hashes: blobs,
                block_number: None,
                block_hash: None,
            },
            logs,
        ));
    }
}

struct MemoryL1 {
    chain: Mutex<Chain>,
}

impl MemoryL1 {
    fn snapshot(&self) -> Chain {
        self.chain.lock().unwrap().clone()
    }
}

impl L1Source for MemoryL1 {
    async fn chain_id(&self) -> Result<u64, L1Error> {
        Ok(31337)
    }

    async fn block_by_tag(&self, _tag: BlockTag) -> Result<L1Block, L1Error> {
        let chain = self.snapshot();
        Ok(chain.block(chain.head()).unwrap())
    }

    async fn block_by_number(&self, number: u64) -> Result<Option<L1Block>, L1Error> {
        Ok(self.snapshot().block(number))
    }

    async fn block_by_hash(&self, hash: B256) -> Result<Option<L1Block>, L1Error> {
        let chain = self.snapshot();
        Ok((0..=chain.head())
            .map(|n| chain.block(n).unwrap())
            .find(|b| b.hash == hash))
    }

    async fn logs(&self, filter: &LogFilter) -> Result<Vec<L1Log>, L1Error> {
        let chain = self.snapshot();
        let mut out = Vec::new();
        for number in filter.from_block.max(1)..=filter.to_block.min(chain.head()) {
            let (tx, logs) = &chain.entries[number as usize - 1];
            for (index, (address, topics, data)) in logs.iter().enumerate() {
                let wanted = filter.addresses.contains(address)
                    && (filter.topics0.is_empty() || filter.topics0.contains(&topics[0]));
                if wanted {
                    out.push(L1Log {
                        address: *address,
                        topics: topics.clone(),
                        data: data.clone(),
                        block_number: number,
                        block_hash: chain.hash(number),
                        transaction_hash: tx.hash,
                        log_index: index as u64,
                        removed: false,
                    });
                }
            }
        }
        Ok(out)
    }

    async fn transaction(&self, hash: B256) -> Result<Option<L1Transaction>, L1Error> {
        let chain = self.snapshot();
        Ok(chain.entries.iter().enumerate().find_map(|(i, (tx, _))| {
            (tx.hash == hash).then(|| L1Transaction {
                block_number: Some(i as u64 + 1),
                block_hash: Some(chain.hash(i as u64 + 1)),
                ..tx.clone()
            })
        }))
    }

    async fn call(&self, _to: Address, _data: Bytes, _block: u64) -> Result<Bytes, L1Error> {
        Ok(Bytes::new())
    }

    async fn blobs(&self, _block: &L1Block, hashes: &[B256]) -> Result<Vec<Vec<u8>>, L1Error> {
        let chain = self.snapshot();
        hashes
            .iter()
            .map(|h| {
                chain
                    .blobs
                    .get(h)
                    .cloned()
                    .ok_or(L1Error::BlobUnavailable { versioned_hash: *h })
            })
            .collect()
    }
}

fn word(v: &Value) -> B256 {
    parse_word(v.as_str().unwrap()).unwrap()
}

fn u256(v: &Value) -> U256 {
    U256::from_be_bytes(word(v).0)
}

fn bytes(v: &Value) -> Vec<u8> {
    parse_bytes(v.as_str().unwrap()).unwrap()
}

fn oracle_batches(set: &str) -> Vec<Value> {
    let dir = common::fixtures().join("starknet/oracle").join(set);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("batch_"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| common::read_json(&dir.join(n)))
        .collect()
}

/// The L1 history of an oracle chain: page registrations, then each state update.
fn oracle_chain(set: &str) -> Chain {
    let mut chain = Chain {
        fork_from: u64::MAX,
        ..Chain::default()
    };
    for batch in oracle_batches(set) {
        for page in batch["memory_pages"].as_array().into_iter().flatten() {
            let event = &page["LogMemoryPageFactContinuous"];
            let log = LogMemoryPageFactContinuous {
                factHash: word(&event["factHash"]),
                memoryHash: u256(&event["memoryHash"]),
                prod: u256(&event["prod"]),
            };
            chain.push(
                REGISTRY,
                bytes(&page["calldata"]),
                vec![],
                vec![(
                    REGISTRY,
                    vec![LogMemoryPageFactContinuous::SIGNATURE_HASH],
                    log.encode_data().into(),
                )],
            );
        }
        let mut versioned = Vec::new();
        for blob in batch["blobs"].as_array().into_iter().flatten() {
            let hash = word(&blob["versioned_hash"]);
            chain.blobs.insert(hash, bytes(&blob["data"]));
            versioned.push(hash);
        }
        let l1 = &batch["l1"];
        let calldata = l1
            .get("updateStateKzgDA_calldata")
            .or(l1.get("updateState_calldata"))
            .unwrap();
        let event = &l1["LogStateUpdate"];
        let log = LogStateUpdate {
            globalRoot: u256(&event["globalRoot"]),
            blockNumber: alloy_primitives::I256::try_from(event["blockNumber"].as_i64().unwrap())
                .unwrap(),
            blockHash: u256(&event["blockHash"]),
        };
        chain.push(
            CORE,
            bytes(calldata),
            versioned,
            vec![(
                CORE,
                vec![LogStateUpdate::SIGNATURE_HASH],
                log.encode_data().into(),
            )],
        );
    }
    chain
}

fn config() -> ChainConfig {
    ChainConfig::parse(&format!(
        r#"
name = "starknet-oracle"
rollup = "starknet"
l1_chain_id = 31337
first_l1_block = 0
log_range = 3
[starknet]
core_contract = "{CORE}"
memory_page_registry = "{REGISTRY}"
v0_14_from_l2_block = 0
"#
    ))
    .unwrap()
}

fn options(tag: BlockTag, to_block: Option<u64>, on_mismatch: OnMismatch) -> FollowOptions {
    FollowOptions {
        tag,
        on_mismatch,
        to_block,
        ..FollowOptions::default()
    }
}

async fn sync(
    l1: &MemoryL1,
    store: &Store,
    options: &FollowOptions,
) -> Result<zkreplay::follow::SyncReport, FollowError> {
    let config = config();
    StarknetFollower {
        source: l1,
        store,
        config: &config,
        options,
    }
    .sync()
    .await
}

/// Everything that must be identical between two replays of the same chain.
fn fingerprint(store: &Store) -> (String, Vec<BatchAudit>, Option<u64>, Option<L1Cursor>) {
    let checkpoint = StarknetState::new(store).checkpoint().unwrap();
    let audits = (0..checkpoint.next_batch)
        .map(|n| BatchAudit::read(store, n).unwrap().unwrap())
        .collect();
    (
        format!("{checkpoint:?}"),
        audits,
        BatchAudit::verified_batch(store).unwrap(),
        L1Cursor::read(store).unwrap(),
    )
}

#[tokio::test]
async fn oracle_chains_replay_to_cairo_lang_roots_through_the_follower() {
    for set in ["seed1_blob", "seed2_calldata"] {
        let l1 = MemoryL1 {
            chain: Mutex::new(oracle_chain(set)),
        };
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "starknet-oracle").unwrap();
        let report = sync(
            &l1,
            &store,
            &options(BlockTag::Finalized, None, OnMismatch::Halt),
        )
        .await
        .unwrap();
        let batches = oracle_batches(set);
        assert_eq!(report.batches_applied, batches.len() as u64, "{set}");
        assert_eq!(report.mismatches, 0, "{set}");
        for (n, batch) in batches.iter().enumerate() {
            let audit = BatchAudit::read(&store, n as u64).unwrap().unwrap();
            assert_eq!(audit.verdict, Verdict::Match, "{set} batch {n}: {audit:?}");
            // The root cairo-lang computed for this batch, not the program output we parsed.
            assert_eq!(
                audit.computed_root,
                format_word(&word(&batch["expected"]["global_root"])),
                "{set} batch {n}"
            );
            assert!(
                audit
                    .checks
                    .iter()
                    .any(|c| c.name.starts_with("kzg") || c.name.starts_with("calldata"))
            );
            let record = zkreplay::follow::L1BatchRecord::read(&store, n as u64)
                .unwrap()
                .unwrap();
            assert_eq!(
                record.l2_blocks.unwrap().1,
                batch["blocks"]["last"].as_u64().unwrap()
            );
        }
        assert_eq!(
            BatchAudit::verified_batch(&store).unwrap(),
            Some(batches.len() as u64 - 1)
        );
        // A second pass finds nothing new and changes nothing.
        let before = fingerprint(&store);
        let again = sync(
            &l1,
            &store,
            &options(BlockTag::Finalized, None, OnMismatch::Halt),
        )
        .await
        .unwrap();
        assert_eq!(again.batches_applied, 0);
        assert_eq!(fingerprint(&store), before);
    }
}

#[tokio::test]
async fn a_replay_cut_at_every_l1_block_and_reopened_equals_an_uninterrupted_one() {
    let l1 = MemoryL1 {
        chain: Mutex::new(oracle_chain("seed2_calldata")),
    };
    let whole = tempfile::tempdir().unwrap();
    let reference = {
        let store = Store::open(whole.path(), "starknet-oracle").unwrap();
        sync(
            &l1,
            &store,
            &options(BlockTag::Finalized, None, OnMismatch::Halt),
        )
        .await
        .unwrap();
        fingerprint(&store)
    };
    let dir = tempfile::tempdir().unwrap();
    let head = l1.snapshot().head();
    for stop in 0..=head {
        // A fresh process each time: the store is closed and reopened.
        let store = Store::open(dir.path(), "starknet-oracle").unwrap();
        sync(
            &l1,
            &store,
            &options(BlockTag::Finalized, Some(stop), OnMismatch::Halt),
        )
        .await
        .unwrap();
        let cursor = L1Cursor::read(&store).unwrap().unwrap();
        assert_eq!(cursor.block, stop);
    }
    let store = Store::open(dir.path(), "starknet-oracle").unwrap();
    assert_eq!(fingerprint(&store), reference);
}

#[tokio::test]
async fn an_l1_reorg_is_unwound_and_replayed_to_the_same_roots() {
    let l1 = MemoryL1 {
        chain: Mutex::new(oracle_chain("seed1_blob")),
    };
    let reference = {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "starknet-oracle").unwrap();
        sync(
            &l1,
            &store,
            &options(BlockTag::Latest, None, OnMismatch::Halt),
        )
        .await
        .unwrap();
        fingerprint(&store).0
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "starknet-oracle").unwrap();
    // Follow the first four updates, then the chain forks below the third.
    sync(
        &l1,
        &store,
        &options(BlockTag::Latest, Some(4), OnMismatch::Halt),
    )
    .await
    .unwrap();
    assert_eq!(
        StarknetState::new(&store).checkpoint().unwrap().next_batch,
        4
    );
    {
        let mut chain = l1.chain.lock().unwrap();
        chain.fork_from = 3;
        chain.salt = 7;
    }
    let report = sync(
        &l1,
        &store,
        &options(BlockTag::Latest, None, OnMismatch::Halt),
    )
    .await
    .unwrap();
    assert_eq!(report.unwound, 2, "batches of blocks 3 and 4 are undone");
    assert_eq!(report.batches_applied, 4, "and replayed with the rest");
    assert_eq!(fingerprint(&store).0, reference);
    // Every batch from the fork on records the new block hashes.
    let record = zkreplay::follow::L1BatchRecord::read(&store, 3)
        .unwrap()
        .unwrap();
    assert_eq!(record.l1_block_hash, l1.snapshot().hash(4));
}

#[tokio::test]
async fn a_tampered_root_is_a_finding_that_holds_the_verified_pointer() {
    let mut chain = oracle_chain("seed1_blob");
    // L1 "accepts" a different root for the third update than its program output claims.
    let (_, logs) = &mut chain.entries[2];
    let mut data = logs[0].2.to_vec();
    data[31] ^= 1;
    logs[0].2 = data.into();
    let l1 = MemoryL1 {
        chain: Mutex::new(chain),
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "starknet-oracle").unwrap();
    let err = sync(
        &l1,
        &store,
        &options(BlockTag::Finalized, None, OnMismatch::Halt),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FollowError::Halted { batch: 2 }), "{err}");
    let audit = BatchAudit::read(&store, 2).unwrap().unwrap();
    assert_eq!(audit.verdict, Verdict::Mismatch);
    let failed: Vec<&str> = audit
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failed, ["log_state_update.global_root"]);

    // With --on-mismatch continue the replay goes on; the pointer stays at batch 1.
    let report = sync(
        &l1,
        &store,
        &options(BlockTag::Finalized, None, OnMismatch::Continue),
    )
    .await
    .unwrap();
    assert_eq!(report.batches_applied, 3);
    assert_eq!(BatchAudit::verified_batch(&store).unwrap(), Some(1));
    assert_eq!(
        StarknetState::new(&store).checkpoint().unwrap().next_batch,
        6
    );
}

#[tokio::test]
async fn a_blob_that_is_not_the_committed_one_fails_the_binding_checks() {
    let mut chain = oracle_chain("seed1_blob");
    // The transaction names a different versioned hash for its first blob, and
    // the node serves the real blob under it: the KZG binding must notice.
    let (tx, _) = &mut chain.entries[0];
    let real = tx.blob_versioned_hashes[0];
    let fake = keccak256(real);
    tx.blob_versioned_hashes[0] = fake;
    let blob = chain.blobs[&real].clone();
    chain.blobs.insert(fake, blob);
    let l1 = MemoryL1 {
        chain: Mutex::new(chain),
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "starknet-oracle").unwrap();
    let report = sync(
        &l1,
        &store,
        &options(BlockTag::Finalized, None, OnMismatch::Continue),
    )
    .await
    .unwrap();
    assert_eq!(report.mismatches, 1);
    let audit = BatchAudit::read(&store, 0).unwrap().unwrap();
    assert_eq!(audit.verdict, Verdict::Mismatch);
    assert!(
        audit
            .checks
            .iter()
            .any(|c| !c.passed && c.name.contains("versioned_hash")),
        "{:?}",
        audit.checks
    );
    // The state itself is still right (the data was genuine), but it is not verified.
    assert_eq!(BatchAudit::verified_batch(&store).unwrap(), None);
}
