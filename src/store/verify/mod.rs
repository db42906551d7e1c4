//! Is the store intact? Two depths of the same question.
//!
//! * [`check_head`]: the fast check `serve` and `follow` run at open. It reads
//!   the head of the store (checkpoint, last batch record, its audit) and
//!   re-derives the last batch's root from the stored nodes along the path of
//!   every leaf that batch wrote (up to [`HEAD_SAMPLE`] leaves, from the
//!   batch's undo list): each leaf's stored value must hash up, through the
//!   stored trie nodes, to the recorded root, and the recorded root must be the
//!   one the audit accepted. Together with the paranoid open (every table
//!   file's footer, index and size checked, see [`super::Store::open`]) this
//!   costs milliseconds, touches the files that hold the newest data, and
//!   catches a truncated or missing file at once. It does not read every data
//!   block: a flipped byte in an old block is found by the first read that
//!   meets it (an error, counted, and `/ready` goes unhealthy) or by [`verify`].
//! * [`verify`]: `zkreplay verify`. Reads every entry of every column with
//!   checksums verified (RocksDB's own whole-store check, reported per file),
//!   then replays the history column batch by batch into fresh in-memory tries,
//!   re-deriving every batch's root from the stored leaves alone, and compares
//!   each with the batch record and the audited (L1-claimed) root. With `full`
//!   it also re-hashes every stored trie node against the hash it is stored
//!   under. Memory: the replayed tries are held in memory (about the size of the
//!   nodes column).

use std::collections::{BTreeMap, HashMap};

use alloy_primitives::{B256, U256};
use starknet_types_core::felt::Felt;

use super::{Column, Store, StoreError, keys};
use crate::audit::{BatchAudit, Verdict};
use crate::chain::RollupKind;
use crate::rollup::starknet::hash::{PedersenHasher, PoseidonHasher, TrieHasher};
use crate::rollup::starknet::state::{
    BatchRoots, ContractState, GlobalRootRule, StarknetState, class_leaf_hash, global_root,
};
use crate::rollup::starknet::trie::{Trie, verify_proof};
use crate::rollup::zksync::state::{BatchRecord, leaf_at, read_checkpoint, read_record};
use crate::rollup::zksync::tree::{self, LeafWrite, Tree, TreeKey, empty_root, hash_leaf};

mod head;
mod nodes;

use head::{starknet_head, zksync_head};
use nodes::rehash_node;

/// Leaf writes (key, value) of the history column, by the batch that wrote them.
type HistoryByBatch = BTreeMap<u64, Vec<(Vec<u8>, Vec<u8>)>>;

/// What a replay reads, by batch: the leaves each batch wrote, its stored
/// record and its stored audit.
struct StoredHistory {
    history: HistoryByBatch,
    records: BTreeMap<u64, Vec<u8>>,
    audits: BTreeMap<u64, Vec<u8>>,
}

impl StoredHistory {
    /// The last batch with a record, or `None` (said through `progress`).
    fn last_batch(&self, progress: &mut dyn FnMut(&str)) -> Option<u64> {
        let last = self.records.keys().next_back().copied();
        if last.is_none() {
            progress("no batch to re-derive");
        }
        last
    }

    /// Ends one batch of a replay, the same for every rollup: the stored audit
    /// (if any) must name the re-derived `root`; a batch with no problem counts as
    /// matched; progress every 1,000 batches and at the last.
    fn conclude(
        &self,
        report: &mut Report,
        batch: u64,
        root: &U256,
        mut failed: bool,
        progress: &mut dyn FnMut(&str),
    ) {
        let last = self.records.keys().next_back().copied().unwrap_or(batch);
        if let Some(audit) = self.audits.get(&batch) {
            let agrees = serde_json::from_slice::<BatchAudit>(audit)
                .map_err(|e| format!("its audit does not parse: {e}"))
                .and_then(|audit| audit_agrees(&audit, root));
            if let Err(p) = agrees {
                problem(report, batch, p);
                failed = true;
            }
        }
        if !failed {
            report.roots_matched = report.roots_matched.saturating_add(1);
        }
        if batch.is_multiple_of(1000) || batch == last {
            progress(&format!(
                "re-derived batch {batch} of {last} from the stored leaves"
            ));
        }
    }
}

/// Leaves of the last batch whose paths the open check walks.
pub const HEAD_SAMPLE: usize = 64;

/// Why a store failed a check.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Reading the store failed (including file damage RocksDB detected).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The last batch's root does not re-derive from its stored leaves and nodes.
    #[error("store at {path} does not re-derive its last batch {batch}: {problem}")]
    Head {
        /// Store directory.
        path: String,
        /// The last batch.
        batch: u64,
        /// What did not re-derive.
        problem: String,
    },
    /// A stored record needed by the check does not decode.
    #[error("store at {path}: {problem}")]
    Unreadable {
        /// Store directory.
        path: String,
        /// What could not be read.
        problem: String,
    },
}

/// What [`check_head`] looked at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeadCheck {
    /// The last batch, `None` for an empty store.
    pub batch: Option<u64>,
    /// Leaves whose path to the root was re-derived.
    pub leaves_checked: usize,
}

/// The fast open check (see the module docs). A store with no batch passes.
pub fn check_head(store: &Store, kind: RollupKind) -> Result<HeadCheck, VerifyError> {
    store.check_files()?;
    match kind {
        RollupKind::Starknet => starknet_head(store),
        RollupKind::Zksync => zksync_head(store),
    }
}

/// One problem `verify` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The batch whose root or data it concerns, if any.
    pub batch: Option<u64>,
    /// What is wrong, in words.
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.batch {
            Some(b) => write!(f, "batch {b}: {}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

/// The outcome of [`verify`].
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Entries read per column, in [`Column::ALL`] order.
    pub entries: Vec<(&'static str, u64)>,
    /// Batches whose root was re-derived from the stored leaves.
    pub batches_rederived: u64,
    /// Roots that matched the batch record (and the audit, where one accepted a root).
    pub roots_matched: u64,
    /// Stored trie nodes re-hashed (`full` only).
    pub nodes_rehashed: u64,
    /// Every problem found; empty when the store passed.
    pub problems: Vec<Problem>,
}

impl Report {
    /// No damage found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Re-derives every root from the stored leaves and checks every block's
/// checksum; `full` re-hashes every stored node as well. `progress` gets
/// one line per step. Damage is a [`Problem`] in the report; only an error
/// that stops the whole pass (no manifest readable) is an `Err`.
pub fn verify(
    store: &Store,
    kind: RollupKind,
    full: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<Report, VerifyError> {
    store.keep_reading_after_damage();
    let mut report = Report::default();
    if let Err(e) = store.check_files() {
        report.problems.push(Problem {
            batch: None,
            what: e.to_string(),
        });
    }
    // One pass over every column: checksums, and what the replay needs.
    let mut history: HistoryByBatch = BTreeMap::new();
    let mut records: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut audits: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for column in Column::ALL {
        let mut entries = 0u64;
        let mut bad_nodes = Vec::new();
        let result = store.scan_column(column, |key, value| {
            entries = entries.saturating_add(1);
            match column {
                Column::History => {
                    if let Some(split) = key.len().checked_sub(8) {
                        let (leaf, batch) = key.split_at(split);
                        let batch = u64::from_be_bytes(batch.try_into().unwrap_or([0xff; 8]));
                        history
                            .entry(batch)
                            .or_default()
                            .push((leaf.to_vec(), value.to_vec()));
                    }
                }
                Column::Batches | Column::Audits => {
                    if let Ok(batch) = <[u8; 8]>::try_from(key) {
                        let map = if column == Column::Batches {
                            &mut records
                        } else {
                            &mut audits
                        };
                        map.insert(u64::from_be_bytes(batch), value.to_vec());
                    }
                }
                Column::Nodes if full => {
                    report.nodes_rehashed = report.nodes_rehashed.saturating_add(1);
                    if let Err(what) = rehash_node(key, value) {
                        bad_nodes.push(what);
                    }
                }
                _ => {}
            }
            Ok(())
        });
        progress(&format!(
            "read {entries} entries of column {} with checksums verified{}",
            column.name(),
            if result.is_ok() { "" } else { ": DAMAGED" }
        ));
        if let Err(e) = result {
            report.problems.push(Problem {
                batch: None,
                what: format!("column {}: {e}", column.name()),
            });
        }
        for what in bad_nodes {
            report.problems.push(Problem { batch: None, what });
        }
        report.entries.push((column.name(), entries));
    }
    let damaged_before_replay = !report.is_clean();
    let stored = StoredHistory {
        history,
        records,
        audits,
    };
    match kind {
        RollupKind::Starknet => replay_starknet(&stored, &mut report, progress),
        RollupKind::Zksync => replay_zksync(&stored, &mut report, progress),
    }
    if damaged_before_replay && report.batches_rederived > 0 {
        progress(
            "(the replay ran over what could be read; the damage above may explain its mismatches)",
        );
    }
    Ok(report)
}

// ------------------------------------------------------------------ shared checks

/// The felt of 32 big-endian bytes, `None` when they are not below the prime
/// (stored trie keys always are; the tries need keys in strict order).
fn canonical_felt(bytes: &[u8]) -> Option<Felt> {
    let felt = Felt::from_bytes_be_slice(bytes);
    (felt.to_bytes_be().as_slice() == bytes).then_some(felt)
}

fn felt_u256(felt: &Felt) -> U256 {
    U256::from_be_bytes(felt.to_bytes_be())
}

fn parse_root(hex: &str) -> Option<U256> {
    U256::from_str_radix(hex.trim_start_matches("0x"), 16).ok()
}

/// Whether the recorded global root is derived from the two trie roots by
/// one of the two rules (the record does not say which rule applied).
fn global_root_fits(roots: &BatchRoots) -> bool {
    [GlobalRootRule::PreV0_14, GlobalRootRule::V0_14]
        .into_iter()
        .any(|rule| {
            global_root(roots.contracts_root, roots.classes_root, rule) == roots.global_root
        })
}

/// The audit's computed root is `root`, and a root the audit accepted as
/// matching L1 is `root` too.
fn audit_agrees(audit: &BatchAudit, root: &U256) -> Result<(), String> {
    if !audit.computed_root.is_empty() && parse_root(&audit.computed_root).as_ref() != Some(root) {
        return Err(format!(
            "the audit's computed root {} differs from the stored root {root:#x}",
            audit.computed_root
        ));
    }
    if matches!(audit.verdict, Verdict::Match | Verdict::Partial)
        && let Some(claimed) = &audit.claimed_root
        && parse_root(claimed).as_ref() != Some(root)
    {
        return Err(format!(
            "the root L1 accepted ({claimed}, audit {}) differs from the stored root {root:#x}",
            audit.verdict.as_str()
        ));
    }
    Ok(())
}

/// A ZKsync record that says it matched L1 holds the claimed root.
fn zksync_record_agrees(record: &BatchRecord) -> Result<(), String> {
    if record.matches == Some(true) && record.claimed_root != Some(record.computed_root) {
        return Err(format!(
            "the record says its root {} matched L1, but the claimed root is {:?}",
            record.computed_root, record.claimed_root
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------ replays

fn problem(report: &mut Report, batch: u64, what: String) {
    report.problems.push(Problem {
        batch: Some(batch),
        what,
    });
}

/// The stored record of `batch`, or `None` with the problem reported.
fn batch_record<T: serde::de::DeserializeOwned>(
    report: &mut Report,
    records: &BTreeMap<u64, Vec<u8>>,
    batch: u64,
) -> Option<T> {
    let Some(bytes) = records.get(&batch) else {
        problem(report, batch, "its batch record is missing".into());
        return None;
    };
    match serde_json::from_slice(bytes) {
        Ok(record) => Some(record),
        Err(e) => {
            problem(
                report,
                batch,
                format!("its batch record does not parse: {e}"),
            );
            None
        }
    }
}

/// One trie update of the Starknet replay: the new nodes join `nodes` and the
/// new root is returned; a failure is the problem to report, named by `what`.
fn replay_trie<H: TrieHasher>(
    nodes: &mut HashMap<Vec<u8>, Vec<u8>>,
    root: Felt,
    leaves: &[(Felt, Felt)],
    what: &str,
) -> Result<Felt, String> {
    let update = Trie::<_, H>::new(&*nodes)
        .update(root, leaves)
        .map_err(|e| format!("{what}: {e}"))?;
    nodes.extend(update.new_nodes.into_iter().map(|(k, v)| (k.to_vec(), v)));
    Ok(update.root)
}

/// Replays the Starknet history into in-memory tries and compares each
/// batch's roots with its record and audit.
fn replay_starknet(stored: &StoredHistory, report: &mut Report, progress: &mut dyn FnMut(&str)) {
    let StoredHistory {
        history, records, ..
    } = stored;
    let mut nodes: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let mut storage_roots: HashMap<Felt, Felt> = HashMap::new();
    let (mut contracts_root, mut classes_root) = (Felt::ZERO, Felt::ZERO);
    let Some(last) = stored.last_batch(progress) else {
        return;
    };
    for batch in 0..=last {
        let entries = history.get(&batch).map(Vec::as_slice).unwrap_or(&[]);
        let mut storage: BTreeMap<Felt, Vec<(Felt, Felt)>> = BTreeMap::new();
        let mut contracts: BTreeMap<Felt, Option<Vec<u8>>> = BTreeMap::new();
        let mut classes: Vec<(Felt, Felt)> = Vec::new();
        for (leaf, value) in entries {
            // A key that is not a canonical felt (a rewritten store) is
            // skipped here; its batch then fails to re-derive.
            let word = |i: usize| {
                leaf.get(1 + i * 32..1 + (i + 1) * 32)
                    .and_then(canonical_felt)
            };
            let felt = if value.len() == 32 {
                Felt::from_bytes_be_slice(value)
            } else {
                Felt::ZERO
            };
            match (leaf.first().copied(), leaf.len()) {
                (Some(keys::LEAF_STARKNET_STORAGE), 65) => {
                    if let (Some(a), Some(k)) = (word(0), word(1)) {
                        storage.entry(a).or_default().push((k, felt));
                        contracts.entry(a).or_insert(None);
                    }
                }
                (Some(keys::LEAF_STARKNET_CONTRACT), 33) => {
                    if let Some(a) = word(0) {
                        contracts.insert(a, Some(value.clone()));
                    }
                }
                (Some(keys::LEAF_STARKNET_CLASS), 33) => {
                    if let Some(c) = word(0) {
                        classes.push((c, class_leaf_hash(&felt)));
                    }
                }
                _ => {}
            }
        }
        let mut contract_leaves = Vec::with_capacity(contracts.len());
        let mut failed = false;
        for (address, record) in &contracts {
            let previous = storage_roots.get(address).copied().unwrap_or(Felt::ZERO);
            let mut root = previous;
            if let Some(updates) = storage.get(address) {
                let what = format!("contract {address:#x}");
                match replay_trie::<PedersenHasher>(&mut nodes, previous, updates, &what) {
                    Ok(updated) => root = updated,
                    Err(p) => {
                        problem(report, batch, p);
                        failed = true;
                        continue;
                    }
                }
            }
            storage_roots.insert(*address, root);
            let Some(record) = record else {
                problem(
                    report,
                    batch,
                    format!("contract {address:#x} had storage written but no contract record"),
                );
                failed = true;
                continue;
            };
            let state = if record.is_empty() {
                ContractState::default()
            } else {
                match ContractState::decode(record) {
                    Ok(s) => s,
                    Err(e) => {
                        problem(report, batch, format!("contract {address:#x}: {e}"));
                        failed = true;
                        continue;
                    }
                }
            };
            if state.storage_root != root {
                problem(
                    report,
                    batch,
                    format!(
                        "contract {address:#x}: the stored storage root {:#x} is not the root {root:#x} of its stored storage leaves",
                        state.storage_root
                    ),
                );
                failed = true;
            }
            let derived = ContractState {
                storage_root: root,
                ..state
            };
            contract_leaves.push((*address, derived.leaf_hash()));
        }
        let contracts_update = replay_trie::<PedersenHasher>(
            &mut nodes,
            contracts_root,
            &contract_leaves,
            "contracts trie",
        );
        let classes_update =
            replay_trie::<PoseidonHasher>(&mut nodes, classes_root, &classes, "classes trie");
        for (update, root) in [
            (contracts_update, &mut contracts_root),
            (classes_update, &mut classes_root),
        ] {
            match update {
                Ok(updated) => *root = updated,
                Err(p) => {
                    problem(report, batch, p);
                    failed = true;
                }
            }
        }
        report.batches_rederived = report.batches_rederived.saturating_add(1);
        let Some(roots) = batch_record::<BatchRoots>(report, records, batch) else {
            continue;
        };
        if roots.contracts_root != contracts_root || roots.classes_root != classes_root {
            problem(
                report,
                batch,
                format!(
                    "roots re-derived from the stored leaves (contracts {contracts_root:#x}, classes {classes_root:#x}) differ from the record's (contracts {:#x}, classes {:#x})",
                    roots.contracts_root, roots.classes_root
                ),
            );
            failed = true;
        } else if !global_root_fits(&roots) {
            problem(
                report,
                batch,
                format!(
                    "the record's global root {:#x} is not derived from its trie roots",
                    roots.global_root
                ),
            );
            failed = true;
        }
        let derived = felt_u256(&roots.global_root);
        stored.conclude(report, batch, &derived, failed, progress);
    }
}

/// Replays the ZKsync history (genesis is batch 0) into an in-memory tree.
fn replay_zksync(stored: &StoredHistory, report: &mut Report, progress: &mut dyn FnMut(&str)) {
    let StoredHistory {
        history, records, ..
    } = stored;
    let mut nodes: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let mut root = empty_root();
    let Some(last) = stored.last_batch(progress) else {
        return;
    };
    let first = records.keys().next().copied().unwrap_or(0);
    for batch in first..=last {
        let entries = history.get(&batch).map(Vec::as_slice).unwrap_or(&[]);
        let mut writes = Vec::with_capacity(entries.len());
        let mut failed = false;
        for (leaf, value) in entries {
            if leaf.first() != Some(&keys::LEAF_ZKSYNC_BY_KEY) || leaf.len() != 33 {
                continue;
            }
            if value.len() != 40 {
                problem(
                    report,
                    batch,
                    format!(
                        "leaf 0x{} has a {}-byte value",
                        hex::encode(&leaf[1..]),
                        value.len()
                    ),
                );
                failed = true;
                continue;
            }
            let index = u64::from_be_bytes(value[..8].try_into().unwrap_or([0; 8]));
            writes.push(LeafWrite::new(
                &B256::from_slice(&leaf[1..]),
                index,
                &B256::from_slice(&value[8..]),
            ));
        }
        let mut tree = Tree::new(&nodes, root);
        match tree.update(writes) {
            Ok(update) => {
                nodes.extend(update.nodes.into_iter().map(|(k, v)| (k.to_vec(), v)));
                root = update.root;
            }
            Err(e) => {
                problem(report, batch, format!("tree: {e}"));
                failed = true;
            }
        }
        report.batches_rederived = report.batches_rederived.saturating_add(1);
        let Some(record) = batch_record::<BatchRecord>(report, records, batch) else {
            continue;
        };
        if record.computed_root != root {
            problem(
                report,
                batch,
                format!(
                    "the root re-derived from the stored leaves {root} differs from the record's {}",
                    record.computed_root
                ),
            );
            failed = true;
        }
        if let Err(p) = zksync_record_agrees(&record) {
            problem(report, batch, p);
            failed = true;
        }
        let derived = U256::from_be_bytes(root.0);
        stored.conclude(report, batch, &derived, failed, progress);
    }
}
