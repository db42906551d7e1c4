//! [`QuorumL1`]: several endpoints (`--rpc-url` given more than once) behind
//! one [`L1Source`]. What no proof covers (the chain id, which block a tag
//! names, `eth_call`) is asked of every endpoint and must be the same
//! everywhere; a disagreement is an error naming each answer, never settled by
//! a vote or by picking one. What is proved downstream (by
//! [`super::verified::VerifiedL1`]: headers, blocks, logs, transactions,
//! receipts; blobs by KZG) is asked of the first endpoint that answers.

use alloy_consensus::{Header, ReceiptEnvelope};
use alloy_eips::BlockHashOrNumber;
use alloy_primitives::{Address, B256, Bytes};
use futures_util::future::join_all;

use super::{
    BlobRequest, BlockTag, L1Block, L1Error, L1Log, L1Source, L1Transaction, LogFilter, RawBlock,
};

/// See the module documentation.
#[derive(Debug)]
pub struct QuorumL1<S> {
    sources: Vec<S>,
}

impl<S: L1Source> QuorumL1<S> {
    /// At least one source; with one, every answer passes through.
    pub fn new(sources: Vec<S>) -> Result<Self, L1Error> {
        if sources.is_empty() {
            return Err(L1Error::Config(
                "a quorum needs at least one L1 endpoint".into(),
            ));
        }
        Ok(Self { sources })
    }

    /// The endpoints, in the order they were given.
    pub fn sources(&self) -> &[S] {
        &self.sources
    }

    /// Asks every source; all must answer, and answer the same.
    async fn agreed<'a, T, F, Fut>(&'a self, what: &str, ask: F) -> Result<T, L1Error>
    where
        T: PartialEq + std::fmt::Debug,
        F: Fn(&'a S) -> Fut,
        Fut: Future<Output = Result<T, L1Error>>,
    {
        let mut answers = join_all(self.sources.iter().map(ask))
            .await
            .into_iter()
            .collect::<Result<Vec<T>, L1Error>>()?;
        if answers.iter().any(|a| *a != answers[0]) {
            let answers = answers
                .iter()
                .enumerate()
                .map(|(i, a)| format!("endpoint {i}: {a:?}"))
                .collect::<Vec<_>>()
                .join("; ");
            tracing::error!(%what, %answers, "L1 endpoints disagree");
            return Err(L1Error::Disagreement {
                what: what.to_string(),
                answers,
            });
        }
        Ok(answers.swap_remove(0))
    }

    /// Asks the sources in turn until one answers; a proof downstream checks it.
    async fn first<'a, T, F, Fut>(&'a self, ask: F) -> Result<T, L1Error>
    where
        F: Fn(&'a S) -> Fut,
        Fut: Future<Output = Result<T, L1Error>>,
    {
        let mut last = None;
        for source in &self.sources {
            match ask(source).await {
                Ok(answer) => return Ok(answer),
                Err(e) if e.is_transient() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(L1Error::Config("no L1 endpoint".into())))
    }
}

impl<S: L1Source> L1Source for QuorumL1<S> {
    async fn chain_id(&self) -> Result<u64, L1Error> {
        self.agreed("the chain id", |s| s.chain_id()).await
    }

    async fn block_by_tag(&self, tag: BlockTag) -> Result<L1Block, L1Error> {
        self.agreed(&format!("the {tag:?} block"), |s| s.block_by_tag(tag))
            .await
    }

    async fn block_by_number(&self, number: u64) -> Result<Option<L1Block>, L1Error> {
        self.first(|s| s.block_by_number(number)).await
    }

    async fn block_by_hash(&self, hash: B256) -> Result<Option<L1Block>, L1Error> {
        self.first(|s| s.block_by_hash(hash)).await
    }

    async fn logs(&self, filter: &LogFilter) -> Result<Vec<L1Log>, L1Error> {
        self.first(|s| s.logs(filter)).await
    }

    async fn transaction(&self, hash: B256) -> Result<Option<L1Transaction>, L1Error> {
        self.first(|s| s.transaction(hash)).await
    }

    async fn call(&self, to: Address, data: Bytes, block: u64) -> Result<Bytes, L1Error> {
        self.agreed(&format!("eth_call to {to} at block {block}"), |s| {
            s.call(to, data.clone(), block)
        })
        .await
    }

    async fn blobs(&self, block: &L1Block, wanted: &BlobRequest) -> Result<Vec<Vec<u8>>, L1Error> {
        self.first(|s| s.blobs(block, wanted)).await
    }

    async fn raw_header(&self, block: BlockHashOrNumber) -> Result<Option<Header>, L1Error> {
        self.first(|s| s.raw_header(block)).await
    }

    async fn raw_block(&self, hash: B256) -> Result<Option<RawBlock>, L1Error> {
        self.first(|s| s.raw_block(hash)).await
    }

    async fn raw_receipts(
        &self,
        hash: B256,
        transactions: &[B256],
    ) -> Result<Vec<ReceiptEnvelope>, L1Error> {
        self.first(|s| s.raw_receipts(hash, transactions)).await
    }
}
