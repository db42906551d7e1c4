//! v0.13.4+ stateful compression: contract addresses and storage keys replaced by
//! aliases that live in contract 0x2 (key = original, value = alias; key 0 holds
//! the next free alias, which starts at 128).
//!
//! Rules (cairo-lang `os/state/aliases.cairo`, `CompressedStateDiff.decompress`;
//! sequencer `stateful_compression.rs`):
//! * a posted value below 128 is never an alias: it is the original;
//! * contracts with address <= 0xf (0x1 block hashes, 0x2 the alias table itself)
//!   keep all their storage keys as they are;
//! * in every other contract, keys >= 128 are aliases.
//!
//! Decoding a batch uses the aliases committed by earlier batches (an
//! [`AliasSource`]) plus the 0x2 writes inside the batch itself.

use std::collections::{BTreeSet, HashMap};

use starknet_types_core::felt::Felt;

use super::{DaContract, DaError, DaStateDiff};

/// The alias table contract.
pub const ALIAS_CONTRACT: Felt = Felt::TWO;
/// Key of the alias counter in [`ALIAS_CONTRACT`].
pub const ALIAS_COUNTER_KEY: Felt = Felt::ZERO;
/// The first alias; smaller values are never aliased.
pub const MIN_ALIAS: u64 = 128;
/// Contracts up to this address keep their storage keys uncompressed.
pub const MAX_NON_COMPRESSED_CONTRACT: u64 = 0xf;

/// Reverse lookup of the alias table committed by earlier batches.
pub trait AliasSource {
    /// Why a lookup failed (a store error); reported as [`DaError::AliasSource`].
    type Error: std::error::Error + Send + Sync + 'static;
    /// The original address or key behind `alias`, if an earlier batch allocated it.
    fn original_of(&self, alias: &Felt) -> Result<Option<Felt>, Self::Error>;
    /// Whether an earlier batch ever wrote the alias contract (its counter at key 0
    /// is set once and never cleared); `None` when the source does not know the
    /// chain's history (a table assembled for one-shot decoding).
    fn alias_contract_written(&self) -> Result<Option<bool>, Self::Error>;
}

/// An in-memory alias table (alias -> original), for tests and one-shot decoding.
#[derive(Clone, Debug, Default)]
pub struct MemoryAliases {
    by_alias: HashMap<Felt, Felt>,
}

impl MemoryAliases {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of aliases known.
    pub fn len(&self) -> usize {
        self.by_alias.len()
    }

    /// True when no alias is known.
    pub fn is_empty(&self) -> bool {
        self.by_alias.is_empty()
    }

    /// Records `original -> alias` (a write to contract 0x2). Key 0 (the counter) is
    /// skipped. Rejects an alias already given to a different original.
    pub fn insert(&mut self, original: Felt, alias: Felt) -> Result<(), DaError> {
        if original == ALIAS_COUNTER_KEY {
            return Ok(());
        }
        match self.by_alias.insert(alias, original) {
            Some(previous) if previous != original => Err(DaError::AliasConflict(format!(
                "alias {alias:#x} given to {previous:#x} and to {original:#x}"
            ))),
            _ => Ok(()),
        }
    }

    /// Records every 0x2 write of a resolved batch.
    pub fn record(&mut self, diff: &DaStateDiff) -> Result<(), DaError> {
        for contract in diff
            .contracts
            .iter()
            .filter(|c| c.address == ALIAS_CONTRACT)
        {
            for (key, alias) in &contract.storage {
                self.insert(*key, *alias)?;
            }
        }
        Ok(())
    }
}

impl AliasSource for MemoryAliases {
    type Error = std::convert::Infallible;

    fn original_of(&self, alias: &Felt) -> Result<Option<Felt>, Self::Error> {
        Ok(self.by_alias.get(alias).copied())
    }

    /// A non-empty table proves aliases exist; an empty one knows nothing.
    fn alias_contract_written(&self) -> Result<Option<bool>, Self::Error> {
        Ok((!self.by_alias.is_empty()).then_some(true))
    }
}

/// An alias no table knows, with where it was posted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UnresolvedAlias {
    /// The alias as posted.
    #[serde(serialize_with = "crate::rollup::starknet::da::binding::ser_felt")]
    pub alias: Felt,
    /// `None` for a contract address; `Some(contract)` for a storage key of that
    /// (resolved or still aliased) contract.
    #[serde(serialize_with = "crate::rollup::starknet::da::binding::ser_opt_felt")]
    pub in_contract: Option<Felt>,
}

/// The outcome of alias resolution.
#[derive(Clone, Debug, Default)]
pub struct Resolution {
    /// The diff with originals; entries behind unresolved aliases are left out.
    pub diff: DaStateDiff,
    /// Aliases with no mapping (entries left out of `diff`).
    pub unresolved: Vec<UnresolvedAlias>,
    /// Number of aliases allocated by this batch (0x2 writes other than the counter).
    pub allocated_in_batch: usize,
}

impl Resolution {
    /// Distinct alias values that could not be resolved.
    pub fn distinct_unresolved(&self) -> BTreeSet<Felt> {
        self.unresolved.iter().map(|u| u.alias).collect()
    }

    /// The diff, or an error naming the first alias with no mapping.
    pub fn into_complete(self) -> Result<DaStateDiff, DaError> {
        match self.unresolved.first() {
            Some(first) => Err(DaError::UnmappedAlias {
                alias: first.alias,
                context: if first.in_contract.is_some() {
                    "storage key"
                } else {
                    "contract address"
                },
            }),
            None => Ok(self.diff),
        }
    }
}

/// Replaces aliases in a posted v0.13.4+ diff by their originals.
pub fn resolve<A: AliasSource>(posted: &DaStateDiff, source: &A) -> Result<Resolution, DaError> {
    // The batch's own allocations: 0x2 is never aliased, so its keys are originals.
    let mut in_batch: HashMap<Felt, Felt> = HashMap::new();
    for contract in posted
        .contracts
        .iter()
        .filter(|c| c.address == ALIAS_CONTRACT)
    {
        for (original, alias) in contract
            .storage
            .iter()
            .filter(|(k, _)| *k != ALIAS_COUNTER_KEY)
        {
            if *alias < Felt::from(MIN_ALIAS) {
                return Err(DaError::AliasConflict(format!(
                    "alias {alias:#x} for {original:#x} is below 128"
                )));
            }
            if let Some(previous) = in_batch.insert(*alias, *original) {
                return Err(DaError::AliasConflict(format!(
                    "alias {alias:#x} given to {previous:#x} and to {original:#x} in one batch"
                )));
            }
            if let Some(previous) = lookup_source(source, alias)?
                && previous != *original
            {
                return Err(DaError::AliasConflict(format!(
                    "alias {alias:#x} of {previous:#x} reassigned to {original:#x}"
                )));
            }
        }
    }

    let lookup = |alias: &Felt| -> Result<Option<Felt>, DaError> {
        if *alias < Felt::from(MIN_ALIAS) {
            return Ok(Some(*alias));
        }
        match in_batch.get(alias) {
            Some(original) => Ok(Some(*original)),
            None => lookup_source(source, alias),
        }
    };

    let mut out = Resolution {
        allocated_in_batch: in_batch.len(),
        ..Default::default()
    };
    for contract in &posted.contracts {
        let Some(address) = lookup(&contract.address)? else {
            out.unresolved.push(UnresolvedAlias {
                alias: contract.address,
                in_contract: None,
            });
            continue;
        };
        let mut resolved = DaContract {
            address,
            storage: Vec::with_capacity(contract.storage.len()),
            ..*contract
        };
        if address <= Felt::from(MAX_NON_COMPRESSED_CONTRACT) {
            resolved.storage.extend_from_slice(&contract.storage);
        } else {
            for (key, value) in &contract.storage {
                match lookup(key)? {
                    Some(original) => resolved.storage.push((original, *value)),
                    None => out.unresolved.push(UnresolvedAlias {
                        alias: *key,
                        in_contract: Some(address),
                    }),
                }
            }
        }
        out.diff.contracts.push(resolved);
    }
    out.diff.declared_classes = posted.declared_classes.clone();
    Ok(out)
}

fn lookup_source<A: AliasSource>(source: &A, alias: &Felt) -> Result<Option<Felt>, DaError> {
    source
        .original_of(alias)
        .map_err(|e| DaError::AliasSource(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(address: u64, storage: &[(u64, u64)]) -> DaContract {
        DaContract {
            address: Felt::from(address),
            storage: storage
                .iter()
                .map(|(k, v)| (Felt::from(*k), Felt::from(*v)))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn resolves_from_batch_and_source_and_reports_the_rest() {
        let mut source = MemoryAliases::new();
        source
            .insert(Felt::from(0xaaaa_u64), Felt::from(128u64))
            .unwrap();
        let posted = DaStateDiff {
            contracts: vec![
                contract(0x1, &[(500, 1)]),
                contract(0x2, &[(0, 131), (0xbbbb, 129), (0xcccc, 130)]),
                contract(0x50, &[(5, 1), (129, 2)]),
                contract(128, &[(130, 3), (999, 4)]),
                contract(777, &[(1, 1)]),
            ],
            declared_classes: vec![],
        };
        let out = resolve(&posted, &source).unwrap();
        assert_eq!(out.allocated_in_batch, 2);
        let c = &out.diff.contracts;
        assert_eq!(
            c[0].storage,
            vec![(Felt::from(500u64), Felt::ONE)],
            "0x1 keys stay"
        );
        assert_eq!(c[1].storage.len(), 3, "0x2 keys stay");
        assert_eq!(
            c[2].address,
            Felt::from(0x50u64),
            "address < 128 is not an alias"
        );
        assert_eq!(c[2].storage[1].0, Felt::from(0xbbbbu64));
        assert_eq!(c[3].address, Felt::from(0xaaaau64));
        assert_eq!(
            c[3].storage,
            vec![(Felt::from(0xccccu64), Felt::from(3u64))]
        );
        assert_eq!(
            out.distinct_unresolved(),
            [Felt::from(777u64), Felt::from(999u64)].into()
        );
        assert!(matches!(
            out.into_complete(),
            Err(DaError::UnmappedAlias { .. })
        ));
    }

    #[test]
    fn rejects_reassigned_aliases() {
        let mut source = MemoryAliases::new();
        source
            .insert(Felt::from(0xaaaa_u64), Felt::from(128u64))
            .unwrap();
        let posted = DaStateDiff {
            contracts: vec![contract(2, &[(0xbbbb, 128)])],
            declared_classes: vec![],
        };
        assert!(matches!(
            resolve(&posted, &source),
            Err(DaError::AliasConflict(_))
        ));
        assert!(
            source
                .insert(Felt::from(0xdddd_u64), Felt::from(128u64))
                .is_err()
        );
    }
}
