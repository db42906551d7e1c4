//! Execution-layer JSON-RPC over an alloy provider whose transport is the
//! layered stack of [`super::transport`] (retry ∘ concurrency ∘ HTTP).
//!
//! Every answer is checked before it leaves this module: a block's hash is
//! recomputed from its header fields, a transaction's hash from its signed
//! envelope, and logs are checked against the filter that asked for them. A
//! node can still withhold data, but it cannot substitute it unnoticed.

use alloy_consensus::{Header, ReceiptEnvelope, Transaction as _};
use alloy_eips::{BlockHashOrNumber, BlockId};
use alloy_json_rpc::RpcError;
use alloy_network::{Ethereum, TransactionBuilder};
use alloy_primitives::{Address, B256, Bytes};
use alloy_provider::{Provider, RootProvider};
use alloy_rpc_client::{ClientBuilder, RpcClient};
use alloy_rpc_types_eth::{BlockNumberOrTag, Filter, TransactionRequest};
use alloy_transport::{TransportError, TransportErrorKind};

use super::transport::{
    ConcurrencyLayer, Exhausted, HttpJsonRpc, Redacted, RetryLayer, RetrySettings, RpcClassifier,
    is_range_refusal, is_rate_limit, split_log_ranges,
};
use super::verify::receipt_from_rpc;
use super::{BlockTag, L1Block, L1Error, L1Log, L1Transaction, LogFilter, RawBlock};

/// An execution JSON-RPC endpoint.
#[derive(Clone, Debug)]
pub struct EthRpc {
    client: RpcClient,
    provider: RootProvider<Ethereum>,
    endpoint: Redacted,
    max_log_span: u64,
}

impl EthRpc {
    /// Builds the client; no request is sent. `max_in_flight` bounds concurrent
    /// requests, `max_response_bytes` any one answer, and `max_log_span` the
    /// widest `eth_getLogs` range asked for at once (narrower on refusal).
    pub fn new(
        url: &str,
        retry: &RetrySettings,
        max_in_flight: usize,
        max_response_bytes: usize,
        max_log_span: u64,
    ) -> Result<Self, L1Error> {
        let http = HttpJsonRpc::new(url, retry.attempt_timeout, max_response_bytes)?;
        let endpoint = http.endpoint().clone();
        let is_local = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(|h| h == "localhost" || h == "127.0.0.1"))
            .unwrap_or(false);
        let client = ClientBuilder::default()
            .layer(RetryLayer::new(
                retry.clone(),
                RpcClassifier,
                endpoint.clone(),
            ))
            .layer(ConcurrencyLayer::new(max_in_flight))
            .transport(http, is_local);
        Ok(Self {
            provider: RootProvider::new(client.clone()),
            client,
            endpoint,
            max_log_span: max_log_span.max(1),
        })
    }

    /// The redacted endpoint, for logs.
    pub fn endpoint(&self) -> &Redacted {
        &self.endpoint
    }

    /// The underlying JSON-RPC client (same layers), for raw calls such as anvil cheats.
    pub fn client(&self) -> &RpcClient {
        &self.client
    }

    /// The alloy provider over the same client.
    pub fn provider(&self) -> &RootProvider<Ethereum> {
        &self.provider
    }

    /// `eth_chainId`.
    pub async fn chain_id(&self) -> Result<u64, L1Error> {
        self.provider
            .get_chain_id()
            .await
            .map_err(|e| self.error(e))
    }

    /// `eth_blockNumber`: the node's head.
    pub async fn block_number(&self) -> Result<u64, L1Error> {
        self.provider
            .get_block_number()
            .await
            .map_err(|e| self.error(e))
    }

    /// The block `tag` points at; its header hash is recomputed and checked.
    pub async fn block_by_tag(&self, tag: BlockTag) -> Result<L1Block, L1Error> {
        let id = match tag {
            BlockTag::Latest => BlockNumberOrTag::Latest,
            BlockTag::Safe => BlockNumberOrTag::Safe,
            BlockTag::Finalized => BlockNumberOrTag::Finalized,
        };
        self.fetch_block(id, None)
            .await?
            .ok_or_else(|| L1Error::Malformed {
                endpoint: self.endpoint.to_string(),
                detail: format!("no block for tag {tag:?}"),
            })
    }

    /// Block `number`, hash recomputed and checked; `None` beyond the head.
    pub async fn block_by_number(&self, number: u64) -> Result<Option<L1Block>, L1Error> {
        self.fetch_block(BlockNumberOrTag::Number(number), None)
            .await
    }

    /// Block with `hash`, hash recomputed and checked; `None` when unknown.
    pub async fn block_by_hash(&self, hash: B256) -> Result<Option<L1Block>, L1Error> {
        let block = self
            .provider
            .get_block_by_hash(hash)
            .await
            .map_err(|e| self.error(e))?;
        block
            .map(|b| self.check_block(b, None, Some(hash)))
            .transpose()
    }

    /// Logs in `[from_block, to_block]`, in chain order, splitting refused ranges.
    pub async fn logs(&self, filter: &LogFilter) -> Result<Vec<L1Log>, L1Error> {
        let mut logs = split_log_ranges(
            filter.from_block,
            filter.to_block,
            self.max_log_span,
            |lo, hi| self.logs_once(filter, lo, hi),
            is_refused_range,
        )
        .await?;
        // Chain order by (block, index): nodes already answer so, sorting only guards the contract.
        logs.sort_by_key(|l| (l.block_number, l.log_index));
        Ok(logs)
    }

    /// `eth_getTransactionByHash`; `None` when the node does not know it.
    pub async fn transaction(&self, hash: B256) -> Result<Option<L1Transaction>, L1Error> {
        let Some(tx) = self
            .provider
            .get_transaction_by_hash(hash)
            .await
            .map_err(|e| self.error(e))?
        else {
            return Ok(None);
        };
        // alloy takes the `hash` field on trust; recompute it from the signed
        // transaction (without any sidecar a node may attach to a blob transaction).
        let envelope = tx.inner.inner();
        let signature = *envelope.signature();
        let computed = envelope
            .clone()
            .into_typed_transaction()
            .tx_hash(&signature);
        if computed != hash {
            return Err(self.malformed(format!(
                "transaction {hash} served with contents hashing to {computed}"
            )));
        }
        Ok(Some(L1Transaction {
            hash,
            to: envelope.to(),
            input: envelope.input().clone(),
            blob_versioned_hashes: envelope
                .blob_versioned_hashes()
                .map(<[B256]>::to_vec)
                .unwrap_or_default(),
            block_number: tx.block_number,
            block_hash: tx.block_hash,
        }))
    }

    /// `eth_call` against the state after `block`.
    pub async fn call(&self, to: Address, data: Bytes, block: u64) -> Result<Bytes, L1Error> {
        let request = TransactionRequest::default().with_to(to).with_input(data);
        self.provider
            .call(request)
            .block(BlockNumberOrTag::Number(block).into())
            .await
            .map_err(|e| self.error(e))
    }

    /// The consensus header of a block, unchecked (see [`super::verified`]).
    pub async fn raw_header(&self, block: BlockHashOrNumber) -> Result<Option<Header>, L1Error> {
        let block = match block {
            BlockHashOrNumber::Hash(hash) => self.provider.get_block_by_hash(hash).await,
            BlockHashOrNumber::Number(number) => {
                self.provider
                    .get_block_by_number(BlockNumberOrTag::Number(number))
                    .await
            }
        }
        .map_err(|e| self.error(e))?;
        Ok(block.map(|b| b.header.inner))
    }

    /// A block with its full transactions, unchecked.
    pub async fn raw_block(&self, hash: B256) -> Result<Option<RawBlock>, L1Error> {
        let Some(block) = self
            .provider
            .get_block_by_hash(hash)
            .full()
            .await
            .map_err(|e| self.error(e))?
        else {
            return Ok(None);
        };
        RawBlock::from_rpc(block)
            .map(Some)
            .ok_or_else(|| self.malformed(format!("block {hash} served without its transactions")))
    }

    /// The receipts of block `hash` by `eth_getBlockReceipts`, or, when the node
    /// refuses that method, one `eth_getTransactionReceipt` per transaction.
    pub async fn raw_receipts(
        &self,
        hash: B256,
        transactions: &[B256],
    ) -> Result<Vec<ReceiptEnvelope>, L1Error> {
        match self.provider.get_block_receipts(BlockId::hash(hash)).await {
            Ok(Some(receipts)) => {
                return Ok(receipts.into_iter().map(receipt_from_rpc).collect());
            }
            Ok(None) => return Err(self.malformed(format!("no receipts for block {hash}"))),
            Err(RpcError::ErrorResp(payload)) => {
                tracing::debug!(code = payload.code, message = %payload.message, "eth_getBlockReceipts refused; fetching receipts one by one");
            }
            Err(e) => return Err(self.error(e)),
        }
        let mut receipts = Vec::with_capacity(transactions.len());
        for tx in transactions {
            let receipt = self
                .provider
                .get_transaction_receipt(*tx)
                .await
                .map_err(|e| self.error(e))?
                .ok_or_else(|| self.malformed(format!("no receipt for transaction {tx}")))?;
            receipts.push(receipt_from_rpc(receipt));
        }
        Ok(receipts)
    }

    async fn logs_once(
        &self,
        filter: &LogFilter,
        from: u64,
        to: u64,
    ) -> Result<Vec<L1Log>, L1Error> {
        let mut query = Filter::new().from_block(from).to_block(to);
        if !filter.addresses.is_empty() {
            query = query.address(filter.addresses.clone());
        }
        if !filter.topics0.is_empty() {
            query = query.event_signature(filter.topics0.clone());
        }
        let raw = self
            .provider
            .get_logs(&query)
            .await
            .map_err(|e| self.error(e))?;
        raw.into_iter()
            .map(|log| self.check_log(log, filter, from, to))
            .collect()
    }

    async fn fetch_block(
        &self,
        id: BlockNumberOrTag,
        expected_hash: Option<B256>,
    ) -> Result<Option<L1Block>, L1Error> {
        let block = self
            .provider
            .get_block_by_number(id)
            .await
            .map_err(|e| self.error(e))?;
        block
            .map(|b| self.check_block(b, id.as_number(), expected_hash))
            .transpose()
    }

    fn check_block(
        &self,
        block: alloy_rpc_types_eth::Block,
        expected_number: Option<u64>,
        expected_hash: Option<B256>,
    ) -> Result<L1Block, L1Error> {
        let header = &block.header;
        let computed = header.inner.hash_slow();
        if computed != header.hash {
            return Err(self.malformed(format!(
                "block {} claims hash {} but its header hashes to {computed}",
                header.inner.number, header.hash
            )));
        }
        if expected_number.is_some_and(|n| n != header.inner.number)
            || expected_hash.is_some_and(|h| h != header.hash)
        {
            return Err(self.malformed(format!(
                "asked for block {expected_number:?}/{expected_hash:?}, got {} {}",
                header.inner.number, header.hash
            )));
        }
        Ok(L1Block {
            number: header.inner.number,
            hash: header.hash,
            parent_hash: header.inner.parent_hash,
            timestamp: header.inner.timestamp,
        })
    }

    fn check_log(
        &self,
        log: alloy_rpc_types_eth::Log,
        filter: &LogFilter,
        from: u64,
        to: u64,
    ) -> Result<L1Log, L1Error> {
        let missing = |field: &str| self.malformed(format!("log without {field}"));
        let block_number = log.block_number.ok_or_else(|| missing("blockNumber"))?;
        let address = log.inner.address;
        let topics = log.inner.data.topics().to_vec();
        let in_filter = (from..=to).contains(&block_number)
            && (filter.addresses.is_empty() || filter.addresses.contains(&address))
            && (filter.topics0.is_empty()
                || topics.first().is_some_and(|t| filter.topics0.contains(t)));
        if !in_filter {
            return Err(self.malformed(format!(
                "log of {address} in block {block_number} does not match the filter"
            )));
        }
        Ok(L1Log {
            address,
            topics,
            data: log.inner.data.data.clone(),
            block_number,
            block_hash: log.block_hash.ok_or_else(|| missing("blockHash"))?,
            transaction_hash: log
                .transaction_hash
                .ok_or_else(|| missing("transactionHash"))?,
            log_index: log.log_index.ok_or_else(|| missing("logIndex"))?,
            removed: log.removed,
        })
    }

    fn malformed(&self, detail: String) -> L1Error {
        L1Error::Malformed {
            endpoint: self.endpoint.to_string(),
            detail,
        }
    }

    /// Maps alloy's error into [`L1Error`], naming the endpoint only redacted.
    fn error(&self, error: TransportError) -> L1Error {
        let endpoint = self.endpoint.to_string();
        match error {
            RpcError::ErrorResp(payload) if is_rate_limit(payload.code, &payload.message) => {
                L1Error::RateLimited { endpoint }
            }
            RpcError::ErrorResp(payload) => L1Error::Rpc {
                code: payload.code,
                message: payload.message.into_owned(),
            },
            RpcError::Transport(TransportErrorKind::Custom(custom)) => {
                match custom.downcast::<Exhausted>() {
                    Ok(exhausted) => L1Error::RetriesExhausted {
                        endpoint: exhausted.endpoint,
                        attempts: exhausted.attempts,
                        elapsed_ms: exhausted.elapsed.as_millis(),
                        last: exhausted.reason,
                    },
                    // Custom errors are built by our transport and already redacted.
                    Err(other) => L1Error::Transport(other.to_string()),
                }
            }
            RpcError::Transport(kind) => L1Error::Transport(format!("{endpoint}: {kind}")),
            RpcError::NullResp => L1Error::Malformed {
                endpoint,
                detail: "null result".into(),
            },
            // The text may be large and is attacker-chosen; the serde error alone is enough.
            RpcError::DeserError { err, .. } => L1Error::Malformed {
                endpoint,
                detail: err.to_string(),
            },
            other => L1Error::Transport(format!("{endpoint}: {other}")),
        }
    }
}

/// Whether an `eth_getLogs` error asks for a narrower range.
fn is_refused_range(error: &L1Error) -> bool {
    match error {
        L1Error::Rpc { code, message } => is_range_refusal(Some(*code), message),
        L1Error::Transport(message) => message.contains("response too large"),
        _ => false,
    }
}
