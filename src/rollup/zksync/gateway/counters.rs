//! The chain's batch counters on its diamond on the settlement chain, read
//! from the settlement chain's state diffs.

use alloy_primitives::{B256, U256};
use serde::{Deserialize, Serialize};

use super::super::pubdata::Pubdata;
use super::{
    SettledChain, TOTAL_BATCHES_COMMITTED_SLOT, TOTAL_BATCHES_EXECUTED_SLOT,
    TOTAL_BATCHES_VERIFIED_SLOT,
};

/// The chain's batch counters on its diamond on the settlement chain
/// (`totalBatchesCommitted` / `Verified` / `Executed`), as known after a
/// settlement batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// `totalBatchesCommitted`; `None` while unknown (see [`CounterTracker`]).
    pub committed: Option<u64>,
    /// `totalBatchesVerified`; `None` while unknown.
    pub verified: Option<u64>,
    /// `totalBatchesExecuted`; `None` while unknown.
    pub executed: Option<u64>,
}

/// Follows the three counter slots through the settlement chain's state
/// diffs. The slots are first written (initial writes, which carry the key)
/// when the chain's diamond is created on the settlement chain
/// (`forwardedBridgeMint` copies the counters); afterwards they change as
/// repeated writes that name only the settlement chain's enumeration index,
/// often as `add` ops against the previous value. So the tracker keeps each
/// slot's index and last value, and must see every settlement batch in order
/// ([`Self::lost`] when one could not be read). The follower keeps it with
/// its checkpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterTracker {
    slots: [CounterSlot; 3],
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct CounterSlot {
    index: Option<u64>,
    value: Option<B256>,
}

const COUNTER_SLOTS: [u64; 3] = [
    TOTAL_BATCHES_COMMITTED_SLOT,
    TOTAL_BATCHES_VERIFIED_SLOT,
    TOTAL_BATCHES_EXECUTED_SLOT,
];

impl CounterTracker {
    /// Applies one settlement batch's state diffs; `previous_index` is that
    /// batch's previous `indexRepeatedStorageChanges`, so its i-th first write
    /// has enumeration index `previous_index + i`.
    pub fn read(
        &mut self,
        chain: &SettledChain,
        settlement: &Pubdata,
        previous_index: u64,
    ) -> Counters {
        for (slot, number) in self.slots.iter_mut().zip(COUNTER_SLOTS) {
            let key = chain.slot_key(U256::from(number));
            if let Some((position, w)) = settlement
                .state_diffs
                .initial
                .iter()
                .enumerate()
                .find(|(_, w)| w.derived_key == key)
            {
                // The previous index is from L1: one that overflows names no slot.
                slot.index = previous_index.checked_add(position as u64);
                slot.value = Some(w.value.apply(&B256::ZERO));
                continue;
            }
            let Some(index) = slot.index else { continue };
            if let Some(w) = settlement
                .state_diffs
                .repeated
                .iter()
                .find(|w| w.index == index)
            {
                slot.value = match slot.value {
                    Some(previous) => Some(w.value.apply(&previous)),
                    None if w.value.is_absolute() => Some(w.value.apply(&B256::ZERO)),
                    None => None,
                };
            }
        }
        self.counters()
    }

    /// A settlement batch could not be read: relative writes cannot be followed
    /// until the next absolute one.
    pub fn lost(&mut self) {
        for slot in &mut self.slots {
            slot.value = None;
        }
    }

    /// The counters as of the last settlement batch read: `None` for a slot
    /// not yet seen, lost and not rewritten absolutely since, or above `u64::MAX`.
    pub fn counters(&self) -> Counters {
        let value = |i: usize| {
            self.slots[i]
                .value
                .and_then(|w| u64::try_from(U256::from_be_bytes(w.0)).ok())
        };
        Counters {
            committed: value(0),
            verified: value(1),
            executed: value(2),
        }
    }
}
