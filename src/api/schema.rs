//! The GraphQL schema: rollups, batches and their audit verdicts, state at any
//! committed batch, and Merkle proofs a client can check on its own.
//!
//! Resolvers read RocksDB directly (point lookups of a few microseconds), so
//! they never hold locks across awaits. Client mistakes (bad hex, unknown
//! rollup, a batch not applied yet) come back as clear errors; store failures
//! are logged with the request id and reach the client only as that id.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, B256, U256};
use async_graphql::{
    ComplexObject, Context, EmptyMutation, Enum, Error, Object, Result, Schema, SimpleObject,
    Subscription, Union,
};
use futures_util::Stream;
use starknet_types_core::felt::Felt;

use super::scalars::{AddressScalar, BigInt, Bytes32, FeltScalar, Long, Word};
use crate::audit::{BatchAudit, Verdict};
use crate::follow::{DaMode, FollowStatus, L1BatchRecord, L1Cursor};
use crate::hexfmt::format_word;
use crate::rollup::starknet::hash::pedersen;
use crate::rollup::starknet::query::{
    QueryError, StarknetReader, StorageProof as StarknetStorageProof,
};
use crate::rollup::starknet::state::StarknetState;
use crate::rollup::starknet::trie::ProofNode;
use crate::rollup::zksync::query::{
    L2_BASE_TOKEN, NONCE_HOLDER, Nonces, QueryError as ZksyncQueryError, ZksyncReader,
    ZksyncStorageProof, mapping_slot, nonce_slot,
};
use crate::rollup::zksync::state::read_record;
use crate::store::{Column, Store, keys};

/// The served schema type.
pub type ApiSchema = Schema<QueryRoot, EmptyMutation, SubscriptionRoot>;

/// Default and maximum page sizes of every list (The Graph's conventions).
pub const DEFAULT_PAGE: usize = 100;
pub const MAX_PAGE: usize = 1000;
/// Query depth limit.
pub const MAX_DEPTH: usize = 12;
/// Complexity limit; list fields cost `first × child complexity`.
pub const MAX_COMPLEXITY: usize = 50_000;

/// Builds the schema over a set of rollup stores.
pub fn build_schema(rollups: Vec<RollupHandle>) -> ApiSchema {
    Schema::build(QueryRoot, EmptyMutation, SubscriptionRoot)
        .data(Arc::new(rollups))
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
}

/// A rollup served by this process.
#[derive(Clone)]
pub struct RollupHandle {
    pub name: String,
    pub kind: RollupKind,
    pub store: Arc<Store>,
    /// The settlement layer's chain id, from the chain config, when known.
    pub l1_chain_id: Option<u64>,
    /// Live follower figures (L1 head), when a follower runs in this process.
    pub follow_status: Option<Arc<FollowStatus>>,
}

impl RollupHandle {
    /// A handle with no chain config and no follower attached.
    pub fn new(name: impl Into<String>, kind: RollupKind, store: Arc<Store>) -> Self {
        RollupHandle {
            name: name.into(),
            kind,
            store,
            l1_chain_id: None,
            follow_status: None,
        }
    }

    pub fn with_l1_chain_id(mut self, chain_id: u64) -> Self {
        self.l1_chain_id = Some(chain_id);
        self
    }

    pub fn with_follow_status(mut self, status: Arc<FollowStatus>) -> Self {
        self.follow_status = Some(status);
        self
    }

    /// The last applied batch, whatever the rollup family.
    fn last_batch(&self) -> Result<Option<u64>, String> {
        match self.kind {
            RollupKind::Starknet => StarknetReader::new(&self.store)
                .last_batch()
                .map_err(|e| e.to_string()),
            RollupKind::Zksync => ZksyncReader::new(&self.store)
                .last_batch()
                .map_err(|e| e.to_string()),
        }
    }
}

/// The per-request id, attached by the HTTP layer, quoted in internal errors.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Which rollup family a chain belongs to.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RollupKind {
    Starknet,
    Zksync,
}

impl RollupKind {
    /// Chain identities are `starknet-*` or `zksync-*` (see the chain configs).
    pub fn from_chain(chain: &str) -> Option<Self> {
        if chain.starts_with("starknet") {
            Some(RollupKind::Starknet)
        } else if chain.starts_with("zksync") {
            Some(RollupKind::Zksync)
        } else {
            None
        }
    }
}

pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// Every rollup this server holds state for.
    async fn rollups(&self, ctx: &Context<'_>) -> Vec<Rollup> {
        handles(ctx).iter().cloned().map(Rollup).collect()
    }

    /// One rollup by name (its chain identity, e.g. `starknet-sepolia`).
    async fn rollup(&self, ctx: &Context<'_>, name: String) -> Result<Rollup> {
        find_rollup(ctx, &name).map(Rollup)
    }
}

/// A rollup and everything zkreplay rebuilt for it.
///
/// Starknet and ZKsync share these fields; arguments are 0x-hex scalars that
/// each field validates for the rollup's family (a felt on Starknet, 20-byte
/// addresses and 256-bit keys on ZKsync). Fields that exist in one family only
/// say so in an error on the other.
pub struct Rollup(RollupHandle);

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
        let last = self.0.last_batch().map_err(|e| internal(ctx, e))?;
        let verified = self.verified_batch(ctx)?;
        let tip = match self.0.kind {
            RollupKind::Starknet => None,
            RollupKind::Zksync => self.zksync().checkpoint().map_err(|e| internal(ctx, e))?,
        };
        let cursor = L1Cursor::read(&self.0.store).map_err(|e| internal(ctx, e))?;
        let l1_head = self.0.follow_status.as_ref().and_then(|s| s.l1_head());
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
    }

    /// One batch, or null when it is not applied yet.
    async fn batch(&self, ctx: &Context<'_>, number: Long) -> Result<Option<Batch>> {
        let last = self.0.last_batch().map_err(|e| internal(ctx, e))?;
        if last.is_none_or(|last| number.0 > last) {
            return Ok(None);
        }
        self.load_batch(ctx, number.0)
    }

    /// Batches in order, optionally only those with a given verdict.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn batches(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: default 100, at most 1000.")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge of the previous page.")] after: Option<String>,
        verdict: Option<Verdict>,
    ) -> Result<BatchConnection> {
        self.page(ctx, first, after, verdict)
    }

    /// Batches whose audit did not match: the sequencer-honesty findings.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn findings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: default 100, at most 1000.")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge of the previous page.")] after: Option<String>,
    ) -> Result<BatchConnection> {
        self.page(ctx, first, after, Some(Verdict::Mismatch))
    }

    /// A storage slot's value as of `atBatch` (default: the last verified batch).
    /// Starknet: `address` and `key` are felts. ZKsync: `address` is 20 bytes and
    /// `key` the Solidity slot (the tree leaf is its derived key
    /// `blake2s(12 zero bytes ‖ address ‖ key)`).
    async fn storage(
        &self,
        ctx: &Context<'_>,
        address: AddressScalar,
        key: Word,
        at_batch: Option<Long>,
    ) -> Result<Word> {
        let batch = self.resolve_batch(ctx, at_batch)?;
        match self.0.kind {
            RollupKind::Starknet => {
                let (address, key) = (
                    address.starknet().map_err(Error::new)?,
                    key.starknet("key").map_err(Error::new)?,
                );
                let value = self
                    .starknet()
                    .storage_at(&address, &key, batch)
                    .map_err(|e| query_error(ctx, e))?;
                Ok(Word(B256::from(value.to_bytes_be())))
            }
            RollupKind::Zksync => {
                let address = address.zksync().map_err(Error::new)?;
                self.zksync()
                    .storage_at(&address, &key.0, batch)
                    .map(Word)
                    .map_err(|e| zksync_error(ctx, e))
            }
        }
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
        let batch = self.resolve_batch(ctx, at_batch)?;
        match self.0.kind {
            RollupKind::Starknet => {
                let address = address.starknet().map_err(Error::new)?;
                let contract = self
                    .starknet()
                    .contract_at(&address, batch)
                    .map_err(|e| query_error(ctx, e))?;
                Ok(BigInt(U256::from_be_bytes(contract.nonce.to_bytes_be())))
            }
            RollupKind::Zksync => Ok(BigInt(self.zksync_nonces(ctx, address, batch)?.transaction)),
        }
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
        let batch = self.resolve_batch(ctx, at_batch)?;
        Ok(BigInt(self.zksync_nonces(ctx, address, batch)?.deployment))
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
        let batch = self.resolve_batch(ctx, at_batch)?;
        let contract = self
            .starknet()
            .contract_at(&address, batch)
            .map_err(|e| query_error(ctx, e))?;
        Ok(FeltScalar(contract.class_hash))
    }

    /// A token balance as of `atBatch` (default: the last verified batch).
    ///
    /// Starknet: `token` is `ETH`, `STRK` or an ERC-20 address; the balance is the
    /// u256 at `pedersen(sn_keccak("ERC20_balances"), account)` (low 128 bits) and
    /// the next slot (high). ZKsync: `token` is `ETH` (the L2BaseToken system
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
                let batch = self.resolve_batch(ctx, at_batch)?;
                self.starknet_balance(ctx, &token, &account, batch)
            }
            RollupKind::Zksync => {
                let (token, position) = zksync_token(&token, balance_slot)?;
                let account = account.zksync().map_err(Error::new)?;
                let batch = self.resolve_batch(ctx, at_batch)?;
                let slot = mapping_slot(&account, &position);
                let value = self
                    .zksync()
                    .storage_at(&token, &slot, batch)
                    .map_err(|e| zksync_error(ctx, e))?;
                Ok(BigInt(U256::from_be_bytes(value.0)))
            }
        }
    }

    /// A storage value with its Merkle proof against the state root of `atBatch`
    /// (default: the last verified batch), checkable without trusting this server:
    /// a `StarknetProof` or a `ZksyncProof` (see each type for the steps).
    async fn proof(
        &self,
        ctx: &Context<'_>,
        address: AddressScalar,
        key: Word,
        at_batch: Option<Long>,
    ) -> Result<StorageProof> {
        let batch = self.resolve_batch(ctx, at_batch)?;
        match self.0.kind {
            RollupKind::Starknet => {
                let (address, key) = (
                    address.starknet().map_err(Error::new)?,
                    key.starknet("key").map_err(Error::new)?,
                );
                let proof = self
                    .starknet()
                    .storage_proof(&address, &key, batch)
                    .map_err(|e| query_error(ctx, e))?;
                Ok(StorageProof::Starknet(StarknetProof::from(proof)))
            }
            RollupKind::Zksync => {
                let address = address.zksync().map_err(Error::new)?;
                let proof = self
                    .zksync()
                    .storage_proof(&address, &key.0, batch)
                    .map_err(|e| zksync_error(ctx, e))?;
                Ok(StorageProof::Zksync(ZksyncProof::from(proof)))
            }
        }
    }
}

impl Rollup {
    fn starknet(&self) -> StarknetReader<'_> {
        StarknetReader::new(&self.0.store)
    }

    fn zksync(&self) -> ZksyncReader<'_> {
        ZksyncReader::new(&self.0.store)
    }

    /// The verified pointer. Starknet: the audits' pointer. ZKsync: the audits'
    /// pointer when the store has audits (a follower wrote them, genesis
    /// included), else the engine's checkpoint, which applies the same rule to
    /// the roots alone (stores built by `zksync apply`).
    fn verified_batch(&self, ctx: &Context<'_>) -> Result<Option<u64>> {
        let store = &self.0.store;
        if self.0.kind == RollupKind::Zksync
            && BatchAudit::read(store, 0)
                .map_err(|e| internal(ctx, e))?
                .is_none()
        {
            return Ok(self
                .zksync()
                .checkpoint()
                .map_err(|e| internal(ctx, e))?
                .map(|c| c.verified_and_executed()));
        }
        BatchAudit::verified_batch(store).map_err(|e| internal(ctx, e))
    }

    fn resolve_batch(&self, ctx: &Context<'_>, at_batch: Option<Long>) -> Result<u64> {
        match at_batch {
            Some(batch) => Ok(batch.0),
            None => self.verified_batch(ctx)?.ok_or_else(|| {
                Error::new("no batch is verified yet; pass atBatch to read unverified state")
            }),
        }
    }

    fn starknet_balance(
        &self,
        ctx: &Context<'_>,
        token: &Felt,
        account: &Felt,
        batch: u64,
    ) -> Result<BigInt> {
        let slot = erc20_balance_slot(account);
        let reader = self.starknet();
        let low = reader
            .storage_at(token, &slot, batch)
            .map_err(|e| query_error(ctx, e))?;
        let high = reader
            .storage_at(token, &(slot + Felt::ONE), batch)
            .map_err(|e| query_error(ctx, e))?;
        let (low, high) = (
            U256::from_be_bytes(low.to_bytes_be()),
            U256::from_be_bytes(high.to_bytes_be()),
        );
        if low >> 128 != U256::ZERO || high >> 128 != U256::ZERO {
            return Err(Error::new(
                "the balance slots do not hold a u256 (a limb exceeds 128 bits)",
            ));
        }
        Ok(BigInt((high << 128) | low))
    }

    fn zksync_nonces(
        &self,
        ctx: &Context<'_>,
        address: AddressScalar,
        batch: u64,
    ) -> Result<Nonces> {
        let address = address.zksync().map_err(Error::new)?;
        let raw = self
            .zksync()
            .storage_at(&NONCE_HOLDER, &nonce_slot(&address), batch)
            .map_err(|e| zksync_error(ctx, e))?;
        Ok(Nonces::unpack(&raw))
    }

    /// The batch's roots, audit and L1 provenance; `None` when the store has no record of it.
    fn load_batch(&self, ctx: &Context<'_>, number: u64) -> Result<Option<Batch>> {
        let store = &self.0.store;
        let audit = BatchAudit::read(store, number).map_err(|e| internal(ctx, e))?;
        let l1 = L1BatchRecord::read(store, number).map_err(|e| internal(ctx, e))?;
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
            da_mode: l1.as_ref().map(|r| r.da_mode),
            blob_count: l1.as_ref().map(|r| count(r.blob_count)),
            format_version: l1.as_ref().map(|r| r.format_version.clone()),
            l2_block_range: l1
                .as_ref()
                .and_then(|r| r.l2_blocks)
                .map(|(first, last)| BlockRange {
                    first: Long(first),
                    last: Long(last),
                }),
            executed: l1.as_ref().and_then(|r| r.executed),
            state_diff: None,
        };
        match self.0.kind {
            RollupKind::Starknet => {
                let Some(roots) = StarknetState::new(store)
                    .batch_roots(number)
                    .map_err(|e| internal(ctx, e))?
                else {
                    return Ok(None);
                };
                batch.computed_root = Some(format!("{:#x}", roots.global_root));
                batch.contracts_root = Some(FeltScalar(roots.contracts_root));
                batch.classes_root = Some(FeltScalar(roots.classes_root));
                batch.state_diff = l1.as_ref().map(|r| StateDiffSummary {
                    contracts_touched: Some(count(r.contracts_touched)),
                    storage_writes: count(r.storage_writes),
                    classes_declared: Some(count(r.classes_declared)),
                    initial_writes: None,
                    repeated_writes: None,
                });
            }
            RollupKind::Zksync => {
                let Some(record) = read_record(store, number).map_err(|e| internal(ctx, e))? else {
                    return Ok(None);
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
                    let executed = self
                        .zksync()
                        .checkpoint()
                        .map_err(|e| internal(ctx, e))?
                        .is_some_and(|c| number <= c.last_executed);
                    batch.executed = Some(executed);
                }
                // Pubdata names slots by derived key, which hides the contract, and
                // ZKsync has no class declarations: those counts stay null.
                batch.state_diff = Some(StateDiffSummary {
                    contracts_touched: None,
                    storage_writes: count(record.initial_writes + record.repeated_writes),
                    classes_declared: None,
                    initial_writes: Some(count(record.initial_writes)),
                    repeated_writes: Some(count(record.repeated_writes)),
                });
            }
        }
        Ok(Some(batch))
    }

    fn page(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        verdict: Option<Verdict>,
    ) -> Result<BatchConnection> {
        let first = page_size(first)?;
        let start = match after {
            None => 0,
            Some(cursor) => decode_cursor(&cursor)? + 1,
        };
        let mut edges = Vec::new();
        let mut next = start;
        let mut has_next_page = false;
        // Batch records exist for every applied batch of both families (audits may be
        // missing, or outlive an unwind after a crash) and are keyed by big-endian
        // batch number, so a forward scan is batch order.
        'scan: loop {
            let chunk = self
                .0
                .store
                .scan_from(Column::Batches, &keys::batch(next), 256)
                .map_err(|e| internal(ctx, e))?;
            if chunk.is_empty() {
                break;
            }
            for (key, _) in &chunk {
                let number = u64::from_be_bytes(
                    key.as_slice()
                        .try_into()
                        .map_err(|_| internal(ctx, "batch key"))?,
                );
                next = number + 1;
                let Some(batch) = self.load_batch(ctx, number)? else {
                    continue;
                };
                if verdict.is_some_and(|v| v != batch.verdict) {
                    continue;
                }
                if edges.len() == first {
                    has_next_page = true;
                    break 'scan;
                }
                edges.push(BatchEdge {
                    cursor: encode_cursor(number),
                    node: batch,
                });
            }
        }
        let end_cursor = edges.last().map(|e| e.cursor.clone());
        Ok(BatchConnection {
            edges,
            page_info: PageInfo {
                has_next_page,
                end_cursor,
            },
        })
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
    verdict: Verdict,
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

/// A page of batches (Relay connection).
#[derive(SimpleObject)]
pub struct BatchConnection {
    edges: Vec<BatchEdge>,
    page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct BatchEdge {
    /// Opaque cursor; pass it as `after` to continue.
    cursor: String,
    node: Batch,
}

#[derive(SimpleObject)]
pub struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

/// A storage proof of either rollup family.
#[derive(Union)]
pub enum StorageProof {
    Starknet(StarknetProof),
    Zksync(ZksyncProof),
}

/// A Starknet storage value and its proof against a batch's global root: check
/// `storageProof` from `storageRoot` down to the slot, the contract's leaf
/// `h(h(h(classHash, storageRoot), nonce), 0)` through `contractProof` from
/// `contractsRoot`, then `globalRoot` by `globalRootFormula`.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct StarknetProof {
    batch: Long,
    address: FeltScalar,
    key: FeltScalar,
    value: FeltScalar,
    global_root: FeltScalar,
    /// POSEIDON, CONTRACTS_ROOT (pre-v0.14 with no classes) or EMPTY.
    global_root_formula: String,
    contracts_root: FeltScalar,
    classes_root: FeltScalar,
    class_hash: FeltScalar,
    nonce: FeltScalar,
    storage_root: FeltScalar,
    #[graphql(skip)]
    contract_nodes: Vec<ProofNode>,
    #[graphql(skip)]
    storage_nodes: Vec<ProofNode>,
}

#[ComplexObject]
impl StarknetProof {
    /// Contracts-trie nodes from `contractsRoot` down to the contract's leaf.
    async fn contract_proof(&self) -> Vec<ProofStep> {
        self.contract_nodes.iter().map(ProofStep::from).collect()
    }

    /// Storage-trie nodes from `storageRoot` down to the slot.
    async fn storage_proof(&self) -> Vec<ProofStep> {
        self.storage_nodes.iter().map(ProofStep::from).collect()
    }
}

/// A ZKsync storage value and its Merkle proof against the batch's state root
/// (the Blake2s-256 sparse tree of depth 256). To verify:
///
/// 1. `derivedKey = blake2s(12 zero bytes ‖ address ‖ key)`; the tree key `k` is
///    `derivedKey` read as a little-endian 256-bit number.
/// 2. leaf = `blake2s(leafIndex as u64 big-endian ‖ value)`; an absent slot has
///    `leafIndex` 0 and `value` 0, i.e. the empty leaf `blake2s(40 zero bytes)`.
/// 3. `EMPTY[0]` = the empty leaf, `EMPTY[h+1] = blake2s(EMPTY[h] ‖ EMPTY[h])`.
/// 4. With `n = len(merklePath)`, the sibling at height `i` (0 = leaf level) is
///    `EMPTY[i]` for `i < 256 - n` and `merklePath[i - (256 - n)]` otherwise.
/// 5. For `i` in 0..256: `node = blake2s(node ‖ sibling)` when bit `i` of `k` is
///    0, else `blake2s(sibling ‖ node)` (bit 255 chooses the side at the root).
///    The result must equal `root`, and `root` the root L1 accepted for `batch`.
#[derive(SimpleObject)]
pub struct ZksyncProof {
    batch: Long,
    address: AddressScalar,
    key: Bytes32,
    derived_key: Bytes32,
    /// Enumeration index of the slot's leaf; 0 when the slot was never written.
    leaf_index: Long,
    value: Bytes32,
    /// The batch's state root as computed by zkreplay (compare with L1's).
    root: Bytes32,
    /// Siblings from the leaf level up to the root's children, with the leading
    /// (leaf-side) empty-subtree hashes left out (zksync-era's `merkle_path` order).
    merkle_path: Vec<Bytes32>,
}

impl From<ZksyncStorageProof> for ZksyncProof {
    fn from(p: ZksyncStorageProof) -> Self {
        let mut address = B256::ZERO;
        address[12..].copy_from_slice(p.address.as_slice());
        ZksyncProof {
            batch: Long(p.batch),
            address: AddressScalar(address),
            key: Bytes32(p.key),
            derived_key: Bytes32(p.derived_key),
            leaf_index: Long(p.leaf_index),
            value: Bytes32(p.value),
            root: Bytes32(p.root),
            merkle_path: p.merkle_path.into_iter().map(Bytes32).collect(),
        }
    }
}

impl From<StarknetStorageProof> for StarknetProof {
    fn from(p: StarknetStorageProof) -> Self {
        StarknetProof {
            batch: Long(p.batch),
            address: FeltScalar(p.address),
            key: FeltScalar(p.key),
            value: FeltScalar(p.value),
            global_root: FeltScalar(p.global_root),
            global_root_formula: serde_json::to_value(p.global_root_formula)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            contracts_root: FeltScalar(p.contracts_root),
            classes_root: FeltScalar(p.classes_root),
            class_hash: FeltScalar(p.class_hash),
            nonce: FeltScalar(p.nonce),
            storage_root: FeltScalar(p.storage_root),
            contract_nodes: p.contract_proof,
            storage_nodes: p.storage_proof,
        }
    }
}

/// One trie node on a proof path: binary (`left`, `right`) or edge (`child`, `path`, `length`).
#[derive(SimpleObject)]
pub struct ProofStep {
    left: Option<FeltScalar>,
    right: Option<FeltScalar>,
    child: Option<FeltScalar>,
    path: Option<FeltScalar>,
    length: Option<i32>,
}

impl From<&ProofNode> for ProofStep {
    fn from(node: &ProofNode) -> Self {
        match node {
            ProofNode::Binary { left, right } => ProofStep {
                left: Some(FeltScalar(*left)),
                right: Some(FeltScalar(*right)),
                child: None,
                path: None,
                length: None,
            },
            ProofNode::Edge { child, path, len } => ProofStep {
                left: None,
                right: None,
                child: Some(FeltScalar(*child)),
                path: Some(FeltScalar(*path)),
                length: Some(*len as i32),
            },
        }
    }
}

pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Emits each batch once it is committed (the store is polled, so nothing
    /// uncommitted is ever announced).
    async fn batch_applied(
        &self,
        ctx: &Context<'_>,
        rollup: String,
    ) -> Result<impl Stream<Item = Long>> {
        let handle = find_rollup(ctx, &rollup)?;
        let start = handle.last_batch().ok().flatten().map_or(0, |b| b + 1);
        Ok(futures_util::stream::unfold(
            (handle, start),
            |(handle, next)| async move {
                loop {
                    let _ = handle.store.catch_up();
                    if let Ok(Some(last)) = handle.last_batch()
                        && last >= next
                    {
                        return Some((Long(next), (handle, next + 1)));
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            },
        ))
    }
}

fn handles<'c>(ctx: &Context<'c>) -> &'c Arc<Vec<RollupHandle>> {
    ctx.data_unchecked::<Arc<Vec<RollupHandle>>>()
}

fn find_rollup(ctx: &Context<'_>, name: &str) -> Result<RollupHandle> {
    let all = handles(ctx);
    all.iter().find(|h| h.name == name).cloned().ok_or_else(|| {
        let known: Vec<&str> = all.iter().map(|h| h.name.as_str()).collect();
        Error::new(format!(
            "unknown rollup {name:?}; known rollups: {}",
            known.join(", ")
        ))
    })
}

/// Logs an internal failure with the request id and returns an opaque error.
fn internal(ctx: &Context<'_>, error: impl std::fmt::Display) -> Error {
    let id = ctx.data_opt::<RequestId>().map_or("-", |r| r.0.as_str());
    tracing::error!(request_id = id, %error, "internal error while resolving a query");
    Error::new(format!("internal error (request id {id})"))
}

fn query_error(ctx: &Context<'_>, error: QueryError) -> Error {
    match error {
        QueryError::BatchNotApplied { .. } => Error::new(error.to_string()),
        other => internal(ctx, other),
    }
}

fn zksync_error(ctx: &Context<'_>, error: ZksyncQueryError) -> Error {
    match error {
        ZksyncQueryError::BatchNotApplied { .. } => Error::new(error.to_string()),
        other => internal(ctx, other),
    }
}

/// A count as a GraphQL `Int` (counts per batch are far below 2^31; saturate rather than wrap).
fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn page_size(first: Option<i32>) -> Result<usize> {
    match first {
        None => Ok(DEFAULT_PAGE),
        Some(n) if n >= 0 && n as usize <= MAX_PAGE => Ok(n as usize),
        Some(n) => Err(Error::new(format!(
            "first must be between 0 and {MAX_PAGE}, got {n}"
        ))),
    }
}

fn page_cost(first: Option<i32>, child_complexity: usize) -> usize {
    let first = first.map_or(DEFAULT_PAGE, |n| n.clamp(0, i32::MAX) as usize);
    first.saturating_mul(child_complexity.max(1))
}

fn encode_cursor(batch: u64) -> String {
    hex::encode(format!("batch:{batch}"))
}

fn decode_cursor(cursor: &str) -> Result<u64> {
    hex::decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("batch:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| Error::new(format!("invalid cursor {cursor:?}")))
}

/// The storage slot of an account's balance in an OpenZeppelin/StarkGate ERC-20.
pub fn erc20_balance_slot(account: &Felt) -> Felt {
    pedersen(&sn_keccak(b"ERC20_balances"), account)
}

/// Starknet's keccak: keccak-256 truncated to 250 bits (storage variable names).
pub fn sn_keccak(data: &[u8]) -> Felt {
    let mut hash = alloy_primitives::keccak256(data).0;
    hash[0] &= 0x03;
    Felt::from_bytes_be(&hash)
}

/// The ETH fee token (StarkGate), the same address on mainnet and Sepolia.
pub const ETH_TOKEN: &str = "0x49d36570d4e46f48e99674bd3fcc84644ddd6b96f7c741b1562b82f9e004dc7";
/// The STRK fee token, the same address on mainnet and Sepolia.
pub const STRK_TOKEN: &str = "0x4718f5a0fc34cc1af16a1cdee98ffb20c31f5cd61d6ab07201858f4287c938d";

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
    let word = super::scalars::parse_hex_word(token)
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

/// Fee tokens known by name.
fn starknet_token(name: &str) -> Result<Felt> {
    match name {
        "ETH" => super::scalars::parse_felt(ETH_TOKEN).map_err(Error::new),
        "STRK" => super::scalars::parse_felt(STRK_TOKEN).map_err(Error::new),
        other => super::scalars::parse_felt(other).map_err(|e| {
            Error::new(format!(
                "token must be ETH, STRK or a contract address: {e}"
            ))
        }),
    }
}
