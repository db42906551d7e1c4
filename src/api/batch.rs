//! Batch records: roots, the audit verdict with its checks, and where the
//! batch came from on L1.

use async_graphql::{Result, SimpleObject};

use super::budget::Budget;
use super::scalars::{Bytes32, FeltScalar, Long};
use super::schema::{RollupHandle, RollupKind, count};
use crate::audit::{BatchAudit, Verdict};
use crate::follow::{DaMode, L1BatchRecord};
use crate::hexfmt::format_word;
use crate::rollup::starknet::state::StarknetState;
use crate::rollup::zksync::query::ZksyncReader;
use crate::rollup::zksync::state::read_record;

/// A batch, its roots, its audit and where it came from on L1.
#[derive(SimpleObject)]
pub struct Batch {
    /// Batch number in replay order.
    number: Long,
    /// The root the rollup claimed on L1 (0x-hex), when known.
    claimed_root: Option<String>,
    /// The root zkreplay computed from the published data (0x-hex).
    computed_root: Option<String>,
    /// Starknet contracts-trie root after the batch.
    contracts_root: Option<FeltScalar>,
    /// Starknet classes-trie root after the batch.
    classes_root: Option<FeltScalar>,
    /// MATCH, MISMATCH, or PENDING while no claimed root is known.
    pub(crate) verdict: Verdict,
    /// Every check of the audit, the root check first.
    checks: Vec<Check>,
    /// The L1 block holding the batch's commitment (null: not applied by the follower).
    l1_block_number: Option<Long>,
    /// That block's hash (reorgs are detected against it).
    l1_block_hash: Option<Bytes32>,
    /// The L1 transaction that published the batch's data.
    l1_transaction_hash: Option<Bytes32>,
    /// How the data reached L1.
    da_mode: Option<DaMode>,
    /// Blobs carrying the data (0 for calldata).
    blob_count: Option<i32>,
    /// The decoder that read the data, e.g. `v0.13.4` or `commitBatches/blobs`.
    format_version: Option<String>,
    /// Starknet: the L2 blocks the batch covers.
    l2_block_range: Option<BlockRange>,
    /// ZKsync: whether L1 executed the batch (final). Null on Starknet.
    executed: Option<bool>,
    /// What the batch changed.
    state_diff: Option<StateDiffSummary>,
}

/// An inclusive range of L2 blocks.
#[derive(SimpleObject)]
pub struct BlockRange {
    first: Long,
    last: Long,
}

/// Counts of what one batch changed.
#[derive(SimpleObject)]
pub struct StateDiffSummary {
    /// Contracts with any change (null on ZKsync: derived keys hide the contract).
    contracts_touched: Option<i32>,
    /// Storage slots written.
    storage_writes: i32,
    /// Classes declared (null on ZKsync, which has none).
    classes_declared: Option<i32>,
    /// ZKsync: slots written for the first time (they get new enumeration indices).
    initial_writes: Option<i32>,
    /// ZKsync: slots written again (named by enumeration index).
    repeated_writes: Option<i32>,
}

/// One audit check.
#[derive(SimpleObject)]
pub struct Check {
    name: String,
    passed: bool,
    /// What L1 (or the proof's binding) says.
    expected: String,
    /// What zkreplay found.
    actual: String,
}

/// The batch's roots, audit and L1 provenance; `None` when the store has no
/// record of it. A batch the follower halted on with evidence against it
/// (a MISMATCH audit, never applied) is returned with its audit alone.
pub(crate) fn load_batch(handle: &RollupHandle, b: &Budget, number: u64) -> Result<Option<Batch>> {
    let store = &handle.store;
    let audit = BatchAudit::read(store, number).map_err(|e| b.internal(e))?;
    let l1 = L1BatchRecord::read(store, number).map_err(|e| b.internal(e))?;
    let mut batch = Batch {
        number: Long(number),
        claimed_root: audit.as_ref().and_then(|a| a.claimed_root.clone()),
        computed_root: None,
        contracts_root: None,
        classes_root: None,
        verdict: audit.as_ref().map_or(Verdict::Pending, |a| a.verdict),
        checks: audit
            .map(|a| {
                a.checks
                    .into_iter()
                    .map(|c| Check {
                        name: c.name,
                        passed: c.passed,
                        expected: c.expected,
                        actual: c.actual,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        l1_block_number: l1.as_ref().map(|r| Long(r.l1_block_number)),
        l1_block_hash: l1.as_ref().map(|r| Bytes32(r.l1_block_hash)),
        l1_transaction_hash: l1.as_ref().map(|r| Bytes32(r.l1_transaction_hash)),
        da_mode: l1.as_ref().map(|r| r.summary.da_mode),
        blob_count: l1.as_ref().map(|r| count(r.summary.blob_count)),
        format_version: l1.as_ref().map(|r| r.summary.format_version.clone()),
        l2_block_range: l1
            .as_ref()
            .and_then(|r| r.summary.l2_blocks)
            .map(|(first, last)| BlockRange {
                first: Long(first),
                last: Long(last),
            }),
        executed: l1.as_ref().and_then(|r| r.summary.executed),
        state_diff: None,
    };
    match handle.kind {
        RollupKind::Starknet => {
            let Some(roots) = StarknetState::new(store)
                .batch_roots(number)
                .map_err(|e| b.internal(e))?
            else {
                return Ok((batch.verdict == Verdict::Mismatch).then_some(batch));
            };
            batch.computed_root = Some(format!("{:#x}", roots.global_root));
            batch.contracts_root = Some(FeltScalar(roots.contracts_root));
            batch.classes_root = Some(FeltScalar(roots.classes_root));
            batch.state_diff = l1.as_ref().map(|r| StateDiffSummary {
                contracts_touched: Some(count(r.summary.contracts_touched)),
                storage_writes: count(r.summary.storage_writes),
                classes_declared: Some(count(r.summary.classes_declared)),
                initial_writes: None,
                repeated_writes: None,
            });
        }
        RollupKind::Zksync => {
            let Some(record) = read_record(store, number).map_err(|e| b.internal(e))? else {
                return Ok((batch.verdict == Verdict::Mismatch).then_some(batch));
            };
            batch.computed_root = Some(format_word(&record.computed_root));
            if batch.claimed_root.is_none() {
                batch.claimed_root = record.claimed_root.as_ref().map(format_word);
            }
            if batch.checks.is_empty() && batch.verdict == Verdict::Pending {
                // No audit (a store built by `zksync apply`): the engine's own root check.
                batch.verdict = match record.matches {
                    Some(true) => Verdict::Match,
                    Some(false) => Verdict::Mismatch,
                    None => Verdict::Pending,
                };
            }
            if batch.executed.is_none() {
                let executed = ZksyncReader::new(store)
                    .checkpoint()
                    .map_err(|e| b.internal(e))?
                    .is_some_and(|c| number <= c.last_executed);
                batch.executed = Some(executed);
            }
            // Pubdata names slots by derived key, which hides the contract, and
            // ZKsync has no class declarations: those counts stay null.
            batch.state_diff = Some(StateDiffSummary {
                contracts_touched: None,
                storage_writes: count(record.initial_writes.saturating_add(record.repeated_writes)),
                classes_declared: None,
                initial_writes: Some(count(record.initial_writes)),
                repeated_writes: Some(count(record.repeated_writes)),
            });
        }
    }
    Ok(Some(batch))
}
