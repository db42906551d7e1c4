//! Rebuilding the Starknet tries from a snapshot's sorted leaves.

use super::*;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Phase {
    Contracts,
    Classes,
    Aliases,
}

pub(super) struct Contract {
    address: Felt,
    class_hash: Felt,
    nonce: Felt,
    claimed_root: Felt,
    root: Felt,
    pending: Vec<(Felt, Felt)>,
    last_key: Option<Felt>,
}

pub(super) struct StarknetBuilder<'s> {
    store: &'s Store,
    batch: u64,
    write: StoreBatch,
    phase: Phase,
    contract: Option<Contract>,
    last_address: Option<Felt>,
    contract_leaves: Vec<(Felt, Felt)>,
    contracts_root: Felt,
    class_leaves: Vec<(Felt, Felt)>,
    last_class: Option<Felt>,
    classes_root: Felt,
    last_alias_original: Option<Felt>,
    aliases_written: u64,
    leaf: u64,
    counts: crate::snapshot::manifest::LeafCounts,
    hashes: u64,
}

impl<'s> StarknetBuilder<'s> {
    pub(super) fn new(store: &'s Store, batch: u64) -> Self {
        StarknetBuilder {
            store,
            batch,
            write: StoreBatch::default(),
            phase: Phase::Contracts,
            contract: None,
            last_address: None,
            contract_leaves: Vec::new(),
            contracts_root: Felt::ZERO,
            class_leaves: Vec::new(),
            last_class: None,
            classes_root: Felt::ZERO,
            last_alias_original: None,
            aliases_written: 0,
            leaf: 0,
            counts: Default::default(),
            hashes: 0,
        }
    }

    pub(super) fn order(&self, detail: String) -> SnapshotError {
        SnapshotError::Order {
            leaf: self.leaf,
            detail,
        }
    }

    pub(super) fn felt(&self, what: &'static str, bytes: &[u8]) -> Result<Felt, SnapshotError> {
        to_felt(what, &B256::from_slice(bytes)).map_err(|e| SnapshotError::Order {
            leaf: self.leaf,
            detail: e.to_string(),
        })
    }

    pub(super) fn push(&mut self, record: &[u8]) -> Result<(), SnapshotError> {
        let result = self.push_record(record);
        self.leaf = self.leaf.saturating_add(1);
        result
    }

    pub(super) fn push_record(&mut self, record: &[u8]) -> Result<(), SnapshotError> {
        match record[0] {
            TAG_CONTRACT => {
                if self.phase != Phase::Contracts {
                    return Err(self.order("contract after the contracts section".into()));
                }
                self.finish_contract()?;
                let address = self.felt("contract address", &record[1..33])?;
                if self.last_address.is_some_and(|last| address <= last) {
                    return Err(self.order(format!("contract {address:#x} not above the previous")));
                }
                self.last_address = Some(address);
                self.contract = Some(Contract {
                    address,
                    class_hash: self.felt("class hash", &record[33..65])?,
                    nonce: self.felt("nonce", &record[65..97])?,
                    claimed_root: self.felt("storage root", &record[97..129])?,
                    root: Felt::ZERO,
                    pending: Vec::new(),
                    last_key: None,
                });
                self.counts.contracts = self.counts.contracts.saturating_add(1);
            }
            TAG_STORAGE => {
                let key = self.felt("storage key", &record[1..33])?;
                let value = self.felt("storage value", &record[33..65])?;
                let leaf = self.leaf;
                let contract = self.contract.as_mut().ok_or(SnapshotError::Order {
                    leaf,
                    detail: "storage slot outside a contract".into(),
                })?;
                if contract.last_key.is_some_and(|last| key <= last) || value == Felt::ZERO {
                    return Err(SnapshotError::Order {
                        leaf,
                        detail: format!("slot {key:#x}: not above the previous, or zero"),
                    });
                }
                contract.last_key = Some(key);
                contract.pending.push((key, value));
                let address = contract.address;
                let leaf_key = keys::leaf(
                    keys::LEAF_STARKNET_STORAGE,
                    &[&address.to_bytes_be(), &key.to_bytes_be()],
                );
                put_leaf(
                    &mut self.write,
                    leaf_key,
                    value.to_bytes_be().to_vec(),
                    self.batch,
                );
                if address == ALIAS_CONTRACT && key != Felt::ZERO {
                    // The engine's reverse index of the alias table (see StarknetState::plan).
                    let alias_key = keys::leaf(keys::LEAF_STARKNET_ALIAS, &[&value.to_bytes_be()]);
                    self.write
                        .put(Column::Leaves, alias_key, key.to_bytes_be().to_vec());
                    self.aliases_written = self.aliases_written.saturating_add(1);
                }
                self.counts.storage = self.counts.storage.saturating_add(1);
                if self.contract.as_ref().expect("set").pending.len() >= FLUSH_LEAVES {
                    self.flush_storage()?;
                }
            }
            TAG_CLASS => {
                if self.phase > Phase::Classes {
                    return Err(self.order("class after the aliases section".into()));
                }
                if self.phase == Phase::Contracts {
                    self.finish_contracts()?;
                    self.phase = Phase::Classes;
                }
                let class_hash = self.felt("class hash", &record[1..33])?;
                let compiled = self.felt("compiled class hash", &record[33..65])?;
                if self.last_class.is_some_and(|last| class_hash <= last) || compiled == Felt::ZERO
                {
                    return Err(self.order(format!(
                        "class {class_hash:#x}: not above the previous, or zero"
                    )));
                }
                self.last_class = Some(class_hash);
                let leaf_key = keys::leaf(keys::LEAF_STARKNET_CLASS, &[&class_hash.to_bytes_be()]);
                put_leaf(
                    &mut self.write,
                    leaf_key,
                    compiled.to_bytes_be().to_vec(),
                    self.batch,
                );
                self.class_leaves
                    .push((class_hash, class_leaf_hash(&compiled)));
                self.hashes = self.hashes.saturating_add(1);
                self.counts.classes = self.counts.classes.saturating_add(1);
                if self.class_leaves.len() >= FLUSH_LEAVES {
                    self.flush_classes()?;
                }
            }
            TAG_ALIAS => {
                if self.phase != Phase::Aliases {
                    self.finish_contracts()?;
                    self.flush_classes()?;
                    self.commit()?;
                    self.phase = Phase::Aliases;
                }
                let alias = self.felt("alias", &record[1..33])?;
                let original = self.felt("aliased key", &record[33..65])?;
                if self
                    .last_alias_original
                    .is_some_and(|last| original <= last)
                {
                    return Err(
                        self.order(format!("alias of {original:#x} not above the previous"))
                    );
                }
                self.last_alias_original = Some(original);
                let stored = self.store.get(
                    Column::Leaves,
                    &keys::leaf(keys::LEAF_STARKNET_ALIAS, &[&alias.to_bytes_be()]),
                )?;
                if stored.as_deref() != Some(&original.to_bytes_be()[..]) {
                    return Err(self.order(format!(
                        "alias {alias:#x} -> {original:#x} is not in contract 0x2's storage"
                    )));
                }
                self.counts.aliases = self.counts.aliases.saturating_add(1);
            }
            other => {
                return Err(self.order(format!("unknown record tag {other:#04x}")));
            }
        }
        if self.write.len() >= 4 * FLUSH_LEAVES {
            self.commit()?;
        }
        Ok(())
    }

    pub(super) fn commit(&mut self) -> Result<(), SnapshotError> {
        if !self.write.is_empty() {
            self.store.commit(std::mem::take(&mut self.write))?;
        }
        Ok(())
    }

    pub(super) fn flush_storage(&mut self) -> Result<(), SnapshotError> {
        let Some(contract) = self.contract.as_mut() else {
            return Ok(());
        };
        if contract.pending.is_empty() {
            return Ok(());
        }
        if contract.root != Felt::ZERO {
            // The update reads the nodes of the previous flush back.
            let write = std::mem::take(&mut self.write);
            self.store.commit(write)?;
        }
        let contract = self.contract.as_mut().expect("checked");
        let update =
            Trie::<_, PedersenHasher>::new(self.store).update(contract.root, &contract.pending)?;
        contract.pending.clear();
        contract.root = update.root;
        self.hashes = self.hashes.saturating_add(update.hashes);
        for (key, node) in update.new_nodes {
            self.write.put(Column::Nodes, key.to_vec(), node);
        }
        Ok(())
    }

    pub(super) fn finish_contract(&mut self) -> Result<(), SnapshotError> {
        self.flush_storage()?;
        let Some(contract) = self.contract.take() else {
            return Ok(());
        };
        if contract.root != contract.claimed_root {
            return Err(SnapshotError::RootMismatch {
                what: "storage root of a contract",
                expected: format!(
                    "{:#x} (contract {:#x})",
                    contract.claimed_root, contract.address
                ),
                computed: format!("{:#x}", contract.root),
            });
        }
        let state = ContractState {
            class_hash: contract.class_hash,
            storage_root: contract.root,
            nonce: contract.nonce,
        };
        if state == ContractState::default() {
            return Err(self.order(format!("contract {:#x} is empty", contract.address)));
        }
        let leaf_key = keys::leaf(
            keys::LEAF_STARKNET_CONTRACT,
            &[&contract.address.to_bytes_be()],
        );
        put_leaf(&mut self.write, leaf_key, state.encode(), self.batch);
        self.contract_leaves
            .push((contract.address, state.leaf_hash()));
        self.hashes = self.hashes.saturating_add(3);
        if self.contract_leaves.len() >= FLUSH_LEAVES {
            self.flush_contracts()?;
        }
        Ok(())
    }

    pub(super) fn flush_contracts(&mut self) -> Result<(), SnapshotError> {
        if self.contract_leaves.is_empty() {
            return Ok(());
        }
        if self.contracts_root != Felt::ZERO {
            self.commit()?;
        }
        let update = Trie::<_, PedersenHasher>::new(self.store)
            .update(self.contracts_root, &self.contract_leaves)?;
        self.contract_leaves.clear();
        self.contracts_root = update.root;
        self.hashes = self.hashes.saturating_add(update.hashes);
        for (key, node) in update.new_nodes {
            self.write.put(Column::Nodes, key.to_vec(), node);
        }
        Ok(())
    }

    pub(super) fn finish_contracts(&mut self) -> Result<(), SnapshotError> {
        if self.phase == Phase::Contracts {
            self.finish_contract()?;
            self.flush_contracts()?;
        }
        Ok(())
    }

    pub(super) fn flush_classes(&mut self) -> Result<(), SnapshotError> {
        if self.class_leaves.is_empty() {
            return Ok(());
        }
        if self.classes_root != Felt::ZERO {
            self.commit()?;
        }
        let update = Trie::<_, PoseidonHasher>::new(self.store)
            .update(self.classes_root, &self.class_leaves)?;
        self.class_leaves.clear();
        self.classes_root = update.root;
        self.hashes = self.hashes.saturating_add(update.hashes);
        for (key, node) in update.new_nodes {
            self.write.put(Column::Nodes, key.to_vec(), node);
        }
        Ok(())
    }

    pub(super) fn finish(
        mut self,
        manifest: &SnapshotManifest,
        l1_root: Option<B256>,
    ) -> Result<Finish, SnapshotError> {
        self.finish_contracts()?;
        self.flush_classes()?;
        self.commit()?;
        let expected = &manifest.leaves;
        for (what, expected, found) in [
            ("contracts", expected.contracts, self.counts.contracts),
            ("storage slots", expected.storage, self.counts.storage),
            ("classes", expected.classes, self.counts.classes),
            ("aliases", expected.aliases, self.counts.aliases),
            (
                "aliases in contract 0x2",
                expected.aliases,
                self.aliases_written,
            ),
            ("ZKsync leaves", expected.zksync, 0),
        ] {
            if expected != found {
                return Err(SnapshotError::Count {
                    what,
                    expected,
                    found,
                });
            }
        }
        let rule = match manifest.roots.global_root_rule.as_deref() {
            Some("pre-v0.14") => GlobalRootRule::PreV0_14,
            Some("v0.14") | None => GlobalRootRule::V0_14,
            Some(other) => {
                return Err(SnapshotError::Manifest(format!(
                    "unknown global root rule {other:?}"
                )));
            }
        };
        let global = global_root(self.contracts_root, self.classes_root, rule);
        let word = |f: &Felt| B256::from(f.to_bytes_be());
        check_root(
            "contracts root",
            manifest.roots.contracts_root.as_ref(),
            &format_word(&word(&self.contracts_root)),
        )?;
        check_root(
            "classes root",
            manifest.roots.classes_root.as_ref(),
            &format_word(&word(&self.classes_root)),
        )?;
        let computed = format_word(&word(&global));
        check_root("state root", Some(&manifest.roots.state_root), &computed)?;
        let mut checks = vec![Check::equal(
            "snapshot.manifest_root",
            &manifest.roots.state_root,
            &computed,
        )];
        l1_check(l1_root, self.batch, &word(&global), &mut checks)?;
        let claimed = l1_root
            .map(|r| format_word(&r))
            .or_else(|| manifest.claimed_root.clone())
            .unwrap_or_else(|| manifest.roots.state_root.clone());
        let audit = BatchAudit::judge(self.batch, Some(claimed), format!("{global:#x}"), checks);
        let roots = BatchRoots {
            batch: self.batch,
            contracts_root: self.contracts_root,
            classes_root: self.classes_root,
            global_root: global,
            hashes: self.hashes,
        };
        let next_batch = self.batch.checked_add(1).ok_or_else(|| {
            SnapshotError::Manifest("batch 2^64 - 1 leaves no next batch to follow".into())
        })?;
        let tip = StarknetTip {
            next_batch,
            contracts_root: self.contracts_root,
            classes_root: self.classes_root,
            global_root: global,
        };
        let mut write = StoreBatch::default();
        write.put(
            Column::Batches,
            keys::batch(self.batch),
            serde_json::to_vec(&roots).expect("roots serialise"),
        );
        write.put(
            Column::Meta,
            keys::CHECKPOINT,
            serde_json::to_vec(&tip).expect("checkpoint serialises"),
        );
        Ok(Finish { write, audit })
    }
}
