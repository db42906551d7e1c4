//! The Starknet engine: every `LogStateUpdate` of the core contract is one
//! batch. Its transaction's `updateState*` call carries the program output
//! (with the root L1 accepted) and binds the DA: blobs for
//! `updateStateKzgDA`, memory pages registered earlier for `updateState`.
//!
//! What runs ahead of apply: fetching (transaction, blobs or pages) and the
//! whole decode — blob FFT, layout detection, binding checks — against an
//! empty alias table. Aliases of v0.13.4+ batches are resolved in `plan`
//! against the committed alias table, where the previous batch's
//! allocations are visible.

use alloy_primitives::{B256, U256};
use alloy_sol_types::{SolEvent, sol};
use starknet_types_core::felt::Felt;

use super::engine::{BatchJob, BatchSummary, Checkpoint, EventSource, L1Event, Plan, RollupEngine};
use super::{DaCause, DaMode, FollowError, StarknetCause, missing};
use crate::audit::Check;
use crate::chain::{ChainConfig, RollupKind, StarknetChain};
use crate::hexfmt::format_word;
use crate::l1::{L1Error, L1Log, L1Source, L1Transaction, LogFilter};
use crate::rollup::starknet::da::aliases::{self, MemoryAliases};
use crate::rollup::starknet::da::batch::{BatchInput, DaInput, DecodedBatch, decode_batch};
use crate::rollup::starknet::da::pages::{MemoryPage, parse_page};
use crate::rollup::starknet::da::program_output::{
    HeaderVersion, L1Binding, L1Update, ProgramOutput, parse_l1_calldata,
};
use crate::rollup::starknet::da::{DaError, Layout};
use crate::rollup::starknet::state::StarknetState;
use crate::store::{Store, StoreBatch};

sol! {
    /// Emitted by the Starknet core contract for every accepted state update.
    event LogStateUpdate(uint256 globalRoot, int256 blockNumber, uint256 blockHash);
    /// Emitted by the memory-page fact registry for every registered page.
    event LogMemoryPageFactContinuous(bytes32 factHash, uint256 memoryHash, uint256 prod);
}

/// One Starknet chain as a [`RollupEngine`].
pub struct StarknetEngine {
    name: String,
    chain: StarknetChain,
    first_l1_block: u64,
    config: ChainConfig,
}

impl StarknetEngine {
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
            cause: cause.into(),
        }
    }

    fn da_error(&self, job: &BatchJob, cause: DaCause) -> FollowError {
        FollowError::Da {
            batch: job.batch,
            tx: job.log.transaction_hash,
            cause,
        }
    }

    /// The memory pages registered after the previous state update and before
    /// this one, in L1 order: the calldata DA of `updateState`. The decoder's
    /// binding checks (`onchainDataHash`, size, contiguity) prove whether they
    /// are the right ones.
    async fn pages_before<S: L1Source>(
        &self,
        source: &S,
        job: &BatchJob,
    ) -> Result<Vec<MemoryPage>, FollowError> {
        let registry = self
            .chain
            .memory_page_registry
            .ok_or_else(|| FollowError::Config {
                chain: self.name.clone(),
                detail: DaCause::NoPageRegistry.to_string(),
            })?;
        let log = &job.log;
        let filter = LogFilter {
            addresses: vec![registry],
            topics0: vec![LogMemoryPageFactContinuous::SIGNATURE_HASH],
            from_block: job.previous.map_or(self.first_l1_block, |(block, _)| block),
            to_block: log.block_number,
        };
        let mut pages = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for page_log in source.logs(&filter).await? {
            let position = (page_log.block_number, page_log.log_index);
            let before_update = position < (log.block_number, log.log_index);
            let after_previous = job.previous.is_none_or(|p| position > p);
            if page_log.removed || !before_update || !after_previous {
                continue;
            }
            if !seen.insert(page_log.transaction_hash) {
                continue;
            }
            let tx = transaction(source, page_log.transaction_hash).await?;
            match parse_page(&tx.input) {
                Ok(page) => pages.push(page),
                // A page registered through another contract (e.g. a multicall) is
                // not readable from this transaction's input; the binding checks
                // will report the missing data.
                Err(e) => tracing::warn!(tx = %page_log.transaction_hash, "memory page: {e}"),
            }
        }
        Ok(pages)
    }
}

/// What fetch read for one state update.
pub struct StarknetFetched {
    update: L1Update,
    versioned_hashes: Vec<B256>,
    da: FetchedDa,
}

enum FetchedDa {
    Blobs(Vec<Vec<u8>>),
    Pages(Vec<MemoryPage>),
}

/// A decoded state update, aliases not yet resolved.
pub struct StarknetDecoded {
    decoded: DecodedBatch,
    output: ProgramOutput,
    da_mode: DaMode,
    blob_count: usize,
}

impl RollupEngine for StarknetEngine {
    type Fetched = StarknetFetched;
    type Decoded = StarknetDecoded;

    fn events(&self) -> EventSource {
        EventSource {
            addresses: vec![self.chain.core_contract],
            topics0: vec![LogStateUpdate::SIGNATURE_HASH],
        }
    }

    fn classify(&self, log: &L1Log) -> Result<L1Event, FollowError> {
        let event = LogStateUpdate::decode_raw_log(log.topics.iter().copied(), &log.data)
            .map_err(|e| malformed_log(log, &e))?;
        Ok(L1Event::Commit {
            batch: None,
            claimed_root: B256::from(event.globalRoot.to_be_bytes::<32>()),
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
                FetchedDa::Blobs(source.blobs(&block, &tx.blob_versioned_hashes).await?)
            }
            L1Binding::Calldata { .. } => FetchedDa::Pages(self.pages_before(source, job).await?),
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
        let (da, da_mode, blob_count) = match &fetched.da {
            FetchedDa::Blobs(blobs) => (DaInput::Blobs(blobs), DaMode::Blob, blobs.len()),
            FetchedDa::Pages(pages) => (DaInput::Pages(pages), DaMode::Calldata, 0),
        };
        let input = BatchInput {
            batch: Some(job.batch),
            da,
            l1_update: Some(&fetched.update),
            versioned_hashes: (!fetched.versioned_hashes.is_empty())
                .then_some(fetched.versioned_hashes.as_slice()),
            layout: None,
        };
        // Aliases are resolved in `plan`; here none are known.
        let no_aliases = MemoryAliases::new();
        let decoded = match decode_batch(&input, &no_aliases) {
            // The data fits the shared v0.13.3/v0.13.4 wire format but shows no alias
            // writes: the chain config's version table decides.
            Err(DaError::LayoutUndetermined(detail)) => {
                match self.config.starknet_compressed_layout(job.log.block_number) {
                    Some(layout) => decode_batch(
                        &BatchInput {
                            layout: Some(layout),
                            ..input
                        },
                        &no_aliases,
                    ),
                    None => Err(DaError::LayoutUndetermined(detail)),
                }
            }
            other => other,
        }
        .map_err(|e| self.error(job, e))?;
        let output = decoded
            .program_output
            .clone()
            .ok_or_else(|| self.da_error(job, DaCause::NoProgramOutput))?;
        Ok(StarknetDecoded {
            decoded,
            output,
            da_mode,
            blob_count,
        })
    }

    fn plan(
        &self,
        store: &Store,
        job: &BatchJob,
        decoded: StarknetDecoded,
    ) -> Result<Plan, FollowError> {
        let StarknetDecoded {
            decoded,
            output,
            da_mode,
            blob_count,
        } = decoded;
        let state = StarknetState::new(store);
        let diff = if decoded.layout == Layout::V0_13_4 {
            aliases::resolve(&decoded.posted, &state)
                .and_then(|r| r.into_complete())
                .and_then(|posted| posted.to_state_diff())
                .map_err(|e| self.error(job, e))?
        } else {
            decoded.diff.clone()
        };
        let l2_last = felt_u64(&output.new_block_number);
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
        Ok(Plan {
            write,
            computed_root: felt_hex(&roots.global_root),
            claimed_root: felt_hex(&output.new_root),
            checks,
            summary: BatchSummary {
                da_mode: Some(da_mode),
                blob_count,
                // The header names the OS output version, the layout the DA encoding.
                format_version: format!(
                    "{} header, {} DA",
                    match output.version {
                        HeaderVersion::V0_11 => "v0.11",
                        HeaderVersion::V0_13_1 => "v0.13.1",
                        HeaderVersion::V0_13_2 => "v0.13.2+",
                    },
                    decoded.layout.name()
                ),
                l2_blocks: Some((l2_first, l2_last)),
                contracts_touched: diff.contracts.len(),
                storage_writes: diff.contracts.values().map(|c| c.storage.len()).sum(),
                classes_declared: diff.declared_classes.len(),
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
