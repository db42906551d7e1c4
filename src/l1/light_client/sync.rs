//! [`LightClient`]: the light-client store kept current from a beacon node.
//! From a trusted beacon block root it bootstraps, applies the updates of
//! every sync committee period up to the current one (each signed by the
//! committee the previous one proved), then the newest finality update. The
//! finalized header's execution block is what `follow --beacon-light-client`
//! anchors its header chain on, and the follower's `finalized` target never
//! passes it until a newer finality update verifies
//! ([`crate::l1::verified::FinalityOracle`]).
//!
//! No forced updates: the spec's `process_light_client_store_force_update`
//! takes an unfinalized header as finalized after a period without
//! finality, which keeps a wallet live but would anchor an audit on a block
//! that may still be reorged. Without finality the follower waits.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy_primitives::B256;
use ssz_types::typenum::Unsigned;
use tokio::sync::Mutex;

use super::api::{ApiError, LightClientApi, MAX_REQUEST_UPDATES};
use super::types::root;
use super::{ChainSpec, LightClientError, LightClientStore};
use crate::l1::L1Error;
use crate::l1::header_chain::L1Checkpoint;
use crate::l1::verified::FinalityOracle;
use crate::l1::verify::VerifyError;

/// Where the current slot comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// The system clock and the spec's genesis time.
    System,
    /// A fixed slot (tests replaying recorded data).
    Fixed(u64),
}

/// What the light client proves: a finalized beacon block and its execution block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finalized {
    /// Beacon slot of the finalized block.
    pub slot: u64,
    /// `hash_tree_root` of its beacon block header.
    pub beacon_root: B256,
    /// `hash_tree_root` of the execution payload header (what the spec tests check).
    pub execution_root: B256,
    /// Execution block number, from the proved payload header.
    pub block_number: u64,
    /// Execution block hash, from the proved payload header.
    pub block_hash: B256,
}

/// See the module documentation.
#[derive(Debug)]
pub struct LightClient<N: Unsigned> {
    api: LightClientApi,
    spec: ChainSpec,
    clock: Clock,
    store: Mutex<LightClientStore<N>>,
    /// When the last sync ran and what it proved: a poll more often than
    /// once a slot is answered from here (nothing newer can be signed).
    last: std::sync::Mutex<Option<(Instant, Finalized)>>,
}

impl<N: Unsigned + Clone + PartialEq + Send + Sync + 'static> LightClient<N> {
    /// Bootstraps from `trusted_block_root`: the bootstrap must be of that
    /// block, and its sync committee proved in that block's state.
    pub async fn bootstrap(
        api: LightClientApi,
        spec: ChainSpec,
        clock: Clock,
        trusted_block_root: B256,
    ) -> Result<Self, SyncError> {
        let bootstrap = api.bootstrap::<N>(&spec, trusted_block_root).await?;
        let store = LightClientStore::bootstrap(&spec, trusted_block_root, bootstrap)?;
        tracing::info!(slot = store.finalized_header.beacon.slot, root = %trusted_block_root, "beacon light client bootstrapped");
        Ok(Self {
            api,
            spec,
            clock,
            store: Mutex::new(store),
            last: std::sync::Mutex::new(None),
        })
    }

    /// The network constants in use.
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// The current beacon slot, from the clock and `genesis_time`.
    pub fn current_slot(&self) -> u64 {
        match self.clock {
            Clock::Fixed(slot) => slot,
            Clock::System => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or(Duration::ZERO)
                    .as_secs();
                self.spec.slot_at(now)
            }
        }
    }

    /// What the store holds as finalized now.
    pub async fn finalized(&self) -> Finalized {
        finalized(&*self.store.lock().await)
    }

    /// Brings the store to the current sync committee period with the
    /// node's updates, then applies its newest finality update. Any update
    /// that does not verify is refused (an error naming what failed); an
    /// update the store already has is skipped.
    pub async fn sync(&self) -> Result<Finalized, SyncError> {
        let mut store = self.store.lock().await;
        let current_slot = self.current_slot();
        let current_period = self.spec.period(current_slot);
        loop {
            let store_period = self.spec.period(store.finalized_header.beacon.slot);
            if store_period >= current_period {
                break;
            }
            let count = current_period
                .saturating_sub(store_period)
                .saturating_add(1)
                .min(MAX_REQUEST_UPDATES);
            let updates = self
                .api
                .updates::<N>(&self.spec, store_period, count)
                .await?;
            let before = progress(&store);
            for update in updates {
                apply(&mut store, &self.spec, update, current_slot)?;
            }
            if progress(&store) == before {
                break;
            }
        }
        let reached = self.spec.period(store.finalized_header.beacon.slot);
        // One period of lag is normal at a period's start (finality trails
        // the head by two epochs); more means the node withheld updates, and
        // no committee the store knows could have signed a current update.
        if reached.saturating_add(1) < current_period {
            return Err(SyncError::Behind {
                reached,
                current: current_period,
            });
        }
        let update = self.api.finality_update::<N>(&self.spec).await?;
        apply(&mut store, &self.spec, update, current_slot)?;
        let proved = finalized(&store);
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), proved));
        Ok(proved)
    }

    /// [`Self::sync`], at most once a slot.
    pub async fn refresh(&self) -> Result<Finalized, SyncError> {
        let slot = Duration::from_secs(self.spec.seconds_per_slot.max(1));
        let recent = *self.last.lock().unwrap_or_else(|p| p.into_inner());
        match recent {
            Some((at, proved)) if at.elapsed() < slot => Ok(proved),
            _ => self.sync().await,
        }
    }
}

/// The store's progress: a sync round that changes neither made no headway.
fn progress<N: Unsigned>(store: &LightClientStore<N>) -> (u64, bool) {
    (
        store.finalized_header.beacon.slot,
        store.next_sync_committee.is_some(),
    )
}

fn apply<N: Unsigned + Clone + PartialEq>(
    store: &mut LightClientStore<N>,
    spec: &ChainSpec,
    update: super::types::LightClientUpdate<N>,
    current_slot: u64,
) -> Result<(), SyncError> {
    match store.process_update(spec, update, current_slot) {
        Ok(()) | Err(LightClientError::NotNewer { .. }) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

fn finalized<N: Unsigned>(store: &LightClientStore<N>) -> Finalized {
    let header = &store.finalized_header;
    Finalized {
        slot: header.beacon.slot,
        beacon_root: root(&header.beacon),
        execution_root: root(&header.execution),
        block_number: header.execution.block_number,
        block_hash: header.execution.block_hash,
    }
}

impl<N: Unsigned + Clone + PartialEq + Send + Sync + std::fmt::Debug + 'static> FinalityOracle
    for LightClient<N>
{
    fn finalized_block(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<L1Checkpoint, L1Error>> + Send + '_>> {
        Box::pin(async move {
            let proved = self.refresh().await.map_err(L1Error::from)?;
            Ok(L1Checkpoint {
                number: proved.block_number,
                hash: proved.block_hash,
            })
        })
    }
}

/// Why the light client could not prove a finalized block.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    // Not `#[from]`: the cause is in the message, and a `source` too would
    // print it twice in an error chain.
    /// The beacon node's light-client API failed or answered malformed data.
    #[error("beacon light-client API: {0}")]
    Api(ApiError),
    /// The served data does not verify: evidence against the beacon node.
    #[error("the beacon node's light-client data does not verify: {0}")]
    Verify(LightClientError),
    /// The node's updates stop before the current sync-committee period, so the latest finalized block cannot be proved.
    #[error(
        "the beacon node's light-client updates reach sync committee period {reached}, the current period is {current}"
    )]
    Behind {
        /// Last period the updates reach.
        reached: u64,
        /// The current period.
        current: u64,
    },
}

impl From<ApiError> for SyncError {
    fn from(error: ApiError) -> Self {
        SyncError::Api(error)
    }
}

impl From<LightClientError> for SyncError {
    fn from(error: LightClientError) -> Self {
        SyncError::Verify(error)
    }
}

impl From<SyncError> for L1Error {
    /// Transport faults stay retryable, and so does a node whose updates
    /// lag (it may be syncing); anything the node said that does not verify
    /// (or is malformed) is evidence against it.
    fn from(error: SyncError) -> Self {
        match error {
            SyncError::Api(ApiError::L1(error)) => error,
            behind @ SyncError::Behind { .. } => {
                L1Error::Transport(format!("beacon light client: {behind}"))
            }
            other => L1Error::Unverified(VerifyError::LightClient(other.to_string())),
        }
    }
}
