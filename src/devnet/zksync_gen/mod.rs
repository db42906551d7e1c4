//! A seeded ZKsync Era sequencer: random initial and repeated writes, true
//! roots from a scratch [`ZksyncState`], and one commit transaction per batch
//! in the format the schedule picks, plus execute and revert transactions.
//!
//! Default schedule: batch 1 `commitBlocks` (pre-Boojum), 2–3 `commitBatches`
//! with inline pubdata (pre-1.4.2 layout), 4–5 `commitBatches` with blobs, 6 v24
//! shared bridge with calldata pubdata, 7 v24 with blobs, 8 v26 with calldata,
//! 9 v26 with blobs, 10+ v29 with blobs.
//!
//! Genesis: a small synthetic genesis (24 storage logs from the seed) by
//! default, so the devnet does not depend on fixture files and starts fast; a
//! real genesis (e.g. the shipped mainnet `InitialState*.json` read with
//! [`crate::rollup::zksync::genesis::load`]) can be passed instead. The follower
//! needs the same genesis: [`genesis_json`] writes it in the format
//! `genesis::load` reads.
//!
//! Every committed batch after `execute_lag` batches gets an execute
//! transaction for the batch `execute_lag` behind it, so reverts can only reach
//! unexecuted batches, as on mainnet.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use alloy_primitives::{Address, B256, U256};

use super::contracts::{self, ZKSYNC_DIAMOND_ADDRESS};
use super::{DevnetError, Fault, PlannedBatch, PlannedTx, Rng};
use crate::diff::StateDiff;
use crate::rollup::zksync::calldata::{CommitVersion, StoredBatch, encode_commit};
use crate::rollup::zksync::compression::{InitialWrite, RepeatedWrite, StateDiffs, ValueOp};
use crate::rollup::zksync::decode::Writes;
use crate::rollup::zksync::derived_key;
use crate::rollup::zksync::encode::{self, BatchSpec, Publish};
use crate::rollup::zksync::gateway::{
    self as gw, RelayedBatchInfo, SettledChain, TOTAL_BATCHES_COMMITTED_SLOT,
    TOTAL_BATCHES_EXECUTED_SLOT, TOTAL_BATCHES_VERIFIED_SLOT,
};
use crate::rollup::zksync::genesis::{self, StorageLog};
use crate::rollup::zksync::state::{PlanInput, ZksyncState};
use crate::store::Store;

mod gateway;
pub mod on_anvil;

use gateway::GatewaySim;
pub use gateway::GatewayWindow;

/// Bytes per enumeration index in the compressed state diffs (mainnet uses 4).
const ENUM_INDEX_SIZE: u8 = 4;
/// Storage logs in the synthetic genesis.
const GENESIS_LOGS: usize = 24;

/// A commit format: the commit call and where the pubdata goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZksyncFormat {
    /// The commit call (function and ABI).
    pub version: CommitVersion,
    /// Whether the pubdata goes into calldata or blobs.
    pub publish: Publish,
}

impl ZksyncFormat {
    /// `commitBlocks` with explicit write lists.
    pub const PRE_BOOJUM: Self = Self::new(CommitVersion::PreBoojum, Publish::Calldata);
    /// Boojum `commitBatches`, pubdata inline in calldata.
    pub const BOOJUM_CALLDATA: Self = Self::new(CommitVersion::Boojum, Publish::Calldata);
    /// Boojum `commitBatches`, pubdata in blobs.
    pub const BOOJUM_BLOBS: Self = Self::new(CommitVersion::Boojum, Publish::Blobs);
    /// v24 shared-bridge commit, pubdata in calldata.
    pub const V24_CALLDATA: Self = Self::new(CommitVersion::V24, Publish::Calldata);
    /// v24 shared-bridge commit, pubdata in blobs.
    pub const V24_BLOBS: Self = Self::new(CommitVersion::V24, Publish::Blobs);
    /// v26 commit, pubdata in calldata.
    pub const V26_CALLDATA: Self = Self::new(CommitVersion::V26, Publish::Calldata);
    /// v26 commit, pubdata in blobs.
    pub const V26_BLOBS: Self = Self::new(CommitVersion::V26, Publish::Blobs);
    /// v29 commit, pubdata in calldata.
    pub const V29_CALLDATA: Self = Self::new(CommitVersion::V29, Publish::Calldata);
    /// v29 commit, pubdata in blobs.
    pub const V29_BLOBS: Self = Self::new(CommitVersion::V29, Publish::Blobs);

    /// Every named format, oldest first.
    pub const ALL: [Self; 9] = [
        Self::PRE_BOOJUM,
        Self::BOOJUM_CALLDATA,
        Self::BOOJUM_BLOBS,
        Self::V24_CALLDATA,
        Self::V24_BLOBS,
        Self::V26_CALLDATA,
        Self::V26_BLOBS,
        Self::V29_CALLDATA,
        Self::V29_BLOBS,
    ];

    /// Pairs a commit call with where its pubdata goes.
    pub const fn new(version: CommitVersion, publish: Publish) -> Self {
        ZksyncFormat { version, publish }
    }

    /// The label stored in [`PlannedBatch::format`].
    pub fn label(self) -> &'static str {
        match (self.version, self.publish) {
            (CommitVersion::PreBoojum, _) => "zksync-pre-boojum",
            (CommitVersion::Boojum, Publish::Calldata) => "zksync-boojum-calldata",
            (CommitVersion::Boojum, Publish::Blobs) => "zksync-boojum-blobs",
            (CommitVersion::V24, Publish::Calldata) => "zksync-v24-calldata",
            (CommitVersion::V24, Publish::Blobs) => "zksync-v24-blobs",
            (CommitVersion::V26, Publish::Calldata) => "zksync-v26-calldata",
            (CommitVersion::V26, Publish::Blobs) => "zksync-v26-blobs",
            (CommitVersion::V29, Publish::Calldata) => "zksync-v29-calldata",
            (CommitVersion::V29, Publish::Blobs) => "zksync-v29-blobs",
        }
    }

    /// Inverse of [`Self::label`]; `None` for any other label (e.g. [`REVERT_FORMAT`]).
    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.label() == label)
    }
}

/// The format label of a revert step.
pub const REVERT_FORMAT: &str = "zksync-revert";

/// The default schedule (see the module documentation).
pub fn default_schedule() -> Vec<(u64, ZksyncFormat)> {
    vec![
        (1, ZksyncFormat::PRE_BOOJUM),
        (2, ZksyncFormat::BOOJUM_CALLDATA),
        (4, ZksyncFormat::BOOJUM_BLOBS),
        (6, ZksyncFormat::V24_CALLDATA),
        (7, ZksyncFormat::V24_BLOBS),
        (8, ZksyncFormat::V26_CALLDATA),
        (9, ZksyncFormat::V26_BLOBS),
        (10, ZksyncFormat::V29_BLOBS),
    ]
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct ZksyncGenConfig {
    /// Seed of the writes and the synthetic genesis: the same config plans the same batches.
    pub seed: u64,
    /// The last batch number to commit (batches are numbered from 1; genesis is 0).
    pub batches: u64,
    /// `(first batch, format)`; a batch takes the last entry whose first batch is <= it.
    pub schedule: Vec<(u64, ZksyncFormat)>,
    /// Faults by batch number; `ZksyncRevert { k }` at `n` reverts `n-k+1..=n` after committing `n`.
    pub faults: BTreeMap<u64, Fault>,
    /// The diamond proxy on L1 the commits go to.
    pub diamond: Address,
    /// Chain id passed to the v24–v28 shared-bridge calls.
    pub chain_id: u64,
    /// Genesis storage logs; `None` = [`synthetic_genesis`] of the seed.
    pub genesis: Option<Vec<StorageLog>>,
    /// Execute batch `n - execute_lag` after committing batch `n`; 0 = never execute.
    pub execute_lag: u64,
    /// A window of batches settled on a Gateway-like chain instead of L1.
    pub gateway: Option<GatewayWindow>,
    /// Writes per batch; `None` = a few random ones (2–6 initial, 1–6 repeated).
    pub size: Option<ZksyncBatchSize>,
}

/// The writes of every batch, for a history shaped like a real chain's
/// (mainnet Era batches write about 1,500 slots, the default devnet a few).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZksyncBatchSize {
    /// Slots new to the state (initial writes).
    pub initial: u64,
    /// Existing slots rewritten (repeated writes). While the state holds
    /// fewer than twice as many leaves, the rest are initial writes instead,
    /// so every batch writes `initial + repeated` slots.
    pub repeated: u64,
}

impl Default for ZksyncGenConfig {
    fn default() -> Self {
        ZksyncGenConfig {
            seed: 1,
            batches: 12,
            schedule: default_schedule(),
            faults: BTreeMap::new(),
            diamond: ZKSYNC_DIAMOND_ADDRESS,
            chain_id: 324,
            genesis: None,
            execute_lag: 3,
            gateway: None,
            size: None,
        }
    }
}

impl ZksyncGenConfig {
    /// A short history through a Gateway window: Boojum calldata, then v26
    /// blobs on L1; Era batches 5..13 on the Gateway (Era's 9-field
    /// `StoredBatchInfo` from 9, the Gateway's own v29 commits from its batch
    /// 3, calldata and blobs alternating, and after the one carrying Era
    /// batch 10 one carrying none of Era's batches); back on L1 with v29
    /// calldata for 13..=15.
    pub fn through_gateway() -> Self {
        ZksyncGenConfig {
            seed: 7,
            batches: 15,
            schedule: vec![
                (1, ZksyncFormat::BOOJUM_CALLDATA),
                (3, ZksyncFormat::V26_BLOBS),
                (13, ZksyncFormat::V29_CALLDATA),
            ],
            execute_lag: 2,
            gateway: Some(GatewayWindow {
                carries_nothing_after: [10].into(),
                ..GatewayWindow::mainnet_like(5, 13)
            }),
            ..Default::default()
        }
    }

    /// The format of batch `n`.
    pub fn format_of(&self, n: u64) -> Option<ZksyncFormat> {
        super::scheduled_format(&self.schedule, n)
    }
}

/// Plans every batch of `config`.
pub fn generate(config: ZksyncGenConfig) -> Result<Vec<PlannedBatch>, DevnetError> {
    let mut generator = ZksyncGenerator::new(config)?;
    super::plan_all(|| generator.next_batch())
}

/// A small random genesis: `GENESIS_LOGS` slots of random contracts.
pub fn synthetic_genesis(seed: u64) -> Vec<StorageLog> {
    // A stream of its own, so the genesis does not shift the batches' randomness.
    let mut rng = Rng::new(seed ^ 0x6765_6e65_7369_7300);
    (0..GENESIS_LOGS)
        .map(|i| StorageLog {
            address: rng.address(),
            key: rng.b256(),
            value: random_value(&mut rng),
            operation_number: i as u64,
            hashed_key: None,
        })
        .collect()
}

/// A genesis as `InitialState.json` (`{"storage_logs": [...]}`), which
/// [`genesis::load`] reads back.
pub fn genesis_json(logs: &[StorageLog]) -> String {
    serde_json::to_string_pretty(&serde_json::json!({ "storage_logs": logs }))
        .expect("storage logs serialise")
}

/// The generator: an honest ZKsync sequencer with a scratch state.
pub struct ZksyncGenerator {
    config: ZksyncGenConfig,
    rng: Rng,
    // Declared before `_dir` so the store closes before its directory is removed.
    store: Store,
    _dir: tempfile::TempDir,
    genesis_logs: Vec<StorageLog>,
    genesis_root: B256,
    /// What L1 stores for each committed batch (genesis included), as the next commit names it.
    stored: BTreeMap<u64, StoredBatch>,
    last_executed: u64,
    next: u64,
    pending: VecDeque<PlannedBatch>,
    gateway: Option<GatewaySim>,
}

impl ZksyncGenerator {
    /// A generator at genesis, its genesis applied to a scratch store. Fails
    /// with [`DevnetError::Config`] when the schedule does not cover batch 1,
    /// a revert fault is impossible (0 or more batches than exist, or
    /// reaching executed ones), a `not-bound` fault hits a pre-Boojum commit,
    /// or the Gateway window is invalid.
    pub fn new(config: ZksyncGenConfig) -> Result<Self, DevnetError> {
        super::check_schedule(&config.schedule)?;
        for (n, fault) in &config.faults {
            match fault {
                Fault::ZksyncRevert { k } if *k == 0 || *k > *n => {
                    return Err(DevnetError::Config(format!(
                        "batch {n}: cannot revert {k} batches"
                    )));
                }
                Fault::ZksyncRevert { k } if config.execute_lag > 0 && *k > config.execute_lag => {
                    return Err(DevnetError::Config(format!(
                        "batch {n}: reverting {k} batches reaches executed ones (execute_lag {})",
                        config.execute_lag
                    )));
                }
                Fault::DataNotBound
                    if config.format_of(*n).map(|f| f.version)
                        == Some(CommitVersion::PreBoojum) =>
                {
                    return Err(DevnetError::Config(format!(
                        "batch {n}: pre-Boojum commits carry the writes themselves; nothing binds them but the proof"
                    )));
                }
                _ => {}
            }
        }
        let dir = tempfile::tempdir()?;
        let store = Store::open(dir.path(), "devnet-zksync-generator")?;
        let genesis_logs = config
            .genesis
            .clone()
            .unwrap_or_else(|| synthetic_genesis(config.seed));
        let leaves = genesis::leaves(&genesis_logs)?;
        let state = ZksyncState::init_genesis(&store, &leaves, None)?;
        let checkpoint = state.checkpoint().clone();
        let mut stored = BTreeMap::new();
        stored.insert(
            0,
            encode::stored_batch(0, checkpoint.root, checkpoint.next_index),
        );
        let gateway = match &config.gateway {
            Some(window) => Some(GatewaySim::new(&config, window.clone())?),
            None => None,
        };
        Ok(ZksyncGenerator {
            rng: Rng::new(config.seed),
            gateway,
            config,
            store,
            _dir: dir,
            genesis_logs,
            genesis_root: checkpoint.root,
            stored,
            last_executed: 0,
            next: 1,
            pending: VecDeque::new(),
        })
    }

    /// The genesis storage logs (the follower must start from the same ones).
    pub fn genesis_logs(&self) -> &[StorageLog] {
        &self.genesis_logs
    }

    /// The genesis root (batch 0).
    pub fn genesis_root(&self) -> B256 {
        self.genesis_root
    }

    /// Plans the next step (a batch, or a revert); `None` after the last one.
    pub fn next_batch(&mut self) -> Result<Option<PlannedBatch>, DevnetError> {
        if let Some(step) = self.pending.pop_front() {
            return Ok(Some(step));
        }
        let n = self.next;
        let Some(format) = super::next_format(&self.config.schedule, n, self.config.batches)?
        else {
            return Ok(None);
        };
        // A revert fires once; the batches committed in its place are ordinary.
        let fault = self.config.faults.remove(&n);
        let batch_fault = fault.filter(|f| !matches!(f, Fault::ZksyncRevert { .. }));

        let mut state = ZksyncState::open(&self.store)?;
        let next_index = state.checkpoint().next_index;
        let writes = random_writes(&mut self.rng, &state, format, next_index, self.config.size)?;
        let applied = state.apply_and_commit(&PlanInput {
            batch_number: n,
            claimed_root: None,
            index_repeated_storage_changes: None,
            writes: writes.clone(),
        })?;
        let true_root = applied.record.computed_root;
        let claimed_root = match batch_fault {
            Some(Fault::TamperedRoot) => {
                B256::from((U256::from_be_bytes(true_root.0) ^ U256::from(1u8)).to_be_bytes::<32>())
            }
            _ => true_root,
        };
        let timestamp = 1_700_000_000 + 12 * n;
        let spec = BatchSpec {
            batch_number: n,
            timestamp,
            index_repeated_storage_changes: applied.record.next_index,
            new_state_root: claimed_root,
            pubdata: encode::pubdata_with_diffs(StateDiffs {
                enum_index_size: ENUM_INDEX_SIZE,
                initial: writes.initial,
                repeated: writes.repeated,
            }),
        };
        if let Some(sim) = self.gateway.as_mut()
            && sim.window.contains(n)
        {
            let nine_fields = n >= sim.window.era_v29_from_batch;
            let mut info = RelayedBatchInfo {
                stored: encode::stored_batch(n, claimed_root, applied.record.next_index),
                metadata_hash: self.rng.b256(),
                auxiliary_output_hash: self.rng.b256(),
            };
            info.stored.timestamp = U256::from(timestamp);
            info.stored.dependency_roots_rolling_hash = nine_fields.then_some(B256::ZERO);
            info.stored.commitment = gw::batch_commitment(&info);
            let mut txs = Vec::new();
            if n == sim.window.from_batch && self.last_executed + 1 < n {
                // Migrating off L1: every batch committed there is executed first.
                let version = previous_format(&self.config, n);
                txs.push(execute_tx(
                    &self.stored,
                    self.last_executed + 1..=n - 1,
                    version,
                    self.config.chain_id,
                    self.config.diamond,
                    "zksync",
                ));
                state.mark_executed(n - 1)?;
                self.last_executed = n - 1;
            }
            let relayed_instead = (batch_fault == Some(Fault::DataNotBound))
                .then(|| tamper(&spec.pubdata, &mut self.rng));
            let (gateway_txs, executed_on_gateway, label) = sim.carry(
                self.config.chain_id,
                self.config.execute_lag,
                &spec.pubdata,
                relayed_instead.as_ref(),
                &info,
                timestamp,
            )?;
            txs.extend(gateway_txs);
            if sim.window.carries_nothing_after.contains(&n) {
                txs.extend(sim.carry_nothing(
                    self.config.chain_id,
                    self.config.execute_lag,
                    timestamp + 6,
                )?);
            }
            if executed_on_gateway > self.last_executed {
                state.mark_executed(executed_on_gateway)?;
                self.last_executed = executed_on_gateway;
            }
            self.stored.insert(n, info.stored);
            self.next = n + 1;
            return Ok(Some(PlannedBatch {
                number: n,
                txs,
                expected_root: true_root,
                claimed_root,
                format: label,
                fault: batch_fault,
                diff: applied.diff,
            }));
        }
        let (mut batch, mut blobs) = encode::batch(format.version, &spec, format.publish)?;
        if batch_fault == Some(Fault::DataNotBound) {
            // Other pubdata, still opened honestly so L1 accepts the blobs, while
            // the system logs and DA header keep binding the true pubdata.
            let tampered_spec = BatchSpec {
                pubdata: tamper(&spec.pubdata, &mut self.rng),
                ..spec.clone()
            };
            let (tampered, tampered_blobs) =
                encode::batch(format.version, &tampered_spec, format.publish)?;
            let honest = batch;
            batch = tampered;
            batch.system_logs = honest.system_logs;
            batch.da.header = honest.da.header;
            blobs = tampered_blobs;
        }

        let previous = self
            .stored
            .get(&(n - 1))
            .cloned()
            .ok_or_else(|| DevnetError::Config(format!("batch {} was never stored", n - 1)))?;
        let mut call = encode::commit_call(format.version, previous, vec![batch.clone()]);
        if call.chain_id.is_some() {
            call.chain_id = Some(U256::from(self.config.chain_id));
        }
        if call.chain_address.is_some() {
            call.chain_address = Some(self.config.diamond);
        }
        let commit_label = format!("zksync batch {n} commit ({})", format.label());
        let mut txs = vec![PlannedTx {
            to: self.config.diamond,
            calldata: encode_commit(&call),
            blobs,
            label: commit_label,
        }];
        let mut stored = encode::stored_batch(n, claimed_root, applied.record.next_index);
        stored.timestamp = U256::from(timestamp);
        stored.commitment = contracts::standin_commitment(format.version, &batch);
        if format.version == CommitVersion::V29 {
            stored.dependency_roots_rolling_hash = Some(B256::ZERO);
        }
        self.stored.insert(n, stored);

        if self.config.execute_lag > 0 && n > self.config.execute_lag {
            let target = n - self.config.execute_lag;
            if target > self.last_executed {
                txs.push(execute_tx(
                    &self.stored,
                    self.last_executed + 1..=target,
                    format.version,
                    self.config.chain_id,
                    self.config.diamond,
                    "zksync",
                ));
                state.mark_executed(target)?;
                self.last_executed = target;
            }
        }

        if let Some(Fault::ZksyncRevert { k }) = fault {
            let target = n - k;
            if target < self.last_executed {
                return Err(DevnetError::Config(format!(
                    "batch {n}: cannot revert to {target}, batch {} is executed",
                    self.last_executed
                )));
            }
            state.unwind(target)?;
            let root_after = state.checkpoint().root;
            self.stored.retain(|number, _| *number <= target);
            let claimed_after = self
                .stored
                .get(&target)
                .map(|s| s.batch_hash)
                .unwrap_or(root_after);
            self.pending.push_back(PlannedBatch {
                number: target,
                txs: vec![PlannedTx {
                    to: self.config.diamond,
                    calldata: contracts::encode_revert(
                        format.version,
                        U256::from(self.config.chain_id),
                        self.config.diamond,
                        target,
                    ),
                    blobs: vec![],
                    label: format!("zksync revert to batch {target}"),
                }],
                expected_root: root_after,
                claimed_root: claimed_after,
                format: REVERT_FORMAT,
                fault,
                diff: StateDiff::default(),
            });
            self.next = target + 1;
        } else {
            self.next = n + 1;
        }

        Ok(Some(PlannedBatch {
            number: n,
            txs,
            expected_root: true_root,
            claimed_root,
            format: format.label(),
            fault: batch_fault,
            diff: applied.diff,
        }))
    }
}

/// An execute transaction for a chain's stored batches `range` in `version`'s call.
fn execute_tx(
    stored: &BTreeMap<u64, StoredBatch>,
    range: std::ops::RangeInclusive<u64>,
    version: CommitVersion,
    chain_id: u64,
    diamond: Address,
    chain: &str,
) -> PlannedTx {
    let label = format!(
        "{chain} execute batches {}..={}",
        range.start(),
        range.end()
    );
    let executed: Vec<StoredBatch> = stored.range(range).map(|(_, s)| s.clone()).collect();
    PlannedTx {
        to: diamond,
        calldata: contracts::encode_execute(version, U256::from(chain_id), diamond, &executed),
        blobs: vec![],
        label,
    }
}

/// The L1 commit format of the batch before `n` (the format the execute call takes).
fn previous_format(config: &ZksyncGenConfig, n: u64) -> CommitVersion {
    config
        .format_of(n.saturating_sub(1).max(1))
        .map_or(CommitVersion::V26, |f| f.version)
}

/// Random initial writes (new slots) and repeated writes (existing slots,
/// genesis ones included), packed as the format publishes them.
fn random_writes(
    rng: &mut Rng,
    state: &ZksyncState<'_>,
    format: ZksyncFormat,
    next_index: u64,
    size: Option<ZksyncBatchSize>,
) -> Result<Writes, DevnetError> {
    let full = format.version == CommitVersion::PreBoojum;
    let pack = |previous: &B256, new: &B256| {
        if full {
            // Pre-Boojum publishes absolute values only.
            ValueOp::full(*new)
        } else {
            ValueOp::compress(previous, new)
        }
    };
    let existing = next_index.saturating_sub(1);
    // Sized: at most half the leaves are rewritten, so that drawing distinct
    // ones stays cheap; the rest of the batch's writes are initial ones.
    let sized_repeated = size.map_or(0, |size| size.repeated.min(existing / 2));
    let initial_count = match size {
        None => rng.range(2, 6),
        Some(size) => size.initial + (size.repeated - sized_repeated),
    };
    let mut initial = BTreeMap::new();
    for _ in 0..initial_count {
        let key = derived_key(&rng.address(), &rng.b256());
        if state.leaf(&key)?.is_none() {
            initial.insert(key, random_value(rng));
        }
    }
    let mut indices = BTreeSet::new();
    match size {
        // A few draws, which may pick one leaf twice.
        None => {
            for _ in 0..rng.range(1, 6).min(existing) {
                indices.insert(rng.range(1, existing));
            }
        }
        Some(_) => {
            while (indices.len() as u64) < sized_repeated {
                indices.insert(rng.range(1, existing));
            }
        }
    }
    let mut repeated = Vec::with_capacity(indices.len());
    for index in indices {
        let Some(key) = state.key_of_index(index)? else {
            continue;
        };
        let Some((_, previous)) = state.leaf(&key)? else {
            continue;
        };
        let old = U256::from_be_bytes(previous.0);
        let new = match rng.below(4) {
            0 => old.wrapping_add(U256::from(rng.range(1, 1 << 20))),
            1 => old.wrapping_sub(U256::from(rng.range(1, 1 << 20))),
            2 => U256::ZERO,
            _ => U256::from_be_bytes(random_value(rng).0),
        };
        let new = B256::from(new.to_be_bytes::<32>());
        repeated.push(RepeatedWrite {
            index,
            value: pack(&previous, &new),
        });
    }
    Ok(Writes {
        initial: initial
            .into_iter()
            .map(|(derived_key, value)| InitialWrite {
                derived_key,
                value: pack(&B256::ZERO, &value),
            })
            .collect(),
        repeated,
    })
}

/// The same pubdata with the first write's value replaced (DataNotBound).
fn tamper(
    pubdata: &crate::rollup::zksync::pubdata::Pubdata,
    rng: &mut Rng,
) -> crate::rollup::zksync::pubdata::Pubdata {
    let mut out = pubdata.clone();
    let value = ValueOp::full(rng.b256());
    if let Some(w) = out.state_diffs.initial.first_mut() {
        w.value = value;
    } else if let Some(w) = out.state_diffs.repeated.first_mut() {
        w.value = value;
    }
    out
}

/// A storage value: balances and counters (a few bytes), addresses, or full words.
fn random_value(rng: &mut Rng) -> B256 {
    let mut word = rng.bytes32();
    let keep = match rng.below(3) {
        0 => rng.range(1, 8) as usize,
        1 => 20,
        _ => 32,
    };
    word[..32 - keep].fill(0);
    B256::from(word)
}
