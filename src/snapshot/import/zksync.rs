//! Rebuilding the ZKsync tree from a snapshot's sorted leaves.

use super::*;

/// Rebuilds the ZKsync tree from leaves in strictly increasing tree-key order.
pub struct ZksyncBuilder<'s> {
    store: &'s Store,
    batch: u64,
    next_index: u64,
    root: B256,
    last_key: Option<TreeKey>,
    pending: Vec<ZkLeaf>,
    pending_indices: HashSet<u64>,
    count: u64,
}

impl<'s> ZksyncBuilder<'s> {
    /// A builder for the state at `batch`, whose leaves use indices below `next_index`.
    pub fn new(store: &'s Store, batch: u64, next_index: u64) -> Self {
        ZksyncBuilder {
            store,
            batch,
            next_index,
            root: empty_root(),
            last_key: None,
            pending: Vec::with_capacity(FLUSH_LEAVES),
            pending_indices: HashSet::new(),
            count: 0,
        }
    }

    /// Adds one leaf; leaves must come in strictly increasing tree-key order with unique indices.
    pub fn push(&mut self, leaf: &ZkLeaf) -> Result<(), SnapshotError> {
        let key = tree_key(leaf);
        let index = u64::from_be_bytes(leaf[32..40].try_into().expect("8 bytes"));
        let order = |detail: String| SnapshotError::Order {
            leaf: self.count,
            detail,
        };
        if self.last_key.is_some_and(|last| key <= last) {
            return Err(order(format!(
                "derived key {} is not above the previous leaf's in tree order",
                B256::from_slice(&leaf[..32])
            )));
        }
        if index == 0 || index >= self.next_index {
            return Err(order(format!(
                "enumeration index {index} outside 1..{}",
                self.next_index
            )));
        }
        if !self.pending_indices.insert(index)
            || self
                .store
                .get(
                    Column::Leaves,
                    &keys::leaf(keys::LEAF_ZKSYNC_BY_INDEX, &[&index.to_be_bytes()]),
                )?
                .is_some()
        {
            return Err(order(format!("enumeration index {index} used twice")));
        }
        self.last_key = Some(key);
        self.pending.push(*leaf);
        self.count = self.count.saturating_add(1);
        if self.pending.len() >= FLUSH_LEAVES {
            self.flush()?;
        }
        Ok(())
    }

    pub(super) fn flush(&mut self) -> Result<(), SnapshotError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let writes = self
            .pending
            .iter()
            .map(|l| LeafWrite {
                key: tree_key(l),
                leaf_hash: crate::rollup::zksync::tree::hash_leaf(
                    u64::from_be_bytes(l[32..40].try_into().expect("8 bytes")),
                    &B256::from_slice(&l[40..]),
                ),
            })
            .collect();
        let update = Tree::new(self.store, self.root).update(writes)?;
        let mut write = StoreBatch::default();
        for (key, node) in update.nodes {
            write.put(Column::Nodes, key.to_vec(), node);
        }
        for leaf in self.pending.drain(..) {
            let leaf_key = keys::leaf(keys::LEAF_ZKSYNC_BY_KEY, &[&leaf[..32]]);
            write.put(
                Column::History,
                keys::history(&leaf_key, self.batch),
                leaf[32..].to_vec(),
            );
            write.put(Column::Leaves, leaf_key, leaf[32..].to_vec());
            write.put(
                Column::Leaves,
                keys::leaf(keys::LEAF_ZKSYNC_BY_INDEX, &[&leaf[32..40]]),
                leaf[..32].to_vec(),
            );
        }
        self.store.commit(write)?;
        self.pending_indices.clear();
        self.root = update.root;
        Ok(())
    }

    /// Flushes, checks counts and roots, and returns the final write.
    pub fn finish(
        mut self,
        manifest: &SnapshotManifest,
        l1_root: Option<B256>,
        accept_partial: bool,
    ) -> Result<Finish, SnapshotError> {
        self.flush()?;
        if self.count != manifest.leaves.zksync {
            return Err(SnapshotError::Count {
                what: "ZKsync leaves",
                expected: manifest.leaves.zksync,
                found: self.count,
            });
        }
        // Indices are handed out densely from 1: every one below next_index is a leaf.
        let below_next = self.next_index.checked_sub(1).ok_or_else(|| {
            SnapshotError::Manifest("next_index is 0 (indices start at 1)".into())
        })?;
        if self.count != below_next {
            return Err(SnapshotError::Count {
                what: "ZKsync leaves below next_index",
                expected: below_next,
                found: self.count,
            });
        }
        self.finish_roots(
            &manifest.roots.state_root,
            manifest.claimed_root.clone(),
            l1_root,
            accept_partial,
        )
    }

    /// The final write once every leaf is in: the root judged against
    /// `expected` (the manifest's) and L1's. `accept_partial` as for
    /// [`BatchAudit::write`]: whether a batch L1 did not vouch for counts as
    /// verified.
    pub fn finish_roots(
        mut self,
        expected: &str,
        claimed: Option<String>,
        l1_root: Option<B256>,
        accept_partial: bool,
    ) -> Result<Finish, SnapshotError> {
        self.flush()?;
        let computed = format_word(&self.root);
        check_root("state root", Some(&expected.to_owned()), &computed)?;
        let mut checks = vec![Check::equal("snapshot.manifest_root", expected, &computed)];
        l1_check(l1_root, self.batch, &self.root, &mut checks)?;
        let claimed = l1_root
            .map(|r| format_word(&r))
            .or(claimed)
            .unwrap_or_else(|| expected.to_owned());
        let audit = BatchAudit::judge(self.batch, Some(claimed.clone()), computed, checks);
        let matches = audit.verdict != crate::audit::Verdict::Mismatch;
        // The checkpoint's own verified mark is what the API serves default
        // reads from in a store without a genesis audit (an imported one):
        // it must hold where the audits' pointer holds, at a batch L1 did not
        // vouch for (PARTIAL) unless partial batches are accepted.
        let verified = audit.verifies(accept_partial);
        let record = BatchRecord {
            batch: self.batch,
            computed_root: self.root,
            claimed_root: parse_hex_word(&claimed),
            matches: Some(matches),
            next_index: self.next_index,
            initial_writes: 0,
            repeated_writes: 0,
        };
        // The snapshot's batch is the floor of this store: nothing below it can
        // be unwound (there is no history below it), so it counts as executed.
        let tip = ZksyncTip {
            batch: self.batch,
            root: self.root,
            next_index: self.next_index,
            last_executed: self.batch,
            last_proven: self.batch,
            verified: if verified { self.batch } else { 0 },
        };
        let mut write = StoreBatch::default();
        write.put(
            Column::Batches,
            keys::batch(self.batch).to_vec(),
            serde_json::to_vec(&record).expect("record serialises"),
        );
        write.put(
            Column::Meta,
            keys::CHECKPOINT,
            serde_json::to_vec(&tip).expect("checkpoint serialises"),
        );
        Ok(Finish { write, audit })
    }

    /// Leaves pushed so far.
    pub fn count(&self) -> u64 {
        self.count
    }
}
