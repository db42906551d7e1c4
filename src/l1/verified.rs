//! [`VerifiedL1`]: an [`L1Source`] that proves every answer of the source it
//! wraps against block headers, and the headers against checkpoints. Wiring it
//! in is one line: `VerifiedL1::new(rpc, options)` where an `RpcL1` was used.
//!
//! Cost: a block that holds a wanted log or transaction is fetched whole
//! (header, every transaction, every receipt) once and kept in a bounded cache
//! for every batch it carries; every other block in a log range costs its
//! header, whose `logsBloom` proves it holds no wanted log.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use alloy_consensus::{Header, ReceiptEnvelope};
use alloy_eips::BlockHashOrNumber;
use alloy_primitives::{Address, B256, Bytes};
use futures_util::{StreamExt, TryStreamExt, stream};

use super::header_chain::{Anchor, ChainLink, HeaderChain, L1Checkpoint};
use super::verify::{VerifiedBlock, VerifyError, bloom_may_match, verify_header};
use super::{
    BlobRequest, BlockTag, L1Block, L1Error, L1Log, L1Source, L1Transaction, LogFilter, RawBlock,
};

/// How much of what a node answers is proved. Every level keeps the checks
/// `RpcL1` always makes (a header's hash recomputed from its fields, a
/// transaction's hash from its signed envelope, logs inside their filter) and
/// the KZG check of every blob against its versioned hash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum VerifyLevel {
    /// Headers chained to a checkpoint by parent hash; every log proved by a
    /// receipt in the block's receipt list (root = `receiptsRoot`), no
    /// matching log withheld (receipts of blocks whose `logsBloom` may match);
    /// every transaction proved in the block's list (root =
    /// `transactionsRoot`), successful, and sent to a followed contract.
    /// Still trusted: the checkpoint (or the beacon sync committee); blocks
    /// above the newest checkpoint are proved only to descend from it (see
    /// [`super::header_chain`]); `eth_call` answers; which block a tag names
    /// (use a quorum).
    #[default]
    Full,
    /// Headers chained to a checkpoint, and every block an answer names (a
    /// log's or transaction's block hash) on that chain. Still trusted, in
    /// addition to `full`'s list: the logs and transactions themselves (a node
    /// can forge, drop or alter them, or report a failed transaction).
    Headers,
    /// The source as it is. Trusted: everything the node says.
    Off,
}

/// Default `--l1-verify-cache-blocks`, in blocks.
pub const DEFAULT_CACHE_BLOCKS: usize = 64;

/// Flags of the verification layer, for a command to `#[command(flatten)]`.
#[derive(Clone, Debug, clap::Args)]
pub struct L1VerifyArgs {
    /// How much of each L1 answer to prove: `full` (logs, transactions and
    /// receipts against headers, headers against a checkpoint), `headers`, `off`.
    #[arg(long = "l1-verify", env = "ZKREPLAY_L1_VERIFY", value_enum, default_value_t = VerifyLevel::Full)]
    pub level: VerifyLevel,
    /// A finalized L1 block hash you trust; headers are chained to it by parent hash.
    #[arg(long = "l1-checkpoint", env = "ZKREPLAY_L1_CHECKPOINT")]
    pub checkpoint: Option<B256>,
    /// With no `--l1-checkpoint` and no `--beacon-light-client`: anchor on
    /// the block the endpoints (every endpoint of a quorum) call finalized
    /// at start, trusting them for it. Without this flag such a start is refused.
    #[arg(
        long = "l1-trust-endpoint-finalized",
        env = "ZKREPLAY_L1_TRUST_ENDPOINT_FINALIZED"
    )]
    pub trust_endpoint_finalized: bool,
    /// Verified blocks (with all their transactions and receipts) kept in memory.
    #[arg(long = "l1-verify-cache-blocks", env = "ZKREPLAY_L1_VERIFY_CACHE_BLOCKS", default_value_t = DEFAULT_CACHE_BLOCKS)]
    pub cache_blocks: usize,
}

impl Default for L1VerifyArgs {
    /// What the flags default to.
    fn default() -> Self {
        Self {
            level: VerifyLevel::Full,
            checkpoint: None,
            trust_endpoint_finalized: false,
            cache_blocks: DEFAULT_CACHE_BLOCKS,
        }
    }
}

/// Settings of a [`VerifiedL1`].
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// How much of each answer is proved.
    pub level: VerifyLevel,
    /// Contracts a transaction may be sent to (the chain config's); empty accepts any.
    pub recipients: Vec<Address>,
    /// Verified blocks kept whole (transactions and receipts).
    pub cache_blocks: usize,
    /// Header links kept (about 350 bytes each); checkpoints are kept besides.
    pub chain_window: usize,
    /// Header requests in flight while walking the chain.
    pub header_concurrency: usize,
}

impl VerifyOptions {
    /// Options with 64 cached blocks, a 65,536-link window and 16 header requests in flight.
    pub fn new(level: VerifyLevel, recipients: Vec<Address>) -> Self {
        Self {
            level,
            recipients,
            cache_blocks: DEFAULT_CACHE_BLOCKS,
            chain_window: 65_536,
            header_concurrency: 16,
        }
    }
}

/// Work done proving answers, for metrics and the cost report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerifyStats {
    /// Headers fetched and hashed (chain walks, checkpoints, tags).
    pub headers: u64,
    /// Blocks fetched whole and proved.
    pub blocks: u64,
    /// RLP bytes of the proved blocks (header, transactions, receipts).
    pub block_bytes: u64,
    /// CPU time spent in the proofs (hashing, trie roots), in microseconds.
    pub proof_micros: u64,
    /// Answers served from a cached verified block.
    pub cache_hits: u64,
}

#[derive(Debug, Default)]
struct Counters {
    headers: AtomicU64,
    blocks: AtomicU64,
    block_bytes: AtomicU64,
    proof_micros: AtomicU64,
    cache_hits: AtomicU64,
}

/// Finalized execution blocks proved without the RPC endpoints: the beacon
/// light client ([`super::light_client::sync::LightClient`]).
pub trait FinalityOracle: Send + Sync + std::fmt::Debug {
    /// The newest finalized block it has proved, refreshed from its source.
    fn finalized_block(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<L1Checkpoint, L1Error>> + Send + '_>>;
}

/// See the module documentation.
#[derive(Debug)]
pub struct VerifiedL1<S> {
    inner: S,
    options: VerifyOptions,
    chain: Mutex<HeaderChain>,
    blocks: Mutex<VecDeque<Arc<VerifiedBlock>>>,
    counters: Counters,
    /// When set, the anchor and the ceiling of every `finalized` target.
    finality: Option<Arc<dyn FinalityOracle>>,
}

impl<S: L1Source> VerifiedL1<S> {
    /// Wraps `inner`; add at least one checkpoint before asking anything
    /// (unless the level is `off`).
    pub fn new(inner: S, options: VerifyOptions) -> Self {
        Self {
            chain: Mutex::new(HeaderChain::new(options.chain_window)),
            blocks: Mutex::new(VecDeque::new()),
            counters: Counters::default(),
            finality: None,
            inner,
            options,
        }
    }

    /// Anchors on `oracle`'s finalized block instead of the endpoints', and
    /// never lets a `finalized` target pass the newest block it proved.
    pub fn with_finality_oracle(mut self, oracle: Arc<dyn FinalityOracle>) -> Self {
        self.finality = Some(oracle);
        self
    }

    /// Trusts the oracle's block: its header must hash to the proved hash
    /// and carry the proved number.
    async fn add_proved_checkpoint(&self, proved: L1Checkpoint) -> Result<L1Checkpoint, L1Error> {
        if self.chain().known_hash(proved.number) == Some(proved.hash) {
            self.chain().add_checkpoint(proved)?;
            return Ok(proved);
        }
        let checkpoint = self.add_checkpoint(proved.hash).await?;
        if checkpoint.number != proved.number {
            return Err(VerifyError::WrongBlock {
                asked: format!("{} (block {})", proved.hash, proved.number),
                number: checkpoint.number,
            }
            .into());
        }
        Ok(checkpoint)
    }

    /// Trusts the block `hash` (e.g. `--l1-checkpoint`, or the finalized
    /// header of the beacon light client): fetches its header, checks it
    /// hashes to `hash` and agrees with what is already verified.
    pub async fn add_checkpoint(&self, hash: B256) -> Result<L1Checkpoint, L1Error> {
        let header = self
            .header(BlockHashOrNumber::Hash(hash))
            .await?
            .ok_or_else(|| VerifyError::Withheld(format!("the checkpoint block {hash}")))?;
        verify_header(&header, hash)?;
        let checkpoint = L1Checkpoint {
            number: header.number,
            hash,
        };
        let mut chain = self.chain();
        chain.add_checkpoint(checkpoint)?;
        chain.accept_known(&header, hash)?;
        Ok(checkpoint)
    }

    /// Without a checkpoint from the user: trusts the block `tag` names, as
    /// the endpoint (or every endpoint of a quorum) reports it. Weaker than
    /// [`Self::add_checkpoint`] with a hash from elsewhere, and logged so.
    pub async fn trust_tag(&self, tag: BlockTag) -> Result<L1Checkpoint, L1Error> {
        let block = self.inner.block_by_tag(tag).await?;
        tracing::warn!(number = block.number, hash = %block.hash, ?tag, "no --l1-checkpoint: trusting the endpoint's block as the checkpoint");
        self.add_checkpoint(block.hash).await
    }

    /// Anchors the header chain: on the user's `checkpoint` when given,
    /// else on the finality oracle's block, otherwise on the block the
    /// endpoint (every endpoint of a quorum) calls finalized now. Nothing to
    /// do at level `off`.
    pub async fn anchor(&self, checkpoint: Option<B256>) -> Result<Option<L1Checkpoint>, L1Error> {
        match (self.options.level, checkpoint, &self.finality) {
            (VerifyLevel::Off, _, _) => Ok(None),
            (_, Some(hash), _) => self.add_checkpoint(hash).await.map(Some),
            (_, None, Some(oracle)) => {
                let proved = oracle.finalized_block().await?;
                self.add_proved_checkpoint(proved).await.map(Some)
            }
            (_, None, None) => self.trust_tag(BlockTag::Finalized).await.map(Some),
        }
    }

    /// Forgets verified blocks above `number`: call after unwinding a reorg
    /// when following `safe` or `latest`.
    pub fn forget_above(&self, number: u64) {
        self.chain().forget_above(number);
        self.cache().retain(|b| b.number() <= number);
    }

    /// The unverified source underneath.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The verification level in force.
    pub fn level(&self) -> VerifyLevel {
        self.options.level
    }

    /// Work done proving answers so far.
    pub fn stats(&self) -> VerifyStats {
        let c = &self.counters;
        VerifyStats {
            headers: c.headers.load(Ordering::Relaxed),
            blocks: c.blocks.load(Ordering::Relaxed),
            block_bytes: c.block_bytes.load(Ordering::Relaxed),
            proof_micros: c.proof_micros.load(Ordering::Relaxed),
            cache_hits: c.cache_hits.load(Ordering::Relaxed),
        }
    }

    /// The verified link of block `number`, walking the chain to it from the
    /// nearest known hash; `None` if the node has no such block yet.
    pub async fn link(&self, number: u64) -> Result<Option<ChainLink>, L1Error> {
        let anchor = {
            let chain = self.chain();
            if let Some(link) = chain.link(number) {
                return Ok(Some(link.clone()));
            }
            chain.anchor(number)
        };
        match anchor {
            None => Err(VerifyError::NoCheckpoint { number }.into()),
            Some(Anchor::Above { number: top, hash }) => {
                self.walk_down(top, hash, number).await.map(Some)
            }
            Some(Anchor::Below {
                number: bottom,
                hash,
            }) => self.walk_up(bottom, hash, number).await,
        }
    }

    /// Block `hash`, proved whole, from the cache or fetched once.
    pub async fn verified_block(&self, hash: B256) -> Result<Arc<VerifiedBlock>, L1Error> {
        if let Some(block) = self.cache().iter().find(|b| b.hash() == hash) {
            self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(block.clone());
        }
        let raw = self
            .inner
            .raw_block(hash)
            .await?
            .ok_or_else(|| VerifyError::Withheld(format!("block {hash}")))?;
        // The node's own hashes serve only to ask for receipts; the proof recomputes them.
        let claimed: Vec<B256> = raw.transactions.iter().map(|tx| *tx.tx_hash()).collect();
        let receipts = self.inner.raw_receipts(hash, &claimed).await?;
        let started = Instant::now();
        let block = Arc::new(VerifiedBlock::verify(raw, hash, receipts)?);
        let c = &self.counters;
        c.proof_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        c.blocks.fetch_add(1, Ordering::Relaxed);
        c.block_bytes
            .fetch_add(block.encoded_len() as u64, Ordering::Relaxed);
        let mut cache = self.cache();
        cache.push_back(block.clone());
        while cache.len() > self.options.cache_blocks.max(1) {
            cache.pop_front();
        }
        Ok(block)
    }

    /// The verified link of the block a node named by number and hash.
    async fn on_chain(&self, number: u64, hash: B256) -> Result<ChainLink, L1Error> {
        let link = self
            .link(number)
            .await?
            .ok_or_else(|| VerifyError::Withheld(format!("the header of block {number}")))?;
        if link.hash != hash {
            return Err(VerifyError::NotOnChain {
                number,
                hash,
                verified: link.hash,
            }
            .into());
        }
        Ok(link)
    }

    async fn walk_down(&self, top: u64, top_hash: B256, to: u64) -> Result<ChainLink, L1Error> {
        let known = self.chain().link(top).cloned();
        let mut child = match known {
            Some(link) => link,
            None => {
                let header = self
                    .header(BlockHashOrNumber::Hash(top_hash))
                    .await?
                    .ok_or_else(|| VerifyError::Withheld(format!("block {top_hash}")))?;
                verify_header(&header, top_hash)?;
                self.chain().accept_known(&header, top_hash)?
            }
        };
        for chunk in chunks((to..top).rev(), WALK_CHUNK) {
            for (number, header) in chunk.iter().zip(self.headers(&chunk).await?) {
                let header = header.ok_or_else(|| {
                    VerifyError::Withheld(format!("the header of block {number}"))
                })?;
                let hash = self.hash_header(&header, *number)?;
                child = self.chain().accept_parent(&child, &header, hash)?;
            }
        }
        Ok(child)
    }

    async fn walk_up(
        &self,
        bottom: u64,
        bottom_hash: B256,
        to: u64,
    ) -> Result<Option<ChainLink>, L1Error> {
        let known = self.chain().link(bottom).cloned();
        let mut parent = match known {
            Some(link) => link,
            None => self.walk_down(bottom, bottom_hash, bottom).await?,
        };
        for chunk in chunks(bottom + 1..=to, WALK_CHUNK) {
            for (number, header) in chunk.iter().zip(self.headers(&chunk).await?) {
                // A height above the node's head: not an error, the block does not exist yet.
                let Some(header) = header else {
                    return Ok(None);
                };
                let hash = self.hash_header(&header, *number)?;
                parent = self.chain().accept_child(&parent, &header, hash)?;
            }
        }
        Ok(Some(parent))
    }

    /// Headers by number, fetched concurrently, in the order asked.
    async fn headers(&self, numbers: &[u64]) -> Result<Vec<Option<Header>>, L1Error> {
        stream::iter(numbers.iter().copied())
            .map(|n| self.header(BlockHashOrNumber::Number(n)))
            .buffered(self.options.header_concurrency.max(1))
            .try_collect()
            .await
    }

    async fn header(&self, block: BlockHashOrNumber) -> Result<Option<Header>, L1Error> {
        self.counters.headers.fetch_add(1, Ordering::Relaxed);
        self.inner.raw_header(block).await
    }

    /// Hashes a header served for height `number`.
    fn hash_header(&self, header: &Header, number: u64) -> Result<B256, VerifyError> {
        if header.number != number {
            return Err(VerifyError::WrongBlock {
                asked: number.to_string(),
                number: header.number,
            });
        }
        Ok(header.hash_slow())
    }

    /// The logs of `filter`, proved at `level` (`Headers` or `Full`).
    async fn verified_logs(
        &self,
        filter: &LogFilter,
        level: VerifyLevel,
    ) -> Result<Vec<L1Log>, L1Error> {
        let claimed = self.inner.logs(filter).await?;
        // Chain both ends first: one walk (concurrent fetches) covers the range.
        self.link(filter.to_block).await?;
        self.link(filter.from_block).await?;
        if level == VerifyLevel::Headers {
            for log in &claimed {
                self.on_chain(log.block_number, log.block_hash).await?;
            }
            return Ok(claimed);
        }
        let mut proved = Vec::new();
        for number in filter.from_block..=filter.to_block {
            let link = self
                .link(number)
                .await?
                .ok_or_else(|| VerifyError::Withheld(format!("the header of block {number}")))?;
            let here: Vec<&L1Log> = claimed
                .iter()
                .filter(|l| l.block_number == number)
                .collect();
            if here.is_empty() && !bloom_may_match(&link.logs_bloom, filter) {
                continue;
            }
            let block = self.verified_block(link.hash).await?;
            proved.extend(block.prove_logs(&here, filter)?);
        }
        Ok(proved)
    }

    async fn verified_transaction(&self, hash: B256) -> Result<Option<L1Transaction>, L1Error> {
        let cached = self
            .cache()
            .iter()
            .find(|b| b.transaction_hashes().contains(&hash))
            .cloned();
        let block = match cached {
            Some(block) => {
                self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
                block
            }
            None => {
                let Some(claimed) = self.inner.transaction(hash).await? else {
                    return Ok(None);
                };
                let (Some(number), Some(block_hash)) = (claimed.block_number, claimed.block_hash)
                else {
                    // Pending: in no block, so nothing to prove it against.
                    return Ok(None);
                };
                self.on_chain(number, block_hash).await?;
                if self.options.level == VerifyLevel::Headers {
                    return Ok(Some(claimed));
                }
                self.verified_block(block_hash).await?
            }
        };
        Ok(Some(block.transaction(hash, &self.options.recipients)?))
    }

    fn chain(&self) -> MutexGuard<'_, HeaderChain> {
        // A poisoned lock means another task panicked mid-update; the map is still consistent.
        self.chain.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cache(&self) -> MutexGuard<'_, VecDeque<Arc<VerifiedBlock>>> {
        self.blocks.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Headers fetched per step of a chain walk (bounds memory on long walks).
const WALK_CHUNK: usize = 256;

fn chunks(numbers: impl Iterator<Item = u64>, size: usize) -> impl Iterator<Item = Vec<u64>> {
    let mut numbers = numbers.peekable();
    std::iter::from_fn(move || {
        numbers.peek()?;
        Some(numbers.by_ref().take(size).collect())
    })
}

impl<S: L1Source> L1Source for VerifiedL1<S> {
    async fn chain_id(&self) -> Result<u64, L1Error> {
        self.inner.chain_id().await
    }

    async fn block_by_tag(&self, tag: BlockTag) -> Result<L1Block, L1Error> {
        // The oracle's newest proved block is a checkpoint and the ceiling:
        // the endpoints' `finalized` counts only up to it.
        let ceiling = match (&self.finality, tag, self.options.level) {
            (Some(oracle), BlockTag::Finalized, VerifyLevel::Full | VerifyLevel::Headers) => {
                let proved = oracle.finalized_block().await?;
                Some(self.add_proved_checkpoint(proved).await?)
            }
            _ => None,
        };
        let block = self.inner.block_by_tag(tag).await?;
        if self.options.level == VerifyLevel::Off {
            return Ok(block);
        }
        if let Some(ceiling) = ceiling
            && block.number >= ceiling.number
        {
            return Ok(self.on_chain(ceiling.number, ceiling.hash).await?.block());
        }
        match self.on_chain(block.number, block.hash).await {
            // Above the newest checkpoint `safe` and `latest` blocks may be
            // reorged: a head off the links verified so far is a reorg there,
            // not a lie (only descent from the checkpoint is proved, so
            // nothing stronger is lost). Forget those links and chain again;
            // the follower then sees the reorg through `block_by_number`.
            Err(L1Error::Unverified(
                VerifyError::ParentHash { .. } | VerifyError::NotOnChain { .. },
            )) if tag != BlockTag::Finalized => {
                let Some(top) = self.chain().newest_checkpoint() else {
                    return Err(VerifyError::NoCheckpoint {
                        number: block.number,
                    }
                    .into());
                };
                tracing::warn!(number = block.number, hash = %block.hash, ?tag, "L1 head is off the verified links: a reorg above the checkpoint; chaining again");
                self.forget_above(top.number);
                Ok(self.on_chain(block.number, block.hash).await?.block())
            }
            other => Ok(other?.block()),
        }
    }

    async fn block_by_number(&self, number: u64) -> Result<Option<L1Block>, L1Error> {
        if self.options.level == VerifyLevel::Off {
            return self.inner.block_by_number(number).await;
        }
        Ok(self.link(number).await?.map(|link| link.block()))
    }

    async fn block_by_hash(&self, hash: B256) -> Result<Option<L1Block>, L1Error> {
        if self.options.level == VerifyLevel::Off {
            return self.inner.block_by_hash(hash).await;
        }
        let Some(header) = self.header(BlockHashOrNumber::Hash(hash)).await? else {
            return Ok(None);
        };
        verify_header(&header, hash)?;
        Ok(Some(self.on_chain(header.number, hash).await?.block()))
    }

    async fn logs(&self, filter: &LogFilter) -> Result<Vec<L1Log>, L1Error> {
        match self.options.level {
            VerifyLevel::Off => self.inner.logs(filter).await,
            level @ (VerifyLevel::Headers | VerifyLevel::Full) => {
                self.verified_logs(filter, level).await
            }
        }
    }

    /// Leads are proved to sit on the verified chain, never whole blocks:
    /// what the caller uses of them it proves again through [`Self::logs`] or
    /// [`Self::transaction`].
    async fn lead_logs(&self, filter: &LogFilter) -> Result<Vec<L1Log>, L1Error> {
        match self.options.level {
            VerifyLevel::Off => self.inner.logs(filter).await,
            VerifyLevel::Headers | VerifyLevel::Full => {
                self.verified_logs(filter, VerifyLevel::Headers).await
            }
        }
    }

    async fn transaction(&self, hash: B256) -> Result<Option<L1Transaction>, L1Error> {
        match self.options.level {
            VerifyLevel::Off => self.inner.transaction(hash).await,
            VerifyLevel::Headers | VerifyLevel::Full => self.verified_transaction(hash).await,
        }
    }

    /// Not proved at any level (it would need state proofs): trusted.
    async fn call(&self, to: Address, data: Bytes, block: u64) -> Result<Bytes, L1Error> {
        self.inner.call(to, data, block).await
    }

    /// Blobs are KZG-checked against the versioned hashes, which come from a
    /// proved transaction; the block only names the beacon slot.
    async fn blobs(&self, block: &L1Block, wanted: &BlobRequest) -> Result<Vec<Vec<u8>>, L1Error> {
        self.inner.blobs(block, wanted).await
    }

    async fn raw_header(&self, block: BlockHashOrNumber) -> Result<Option<Header>, L1Error> {
        self.inner.raw_header(block).await
    }

    async fn raw_block(&self, hash: B256) -> Result<Option<RawBlock>, L1Error> {
        self.inner.raw_block(hash).await
    }

    async fn raw_receipts(
        &self,
        hash: B256,
        transactions: &[B256],
    ) -> Result<Vec<ReceiptEnvelope>, L1Error> {
        self.inner.raw_receipts(hash, transactions).await
    }
}
