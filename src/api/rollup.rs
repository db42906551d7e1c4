//! The `Rollup` object: replay progress and the state of one rollup as of any
//! committed batch (storage, nonces, class hashes, balances, proofs).

use alloy_primitives::{Address, B256, U256};
use async_graphql::{Context, Error, Object, Result, SimpleObject};
use starknet_types_core::felt::Felt;

use super::batch::{Batch, load_batch};
use super::budget::Budget;
use super::paging::{BatchConnection, page};
use super::proof::StorageProof;
use super::scalars::{AddressScalar, BigInt, FeltScalar, Long, Word, parse_felt, parse_hex_word};
use super::schema::{RollupHandle, RollupKind, query_error, zksync_error};
use crate::audit::{BatchAudit, Verdict};
use crate::follow::L1Cursor;
use crate::rollup::starknet::query::{QueryError, StarknetReader, fee_token};
use crate::rollup::zksync::query::{
    L2_BASE_TOKEN, NONCE_HOLDER, Nonces, QueryError as ZksyncQueryError, ZksyncReader,
    mapping_slot, nonce_slot,
};

/// A rollup and everything zkreplay rebuilt for it.
///
/// Starknet and ZKsync share these fields; arguments are 0x-hex scalars that
/// each field validates for the rollup's family (a felt on Starknet, 20-byte
/// addresses and 256-bit keys on ZKsync). Fields that exist in one family only
/// say so in an error on the other.
pub struct Rollup(pub(crate) RollupHandle);

#[Object]
impl Rollup {
    /// Chain identity, e.g. `starknet-sepolia`.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Rollup family.
    async fn kind(&self) -> RollupKind {
        self.0.kind
    }

    /// Chain id of the L1 the rollup settles on, when the server knows the chain config.
    async fn l1_chain_id(&self) -> Option<Long> {
        self.0.l1_chain_id.map(Long)
    }

    /// Replay progress, the verified pointer and where the follower stands on L1.
    async fn sync(&self, ctx: &Context<'_>) -> Result<SyncStatus> {
        let handle = self.0.clone();
        Budget::of(ctx)
            .run(move |b| {
                let last = handle.last_batch().map_err(|e| b.internal(e))?;
                let verified = verified_batch(&handle, b)?;
                let tip = match handle.kind {
                    RollupKind::Starknet => None,
                    RollupKind::Zksync => ZksyncReader::new(&handle.store)
                        .checkpoint()
                        .map_err(|e| b.internal(e))?,
                };
                let cursor = L1Cursor::read(&handle.store).map_err(|e| b.internal(e))?;
                let l1_head = handle.follow_status.as_ref().and_then(|s| s.l1_head());
                let lag = match (l1_head, &cursor) {
                    (Some(head), Some(cursor)) => Some(Long(head.saturating_sub(cursor.block))),
                    _ => None,
                };
                Ok(SyncStatus {
                    last_applied_batch: last.map(Long),
                    verified_batch: verified.map(Long),
                    last_proven_batch: tip.as_ref().map(|c| Long(c.last_proven)),
                    last_executed_batch: tip.as_ref().map(|c| Long(c.last_executed)),
                    l1_cursor: cursor.map(|c| Long(c.block)),
                    l1_head: l1_head.map(Long),
                    lag_blocks: lag,
                })
            })
            .await
    }

    /// One batch, or null when it is not applied yet.
    async fn batch(&self, ctx: &Context<'_>, number: Long) -> Result<Option<Batch>> {
        let handle = self.0.clone();
        Budget::of(ctx)
            .run(move |b| {
                let last = handle.last_batch().map_err(|e| b.internal(e))?;
                if last.is_none_or(|last| number.0 > last) {
                    return Ok(None);
                }
                load_batch(&handle, b, number.0)
            })
            .await
    }

    /// Batches in order, optionally only those with a given verdict.
    async fn batches(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: default 100, at most 1000.")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge of the previous page.")] after: Option<String>,
        verdict: Option<Verdict>,
    ) -> Result<BatchConnection> {
        let handle = self.0.clone();
        Budget::of(ctx)
            .run(move |b| page(&handle, b, first, after, verdict))
            .await
    }

    /// Batches whose audit did not match: the sequencer-honesty findings.
    async fn findings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: default 100, at most 1000.")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge of the previous page.")] after: Option<String>,
    ) -> Result<BatchConnection> {
        let handle = self.0.clone();
        Budget::of(ctx)
            .run(move |b| page(&handle, b, first, after, Some(Verdict::Mismatch)))
            .await
    }

    /// A storage slot's value as of `atBatch` (default: the last verified batch).
    /// Starknet: `address` and `key` are felts below 2^251 (trie paths). ZKsync:
    /// `address` is 20 bytes and `key` the Solidity slot (the tree leaf is its
    /// derived key `blake2s(12 zero bytes ‖ address ‖ key)`).
    async fn storage(
        &self,
        ctx: &Context<'_>,
        address: AddressScalar,
        key: Word,
        at_batch: Option<Long>,
    ) -> Result<Word> {
        let read = SlotRead {
            starknet: |reader, address, key, batch| reader.storage_at(address, key, batch),
            zksync: |reader, address, key, batch| reader.storage_at(address, key, batch),
        };
        self.at_slot(ctx, address, key, at_batch, read).await
    }

    /// An account's transaction nonce as of `atBatch` (default: the last verified batch).
    /// Starknet: the contract's nonce. ZKsync: `minNonce`, the low 128 bits of the
    /// account's NonceHolder (0x…8003) word at `keccak256(pad32(address) ‖ pad32(0))`.
    async fn nonce(
        &self,
        ctx: &Context<'_>,
        address: AddressScalar,
        at_batch: Option<Long>,
    ) -> Result<BigInt> {
        self.read_at(ctx, at_batch, move |handle, b, batch| match handle.kind {
            RollupKind::Starknet => {
                let address = address.starknet().map_err(Error::new)?;
                let contract = StarknetReader::new(&handle.store)
                    .contract_at(&address, batch)
                    .map_err(|e| query_error(b, e))?;
                Ok(BigInt(U256::from_be_bytes(contract.nonce.to_bytes_be())))
            }
            RollupKind::Zksync => Ok(BigInt(
                zksync_nonces(handle, b, address, batch)?.transaction,
            )),
        })
        .await
    }

    /// ZKsync only: an account's CREATE deployment nonce as of `atBatch`, the high
    /// 128 bits of its NonceHolder word.
    async fn deployment_nonce(
        &self,
        ctx: &Context<'_>,
        address: AddressScalar,
        at_batch: Option<Long>,
    ) -> Result<BigInt> {
        if self.0.kind != RollupKind::Zksync {
            return Err(Error::new(
                "deploymentNonce is a ZKsync notion; Starknet has one nonce per contract (use nonce)",
            ));
        }
        self.read_at(ctx, at_batch, move |handle, b, batch| {
            Ok(BigInt(zksync_nonces(handle, b, address, batch)?.deployment))
        })
        .await
    }

    /// Starknet only: a contract's class hash as of `atBatch` (0 when not deployed).
    async fn class_hash(
        &self,
        ctx: &Context<'_>,
        address: AddressScalar,
        at_batch: Option<Long>,
    ) -> Result<FeltScalar> {
        if self.0.kind != RollupKind::Starknet {
            return Err(Error::new(
                "classHash is a Starknet notion; a ZKsync contract's bytecode hash is the \
                 storage of AccountCodeStorage (0x…8002) at the address as key",
            ));
        }
        let address = address.starknet().map_err(Error::new)?;
        self.read_at(ctx, at_batch, move |handle, b, batch| {
            let contract = StarknetReader::new(&handle.store)
                .contract_at(&address, batch)
                .map_err(|e| query_error(b, e))?;
            Ok(FeltScalar(contract.class_hash))
        })
        .await
    }

    /// A token balance as of `atBatch` (default: the last verified batch).
    ///
    /// Starknet: `token` is `ETH`, `STRK` or an ERC-20 address; the balance is the
    /// u256 at `sn_keccak("ERC20_balances")` hashed with the account (Pedersen,
    /// reduced below 2^251 - 256) for the low 128 bits and the next slot for the
    /// high. ZKsync: `token` is `ETH` (the L2BaseToken system
    /// contract 0x…800a, whose `balance` mapping is at slot 0) or a Solidity ERC-20
    /// address with `balanceSlot`, the base slot of its `mapping(address => uint256)`
    /// of balances; the balance is the word at
    /// `keccak256(pad32(account) ‖ pad32(balanceSlot))`.
    async fn balance(
        &self,
        ctx: &Context<'_>,
        token: String,
        account: AddressScalar,
        #[graphql(
            desc = "ZKsync ERC-20 tokens only: the storage slot of the balances mapping \
                    (a small index such as 0 for classic layouts, or an ERC-7201 namespace location)."
        )]
        balance_slot: Option<Word>,
        at_batch: Option<Long>,
    ) -> Result<BigInt> {
        match self.0.kind {
            RollupKind::Starknet => {
                if balance_slot.is_some() {
                    return Err(Error::new(
                        "balanceSlot applies to ZKsync tokens; Starknet balances are at a fixed slot",
                    ));
                }
                let token = starknet_token(&token)?;
                let account = account.starknet().map_err(Error::new)?;
                self.read_at(ctx, at_batch, move |handle, b, batch| {
                    StarknetReader::new(&handle.store)
                        .erc20_balance(&token, &account, batch)
                        .map(BigInt)
                        .map_err(|e| query_error(b, e))
                })
                .await
            }
            RollupKind::Zksync => {
                let (token, position) = zksync_token(&token, balance_slot)?;
                let account = account.zksync().map_err(Error::new)?;
                self.read_at(ctx, at_batch, move |handle, b, batch| {
                    let slot = mapping_slot(&account, &position);
                    let value = ZksyncReader::new(&handle.store)
                        .storage_at(&token, &slot, batch)
                        .map_err(|e| zksync_error(b, e))?;
                    Ok(BigInt(U256::from_be_bytes(value.0)))
                })
                .await
            }
        }
    }

    /// A storage value with its Merkle proof against the state root of `atBatch`
    /// (default: the last verified batch), checkable without trusting this server:
    /// a `StarknetProof` or a `ZksyncProof` (see each type for the steps).
    /// Arguments are validated as for `storage`.
    async fn proof(
        &self,
        ctx: &Context<'_>,
        address: AddressScalar,
        key: Word,
        at_batch: Option<Long>,
    ) -> Result<StorageProof> {
        let read = SlotRead {
            starknet: |reader, address, key, batch| reader.storage_proof(address, key, batch),
            zksync: |reader, address, key, batch| reader.storage_proof(address, key, batch),
        };
        self.at_slot(ctx, address, key, at_batch, read).await
    }
}

/// What `storage` or `proof` reads at one slot, through each rollup family's
/// reader; [`Rollup::at_slot`] converts the answer into the field's type.
struct SlotRead<StarknetAnswer, ZksyncAnswer> {
    starknet: fn(&StarknetReader<'_>, &Felt, &Felt, u64) -> Result<StarknetAnswer, QueryError>,
    zksync: fn(&ZksyncReader<'_>, &Address, &B256, u64) -> Result<ZksyncAnswer, ZksyncQueryError>,
}

impl Rollup {
    /// Reads one slot as of `atBatch` (default: the last verified batch):
    /// `storage` and `proof` validate their arguments and report each family's
    /// errors alike through here.
    async fn at_slot<T, StarknetAnswer, ZksyncAnswer>(
        &self,
        ctx: &Context<'_>,
        address: AddressScalar,
        key: Word,
        at_batch: Option<Long>,
        read: SlotRead<StarknetAnswer, ZksyncAnswer>,
    ) -> Result<T>
    where
        T: From<StarknetAnswer> + From<ZksyncAnswer> + Send + 'static,
        StarknetAnswer: 'static,
        ZksyncAnswer: 'static,
    {
        self.read_at(ctx, at_batch, move |handle, b, batch| match handle.kind {
            RollupKind::Starknet => {
                let address = address.starknet().map_err(Error::new)?;
                let key = key.starknet("key").map_err(Error::new)?;
                let reader = StarknetReader::new(&handle.store);
                let answer = (read.starknet)(&reader, &address, &key, batch);
                answer.map(T::from).map_err(|e| query_error(b, e))
            }
            RollupKind::Zksync => {
                let address = address.zksync().map_err(Error::new)?;
                let reader = ZksyncReader::new(&handle.store);
                let answer = (read.zksync)(&reader, &address, &key.0, batch);
                answer.map(T::from).map_err(|e| zksync_error(b, e))
            }
        })
        .await
    }

    /// Runs `read` on the request's budget (off the async workers when the
    /// request is costly) against the state as of `at_batch` (default: the
    /// last verified batch).
    async fn read_at<T: Send + 'static>(
        &self,
        ctx: &Context<'_>,
        at_batch: Option<Long>,
        read: impl FnOnce(&RollupHandle, &Budget, u64) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let handle = self.0.clone();
        Budget::of(ctx)
            .run(move |b| {
                let batch = resolve_batch(&handle, b, at_batch)?;
                read(&handle, b, batch)
            })
            .await
    }
}

/// Replay progress.
#[derive(SimpleObject)]
pub struct SyncStatus {
    /// The last batch applied to the store.
    last_applied_batch: Option<Long>,
    /// The last batch of the unbroken run of batches whose computed root matched L1
    /// (ZKsync: and that L1 executed, so a revert can never remove it). Default reads use it.
    verified_batch: Option<Long>,
    /// ZKsync: the last batch L1 proved (`BlocksVerification`; still revertible). Null on Starknet.
    last_proven_batch: Option<Long>,
    /// ZKsync: the last batch L1 executed (final; never unwound). Null on Starknet.
    last_executed_batch: Option<Long>,
    /// The last L1 block the follower fully handled (null for stores built from files).
    l1_cursor: Option<Long>,
    /// The L1 head the follower last saw; null unless a follower runs in this process.
    l1_head: Option<Long>,
    /// `l1Head - l1Cursor`: L1 blocks not yet handled; null when either is unknown.
    lag_blocks: Option<Long>,
}

/// The verified pointer. Starknet: the audits' pointer. ZKsync: the audits'
/// pointer when the store has audits (a follower wrote them, genesis
/// included), else the engine's checkpoint, which applies the same rule to
/// the roots alone (stores built by `zksync apply`).
fn verified_batch(handle: &RollupHandle, b: &Budget) -> Result<Option<u64>> {
    let store = &handle.store;
    // An imported store's first audit is the snapshot's batch, not 0: any
    // audit at all means the audits' pointer decides.
    if handle.kind == RollupKind::Zksync && !BatchAudit::any(store).map_err(|e| b.internal(e))? {
        return Ok(ZksyncReader::new(store)
            .checkpoint()
            .map_err(|e| b.internal(e))?
            .map(|c| c.verified_and_executed()));
    }
    BatchAudit::verified_batch(store).map_err(|e| b.internal(e))
}

fn resolve_batch(handle: &RollupHandle, b: &Budget, at_batch: Option<Long>) -> Result<u64> {
    match at_batch {
        Some(batch) => Ok(batch.0),
        None => verified_batch(handle, b)?.ok_or_else(|| {
            Error::new("no batch is verified yet; pass atBatch to read unverified state")
        }),
    }
}

fn zksync_nonces(
    handle: &RollupHandle,
    b: &Budget,
    address: AddressScalar,
    batch: u64,
) -> Result<Nonces> {
    let address = address.zksync().map_err(Error::new)?;
    let raw = ZksyncReader::new(&handle.store)
        .storage_at(&NONCE_HOLDER, &nonce_slot(&address), batch)
        .map_err(|e| zksync_error(b, e))?;
    Ok(Nonces::unpack(&raw))
}

/// A ZKsync token argument as (contract, base slot of its balances mapping).
fn zksync_token(token: &str, balance_slot: Option<Word>) -> Result<(Address, B256)> {
    if token == "ETH" {
        if balance_slot.is_some() {
            return Err(Error::new(
                "balanceSlot applies to ERC-20 token addresses; ETH lives in L2BaseToken at a known slot",
            ));
        }
        return Ok((L2_BASE_TOKEN, B256::ZERO));
    }
    let word = parse_hex_word(token)
        .map_err(|e| Error::new(format!("token must be ETH or a 20-byte token address: {e}")))?;
    let address = AddressScalar(word).zksync().map_err(Error::new)?;
    match balance_slot {
        Some(slot) => Ok((address, slot.0)),
        None if address == L2_BASE_TOKEN => Ok((address, B256::ZERO)),
        None => Err(Error::new(
            "an ERC-20 balance on ZKsync needs balanceSlot: the storage slot of the token's \
             balances mapping (contracts lay out storage differently)",
        )),
    }
}

/// A Starknet token argument: a fee token by name or a contract address.
fn starknet_token(name: &str) -> Result<Felt> {
    if let Some(token) = fee_token(name) {
        return Ok(token);
    }
    parse_felt(name).map_err(|e| {
        Error::new(format!(
            "token must be ETH, STRK or a contract address: {e}"
        ))
    })
}
