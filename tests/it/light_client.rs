//! The beacon light client on the consensus-spec test vectors
//! `tests/minimal/deneb/light_client/sync/pyspec_tests/light_client_sync`
//! (ethereum/consensus-spec-tests, CC0), recorded in `tests/fixtures/light_client/`
//! (see SOURCE.md there): a bootstrap from a trusted block root, then each
//! step's update or forced update, after which the store's finalized and
//! optimistic headers must be the ones the spec's reference implementation
//! reached (`steps.yaml`).
//!
//! The same vectors are then served by a mock beacon node (axum, on
//! loopback) through the light-client HTTP API, SSZ-framed as beacon-APIs
//! specifies, and the HTTP client and sync loop must reach the finalized
//! headers of `steps.yaml`; a tampered or oversized answer must be refused.

use std::path::{Path, PathBuf};

use alloy_primitives::{B256, b256};
use ssz_types::typenum::U32;
use zkreplay::l1::light_client::types::{Layout, LightClientBootstrap, LightClientUpdate, root};
use zkreplay::l1::light_client::{ChainSpec, LightClientError, LightClientStore};

/// `SYNC_COMMITTEE_SIZE` of the minimal preset (consensus-specs `presets/minimal/altair.yaml`).
type Minimal = U32;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/light_client")
}

fn ssz_snappy(path: &Path) -> Vec<u8> {
    let compressed = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    snap::raw::Decoder::new()
        .decompress_vec(&compressed)
        .unwrap()
}

/// The value of `key: 'value'` or `key: value` in `text`, from the first occurrence after `from`.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(&format!("{key}: "))? + key.len() + 2;
    let rest = &text[start..];
    let end = rest.find([',', '}', '\n']).unwrap_or(rest.len());
    Some(rest[..end].trim().trim_matches('\''))
}

/// The spec's test configuration: `config.yaml` (fork versions) and `meta.yaml`
/// (genesis validators root), in the minimal preset (8 slots an epoch, 8 epochs a
/// period: consensus-specs `presets/minimal/{phase0,altair}.yaml`).
fn spec() -> ChainSpec {
    let config = std::fs::read_to_string(dir().join("config.yaml")).unwrap();
    let meta = std::fs::read_to_string(dir().join("meta.yaml")).unwrap();
    let version = |name: &str| -> (u64, [u8; 4]) {
        let epoch = field(&config, &format!("{name}_FORK_EPOCH"))
            .unwrap()
            .parse()
            .unwrap();
        let hex = field(&config, &format!("{name}_FORK_VERSION")).unwrap();
        let bytes = hex::decode(hex.trim_start_matches("0x")).unwrap();
        (epoch, bytes.try_into().unwrap())
    };
    ChainSpec {
        genesis_validators_root: field(&meta, "genesis_validators_root")
            .unwrap()
            .parse()
            .unwrap(),
        forks: ["ALTAIR", "BELLATRIX", "CAPELLA", "DENEB"]
            .map(version)
            .to_vec(),
        slots_per_epoch: 8,
        epochs_per_sync_committee_period: 8,
        // Not scheduled in this Deneb test network (`config.yaml` has no
        // `ELECTRA_FORK_EPOCH`): Deneb branch depths throughout.
        electra_fork_epoch: u64::MAX,
        // `MIN_GENESIS_TIME` + `GENESIS_DELAY` and `SECONDS_PER_SLOT` of
        // `config.yaml`; unused (the tests give the current slot).
        genesis_time: 1_578_009_900,
        seconds_per_slot: 6,
    }
}

struct Step {
    update: Option<String>,
    current_slot: u64,
    finalized: (u64, B256, B256),
    optimistic: (u64, B256, B256),
}

fn steps() -> Vec<Step> {
    let text = std::fs::read_to_string(dir().join("steps.yaml")).unwrap();
    text.split("\n- ")
        .map(|step| {
            let header = |name: &str| {
                let at = step.find(name).unwrap();
                let part = &step[at..];
                (
                    field(part, "slot").unwrap().parse().unwrap(),
                    field(part, "beacon_root").unwrap().parse().unwrap(),
                    field(part, "execution_root").unwrap().parse().unwrap(),
                )
            };
            Step {
                update: step
                    .contains("process_update")
                    .then(|| field(step, "update").unwrap().to_string()),
                current_slot: field(step, "current_slot").unwrap().parse().unwrap(),
                finalized: header("finalized_header"),
                optimistic: header("optimistic_header"),
            }
        })
        .collect()
}

fn bootstrap_store(spec: &ChainSpec) -> LightClientStore<Minimal> {
    let meta = std::fs::read_to_string(dir().join("meta.yaml")).unwrap();
    let trusted: B256 = field(&meta, "trusted_block_root").unwrap().parse().unwrap();
    let digest = field(&meta, "bootstrap_fork_digest").unwrap();
    assert_eq!(
        format!("0x{}", hex::encode(spec.fork_digest(spec.fork_version(0)))),
        digest,
        "fork digest (SSZ ForkData root)"
    );
    let bootstrap = load_bootstrap();
    LightClientStore::bootstrap(spec, trusted, bootstrap).unwrap()
}

fn load_bootstrap() -> LightClientBootstrap<Minimal> {
    LightClientBootstrap::from_ssz(
        &ssz_snappy(&dir().join("bootstrap.ssz_snappy")),
        Layout::Deneb,
    )
    .unwrap()
}

fn load_update(name: &str) -> LightClientUpdate<Minimal> {
    LightClientUpdate::from_ssz(
        &ssz_snappy(&dir().join(format!("{name}.ssz_snappy"))),
        Layout::Deneb,
    )
    .unwrap()
}

#[test]
fn spec_light_client_sync_vectors() {
    let spec = spec();
    let mut store = bootstrap_store(&spec);
    let steps = steps();
    assert!(steps.len() >= 10, "{} steps", steps.len());
    for (i, step) in steps.iter().enumerate() {
        match &step.update {
            Some(name) => store
                .process_update(&spec, load_update(name), step.current_slot)
                .unwrap_or_else(|e| panic!("step {i} ({name}): {e}")),
            None => store.force_update(&spec, step.current_slot).unwrap(),
        }
        let state = |h: &zkreplay::l1::light_client::types::LightClientHeader| {
            (h.beacon.slot, root(&h.beacon), root(&h.execution))
        };
        assert_eq!(
            state(&store.finalized_header),
            step.finalized,
            "step {i}: finalized header"
        );
        assert_eq!(
            state(&store.optimistic_header),
            step.optimistic,
            "step {i}: optimistic header"
        );
    }
    let (number, hash) = store.finalized_execution_block();
    eprintln!(
        "finalized execution block {number} {hash} after {} steps",
        steps.len()
    );
}

#[test]
fn a_wrong_root_a_flipped_signature_or_a_bad_branch_is_refused() {
    let spec = spec();
    let bootstrap = load_bootstrap();
    assert!(matches!(
        LightClientStore::bootstrap(&spec, B256::repeat_byte(1), bootstrap.clone()),
        Err(LightClientError::UntrustedBootstrap { .. })
    ));
    let mut forged = bootstrap.clone();
    forged.current_sync_committee.aggregate_pubkey[0] ^= 1;
    let trusted = root(&bootstrap.header.beacon);
    assert!(matches!(
        LightClientStore::bootstrap(&spec, trusted, forged),
        Err(LightClientError::Branch {
            what: "current sync committee",
            ..
        })
    ));

    let first = steps().into_iter().next().unwrap();
    let name = first.update.unwrap();
    let mut signature = load_update(&name);
    signature.sync_aggregate.sync_committee_signature[5] ^= 1;
    let mut attested = load_update(&name);
    attested.attested_header.beacon.proposer_index += 1;
    let mut finality = load_update(&name);
    finality.finality_branch[2] = B256::repeat_byte(2);
    let mut execution = load_update(&name);
    execution.finalized_header.execution.block_hash =
        b256!("00000000000000000000000000000000000000000000000000000000000000aa");
    for (what, update) in [
        ("signature", signature),
        ("attested", attested),
        ("finality", finality),
        ("execution", execution),
    ] {
        let mut store = bootstrap_store(&spec);
        let error = store
            .process_update(&spec, update, first.current_slot)
            .unwrap_err();
        eprintln!("{what}: {error}");
        match what {
            "signature" | "attested" => assert!(
                matches!(error, LightClientError::Signature(_)),
                "{what}: {error}"
            ),
            "finality" => assert!(
                matches!(
                    error,
                    LightClientError::Branch {
                        what: "finalized header",
                        ..
                    }
                ),
                "{error}"
            ),
            _ => assert!(
                matches!(
                    error,
                    LightClientError::Branch {
                        what: "execution payload header",
                        ..
                    }
                ),
                "{error}"
            ),
        }
    }
}

// ---------------------------------------------------------------------------
// The HTTP client and sync loop against a mock beacon node serving the vectors.
// ---------------------------------------------------------------------------

use std::sync::{Arc, Mutex};

use zkreplay::l1::light_client::api::{ApiError, LightClientApi, MAX_OBJECT_BYTES};
use zkreplay::l1::light_client::sync::{Clock, Finalized, LightClient, SyncError};
use zkreplay::l1::light_client::types::LightClientFinalityUpdate;
use zkreplay::l1::transport::{GetLayers, RetrySettings};

/// What the mock beacon node serves: the vectors' bootstrap, and the updates
/// signed at or before its current slot (a node cannot serve later ones).
#[derive(Clone, Default)]
struct Served {
    trusted: B256,
    bootstrap: Vec<u8>,
    /// `(attested period, context, SSZ)` in the vectors' order.
    updates: Vec<(u64, [u8; 4], Vec<u8>)>,
    finality: Vec<u8>,
    /// Answer JSON whatever the client accepts (a node without SSZ).
    json: bool,
    /// Requests seen, for the assertions.
    paths: Arc<Mutex<Vec<String>>>,
}

/// The beacon-APIs JSON schemas (`beacon-node-oapi.yaml`:
/// `Deneb.LightClientHeader`, `SyncCommittee`, `SyncAggregate`, ...),
/// written here independently of the client's reader: decimal-string
/// integers, 0x-hex bytes, field names as the schema spells them.
mod to_json {
    use super::*;
    use serde_json::{Value, json};
    use ssz::Encode;
    use zkreplay::l1::light_client::types::{LightClientHeader, SyncAggregate, SyncCommittee};

    fn hex(bytes: &[u8]) -> String {
        format!("0x{}", hex::encode(bytes))
    }

    fn branch(nodes: &[B256]) -> Value {
        nodes.iter().map(|n| n.to_string()).collect()
    }

    pub fn header(h: &LightClientHeader) -> Value {
        let e = &h.execution;
        json!({
            "beacon": {
                "slot": h.beacon.slot.to_string(),
                "proposer_index": h.beacon.proposer_index.to_string(),
                "parent_root": h.beacon.parent_root.to_string(),
                "state_root": h.beacon.state_root.to_string(),
                "body_root": h.beacon.body_root.to_string(),
            },
            "execution": {
                "parent_hash": e.parent_hash.to_string(),
                "fee_recipient": e.fee_recipient.to_string(),
                "state_root": e.state_root.to_string(),
                "receipts_root": e.receipts_root.to_string(),
                "logs_bloom": hex(&e.logs_bloom),
                "prev_randao": e.prev_randao.to_string(),
                "block_number": e.block_number.to_string(),
                "gas_limit": e.gas_limit.to_string(),
                "gas_used": e.gas_used.to_string(),
                "timestamp": e.timestamp.to_string(),
                "extra_data": hex(&e.extra_data),
                "base_fee_per_gas": e.base_fee_per_gas.to_string(),
                "block_hash": e.block_hash.to_string(),
                "transactions_root": e.transactions_root.to_string(),
                "withdrawals_root": e.withdrawals_root.to_string(),
                "blob_gas_used": e.blob_gas_used.to_string(),
                "excess_blob_gas": e.excess_blob_gas.to_string(),
            },
            "execution_branch": branch(&h.execution_branch),
        })
    }

    fn committee(c: &SyncCommittee<Minimal>) -> Value {
        json!({
            "pubkeys": c.pubkeys.iter().map(|k| hex(k)).collect::<Vec<_>>(),
            "aggregate_pubkey": hex(&c.aggregate_pubkey),
        })
    }

    fn aggregate(a: &SyncAggregate<Minimal>) -> Value {
        json!({
            "sync_committee_bits": hex(&a.sync_committee_bits.as_ssz_bytes()),
            "sync_committee_signature": hex(&a.sync_committee_signature),
        })
    }

    pub fn bootstrap(ssz: &[u8]) -> Value {
        let b = LightClientBootstrap::<Minimal>::from_ssz(ssz, Layout::Deneb).unwrap();
        json!({"version": "deneb", "data": {
            "header": header(&b.header),
            "current_sync_committee": committee(&b.current_sync_committee),
            "current_sync_committee_branch": branch(&b.current_sync_committee_branch),
        }})
    }

    pub fn update(ssz: &[u8]) -> Value {
        let u = LightClientUpdate::<Minimal>::from_ssz(ssz, Layout::Deneb).unwrap();
        json!({"version": "deneb", "data": {
            "attested_header": header(&u.attested_header),
            "next_sync_committee": committee(&u.next_sync_committee),
            "next_sync_committee_branch": branch(&u.next_sync_committee_branch),
            "finalized_header": header(&u.finalized_header),
            "finality_branch": branch(&u.finality_branch),
            "sync_aggregate": aggregate(&u.sync_aggregate),
            "signature_slot": u.signature_slot.to_string(),
        }})
    }

    pub fn finality_update(ssz: &[u8]) -> Value {
        let u = LightClientFinalityUpdate::<Minimal>::from_ssz(ssz, Layout::Deneb).unwrap();
        json!({"version": "deneb", "data": {
            "attested_header": header(&u.attested_header),
            "finalized_header": header(&u.finalized_header),
            "finality_branch": branch(&u.finality_branch),
            "sync_aggregate": aggregate(&u.sync_aggregate),
            "signature_slot": u.signature_slot.to_string(),
        }})
    }
}

fn served_at(spec: &ChainSpec, now: u64) -> Served {
    let meta = std::fs::read_to_string(dir().join("meta.yaml")).unwrap();
    let mut served = Served {
        trusted: field(&meta, "trusted_block_root").unwrap().parse().unwrap(),
        bootstrap: ssz_snappy(&dir().join("bootstrap.ssz_snappy")),
        ..Served::default()
    };
    let mut finality = None;
    let mut ranks = Vec::new();
    for step in steps() {
        let Some(name) = step.update else { continue };
        let update = load_update(&name);
        if update.signature_slot > now {
            continue;
        }
        let attested = update.attested_header.beacon.slot;
        let context = spec.fork_digest(spec.fork_version(attested));
        let bytes = ssz_snappy(&dir().join(format!("{name}.ssz_snappy")));
        let finalizes = update.finality_branch.iter().any(|b| !b.is_zero());
        let rotates = update
            .next_sync_committee_branch
            .iter()
            .any(|b| !b.is_zero());
        // One update a period, as beacon-APIs requires: the best one by the
        // first criteria of the spec's `is_better_update` (a sync committee
        // update, then finality; the earlier on a tie).
        let period = spec.period(attested);
        let rank = (rotates, finalizes);
        match served.updates.iter().position(|(p, _, _)| *p == period) {
            Some(i) if ranks[i] < rank => {
                served.updates[i] = (period, context, bytes);
                ranks[i] = rank;
            }
            Some(_) => {}
            None => {
                served.updates.push((period, context, bytes));
                ranks.push(rank);
            }
        }
        if finalizes {
            finality = Some(update);
        }
    }
    // The finality endpoint serves the finality part of the newest update
    // that has one (what `create_light_client_finality_update` derives).
    let finality = LightClientFinalityUpdate::from_update(finality.expect("a finality update"));
    served.finality = finality.to_ssz(Layout::Deneb).unwrap();
    served
}

/// The `updates` SSZ framing of beacon-APIs `updates.yaml`:
/// `response_chunk_len` (u64 LE, counting the context) ‖ context ‖ payload.
fn frame(chunks: &[(u64, [u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (_, context, payload) in chunks {
        out.extend_from_slice(&((4 + payload.len()) as u64).to_le_bytes());
        out.extend_from_slice(context);
        out.extend_from_slice(payload);
    }
    out
}

/// Serves `served` on a loopback port; returns its base URL.
async fn mock_beacon(served: Served) -> String {
    use axum::extract::{Path, Query, State};
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::get;

    #[derive(serde::Deserialize)]
    struct Range {
        start_period: u64,
        count: u64,
    }
    /// As a real node: JSON unless the client asks for SSZ.
    async fn ssz_only_when_asked(
        request: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> axum::response::Response {
        let asks_ssz = request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/octet-stream"));
        if !asks_ssz {
            return (
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"version":"deneb","data":{}}"#,
            )
                .into_response();
        }
        next.run(request).await
    }
    fn json(value: serde_json::Value) -> axum::response::Response {
        (
            [(header::CONTENT_TYPE, "application/json")],
            value.to_string(),
        )
            .into_response()
    }
    fn ssz(body: Vec<u8>) -> axum::response::Response {
        ([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response()
    }
    async fn bootstrap(
        State(s): State<Served>,
        Path(root): Path<String>,
    ) -> axum::response::Response {
        s.paths.lock().unwrap().push(format!("bootstrap/{root}"));
        if root.parse::<B256>().ok() == Some(s.trusted) {
            if s.json {
                return json(to_json::bootstrap(&s.bootstrap));
            }
            ssz(s.bootstrap)
        } else {
            (StatusCode::NOT_FOUND, "LC bootstrap unavailable").into_response()
        }
    }
    async fn updates(
        State(s): State<Served>,
        Query(range): Query<Range>,
    ) -> axum::response::Response {
        s.paths
            .lock()
            .unwrap()
            .push(format!("updates/{}/{}", range.start_period, range.count));
        let wanted: Vec<_> = s
            .updates
            .iter()
            .filter(|(period, _, _)| {
                (range.start_period..range.start_period + range.count).contains(period)
            })
            .cloned()
            .collect();
        if s.json {
            let list: Vec<_> = wanted.iter().map(|(_, _, u)| to_json::update(u)).collect();
            return json(serde_json::Value::Array(list));
        }
        ssz(frame(&wanted))
    }
    async fn finality(State(s): State<Served>) -> axum::response::Response {
        s.paths.lock().unwrap().push("finality_update".into());
        // A node that ignores `Accept` and answers JSON.
        if s.finality.starts_with(b"{") {
            return ([(header::CONTENT_TYPE, "application/json")], s.finality).into_response();
        }
        if s.json {
            return json(to_json::finality_update(&s.finality));
        }
        ssz(s.finality)
    }
    let app = axum::Router::new()
        .route(
            "/eth/v1/beacon/light_client/bootstrap/{root}",
            get(bootstrap),
        )
        .route("/eth/v1/beacon/light_client/updates", get(updates))
        .route("/eth/v1/beacon/light_client/finality_update", get(finality))
        .layer(axum::middleware::from_fn(ssz_only_when_asked))
        .with_state(served);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn api(url: &str) -> LightClientApi {
    let retry = RetrySettings {
        max_retries: 1,
        initial_backoff: std::time::Duration::from_millis(10),
        max_backoff: std::time::Duration::from_millis(10),
        max_elapsed: std::time::Duration::from_secs(10),
        attempt_timeout: std::time::Duration::from_secs(10),
    };
    LightClientApi::new(url, &GetLayers::new(retry, 2)).unwrap()
}

async fn sync_against(served: Served, now: u64) -> Result<Finalized, SyncError> {
    let trusted = served.trusted;
    let url = mock_beacon(served).await;
    let client =
        LightClient::<Minimal>::bootstrap(api(&url), spec(), Clock::Fixed(now), trusted).await?;
    client.sync().await
}

/// Every step up to the first forced update (the client never forces one):
/// a node at that step's slot serves the updates signed so far, and the
/// client, through HTTP, must hold the finalized header the reference
/// implementation held after that step.
#[tokio::test]
async fn the_client_reaches_the_vectors_finalized_headers_through_a_mock_beacon_node() {
    let spec = spec();
    let steps = steps();
    let checked: Vec<&Step> = steps.iter().take_while(|s| s.update.is_some()).collect();
    assert_eq!(checked.len(), 5, "steps before the first force_update");
    for (i, step) in checked.iter().enumerate() {
        let served = served_at(&spec, step.current_slot);
        let paths = served.paths.clone();
        let started = std::time::Instant::now();
        let proved = sync_against(served, step.current_slot)
            .await
            .unwrap_or_else(|e| panic!("step {i}: {e}"));
        let elapsed = started.elapsed();
        assert_eq!(
            (proved.slot, proved.beacon_root, proved.execution_root),
            step.finalized,
            "step {i}: finalized header (steps.yaml)"
        );
        let paths = paths.lock().unwrap().clone();
        eprintln!(
            "step {i} (slot {}): finalized slot {} execution block {} {} in {elapsed:?} via {paths:?}",
            step.current_slot, proved.slot, proved.block_number, proved.block_hash
        );
        assert!(paths.iter().any(|p| p == "finality_update"), "{paths:?}");
        if spec.period(step.current_slot) > 0 {
            assert!(
                paths.iter().any(|p| p.starts_with("updates/0/")),
                "{paths:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_tampered_answer_of_the_beacon_node_is_refused() {
    let spec = spec();
    let now = steps()[2].current_slot;
    let served = served_at(&spec, now);

    // A flipped byte of a sync committee signature in the updates list.
    let mut signature = served.clone();
    let (_, _, bytes) = &mut signature.updates[1];
    let mut update = LightClientUpdate::<Minimal>::from_ssz(bytes, Layout::Deneb).unwrap();
    update.sync_aggregate.sync_committee_signature[7] ^= 1;
    *bytes = update.to_ssz(Layout::Deneb).unwrap();
    let error = sync_against(signature, now).await.unwrap_err();
    eprintln!("flipped signature byte: {error}");
    assert!(
        matches!(error, SyncError::Verify(LightClientError::Signature(_))),
        "{error}"
    );
    assert!(error.to_string().contains("does not verify"), "{error}");

    // A wrong node in the finality branch of the finality update.
    let mut branch = served.clone();
    let mut finality =
        LightClientFinalityUpdate::<Minimal>::from_ssz(&branch.finality, Layout::Deneb).unwrap();
    finality.finality_branch[3] = B256::repeat_byte(3);
    branch.finality = finality.to_ssz(Layout::Deneb).unwrap();
    let error = sync_against(branch, now).await.unwrap_err();
    eprintln!("wrong finality branch: {error}");
    assert!(
        matches!(
            error,
            SyncError::Verify(LightClientError::Branch {
                what: "finalized header",
                ..
            })
        ),
        "{error}"
    );

    // A bootstrap whose sync committee is not the one in the trusted block's state.
    let mut committee = served.clone();
    let mut bootstrap = load_bootstrap();
    bootstrap.current_sync_committee.pubkeys[0][3] ^= 1;
    committee.bootstrap = bootstrap.to_ssz(Layout::Deneb).unwrap();
    let error = sync_against(committee, now).await.unwrap_err();
    eprintln!("forged bootstrap committee: {error}");
    assert!(
        matches!(
            error,
            SyncError::Verify(LightClientError::Branch {
                what: "current sync committee",
                ..
            })
        ),
        "{error}"
    );

    // A chunk length that claims more bytes than were sent.
    let mut framing = served.clone();
    let (_, _, bytes) = &mut framing.updates[0];
    bytes.truncate(bytes.len() / 2);
    let error = sync_against(framing, now).await.unwrap_err();
    eprintln!("truncated update: {error}");
    assert!(
        matches!(error, SyncError::Api(ApiError::Decode { .. })),
        "{error}"
    );
}

#[tokio::test]
async fn an_oversized_answer_is_refused_before_it_is_read_whole() {
    let spec = spec();
    let now = steps()[0].current_slot;
    let mut served = served_at(&spec, now);
    served.finality = vec![0; MAX_OBJECT_BYTES + 1];
    let error = sync_against(served.clone(), now).await.unwrap_err();
    eprintln!("oversized finality update: {error}");
    assert!(
        matches!(error, SyncError::Api(ApiError::TooLarge { .. })),
        "{error}"
    );
    // A bootstrap of the trusted root served oversized.
    served.bootstrap = vec![0; MAX_OBJECT_BYTES + 1];
    let error = sync_against(served, now).await.unwrap_err();
    assert!(
        matches!(error, SyncError::Api(ApiError::TooLarge { .. })),
        "{error}"
    );
}

// ---------------------------------------------------------------------------
// The header chain's anchor and ceiling come from the light client.
// ---------------------------------------------------------------------------

use alloy_consensus::Header;
use alloy_eips::BlockHashOrNumber;
use alloy_primitives::{Address, Bytes};
use zkreplay::l1::header_chain::L1Checkpoint;
use zkreplay::l1::verified::{FinalityOracle, VerifiedL1, VerifyLevel, VerifyOptions};
use zkreplay::l1::{
    BlobRequest, BlockTag, L1Block, L1Error, L1Log, L1Source, L1Transaction, LogFilter,
};

/// An execution endpoint that serves the headers it holds and a `finalized`
/// block of its choosing, and records what it is asked.
#[derive(Debug, Default)]
struct Endpoint {
    headers: Vec<(Header, B256)>,
    finalized: Mutex<Option<L1Block>>,
    asked: Mutex<Vec<String>>,
}

impl Endpoint {
    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl L1Source for Endpoint {
    async fn chain_id(&self) -> Result<u64, L1Error> {
        Ok(1)
    }
    async fn block_by_tag(&self, tag: BlockTag) -> Result<L1Block, L1Error> {
        self.asked.lock().unwrap().push(format!("tag {tag:?}"));
        self.finalized
            .lock()
            .unwrap()
            .clone()
            .ok_or(L1Error::Unsupported("tags"))
    }
    async fn block_by_number(&self, _: u64) -> Result<Option<L1Block>, L1Error> {
        Err(L1Error::Unsupported("blocks"))
    }
    async fn block_by_hash(&self, _: B256) -> Result<Option<L1Block>, L1Error> {
        Err(L1Error::Unsupported("blocks"))
    }
    async fn logs(&self, _: &LogFilter) -> Result<Vec<L1Log>, L1Error> {
        Err(L1Error::Unsupported("logs"))
    }
    async fn transaction(&self, _: B256) -> Result<Option<L1Transaction>, L1Error> {
        Err(L1Error::Unsupported("transactions"))
    }
    async fn call(&self, _: Address, _: Bytes, _: u64) -> Result<Bytes, L1Error> {
        Err(L1Error::Unsupported("calls"))
    }
    async fn blobs(&self, _: &L1Block, _: &BlobRequest) -> Result<Vec<Vec<u8>>, L1Error> {
        Err(L1Error::Unsupported("blobs"))
    }
    async fn raw_header(&self, block: BlockHashOrNumber) -> Result<Option<Header>, L1Error> {
        self.asked.lock().unwrap().push(format!("header {block}"));
        Ok(self
            .headers
            .iter()
            .find(|(h, hash)| match block {
                BlockHashOrNumber::Hash(wanted) => *hash == wanted,
                BlockHashOrNumber::Number(n) => h.number == n,
            })
            .map(|(h, _)| h.clone()))
    }
}

/// The verified execution block of the light client synced through the mock
/// node is the header chain's anchor: the endpoint is asked for that block's
/// header, and never for the block it calls finalized.
#[tokio::test]
async fn the_anchor_is_the_light_clients_finalized_block_not_the_endpoints() {
    let spec = spec();
    let step = &steps()[4];
    let served = served_at(&spec, step.current_slot);
    let trusted = served.trusted;
    let url = mock_beacon(served).await;
    let client = Arc::new(
        LightClient::<Minimal>::bootstrap(
            api(&url),
            spec,
            Clock::Fixed(step.current_slot),
            trusted,
        )
        .await
        .unwrap(),
    );
    let proved = client.sync().await.unwrap();
    assert_eq!(
        (proved.slot, proved.beacon_root, proved.execution_root),
        step.finalized
    );
    let endpoint = Endpoint::default();
    *endpoint.finalized.lock().unwrap() = Some(L1Block {
        number: proved.block_number + 100,
        hash: B256::repeat_byte(9),
        parent_hash: B256::ZERO,
        timestamp: 0,
    });
    let source = VerifiedL1::new(endpoint, VerifyOptions::new(VerifyLevel::Full, vec![]))
        .with_finality_oracle(client);
    // The spec network's execution blocks are not on any execution endpoint:
    // the anchor is refused, naming the light client's block.
    let error = source.anchor(None).await.unwrap_err();
    eprintln!("{error}");
    assert!(
        error.to_string().contains(&proved.block_hash.to_string()),
        "{error}"
    );
    assert_eq!(
        source.inner().asked(),
        vec![format!("header {}", proved.block_hash)]
    );
}

/// A finality oracle that proves what the test says (the light client's
/// role, without BLS), to drive the follower's ceiling.
#[derive(Debug)]
struct Oracle(Mutex<L1Checkpoint>);

impl FinalityOracle for Oracle {
    fn finalized_block(
        &self,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<L1Checkpoint, L1Error>> + Send + '_>,
    > {
        let proved = *self.0.lock().unwrap();
        Box::pin(async move { Ok(proved) })
    }
}

/// Real-format headers (RLP-hashed by alloy) linked by parent hash.
fn chain(length: u64) -> Vec<(Header, B256)> {
    let mut out: Vec<(Header, B256)> = Vec::new();
    for number in 0..length {
        let header = Header {
            number,
            parent_hash: out.last().map_or(B256::ZERO, |(_, h)| *h),
            timestamp: 1_700_000_000 + 12 * number,
            ..Header::default()
        };
        let hash = header.hash_slow();
        out.push((header, hash));
    }
    out
}

/// `finalized` targets stop at the newest block the oracle proved, however
/// far the endpoint's `finalized` runs ahead, and move on only when the
/// oracle proves a newer block. (Plumbing of the ceiling: the oracle here
/// is a test double; the light client above is the real one.)
#[tokio::test]
async fn finalized_targets_never_pass_the_light_clients_block() {
    let blocks = chain(12);
    let checkpoint = |n: usize| L1Checkpoint {
        number: n as u64,
        hash: blocks[n].1,
    };
    let block = |n: usize| L1Block {
        number: n as u64,
        hash: blocks[n].1,
        parent_hash: blocks[n].0.parent_hash,
        timestamp: blocks[n].0.timestamp,
    };
    let endpoint = Endpoint {
        headers: blocks.clone(),
        ..Endpoint::default()
    };
    *endpoint.finalized.lock().unwrap() = Some(block(10));
    let oracle = Arc::new(Oracle(Mutex::new(checkpoint(5))));
    let source = VerifiedL1::new(endpoint, VerifyOptions::new(VerifyLevel::Full, vec![]))
        .with_finality_oracle(oracle.clone());
    assert_eq!(source.anchor(None).await.unwrap(), Some(checkpoint(5)));
    assert_eq!(
        source.block_by_tag(BlockTag::Finalized).await.unwrap(),
        block(5)
    );
    assert_eq!(
        source.block_by_tag(BlockTag::Finalized).await.unwrap(),
        block(5)
    );
    *oracle.0.lock().unwrap() = checkpoint(8);
    assert_eq!(
        source.block_by_tag(BlockTag::Finalized).await.unwrap(),
        block(8)
    );
    // Behind the oracle, the endpoint's own finalized block counts (proved
    // an ancestor of the oracle's block).
    *source.inner().finalized.lock().unwrap() = Some(block(6));
    assert_eq!(
        source.block_by_tag(BlockTag::Finalized).await.unwrap(),
        block(6)
    );
    // An oracle block whose header carries another number is refused.
    let mut wrong = checkpoint(11);
    wrong.number = 12;
    *oracle.0.lock().unwrap() = wrong;
    let error = source.block_by_tag(BlockTag::Finalized).await.unwrap_err();
    assert!(error.to_string().contains("block 11"), "{error}");
}

/// Electra's layouts (consensus-specs `specs/electra/light-client/sync-protocol.md`,
/// "Types": `FinalityBranch` of 7 nodes, sync committee branches of 6, one
/// more than before) are chosen by the fork of the header's slot: on mainnet
/// from `ELECTRA_FORK_EPOCH` 364032 (`configs/mainnet.yaml`), i.e. slot
/// 364032 × 32. No Electra vectors are recorded here, so this checks the
/// switch and the sizes only; the proofs are the Deneb code with the
/// Electra gindices.
#[test]
fn electra_layouts_are_keyed_on_the_headers_slot() {
    let mainnet = ChainSpec::mainnet();
    assert_eq!(mainnet.layout(364_032 * 32 - 1), Layout::Deneb);
    assert_eq!(mainnet.layout(364_032 * 32), Layout::Electra);
    let bootstrap = load_bootstrap();
    let deneb = bootstrap.to_ssz(Layout::Deneb).unwrap();
    assert_eq!(
        deneb,
        ssz_snappy(&dir().join("bootstrap.ssz_snappy")),
        "Deneb re-encoding is byte-exact"
    );
    // A Deneb-depth branch does not fit the Electra vector, and the reverse.
    assert!(bootstrap.to_ssz(Layout::Electra).is_err());
    let mut electra = bootstrap.clone();
    electra
        .current_sync_committee_branch
        .push(B256::repeat_byte(4));
    let bytes = electra.to_ssz(Layout::Electra).unwrap();
    assert_eq!(bytes.len(), deneb.len() + 32);
    assert_eq!(
        LightClientBootstrap::<Minimal>::from_ssz(&bytes, Layout::Electra).unwrap(),
        electra
    );
    assert!(LightClientBootstrap::<Minimal>::from_ssz(&bytes, Layout::Deneb).is_err());
    let first = steps().into_iter().next().unwrap().update.unwrap();
    let update = load_update(&first);
    let mut longer = update.clone();
    longer.next_sync_committee_branch.push(B256::ZERO);
    longer.finality_branch.push(B256::ZERO);
    let deneb = update.to_ssz(Layout::Deneb).unwrap();
    assert_eq!(
        longer.to_ssz(Layout::Electra).unwrap().len(),
        deneb.len() + 64
    );
    let finality = LightClientFinalityUpdate::from_update(update)
        .to_ssz(Layout::Deneb)
        .unwrap();
    eprintln!(
        "SSZ bytes (minimal preset, 32 keys): bootstrap {}, update {}, finality update {}",
        bootstrap.to_ssz(Layout::Deneb).unwrap().len(),
        deneb.len(),
        finality.len()
    );
    // A store on a spec that puts these Deneb vectors under Electra refuses
    // their branches (the depths differ): the layout really is per slot.
    let mut electra_spec = spec();
    electra_spec.electra_fork_epoch = 0;
    let meta = std::fs::read_to_string(dir().join("meta.yaml")).unwrap();
    let trusted: B256 = field(&meta, "trusted_block_root").unwrap().parse().unwrap();
    assert!(matches!(
        LightClientStore::bootstrap(&electra_spec, trusted, load_bootstrap()),
        Err(LightClientError::Branch {
            what: "current sync committee",
            ..
        })
    ));
}

/// The `follow` flags: `--beacon-light-client` needs `--beacon-url`, excludes
/// `--l1-checkpoint`, and reads its `ZKREPLAY_*` variables; the CLI's start
/// refuses a non-mainnet L1 and `--l1-verify off`, and asks the beacon
/// node for the bootstrap of `--beacon-checkpoint` (here the minimal-preset
/// vectors, which do not decode as mainnet's 512-key committees: refused).
#[tokio::test]
async fn follow_flags_start_the_light_client_from_the_beacon_checkpoint() {
    use clap::Parser;
    use zkreplay::cli::{Cli, Command};
    let served = served_at(&spec(), steps()[0].current_slot);
    let trusted = served.trusted;
    let paths = served.paths.clone();
    let url = mock_beacon(served).await;
    let base = [
        "zkreplay",
        "follow",
        "--chain",
        "c.toml",
        "--rpc-url",
        "http://127.0.0.1:1",
        "--data-dir",
        "d",
    ];
    let parse = |extra: &[&str]| Cli::try_parse_from(base.iter().chain(extra.iter()).copied());
    let error = parse(&["--beacon-light-client"]).err().unwrap().to_string();
    assert!(error.contains("--beacon-url"), "{error}");
    let checkpoint = trusted.to_string();
    let error = parse(&[
        "--beacon-light-client",
        "--beacon-url",
        &url,
        "--l1-checkpoint",
        &checkpoint,
    ])
    .err()
    .unwrap()
    .to_string();
    assert!(error.contains("cannot be used with"), "{error}");
    let error = parse(&["--beacon-checkpoint", &checkpoint])
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("--beacon-light-client"), "{error}");
    let args = |extra: &[&str]| match parse(extra).unwrap().command {
        Command::Follow(args) => args,
        _ => unreachable!(),
    };
    let args_ok = args(&[
        "--beacon-light-client",
        "--beacon-url",
        &url,
        "--beacon-checkpoint",
        &checkpoint,
    ]);
    assert!(args_ok.beacon_light_client);
    assert_eq!(args_ok.beacon_checkpoint, Some(trusted));

    use zkreplay::cli::follow::start_light_client;
    let error = start_light_client(&args_ok, 31_337)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("mainnet only"), "{error}");
    let off = args(&[
        "--beacon-light-client",
        "--beacon-url",
        &url,
        "--l1-verify",
        "off",
    ]);
    let error = start_light_client(&off, 1).await.err().unwrap().to_string();
    assert!(error.contains("--l1-verify"), "{error}");
    let error = format!("{:#}", start_light_client(&args_ok, 1).await.err().unwrap());
    eprintln!("{error}");
    assert!(
        error.contains(&format!("bootstrapping from beacon block root {trusted}")),
        "{error}"
    );
    assert!(error.contains("not valid SSZ"), "{error}");
    assert_eq!(*paths.lock().unwrap(), vec![format!("bootstrap/{trusted}")]);
}

/// A node that answers JSON (the beacon-APIs `application/json` schemas)
/// whatever the client accepts: the client reads it, and reaches the same
/// finalized headers of `steps.yaml`, the BLS signatures and branches
/// checking every value read; a JSON body without the fields is refused.
#[tokio::test]
async fn a_json_answer_is_read_and_verified_like_ssz() {
    let spec = spec();
    for i in [1, 4] {
        let step = &steps()[i];
        let mut served = served_at(&spec, step.current_slot);
        served.json = true;
        let proved = sync_against(served, step.current_slot)
            .await
            .unwrap_or_else(|e| panic!("step {i}: {e}"));
        assert_eq!(
            (proved.slot, proved.beacon_root, proved.execution_root),
            step.finalized,
            "step {i} over JSON"
        );
    }
    // One flipped bit of the participation bits in JSON: the aggregate no longer verifies.
    let step = &steps()[1];
    let mut served = served_at(&spec, step.current_slot);
    served.json = true;
    let mut update =
        LightClientFinalityUpdate::<Minimal>::from_ssz(&served.finality, Layout::Deneb).unwrap();
    let first = update.sync_aggregate.sync_committee_bits.get(0).unwrap();
    update
        .sync_aggregate
        .sync_committee_bits
        .set(0, !first)
        .unwrap();
    served.finality = update.to_ssz(Layout::Deneb).unwrap();
    let error = sync_against(served, step.current_slot).await.unwrap_err();
    eprintln!("JSON finality update, one participation bit flipped: {error}");
    assert!(
        matches!(error, SyncError::Verify(LightClientError::Signature(_))),
        "{error}"
    );

    let now = steps()[0].current_slot;
    let mut served = served_at(&spec, now);
    served.finality = br#"{"version":"deneb","data":{}}"#.to_vec();
    let error = sync_against(served, now).await.unwrap_err();
    eprintln!("JSON finality update without fields: {error}");
    assert!(
        matches!(error, SyncError::Api(ApiError::Framing { .. })),
        "{error}"
    );
}

/// A node that serves no updates cannot bring the store to the current
/// period: refused as behind, which the follower retries (the node may be
/// syncing); what does not verify is evidence, never retried.
#[tokio::test]
async fn a_node_without_updates_is_behind_and_retried_a_lie_is_not() {
    let spec = spec();
    let now = steps()[2].current_slot;
    let mut served = served_at(&spec, now);
    served.updates.clear();
    let error = sync_against(served, now).await.unwrap_err();
    eprintln!("no updates: {error}");
    assert!(
        matches!(
            error,
            SyncError::Behind {
                reached: 0,
                current: 2
            }
        ),
        "{error}"
    );
    assert!(L1Error::from(error).is_transient());
    let lie = SyncError::Verify(LightClientError::Signature("x".into()));
    let lie = L1Error::from(lie);
    assert!(
        !lie.is_transient() && matches!(lie, L1Error::Unverified(_)),
        "{lie}"
    );
}
