//! Issue 16, case 7: a damaged store is detected, never served.
//!
//! Stores are built from real chain data (Starknet Sepolia blocks 0-7 as the
//! feeder gateway published them, applied as `apply-updates` does; the ZKsync
//! Era mainnet genesis, whose root is the one L1 recorded), flushed to table
//! files and closed. Then one table file is damaged the way disks and careless
//! copies do it (cut in half; bytes flipped in the middle), and every way in
//! is tried: each open, `serve`, `follow`, `verify`, and the reads. The
//! expected values are the ones the blocks wrote, never values this code
//! computed: a damaged store may refuse, but it may never answer 0x0 (or any
//! other value) where the real value differs.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::B256;
use starknet_types_core::felt::Felt;
use zkreplay::api::{self, ApiLimits, AppState, RollupHandle, RollupKind};
use zkreplay::rollup::starknet::query::StarknetReader;
use zkreplay::rollup::zksync::genesis;
use zkreplay::rollup::zksync::state::ZksyncState;
use zkreplay::store::{Store, StoreError};

const STARKNET: &str = "starknet-sepolia";
const ZKSYNC: &str = "zksync-era-mainnet";

/// Every storage slot's final value after Sepolia blocks 0-7, as the blocks wrote it.
fn sepolia_final_storage(blocks: &[serde_json::Value]) -> Vec<(Felt, Felt, Felt)> {
    let mut last = std::collections::BTreeMap::new();
    for block in blocks {
        let diffs = block["state_diff"]["storage_diffs"].as_object().unwrap();
        for (address, writes) in diffs {
            for w in writes.as_array().unwrap() {
                last.insert(
                    (
                        common::felt(address),
                        common::felt(w["key"].as_str().unwrap()),
                    ),
                    common::felt(w["value"].as_str().unwrap()),
                );
            }
        }
    }
    last.into_iter().map(|((a, k), v)| (a, k, v)).collect()
}

/// Builds the Sepolia store at `dir`, flushes it to table files and closes it.
fn build_starknet(dir: &Path) -> Vec<(Felt, Felt, Felt)> {
    let (store, blocks) = common::sepolia_store(dir);
    store.flush().unwrap();
    drop(Arc::try_unwrap(store).ok().expect("the only handle"));
    let expected = sepolia_final_storage(&blocks);
    assert!(
        expected.iter().filter(|(_, _, v)| *v != Felt::ZERO).count() > 10,
        "the blocks write non-zero values"
    );
    expected
}

/// Builds the ZKsync Era mainnet genesis store at `dir`; returns its leaves.
fn build_zksync(dir: &Path) -> Vec<(B256, u64, B256)> {
    let fixtures = common::fixtures().join("zksync/genesis");
    let logs = genesis::load(&fixtures.join("InitialStateMainnet.json")).unwrap();
    let roots = common::read_json(&fixtures.join("expected_roots.json"));
    let expected: B256 = roots["mainnet"]["expected_root"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let leaves = genesis::leaves(&logs).unwrap();
    let store = Store::open(dir, ZKSYNC).unwrap();
    store
        .claim_rollup(zkreplay::chain::RollupKind::Zksync)
        .unwrap();
    ZksyncState::init_genesis(&store, &leaves, Some(expected)).unwrap();
    store.flush().unwrap();
    drop(store);
    leaves
}

/// The largest table file of `column` (the one most answers come from).
fn table_file_of(dir: &Path, column: &str) -> PathBuf {
    let store = Store::open_read_only(dir).unwrap();
    let file = store
        .live_files()
        .unwrap()
        .into_iter()
        .filter(|f| f.column_family_name == column)
        .max_by_key(|f| f.size)
        .unwrap_or_else(|| panic!("column {column} has a table file"));
    dir.join(file.name.trim_start_matches('/'))
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

fn truncate_half(path: &Path) {
    let len = std::fs::metadata(path).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_len(len / 2).unwrap();
}

/// Flips 16 bytes in the middle of the file (inside a data block for any
/// file of more than one block): the size stays the same.
fn flip_middle(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 16] {
        *b ^= 0xa5;
    }
    std::fs::write(path, bytes).unwrap();
}

/// The message must say the store is damaged and name the file, and must not
/// be one of the misleading answers issue 16 saw.
fn assert_names_damage(message: &str, file: &str) {
    assert!(
        message.contains(file),
        "the error names the damaged file {file}: {message}"
    );
    assert!(message.contains("damaged"), "says damaged: {message}");
    for misleading in ["no manifest", "not a zkreplay store", "not applied yet"] {
        assert!(
            !message.contains(misleading),
            "misleading message {misleading:?}: {message}"
        );
    }
}

fn zkreplay() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zkreplay"))
}

/// Runs `cmd` to its end (at most 60 s) and returns (exit code, stdout + stderr).
fn run(mut cmd: Command) -> (i32, String) {
    let started = Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{cmd:?} did not stop within 60 s: it started on a damaged store");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn verify_cli(dir: &Path, full: bool) -> (i32, String) {
    let mut cmd = zkreplay();
    cmd.arg("verify").arg("--data-dir").arg(dir);
    if full {
        cmd.arg("--full");
    }
    run(cmd)
}

fn serve_cli(dir: &Path) -> (i32, String) {
    let mut cmd = zkreplay();
    cmd.arg("serve")
        .arg("--data-dir")
        .arg(dir)
        .args([
            "--graphql-addr",
            "127.0.0.1:0",
            "--monitor-addr",
            "127.0.0.1:0",
        ])
        .args(["--chains-dir", "chains"]);
    run(cmd)
}

/// `follow` opens (and checks) the store before it contacts L1; the RPC URL
/// is a closed loopback port.
fn follow_cli(parent: &Path, chain: &str) -> (i32, String) {
    let mut cmd = zkreplay();
    cmd.arg("follow")
        .arg("--chain")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("chains/{chain}.toml")))
        .args([
            "--rpc-url",
            "http://127.0.0.1:9",
            "--l1-trust-endpoint-finalized",
        ])
        .arg("--data-dir")
        .arg(parent);
    run(cmd)
}

fn open_errors(dir: &Path, chain: &str) -> Vec<(&'static str, StoreError)> {
    let scratch = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    if let Err(e) = Store::open(dir, chain) {
        out.push(("open", e));
    }
    if let Err(e) = Store::open_existing(dir) {
        out.push(("open_existing", e));
    }
    if let Err(e) = Store::open_read_only(dir) {
        out.push(("open_read_only", e));
    }
    if let Err(e) = Store::open_secondary(dir, scratch.path()) {
        out.push(("open_secondary", e));
    }
    out
}

#[test]
fn intact_stores_verify_clean() {
    let parent = tempfile::tempdir().unwrap();
    build_starknet(&parent.path().join(STARKNET));
    build_zksync(&parent.path().join(ZKSYNC));
    let (code, out) = verify_cli(parent.path(), true);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("every store is intact (2 checked)"), "{out}");
    // Starknet: 8 batches, each root re-derived from the stored leaves and
    // equal to its record and to the audited root published by the feeder.
    assert!(
        out.contains("8 batch roots re-derived from the leaves, 8 matched"),
        "{out}"
    );
    // ZKsync: the genesis root, re-derived, is the one L1 recorded.
    assert!(
        out.contains("1 batch roots re-derived from the leaves, 1 matched"),
        "{out}"
    );
    // Both stores pass the open check of `serve`.
    for (dir, kind) in [
        (STARKNET, zkreplay::chain::RollupKind::Starknet),
        (ZKSYNC, zkreplay::chain::RollupKind::Zksync),
    ] {
        let scratch = tempfile::tempdir().unwrap();
        let (store, _) = Store::open_secondary(&parent.path().join(dir), scratch.path()).unwrap();
        let head = zkreplay::store::verify::check_head(&store, kind).unwrap();
        assert!(head.batch.is_some(), "{dir}: {head:?}");
        if kind == zkreplay::chain::RollupKind::Starknet {
            assert!(head.leaves_checked > 0, "{dir}: {head:?}");
        }
    }
}

#[test]
fn truncated_starknet_table_file_is_refused_everywhere_naming_the_file() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join(STARKNET);
    build_starknet(&dir);
    let sst = table_file_of(&dir, "history");
    let name = file_name(&sst);
    truncate_half(&sst);

    let errors = open_errors(&dir, STARKNET);
    assert_eq!(
        errors.iter().map(|(how, _)| *how).collect::<Vec<_>>(),
        ["open", "open_existing", "open_read_only", "open_secondary"],
        "every open refuses"
    );
    for (how, e) in &errors {
        assert!(e.is_damage(), "{how}: {e}");
        assert_names_damage(&e.to_string(), &name);
    }

    let (code, out) = verify_cli(&dir, false);
    assert_eq!(code, 1, "{out}");
    assert_names_damage(&out, &name);
    assert!(out.contains("DAMAGED"), "{out}");

    let (code, out) = serve_cli(&dir);
    assert_ne!(code, 0, "serve refuses: {out}");
    assert_names_damage(&out, &name);

    let (code, out) = follow_cli(parent.path(), STARKNET);
    assert_ne!(code, 0, "follow refuses: {out}");
    assert_names_damage(&out, &name);

    let (code, out) = run({
        let mut cmd = zkreplay();
        cmd.arg("status").arg("--data-dir").arg(&dir);
        cmd
    });
    assert_ne!(code, 0, "status refuses: {out}");
    assert_names_damage(&out, &name);
}

#[test]
fn flipped_bytes_in_a_starknet_table_file_never_yield_a_wrong_value() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join(STARKNET);
    let expected = build_starknet(&dir);
    let sst = table_file_of(&dir, "history");
    let name = file_name(&sst);
    flip_middle(&sst);

    // `verify` reads every block: it finds the file.
    let (code, out) = verify_cli(&dir, false);
    assert_eq!(code, 1, "{out}");
    assert_names_damage(&out, &name);

    // Where an open still succeeds (the flip is in a data block, which open
    // does not read), every read returns the real value or an error naming
    // the damage; after the first damage the store refuses every read.
    let scratch = tempfile::tempdir().unwrap();
    let store = match Store::open_secondary(&dir, scratch.path()) {
        Ok((store, _)) => Arc::new(store),
        Err(e) => {
            // The flip hit an index or meta block: refused at open.
            assert_names_damage(&e.to_string(), &name);
            return;
        }
    };
    let reader = StarknetReader::new(&store);
    let mut refused = 0;
    for (address, key, value) in &expected {
        match reader.storage_at(address, key, 7) {
            Ok(found) => assert_eq!(
                found, *value,
                "storage {address:#x}/{key:#x}: a damaged store answered a wrong value"
            ),
            Err(e) => {
                assert_names_damage(&e.to_string(), &name);
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "some read met the damaged block");
    assert!(store.damage_errors() > 0);
    assert!(store.damage().unwrap().contains(&name));

    // The API: the same read is a clear error, `/metrics` counts it and
    // `/ready` is unhealthy, naming the file.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let schema = api::build_schema(vec![RollupHandle::new(
            STARKNET,
            RollupKind::Starknet,
            store.clone(),
        )]);
        let (graphql, monitor, _task) = api::serve(
            AppState::new(schema, ApiLimits::default()),
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
            std::future::pending(),
        )
        .await
        .unwrap();
        let client = reqwest::Client::new();
        let (address, key, _) = expected.iter().find(|(_, _, v)| *v != Felt::ZERO).unwrap();
        let body: serde_json::Value = client
            .post(format!("http://{graphql}/graphql"))
            .json(&serde_json::json!({
                "query": format!(
                    "{{ rollup(name: \"{STARKNET}\") {{ storage(address: \"{address:#x}\", key: \"{key:#x}\", atBatch: 7) }} }}"
                )
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let text = body.to_string();
        assert!(body["errors"].is_array(), "{text}");
        assert!(
            text.contains("damaged") && text.contains(&name),
            "the API says what is wrong: {text}"
        );
        assert!(!text.contains("\"0x0\""), "{text}");
        let ready = client
            .get(format!("http://{monitor}/ready"))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status().as_u16(), 503);
        let reason = ready.text().await.unwrap();
        assert!(reason.contains(&name), "{reason}");
        let metrics = client
            .get(format!("http://{monitor}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let line = metrics
            .lines()
            .find(|l| l.starts_with("zkreplay_store_damage_errors_total{rollup=\"starknet-sepolia\"}"))
            .unwrap_or_else(|| panic!("{metrics}"));
        let count: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(count > 0, "{line}");
    });
}

#[test]
fn damaged_zksync_table_files_are_refused_or_reported() {
    // Cut in half: refused at open, by `serve`, `follow` and `verify`.
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join(ZKSYNC);
    build_zksync(&dir);
    let sst = table_file_of(&dir, "nodes");
    let name = file_name(&sst);
    truncate_half(&sst);
    for (how, e) in open_errors(&dir, ZKSYNC) {
        assert!(e.is_damage(), "{how}: {e}");
        assert_names_damage(&e.to_string(), &name);
    }
    let (code, out) = verify_cli(&dir, true);
    assert_eq!(code, 1, "{out}");
    assert_names_damage(&out, &name);
    let (code, out) = serve_cli(&dir);
    assert_ne!(code, 0, "{out}");
    assert_names_damage(&out, &name);
    let (code, out) = follow_cli(parent.path(), ZKSYNC);
    assert_ne!(code, 0, "{out}");
    assert_names_damage(&out, &name);

    // Bytes flipped in the leaves' history: `verify` names the file.
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join(ZKSYNC);
    build_zksync(&dir);
    let sst = table_file_of(&dir, "history");
    let name = file_name(&sst);
    flip_middle(&sst);
    let (code, out) = verify_cli(&dir, false);
    assert_eq!(code, 1, "{out}");
    assert_names_damage(&out, &name);
}

/// A plain HTTP GET on loopback: (status, body).
fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// Damage off the paths the open check walks (the current-values column,
/// which neither the open check nor the API reads): `serve` starts, its
/// background scrub finds the block within seconds, and `/ready` turns
/// unhealthy naming the file.
#[test]
fn serve_scrub_finds_damage_the_open_check_does_not_walk() {
    use std::io::BufRead;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join(STARKNET);
    build_starknet(&dir);
    let sst = table_file_of(&dir, "leaves");
    let name = file_name(&sst);
    flip_middle(&sst);
    let (code, out) = verify_cli(&dir, false);
    assert_eq!(code, 1, "{out}");
    assert_names_damage(&out, &name);
    let mut child = zkreplay()
        .arg("serve")
        .arg("--data-dir")
        .arg(&dir)
        .args([
            "--graphql-addr",
            "127.0.0.1:0",
            "--monitor-addr",
            "127.0.0.1:0",
        ])
        .env("ZKREPLAY_LOG_FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read the log on a thread (the whole of it, for the failure message).
    let log = Arc::new(std::sync::Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let log = log.clone();
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(m) = v["fields"]["monitor"].as_str()
                {
                    let _ = tx.send(m.to_owned());
                }
                log.lock().unwrap().push_str(&(line + "\n"));
            }
        });
    }
    let monitor = rx.recv_timeout(Duration::from_secs(30)).ok();
    let log = move || log.lock().unwrap().clone();
    let monitor = monitor.unwrap_or_else(|| panic!("serve started: {}", log()));
    let started = Instant::now();
    let (status, body) = loop {
        let (status, body) = http_get(&monitor, "/ready");
        if status != 200 || started.elapsed() > Duration::from_secs(20) {
            break (status, body);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 503, "/ready: {body}\nserve's log:\n{}", log());
    assert_names_damage(&body, &name);
    println!(
        "serve started; after {:?} /ready said {status}: {body}",
        started.elapsed()
    );
}

/// Damage RocksDB cannot see (a value rewritten with a valid checksum, as a
/// bug or a hand edit would): `verify` re-derives the roots from the stored
/// leaves and names the first batch whose root no longer matches the root
/// the feeder published; `--full` names the trie node that no longer hashes
/// to its key.
#[test]
fn verify_finds_values_rewritten_behind_rocksdb() {
    use zkreplay::store::{Column, StoreBatch, keys};
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join(STARKNET);
    let expected = build_starknet(&dir);
    let store = Store::open(&dir, STARKNET).unwrap();
    // One storage value as of the batch that wrote it, changed by one.
    let history = store
        .scan_prefix(Column::History, &[keys::LEAF_STARKNET_STORAGE])
        .unwrap();
    let (key, value) = history
        .iter()
        .find(|(_, v)| v.len() == 32)
        .cloned()
        .unwrap();
    let batch = u64::from_be_bytes(key[key.len() - 8..].try_into().unwrap());
    let mut changed = value.clone();
    changed[31] ^= 1;
    // A stored trie node with one byte changed.
    let (node_key, node) = store
        .scan_from(Column::Nodes, &[keys::NODE_STARKNET_PEDERSEN], 1)
        .unwrap()
        .remove(0);
    let mut bad_node = node.clone();
    bad_node[0] ^= 1;
    let mut write = StoreBatch::default();
    write.put(Column::History, key, changed);
    write.put(Column::Nodes, node_key.clone(), bad_node);
    store.commit(write).unwrap();
    drop(store);
    assert!(!expected.is_empty());

    let (code, out) = verify_cli(&dir, true);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "batch {batch}: roots re-derived from the stored leaves"
        )),
        "names the batch whose root no longer re-derives: {out}"
    );
    assert!(
        out.contains(&format!(
            "node 0x{} does not hash",
            hex::encode(&node_key[1..])
        )),
        "names the node: {out}"
    );
}

/// The ZKsync replay beyond genesis: 12 batches whose roots come from Matter
/// Labs' published crates (`multi-batch/vectors-seed1.json`) on the mainnet
/// genesis. `verify` re-derives all 13 roots from the stored leaves; with one
/// leaf value rewritten at batch 5, it names batch 5 (and every later root,
/// which builds on it).
#[test]
fn verify_rederives_zksync_batches_from_their_leaves() {
    use zkreplay::hexfmt::parse_bytes;
    use zkreplay::rollup::zksync::compression::StateDiffs;
    use zkreplay::rollup::zksync::state::PlanInput;
    use zkreplay::store::{Column, StoreBatch, keys};
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join(ZKSYNC);
    build_zksync(&dir);
    let vectors =
        common::read_json(&common::fixtures().join("zksync/multi-batch/vectors-seed1.json"));
    {
        let store = Store::open(&dir, ZKSYNC).unwrap();
        let mut state = ZksyncState::open(&store).unwrap();
        for b in vectors["batches"].as_array().unwrap() {
            let e = &b["expected"];
            let diffs = StateDiffs::decode(
                &parse_bytes(e["compressed_state_diffs"].as_str().unwrap()).unwrap(),
            )
            .unwrap();
            let applied = state
                .apply_and_commit(&PlanInput {
                    batch_number: b["batch_number"].as_u64().unwrap(),
                    claimed_root: Some(e["root"].as_str().unwrap().parse().unwrap()),
                    index_repeated_storage_changes: Some(
                        e["index_repeated_storage_changes"].as_u64().unwrap(),
                    ),
                    writes: diffs.into(),
                })
                .unwrap();
            assert_eq!(applied.record.matches, Some(true));
        }
        store.flush().unwrap();
    }
    let (code, out) = verify_cli(&dir, true);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("13 batch roots re-derived from the leaves, 13 matched"),
        "{out}"
    );

    // Rewrite one leaf value written by batch 5 (a valid RocksDB write).
    let store = Store::open(&dir, ZKSYNC).unwrap();
    let (key, mut value) = store
        .scan_prefix(Column::History, &[keys::LEAF_ZKSYNC_BY_KEY])
        .unwrap()
        .into_iter()
        .find(|(k, _)| k[k.len() - 8..] == 5u64.to_be_bytes())
        .unwrap();
    value[39] ^= 1;
    let mut write = StoreBatch::default();
    write.put(Column::History, key, value);
    store.commit(write).unwrap();
    drop(store);
    let (code, out) = verify_cli(&dir, false);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("batch 5: the root re-derived from the stored leaves"),
        "{out}"
    );
    assert!(
        !out.contains("batch 4: "),
        "batches before 5 still re-derive: {out}"
    );
}
