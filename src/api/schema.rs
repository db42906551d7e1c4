//! The GraphQL schema: rollups, batches and their audit verdicts, state at any
//! committed batch, and Merkle proofs a client can check on its own.
//!
//! Each concern has its file: [`super::rollup`] (a rollup's state fields),
//! [`super::batch`] (batch records and verdicts), [`super::paging`] (pages of
//! batches and their cursors), [`super::proof`] (storage proofs) and
//! [`super::subscription`]. Resolvers read RocksDB through
//! [`Budget::run`], which keeps them to the request's deadline and off the
//! async workers when the request is large. Client mistakes (bad hex, unknown
//! rollup, a batch not applied yet) come back as clear errors; store failures
//! are logged with the request id and reach the client only as that id.

use std::sync::Arc;

use async_graphql::{Context, EmptyMutation, Error, Object, Result, Schema};

use super::budget::Budget;
use super::rollup::Rollup;
use super::subscription::{BatchWatch, SubscriptionRoot};
pub use crate::chain::RollupKind;
use crate::follow::FollowStatus;
use crate::rollup::starknet::query::{QueryError, StarknetReader};
use crate::rollup::zksync::query::{QueryError as ZksyncQueryError, ZksyncReader};
use crate::store::Store;

/// The served schema type.
pub type ApiSchema = Schema<QueryRoot, EmptyMutation, SubscriptionRoot>;

/// Builds the schema over a set of rollup stores. Its limits (depth, cost,
/// deadline) are applied by the server in front of it ([`super::gate`]).
pub fn build_schema(rollups: Vec<RollupHandle>) -> ApiSchema {
    Schema::build(QueryRoot, EmptyMutation, SubscriptionRoot)
        .data(Arc::new(rollups))
        .data(BatchWatch::default())
        .finish()
}

/// A rollup served by this process.
#[derive(Clone)]
pub struct RollupHandle {
    /// Name the rollup is served under (its chain config or store name).
    pub name: String,
    /// Rollup family, which selects the store reader.
    pub kind: RollupKind,
    /// The rollup's store.
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

    /// Records the settlement layer's chain id (served as `l1ChainId`).
    pub fn with_l1_chain_id(mut self, chain_id: u64) -> Self {
        self.l1_chain_id = Some(chain_id);
        self
    }

    /// Attaches the live figures of a follower running in this process.
    pub fn with_follow_status(mut self, status: Arc<FollowStatus>) -> Self {
        self.follow_status = Some(status);
        self
    }

    /// The last applied batch, whatever the rollup family.
    pub(crate) fn last_batch(&self) -> Result<Option<u64>, String> {
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

/// Root of every GraphQL query (fields: see its `#[Object]` impl).
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

fn handles<'c>(ctx: &Context<'c>) -> &'c Arc<Vec<RollupHandle>> {
    ctx.data_unchecked::<Arc<Vec<RollupHandle>>>()
}

pub(crate) fn find_rollup(ctx: &Context<'_>, name: &str) -> Result<RollupHandle> {
    let all = handles(ctx);
    all.iter().find(|h| h.name == name).cloned().ok_or_else(|| {
        let known: Vec<&str> = all.iter().map(|h| h.name.as_str()).collect();
        Error::new(format!(
            "unknown rollup {name:?}; known rollups: {}",
            known.join(", ")
        ))
    })
}

/// A Starknet read error: the caller's mistake in clear, a store failure opaque.
pub(crate) fn query_error(budget: &Budget, error: QueryError) -> Error {
    if error.is_client_error() {
        Error::new(error.to_string())
    } else {
        budget.internal(error)
    }
}

/// A ZKsync read error: the caller's mistake in clear, a store failure opaque.
pub(crate) fn zksync_error(budget: &Budget, error: ZksyncQueryError) -> Error {
    match error {
        ZksyncQueryError::BatchNotApplied { .. } => Error::new(error.to_string()),
        other => budget.internal(other),
    }
}

/// A count as a GraphQL `Int` (counts per batch are far below 2^31; saturate rather than wrap).
pub(crate) fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
