//! The settlement-chain path of the ZKsync engine: while a chain settles on
//! a ZK chain (Era on the Gateway), its batches are found inside the
//! settlement chain's L1 commits and taken from the relayed messages.

use super::*;

/// A settlement chain this chain's batches went through.
pub(super) struct Layer {
    /// The settlement chain's diamond proxy on L1 (its `BlockCommit` logs).
    pub(super) diamond: Address,
    /// How the settlement chain's messages name this chain.
    pub(super) settled: SettledChain,
}

/// One of this chain's batches as a settlement batch relayed it to L1,
/// decoded and checked (the settlement batch's own checks included).
pub struct Carried {
    /// The settlement chain's commit transaction that carried it.
    pub(super) tx: B256,
    pub(super) batch: RelayedBatch,
    /// The settlement batch's DA checks, named `settlement.*`.
    pub(super) layer_checks: Vec<Check>,
    pub(super) blob_count: usize,
    pub(super) format: String,
}

/// The check no batch carried by a settlement chain can pass from L1 data
/// alone, so such a batch is at best PARTIAL.
pub const RELAYED_PUBDATA_HASH: &str = "relayed.pubdata_hash";

impl ZksyncEngine {
    pub(super) fn layer(&self, address: Address) -> Option<&Layer> {
        self.layers.iter().find(|l| l.diamond == address)
    }

    /// Whether this chain settled on the layer whose diamond emitted `log` at
    /// the log's L1 block (a timestamp boundary needs the block's timestamp).
    pub(super) async fn settled_on<S: L1Source>(
        &self,
        source: &S,
        log: &L1Log,
        layer: &Layer,
    ) -> Result<bool, FollowError> {
        let block = source
            .block_by_hash(log.block_hash)
            .await?
            .ok_or_else(|| missing(format!("block {}", log.block_hash)))?;
        let point = L1Point::at(block.number, block.timestamp);
        let period = match self.chain.history.settlement_at(point) {
            Ok(period) => period,
            Err(HistoryError::BeforeHistory { .. }) => return Ok(false),
            Err(e) => return Err(self.error(0, log.transaction_hash, e)),
        };
        Ok(period.layer == SettlementKind::ZkChain
            && period.diamond_on_layer == Some(layer.settled.diamond_on_layer)
            && period.settlement_config.as_ref().map(|l| l.diamond_proxy) == Some(layer.diamond))
    }

    /// Reads a settlement batch's commit from L1, decodes the settlement
    /// chain's own pubdata (calldata or KZG-checked blobs, with every binding
    /// check) and takes this chain's batches from its messages.
    pub(super) async fn carried_by<S: L1Source>(
        &self,
        source: &S,
        log: &L1Log,
        layer: &Layer,
    ) -> Result<Vec<Arc<Carried>>, FollowError> {
        let hash = log.transaction_hash;
        let settlement_batch =
            match parse_log(&log.topics, &log.data).map_err(|e| malformed_log(log, &e))? {
                Some(BatchEvent::Commit { batch, .. }) => batch,
                _ => return Ok(Vec::new()),
            };
        let tx = self.commit_tx(source, log, settlement_batch).await?;
        let index = tx
            .call
            .batches
            .iter()
            .position(|b| b.batch_number == settlement_batch)
            .ok_or_else(|| self.error(settlement_batch, hash, ZksyncCause::NotInTransaction))?;
        let fetched = ZksyncFetched {
            tx: Arc::new(tx),
            index,
        };
        let decoded = self.decode_with(settlement_batch, &fetched, Vec::new())?;
        let undecodable = |detail: String| {
            self.error(
                settlement_batch,
                hash,
                ZksyncCause::LayerUndecodable {
                    batch: settlement_batch,
                    detail,
                },
            )
        };
        let pubdata = decoded.parsed.as_ref().ok_or_else(|| {
            undecodable(
                decoded
                    .checks
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| format!("{}: {}", c.name, c.actual))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let relayed = relayed_batches(settlement_batch, pubdata, &layer.settled)
            .map_err(|e| self.error(settlement_batch, hash, e))?;
        let blob_count = fetched.tx.versioned_hashes.len();
        let format = format!(
            "via settlement batch {settlement_batch} ({} {})",
            fetched.tx.version,
            if blob_count > 0 { "blobs" } else { "calldata" }
        );
        // The settlement batch's own checks bind the messages to what its L1 commit bound.
        let layer_checks: Vec<Check> = decoded
            .checks
            .iter()
            .map(|c| Check {
                name: format!("settlement.{}", c.name),
                ..c.clone()
            })
            .collect();
        Ok(relayed
            .into_iter()
            .map(|batch| {
                Arc::new(Carried {
                    tx: hash,
                    batch,
                    layer_checks: layer_checks.clone(),
                    blob_count,
                    format: format.clone(),
                })
            })
            .collect())
    }

    /// Plans a batch that reached L1 inside a settlement batch: applied from the
    /// relayed pubdata and judged by the relayed `StoredBatchInfo` (new root,
    /// next free index), exactly as an L1 commit would be.
    pub(super) fn plan_carried(
        &self,
        store: &Store,
        job: &BatchJob,
        carried: &Carried,
    ) -> Result<Plan, FollowError> {
        let hash = job.log.transaction_hash;
        let relayed = &carried.batch;
        let input = relayed.input();
        let state = ZksyncState::open(store).map_err(|e| self.error(job.batch, hash, e))?;
        let (write, applied, _) = state
            .plan(&input)
            .map_err(|e| self.error(job.batch, hash, e))?;
        let mut checks = carried.layer_checks.clone();
        checks.extend(relayed.checks.iter().cloned());
        checks.push(Check::skipped(
            RELAYED_PUBDATA_HASH,
            "the chain's pubdata hash is bound on the settlement chain (its L2 DA \
             validator's output, folded into auxiliaryOutputHash, whose preimage is \
             not relayed): it cannot be checked from L1 alone",
        ));
        Ok(Plan {
            write,
            computed_root: format_word(&applied.record.computed_root),
            claimed_root: format_word(&relayed.info.stored.batch_hash),
            checks,
            summary: BatchSummary {
                da_mode: da_mode(carried.blob_count),
                blob_count: carried.blob_count,
                format_version: format!(
                    "{}, {}-field StoredBatchInfo",
                    carried.format,
                    if relayed.info.stored.dependency_roots_rolling_hash.is_some() {
                        9
                    } else {
                        8
                    }
                ),
                l2_blocks: None,
                contracts_touched: 0,
                storage_writes: input.writes.initial.len() + input.writes.repeated.len(),
                classes_declared: 0,
                executed: Some(false),
            },
        })
    }
}
