//! Devnet support (anvil): send calldata and EIP-4844 blob transactions from
//! anvil's first prefunded dev account and drive the chain with anvil's cheat
//! RPCs. Used by tests and the demo to produce real-format L1 data; never by
//! the follower.

use alloy_eips::eip4844::{Blob, BlobTransactionSidecar, Bytes48};
use alloy_eips::eip7594::{BlobTransactionSidecarEip7594, BlobTransactionSidecarVariant};
use alloy_network::{EthereumWallet, TransactionBuilder, TransactionBuilder4844};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;

use super::L1Error;
use super::rpc::EthRpc;
use super::transport::RetrySettings;
use crate::blob;

/// Private key of anvil's first prefunded account (public knowledge; devnets only).
pub const ANVIL_DEV_KEY: &str =
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// A mined transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// Transaction hash.
    pub hash: B256,
    /// Block that included it.
    pub block_number: u64,
}

/// Which network wrapper a blob transaction carries: one proof per blob
/// (EIP-4844, up to Prague) or 128 cell proofs per blob (EIP-7594, from Osaka).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SidecarFormat {
    /// One KZG proof per blob (up to Prague).
    Eip4844,
    /// 128 cell proofs per blob (from Osaka).
    Eip7594,
}

/// A devnet node with a funded signer.
#[derive(Clone, Debug)]
pub struct Devnet {
    rpc: EthRpc,
    provider: DynProvider,
    sender: Address,
}

impl Devnet {
    /// Connects to a devnet node at `rpc_url`, signing with anvil's first dev key.
    pub fn connect(rpc_url: &str) -> Result<Self, L1Error> {
        let rpc = EthRpc::new(rpc_url, &RetrySettings::default(), 4, 64 << 20, 10_000)?;
        let signer: PrivateKeySigner = ANVIL_DEV_KEY
            .parse()
            .map_err(|e| L1Error::Config(format!("dev key: {e}")))?;
        let sender = signer.address();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_client(rpc.client().clone())
            .erased();
        Ok(Self {
            rpc,
            provider,
            sender,
        })
    }

    /// Address of the funded signer.
    pub fn sender(&self) -> Address {
        self.sender
    }

    /// The JSON-RPC client of the node.
    pub fn rpc(&self) -> &EthRpc {
        &self.rpc
    }

    /// Sends `input` to `to` and waits for the receipt.
    pub async fn send_calldata(&self, to: Address, input: Bytes) -> Result<Submitted, L1Error> {
        let request = TransactionRequest::default().with_to(to).with_input(input);
        self.send(request).await
    }

    /// Sends a type-3 transaction carrying `blobs` (131,072 bytes each) with
    /// real KZG commitments and proofs, and waits for the receipt.
    pub async fn send_blobs(
        &self,
        to: Address,
        input: Bytes,
        blobs: &[Vec<u8>],
        format: SidecarFormat,
    ) -> Result<Submitted, L1Error> {
        let owned = blobs.to_vec();
        // KZG over 128 KiB arrays copied by value: unoptimised builds need more
        // than a worker thread's 2 MiB stack, so this runs on a thread of its own.
        let sidecar = tokio::task::spawn_blocking(move || {
            std::thread::Builder::new()
                .name("blob-sidecar".into())
                .stack_size(64 << 20)
                .spawn(move || sidecar(&owned, format))
                .map_err(devnet)?
                .join()
                .map_err(|_| devnet("sidecar thread panicked"))?
        })
        .await
        .map_err(devnet)??;
        let request = TransactionRequest::default()
            .with_to(to)
            .with_input(input)
            .with_blob_sidecar(sidecar);
        self.send(request).await
    }

    /// The versioned hashes a transaction carrying `blobs` commits to.
    pub fn versioned_hashes(blobs: &[Vec<u8>]) -> Result<Vec<B256>, L1Error> {
        blobs
            .iter()
            .map(|b| Ok(blob::versioned_hash(&blob::commitment(b).map_err(devnet)?)))
            .collect()
    }

    /// `anvil_setCode`: installs runtime bytecode at `address`.
    pub async fn set_code(&self, address: Address, code: Bytes) -> Result<(), L1Error> {
        self.raw::<_, serde_json::Value>("anvil_setCode", (address, code))
            .await
            .map(drop)
    }

    /// `evm_snapshot`: an id to revert to.
    pub async fn snapshot(&self) -> Result<U256, L1Error> {
        self.raw("evm_snapshot", ()).await
    }

    /// `evm_revert`: back to `snapshot` (which is consumed); false if unknown.
    pub async fn revert(&self, snapshot: U256) -> Result<bool, L1Error> {
        self.raw("evm_revert", (snapshot,)).await
    }

    /// `evm_setAutomine`: whether each transaction is mined as it arrives.
    /// Turned back on, the next transaction is mined with every one pending.
    pub async fn set_automine(&self, on: bool) -> Result<(), L1Error> {
        self.raw::<_, serde_json::Value>("evm_setAutomine", (on,))
            .await
            .map(drop)
    }

    /// Sends `input` to `to` with a fixed gas limit and returns its hash
    /// without waiting for it to be mined (with automine off, it waits in
    /// the pool for the next block).
    pub async fn send_pending(
        &self,
        to: Address,
        input: Bytes,
        gas_limit: u64,
    ) -> Result<B256, L1Error> {
        let request = TransactionRequest::default()
            .with_to(to)
            .with_input(input)
            .with_gas_limit(gas_limit);
        let pending = self
            .provider
            .send_transaction(request)
            .await
            .map_err(devnet)?;
        Ok(*pending.tx_hash())
    }

    /// `evm_mine`: mines one empty block.
    pub async fn mine(&self) -> Result<(), L1Error> {
        self.raw::<_, serde_json::Value>("evm_mine", ())
            .await
            .map(drop)
    }

    async fn raw<P, R>(&self, method: &'static str, params: P) -> Result<R, L1Error>
    where
        P: alloy_json_rpc::RpcSend,
        R: alloy_json_rpc::RpcRecv,
    {
        self.rpc
            .client()
            .request(method, params)
            .await
            .map_err(|e| devnet(format!("{method}: {e}")))
    }

    /// Sends `input` to `to` with a fixed gas limit, so a call that reverts
    /// is not refused by gas estimation, and waits for it to be mined; returns
    /// whether it succeeded instead of checking.
    pub async fn send_unchecked(
        &self,
        to: Address,
        input: Bytes,
        gas_limit: u64,
    ) -> Result<(Submitted, bool), L1Error> {
        let request = TransactionRequest::default()
            .with_to(to)
            .with_input(input)
            .with_gas_limit(gas_limit);
        let receipt = self.mined(request).await?;
        Ok((submitted(&receipt)?, receipt.status()))
    }

    async fn send(&self, request: TransactionRequest) -> Result<Submitted, L1Error> {
        let receipt = self.mined(request).await?;
        if !receipt.status() {
            return Err(devnet(format!(
                "transaction {} reverted",
                receipt.transaction_hash
            )));
        }
        submitted(&receipt)
    }

    async fn mined(
        &self,
        request: TransactionRequest,
    ) -> Result<alloy_rpc_types_eth::TransactionReceipt, L1Error> {
        let pending = self
            .provider
            .send_transaction(request)
            .await
            .map_err(devnet)?;
        pending.get_receipt().await.map_err(devnet)
    }
}

fn submitted(receipt: &alloy_rpc_types_eth::TransactionReceipt) -> Result<Submitted, L1Error> {
    Ok(Submitted {
        hash: receipt.transaction_hash,
        block_number: receipt
            .block_number
            .ok_or_else(|| devnet("receipt without block number"))?,
    })
}

/// Builds the network sidecar of `blobs` with c-kzg (via [`crate::blob`]).
pub fn sidecar(
    blobs: &[Vec<u8>],
    format: SidecarFormat,
) -> Result<BlobTransactionSidecarVariant, L1Error> {
    // Filled in place on the heap: a `Blob` is 128 KiB, too big to move around on the stack.
    let mut wire_blobs = vec![Blob::ZERO; blobs.len()];
    let mut commitments = Vec::with_capacity(blobs.len());
    let mut proofs = Vec::new();
    for (data, wire) in blobs.iter().zip(wire_blobs.iter_mut()) {
        if data.len() != wire.len() {
            return Err(devnet(format!("blob of {} bytes", data.len())));
        }
        wire.copy_from_slice(data);
        let commitment = blob::commitment(data).map_err(devnet)?;
        match format {
            SidecarFormat::Eip4844 => {
                proofs.push(Bytes48::from(
                    blob::blob_proof(data, &commitment).map_err(devnet)?,
                ));
            }
            SidecarFormat::Eip7594 => {
                let kzg_blob =
                    c_kzg::Blob::from_bytes(data).map_err(|e| devnet(format!("{e:?}")))?;
                let (_cells, cell_proofs) = blob::kzg_settings()
                    .compute_cells_and_kzg_proofs(&kzg_blob)
                    .map_err(|e| devnet(format!("{e:?}")))?;
                proofs.extend(
                    cell_proofs
                        .iter()
                        .map(|p| Bytes48::from(p.to_bytes().into_inner())),
                );
            }
        }
        commitments.push(Bytes48::from(commitment));
    }
    Ok(match format {
        SidecarFormat::Eip4844 => BlobTransactionSidecarVariant::Eip4844(BlobTransactionSidecar {
            blobs: wire_blobs,
            commitments,
            proofs,
        }),
        SidecarFormat::Eip7594 => {
            BlobTransactionSidecarVariant::Eip7594(BlobTransactionSidecarEip7594 {
                blobs: wire_blobs,
                commitments,
                cell_proofs: proofs,
            })
        }
    })
}

fn devnet(e: impl std::fmt::Display) -> L1Error {
    L1Error::Devnet(e.to_string())
}
