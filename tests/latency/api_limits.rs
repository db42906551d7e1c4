//! Hardening of the GraphQL server, as an attacker would try it, against a
//! store rebuilt from the real Sepolia blocks 0-7: every request is bounded
//! before it runs, a running request stops at its deadline while the server
//! keeps answering, subscriptions are limited, and inputs that used to panic
//! get clear errors. Each case of issue 16 is one test here.

use crate::common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use zkreplay::api::{self, ApiLimits, AppState, RollupHandle, RollupKind};

const ROLLUP: &str = "starknet-sepolia";
const ETH: &str = "0x49d36570d4e46f48e99674bd3fcc84644ddd6b96f7c741b1562b82f9e004dc7";
/// An account whose ETH balance block 6 of Sepolia writes (1 ETH).
const ACCOUNT: &str = "0x43abaa073c768ebf039c0c4f46db9acc39e9ec165690418060a652aab39e7d8";

struct Server {
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

async fn start(limits: ApiLimits) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = common::sepolia_store(dir.path());
    let schema = api::build_schema(vec![RollupHandle::new(ROLLUP, RollupKind::Starknet, store)]);
    let (addr, _, _task) = api::serve(
        AppState::new(schema, limits),
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
        std::future::pending(),
    )
    .await
    .unwrap();
    Server { addr, _dir: dir }
}

/// One POST on a fresh connection from `source` (a loopback address), with
/// its status, JSON body and latency.
async fn post_from(source: [u8; 4], addr: SocketAddr, body: &Value) -> (u16, Value, Duration) {
    let body = serde_json::to_vec(body).unwrap();
    let started = Instant::now();
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::from((source, 0)))
        .expect("binding a loopback source address");
    let mut stream = socket.connect(addr).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(&body).await;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let json = serde_json::from_str(body).unwrap_or(Value::String(body.to_owned()));
    (status, json, elapsed)
}

async fn post(addr: SocketAddr, body: &Value) -> (u16, Value, Duration) {
    post_from([127, 0, 0, 1], addr, body).await
}

fn query(text: &str) -> Value {
    json!({ "query": text })
}

fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

fn error_message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or_default()
}

/// `levels` fragments, each spreading the previous one twice.
fn doubling_query(levels: usize) -> String {
    let mut text = format!("{{ rollup(name: \"{ROLLUP}\") {{ ...F{levels} }} }}\n");
    text.push_str("fragment F0 on Rollup { name }\n");
    for i in 1..=levels {
        text.push_str(&format!(
            "fragment F{i} on Rollup {{ ...F{} ...F{} }}\n",
            i - 1,
            i - 1
        ));
    }
    text
}

/// `fields` aliased balance reads in one fragment, doubled `levels` times:
/// `fields · 2^levels` balances from a few kilobytes of query.
fn balance_query(fields: usize, levels: usize) -> String {
    let mut text =
        format!("{{ rollup(name: \"{ROLLUP}\") {{ ...B{levels} }} }}\nfragment B0 on Rollup {{");
    for i in 0..fields {
        text.push_str(&format!(
            " b{i}: balance(token: \"ETH\", account: \"{ACCOUNT}\", atBatch: 7)"
        ));
    }
    text.push_str(" }\n");
    for i in 1..=levels {
        text.push_str(&format!(
            "fragment B{i} on Rollup {{ ...B{} ...B{} }}\n",
            i - 1,
            i - 1
        ));
    }
    text
}

/// Pings `{ __typename }` until `stop`, returning the slowest answer.
async fn ping_until(addr: SocketAddr, stop: Arc<tokio::sync::Notify>) -> Duration {
    let mut slowest = Duration::ZERO;
    let ping = query("{ __typename }");
    loop {
        let (status, body, elapsed) = post(addr, &ping).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["__typename"], "QueryRoot");
        slowest = slowest.max(elapsed);
        tokio::select! {
            _ = stop.notified() => return slowest,
            _ = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doubling_fragments_are_refused_before_execution_at_any_depth() {
    let _alone = crate::alone();
    let server = start(ApiLimits::default()).await;
    // Small depths are ordinary queries and are answered.
    let (status, body, _) = post(server.addr, &query(&doubling_query(4))).await;
    assert_eq!(
        (status, &body["data"]["rollup"]["name"]),
        (200, &json!(ROLLUP)),
        "{body}"
    );
    for levels in [17, 20, 24, 30, 40, 60, 200] {
        let text = doubling_query(levels);
        let (status, body, elapsed) = post(server.addr, &query(&text)).await;
        assert_eq!(status, 400, "{levels} levels: {body}");
        assert!(
            matches!(error_code(&body), "COST_LIMIT" | "INVALID_QUERY"),
            "{levels} levels: {body}"
        );
        assert!(
            elapsed < Duration::from_millis(100),
            "{levels} levels ({} bytes) refused after {elapsed:?}",
            text.len()
        );
    }
    // A fragment cycle is named, not followed.
    let cycle = format!(
        "{{ rollup(name: \"{ROLLUP}\") {{ ...A }} }} fragment A on Rollup {{ name ...B }} fragment B on Rollup {{ ...A }}"
    );
    let (status, body, _) = post(server.addr, &query(&cycle)).await;
    assert_eq!(status, 400);
    assert!(error_message(&body).contains("spreads itself"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expensive_balance_queries_are_refused_or_cut_while_the_server_keeps_answering() {
    let _alone = crate::alone();
    let limits = ApiLimits {
        deadline_ms: 200,
        ..ApiLimits::default()
    };
    let server = start(limits).await;
    let addr = server.addr;
    let stop = Arc::new(tokio::sync::Notify::new());
    let pinger = tokio::spawn(ping_until(addr, stop.clone()));

    // 45 · 2^10 = 46,080 balances from a 7 KB query: priced above the cap, refused at once.
    let text = balance_query(45, 10);
    let (status, body, elapsed) = post(addr, &query(&text)).await;
    assert_eq!((status, error_code(&body)), (400, "COST_LIMIT"), "{body}");
    assert!(
        elapsed < Duration::from_millis(100),
        "refused after {elapsed:?}"
    );

    // 15 · 2^10 = 15,360 balances are within the cap but cannot finish in
    // 200 ms: the request is stopped at its deadline, twice at once.
    let text = balance_query(5, 10);
    let heavy = || {
        let text = text.clone();
        tokio::spawn(async move { post(addr, &query(&text)).await })
    };
    let (a, b) = (heavy(), heavy());
    for outcome in [a.await.unwrap(), b.await.unwrap()] {
        let (status, body, elapsed) = outcome;
        assert_eq!(
            (status, error_code(&body)),
            (408, "DEADLINE_EXCEEDED"),
            "{body}"
        );
        println!("a request of 5,120 balances cut at its 200 ms deadline after {elapsed:?}");
        assert!(
            elapsed < Duration::from_millis(600),
            "cut after {elapsed:?}"
        );
    }
    stop.notify_one();
    let slowest = pinger.await.unwrap();
    println!("slowest {{ __typename }} meanwhile: {slowest:?}");
    assert!(
        slowest < Duration::from_millis(100),
        "{{ __typename }} took {slowest:?} while the heavy queries ran"
    );
}

fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_introspection_floods_is_refused_with_memory_bounded() {
    let _alone = crate::alone();
    // A larger body limit than the default, so the cost model (not the body
    // limit) is what refuses the 10 × 4,500 aliased `__schema` selections.
    let server = start(ApiLimits {
        max_body_bytes: 4 << 20,
        ..ApiLimits::default()
    })
    .await;
    let one: String = (0..4500)
        .map(|i| format!("a{i}:__schema{{types{{name fields{{name}}}}}} "))
        .collect();
    let batch: Vec<Value> = (0..10).map(|_| query(&format!("{{{one}}}"))).collect();
    let batch = Value::Array(batch);
    let (status, body, elapsed) = post(server.addr, &batch).await;
    assert_eq!((status, error_code(&body)), (400, "COST_LIMIT"), "{body}");
    let peak = peak_rss_mb();
    println!(
        "introspection batch of {} bytes refused in {elapsed:?}; peak RSS of the test process {peak} MB",
        batch.to_string().len()
    );
    assert!(peak < 300, "peak RSS {peak} MB");

    // The same selection once is an ordinary introspection query and is answered.
    let (status, body, _) = post(
        server.addr,
        &query("{ __schema { types { name fields { name } } } }"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["__schema"]["types"].as_array().unwrap().len() > 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_introspection_query_is_within_the_default_cost() {
    let _alone = crate::alone();
    let server = start(ApiLimits::default()).await;
    // The shape GraphiQL sends on load (types with fields, arguments, input
    // fields, enum values and type references seven levels deep).
    let type_ref = "kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }";
    let text = format!(
        "query IntrospectionQuery {{ __schema {{ queryType {{ name }} mutationType {{ name }} subscriptionType {{ name }}
           types {{ ...FullType }} directives {{ name description locations args {{ ...InputValue }} }} }} }}
         fragment FullType on __Type {{ kind name description specifiedByURL
           fields(includeDeprecated: true) {{ name description args {{ ...InputValue }} type {{ ...TypeRef }} isDeprecated deprecationReason }}
           inputFields {{ ...InputValue }} interfaces {{ ...TypeRef }}
           enumValues(includeDeprecated: true) {{ name description isDeprecated deprecationReason }} possibleTypes {{ ...TypeRef }} }}
         fragment InputValue on __InputValue {{ name description type {{ ...TypeRef }} defaultValue }}
         fragment TypeRef on __Type {{ {type_ref} }}"
    );
    let (status, body, elapsed) = post(server.addr, &query(&text)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["errors"].is_null(), "{body}");
    println!("full introspection answered in {elapsed:?}");
}

#[tokio::test]
async fn every_list_field_of_the_schema_has_a_bound_in_the_cost_model() {
    let _alone = crate::alone();
    let schema = api::build_schema(Vec::new());
    let state = AppState::new(schema.clone(), ApiLimits::default());
    let model = state.gate.model().await.clone();
    let out = serde_json::to_value(
        schema
            .execute("{ __schema { types { name fields { name type { kind ofType { kind ofType { kind } } } } } } }")
            .await,
    )
    .unwrap();
    let mut lists = 0;
    for ty in out["data"]["__schema"]["types"].as_array().unwrap() {
        for field in ty["fields"].as_array().into_iter().flatten() {
            let t = &field["type"];
            let is_list = [
                &t["kind"],
                &t["ofType"]["kind"],
                &t["ofType"]["ofType"]["kind"],
            ]
            .iter()
            .any(|k| *k == "LIST");
            if is_list {
                lists += 1;
                let name = field["name"].as_str().unwrap();
                // A page's edges are priced by `first` at `batches`/`findings`.
                assert!(
                    name == "edges" || model.list_bound(name).is_some(),
                    "{}.{name} is a list the cost model prices as one value",
                    ty["name"]
                );
            }
        }
    }
    assert!(lists > 10, "{out}");
    // The measured introspection bounds are the schema's own lists.
    let i = model.introspection;
    assert!(
        i.types > 20 && i.fields >= 11 && i.enum_values >= 8,
        "{i:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_cannot_take_every_slot() {
    let _alone = crate::alone();
    let server = start(ApiLimits {
        max_per_client: 1,
        deadline_ms: 400,
        ..ApiLimits::default()
    })
    .await;
    let addr = server.addr;
    let heavy = query(&balance_query(5, 10));
    let busy = tokio::spawn(async move { post_from([127, 0, 0, 7], addr, &heavy).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let cheap = query("{ __typename }");
    let (status, body, _) = post_from([127, 0, 0, 7], addr, &cheap).await;
    assert_eq!(
        (status, error_code(&body)),
        (429, "CLIENT_CONCURRENCY_LIMIT"),
        "{body}"
    );
    let (status, body, _) = post_from([127, 0, 0, 8], addr, &cheap).await;
    assert_eq!(status, 200, "another client is served: {body}");
    busy.await.unwrap();
    let (status, _, _) = post_from([127, 0, 0, 7], addr, &cheap).await;
    assert_eq!(status, 200, "the client's slot is free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_past_the_last_batch_number_are_clear_errors() {
    let _alone = crate::alone();
    let server = start(ApiLimits::default()).await;
    let max = hex::encode(format!("batch:{}", u64::MAX));
    for field in ["batches", "findings"] {
        let text = format!(
            r#"{{ rollup(name: "{ROLLUP}") {{ {field}(after: "{max}") {{ edges {{ cursor }} }} }} }}"#
        );
        let (status, body, _) = post(server.addr, &query(&text)).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            error_message(&body).contains("after which no batch number exists"),
            "{field}: {body}"
        );
    }
    // The cursor before it still pages normally (to an empty page).
    let before = hex::encode(format!("batch:{}", u64::MAX - 1));
    let text = format!(
        r#"{{ rollup(name: "{ROLLUP}") {{ batches(after: "{before}") {{ edges {{ cursor }} }} }} }}"#
    );
    let (_, body, _) = post(server.addr, &query(&text)).await;
    assert_eq!(
        body["data"]["rollup"]["batches"]["edges"],
        json!([]),
        "{body}"
    );
}

#[tokio::test]
async fn proof_and_storage_agree_on_every_key_the_felt_scalar_accepts() {
    let _alone = crate::alone();
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = common::sepolia_store(dir.path());
    let schema = api::build_schema(vec![RollupHandle::new(ROLLUP, RollupKind::Starknet, store)]);
    let two_251 = "0x800000000000000000000000000000000000000000000000000000000000000";
    let below = "0x7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    let prime_minus_one = "0x800000000000011000000000000000000000000000000000000000000000000";
    for (address, key) in [(ETH, two_251), (ETH, prime_minus_one), (two_251, "0x1")] {
        let out = serde_json::to_value(
            schema
                .execute(format!(
                    r#"{{ rollup(name: "{ROLLUP}") {{ storage(address: "{address}", key: "{key}", atBatch: 7) }} }}"#
                ))
                .await,
        )
        .unwrap();
        let storage_error = error_message(&out).to_owned();
        let out = serde_json::to_value(
            schema
                .execute(format!(
                    r#"{{ rollup(name: "{ROLLUP}") {{ proof(address: "{address}", key: "{key}", atBatch: 7) {{ __typename }} }} }}"#
                ))
                .await,
        )
        .unwrap();
        let proof_error = error_message(&out).to_owned();
        assert!(
            storage_error.contains("is not below 2^251"),
            "{storage_error}"
        );
        assert_eq!(storage_error, proof_error);
    }
    // The largest valid key: both answer, with the same value.
    let out = serde_json::to_value(
        schema
            .execute(format!(
                r#"{{ rollup(name: "{ROLLUP}") {{ storage(address: "{ETH}", key: "{below}", atBatch: 7)
                     proof(address: "{ETH}", key: "{below}", atBatch: 7) {{ ... on StarknetProof {{ value }} }} }} }}"#
            ))
            .await,
    )
    .unwrap();
    assert!(out["errors"].is_null(), "{out}");
    assert_eq!(
        out["data"]["rollup"]["storage"],
        out["data"]["rollup"]["proof"]["value"]
    );
}

// ---------------------------------------------------------------- subscriptions

/// A minimal WebSocket client speaking graphql-transport-ws (masked frames out,
/// plain frames in), enough to drive the server's subscription limits.
struct Ws(TcpStream);

impl Ws {
    /// Connects; `Err(status line)` when the server refuses the upgrade.
    async fn connect(addr: SocketAddr) -> Result<Ws, String> {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET /graphql/ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            if stream.read(&mut byte).await.unwrap() == 0 {
                break;
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        if !head.starts_with("HTTP/1.1 101") {
            let mut rest = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut rest)).await;
            return Err(format!("{head}{}", String::from_utf8_lossy(&rest)));
        }
        let mut ws = Ws(stream);
        ws.send(&json!({ "type": "connection_init" })).await;
        assert_eq!(ws.recv().await["type"], "connection_ack");
        Ok(ws)
    }

    async fn send(&mut self, message: &Value) {
        let payload = message.to_string().into_bytes();
        let mut frame = vec![0x81u8];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65536 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.0.write_all(&frame).await.unwrap();
    }

    /// The next text message as JSON.
    async fn recv(&mut self) -> Value {
        loop {
            let mut head = [0u8; 2];
            self.0.read_exact(&mut head).await.unwrap();
            let mut len = u64::from(head[1] & 0x7f);
            if len == 126 {
                let mut b = [0u8; 2];
                self.0.read_exact(&mut b).await.unwrap();
                len = u64::from(u16::from_be_bytes(b));
            } else if len == 127 {
                let mut b = [0u8; 8];
                self.0.read_exact(&mut b).await.unwrap();
                len = u64::from_be_bytes(b);
            }
            let mut payload = vec![0u8; len as usize];
            self.0.read_exact(&mut payload).await.unwrap();
            if head[0] & 0x0f == 1 {
                return serde_json::from_slice(&payload).unwrap();
            }
        }
    }

    async fn subscribe(&mut self, id: &str, text: &str) {
        self.send(&json!({ "id": id, "type": "subscribe", "payload": { "query": text } }))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_floods_are_refused() {
    let _alone = crate::alone();
    let limits = ApiLimits {
        max_ws_connections: 3,
        ..ApiLimits::default()
    };
    let (per_connection, fields) = (
        limits.max_subscriptions_per_connection,
        limits.max_subscription_fields,
    );
    let server = start(limits).await;
    let addr = server.addr;

    // 10,000 aliased streams in one subscribe: refused at once.
    let mut ws = Ws::connect(addr).await.unwrap();
    let flood: String = (0..10_000)
        .map(|i| format!("a{i}: batchApplied(rollup: \"{ROLLUP}\") "))
        .collect();
    let started = Instant::now();
    ws.subscribe("flood", &format!("subscription {{ {flood} }}"))
        .await;
    let answer = ws.recv().await;
    assert!(
        answer.to_string().contains("SUBSCRIPTION_FIELD_LIMIT"),
        "{answer}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    println!(
        "a subscribe of {} bytes refused in {:?}",
        flood.len(),
        started.elapsed()
    );
    // The refused stream is closed (graphql-transport-ws: `next`, then `complete`).
    assert_eq!(
        ws.recv().await,
        json!({ "id": "flood", "type": "complete" })
    );

    // Subscriptions per connection: the limit is held, one more is refused.
    let within = format!(
        "subscription {{ {} }}",
        (0..fields)
            .map(|i| format!("s{i}: batchApplied(rollup: \"{ROLLUP}\")"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    for i in 0..per_connection {
        ws.subscribe(&format!("ok{i}"), &within).await;
    }
    // An accepted subscription answers nothing until a batch lands; give the
    // server time to admit them all before the one too many.
    tokio::time::sleep(Duration::from_millis(300)).await;
    ws.subscribe("one-more", &within).await;
    let answer = ws.recv().await;
    assert_eq!(answer["id"], "one-more", "{answer}");
    assert!(
        answer.to_string().contains("SUBSCRIPTION_LIMIT"),
        "{answer}"
    );

    // Connections in total: two more fit (3 in all), the fourth is refused with 503.
    let _second = Ws::connect(addr).await.unwrap();
    let _third = Ws::connect(addr).await.unwrap();
    let refused = Ws::connect(addr)
        .await
        .err()
        .expect("a fourth connection is refused");
    assert!(
        refused.starts_with("HTTP/1.1 503") && refused.contains("CONNECTION_LIMIT"),
        "{refused}"
    );
    // And plain queries are answered meanwhile.
    let (status, _, elapsed) = post(addr, &query("{ __typename }")).await;
    assert_eq!(status, 200);
    assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");
}

#[test]
fn follow_serve_and_demo_take_the_same_limit_flags() {
    let _alone = crate::alone();
    use clap::Parser;
    use zkreplay::cli::{Cli, Command};
    let flags = [
        "--graphql-max-cost",
        "5",
        "--graphql-max-depth",
        "7",
        "--graphql-deadline-ms",
        "9",
        "--graphql-max-ws-connections",
        "3",
    ];
    let commands: [&[&str]; 3] = [
        &[
            "follow",
            "--chain",
            "c.toml",
            "--rpc-url",
            "http://l1",
            "--data-dir",
            "d",
        ],
        &["serve", "--data-dir", "d"],
        &["demo"],
    ];
    for command in commands {
        let argv = ["zkreplay"].iter().chain(command).chain(&flags);
        let limits = match Cli::parse_from(argv).command {
            Command::Follow(args) => args.server.limits,
            Command::Serve(args) => args.server.limits,
            Command::Demo(args) => args.server.limits,
            other => panic!("parsed as {other:?}"),
        };
        assert_eq!(
            (
                limits.max_cost,
                limits.max_depth,
                limits.deadline_ms,
                limits.max_ws_connections
            ),
            (5, 7, 9, 3),
            "{command:?}"
        );
    }
}

// ---------------------------------------------------------------- decoders

#[test]
fn decode_zksync_with_an_enumeration_index_near_2_pow_64_is_a_clear_error() {
    let _alone = crate::alone();
    use clap::Parser;
    let path =
        common::fixtures().join("zksync/calldata/commit_l1_batch_4470_testnet_sepolia.calldata");
    let real = zkreplay::cli::decode_zksync::read_binary(&path).unwrap();
    let call = zkreplay::rollup::zksync::calldata::decode_commit(&real).unwrap();
    // The ABI word holding the previous batch's indexRepeatedStorageChanges.
    let word = alloy_primitives::U256::from(call.previous.index_repeated_storage_changes)
        .to_be_bytes::<32>();
    let at = real[4..]
        .chunks(32)
        .position(|w| w == word)
        .map(|i| 4 + 32 * i)
        .expect("the calldata holds the previous index");
    let dir = tempfile::tempdir().unwrap();
    for index in [u64::MAX, u64::MAX - 1] {
        let mut mutated = real.clone();
        mutated[at + 24..at + 32].copy_from_slice(&index.to_be_bytes());
        let file = dir.path().join(format!("{index}.calldata"));
        std::fs::write(&file, &mutated).unwrap();
        let cli = zkreplay::cli::Cli::parse_from([
            "zkreplay",
            "decode",
            "zksync",
            "--calldata",
            file.to_str().unwrap(),
        ]);
        let error = zkreplay::cli::run(cli).expect_err("the overflow is reported");
        assert!(
            format!("{error:#}").contains("overflow the 64-bit enumeration index"),
            "{error:#}"
        );
    }
}

// ---------------------------------------------------------------- properties

mod props {
    use async_graphql::{ScalarType, Value as GqlValue};
    use proptest::prelude::*;
    use zkreplay::api::cost::{CostError, CostModel};
    use zkreplay::api::paging::decode_cursor;
    use zkreplay::api::scalars::{AddressScalar, BigInt, Bytes32, FeltScalar, Long, Word};

    /// A document of fragments `F0..Fn` over `Rollup`, each with `name` fields
    /// and spreads of other fragments (cycles allowed), and a query spreading `F0`.
    fn document(fragments: &[(u8, Vec<usize>)]) -> String {
        let mut text = String::from("{ rollup(name: \"x\") { ...F0 } }");
        for (i, (fields, spreads)) in fragments.iter().enumerate() {
            text.push_str(&format!(" fragment F{i} on Rollup {{ __typename"));
            for f in 0..*fields {
                text.push_str(&format!(" n{f}: name"));
            }
            for s in spreads {
                text.push_str(&format!(" ...F{}", s % fragments.len()));
            }
            text.push_str(" }");
        }
        text
    }

    /// The price by expanding every spread, as an executor would (acyclic only).
    fn expanded(fragments: &[(u8, Vec<usize>)], i: usize, depth: usize) -> Option<u64> {
        if depth > fragments.len() {
            return None; // a cycle
        }
        let (fields, spreads) = &fragments[i];
        let mut total = 1 + u64::from(*fields);
        for s in spreads {
            total += 1 + expanded(fragments, s % fragments.len(), depth + 1)?;
        }
        Some(total)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn the_price_equals_the_expansion_it_avoids(
            fragments in prop::collection::vec((0u8..4, prop::collection::vec(0usize..8, 0..4)), 1..8)
        ) {
            let text = document(&fragments);
            let doc = async_graphql::parser::parse_query(&text).unwrap();
            let model = CostModel::default();
            let price = model.document(&doc, &Default::default()).map(|p| p.cost);
            // Expected: the query (rollup + spread of F0) plus each fragment definition.
            let each: Option<Vec<u64>> =
                (0..fragments.len()).map(|i| expanded(&fragments, i, 0)).collect();
            match each {
                Some(each) => {
                    let query = 1 + 1 + each[0];
                    prop_assert_eq!(price, Ok(query + each.iter().sum::<u64>()), "{}", text);
                }
                None => prop_assert!(matches!(price, Err(CostError::FragmentCycle(_))), "{}", text),
            }
        }

        #[test]
        fn cursors_and_scalars_never_panic(text in ".{0,80}", number in any::<u64>()) {
            let _alone = crate::alone();
            let _ = decode_cursor(&text);
            let _ = decode_cursor(&hex::encode(format!("batch:{number}")));
            let _ = decode_cursor(&hex::encode(&text));
            for value in [GqlValue::String(text.clone()), GqlValue::String(format!("0x{text}")), GqlValue::from(number)] {
                let _ = <Long as ScalarType>::parse(value.clone());
                let _ = <Word as ScalarType>::parse(value.clone());
                let _ = <FeltScalar as ScalarType>::parse(value.clone());
                let _ = <AddressScalar as ScalarType>::parse(value.clone());
                let _ = <Bytes32 as ScalarType>::parse(value.clone());
                let _ = <BigInt as ScalarType>::parse(value);
            }
        }

        #[test]
        fn arbitrary_queries_are_priced_without_panicking(text in "[{}a-z:().\" \\n]{0,200}") {
            let _alone = crate::alone();
            if let Ok(doc) = async_graphql::parser::parse_query(&text) {
                let _ = CostModel::default().document(&doc, &Default::default());
            }
        }
    }
}
