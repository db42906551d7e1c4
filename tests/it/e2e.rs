//! End to end over real HTTP: anvil (a real Ethereum node with blob
//! transactions and the beacon blob endpoint), the stand-in rollup contracts,
//! the seeded sequencer simulator, and the follower — in-process and as the
//! `zkreplay follow` binary, killed with SIGKILL at random moments.
//!
//! The simulator is test support: these tests prove the plumbing (scan,
//! fetch, decode, apply, audit, unwind, restart, retry). Correctness of the
//! decoders and state roots is proven against ../shared/fixtures elsewhere.
//!
//! Needs anvil: `scripts/install-anvil.sh` (or `ZKREPLAY_ANVIL`).

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use zkreplay::audit::{BatchAudit, Verdict};
use zkreplay::chain::{ChainConfig, RollupKind};
use zkreplay::cli::devnet::plan;
use zkreplay::devnet::Fault;
use zkreplay::devnet::anvil::Anvil;
use zkreplay::devnet::run::{DevnetOutcome, run as run_devnet};
use zkreplay::devnet::starknet_gen::StarknetBatchSize;
use zkreplay::devnet::zksync_gen::ZksyncBatchSize;
use zkreplay::follow::run::{last_applied_batch, run as follow};
use zkreplay::follow::{FollowOptions, FollowStatus, L1BatchRecord, L1Cursor, OnMismatch};
use zkreplay::hexfmt::format_word;
use zkreplay::l1::BlockTag;
use zkreplay::l1::client::{L1Endpoints, RpcL1};
use zkreplay::l1::fault_proxy::{FaultConfig, FaultKind, FaultProxy};
use zkreplay::rollup::starknet::state::StarknetState;
use zkreplay::rollup::zksync::state::read_checkpoint;
use zkreplay::store::Store;

fn anvil() -> Anvil {
    Anvil::start(common::root())
        .unwrap_or_else(|e| panic!("{e} (scripts/install-anvil.sh installs it)"))
}

fn configs(outcome: &DevnetOutcome) -> Vec<ChainConfig> {
    [&outcome.starknet_config, &outcome.zksync_config]
        .into_iter()
        .map(|p| ChainConfig::load(p).unwrap())
        .collect()
}

/// Follows every chain in-process through `url` up to `to_block`.
async fn follow_all(
    url: &str,
    configs: &[ChainConfig],
    data_dir: &Path,
    to_block: u64,
    tag: BlockTag,
    on_mismatch: OnMismatch,
) -> u64 {
    let mut unwound = 0;
    for config in configs {
        let store = Arc::new(Store::open(&data_dir.join(&config.name), &config.name).unwrap());
        let mut endpoints = L1Endpoints::devnet(url.to_string());
        endpoints.max_log_range = config.log_range;
        let source = RpcL1::connect(endpoints, Some(store.clone()))
            .await
            .unwrap();
        let options = FollowOptions {
            tag,
            on_mismatch,
            to_block: Some(to_block),
            poll_interval: Duration::from_millis(50),
            ..FollowOptions::default()
        };
        let (_stop, shutdown) = watch::channel(false);
        let status = FollowStatus::new(config.name.clone());
        follow(&source, &store, config, &options, &status, shutdown)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", config.name));
        unwound += status.unwound();
        eprintln!("{}: {}", config.name, status.stages().shares());
    }
    unwound
}

/// Everything two replays of the same L1 history must agree on.
#[derive(Debug, PartialEq)]
pub struct Fingerprint {
    checkpoint: String,
    audits: Vec<BatchAudit>,
    records: Vec<Option<L1BatchRecord>>,
    verified: Option<u64>,
    cursor: Option<L1Cursor>,
}

pub fn fingerprint(data_dir: &Path, config: &ChainConfig) -> Fingerprint {
    let store = Store::open(&data_dir.join(&config.name), &config.name).unwrap();
    let last = last_applied_batch(&store, config.rollup).unwrap();
    let checkpoint = match config.rollup {
        RollupKind::Starknet => format!("{:?}", StarknetState::new(&store).checkpoint().unwrap()),
        RollupKind::Zksync => format!("{:?}", read_checkpoint(&store).unwrap()),
    };
    let batches = 0..=last.unwrap_or(0);
    Fingerprint {
        checkpoint,
        audits: batches
            .clone()
            .filter_map(|n| BatchAudit::read(&store, n).unwrap())
            .collect(),
        records: batches
            .map(|n| L1BatchRecord::read(&store, n).unwrap())
            .collect(),
        verified: BatchAudit::verified_batch(&store).unwrap(),
        cursor: L1Cursor::read(&store).unwrap(),
    }
}

/// Batches applied so far across the chains under `data_dir`, read through a
/// secondary instance (works while a follower process writes the stores).
pub fn applied(data_dir: &Path, configs: &[ChainConfig]) -> u64 {
    let scratch = tempfile::tempdir().unwrap();
    configs
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let (store, _) =
                Store::open_secondary(&data_dir.join(&c.name), &scratch.path().join(i.to_string()))
                    .ok()?;
            let first = match c.rollup {
                RollupKind::Starknet => 0,
                RollupKind::Zksync => 1,
            };
            last_applied_batch(&store, c.rollup)
                .ok()
                .flatten()
                .map(|last| (last + 1).saturating_sub(first))
        })
        .sum()
}

/// The environment under which a `zkreplay follow` child logs each batch it
/// fetches and commits as JSON lines (see [`batch_events`]).
pub const BATCH_LOG: [(&str, &str); 2] = [
    (
        "ZKREPLAY_LOG",
        "warn,zkreplay::follow::commit=info,zkreplay::follow::pipeline=debug",
    ),
    ("ZKREPLAY_LOG_FORMAT", "json"),
];

/// What a follower child reports doing with a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchEvent {
    /// Its data was read from L1 (it is in the pipeline, not yet committed).
    Fetched(u64),
    /// Its write is done: the follower logs a verdict only after the commit.
    Committed(u64),
}

/// The batch events of a `zkreplay follow` child, in order, read from its
/// log on a piped stderr under [`BATCH_LOG`]: a kill after the n-th commit
/// lands after n commits, with no polling delay.
pub fn batch_events(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<BatchEvent> {
    let stderr = child.stderr.take().expect("the child's stderr is piped");
    let (events, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let Some(batch) = entry["fields"]["batch"].as_u64() else {
                continue;
            };
            let event = match entry["target"].as_str() {
                Some("zkreplay::follow::commit") => BatchEvent::Committed(batch),
                Some("zkreplay::follow::pipeline") => BatchEvent::Fetched(batch),
                _ => continue,
            };
            events.send(event).ok();
        }
    });
    received
}

/// The follower's batch number of a simulator batch: Starknet state updates
/// are numbered from 0 in replay order, ZKsync keeps the chain's numbers.
fn follower_batch(rollup: &str, number: u64) -> u64 {
    if rollup == "starknet" {
        number - 1
    } else {
        number
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_devnet_replays_survives_sigkill_and_a_faulty_proxy() {
    let anvil = anvil();
    let dir = tempfile::tempdir().unwrap();
    let outcome = run_devnet(&anvil.url, &dir.path().join("devnet"), plan(7, 10, 12, &[]))
        .await
        .unwrap();
    let configs = configs(&outcome);

    // 1. The reference replay: every batch of every format matches its true root.
    let reference = dir.path().join("reference");
    let started = Instant::now();
    follow_all(
        &anvil.url,
        &configs,
        &reference,
        outcome.finalized_block,
        BlockTag::Finalized,
        OnMismatch::Halt,
    )
    .await;
    let elapsed = started.elapsed();
    eprintln!(
        "end to end: {} batches in {:.2} s = {:.1} batches/s",
        outcome.batches.len(),
        elapsed.as_secs_f64(),
        outcome.batches.len() as f64 / elapsed.as_secs_f64()
    );
    for config in &configs {
        let store = Store::open(&reference.join(&config.name), &config.name).unwrap();
        let rollup = match config.rollup {
            RollupKind::Starknet => "starknet",
            RollupKind::Zksync => "zksync",
        };
        let mut formats = std::collections::BTreeSet::new();
        for batch in outcome.batches.iter().filter(|b| b.rollup == rollup) {
            let n = follower_batch(rollup, batch.number);
            let audit = BatchAudit::read(&store, n).unwrap().unwrap();
            assert_eq!(audit.verdict, Verdict::Match, "{rollup} {n}: {audit:?}");
            assert_eq!(
                audit.computed_root,
                format_word(&batch.expected_root),
                "{rollup} {n}"
            );
            let record = L1BatchRecord::read(&store, n).unwrap().unwrap();
            // Starknet: pages first, the state update last; ZKsync: the commit
            // first, then the execute of an earlier batch.
            let commit_block = if rollup == "starknet" {
                batch.l1_blocks.last()
            } else {
                batch.l1_blocks.first()
            };
            assert_eq!(
                record.l1_block_number,
                *commit_block.unwrap(),
                "{rollup} {n}"
            );
            formats.insert(record.summary.format_version);
        }
        let generated: std::collections::BTreeSet<_> = outcome
            .batches
            .iter()
            .filter(|b| b.rollup == rollup)
            .map(|b| b.format)
            .collect();
        eprintln!("{rollup}: follower saw {formats:?} for generated {generated:?}");
        assert_eq!(
            formats.len(),
            generated.len(),
            "{rollup}: one decoder per generated format"
        );
        let last = *outcome
            .batches
            .iter()
            .filter(|b| b.rollup == rollup)
            .map(|b| &b.number)
            .max()
            .unwrap();
        // A ZKsync batch is verified once executed; the devnet executes each
        // batch `execute_lag` commits later, so the last ones are not.
        let verified = match config.rollup {
            RollupKind::Starknet => follower_batch(rollup, last),
            RollupKind::Zksync => {
                last - zkreplay::devnet::zksync_gen::ZksyncGenConfig::default().execute_lag
            }
        };
        assert_eq!(BatchAudit::verified_batch(&store).unwrap(), Some(verified));
    }
    let expected: Vec<Fingerprint> = configs.iter().map(|c| fingerprint(&reference, c)).collect();

    // `zkreplay status` against the node: both rollups at the finalized block, no findings.
    let out = Command::new(env!("CARGO_BIN_EXE_zkreplay"))
        .args(["status", "--json", "--rpc-url", &anvil.url, "--data-dir"])
        .arg(&reference)
        .output()
        .unwrap();
    assert!(out.status.success(), "status: {out:?}");
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(line["findings"], 0, "{line}");
        assert_eq!(line["l1_block"], outcome.finalized_block, "{line}");
        assert_eq!(line["l1_lag"], 0, "{line}");
    }

    // 2. Through a proxy that answers 20% of requests with 429s, 503s and
    //    rate-limit errors: the same result.
    let (proxy, handle) = FaultProxy::start(
        &anvil.url,
        FaultConfig {
            seed: 20,
            probability: 0.2,
            kinds: vec![
                FaultKind::TooManyRequests,
                FaultKind::ServiceUnavailable,
                FaultKind::RpcRateLimit,
            ],
            ..FaultConfig::default()
        },
    )
    .await
    .unwrap();
    let proxied = dir.path().join("proxied");
    follow_all(
        &format!("http://{proxy}"),
        &configs,
        &proxied,
        outcome.finalized_block,
        BlockTag::Finalized,
        OnMismatch::Halt,
    )
    .await;
    let counts = handle.counts();
    eprintln!("fault proxy: {counts:?}");
    assert!(counts.too_many_requests + counts.service_unavailable + counts.rpc_rate_limit > 10);
    for (config, want) in configs.iter().zip(&expected) {
        assert_eq!(
            &fingerprint(&proxied, config),
            want,
            "{} through the faulty proxy",
            config.name
        );
    }

    // 3. The follower binary, killed with SIGKILL at 20 random moments and
    //    restarted each time, ends exactly where the uninterrupted replay did.
    let crashed = dir.path().join("crashed");
    let chains = format!(
        "{},{}",
        outcome.starknet_config.display(),
        outcome.zksync_config.display()
    );
    let spawn = |data_dir: &Path, stderr: Stdio| {
        Command::new(env!("CARGO_BIN_EXE_zkreplay"))
            .args([
                "follow",
                "--chain",
                &chains,
                "--rpc-url",
                &anvil.url,
                "--beacon-url",
                &anvil.url,
            ])
            .args([
                "--beacon-block-id",
                "block-number",
                "--no-serve",
                "--poll-interval-ms",
                "50",
                // anvil is this test's own node: its finalized block is the anchor.
                "--l1-trust-endpoint-finalized",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--to-block", &outcome.finalized_block.to_string()])
            .envs(BATCH_LOG)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap()
    };
    let timed = Instant::now();
    let whole_run = dir.path().join("binary");
    let status = spawn(&whole_run, Stdio::null()).wait().unwrap();
    assert!(status.success(), "uninterrupted binary run: {status}");
    let run_time = timed.elapsed().as_millis() as u64;
    for (config, want) in configs.iter().zip(&expected) {
        assert_eq!(
            &fingerprint(&whole_run, config),
            want,
            "{} by the binary",
            config.name
        );
    }
    // Each run is killed a random zero to two commits after it started
    // (counted from its log, which reports a batch only once its write is
    // done; zero: right after its first fetch), then a random few
    // milliseconds more, so kills land in and between batch commits all
    // along the replay.
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let total: u64 = outcome.batches.len() as u64;
    let mut killed_mid_run = 0;
    let mut progress_seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let before = applied(&crashed, &configs);
        // Near the end, only kills right after the first fetch, before its
        // commit, so that the replay is never finished before the last run.
        let near_end = before + 2 >= total;
        let commits = if near_end { 0 } else { rng.random_range(0..=2) };
        let mut child = spawn(&crashed, Stdio::piped());
        let events = batch_events(&mut child);
        let deadline = Instant::now() + Duration::from_millis(run_time * 3);
        let mut seen = 0;
        while let Ok(event) =
            events.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            match event {
                BatchEvent::Fetched(_) if commits == 0 => break,
                BatchEvent::Committed(_) => {
                    seen += 1;
                    if seen >= commits {
                        break;
                    }
                }
                BatchEvent::Fetched(_) => {}
            }
        }
        let jitter = if near_end { 3 } else { 40 };
        std::thread::sleep(Duration::from_millis(rng.random_range(0..jitter)));
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        child.kill().ok(); // SIGKILL on Unix
        child.wait().unwrap();
        progress_seen.insert(applied(&crashed, &configs));
    }
    let status = spawn(&crashed, Stdio::null()).wait().unwrap();
    assert!(status.success(), "final run: {status}");
    eprintln!(
        "one binary run: {run_time} ms; SIGKILLed {killed_mid_run} of 20 runs before they finished; batches applied at the kills: {progress_seen:?}"
    );
    assert!(killed_mid_run >= 15, "kills must land mid-replay");
    assert!(
        progress_seen.len() >= 8,
        "kills must land at many different points of the replay"
    );
    for (config, want) in configs.iter().zip(&expected) {
        assert_eq!(
            &fingerprint(&crashed, config),
            want,
            "{} after 20 SIGKILLs",
            config.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_are_exactly_the_findings_and_a_revert_is_unwound() {
    let anvil = anvil();
    let dir = tempfile::tempdir().unwrap();
    let faults = vec![
        ("starknet".to_string(), 4, Fault::TamperedRoot),
        ("starknet".to_string(), 8, Fault::DataNotBound),
        ("zksync".to_string(), 5, Fault::TamperedRoot),
        ("zksync".to_string(), 10, Fault::ZksyncRevert { k: 2 }),
    ];
    let outcome = run_devnet(
        &anvil.url,
        &dir.path().join("devnet"),
        plan(3, 10, 12, &faults),
    )
    .await
    .unwrap();
    let configs = configs(&outcome);
    let data = dir.path().join("data");
    follow_all(
        &anvil.url,
        &configs,
        &data,
        outcome.finalized_block,
        BlockTag::Finalized,
        OnMismatch::Continue,
    )
    .await;

    // Starknet: batch 4 claims a wrong root (its successor then chains from that
    // wrong root, which the prev_root check reports); batch 8's blob is not the
    // one the proof bound. The follower applies what was posted, so from batch 8
    // on its state is not the proven one and every later root differs too.
    let store = Store::open(&data.join("devnet-starknet"), "devnet-starknet").unwrap();
    let failed = |store: &Store, n: u64| -> Vec<String> {
        BatchAudit::read(store, n)
            .unwrap()
            .unwrap()
            .checks
            .into_iter()
            .filter(|c| !c.passed)
            .map(|c| c.name)
            .collect()
    };
    let mismatches: Vec<u64> = (0..10)
        .filter(|n| BatchAudit::read(&store, *n).unwrap().unwrap().verdict == Verdict::Mismatch)
        .collect();
    assert_eq!(
        mismatches,
        vec![3, 4, 7, 8, 9],
        "follower batches of simulator batches 4, 5 (chained), 8 and after"
    );
    assert_eq!(failed(&store, 3), ["state_root"]);
    assert_eq!(failed(&store, 4), ["program_output.prev_root"]);
    assert!(
        failed(&store, 7).iter().any(|c| c.starts_with("kzg")),
        "{:?}",
        failed(&store, 7)
    );
    assert_eq!(BatchAudit::verified_batch(&store).unwrap(), Some(2));

    // ZKsync: batch 5's claimed root is wrong; batches 9 and 10 were reverted and
    // recommitted differently, and the store holds the recommitted ones.
    let store = Store::open(&data.join("devnet-zksync"), "devnet-zksync").unwrap();
    let mismatches: Vec<u64> = (1..=12)
        .filter(|n| BatchAudit::read(&store, *n).unwrap().unwrap().verdict == Verdict::Mismatch)
        .collect();
    assert_eq!(mismatches, vec![5]);
    assert_eq!(failed(&store, 5), ["state_root"]);
    assert_eq!(BatchAudit::verified_batch(&store).unwrap(), Some(4));
    let zk: Vec<_> = outcome
        .batches
        .iter()
        .filter(|b| b.rollup == "zksync")
        .collect();
    let last_commit = zk.iter().rfind(|b| b.format != "zksync-revert").unwrap();
    let checkpoint = read_checkpoint(&store).unwrap().unwrap();
    assert_eq!(checkpoint.root, last_commit.expected_root);
    let recommitted = zk
        .iter()
        .rev()
        .find(|b| b.number == 9 && b.format != "zksync-revert")
        .unwrap();
    assert_eq!(
        BatchAudit::read(&store, 9).unwrap().unwrap().computed_root,
        format_word(&recommitted.expected_root),
        "batch 9 is the recommitted one"
    );
}

/// `devnet --reorg-last-rounds`: the last rounds are mined, reverted with an
/// anvil snapshot and mined again in other blocks; the final chain replays to
/// the true roots. (The follower's side of a reorg is the next test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_reorg_injection_re_mines_the_last_rounds() {
    let anvil = anvil();
    let dir = tempfile::tempdir().unwrap();
    let mut plan = plan(11, 4, 4, &[]);
    plan.reorg_last_rounds = 2;
    let outcome = run_devnet(&anvil.url, &dir.path().join("devnet"), plan)
        .await
        .unwrap();
    assert_eq!(
        outcome.orphaned.len(),
        4,
        "two rounds of two rollups reorged"
    );
    for orphan in &outcome.orphaned {
        let again = outcome
            .batches
            .iter()
            .find(|b| b.rollup == orphan.rollup && b.number == orphan.number)
            .unwrap();
        assert_ne!(
            again.l1_blocks, orphan.l1_blocks,
            "re-mined in other blocks"
        );
    }
    let configs = configs(&outcome);
    let data = dir.path().join("data");
    follow_all(
        &anvil.url,
        &configs,
        &data,
        outcome.finalized_block,
        BlockTag::Finalized,
        OnMismatch::Halt,
    )
    .await;
    for config in &configs {
        let store = Store::open(&data.join(&config.name), &config.name).unwrap();
        let rollup = match config.rollup {
            RollupKind::Starknet => "starknet",
            RollupKind::Zksync => "zksync",
        };
        for batch in outcome.batches.iter().filter(|b| b.rollup == rollup) {
            let n = follower_batch(rollup, batch.number);
            let audit = BatchAudit::read(&store, n).unwrap().unwrap();
            assert_eq!(audit.verdict, Verdict::Match, "{rollup} {n}");
            assert_eq!(audit.computed_root, format_word(&batch.expected_root));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_l1_reorg_under_the_latest_tag_is_unwound_to_the_same_roots() {
    use zkreplay::devnet::run::{generate, install_stand_ins, submit_all, write_configs};
    use zkreplay::l1::submit::Devnet;

    let anvil = anvil();
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(5, 6, 6, &[]);
    let generated = {
        let plan = plan.clone();
        tokio::task::spawn_blocking(move || generate(&plan))
            .await
            .unwrap()
            .unwrap()
    };
    let devnet = Devnet::connect(&anvil.url).unwrap();
    install_stand_ins(&devnet, &plan).await.unwrap();
    let first_block = devnet.rpc().block_number().await.unwrap() + 1;
    let (_, mut starts) = submit_all(&devnet, &generated, 0, 3).await.unwrap();
    // Everything after this point is reorged away and mined again in new blocks.
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
    let configs = vec![
        ChainConfig::load(&sn).unwrap(),
        ChainConfig::load(&zk).unwrap(),
    ];
    let data = dir.path().join("data");
    follow_all(
        &anvil.url,
        &configs,
        &data,
        orphaned_head,
        BlockTag::Latest,
        OnMismatch::Halt,
    )
    .await;

    // The fork: the later batches land again, one empty block later, so every
    // orphaned block number now has another hash.
    assert!(devnet.revert(snapshot).await.unwrap());
    eprintln!("reorg: reverted to the snapshot");
    // A fresh client: nonces cached before the revert are stale.
    let devnet = Devnet::connect(&anvil.url).unwrap();
    devnet.mine().await.unwrap();
    submit_all(&devnet, &generated, 3, usize::MAX)
        .await
        .unwrap();
    let new_head = devnet.rpc().block_number().await.unwrap();
    let unwound = follow_all(
        &anvil.url,
        &configs,
        &data,
        new_head,
        BlockTag::Latest,
        OnMismatch::Halt,
    )
    .await;
    assert!(
        unwound >= 2,
        "the fork must unwind batches of both rollups, unwound {unwound}"
    );

    for config in &configs {
        let store = Store::open(&data.join(&config.name), &config.name).unwrap();
        let last = last_applied_batch(&store, config.rollup).unwrap().unwrap();
        let (rollup, list) = match config.rollup {
            RollupKind::Starknet => ("starknet", &generated.starknet),
            RollupKind::Zksync => ("zksync", &generated.zksync),
        };
        assert_eq!(
            last,
            follower_batch(rollup, list.last().unwrap().number),
            "{rollup}"
        );
        for batch in list {
            let n = follower_batch(rollup, batch.number);
            let audit = BatchAudit::read(&store, n).unwrap().unwrap();
            assert_eq!(audit.verdict, Verdict::Match, "{rollup} {n}");
            assert_eq!(
                audit.computed_root,
                format_word(&batch.expected_root),
                "{rollup} {n}"
            );
            // Every batch records a block that is canonical now.
            let record = L1BatchRecord::read(&store, n).unwrap().unwrap();
            let canonical = devnet
                .rpc()
                .block_by_number(record.l1_block_number)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(record.l1_block_hash, canonical.hash, "{rollup} {n}");
        }
    }
}

/// Sequential against pipelined replays of one devnet history over HTTP
/// (anvil), on the same machine in the same run. A measurement, not a check:
///
///   ZKREPLAY_BENCH_DEPTHS=0,8 ZKREPLAY_BENCH_BATCHES=24 ZKREPLAY_BENCH_RPC_DELAY_MS=0 \
///     ZKREPLAY_BENCH_SHAPE=devnet cargo test --release --test it e2e::devnet_pipeline_benchmark -- --ignored --nocapture
///
/// `ZKREPLAY_BENCH_SHAPE=mainnet` gives every batch the mean size of the real
/// mainnet batches in the fixtures (about 1,200 Starknet and 1,460 ZKsync
/// writes) instead of the devnet's dozen.
///
/// `ZKREPLAY_BENCH_RPC_DELAY_MS` (a list, like the depths) puts the fault
/// proxy between the follower and anvil, holding every request that long
/// before forwarding it: the round trip of a remote endpoint, which a local
/// anvil does not have. Each delay replays the same generated history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run with --ignored --nocapture"]
async fn devnet_pipeline_benchmark() {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let batches: u64 = var("ZKREPLAY_BENCH_BATCHES", "24").parse().unwrap();
    let depths: Vec<usize> = var("ZKREPLAY_BENCH_DEPTHS", "0,8")
        .split(',')
        .map(|d| d.parse().unwrap())
        .collect();
    let mut history = plan(7, batches, batches, &[]);
    let shape = var("ZKREPLAY_BENCH_SHAPE", "devnet");
    match shape.as_str() {
        "devnet" => {}
        "mainnet" => {
            let (starknet, zksync) = mainnet_batch_sizes();
            println!("BENCH batch sizes from mainnet: {starknet:?} {zksync:?}");
            history.starknet.size = Some(starknet);
            history.zksync.size = Some(zksync);
        }
        other => panic!("ZKREPLAY_BENCH_SHAPE={other}: devnet or mainnet"),
    }
    let anvil = anvil();
    let dir = tempfile::tempdir().unwrap();
    let outcome = run_devnet(&anvil.url, &dir.path().join("devnet"), history)
        .await
        .unwrap();
    let configs = configs(&outcome);
    let delays: Vec<u64> = var("ZKREPLAY_BENCH_RPC_DELAY_MS", "0")
        .split(',')
        .map(|d| d.parse().unwrap())
        .collect();
    for delay_ms in delays {
        let (url, _proxy) = if delay_ms == 0 {
            (anvil.url.clone(), None)
        } else {
            let config = FaultConfig {
                probability: 1.0,
                kinds: vec![FaultKind::Delay],
                delay: Duration::from_millis(delay_ms),
                ..FaultConfig::default()
            };
            let (address, handle) = FaultProxy::start(&anvil.url, config).await.unwrap();
            (format!("http://{address}"), Some(handle))
        };
        replay_at_depths(&url, delay_ms, &depths, &configs, &outcome, dir.path()).await;
    }
}

/// One benchmark row per depth and rollup: `configs`' histories replayed
/// through `url` into fresh stores under `dir`.
async fn replay_at_depths(
    url: &str,
    delay_ms: u64,
    depths: &[usize],
    configs: &[ChainConfig],
    outcome: &DevnetOutcome,
    dir: &Path,
) {
    for (run, depth) in depths.iter().enumerate() {
        for config in configs {
            let data = dir.join(format!("run-{delay_ms}-{run}"));
            let store = Arc::new(Store::open(&data.join(&config.name), &config.name).unwrap());
            let mut endpoints = L1Endpoints::devnet(url.to_string());
            endpoints.max_log_range = config.log_range;
            let source = RpcL1::connect(endpoints, Some(store.clone()))
                .await
                .unwrap();
            let options = FollowOptions {
                tag: BlockTag::Finalized,
                to_block: Some(outcome.finalized_block),
                pipeline_depth: *depth,
                ..FollowOptions::default()
            };
            let (_stop, shutdown) = watch::channel(false);
            let status = FollowStatus::new(config.name.clone());
            // Linux: writing 5 to clear_refs resets the peak (VmHWM) to the current RSS.
            let _ = std::fs::write("/proc/self/clear_refs", "5");
            let rss_before = proc_status_kib("VmRSS:");
            follow(&source, &store, config, &options, &status, shutdown)
                .await
                .unwrap();
            let stages = status.stages();
            let applied = status.verdict_count(Verdict::Match);
            // What the follow run added to this process's peak resident memory.
            let follow_peak_mib = proc_status_kib("VmHWM:").saturating_sub(rss_before) / 1024;
            println!(
                "BENCH devnet rollup={} rpc_delay_ms={delay_ms} depth={depth} batches={applied} wall_s={:.3} batches_per_s={:.2} apply_busy={:.0}% follow_peak_rss_growth_mib={} stages=[{}]",
                config.name,
                stages.wall.as_secs_f64(),
                applied as f64 / stages.wall.as_secs_f64(),
                100.0 * stages.apply_busy(),
                follow_peak_mib,
                stages.shares()
            );
        }
    }
}

/// The mean size of the real mainnet batches in ../shared/fixtures: Starknet
/// blocks 631,861 and 671,070 (v0.13.1 state updates) and ZKsync Era batches
/// 351,000–351,004 (their decoded commit calldata).
fn mainnet_batch_sizes() -> (StarknetBatchSize, ZksyncBatchSize) {
    let read = |path: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(common::fixtures().join(path)).unwrap()).unwrap()
    };
    let count = |value: &serde_json::Value| value.as_array().unwrap().len() as u64;
    let blocks = ["631861", "671070"].map(|block| {
        read(&format!(
            "starknet/mainnet-v0.13.1-blobs/{block}/state_update.json"
        ))["state_diff"]
            .clone()
    });
    let starknet_mean = |of: &dyn Fn(&serde_json::Value) -> u64| {
        blocks.iter().map(of).sum::<u64>() / blocks.len() as u64
    };
    let starknet = StarknetBatchSize {
        contracts: starknet_mean(&|diff| count(&diff["storage_diffs"])),
        writes: starknet_mean(&|diff| {
            diff["storage_diffs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|contract| count(&contract["storage_entries"]))
                .sum()
        }),
        nonces: starknet_mean(&|diff| count(&diff["nonces"])),
    };
    let facts = read("zksync/calldata/calldata_facts.json");
    let batches: Vec<&serde_json::Value> = facts["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|file| file["network"] == "mainnet")
        .flat_map(|file| file["batches"].as_array().unwrap())
        .collect();
    let zksync_mean = |field: &str| {
        batches
            .iter()
            .map(|b| b[field].as_u64().unwrap())
            .sum::<u64>()
            / batches.len() as u64
    };
    let zksync = ZksyncBatchSize {
        initial: zksync_mean("initial_writes"),
        repeated: zksync_mean("repeated_writes"),
    };
    (starknet, zksync)
}

/// A `/proc/self/status` field in KiB (0 where there is none).
fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with(field))?.to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}
