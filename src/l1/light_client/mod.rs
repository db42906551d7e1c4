//! The beacon-chain light client of the consensus specs (`sync-protocol.md`,
//! Altair and later, containers of Deneb and Electra/Fulu): from a trusted beacon block root,
//! a bootstrap gives the sync committee, and each update signed by that
//! committee (BLS aggregate, checked with `blst`) moves the finalized header
//! forward. The finalized header carries an execution payload header proved
//! into the beacon block body, whose `block_hash` becomes a checkpoint of
//! [`super::header_chain`]: what `--beacon-light-client` trusts instead of a
//! hash the user types.
//!
//! Trusted: the starting beacon block root, and that 2/3 of a sync committee
//! (512 validators chosen by the beacon chain) does not sign a false header.
#![warn(clippy::arithmetic_side_effects)]

pub mod api;
pub mod sync;
pub mod types;

use std::num::NonZeroU64;

use alloy_primitives::B256;
use blst::BLST_ERROR;
use blst::min_pk::{AggregatePublicKey, PublicKey, Signature};
use sha2::{Digest, Sha256};
use ssz_types::FixedVector;
use ssz_types::typenum::Unsigned;

use types::{
    BeaconBlockHeader, ForkData, Layout, LightClientBootstrap, LightClientHeader,
    LightClientUpdate, SigningData, SyncCommittee, root,
};

/// Constants of one network and preset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSpec {
    /// `genesis_validators_root` of the network, mixed into every signing domain.
    pub genesis_validators_root: B256,
    /// `(first epoch, fork version)`, in epoch order.
    pub forks: Vec<(u64, [u8; 4])>,
    /// `SLOTS_PER_EPOCH` (32 on mainnet).
    pub slots_per_epoch: u64,
    /// `EPOCHS_PER_SYNC_COMMITTEE_PERIOD` (256 on mainnet).
    pub epochs_per_sync_committee_period: u64,
    /// First epoch of Electra, whose light-client branches are one node
    /// deeper; `u64::MAX` (the spec's `FAR_FUTURE_EPOCH`) when not scheduled.
    pub electra_fork_epoch: u64,
    /// Unix time of slot 0 and the slot length: only to know the current
    /// slot, which bounds the slots an update may claim.
    pub genesis_time: u64,
    /// `SECONDS_PER_SLOT` (12 on mainnet).
    pub seconds_per_slot: u64,
}

impl ChainSpec {
    /// Ethereum mainnet. Fork versions and epochs: consensus-specs
    /// `configs/mainnet.yaml` (`*_FORK_VERSION`, `*_FORK_EPOCH`); slots and
    /// epochs per period: `presets/mainnet/{phase0,altair}.yaml`; genesis
    /// validators root: the mainnet `genesis.ssz` of eth-clients/mainnet, as
    /// served by `/eth/v1/beacon/genesis`.
    pub fn mainnet() -> Self {
        Self {
            genesis_validators_root: alloy_primitives::b256!(
                "4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95"
            ),
            forks: vec![
                (0, [0, 0, 0, 0]),
                (74_240, [1, 0, 0, 0]),
                (144_896, [2, 0, 0, 0]),
                (194_048, [3, 0, 0, 0]),
                (269_568, [4, 0, 0, 0]),
                (364_032, [5, 0, 0, 0]),
                (411_392, [6, 0, 0, 0]),
            ],
            slots_per_epoch: 32,
            epochs_per_sync_committee_period: 256,
            // `ELECTRA_FORK_EPOCH` of `configs/mainnet.yaml` (Pectra).
            electra_fork_epoch: 364_032,
            // `genesis_time` of the mainnet genesis state (eth-clients/mainnet,
            // served by `/eth/v1/beacon/genesis`); `SECONDS_PER_SLOT` of
            // `configs/mainnet.yaml`.
            genesis_time: 1_606_824_023,
            seconds_per_slot: 12,
        }
    }

    /// The container layout (branch depths) at `slot`: the spec's
    /// `*_gindex_at_slot` switch on `ELECTRA_FORK_EPOCH`.
    pub fn layout(&self, slot: u64) -> Layout {
        if self.epoch(slot) >= self.electra_fork_epoch {
            Layout::Electra
        } else {
            Layout::Deneb
        }
    }

    /// The slot at Unix time `now` (0 before genesis).
    pub fn slot_at(&self, now: u64) -> u64 {
        let seconds_per_slot = NonZeroU64::new(self.seconds_per_slot).unwrap_or(NonZeroU64::MIN);
        now.saturating_sub(self.genesis_time) / seconds_per_slot
    }

    /// `(finalized root, current committee, next committee)` generalized
    /// indices and depths at `slot`.
    fn gindices(&self, slot: u64) -> [(u64, usize); 3] {
        match self.layout(slot) {
            Layout::Deneb => [FINALIZED_ROOT, CURRENT_SYNC_COMMITTEE, NEXT_SYNC_COMMITTEE],
            Layout::Electra => [
                FINALIZED_ROOT_ELECTRA,
                CURRENT_SYNC_COMMITTEE_ELECTRA,
                NEXT_SYNC_COMMITTEE_ELECTRA,
            ],
        }
    }

    /// Fork version in force at `slot` (the last fork whose first epoch is at or before it).
    pub fn fork_version(&self, slot: u64) -> [u8; 4] {
        let epoch = self.epoch(slot);
        self.forks
            .iter()
            .rev()
            .find(|(first, _)| *first <= epoch)
            .map_or([0; 4], |(_, version)| *version)
    }

    /// `compute_fork_digest`: the first 4 bytes of the fork data root.
    pub fn fork_digest(&self, version: [u8; 4]) -> [u8; 4] {
        let mut digest = [0; 4];
        digest.copy_from_slice(&self.fork_data_root(version)[..4]);
        digest
    }

    fn fork_data_root(&self, version: [u8; 4]) -> B256 {
        root(&ForkData {
            // Four bytes always fit the four-byte vector.
            current_version: FixedVector::new(version.to_vec()).unwrap_or_default(),
            genesis_validators_root: self.genesis_validators_root,
        })
    }

    /// The epoch of `slot`.
    #[allow(
        clippy::arithmetic_side_effects,
        reason = "divides by the preset's slots per epoch, a nonzero constant of the chain (32 on mainnet), never by input"
    )]
    fn epoch(&self, slot: u64) -> u64 {
        slot / self.slots_per_epoch
    }

    /// The sync committee period of `slot`.
    #[allow(
        clippy::arithmetic_side_effects,
        reason = "divides by the preset's epochs per period, a nonzero constant of the chain (256 on mainnet), never by input"
    )]
    pub fn period(&self, slot: u64) -> u64 {
        self.epoch(slot) / self.epochs_per_sync_committee_period
    }

    /// `compute_domain(DOMAIN_SYNC_COMMITTEE, version, genesis_validators_root)`.
    fn sync_committee_domain(&self, version: [u8; 4]) -> B256 {
        let mut domain = B256::ZERO;
        domain[..4].copy_from_slice(&DOMAIN_SYNC_COMMITTEE);
        domain[4..].copy_from_slice(&self.fork_data_root(version)[..28]);
        domain
    }
}

/// `DOMAIN_SYNC_COMMITTEE` (consensus-specs `specs/altair/beacon-chain.md`).
const DOMAIN_SYNC_COMMITTEE: [u8; 4] = [7, 0, 0, 0];
/// The BLS ciphersuite of Ethereum signatures (consensus-specs `phase0/beacon-chain.md`, BLS signatures).
const BLS_DST: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
/// Generalized indices and depths (consensus-specs `specs/altair/light-client/sync-protocol.md`,
/// `specs/capella/light-client/sync-protocol.md`).
const FINALIZED_ROOT: (u64, usize) = (105, 6);
const CURRENT_SYNC_COMMITTEE: (u64, usize) = (54, 5);
const NEXT_SYNC_COMMITTEE: (u64, usize) = (55, 5);
const EXECUTION_PAYLOAD: (u64, usize) = (25, 4);
/// `FINALIZED_ROOT_GINDEX_ELECTRA` (169), `CURRENT_SYNC_COMMITTEE_GINDEX_ELECTRA`
/// (86), `NEXT_SYNC_COMMITTEE_GINDEX_ELECTRA` (87): consensus-specs
/// `specs/electra/light-client/sync-protocol.md`, "New constants"; depths
/// `floorlog2` of each. The execution payload gindex is unchanged: Electra's
/// `BeaconBlockBody` has 13 fields, still a 16-leaf tree.
const FINALIZED_ROOT_ELECTRA: (u64, usize) = (169, 7);
const CURRENT_SYNC_COMMITTEE_ELECTRA: (u64, usize) = (86, 6);
const NEXT_SYNC_COMMITTEE_ELECTRA: (u64, usize) = (87, 6);
/// `MIN_SYNC_COMMITTEE_PARTICIPANTS` (altair `sync-protocol.md`).
const MIN_PARTICIPANTS: usize = 1;

/// What a light client knows, as the spec's `LightClientStore`.
#[derive(Clone, Debug)]
pub struct LightClientStore<N: Unsigned> {
    /// Latest finalized header proved by a sync committee.
    pub finalized_header: LightClientHeader,
    /// Sync committee of the finalized header's period.
    pub current_sync_committee: SyncCommittee<N>,
    /// Sync committee of the next period, once an update proved it.
    pub next_sync_committee: Option<SyncCommittee<N>>,
    /// Best update seen that could not yet be applied (spec's force-update candidate).
    pub best_valid_update: Option<LightClientUpdate<N>>,
    /// Latest attested header (signed, not yet finalized).
    pub optimistic_header: LightClientHeader,
    /// Most sync-committee participants seen in the previous period.
    pub previous_max_active_participants: usize,
    /// Most sync-committee participants seen in the current period.
    pub current_max_active_participants: usize,
}

impl<N: Unsigned + Clone + PartialEq> LightClientStore<N> {
    /// `initialize_light_client_store`: the bootstrap must be of the block
    /// `trusted_block_root`, and its sync committee proved in that block's state.
    pub fn bootstrap(
        spec: &ChainSpec,
        trusted_block_root: B256,
        bootstrap: LightClientBootstrap<N>,
    ) -> Result<Self, LightClientError> {
        check_header(&bootstrap.header)?;
        let header_root = root(&bootstrap.header.beacon);
        if header_root != trusted_block_root {
            return Err(LightClientError::UntrustedBootstrap {
                root: header_root,
                trusted: trusted_block_root,
            });
        }
        check_branch(
            "current sync committee",
            root(&bootstrap.current_sync_committee),
            &bootstrap.current_sync_committee_branch,
            spec.gindices(bootstrap.header.beacon.slot)[1],
            bootstrap.header.beacon.state_root,
        )?;
        Ok(Self {
            optimistic_header: bootstrap.header.clone(),
            finalized_header: bootstrap.header,
            current_sync_committee: bootstrap.current_sync_committee,
            next_sync_committee: None,
            best_valid_update: None,
            previous_max_active_participants: 0,
            current_max_active_participants: 0,
        })
    }

    /// The finalized execution block: a checkpoint for the header chain.
    pub fn finalized_execution_block(&self) -> (u64, B256) {
        let execution = &self.finalized_header.execution;
        (execution.block_number, execution.block_hash)
    }

    /// `process_light_client_update`.
    pub fn process_update(
        &mut self,
        spec: &ChainSpec,
        update: LightClientUpdate<N>,
        current_slot: u64,
    ) -> Result<(), LightClientError> {
        self.validate(spec, &update, current_slot)?;
        let participants = participants(&update);
        if self
            .best_valid_update
            .as_ref()
            .is_none_or(|best| is_better_update(spec, &update, best))
        {
            self.best_valid_update = Some(update.clone());
        }
        self.current_max_active_participants =
            self.current_max_active_participants.max(participants);
        let safety_threshold = self
            .previous_max_active_participants
            .max(self.current_max_active_participants)
            / 2;
        if participants > safety_threshold
            && update.attested_header.beacon.slot > self.optimistic_header.beacon.slot
        {
            self.optimistic_header = update.attested_header.clone();
        }
        let supermajority = supermajority::<N>(participants);
        let newer_finalized =
            update.finalized_header.beacon.slot > self.finalized_header.beacon.slot;
        let finalizes_next_committee = self.next_sync_committee.is_none()
            && is_sync_committee_update(&update)
            && is_finality_update(&update)
            && spec.period(update.finalized_header.beacon.slot)
                == spec.period(update.attested_header.beacon.slot);
        if supermajority && (newer_finalized || finalizes_next_committee) {
            self.apply(spec, update)?;
            self.best_valid_update = None;
        }
        Ok(())
    }

    /// `process_light_client_store_force_update`: after a sync committee
    /// period without finality, the best update's attested header is taken
    /// as finalized (the spec's liveness rule).
    pub fn force_update(
        &mut self,
        spec: &ChainSpec,
        current_slot: u64,
    ) -> Result<(), LightClientError> {
        // Saturating: a finalized slot near u64::MAX (from a signed update)
        // leaves no time out, as it should.
        let timeout = spec
            .slots_per_epoch
            .saturating_mul(spec.epochs_per_sync_committee_period);
        if current_slot <= self.finalized_header.beacon.slot.saturating_add(timeout) {
            return Ok(());
        }
        let Some(mut best) = self.best_valid_update.take() else {
            return Ok(());
        };
        if best.finalized_header.beacon.slot <= self.finalized_header.beacon.slot {
            best.finalized_header = best.attested_header.clone();
        }
        self.apply(spec, best)
    }

    fn brings_next_committee(&self, spec: &ChainSpec, update: &LightClientUpdate<N>) -> bool {
        self.next_sync_committee.is_none()
            && is_sync_committee_update(update)
            && spec.period(update.attested_header.beacon.slot)
                == spec.period(self.finalized_header.beacon.slot)
    }

    /// `validate_light_client_update`.
    fn validate(
        &self,
        spec: &ChainSpec,
        update: &LightClientUpdate<N>,
        current_slot: u64,
    ) -> Result<(), LightClientError> {
        let invalid = |detail: String| LightClientError::InvalidUpdate(detail);
        let participants = participants(update);
        if participants < MIN_PARTICIPANTS {
            return Err(invalid("no sync committee participant".into()));
        }
        check_header(&update.attested_header)?;
        let attested_slot = update.attested_header.beacon.slot;
        let finalized_slot = update.finalized_header.beacon.slot;
        if !(current_slot >= update.signature_slot
            && update.signature_slot > attested_slot
            && attested_slot >= finalized_slot)
        {
            return Err(invalid(format!(
                "slots out of order: current {current_slot}, signature {}, attested {attested_slot}, finalized {finalized_slot}",
                update.signature_slot
            )));
        }
        let store_period = spec.period(self.finalized_header.beacon.slot);
        let signature_period = spec.period(update.signature_slot);
        let period_ok = match self.next_sync_committee {
            Some(_) => {
                signature_period == store_period
                    || Some(signature_period) == store_period.checked_add(1)
            }
            None => signature_period == store_period,
        };
        if !period_ok {
            return Err(invalid(format!(
                "signed in period {signature_period}, the store is in period {store_period}"
            )));
        }
        if !(attested_slot > self.finalized_header.beacon.slot
            || self.brings_next_committee(spec, update))
        {
            return Err(LightClientError::NotNewer {
                attested: attested_slot,
                finalized: self.finalized_header.beacon.slot,
            });
        }
        let [finalized_gindex, _, next_gindex] = spec.gindices(attested_slot);
        if is_finality_update(update) {
            // The genesis block is finalized as an empty header and a zero root.
            let leaf = if finalized_slot == 0 {
                if update.finalized_header != empty_header() {
                    return Err(invalid(
                        "a genesis finalized header that is not empty".into(),
                    ));
                }
                B256::ZERO
            } else {
                check_header(&update.finalized_header)?;
                root(&update.finalized_header.beacon)
            };
            check_branch(
                "finalized header",
                leaf,
                &update.finality_branch,
                finalized_gindex,
                update.attested_header.beacon.state_root,
            )?;
        } else if update.finalized_header != empty_header() {
            return Err(invalid(
                "a finalized header without a finality proof".into(),
            ));
        }
        if is_sync_committee_update(update) {
            if spec.period(attested_slot) == store_period
                && let Some(next) = &self.next_sync_committee
                && *next != update.next_sync_committee
            {
                return Err(invalid(
                    "a next sync committee other than the known one".into(),
                ));
            }
            check_branch(
                "next sync committee",
                root(&update.next_sync_committee),
                &update.next_sync_committee_branch,
                next_gindex,
                update.attested_header.beacon.state_root,
            )?;
        } else if known(update.next_sync_committee.clone()).is_some() {
            return Err(invalid("a next sync committee without a proof".into()));
        }
        let committee = if signature_period == store_period {
            &self.current_sync_committee
        } else {
            self.next_sync_committee
                .as_ref()
                .ok_or_else(|| invalid("signed by an unknown sync committee".into()))?
        };
        let version = spec.fork_version(update.signature_slot.saturating_sub(1));
        let signing_root = root(&SigningData {
            object_root: root(&update.attested_header.beacon),
            domain: spec.sync_committee_domain(version),
        });
        check_signature(committee, update, signing_root)
    }

    /// `apply_light_client_update`.
    fn apply(
        &mut self,
        spec: &ChainSpec,
        update: LightClientUpdate<N>,
    ) -> Result<(), LightClientError> {
        let store_period = spec.period(self.finalized_header.beacon.slot);
        let finalized_period = spec.period(update.finalized_header.beacon.slot);
        match self.next_sync_committee.take() {
            None => {
                if finalized_period != store_period {
                    return Err(LightClientError::InvalidUpdate(format!(
                        "finalizes period {finalized_period} before the next committee of {store_period} is known"
                    )));
                }
                self.next_sync_committee = known(update.next_sync_committee);
            }
            Some(next) if Some(finalized_period) == store_period.checked_add(1) => {
                self.current_sync_committee = next;
                self.next_sync_committee = known(update.next_sync_committee);
                self.previous_max_active_participants = self.current_max_active_participants;
                self.current_max_active_participants = 0;
            }
            Some(next) => self.next_sync_committee = Some(next),
        }
        if update.finalized_header.beacon.slot > self.finalized_header.beacon.slot {
            self.finalized_header = update.finalized_header;
            if self.finalized_header.beacon.slot > self.optimistic_header.beacon.slot {
                self.optimistic_header = self.finalized_header.clone();
            }
        }
        Ok(())
    }
}

/// `is_better_update` of the spec: which of two valid updates a store keeps.
fn is_better_update<N: Unsigned>(
    spec: &ChainSpec,
    new: &LightClientUpdate<N>,
    old: &LightClientUpdate<N>,
) -> bool {
    let (new_active, old_active) = (participants(new), participants(old));
    let (new_super, old_super) = (
        supermajority::<N>(new_active),
        supermajority::<N>(old_active),
    );
    if new_super != old_super {
        return new_super;
    }
    if !new_super && new_active != old_active {
        return new_active > old_active;
    }
    let relevant = |u: &LightClientUpdate<N>| {
        is_sync_committee_update(u)
            && spec.period(u.attested_header.beacon.slot) == spec.period(u.signature_slot)
    };
    if relevant(new) != relevant(old) {
        return relevant(new);
    }
    if is_finality_update(new) != is_finality_update(old) {
        return is_finality_update(new);
    }
    let committee_finality = |u: &LightClientUpdate<N>| {
        spec.period(u.finalized_header.beacon.slot) == spec.period(u.attested_header.beacon.slot)
    };
    if is_finality_update(new) && committee_finality(new) != committee_finality(old) {
        return committee_finality(new);
    }
    if new_active != old_active {
        return new_active > old_active;
    }
    if new.attested_header.beacon.slot != old.attested_header.beacon.slot {
        return new.attested_header.beacon.slot < old.attested_header.beacon.slot;
    }
    new.signature_slot < old.signature_slot
}

/// `None` for the empty committee, which the spec uses for "not known".
fn known<N: Unsigned>(committee: SyncCommittee<N>) -> Option<SyncCommittee<N>> {
    let empty = committee.aggregate_pubkey.iter().all(|b| *b == 0)
        && committee.pubkeys.iter().all(|k| k.iter().all(|b| *b == 0));
    (!empty).then_some(committee)
}

/// Whether `participants` of a committee of `N` are at least two thirds of it
/// (the spec's `sum(bits) * 3 >= len(bits) * 2`); both are at most `N` (512
/// on mainnet), so the saturating products are the exact ones.
fn supermajority<N: Unsigned>(participants: usize) -> bool {
    participants.saturating_mul(3) >= N::to_usize().saturating_mul(2)
}

fn participants<N: Unsigned>(update: &LightClientUpdate<N>) -> usize {
    update.sync_aggregate.sync_committee_bits.num_set_bits()
}

fn is_sync_committee_update<N: Unsigned>(update: &LightClientUpdate<N>) -> bool {
    update
        .next_sync_committee_branch
        .iter()
        .any(|b| !b.is_zero())
}

fn is_finality_update<N: Unsigned>(update: &LightClientUpdate<N>) -> bool {
    update.finality_branch.iter().any(|b| !b.is_zero())
}

fn empty_header() -> LightClientHeader {
    LightClientHeader {
        beacon: BeaconBlockHeader {
            slot: 0,
            proposer_index: 0,
            parent_root: B256::ZERO,
            state_root: B256::ZERO,
            body_root: B256::ZERO,
        },
        execution: types::ExecutionPayloadHeader {
            parent_hash: B256::ZERO,
            fee_recipient: alloy_primitives::Address::ZERO,
            state_root: B256::ZERO,
            receipts_root: B256::ZERO,
            logs_bloom: Default::default(),
            prev_randao: B256::ZERO,
            block_number: 0,
            gas_limit: 0,
            gas_used: 0,
            timestamp: 0,
            extra_data: Default::default(),
            base_fee_per_gas: alloy_primitives::U256::ZERO,
            block_hash: B256::ZERO,
            transactions_root: B256::ZERO,
            withdrawals_root: B256::ZERO,
            blob_gas_used: 0,
            excess_blob_gas: 0,
        },
        execution_branch: Default::default(),
    }
}

/// `is_valid_light_client_header` (Capella and later): the execution payload
/// header is proved into the beacon block body.
pub fn check_header(header: &LightClientHeader) -> Result<(), LightClientError> {
    check_branch(
        "execution payload header",
        root(&header.execution),
        &header.execution_branch,
        EXECUTION_PAYLOAD,
        header.beacon.body_root,
    )
}

/// `is_valid_merkle_branch` at generalized index `gindex` (its depth given).
fn check_branch(
    what: &'static str,
    leaf: B256,
    branch: &[B256],
    (gindex, depth): (u64, usize),
    expected: B256,
) -> Result<(), LightClientError> {
    // The spec's `index = gindex - 2^depth` differs from `gindex` only in
    // bit `depth`, which no level below `depth` reads: the bits are gindex's.
    let mut node = leaf;
    for (level, sibling) in branch.iter().take(depth).enumerate() {
        let mut hasher = Sha256::new();
        if (gindex >> level) & 1 == 1 {
            hasher.update(sibling);
            hasher.update(node);
        } else {
            hasher.update(node);
            hasher.update(sibling);
        }
        node = B256::from_slice(&hasher.finalize());
    }
    if branch.len() != depth || node != expected {
        return Err(LightClientError::Branch {
            what,
            computed: node,
            expected,
        });
    }
    Ok(())
}

/// `eth_fast_aggregate_verify` of the participants' keys over `signing_root`.
fn check_signature<N: Unsigned>(
    committee: &SyncCommittee<N>,
    update: &LightClientUpdate<N>,
    signing_root: B256,
) -> Result<(), LightClientError> {
    let bad = |detail: String| LightClientError::Signature(detail);
    let keys = committee
        .pubkeys
        .iter()
        .zip(update.sync_aggregate.sync_committee_bits.iter())
        .filter(|(_, bit)| *bit)
        .map(|(key, _)| PublicKey::key_validate(key).map_err(|e| bad(format!("public key: {e:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<&PublicKey> = keys.iter().collect();
    let aggregate = AggregatePublicKey::aggregate(&refs, false)
        .map_err(|e| bad(format!("aggregating keys: {e:?}")))?
        .to_public_key();
    let signature = Signature::sig_validate(&update.sync_aggregate.sync_committee_signature, true)
        .map_err(|e| bad(format!("signature: {e:?}")))?;
    match signature.verify(
        true,
        signing_root.as_slice(),
        BLS_DST,
        &[],
        &aggregate,
        false,
    ) {
        BLST_ERROR::BLST_SUCCESS => Ok(()),
        error => Err(bad(format!(
            "{} participants did not sign the attested header ({error:?})",
            keys.len()
        ))),
    }
}

/// Light-client errors: each names what did not verify.
#[derive(Debug, thiserror::Error)]
pub enum LightClientError {
    /// The bootstrap's header is not the block root the user trusts.
    #[error("bootstrap header root {root} is not the trusted block root {trusted}")]
    UntrustedBootstrap {
        /// `hash_tree_root` of the bootstrap header.
        root: B256,
        /// The trusted block root.
        trusted: B256,
    },
    /// A Merkle branch (sync committee, finality or execution) does not lead to the expected root.
    #[error("{what}: Merkle branch leads to {computed}, not to {expected}")]
    Branch {
        /// Which branch.
        what: &'static str,
        /// Root the branch leads to.
        computed: B256,
        /// Root it should lead to.
        expected: B256,
    },
    /// The sync committee's aggregate BLS signature does not verify (or a key does not decode).
    #[error("sync committee signature: {0}")]
    Signature(String),
    /// The update breaks a spec rule (slot order, period, too few participants).
    #[error("invalid light-client update: {0}")]
    InvalidUpdate(String),
    /// Valid or not, the update brings nothing the store lacks (a node may
    /// serve the update of the store's own period again).
    #[error("update attested at slot {attested} is not newer than the finalized slot {finalized}")]
    NotNewer {
        /// Slot of the update's attested header.
        attested: u64,
        /// Slot of the store's finalized header.
        finalized: u64,
    },
}
