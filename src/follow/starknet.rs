//! The Starknet engine: every `LogStateUpdate` of the core contract (both
//! signatures mainnet used, [`events::STATE_UPDATE_TOPICS`]) is one batch. Its
//! transaction's `updateState*` call carries the program output (with the
//! root L1 accepted) and binds the DA: blobs for `updateStateKzgDA`, SHARP
//! memory pages for `updateState`.
//!
//! Which DA layout and global-root rule apply is decided by the L1 data where
//! it can decide (selector, program-output header, exact decoding) and by the
//! chain config's eras, keyed by the L2 block the event carries, where it
//! cannot ([`dispatch`]). Calldata-era pages are the pages of the update's
//! fact ([`sharp`]), never "the pages registered lately".
//!
//! What runs ahead of apply: fetching (transaction, blobs or pages) and the
//! whole decode — blob FFT, layout detection, binding checks. v0.13.3 and
//! v0.13.4 share one wire format; whether a compressed batch uses aliases
//! depends on whether contract 0x2 was ever written, which is state, so
//! `plan` decides it and resolves the aliases against the committed table.

use std::collections::{HashMap, HashSet};

use alloy_primitives::{Address, B256, U256};
use starknet_types_core::felt::Felt;

use super::engine::{BatchJob, BatchSummary, Checkpoint, EventSource, L1Event, Plan, RollupEngine};
use super::{DaCause, DaMode, FollowError, StarknetCause, missing};
use crate::audit::Check;
use crate::chain::{ChainConfig, RollupKind, StarknetChain};
use crate::hexfmt::format_word;
use crate::l1::{BlobRequest, L1Error, L1Log, L1Source, L1Transaction, LogFilter};
use crate::rollup::starknet::da::aliases::{self, ALIAS_CONTRACT, AliasSource};
use crate::rollup::starknet::da::batch::{BatchInput, DaInput, DecodedBatch, decode_batch};
use crate::rollup::starknet::da::pages::MemoryPage;
use crate::rollup::starknet::da::program_output::{
    L1Binding, L1Update, ProgramOutput, parse_l1_calldata,
};
use crate::rollup::starknet::da::{DaError, DaStateDiff, Layout};
use crate::rollup::starknet::dispatch::{self, LayoutRule, compressed_layout};
use crate::rollup::starknet::events::{self, LOG_STATE_TRANSITION_FACT, STATE_UPDATE_TOPICS};
use crate::rollup::starknet::sharp::{
    self, LOG_MEMORY_PAGE_FACT_CONTINUOUS, LOG_MEMORY_PAGES_HASHES, PageRegistration, SharpError,
};
use crate::rollup::starknet::state::{ClassChange, StarknetState};
use crate::store::{Store, StoreBatch};

/// How far before a calldata update the follower looks for SHARP's
/// `LogMemoryPagesHashes` of its fact and the registrations of its pages: a
/// bound on the work per update (about two weeks of 12-second slots), not a
/// chain parameter; a fact registered earlier is reported as not found.
pub const SHARP_LOOKBACK_BLOCKS: u64 = 100_800;

/// One Starknet chain as a [`RollupEngine`].
pub struct StarknetEngine {
    name: String,
    chain: StarknetChain,
    first_l1_block: u64,
    config: ChainConfig,
}

impl StarknetEngine {
    /// The engine for `config`; fails with [`FollowError::WrongRollup`] when the
    /// config has no `[starknet]` section.
    pub fn new(config: &ChainConfig) -> Result<Self, FollowError> {
        let chain = config
            .starknet
            .clone()
            .ok_or_else(|| FollowError::WrongRollup {
                name: config.name.clone(),
                expected: RollupKind::Starknet,
                found: config.rollup,
            })?;
        Ok(StarknetEngine {
            name: config.name.clone(),
            chain,
            first_l1_block: config.first_l1_block,
            config: config.clone(),
        })
    }

    fn error(&self, job: &BatchJob, cause: impl Into<StarknetCause>) -> FollowError {
        FollowError::Starknet {
            batch: job.batch,
            tx: job.log.transaction_hash,
            cause: Box::new(cause.into()),
        }
    }

    fn da_error(&self, job: &BatchJob, cause: DaCause) -> FollowError {
        FollowError::Da {
            batch: job.batch,
            tx: job.log.transaction_hash,
            cause,
        }
    }

    /// The DA pages of a calldata update. With SHARP verifiers in the config
    /// (real chains): the pages of the update's fact ([`Self::fact_pages`]).
    /// Without (local stand-ins that run no SHARP): the run of pages
    /// registered since the previous update that hashes to the bound
    /// `onchainDataHash` ([`sharp::select_bound_pages`]).
    async fn calldata_pages<S: L1Source>(
        &self,
        source: &S,
        job: &BatchJob,
        update: &L1Update,
    ) -> Result<Result<FetchedDa, SharpError>, FollowError> {
        let L1Binding::Calldata {
            onchain_data_hash,
            onchain_data_size,
        } = update.binding
        else {
            return Err(self.da_error(job, DaCause::NoBinding));
        };
        if !self.chain.sharp_verifiers.is_empty() {
            return self
                .fact_pages(source, job)
                .await
                .map(|pages| pages.map(FetchedDa::Pages));
        }
        let from = job.previous.map_or(self.first_l1_block, |(block, _)| block);
        let registries = self.chain.registries_for(from, job.log.block_number);
        if registries.is_empty() {
            return Err(self.config_error(DaCause::NoPageRegistry));
        }
        let filter = LogFilter {
            addresses: registries,
            topics0: vec![LOG_MEMORY_PAGE_FACT_CONTINUOUS],
            from_block: from,
            to_block: job.log.block_number,
        };
        let mut candidates = Vec::new();
        let mut seen = HashSet::new();
        for page_log in source.logs(&filter).await? {
            let position = (page_log.block_number, page_log.log_index);
            let before_update = position < (job.log.block_number, job.log.log_index);
            let after_previous = job.previous.is_none_or(|p| position > p);
            if page_log.removed || !before_update || !after_previous {
                continue;
            }
            if !seen.insert(page_log.transaction_hash) {
                continue;
            }
            let tx = transaction(source, page_log.transaction_hash).await?;
            // A registration this decoder cannot read cannot be one of the bound pages.
            if let Ok(pages) = sharp::pages_in_call(&tx.input) {
                candidates.extend(pages);
            }
        }
        Ok(sharp::select_bound_pages(
            update.program_output.len(),
            onchain_data_hash,
            onchain_data_size,
            &candidates,
        )
        .map(FetchedDa::Pages))
    }

    /// The DA pages of the update's fact: the fact from the core contract's
    /// `LogStateTransitionFact` in the update's transaction; SHARP's
    /// `LogMemoryPagesHashes` for that fact and the registrations of the
    /// listed pages, found by walking back from the update (at most
    /// [`SHARP_LOOKBACK_BLOCKS`]) over the verifiers and registries the config
    /// lists for each range; then only the transactions of those pages are
    /// read. Pages of other SHARP customers are never fetched.
    ///
    /// The walk reads its logs as leads ([`L1Source::lead_logs`]): under
    /// `--l1-verify full` it proves only that they sit on the verified chain,
    /// so the blocks of other customers' registrations are never downloaded.
    /// What is used is proved: the `LogMemoryPagesHashes` by asking for the
    /// logs of its one block, each page by its (proved) transaction, and the
    /// pages as a whole by recomputing the fact from them.
    ///
    /// The inner `Err` is L1 evidence the pages cannot be assembled from (a
    /// page SHARP lists that no configured registry yields, pages that do not
    /// hash to the fact, no listing of the fact): `decode` turns it into a
    /// finding recorded with the batch's audit before the follower halts.
    async fn fact_pages<S: L1Source>(
        &self,
        source: &S,
        job: &BatchJob,
    ) -> Result<Result<Vec<MemoryPage>, SharpError>, FollowError> {
        let update_block = job.log.block_number;
        let fact_logs = source
            .logs(&LogFilter {
                addresses: vec![self.chain.core_contract],
                topics0: vec![LOG_STATE_TRANSITION_FACT],
                from_block: update_block,
                to_block: update_block,
            })
            .await?;
        let Some(fact_log) = fact_logs
            .iter()
            .filter(|l| !l.removed && l.transaction_hash == job.log.transaction_hash)
            .filter(|l| l.log_index < job.log.log_index)
            .max_by_key(|l| l.log_index)
        else {
            return Ok(Err(SharpError::NoTransitionFact));
        };
        let fact = events::decode_state_transition_fact(&fact_log.topics, &fact_log.data)
            .map_err(|e| self.error(job, e))?;

        let lowest = update_block
            .saturating_sub(SHARP_LOOKBACK_BLOCKS)
            .max(self.first_l1_block);
        let range = self.config.log_range.max(1);
        // L1 blocks holding a `LogMemoryPagesHashes` of the fact (leads, proved below).
        let mut listed_in: Vec<(u64, Address)> = Vec::new();
        let mut listed: Vec<sharp::PagesHashes> = Vec::new();
        // memory hash -> transaction that registered it
        let mut registered: HashMap<B256, B256> = HashMap::new();
        let mut to = update_block;
        loop {
            let from = to.saturating_sub(range - 1).max(lowest);
            let verifiers = self.chain.verifiers_for(from, to);
            let registries = self.chain.registries_for(from, to);
            let mut addresses: Vec<Address> = verifiers.clone();
            addresses.extend(&registries);
            // An empty address list would match every contract's logs.
            let logs = if addresses.is_empty() {
                Vec::new()
            } else {
                source
                    .lead_logs(&LogFilter {
                        addresses,
                        topics0: vec![LOG_MEMORY_PAGES_HASHES, LOG_MEMORY_PAGE_FACT_CONTINUOUS],
                        from_block: from,
                        to_block: to,
                    })
                    .await?
            };
            for log in logs.iter().filter(|l| !l.removed) {
                if (log.block_number, log.log_index) >= (update_block, job.log.log_index) {
                    continue;
                }
                let topic = log.topics.first().copied().unwrap_or_default();
                if topic == LOG_MEMORY_PAGES_HASHES && verifiers.contains(&log.address) {
                    // Another customer's event that does not parse is not ours.
                    if let Ok(entry) = sharp::decode_pages_hashes(&log.topics, &log.data)
                        && entry.fact_hash == fact
                    {
                        listed.push(entry);
                        listed_in.push((log.block_number, log.address));
                    }
                } else if topic == LOG_MEMORY_PAGE_FACT_CONTINUOUS
                    && registries.contains(&log.address)
                    && let Ok(page) = sharp::decode_page_fact(&log.topics, &log.data)
                {
                    registered
                        .entry(B256::from(page.memory_hash.to_be_bytes::<32>()))
                        .or_insert(log.transaction_hash);
                }
            }
            let all_found = listed
                .iter()
                .any(|l| l.pages_hashes.iter().all(|h| registered.contains_key(h)));
            if all_found || from == lowest {
                break;
            }
            to = from - 1;
        }
        // Prove the listings used: the logs of their blocks, asked for again.
        listed_in.sort_unstable();
        listed_in.dedup();
        let mut proved: Vec<sharp::PagesHashes> = Vec::new();
        for (block, verifier) in listed_in {
            let logs = source
                .logs(&LogFilter {
                    addresses: vec![verifier],
                    topics0: vec![LOG_MEMORY_PAGES_HASHES],
                    from_block: block,
                    to_block: block,
                })
                .await?;
            for log in logs.iter().filter(|l| !l.removed) {
                if let Ok(entry) = sharp::decode_pages_hashes(&log.topics, &log.data)
                    && entry.fact_hash == fact
                    && !proved.contains(&entry)
                {
                    proved.push(entry);
                }
            }
        }
        if proved.is_empty() {
            return Ok(Err(SharpError::FactNotRegistered {
                fact,
                blocks: update_block - lowest,
            }));
        }
        // Read only the transactions of the listed pages (a missing one is
        // named by `select_fact_pages`).
        let wanted: HashSet<B256> = proved
            .iter()
            .flat_map(|l| l.pages_hashes.iter())
            .filter_map(|h| registered.get(h).copied())
            .collect();
        let mut inputs: Vec<(B256, L1Transaction)> = Vec::with_capacity(wanted.len());
        for hash in wanted {
            inputs.push((hash, transaction(source, hash).await?));
        }
        let registrations: Vec<PageRegistration<'_>> = proved
            .iter()
            .flat_map(|l| l.pages_hashes.iter())
            .filter_map(|h| {
                let tx = registered.get(h)?;
                let (_, input) = inputs.iter().find(|(hash, _)| hash == tx)?;
                Some(PageRegistration {
                    memory_hash: U256::from_be_bytes(h.0),
                    calldata: &input.input,
                })
            })
            .collect();
        Ok(sharp::select_fact_pages(fact, &proved, &registrations).map(|pages| pages.da))
    }

    fn config_error(&self, cause: DaCause) -> FollowError {
        FollowError::Config {
            chain: self.name.clone(),
            detail: cause.to_string(),
        }
    }

    /// The layout to force on the decoder for an update ending at `l2_block`:
    /// the era's fixed layout; for the compressed eras the shared v0.13.3 wire
    /// format (`plan` decides aliases); `None` when the config lists no eras
    /// (the data alone decides).
    fn forced_layout(&self, job: &BatchJob, l2_block: u64) -> Result<Option<Layout>, FollowError> {
        if self.chain.eras.is_empty() {
            return Ok(None);
        }
        let rule =
            dispatch::layout_rule_at(&self.chain, l2_block).map_err(|e| self.error(job, e))?;
        Ok(Some(match rule {
            LayoutRule::Fixed(layout) => layout,
            LayoutRule::Compressed => Layout::V0_13_3,
        }))
    }
}

/// What fetch read for one state update.
pub struct StarknetFetched {
    update: L1Update,
    versioned_hashes: Vec<B256>,
    /// `Err`: no registered pages are the ones the proof bound (stand-in chains
    /// only: SHARP registers no fact whose pages are missing).
    da: Result<FetchedDa, SharpError>,
}

enum FetchedDa {
    Blobs(Vec<Vec<u8>>),
    Pages(Vec<MemoryPage>),
}

/// A decoded state update, aliases not yet resolved.
pub enum StarknetDecoded {
    /// The update decoded; `plan` applies it.
    Update(Box<DecodedUpdate>),
    /// What was read is a finding against the batch (encrypted DA, pages
    /// that do not match what the proof bound): raised in `plan`, so the
    /// follower records it with the batch's audit before halting.
    Finding(StarknetCause),
}

/// One update's decoded DA and program output, with what `plan` checks them against.
pub struct DecodedUpdate {
    decoded: DecodedBatch,
    output: ProgramOutput,
    /// The L2 block `LogStateUpdate` carries (the last of the update).
    event_l2_block: u64,
    da_mode: DaMode,
    blob_count: usize,
}

/// The alias table as `decode` sees it, ahead of the state: nothing known and
/// contract 0x2 reported unwritten, so a compressed batch decodes as v0.13.4
/// only when it writes 0x2 itself; `plan` re-decides against the committed state.
struct AliasesUnknownYet;

impl AliasSource for AliasesUnknownYet {
    type Error = std::convert::Infallible;

    fn original_of(&self, _alias: &Felt) -> Result<Option<Felt>, Self::Error> {
        Ok(None)
    }

    fn alias_contract_written(&self) -> Result<Option<bool>, Self::Error> {
        Ok(Some(false))
    }
}

impl RollupEngine for StarknetEngine {
    type Fetched = StarknetFetched;
    type Decoded = StarknetDecoded;

    fn events(&self) -> EventSource {
        EventSource {
            addresses: vec![self.chain.core_contract],
            topics0: STATE_UPDATE_TOPICS.to_vec(),
        }
    }

    fn classify(&self, log: &L1Log) -> Result<L1Event, FollowError> {
        let event = events::decode_state_update(&log.topics, &log.data)
            .map_err(|e| malformed_log(log, &e))?;
        Ok(L1Event::Commit {
            batch: None,
            claimed_root: B256::from(event.global_root.to_be_bytes::<32>()),
        })
    }

    fn checkpoint(&self, store: &Store) -> Result<Checkpoint, FollowError> {
        Ok(Checkpoint {
            last_batch: last_batch(store)?,
        })
    }

    async fn fetch<S: L1Source>(
        &self,
        source: &S,
        job: &BatchJob,
    ) -> Result<StarknetFetched, FollowError> {
        let tx = transaction(source, job.log.transaction_hash).await?;
        let update = parse_l1_calldata(&tx.input).map_err(|e| self.error(job, e))?;
        let da = match &update.binding {
            // Only blob fetches need the block (its timestamp names the beacon slot).
            L1Binding::Kzg { .. } => {
                let block = source
                    .block_by_number(job.log.block_number)
                    .await?
                    .ok_or_else(|| missing(format!("block {}", job.log.block_number)))?;
                Ok(FetchedDa::Blobs(
                    // Starknet's calldata opens no blob at a point derived from the
                    // blob itself, so each commitment is recomputed.
                    source
                        .blobs(&block, &BlobRequest::new(tx.blob_versioned_hashes.clone()))
                        .await?,
                ))
            }
            L1Binding::Calldata { .. } => self.calldata_pages(source, job, &update).await?,
            L1Binding::None => return Err(self.da_error(job, DaCause::NoBinding)),
        };
        Ok(StarknetFetched {
            update,
            versioned_hashes: tx.blob_versioned_hashes,
            da,
        })
    }

    fn decode(
        &self,
        job: &BatchJob,
        fetched: StarknetFetched,
    ) -> Result<StarknetDecoded, FollowError> {
        let fetched_da = match fetched.da {
            Ok(da) => da,
            Err(e) => return Ok(StarknetDecoded::Finding(e.into())),
        };
        let (da, da_mode, blob_count) = match &fetched_da {
            FetchedDa::Blobs(blobs) => (DaInput::Blobs(blobs), DaMode::Blob, blobs.len()),
            FetchedDa::Pages(pages) => (DaInput::Pages(pages), DaMode::Calldata, 0),
        };
        let event = events::decode_state_update(&job.log.topics, &job.log.data)
            .map_err(|e| self.error(job, e))?;
        let input = BatchInput {
            batch: Some(job.batch),
            da,
            l1_update: Some(&fetched.update),
            versioned_hashes: (!fetched.versioned_hashes.is_empty())
                .then_some(fetched.versioned_hashes.as_slice()),
            blobs_checked: true,
            layout: self.forced_layout(job, event.l2_block)?,
        };
        let decoded = match decode_batch(&input, &AliasesUnknownYet) {
            Err(e @ DaError::Encrypted { .. }) => return Ok(StarknetDecoded::Finding(e.into())),
            other => other.map_err(|e| self.error(job, e))?,
        };
        let output = decoded
            .program_output
            .clone()
            .ok_or_else(|| self.da_error(job, DaCause::NoProgramOutput))?;
        Ok(StarknetDecoded::Update(Box::new(DecodedUpdate {
            decoded,
            output,
            event_l2_block: event.l2_block,
            da_mode,
            blob_count,
        })))
    }

    fn plan(
        &self,
        store: &Store,
        job: &BatchJob,
        decoded: StarknetDecoded,
    ) -> Result<Plan, FollowError> {
        let DecodedUpdate {
            decoded,
            output,
            event_l2_block,
            da_mode,
            blob_count,
        } = match decoded {
            StarknetDecoded::Update(update) => *update,
            StarknetDecoded::Finding(cause) => return Err(self.error(job, cause)),
        };
        let state = StarknetState::new(store);
        let layout = match decoded.layout {
            Layout::V0_13_3 | Layout::V0_13_4 => {
                let before = state
                    .alias_contract_written()
                    .map_err(|e| self.error(job, e))?
                    .unwrap_or(false);
                compressed_layout(before, writes_alias_contract(&decoded.posted))
            }
            other => other,
        };
        let diff = if layout == Layout::V0_13_4 {
            aliases::resolve(&decoded.posted, &state)
                .and_then(|r| r.into_complete())
                .and_then(|posted| posted.to_state_diff())
                .map_err(|e| self.error(job, e))?
        } else {
            decoded.diff.clone()
        };
        let class_entries = state
            .classify_class_entries(&diff)
            .map_err(|e| self.error(job, e))?;
        let classes_declared = class_entries
            .iter()
            .filter(|c| c.change == ClassChange::Declared)
            .count();
        let classes_migrated = class_entries
            .iter()
            .filter(|c| matches!(c.change, ClassChange::CompiledHashUpdated { .. }))
            .count();
        if classes_migrated > 0 {
            tracing::info!(
                batch = job.batch,
                classes_migrated,
                "compiled class hashes of existing classes updated (v0.14.1 migration)"
            );
        }
        // Before v0.7.0 the header had no block number; the core contract
        // counted blocks itself and its event is the only record.
        let l2_last = if output.version.has_block_number() {
            felt_u64(&output.new_block_number)
        } else {
            event_l2_block
        };
        let l2_first = output
            .prev_block_number
            .as_ref()
            .map(|p| felt_u64(p).wrapping_add(1))
            .unwrap_or(l2_last);
        let previous_root = state
            .checkpoint()
            .map_err(|e| self.error(job, e))?
            .global_root;
        let (roots, write) = state
            .plan(&diff, self.chain.root_rule(l2_last))
            .map_err(|e| self.error(job, e))?;
        let mut checks = binding_checks(&decoded, da_mode, blob_count);
        checks.push(Check::equal(
            "program_output.prev_root",
            felt_hex(&output.prev_root),
            felt_hex(&previous_root),
        ));
        checks.push(Check::equal(
            "log_state_update.global_root",
            felt_hex(&output.new_root),
            format_word(&job.claimed_root),
        ));
        // The core contract requires the output's (new) block number to be the
        // one it then logs (cairo-lang `StarknetState.update`), so a header read
        // at the wrong size cannot pass unnoticed.
        if output.version.has_block_number() {
            checks.push(Check::equal(
                "log_state_update.block_number",
                l2_last.to_string(),
                event_l2_block.to_string(),
            ));
        }
        Ok(Plan {
            write,
            computed_root: felt_hex(&roots.global_root),
            claimed_root: felt_hex(&output.new_root),
            checks,
            summary: BatchSummary {
                da_mode,
                blob_count,
                // The header names the OS output version, the layout the DA encoding.
                format_version: format!("{} header, {} DA", output.version.name(), layout.name()),
                l2_blocks: Some((l2_first, l2_last)),
                contracts_touched: diff.contracts.len(),
                storage_writes: diff.contracts.values().map(|c| c.storage.len()).sum(),
                classes_declared,
                executed: None,
            },
        })
    }

    fn unwind(&self, store: &Store, keep: Option<u64>) -> Result<StoreBatch, FollowError> {
        StarknetState::new(store)
            .plan_unwind(keep)
            .map_err(FollowError::StarknetState)
    }
}

/// The last committed Starknet batch of a store.
pub fn last_batch(store: &Store) -> Result<Option<u64>, FollowError> {
    let checkpoint = StarknetState::new(store)
        .checkpoint()
        .map_err(FollowError::StarknetState)?;
    Ok(checkpoint.next_batch.checked_sub(1))
}

/// Whether a posted (compressed) diff writes the alias contract 0x2.
fn writes_alias_contract(posted: &DaStateDiff) -> bool {
    posted.contracts.iter().any(|c| c.address == ALIAS_CONTRACT)
}

/// The decoder's binding findings, plus a skipped check for every binding
/// the DA mode requires that the decoder did not run (its evidence was
/// missing), so such a batch is PARTIAL rather than MATCH.
pub fn binding_checks(decoded: &DecodedBatch, mode: DaMode, blob_count: usize) -> Vec<Check> {
    let mut checks: Vec<Check> = decoded.findings.iter().cloned().map(Check::from).collect();
    let required: Vec<String> = match mode {
        DaMode::Blob => std::iter::once("kzg.z".to_owned())
            .chain((0..blob_count).flat_map(|j| {
                ["commitment", "y", "versioned_hash", "proof"].map(|c| format!("kzg.{c}[{j}]"))
            }))
            .collect(),
        DaMode::Calldata => vec![
            "calldata.onchain_data_hash".into(),
            "calldata.onchain_data_size".into(),
        ],
    };
    for name in required {
        if !checks.iter().any(|c| c.name == name) {
            checks.push(Check::skipped(
                name,
                "the decoder had no evidence to run it",
            ));
        }
    }
    checks
}

async fn transaction<S: L1Source>(source: &S, hash: B256) -> Result<L1Transaction, FollowError> {
    source
        .transaction(hash)
        .await?
        .ok_or_else(|| missing(format!("transaction {hash}")))
}

/// A log that claims to be a batch event but does not parse: the node's answer is wrong.
pub(crate) fn malformed_log(log: &L1Log, error: &dyn std::fmt::Display) -> FollowError {
    FollowError::L1(L1Error::Malformed {
        endpoint: "rpc".into(),
        detail: format!(
            "log {} of tx {}: {error}",
            log.log_index, log.transaction_hash
        ),
    })
}

fn felt_hex(felt: &Felt) -> String {
    format_word(&B256::from(felt.to_bytes_be()))
}

/// An L2 block number from the program output (saturating: a bogus value only
/// affects the reported range and the root rule, and the root check catches it).
fn felt_u64(felt: &Felt) -> u64 {
    let value = U256::from_be_bytes(felt.to_bytes_be());
    u64::try_from(value).unwrap_or(u64::MAX)
}
