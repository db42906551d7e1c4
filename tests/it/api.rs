//! The GraphQL API over a store rebuilt from real Sepolia blocks: values equal
//! what the blocks wrote, proofs verify against the published roots using only
//! the returned JSON, and abusive requests are refused while the server keeps
//! serving.

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use serde_json::{Value, json};
use starknet_types_core::felt::Felt;
use zkreplay::api::{self, AppState, RollupHandle, RollupKind};
use zkreplay::rollup::starknet::hash::{pedersen, poseidon_many};
use zkreplay::store::Store;

const ETH: &str = "0x49d36570d4e46f48e99674bd3fcc84644ddd6b96f7c741b1562b82f9e004dc7";

fn schema(store: Arc<Store>) -> api::ApiSchema {
    api::build_schema(vec![
        RollupHandle::new("starknet-sepolia", RollupKind::Starknet, store)
            .with_l1_chain_id(11155111),
    ])
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
    let (store, blocks) = common::sepolia_store(dir.path());
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
    let (store, blocks) = common::sepolia_store(dir.path());
    let schema = schema(store);
    let slot = "0x5b5882587b3ff6d12140843c6db4a845fe568f0e7e0d028cb4fff6b5e988eff";
    for batch in [3u64, 6, 7] {
        let q = format!(
            r#"{{ rollup(name: "starknet-sepolia") {{ proof(address: "{ETH}", key: "{slot}", atBatch: {batch}) {{ ... on StarknetProof {{
                address key value globalRoot globalRootFormula contractsRoot classesRoot classHash nonce storageRoot
                contractProof {{ left right child path length }} storageProof {{ left right child path length }} }} }} }} }}"#
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
    let (store, _) = common::sepolia_store(dir.path());
    let state = AppState::new(schema(store), Default::default());
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
    type Expect = Box<dyn Fn(u16, &str) -> bool + Send>;
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        (
            "50-level nested query",
            serde_json::to_vec(&json!({ "query": format!("{{ __schema {{ types {{ {} name {} }} }} }}", "ofType { ".repeat(48), "}".repeat(48)) })).unwrap(),
            Box::new(|status, body: &str| status == 400 && body.contains("nests fields 51 deep") && body.contains("DEPTH_LIMIT")),
        ),
        (
            "17-level query (over the depth limit of 16)",
            serde_json::to_vec(&json!({ "query": format!("{{ __schema {{ types {{ {} name {} }} }} }}", "ofType { ".repeat(14), "}".repeat(14)) })).unwrap(),
            Box::new(|status, body: &str| status == 400 && body.contains("nests fields 17 deep") && body.contains("DEPTH_LIMIT")),
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
    // Refused by a limit before execution: the two nested queries (depth),
    // the 100-query batch and the body that is not JSON.
    assert!(
        body.contains("zkreplay_graphql_requests_total")
            && body.contains("zkreplay_graphql_rejected_total 4"),
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

// ---------------------------------------------------------------------------
// ZKsync: the real Era mainnet genesis plus a few batches applied with the engine.

use alloy_primitives::{Address, B256, U256};
use blake2::{Blake2s256, Digest};
use zkreplay::follow::engine::BatchSummary;
use zkreplay::follow::{DaMode, FollowStatus, L1BatchRecord, L1Cursor};
use zkreplay::rollup::zksync::compression::ValueOp;
use zkreplay::rollup::zksync::decode::Writes;
use zkreplay::rollup::zksync::genesis;
use zkreplay::rollup::zksync::query::{L2_BASE_TOKEN, NONCE_HOLDER, mapping_slot};
use zkreplay::rollup::zksync::state::{PlanInput, ZksyncState};
use zkreplay::rollup::zksync::{
    compression::InitialWrite, compression::RepeatedWrite, derived_key,
};
use zkreplay::store::StoreBatch;

/// Era mainnet's batch-0 root, from the real chain (explorer batch 0).
const ERA_GENESIS_ROOT: &str = "0xbc59c242d551e3939b9b2939b8b686efa77ba3833183045d548aa5f53357ba95";
const ALICE: &str = "0x00000000000000000000000000000000000a11ce";
const BOB: &str = "0x0000000000000000000000000000000000000b0b";
/// A Solidity ERC-20 whose balances mapping sits at slot 51.
const TOKEN: &str = "0x1111111111111111111111111111111111111111";
const TOKEN_BALANCE_SLOT: u64 = 51;

fn addr(text: &str) -> Address {
    text.parse().unwrap()
}

fn word_u(n: U256) -> B256 {
    B256::from(n.to_be_bytes::<32>())
}

/// Applies `writes` as batch `n`, claiming the root the engine computes (so the
/// engine's verified pointer advances as it would on a matching chain).
fn apply_batch(state: &mut ZksyncState<'_>, n: u64, writes: Writes) -> B256 {
    let mut input = PlanInput {
        batch_number: n,
        claimed_root: None,
        index_repeated_storage_changes: None,
        writes,
    };
    let root = state.plan(&input).unwrap().1.record.computed_root;
    input.claimed_root = Some(root);
    assert_eq!(
        state.apply_and_commit(&input).unwrap().record.computed_root,
        root
    );
    root
}

struct ZksyncFixture {
    store: Arc<Store>,
    /// Genesis storage logs (address, key, value), the last value per slot.
    genesis: Vec<(Address, B256, B256)>,
    /// Root after each batch, batch 0 first.
    roots: Vec<B256>,
    /// The genesis slot batch 2 overwrites, with its new value.
    overwritten: (Address, B256, B256),
}

/// Genesis from `InitialStateMainnet.json` (checked against the real root), then:
/// batch 1 gives Alice 5 ETH, nonces (deployment 2, tx 7) and 1234 tokens;
/// batch 2 moves 2 ETH to Bob, bumps her tx nonce to 8 and overwrites genesis leaf 1;
/// batch 3 gives Bob 1 token.
fn zksync_store(dir: &std::path::Path) -> ZksyncFixture {
    let store = Store::open(dir, "zksync-era-mainnet").unwrap();
    let logs =
        genesis::load(&common::fixtures().join("zksync/genesis/InitialStateMainnet.json")).unwrap();
    let leaves = genesis::leaves(&logs).unwrap();
    let expected: B256 = ERA_GENESIS_ROOT.parse().unwrap();
    let mut state = ZksyncState::init_genesis(&store, &leaves, Some(expected)).unwrap();
    let mut genesis_slots: Vec<(Address, B256, B256)> = Vec::new();
    for log in &logs {
        genesis_slots.retain(|(a, k, _)| (*a, *k) != (log.address, log.key));
        genesis_slots.push((log.address, log.key, log.value));
    }
    let (alice, bob, token) = (addr(ALICE), addr(BOB), addr(TOKEN));
    let eth = |who: &Address| derived_key(&L2_BASE_TOKEN, &mapping_slot(who, &B256::ZERO));
    let nonce = |who: &Address| derived_key(&NONCE_HOLDER, &mapping_slot(who, &B256::ZERO));
    let tokens = |who: &Address| {
        derived_key(
            &token,
            &mapping_slot(who, &word_u(U256::from(TOKEN_BALANCE_SLOT))),
        )
    };
    let ether = U256::from(10u64).pow(U256::from(18));
    let initial = |key: B256, value: U256| InitialWrite {
        derived_key: key,
        value: ValueOp::full(word_u(value)),
    };
    let mut roots = vec![expected];
    roots.push(apply_batch(
        &mut state,
        1,
        Writes {
            initial: vec![
                initial(eth(&alice), ether * U256::from(5)),
                initial(nonce(&alice), (U256::from(2) << 128) | U256::from(7)),
                initial(tokens(&alice), U256::from(1234)),
            ],
            repeated: vec![],
        },
    ));
    let index_of = |state: &ZksyncState<'_>, key: &B256| state.leaf(key).unwrap().unwrap().0;
    let (first_genesis_key, ..) = leaves.iter().find(|l| l.1 == 1).unwrap();
    let overwritten = genesis_slots
        .iter()
        .find(|(a, k, _)| derived_key(a, k) == *first_genesis_key)
        .map(|(a, k, _)| (*a, *k, B256::repeat_byte(0x5a)))
        .unwrap();
    let (alice_eth_index, alice_nonce_index) = (
        index_of(&state, &eth(&alice)),
        index_of(&state, &nonce(&alice)),
    );
    roots.push(apply_batch(
        &mut state,
        2,
        Writes {
            initial: vec![initial(eth(&bob), ether * U256::from(2))],
            repeated: vec![
                RepeatedWrite {
                    index: alice_eth_index,
                    value: ValueOp::full(word_u(ether * U256::from(3))),
                },
                RepeatedWrite {
                    index: alice_nonce_index,
                    value: ValueOp::full(word_u((U256::from(2) << 128) | U256::from(8))),
                },
                RepeatedWrite {
                    index: 1,
                    value: ValueOp::full(overwritten.2),
                },
            ],
        },
    ));
    roots.push(apply_batch(
        &mut state,
        3,
        Writes {
            initial: vec![initial(tokens(&bob), U256::from(1))],
            repeated: vec![],
        },
    ));
    ZksyncFixture {
        store: Arc::new(store),
        genesis: genesis_slots,
        roots,
        overwritten,
    }
}

fn zksync_schema(store: Arc<Store>, follow: Option<Arc<FollowStatus>>) -> api::ApiSchema {
    let mut handle =
        RollupHandle::new("zksync-era-mainnet", RollupKind::Zksync, store).with_l1_chain_id(1);
    if let Some(status) = follow {
        handle = handle.with_follow_status(status);
    }
    api::build_schema(vec![handle])
}

async fn zk(schema: &api::ApiSchema, fields: &str) -> Value {
    let out = run(
        schema,
        &format!(r#"{{ rollup(name: "zksync-era-mainnet") {{ {fields} }} }}"#),
    )
    .await;
    assert!(out["errors"].is_null(), "{fields}: {out}");
    out["data"]["rollup"].clone()
}

fn hex_u256(v: &Value) -> U256 {
    U256::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// A client-side verifier of a `ZksyncProof` that uses only the returned JSON
/// (the derived key is recomputed from `address` and `key`, not trusted).
fn verify_zksync_proof(proof: &Value) -> bool {
    let bytes = |v: &Value| hex::decode(v.as_str().unwrap().trim_start_matches("0x")).unwrap();
    let blake = |parts: &[&[u8]]| -> [u8; 32] {
        let mut h = Blake2s256::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    };
    let (address, key) = (bytes(&proof["address"]), bytes(&proof["key"]));
    let derived = blake(&[&[0u8; 12], &address, &key]);
    if address.len() != 20 || derived.as_slice() != bytes(&proof["derivedKey"]) {
        return false;
    }
    let index = u64::from_str_radix(
        proof["leafIndex"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    let value = bytes(&proof["value"]);
    let mut empty = vec![blake(&[&[0u8; 40]])];
    for h in 0..256 {
        let e = empty[h];
        empty.push(blake(&[&e, &e]));
    }
    // The tree key is the derived key read as a little-endian number: bit i is
    // bit (i % 8) of byte (i / 8).
    let bit = |i: usize| (derived[i / 8] >> (i % 8)) & 1;
    let path: Vec<Vec<u8>> = proof["merklePath"]
        .as_array()
        .unwrap()
        .iter()
        .map(bytes)
        .collect();
    if path.len() > 256 {
        return false;
    }
    let skipped = 256 - path.len();
    let mut node = blake(&[&index.to_be_bytes(), &value]);
    for i in 0..256 {
        let sibling: &[u8] = if i < skipped {
            &empty[i]
        } else {
            &path[i - skipped]
        };
        node = if bit(i) == 0 {
            blake(&[&node, sibling])
        } else {
            blake(&[sibling, &node])
        };
    }
    node.as_slice() == bytes(&proof["root"])
}

#[tokio::test]
async fn zksync_state_balances_nonces_and_proofs_from_the_real_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let fx = zksync_store(dir.path());
    let schema = zksync_schema(fx.store.clone(), None);

    // Genesis values as the file has them, at batch 0 and (untouched) at batch 3.
    let (ow_address, ow_key, ow_value) = fx.overwritten;
    for (address, key, value) in fx.genesis.iter().step_by(4).chain(
        fx.genesis
            .iter()
            .filter(|g| (g.0, g.1) == (ow_address, ow_key)),
    ) {
        for batch in [0u64, 3] {
            let out = zk(
                &schema,
                &format!(r#"storage(address: "{address}", key: "{key}", atBatch: {batch})"#),
            )
            .await;
            let expected = if (*address, *key) == (ow_address, ow_key) && batch == 3 {
                ow_value
            } else {
                *value
            };
            assert_eq!(
                hex_u256(&out["storage"]),
                U256::from_be_bytes(expected.0),
                "{address} {key} at {batch}"
            );
        }
    }

    // Balances, nonces and an ERC-20 through their slot layouts, with time travel.
    let ether = U256::from(10u64).pow(U256::from(18));
    for (batch, alice_eth, bob_eth, tx_nonce, alice_tokens, bob_tokens) in [
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64),
        (1, 5, 0, 7, 1234, 0),
        (2, 3, 2, 8, 1234, 0),
        (3, 3, 2, 8, 1234, 1),
    ] {
        let out = zk(&schema, &format!(
            r#"a: balance(token: "ETH", account: "{ALICE}", atBatch: {batch})
               b: balance(token: "{L2_BASE_TOKEN:#x}", account: "{BOB}", atBatch: {batch})
               n: nonce(address: "{ALICE}", atBatch: {batch})
               d: deploymentNonce(address: "{ALICE}", atBatch: {batch})
               t: balance(token: "{TOKEN}", account: "{ALICE}", balanceSlot: {TOKEN_BALANCE_SLOT}, atBatch: {batch})
               u: balance(token: "{TOKEN}", account: "{BOB}", balanceSlot: "0x33", atBatch: {batch})"#,
        )).await;
        assert_eq!(
            hex_u256(&out["a"]),
            ether * U256::from(alice_eth),
            "batch {batch}: {out}"
        );
        assert_eq!(
            hex_u256(&out["b"]),
            ether * U256::from(bob_eth),
            "batch {batch}: {out}"
        );
        assert_eq!(
            hex_u256(&out["n"]),
            U256::from(tx_nonce),
            "batch {batch}: {out}"
        );
        assert_eq!(
            hex_u256(&out["d"]),
            U256::from(if batch == 0 { 0 } else { 2 }),
            "batch {batch}"
        );
        assert_eq!(
            hex_u256(&out["t"]),
            U256::from(alice_tokens),
            "batch {batch}: {out}"
        );
        assert_eq!(
            hex_u256(&out["u"]),
            U256::from(bob_tokens),
            "batch {batch}: {out}"
        );
    }
    // Every claimed root matched, but nothing is executed yet: a revert could
    // still remove batches 1-3, so the verified pointer stays at genesis.
    let out = zk(&schema, "sync { verifiedBatch lastExecutedBatch }").await;
    assert_eq!(
        out["sync"],
        json!({ "verifiedBatch": "0x0", "lastExecutedBatch": "0x0" })
    );
    ZksyncState::open(&fx.store)
        .unwrap()
        .mark_executed(3)
        .unwrap();
    // Default batch = the verified pointer (matched and executed: batch 3).
    let out = zk(&schema, &format!(r#"balance(token: "ETH", account: "{ALICE}") sync {{ lastAppliedBatch verifiedBatch lastExecutedBatch l1Cursor l1Head lagBlocks }} l1ChainId"#)).await;
    assert_eq!(hex_u256(&out["balance"]), ether * U256::from(3));
    assert_eq!(
        out["sync"],
        json!({ "lastAppliedBatch": "0x3", "verifiedBatch": "0x3", "lastExecutedBatch": "0x3", "l1Cursor": null, "l1Head": null, "lagBlocks": null })
    );
    assert_eq!(out["l1ChainId"], "0x1");

    // Proofs verify with only the JSON, for present, overwritten and absent slots, at every batch.
    let absent = ("0x000000000000000000000000000000000000dead", "0x1");
    let mut probes: Vec<(String, String)> = fx
        .genesis
        .iter()
        .take(3)
        .map(|(a, k, _)| (format!("{a:#x}"), format!("{k:#x}")))
        .collect();
    probes.push((format!("{ow_address:#x}"), format!("{ow_key:#x}")));
    probes.push((
        format!("{L2_BASE_TOKEN:#x}"),
        format!("{:#x}", mapping_slot(&addr(ALICE), &B256::ZERO)),
    ));
    probes.push((absent.0.into(), absent.1.into()));
    for (batch, root) in fx.roots.iter().enumerate() {
        for (address, key) in &probes {
            let out = zk(&schema, &format!(
                r#"proof(address: "{address}", key: "{key}", atBatch: {batch}) {{ __typename ... on ZksyncProof {{ batch address key derivedKey leafIndex value root merklePath }} }}"#
            )).await;
            let proof = &out["proof"];
            assert_eq!(proof["__typename"], "ZksyncProof");
            assert_eq!(proof["root"], format!("{root:#x}"), "batch {batch}");
            assert!(
                verify_zksync_proof(proof),
                "batch {batch} {address} {key}: {proof}"
            );
            let mut forged = proof.clone();
            forged["value"] = json!(format!("{:#x}", B256::repeat_byte(1)));
            assert!(!verify_zksync_proof(&forged));
        }
    }
    // The batch-0 proof reproduces the real chain's genesis root.
    let (address, key, _) = fx.genesis[0];
    let out = zk(&schema, &format!(r#"proof(address: "{address}", key: "{key}", atBatch: 0) {{ ... on ZksyncProof {{ address key derivedKey leafIndex value root merklePath }} }}"#)).await;
    assert_eq!(out["proof"]["root"], ERA_GENESIS_ROOT);
    assert!(verify_zksync_proof(&out["proof"]));

    // Kind-specific validation and Starknet-only fields.
    for (query, message) in [
        (
            r#"classHash(address: "0x8002")"#,
            "classHash is a Starknet notion",
        ),
        (
            r#"storage(address: "0x1000000000000000000000000000000000000000000", key: "0x0")"#,
            "does not fit in 20 bytes",
        ),
        (
            r#"balance(token: "0x1111111111111111111111111111111111111111", account: "0x1")"#,
            "needs balanceSlot",
        ),
        (
            r#"balance(token: "STRK", account: "0x1")"#,
            "token must be ETH or a 20-byte token address",
        ),
        (
            r#"storage(address: "0x1", key: "0x1", atBatch: 4)"#,
            "not applied yet",
        ),
    ] {
        let out = run(
            &schema,
            &format!(r#"{{ rollup(name: "zksync-era-mainnet") {{ {query} }} }}"#),
        )
        .await;
        let error = out["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(error.contains(message), "{query}: {out}");
    }
}

#[tokio::test]
async fn batches_carry_their_l1_provenance_and_sync_reports_the_follower() {
    // ZKsync: a hand-written L1 record for batch 2 (as the follower writes it), an
    // L1 cursor, batch 1 executed, and a follower status seen by the API.
    let dir = tempfile::tempdir().unwrap();
    let fx = zksync_store(dir.path());
    let record = L1BatchRecord {
        batch: 2,
        l1_block_number: 19_000_123,
        l1_block_hash: B256::repeat_byte(0xbb),
        l1_transaction_hash: B256::repeat_byte(0xcc),
        log_index: 4,
        summary: BatchSummary {
            da_mode: DaMode::Blob,
            blob_count: 2,
            format_version: "commitBatchesSharedBridge/blobs".into(),
            l2_blocks: None,
            contracts_touched: 0,
            storage_writes: 4,
            classes_declared: 0,
            executed: Some(false),
        },
    };
    let mut write = StoreBatch::default();
    record.write(&mut write);
    L1Cursor {
        block: 19_000_200,
        block_hash: B256::repeat_byte(0xdd),
        log_index: None,
    }
    .write(&mut write);
    fx.store.commit(write).unwrap();
    ZksyncState::open(&fx.store)
        .unwrap()
        .mark_executed(1)
        .unwrap();
    let status = Arc::new(FollowStatus::new("zksync-era-mainnet"));
    status.set_l1_head(19_000_264);
    let schema = zksync_schema(fx.store.clone(), Some(status));
    let fields = "number computedRoot claimedRoot verdict l1BlockNumber l1BlockHash l1TransactionHash daMode blobCount formatVersion l2BlockRange { first last } executed stateDiff { contractsTouched storageWrites classesDeclared initialWrites repeatedWrites }";
    let out = zk(&schema, &format!("b1: batch(number: 1) {{ {fields} }} b2: batch(number: 2) {{ {fields} }} b9: batch(number: 9) {{ number }} sync {{ lastExecutedBatch l1Cursor l1Head lagBlocks }} batches(first: 10) {{ edges {{ node {{ number verdict }} }} }}")).await;
    assert_eq!(
        out["b2"],
        json!({
            "number": "0x2",
            "computedRoot": format!("{:#x}", fx.roots[2]),
            "claimedRoot": format!("{:#x}", fx.roots[2]),
            "verdict": "MATCH",
            "l1BlockNumber": format!("{:#x}", 19_000_123u64),
            "l1BlockHash": format!("{:#x}", B256::repeat_byte(0xbb)),
            "l1TransactionHash": format!("{:#x}", B256::repeat_byte(0xcc)),
            "daMode": "BLOB",
            "blobCount": 2,
            "formatVersion": "commitBatchesSharedBridge/blobs",
            "l2BlockRange": null,
            "executed": false,
            "stateDiff": { "contractsTouched": null, "storageWrites": 4, "classesDeclared": null, "initialWrites": 1, "repeatedWrites": 3 },
        }),
        "{out}"
    );
    // Batch 1 has no L1 record (applied from data, not followed): executed comes from the checkpoint.
    assert_eq!(out["b1"]["l1BlockNumber"], Value::Null);
    assert_eq!(out["b1"]["executed"], true);
    assert_eq!(out["b1"]["stateDiff"]["initialWrites"], 3);
    assert_eq!(out["b9"], Value::Null);
    assert_eq!(
        out["sync"],
        json!({
            "lastExecutedBatch": "0x1",
            "l1Cursor": format!("{:#x}", 19_000_200u64),
            "l1Head": format!("{:#x}", 19_000_264u64),
            "lagBlocks": "0x40",
        })
    );
    let numbers: Vec<&str> = out["batches"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["0x0", "0x1", "0x2", "0x3"]);

    // Starknet: a record with an L2 block range and calldata DA.
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = common::sepolia_store(dir.path());
    let mut write = StoreBatch::default();
    L1BatchRecord {
        batch: 5,
        l1_block_number: 4_000_000,
        l1_block_hash: B256::repeat_byte(1),
        l1_transaction_hash: B256::repeat_byte(2),
        log_index: 0,
        summary: BatchSummary {
            da_mode: DaMode::Calldata,
            blob_count: 0,
            format_version: "v0.13.0".into(),
            l2_blocks: Some((5, 5)),
            contracts_touched: 3,
            storage_writes: 17,
            classes_declared: 1,
            executed: None,
        },
    }
    .write(&mut write);
    store.commit(write).unwrap();
    let out = run(&schema_of(store), &format!(r#"{{ rollup(name: "starknet-sepolia") {{ l1ChainId sync {{ l1Head lagBlocks lastExecutedBatch }} batch(number: 5) {{ {fields} }} }} }}"#)).await;
    let batch = &out["data"]["rollup"]["batch"];
    assert_eq!(batch["daMode"], "CALLDATA", "{out}");
    assert_eq!(
        batch["l2BlockRange"],
        json!({ "first": "0x5", "last": "0x5" })
    );
    assert_eq!(batch["executed"], Value::Null);
    assert_eq!(
        batch["stateDiff"],
        json!({ "contractsTouched": 3, "storageWrites": 17, "classesDeclared": 1, "initialWrites": null, "repeatedWrites": null })
    );
    assert_eq!(out["data"]["rollup"]["l1ChainId"], "0xaa36a7");
    assert_eq!(
        out["data"]["rollup"]["sync"],
        json!({ "l1Head": null, "lagBlocks": null, "lastExecutedBatch": null })
    );
}

fn schema_of(store: Arc<Store>) -> api::ApiSchema {
    schema(store)
}
