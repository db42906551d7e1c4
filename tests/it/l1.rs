//! The production L1 access layer against a real anvil node spawned per test:
//! JSON-RPC, beacon blobs, the local archive, range splitting and fault
//! tolerance through the fault-injecting proxy; and the verified source
//! (`VerifiedL1`, `QuorumL1`) against a proxy that lies.
//!
//! anvil comes from `scripts/install-anvil.sh` (or `ZKREPLAY_ANVIL`).

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, Bytes, keccak256};
use tokio::sync::watch;
use zkreplay::audit::{BatchAudit, HaltRecord};
use zkreplay::blob::BYTES_PER_BLOB;
use zkreplay::chain::ChainConfig;
use zkreplay::cli::devnet::plan;
use zkreplay::cli::follow::{FollowedL1, verified_l1};
use zkreplay::devnet::anvil::Anvil;
use zkreplay::follow::run::{last_applied_batch, run as follow_run};
use zkreplay::follow::{FollowError, FollowOptions, FollowStatus, L1BatchRecord, L1Cursor};
use zkreplay::l1::beacon::BeaconBlockId;
use zkreplay::l1::client::{L1Endpoints, RpcL1};
use zkreplay::l1::fault_proxy::{FaultConfig, FaultKind, FaultProxy, Lie};
use zkreplay::l1::quorum::QuorumL1;
use zkreplay::l1::submit::{Devnet, SidecarFormat};
use zkreplay::l1::verified::{L1VerifyArgs, VerifiedL1, VerifyLevel, VerifyOptions};
use zkreplay::l1::verify::VerifyError;
use zkreplay::l1::{BlobBinding, BlobRequest, BlockTag, L1Error, L1Source, LogFilter};
use zkreplay::store::Store;

/// anvil on a free port, killed on drop.
fn spawn_anvil() -> Anvil {
    Anvil::start(Path::new(env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{e} (scripts/install-anvil.sh installs it)"))
}

/// A deterministic blob: 4096 elements with a zero top byte (so each is below the BLS modulus).
fn test_blob(seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut blob = vec![0u8; BYTES_PER_BLOB];
    for (i, byte) in blob.iter_mut().enumerate() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = if i % 32 == 0 { 0 } else { state as u8 };
    }
    blob
}

/// `LOG1(topic, calldata)`: CALLDATACOPY the input to memory, then log it.
fn logger_code(topic: B256) -> Bytes {
    let mut code = hex::decode("365f5f377f").unwrap();
    code.extend_from_slice(topic.as_slice());
    code.extend_from_slice(&hex::decode("365fa100").unwrap());
    code.into()
}

/// Returns its calldata: CALLDATACOPY then RETURN.
fn echo_code() -> Bytes {
    hex::decode("365f5f37365ff3").unwrap().into()
}

const LOGGER: Address = Address::repeat_byte(0x11);
const ECHO: Address = Address::repeat_byte(0x22);

fn topic() -> B256 {
    keccak256("Posted(bytes)")
}

/// A chain with the logger contract, `messages` logged one per block, and one 2-blob transaction.
struct Scenario {
    devnet: Devnet,
    messages: Vec<Bytes>,
    blob_tx: B256,
    blob_block: u64,
    blobs: Vec<Vec<u8>>,
}

async fn scenario(anvil: &Anvil, messages: usize) -> Scenario {
    let devnet = Devnet::connect(&anvil.url).unwrap();
    devnet.set_code(LOGGER, logger_code(topic())).await.unwrap();
    let mut sent = Vec::new();
    for i in 0..messages {
        let message: Bytes = format!("message {i}").into_bytes().into();
        devnet.send_calldata(LOGGER, message.clone()).await.unwrap();
        sent.push(message);
    }
    let blobs = vec![test_blob(1), test_blob(2)];
    let submitted = send_blobs(&devnet, &blobs).await;
    Scenario {
        devnet,
        messages: sent,
        blob_tx: submitted.hash,
        blob_block: submitted.block_number,
        blobs,
    }
}

/// anvil follows the latest fork; cell proofs (EIP-7594) are the wrapper from Osaka on.
async fn send_blobs(devnet: &Devnet, blobs: &[Vec<u8>]) -> zkreplay::l1::submit::Submitted {
    match devnet
        .send_blobs(Address::ZERO, Bytes::new(), blobs, SidecarFormat::Eip7594)
        .await
    {
        Ok(s) => s,
        Err(first) => {
            eprintln!("node refused an EIP-7594 sidecar ({first}); sending EIP-4844");
            devnet
                .send_blobs(Address::ZERO, Bytes::new(), blobs, SidecarFormat::Eip4844)
                .await
                .unwrap_or_else(|e| panic!("blob tx failed as 7594 ({first}) and 4844 ({e})"))
        }
    }
}

async fn client(rpc_url: &str, beacon_url: Option<&str>, store: Option<Arc<Store>>) -> RpcL1 {
    let mut endpoints = L1Endpoints::devnet(rpc_url);
    endpoints.beacon_url = beacon_url.map(str::to_string);
    endpoints.beacon_block_id = BeaconBlockId::ExecutionBlockNumber;
    RpcL1::connect(endpoints, store).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_id_blocks_and_tags() {
    let anvil = spawn_anvil();
    let devnet = Devnet::connect(&anvil.url).unwrap();
    for _ in 0..3 {
        devnet.mine().await.unwrap();
    }
    let l1 = client(&anvil.url, None, None).await;
    assert_eq!(l1.chain_id().await.unwrap(), 31337);
    assert_eq!(l1.connected_chain_id(), 31337);

    let latest = l1.block_by_tag(BlockTag::Latest).await.unwrap();
    assert_eq!(latest.number, 3);
    let two = l1.block_by_number(2).await.unwrap().unwrap();
    assert_eq!(l1.block_by_hash(two.hash).await.unwrap(), Some(two.clone()));
    assert_eq!(latest.parent_hash, two.hash);
    assert!(latest.timestamp >= two.timestamp);
    for tag in [BlockTag::Safe, BlockTag::Finalized] {
        let block = l1.block_by_tag(tag).await.unwrap();
        assert!(block.number <= latest.number, "{tag:?}");
        assert_eq!(l1.block_by_number(block.number).await.unwrap(), Some(block));
    }
    assert_eq!(l1.block_by_number(1_000).await.unwrap(), None);
    assert_eq!(l1.block_by_hash(B256::repeat_byte(7)).await.unwrap(), None);
    assert_eq!(l1.transaction(B256::repeat_byte(7)).await.unwrap(), None);

    // evm_snapshot / evm_revert rewind the chain.
    let snapshot = devnet.snapshot().await.unwrap();
    devnet.mine().await.unwrap();
    assert_eq!(l1.block_by_tag(BlockTag::Latest).await.unwrap().number, 4);
    assert!(devnet.revert(snapshot).await.unwrap());
    assert_eq!(l1.block_by_tag(BlockTag::Latest).await.unwrap(), latest);
}

/// Proves the blobs it knows (a test oracle standing in for a rollup's
/// openings) and counts how often the source asked.
struct KnownBlobs {
    known: Vec<(Vec<u8>, B256)>,
    asked: std::sync::atomic::AtomicUsize,
}

impl BlobBinding for KnownBlobs {
    fn proven_versioned_hash(&self, blob: &[u8]) -> Option<B256> {
        self.asked
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.known.iter().find(|(b, _)| b == blob).map(|(_, h)| *h)
    }
}

/// The beacon path asks the request's binding first and falls back to
/// recomputing commitments for what it does not prove; a blob it proves under
/// a hash nobody asked for is not taken for a wanted one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_binding_is_asked_first_and_recomputing_covers_what_it_does_not_prove() {
    let anvil = spawn_anvil();
    let scenario = scenario(&anvil, 0).await;
    let l1 = client(&anvil.url, Some(&anvil.url), None).await;
    let block = l1
        .block_by_number(scenario.blob_block)
        .await
        .unwrap()
        .unwrap();
    let expected = Devnet::versioned_hashes(&scenario.blobs).unwrap();
    let mut unwanted = expected[0];
    unwanted.0[31] ^= 1;
    let bindings = [
        // Proves both blobs.
        vec![
            (scenario.blobs[0].clone(), expected[0]),
            (scenario.blobs[1].clone(), expected[1]),
        ],
        // Proves nothing.
        vec![],
        // Proves the second, and claims the first under a hash not asked for.
        vec![
            (scenario.blobs[0].clone(), unwanted),
            (scenario.blobs[1].clone(), expected[1]),
        ],
    ];
    for known in bindings {
        let binding = Arc::new(KnownBlobs {
            known,
            asked: Default::default(),
        });
        let wanted = BlobRequest::new(expected.clone()).with_binding(binding.clone());
        assert_eq!(l1.blobs(&block, &wanted).await.unwrap(), scenario.blobs);
        assert!(binding.asked.load(std::sync::atomic::Ordering::Relaxed) >= 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_transaction_round_trip_and_local_archive() {
    let anvil = spawn_anvil();
    let scenario = scenario(&anvil, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), "test").unwrap());
    let l1 = client(&anvil.url, Some(&anvil.url), Some(store.clone())).await;

    let tx = l1.transaction(scenario.blob_tx).await.unwrap().unwrap();
    let expected = Devnet::versioned_hashes(&scenario.blobs).unwrap();
    assert_eq!(tx.hash, scenario.blob_tx);
    assert_eq!(tx.blob_versioned_hashes, expected);
    assert_eq!(tx.block_number, Some(scenario.blob_block));
    assert_eq!(tx.to, Some(Address::ZERO));
    let block = l1
        .block_by_number(scenario.blob_block)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tx.block_hash, Some(block.hash));

    let started = Instant::now();
    let blobs = l1
        .blobs(&block, &BlobRequest::new(tx.blob_versioned_hashes.to_vec()))
        .await
        .unwrap();
    let fetch_time = started.elapsed();
    assert_eq!(blobs, scenario.blobs);
    // Order follows the hashes asked for, not the node's order.
    let reversed: Vec<B256> = expected.iter().rev().copied().collect();
    let blobs_reversed = l1
        .blobs(&block, &BlobRequest::new(reversed.to_vec()))
        .await
        .unwrap();
    assert_eq!(blobs_reversed[0], scenario.blobs[1]);

    // A hash no blob matches is unavailable (or a mismatch), never a panic or a wrong blob.
    let mut wrong = expected[0];
    wrong.0[31] ^= 1;
    let fresh = client(&anvil.url, Some(&anvil.url), None).await;
    match fresh.blobs(&block, &BlobRequest::new(vec![wrong])).await {
        Err(
            L1Error::BlobUnavailable { versioned_hash }
            | L1Error::BlobMismatch { versioned_hash, .. },
        ) => {
            assert_eq!(versioned_hash, wrong)
        }
        other => panic!("expected an unavailable blob, got {other:?}"),
    }

    // The local archive serves both blobs and the transaction with the beacon endpoint gone.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let offline_beacon = client(&anvil.url, Some(&dead), Some(store.clone())).await;
    let started = Instant::now();
    assert_eq!(
        offline_beacon
            .blobs(&block, &BlobRequest::new(expected.to_vec()))
            .await
            .unwrap(),
        scenario.blobs
    );
    let archive_time = started.elapsed();
    assert_eq!(
        offline_beacon.transaction(scenario.blob_tx).await.unwrap(),
        Some(tx)
    );
    let no_archive = client(&anvil.url, Some(&dead), None).await;
    assert!(
        no_archive
            .blobs(&block, &BlobRequest::new(expected.to_vec()))
            .await
            .is_err()
    );
    let started = Instant::now();
    zkreplay::l1::beacon::verify_blob(&expected[0], &scenario.blobs[0], None).unwrap();
    let recompute_time = started.elapsed();
    eprintln!(
        "2 blobs: beacon fetch + KZG verify {fetch_time:?}, local archive {archive_time:?}; \
         one commitment recomputed {recompute_time:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_in_order_with_range_splitting_and_eth_call() {
    let anvil = spawn_anvil();
    let scenario = scenario(&anvil, 12).await;
    let l1 = client(&anvil.url, None, None).await;
    let latest = l1.block_by_tag(BlockTag::Latest).await.unwrap().number;
    let filter = LogFilter {
        addresses: vec![LOGGER],
        topics0: vec![topic()],
        from_block: 0,
        to_block: latest,
    };
    let logs = l1.logs(&filter).await.unwrap();
    let data: Vec<Bytes> = logs.iter().map(|l| l.data.clone()).collect();
    assert_eq!(data, scenario.messages);
    assert!(
        logs.windows(2)
            .all(|w| w[0].block_number < w[1].block_number)
    );
    assert!(logs.iter().all(|l| l.topics == vec![topic()] && !l.removed));
    let other_topic = LogFilter {
        topics0: vec![B256::repeat_byte(5)],
        ..filter.clone()
    };
    assert!(l1.logs(&other_topic).await.unwrap().is_empty());

    // A provider refusing ranges wider than 3 blocks: the same logs, via splitting.
    let (proxy, handle) = FaultProxy::start(
        &anvil.url,
        FaultConfig {
            max_log_range: Some(3),
            ..FaultConfig::default()
        },
    )
    .await
    .unwrap();
    let split = client(&format!("http://{proxy}"), None, None).await;
    assert_eq!(split.logs(&filter).await.unwrap(), logs);
    let counts = handle.counts();
    assert!(counts.range_refused > 0, "{counts:?}");
    eprintln!("range splitting over {} blocks: {counts:?}", latest + 1);

    // eth_call sees the state at the block asked for.
    scenario.devnet.set_code(ECHO, echo_code()).await.unwrap();
    scenario.devnet.mine().await.unwrap();
    let after = l1.block_by_tag(BlockTag::Latest).await.unwrap().number;
    let input = Bytes::from_static(b"echo");
    assert_eq!(l1.call(ECHO, input.clone(), after).await.unwrap(), input);
    assert_eq!(l1.call(ECHO, input, 0).await.unwrap(), Bytes::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_survives_thirty_percent_faults() {
    let anvil = spawn_anvil();
    let scenario = scenario(&anvil, 6).await;
    let direct = client(&anvil.url, Some(&anvil.url), None).await;
    let (proxy, handle) = FaultProxy::start(
        &anvil.url,
        FaultConfig {
            seed: 42,
            probability: 0.3,
            kinds: vec![
                FaultKind::TooManyRequests,
                FaultKind::ServiceUnavailable,
                FaultKind::RpcRateLimit,
                FaultKind::Delay,
            ],
            delay: Duration::from_millis(20),
            max_log_range: Some(4),
        },
    )
    .await
    .unwrap();
    let proxy_url = format!("http://{proxy}");
    let faulty = client(&proxy_url, Some(&proxy_url), None).await;

    let latest = direct.block_by_tag(BlockTag::Latest).await.unwrap();
    let filter = LogFilter {
        addresses: vec![LOGGER],
        topics0: vec![],
        from_block: 0,
        to_block: latest.number,
    };
    let block = direct
        .block_by_number(scenario.blob_block)
        .await
        .unwrap()
        .unwrap();
    let hashes = Devnet::versioned_hashes(&scenario.blobs).unwrap();
    for round in 0..3 {
        assert_eq!(faulty.chain_id().await.unwrap(), 31337, "round {round}");
        assert_eq!(faulty.block_by_tag(BlockTag::Latest).await.unwrap(), latest);
        for n in 0..=latest.number {
            let expected = direct.block_by_number(n).await.unwrap();
            assert_eq!(faulty.block_by_number(n).await.unwrap(), expected);
        }
        assert_eq!(
            faulty.block_by_hash(latest.hash).await.unwrap(),
            Some(latest.clone())
        );
        assert_eq!(
            faulty.logs(&filter).await.unwrap(),
            direct.logs(&filter).await.unwrap()
        );
        assert_eq!(
            faulty.transaction(scenario.blob_tx).await.unwrap(),
            direct.transaction(scenario.blob_tx).await.unwrap()
        );
        assert_eq!(
            faulty
                .blobs(&block, &BlobRequest::new(hashes.to_vec()))
                .await
                .unwrap(),
            scenario.blobs
        );
    }
    let counts = handle.counts();
    eprintln!("faults injected: {counts:?}");
    assert!(
        counts.too_many_requests > 0 && counts.service_unavailable > 0 && counts.rpc_rate_limit > 0
    );
}

#[tokio::test]
async fn dead_node_fails_fast_with_a_redacted_error() {
    let url = format!("http://127.0.0.1:{}/v2/SECRETKEY?key=abc", free_port());
    let mut endpoints = L1Endpoints::devnet(url);
    endpoints.retry.max_retries = 3;
    let started = Instant::now();
    let error = RpcL1::connect(endpoints, None).await.unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, L1Error::RetriesExhausted { attempts: 4, .. }),
        "{message}"
    );
    assert!(
        !message.contains("SECRETKEY") && !message.contains("key=abc"),
        "{message}"
    );
    assert!(
        message.contains("http://127.0.0.1:") && message.contains("/…"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    eprintln!("dead node: {message}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

/// Reverts every call: PUSH0 PUSH0 REVERT.
const REVERTER: Address = Address::repeat_byte(0x33);

/// The scenario plus one failed transaction to [`REVERTER`].
async fn lying_scenario(anvil: &Anvil) -> (Scenario, B256) {
    let scenario = scenario(anvil, 4).await;
    scenario
        .devnet
        .set_code(REVERTER, hex::decode("5f5ffd").unwrap().into())
        .await
        .unwrap();
    let (failed, succeeded) = scenario
        .devnet
        .send_unchecked(REVERTER, Bytes::from_static(b"fail"), 100_000)
        .await
        .unwrap();
    assert!(!succeeded);
    scenario.devnet.mine().await.unwrap();
    (scenario, failed.hash)
}

/// A verified source over `url`, trusting the block `checkpoint`.
async fn verified(url: &str, level: VerifyLevel, checkpoint: B256) -> VerifiedL1<RpcL1> {
    let source = VerifiedL1::new(
        client(url, None, None).await,
        VerifyOptions::new(level, vec![LOGGER, REVERTER]),
    );
    source.add_checkpoint(checkpoint).await.unwrap();
    source
}

fn logger_filter(to_block: u64) -> LogFilter {
    LogFilter {
        addresses: vec![LOGGER],
        topics0: vec![topic()],
        from_block: 0,
        to_block,
    }
}

fn unverified(error: L1Error) -> VerifyError {
    match error {
        L1Error::Unverified(e) => e,
        other => panic!("expected a verification error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_source_proves_honest_answers_at_every_level() {
    let anvil = spawn_anvil();
    let (scenario, failed) = lying_scenario(&anvil).await;
    let direct = client(&anvil.url, None, None).await;
    let head = direct.block_by_tag(BlockTag::Latest).await.unwrap();
    let filter = logger_filter(head.number);
    let expected = direct.logs(&filter).await.unwrap();
    assert_eq!(expected.len(), scenario.messages.len());

    for level in [VerifyLevel::Full, VerifyLevel::Headers, VerifyLevel::Off] {
        let l1 = verified(&anvil.url, level, head.hash).await;
        assert_eq!(l1.logs(&filter).await.unwrap(), expected, "{level:?}");
        for (log, message) in expected.iter().zip(&scenario.messages) {
            let tx = l1.transaction(log.transaction_hash).await.unwrap().unwrap();
            assert_eq!((tx.to, &tx.input), (Some(LOGGER), message), "{level:?}");
        }
        for n in 0..=head.number {
            assert_eq!(
                l1.block_by_number(n).await.unwrap(),
                direct.block_by_number(n).await.unwrap(),
                "{level:?}"
            );
        }
        assert_eq!(l1.block_by_tag(BlockTag::Latest).await.unwrap(), head);
        let failed_tx = l1.transaction(failed).await;
        match level {
            VerifyLevel::Full => assert!(matches!(
                failed_tx.map_err(unverified),
                Err(VerifyError::TransactionFailed { .. })
            )),
            // Below `full`, a failed transaction is not told apart: what those levels trust.
            _ => assert!(failed_tx.unwrap().is_some()),
        }
        let stats = l1.stats();
        eprintln!("{level:?}: {stats:?}");
        if level == VerifyLevel::Full {
            // One block fetched whole per logged message and one for the failed tx; cached after.
            assert_eq!(
                stats.blocks,
                scenario.messages.len() as u64 + 1,
                "{stats:?}"
            );
            assert!(
                stats.cache_hits >= scenario.messages.len() as u64,
                "{stats:?}"
            );
        }
    }
    // The transaction must have been sent to a followed contract.
    let strict = VerifiedL1::new(
        client(&anvil.url, None, None).await,
        VerifyOptions::new(VerifyLevel::Full, vec![ECHO]),
    );
    strict.add_checkpoint(head.hash).await.unwrap();
    let error = strict
        .transaction(expected[0].transaction_hash)
        .await
        .map_err(unverified);
    assert!(
        matches!(error, Err(VerifyError::UnexpectedRecipient { .. })),
        "{error:?}"
    );
    // Without a checkpoint nothing can be chained.
    let unanchored = VerifiedL1::new(
        client(&anvil.url, None, None).await,
        VerifyOptions::new(VerifyLevel::Full, vec![]),
    );
    assert!(matches!(
        unanchored.block_by_number(1).await.map_err(unverified),
        Err(VerifyError::NoCheckpoint { number: 1 })
    ));
}

/// Each lie of the proxy is refused by the verified source with an error
/// naming what did not verify, and passes unnoticed with verification off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lie_of_a_node_is_refused() {
    let anvil = spawn_anvil();
    let (scenario, failed) = lying_scenario(&anvil).await;
    let direct = client(&anvil.url, None, None).await;
    let head = direct.block_by_tag(BlockTag::Latest).await.unwrap();
    let filter = logger_filter(head.number);
    let honest = direct.logs(&filter).await.unwrap();
    let (proxy, handle) = FaultProxy::start(&anvil.url, FaultConfig::default())
        .await
        .unwrap();
    let url = format!("http://{proxy}");
    let message_tx = honest[1].transaction_hash;

    let cases: [(Lie, &str); 6] = [
        (Lie::ForgeLog, "forged"),
        (Lie::DropLog, "withheld log"),
        (Lie::SwapCalldata { tx: message_tx }, "transactionsRoot"),
        (Lie::FailedAsSuccess, "receiptsRoot"),
        (Lie::AlterReceipt, "receiptsRoot"),
        (
            Lie::ForeignHeader {
                number: honest[2].block_number,
            },
            "is not the verified block",
        ),
    ];
    for (lie, expected) in cases {
        let before = handle.counts().lies;
        let l1 = verified(&url, VerifyLevel::Full, head.hash).await;
        handle.set_lie(Some(lie));
        let error = match lie {
            Lie::SwapCalldata { tx } => l1.transaction(tx).await.map(drop),
            Lie::FailedAsSuccess => l1.transaction(failed).await.map(drop),
            _ => l1.logs(&filter).await.map(drop),
        }
        .expect_err(&format!("{lie:?} was not caught"));
        let message = error.to_string();
        eprintln!("{lie:?}: {message}");
        assert!(
            matches!(error, L1Error::Unverified(_)),
            "{lie:?}: {message}"
        );
        assert!(message.contains(expected), "{lie:?}: {message}");
        assert!(handle.counts().lies > before, "{lie:?} was never told");
        // With verification off the same lie goes through (so the test above is not vacuous).
        let off = verified(&url, VerifyLevel::Off, head.hash).await;
        let accepted = match lie {
            Lie::ForgeLog | Lie::DropLog => off.logs(&filter).await.unwrap() != honest,
            Lie::ForeignHeader { number } => {
                off.block_by_number(number).await.unwrap()
                    != direct.block_by_number(number).await.unwrap()
            }
            _ => true,
        };
        assert!(accepted, "{lie:?} had no effect with verification off");
        handle.set_lie(None);
    }

    // A fork: blocks already verified up to the head, then the node serves a
    // chain that forks below it and grows.
    let genesis = direct.block_by_number(0).await.unwrap().unwrap();
    let l1 = verified(&url, VerifyLevel::Full, genesis.hash).await;
    assert_eq!(l1.block_by_tag(BlockTag::Latest).await.unwrap(), head);
    handle.set_lie(Some(Lie::ForkFrom {
        number: head.number - 1,
    }));
    scenario.devnet.mine().await.unwrap();
    scenario.devnet.mine().await.unwrap();
    let error = l1
        .logs(&logger_filter(head.number + 2))
        .await
        .map_err(unverified)
        .expect_err("fork was not caught");
    eprintln!("fork: {error}");
    assert!(matches!(error, VerifyError::ParentHash { .. }), "{error}");
    // The `finalized` tag (two blocks behind here) now names a forked block
    // the verified chain contradicts: refused, never taken for a reorg.
    let error = l1
        .block_by_tag(BlockTag::Finalized)
        .await
        .map_err(unverified)
        .expect_err("forked finalized block was not caught");
    assert!(matches!(error, VerifyError::NotOnChain { .. }), "{error}");
    // `latest` may reorg: above the newest checkpoint a fork is
    // indistinguishable from a reorg (only descent is proved there), so the
    // source chains again from the checkpoint, as documented.
    let forked = l1.block_by_tag(BlockTag::Latest).await.unwrap();
    let real = direct.block_by_tag(BlockTag::Latest).await.unwrap();
    assert_eq!(forked.number, real.number);
    assert_ne!(forked.hash, real.hash);
    handle.set_lie(None);
    // The honest chain is back: followed the same way, back to the real blocks.
    assert_eq!(l1.block_by_tag(BlockTag::Latest).await.unwrap(), real);
    assert_eq!(
        l1.block_by_number(head.number - 1).await.unwrap(),
        direct.block_by_number(head.number - 1).await.unwrap()
    );
}

/// The whole follower (`follow::run::run` over the source `zkreplay follow`
/// builds) replaying the devnet through the lying proxy. Honest, it ends
/// exactly where the unverified replay straight from anvil does. With each
/// lie it halts on an error naming what did not verify, recorded in the
/// store, and nothing from the lie was used: every audit and L1 record the
/// store holds is the honest replay's (no MATCH, no verified pointer, no
/// state from a forged answer). The devnet's simulator is test support: this
/// proves the plumbing; the proofs themselves are checked on real mainnet
/// data in `tests/l1_verify.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_halts_on_a_lying_node_before_using_its_answers() {
    use zkreplay::devnet::run::{submit_all, write_configs};

    let anvil = spawn_anvil();
    let dir = tempfile::tempdir().unwrap();
    let (plan, generated, devnet) = stand_ins(&anvil).await;
    devnet
        .set_code(REVERTER, hex::decode("5f5ffd").unwrap().into())
        .await
        .unwrap();
    let first_block = devnet.rpc().block_number().await.unwrap() + 1;
    // A failed transaction in the block of the first batch transaction (a
    // Starknet one), for the lie that reports it successful.
    devnet.set_automine(false).await.unwrap();
    let failed = devnet
        .send_pending(REVERTER, Bytes::from_static(b"fail"), 100_000)
        .await
        .unwrap();
    // Once the first batch transaction waits beside it, mine both in one
    // block and let the rest mine as they come.
    let first_together = async {
        while pending_transactions(&anvil.url).await < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        devnet.mine().await.unwrap();
        devnet.set_automine(true).await.unwrap();
    };
    let (submitted, ()) = tokio::join!(
        submit_all(&devnet, &generated, 0, usize::MAX),
        first_together
    );
    let (_, starts) = submitted.unwrap();
    let (starknet_config, zksync_config) = write_configs(
        &dir.path().join("devnet"),
        &plan,
        &generated,
        first_block,
        &starts,
    )
    .unwrap();
    // Two more blocks put the last batch under the `finalized` tag (anvil: two blocks behind).
    devnet.mine().await.unwrap();
    devnet.mine().await.unwrap();
    let direct = client(&anvil.url, None, None).await;
    let finalized = direct.block_by_tag(BlockTag::Finalized).await.unwrap();
    let failed_block = direct
        .transaction(failed)
        .await
        .unwrap()
        .unwrap()
        .block_number;
    assert_eq!(
        failed_block,
        Some(first_block),
        "the failed transaction shares the first batch's block"
    );
    let (proxy, handle) = FaultProxy::start(&anvil.url, FaultConfig::default())
        .await
        .unwrap();
    let proxied = format!("http://{proxy}");
    let trusted = Some(finalized.hash);
    for path in [&starknet_config, &zksync_config] {
        let config = ChainConfig::load(path).unwrap();
        let data = |what: &str| dir.path().join(what).join(&config.name);

        // The old path: RpcL1 straight from anvil, nothing proved.
        let started = Instant::now();
        let store = open_store(&data("reference"), &config);
        let rpc = devnet_rpc(&anvil.url, &config, &store).await;
        follow_to(&rpc, &store, &config, finalized.number)
            .await
            .unwrap();
        let unverified_time = started.elapsed();
        let reference = Replay::read(&store, &config);
        drop(store);
        assert!(
            reference.verified.is_some(),
            "{}: nothing replayed",
            config.name
        );

        // Proved, straight from anvil (the cost of verification) and through
        // the proxy while it tells no lie (same result).
        let started = Instant::now();
        let (store, l1) = verified_follower(&anvil.url, &config, &data("verified"), trusted).await;
        follow_to(&l1, &store, &config, finalized.number)
            .await
            .unwrap();
        let verified_time = started.elapsed();
        assert_eq!(Replay::read(&store, &config), reference, "{}", config.name);
        let stats = l1.stats();
        let batches = reference.audits.len() as u64;
        eprintln!(
            "{}: {batches} batches; unverified {:.0} ms, verified (full) {:.0} ms ({:+.0}%); {stats:?}; per batch {:.1} blocks, {:.0} bytes, {:.0} µs of proofs",
            config.name,
            unverified_time.as_secs_f64() * 1e3,
            verified_time.as_secs_f64() * 1e3,
            100.0 * (verified_time.as_secs_f64() / unverified_time.as_secs_f64() - 1.0),
            stats.blocks as f64 / batches as f64,
            stats.block_bytes as f64 / batches as f64,
            stats.proof_micros as f64 / batches as f64,
        );
        let (store, l1) =
            verified_follower(&proxied, &config, &data("honest-proxy"), trusted).await;
        follow_to(&l1, &store, &config, finalized.number)
            .await
            .unwrap();
        assert_eq!(
            Replay::read(&store, &config),
            reference,
            "{} via the proxy",
            config.name
        );
        drop(store);

        let first = reference
            .records
            .iter()
            .flatten()
            .next()
            .expect("a batch from L1")
            .clone();
        let mut lies = vec![
            Lie::ForgeLog,
            Lie::DropLog,
            Lie::SwapCalldata {
                tx: first.l1_transaction_hash,
            },
            Lie::AlterReceipt,
            Lie::ForeignHeader {
                number: first.l1_block_number,
            },
            Lie::ForkFrom {
                number: first.l1_block_number,
            },
        ];
        // Only a block the follower proves whole can show the failed
        // transaction: it shares the first Starknet transaction's block (a
        // memory page or the state update), which holds no ZKsync log.
        if config.rollup == zkreplay::chain::RollupKind::Starknet {
            lies.push(Lie::FailedAsSuccess);
        }
        for (i, lie) in lies.into_iter().enumerate() {
            let told = handle.counts().lies;
            let (store, l1) =
                verified_follower(&proxied, &config, &data(&format!("lie-{i}")), trusted).await;
            handle.set_lie(Some(lie));
            let result = follow_to(&l1, &store, &config, finalized.number).await;
            handle.set_lie(None);
            let error = result.expect_err(&format!("{}: {lie:?} was not caught", config.name));
            eprintln!("{}: {lie:?}: {error}", config.name);
            assert!(
                matches!(error, FollowError::L1(L1Error::Unverified(_))),
                "{lie:?}: {error}"
            );
            assert!(!error.is_transient(), "{lie:?} must halt, not be retried");
            assert!(handle.counts().lies > told, "{lie:?} was never told");
            let halt = HaltRecord::read(&store)
                .unwrap()
                .expect("the halt is recorded");
            assert!(halt.reason.contains("did not verify"), "{halt:?}");
            let replay = Replay::read(&store, &config);
            assert!(
                reference.audits.starts_with(&replay.audits),
                "{lie:?}: an audit differs from the honest replay's: {:?}",
                replay.audits
            );
            assert!(
                reference.records.starts_with(&replay.records),
                "{lie:?}: {:?}",
                replay.records
            );
            assert!(replay.verified <= reference.verified, "{lie:?}");
            assert!(
                replay.audits.len() < reference.audits.len(),
                "{lie:?}: the follower got past the lie"
            );
        }
    }
}

/// A small devnet history (6 batches of each rollup), generated, with the
/// stand-in contracts installed and nothing submitted yet.
async fn stand_ins(
    anvil: &Anvil,
) -> (
    zkreplay::devnet::run::DevnetPlan,
    zkreplay::devnet::run::Generated,
    Devnet,
) {
    let plan = plan(5, 6, 6, &[]);
    let generated = {
        let plan = plan.clone();
        tokio::task::spawn_blocking(move || zkreplay::devnet::run::generate(&plan))
            .await
            .unwrap()
            .unwrap()
    };
    let devnet = Devnet::connect(&anvil.url).unwrap();
    zkreplay::devnet::run::install_stand_ins(&devnet, &plan)
        .await
        .unwrap();
    (plan, generated, devnet)
}

/// Transactions waiting in the node's pending block.
async fn pending_transactions(url: &str) -> u64 {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(url)
        .json(&serde_json::json!({
            "jsonrpc": "2.0", "id": 1,
            "method": "eth_getBlockTransactionCountByNumber", "params": ["pending"]
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["result"]
        .as_str()
        .and_then(|n| u64::from_str_radix(n.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0)
}

/// What two replays of the same L1 history must agree on.
#[derive(Debug, PartialEq)]
struct Replay {
    audits: Vec<BatchAudit>,
    records: Vec<Option<L1BatchRecord>>,
    verified: Option<u64>,
    cursor: Option<L1Cursor>,
}

impl Replay {
    fn read(store: &Store, config: &ChainConfig) -> Self {
        let last = last_applied_batch(store, config.rollup).unwrap();
        let batches = last.map_or(0..0, |last| 0..last + 1);
        Replay {
            audits: batches
                .clone()
                .filter_map(|n| BatchAudit::read(store, n).unwrap())
                .collect(),
            records: batches
                .map(|n| L1BatchRecord::read(store, n).unwrap())
                .collect(),
            verified: BatchAudit::verified_batch(store).unwrap(),
            cursor: L1Cursor::read(store).unwrap(),
        }
    }
}

fn open_store(dir: &Path, config: &ChainConfig) -> Arc<Store> {
    Arc::new(Store::open(dir, &config.name).unwrap())
}

async fn devnet_rpc(url: &str, config: &ChainConfig, store: &Arc<Store>) -> RpcL1 {
    let mut endpoints = L1Endpoints::devnet(url);
    endpoints.max_log_range = config.log_range;
    RpcL1::connect(endpoints, Some(store.clone()))
        .await
        .unwrap()
}

/// A store and the source `zkreplay follow --l1-verify full` reads through.
async fn verified_follower(
    url: &str,
    config: &ChainConfig,
    dir: &Path,
    checkpoint: Option<B256>,
) -> (Arc<Store>, FollowedL1) {
    let store = open_store(dir, config);
    let rpc = devnet_rpc(url, config, &store).await;
    let args = L1VerifyArgs {
        checkpoint,
        trust_endpoint_finalized: checkpoint.is_none(),
        ..L1VerifyArgs::default()
    };
    let l1 = verified_l1(vec![rpc], config, &args).await.unwrap();
    (store, l1)
}

/// Runs the follower up to `to_block` (a minute at most: a lie that were
/// retried instead of halting would hang here).
async fn follow_to<S: L1Source>(
    source: &S,
    store: &Arc<Store>,
    config: &ChainConfig,
    to_block: u64,
) -> Result<(), FollowError> {
    let options = FollowOptions {
        to_block: Some(to_block),
        poll_interval: Duration::from_millis(50),
        ..FollowOptions::default()
    };
    let (_stop, shutdown) = watch::channel(false);
    let status = FollowStatus::new(config.name.clone());
    let run = follow_run(source, store, config, &options, &status, shutdown);
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the follower neither finished nor halted within a minute")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quorum_reports_disagreement() {
    let first = spawn_anvil();
    let second = spawn_anvil();
    Devnet::connect(&first.url).unwrap().mine().await.unwrap();
    let quorum = QuorumL1::new(vec![
        client(&first.url, None, None).await,
        client(&first.url, None, None).await,
    ])
    .unwrap();
    assert_eq!(quorum.chain_id().await.unwrap(), 31337);
    assert_eq!(
        quorum.block_by_tag(BlockTag::Latest).await.unwrap().number,
        1
    );
    // Two nodes at different heads: the tag's block is disputed, never picked.
    let split = QuorumL1::new(vec![
        client(&first.url, None, None).await,
        client(&second.url, None, None).await,
    ])
    .unwrap();
    let error = split.block_by_tag(BlockTag::Latest).await.unwrap_err();
    assert!(
        matches!(&error, L1Error::Disagreement { what, .. } if what.contains("Latest")),
        "{error}"
    );
    assert!(error.to_string().contains("endpoint 1"), "{error}");
    // Proved answers come from the first endpoint that answers.
    assert!(split.block_by_number(1).await.unwrap().is_some());
}

/// An L1 reorg under `--l1-tag latest`, seen by one long-lived verified
/// source (as in a running `zkreplay follow`): the links it verified above
/// the checkpoint are orphaned, its `latest` head no longer descends from
/// them, and it must chain again from the checkpoint so the follower sees the
/// reorg and unwinds, instead of halting as if the node lied. The checkpoint
/// is a block before the fork (finality on anvil is only two blocks deep).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_under_latest_is_unwound_through_the_verified_source() {
    use zkreplay::devnet::run::{submit_all, write_configs};
    use zkreplay::follow::run::status_last;

    let anvil = spawn_anvil();
    let dir = tempfile::tempdir().unwrap();
    let (plan, generated, devnet) = stand_ins(&anvil).await;
    let first_block = devnet.rpc().block_number().await.unwrap() + 1;
    let (_, mut starts) = submit_all(&devnet, &generated, 0, 3).await.unwrap();
    let checkpoint = client(&anvil.url, None, None)
        .await
        .block_by_tag(BlockTag::Latest)
        .await
        .unwrap();
    let snapshot = devnet.snapshot().await.unwrap();
    let (_, later) = submit_all(&devnet, &generated, 3, usize::MAX)
        .await
        .unwrap();
    let orphaned_head = devnet.rpc().block_number().await.unwrap();
    starts.extend(later.iter().copied());
    let (sn, zk) = write_configs(
        &dir.path().join("devnet"),
        &plan,
        &generated,
        first_block,
        &starts,
    )
    .unwrap();
    let latest = |to_block| FollowOptions {
        tag: BlockTag::Latest,
        to_block: Some(to_block),
        poll_interval: Duration::from_millis(50),
        ..FollowOptions::default()
    };
    let mut followers = Vec::new();
    for path in [sn, zk] {
        let config = ChainConfig::load(&path).unwrap();
        let (store, l1) = verified_follower(
            &anvil.url,
            &config,
            &dir.path().join(&config.name),
            Some(checkpoint.hash),
        )
        .await;
        let (_stop, shutdown) = watch::channel(false);
        let status = FollowStatus::new(config.name.clone());
        follow_run(
            &l1,
            &store,
            &config,
            &latest(orphaned_head),
            &status,
            shutdown,
        )
        .await
        .unwrap();
        followers.push((config, store, l1));
    }

    assert!(devnet.revert(snapshot).await.unwrap());
    let devnet = Devnet::connect(&anvil.url).unwrap();
    devnet.mine().await.unwrap();
    submit_all(&devnet, &generated, 3, usize::MAX)
        .await
        .unwrap();
    let new_head = devnet.rpc().block_number().await.unwrap();
    let direct = client(&anvil.url, None, None).await;
    for (config, store, l1) in &followers {
        let (_stop, shutdown) = watch::channel(false);
        let status = FollowStatus::new(config.name.clone());
        follow_run(l1, store, config, &latest(new_head), &status, shutdown)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", config.name));
        assert!(
            status.unwound() > 0,
            "{}: the reorg was not unwound",
            config.name
        );
        let list = match config.rollup {
            zkreplay::chain::RollupKind::Starknet => &generated.starknet,
            zkreplay::chain::RollupKind::Zksync => &generated.zksync,
        };
        let last = status_last(store, config).unwrap().unwrap();
        for batch in list {
            // Starknet batches are numbered from 0 in replay order.
            let n = match config.rollup {
                zkreplay::chain::RollupKind::Starknet => batch.number - 1,
                zkreplay::chain::RollupKind::Zksync => batch.number,
            };
            assert!(n <= last, "{}: batch {n} missing", config.name);
            let audit = BatchAudit::read(store, n).unwrap().unwrap();
            assert_eq!(
                audit.computed_root,
                zkreplay::hexfmt::format_word(&batch.expected_root),
                "{} {n}",
                config.name
            );
            let record = L1BatchRecord::read(store, n).unwrap().unwrap();
            let canonical = direct
                .block_by_number(record.l1_block_number)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(record.l1_block_hash, canonical.hash, "{} {n}", config.name);
        }
    }
}

/// Issue 14: the header chain starts from a block the user trusts. With no
/// `--l1-checkpoint`, no `--beacon-light-client` and no explicit
/// `--l1-trust-endpoint-finalized`, `follow` refuses to start, before it
/// opens a store or contacts an endpoint (the RPC URL is a closed port).
#[test]
fn follow_refuses_to_start_without_a_trusted_l1_starting_point() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zkreplay"))
        .arg("follow")
        .arg("--chain")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("chains/starknet-mainnet.toml"))
        .args([
            "--rpc-url",
            "http://127.0.0.1:9",
            "--no-serve",
            "--data-dir",
        ])
        .arg(&data)
        .env("ZKREPLAY_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("no trusted L1 starting point"), "{stderr}");
    assert!(stderr.contains("--l1-checkpoint"), "{stderr}");
    assert!(
        !data.join("starknet-mainnet").exists(),
        "no store is created"
    );
}
