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
            let root = replay.gateway_batch(tx, batch.number);
            // The Gateway's executions on L1 make Era's executions on it final.
            for execute in batch
                .txs
                .iter()
                .filter(|t| t.label.starts_with("gateway execute"))
            {
                let last: u64 = execute.label.rsplit("..=").next().unwrap().parse().unwrap();
                replay.lifecycle.settlement_executed(last);
            }
            root
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
    for batch in batches.iter().filter(|b| w.contains(b.number)) {
        let (_, decoded) = decode_tx(commit_tx(batch));
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
        assert_eq!(lifecycle.stages.committed, batch.number);
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
    //    committed is not attributed to the RelayedSLDAValidator: the batch is
    //    left without pubdata, which is refused.
    let mut tampered = pubdata.clone();
    let last = tampered.messages[0].len() - 1;
    tampered.messages[0][last] ^= 1;
    match relayed_batches(1, &tampered, &settled) {
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
