//! The honest sequencer's side of a batch: random state diffs in each
//! layout's canonical posted form, the alias and slot bookkeeping later
//! batches build on, and the exact DA felts a format posts.

use super::*;

impl StarknetGenerator {
    /// A random diff in the format's canonical posted form, with originals
    /// (aliases are applied when encoding). v0.13.4 alias allocations are
    /// included as writes to 0x2.
    pub(super) fn random_diff(
        &mut self,
        n: u64,
        format: StarknetFormat,
        large: bool,
    ) -> Result<DaStateDiff, DevnetError> {
        let rng = &mut self.rng;
        let mut contracts: BTreeMap<Felt, DaContract> = BTreeMap::new();
        let mut nonce_changed: BTreeMap<Felt, Felt> = BTreeMap::new();

        // New deployments, some of a declared class.
        for _ in 0..rng.range(1, 3) {
            let address = rng.felt();
            let class_hash = if !self.classes.is_empty() && rng.chance(50) {
                self.classes[rng.below(self.classes.len() as u64) as usize]
            } else {
                rng.felt()
            };
            let entry = contracts.entry(address).or_insert_with(|| DaContract {
                address,
                ..Default::default()
            });
            entry.class_hash = Some(class_hash);
            for _ in 0..rng.range(1, 4) {
                let (key, value) = (random_key(rng), random_value(rng));
                entry.storage.push((key, value));
            }
            if rng.chance(30) {
                nonce_changed.insert(address, Felt::ONE);
            }
        }
        // Existing contracts: new slots, nonces, the odd class replacement.
        if !self.contracts.is_empty() {
            for _ in 0..rng.range(1, 3) {
                let address = self.contracts[rng.below(self.contracts.len() as u64) as usize];
                let entry = contracts.entry(address).or_insert_with(|| DaContract {
                    address,
                    ..Default::default()
                });
                for _ in 0..rng.range(0, 3) {
                    entry.storage.push((random_key(rng), random_value(rng)));
                }
                if rng.chance(50) {
                    let current = self.nonces.get(&address).copied().unwrap_or_default();
                    nonce_changed.insert(address, current + Felt::ONE);
                }
                if rng.chance(10) {
                    entry.class_hash = Some(rng.felt());
                }
            }
        }
        // Re-writes of earlier slots (some deleted).
        if !self.slots.is_empty() {
            for _ in 0..rng.range(1, 4) {
                let (address, key) = self.slots[rng.below(self.slots.len() as u64) as usize];
                let value = if rng.chance(15) {
                    Felt::ZERO
                } else {
                    random_value(rng)
                };
                contracts
                    .entry(address)
                    .or_insert_with(|| DaContract {
                        address,
                        ..Default::default()
                    })
                    .storage
                    .push((key, value));
            }
        }
        if large {
            let address = rng.felt();
            let entry = contracts.entry(address).or_insert_with(|| DaContract {
                address,
                class_hash: Some(rng.felt()),
                ..Default::default()
            });
            for _ in 0..self.config.large_batch_writes {
                entry.storage.push((rng.felt(), random_value(rng)));
            }
        }
        if let Some(size) = self.config.size {
            let pool = self.contracts.len() as u64;
            let from_pool = size.contracts.min(pool);
            let mut picked = BTreeSet::new();
            while (picked.len() as u64) < from_pool {
                picked.insert(rng.below(pool));
            }
            let mut chosen: Vec<Felt> = picked
                .into_iter()
                .map(|i| self.contracts[i as usize])
                .collect();
            for _ in from_pool..size.contracts {
                let address = rng.felt();
                contracts
                    .entry(address)
                    .or_insert_with(|| DaContract {
                        address,
                        ..Default::default()
                    })
                    .class_hash = Some(rng.felt());
                chosen.push(address);
            }
            for (address, _) in chosen.iter().cycle().zip(0..size.writes) {
                contracts
                    .entry(*address)
                    .or_insert_with(|| DaContract {
                        address: *address,
                        ..Default::default()
                    })
                    .storage
                    .push((random_key(rng), random_value(rng)));
            }
            for address in chosen.iter().take(size.nonces as usize) {
                let current = self.nonces.get(address).copied().unwrap_or_default();
                nonce_changed.insert(*address, current + Felt::ONE);
            }
        }
        // The OS writes the hash of an older block into 0x1.
        contracts.insert(
            BLOCK_HASH_CONTRACT,
            DaContract {
                address: BLOCK_HASH_CONTRACT,
                storage: vec![(Felt::from(n + 1000), rng.felt())],
                ..Default::default()
            },
        );

        // Storage keys once per contract, in key order (the OS squashes and sorts).
        for contract in contracts.values_mut() {
            let unique: BTreeMap<Felt, Felt> = contract.storage.drain(..).collect();
            contract.storage = unique.into_iter().collect();
        }
        // Nonces in the layout's canonical form: v0.9 has none (and so no
        // changes), v0.10 and v0.11 post every listed contract's nonce,
        // compressed layouts only changed, non-zero ones.
        let layout = format.layout();
        for contract in contracts.values_mut() {
            let changed = nonce_changed.get(&contract.address).copied();
            contract.nonce = if layout == Layout::V0_9 {
                None
            } else if matches!(layout, Layout::V0_10 | Layout::V0_11) {
                Some(changed.unwrap_or_else(|| {
                    self.nonces
                        .get(&contract.address)
                        .copied()
                        .unwrap_or_default()
                }))
            } else {
                changed.filter(|n| *n != Felt::ZERO)
            };
        }

        if layout == Layout::V0_13_4 {
            let mut needed = std::collections::BTreeSet::new();
            for contract in contracts.values() {
                if contract.address <= Felt::from(0xfu64) {
                    continue;
                }
                needed.insert(contract.address);
                needed.extend(contract.storage.iter().map(|(k, _)| *k));
            }
            let min = Felt::from(MIN_ALIAS);
            let mut allocations = Vec::new();
            for original in needed {
                if original >= min && !self.alias_of.contains_key(&original) {
                    allocations.push((original, Felt::from(self.next_alias)));
                    self.next_alias += 1;
                }
            }
            // Every batch deploys new contracts, so it allocates aliases and the
            // counter changes; the write to 0x2 is also what tells a decoder this
            // batch is v0.13.4 and not v0.13.3 (same wire format).
            let mut storage = vec![(ALIAS_COUNTER_KEY, Felt::from(self.next_alias))];
            storage.extend(allocations);
            storage.sort();
            contracts.insert(
                ALIAS_CONTRACT,
                DaContract {
                    address: ALIAS_CONTRACT,
                    storage,
                    ..Default::default()
                },
            );
        }

        // v0.9 and v0.10 post no declared classes.
        let mut declared = Vec::new();
        if !matches!(layout, Layout::V0_9 | Layout::V0_10) {
            for _ in 0..rng.range(0, 2) {
                declared.push((rng.felt(), rng.felt()));
            }
        }
        if format == StarknetFormat::V0_14_1Blob {
            // The Blake2s migration: an existing class gets a new compiled class
            // hash, posted like a declaration (an update of its leaf).
            if self.classes.is_empty() {
                return Err(DevnetError::Config(format!(
                    "batch {n}: a v0.14.1 batch migrates a class, and no class was declared before"
                )));
            }
            let class = self.classes[rng.below(self.classes.len() as u64) as usize];
            declared.retain(|(c, _)| *c != class);
            declared.push((class, rng.felt()));
        }
        declared.sort();
        Ok(DaStateDiff {
            contracts: contracts.into_values().collect(),
            declared_classes: declared,
        })
    }

    /// Remembers what a batch created, for later batches to build on.
    pub(super) fn record(&mut self, diff: &DaStateDiff) {
        for contract in &diff.contracts {
            if contract.address == ALIAS_CONTRACT {
                for (original, alias) in &contract.storage {
                    if *original != ALIAS_COUNTER_KEY {
                        self.alias_of.insert(*original, *alias);
                    }
                }
                continue;
            }
            if contract.address == BLOCK_HASH_CONTRACT {
                continue;
            }
            if contract.class_hash.is_some() && !self.contracts.contains(&contract.address) {
                self.contracts.push(contract.address);
            }
            if let Some(nonce) = contract.nonce {
                self.nonces.insert(contract.address, nonce);
            }
            // Only a sample of slots, so that re-writes do not all land on the large batch.
            for (key, _) in contract.storage.iter().take(8) {
                if self.slot_set.insert((contract.address, *key)) {
                    self.slots.push((contract.address, *key));
                }
            }
        }
        for (class, _) in &diff.declared_classes {
            if !self.classes.contains(class) {
                self.classes.push(*class);
            }
        }
    }

    /// The exact DA felts as posted (aliased and compressed where the format says so).
    pub(super) fn da_felts(&self, original: &DaStateDiff, format: StarknetFormat) -> Vec<Felt> {
        let layout = format.layout();
        let posted = if layout == Layout::V0_13_4 {
            apply_aliases(original, &self.alias_of_with(original))
        } else {
            original.clone()
        };
        let felts = encode_layout(&posted, layout);
        if layout.is_compressed() {
            compress(&felts)
        } else {
            felts
        }
    }

    /// The alias map including the allocations `diff` makes itself.
    fn alias_of_with(&self, diff: &DaStateDiff) -> HashMap<Felt, Felt> {
        let mut map = self.alias_of.clone();
        for contract in diff
            .contracts
            .iter()
            .filter(|c| c.address == ALIAS_CONTRACT)
        {
            for (original, alias) in &contract.storage {
                if *original != ALIAS_COUNTER_KEY {
                    map.insert(*original, *alias);
                }
            }
        }
        map
    }
}

/// The same diff with one ordinary storage value changed (DataNotBound).
pub(super) fn tamper(diff: &DaStateDiff) -> Option<DaStateDiff> {
    let mut out = diff.clone();
    let contract = out.contracts.iter_mut().find(|c| {
        c.address != ALIAS_CONTRACT && c.address != BLOCK_HASH_CONTRACT && !c.storage.is_empty()
    })?;
    contract.storage[0].1 += Felt::ONE;
    Some(out)
}

/// A storage key: mostly a full felt (a hashed storage variable), sometimes a
/// small one, which v0.13.4 never aliases.
fn random_key(rng: &mut Rng) -> Felt {
    if rng.chance(20) {
        Felt::from(rng.below(MIN_ALIAS))
    } else {
        rng.felt()
    }
}

/// A storage value: small numbers (balances, counters) or full felts.
fn random_value(rng: &mut Rng) -> Felt {
    if rng.chance(50) {
        let bits = rng.range(1, 64) as u32;
        rng.felt_bits(bits)
    } else {
        rng.felt()
    }
}
