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
use zkreplay::rollup::zksync::compression::StateDiffs;
use zkreplay::rollup::zksync::genesis;
use zkreplay::rollup::zksync::state::{PlanInput, ZksyncState};
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

fn zk_inputs() -> Vec<PlanInput> {
    zk_json()["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let e = &b["expected"];
            let compressed = parse_bytes(e["compressed_state_diffs"].as_str().unwrap()).unwrap();
            PlanInput {
                batch_number: b["batch_number"].as_u64().unwrap(),
                claimed_root: Some(parse_word(e["root"].as_str().unwrap()).unwrap()),
                index_repeated_storage_changes: Some(
                    e["index_repeated_storage_changes"].as_u64().unwrap(),
                ),
                writes: StateDiffs::decode(&compressed).unwrap().into(),
            }
        })
        .collect()
}

/// ZKsync mainnet genesis (root checked against the published one).
fn zk_genesis(store: &Store) {
    let logs = genesis::load(&fixtures().join("zksync/genesis/InitialStateMainnet.json")).unwrap();
    let expected = common::read_json(&fixtures().join("zksync/genesis/expected_roots.json"));
    let root = parse_word(expected["mainnet"]["expected_root"].as_str().unwrap()).unwrap();
    ZksyncState::init_genesis(store, &genesis::leaves(&logs).unwrap(), Some(root)).unwrap();
}

/// Applies the fixture's batches with numbers in `range`; every root must
/// equal the fixture's (computed by an independent implementation).
fn apply_zk(store: &Store, range: std::ops::RangeInclusive<u64>) {
    let mut state = ZksyncState::open(store).unwrap();
    for input in zk_inputs()
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
    zk_genesis(&full);
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

// ------------------------------------------------------------------ tampering

/// A ZKsync store replayed to `batch` and its snapshot (small chunks).
fn zk_snapshot(dir: &Path, batch: u64) -> (SnapshotManifest, PathBuf) {
    let src = dir.join("src");
    {
        let store = Store::open(&src, ZKSYNC).unwrap();
        store
            .claim_rollup(zkreplay::chain::RollupKind::Zksync)
            .unwrap();
        zk_genesis(&store);
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
    for kill in 0..5 {
        let mut child = run(&data);
        let after = full.mul_f64(rng.random_range(0.05..0.95));
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
    println!("{interrupted} of 5 kills interrupted the import, {mid_build} while building");
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
    let mut dep = Vec::new();
    pb::bytes_field(&mut dep, 1, &[0u8; 64]);
    let mut deps = Vec::new();
    pb::bytes_field(&mut deps, 1, &dep);
    std::fs::write(
        out.join("snapshot_l1_batch_12_factory_deps.proto.gzip"),
        gzip(&deps),
    )
    .unwrap();
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
        zk_genesis(&store);
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
    for r in 0..2 {
        let (graphql, monitor) = (free_port(), free_port());
        let child = std::process::Command::new(bin)
            .arg("serve")
            .arg("--data-dir")
            .arg(tmp.path().join(format!("replica{r}")))
            .arg("--snapshot")
            .arg(&sources[r])
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

#[tokio::test(flavor = "multi_thread")]
async fn follow_continues_after_an_import_checked_against_l1() {
    use std::sync::Arc;
    use zkreplay::audit::{BatchAudit, Verdict};
    use zkreplay::follow::starknet::StarknetEngine;
    use zkreplay::follow::{FollowOptions, Follower, L1Cursor};
    use zkreplay::l1::BlockTag;

    for set in ["seed2_calldata", "seed1_blob"] {
        let l1 = memory_l1::memory(memory_l1::oracle_chain(set));
        let config = memory_l1::config();
        let engine = Arc::new(StarknetEngine::new(&config).unwrap());
        let sync = |store: Arc<Store>, to_block: Option<u64>| {
            let engine = engine.clone();
            let config = config.clone();
            let l1 = &l1;
            async move {
                let options = FollowOptions {
                    tag: BlockTag::Finalized,
                    to_block,
                    ..FollowOptions::default()
                };
                Follower::new(engine, l1, store, &config, &options)
                    .sync()
                    .await
                    .unwrap()
            }
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
        zk_genesis(&store);
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
