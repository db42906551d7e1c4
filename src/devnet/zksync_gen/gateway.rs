//! The Gateway-like settlement chain of the ZKsync devnet: which Era batches
//! settle there ([`GatewayWindow`]), its own honest state, and the batches
//! that carry Era's pubdata to L1 while Era settles there.

use super::*;

/// Era batches `from_batch..until_batch` settle on a Gateway-like ZK chain:
/// each is committed there (an L2 transaction, not simulated) and reaches L1
/// only inside one Gateway batch whose pubdata relays the batch's pubdata
/// (`RelayedSLDAValidator`) and its `StoredBatchInfo` (Era's diamond on the
/// Gateway), and whose state diffs store Era's counters and stored batch hash.
/// Before the window every Era batch committed on L1 is executed there;
/// before moving back every Era batch is executed on the Gateway and every
/// Gateway batch on L1 (the real contracts require both).
#[derive(Clone, Debug)]
pub struct GatewayWindow {
    /// First Era batch settled on the Gateway.
    pub from_batch: u64,
    /// First Era batch back on L1 (the window's exclusive end).
    pub until_batch: u64,
    /// First Era batch whose `StoredBatchInfo` has 9 fields (Era's v29 on the Gateway).
    pub era_v29_from_batch: u64,
    /// First Gateway batch committed on L1 with `0x0db9eb87` (the Gateway's own v29).
    pub gateway_v29_from_batch: u64,
    /// The Gateway's diamond proxy on L1 (a second stand-in).
    pub gateway_diamond: Address,
    /// The Gateway's chain id.
    pub gateway_chain_id: u64,
    /// Era's diamond proxy on the Gateway: the sender of the relayed `StoredBatchInfo`.
    pub era_diamond_on_gateway: Address,
    /// The Gateway's `RelayedSLDAValidator`: the sender of the relayed pubdata.
    pub relayed_da_validator: Address,
    /// Era batches after whose Gateway batch the Gateway commits one more
    /// that carries none of Era's batches but moves Era's counters (Era
    /// proves and executes there); each inside the window, before its last batch.
    pub carries_nothing_after: BTreeSet<u64>,
}

impl GatewayWindow {
    /// The mainnet addresses (chains/zksync-gateway-mainnet.toml) around batches `from..until`.
    pub fn mainnet_like(from_batch: u64, until_batch: u64) -> Self {
        GatewayWindow {
            from_batch,
            until_batch,
            era_v29_from_batch: from_batch + (until_batch - from_batch) / 2,
            gateway_v29_from_batch: 1 + (until_batch - from_batch) / 3,
            gateway_diamond: alloy_primitives::address!("6E96D1172a6593D5027Af3c2664C5112Ca75F2B9"),
            gateway_chain_id: 9075,
            era_diamond_on_gateway: alloy_primitives::address!(
                "CE7CBd23193d029410b40e0fD8a79a5121f9250C"
            ),
            relayed_da_validator: alloy_primitives::address!(
                "595b8C88B9e5f3a4c596C3e81BE6e11D53Bb9200"
            ),
            carries_nothing_after: BTreeSet::new(),
        }
    }

    /// Whether Era batch `batch` settles on the Gateway.
    pub fn contains(&self, batch: u64) -> bool {
        (self.from_batch..self.until_batch).contains(&batch)
    }

    /// How the follower names this chain on the Gateway.
    pub fn settled_chain(&self, era_chain_id: u64) -> SettledChain {
        SettledChain {
            chain_id: U256::from(era_chain_id),
            relayed_da_validator: self.relayed_da_validator,
            diamond_on_layer: self.era_diamond_on_gateway,
        }
    }
}

/// The Gateway-like chain's side: its own scratch state (honest Gateway roots
/// and enumeration indices) and what L1 stores for its batches.
pub(super) struct GatewaySim {
    pub(super) window: GatewayWindow,
    // Declared before `_dir` so the store closes before its directory is removed.
    pub(super) store: Store,
    pub(super) _dir: tempfile::TempDir,
    pub(super) stored: BTreeMap<u64, StoredBatch>,
    pub(super) next: u64,
    pub(super) last_executed: u64,
    /// Era's `totalBatchesCommitted/Verified/Executed` on its Gateway diamond.
    pub(super) era_counters: [u64; 3],
}

impl GatewaySim {
    pub(super) fn new(
        config: &ZksyncGenConfig,
        window: GatewayWindow,
    ) -> Result<Self, DevnetError> {
        if window.from_batch < 2 || window.until_batch <= window.from_batch {
            return Err(DevnetError::Config(format!(
                "Gateway window {}..{} must start after batch 1 and be non-empty",
                window.from_batch, window.until_batch
            )));
        }
        if let Some(n) = window
            .carries_nothing_after
            .iter()
            .find(|n| !(window.from_batch..window.until_batch - 1).contains(*n))
        {
            return Err(DevnetError::Config(format!(
                "a Gateway batch carrying nothing after Era batch {n}: only after batches {}..{} \
                 (inside the window, before its last batch)",
                window.from_batch,
                window.until_batch - 1
            )));
        }
        if config.execute_lag == 0 {
            return Err(DevnetError::Config(
                "a Gateway window needs execute_lag > 0 (batches are executed before each migration)".into(),
            ));
        }
        // Inside the window two faults are simulated: a relayed
        // StoredBatchInfo claiming a wrong root (the Gateway relays whatever
        // Era committed there), and relayed pubdata other than what Era's DA
        // validator sent (the messenger log keeps the true message's hash).
        // Other faults, and reverts reaching into the window, are not.
        if config.faults.iter().any(|(n, fault)| {
            *n + config.execute_lag >= window.from_batch
                && *n < window.until_batch
                && !(window.contains(*n)
                    && matches!(fault, Fault::TamperedRoot | Fault::DataNotBound))
        }) {
            return Err(DevnetError::Config(
                "faults inside (or reverts reaching into) the Gateway window, other than a \
                 tampered root or unbound pubdata inside it, are not simulated"
                    .into(),
            ));
        }
        let dir = tempfile::tempdir()?;
        let store = Store::open(dir.path(), "devnet-gateway-generator")?;
        let leaves = genesis::leaves(&synthetic_genesis(config.seed ^ 0x6761_7465_7761_7900))?;
        let state = ZksyncState::init_genesis(&store, &leaves, None)?;
        let checkpoint = state.checkpoint().clone();
        let mut stored = BTreeMap::new();
        stored.insert(
            0,
            encode::stored_batch(0, checkpoint.root, checkpoint.next_index),
        );
        let before = window.from_batch - 1;
        Ok(GatewaySim {
            window,
            store,
            _dir: dir,
            stored,
            next: 1,
            last_executed: 0,
            era_counters: [before; 3],
        })
    }

    /// One Gateway batch carrying Era batch `info.stored.batch_number`: the
    /// Gateway's commit on L1 (and executions of earlier Gateway batches), the
    /// Era batch the Gateway has executed after it, and the format label.
    /// `relayed_instead` (a fault) is relayed in place of `era_pubdata`, while
    /// the messenger log still names `era_pubdata`'s message.
    pub(super) fn carry(
        &mut self,
        era_chain_id: u64,
        execute_lag: u64,
        era_pubdata: &crate::rollup::zksync::pubdata::Pubdata,
        relayed_instead: Option<&crate::rollup::zksync::pubdata::Pubdata>,
        info: &RelayedBatchInfo,
        timestamp: u64,
    ) -> Result<(Vec<PlannedTx>, u64, &'static str), DevnetError> {
        let w = &self.window;
        let n = info.stored.batch_number;
        let last = n + 1 == w.until_batch;
        // Era's counters on the Gateway: this batch committed, the one before
        // proven, `execute_lag` behind executed; all equal before moving back.
        let [_, verified, executed] = self.era_counters;
        self.era_counters = if last {
            [n; 3]
        } else {
            let verified = verified.max(n - 1);
            [
                n,
                verified,
                executed.max(n.saturating_sub(execute_lag)).min(verified),
            ]
        };
        let chain = w.settled_chain(era_chain_id);
        let pubdata_message =
            gw::encode_relayed_pubdata(chain.chain_id, U256::from(n), &era_pubdata.encode());
        let relayed_message = match relayed_instead {
            Some(other) => {
                gw::encode_relayed_pubdata(chain.chain_id, U256::from(n), &other.encode())
            }
            None => pubdata_message.clone(),
        };
        let info_message = gw::encode_relayed_batch_info(info);
        let carried = Carrying {
            stored_batch_hash: (
                chain.stored_batch_hash_key(n),
                gw::stored_batch_hash(&info.stored),
            ),
            user_logs: vec![
                gw::message_log(w.relayed_da_validator, &pubdata_message),
                gw::message_log(w.era_diamond_on_gateway, &info_message),
            ],
            messages: vec![relayed_message, info_message],
        };
        let what = format!("carrying zksync batch {n}");
        let (txs, label) = self.commit(
            era_chain_id,
            execute_lag,
            Some(carried),
            timestamp,
            last,
            &what,
        )?;
        // Before moving back every Era batch is executed on the Gateway and the
        // Gateway batch on L1: from then on they cannot be reverted.
        let executed = if last { n } else { 0 };
        Ok((txs, executed, label))
    }

    /// One Gateway batch that carries none of Era's batches (it carries other
    /// chains' batches, or only the Gateway's own transactions), in which Era
    /// proves its last batch committed there and executes the one before: it
    /// moves Era's counters, and nothing else tells the follower they moved.
    /// Returns the Gateway's commit on L1 and executions of earlier Gateway batches.
    pub(super) fn carry_nothing(
        &mut self,
        era_chain_id: u64,
        execute_lag: u64,
        timestamp: u64,
    ) -> Result<Vec<PlannedTx>, DevnetError> {
        let [committed, _, executed] = self.era_counters;
        self.era_counters = [
            committed,
            committed,
            executed.max(committed.saturating_sub(1)),
        ];
        let (txs, _) = self.commit(
            era_chain_id,
            execute_lag,
            None,
            timestamp,
            false,
            "carrying no zksync batch",
        )?;
        Ok(txs)
    }

    /// Commits the next Gateway batch on L1: its state diffs store Era's
    /// counters (and, when it carries an Era batch, that batch's stored hash),
    /// its pubdata the carried batch's messages. Executes the Gateway batches
    /// `execute_lag` behind it (all of them when `last`).
    fn commit(
        &mut self,
        era_chain_id: u64,
        execute_lag: u64,
        carried: Option<Carrying>,
        timestamp: u64,
        last: bool,
        what: &str,
    ) -> Result<(Vec<PlannedTx>, &'static str), DevnetError> {
        let w = &self.window;
        let g = self.next;
        let chain = w.settled_chain(era_chain_id);
        let mut state = ZksyncState::open(&self.store)?;
        let mut initial: BTreeMap<B256, B256> = BTreeMap::new();
        let (user_logs, messages) = match carried {
            Some(c) => {
                initial.insert(c.stored_batch_hash.0, c.stored_batch_hash.1);
                (c.user_logs, c.messages)
            }
            None => (Vec::new(), Vec::new()),
        };
        let mut repeated = Vec::new();
        for (slot, value) in [
            TOTAL_BATCHES_COMMITTED_SLOT,
            TOTAL_BATCHES_VERIFIED_SLOT,
            TOTAL_BATCHES_EXECUTED_SLOT,
        ]
        .into_iter()
        .zip(self.era_counters)
        {
            let key = chain.slot_key(U256::from(slot));
            let value = B256::from(U256::from(value).to_be_bytes::<32>());
            match state.leaf(&key)? {
                Some((index, previous)) if previous != value => repeated.push(RepeatedWrite {
                    index,
                    value: ValueOp::compress(&previous, &value),
                }),
                Some(_) => {}
                None => {
                    initial.insert(key, value);
                }
            }
        }
        let writes = Writes {
            initial: initial
                .into_iter()
                .map(|(derived_key, value)| InitialWrite {
                    derived_key,
                    value: ValueOp::compress(&B256::ZERO, &value),
                })
                .collect(),
            repeated,
        };
        let applied = state.apply_and_commit(&PlanInput {
            batch_number: g,
            claimed_root: None,
            index_repeated_storage_changes: None,
            writes: writes.clone(),
        })?;
        let pubdata = crate::rollup::zksync::pubdata::Pubdata {
            user_logs,
            messages,
            bytecodes: vec![],
            state_diffs: StateDiffs {
                enum_index_size: ENUM_INDEX_SIZE,
                initial: writes.initial,
                repeated: writes.repeated,
            },
            consumed: 0,
        };
        let version = if g >= w.gateway_v29_from_batch {
            CommitVersion::V29
        } else {
            CommitVersion::V26
        };
        // Calldata and blobs alternate, so both DA paths of the Gateway are exercised.
        let publish = if g % 2 == 1 {
            Publish::Calldata
        } else {
            Publish::Blobs
        };
        let spec = BatchSpec {
            batch_number: g,
            timestamp,
            index_repeated_storage_changes: applied.record.next_index,
            new_state_root: applied.record.computed_root,
            pubdata,
        };
        let (batch, blobs) = encode::batch(version, &spec, publish)?;
        let previous = self.stored.get(&(g - 1)).cloned().ok_or_else(|| {
            DevnetError::Config(format!("Gateway batch {} was never stored", g - 1))
        })?;
        let mut call = encode::commit_call(version, previous, vec![batch.clone()]);
        call.chain_id = call.chain_id.map(|_| U256::from(w.gateway_chain_id));
        call.chain_address = call.chain_address.map(|_| w.gateway_diamond);
        let mut txs = vec![PlannedTx {
            to: w.gateway_diamond,
            calldata: encode_commit(&call),
            blobs,
            // The label names Era's executed counter the batch's state diffs
            // store, so tests can tell when Era's executions become final.
            label: format!(
                "gateway batch {g} commit {what}, zksync executed through {}",
                self.era_counters[2]
            ),
        }];
        let mut stored =
            encode::stored_batch(g, spec.new_state_root, spec.index_repeated_storage_changes);
        stored.timestamp = U256::from(timestamp);
        stored.commitment = contracts::standin_commitment(version, &batch);
        if version == CommitVersion::V29 {
            stored.dependency_roots_rolling_hash = Some(B256::ZERO);
        }
        self.stored.insert(g, stored);
        let target = if last {
            g
        } else {
            g.saturating_sub(execute_lag)
        };
        if target > self.last_executed {
            txs.push(execute_tx(
                &self.stored,
                self.last_executed + 1..=target,
                version,
                w.gateway_chain_id,
                w.gateway_diamond,
                "gateway",
            ));
            state.mark_executed(target)?;
            self.last_executed = target;
        }
        self.next = g + 1;
        let label = match (version, publish) {
            (CommitVersion::V29, Publish::Blobs) => "zksync-gateway-v29-blobs",
            (CommitVersion::V29, Publish::Calldata) => "zksync-gateway-v29-calldata",
            (_, Publish::Blobs) => "zksync-gateway-v26-blobs",
            (_, Publish::Calldata) => "zksync-gateway-v26-calldata",
        };
        Ok((txs, label))
    }
}

/// What a Gateway batch carrying an Era batch adds to it: the stored batch
/// hash in its state diffs (key, value), the messenger logs and the messages.
struct Carrying {
    stored_batch_hash: (B256, B256),
    user_logs: Vec<crate::rollup::zksync::L2Log>,
    messages: Vec<Vec<u8>>,
}
