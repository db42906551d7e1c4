//! The beacon light client on the consensus-spec test vectors
//! `tests/minimal/deneb/light_client/sync/pyspec_tests/light_client_sync`
//! (ethereum/consensus-spec-tests, CC0), recorded in `tests/fixtures/light_client/`
//! (see SOURCE.md there): a bootstrap from a trusted block root, then each
//! step's update or forced update, after which the store's finalized and
//! optimistic headers must be the ones the spec's reference implementation
//! reached (`steps.yaml`).

use std::path::{Path, PathBuf};

use alloy_primitives::{B256, b256};
use ssz::Decode;
use ssz_types::typenum::U32;
use zkreplay::l1::light_client::types::{LightClientBootstrap, LightClientUpdate, root};
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
    let bootstrap = LightClientBootstrap::<Minimal>::from_ssz_bytes(&ssz_snappy(
        &dir().join("bootstrap.ssz_snappy"),
    ))
    .unwrap();
    LightClientStore::bootstrap(trusted, bootstrap).unwrap()
}

fn load_update(name: &str) -> LightClientUpdate<Minimal> {
    LightClientUpdate::from_ssz_bytes(&ssz_snappy(&dir().join(format!("{name}.ssz_snappy"))))
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
    let bootstrap = LightClientBootstrap::<Minimal>::from_ssz_bytes(&ssz_snappy(
        &dir().join("bootstrap.ssz_snappy"),
    ))
    .unwrap();
    assert!(matches!(
        LightClientStore::bootstrap(B256::repeat_byte(1), bootstrap.clone()),
        Err(LightClientError::UntrustedBootstrap { .. })
    ));
    let mut forged = bootstrap.clone();
    forged.current_sync_committee.aggregate_pubkey[0] ^= 1;
    let trusted = root(&bootstrap.header.beacon);
    assert!(matches!(
        LightClientStore::bootstrap(trusted, forged),
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
