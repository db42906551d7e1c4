//! GraphQL load benchmark against a Starknet store of 1,000,000 storage
//! leaves, in two phases:
//!
//! 1. throughput: keep-alive POSTs of `balance` and `storage` queries over
//!    `ZKREPLAY_BENCH_CONNECTIONS` connections (default 32), every answer
//!    checked, reporting requests per second and p50/p99 latency;
//! 2. mixed load: `ZKREPLAY_BENCH_CLIENTS` clients (default 500), each its own
//!    keep-alive connection from its own loopback address (127.0.x.y), one in
//!    ten sending capped-expensive queries (1,920 balances through fragments,
//!    and a query priced over the cap that is refused), the rest cheap ones,
//!    each client one request every `ZKREPLAY_BENCH_PACE_MS` (default 100, so
//!    5,000 requests/s offered; 0 sends back to back, which measures queueing);
//!    reporting the cheap queries' p50/p99/max latency, the expensive ones',
//!    the answers by status, and connection errors (resets).
//!
//! `cargo bench --bench api_load` (release build). The store is built once
//! with `StarknetState` (1,000,000 writes over four contracts, ten batches) and
//! kept in `ZKREPLAY_BENCH_STORE` when that is set, so later runs skip the
//! build. Other tunables: `ZKREPLAY_BENCH_SECONDS` (default 10 per phase),
//! `ZKREPLAY_BENCH_SERVER_THREADS` (default 2), `ZKREPLAY_BENCH_LEAVES`
//! (default 1,000,000; fewer build faster, e.g. in a debug build). Server and load generator
//! share the machine, so the figures are a lower bound of what the server
//! alone sustains.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alloy_primitives::{B256, U256};
use starknet_types_core::felt::Felt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zkreplay::api::{self, AppState, RollupHandle, RollupKind};
use zkreplay::audit::BatchAudit;
use zkreplay::diff::StateDiff;
use zkreplay::rollup::starknet::query::{ETH_TOKEN, erc20_balance_slot};
use zkreplay::rollup::starknet::state::{GlobalRootRule, StarknetState};
use zkreplay::store::Store;

/// Storage leaves of the store (`ZKREPLAY_BENCH_LEAVES`, default 1,000,000).
fn leaves() -> u64 {
    env_or("ZKREPLAY_BENCH_LEAVES", 1_000_000)
}

const BATCHES: u64 = 10;
/// Accounts with an ETH balance, a quarter of the leaves, one leaf each (the
/// high limb is 0, and a zero value is no leaf).
fn accounts() -> u64 {
    leaves() / 4
}
/// Three more contracts share the remaining leaves.
const OTHER_CONTRACTS: u64 = 3;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A pseudo-random felt-sized word (splitmix64), so keys spread over the trie.
fn random_word(i: u64) -> B256 {
    let mut x = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut word = [0u8; 32];
    for chunk in word.chunks_mut(8) {
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(x ^ (x >> 31)).to_be_bytes());
    }
    word[0] &= 0x03;
    B256::from(word)
}

fn account(i: u64) -> Felt {
    Felt::from_bytes_be(&random_word(i).0)
}

fn eth_token() -> B256 {
    B256::from(Felt::from_hex(ETH_TOKEN).unwrap().to_bytes_be())
}

fn other_contract(c: u64) -> B256 {
    B256::with_last_byte(0x10 + c as u8)
}

/// Storage key `i` of the non-ETH contracts.
fn other_key(i: u64) -> B256 {
    random_word(1 << 40 | i)
}

fn balance_of(i: u64) -> U256 {
    U256::from(i + 1) * U256::from(1_000_000_007u64)
}

/// Builds the store (or reopens a finished one).
fn build_store(path: &std::path::Path) -> Store {
    let store = Store::open(path, "starknet-bench").unwrap();
    let state = StarknetState::new(&store);
    let done = state.checkpoint().unwrap().next_batch;
    if done == BATCHES {
        eprintln!("reusing the store at {}", path.display());
        return store;
    }
    assert_eq!(done, 0, "a partial store at {}: delete it", path.display());
    let other_leaves = leaves() - accounts();
    let started = Instant::now();
    for batch in 0..BATCHES {
        let mut diff = StateDiff::default();
        let eth = diff.contracts.entry(eth_token()).or_default();
        eth.class_hash = Some(B256::with_last_byte(1));
        let per_batch = accounts() / BATCHES;
        for i in batch * per_batch..(batch + 1) * per_batch {
            let slot = erc20_balance_slot(&account(i));
            eth.storage.insert(
                B256::from(slot.to_bytes_be()),
                B256::from(balance_of(i).to_be_bytes::<32>()),
            );
        }
        let per_batch = other_leaves / BATCHES;
        for i in batch * per_batch..(batch + 1) * per_batch {
            let contract = diff
                .contracts
                .entry(other_contract(i % OTHER_CONTRACTS))
                .or_default();
            contract.class_hash = Some(B256::with_last_byte(2));
            contract.storage.insert(
                other_key(i),
                B256::from(U256::from(i + 1).to_be_bytes::<32>()),
            );
        }
        let (roots, mut write) = state.plan(&diff, GlobalRootRule::PreV0_14).unwrap();
        let root = format!("{:#x}", roots.global_root);
        BatchAudit::judge(roots.batch, Some(root.clone()), root, Vec::new())
            .write(&store, false, &mut write)
            .unwrap();
        store.commit(write).unwrap();
        eprintln!(
            "batch {batch}: {} leaves so far, {:.0} s",
            (batch + 1) * leaves() / BATCHES,
            started.elapsed().as_secs_f64()
        );
    }
    store
}

/// One query body: even `n` a balance (default batch = the verified pointer),
/// odd `n` a storage read at an explicit batch.
fn request_body(n: u64) -> (String, String) {
    let pick = random_word(n ^ 0x5555).0[31] as u64 * 977 + n;
    if n.is_multiple_of(2) {
        let i = pick % accounts();
        let query = format!(
            r#"{{ rollup(name: "starknet-bench") {{ balance(token: "ETH", account: "{:#x}") }} }}"#,
            account(i)
        );
        (query, format!("{:#x}", balance_of(i)))
    } else {
        let i = pick % (leaves() - accounts());
        let query = format!(
            r#"{{ rollup(name: "starknet-bench") {{ storage(address: "{}", key: "{}", atBatch: {}) }} }}"#,
            zkreplay::hexfmt::format_word(&other_contract(i % OTHER_CONTRACTS)),
            zkreplay::hexfmt::format_word(&other_key(i)),
            BATCHES - 1
        );
        (query, format!("{:#x}", i + 1))
    }
}

/// A minimal HTTP/1.1 keep-alive client: one request at a time per connection.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    /// Connects from `source` (a loopback address: each client its own).
    async fn open(addr: SocketAddr, source: [u8; 4]) -> std::io::Result<Self> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((source, 0)))?;
        let stream = socket.connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buffer: Vec::with_capacity(4096),
        })
    }

    /// POSTs `body` to /graphql and returns (status, response body).
    async fn post(&mut self, addr: SocketAddr, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        let closed = || {
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            )
        };
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        self.stream.write_all(&request).await?;
        self.buffer.clear();
        let mut chunk = [0u8; 8192];
        loop {
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(closed());
            }
            self.buffer.extend_from_slice(&chunk[..n]);
            let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
            let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            while self.buffer.len() < end + 4 + length {
                let n = self.stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(closed());
                }
                self.buffer.extend_from_slice(&chunk[..n]);
            }
            return Ok((status, self.buffer[end + 4..end + 4 + length].to_vec()));
        }
    }
}

/// Loopback source address of client `i`: 127.0.x.y, distinct per client.
fn source(i: usize) -> [u8; 4] {
    [127, 0, (i / 200) as u8, (i % 200 + 1) as u8]
}

/// `fields` aliased ETH balances doubled `levels` times through fragments.
fn balance_flood(fields: usize, levels: usize) -> Vec<u8> {
    let mut text = format!(
        "{{ rollup(name: \"starknet-bench\") {{ ...B{levels} }} }} fragment B0 on Rollup {{"
    );
    for i in 0..fields {
        text.push_str(&format!(
            " b{i}: balance(token: \"ETH\", account: \"{:#x}\")",
            account(i as u64)
        ));
    }
    text.push_str(" }");
    for i in 1..=levels {
        text.push_str(&format!(
            " fragment B{i} on Rollup {{ ...B{} ...B{} }}",
            i - 1,
            i - 1
        ));
    }
    serde_json::to_vec(&serde_json::json!({ "query": text })).unwrap()
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)] as f64 / 1000.0
}

#[derive(Default)]
struct Tally {
    cheap: Vec<u32>,
    expensive: Vec<u32>,
    statuses: std::collections::BTreeMap<u16, u64>,
    connection_errors: Vec<String>,
    wrong_answers: u64,
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let connections: usize = env_or("ZKREPLAY_BENCH_CONNECTIONS", 32);
    let clients: usize = env_or("ZKREPLAY_BENCH_CLIENTS", 500);
    let seconds: u64 = env_or("ZKREPLAY_BENCH_SECONDS", 10);
    let server_threads: usize = env_or("ZKREPLAY_BENCH_SERVER_THREADS", 2);
    let pace_ms: u64 = env_or("ZKREPLAY_BENCH_PACE_MS", 100);
    let (_tmp, path) = match std::env::var_os("ZKREPLAY_BENCH_STORE") {
        Some(path) => (None, PathBuf::from(path)),
        None => {
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().to_path_buf();
            (Some(tmp), path)
        }
    };
    let store = Arc::new(build_store(&path));

    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(server_threads)
        .enable_all()
        .build()
        .unwrap();
    let state = AppState::new(
        api::build_schema(vec![RollupHandle::new(
            "starknet-bench",
            RollupKind::Starknet,
            store,
        )]),
        Default::default(),
    );
    let (addr, _, _task) = server
        .block_on(api::serve(
            state,
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
            std::future::pending(),
        ))
        .unwrap();

    // The load generator gets one thread of its own.
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bodies: Arc<Vec<(Vec<u8>, String)>> = Arc::new(
        (0..4096)
            .map(|n| {
                let (query, expected) = request_body(n);
                (
                    serde_json::to_vec(&serde_json::json!({ "query": query })).unwrap(),
                    expected,
                )
            })
            .collect(),
    );
    for (phase, duration) in [
        ("warm-up", Duration::from_secs(2)),
        ("throughput", Duration::from_secs(seconds)),
    ] {
        let next = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let latencies: Vec<Vec<u32>> = client.block_on(async {
            let tasks: Vec<_> = (0..connections)
                .map(|c| {
                    let (bodies, next) = (bodies.clone(), next.clone());
                    tokio::task::spawn(async move {
                        let mut connection = Connection::open(addr, source(c)).await.unwrap();
                        let mut latencies = Vec::new();
                        while started.elapsed() < duration {
                            let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                            let (body, expected) = &bodies[n % bodies.len()];
                            let sent = Instant::now();
                            let (status, response) = connection.post(addr, body).await.unwrap();
                            latencies.push(sent.elapsed().as_micros() as u32);
                            // Check every answer: a fast wrong answer is no result.
                            let text = std::str::from_utf8(&response).unwrap();
                            assert!(
                                status == 200 && text.contains(&format!(r#""{expected}""#)),
                                "unexpected response {status}: {text}"
                            );
                        }
                        latencies
                    })
                })
                .collect();
            let mut all = Vec::new();
            for task in tasks {
                all.push(task.await.unwrap());
            }
            all
        });
        let elapsed = started.elapsed().as_secs_f64();
        let mut all: Vec<u32> = latencies.into_iter().flatten().collect();
        all.sort_unstable();
        println!(
            "{phase}: {} requests in {elapsed:.1} s over {connections} keep-alive connections = {:.0} req/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            all.len(),
            all.len() as f64 / elapsed,
            percentile(&all, 0.50),
            percentile(&all, 0.99),
            percentile(&all, 1.0),
        );
    }

    // Mixed load: every tenth client sends capped-expensive queries.
    let within_cap = Arc::new(balance_flood(30, 6)); // 30 · 2^6 = 1,920 balances
    let over_cap = Arc::new(balance_flood(45, 10)); // 46,080 balances: refused by price
    let started = Instant::now();
    let duration = Duration::from_secs(seconds);
    let pace = Duration::from_millis(pace_ms);
    let tally = client.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let (bodies, within_cap, over_cap) =
                    (bodies.clone(), within_cap.clone(), over_cap.clone());
                tokio::task::spawn(async move {
                    let mut tally = Tally::default();
                    let expensive = c % 10 == 0;
                    let mut connection = match Connection::open(addr, source(c)).await {
                        Ok(connection) => connection,
                        Err(e) => {
                            tally.connection_errors.push(format!("connect: {e}"));
                            return tally;
                        }
                    };
                    let mut n = c;
                    // Paced: one request per `pace` per client, started at a
                    // spread of offsets, as many independent users would.
                    let mut tick = tokio::time::interval_at(
                        tokio::time::Instant::now() + pace.mul_f64((c % 97) as f64 / 97.0),
                        pace.max(Duration::from_micros(1)),
                    );
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    while started.elapsed() < duration {
                        if !pace.is_zero() {
                            tick.tick().await;
                        }
                        n += clients;
                        let (body, expected) = if expensive {
                            let body = if n % 4 == 0 { &over_cap } else { &within_cap };
                            (body.as_slice(), None)
                        } else {
                            let (body, expected) = &bodies[n % bodies.len()];
                            (body.as_slice(), Some(expected))
                        };
                        let sent = Instant::now();
                        match connection.post(addr, body).await {
                            Ok((status, response)) => {
                                let micros = sent.elapsed().as_micros() as u32;
                                *tally.statuses.entry(status).or_default() += 1;
                                match expected {
                                    Some(expected) => {
                                        tally.cheap.push(micros);
                                        let text = String::from_utf8_lossy(&response);
                                        if status != 200
                                            || !text.contains(&format!(r#""{expected}""#))
                                        {
                                            tally.wrong_answers += 1;
                                        }
                                    }
                                    None => tally.expensive.push(micros),
                                }
                            }
                            Err(e) => {
                                tally.connection_errors.push(e.to_string());
                                return tally;
                            }
                        }
                    }
                    tally
                })
            })
            .collect();
        let mut all = Tally::default();
        for task in tasks {
            let t = task.await.unwrap();
            all.cheap.extend(t.cheap);
            all.expensive.extend(t.expensive);
            for (status, count) in t.statuses {
                *all.statuses.entry(status).or_default() += count;
            }
            all.connection_errors.extend(t.connection_errors);
            all.wrong_answers += t.wrong_answers;
        }
        all
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut tally = tally;
    tally.cheap.sort_unstable();
    tally.expensive.sort_unstable();
    println!(
        "mixed: {clients} clients ({} expensive), each one request per {pace_ms} ms (0: back to back), for {elapsed:.1} s: {} cheap answers ({:.0}/s), p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
         {} expensive answers, p50 {:.2} ms, p99 {:.2} ms; statuses {:?}; wrong cheap answers {}; connection errors {} {:?}",
        clients.div_ceil(10),
        tally.cheap.len(),
        tally.cheap.len() as f64 / elapsed,
        percentile(&tally.cheap, 0.50),
        percentile(&tally.cheap, 0.99),
        percentile(&tally.cheap, 1.0),
        tally.expensive.len(),
        percentile(&tally.expensive, 0.50),
        percentile(&tally.expensive, 0.99),
        tally.statuses,
        tally.wrong_answers,
        tally.connection_errors.len(),
        tally.connection_errors.iter().take(3).collect::<Vec<_>>(),
    );
}
