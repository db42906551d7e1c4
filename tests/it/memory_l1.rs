//! An L1 chain held in memory that carries the cairo-lang oracle chains
//! (../shared/fixtures/starknet/oracle): the real L1 calldata, blobs and
//! memory pages StarkWare's own Python produced, with the event values it
//! computed. Test support only: it lets tests cut a replay at every L1 block,
//! fork the chain under the follower and tamper with what L1 says,
//! deterministically and fast.

use std::collections::HashMap;
use std::sync::Mutex;

use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use alloy_sol_types::SolEvent;
use serde_json::Value;
use zkreplay::chain::ChainConfig;
use zkreplay::devnet::contracts::abi::{LogMemoryPageFactContinuous, LogStateUpdate};
use zkreplay::l1::{
    BlobRequest, BlockTag, L1Block, L1Error, L1Log, L1Source, L1Transaction, LogFilter,
};

use crate::common;

pub const CORE: Address = address!("c662c410C0ECf747543f5bA90660f6ABeBD9C8c4");
pub const REGISTRY: Address = address!("96375087b2F6eFc59e5e0dd5111B4d090EBFDD8B");

/// A log as emitted: address, topics, data.
pub type RawLog = (Address, Vec<B256>, Bytes);

/// An L1 chain held in memory: one transaction per block.
#[derive(Clone, Default)]
pub struct Chain {
    /// (tx, logs emitted by it); block n+1 carries entry n (block 0 is empty).
    pub entries: Vec<(L1Transaction, Vec<RawLog>)>,
    pub blobs: HashMap<B256, Vec<u8>>,
    /// A blob the node serves wrongly (it answers `BlobMismatch` for it).
    pub lying_about: Option<B256>,
    /// Blocks at or above this number get hashes salted with `salt` (a fork).
    pub fork_from: u64,
    pub salt: u64,
}

impl Chain {
    pub fn head(&self) -> u64 {
        self.entries.len() as u64
    }

    pub fn block(&self, number: u64) -> Option<L1Block> {
        (number <= self.head()).then(|| L1Block {
            number,
            hash: self.hash(number),
            parent_hash: if number == 0 {
                B256::ZERO
            } else {
                self.hash(number - 1)
            },
            timestamp: 1_700_000_000 + 12 * number,
        })
    }

    pub fn hash(&self, number: u64) -> B256 {
        let salt = if number >= self.fork_from {
            self.salt
        } else {
            0
        };
        keccak256([number.to_be_bytes(), salt.to_be_bytes()].concat())
    }

    pub fn push(
        &mut self,
        to: Address,
        input: Vec<u8>,
        blobs: Vec<B256>,
        logs: Vec<(Address, Vec<B256>, Bytes)>,
    ) {
        let hash = keccak256([&input[..], &(self.entries.len() as u64).to_be_bytes()].concat());
        self.entries.push((
            L1Transaction {
                hash,
                to: Some(to),
                input: input.into(),
                blob_versioned_hashes: blobs,
                block_number: None,
                block_hash: None,
            },
            logs,
        ));
    }
}

pub struct MemoryL1 {
    pub chain: Mutex<Chain>,
}

impl MemoryL1 {
    pub fn snapshot(&self) -> Chain {
        self.chain.lock().unwrap().clone()
    }
}

impl L1Source for MemoryL1 {
    async fn chain_id(&self) -> Result<u64, L1Error> {
        Ok(31337)
    }

    async fn block_by_tag(&self, _tag: BlockTag) -> Result<L1Block, L1Error> {
        let chain = self.snapshot();
        Ok(chain.block(chain.head()).unwrap())
    }

    async fn block_by_number(&self, number: u64) -> Result<Option<L1Block>, L1Error> {
        Ok(self.snapshot().block(number))
    }

    async fn block_by_hash(&self, hash: B256) -> Result<Option<L1Block>, L1Error> {
        let chain = self.snapshot();
        Ok((0..=chain.head())
            .map(|n| chain.block(n).unwrap())
            .find(|b| b.hash == hash))
    }

    async fn logs(&self, filter: &LogFilter) -> Result<Vec<L1Log>, L1Error> {
        let chain = self.snapshot();
        let mut out = Vec::new();
        for number in filter.from_block.max(1)..=filter.to_block.min(chain.head()) {
            let (tx, logs) = &chain.entries[number as usize - 1];
            for (index, (address, topics, data)) in logs.iter().enumerate() {
                let wanted = filter.addresses.contains(address)
                    && (filter.topics0.is_empty() || filter.topics0.contains(&topics[0]));
                if wanted {
                    out.push(L1Log {
                        address: *address,
                        topics: topics.clone(),
                        data: data.clone(),
                        block_number: number,
                        block_hash: chain.hash(number),
                        transaction_hash: tx.hash,
                        log_index: index as u64,
                        removed: false,
                    });
                }
            }
        }
        Ok(out)
    }

    async fn transaction(&self, hash: B256) -> Result<Option<L1Transaction>, L1Error> {
        let chain = self.snapshot();
        Ok(chain.entries.iter().enumerate().find_map(|(i, (tx, _))| {
            (tx.hash == hash).then(|| L1Transaction {
                block_number: Some(i as u64 + 1),
                block_hash: Some(chain.hash(i as u64 + 1)),
                ..tx.clone()
            })
        }))
    }

    async fn call(&self, _to: Address, _data: Bytes, _block: u64) -> Result<Bytes, L1Error> {
        Ok(Bytes::new())
    }

    async fn blobs(&self, _block: &L1Block, wanted: &BlobRequest) -> Result<Vec<Vec<u8>>, L1Error> {
        let chain = self.snapshot();
        wanted
            .versioned_hashes
            .iter()
            .map(|h| {
                if chain.lying_about == Some(*h) {
                    return Err(L1Error::BlobMismatch {
                        versioned_hash: *h,
                        detail: "served another blob".into(),
                    });
                }
                chain
                    .blobs
                    .get(h)
                    .cloned()
                    .ok_or(L1Error::BlobUnavailable { versioned_hash: *h })
            })
            .collect()
    }
}

pub fn u256(v: &Value) -> U256 {
    U256::from_be_bytes(common::word(v).0)
}

pub fn oracle_batches(set: &str) -> Vec<Value> {
    let dir = common::fixtures().join("starknet/oracle").join(set);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("batch_"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| common::read_json(&dir.join(n)))
        .collect()
}

/// The L1 history of an oracle chain: page registrations, then each state update.
pub fn oracle_chain(set: &str) -> Chain {
    let mut chain = Chain {
        fork_from: u64::MAX,
        ..Chain::default()
    };
    for batch in oracle_batches(set) {
        for page in batch["memory_pages"].as_array().into_iter().flatten() {
            let event = &page["LogMemoryPageFactContinuous"];
            let log = LogMemoryPageFactContinuous {
                factHash: common::word(&event["factHash"]),
                memoryHash: u256(&event["memoryHash"]),
                prod: u256(&event["prod"]),
            };
            chain.push(
                REGISTRY,
                common::bytes(&page["calldata"]),
                vec![],
                vec![(
                    REGISTRY,
                    vec![LogMemoryPageFactContinuous::SIGNATURE_HASH],
                    log.encode_data().into(),
                )],
            );
        }
        let mut versioned = Vec::new();
        for blob in batch["blobs"].as_array().into_iter().flatten() {
            let hash = common::word(&blob["versioned_hash"]);
            chain.blobs.insert(hash, common::bytes(&blob["data"]));
            versioned.push(hash);
        }
        let l1 = &batch["l1"];
        let calldata = l1
            .get("updateStateKzgDA_calldata")
            .or(l1.get("updateState_calldata"))
            .unwrap();
        let event = &l1["LogStateUpdate"];
        let log = LogStateUpdate {
            globalRoot: u256(&event["globalRoot"]),
            blockNumber: alloy_primitives::I256::try_from(event["blockNumber"].as_i64().unwrap())
                .unwrap(),
            blockHash: u256(&event["blockHash"]),
        };
        chain.push(
            CORE,
            common::bytes(calldata),
            versioned,
            vec![(
                CORE,
                vec![LogStateUpdate::SIGNATURE_HASH],
                log.encode_data().into(),
            )],
        );
    }
    chain
}

pub fn config() -> ChainConfig {
    ChainConfig::parse(&format!(
        r#"
name = "starknet-oracle"
rollup = "starknet"
l1_chain_id = 31337
first_l1_block = 0
log_range = 3
[starknet]
core_contract = "{CORE}"
memory_page_registry = "{REGISTRY}"
v0_14_from_l2_block = 0
"#
    ))
    .unwrap()
}

/// An L1 node serving `chain`.
pub fn memory(chain: Chain) -> MemoryL1 {
    MemoryL1 {
        chain: Mutex::new(chain),
    }
}

/// The L1 block carrying the state update of oracle batch `n` (0-based).
pub fn update_block(chain: &Chain, n: usize) -> u64 {
    let (i, _) = chain
        .entries
        .iter()
        .enumerate()
        .filter(|(_, (_, logs))| logs.iter().any(|l| l.0 == CORE))
        .nth(n)
        .expect("the chain has that many state updates");
    i as u64 + 1
}
