//! [`RpcL1`]: the production [`L1Source`], combining execution JSON-RPC, the
//! beacon blob API, an optional remote blob archive and the optional local
//! archive in the store.
//!
//! Blob lookup order: local archive → beacon node → remote archive. Whatever
//! the network served is KZG-checked first, then archived locally in one commit.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use alloy_consensus::{Header, ReceiptEnvelope};
use alloy_eips::BlockHashOrNumber;
use alloy_primitives::{Address, B256, Bytes};

use super::archive::LocalArchive;
use super::beacon::{BeaconBlockId, BeaconClient, BlobArchiveClient};
use super::rpc::EthRpc;
use super::transport::{GetLayers, RetrySettings};
use super::{
    BlobRequest, BlockTag, L1Block, L1Error, L1Log, L1Source, L1Transaction, LogFilter, RawBlock,
};
use crate::store::Store;

/// Where and how to reach L1.
#[derive(Clone, Debug)]
pub struct L1Endpoints {
    /// Execution JSON-RPC URL (may carry an API key: it is only ever shown redacted).
    pub rpc_url: String,
    /// Beacon API base URL; without it blobs come only from the archives.
    pub beacon_url: Option<String>,
    /// How the beacon node names the block whose blobs are asked for.
    pub beacon_block_id: BeaconBlockId,
    /// Blobscan-style archive base URL, for blobs the beacon node pruned.
    pub blob_archive_url: Option<String>,
    /// Requests in flight per endpoint.
    pub max_concurrency: usize,
    /// Retry and backoff of every endpoint.
    pub retry: RetrySettings,
    /// Widest `eth_getLogs` range asked for at once; refused ranges are halved.
    pub max_log_range: u64,
    /// Largest JSON-RPC answer accepted.
    pub max_response_bytes: usize,
}

impl L1Endpoints {
    /// Defaults for a public provider: 8 requests in flight, 2,000-block log ranges.
    pub fn new(rpc_url: impl Into<String>) -> Self {
        Self {
            rpc_url: rpc_url.into(),
            beacon_url: None,
            beacon_block_id: BeaconBlockId::Slot,
            blob_archive_url: None,
            max_concurrency: 8,
            retry: RetrySettings::default(),
            max_log_range: 2_000,
            max_response_bytes: 256 * 1024 * 1024,
        }
    }

    /// Settings for a local devnet: fast retries, anvil's beacon block ids.
    pub fn devnet(rpc_url: impl Into<String>) -> Self {
        let rpc_url = rpc_url.into();
        Self {
            beacon_url: Some(rpc_url.clone()),
            beacon_block_id: BeaconBlockId::ExecutionBlockNumber,
            retry: RetrySettings {
                max_retries: 10,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(200),
                max_elapsed: Duration::from_secs(30),
                attempt_timeout: Duration::from_secs(10),
            },
            ..Self::new(rpc_url)
        }
    }
}

/// The production [`L1Source`].
#[derive(Debug)]
pub struct RpcL1 {
    rpc: EthRpc,
    beacon: Option<BeaconClient>,
    blob_archive: Option<BlobArchiveClient>,
    local: Option<LocalArchive>,
    chain_id: u64,
}

impl RpcL1 {
    /// Connects: checks the RPC answers `eth_chainId` and, in slot mode, loads
    /// the beacon genesis time and slot length, so a bad endpoint fails here
    /// with a clear error rather than at the first blob. `store` enables the
    /// local archive.
    pub async fn connect(
        endpoints: L1Endpoints,
        store: Option<Arc<Store>>,
    ) -> Result<Self, L1Error> {
        let rpc = EthRpc::new(
            &endpoints.rpc_url,
            &endpoints.retry,
            endpoints.max_concurrency,
            endpoints.max_response_bytes,
            endpoints.max_log_range,
        )?;
        let chain_id = rpc.chain_id().await?;
        let beacon = endpoints
            .beacon_url
            .as_deref()
            .map(|url| {
                BeaconClient::new(
                    url,
                    endpoints.beacon_block_id,
                    &GetLayers::new(endpoints.retry.clone(), endpoints.max_concurrency),
                )
            })
            .transpose()?;
        if let Some(beacon) = &beacon
            && beacon.block_id_mode() == BeaconBlockId::Slot
        {
            beacon.clock().await?;
        }
        let blob_archive = endpoints
            .blob_archive_url
            .as_deref()
            .map(|url| {
                BlobArchiveClient::new(
                    url,
                    &GetLayers::new(endpoints.retry.clone(), endpoints.max_concurrency),
                )
            })
            .transpose()?;
        tracing::info!(rpc = %rpc.endpoint(), chain_id, beacon = beacon.is_some(), archive = blob_archive.is_some(), "connected to L1");
        Ok(Self {
            rpc,
            beacon,
            blob_archive,
            local: store.map(LocalArchive::new),
            chain_id,
        })
    }

    /// The chain id read at connect time.
    pub fn connected_chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The execution JSON-RPC client.
    pub fn rpc(&self) -> &EthRpc {
        &self.rpc
    }

    /// The store's blob and transaction archive, when one is attached.
    pub fn local_archive(&self) -> Option<&LocalArchive> {
        self.local.as_ref()
    }
}

impl L1Source for RpcL1 {
    async fn chain_id(&self) -> Result<u64, L1Error> {
        self.rpc.chain_id().await
    }

    async fn block_by_tag(&self, tag: BlockTag) -> Result<L1Block, L1Error> {
        self.rpc.block_by_tag(tag).await
    }

    async fn block_by_number(&self, number: u64) -> Result<Option<L1Block>, L1Error> {
        self.rpc.block_by_number(number).await
    }

    async fn block_by_hash(&self, hash: B256) -> Result<Option<L1Block>, L1Error> {
        self.rpc.block_by_hash(hash).await
    }

    async fn logs(&self, filter: &LogFilter) -> Result<Vec<L1Log>, L1Error> {
        self.rpc.logs(filter).await
    }

    async fn transaction(&self, hash: B256) -> Result<Option<L1Transaction>, L1Error> {
        if let Some(local) = &self.local
            && let Some(tx) = local.transaction(&hash)?
        {
            return Ok(Some(tx));
        }
        let tx = self.rpc.transaction(hash).await?;
        if let (Some(local), Some(tx)) = (&self.local, &tx) {
            local.put_transaction(tx)?;
        }
        Ok(tx)
    }

    async fn call(&self, to: Address, data: Bytes, block: u64) -> Result<Bytes, L1Error> {
        self.rpc.call(to, data, block).await
    }

    async fn raw_header(&self, block: BlockHashOrNumber) -> Result<Option<Header>, L1Error> {
        self.rpc.raw_header(block).await
    }

    async fn raw_block(&self, hash: B256) -> Result<Option<RawBlock>, L1Error> {
        self.rpc.raw_block(hash).await
    }

    async fn raw_receipts(
        &self,
        hash: B256,
        transactions: &[B256],
    ) -> Result<Vec<ReceiptEnvelope>, L1Error> {
        self.rpc.raw_receipts(hash, transactions).await
    }

    async fn blobs(&self, block: &L1Block, wanted: &BlobRequest) -> Result<Vec<Vec<u8>>, L1Error> {
        let versioned_hashes = &wanted.versioned_hashes;
        let mut found: HashMap<B256, Vec<u8>> = HashMap::new();
        if let Some(local) = &self.local {
            for hash in versioned_hashes {
                if let Some(blob) = local.blob(hash)? {
                    found.insert(*hash, blob);
                }
            }
        }
        let archived: Vec<B256> = found.keys().copied().collect();
        let missing = |found: &HashMap<B256, Vec<u8>>| -> Vec<B256> {
            let mut m: Vec<B256> = Vec::new();
            for hash in versioned_hashes {
                if !found.contains_key(hash) && !m.contains(hash) {
                    m.push(*hash);
                }
            }
            m
        };

        let absent = missing(&found);
        if let (Some(beacon), false) = (&self.beacon, absent.is_empty()) {
            match beacon.blobs(block, &absent, wanted.binding.clone()).await {
                Ok(blobs) => found.extend(blobs),
                // A mismatch is evidence of a lying node: surface it, never paper over it.
                Err(e @ L1Error::BlobMismatch { .. }) => return Err(e),
                Err(e) => {
                    tracing::warn!(block = block.number, error = %e, "beacon node failed; trying the blob archive")
                }
            }
        }
        if let Some(archive) = &self.blob_archive {
            for hash in missing(&found) {
                if let Some(blob) = archive.blob(hash, wanted.binding.clone()).await? {
                    found.insert(hash, blob);
                }
            }
        }

        if let Some(local) = &self.local {
            let fresh = found
                .iter()
                .filter(|(h, _)| !archived.contains(h))
                .map(|(h, b)| (h, b.as_slice()));
            local.put_blobs(fresh)?;
        }
        versioned_hashes
            .iter()
            .map(|hash| {
                found.get(hash).cloned().ok_or(L1Error::BlobUnavailable {
                    versioned_hash: *hash,
                })
            })
            .collect()
    }
}
