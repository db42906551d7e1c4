//! The light-client containers of the consensus specs (Deneb, Electra and
//! Fulu), SSZ-encoded and Merkle-hashed by the `ethereum_ssz` / `tree_hash`
//! crates. Generic over the sync committee size: 512 on mainnet, 32 in the
//! `minimal` preset the spec tests use.
//!
//! Electra deepened the `BeaconState` tree (more than 32 fields), so the
//! Merkle branches of the finalized root and of the sync committees grew by
//! one node (consensus-specs `specs/electra/light-client/sync-protocol.md`,
//! "Types": `FinalityBranch` = `Vector[Bytes32, floorlog2(169)]`, 7 nodes
//! instead of 6; `CurrentSyncCommitteeBranch` and `NextSyncCommitteeBranch`
//! = `Vector[Bytes32, floorlog2(86 or 87)]`, 6 nodes instead of 5). The
//! execution payload header and its branch did not change (Electra's
//! `get_lc_execution_root` hashes the Deneb-shaped header; its block body
//! has 13 fields, still 16 leaves). Fulu has no light-client changes (there
//! is no `specs/fulu/light-client/`; its state's one new field keeps it
//! within 64 leaves). So the
//! containers here hold branches of either length, and decoding picks the
//! layout by the fork of the attested (or bootstrap) header's slot, which is
//! also what the beacon API's fork-digest context is derived from.

use alloy_primitives::{Address, B256, U256};
use ssz::{Decode as _, Encode as _};
use ssz_derive::{Decode, Encode};
use ssz_types::typenum::{U4, U5, U6, U7, U32, U48, U96, U256 as N256, Unsigned};
use ssz_types::{BitVector, FixedVector, VariableList};
use tree_hash::TreeHash;
use tree_hash_derive::TreeHash;

/// A BLS public key, compressed (48 bytes).
pub type PublicKeyBytes = FixedVector<u8, U48>;
/// A BLS signature, compressed (96 bytes).
pub type SignatureBytes = FixedVector<u8, U96>;

/// The spec's `BeaconBlockHeader`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct BeaconBlockHeader {
    /// Slot of the block.
    pub slot: u64,
    /// Index of the proposing validator.
    pub proposer_index: u64,
    /// `hash_tree_root` of the parent beacon block.
    pub parent_root: B256,
    /// `hash_tree_root` of the beacon state after the block.
    pub state_root: B256,
    /// `hash_tree_root` of the block body.
    pub body_root: B256,
}

/// The execution payload header (Deneb fields).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct ExecutionPayloadHeader {
    /// Execution block's parent hash.
    pub parent_hash: B256,
    /// `fee_recipient` (the header's beneficiary).
    pub fee_recipient: Address,
    /// Execution state root.
    pub state_root: B256,
    /// Execution receipts root.
    pub receipts_root: B256,
    /// Logs bloom, 256 bytes.
    pub logs_bloom: FixedVector<u8, N256>,
    /// `prev_randao` (the header's mix hash).
    pub prev_randao: B256,
    /// Execution block number.
    pub block_number: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// Gas used.
    pub gas_used: u64,
    /// Timestamp, Unix seconds.
    pub timestamp: u64,
    /// Extra data, at most 32 bytes.
    pub extra_data: VariableList<u8, U32>,
    /// Base fee per gas, wei.
    pub base_fee_per_gas: U256,
    /// Execution block hash.
    pub block_hash: B256,
    /// `hash_tree_root` of the transaction list (not the MPT `transactionsRoot`).
    pub transactions_root: B256,
    /// `hash_tree_root` of the withdrawal list.
    pub withdrawals_root: B256,
    /// Blob gas used (EIP-4844).
    pub blob_gas_used: u64,
    /// Excess blob gas (EIP-4844).
    pub excess_blob_gas: u64,
}

/// The spec's `LightClientHeader`: a beacon header and its execution payload header, bound by `execution_branch`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct LightClientHeader {
    /// The beacon block header.
    pub beacon: BeaconBlockHeader,
    /// The execution payload header of that block.
    pub execution: ExecutionPayloadHeader,
    /// Merkle branch of `execution` in the block body (`body_root`).
    pub execution_branch: FixedVector<B256, U4>,
}

/// The spec's `SyncCommittee` of `N` validators.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct SyncCommittee<N: Unsigned> {
    /// Member public keys, in committee order.
    pub pubkeys: FixedVector<PublicKeyBytes, N>,
    /// Aggregate of all member keys.
    pub aggregate_pubkey: PublicKeyBytes,
}

/// The spec's `SyncAggregate`: who signed and the aggregate signature.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct SyncAggregate<N: Unsigned> {
    /// One bit per committee member that signed.
    pub sync_committee_bits: BitVector<N>,
    /// Aggregate BLS signature of the signers.
    pub sync_committee_signature: SignatureBytes,
}

/// A Merkle branch: its length is the depth of its generalized index, which
/// depends on the fork (see the module documentation).
pub type Branch = Vec<B256>;

/// The light-client container layout of a fork.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Capella's branch depths with Deneb's execution payload header.
    Deneb,
    /// Electra and Fulu: one node deeper state branches.
    Electra,
}

/// The spec's `LightClientBootstrap`: the starting point of a light client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LightClientBootstrap<N: Unsigned> {
    /// Header of the trusted block.
    pub header: LightClientHeader,
    /// Sync committee of that block's period.
    pub current_sync_committee: SyncCommittee<N>,
    /// Merkle branch of the committee in the block's `state_root`.
    pub current_sync_committee_branch: Branch,
}

/// The spec's `LightClientUpdate`: a signed attested header, its finalized header and the next sync committee.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LightClientUpdate<N: Unsigned> {
    /// Header the sync committee signed.
    pub attested_header: LightClientHeader,
    /// Sync committee of the next period.
    pub next_sync_committee: SyncCommittee<N>,
    /// Branch of `next_sync_committee` in the attested state.
    pub next_sync_committee_branch: Branch,
    /// Finalized header the attested state points to.
    pub finalized_header: LightClientHeader,
    /// Branch of the finalized checkpoint root in the attested state.
    pub finality_branch: Branch,
    /// The committee's signature over the attested header.
    pub sync_aggregate: SyncAggregate<N>,
    /// Slot at which the signature was made.
    pub signature_slot: u64,
}

/// What `/eth/v1/beacon/light_client/finality_update` serves: an update
/// without the next sync committee.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LightClientFinalityUpdate<N: Unsigned> {
    /// Header the sync committee signed.
    pub attested_header: LightClientHeader,
    /// Finalized header the attested state points to.
    pub finalized_header: LightClientHeader,
    /// Branch of the finalized checkpoint root in the attested state.
    pub finality_branch: Branch,
    /// The committee's signature over the attested header.
    pub sync_aggregate: SyncAggregate<N>,
    /// Slot at which the signature was made.
    pub signature_slot: u64,
}

impl<N: Unsigned> From<LightClientFinalityUpdate<N>> for LightClientUpdate<N> {
    fn from(update: LightClientFinalityUpdate<N>) -> Self {
        Self {
            attested_header: update.attested_header,
            next_sync_committee: SyncCommittee {
                pubkeys: FixedVector::default(),
                aggregate_pubkey: FixedVector::default(),
            },
            // All zero: "no sync committee update" (`is_sync_committee_update`).
            next_sync_committee_branch: Vec::new(),
            finalized_header: update.finalized_header,
            finality_branch: update.finality_branch,
            sync_aggregate: update.sync_aggregate,
            signature_slot: update.signature_slot,
        }
    }
}

/// The slot of the header a container starts with. Every light-client
/// container's first field is a `LightClientHeader`, which is variable-size
/// (the execution header's `extra_data`), so the container starts with a
/// 4-byte offset to it, and the header with its `beacon.slot`.
pub fn leading_header_slot(bytes: &[u8]) -> Result<u64, ssz::DecodeError> {
    let offset = bytes.get(..4).ok_or(ssz::DecodeError::InvalidByteLength {
        len: bytes.len(),
        expected: 4,
    })?;
    let offset = u32::from_le_bytes([offset[0], offset[1], offset[2], offset[3]]) as usize;
    let slot = offset
        .checked_add(8)
        .and_then(|end| bytes.get(offset..end))
        .ok_or(ssz::DecodeError::OffsetOutOfBounds(offset))?;
    u64::from_ssz_bytes(slot)
}

impl<N: Unsigned> LightClientBootstrap<N> {
    /// SSZ in the layout of `layout`.
    pub fn from_ssz(bytes: &[u8], layout: Layout) -> Result<Self, ssz::DecodeError> {
        match layout {
            Layout::Deneb => wire::Bootstrap::<N, U5>::from_ssz_bytes(bytes).map(Into::into),
            Layout::Electra => wire::Bootstrap::<N, U6>::from_ssz_bytes(bytes).map(Into::into),
        }
    }

    /// SSZ in the layout of `layout`; fails when a branch length does not fit it.
    pub fn to_ssz(&self, layout: Layout) -> Result<Vec<u8>, ssz::DecodeError> {
        Ok(match layout {
            Layout::Deneb => wire::Bootstrap::<N, U5>::try_from(self.clone())?.as_ssz_bytes(),
            Layout::Electra => wire::Bootstrap::<N, U6>::try_from(self.clone())?.as_ssz_bytes(),
        })
    }
}

impl<N: Unsigned> LightClientUpdate<N> {
    /// Decodes SSZ in the layout of `layout`.
    pub fn from_ssz(bytes: &[u8], layout: Layout) -> Result<Self, ssz::DecodeError> {
        match layout {
            Layout::Deneb => wire::Update::<N, U5, U6>::from_ssz_bytes(bytes).map(Into::into),
            Layout::Electra => wire::Update::<N, U6, U7>::from_ssz_bytes(bytes).map(Into::into),
        }
    }

    /// SSZ in the layout of `layout`; fails when a branch length does not fit it.
    pub fn to_ssz(&self, layout: Layout) -> Result<Vec<u8>, ssz::DecodeError> {
        Ok(match layout {
            Layout::Deneb => wire::Update::<N, U5, U6>::try_from(self.clone())?.as_ssz_bytes(),
            Layout::Electra => wire::Update::<N, U6, U7>::try_from(self.clone())?.as_ssz_bytes(),
        })
    }
}

impl<N: Unsigned> LightClientFinalityUpdate<N> {
    /// Decodes SSZ in the layout of `layout`.
    pub fn from_ssz(bytes: &[u8], layout: Layout) -> Result<Self, ssz::DecodeError> {
        match layout {
            Layout::Deneb => wire::FinalityUpdate::<N, U6>::from_ssz_bytes(bytes).map(Into::into),
            Layout::Electra => wire::FinalityUpdate::<N, U7>::from_ssz_bytes(bytes).map(Into::into),
        }
    }

    /// SSZ in the layout of `layout`; fails when a branch length does not fit it.
    pub fn to_ssz(&self, layout: Layout) -> Result<Vec<u8>, ssz::DecodeError> {
        Ok(match layout {
            Layout::Deneb => wire::FinalityUpdate::<N, U6>::try_from(self.clone())?.as_ssz_bytes(),
            Layout::Electra => {
                wire::FinalityUpdate::<N, U7>::try_from(self.clone())?.as_ssz_bytes()
            }
        })
    }

    /// The finality part of a full update (what a node serves at the
    /// finality endpoint is exactly this for its best update).
    pub fn from_update(update: LightClientUpdate<N>) -> Self {
        Self {
            attested_header: update.attested_header,
            finalized_header: update.finalized_header,
            finality_branch: update.finality_branch,
            sync_aggregate: update.sync_aggregate,
            signature_slot: update.signature_slot,
        }
    }
}

/// The SSZ layouts: the same fields with fixed-length branches (`C` for the
/// sync committee branches, `F` for the finality branch).
mod wire {
    use super::*;

    fn fixed<L: Unsigned>(branch: Branch) -> Result<FixedVector<B256, L>, ssz::DecodeError> {
        let len = branch.len();
        FixedVector::new(branch).map_err(|_| ssz::DecodeError::InvalidByteLength {
            len: len.saturating_mul(32),
            expected: L::to_usize().saturating_mul(32),
        })
    }

    #[derive(Encode, Decode)]
    pub struct Bootstrap<N: Unsigned, C: Unsigned> {
        header: LightClientHeader,
        current_sync_committee: SyncCommittee<N>,
        current_sync_committee_branch: FixedVector<B256, C>,
    }

    impl<N: Unsigned, C: Unsigned> From<Bootstrap<N, C>> for LightClientBootstrap<N> {
        fn from(b: Bootstrap<N, C>) -> Self {
            Self {
                header: b.header,
                current_sync_committee: b.current_sync_committee,
                current_sync_committee_branch: b.current_sync_committee_branch.to_vec(),
            }
        }
    }

    impl<N: Unsigned, C: Unsigned> TryFrom<LightClientBootstrap<N>> for Bootstrap<N, C> {
        type Error = ssz::DecodeError;
        fn try_from(b: LightClientBootstrap<N>) -> Result<Self, Self::Error> {
            Ok(Self {
                header: b.header,
                current_sync_committee: b.current_sync_committee,
                current_sync_committee_branch: fixed(b.current_sync_committee_branch)?,
            })
        }
    }

    #[derive(Encode, Decode)]
    pub struct Update<N: Unsigned, C: Unsigned, F: Unsigned> {
        attested_header: LightClientHeader,
        next_sync_committee: SyncCommittee<N>,
        next_sync_committee_branch: FixedVector<B256, C>,
        finalized_header: LightClientHeader,
        finality_branch: FixedVector<B256, F>,
        sync_aggregate: SyncAggregate<N>,
        signature_slot: u64,
    }

    impl<N: Unsigned, C: Unsigned, F: Unsigned> From<Update<N, C, F>> for LightClientUpdate<N> {
        fn from(u: Update<N, C, F>) -> Self {
            Self {
                attested_header: u.attested_header,
                next_sync_committee: u.next_sync_committee,
                next_sync_committee_branch: u.next_sync_committee_branch.to_vec(),
                finalized_header: u.finalized_header,
                finality_branch: u.finality_branch.to_vec(),
                sync_aggregate: u.sync_aggregate,
                signature_slot: u.signature_slot,
            }
        }
    }

    impl<N: Unsigned, C: Unsigned, F: Unsigned> TryFrom<LightClientUpdate<N>> for Update<N, C, F> {
        type Error = ssz::DecodeError;
        fn try_from(u: LightClientUpdate<N>) -> Result<Self, Self::Error> {
            let mut next = u.next_sync_committee_branch;
            if next.is_empty() {
                next = vec![B256::ZERO; C::to_usize()];
            }
            Ok(Self {
                attested_header: u.attested_header,
                next_sync_committee: u.next_sync_committee,
                next_sync_committee_branch: fixed(next)?,
                finalized_header: u.finalized_header,
                finality_branch: fixed(u.finality_branch)?,
                sync_aggregate: u.sync_aggregate,
                signature_slot: u.signature_slot,
            })
        }
    }

    #[derive(Encode, Decode)]
    pub struct FinalityUpdate<N: Unsigned, F: Unsigned> {
        attested_header: LightClientHeader,
        finalized_header: LightClientHeader,
        finality_branch: FixedVector<B256, F>,
        sync_aggregate: SyncAggregate<N>,
        signature_slot: u64,
    }

    impl<N: Unsigned, F: Unsigned> From<FinalityUpdate<N, F>> for LightClientFinalityUpdate<N> {
        fn from(u: FinalityUpdate<N, F>) -> Self {
            Self {
                attested_header: u.attested_header,
                finalized_header: u.finalized_header,
                finality_branch: u.finality_branch.to_vec(),
                sync_aggregate: u.sync_aggregate,
                signature_slot: u.signature_slot,
            }
        }
    }

    impl<N: Unsigned, F: Unsigned> TryFrom<LightClientFinalityUpdate<N>> for FinalityUpdate<N, F> {
        type Error = ssz::DecodeError;
        fn try_from(u: LightClientFinalityUpdate<N>) -> Result<Self, Self::Error> {
            Ok(Self {
                attested_header: u.attested_header,
                finalized_header: u.finalized_header,
                finality_branch: fixed(u.finality_branch)?,
                sync_aggregate: u.sync_aggregate,
                signature_slot: u.signature_slot,
            })
        }
    }
}

/// `ForkData` of the spec: hashed into fork digests and signing domains.
#[derive(Clone, Debug, TreeHash)]
pub struct ForkData {
    /// Fork version (4 bytes).
    pub current_version: FixedVector<u8, U4>,
    /// The network's `genesis_validators_root`.
    pub genesis_validators_root: B256,
}

/// `SigningData` of the spec: what a BLS signature signs.
#[derive(Clone, Debug, TreeHash)]
pub struct SigningData {
    /// `hash_tree_root` of the signed object.
    pub object_root: B256,
    /// Signing domain (domain type ‖ fork data root prefix).
    pub domain: B256,
}

/// `hash_tree_root` as a [`B256`].
pub fn root<T: TreeHash>(value: &T) -> B256 {
    B256::from(value.tree_hash_root().0)
}
