//! Snapshots: export at batch N from stores built by replaying real data
//! (Starknet Sepolia's first state updates; ZKsync mainnet genesis plus the
//! multi-batch vectors), import into a fresh directory, continue, and
//! compare with a full replay — roots are checked against the roots in the
//! fixtures (the chain's, or an independent implementation's), not against
//! zkreplay itself. Tampered snapshots, decompression bombs, killed imports
//! and zksync-era's snapshot format are covered too.

use crate::common;
use crate::memory_l1;

use std::path::{Path, PathBuf};

use alloy_primitives::B256;
use serde_json::Value;
use starknet_types_core::felt::Felt;
use zkreplay::hexfmt::{format_word, parse_bytes, parse_word};
use zkreplay::rollup::starknet::feeder::parse_state_update;
use zkreplay::rollup::starknet::query::StarknetReader;
use zkreplay::rollup::starknet::state::{GlobalRootRule, StarknetState};
use zkreplay::rollup::zksync::state::ZksyncState;
use zkreplay::rollup::zksync::tree::{Tree, TreeKey};
use zkreplay::snapshot::{
    self, ExportOptions, ImportOptions, SnapshotError, SnapshotManifest, import::SNAPSHOT_MARK,
};
use zkreplay::store::{Column, Store, keys};

use common::fixtures;

// ------------------------------------------------------------------ helpers

const SEPOLIA: &str = "starknet-sepolia";
const ZKSYNC: &str = "zksync-test";

fn sepolia_update(i: u64) -> (zkreplay::diff::StateDiff, B256) {
    let path = fixtures().join(format!("starknet/sepolia-genesis-feeder/{i}.json"));
    let update = parse_state_update(&std::fs::read(&path).unwrap()).unwrap();
    (
        update.diff,
        update.new_root.expect("feeder names the new root"),
    )
}

/// Applies Sepolia state updates `range` (as `apply-updates` does) and
/// checks each new root against the feeder's.
fn apply_sepolia(store: &Store, range: std::ops::Range<u64>) {
    for i in range {
        let (diff, new_root) = sepolia_update(i);
        let state = StarknetState::new(store);
        let (roots, mut batch) = state.plan(&diff, GlobalRootRule::PreV0_14).unwrap();
        assert_eq!(roots.batch, i);
        assert_eq!(
            B256::from(roots.global_root.to_bytes_be()),
            new_root,
            "Sepolia block {i}: the chain's root"
        );
        let audit = zkreplay::audit::BatchAudit::judge(
            i,
            Some(format_word(&new_root)),
            format!("{:#x}", roots.global_root),
            vec![],
        );
        audit.write(store, false, &mut batch).unwrap();
        store.commit(batch).unwrap();
    }
}

fn zk_json() -> Value {
    common::read_json(&fixtures().join("zksync/multi-batch/vectors-seed1.json"))
}

/// Applies the fixture's batches with numbers in `range`; every root must
/// equal the fixture's (computed by an independent implementation).
fn apply_zk(store: &Store, range: std::ops::RangeInclusive<u64>) {
    let mut state = ZksyncState::open(store).unwrap();
    for input in crate::zksync::multi_batch_inputs()
        .1
        .iter()
        .filter(|i| range.contains(&i.batch_number))
    {
        let applied = state.apply_and_commit(input).unwrap();
        assert_eq!(
            applied.record.matches,
            Some(true),
            "batch {}",
            input.batch_number
        );
    }
}

fn zk_root(batch: u64) -> B256 {
    let v = zk_json();
    let b = v["batches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["batch_number"] == batch)
        .unwrap();
    parse_word(b["expected"]["root"].as_str().unwrap()).unwrap()
}

fn options(data_dir: &Path, from: &Path) -> ImportOptions {
    ImportOptions::new(data_dir, from)
}

fn export_at(
    data: &Path,
    chain: &str,
    batch: Option<u64>,
    out: &Path,
    chunk: u64,
) -> SnapshotManifest {
    let mut o = ExportOptions::new(data, chain, out);
    o.batch = batch;
    o.chunk_leaves = chunk;
    snapshot::export(&o).unwrap()
}

/// Every (key, value) of the leaves column.
fn leaves(store: &Store) -> Vec<(Vec<u8>, Vec<u8>)> {
    store.scan_prefix(Column::Leaves, b"").unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Nothing at the target, and no temporary directory beside it.
fn assert_no_store(data: &Path) {
    let left: Vec<_> = std::fs::read_dir(data)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "a failed import left {left:?} behind");
}

// ------------------------------------------------------------------ round trips

#[test]
fn starknet_round_trip_continues_to_the_chains_roots() {
    let tmp = tempfile::tempdir().unwrap();
    // Full replay of Sepolia blocks 0-7 (every root the chain's).
    let full_dir = tmp.path().join("full");
    let full = Store::open(&full_dir, SEPOLIA).unwrap();
    full.claim_rollup(zkreplay::chain::RollupKind::Starknet)
        .unwrap();
    apply_sepolia(&full, 0..8);
    // A replay stopped at block 3.
    let partial_dir = tmp.path().join("partial");
    {
        let partial = Store::open(&partial_dir, SEPOLIA).unwrap();
        partial
            .claim_rollup(zkreplay::chain::RollupKind::Starknet)
            .unwrap();
        apply_sepolia(&partial, 0..4);
    }
    drop(full);

    // Exporting batch 3 from the full store (through history) and from the
    // store that stops there gives the same bytes.
    let snap = tmp.path().join("snap");
    let manifest = export_at(&full_dir, SEPOLIA, Some(3), &snap, 7);
    let again = export_at(&partial_dir, "starknet", None, &tmp.path().join("snap2"), 7);
    assert_eq!(manifest.chunks, again.chunks);
    assert_eq!(manifest.roots, again.roots);
    let (_, root3) = sepolia_update(3);
    assert_eq!(manifest.roots.state_root, format_word(&root3));
    println!("{:?}", manifest.leaves);
    assert!(manifest.chunks.len() > 1, "small chunks split the leaves");
    assert!(manifest.leaves.contracts > 0 && manifest.leaves.storage > 0);

    // Import into a fresh directory; the rebuilt roots are the chain's.
    let data = tmp.path().join("imported");
    let report = snapshot::import(&options(&data, &snap)).unwrap();
    assert_eq!((report.batch, report.already_imported), (3, false));
    let store = Store::open(&data.join(SEPOLIA), SEPOLIA).unwrap();
    let reader = StarknetReader::new(&store);
    assert_eq!(
        B256::from(reader.roots(3).unwrap().global_root.to_bytes_be()),
        root3
    );
    // Batches before the snapshot are not in it, and say so.
    assert!(reader.roots(2).is_err());

    // Continue with blocks 4-7: every root is the chain's again.
    apply_sepolia(&store, 4..8);
    let full = Store::open(&full_dir, SEPOLIA).unwrap();
    let full_reader = StarknetReader::new(&full);
    for b in 3..8 {
        let (a, f) = (reader.roots(b).unwrap(), full_reader.roots(b).unwrap());
        assert_eq!(
            (a.contracts_root, a.classes_root, a.global_root),
            (f.contracts_root, f.classes_root, f.global_root),
            "batch {b}"
        );
    }
    // Same current leaves (storage, contracts, classes, alias index).
    assert_eq!(leaves(&store), leaves(&full));
    // Same answers, with proofs, at the snapshot's batch and after it.
    let mut asked = 0;
    for (key, _) in leaves(&full)
        .iter()
        .filter(|(k, _)| k[0] == keys::LEAF_STARKNET_STORAGE)
    {
        let address = Felt::from_bytes_be_slice(&key[1..33]);
        let slot = Felt::from_bytes_be_slice(&key[33..65]);
        for b in [3, 5, 7] {
            assert_eq!(
                reader.storage_proof(&address, &slot, b).unwrap(),
                full_reader.storage_proof(&address, &slot, b).unwrap()
            );
            asked += 1;
        }
    }
    assert!(asked > 30, "{asked} queries");
}

#[test]
fn zksync_round_trip_continues_to_the_fixture_roots() {
    let tmp = tempfile::tempdir().unwrap();
    let full_dir = tmp.path().join("full");
    let full = Store::open(&full_dir, ZKSYNC).unwrap();
    full.claim_rollup(zkreplay::chain::RollupKind::Zksync)
        .unwrap();
    crate::zksync::mainnet_genesis(&full);
    apply_zk(&full, 1..=12);
    drop(full);

    let snap = tmp.path().join("snap");
    let manifest = export_at(&full_dir, "zksync", Some(6), &snap, 50);
    assert_eq!(manifest.roots.state_root, format_word(&zk_root(6)));
    assert_eq!(
        manifest.leaves.zksync + 1,
        manifest.roots.next_index.unwrap()
    );

    let data = tmp.path().join("imported");
    snapshot::import(&options(&data, &snap)).unwrap();
    let store = Store::open(&data.join(ZKSYNC), ZKSYNC).unwrap();
    let tip = ZksyncState::open(&store).unwrap().checkpoint().clone();
    assert_eq!((tip.batch, tip.root), (6, zk_root(6)));

    // Continue 7..12: each root is the fixture's (apply_zk asserts it).
    apply_zk(&store, 7..=12);
    let full = Store::open(&full_dir, ZKSYNC).unwrap();
    assert_eq!(leaves(&store), leaves(&full));
    // Proofs of every leaf against the batch-12 root agree.
    for (key, _) in leaves(&full)
        .iter()
        .filter(|(k, _)| k[0] == keys::LEAF_ZKSYNC_BY_KEY)
    {
        let tree_key = TreeKey::from_derived(&B256::from_slice(&key[1..33]));
        assert_eq!(
            Tree::new(&store, zk_root(12)).proof(&tree_key).unwrap(),
            Tree::new(&full, zk_root(12)).proof(&tree_key).unwrap()
        );
    }
    // History below the snapshot is absent; at and after it, present.
    let reader = zkreplay::rollup::zksync::query::ZksyncReader::new(&store);
    assert!(reader.record(5).is_err());
    assert_eq!(reader.record(9).unwrap().computed_root, zk_root(9));
}

#[test]
fn a_rerun_of_a_finished_import_is_a_no_op_and_another_snapshot_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, snap) = zk_snapshot(tmp.path(), 12);
    let data = tmp.path().join("data");
    assert!(
        !snapshot::import(&options(&data, &snap))
            .unwrap()
            .already_imported
    );
    assert!(
        snapshot::import(&options(&data, &snap))
            .unwrap()
            .already_imported
    );
    // Another batch's snapshot, exported by the command line this time.
    let other = tmp.path().join("other");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_zkreplay"))
        .args([
            "snapshot",
            "export",
            "--rollup",
            "zksync",
            "--batch",
            "3",
            "--chunk-leaves",
            "100",
        ])
        .arg("--data-dir")
        .arg(tmp.path().join("src"))
        .arg("--out")
        .arg(&other)
        .status()
        .unwrap();
    assert!(status.success());
    let manifest = SnapshotManifest::read(&other).unwrap();
    assert_eq!(
        (manifest.batch, manifest.roots.state_root.clone()),
        (3, format_word(&zk_root(3)))
    );
    assert!(matches!(
        snapshot::import(&options(&data, &other)),
        Err(SnapshotError::TargetExists(_))
    ));
}

/// A ZKsync snapshot imported without an L1 root is PARTIAL: the API's
/// default reads (at the verified batch) must not serve its state unless
/// `--accept-partial` says so, as for every other batch L1 did not vouch for.
#[tokio::test]
async fn a_zksync_import_not_checked_against_l1_is_not_served_by_default() {
    use std::sync::Arc;
    use zkreplay::api::{self, RollupHandle, RollupKind};
    let tmp = tempfile::tempdir().unwrap();
    let (_, snap) = zk_snapshot(tmp.path(), 12);
    // A slot batch 12 wrote, with the fixture's value.
    let (address, key, _, value) = zk_fixture_writes()
        .into_iter()
        .rfind(|(_, _, n, _)| *n == 12)
        .unwrap();
    let query = format!(
        r#"{{ rollup(name: "{ZKSYNC}") {{ sync {{ verifiedBatch }} storage(address: "{address}", key: "{key}") }} }}"#
    );
    for accept_partial in [false, true] {
        let data = tmp.path().join(format!("data-{accept_partial}"));
        let mut o = options(&data, &snap);
        o.accept_partial = accept_partial;
        snapshot::import(&o).unwrap();
        let store = Arc::new(Store::open(&data.join(ZKSYNC), ZKSYNC).unwrap());
        let audit = zkreplay::audit::BatchAudit::read(&store, 12)
            .unwrap()
            .unwrap();
        assert_eq!(audit.verdict, zkreplay::audit::Verdict::Partial);
        let schema = api::build_schema(vec![RollupHandle::new(ZKSYNC, RollupKind::Zksync, store)]);
        let out = serde_json::to_value(schema.execute(query.as_str()).await).unwrap();
        let rollup = &out["data"]["rollup"];
        if accept_partial {
            assert_eq!(rollup["sync"]["verifiedBatch"], "0xc", "{out}");
            assert_eq!(common::word(&rollup["storage"]), value, "{out}");
        } else {
            // Nothing is verified (not batch 0 either: the store starts at 12).
            assert!(rollup["sync"]["verifiedBatch"].is_null(), "{out}");
            assert!(
                rollup["storage"].is_null() && !out["errors"].is_null(),
                "{out}"
            );
        }
    }
}

// ------------------------------------------------------------------ tampering

/// A ZKsync store replayed to `batch` and its snapshot (small chunks).
fn zk_snapshot(dir: &Path, batch: u64) -> (SnapshotManifest, PathBuf) {
    let src = dir.join("src");
    {
        let store = Store::open(&src, ZKSYNC).unwrap();
        store
            .claim_rollup(zkreplay::chain::RollupKind::Zksync)
            .unwrap();
        crate::zksync::mainnet_genesis(&store);
        apply_zk(&store, 1..=batch);
    }
    let snap = dir.join("snap");
    (export_at(&src, "zksync", None, &snap, 40), snap)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("0x{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Replaces chunk `i` with `bytes` and makes the manifest agree with it
/// (size and checksum), so only the content can be refused.
fn replace_chunk(snap: &Path, i: usize, bytes: &[u8]) {
    let mut manifest = SnapshotManifest::read(snap).unwrap();
    std::fs::write(snap.join(&manifest.chunks[i].file), bytes).unwrap();
    manifest.chunks[i].size = bytes.len() as u64;
    manifest.chunks[i].sha256 = sha256_hex(bytes);
    manifest.write(snap).unwrap();
}

fn tampered(tmp: &Path, name: &str, snap: &Path, tamper: impl FnOnce(&Path)) -> SnapshotError {
    let copy = tmp.join(format!("snap-{name}"));
    copy_dir(snap, &copy);
    tamper(&copy);
    let data = tmp.join(format!("data-{name}"));
    let err = snapshot::import(&options(&data, &copy)).expect_err(name);
    assert_no_store(&data);
    println!("{name}: {err}");
    err
}

#[test]
fn tampered_snapshots_are_refused_and_leave_no_store() {
    let tmp = tempfile::tempdir().unwrap();
    let (manifest, snap) = zk_snapshot(tmp.path(), 12);
    let chunk = |i: usize| snap.join(&manifest.chunks[i].file);
    let records_of =
        |i: usize| -> Vec<u8> { zstd::decode_all(&std::fs::read(chunk(i)).unwrap()[..]).unwrap() };

    let err = tampered(tmp.path(), "flipped", &snap, |s| {
        let path = s.join(&manifest.chunks[1].file);
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x01;
        std::fs::write(&path, bytes).unwrap();
    });
    assert!(matches!(err, SnapshotError::Checksum { .. }), "{err}");

    let err = tampered(tmp.path(), "root", &snap, |s| {
        let mut m = SnapshotManifest::read(s).unwrap();
        m.roots.state_root = format_word(&zk_root(11));
        m.write(s).unwrap();
    });
    assert!(matches!(err, SnapshotError::RootMismatch { .. }), "{err}");

    let err = tampered(tmp.path(), "truncated", &snap, |s| {
        let path = s.join(&manifest.chunks[0].file);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 9]).unwrap();
    });
    assert!(matches!(err, SnapshotError::ChunkSize { .. }), "{err}");

    // Truncated with a manifest that agrees: the stream itself ends early.
    let err = tampered(tmp.path(), "truncated-agreed", &snap, |s| {
        let bytes = std::fs::read(s.join(&manifest.chunks[0].file)).unwrap();
        replace_chunk(s, 0, &bytes[..bytes.len() - 9]);
    });
    assert!(
        matches!(
            err,
            SnapshotError::Decompress { .. } | SnapshotError::Record { .. }
        ),
        "{err}"
    );

    // A record dropped from a chunk: fewer leaves than the manifest names.
    let err = tampered(tmp.path(), "short", &snap, |s| {
        let records = records_of(2);
        replace_chunk(s, 2, &zstd::encode_all(&records[72..], 3).unwrap());
    });
    assert!(matches!(err, SnapshotError::Record { .. }), "{err}");

    // Oversized: a chunk holding more than its leaf count allows.
    let err = tampered(tmp.path(), "oversized", &snap, |s| {
        let mut records = records_of(0);
        records.extend_from_slice(&records.clone());
        replace_chunk(s, 0, &zstd::encode_all(&records[..], 3).unwrap());
    });
    assert!(matches!(err, SnapshotError::Oversized { .. }), "{err}");

    // A zstd bomb: the chunk's own 40 records, then 64 MiB of one repeated
    // record, in a few KB. Refused once the 40 records' worth is read, not
    // after 64 MiB.
    let err = tampered(tmp.path(), "zstd-bomb", &snap, |s| {
        let valid = records_of(0);
        let record = &valid[..72];
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
        std::io::Write::write_all(&mut encoder, &valid).unwrap();
        let block: Vec<u8> = record.iter().copied().cycle().take(72 * 14_563).collect();
        for _ in 0..64 {
            std::io::Write::write_all(&mut encoder, &block).unwrap();
        }
        let bomb = encoder.finish().unwrap();
        assert!(bomb.len() < 200_000, "{} bytes", bomb.len());
        replace_chunk(s, 0, &bomb);
    });
    assert!(matches!(err, SnapshotError::Oversized { .. }), "{err}");

    // Leaves reordered (two chunks swapped, manifest agreeing).
    let err = tampered(tmp.path(), "reordered", &snap, |s| {
        let (a, b) = (
            std::fs::read(chunk(0)).unwrap(),
            std::fs::read(chunk(1)).unwrap(),
        );
        replace_chunk(s, 0, &b);
        replace_chunk(s, 1, &a);
    });
    assert!(matches!(err, SnapshotError::Order { .. }), "{err}");

    // A manifest that is not JSON, or names a path outside the directory.
    let err = tampered(tmp.path(), "garbage-manifest", &snap, |s| {
        std::fs::write(s.join("manifest.json"), b"\x00not json").unwrap();
    });
    assert!(matches!(err, SnapshotError::Manifest(_)), "{err}");
    let err = tampered(tmp.path(), "escaping-chain", &snap, |s| {
        let text = std::fs::read_to_string(s.join("manifest.json")).unwrap();
        std::fs::write(
            s.join("manifest.json"),
            text.replace("\"zksync-test\"", "\"../escape\""),
        )
        .unwrap();
    });
    assert!(matches!(err, SnapshotError::Manifest(_)), "{err}");
}

// ------------------------------------------------------------------ crash safety

#[test]
fn an_import_killed_at_random_moments_restarts_to_the_same_store() {
    use rand::{Rng, SeedableRng};
    let tmp = tempfile::tempdir().unwrap();
    let (_, snap) = zk_snapshot(tmp.path(), 12);
    let bin = env!("CARGO_BIN_EXE_zkreplay");
    let run = |data: &Path| {
        std::process::Command::new(bin)
            .args(["snapshot", "import", "--data-dir"])
            .arg(data)
            .arg("--from")
            .arg(&snap)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // A clean import, timed, as the reference.
    let clean = tmp.path().join("clean");
    let started = std::time::Instant::now();
    assert!(run(&clean).wait().unwrap().success());
    let full = started.elapsed();
    let reference = leaves(&Store::open(&clean.join(ZKSYNC), ZKSYNC).unwrap());

    let data = tmp.path().join("killed");
    let mut rng = rand::rngs::StdRng::seed_from_u64(15);
    let (mut interrupted, mut mid_build) = (0, 0);
    // Five kills at random moments of a clean import's duration; on a loaded
    // machine that duration can mislead, so when none of the five landed
    // before the import finished, further kills come ever earlier (each on a
    // directory without the finished store, which a rerun would only find).
    for kill in 0..20 {
        if kill >= 5 && interrupted > 0 {
            break;
        }
        if kill >= 5 && data.join(ZKSYNC).exists() {
            std::fs::remove_dir_all(data.join(ZKSYNC)).unwrap();
        }
        let mut child = run(&data);
        let fraction = if kill < 5 {
            rng.random_range(0.05..0.95)
        } else {
            rng.random_range(0.0..0.5) / f64::from(1u32 << (kill - 4))
        };
        let after = full.mul_f64(fraction);
        std::thread::sleep(after);
        let _ = child.kill(); // SIGKILL on Unix
        child.wait().unwrap();
        // Never a half-built store at the target: absent, or complete.
        let target = data.join(ZKSYNC);
        if !target.exists() {
            interrupted += 1;
            if data.join(format!(".{ZKSYNC}.import")).exists() {
                mid_build += 1;
            }
        }
        if target.exists() {
            let store = Store::open(&target, ZKSYNC).unwrap();
            assert!(
                store.get(Column::Meta, SNAPSHOT_MARK).unwrap().is_some(),
                "kill {kill}"
            );
            assert_eq!(leaves(&store), reference);
        }
    }
    println!("{interrupted} kills interrupted the import, {mid_build} while building");
    assert!(interrupted > 0, "no kill landed before the import finished");
    assert!(run(&data).wait().unwrap().success());
    let store = Store::open(&data.join(ZKSYNC), ZKSYNC).unwrap();
    assert_eq!(leaves(&store), reference);
    assert_eq!(
        ZksyncState::open(&store).unwrap().checkpoint().root,
        zk_root(12)
    );
    let names: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from(ZKSYNC)],
        "no temporary left"
    );
}

// ------------------------------------------------------------------ zksync-era format

use zkreplay::snapshot::zksync_era::{SnapshotStorageLog, SnapshotStorageLogsChunk};

/// Protobuf wire encoding written for the test from the encoding rules
/// (protobuf.dev "Encoding"), independent of the importer's decoder.
pub(crate) mod pb {
    pub fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    pub fn bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
        varint(out, field << 3 | 2);
        varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }
    pub fn varint_field(out: &mut Vec<u8>, field: u64, v: u64) {
        varint(out, field << 3);
        varint(out, v);
    }
}

fn encode_log(log: &SnapshotStorageLog) -> Vec<u8> {
    let mut out = Vec::new();
    // Field order as a protobuf encoder writes them (by number), hashed_key last.
    if let Some(b) = &log.account_address {
        pb::bytes_field(&mut out, 1, b);
    }
    if let Some(b) = &log.storage_key {
        pb::bytes_field(&mut out, 2, b);
    }
    pb::bytes_field(&mut out, 3, log.storage_value.as_ref().unwrap());
    pb::varint_field(
        &mut out,
        4,
        log.l1_batch_number_of_initial_write.unwrap().into(),
    );
    pb::varint_field(&mut out, 5, log.enumeration_index.unwrap());
    if let Some(b) = &log.hashed_key {
        pb::bytes_field(&mut out, 6, b);
    }
    out
}

pub(crate) fn encode_chunk(logs: &[SnapshotStorageLog]) -> Vec<u8> {
    let mut out = Vec::new();
    for log in logs {
        pb::bytes_field(&mut out, 1, &encode_log(log));
    }
    out
}

#[test]
fn hand_encoded_storage_logs_decode_field_by_field() {
    let log = SnapshotStorageLog {
        account_address: None,
        storage_key: None,
        hashed_key: Some(vec![7; 32]),
        storage_value: Some(vec![9; 32]),
        l1_batch_number_of_initial_write: Some(300),
        enumeration_index: Some(185_679_721),
    };
    let bytes = encode_chunk(&[log.clone(), log.clone()]);
    let chunk = SnapshotStorageLogsChunk::decode(&bytes).unwrap();
    assert_eq!(chunk.storage_logs, vec![log.clone(), log]);
    // A length running past the end, and a varint that never ends, are errors.
    assert!(SnapshotStorageLogsChunk::decode(&bytes[..bytes.len() - 1]).is_err());
    assert!(
        SnapshotStorageLogsChunk::decode(&[
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
        ])
        .is_err()
    );
    // A hand-checked encoding: field 5 = 150 is `28 96 01` (protobuf.dev's example value).
    let one = SnapshotStorageLog::decode(&[0x28, 0x96, 0x01]).unwrap();
    assert_eq!(one.enumeration_index, Some(150));
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, bytes).unwrap();
    encoder.finish().unwrap()
}

/// viem's published EraVM bytecode and its hash (wevm/viem
/// `src/zksync/utils/hashBytecode.test.ts`, "hashed bytecode"): an
/// implementation of ZKsync's bytecode hash independent of zkreplay's.
const VIEM_BYTECODE: &str = "0x00050000000000020000008003000039000000400030043f0000000003010019";
const VIEM_HASH: [u8; 32] = [
    1, 0, 0, 1, 187, 37, 137, 118, 5, 213, 240, 79, 9, 123, 196, 48, 219, 199, 57, 127, 89, 28,
    230, 254, 35, 91, 75, 211, 88, 142, 190, 70,
];

/// A factory dependency as the era snapshot writes it: bytecode, and the
/// hash current snapshots name (old ones name none).
type Dep = (Vec<u8>, Option<Vec<u8>>);

/// EVM bytecode `0x6080604052` padded to one word, with the hash zksync-era's
/// `BytecodeHash::for_evm_bytecode` rule gives it (version 2, the unpadded
/// length in bytes, sha256 of the padded code) — built here from that rule,
/// so plumbing for the EVM path.
fn evm_dep() -> Dep {
    use sha2::Digest;
    let mut code = parse_bytes("0x6080604052").unwrap();
    code.resize(32, 0);
    let mut hash: [u8; 32] = sha2::Sha256::digest(&code).into();
    hash[..4].copy_from_slice(&[2, 0, 0, 5]);
    (code, Some(hash.to_vec()))
}

/// Deps every era snapshot of these tests carries: viem's bytecode with its
/// hash, the same without one (an old snapshot's), and an EVM bytecode.
fn valid_factory_deps() -> Vec<Dep> {
    let viem = parse_bytes(VIEM_BYTECODE).unwrap();
    vec![
        (viem.clone(), Some(VIEM_HASH.to_vec())),
        (viem, None),
        evm_dep(),
    ]
}

/// Writes `deps` as the era snapshot's gzip-compressed `SnapshotFactoryDependencies`.
fn write_factory_deps(out: &Path, deps: &[Dep]) {
    let mut file = Vec::new();
    for (bytecode, hash) in deps {
        let mut dep = Vec::new();
        pb::bytes_field(&mut dep, 1, bytecode);
        if let Some(hash) = hash {
            pb::bytes_field(&mut dep, 2, hash);
        }
        pb::bytes_field(&mut file, 1, &dep);
    }
    std::fs::write(
        out.join("snapshot_l1_batch_12_factory_deps.proto.gzip"),
        gzip(&file),
    )
    .unwrap();
}

/// Writes the state of the ZKsync store at `src` (genesis + batches 1-12)
/// in zksync-era's snapshot format: storage logs split into chunks by hashed
/// key range as the era snapshot creator does, gzip-compressed protobuf, a
/// factory-deps file and a header naming the root the fixture gives for
/// batch 12 (an independent implementation's), not one zkreplay computed.
fn era_snapshot(src: &Path, out: &Path) -> usize {
    std::fs::create_dir_all(out).unwrap();
    let store = Store::open(src, ZKSYNC).unwrap();
    let tip = ZksyncState::open(&store).unwrap().checkpoint().clone();
    let mut chunks: Vec<Vec<SnapshotStorageLog>> = vec![Vec::new(); 3];
    for (key, value) in store
        .scan_prefix(Column::Leaves, &[keys::LEAF_ZKSYNC_BY_KEY])
        .unwrap()
    {
        let chunk = (key[1] as usize * 3) / 256;
        chunks[chunk].push(SnapshotStorageLog {
            account_address: None,
            storage_key: None,
            hashed_key: Some(key[1..33].to_vec()),
            storage_value: Some(value[8..40].to_vec()),
            l1_batch_number_of_initial_write: Some(1),
            enumeration_index: Some(u64::from_be_bytes(value[..8].try_into().unwrap())),
        });
    }
    let mut listed = Vec::new();
    for (id, logs) in chunks.into_iter().enumerate() {
        let name = format!("snapshot_l1_batch_12_storage_logs_part_{id:04}.proto.gzip");
        let bytes = encode_chunk(&logs);
        std::fs::write(out.join(&name), gzip(&bytes)).unwrap();
        listed
            .push(serde_json::json!({ "chunkId": id, "filepath": format!("gs://bucket/{name}") }));
    }
    write_factory_deps(out, &valid_factory_deps());
    let header = serde_json::json!({
        "version": 1,
        "l1BatchNumber": 12,
        "miniblockNumber": 100,
        "storageLogsChunks": listed,
        "factoryDepsFilepath": "snapshot_l1_batch_12_factory_deps.proto.gzip",
        "lastL1BatchWithMetadata": {
            "metadata": {
                "root_hash": format_word(&zk_root(12)),
                "rollup_last_leaf_index": tip.next_index,
            }
        }
    });
    std::fs::write(out.join("snapshot_header.json"), header.to_string()).unwrap();
    listed.len()
}

#[test]
fn a_zksync_era_snapshot_imports_and_reproduces_the_committed_root() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    {
        let store = Store::open(&src, ZKSYNC).unwrap();
        store
            .claim_rollup(zkreplay::chain::RollupKind::Zksync)
            .unwrap();
        crate::zksync::mainnet_genesis(&store);
        apply_zk(&store, 1..=12);
    }
    let era = tmp.path().join("era");
    assert_eq!(era_snapshot(&src, &era), 3);
    let data = tmp.path().join("data");
    let mut o = options(&data, &era);
    o.era_chain = Some(ZKSYNC.into());
    let report = snapshot::import(&o).unwrap();
    assert_eq!(report.batch, 12);
    let store = Store::open(&data.join(ZKSYNC), ZKSYNC).unwrap();
    let tip = ZksyncState::open(&store).unwrap().checkpoint().clone();
    assert_eq!((tip.batch, tip.root), (12, zk_root(12)));
    assert_eq!(leaves(&store), leaves(&Store::open(&src, ZKSYNC).unwrap()));

    // A header with another root is refused, and leaves nothing behind.
    let bad = tmp.path().join("era-bad-root");
    copy_dir(&era, &bad);
    let text = std::fs::read_to_string(bad.join("snapshot_header.json")).unwrap();
    let text = text.replace(
        &format_word(&zk_root(12))[2..],
        &format_word(&zk_root(11))[2..],
    );
    std::fs::write(bad.join("snapshot_header.json"), text).unwrap();
    let bad_data = tmp.path().join("data-bad-root");
    let mut o = options(&bad_data, &bad);
    o.era_chain = Some(ZKSYNC.into());
    let err = snapshot::import(&o).unwrap_err();
    assert!(matches!(err, SnapshotError::RootMismatch { .. }), "{err}");
    assert_no_store(&bad_data);

    // A gzip bomb in place of a chunk: refused at the cap (1 MiB here).
    let bomb = tmp.path().join("era-bomb");
    copy_dir(&era, &bomb);
    let zeros = vec![0u8; 16 << 20];
    std::fs::write(
        bomb.join("snapshot_l1_batch_12_storage_logs_part_0001.proto.gzip"),
        gzip(&zeros),
    )
    .unwrap();
    let bomb_data = tmp.path().join("data-bomb");
    let mut o = options(&bomb_data, &bomb);
    o.era_chain = Some(ZKSYNC.into());
    o.max_chunk_bytes = 1 << 20;
    let err = snapshot::import(&o).unwrap_err();
    assert!(matches!(err, SnapshotError::Oversized { .. }), "{err}");
    assert_no_store(&bomb_data);

    // Garbage protobuf is a typed error, not a panic.
    let garbage = tmp.path().join("era-garbage");
    copy_dir(&era, &garbage);
    std::fs::write(
        garbage.join("snapshot_l1_batch_12_storage_logs_part_0002.proto.gzip"),
        gzip(&[0xff; 100]),
    )
    .unwrap();
    let garbage_data = tmp.path().join("data-garbage");
    let mut o = options(&garbage_data, &garbage);
    o.era_chain = Some(ZKSYNC.into());
    let err = snapshot::import(&o).unwrap_err();
    assert!(matches!(err, SnapshotError::Era(_)), "{err}");
    assert_no_store(&garbage_data);
}

#[test]
fn the_bytecode_hash_is_viems_published_one_and_bad_lengths_are_refused() {
    use zkreplay::rollup::zksync::bytecode::{
        BytecodeError, check_bytecode_length, era_vm_bytecode_hash,
    };
    let viem = parse_bytes(VIEM_BYTECODE).unwrap();
    assert_eq!(era_vm_bytecode_hash(&viem).unwrap(), B256::from(VIEM_HASH));
    // viem's two invalid bytecodes: 33 bytes, and two words.
    let mut odd = viem.clone();
    odd.push(0xd0);
    assert_eq!(era_vm_bytecode_hash(&odd), Err(BytecodeError::NotWords(33)));
    let two_words = [&viem[..], &viem[..]].concat();
    assert_eq!(
        era_vm_bytecode_hash(&two_words),
        Err(BytecodeError::EvenWords(64))
    );
    // The length lives in two bytes of the hash: 2^16 - 1 words at most.
    assert!(check_bytecode_length(32 * 65_535).is_ok());
    assert_eq!(
        check_bytecode_length(32 * 65_537),
        Err(BytecodeError::TooLong(32 * 65_537))
    );
    assert_eq!(check_bytecode_length(0), Err(BytecodeError::EvenWords(0)));
}

/// The factory-deps file is streamed: deps far larger in total than the
/// chunk cap (here 1 MiB) import, each checked. The large bytecodes' hashes
/// come from zkreplay's own hash function (plumbing: the rule itself is
/// checked against viem's vector above).
#[test]
fn era_factory_deps_larger_than_the_chunk_cap_are_streamed() {
    use zkreplay::rollup::zksync::bytecode::era_vm_bytecode_hash;
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    {
        let store = Store::open(&src, ZKSYNC).unwrap();
        store
            .claim_rollup(zkreplay::chain::RollupKind::Zksync)
            .unwrap();
        crate::zksync::mainnet_genesis(&store);
        apply_zk(&store, 1..=12);
    }
    let era = tmp.path().join("era");
    era_snapshot(&src, &era);
    let mut deps = valid_factory_deps();
    for i in 0..3u8 {
        // 16,383 words (odd), about 512 KiB each.
        let code: Vec<u8> = (0..16_383 * 32)
            .map(|j: usize| (j % 251) as u8 ^ i)
            .collect();
        let hash = era_vm_bytecode_hash(&code).unwrap();
        deps.push((code, Some(hash.to_vec())));
    }
    write_factory_deps(&era, &deps);
    let data = tmp.path().join("data");
    let mut o = options(&data, &era);
    o.era_chain = Some(ZKSYNC.into());
    o.max_chunk_bytes = 1 << 20;
    let report = snapshot::import(&o).unwrap();
    assert_eq!(report.batch, 12);
}

#[test]
fn an_era_snapshot_with_a_tampered_factory_dep_is_refused_and_leaves_no_store() {
    use zkreplay::rollup::zksync::bytecode::BytecodeError;
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    {
        let store = Store::open(&src, ZKSYNC).unwrap();
        store
            .claim_rollup(zkreplay::chain::RollupKind::Zksync)
            .unwrap();
        crate::zksync::mainnet_genesis(&store);
        apply_zk(&store, 1..=12);
    }
    let era = tmp.path().join("era");
    era_snapshot(&src, &era);
    let viem = parse_bytes(VIEM_BYTECODE).unwrap();
    let mut flipped = viem.clone();
    flipped[7] ^= 1;
    let (evm_code, evm_hash) = evm_dep();
    let mut dirty_padding = evm_code.clone();
    dirty_padding[31] = 1;
    let mut constructed = VIEM_HASH;
    constructed[1] = 1; // "being constructed": never a factory dep's hash
    // Whether an import failed for the expected reason.
    type ExpectedError = fn(&BytecodeError) -> bool;
    let cases: Vec<(&str, Dep, ExpectedError)> = vec![
        (
            "flipped-bytecode",
            (flipped, Some(VIEM_HASH.to_vec())),
            |e| matches!(e, BytecodeError::Mismatch { .. }),
        ),
        (
            "flipped-hash",
            (
                viem.clone(),
                Some([&VIEM_HASH[..31], &[VIEM_HASH[31] ^ 1]].concat()),
            ),
            |e| matches!(e, BytecodeError::Mismatch { .. }),
        ),
        (
            "even-words-without-hash",
            ([&viem[..], &viem[..]].concat(), None),
            |e| *e == BytecodeError::EvenWords(64),
        ),
        (
            "ragged-length",
            ([&viem[..], &[0u8][..]].concat(), Some(VIEM_HASH.to_vec())),
            |e| *e == BytecodeError::NotWords(33),
        ),
        (
            "short-hash",
            (viem.clone(), Some(VIEM_HASH[..31].to_vec())),
            |e| *e == BytecodeError::HashLength(31),
        ),
        (
            "constructed-marker",
            (viem.clone(), Some(constructed.to_vec())),
            |e| matches!(e, BytecodeError::Marker(_)),
        ),
        (
            "evm-dirty-padding",
            (dirty_padding, evm_hash.clone()),
            |e| matches!(e, BytecodeError::EvmPadding(_)),
        ),
        ("empty-bytecode", (Vec::new(), evm_hash.clone()), |e| {
            *e == BytecodeError::EvenWords(0)
        }),
    ];
    for (name, bad, expected) in cases {
        let copy = tmp.path().join(format!("era-{name}"));
        copy_dir(&era, &copy);
        // The bad dep after two good ones: it is named by its position.
        let mut deps = valid_factory_deps();
        deps.insert(2, bad);
        write_factory_deps(&copy, &deps);
        let data = tmp.path().join(format!("data-{name}"));
        let mut o = options(&data, &copy);
        o.era_chain = Some(ZKSYNC.into());
        let err = snapshot::import(&o).unwrap_err();
        println!("{name}: {err}");
        match &err {
            SnapshotError::FactoryDep { index: 2, source } => {
                assert!(expected(source), "{name}: {err}")
            }
            other => panic!("{name}: {other}"),
        }
        assert_no_store(&data);
    }
    // Framing a bytecode cannot have: a dependency longer than the longest
    // bytecode and its hash (refused before it is read), and zeros.
    use zkreplay::snapshot::zksync_era::MAX_FACTORY_DEP_BYTES;
    let mut too_long = Vec::new();
    pb::varint(&mut too_long, 1 << 3 | 2);
    pb::varint(&mut too_long, MAX_FACTORY_DEP_BYTES + 1);
    for (name, file) in [("dep-too-long", too_long), ("zeros", vec![0u8; 1 << 20])] {
        let copy = tmp.path().join(format!("era-{name}"));
        copy_dir(&era, &copy);
        std::fs::write(
            copy.join("snapshot_l1_batch_12_factory_deps.proto.gzip"),
            gzip(&file),
        )
        .unwrap();
        let data = tmp.path().join(format!("data-{name}"));
        let mut o = options(&data, &copy);
        o.era_chain = Some(ZKSYNC.into());
        let err = snapshot::import(&o).unwrap_err();
        println!("{name}: {err}");
        assert!(matches!(err, SnapshotError::Era(_)), "{name}: {err}");
        assert_no_store(&data);
    }

    // An EVM hash naming more code than the bytecode holds.
    let copy = tmp.path().join("era-evm-long");
    copy_dir(&era, &copy);
    let mut long_hash = evm_hash.clone().unwrap();
    long_hash[2..4].copy_from_slice(&33u16.to_be_bytes());
    write_factory_deps(&copy, &[(evm_code, Some(long_hash))]);
    let data = tmp.path().join("data-evm-long");
    let mut o = options(&data, &copy);
    o.era_chain = Some(ZKSYNC.into());
    let err = snapshot::import(&o).unwrap_err();
    assert!(
        matches!(
            err,
            SnapshotError::FactoryDep {
                index: 0,
                source: BytecodeError::EvmLength(_, 33, 32)
            }
        ),
        "{err}"
    );
    assert_no_store(&data);
}

// ------------------------------------------------------------------ read replicas

/// A free loopback port (bound and released; the replica binds it next).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Replica(std::process::Child);

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_booted_from_one_snapshot_answer_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let full_dir = tmp.path().join("full");
    {
        let full = Store::open(&full_dir, SEPOLIA).unwrap();
        full.claim_rollup(zkreplay::chain::RollupKind::Starknet)
            .unwrap();
        apply_sepolia(&full, 0..8);
    }
    let snap = tmp.path().join("snap");
    export_at(&full_dir, SEPOLIA, None, &snap, 100);

    // What the full replay answers, for a few slots at batch 7.
    let full = Store::open(&full_dir, SEPOLIA).unwrap();
    let reader = StarknetReader::new(&full);
    let slots: Vec<(Felt, Felt, Felt)> = leaves(&full)
        .iter()
        .filter(|(k, _)| k[0] == keys::LEAF_STARKNET_STORAGE)
        .step_by(7)
        .take(5)
        .map(|(k, _)| {
            let (a, s) = (
                Felt::from_bytes_be_slice(&k[1..33]),
                Felt::from_bytes_be_slice(&k[33..65]),
            );
            (a, s, reader.storage_at(&a, &s, 7).unwrap())
        })
        .collect();
    drop(full);
    let query = slots
        .iter()
        .enumerate()
        .map(|(i, (a, s, _))| {
            format!("s{i}: storage(address: \"{a:#x}\", key: \"{s:#x}\", atBatch: 7)")
        })
        .collect::<Vec<_>>()
        .join(" ");
    let query =
        format!("{{ rollup(name: \"{SEPOLIA}\") {{ {query} batch(number: 7) {{ number }} }} }}");

    // Replica 1 fetches the snapshot over HTTP from a plain file server.
    let served = snap.clone();
    let app = axum::Router::new().route(
        "/snap/{file}",
        axum::routing::get(
            move |axum::extract::Path(file): axum::extract::Path<String>| {
                let path = served.join(file);
                async move {
                    match std::fs::read(path) {
                        Ok(bytes) => Ok(bytes),
                        Err(_) => Err(axum::http::StatusCode::NOT_FOUND),
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let files = format!("http://{}/snap/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let sources = [snap.display().to_string(), files];

    let bin = env!("CARGO_BIN_EXE_zkreplay");
    let mut replicas = Vec::new();
    let mut urls = Vec::new();
    for (r, source) in sources.iter().enumerate() {
        let (graphql, monitor) = (free_port(), free_port());
        let child = std::process::Command::new(bin)
            .arg("serve")
            .arg("--data-dir")
            .arg(tmp.path().join(format!("replica{r}")))
            .arg("--snapshot")
            .arg(source)
            .args(["--graphql-addr", &format!("127.0.0.1:{graphql}")])
            .args(["--monitor-addr", &format!("127.0.0.1:{monitor}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .unwrap();
        replicas.push(Replica(child));
        urls.push(format!("http://127.0.0.1:{graphql}/graphql"));
    }
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    for url in &urls {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let answer: Value = loop {
            let sent = client
                .post(url)
                .json(&serde_json::json!({ "query": query }))
                .send()
                .await;
            if let Ok(response) = sent
                && response.status().is_success()
            {
                break response.json().await.unwrap();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "replica at {url} never answered"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        answers.push(answer);
    }
    assert_eq!(answers[0], answers[1]);
    let data = &answers[0]["data"]["rollup"];
    assert!(!data["batch"]["number"].is_null(), "{}", answers[0]);
    for (i, (_, _, value)) in slots.iter().enumerate() {
        let served = Felt::from_hex(data[format!("s{i}")].as_str().unwrap()).unwrap();
        assert_eq!(served, *value, "slot {i}");
    }
}

// ------------------------------------------------------------------ follow after an import

/// Follows the in-memory `l1` into `store` with the generic follower at the
/// `finalized` tag, up to L1 block `to_block` (default: the head).
async fn follow_memory<E: zkreplay::follow::RollupEngine>(
    engine: &std::sync::Arc<E>,
    l1: &memory_l1::MemoryL1,
    store: &std::sync::Arc<Store>,
    config: &zkreplay::chain::ChainConfig,
    to_block: Option<u64>,
) -> zkreplay::follow::SyncReport {
    let options = zkreplay::follow::FollowOptions {
        tag: zkreplay::l1::BlockTag::Finalized,
        to_block,
        ..Default::default()
    };
    zkreplay::follow::Follower::new(engine.clone(), l1, store.clone(), config, &options)
        .sync()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn follow_continues_after_an_import_checked_against_l1() {
    use std::sync::Arc;
    use zkreplay::audit::{BatchAudit, Verdict};
    use zkreplay::follow::L1Cursor;
    use zkreplay::follow::starknet::StarknetEngine;

    for set in ["seed2_calldata", "seed1_blob"] {
        let l1 = memory_l1::memory(memory_l1::oracle_chain(set));
        let config = memory_l1::config();
        let engine = Arc::new(StarknetEngine::new(&config).unwrap());
        let sync = |store: Arc<Store>, to_block: Option<u64>| {
            let (engine, config, l1) = (&engine, &config, &l1);
            async move { follow_memory(engine, l1, &store, config, to_block).await }
        };
        let tmp = tempfile::tempdir().unwrap();
        let open = |dir: &Path| Arc::new(Store::open(dir, "starknet-oracle").unwrap());
        // The whole chain, followed from its first block.
        let whole = open(&tmp.path().join("whole"));
        sync(whole.clone(), None).await;
        let batches = memory_l1::oracle_batches(set);
        let last = batches.len() as u64 - 1;
        // A follower stopped after batch 1, exported there.
        let cut_dir = tmp.path().join("cut");
        let stop = memory_l1::update_block(&l1.chain.lock().unwrap(), 1);
        sync(open(&cut_dir), Some(stop)).await;
        let snap = tmp.path().join("snap");
        let manifest = export_at(&cut_dir, "starknet", None, &snap, 16);
        assert_eq!(manifest.batch, 1, "{set}");
        // The oracle chains use stateful compression: the alias map travels too.
        assert!(manifest.leaves.aliases > 0, "{set}: {:?}", manifest.leaves);
        assert_eq!(
            manifest.roots.state_root,
            format_word(
                &parse_word(batches[1]["expected"]["global_root"].as_str().unwrap()).unwrap()
            ),
            "{set}: cairo-lang's root"
        );

        // The root L1 accepted for batch 1, read from its commit log.
        let l1_root = snapshot::l1::l1_root(&l1, &config, &manifest)
            .await
            .unwrap();
        assert_eq!(format_word(&l1_root), manifest.roots.state_root);
        // Another batch's L1 root does not pass.
        let mut other = manifest.clone();
        other.l1 = Some(
            zkreplay::follow::L1BatchRecord::read(&whole, 2)
                .unwrap()
                .unwrap(),
        );
        let wrong = snapshot::l1::l1_root(&l1, &config, &other).await.unwrap();
        let mut o = options(&tmp.path().join("refused"), &snap);
        o.l1_root = Some(wrong);
        let err = snapshot::import(&o).unwrap_err();
        assert!(matches!(err, SnapshotError::L1RootMismatch { .. }), "{err}");
        assert_no_store(&tmp.path().join("refused"));

        let data = tmp.path().join("imported");
        let mut o = options(&data, &snap);
        o.l1_root = Some(l1_root);
        snapshot::import(&o).unwrap();
        let imported = open(&data.join("starknet-oracle"));
        let audit = BatchAudit::read(&imported, 1).unwrap().unwrap();
        assert_eq!(audit.verdict, Verdict::Match, "{audit:?}");
        assert_eq!(BatchAudit::verified_batch(&imported).unwrap(), Some(1));

        // The follower picks up after batch 1 and ends where the whole replay did.
        let report = sync(imported.clone(), None).await;
        assert_eq!(report.batches_applied, last - 1, "{set}");
        for n in 2..=last {
            let a = BatchAudit::read(&imported, n).unwrap().unwrap();
            assert_eq!(
                a,
                BatchAudit::read(&whole, n).unwrap().unwrap(),
                "{set} batch {n}"
            );
            assert_eq!(a.verdict, Verdict::Match);
        }
        assert_eq!(
            StarknetState::new(&imported).checkpoint().unwrap(),
            StarknetState::new(&whole).checkpoint().unwrap()
        );
        assert_eq!(
            BatchAudit::verified_batch(&imported).unwrap(),
            BatchAudit::verified_batch(&whole).unwrap()
        );
        assert_eq!(
            L1Cursor::read(&imported).unwrap(),
            L1Cursor::read(&whole).unwrap()
        );
        assert_eq!(leaves(&imported), leaves(&whole));
    }
}

/// Era mainnet genesis and the twelve batches of Matter Labs' multi-batch
/// vectors on an in-memory L1: three batches per commit transaction, in four
/// commit formats (Boojum calldata, v24 blobs, v26 blobs, v29 calldata), each
/// transaction's batches executed after the next commit, the last ones at the
/// end. The calldata and blobs come from this crate's encoder (plumbing); the
/// state diffs, the genesis and every root are the fixtures', so the roots the
/// follower reaches are judged against Matter Labs' crates, not zkreplay.
fn fixture_zk_l1() -> (memory_l1::Chain, zkreplay::chain::ChainConfig) {
    use crate::follow::zk::{commit_logs, finalize, post_blobs};
    use zkreplay::devnet::contracts::ZKSYNC_DIAMOND_ADDRESS as DIAMOND;
    use zkreplay::rollup::zksync::calldata::{CommitVersion, encode_commit};
    use zkreplay::rollup::zksync::encode::Publish;
    let specs = crate::zksync::multi_batch_specs();
    assert_eq!(specs.len(), 12);
    let formats = [
        (CommitVersion::Boojum, Publish::Calldata),
        (CommitVersion::V24, Publish::Blobs),
        (CommitVersion::V26, Publish::Blobs),
        (CommitVersion::V29, Publish::Calldata),
    ];
    let mut chain = memory_l1::Chain {
        fork_from: u64::MAX,
        ..memory_l1::Chain::default()
    };
    // Mainnet genesis holds 20 leaves: the next free index is 21.
    let mut previous_index = 21;
    let mut unexecuted = None;
    for (group, (version, publish)) in specs.chunks(3).zip(formats) {
        let (call, blobs) = crate::zksync::build_call(version, publish, group, previous_index);
        let hashes = post_blobs(&mut chain, &blobs);
        let logs = commit_logs(DIAMOND, &call);
        chain.push(DIAMOND, encode_commit(&call), hashes, logs);
        if let Some(done) = unexecuted.replace(group.last().unwrap()) {
            finalize(&mut chain, done.batch_number, done.new_state_root);
        }
        previous_index = group.last().unwrap().index_repeated_storage_changes;
    }
    let last = unexecuted.unwrap();
    finalize(&mut chain, last.batch_number, last.new_state_root);
    let genesis_root = common::read_json(&fixtures().join("zksync/genesis/expected_roots.json"))
        ["mainnet"]["expected_root"]
        .clone();
    let config = zkreplay::chain::ChainConfig::parse(&format!(
        r#"
name = "{ZKSYNC}"
rollup = "zksync"
l1_chain_id = 31337
first_l1_block = 0
log_range = 3
[zksync]
diamond_proxy = "{DIAMOND}"
genesis_file = "{}"
genesis_root = "{}"
"#,
        fixtures()
            .join("zksync/genesis/InitialStateMainnet.json")
            .display(),
        genesis_root.as_str().unwrap()
    ))
    .unwrap();
    (chain, config)
}

/// Every slot the fixture's batches write, as (address, key, batch, value
/// after that batch), in batch order.
fn zk_fixture_writes() -> Vec<(String, String, u64, B256)> {
    let mut out = Vec::new();
    for b in zk_json()["batches"].as_array().unwrap() {
        let n = b["batch_number"].as_u64().unwrap();
        for (list, value) in [
            ("initial_writes", "value"),
            ("repeated_writes", "final_value"),
        ] {
            for w in b[list].as_array().unwrap() {
                out.push((
                    w["address"].as_str().unwrap().to_owned(),
                    w["key"].as_str().unwrap().to_owned(),
                    n,
                    common::word(&w[value]),
                ));
            }
        }
    }
    out
}

/// Acceptance 1 for ZKsync through the real follower: a follower stopped in
/// the middle of a commit transaction, exported at batch 5, imported into a
/// fresh directory against the root L1 committed, and followed on to batch
/// 12 ends where following the whole chain from genesis ends — the fixture's
/// roots, the same audits, L1 records, lifecycle, cursor and leaves — and
/// the API answers storage reads and proofs alike, with the values the
/// fixture says each slot holds.
#[tokio::test(flavor = "multi_thread")]
async fn zksync_follow_continues_after_an_import_to_the_fixture_roots() {
    use std::sync::Arc;
    use zkreplay::api::{self, RollupHandle, RollupKind};
    use zkreplay::audit::{BatchAudit, Verdict};
    use zkreplay::follow::zksync::ZksyncEngine;
    use zkreplay::follow::{L1BatchRecord, L1Cursor};
    use zkreplay::rollup::zksync::state::{read_checkpoint, read_record};

    let (chain, config) = fixture_zk_l1();
    let l1 = memory_l1::memory(chain.clone());
    let engine = Arc::new(ZksyncEngine::new(&config).unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let open = |dir: &Path| Arc::new(Store::open(dir, ZKSYNC).unwrap());

    // The whole chain, followed from genesis: every root is the fixture's.
    let whole = open(&tmp.path().join("whole"));
    let report = follow_memory(&engine, &l1, &whole, &config, None).await;
    assert_eq!(report.verdicts.matched, 13, "genesis and 12 batches");
    for n in 1..=12 {
        let audit = BatchAudit::read(&whole, n).unwrap().unwrap();
        assert_eq!(audit.verdict, Verdict::Match, "batch {n}: {audit:?}");
        assert_eq!(audit.computed_root, format_word(&zk_root(n)), "batch {n}");
    }
    assert_eq!(BatchAudit::verified_batch(&whole).unwrap(), Some(12));

    // A follower stopped after the L1 block committing batches 4-6 (batches
    // 1-3 executed), exported at batch 5: the middle of that transaction.
    let commit_of_6 = chain
        .entries
        .iter()
        .position(|(_, logs)| {
            logs.iter().any(|(_, t, _)| {
                t[0] == zkreplay::rollup::zksync::events::BLOCK_COMMIT
                    && t[1] == B256::with_last_byte(6)
            })
        })
        .unwrap() as u64
        + 1;
    let cut_dir = tmp.path().join("cut");
    follow_memory(&engine, &l1, &open(&cut_dir), &config, Some(commit_of_6)).await;
    let snap = tmp.path().join("snap");
    let manifest = export_at(&cut_dir, "zksync", Some(5), &snap, 16);
    assert_eq!(manifest.batch, 5);
    assert_eq!(manifest.roots.state_root, format_word(&zk_root(5)));
    assert!(manifest.chunks.len() > 1, "small chunks split the leaves");
    // The L1 record of batch 5 travels with the snapshot (not yet executed
    // when the cut follower stopped; the whole replay has since seen that).
    let (record, whole_5) = (
        manifest.l1.clone().unwrap(),
        L1BatchRecord::read(&whole, 5).unwrap().unwrap(),
    );
    assert_eq!(
        (
            record.l1_block_number,
            record.l1_transaction_hash,
            record.log_index
        ),
        (
            whole_5.l1_block_number,
            whole_5.l1_transaction_hash,
            whole_5.log_index
        )
    );
    assert_eq!(record.summary.executed, Some(false));
    // Batch 5 exported from the whole replay's history, while that store is
    // open for writing (as under a running follower), gives the same chunks.
    let again = export_at(
        &tmp.path().join("whole"),
        ZKSYNC,
        Some(5),
        &tmp.path().join("snap-whole"),
        16,
    );
    assert_eq!(
        (again.chunks, again.roots),
        (manifest.chunks.clone(), manifest.roots.clone())
    );

    // The root L1 committed for batch 5, read from its BlockCommit.
    let l1_root = snapshot::l1::l1_root(&l1, &config, &manifest)
        .await
        .unwrap();
    assert_eq!(l1_root, zk_root(5));
    let data = tmp.path().join("imported");
    let mut o = options(&data, &snap);
    o.l1_root = Some(l1_root);
    snapshot::import(&o).unwrap();
    let imported = open(&data.join(ZKSYNC));
    let audit = BatchAudit::read(&imported, 5).unwrap().unwrap();
    assert_eq!(audit.verdict, Verdict::Match, "{audit:?}");

    // The follower picks up at batch 6, in the same L1 transaction as batch
    // 5, and ends where the whole replay did.
    let report = follow_memory(&engine, &l1, &imported, &config, None).await;
    assert_eq!(report.batches_applied, 7);
    for n in 6..=12 {
        let a = BatchAudit::read(&imported, n).unwrap().unwrap();
        assert_eq!(
            a,
            BatchAudit::read(&whole, n).unwrap().unwrap(),
            "batch {n}"
        );
        assert_eq!(a.computed_root, format_word(&zk_root(n)), "batch {n}");
        assert_eq!(
            read_record(&imported, n).unwrap(),
            read_record(&whole, n).unwrap(),
            "batch {n}"
        );
    }
    for n in 5..=12 {
        assert_eq!(
            L1BatchRecord::read(&imported, n).unwrap(),
            L1BatchRecord::read(&whole, n).unwrap(),
            "batch {n}"
        );
    }
    assert_eq!(
        read_checkpoint(&imported).unwrap(),
        read_checkpoint(&whole).unwrap(),
        "root, next index, proven, executed, verified"
    );
    assert_eq!(
        BatchAudit::verified_batch(&imported).unwrap(),
        BatchAudit::verified_batch(&whole).unwrap()
    );
    assert_eq!(
        L1Cursor::read(&imported).unwrap(),
        L1Cursor::read(&whole).unwrap()
    );
    assert_eq!(leaves(&imported), leaves(&whole));
    // Below the snapshot the imported store holds no batch.
    assert!(read_record(&imported, 4).unwrap().is_none());

    // The API's answers: storage and proofs at the snapshot's batch and after
    // it, the default (verified) reads, batch records and sync status.
    let schema = |store: &Arc<Store>| {
        api::build_schema(vec![
            RollupHandle::new(ZKSYNC, RollupKind::Zksync, store.clone()).with_l1_chain_id(31337),
        ])
    };
    let (whole_api, imported_api) = (schema(&whole), schema(&imported));
    let ask = |query: String| {
        let (whole_api, imported_api) = (&whole_api, &imported_api);
        async move {
            let query = format!("{{ rollup(name: \"{ZKSYNC}\") {{ {query} }} }}");
            let mut answers = Vec::new();
            for api in [whole_api, imported_api] {
                answers.push(serde_json::to_value(api.execute(query.as_str()).await).unwrap());
            }
            assert!(answers[0]["errors"].is_null(), "{query}: {}", answers[0]);
            assert_eq!(answers[0], answers[1], "{query}");
            answers[0]["data"]["rollup"].clone()
        }
    };
    let writes = zk_fixture_writes();
    let mut asked = 0;
    for (address, key, _, _) in writes.iter().step_by(29) {
        for batch in [5u64, 8, 12] {
            let out = ask(format!(
                r#"s: storage(address: "{address}", key: "{key}", atBatch: {batch})
                   p: proof(address: "{address}", key: "{key}", atBatch: {batch}) {{
                     ... on ZksyncProof {{ root value leafIndex merklePath }} }}"#
            ))
            .await;
            assert_eq!(common::word(&out["p"]["root"]), zk_root(batch));
            // The fixture's value as of `batch`, when the fixture wrote it by then.
            if let Some((_, _, _, value)) = writes
                .iter()
                .rfind(|(a, k, n, _)| (a, k) == (address, key) && *n <= batch)
            {
                assert_eq!(
                    common::word(&out["s"]),
                    *value,
                    "{address} {key} at {batch}"
                );
                assert_eq!(common::word(&out["p"]["value"]), *value);
                asked += 1;
            }
        }
        // The default read is at the verified batch (12 on both).
        let out = ask(format!(r#"storage(address: "{address}", key: "{key}")"#)).await;
        let last = writes
            .iter()
            .rfind(|(a, k, _, _)| (a, k) == (address, key))
            .unwrap();
        assert_eq!(common::word(&out["storage"]), last.3);
    }
    assert!(asked > 30, "{asked} answers checked against the fixture");
    for n in 5..=12 {
        let out = ask(format!(
            "batch(number: {n}) {{ number computedRoot claimedRoot l1BlockNumber l1TransactionHash daMode blobCount formatVersion executed }}"
        ))
        .await;
        assert_eq!(common::word(&out["batch"]["computedRoot"]), zk_root(n));
    }
    let out = ask(
        "sync { lastAppliedBatch verifiedBatch lastProvenBatch lastExecutedBatch l1Cursor }".into(),
    )
    .await;
    assert_eq!(out["sync"]["verifiedBatch"], "0xc");
}

#[tokio::test]
async fn a_zksync_era_snapshot_is_checked_against_the_blockcommit_on_l1() {
    use alloy_primitives::{Address, Bytes, U256, address};
    const DIAMOND: Address = address!("32400084C286CF3E17e7B677ea9583e60a000324");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    {
        let store = Store::open(&src, ZKSYNC).unwrap();
        store
            .claim_rollup(zkreplay::chain::RollupKind::Zksync)
            .unwrap();
        crate::zksync::mainnet_genesis(&store);
        apply_zk(&store, 1..=12);
    }
    let era = tmp.path().join("era");
    era_snapshot(&src, &era);
    // L1 block 2 holds the BlockCommit of batch 12 with the fixture's root;
    // block 1 one of batch 11.
    let mut chain = memory_l1::Chain::default();
    for (batch, root) in [(11u64, zk_root(11)), (12, zk_root(12))] {
        chain.push(
            DIAMOND,
            vec![batch as u8],
            vec![],
            vec![(
                DIAMOND,
                vec![
                    zkreplay::rollup::zksync::events::BLOCK_COMMIT,
                    B256::from(U256::from(batch)),
                    root,
                    B256::repeat_byte(0xc0),
                ],
                Bytes::new(),
            )],
        );
    }
    let l1 = memory_l1::memory(chain);
    let config = zkreplay::chain::ChainConfig::parse(&format!(
        "name = \"{ZKSYNC}\"\nrollup = \"zksync\"\nl1_chain_id = 31337\nfirst_l1_block = 0\n[zksync]\ndiamond_proxy = \"{DIAMOND}\"\n"
    ))
    .unwrap();
    let at = |l1_block| snapshot::l1::CommitLog {
        batch: 12,
        l1_block,
        block_hash: None,
        transaction: None,
        l2_block: None,
    };
    let root = snapshot::l1::commit_root(&l1, &config, &at(2))
        .await
        .unwrap();
    assert_eq!(root, zk_root(12));
    // Block 1 has no commit of batch 12.
    assert!(matches!(
        snapshot::l1::commit_root(&l1, &config, &at(1)).await,
        Err(SnapshotError::L1(_))
    ));
    let data = tmp.path().join("data");
    let mut o = options(&data, &era);
    o.era_chain = Some(ZKSYNC.into());
    o.l1_root = Some(root);
    let report = snapshot::import(&o).unwrap();
    assert!(report.l1_checked);
    let store = Store::open(&data.join(ZKSYNC), ZKSYNC).unwrap();
    let audit = zkreplay::audit::BatchAudit::read(&store, 12)
        .unwrap()
        .unwrap();
    assert_eq!(audit.verdict, zkreplay::audit::Verdict::Match, "{audit:?}");
    drop(store);
    // L1 naming another root (batch 11's) refuses the snapshot.
    let refused = tmp.path().join("refused");
    let mut o = options(&refused, &era);
    o.era_chain = Some(ZKSYNC.into());
    o.l1_root = Some(zk_root(11));
    let err = snapshot::import(&o).unwrap_err();
    assert!(matches!(err, SnapshotError::L1RootMismatch { .. }), "{err}");
    assert_no_store(&refused);
}
