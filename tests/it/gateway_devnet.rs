//! ZKsync Era through a Gateway window over anvil, through the `zkreplay
//! follow` binary: L1 → Gateway (the Gateway's v26 then v29 commits, calldata
//! and blob DA, Era's 8- then 9-field relayed `StoredBatchInfo`) → back on L1.
//!
//! PLUMBING, not conformance: the history and its roots come from our own
//! simulator, run as a user runs it (`zkreplay devnet --era-through-gateway`,
//! which submits `ZksyncGenConfig::through_gateway`'s history and prints each
//! Era batch with its expected root); no real Gateway batch exists in
//! ../shared/fixtures. What this proves is that the real binary, over real
//! HTTP and real blob transactions, crosses both switches without losing or
//! repeating a batch, lands on the roots the simulator's scratch state
//! computed, reads the Gateway's batches in both of its commit formats and
//! both DA kinds (and one that carries no Era batch), and ends identical when
//! SIGKILLed inside the window.
//!
//! Needs anvil: `scripts/install-anvil.sh` (or `ZKREPLAY_ANVIL`).

use crate::common;
use crate::e2e::{BATCH_LOG, BatchEvent, applied, batch_events, fingerprint};

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alloy_primitives::B256;
use rand::{Rng, SeedableRng};
use zkreplay::audit::{BatchAudit, Verdict};
use zkreplay::chain::ChainConfig;
use zkreplay::devnet::anvil::Anvil;
use zkreplay::devnet::zksync_gen::ZksyncGenConfig;
use zkreplay::follow::zksync::RELAYED_PUBDATA_HASH;
use zkreplay::follow::{DaMode, L1BatchRecord};
use zkreplay::hexfmt::format_word;
use zkreplay::l1::BlockTag;
use zkreplay::l1::submit::Devnet;
use zkreplay::store::Store;

/// Kills that must land while the follower is inside the Gateway window.
const KILLS_IN_WINDOW: usize = 10;

/// One Era batch as `zkreplay devnet` printed it.
struct Submitted {
    number: u64,
    expected_root: B256,
    l1_blocks: Vec<u64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn era_through_the_gateway_replays_over_anvil_and_survives_sigkills_in_the_window() {
    let anvil = Anvil::start(common::root())
        .unwrap_or_else(|e| panic!("{e} (scripts/install-anvil.sh installs it)"));
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out_dir = dir.path().join("devnet");
    let out = Command::new(env!("CARGO_BIN_EXE_zkreplay"))
        .args(["devnet", "--era-through-gateway", "--rpc-url", &anvil.url])
        .arg("--out-dir")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "zkreplay devnet: {out:?}");
    let batches: Vec<Submitted> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["rollup"], "zksync", "{v}");
            Submitted {
                number: v["number"].as_u64().unwrap(),
                expected_root: v["expected_root"].as_str().unwrap().parse().unwrap(),
                l1_blocks: serde_json::from_value(v["l1_blocks"].clone()).unwrap(),
            }
        })
        .collect();
    let era_config = out_dir.join("devnet-zksync.toml");
    let config = ChainConfig::load(&era_config).unwrap();
    let zksync = config.zksync.clone().unwrap();
    let settlement = &zksync.history.settlement;
    let finalized_block = Devnet::connect(&anvil.url)
        .unwrap()
        .rpc()
        .block_by_tag(BlockTag::Finalized)
        .await
        .unwrap()
        .number;
    eprintln!(
        "devnet: {} Era batches submitted in {} ms (settlement periods from L1 blocks {:?}, finalized {finalized_block})",
        batches.len(),
        started.elapsed().as_millis(),
        settlement
            .iter()
            .map(|p| p.from_l1_block)
            .collect::<Vec<_>>(),
    );
    // The command ran the simulator's Gateway history: L1, Gateway, L1.
    assert_eq!(settlement.len(), 3, "{settlement:?}");
    let generated = ZksyncGenConfig::through_gateway();
    let window = generated.gateway.clone().unwrap();
    let numbers: Vec<u64> = batches.iter().map(|b| b.number).collect();
    assert_eq!(numbers, (1..=generated.batches).collect::<Vec<_>>());
    let configs = [config.clone()];
    let last = batches.last().unwrap().number;
    assert!(last >= window.until_batch, "the history goes back to L1");

    let spawn = |data_dir: &Path, stderr: Stdio| {
        Command::new(env!("CARGO_BIN_EXE_zkreplay"))
            .args(["follow", "--chain"])
            .arg(&era_config)
            .args(["--rpc-url", &anvil.url, "--beacon-url", &anvil.url])
            .args([
                "--beacon-block-id",
                "block-number",
                "--no-serve",
                "--poll-interval-ms",
                "50",
                // Relayed batches are PARTIAL (their pubdata hash is not on
                // L1): accepted, so the verified pointer follows the Gateway's
                // executions through the window, under the kills too.
                "--accept-partial",
                // anvil is this test's own node: its finalized block is the anchor.
                "--l1-trust-endpoint-finalized",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--to-block", &finalized_block.to_string()])
            .envs(BATCH_LOG)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap()
    };

    // 1. One uninterrupted run of the binary: every batch on the simulator's
    //    root, by the right path (L1 commit or Gateway batch), no finding.
    let reference = dir.path().join("reference");
    let timed = Instant::now();
    let status = spawn(&reference, Stdio::null()).wait().unwrap();
    assert!(status.success(), "uninterrupted binary run: {status}");
    let run_time = timed.elapsed().as_millis() as u64;
    {
        let store = Store::open(&reference.join(&config.name), &config.name).unwrap();
        let genesis = BatchAudit::read(&store, 0).unwrap().unwrap();
        assert_eq!(
            Some(genesis.computed_root),
            zksync.genesis_root.as_ref().map(format_word)
        );
        // How the Gateway batches carrying Era's reached L1: its commit
        // format with the DA kind, and the relayed StoredBatchInfo's fields.
        let (mut gateway_da, mut gateway_formats, mut info_fields) =
            (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        for batch in &batches {
            let n = batch.number;
            let audit = BatchAudit::read(&store, n).unwrap().unwrap();
            assert_eq!(
                audit.computed_root,
                format_word(&batch.expected_root),
                "{n}"
            );
            assert!(audit.failed_checks().is_empty(), "{n}: {audit:?}");
            let record = L1BatchRecord::read(&store, n).unwrap().unwrap();
            if window.contains(n) {
                assert_eq!(audit.verdict, Verdict::Partial, "{n}: {audit:?}");
                assert_eq!(audit.skipped_checks(), [RELAYED_PUBDATA_HASH], "{n}");
                let format = &record.summary.format_version;
                assert!(format.contains("via settlement batch"), "{n}: {format}");
                gateway_da.insert(format!("{:?}", record.summary.da_mode));
                assert_eq!(
                    record.summary.da_mode == DaMode::Blob,
                    record.summary.blob_count > 0,
                    "{n}: {record:?}"
                );
                for version in ["V26", "V29"] {
                    for da in ["calldata", "blobs"] {
                        if format.contains(&format!("({version} {da})")) {
                            gateway_formats.insert(format!("{version} {da}"));
                        }
                    }
                }
                for fields in ["8-field", "9-field"] {
                    if format.contains(fields) {
                        info_fields.insert(fields);
                    }
                }
            } else {
                assert_eq!(audit.verdict, Verdict::Match, "{n}: {audit:?}");
            }
            // Committed by the transaction the simulator sent first for it
            // (Era's commit, or the Gateway commit carrying it).
            let commit_block = batch.l1_blocks[usize::from(
                n == window.from_batch, // the Era execute of batches 1..4 goes first
            )];
            assert_eq!(record.l1_block_number, commit_block, "{n}");
        }
        // The Gateway's own batches reached L1 with calldata and with blobs,
        // in both of its commit formats, carrying both StoredBatchInfo layouts.
        assert_eq!(
            gateway_da,
            BTreeSet::from(["Blob".to_owned(), "Calldata".to_owned()])
        );
        assert_eq!(
            gateway_formats,
            BTreeSet::from(
                ["V26 calldata", "V26 blobs", "V29 calldata", "V29 blobs"].map(String::from)
            )
        );
        assert_eq!(info_fields, BTreeSet::from(["8-field", "9-field"]));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_zkreplay"))
        .args(["status", "--json", "--rpc-url", &anvil.url, "--data-dir"])
        .arg(&reference)
        .output()
        .unwrap();
    assert!(out.status.success(), "status: {out:?}");
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    eprintln!("status: {line}");
    assert_eq!(line["findings"], 0, "{line}");
    assert_eq!(line["last_applied_batch"], last, "{line}");
    assert_eq!(line["l1_block"], finalized_block, "{line}");
    // Era's own L1 executions after the return run `execute_lag` behind its commits.
    let executed = last - generated.execute_lag;
    assert_eq!(line["lifecycle"]["executed"], executed, "{line}");
    assert_eq!(line["verified_batch"], executed, "{line}");
    let expected = fingerprint(&reference, &config);

    // 2. The binary SIGKILLed KILLS_IN_WINDOW times while the next batch it
    //    had to apply was one the Gateway carried, restarted each time: it
    //    ends exactly where the uninterrupted run did. Each kill waits until
    //    the run has committed a batch at or past its target (the targets
    //    spread over the window), read from the run's log, which reports a
    //    batch once its write is done; when an earlier run already passed
    //    the target, until the run has fetched its first batch (so the kill
    //    lands while that batch is in flight). Then a random few
    //    milliseconds more. The window holds 8 batches: 10 kills inside it
    //    need both kinds.
    let crashed = dir.path().join("crashed");
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    // The targets stop two batches before the window's end: the last
    // Gateway-carried batches and Era's L1 batches after them are applied in
    // a quick burst, so a kill aimed at the window's last batch can land
    // after it.
    let span = window.until_batch - window.from_batch - 2;
    let targets: Vec<u64> = (0..KILLS_IN_WINDOW as u64)
        .map(|i| window.from_batch - 1 + i * span / KILLS_IN_WINDOW as u64)
        .collect();
    let mut in_window = Vec::new();
    for target in targets {
        let passed = applied(&crashed, &configs) >= target;
        let mut child = spawn(&crashed, Stdio::piped());
        let events = batch_events(&mut child);
        let deadline = Instant::now() + Duration::from_millis(run_time * 3);
        while let Ok(event) =
            events.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            match event {
                BatchEvent::Fetched(_) if passed => break,
                BatchEvent::Committed(batch) if batch >= target => break,
                _ => {}
            }
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..6)));
        let running = child.try_wait().unwrap().is_none();
        child.kill().ok(); // SIGKILL on Unix
        child.wait().unwrap();
        let at = applied(&crashed, &configs);
        // Inside the window: the next batch to apply is one the Gateway carried.
        if running && window.contains(at + 1) {
            in_window.push(at);
        }
    }
    let status = spawn(&crashed, Stdio::null()).wait().unwrap();
    assert!(status.success(), "final run: {status}");
    eprintln!(
        "one binary run: {run_time} ms; last applied batch at the {} SIGKILLs inside the window: {in_window:?}",
        in_window.len()
    );
    assert_eq!(
        in_window.len(),
        KILLS_IN_WINDOW,
        "kills must land inside the window"
    );
    let distinct: std::collections::BTreeSet<_> = in_window.iter().collect();
    assert!(
        distinct.len() >= 3,
        "kills must land at several points of the window"
    );
    assert_eq!(
        fingerprint(&crashed, &config),
        expected,
        "after {KILLS_IN_WINDOW} SIGKILLs inside the window"
    );
}
