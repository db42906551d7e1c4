//! A seeded Starknet sequencer: random state diffs, true roots from a scratch
//! [`StarknetState`], and the L1 transactions of each batch in the format the
//! schedule picks (memory pages + `updateState`, or blobs + `updateStateKzgDA`).
//!
//! Per format (the default schedule in brackets):
//!
//! | format | batches | DA | L1 calls |
//! |---|---|---|---|
//! | `starknet-v0.9-pages` | – | v0.9 layout in memory pages | as below, 4-word header (2-argument `LogStateUpdate`) |
//! | `starknet-v0.10-pages` | – | v0.10 layout in memory pages | same |
//! | `starknet-v0.11.0-pages` | – | v0.11 layout in memory pages | same |
//! | `starknet-v0.11-pages` | [1–2] | v0.11 layout in memory pages (≤ `page_size` felts each) | `registerContinuousMemoryPage` × n, `updateState` (5-word v0.11.1 header) |
//! | `starknet-v0.13.1-blob` | [3–4] | v0.11 layout in one blob | `updateStateKzgDA(uint256[],bytes)` (6-word header + KZG segment) |
//! | `starknet-v0.13.2-blob` | [5–6] | v0.11 layout in n blobs | `updateStateKzgDA(uint256[],bytes[])` (10-word header) |
//! | `starknet-v0.13.3-blob` | [7–8] | stateless compression, packed contract word | same |
//! | `starknet-v0.13.4-blob` | [9–] | v0.13.3 plus aliases (contract 0x2) | same |
//! | `starknet-v0.14.0-blob` | – | v0.13.4, global root by the v0.14 rule | same |
//! | `starknet-v0.14.1-blob` | – | v0.14.0, plus a Blake2s compiled-class-hash update of an existing class | same |
//!
//! With a [`SharpPlan`], a pages batch is what SHARP puts on mainnet: the
//! program output is registered as a page too (the main part of the job), a
//! SHARP verifier stand-in logs `LogMemoryPagesHashes(fact, pages)` for the
//! update's fact, the registry changes address at a configured batch, and
//! (optionally) other SHARP customers' jobs, each a page and its own fact,
//! are registered before, between and after Starknet's pages ([`is_decoy`]).
//!
//! The diff is posted in each layout's canonical form, so that decoding gives
//! back exactly [`PlannedBatch::diff`]: v0.11 layouts post every contract's
//! nonce (unchanged ones too), v0.13.3+ post only changed, non-zero nonces.
//! v0.13.3 and v0.13.4 share one wire format; every v0.13.4 batch allocates at
//! least one alias, so its write to 0x2 tells the decoder which one it is, and
//! a v0.13.3 batch must be decoded with the layout given ([`layout_hint`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use alloy_primitives::{Address, U256};
use starknet_types_core::felt::Felt;

use super::contracts::{self, MEMORY_PAGE_REGISTRY_ADDRESS, STARKNET_CORE_ADDRESS};
use super::{DevnetError, Fault, PlannedBatch, PlannedTx, Rng};
use crate::blob::{self as kzg, FIELD_ELEMENTS_PER_BLOB};
use crate::rollup::starknet::da::aliases::{ALIAS_CONTRACT, ALIAS_COUNTER_KEY, MIN_ALIAS};
use crate::rollup::starknet::da::binding::{onchain_data_hash, z_v0_13_1, z_v0_13_2};
use crate::rollup::starknet::da::encode::{apply_aliases, compress, encode_layout, felts_to_blobs};
use crate::rollup::starknet::da::pages::{MemoryPage, encode_page};
use crate::rollup::starknet::da::program_output::{
    encode_update_state, encode_update_state_kzg, split_commitment, split_y,
};
use crate::rollup::starknet::da::{
    DaContract, DaStateDiff, Layout, felt_to_u256, felt_to_word, stark_prime,
};
use crate::rollup::starknet::sharp;
use crate::rollup::starknet::state::{GlobalRootRule, StarknetState};
use crate::store::Store;

mod diffs;
mod l1_txs;

use diffs::tamper;
use l1_txs::{Header, Publication};

/// The block-hash system contract (key = block number, value = block hash).
const BLOCK_HASH_CONTRACT: Felt = Felt::ONE;

/// A Starknet DA format the generator can post.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StarknetFormat {
    /// v0.9 (and earlier): memory pages, 4-word header, no nonces or declared classes.
    V0_9Pages,
    /// v0.10: memory pages, 4-word header, nonces in the contract word.
    V0_10Pages,
    /// v0.11.0: the v0.11 layout in memory pages, 4-word header.
    V0_11_0Pages,
    /// v0.11.1 – v0.13.0: memory pages and `updateState`, 5-word header.
    V0_11Pages,
    /// v0.13.1: one blob, `updateStateKzgDA(uint256[],bytes)`.
    V0_13_1Blob,
    /// v0.13.2: uncompressed blobs, `updateStateKzgDA(uint256[],bytes[])`.
    V0_13_2Blob,
    /// v0.13.3: stateless compression.
    V0_13_3Blob,
    /// v0.13.4+: stateful compression (aliases).
    V0_13_4Blob,
    /// v0.14.0: v0.13.4's DA, the v0.14 global-root rule.
    V0_14_0Blob,
    /// v0.14.1: v0.14.0 plus a compiled-class-hash migration of an existing class.
    V0_14_1Blob,
}

impl StarknetFormat {
    /// Every format, oldest first.
    pub const ALL: [StarknetFormat; 10] = [
        StarknetFormat::V0_9Pages,
        StarknetFormat::V0_10Pages,
        StarknetFormat::V0_11_0Pages,
        StarknetFormat::V0_11Pages,
        StarknetFormat::V0_13_1Blob,
        StarknetFormat::V0_13_2Blob,
        StarknetFormat::V0_13_3Blob,
        StarknetFormat::V0_13_4Blob,
        StarknetFormat::V0_14_0Blob,
        StarknetFormat::V0_14_1Blob,
    ];

    /// The label stored in [`PlannedBatch::format`].
    pub fn label(self) -> &'static str {
        match self {
            StarknetFormat::V0_9Pages => "starknet-v0.9-pages",
            StarknetFormat::V0_10Pages => "starknet-v0.10-pages",
            StarknetFormat::V0_11_0Pages => "starknet-v0.11.0-pages",
            StarknetFormat::V0_11Pages => "starknet-v0.11-pages",
            StarknetFormat::V0_13_1Blob => "starknet-v0.13.1-blob",
            StarknetFormat::V0_13_2Blob => "starknet-v0.13.2-blob",
            StarknetFormat::V0_13_3Blob => "starknet-v0.13.3-blob",
            StarknetFormat::V0_13_4Blob => "starknet-v0.13.4-blob",
            StarknetFormat::V0_14_0Blob => "starknet-v0.14.0-blob",
            StarknetFormat::V0_14_1Blob => "starknet-v0.14.1-blob",
        }
    }

    /// The Starknet version an era table names for this format.
    pub fn version(self) -> &'static str {
        match self {
            StarknetFormat::V0_9Pages => "v0.9.0",
            StarknetFormat::V0_10Pages => "v0.10.0",
            StarknetFormat::V0_11_0Pages => "v0.11.0",
            StarknetFormat::V0_11Pages => "v0.11.1",
            StarknetFormat::V0_13_1Blob => "v0.13.1",
            StarknetFormat::V0_13_2Blob => "v0.13.2",
            StarknetFormat::V0_13_3Blob => "v0.13.3",
            StarknetFormat::V0_13_4Blob => "v0.13.4",
            StarknetFormat::V0_14_0Blob => "v0.14.0",
            StarknetFormat::V0_14_1Blob => "v0.14.1",
        }
    }

    /// Whether the DA goes to memory pages (`updateState`) rather than blobs.
    pub fn is_pages(self) -> bool {
        matches!(
            self,
            StarknetFormat::V0_9Pages
                | StarknetFormat::V0_10Pages
                | StarknetFormat::V0_11_0Pages
                | StarknetFormat::V0_11Pages
        )
    }

    /// Whether the program output has the 4-word header (no block hash), which
    /// the pre-v0.11.1 core contract announced with the 2-argument `LogStateUpdate`.
    pub fn four_word_header(self) -> bool {
        matches!(
            self,
            StarknetFormat::V0_9Pages | StarknetFormat::V0_10Pages | StarknetFormat::V0_11_0Pages
        )
    }

    /// The format whose [`Self::label`] is `label`.
    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.label() == label)
    }

    /// The DA layout of the state diff.
    pub fn layout(self) -> Layout {
        match self {
            StarknetFormat::V0_9Pages => Layout::V0_9,
            StarknetFormat::V0_10Pages => Layout::V0_10,
            StarknetFormat::V0_11_0Pages
            | StarknetFormat::V0_11Pages
            | StarknetFormat::V0_13_1Blob
            | StarknetFormat::V0_13_2Blob => Layout::V0_11,
            StarknetFormat::V0_13_3Blob => Layout::V0_13_3,
            StarknetFormat::V0_13_4Blob
            | StarknetFormat::V0_14_0Blob
            | StarknetFormat::V0_14_1Blob => Layout::V0_13_4,
        }
    }

    /// The global-root rule of a batch in this format, given the configured one.
    pub fn root_rule(self, configured: GlobalRootRule) -> GlobalRootRule {
        match self {
            StarknetFormat::V0_14_0Blob | StarknetFormat::V0_14_1Blob => GlobalRootRule::V0_14,
            _ => configured,
        }
    }
}

/// The layout a decoder must be told for a batch of this format: `Some` for
/// the formats whose own data cannot tell them from another: v0.9 and v0.10
/// (same header, both decoders can accept the same felts) and v0.13.3 (same
/// wire format as v0.13.4).
pub fn layout_hint(format: &str) -> Option<Layout> {
    match StarknetFormat::from_label(format)? {
        f @ (StarknetFormat::V0_9Pages
        | StarknetFormat::V0_10Pages
        | StarknetFormat::V0_13_3Blob) => Some(f.layout()),
        _ => None,
    }
}

/// Label mark of a transaction of another SHARP customer (see [`SharpPlan::decoys`]).
const DECOY_MARK: &str = "decoy";

/// Whether a planned transaction belongs to another SHARP customer's job: a
/// follower must never need to read it.
pub fn is_decoy(tx: &PlannedTx) -> bool {
    tx.label.contains(DECOY_MARK)
}

/// How SHARP publishes the pages of calldata batches (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharpPlan {
    /// The verifier stand-in that logs `LogMemoryPagesHashes`.
    pub verifier: Address,
    /// The memory-page registries: batch `n`'s pages go to the last entry whose
    /// `from_batch` is <= `n`.
    pub registries: Vec<SharpRegistry>,
    /// Register other customers' jobs (a page and its fact each) before every
    /// Starknet page and between Starknet's main page and its fact. They never
    /// draw from the generator's random stream, so a plan without them yields
    /// the same batches, roots and transactions minus the decoys.
    pub decoys: bool,
}

/// One memory-page registry of a [`SharpPlan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharpRegistry {
    /// First batch whose pages go to this registry.
    pub from_batch: u64,
    /// The registry contract.
    pub address: Address,
    /// Register Starknet's pages of a batch with one `registerContinuousPageBatch`
    /// (the 2024 mainnet registry's call) instead of one call per page.
    pub batch_calls: bool,
}

impl SharpPlan {
    /// The registry of batch `n`.
    pub fn registry_for(&self, n: u64) -> Option<SharpRegistry> {
        self.registries
            .iter()
            .filter(|r| r.from_batch <= n)
            .max_by_key(|r| r.from_batch)
            .copied()
    }
}

/// A mainnet-shaped history (issue 12), one batch per era at L2 blocks 1..=12:
/// v0.9 → v0.10 → v0.11.0 (the 2-argument `LogStateUpdate` era, pages) →
/// v0.11.1 (pages, the registry changes address at its second batch and then
/// takes batch calls) → v0.13.1 → v0.13.3 → v0.13.4 → v0.14.0 → v0.14.1 (a
/// compiled-class-hash migration), with decoys when `decoys`.
pub fn mainnet_shaped(seed: u64, decoys: bool) -> StarknetGenConfig {
    StarknetGenConfig {
        seed,
        batches: 12,
        schedule: vec![
            (1, StarknetFormat::V0_9Pages),
            (2, StarknetFormat::V0_10Pages),
            (3, StarknetFormat::V0_11_0Pages),
            (4, StarknetFormat::V0_11Pages),
            (6, StarknetFormat::V0_13_1Blob),
            (7, StarknetFormat::V0_13_3Blob),
            (8, StarknetFormat::V0_13_4Blob),
            (10, StarknetFormat::V0_14_0Blob),
            (11, StarknetFormat::V0_14_1Blob),
        ],
        // Several pages in a batch of each registry.
        large_batches: vec![2, 5],
        large_batch_writes: 40,
        page_size: 60,
        sharp: Some(SharpPlan {
            verifier: super::contracts::SHARP_VERIFIER_ADDRESS,
            registries: vec![
                SharpRegistry {
                    from_batch: 1,
                    address: SHARP_REGISTRY_2021,
                    batch_calls: false,
                },
                SharpRegistry {
                    from_batch: 5,
                    address: MEMORY_PAGE_REGISTRY_ADDRESS,
                    batch_calls: true,
                },
            ],
            decoys,
        }),
        ..StarknetGenConfig::default()
    }
}

/// The first mainnet memory-page registry (2021, `chains/starknet-mainnet.toml`),
/// where [`mainnet_shaped`] registers its first pages.
pub const SHARP_REGISTRY_2021: Address =
    alloy_primitives::address!("96375087b2F6eFc59e5e0dd5111B4d090EBFDD8B");

/// The default schedule: two batches of each format, v0.13.4 from batch 9 on.
pub fn default_schedule() -> Vec<(u64, StarknetFormat)> {
    vec![
        (1, StarknetFormat::V0_11Pages),
        (3, StarknetFormat::V0_13_1Blob),
        (5, StarknetFormat::V0_13_2Blob),
        (7, StarknetFormat::V0_13_3Blob),
        (9, StarknetFormat::V0_13_4Blob),
    ]
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct StarknetGenConfig {
    /// Seed of the random stream: the same config gives the same batches.
    pub seed: u64,
    /// Number of batches (numbered from 1).
    pub batches: u64,
    /// `(first batch, format)`; a batch takes the last entry whose first batch is <= it.
    pub schedule: Vec<(u64, StarknetFormat)>,
    /// Faults by batch number (Starknet faults only).
    pub faults: BTreeMap<u64, Fault>,
    /// Batches with about `large_batch_writes` extra storage writes, so their DA
    /// spans several memory pages or blobs.
    pub large_batches: Vec<u64>,
    /// Extra storage writes in each of `large_batches`.
    pub large_batch_writes: usize,
    /// Felts per memory page (the OS uses 3800).
    pub page_size: usize,
    /// The Starknet core contract the updates are sent to.
    pub core: Address,
    /// The memory-page registry pages go to when there is no [`SharpPlan`].
    pub registry: Address,
    /// The global-root rule before the v0.14 formats (which always use [`GlobalRootRule::V0_14`]).
    pub rule: GlobalRootRule,
    /// Publish pages as SHARP does (fact, verifier event, registries by batch, decoys).
    pub sharp: Option<SharpPlan>,
    /// State changes added to every batch; `None` = the few random ones only.
    pub size: Option<StarknetBatchSize>,
}

/// What every batch changes on top of its random diff, for a history shaped
/// like a real chain's (a mainnet v0.13.1 block writes about 1,000 slots of
/// a few hundred contracts; the default devnet batch a dozen).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StarknetBatchSize {
    /// Contracts written: deployed ones first, then new deployments while there are too few.
    pub contracts: u64,
    /// Storage writes to new random slots, spread evenly over `contracts`.
    pub writes: u64,
    /// Of those contracts, how many increment their nonce.
    pub nonces: u64,
}

impl Default for StarknetGenConfig {
    fn default() -> Self {
        StarknetGenConfig {
            seed: 1,
            batches: 10,
            schedule: default_schedule(),
            faults: BTreeMap::new(),
            large_batches: vec![2, 6],
            large_batch_writes: 2100,
            page_size: 3800,
            core: STARKNET_CORE_ADDRESS,
            registry: MEMORY_PAGE_REGISTRY_ADDRESS,
            rule: GlobalRootRule::PreV0_14,
            sharp: None,
            size: None,
        }
    }
}

/// Plans every batch of `config`.
pub fn generate(config: StarknetGenConfig) -> Result<Vec<PlannedBatch>, DevnetError> {
    let mut generator = StarknetGenerator::new(config)?;
    super::plan_all(|| generator.next_batch())
}

/// The generator: an honest Starknet sequencer with a scratch state.
pub struct StarknetGenerator {
    config: StarknetGenConfig,
    rng: Rng,
    // Declared before `_dir` so the store closes before its directory is removed.
    store: Store,
    _dir: tempfile::TempDir,
    /// Deployed contracts (not the system contracts).
    contracts: Vec<Felt>,
    /// Storage slots written so far, for re-writes.
    slots: Vec<(Felt, Felt)>,
    /// The same slots, to keep `slots` free of repeats without a linear search.
    slot_set: BTreeSet<(Felt, Felt)>,
    nonces: HashMap<Felt, Felt>,
    classes: Vec<Felt>,
    /// original -> alias (v0.13.4+), mirroring contract 0x2.
    alias_of: HashMap<Felt, Felt>,
    next_alias: u64,
    /// The root L1 holds (the last claimed root, tampered or not).
    l1_root: Felt,
    block_hash: Felt,
    next: u64,
    config_hash: Felt,
    os_program_hash: Felt,
    /// Other SHARP customers' jobs registered so far (numbers their pages and facts).
    decoys: u64,
}

impl StarknetGenerator {
    /// A generator at batch 1 with an empty scratch state; fails on a config that
    /// cannot be planned (zero `page_size`, batch 1 unscheduled, a ZKsync fault).
    pub fn new(config: StarknetGenConfig) -> Result<Self, DevnetError> {
        if config.page_size == 0 {
            return Err(DevnetError::Config("page_size must be positive".into()));
        }
        if config.size.is_some_and(|size| size.contracts == 0) {
            return Err(DevnetError::Config(
                "a batch size must name at least one contract".into(),
            ));
        }
        super::check_schedule(&config.schedule)?;
        if let Some((n, fault)) = config
            .faults
            .iter()
            .find(|(_, f)| matches!(f, Fault::ZksyncRevert { .. }))
        {
            return Err(DevnetError::Config(format!(
                "batch {n}: {fault:?} is a ZKsync fault"
            )));
        }
        let dir = tempfile::tempdir()?;
        let store = Store::open(dir.path(), "devnet-starknet-generator")?;
        let mut rng = Rng::new(config.seed);
        let config_hash = rng.felt();
        let os_program_hash = rng.felt();
        Ok(StarknetGenerator {
            config,
            rng,
            store,
            _dir: dir,
            contracts: Vec::new(),
            slots: Vec::new(),
            slot_set: BTreeSet::new(),
            nonces: HashMap::new(),
            classes: Vec::new(),
            alias_of: HashMap::new(),
            next_alias: MIN_ALIAS,
            l1_root: Felt::ZERO,
            block_hash: Felt::ZERO,
            next: 1,
            config_hash,
            os_program_hash,
            decoys: 0,
        })
    }

    /// Plans the next batch; `None` after the last one.
    pub fn next_batch(&mut self) -> Result<Option<PlannedBatch>, DevnetError> {
        let n = self.next;
        let Some(format) = super::next_format(&self.config.schedule, n, self.config.batches)?
        else {
            return Ok(None);
        };
        let fault = self.config.faults.get(&n).copied();
        let large = self.config.large_batches.contains(&n);

        let original = self.random_diff(n, format, large)?;
        let diff = original.to_state_diff()?;
        let roots = StarknetState::new(&self.store)
            .apply_and_commit(&diff, format.root_rule(self.config.rule))?;
        let true_root = roots.global_root;
        let claimed_root = match fault {
            Some(Fault::TamperedRoot) => true_root + Felt::ONE,
            _ => true_root,
        };
        let honest_da = self.da_felts(&original, format);
        let posted_da = match fault {
            Some(Fault::DataNotBound) => {
                let tampered = tamper(&original).ok_or_else(|| {
                    DevnetError::Config(format!("batch {n}: no storage write to tamper with"))
                })?;
                self.da_felts(&tampered, format)
            }
            _ => honest_da.clone(),
        };
        self.record(&original);

        let prev_block_hash = self.block_hash;
        self.block_hash = self.rng.felt();
        let header = Header {
            prev_root: self.l1_root,
            new_root: claimed_root,
            prev_block_number: Felt::from(n - 1),
            block_number: Felt::from(n),
            prev_block_hash,
            block_hash: self.block_hash,
            config_hash: self.config_hash,
            os_program_hash: self.os_program_hash,
        };
        let txs = self.l1_txs(&Publication {
            n,
            format,
            header,
            honest: &honest_da,
            posted: &posted_da,
        })?;
        self.l1_root = claimed_root;
        self.next += 1;
        Ok(Some(PlannedBatch {
            number: n,
            txs,
            expected_root: felt_to_word(&true_root),
            claimed_root: felt_to_word(&claimed_root),
            format: format.label(),
            fault,
            diff,
        }))
    }
}
