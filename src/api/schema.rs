//! The GraphQL schema: rollups, batches and their audit verdicts, state at any
//! committed batch, and Merkle proofs a client can check on its own.
//!
//! Resolvers read RocksDB directly (point lookups of a few microseconds), so
//! they never hold locks across awaits. Client mistakes (bad hex, unknown
//! rollup, a batch not applied yet) come back as clear errors; store failures
//! are logged with the request id and reach the client only as that id.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::U256;
use async_graphql::{
    ComplexObject, Context, EmptyMutation, Enum, Error, Object, Result, Schema, SimpleObject,
    Subscription,
};
use futures_util::Stream;
use starknet_types_core::felt::Felt;

use super::scalars::{BigInt, FeltScalar, Long};
use crate::audit::{BatchAudit, Verdict};
use crate::rollup::starknet::hash::pedersen;
use crate::rollup::starknet::query::{QueryError, StarknetReader, StorageProof};
use crate::rollup::starknet::trie::ProofNode;
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

    /// Replay progress and the verified pointer.
    async fn sync(&self, ctx: &Context<'_>) -> Result<SyncStatus> {
        let last = self.reader().last_batch().map_err(|e| internal(ctx, e))?;
        let verified = BatchAudit::verified_batch(&self.0.store).map_err(|e| internal(ctx, e))?;
        Ok(SyncStatus {
            last_applied_batch: last.map(Long),
            verified_batch: verified.map(Long),
        })
    }

    /// One batch, or null when it is not applied yet.
    async fn batch(&self, ctx: &Context<'_>, number: Long) -> Result<Option<Batch>> {
        let last = self.reader().last_batch().map_err(|e| internal(ctx, e))?;
        if last.is_none_or(|last| number.0 > last) {
            return Ok(None);
        }
        self.load_batch(ctx, number.0).map(Some)
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
    async fn storage(
        &self,
        ctx: &Context<'_>,
        address: FeltScalar,
        key: FeltScalar,
        at_batch: Option<Long>,
    ) -> Result<FeltScalar> {
        let batch = self.resolve_batch(ctx, at_batch)?;
        let value = self
            .reader()
            .storage_at(&address.0, &key.0, batch)
            .map_err(|e| query_error(ctx, e))?;
        Ok(FeltScalar(value))
    }

    /// A contract's nonce as of `atBatch` (default: the last verified batch).
    async fn nonce(
        &self,
        ctx: &Context<'_>,
        address: FeltScalar,
        at_batch: Option<Long>,
    ) -> Result<FeltScalar> {
        let batch = self.resolve_batch(ctx, at_batch)?;
        let contract = self
            .reader()
            .contract_at(&address.0, batch)
            .map_err(|e| query_error(ctx, e))?;
        Ok(FeltScalar(contract.nonce))
    }

    /// A contract's class hash as of `atBatch` (0 when not deployed).
    async fn class_hash(
        &self,
        ctx: &Context<'_>,
        address: FeltScalar,
        at_batch: Option<Long>,
    ) -> Result<FeltScalar> {
        let batch = self.resolve_batch(ctx, at_batch)?;
        let contract = self
            .reader()
            .contract_at(&address.0, batch)
            .map_err(|e| query_error(ctx, e))?;
        Ok(FeltScalar(contract.class_hash))
    }

    /// An ERC-20 balance as of `atBatch`: the u256 at `pedersen(sn_keccak("ERC20_balances"), account)`
    /// (low 128 bits) and the next slot (high). `token` is `ETH`, `STRK` or a token address.
    async fn balance(
        &self,
        ctx: &Context<'_>,
        token: String,
        account: FeltScalar,
        at_batch: Option<Long>,
    ) -> Result<BigInt> {
        let token = starknet_token(&token)?;
        let batch = self.resolve_batch(ctx, at_batch)?;
        let slot = erc20_balance_slot(&account.0);
        let reader = self.reader();
        let low = reader
            .storage_at(&token, &slot, batch)
            .map_err(|e| query_error(ctx, e))?;
        let high = reader
            .storage_at(&token, &(slot + Felt::ONE), batch)
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

    /// A storage value with its Merkle proof against the global root of `atBatch`
    /// (default: the last verified batch). See the README for the verification steps.
    async fn proof(
        &self,
        ctx: &Context<'_>,
        address: FeltScalar,
        key: FeltScalar,
        at_batch: Option<Long>,
    ) -> Result<Proof> {
        let batch = self.resolve_batch(ctx, at_batch)?;
        let proof = self
            .reader()
            .storage_proof(&address.0, &key.0, batch)
            .map_err(|e| query_error(ctx, e))?;
        Ok(Proof::from(proof))
    }
}

impl Rollup {
    fn reader(&self) -> StarknetReader<'_> {
        StarknetReader::new(&self.0.store)
    }

    fn resolve_batch(&self, ctx: &Context<'_>, at_batch: Option<Long>) -> Result<u64> {
        if self.0.kind != RollupKind::Starknet {
            return Err(Error::new(
                "state queries are served for Starknet rollups only in this version",
            ));
        }
        match at_batch {
            Some(batch) => Ok(batch.0),
            None => BatchAudit::verified_batch(&self.0.store)
                .map_err(|e| internal(ctx, e))?
                .ok_or_else(|| {
                    Error::new("no batch is verified yet; pass atBatch to read unverified state")
                }),
        }
    }

    fn load_batch(&self, ctx: &Context<'_>, number: u64) -> Result<Batch> {
        let audit = BatchAudit::read(&self.0.store, number).map_err(|e| internal(ctx, e))?;
        let roots = crate::rollup::starknet::state::StarknetState::new(&self.0.store)
            .batch_roots(number)
            .map_err(|e| internal(ctx, e))?;
        Ok(Batch {
            number: Long(number),
            claimed_root: audit.as_ref().and_then(|a| a.claimed_root.clone()),
            computed_root: roots.as_ref().map(|r| format!("{:#x}", r.global_root)),
            contracts_root: roots.as_ref().map(|r| FeltScalar(r.contracts_root)),
            classes_root: roots.as_ref().map(|r| FeltScalar(r.classes_root)),
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
        })
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
        // Audits are keyed by big-endian batch number, so a forward scan is batch order.
        'scan: loop {
            let chunk = self
                .0
                .store
                .scan_from(Column::Audits, &keys::batch(next), 256)
                .map_err(|e| internal(ctx, e))?;
            if chunk.is_empty() {
                break;
            }
            for (key, value) in &chunk {
                let number = u64::from_be_bytes(
                    key.as_slice()
                        .try_into()
                        .map_err(|_| internal(ctx, "audit key"))?,
                );
                next = number + 1;
                let audit: BatchAudit =
                    serde_json::from_slice(value).map_err(|e| internal(ctx, e))?;
                if verdict.is_some_and(|v| v != audit.verdict) {
                    continue;
                }
                if edges.len() == first {
                    has_next_page = true;
                    break 'scan;
                }
                edges.push(BatchEdge {
                    cursor: encode_cursor(number),
                    node: self.load_batch(ctx, number)?,
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
    /// The last batch of the unbroken run of batches whose computed root matched L1.
    verified_batch: Option<Long>,
}

/// A batch, its roots and its audit.
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

/// A storage value and its proof against a batch's global root.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Proof {
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
impl Proof {
    /// Contracts-trie nodes from `contractsRoot` down to the contract's leaf.
    async fn contract_proof(&self) -> Vec<ProofStep> {
        self.contract_nodes.iter().map(ProofStep::from).collect()
    }

    /// Storage-trie nodes from `storageRoot` down to the slot.
    async fn storage_proof(&self) -> Vec<ProofStep> {
        self.storage_nodes.iter().map(ProofStep::from).collect()
    }
}

impl From<StorageProof> for Proof {
    fn from(p: StorageProof) -> Self {
        Proof {
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
        let start = StarknetReader::new(&handle.store)
            .last_batch()
            .ok()
            .flatten()
            .map_or(0, |b| b + 1);
        Ok(futures_util::stream::unfold(
            (handle, start),
            |(handle, next)| async move {
                loop {
                    let _ = handle.store.catch_up();
                    if let Ok(Some(last)) = StarknetReader::new(&handle.store).last_batch()
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
