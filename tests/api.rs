//! The GraphQL API over a store rebuilt from real Sepolia blocks: values equal
//! what the blocks wrote, proofs verify against the published roots using only
//! the returned JSON, and abusive requests are refused while the server keeps
//! serving.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde_json::{Value, json};
use starknet_types_core::felt::Felt;
use zkreplay::api::{self, AppState, RollupHandle, RollupKind};
use zkreplay::rollup::starknet::feeder::parse_state_update;
use zkreplay::rollup::starknet::hash::{pedersen, poseidon_many};
use zkreplay::rollup::starknet::state::{GlobalRootRule, StarknetState};
use zkreplay::store::Store;

const ETH: &str = "0x49d36570d4e46f48e99674bd3fcc84644ddd6b96f7c741b1562b82f9e004dc7";

/// Replays Sepolia blocks 0-7 with audits (as `apply-updates` does) and returns the blocks' JSON.
fn sepolia_store(dir: &std::path::Path) -> (Arc<Store>, Vec<Value>) {
    let store = Store::open(dir, "starknet-sepolia").unwrap();
    let mut blocks = Vec::new();
    for i in 0..8 {
        let path = common::fixtures().join(format!("starknet/sepolia-genesis-feeder/{i}.json"));
        // Applied in-process exactly as `apply-updates` does: roots, audit, one commit.
        let update = parse_state_update(&std::fs::read(&path).unwrap()).unwrap();
        let state = StarknetState::new(&store);
        let (roots, mut batch) = state.apply(&update.diff, GlobalRootRule::PreV0_14).unwrap();
        let computed = format!("{:#x}", roots.global_root);
        let claimed = update.new_root.as_ref().map(zkreplay::hexfmt::format_word);
        let audit = zkreplay::audit::BatchAudit::judge(roots.batch, claimed, computed, Vec::new());
        audit.write(&store, &mut batch).unwrap();
        store.commit(batch).unwrap();
        blocks.push(common::read_json(&path));
    }
    (Arc::new(store), blocks)
}

fn schema(store: Arc<Store>) -> api::ApiSchema {
    api::build_schema(vec![RollupHandle {
        name: "starknet-sepolia".into(),
        kind: RollupKind::Starknet,
        store,
    }])
}

async fn run(schema: &api::ApiSchema, query: &str) -> Value {
    serde_json::to_value(schema.execute(query).await).unwrap()
}

fn storage_write(block: &Value, contract: &str, key: &str) -> Option<String> {
    block["state_diff"]["storage_diffs"][contract]
        .as_array()?
        .iter()
        .find(|e| {
            Felt::from_hex(e["key"].as_str().unwrap()).unwrap() == Felt::from_hex(key).unwrap()
        })
        .map(|e| e["value"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn schema_file_matches_the_served_schema() {
    let served = api::build_schema(Vec::new()).sdl();
    let file = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/schema.graphql"
    ))
    .unwrap();
    assert!(
        served == file,
        "schemas/schema.graphql is stale: run `cargo run -- schema > schemas/schema.graphql`"
    );
}

#[tokio::test]
async fn state_queries_at_several_batches_equal_the_blocks_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (store, blocks) = sepolia_store(dir.path());
    let schema = schema(store);

    // A real 1 ETH transfer: block 6 writes this slot of the ETH contract (the slot
    // literal comes from the chain data, not from our slot derivation).
    let account = "0x43abaa073c768ebf039c0c4f46db9acc39e9ec165690418060a652aab39e7d8";
    let slot = "0x5b5882587b3ff6d12140843c6db4a845fe568f0e7e0d028cb4fff6b5e988eff";
    let written = storage_write(&blocks[6], ETH, slot).expect("block 6 writes the balance");
    for (batch, expected) in [
        (5u64, "0x0".to_owned()),
        (6, written.clone()),
        (7, written.clone()),
    ] {
        let q = format!(
            r#"{{ rollup(name: "starknet-sepolia") {{
                eth: balance(token: "ETH", account: "{account}", atBatch: {batch})
                raw: storage(address: "{ETH}", key: "{slot}", atBatch: {batch}) }} }}"#
        );
        let out = run(&schema, &q).await;
        let expected_balance = format!("{:#x}", Felt::from_hex(&expected).unwrap());
        assert_eq!(
            out["data"]["rollup"]["eth"], expected_balance,
            "batch {batch}: {out}"
        );
        assert_eq!(
            out["data"]["rollup"]["raw"], expected_balance,
            "batch {batch}: {out}"
        );
    }
    // Nonces and class hashes as published.
    for (n, block) in blocks.iter().enumerate() {
        for (address, nonce) in block["state_diff"]["nonces"].as_object().unwrap() {
            let q = format!(
                r#"{{ rollup(name: "starknet-sepolia") {{ nonce(address: "{address}", atBatch: {n}) }} }}"#
            );
            assert_eq!(run(&schema, &q).await["data"]["rollup"]["nonce"], *nonce);
        }
        for deployed in block["state_diff"]["deployed_contracts"]
            .as_array()
            .unwrap()
        {
            let address = deployed["address"].as_str().unwrap();
            let q = format!(
                r#"{{ rollup(name: "starknet-sepolia") {{ classHash(address: "{address}", atBatch: {n}) }} }}"#
            );
            assert_eq!(
                run(&schema, &q).await["data"]["rollup"]["classHash"],
                deployed["class_hash"]
            );
        }
    }
    // Default batch = last verified = 7; batches and verdicts as audited.
    let out = run(
        &schema,
        r#"{ rollup(name: "starknet-sepolia") { sync { lastAppliedBatch verifiedBatch }
              batches(first: 3) { edges { node { number verdict claimedRoot computedRoot } } pageInfo { hasNextPage endCursor } }
              findings { edges { node { number } } } } }"#,
    )
    .await;
    let rollup = &out["data"]["rollup"];
    assert_eq!(rollup["sync"]["verifiedBatch"], "0x7", "{out}");
    let edges = rollup["batches"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 3);
    for (n, edge) in edges.iter().enumerate() {
        assert_eq!(edge["node"]["verdict"], "MATCH");
        assert_eq!(edge["node"]["claimedRoot"], blocks[n]["new_root"]);
        assert_eq!(edge["node"]["computedRoot"], blocks[n]["new_root"]);
    }
    assert_eq!(rollup["batches"]["pageInfo"]["hasNextPage"], true);
    assert!(rollup["findings"]["edges"].as_array().unwrap().is_empty());
    let cursor = rollup["batches"]["pageInfo"]["endCursor"].as_str().unwrap();
    let q = format!(
        r#"{{ rollup(name: "starknet-sepolia") {{ batches(first: 100, after: "{cursor}") {{ edges {{ node {{ number }} }} }} }} }}"#
    );
    let rest = run(&schema, &q).await;
    assert_eq!(
        rest["data"]["rollup"]["batches"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        5,
        "{rest}"
    );
}

/// A client-side verifier that uses only the JSON returned by `proof`.
fn verify_proof_json(proof: &Value, published_root: &str) -> bool {
    let f = |v: &Value| Felt::from_hex(v.as_str().unwrap()).unwrap();
    let walk = |root: Felt, key: Felt, value: Felt, nodes: &Vec<Value>| -> bool {
        let bits: Vec<bool> = key.to_bits_be()[5..].to_vec();
        let (mut depth, mut expected) = (0usize, root);
        for (i, node) in nodes.iter().enumerate() {
            if node["left"].is_string() {
                let (l, r) = (f(&node["left"]), f(&node["right"]));
                if pedersen(&l, &r) != expected {
                    return false;
                }
                expected = if bits[depth] { r } else { l };
                depth += 1;
            } else {
                let (child, path, len) = (
                    f(&node["child"]),
                    f(&node["path"]),
                    node["length"].as_u64().unwrap() as usize,
                );
                if pedersen(&child, &path) + Felt::from(len as u64) != expected {
                    return false;
                }
                if bits[depth..depth + len] != path.to_bits_be()[256 - len..] {
                    return value == Felt::ZERO && i + 1 == nodes.len();
                }
                depth += len;
                expected = child;
            }
        }
        if nodes.is_empty() {
            root == Felt::ZERO && value == Felt::ZERO
        } else {
            depth == 251 && expected == value
        }
    };
    let (contracts_root, classes_root) = (f(&proof["contractsRoot"]), f(&proof["classesRoot"]));
    let global = match proof["globalRootFormula"].as_str().unwrap() {
        "POSEIDON" => poseidon_many(&[
            Felt::from_bytes_be_slice(b"STARKNET_STATE_V0"),
            contracts_root,
            classes_root,
        ]),
        "CONTRACTS_ROOT" if classes_root == Felt::ZERO => contracts_root,
        "EMPTY" => Felt::ZERO,
        _ => return false,
    };
    let leaf = pedersen(
        &pedersen(
            &pedersen(&f(&proof["classHash"]), &f(&proof["storageRoot"])),
            &f(&proof["nonce"]),
        ),
        &Felt::ZERO,
    );
    global == Felt::from_hex(published_root).unwrap()
        && walk(
            f(&proof["storageRoot"]),
            f(&proof["key"]),
            f(&proof["value"]),
            proof["storageProof"].as_array().unwrap(),
        )
        && walk(
            contracts_root,
            f(&proof["address"]),
            leaf,
            proof["contractProof"].as_array().unwrap(),
        )
}

#[tokio::test]
async fn proofs_verify_with_only_the_returned_json() {
    let dir = tempfile::tempdir().unwrap();
    let (store, blocks) = sepolia_store(dir.path());
    let schema = schema(store);
    let slot = "0x5b5882587b3ff6d12140843c6db4a845fe568f0e7e0d028cb4fff6b5e988eff";
    for batch in [3u64, 6, 7] {
        let q = format!(
            r#"{{ rollup(name: "starknet-sepolia") {{ proof(address: "{ETH}", key: "{slot}", atBatch: {batch}) {{
                address key value globalRoot globalRootFormula contractsRoot classesRoot classHash nonce storageRoot
                contractProof {{ left right child path length }} storageProof {{ left right child path length }} }} }} }}"#
        );
        let out = run(&schema, &q).await;
        let proof = &out["data"]["rollup"]["proof"];
        let published = blocks[batch as usize]["new_root"].as_str().unwrap();
        assert!(verify_proof_json(proof, published), "batch {batch}: {out}");
        let mut forged = proof.clone();
        forged["value"] = json!("0x1234");
        assert!(!verify_proof_json(&forged, published));
    }
}

fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // The server may refuse a huge body before reading it all; that is the point.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abusive_requests_are_refused_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = sepolia_store(dir.path());
    let state = AppState {
        schema: schema(store),
        metrics: Default::default(),
        ready: Arc::new(AtomicBool::new(true)),
        graphiql_assets: None,
        followers: Vec::new(),
    };
    let (graphql, monitor, _task) = api::serve(
        state,
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
        std::future::pending(),
    )
    .await
    .unwrap();
    let good = json!({ "query": format!(r#"{{ rollup(name: "starknet-sepolia") {{ storage(address: "{ETH}", key: "0x5b5882587b3ff6d12140843c6db4a845fe568f0e7e0d028cb4fff6b5e988eff") }} }}"#) });
    let good = serde_json::to_vec(&good).unwrap();
    let cases: Vec<(&str, Vec<u8>, Box<dyn Fn(u16, &str) -> bool + Send>)> = vec![
        (
            "50-level nested query",
            serde_json::to_vec(&json!({ "query": format!("{{ __schema {{ types {{ {} name {} }} }} }}", "ofType { ".repeat(48), "}".repeat(48)) })).unwrap(),
            // The parser's recursion guard (32) fires before the depth limit (12).
            Box::new(|_, body: &str| body.contains("nested too deep") || body.contains("recursion depth")),
        ),
        (
            "13-level query (over the depth limit of 12)",
            serde_json::to_vec(&json!({ "query": format!("{{ __schema {{ types {{ {} name {} }} }} }}", "ofType { ".repeat(11), "}".repeat(11)) })).unwrap(),
            Box::new(|_, body: &str| body.contains("nested too deep")),
        ),
        (
            "first: 1000000",
            serde_json::to_vec(&json!({ "query": r#"{ rollup(name: "starknet-sepolia") { batches(first: 1000000) { edges { cursor } } } }"# })).unwrap(),
            Box::new(|_, body: &str| body.contains("errors") && (body.contains("complex") || body.contains("first must be"))),
        ),
        ("5 MiB body", vec![b' '; 5 << 20], Box::new(|status, _| status == 413)),
        (
            "100 batched queries",
            serde_json::to_vec(&vec![json!({ "query": "{ rollups { name } }" }); 100]).unwrap(),
            Box::new(|status, body: &str| status == 400 && body.contains("at most 10")),
        ),
        (
            "invalid hex",
            serde_json::to_vec(&json!({ "query": r#"{ rollup(name: "starknet-sepolia") { storage(address: "0xzz", key: "0x1") } }"# })).unwrap(),
            Box::new(|_, body: &str| body.contains("not a hex number")),
        ),
        (
            "felt out of range",
            serde_json::to_vec(&json!({ "query": format!(r#"{{ rollup(name: "starknet-sepolia") {{ storage(address: "0x{}", key: "0x1") }} }}"#, "f".repeat(64)) })).unwrap(),
            Box::new(|_, body: &str| body.contains("not below the Stark prime")),
        ),
        (
            "unknown rollup",
            serde_json::to_vec(&json!({ "query": r#"{ rollup(name: "nope") { name } }"# })).unwrap(),
            Box::new(|_, body: &str| body.contains("unknown rollup")),
        ),
        (
            "batch not applied",
            serde_json::to_vec(&json!({ "query": r#"{ rollup(name: "starknet-sepolia") { storage(address: "0x1", key: "0x1", atBatch: 99) } }"# })).unwrap(),
            Box::new(|_, body: &str| body.contains("not applied yet")),
        ),
        ("not JSON", b"{{{".to_vec(), Box::new(|status, _| status == 400)),
    ];
    for (name, body, accept) in cases {
        let (status, response) =
            tokio::task::spawn_blocking(move || http(graphql, "POST", "/graphql", &body))
                .await
                .unwrap();
        assert!(
            status != 500 && accept(status, &response),
            "{name}: status {status}, body {response}"
        );
        // Other clients are still served after every abusive request.
        let good = good.clone();
        let (status, response) =
            tokio::task::spawn_blocking(move || http(graphql, "POST", "/graphql", &good))
                .await
                .unwrap();
        assert_eq!(status, 200, "after {name}: {response}");
        assert!(
            response.contains("0xde0b6b3a7640000"),
            "after {name}: {response}"
        );
    }
    let (status, body) = tokio::task::spawn_blocking(move || http(monitor, "GET", "/metrics", b""))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains("zkreplay_graphql_requests_total")
            && body.contains("zkreplay_graphql_rejected_total 2"),
        "{body}"
    );
    let (status, _) = tokio::task::spawn_blocking(move || http(monitor, "GET", "/health", b""))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let (status, _) = tokio::task::spawn_blocking(move || http(monitor, "GET", "/ready", b""))
        .await
        .unwrap();
    assert_eq!(status, 200);
}
