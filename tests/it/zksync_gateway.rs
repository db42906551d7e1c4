//! ZKsync Era through a Gateway window, on SIMULATED data: the devnet
//! generator's history (L1 → Gateway with 8-field then 9-field relayed
//! `StoredBatchInfo`, Gateway commits in v26 then v29 format with calldata
//! and blob DA → back to L1) replayed with the pure decoding functions the
//! follower uses. No real Gateway batch exists in ../shared/fixtures, so these
//! tests prove plumbing (encoder and decoder agree, every batch lands, roots
//! match the generator's scratch state), not conformance to mainnet bytes;
//! the relayed message layouts follow era-contracts (cited in gateway.rs).

use alloy_primitives::{B256, U256, keccak256};
use zkreplay::devnet::zksync_gen::{GatewayWindow, ZksyncGenConfig, ZksyncGenerator, generate};
use zkreplay::devnet::{PlannedBatch, PlannedTx};
use zkreplay::rollup::zksync::calldata::{CommitVersion, decode_commit};
use zkreplay::rollup::zksync::decode::{BlobStore, DecodedBatch, decode_batches};
use zkreplay::rollup::zksync::gateway::{
    CounterTracker, GatewayError, SettledChain, encode_relayed_batch_info, relayed_batches,
};
use zkreplay::rollup::zksync::genesis;
use zkreplay::rollup::zksync::lifecycle::{Lifecycle, SettledLifecycle};
use zkreplay::rollup::zksync::pubdata::Pubdata;
use zkreplay::rollup::zksync::state::{PlanInput, ZksyncState};
use zkreplay::store::Store;

const ERA_CHAIN_ID: u64 = 324;

fn window() -> GatewayWindow {
    config().gateway.unwrap()
}

fn config() -> ZksyncGenConfig {
    ZksyncGenConfig::through_gateway()
}

fn decode_tx(
    tx: &PlannedTx,
) -> (
    zkreplay::rollup::zksync::calldata::CommitCall,
    Vec<DecodedBatch>,
) {
    let call = decode_commit(&tx.calldata).unwrap();
    let mut blobs = BlobStore::default();
    for blob in &tx.blobs {
        blobs.add(blob.clone()).unwrap();
    }
    let decoded = decode_batches(&call, &mut blobs, None);
    (call, decoded)
}

fn commit_tx(batch: &PlannedBatch) -> &PlannedTx {
    batch
        .txs
        .iter()
        .find(|t| t.label.contains("commit"))
        .expect("every batch has a commit")
}

/// The follower's view of the Gateway window, driven by the pure functions.
struct Replay<'s> {
    state: ZksyncState<'s>,
    settled: SettledChain,
    counters: CounterTracker,
    lifecycle: SettledLifecycle,
}

impl Replay<'_> {
    /// Applies the Era batch carried by one Gateway commit; returns its root.
    fn gateway_batch(&mut self, tx: &PlannedTx, expected_number: u64) -> B256 {
        let w = window();
        let (call, decoded) = decode_tx(tx);
        // The commit is the Gateway's, in either of its formats.
        match call.version {
            CommitVersion::V26 => assert_eq!(call.chain_id, Some(U256::from(9075))),
            CommitVersion::V29 => assert_eq!(call.chain_address, Some(w.gateway_diamond)),
            other => panic!("Gateway commit in {other:?}"),
        }
        assert_eq!(decoded.len(), 1);
        let gateway = &decoded[0];
        assert!(gateway.all_passed(), "{:?}", gateway.checks);
        let pubdata: &Pubdata = gateway.parsed.as_ref().expect("Gateway pubdata parsed");
        let relayed = relayed_batches(gateway.batch_number, pubdata, &self.settled).unwrap();
        assert_eq!(relayed.len(), 1);
        let era = &relayed[0];
        assert_eq!(era.batch_number, expected_number);
        assert_eq!(era.settlement_batch, gateway.batch_number);
        for check in &era.checks {
            assert!(check.passed, "{check:?}");
        }
        assert_eq!(
            era.info.stored.dependency_roots_rolling_hash.is_some(),
            expected_number >= w.era_v29_from_batch,
            "9-field StoredBatchInfo exactly from Era's v29"
        );
        let counters = self.counters.read(
            &self.settled,
            pubdata,
            gateway.previous_index_repeated_storage_changes,
        );
        assert_eq!(counters.committed, Some(expected_number));
        self.lifecycle.observe(gateway.batch_number, counters);
        let applied = self.state.apply_and_commit(&era.input()).unwrap();
        assert_eq!(applied.record.matches, Some(true));
        applied.record.computed_root
    }

    /// Reads a Gateway batch that carries none of Era's batches: no relayed
    /// batch, but Era's counters move (so the tracker must see it).
    fn empty_gateway_batch(&mut self, tx: &PlannedTx) {
        let (_, decoded) = decode_tx(tx);
        let gateway = &decoded[0];
        assert!(gateway.all_passed(), "{:?}", gateway.checks);
        let pubdata = gateway.parsed.as_ref().expect("Gateway pubdata parsed");
        let relayed = relayed_batches(gateway.batch_number, pubdata, &self.settled).unwrap();
        assert!(relayed.is_empty(), "{relayed:?}");
        let counters = self.counters.read(
            &self.settled,
            pubdata,
            gateway.previous_index_repeated_storage_changes,
        );
        self.lifecycle.observe(gateway.batch_number, counters);
    }

    fn l1_batch(&mut self, tx: &PlannedTx) -> B256 {
        let (_, decoded) = decode_tx(tx);
        assert_eq!(decoded.len(), 1);
        assert!(decoded[0].all_passed(), "{:?}", decoded[0].checks);
        let input = PlanInput::from_decoded(&decoded[0]).unwrap();
        let applied = self.state.apply_and_commit(&input).unwrap();
        assert_eq!(applied.record.matches, Some(true));
        applied.record.computed_root
    }
}

#[test]
fn replays_l1_gateway_and_back_to_the_generator_roots() {
    let cfg = config();
    let generator = ZksyncGenerator::new(cfg.clone()).unwrap();
    let leaves = genesis::leaves(generator.genesis_logs()).unwrap();
    let batches = generate(cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "zksync-gateway-replay").unwrap();
    let state = ZksyncState::init_genesis(&store, &leaves, Some(generator.genesis_root())).unwrap();
    let w = window();
    let mut replay = Replay {
        state,
        settled: w.settled_chain(ERA_CHAIN_ID),
        counters: CounterTracker::default(),
        lifecycle: SettledLifecycle::new(Lifecycle {
            committed: w.from_batch - 1,
            proven: w.from_batch - 1,
            executed: w.from_batch - 1,
        }),
    };
    let mut labels = Vec::new();
    for batch in &batches {
        let tx = commit_tx(batch);
        let root = if w.contains(batch.number) {
            assert_eq!(tx.to, w.gateway_diamond);
            let mut root = None;
            // In L1 order: the Gateway's commits (the one carrying the Era
            // batch, then any carrying nothing) and its executions on L1,
            // which make Era's executions on it final.
            for tx in &batch.txs {
                if tx.label.starts_with("gateway execute") {
                    let last: u64 = tx.label.rsplit("..=").next().unwrap().parse().unwrap();
                    replay.lifecycle.settlement_executed(last);
                } else if tx.label.contains("carrying no zksync batch") {
                    replay.empty_gateway_batch(tx);
                } else if tx.label.starts_with("gateway batch") {
                    root = Some(replay.gateway_batch(tx, batch.number));
                }
            }
            root.unwrap()
        } else {
            assert_ne!(tx.to, w.gateway_diamond);
            replay.l1_batch(tx)
        };
        assert_eq!(root, batch.expected_root, "batch {}", batch.number);
        labels.push(batch.format);
    }
    // Both Gateway formats and both DA kinds were exercised, and the history went back to L1.
    for label in [
        "zksync-gateway-v26-calldata",
        "zksync-gateway-v26-blobs",
        "zksync-gateway-v29-calldata",
        "zksync-gateway-v29-blobs",
        "zksync-v29-calldata",
    ] {
        assert!(labels.contains(&label), "{label} missing from {labels:?}");
    }
    assert_eq!(batches.last().unwrap().number, 15);
    // Before moving back, every Era batch of the window is executed on the
    // Gateway and that Gateway batch on L1.
    let stages = replay.lifecycle.stages;
    assert_eq!(
        (stages.committed, stages.proven, stages.executed),
        (w.until_batch - 1, w.until_batch - 1, w.until_batch - 1)
    );
}

#[test]
fn inside_the_window_execution_waits_for_the_gateway_batch_on_l1() {
    let batches = generate(config()).unwrap();
    let w = window();
    let settled = w.settled_chain(ERA_CHAIN_ID);
    let mut counters = CounterTracker::default();
    let mut lifecycle = SettledLifecycle::new(Lifecycle {
        committed: w.from_batch - 1,
        proven: w.from_batch - 1,
        executed: w.from_batch - 1,
    });
    let mut saw_pending_execution = false;
    let gateway_commits = batches
        .iter()
        .filter(|b| w.contains(b.number))
        .flat_map(|b| b.txs.iter().map(move |tx| (b.number, tx)))
        .filter(|(_, tx)| tx.label.starts_with("gateway batch"));
    for (era_batch, tx) in gateway_commits {
        let (_, decoded) = decode_tx(tx);
        let gateway = &decoded[0];
        let read = counters.read(
            &settled,
            gateway.parsed.as_ref().unwrap(),
            gateway.previous_index_repeated_storage_changes,
        );
        lifecycle.observe(gateway.batch_number, read);
        // Not yet executed on L1: an Era execution it carries is not final.
        if read.executed.unwrap() > lifecycle.stages.executed {
            saw_pending_execution = true;
        }
        assert!(lifecycle.stages.executed <= read.executed.unwrap());
        assert_eq!(lifecycle.stages.committed, era_batch);
    }
    assert!(saw_pending_execution);
}

#[test]
fn tampered_relayed_data_is_refused_or_mismatches() {
    let batches = generate(config()).unwrap();
    let w = window();
    let settled = w.settled_chain(ERA_CHAIN_ID);
    let batch = batches.iter().find(|b| b.number == w.from_batch).unwrap();
    let (_, decoded) = decode_tx(commit_tx(batch));
    let pubdata = decoded[0].parsed.clone().unwrap();

    // 1. Relayed pubdata that does not hash to what the Gateway's messenger log
    //    announced (the RelayedSLDAValidator's message) is not attributed to
    //    it: the batch fails `relayed.pubdata_message` (a MISMATCH), the rest
    //    of the relayed data still checks.
    let mut tampered = pubdata.clone();
    let last = tampered.messages[0].len() - 1;
    tampered.messages[0][last] ^= 1;
    let relayed = relayed_batches(1, &tampered, &settled).unwrap();
    let fails: Vec<&str> = relayed[0]
        .checks
        .iter()
        .filter(|c| c.failed())
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(fails, ["relayed.pubdata_message"]);
    //    A relayed message that parses as nobody's pubdata is no batch's
    //    pubdata: the batch has none, which is refused.
    let mut garbage = pubdata.clone();
    garbage.messages[0] = zkreplay::rollup::zksync::gateway::encode_relayed_pubdata(
        U256::from(ERA_CHAIN_ID),
        U256::from(w.from_batch),
        &[0xff; 7],
    );
    match relayed_batches(1, &garbage, &settled) {
        Err(GatewayError::Unpaired { missing, .. }) => assert_eq!(missing, "pubdata"),
        other => panic!("expected Unpaired, got {other:?}"),
    }

    // 2. A relayed StoredBatchInfo with another root, re-announced consistently
    //    in the messenger log: the commitment and the Gateway's stored batch hash
    //    no longer match it.
    let mut forged = pubdata.clone();
    let mut info = relayed_batches(1, &pubdata, &settled).unwrap()[0]
        .info
        .clone();
    info.stored.batch_hash = keccak256(b"another root");
    let message = encode_relayed_batch_info(&info);
    let log = forged
        .user_logs
        .iter_mut()
        .find(|l| l.value == keccak256(&forged.messages[1]))
        .unwrap();
    log.value = keccak256(&message);
    forged.messages[1] = message;
    let relayed = relayed_batches(1, &forged, &settled).unwrap();
    let fails: Vec<&str> = relayed[0]
        .checks
        .iter()
        .filter(|c| c.failed())
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(fails, ["relayed.commitment", "relayed.stored_batch_hash"]);

    // 3. A message from a sender that is not the configured diamond is ignored.
    let other = SettledChain {
        diamond_on_layer: alloy_primitives::Address::repeat_byte(9),
        ..settled
    };
    match relayed_batches(1, &pubdata, &other) {
        Err(GatewayError::Unpaired { missing, .. }) => assert_eq!(missing, "StoredBatchInfo"),
        other => panic!("expected Unpaired, got {other:?}"),
    }
}

/// Era's executed counter the simulator's Gateway stores in each Gateway
/// batch (its commit's label names it: "gateway batch G commit carrying
/// zksync batch N, zksync executed through E"), by Gateway batch.
fn era_executed_by_gateway_batch(config: ZksyncGenConfig) -> std::collections::BTreeMap<u64, u64> {
    let mut out = std::collections::BTreeMap::new();
    for batch in generate(config).unwrap() {
        for tx in batch
            .txs
            .iter()
            .filter(|t| t.label.starts_with("gateway batch") && t.label.contains("commit"))
        {
            let number = |prefix: &str| -> u64 {
                let rest = &tx.label[tx.label.find(prefix).unwrap() + prefix.len()..];
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            };
            out.insert(number("gateway batch "), number("executed through "));
        }
    }
    out
}

fn topic_number(word: &B256) -> u64 {
    U256::from_be_bytes(word.0).to::<u64>()
}

/// Finality through the Gateway, through the real follower on the in-memory
/// L1 (simulated data, see the module doc): at every L1 block of the history,
/// Era's verified pointer (with --accept-partial, since relayed batches are
/// PARTIAL) is exactly the Era batch that the Gateway's state, as of the last
/// Gateway batch executed on L1 so far, records as executed — or Era's own
/// L1 executions where those are further. Inside the window it moves on the
/// Gateway's `BlockExecution`s, before Era is back on L1.
#[tokio::test]
async fn era_batches_are_final_when_the_gateway_batch_carrying_their_execution_is_executed() {
    use crate::follow::{options, zk};
    use crate::memory_l1::memory;
    use zkreplay::audit::BatchAudit;
    use zkreplay::devnet::contracts::ZKSYNC_DIAMOND_ADDRESS;
    use zkreplay::follow::{FollowOptions, OnMismatch};
    use zkreplay::l1::BlockTag;
    use zkreplay::rollup::zksync::events::BLOCK_EXECUTION;

    let gw = zk::gateway_chain(Default::default());
    let zk = &gw.zk;
    let executed_by = era_executed_by_gateway_batch(config());
    let l1 = memory(zk.chain.clone());
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(dir.path(), "zksync-memory").unwrap());
    let (mut era_on_l1, mut gateway_executed) = (0u64, None::<u64>);
    let (mut moved_inside_the_window, mut committed_not_verified) = (false, false);
    for block in 1..=zk.chain.head() {
        let opts = FollowOptions {
            accept_partial: true,
            ..options(BlockTag::Latest, Some(block), OnMismatch::Halt)
        };
        zk::sync(zk, &l1, &store, &opts).await.unwrap();
        for (address, topics, _) in &zk.chain.entries[block as usize - 1].1 {
            if topics[0] != BLOCK_EXECUTION {
                continue;
            }
            if *address == ZKSYNC_DIAMOND_ADDRESS {
                era_on_l1 = era_on_l1.max(topic_number(&topics[1]));
            } else if *address == gw.window.gateway_diamond {
                gateway_executed = Some(topic_number(&topics[1]));
            }
        }
        let through_gateway = gateway_executed
            .and_then(|g| executed_by.range(..=g).next_back())
            .map_or(0, |(_, e)| *e);
        let expected = era_on_l1.max(through_gateway);
        let verified = BatchAudit::verified_batch(&store).unwrap().unwrap();
        assert_eq!(verified, expected, "L1 block {block}");
        // `status` shows the same: executed (final) = verified, committed
        // ahead of it while Era batches wait for their Gateway batch on L1.
        let status = &zkreplay::cli::status::read_status(dir.path()).unwrap()[0];
        let lifecycle = status.lifecycle.unwrap();
        assert_eq!(
            (lifecycle.executed, status.verified_batch, status.findings),
            (expected, Some(expected), 0),
            "L1 block {block}"
        );
        if lifecycle.committed > lifecycle.executed && gw.window.contains(lifecycle.committed) {
            committed_not_verified = true;
        }
        if through_gateway > era_on_l1 && era_on_l1 < gw.window.until_batch {
            moved_inside_the_window = true;
        }
    }
    assert!(
        moved_inside_the_window,
        "Gateway executions made Era batches final before Era was back on L1"
    );
    assert!(
        committed_not_verified,
        "Era batches committed on the Gateway and not yet executed showed as committed, not verified"
    );
}

/// A Gateway `BlocksRevert` of Gateway batches that carried Era batches
/// (simulated data, in-memory L1): the Era batches they carried are unwound
/// (one unwind), the Gateway recommits the same batches and following
/// resumes to the same roots, audits and verified pointer as a history
/// without the revert; cut at every L1 block, the replay ends the same.
#[tokio::test]
async fn a_gateway_revert_unwinds_the_era_batches_it_carried_and_following_resumes() {
    use crate::follow::{options, zk};
    use crate::memory_l1::memory;
    use alloy_primitives::Bytes;
    use zkreplay::audit::BatchAudit;
    use zkreplay::follow::{FollowOptions, L1Cursor, OnMismatch};
    use zkreplay::l1::BlockTag;
    use zkreplay::rollup::zksync::events::{BLOCK_COMMIT, BLOCKS_REVERT};
    use zkreplay::rollup::zksync::state::read_checkpoint;

    let honest = zk::gateway_chain(Default::default());
    let mut gw = zk::gateway_chain(Default::default());
    let w = gw.window.clone();
    // Era batch 9 is carried by Gateway batch 5; after its commit the Gateway
    // has executed its batch 3, so batches 4 and 5 (carrying Era 8 and 9) can
    // be reverted.
    let (era_batch, gateway_batch, keep) = (9u64, 9 - w.from_batch + 1, 9 - w.from_batch - 1);
    let commit_of = |g: u64| {
        gw.zk
            .chain
            .entries
            .iter()
            .position(|(_, logs)| {
                logs.iter().any(|(a, t, _)| {
                    *a == w.gateway_diamond && t[0] == BLOCK_COMMIT && topic_number(&t[1]) == g
                })
            })
            .unwrap()
    };
    let at = commit_of(gateway_batch);
    let recommits: Vec<_> = (keep + 1..=gateway_batch)
        .map(|g| gw.zk.chain.entries[commit_of(g)].clone())
        .collect();
    let entries = std::mem::take(&mut gw.zk.chain.entries);
    let word = |n: u64| U256::from(n).to_be_bytes::<32>();
    let mut inserted = 0;
    for (i, (tx, logs)) in entries.into_iter().enumerate() {
        let to = tx.to.unwrap();
        gw.zk
            .chain
            .push(to, tx.input.to_vec(), tx.blob_versioned_hashes, logs);
        if i == at {
            let data = [word(keep), word(keep), word(keep - 1)].concat();
            gw.zk.chain.push(
                w.gateway_diamond,
                [&b"revert"[..], &word(keep)].concat(),
                vec![],
                vec![(w.gateway_diamond, vec![BLOCKS_REVERT], Bytes::from(data))],
            );
            for (tx, logs) in recommits.iter().cloned() {
                gw.zk.chain.push(
                    tx.to.unwrap(),
                    tx.input.to_vec(),
                    tx.blob_versioned_hashes,
                    logs,
                );
            }
            inserted = 1 + recommits.len() as u64;
        }
    }
    let revert_block = at as u64 + 2;
    // Era's return to L1 is a timestamp boundary: it moved by the inserted blocks.
    let back = gw.zk.config.zksync.as_mut().unwrap().history.settlement[2]
        .from_l1_timestamp
        .as_mut()
        .unwrap();
    *back += 12 * inserted;

    let zk = &gw.zk;
    let l1 = memory(zk.chain.clone());
    let opts = FollowOptions {
        accept_partial: true,
        ..options(BlockTag::Latest, None, OnMismatch::Halt)
    };
    let replay = |cut: bool| {
        let opts = opts.clone();
        let l1 = &l1;
        async move {
            let dir = tempfile::tempdir().unwrap();
            let store = std::sync::Arc::new(Store::open(dir.path(), "zksync-memory").unwrap());
            let mut unwound = 0;
            if cut {
                for block in 1..=zk.chain.head() {
                    let opts = FollowOptions {
                        to_block: Some(block),
                        ..opts.clone()
                    };
                    unwound += zk::sync(zk, l1, &store, &opts).await.unwrap().unwound;
                    if block == revert_block {
                        // One unwind took the Era batches the withdrawn Gateway batches carried.
                        let last = read_checkpoint(&store).unwrap().unwrap().batch;
                        assert_eq!(last, era_batch - 2, "after the Gateway revert");
                    }
                }
            } else {
                unwound = zk::sync(zk, l1, &store, &opts).await.unwrap().unwound;
            }
            let last = zk.roots.len() as u64 - 1;
            let audits: Vec<BatchAudit> = (0..=last)
                .map(|n| BatchAudit::read(&store, n).unwrap().unwrap())
                .collect();
            let verified = BatchAudit::verified_batch(&store).unwrap();
            let cursor = L1Cursor::read(&store).unwrap();
            (unwound, audits, verified, cursor)
        }
    };
    let (unwound, audits, verified, cursor) = replay(false).await;
    assert_eq!(unwound, 2, "Era batches {} and {era_batch}", era_batch - 1);
    for (n, audit) in audits.iter().enumerate() {
        assert_eq!(
            audit.computed_root,
            zkreplay::hexfmt::format_word(&zk.roots[n]),
            "{n}"
        );
        assert!(audit.failed_checks().is_empty(), "{n}: {audit:?}");
    }
    // The same end as the history without the revert.
    let without = {
        let l1 = memory(honest.zk.chain.clone());
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open(dir.path(), "zksync-memory").unwrap());
        zk::sync(&honest.zk, &l1, &store, &opts).await.unwrap();
        let last = honest.zk.roots.len() as u64 - 1;
        let audits: Vec<BatchAudit> = (0..=last)
            .map(|n| BatchAudit::read(&store, n).unwrap().unwrap())
            .collect();
        (audits, BatchAudit::verified_batch(&store).unwrap())
    };
    assert_eq!((audits.clone(), verified), without);
    let (cut_unwound, cut_audits, cut_verified, cut_cursor) = replay(true).await;
    assert_eq!(cut_unwound, 2);
    assert_eq!(
        (cut_audits, cut_verified, cut_cursor),
        (audits, verified, cursor),
        "cut at every L1 block = uninterrupted"
    );
}

/// Relayed pubdata that is not the message Era's DA validator on the Gateway
/// sent (simulated fault: the Gateway relays other pubdata for Era batch 7
/// while its messenger log names the true message's hash) is a finding:
/// MISMATCH on `relayed.pubdata_message`, the verified pointer held before
/// it, and `status` shows it.
#[tokio::test]
async fn relayed_pubdata_that_is_not_the_validators_message_is_a_mismatch() {
    use crate::follow::{options, zk};
    use crate::memory_l1::memory;
    use zkreplay::audit::{BatchAudit, Verdict};
    use zkreplay::devnet::Fault;
    use zkreplay::follow::{FollowOptions, OnMismatch};
    use zkreplay::l1::BlockTag;

    let gw = zk::gateway_chain([(7, Fault::DataNotBound)].into_iter().collect());
    let zk = &gw.zk;
    let l1 = memory(zk.chain.clone());
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(dir.path(), "zksync-memory").unwrap());
    let opts = FollowOptions {
        accept_partial: true,
        ..options(BlockTag::Latest, None, OnMismatch::Halt)
    };
    let error = zk::sync(zk, &l1, &store, &opts).await.unwrap_err();
    eprintln!("halted: {error}");
    let audit = BatchAudit::read(&store, 7).unwrap().unwrap();
    assert_eq!(audit.verdict, Verdict::Mismatch, "{audit:?}");
    assert!(
        audit.failed_checks().contains(&"relayed.pubdata_message"),
        "{audit:?}"
    );
    assert!(BatchAudit::verified_batch(&store).unwrap().unwrap() < 7);
    drop(store);
    let status = zkreplay::cli::status::read_status(dir.path()).unwrap();
    assert_eq!((status[0].findings, status[0].first_finding), (1, Some(7)));
    assert!(status[0].needs_attention());
}

/// A Gateway batch that carries none of Era's batches still moves Era's
/// counters there (in the simulator's history, Era proves and executes one
/// more batch on the Gateway). A follower stopped right after its L1 cursor
/// passed that Gateway commit (engine gone, store closed) and restarted must
/// make Era's batches final exactly when an uninterrupted run does: what it
/// read from that commit is saved in the same write as the cursor move.
/// Simulated data on the in-memory L1 (see the module doc); the expected
/// executed counter is the simulator's (its commit labels), not the follower's.
#[tokio::test]
async fn a_gateway_batch_carrying_no_era_batch_is_remembered_across_a_restart() {
    use crate::follow::{options, zk};
    use crate::memory_l1::memory;
    use zkreplay::audit::BatchAudit;
    use zkreplay::follow::{FollowOptions, L1Cursor, OnMismatch};
    use zkreplay::l1::BlockTag;
    use zkreplay::rollup::zksync::events::{BLOCK_COMMIT, BLOCK_EXECUTION};

    let config = ZksyncGenConfig {
        gateway: Some(GatewayWindow {
            carries_nothing_after: [9].into(),
            ..window()
        }),
        ..config()
    };
    let executed_by = era_executed_by_gateway_batch(config.clone());
    let empty = generate(config.clone())
        .unwrap()
        .iter()
        .flat_map(|b| b.txs.iter())
        .find(|t| t.label.contains("carrying no zksync batch"))
        .map(|t| {
            t.label["gateway batch ".len()..]
                .split(' ')
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .expect("the history has a Gateway batch carrying nothing");
    // The batch carrying nothing is what moves Era's executed counter here.
    assert!(
        executed_by[&empty] > executed_by[&(empty - 1)],
        "{executed_by:?}"
    );
    let gw = zk::gateway_chain_from(config);
    let zk = &gw.zk;
    let gateway = gw.window.gateway_diamond;
    // L1 blocks hold one transaction each: entry i is block i + 1.
    let block_where = |wanted: &dyn Fn(&B256, &[B256]) -> bool| {
        1 + zk
            .chain
            .entries
            .iter()
            .position(|(_, logs)| {
                logs.iter()
                    .any(|(a, t, _)| *a == gateway && wanted(&t[0], t))
            })
            .unwrap() as u64
    };
    let number = |w: &B256| U256::from_be_bytes(w.0).to::<u64>();
    let empty_commit = block_where(&|topic, t| *topic == BLOCK_COMMIT && number(&t[1]) == empty);
    let empty_executed =
        block_where(&|topic, t| *topic == BLOCK_EXECUTION && number(&t[1]) >= empty);
    assert!(empty_commit < empty_executed);
    let expected = executed_by[&empty];

    let l1 = memory(zk.chain.clone());
    // Each stop is a restart: a new engine over the store opened again.
    let run = |stops: Vec<u64>| {
        let l1 = &l1;
        async move {
            let dir = tempfile::tempdir().unwrap();
            for block in stops {
                let store = std::sync::Arc::new(Store::open(dir.path(), "zksync-memory").unwrap());
                let opts = FollowOptions {
                    accept_partial: true,
                    ..options(BlockTag::Latest, Some(block), OnMismatch::Halt)
                };
                zk::sync(zk, l1, &store, &opts).await.unwrap();
                if block == empty_commit {
                    // Stopped right after the cursor moved past the Gateway commit.
                    let cursor = L1Cursor::read(&store).unwrap().unwrap();
                    assert_eq!((cursor.block, cursor.log_index), (empty_commit, None));
                }
            }
            let store = Store::open(dir.path(), "zksync-memory").unwrap();
            let verified = BatchAudit::verified_batch(&store).unwrap();
            drop(store);
            let status = &zkreplay::cli::status::read_status(dir.path()).unwrap()[0];
            (
                verified,
                status.lifecycle.unwrap().executed,
                status.findings,
            )
        }
    };
    let uninterrupted = run(vec![empty_executed]).await;
    assert_eq!(uninterrupted, (Some(expected), expected, 0));
    let restarted = run(vec![empty_commit, empty_executed]).await;
    assert_eq!(
        restarted, uninterrupted,
        "restarted right after the cursor passed Gateway batch {empty} (which carried no Era batch)"
    );
}

/// An Era batch committed on the Gateway whose carrying Gateway batch is
/// never executed on L1 (simulated history with every Gateway execution
/// taken out, followed up to the Gateway's last commit in the window): it is
/// applied and judged (PARTIAL, no finding) but committed, not verified;
/// `status` shows it committed above the executed and verified batch, which
/// stay where Era's own L1 executions left them before the window.
#[tokio::test]
async fn an_era_batch_committed_on_the_gateway_but_never_executed_is_committed_not_verified() {
    use crate::follow::{options, zk};
    use crate::memory_l1::memory;
    use zkreplay::audit::{BatchAudit, Verdict};
    use zkreplay::follow::{FollowOptions, L1BatchRecord, OnMismatch};
    use zkreplay::l1::BlockTag;
    use zkreplay::rollup::zksync::events::{BLOCK_COMMIT, BLOCK_EXECUTION};

    let mut gw = zk::gateway_chain(Default::default());
    let w = gw.window.clone();
    let entries = std::mem::take(&mut gw.zk.chain.entries);
    let mut last_gateway_commit = 0;
    for (tx, logs) in entries {
        let by_gateway = |topic| {
            logs.iter()
                .any(|(a, t, _)| *a == w.gateway_diamond && t[0] == topic)
        };
        if by_gateway(BLOCK_EXECUTION) {
            continue;
        }
        let commit = by_gateway(BLOCK_COMMIT);
        gw.zk.chain.push(
            tx.to.unwrap(),
            tx.input.to_vec(),
            tx.blob_versioned_hashes,
            logs,
        );
        if commit {
            last_gateway_commit = gw.zk.chain.head();
        }
    }
    let zk = &gw.zk;
    let l1 = memory(zk.chain.clone());
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(dir.path(), "zksync-memory").unwrap());
    let opts = FollowOptions {
        accept_partial: true,
        ..options(
            BlockTag::Latest,
            Some(last_gateway_commit),
            OnMismatch::Halt,
        )
    };
    zk::sync(zk, &l1, &store, &opts).await.unwrap();
    // The last Era batch of the window, and the last one Era executed on L1 before it.
    let (committed, executed) = (w.until_batch - 1, w.from_batch - 1);
    let audit = BatchAudit::read(&store, committed).unwrap().unwrap();
    assert_eq!(audit.verdict, Verdict::Partial, "{audit:?}");
    assert_eq!(
        audit.computed_root,
        zkreplay::hexfmt::format_word(&zk.roots[committed as usize])
    );
    let record = L1BatchRecord::read(&store, committed).unwrap().unwrap();
    assert_eq!(record.summary.executed, Some(false));
    drop(store);
    let status = &zkreplay::cli::status::read_status(dir.path()).unwrap()[0];
    let lifecycle = status.lifecycle.unwrap();
    assert_eq!(
        (
            status.last_applied_batch,
            lifecycle.committed,
            lifecycle.executed,
            status.verified_batch,
            status.findings
        ),
        (Some(committed), committed, executed, Some(executed), 0),
        "{status:?}"
    );
}
