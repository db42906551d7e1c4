//! The follower end to end over an in-memory L1 that carries the cairo-lang
//! oracle chains (../shared/fixtures/starknet/oracle): the real L1 calldata,
//! blobs and memory pages StarkWare's own Python produced, with the event
//! values it computed. Expected roots are cairo-lang's, never ours.
//!
//! The in-memory L1 is test support only: it lets the tests cut the replay at
//! every L1 block, fork the chain under the follower and tamper with what L1
//! says, deterministically and fast. The same pipeline over real HTTP against
//! anvil is covered by the devnet tests.

use crate::common;
use crate::memory_l1::{Chain, MemoryL1, RawLog, config, memory, oracle_batches, oracle_chain};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use alloy_sol_types::SolEvent;
use zkreplay::audit::{BatchAudit, Verdict};
use zkreplay::chain::ChainConfig;
use zkreplay::follow::starknet::StarknetEngine;
use zkreplay::follow::{FollowError, FollowOptions, Follower, L1Cursor, OnMismatch};
use zkreplay::hexfmt::format_word;
use zkreplay::l1::{
    BlobRequest, BlockTag, L1Block, L1Error, L1Log, L1Source, L1Transaction, LogFilter,
};
use zkreplay::rollup::starknet::state::StarknetState;
use zkreplay::store::Store;

pub fn options(tag: BlockTag, to_block: Option<u64>, on_mismatch: OnMismatch) -> FollowOptions {
    FollowOptions {
        tag,
        on_mismatch,
        to_block,
        ..FollowOptions::default()
    }
}

async fn sync(
    l1: &MemoryL1,
    store: &Arc<Store>,
    options: &FollowOptions,
) -> Result<zkreplay::follow::SyncReport, FollowError> {
    let config = config();
    let engine = Arc::new(StarknetEngine::new(&config).unwrap());
    Follower::new(engine, l1, store.clone(), &config, options)
        .sync()
        .await
}

fn open(dir: &std::path::Path) -> Arc<Store> {
    Arc::new(Store::open(dir, "starknet-oracle").unwrap())
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
    // Sequential (depth 0), a one-deep pipeline and the default depth must agree.
    for (set, depth) in ["seed1_blob", "seed2_calldata"]
        .into_iter()
        .flat_map(|set| [0, 1, zkreplay::follow::DEFAULT_PIPELINE_DEPTH].map(|d| (set, d)))
    {
        let options = |tag, to, on| FollowOptions {
            pipeline_depth: depth,
            ..options(tag, to, on)
        };
        let l1 = MemoryL1 {
            chain: Mutex::new(oracle_chain(set)),
        };
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let report = sync(
            &l1,
            &store,
            &options(BlockTag::Finalized, None, OnMismatch::Halt),
        )
        .await
        .unwrap();
        let batches = oracle_batches(set);
        assert_eq!(report.batches_applied, batches.len() as u64, "{set}");
        assert_eq!(report.mismatches(), 0, "{set}");
        for (n, batch) in batches.iter().enumerate() {
            let audit = BatchAudit::read(&store, n as u64).unwrap().unwrap();
            assert_eq!(audit.verdict, Verdict::Match, "{set} batch {n}: {audit:?}");
            // The root cairo-lang computed for this batch, not the program output we parsed.
            assert_eq!(
                audit.computed_root,
                format_word(&common::word(&batch["expected"]["global_root"])),
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
                record.summary.l2_blocks.unwrap().1,
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
        let store = open(whole.path());
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
        let store = open(dir.path());
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
    let store = open(dir.path());
    assert_eq!(fingerprint(&store), reference);
}

#[tokio::test]
async fn an_l1_reorg_is_unwound_and_replayed_to_the_same_roots() {
    let l1 = MemoryL1 {
        chain: Mutex::new(oracle_chain("seed1_blob")),
    };
    let reference = {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
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
    let store = open(dir.path());
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
    let store = open(dir.path());
    let err = sync(
        &l1,
        &store,
        &options(BlockTag::Finalized, None, OnMismatch::Halt),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FollowError::Halted { batch: 2, .. }), "{err}");
    let audit = BatchAudit::read(&store, 2).unwrap().unwrap();
    assert_eq!(audit.verdict, Verdict::Mismatch);
    let failed: Vec<&str> = audit
        .checks
        .iter()
        .filter(|c| c.failed())
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
    let store = open(dir.path());
    let report = sync(
        &l1,
        &store,
        &options(BlockTag::Finalized, None, OnMismatch::Continue),
    )
    .await
    .unwrap();
    assert_eq!(report.mismatches(), 1);
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

// ------------------------------------------------------------------ a toy engine
//
// The whole of a third rollup family, to show the trait is enough: batches
// are `ToyCommit(batch, root)` logs whose transaction input is the batch
// data, the state root is the hash chain `root_n = keccak(root_{n-1} ‖ data_n)`,
// and `ToyRevert(keep)` withdraws batches above `keep`. The test computes
// the chain itself, so the expected roots do not come from the engine.

mod toy {
    use super::*;
    use zkreplay::audit::Check;
    use zkreplay::follow::engine::{
        BatchJob, BatchSummary, Checkpoint, EventSource, L1Event, Plan, RollupEngine,
    };
    use zkreplay::store::{Column, StoreBatch, keys};

    alloy_sol_types::sol! {
        event ToyCommit(uint256 batch, bytes32 root);
        event ToyRevert(uint256 keep);
    }

    pub const TOY: Address = address!("00000000000000000000000000000000000070e1");

    pub struct ToyEngine;

    fn root_of(store: &Store, batch: u64) -> B256 {
        store
            .get(Column::Batches, &keys::batch(batch))
            .unwrap()
            .map_or(B256::ZERO, |v| B256::from_slice(&v))
    }

    impl RollupEngine for ToyEngine {
        type Fetched = Bytes;
        type Decoded = Bytes;

        fn events(&self) -> EventSource {
            EventSource {
                addresses: vec![TOY],
                topics0: vec![ToyCommit::SIGNATURE_HASH, ToyRevert::SIGNATURE_HASH],
            }
        }

        fn classify(&self, log: &L1Log) -> Result<L1Event, FollowError> {
            let topics = log.topics.iter().copied();
            if let Ok(c) = ToyCommit::decode_raw_log(topics.clone(), &log.data) {
                let batch = u64::try_from(c.batch).ok();
                return Ok(L1Event::Commit {
                    batch,
                    claimed_root: c.root,
                });
            }
            match ToyRevert::decode_raw_log(topics, &log.data) {
                Ok(r) => Ok(L1Event::Revert {
                    keep: u64::try_from(r.keep).unwrap_or(u64::MAX),
                }),
                Err(_) => Ok(L1Event::Ignore),
            }
        }

        fn checkpoint(&self, store: &Store) -> Result<Checkpoint, FollowError> {
            let last = store.get(Column::Meta, keys::CHECKPOINT)?;
            Ok(Checkpoint {
                last_batch: last.map(|v| u64::from_be_bytes(v.try_into().unwrap())),
            })
        }

        async fn fetch<S: L1Source>(
            &self,
            source: &S,
            job: &BatchJob,
        ) -> Result<Bytes, FollowError> {
            let tx = source.transaction(job.log.transaction_hash).await?;
            Ok(tx.expect("the node has it").input)
        }

        fn decode(&self, _job: &BatchJob, fetched: Bytes) -> Result<Bytes, FollowError> {
            Ok(fetched)
        }

        fn plan(&self, store: &Store, job: &BatchJob, data: Bytes) -> Result<Plan, FollowError> {
            let previous = job
                .batch
                .checked_sub(1)
                .map_or(B256::ZERO, |p| root_of(store, p));
            let root = keccak256([previous.as_slice(), &data].concat());
            let mut write = StoreBatch::default();
            write.put(Column::Batches, keys::batch(job.batch), root.to_vec());
            write.put(Column::Meta, keys::CHECKPOINT, job.batch.to_be_bytes());
            Ok(Plan {
                write,
                computed_root: format_word(&root),
                claimed_root: format_word(&job.claimed_root),
                checks: vec![Check::equal("data_not_empty", true, !data.is_empty())],
                summary: BatchSummary::default(),
            })
        }

        fn unwind(&self, store: &Store, keep: Option<u64>) -> Result<StoreBatch, FollowError> {
            let mut write = StoreBatch::default();
            let last = self.checkpoint(store)?.last_batch.unwrap_or(0);
            for n in keep.map_or(0, |k| k + 1)..=last {
                write.delete(Column::Batches, keys::batch(n).to_vec());
            }
            match keep {
                Some(k) => write.put(Column::Meta, keys::CHECKPOINT, k.to_be_bytes()),
                None => write.delete(Column::Meta, keys::CHECKPOINT),
            }
            Ok(write)
        }
    }
}

#[tokio::test]
async fn a_toy_engine_plugs_into_the_follower_with_reverts_and_reorgs() {
    use toy::{ToyCommit, ToyRevert};
    // Batches 0..4, a revert to 1, then batches 2..4 again with other data.
    let mut chain = Chain {
        fork_from: u64::MAX,
        ..Chain::default()
    };
    let mut roots = vec![B256::ZERO];
    let commit = |chain: &mut Chain, roots: &mut Vec<B256>, batch: u64, data: Vec<u8>| {
        roots.truncate(batch as usize + 1);
        let root = keccak256([roots[batch as usize].as_slice(), &data].concat());
        roots.push(root);
        let event = ToyCommit {
            batch: U256::from(batch),
            root,
        };
        let log = (
            toy::TOY,
            vec![ToyCommit::SIGNATURE_HASH],
            event.encode_data().into(),
        );
        chain.push(toy::TOY, data, vec![], vec![log]);
    };
    for n in 0..5 {
        commit(&mut chain, &mut roots, n, vec![n as u8; 3]);
    }
    let revert = ToyRevert {
        keep: U256::from(1),
    };
    let log = (
        toy::TOY,
        vec![ToyRevert::SIGNATURE_HASH],
        revert.encode_data().into(),
    );
    chain.push(toy::TOY, vec![0xee], vec![], vec![log]);
    for n in 2..5 {
        commit(&mut chain, &mut roots, n, vec![0x40 + n as u8; 5]);
    }
    let l1 = MemoryL1 {
        chain: Mutex::new(chain),
    };
    let mut config = config();
    config.log_range = 4;
    for depth in [0, 3] {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let opts = FollowOptions {
            pipeline_depth: depth,
            ..options(BlockTag::Latest, None, OnMismatch::Halt)
        };
        let follower = Follower::new(Arc::new(toy::ToyEngine), &l1, store.clone(), &config, &opts);
        let report = follower.sync().await.unwrap();
        assert_eq!(report.unwound, 3, "batches 2..4 of the first history");
        assert_eq!(report.batches_applied, 8);
        assert_eq!(report.verdicts.matched, 8);
        for (n, root) in roots.iter().enumerate().skip(1) {
            let audit = BatchAudit::read(&store, n as u64 - 1).unwrap().unwrap();
            assert_eq!(audit.verdict, Verdict::Match, "{n}");
            assert_eq!(audit.computed_root, format_word(root), "batch {}", n - 1);
        }
        assert_eq!(BatchAudit::verified_batch(&store).unwrap(), Some(4));
        // An L1 reorg of the blocks of batches 3 and 4 is unwound by the follower alone.
        l1.chain.lock().unwrap().fork_from = 8;
        l1.chain.lock().unwrap().salt = depth as u64 + 1;
        let report = follower.sync().await.unwrap();
        assert_eq!((report.unwound, report.batches_applied), (2, 2));
        assert_eq!(BatchAudit::verified_batch(&store).unwrap(), Some(4));
        l1.chain.lock().unwrap().fork_from = u64::MAX;
    }
}

// ------------------------------------------------------------------ ZKsync through the follower
//
// The devnet's seeded ZKsync sequencer (every commit format) replayed from an
// in-memory L1. Its roots come from the project's own state engine, so the
// honest replay checks plumbing; the points of these tests are the verdicts:
// a check that cannot run, evidence against the sequencer, a lying node.

pub mod zk {
    use super::*;
    use zkreplay::devnet::contracts::ZKSYNC_DIAMOND_ADDRESS as DIAMOND;
    use zkreplay::devnet::zksync_gen::{ZksyncGenConfig, ZksyncGenerator, genesis_json};
    use zkreplay::rollup::zksync::calldata::{CommitCall, decode_commit, encode_commit};
    use zkreplay::rollup::zksync::events::{
        BLOCK_COMMIT, BLOCK_EXECUTION, BLOCKS_REVERT, BLOCKS_VERIFICATION,
    };

    pub struct ZkChain {
        pub chain: Chain,
        pub config: ChainConfig,
        /// The true root after each batch (index = batch number).
        pub roots: Vec<B256>,
        _genesis: tempfile::TempDir,
    }

    /// The generator's commits with their `BlockCommit` logs, each batch
    /// proven and executed right after its commit; `tamper` may rewrite a
    /// commit call before it is posted.
    pub fn chain(batches: u64, tamper: impl Fn(&mut CommitCall)) -> ZkChain {
        chain_lag(batches, tamper, Some(0))
    }

    /// Like [`chain`], with batch `n - lag` proven and executed after the
    /// commit of batch `n` (`None`: never), as `BlocksVerification` and
    /// `BlockExecution` logs (the follower reads only the logs of those).
    pub fn chain_lag(batches: u64, tamper: impl Fn(&mut CommitCall), lag: Option<u64>) -> ZkChain {
        let mut generator = ZksyncGenerator::new(ZksyncGenConfig {
            batches,
            ..ZksyncGenConfig::default()
        })
        .unwrap();
        let genesis = tempfile::tempdir().unwrap();
        let genesis_file = genesis.path().join("genesis.json");
        std::fs::write(&genesis_file, genesis_json(generator.genesis_logs())).unwrap();
        let mut roots = vec![generator.genesis_root()];
        let mut chain = Chain {
            fork_from: u64::MAX,
            ..Chain::default()
        };
        while let Some(planned) = generator.next_batch().unwrap() {
            roots.push(planned.expected_root);
            for tx in &planned.txs {
                let Ok(mut call) = decode_commit(&tx.calldata) else {
                    continue; // executions: not needed here
                };
                tamper(&mut call);
                let logs = commit_logs(DIAMOND, &call);
                let hashes = post_blobs(&mut chain, &tx.blobs);
                chain.push(DIAMOND, encode_commit(&call), hashes, logs);
                for b in &call.batches {
                    if let Some(target) = lag.and_then(|lag| b.batch_number.checked_sub(lag))
                        && target > 0
                    {
                        finalize(&mut chain, target, roots[target as usize]);
                    }
                }
            }
        }
        let config = ChainConfig::parse(&format!(
            r#"
name = "zksync-memory"
rollup = "zksync"
l1_chain_id = 31337
first_l1_block = 0
log_range = 5
[zksync]
diamond_proxy = "{DIAMOND}"
genesis_file = "{}"
genesis_root = "{}"
"#,
            genesis_file.display(),
            roots[0]
        ))
        .unwrap();
        ZkChain {
            chain,
            config,
            roots,
            _genesis: genesis,
        }
    }

    /// The `BlockCommit` logs `emitter` writes for a commit call.
    pub fn commit_logs(emitter: Address, call: &CommitCall) -> Vec<RawLog> {
        call.batches
            .iter()
            .map(|b| {
                let topics = vec![
                    BLOCK_COMMIT,
                    B256::from(U256::from(b.batch_number)),
                    b.new_state_root,
                    B256::ZERO,
                ];
                (emitter, topics, Bytes::new())
            })
            .collect()
    }

    /// Makes `blobs` available from the node; returns their versioned hashes.
    pub fn post_blobs(chain: &mut Chain, blobs: &[Vec<u8>]) -> Vec<B256> {
        blobs
            .iter()
            .map(|blob| {
                let hash = zkreplay::blob::VerifiedBlob::from_bytes(blob.clone())
                    .unwrap()
                    .versioned_hash;
                chain.blobs.insert(hash, blob.clone());
                hash
            })
            .collect()
    }

    /// An L1 transaction proving and executing batches up to `batch`.
    pub fn finalize(chain: &mut Chain, batch: u64, root: B256) {
        let n = B256::from(U256::from(batch));
        let logs = vec![
            (
                DIAMOND,
                vec![BLOCKS_VERIFICATION, B256::ZERO, n],
                Bytes::new(),
            ),
            (
                DIAMOND,
                vec![BLOCK_EXECUTION, n, root, B256::ZERO],
                Bytes::new(),
            ),
        ];
        chain.push(
            DIAMOND,
            [&b"execute"[..], n.as_slice()].concat(),
            vec![],
            logs,
        );
    }

    /// An L1 transaction proving batches up to `batch`.
    pub fn prove(chain: &mut Chain, batch: u64) {
        let n = B256::from(U256::from(batch));
        let logs = vec![(
            DIAMOND,
            vec![BLOCKS_VERIFICATION, B256::ZERO, n],
            Bytes::new(),
        )];
        chain.push(
            DIAMOND,
            [&b"prove"[..], n.as_slice()].concat(),
            vec![],
            logs,
        );
    }

    /// An L1 transaction reverting every batch above `keep`.
    pub fn revert(chain: &mut Chain, keep: u64, executed: u64) {
        let word = |n: u64| U256::from(n).to_be_bytes::<32>();
        let data = [word(keep), word(keep), word(executed)].concat();
        let logs = vec![(DIAMOND, vec![BLOCKS_REVERT], Bytes::from(data))];
        chain.push(
            DIAMOND,
            [&b"revert"[..], &word(keep)].concat(),
            vec![],
            logs,
        );
    }

    /// The simulator's history through a Gateway window
    /// ([`ZksyncGenConfig::through_gateway`]: Era batches 5..13 on the
    /// Gateway, its v26 then v29 commits, calldata and blobs, Era's 8- then
    /// 9-field `StoredBatchInfo`; back on L1 for 13..=15). Its config names the Gateway period from the
    /// Gateway's first commit block to the timestamp of Era's first L1 commit
    /// after it, with the Gateway's config beside it.
    pub struct GatewayChain {
        pub zk: ZkChain,
        pub window: zkreplay::devnet::zksync_gen::GatewayWindow,
        /// The last Era batch each L1 `BlockExecution` names, in L1 order.
        pub executions: Vec<u64>,
        /// Era batch -> the L1 transaction whose log committed it (Era's or the Gateway's).
        pub committed_by: HashMap<u64, B256>,
    }

    pub fn gateway_chain(
        faults: std::collections::BTreeMap<u64, zkreplay::devnet::Fault>,
    ) -> GatewayChain {
        gateway_chain_from(ZksyncGenConfig {
            faults,
            ..ZksyncGenConfig::through_gateway()
        })
    }

    /// [`gateway_chain`] of another Gateway history.
    pub fn gateway_chain_from(config: ZksyncGenConfig) -> GatewayChain {
        let window = config.gateway.clone().unwrap();
        let mut generator = ZksyncGenerator::new(config).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let genesis_file = dir.path().join("genesis.json");
        std::fs::write(&genesis_file, genesis_json(generator.genesis_logs())).unwrap();
        let mut roots = vec![generator.genesis_root()];
        let mut chain = Chain {
            fork_from: u64::MAX,
            ..Chain::default()
        };
        let (mut first_gateway_block, mut back_on_l1_block) = (None, None);
        let (mut executions, mut committed_by) = (Vec::new(), HashMap::new());
        while let Some(planned) = generator.next_batch().unwrap() {
            roots.push(planned.expected_root);
            for tx in &planned.txs {
                let on_gateway = tx.to == window.gateway_diamond;
                let emitter = if on_gateway {
                    window.gateway_diamond
                } else {
                    DIAMOND
                };
                let logs = match decode_commit(&tx.calldata) {
                    Ok(call) => commit_logs(emitter, &call),
                    // An execute: the stand-in's label names its last batch.
                    Err(_) => {
                        let last: u64 = tx.label.rsplit("..=").next().unwrap().parse().unwrap();
                        if !on_gateway {
                            executions.push(last);
                        }
                        let root = if on_gateway {
                            B256::ZERO
                        } else {
                            roots[last as usize]
                        };
                        let n = B256::from(U256::from(last));
                        vec![(
                            emitter,
                            vec![BLOCK_EXECUTION, n, root, B256::ZERO],
                            Bytes::new(),
                        )]
                    }
                };
                let hashes = post_blobs(&mut chain, &tx.blobs);
                let is_commit = tx.label.contains("commit");
                chain.push(tx.to, tx.calldata.clone(), hashes, logs);
                let block = chain.head();
                let hash = chain.entries.last().unwrap().0.hash;
                if is_commit {
                    // The first commit is the batch's (a Gateway batch carrying nothing may follow).
                    committed_by.entry(planned.number).or_insert(hash);
                    if on_gateway {
                        first_gateway_block.get_or_insert(block);
                    } else if first_gateway_block.is_some() {
                        back_on_l1_block.get_or_insert(block);
                    }
                }
            }
        }
        let back_at = chain.block(back_on_l1_block.unwrap()).unwrap().timestamp;
        std::fs::write(
            dir.path().join("gateway-memory.toml"),
            format!(
                r#"
name = "gateway-memory"
rollup = "zksync"
l1_chain_id = 31337
first_l1_block = 0
[zksync]
chain_id = {}
diamond_proxy = "{}"
relayed_da_validator = "{}"
"#,
                window.gateway_chain_id, window.gateway_diamond, window.relayed_da_validator
            ),
        )
        .unwrap();
        let era_path = dir.path().join("zksync-memory.toml");
        std::fs::write(
            &era_path,
            format!(
                r#"
name = "zksync-memory"
rollup = "zksync"
l1_chain_id = 31337
first_l1_block = 0
log_range = 5
[zksync]
chain_id = 324
diamond_proxy = "{DIAMOND}"
genesis_file = "{}"
genesis_root = "{}"
[[zksync.history.settlement]]
layer = "l1"
from_l1_block = 0
[[zksync.history.settlement]]
layer = "zk_chain"
chain = "gateway-memory"
diamond_on_layer = "{}"
from_l1_block = {}
[[zksync.history.settlement]]
layer = "l1"
from_l1_timestamp = {back_at}
"#,
                genesis_file.display(),
                roots[0],
                window.era_diamond_on_gateway,
                first_gateway_block.unwrap(),
            ),
        )
        .unwrap();
        let config = ChainConfig::load(&era_path).unwrap();
        GatewayChain {
            zk: ZkChain {
                chain,
                config,
                roots,
                _genesis: dir,
            },
            window,
            executions,
            committed_by,
        }
    }

    pub async fn sync(
        zk: &ZkChain,
        l1: &MemoryL1,
        store: &Arc<Store>,
        options: &FollowOptions,
    ) -> Result<zkreplay::follow::SyncReport, FollowError> {
        let engine = Arc::new(zkreplay::follow::zksync::ZksyncEngine::new(&zk.config).unwrap());
        Follower::new(engine, l1, store.clone(), &zk.config, options)
            .sync()
            .await
    }
}

#[tokio::test]
async fn zksync_replays_every_commit_format_in_memory_at_any_pipeline_depth() {
    let zk = zk::chain(12, |_| {});
    let l1 = memory(zk.chain.clone());
    for depth in [0, 1, 8] {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), "zksync-memory").unwrap());
        let opts = FollowOptions {
            pipeline_depth: depth,
            ..options(BlockTag::Latest, None, OnMismatch::Halt)
        };
        let report = zk::sync(&zk, &l1, &store, &opts).await.unwrap();
        assert_eq!(report.verdicts.matched, 13, "genesis and 12 batches");
        for (n, root) in zk.roots.iter().enumerate() {
            let audit = BatchAudit::read(&store, n as u64).unwrap().unwrap();
            assert_eq!(audit.verdict, Verdict::Match, "{n}: {audit:?}");
            assert_eq!(audit.computed_root, format_word(root), "{n}");
        }
        assert_eq!(BatchAudit::verified_batch(&store).unwrap(), Some(12));
    }
}

/// The verified pointer (GraphQL's default `atBatch`) moves only when L1
/// executes a batch, never on its commit, so a `BlocksRevert` can never take
/// back state that default reads served. Checked at every L1 block.
#[tokio::test]
async fn zksync_verified_pointer_moves_only_on_execution_and_survives_a_revert() {
    use zkreplay::rollup::zksync::events::{BLOCK_COMMIT, BLOCK_EXECUTION, BLOCKS_VERIFICATION};
    use zkreplay::rollup::zksync::state::read_checkpoint;
    // Batch n - 2 is proven and executed after batch n's commit.
    let mut zk = zk::chain_lag(6, |_| {}, Some(2));
    // Batches 5 and 6 are proven, then reverted, then recommitted as they
    // were (the same calls) and executed.
    let commits_of_5_and_6: Vec<_> = zk
        .chain
        .entries
        .iter()
        .filter(|(_, logs)| {
            logs.iter()
                .any(|(_, t, _)| t[0] == BLOCK_COMMIT && t[1] >= B256::from(U256::from(5)))
        })
        .cloned()
        .collect();
    assert_eq!(commits_of_5_and_6.len(), 2);
    zk::prove(&mut zk.chain, 6);
    zk::revert(&mut zk.chain, 4, 4);
    for (tx, logs) in commits_of_5_and_6 {
        let to = tx.to.unwrap();
        zk.chain
            .push(to, tx.input.to_vec(), tx.blob_versioned_hashes, logs);
    }
    zk::finalize(&mut zk.chain, 6, zk.roots[6]);
    let chain = zk.chain.clone();
    let l1 = memory(chain.clone());
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), "zksync-memory").unwrap());
    let (mut committed, mut proven, mut executed, mut seen_ahead) = (0u64, 0u64, 0u64, false);
    for block in 1..=chain.head() {
        let opts = options(BlockTag::Latest, Some(block), OnMismatch::Halt);
        zk::sync(&zk, &l1, &store, &opts).await.unwrap();
        // What L1 says up to this block, read from the logs themselves.
        for (_, topics, data) in &chain.entries[block as usize - 1].1 {
            let n = |w: &B256| U256::from_be_bytes(w.0).to::<u64>();
            match topics[0] {
                t if t == BLOCK_COMMIT => committed = n(&topics[1]),
                t if t == BLOCKS_VERIFICATION => proven = proven.max(n(&topics[2])),
                t if t == BLOCK_EXECUTION => executed = executed.max(n(&topics[1])),
                _ => {
                    let keep = n(&B256::from_slice(&data[..32]));
                    committed = keep;
                    proven = proven.min(keep);
                }
            }
        }
        let verified = BatchAudit::verified_batch(&store).unwrap();
        assert_eq!(verified, Some(executed), "L1 block {block}");
        let tip = read_checkpoint(&store).unwrap().unwrap();
        assert_eq!(
            (tip.batch, tip.last_proven, tip.last_executed),
            (committed, proven, executed),
            "L1 block {block}"
        );
        seen_ahead |= committed > executed;
    }
    assert!(seen_ahead, "some commits were ahead of their execution");
    assert_eq!(executed, 6);
    let audit = BatchAudit::read(&store, 6).unwrap().unwrap();
    assert_eq!(audit.computed_root, format_word(&zk.roots[6]));
    drop(store);
    let status = zkreplay::cli::status::read_status(dir.path()).unwrap();
    let lifecycle = status[0].lifecycle.unwrap();
    assert_eq!(
        (lifecycle.committed, lifecycle.proven, lifecycle.executed),
        (6, 6, 6)
    );
}

/// Era through its Gateway period, through the real follower: batches 5..13
/// reach L1 only inside the Gateway's batches and are applied from the relayed
/// pubdata to the simulator's true roots, each judged by the relayed
/// `StoredBatchInfo`, and each PARTIAL naming the one check L1 data cannot
/// run (never MATCH); the switches to the Gateway and back lose and repeat no
/// batch; a replay cut at every L1 block ends identical; the verified pointer
/// crosses the window only with --accept-partial, and ends where L1 executed.
#[tokio::test]
async fn era_follows_its_gateway_period_and_never_calls_it_match() {
    use zkreplay::follow::L1BatchRecord;
    use zkreplay::follow::zksync::RELAYED_PUBDATA_HASH;
    let gw = zk::gateway_chain(Default::default());
    let zk = &gw.zk;
    let l1 = memory(zk.chain.clone());
    let last = zk.roots.len() as u64 - 1;
    let executed = *gw.executions.iter().max().unwrap();
    assert!(
        executed >= gw.window.until_batch,
        "Era executed on L1 after moving back"
    );
    let mut outcomes = Vec::new();
    for (accept_partial, cut) in [(false, false), (true, false), (true, true)] {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), "zksync-memory").unwrap());
        let opts = FollowOptions {
            accept_partial,
            ..options(BlockTag::Latest, None, OnMismatch::Halt)
        };
        if cut {
            for block in 1..=zk.chain.head() {
                let opts = FollowOptions {
                    to_block: Some(block),
                    ..opts.clone()
                };
                // Where the verified pointer stands at each block is checked
                // exactly by zksync_gateway::era_batches_are_final_when_…
                zk::sync(zk, &l1, &store, &opts).await.unwrap();
            }
        } else {
            zk::sync(zk, &l1, &store, &opts).await.unwrap();
        }
        let mut audits = Vec::new();
        for n in 0..=last {
            let audit = BatchAudit::read(&store, n).unwrap().unwrap();
            assert_eq!(
                audit.computed_root,
                format_word(&zk.roots[n as usize]),
                "{n}"
            );
            assert!(audit.failed_checks().is_empty(), "{n}: {audit:?}");
            if gw.window.contains(n) {
                assert_eq!(audit.verdict, Verdict::Partial, "{n}: {audit:?}");
                assert_eq!(audit.skipped_checks(), [RELAYED_PUBDATA_HASH], "{n}");
                let names: Vec<&str> = audit.checks.iter().map(|c| c.name.as_str()).collect();
                for check in [
                    "state_root",
                    "relayed.commitment",
                    "relayed.stored_batch_hash",
                ] {
                    assert!(
                        names.contains(&check),
                        "{n}: {check} missing from {names:?}"
                    );
                }
                assert!(
                    names.iter().any(|c| c.starts_with("settlement.")),
                    "{n}: {names:?}"
                );
            } else {
                assert_eq!(audit.verdict, Verdict::Match, "{n}: {audit:?}");
            }
            if n > 0 {
                let record = L1BatchRecord::read(&store, n).unwrap().unwrap();
                assert_eq!(record.l1_transaction_hash, gw.committed_by[&n], "{n}");
                assert_eq!(
                    record
                        .summary
                        .format_version
                        .contains("via settlement batch"),
                    gw.window.contains(n),
                    "{n}: {}",
                    record.summary.format_version
                );
            }
            audits.push(audit);
        }
        let verified = BatchAudit::verified_batch(&store).unwrap();
        let expected = if accept_partial {
            executed
        } else {
            gw.window.from_batch - 1
        };
        assert_eq!(verified, Some(expected), "accept_partial {accept_partial}");
        if accept_partial {
            outcomes.push((audits, verified, L1Cursor::read(&store).unwrap()));
        }
    }
    assert_eq!(
        outcomes[0], outcomes[1],
        "cut at every L1 block = uninterrupted"
    );
}

/// A relayed `StoredBatchInfo` whose root is not the one the relayed pubdata
/// produces is a finding (MISMATCH on `state_root`, the relayed data otherwise
/// consistent), and the verified pointer never passes it.
#[tokio::test]
async fn a_wrong_root_relayed_through_the_gateway_is_a_mismatch() {
    use zkreplay::devnet::Fault;
    let gw = zk::gateway_chain([(7, Fault::TamperedRoot)].into_iter().collect());
    let zk = &gw.zk;
    let l1 = memory(zk.chain.clone());
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), "zksync-memory").unwrap());
    let opts = FollowOptions {
        accept_partial: true,
        ..options(BlockTag::Latest, None, OnMismatch::Continue)
    };
    let report = zk::sync(zk, &l1, &store, &opts).await.unwrap();
    assert_eq!(report.verdicts.mismatched, 1);
    let audit = BatchAudit::read(&store, 7).unwrap().unwrap();
    assert_eq!(audit.verdict, Verdict::Mismatch, "{audit:?}");
    assert_eq!(audit.failed_checks(), ["state_root"]);
    assert_eq!(audit.computed_root, format_word(&zk.roots[7]));
    assert_eq!(BatchAudit::verified_batch(&store).unwrap(), Some(6));
    drop(store);
    let status = zkreplay::cli::status::read_status(dir.path()).unwrap();
    assert_eq!((status[0].findings, status[0].first_finding), (1, Some(7)));
}

#[tokio::test]
async fn a_zksync_binding_check_that_cannot_run_gives_partial() {
    use zkreplay::rollup::zksync::{BLOB_ONE_HASH_LOG_KEY, PUBDATA_CHUNK_PUBLISHER};
    // Batch 4 (Boojum, blobs): the system log that commits to the blob's linear
    // hash is missing, so the blob cannot be bound to it; everything else holds.
    let zk = zk::chain(6, |call| {
        for batch in call.batches.iter_mut().filter(|b| b.batch_number == 4) {
            batch.system_logs.retain(|l| {
                !(l.sender == PUBDATA_CHUNK_PUBLISHER
                    && l.key == B256::from(U256::from(BLOB_ONE_HASH_LOG_KEY)))
            });
        }
    });
    let l1 = memory(zk.chain.clone());
    for accept_partial in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), "zksync-memory").unwrap());
        let opts = FollowOptions {
            accept_partial,
            ..options(BlockTag::Latest, None, OnMismatch::Halt)
        };
        let report = zk::sync(&zk, &l1, &store, &opts).await.unwrap();
        assert_eq!((report.verdicts.matched, report.verdicts.partial), (6, 1));
        let audit = BatchAudit::read(&store, 4).unwrap().unwrap();
        assert_eq!(audit.verdict, Verdict::Partial, "{audit:?}");
        assert_eq!(audit.skipped_checks(), ["blob[0].linear_hash"]);
        assert_eq!(audit.computed_root, format_word(&zk.roots[4]));
        let verified = BatchAudit::verified_batch(&store).unwrap();
        assert_eq!(verified, Some(if accept_partial { 6 } else { 3 }));
    }
}

#[tokio::test]
async fn zksync_sequencer_evidence_is_a_recorded_mismatch_and_status_fails() {
    // Batch 2 claims one more enumeration index than its initial writes take.
    let zk = zk::chain(4, |call| {
        for batch in call.batches.iter_mut().filter(|b| b.batch_number == 2) {
            batch.index_repeated_storage_changes += 1;
        }
    });
    let l1 = memory(zk.chain.clone());
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), "zksync-memory").unwrap());
    let opts = options(BlockTag::Latest, None, OnMismatch::Halt);
    let err = zk::sync(&zk, &l1, &store, &opts).await.unwrap_err();
    assert!(err.to_string().contains("next free index"), "{err}");
    let audit = BatchAudit::read(&store, 2).unwrap().unwrap();
    assert_eq!(audit.verdict, Verdict::Mismatch);
    assert_eq!(audit.failed_checks(), ["index_repeated_storage_changes"]);
    assert_eq!(BatchAudit::verified_batch(&store).unwrap(), Some(1));
    let halt = zkreplay::audit::HaltRecord::read(&store).unwrap().unwrap();
    assert_eq!(halt.batch, Some(2));
    // A restart halts again at the same batch instead of skipping it.
    assert!(zk::sync(&zk, &l1, &store, &opts).await.is_err());
    drop(store);
    let status = zkreplay::cli::status::read_status(dir.path()).unwrap();
    assert!(status[0].needs_attention(), "status exits 1");
    assert_eq!(status[0].findings, 1);
    let exit = std::process::Command::new(env!("CARGO_BIN_EXE_zkreplay"))
        .args(["status", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(exit.status.code(), Some(1), "{exit:?}");
}

#[tokio::test]
async fn a_node_serving_a_wrong_blob_halts_with_a_record_instead_of_retrying() {
    let zk = zk::chain(5, |_| {});
    let mut chain = zk.chain.clone();
    // The first blob of the chain (batch 4's).
    chain.lying_about = chain
        .entries
        .iter()
        .find_map(|(tx, _)| tx.blob_versioned_hashes.first().copied());
    let l1 = memory(chain);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), "zksync-memory").unwrap());
    let opts = options(BlockTag::Latest, None, OnMismatch::Halt);
    let status = zkreplay::follow::FollowStatus::new("zksync-memory");
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let run = zkreplay::follow::run::run(&l1, &store, &zk.config, &opts, &status, shutdown);
    let err = tokio::time::timeout(std::time::Duration::from_secs(30), run)
        .await
        .expect("a lying node is not retried")
        .unwrap_err();
    assert!(!err.is_transient(), "{err}");
    let halt = zkreplay::audit::HaltRecord::read(&store).unwrap().unwrap();
    assert!(halt.reason.contains("does not match"), "{halt:?}");
    // Everything before the lie is applied and verified.
    assert_eq!(BatchAudit::verified_batch(&store).unwrap(), Some(3));
    // A halt with no finding against the sequencer still fails `status`.
    drop(store);
    let exit = std::process::Command::new(env!("CARGO_BIN_EXE_zkreplay"))
        .args(["status", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(exit.status.code(), Some(1), "{exit:?}");
    assert!(
        String::from_utf8_lossy(&exit.stdout).contains("HALTED"),
        "{exit:?}"
    );
}

#[test]
fn a_starknet_binding_check_the_decoder_did_not_run_is_skipped_and_partial() {
    use zkreplay::follow::DaMode;
    use zkreplay::follow::starknet::binding_checks;
    use zkreplay::rollup::starknet::da::program_output::parse_l1_calldata;
    use zkreplay::rollup::starknet::da::{BatchInput, DaInput, MemoryAliases, decode_batch};
    let batch = &oracle_batches("seed1_blob")[0];
    let blobs: Vec<Vec<u8>> = batch["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| common::bytes(&b["data"]))
        .collect();
    let hashes: Vec<B256> = batch["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| common::word(&b["versioned_hash"]))
        .collect();
    let update =
        parse_l1_calldata(&common::bytes(&batch["l1"]["updateStateKzgDA_calldata"])).unwrap();
    let input = BatchInput {
        batch: Some(0),
        da: DaInput::Blobs(&blobs),
        l1_update: Some(&update),
        versioned_hashes: Some(&hashes),
        blobs_checked: false,
        layout: None,
    };
    let mut decoded = decode_batch(&input, &MemoryAliases::new()).unwrap();
    let complete = binding_checks(&decoded, DaMode::Blob, blobs.len());
    assert!(complete.iter().all(|c| c.passed), "{complete:?}");
    // Without the transaction's versioned hashes the decoder cannot run that check.
    decoded
        .findings
        .retain(|f| !f.check.starts_with("kzg.versioned_hash"));
    let checks = binding_checks(&decoded, DaMode::Blob, blobs.len());
    let root = "0x1".to_string();
    let audit = BatchAudit::judge(0, Some(root.clone()), root, checks);
    assert_eq!(audit.verdict, Verdict::Partial);
    assert_eq!(audit.skipped_checks(), ["kzg.versioned_hash[0]"]);
}

// ------------------------------------------------------------------ pipeline benchmark
//
// Sequential (depth 0) against pipelined replays of the same in-memory
// history, with an L1 that answers after a fixed latency, as a remote node
// does. Ignored by default (it measures, it does not check):
//
//   ZKREPLAY_BENCH_BATCHES=48 ZKREPLAY_BENCH_LATENCY_MS=20 ZKREPLAY_BENCH_DEPTHS=0,8 \
//     cargo test --release --test follow pipeline_benchmark -- --ignored --nocapture
//
// Peak RSS (VmHWM) is the process's, so run one depth per process to compare it.

/// An L1 source that answers after `latency`.
struct SlowL1<'a> {
    inner: &'a MemoryL1,
    latency: std::time::Duration,
}

impl L1Source for SlowL1<'_> {
    async fn chain_id(&self) -> Result<u64, L1Error> {
        self.inner.chain_id().await
    }

    async fn block_by_tag(&self, tag: BlockTag) -> Result<L1Block, L1Error> {
        tokio::time::sleep(self.latency).await;
        self.inner.block_by_tag(tag).await
    }

    async fn block_by_number(&self, number: u64) -> Result<Option<L1Block>, L1Error> {
        tokio::time::sleep(self.latency).await;
        self.inner.block_by_number(number).await
    }

    async fn block_by_hash(&self, hash: B256) -> Result<Option<L1Block>, L1Error> {
        tokio::time::sleep(self.latency).await;
        self.inner.block_by_hash(hash).await
    }

    async fn logs(&self, filter: &LogFilter) -> Result<Vec<L1Log>, L1Error> {
        tokio::time::sleep(self.latency).await;
        self.inner.logs(filter).await
    }

    async fn transaction(&self, hash: B256) -> Result<Option<L1Transaction>, L1Error> {
        tokio::time::sleep(self.latency).await;
        self.inner.transaction(hash).await
    }

    async fn call(&self, to: Address, data: Bytes, block: u64) -> Result<Bytes, L1Error> {
        self.inner.call(to, data, block).await
    }

    async fn blobs(&self, block: &L1Block, wanted: &BlobRequest) -> Result<Vec<Vec<u8>>, L1Error> {
        tokio::time::sleep(self.latency).await;
        // A real source checks every blob against its versioned hash (by the
        // binding, else by the recomputed KZG commitment): that CPU work
        // belongs to fetch.
        let blobs = self.inner.blobs(block, wanted).await?;
        for blob in &blobs {
            let binding = wanted.binding.as_ref();
            if binding
                .and_then(|b| b.proven_versioned_hash(blob))
                .is_none()
            {
                zkreplay::blob::VerifiedBlob::from_bytes(blob.clone()).unwrap();
            }
        }
        Ok(blobs)
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run with --ignored --nocapture"]
async fn pipeline_benchmark() {
    let batches: u64 = env_or("ZKREPLAY_BENCH_BATCHES", "48").parse().unwrap();
    let latency = std::time::Duration::from_millis(
        env_or("ZKREPLAY_BENCH_LATENCY_MS", "20").parse().unwrap(),
    );
    let depths: Vec<usize> = env_or("ZKREPLAY_BENCH_DEPTHS", "0,8")
        .split(',')
        .map(|d| d.parse().unwrap())
        .collect();
    let zk = zk::chain(batches, |_| {});
    let zk_l1 = memory(zk.chain.clone());
    let sn_l1 = memory(oracle_chain("seed1_blob"));
    let sn_config = config();
    for depth in depths {
        let opts = FollowOptions {
            pipeline_depth: depth,
            ..options(BlockTag::Latest, None, OnMismatch::Halt)
        };
        for rollup in ["zksync", "starknet"] {
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(Store::open(dir.path(), "bench").unwrap());
            let report = if rollup == "zksync" {
                let slow = SlowL1 {
                    inner: &zk_l1,
                    latency,
                };
                let engine =
                    Arc::new(zkreplay::follow::zksync::ZksyncEngine::new(&zk.config).unwrap());
                Follower::new(engine, &slow, store.clone(), &zk.config, &opts)
                    .sync()
                    .await
            } else {
                let slow = SlowL1 {
                    inner: &sn_l1,
                    latency,
                };
                let engine = Arc::new(StarknetEngine::new(&sn_config).unwrap());
                Follower::new(engine, &slow, store.clone(), &sn_config, &opts)
                    .sync()
                    .await
            }
            .unwrap();
            let s = &report.stages;
            println!(
                "BENCH rollup={rollup} depth={depth} latency_ms={} batches={} wall_s={:.3} batches_per_s={:.2} apply_busy={:.0}% stages=[{}] peak_rss_kib={}",
                latency.as_millis(),
                report.batches_applied,
                s.wall.as_secs_f64(),
                report.batches_applied as f64 / s.wall.as_secs_f64(),
                100.0 * s.apply_busy(),
                s.shares(),
                peak_rss_kib()
            );
        }
    }
}

/// Starknet's L1 history through the follower, simulated (the generator
/// computes the true roots: plumbing, not an anchor): the mainnet-shaped
/// history of `zkreplay devnet --starknet-mainnet-shaped`
/// (`starknet_gen::mainnet_shaped`: v0.9 → v0.14.1, the 2-argument
/// `LogStateUpdate` era, pages found through SHARP on a registry that changes
/// address, other customers' decoy jobs), its transactions held by an
/// in-memory L1 with the logs the stand-ins emit
/// (`contracts::starknet_standin_logs`, checked against anvil by `sharp_devnet`).
mod history {
    use super::*;
    use starknet_types_core::felt::Felt;
    use zkreplay::devnet::contracts::starknet_standin_logs;
    use zkreplay::devnet::run::starknet_toml;
    use zkreplay::devnet::starknet_gen::{self, is_decoy, mainnet_shaped};
    use zkreplay::rollup::starknet::da::encode::felts_to_blobs;

    pub struct History {
        pub chain: Chain,
        pub config: ChainConfig,
        /// The true root after each follower batch (index = batch number).
        pub roots: Vec<B256>,
        /// Every transaction of another SHARP customer's job.
        pub decoy_txs: Vec<B256>,
        /// Transactions carrying Starknet's own pages.
        pub own_page_txs: Vec<B256>,
    }

    /// The history; `encrypted`: the generator batch whose blob is replaced by
    /// a v0.14-style encrypted DA (`[n_keys, public keys, encrypted keys,
    /// ciphertext…]`, sequencer `os/encrypt.cairo`).
    pub fn history(with_decoys: bool, encrypted: Option<u64>) -> History {
        let generator = mainnet_shaped(12, with_decoys);
        let registries: Vec<Address> = generator
            .sharp
            .as_ref()
            .unwrap()
            .registries
            .iter()
            .map(|r| r.address)
            .collect();
        let planned = starknet_gen::generate(generator.clone()).unwrap();
        let mut chain = Chain {
            fork_from: u64::MAX,
            ..Chain::default()
        };
        let mut roots = Vec::new();
        let mut decoy_txs = Vec::new();
        let mut own_page_txs = Vec::new();
        let mut registry_starts: Vec<Option<u64>> = vec![None; registries.len()];
        for batch in &planned {
            roots.push(batch.expected_root);
            for tx in &batch.txs {
                let mut blobs = tx.blobs.clone();
                if encrypted == Some(batch.number) && !blobs.is_empty() {
                    let mut felts = vec![Felt::ONE, Felt::from(0xabcu64), Felt::from(0xdefu64)];
                    felts.extend((0..40u64).map(|i| Felt::from(i * 7919 + 1)));
                    blobs = felts_to_blobs(&felts).unwrap();
                }
                let mut hashes = Vec::new();
                for blob in &blobs {
                    let hash = zkreplay::blob::VerifiedBlob::from_bytes(blob.clone())
                        .unwrap()
                        .versioned_hash;
                    chain.blobs.insert(hash, blob.clone());
                    hashes.push(hash);
                }
                let logs = starknet_standin_logs(tx)
                    .into_iter()
                    .map(|(address, topics, data)| (address, topics, data.into()))
                    .collect();
                chain.push(tx.to, tx.calldata.clone(), hashes, logs);
                let hash = chain.entries.last().unwrap().0.hash;
                if is_decoy(tx) {
                    decoy_txs.push(hash);
                } else if let Some(i) = registries.iter().position(|r| *r == tx.to) {
                    own_page_txs.push(hash);
                    registry_starts[i].get_or_insert(chain.head());
                }
            }
        }
        let registry_starts: Vec<u64> = registry_starts.into_iter().map(Option::unwrap).collect();
        let mut config =
            ChainConfig::parse(&starknet_toml(&generator, 0, &[], &registry_starts)).unwrap();
        // Small log chunks: the SHARP scan walks back over several.
        config.log_range = 4;
        config.name = "starknet-history".into();
        History {
            chain,
            config,
            roots,
            decoy_txs,
            own_page_txs,
        }
    }

    /// An L1 source that records which transactions were read.
    pub struct Recording<'a> {
        pub inner: &'a MemoryL1,
        pub read: Mutex<Vec<B256>>,
    }

    impl L1Source for Recording<'_> {
        async fn chain_id(&self) -> Result<u64, L1Error> {
            self.inner.chain_id().await
        }
        async fn block_by_tag(&self, tag: BlockTag) -> Result<L1Block, L1Error> {
            self.inner.block_by_tag(tag).await
        }
        async fn block_by_number(&self, number: u64) -> Result<Option<L1Block>, L1Error> {
            self.inner.block_by_number(number).await
        }
        async fn block_by_hash(&self, hash: B256) -> Result<Option<L1Block>, L1Error> {
            self.inner.block_by_hash(hash).await
        }
        async fn logs(&self, filter: &LogFilter) -> Result<Vec<L1Log>, L1Error> {
            self.inner.logs(filter).await
        }
        async fn transaction(&self, hash: B256) -> Result<Option<L1Transaction>, L1Error> {
            self.read.lock().unwrap().push(hash);
            self.inner.transaction(hash).await
        }
        async fn call(&self, to: Address, data: Bytes, block: u64) -> Result<Bytes, L1Error> {
            self.inner.call(to, data, block).await
        }
        async fn blobs(
            &self,
            block: &L1Block,
            wanted: &BlobRequest,
        ) -> Result<Vec<Vec<u8>>, L1Error> {
            self.inner.blobs(block, wanted).await
        }
    }

    /// Replays `history` at `depth`; returns the store, the transactions read
    /// and how the sync ended.
    pub async fn replay(
        history: &History,
        depth: usize,
    ) -> (
        tempfile::TempDir,
        Arc<Store>,
        Vec<B256>,
        Result<zkreplay::follow::SyncReport, FollowError>,
    ) {
        let l1 = memory(history.chain.clone());
        let recording = Recording {
            inner: &l1,
            read: Mutex::new(Vec::new()),
        };
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), "starknet-history").unwrap());
        let options = FollowOptions {
            pipeline_depth: depth,
            ..options(BlockTag::Latest, None, OnMismatch::Halt)
        };
        let engine = Arc::new(StarknetEngine::new(&history.config).unwrap());
        let result = Follower::new(engine, &recording, store.clone(), &history.config, &options)
            .sync()
            .await;
        let read = recording.read.into_inner().unwrap();
        (dir, store, read, result)
    }
}

#[tokio::test]
async fn a_mainnet_shaped_history_replays_across_eras_without_reading_a_decoy() {
    let with = history::history(true, None);
    let without = history::history(false, None);
    assert!(!with.decoy_txs.is_empty());
    let mut audits_without = None;
    for (h, depth) in [(&without, 0), (&with, 0), (&with, 8)] {
        let (_dir, store, read, result) = history::replay(h, depth).await;
        result.unwrap();
        let audits: Vec<BatchAudit> = (0..h.roots.len() as u64)
            .map(|n| BatchAudit::read(&store, n).unwrap().unwrap())
            .collect();
        for (n, audit) in audits.iter().enumerate() {
            assert_eq!(audit.verdict, Verdict::Match, "batch {n}: {audit:?}");
            assert_eq!(audit.computed_root, format_word(&h.roots[n]), "batch {n}");
        }
        let read_decoys: Vec<&B256> = read.iter().filter(|t| h.decoy_txs.contains(t)).collect();
        assert!(read_decoys.is_empty(), "decoy pages read: {read_decoys:?}");
        assert!(h.own_page_txs.iter().all(|t| read.contains(t)));
        // The layouts the eras and the alias contract selected.
        let formats: Vec<String> = (0..h.roots.len() as u64)
            .map(|n| {
                zkreplay::follow::L1BatchRecord::read(&store, n)
                    .unwrap()
                    .unwrap()
                    .summary
                    .format_version
            })
            .collect();
        let layouts = [
            "0.9", "0.10", "0.11", "0.11", "0.11", "0.11", "0.13.3", "0.13.4", "0.13.4", "0.13.4",
            "0.13.4", "0.13.4",
        ];
        assert_eq!(formats.len(), layouts.len());
        for (n, (format, layout)) in formats.iter().zip(layouts).enumerate() {
            assert!(
                format.ends_with(&format!(" {layout} DA")),
                "batch {n}: {format}"
            );
        }
        // With decoys removed the result is identical.
        match &audits_without {
            None => audits_without = Some(audits),
            Some(reference) => assert_eq!(&audits, reference),
        }
    }
}

/// Simulated v0.14 encrypted DA (in the v0.14.0 batch): the batch is a recorded
/// MISMATCH naming the cause, the batches before it stay MATCH, and the
/// follower stops there with the reason in its halt record.
#[tokio::test]
async fn an_encrypted_da_batch_is_a_recorded_finding() {
    let h = history::history(false, Some(10));
    let (_dir, store, _read, result) = history::replay(&h, 2).await;
    let error = result.unwrap_err();
    assert!(error.to_string().contains("DA encrypted"), "{error}");
    for n in 0..9 {
        let audit = BatchAudit::read(&store, n).unwrap().unwrap();
        assert_eq!(audit.verdict, Verdict::Match, "batch {n}");
    }
    // Generator batch 10 is follower batch 9.
    let audit = BatchAudit::read(&store, 9).unwrap().unwrap();
    assert_eq!(audit.verdict, Verdict::Mismatch);
    assert_eq!(audit.failed_checks(), vec!["da.encrypted"]);
    assert!(BatchAudit::read(&store, 10).unwrap().is_none());
    let halt = zkreplay::audit::HaltRecord::read(&store).unwrap().unwrap();
    assert_eq!(halt.batch, Some(9));
    assert!(halt.reason.contains("DA encrypted"), "{}", halt.reason);
}

/// Anchor for the fact the simulated history links pages by: the fact
/// cairo-lang computed for each oracle calldata batch equals the one
/// `sharp::state_transition_fact` computes from its program output and pages.
#[test]
fn the_fact_of_each_oracle_calldata_batch_is_recomputed_from_its_pages() {
    use zkreplay::rollup::starknet::da::felt_to_u256;
    use zkreplay::rollup::starknet::da::pages::parse_page;
    use zkreplay::rollup::starknet::da::program_output::parse_l1_calldata;
    use zkreplay::rollup::starknet::sharp;
    let batches = oracle_batches("seed2_calldata");
    assert!(!batches.is_empty());
    for batch in batches {
        let update =
            parse_l1_calldata(&common::bytes(&batch["l1"]["updateState_calldata"])).unwrap();
        let main: Vec<U256> = update.program_output.iter().map(felt_to_u256).collect();
        let pages: Vec<Vec<U256>> = batch["memory_pages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| parse_page(&common::bytes(&p["calldata"])).unwrap().values)
            .collect();
        let da: Vec<&[U256]> = pages.iter().map(|p| p.as_slice()).collect();
        assert_eq!(
            sharp::state_transition_fact(&main, &da),
            common::word(&batch["l1"]["state_transition_fact"]),
            "batch {}",
            batch["batch"]
        );
    }
}

/// The follow status names the followed tag's block as the L1 head, apart
/// from a lower `--to-block` the follower stops at; the lag is what is left
/// to the head.
#[tokio::test]
async fn the_status_reports_the_l1_head_apart_from_a_lower_stop_block() {
    let zk = zk::chain(5, |_| {});
    let l1 = memory(zk.chain.clone());
    let head = l1.block_by_tag(BlockTag::Latest).await.unwrap().number;
    let stop = head - 2;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), "zksync-memory").unwrap());
    let opts = options(BlockTag::Latest, Some(stop), OnMismatch::Halt);
    let status = zkreplay::follow::FollowStatus::new("zksync-memory");
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    zkreplay::follow::run::run(&l1, &store, &zk.config, &opts, &status, shutdown)
        .await
        .unwrap();
    assert_eq!(status.l1_head(), Some(head));
    assert_eq!(status.l1_cursor(), Some(stop));
    assert_eq!(status.lag_blocks(), Some(2));
}
