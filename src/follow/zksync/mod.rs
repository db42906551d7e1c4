//! The ZKsync Era (and ZK Stack) engine: the diamond proxy's `BlockCommit`
//! names each batch and its new state root, the commit transaction carries
//! the pubdata (calldata or blobs), `BlockExecution` makes a batch final and
//! `BlocksRevert` withdraws committed-but-unexecuted batches (unwound like a
//! reorg by the follower).
//!
//! What runs ahead of apply: fetching the commit transaction and its blobs
//! (once per transaction, shared by the batches it commits) and the whole
//! decode with every binding check. From v26 a batch may name a blob an
//! earlier transaction published: each batch's blobs are written to the store
//! with the batch (so a restart never loses them), and a batch that names an
//! earlier blob is decoded in `plan`, when every batch before it is committed.
//! Each blob's KZG commitment comes bound to it ([`VerifiedBlob`]) and is
//! never recomputed. The source checks each blob with the commit's own
//! openings ([`CommitOpenings`]) before it falls back to recomputing the
//! commitment (36 ms a blob): an opening at a point derived from the blob
//! itself binds it for an inverse FFT, a hash and one pairing.
//!
//! Verified means executed: a batch's audit never moves the verified pointer
//! ([`RollupEngine::final_on_commit`] is false); `BlockExecution` does, so
//! default reads never serve a batch a `BlocksRevert` can withdraw.
//! `BlocksVerification` is recorded as the proven stage.
//!
//! While the chain settles on a ZK chain (Era on the ZKsync Gateway, a
//! `zk_chain` period of the chain's history), its batches reach L1 only in the
//! settlement chain's pubdata. The engine then also reads the settlement
//! chain's L1 `BlockCommit` logs; each is expanded while scanning (the
//! period is decided with the block's timestamp where its boundary is one):
//! the settlement batch's commit is decoded with every binding check, the
//! chain's batches are taken from its relayed messages
//! ([`crate::rollup::zksync::gateway::relayed_batches`]), applied from the
//! relayed pubdata and judged by the relayed `StoredBatchInfo`. The relayed
//! pubdata's hash cannot be checked from L1 data ([`RELAYED_PUBDATA_HASH`]),
//! so such a batch is at best PARTIAL.
//!
//! Finality through the settlement chain: each settlement batch's state diffs
//! carry the chain's `totalBatchesExecuted` there
//! ([`crate::rollup::zksync::gateway::CounterTracker`]); when the settlement
//! chain's `BlockExecution` on L1 names a settlement batch, the chain's
//! batches executed as of that settlement batch are final (an
//! [`L1Event::Finalized`]). A settlement-chain `BlocksRevert` withdraws the
//! chain's batches that the withdrawn settlement batches carried (one
//! [`L1Event::Revert`], unwound like the chain's own), and following resumes
//! with the recommitted ones. The counters are read in settlement-batch order
//! and saved in the write that moves the L1 cursor past each settlement
//! batch's commit ([`RollupEngine::cursor_moved`]), whether it carried the
//! chain's batches or none, so a restart resumes them. Only a settlement
//! batch that could not be read loses their values; finality then waits for
//! the chain's own executions on L1 (later, never wrong).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use alloy_primitives::{Address, B256};

use super::engine::{
    BatchJob, BatchSummary, Checkpoint, EventSource, InitWrite, L1Event, Plan, RollupEngine,
};
use super::starknet::malformed_log;
use super::{DaCause, DaMode, FollowError, L1Cursor, ZksyncCause, missing};
use crate::audit::Check;
use crate::blob::{VerifiedBlob, versioned_hash};
use crate::chain::{ChainConfig, RollupKind, ZksyncChain};
use crate::hexfmt::format_word;
use crate::l1::{BlobBinding, BlobRequest, L1Log, L1Source};
use crate::rollup::zksync::blob as zkblob;
use crate::rollup::zksync::calldata::{CommitCall, decode_commit};
use crate::rollup::zksync::da::{BlobOpening, DaInput};
use crate::rollup::zksync::decode::{BlobStore, DecodedBatch, decode_batch_at};
use crate::rollup::zksync::events::{
    BLOCK_COMMIT, BLOCK_EXECUTION, BLOCKS_REVERT, BLOCKS_VERIFICATION, BatchEvent, parse_log,
    parse_verification,
};
use crate::rollup::zksync::gateway::{RelayedBatch, SettledChain, relayed_batches};
use crate::rollup::zksync::genesis;
use crate::rollup::zksync::history::{HistoryError, L1Point, SettlementKind};
use crate::rollup::zksync::state::{PlanInput, ZksyncState, read_checkpoint};
use crate::store::{Column, Store, StoreBatch, keys};

mod published;
mod settlement;

use published::{encode_published, load_published, published_key};
pub use settlement::{Carried, RELAYED_PUBDATA_HASH};
use settlement::{Layer, LayerMemory};

/// One ZKsync chain as a [`RollupEngine`].
pub struct ZksyncEngine {
    name: String,
    chain: ZksyncChain,
    /// Settlement chains (the Gateway) that carried this chain's batches for a while.
    layers: Vec<Layer>,
    /// This chain's batches found in settlement batches while scanning,
    /// waiting for their fetch (bounded by the pipeline depth in practice;
    /// a missing entry is read from L1 again).
    carried: std::sync::Mutex<HashMap<u64, Arc<Carried>>>,
    /// Per settlement chain (by its L1 diamond): this chain's lifecycle there
    /// as read from the settlement batches so far.
    progress: std::sync::Mutex<HashMap<Address, LayerMemory>>,
    /// Recent commit transactions, so concurrent fetches of the batches one
    /// transaction commits read it (and its blobs) from L1 once.
    recent: std::sync::Mutex<VecDeque<(B256, TxCell)>>,
}

/// A commit transaction being fetched or fetched.
type TxCell = Arc<tokio::sync::OnceCell<Arc<CommitTx>>>;

/// Commit transactions kept in [`ZksyncEngine::recent`] (a transaction commits
/// at most a few dozen batches, all fetched close together).
const RECENT_TXS: usize = 8;

impl ZksyncEngine {
    /// The engine for `config`'s chain. Fails with [`FollowError::WrongRollup`]
    /// for a chain that is not ZKsync, and with [`FollowError::Config`] when a
    /// settlement (`zk_chain`) period's settlement-chain config is not loaded
    /// or a value it needs is missing (the chain's `chain_id`, the settlement
    /// chain's `relayed_da_validator`, the period's `diamond_on_layer`).
    pub fn new(config: &ChainConfig) -> Result<Self, FollowError> {
        let chain = config
            .zksync
            .clone()
            .ok_or_else(|| FollowError::WrongRollup {
                name: config.name.clone(),
                expected: RollupKind::Zksync,
                found: config.rollup,
            })?;
        let mut layers = Vec::new();
        for period in &chain.history.settlement {
            if period.layer != SettlementKind::ZkChain {
                continue;
            }
            let settlement = period.settlement_config.as_deref().ok_or_else(|| {
                FollowError::Config {
                    chain: config.name.clone(),
                    detail: format!(
                        "settlement chain {:?} is not loaded (its config must sit beside this one)",
                        period.chain
                    ),
                }
            })?;
            let settled = SettledChain::from_configs(&chain, period, settlement).map_err(|e| {
                FollowError::Config {
                    chain: config.name.clone(),
                    detail: e.to_string(),
                }
            })?;
            if !layers
                .iter()
                .any(|l: &Layer| l.diamond == settlement.diamond_proxy)
            {
                layers.push(Layer {
                    diamond: settlement.diamond_proxy,
                    settled,
                });
            }
        }
        Ok(ZksyncEngine {
            name: config.name.clone(),
            chain,
            layers,
            carried: Default::default(),
            progress: Default::default(),
            recent: Default::default(),
        })
    }

    fn error(&self, batch: u64, tx: B256, cause: impl Into<ZksyncCause>) -> FollowError {
        FollowError::Zksync {
            batch,
            tx,
            cause: Box::new(cause.into()),
        }
    }

    /// Fetches and decodes a commit transaction, binding each blob to the
    /// commitment its opening names.
    async fn commit_tx<S: L1Source>(
        &self,
        source: &S,
        log: &L1Log,
        batch: u64,
    ) -> Result<CommitTx, FollowError> {
        let hash = log.transaction_hash;
        let tx = source
            .transaction(hash)
            .await?
            .ok_or_else(|| missing(format!("transaction {hash}")))?;
        let call = decode_commit(&tx.input).map_err(|e| self.error(batch, hash, e))?;
        let mut blobs = HashMap::new();
        if !tx.blob_versioned_hashes.is_empty() {
            let block = source
                .block_by_hash(log.block_hash)
                .await?
                .ok_or_else(|| missing(format!("block {}", log.block_hash)))?;
            let binding = CommitOpenings(openings(&call).copied().collect());
            let wanted =
                BlobRequest::new(tx.blob_versioned_hashes.clone()).with_binding(Arc::new(binding));
            let fetched = source.blobs(&block, &wanted).await?;
            let by_hash: HashMap<B256, Vec<u8>> = tx
                .blob_versioned_hashes
                .iter()
                .copied()
                .zip(fetched)
                .collect();
            // The source checked each blob against its versioned hash; an opening
            // whose commitment hashes to the same versioned hash is bound to it.
            for opening in openings(&call) {
                let vh = versioned_hash(&opening.commitment);
                if let Some(bytes) = by_hash.get(&vh)
                    && let Some(blob) = VerifiedBlob::bind(vh, opening.commitment, bytes.clone())
                {
                    blobs.insert(vh, Arc::new(blob));
                }
            }
        }
        Ok(CommitTx {
            hash,
            version: format!("{:?}", call.version),
            versioned_hashes: tx.blob_versioned_hashes,
            call,
            blobs,
        })
    }
}

impl ZksyncEngine {
    /// Reads the L1 commit transaction of a batch (once per transaction) and finds the batch in it.
    async fn fetch_on_l1<S: L1Source>(
        &self,
        source: &S,
        job: &BatchJob,
    ) -> Result<ZksyncFetched, FollowError> {
        let hash = job.log.transaction_hash;
        let cell = {
            let mut recent = self.recent.lock().expect("not poisoned");
            match recent.iter().find(|(h, _)| *h == hash) {
                Some((_, cell)) => cell.clone(),
                None => {
                    let cell = TxCell::default();
                    recent.push_back((hash, cell.clone()));
                    if recent.len() > RECENT_TXS {
                        recent.pop_front();
                    }
                    cell
                }
            }
        };
        let tx = cell
            .get_or_try_init(|| async {
                self.commit_tx(source, &job.log, job.batch)
                    .await
                    .map(Arc::new)
            })
            .await?
            .clone();
        let index = tx
            .call
            .batches
            .iter()
            .position(|b| b.batch_number == job.batch)
            .ok_or_else(|| self.error(job.batch, hash, ZksyncCause::NotInTransaction))?;
        Ok(ZksyncFetched { tx, index })
    }

    /// Decodes batch `fetched.index` of its call with the transaction's blobs
    /// and `earlier` ones (by contract-side commitment).
    fn decode_with(
        &self,
        batch: u64,
        fetched: &ZksyncFetched,
        earlier: Vec<(B256, Arc<VerifiedBlob>)>,
    ) -> Result<DecodedBatch, FollowError> {
        let tx = &fetched.tx;
        let mut blobs = BlobStore::default();
        for blob in tx.blobs.values() {
            blobs.insert(blob.clone());
        }
        for (published, blob) in earlier {
            blobs.insert_published(published, blob);
        }
        let hashes = (!tx.versioned_hashes.is_empty()).then_some(tx.versioned_hashes.as_slice());
        decode_batch_at(&tx.call, fetched.index, &mut blobs, hashes)
            .ok_or_else(|| self.error(batch, tx.hash, ZksyncCause::NotInTransaction))
    }
}

/// The blob openings of the fetched batch.
fn batch_openings(fetched: &ZksyncFetched) -> impl Iterator<Item = &BlobOpening> {
    match &fetched.tx.call.batches[fetched.index].da.input {
        DaInput::Blobs(openings) => openings.as_slice(),
        _ => &[],
    }
    .iter()
}

/// Whether the batch names a blob an earlier transaction published.
fn names_earlier_blobs(fetched: &ZksyncFetched) -> bool {
    batch_openings(fetched).any(|o| o.prepublished.is_some())
}

/// A decoded commit transaction and its blobs (one transaction commits several batches).
pub struct CommitTx {
    hash: B256,
    version: String,
    versioned_hashes: Vec<B256>,
    call: CommitCall,
    /// The transaction's blobs by versioned hash.
    blobs: HashMap<B256, Arc<VerifiedBlob>>,
}

/// What fetch read for one batch committed on L1.
pub struct ZksyncFetched {
    tx: Arc<CommitTx>,
    index: usize,
}

/// What fetch read for one batch: its L1 commit, or the settlement batch that carried it.
pub enum ZksyncRead {
    /// The batch's own commit transaction on L1, with its blobs.
    OnL1(ZksyncFetched),
    /// The batch as a settlement batch relayed it, already decoded and
    /// checked when its log was expanded.
    Carried(Arc<Carried>),
}

/// A decoded batch with the blobs its commit must persist, or a batch that
/// names an earlier transaction's blob and is decoded in `plan`.
pub enum ZksyncDecoded {
    /// Decoded with every binding check; only the state is left to plan.
    Ready {
        /// The batch's writes, roots and checks (boxed: the other variants are small).
        decoded: Box<DecodedBatch>,
        /// The commit transaction, whose blobs this batch publishes are
        /// stored with it.
        tx: Arc<CommitTx>,
        /// The batch's position among the batches the transaction commits.
        index: usize,
    },
    /// Names a blob an earlier transaction published: decoded in `plan`,
    /// once the batches before it (and their blobs) are committed.
    NamesEarlierBlobs(ZksyncFetched),
    /// Carried by a settlement batch; decoded while scanning.
    Carried(Arc<Carried>),
}

impl RollupEngine for ZksyncEngine {
    type Fetched = ZksyncRead;
    type Decoded = ZksyncDecoded;

    fn events(&self) -> EventSource {
        let mut addresses = vec![self.chain.diamond_proxy];
        addresses.extend(self.layers.iter().map(|l| l.diamond));
        EventSource {
            addresses,
            topics0: vec![
                BLOCK_COMMIT,
                BLOCKS_VERIFICATION,
                BLOCK_EXECUTION,
                BLOCKS_REVERT,
            ],
        }
    }

    fn classify(&self, log: &L1Log) -> Result<L1Event, FollowError> {
        if log.address != self.chain.diamond_proxy {
            // A settlement chain's event: its commits may carry this chain's
            // batches, its executions make this chain's executions there
            // final, and its reverts may withdraw this chain's batches (each
            // decided in `expand`, with the block's timestamp where the
            // period's boundary is one).
            return Ok(
                match parse_log(&log.topics, &log.data).map_err(|e| malformed_log(log, &e))? {
                    Some(_) => L1Event::Expand,
                    None => L1Event::Ignore,
                },
            );
        }
        Ok(
            match parse_log(&log.topics, &log.data).map_err(|e| malformed_log(log, &e))? {
                Some(BatchEvent::Commit {
                    batch, state_root, ..
                }) => L1Event::Commit {
                    batch: Some(batch),
                    claimed_root: state_root,
                },
                Some(BatchEvent::Execution { batch, .. }) => L1Event::Finalized { batch },
                None if log.topics.first() == Some(&BLOCKS_VERIFICATION) => {
                    let verification = parse_verification(&log.topics)
                        .map_err(|e| malformed_log(log, &e))?
                        .ok_or_else(|| malformed_log(log, &"not a BlocksVerification"))?;
                    L1Event::Proven {
                        batch: verification.current_last_verified,
                    }
                }
                Some(BatchEvent::Revert {
                    total_committed, ..
                }) => L1Event::Revert {
                    keep: total_committed,
                },
                None => L1Event::Ignore,
            },
        )
    }

    async fn expand<S: L1Source>(
        &self,
        source: &S,
        log: &L1Log,
    ) -> Result<Vec<L1Event>, FollowError> {
        let Some(layer) = self.layer(log.address) else {
            return Ok(Vec::new());
        };
        if !self.settled_on(source, log, layer).await? {
            return Ok(Vec::new());
        }
        match parse_log(&log.topics, &log.data).map_err(|e| malformed_log(log, &e))? {
            Some(BatchEvent::Revert {
                total_committed, ..
            }) => {
                return Ok(self
                    .layer_reverted(layer, total_committed)
                    .map(|keep| L1Event::Revert { keep })
                    .into_iter()
                    .collect());
            }
            Some(BatchEvent::Execution { batch, .. }) => {
                return Ok(self
                    .layer_executed(layer, batch)
                    .map(|batch| L1Event::Finalized { batch })
                    .into_iter()
                    .collect());
            }
            _ => {}
        }
        let carried = self.carried_by(source, log, layer).await?;
        let mut cache = self.carried.lock().expect("not poisoned");
        Ok(carried
            .into_iter()
            .map(|c| {
                let event = L1Event::Commit {
                    batch: Some(c.batch.batch_number),
                    claimed_root: c.batch.info.stored.batch_hash,
                };
                cache.insert(c.batch.batch_number, c);
                event
            })
            .collect())
    }

    fn init(&self, store: &Store) -> Result<Option<InitWrite>, FollowError> {
        let genesis_error = |cause: ZksyncCause| self.error(0, B256::ZERO, cause);
        self.restore_layers(store)?;
        if last_batch(store)?.is_some() {
            return Ok(None);
        }
        let path = self
            .chain
            .genesis_file
            .as_ref()
            .ok_or_else(|| FollowError::Config {
                chain: self.name.clone(),
                detail: "[zksync].genesis_file is required".into(),
            })?;
        let leaves = genesis::load(path)
            .and_then(|logs| genesis::leaves(&logs))
            .map_err(|e| genesis_error(e.into()))?;
        let (write, checkpoint) =
            ZksyncState::plan_genesis(store, &leaves, self.chain.genesis_root)
                .map_err(|e| genesis_error(e.into()))?;
        Ok(Some(InitWrite {
            write,
            batch: 0,
            computed_root: format_word(&checkpoint.root),
            claimed_root: self.chain.genesis_root.as_ref().map(format_word),
        }))
    }

    fn checkpoint(&self, store: &Store) -> Result<Checkpoint, FollowError> {
        Ok(Checkpoint {
            last_batch: last_batch(store)?,
        })
    }

    fn first_unwindable(&self) -> u64 {
        // Batch 0 is the genesis, not read from L1.
        1
    }

    async fn fetch<S: L1Source>(
        &self,
        source: &S,
        job: &BatchJob,
    ) -> Result<ZksyncRead, FollowError> {
        if let Some(layer) = self.layer(job.log.address) {
            let cached = self
                .carried
                .lock()
                .expect("not poisoned")
                .remove(&job.batch)
                .filter(|c| c.tx == job.log.transaction_hash);
            let carried = match cached {
                Some(c) => c,
                None => self
                    .carried_by(source, &job.log, layer)
                    .await?
                    .into_iter()
                    .find(|c| c.batch.batch_number == job.batch)
                    .ok_or_else(|| {
                        self.error(
                            job.batch,
                            job.log.transaction_hash,
                            ZksyncCause::NotInTransaction,
                        )
                    })?,
            };
            return Ok(ZksyncRead::Carried(carried));
        }
        self.fetch_on_l1(source, job).await.map(ZksyncRead::OnL1)
    }

    fn decode(&self, job: &BatchJob, fetched: ZksyncRead) -> Result<ZksyncDecoded, FollowError> {
        let fetched = match fetched {
            ZksyncRead::OnL1(fetched) => fetched,
            // Decoded and checked while scanning.
            ZksyncRead::Carried(carried) => return Ok(ZksyncDecoded::Carried(carried)),
        };
        if names_earlier_blobs(&fetched) {
            return Ok(ZksyncDecoded::NamesEarlierBlobs(fetched));
        }
        let decoded = self.decode_with(job.batch, &fetched, Vec::new())?;
        let ZksyncFetched { tx, index } = fetched;
        Ok(ZksyncDecoded::Ready {
            decoded: Box::new(decoded),
            tx,
            index,
        })
    }

    fn plan(
        &self,
        store: &Store,
        job: &BatchJob,
        decoded: ZksyncDecoded,
    ) -> Result<Plan, FollowError> {
        let (decoded, tx, index) = match decoded {
            ZksyncDecoded::Carried(carried) => return self.plan_carried(store, job, &carried),
            ZksyncDecoded::Ready { decoded, tx, index } => (*decoded, tx, index),
            ZksyncDecoded::NamesEarlierBlobs(fetched) => {
                // Every earlier batch is committed, and with it the blobs it published.
                let mut earlier = Vec::new();
                for published in batch_openings(&fetched).filter_map(|o| o.prepublished) {
                    // A blob not found shows up as a skipped check of the decoder.
                    if let Some(blob) = load_published(store, &published)? {
                        earlier.push((published, Arc::new(blob)));
                    }
                }
                let decoded = self.decode_with(job.batch, &fetched, earlier)?;
                (decoded, fetched.tx, fetched.index)
            }
        };
        let hash = job.log.transaction_hash;
        let input = PlanInput::from_decoded(&decoded).ok_or_else(|| FollowError::Da {
            batch: job.batch,
            tx: hash,
            cause: DaCause::Undecodable(
                decoded
                    .checks
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| format!("{}: {}", c.name, c.actual))
                    .collect(),
            ),
        })?;
        let state = ZksyncState::open(store).map_err(|e| self.error(job.batch, hash, e))?;
        let (mut write, applied, _) = state
            .plan(&input)
            .map_err(|e| self.error(job.batch, hash, e))?;
        // This batch's own blobs, for later batches that name them.
        let fetched = ZksyncFetched { tx, index };
        for opening in batch_openings(&fetched).filter(|o| o.prepublished.is_none()) {
            let vh = versioned_hash(&opening.commitment);
            if let Some(blob) = fetched.tx.blobs.get(&vh) {
                write.put(
                    Column::Archive,
                    published_key(&opening.published_commitment(&vh)),
                    encode_published(blob),
                );
            }
        }
        let mut checks = decoded.checks;
        checks.push(Check::equal(
            "block_commit.state_root",
            format_word(&job.claimed_root),
            format_word(&decoded.new_state_root),
        ));
        let blob_count = fetched.tx.versioned_hashes.len();
        Ok(Plan {
            write,
            computed_root: format_word(&applied.record.computed_root),
            claimed_root: format_word(&job.claimed_root),
            checks,
            summary: BatchSummary {
                da_mode: da_mode(blob_count),
                blob_count,
                format_version: format!(
                    "{} {}",
                    fetched.tx.version,
                    if blob_count > 0 { "blobs" } else { "calldata" }
                ),
                l2_blocks: None,
                contracts_touched: 0,
                storage_writes: input.writes.initial.len() + input.writes.repeated.len(),
                classes_declared: 0,
                executed: Some(false),
            },
        })
    }

    fn unwind(&self, store: &Store, keep: Option<u64>) -> Result<StoreBatch, FollowError> {
        let state = ZksyncState::open(store).map_err(FollowError::ZksyncState)?;
        let (mut write, _) = state
            .plan_unwind(keep.unwrap_or(0))
            .map_err(FollowError::ZksyncState)?;
        self.unwind_layers(&mut write);
        Ok(write)
    }

    fn final_on_commit(&self) -> bool {
        false
    }

    fn cursor_moved(&self, cursor: &L1Cursor, write: &mut StoreBatch) -> Result<(), FollowError> {
        self.persist_layers(cursor, write);
        Ok(())
    }

    fn prove(&self, store: &Store, batch: u64) -> Result<StoreBatch, FollowError> {
        let state = ZksyncState::open(store).map_err(FollowError::ZksyncState)?;
        Ok(state.plan_proven(batch).0)
    }

    fn finalize(&self, store: &Store, batch: u64) -> Result<StoreBatch, FollowError> {
        let state = ZksyncState::open(store).map_err(FollowError::ZksyncState)?;
        Ok(state.plan_executed(batch).0)
    }
}

/// How a commit transaction carried its data.
fn da_mode(blob_count: usize) -> DaMode {
    if blob_count > 0 {
        DaMode::Blob
    } else {
        DaMode::Calldata
    }
}

/// The last committed ZKsync batch of a store (0 = genesis).
pub fn last_batch(store: &Store) -> Result<Option<u64>, FollowError> {
    Ok(read_checkpoint(store)
        .map_err(FollowError::ZksyncState)?
        .map(|c| c.batch))
}

/// A commit's blob openings: they prove its blobs at a fraction of the cost
/// of recomputing their commitments ([`zkblob::proven_versioned_hash`]).
struct CommitOpenings(Vec<BlobOpening>);

impl BlobBinding for CommitOpenings {
    fn proven_versioned_hash(&self, blob: &[u8]) -> Option<B256> {
        zkblob::proven_versioned_hash(blob, &self.0)
    }
}

/// Every blob opening of a call that publishes a blob in this transaction.
fn openings(call: &CommitCall) -> impl Iterator<Item = &BlobOpening> {
    call.batches
        .iter()
        .filter_map(|b| match &b.da.input {
            DaInput::Blobs(openings) => Some(openings.iter()),
            _ => None,
        })
        .flatten()
        .filter(|o| o.prepublished.is_none())
}
