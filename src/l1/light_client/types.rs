//! The light-client containers of the consensus specs (Deneb), SSZ-encoded
//! and Merkle-hashed by the `ethereum_ssz` / `tree_hash` crates. Generic over
//! the sync committee size: 512 on mainnet, 32 in the `minimal` preset the
//! spec tests use.

use alloy_primitives::{Address, B256, U256};
use ssz_derive::{Decode, Encode};
use ssz_types::typenum::{U4, U5, U6, U32, U48, U96, U256 as N256, Unsigned};
use ssz_types::{BitVector, FixedVector, VariableList};
use tree_hash::TreeHash;
use tree_hash_derive::TreeHash;

/// A BLS public key, compressed (48 bytes).
pub type PublicKeyBytes = FixedVector<u8, U48>;
/// A BLS signature, compressed (96 bytes).
pub type SignatureBytes = FixedVector<u8, U96>;

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct BeaconBlockHeader {
    pub slot: u64,
    pub proposer_index: u64,
    pub parent_root: B256,
    pub state_root: B256,
    pub body_root: B256,
}

/// The execution payload header (Deneb fields).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct ExecutionPayloadHeader {
    pub parent_hash: B256,
    pub fee_recipient: Address,
    pub state_root: B256,
    pub receipts_root: B256,
    pub logs_bloom: FixedVector<u8, N256>,
    pub prev_randao: B256,
    pub block_number: u64,
    pub gas_limit: u64,
    pub gas_used: u64,
    pub timestamp: u64,
    pub extra_data: VariableList<u8, U32>,
    pub base_fee_per_gas: U256,
    pub block_hash: B256,
    pub transactions_root: B256,
    pub withdrawals_root: B256,
    pub blob_gas_used: u64,
    pub excess_blob_gas: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct LightClientHeader {
    pub beacon: BeaconBlockHeader,
    pub execution: ExecutionPayloadHeader,
    pub execution_branch: FixedVector<B256, U4>,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct SyncCommittee<N: Unsigned> {
    pub pubkeys: FixedVector<PublicKeyBytes, N>,
    pub aggregate_pubkey: PublicKeyBytes,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct SyncAggregate<N: Unsigned> {
    pub sync_committee_bits: BitVector<N>,
    pub sync_committee_signature: SignatureBytes,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct LightClientBootstrap<N: Unsigned> {
    pub header: LightClientHeader,
    pub current_sync_committee: SyncCommittee<N>,
    pub current_sync_committee_branch: FixedVector<B256, U5>,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct LightClientUpdate<N: Unsigned> {
    pub attested_header: LightClientHeader,
    pub next_sync_committee: SyncCommittee<N>,
    pub next_sync_committee_branch: FixedVector<B256, U5>,
    pub finalized_header: LightClientHeader,
    pub finality_branch: FixedVector<B256, U6>,
    pub sync_aggregate: SyncAggregate<N>,
    pub signature_slot: u64,
}

/// What `/eth/v1/beacon/light_client/finality_update` serves: an update
/// without the next sync committee.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct LightClientFinalityUpdate<N: Unsigned> {
    pub attested_header: LightClientHeader,
    pub finalized_header: LightClientHeader,
    pub finality_branch: FixedVector<B256, U6>,
    pub sync_aggregate: SyncAggregate<N>,
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
            next_sync_committee_branch: FixedVector::default(),
            finalized_header: update.finalized_header,
            finality_branch: update.finality_branch,
            sync_aggregate: update.sync_aggregate,
            signature_slot: update.signature_slot,
        }
    }
}

/// `ForkData` of the spec: hashed into fork digests and signing domains.
#[derive(Clone, Debug, TreeHash)]
pub struct ForkData {
    pub current_version: FixedVector<u8, U4>,
    pub genesis_validators_root: B256,
}

/// `SigningData` of the spec: what a BLS signature signs.
#[derive(Clone, Debug, TreeHash)]
pub struct SigningData {
    pub object_root: B256,
    pub domain: B256,
}

/// `hash_tree_root` as a [`B256`].
pub fn root<T: TreeHash>(value: &T) -> B256 {
    B256::from(value.tree_hash_root().0)
}
