//! Following Starknet: every `LogStateUpdate` of the core contract is one batch.
//! Its transaction's `updateState*` call carries the program output (with the
//! root L1 accepted) and binds the DA: blobs for `updateStateKzgDA`, memory
//! pages registered earlier for `updateState`.

use alloy_primitives::{B256, U256};
use alloy_sol_types::{SolEvent, sol};
use starknet_types_core::felt::Felt;

use super::{
    DaMode, FollowError, FollowOptions, L1BatchRecord, L1Cursor, OnMismatch, SyncReport, chunks,
    cursor_is_canonical, finish_chunk, last_canonical_batch, log_verdict, missing, state_error,
    target_block,
};
use crate::audit::{BatchAudit, Check, Verdict};
use crate::chain::{ChainConfig, StarknetChain};
use crate::hexfmt::format_word;
use crate::l1::{L1Block, L1Log, L1Source, LogFilter};
use crate::rollup::starknet::da::DaError;
use crate::rollup::starknet::da::batch::{BatchInput, DaInput, decode_batch};
use crate::rollup::starknet::da::pages::{MemoryPage, parse_page};
use crate::rollup::starknet::da::program_output::{HeaderVersion, L1Binding, parse_l1_calldata};
use crate::rollup::starknet::state::StarknetState;
use crate::store::{Store, StoreBatch};

sol! {
    /// Emitted by the Starknet core contract for every accepted state update.
    event LogStateUpdate(uint256 globalRoot, int256 blockNumber, uint256 blockHash);
    /// Emitted by the memory-page fact registry for every registered page.
    event LogMemoryPageFactContinuous(bytes32 factHash, uint256 memoryHash, uint256 prod);
}

/// Follows one Starknet chain into one store.
pub struct StarknetFollower<'a, S> {
    pub source: &'a S,
    pub store: &'a Store,
    pub config: &'a ChainConfig,
    pub options: &'a FollowOptions,
}

impl<S: L1Source> StarknetFollower<'_, S> {
    fn chain(&self) -> Result<&StarknetChain, FollowError> {
        self.config
            .starknet
            .as_ref()
            .ok_or_else(|| FollowError::WrongRollup {
                name: self.config.name.clone(),
                expected: crate::chain::RollupKind::Starknet,
                found: self.config.rollup,
            })
    }

    fn last_batch(&self) -> Result<Option<u64>, FollowError> {
        Ok(StarknetState::new(self.store)
            .checkpoint()
            .map_err(state_error)?
            .next_batch
            .checked_sub(1))
    }

    /// Brings the store up to the target L1 block: unwinds batches a reorg
    /// removed, then applies every state update in order.
    pub async fn sync(&self) -> Result<SyncReport, FollowError> {
        let chain = self.chain()?;
        let target = target_block(self.source, self.options).await?;
        let mut report = SyncReport {
            target: target.number,
            ..SyncReport::default()
        };
        if let Some(cursor) = L1Cursor::read(self.store)?
            && !cursor_is_canonical(self.source, &cursor).await?
        {
            report.unwound = self.unwind_reorged().await?;
        }
        let from = match L1Cursor::read(self.store)? {
            None => self.config.first_l1_block,
            Some(c) if c.log_index.is_some() => c.block,
            Some(c) => c.block + 1,
        };
        for (lo, hi) in chunks(from, target.number, self.config.log_range) {
            let filter = LogFilter {
                addresses: vec![chain.core_contract],
                topics0: vec![LogStateUpdate::SIGNATURE_HASH],
                from_block: lo,
                to_block: hi,
            };
            let scan = std::time::Instant::now();
            let logs = self.source.logs(&filter).await?;
            report.stages.scan += scan.elapsed();
            for log in logs {
                if log.removed {
                    continue;
                }
                let cursor = L1Cursor::read(self.store)?;
                if cursor.is_some_and(|c| c.covers(log.block_number, log.log_index)) {
                    continue;
                }
                let verdict = self.apply_update(chain, &log, &mut report.stages).await?;
                report.batches_applied += 1;
                if verdict == Verdict::Mismatch {
                    report.mismatches += 1;
                    if self.options.on_mismatch == OnMismatch::Halt {
                        let batch = self.last_batch()?.unwrap_or_default();
                        return Err(FollowError::Halted { batch });
                    }
                }
            }
            // The whole chunk is handled: move the cursor past it.
            finish_chunk(self.source, self.store, hi, &target).await?;
        }
        Ok(report)
    }

    async fn block(&self, number: u64) -> Result<L1Block, FollowError> {
        self.source
            .block_by_number(number)
            .await?
            .ok_or_else(|| missing(format!("block {number}")))
    }

    /// Unwinds every batch whose L1 block left the canonical chain, in one commit,
    /// and puts the cursor back to the last batch that stayed.
    async fn unwind_reorged(&self) -> Result<u64, FollowError> {
        let last = self.last_batch()?;
        let keep = last_canonical_batch(self.source, self.store, last, 0).await?;
        let state = StarknetState::new(self.store);
        let unwound = match (last, keep) {
            (Some(l), Some(k)) => l - k,
            (Some(l), None) => l + 1,
            _ => 0,
        };
        let cursor = match keep {
            Some(k) => L1BatchRecord::read(self.store, k)?.map(|r| L1Cursor::at_record(&r)),
            None => None,
        };
        // The state is unwound first: if the process dies before the cursor moves,
        // the stale cursor re-detects the fork and the (then empty) unwind repeats.
        let mut write = StoreBatch::default();
        if let Some(l) = last {
            for n in keep.map_or(0, |k| k + 1)..=l {
                write.delete(crate::store::Column::Meta, crate::store::keys::l1_batch(n));
            }
        }
        match &cursor {
            Some(c) => c.write(&mut write),
            None => write.delete(crate::store::Column::Meta, crate::store::keys::L1_CURSOR),
        }
        state.unwind(keep).map_err(state_error)?;
        self.store.commit(write)?;
        tracing::warn!(unwound, kept = ?keep, "L1 reorg: unwound Starknet batches");
        Ok(unwound)
    }

    /// Fetches, decodes, applies and audits one state update: one atomic commit.
    async fn apply_update(
        &self,
        chain: &StarknetChain,
        log: &L1Log,
        stages: &mut super::StageTimes,
    ) -> Result<Verdict, FollowError> {
        let fetch = std::time::Instant::now();
        let batch = self.last_batch()?.map_or(0, |b| b + 1);
        let tx_hash = log.transaction_hash;
        let undecodable = |detail: String| FollowError::Undecodable {
            batch,
            tx: tx_hash,
            detail,
        };
        let event = LogStateUpdate::decode_raw_log(log.topics.iter().copied(), &log.data)
            .map_err(|e| undecodable(format!("LogStateUpdate: {e}")))?;
        let tx = self
            .source
            .transaction(tx_hash)
            .await?
            .ok_or_else(|| missing(format!("transaction {tx_hash}")))?;
        let update = parse_l1_calldata(&tx.input).map_err(|e| undecodable(e.to_string()))?;
        let (blobs, pages, da_mode) = match &update.binding {
            // Only blob fetches need the block (its timestamp names the beacon slot).
            L1Binding::Kzg { .. } => (
                self.source
                    .blobs(
                        &self.block(log.block_number).await?,
                        &tx.blob_versioned_hashes,
                    )
                    .await?,
                Vec::new(),
                DaMode::Blob,
            ),
            L1Binding::Calldata { .. } => (
                Vec::new(),
                self.pages_before(chain, log).await?,
                DaMode::Calldata,
            ),
            L1Binding::None => return Err(undecodable("no DA binding in the call".into())),
        };
        stages.fetch += fetch.elapsed();
        let decode = std::time::Instant::now();
        let input = BatchInput {
            batch: Some(batch),
            da: match da_mode {
                DaMode::Blob => DaInput::Blobs(&blobs),
                DaMode::Calldata => DaInput::Pages(&pages),
            },
            l1_update: Some(&update),
            versioned_hashes: (!tx.blob_versioned_hashes.is_empty())
                .then_some(tx.blob_versioned_hashes.as_slice()),
            layout: None,
        };
        let state = StarknetState::new(self.store);
        let decoded = match decode_batch(&input, &state) {
            // The data fits the shared v0.13.3/v0.13.4 wire format but shows no alias
            // writes: the chain config's version table decides.
            Err(DaError::LayoutUndetermined(detail)) => {
                match self.config.starknet_compressed_layout(log.block_number) {
                    Some(layout) => decode_batch(
                        &BatchInput {
                            layout: Some(layout),
                            ..input
                        },
                        &state,
                    ),
                    None => Err(DaError::LayoutUndetermined(detail)),
                }
            }
            other => other,
        }
        .map_err(|e| undecodable(e.to_string()))?;
        decoded
            .require_complete()
            .map_err(|e| undecodable(e.to_string()))?;
        let output = decoded
            .program_output
            .as_ref()
            .ok_or_else(|| undecodable("no program output".into()))?;
        let l2_last = felt_u64(&output.new_block_number);
        let l2_first = output
            .prev_block_number
            .as_ref()
            .map(|p| felt_u64(p).wrapping_add(1))
            .unwrap_or(l2_last);
        stages.decode += decode.elapsed();
        let apply = std::time::Instant::now();
        let previous_root = state.checkpoint().map_err(state_error)?.global_root;
        let (roots, mut write) = state
            .apply(&decoded.diff, chain.root_rule(l2_last))
            .map_err(state_error)?;

        let mut checks: Vec<Check> = decoded
            .findings
            .iter()
            .map(|f| Check {
                name: f.check.clone(),
                passed: f.passed,
                expected: f.expected.clone(),
                actual: f.actual.clone(),
            })
            .collect();
        checks.push(Check::equal(
            "program_output.prev_root",
            felt_hex(&output.prev_root),
            felt_hex(&previous_root),
        ));
        checks.push(Check::equal(
            "log_state_update.global_root",
            felt_hex(&output.new_root),
            format_word(&B256::from(event.globalRoot.to_be_bytes::<32>())),
        ));
        let audit = BatchAudit::judge(
            batch,
            Some(felt_hex(&output.new_root)),
            felt_hex(&roots.global_root),
            checks,
        );
        audit.write(self.store, &mut write)?;
        L1BatchRecord {
            batch,
            l1_block_number: log.block_number,
            l1_block_hash: log.block_hash,
            l1_transaction_hash: tx_hash,
            log_index: log.log_index,
            da_mode,
            blob_count: blobs.len(),
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
            contracts_touched: decoded.diff.contracts.len(),
            storage_writes: decoded
                .diff
                .contracts
                .values()
                .map(|c| c.storage.len())
                .sum(),
            classes_declared: decoded.diff.declared_classes.len(),
            executed: None,
        }
        .write(&mut write);
        L1Cursor::at_log(log).write(&mut write);
        self.store.commit(write)?;
        stages.apply += apply.elapsed();

        log_verdict(&self.config.name, log, &audit);
        Ok(audit.verdict)
    }

    /// The memory pages registered since the previous state update, in L1 order:
    /// the calldata DA of `updateState`. The decoder's binding checks
    /// (`onchainDataHash`, size, contiguity) prove whether they are the right ones.
    async fn pages_before(
        &self,
        chain: &StarknetChain,
        log: &L1Log,
    ) -> Result<Vec<MemoryPage>, FollowError> {
        let registry = chain.memory_page_registry.ok_or_else(|| {
            FollowError::State(format!(
                "{}: calldata DA needs [starknet].memory_page_registry in the chain config",
                self.config.name
            ))
        })?;
        // Pages belong to the update that follows them: everything registered
        // after the previous update's log and before this one.
        let previous = match self.last_batch()? {
            Some(b) => {
                L1BatchRecord::read(self.store, b)?.map(|r| (r.l1_block_number, r.log_index))
            }
            None => None,
        };
        let filter = LogFilter {
            addresses: vec![registry],
            topics0: vec![LogMemoryPageFactContinuous::SIGNATURE_HASH],
            from_block: previous.map_or(self.config.first_l1_block, |(block, _)| block),
            to_block: log.block_number,
        };
        let mut pages = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for page_log in self.source.logs(&filter).await? {
            let before_update =
                (page_log.block_number, page_log.log_index) < (log.block_number, log.log_index);
            let after_previous =
                previous.is_none_or(|p| (page_log.block_number, page_log.log_index) > p);
            if page_log.removed || !before_update || !after_previous {
                continue;
            }
            if !seen.insert(page_log.transaction_hash) {
                continue;
            }
            let tx = self
                .source
                .transaction(page_log.transaction_hash)
                .await?
                .ok_or_else(|| missing(format!("transaction {}", page_log.transaction_hash)))?;
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

fn felt_hex(felt: &Felt) -> String {
    format_word(&B256::from(felt.to_bytes_be()))
}

/// An L2 block number from the program output (saturating: a bogus value only
/// affects the reported range and the root rule, and the root check catches it).
fn felt_u64(felt: &Felt) -> u64 {
    let value = U256::from_be_bytes(felt.to_bytes_be());
    u64::try_from(value).unwrap_or(u64::MAX)
}
