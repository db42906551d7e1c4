//! The root L1 accepted for a snapshot's batch, read from the commit log of
//! the L1 block the manifest names, emitted by the contract the chain config
//! names (never by an address the snapshot chooses).

use alloy_primitives::B256;

use super::{SnapshotError, SnapshotManifest};
use crate::chain::{ChainConfig, RollupKind};
use crate::l1::{L1Source, LogFilter};

/// Reads the root L1 accepted for `manifest.batch` through `source`.
///
/// ZKsync: the `BlockCommit` of that batch number in the manifest's L1 block
/// (its `batchHash` is the new state root). Starknet: the `LogStateUpdate`
/// of the manifest's L1 transaction, whose L2 block must be the batch's last.
pub async fn l1_root<S: L1Source>(
    source: &S,
    config: &ChainConfig,
    manifest: &SnapshotManifest,
) -> Result<B256, SnapshotError> {
    if config.name != manifest.chain {
        return Err(SnapshotError::L1(format!(
            "chain config {} does not match the snapshot's chain {}",
            config.name, manifest.chain
        )));
    }
    let record = manifest.l1.as_ref().ok_or_else(|| {
        SnapshotError::L1(
            "the snapshot names no L1 block for its batch, so L1 cannot vouch for it".into(),
        )
    })?;
    commit_root(
        source,
        config,
        &CommitLog {
            batch: manifest.batch,
            l1_block: record.l1_block_number,
            block_hash: Some(record.l1_block_hash),
            transaction: Some(record.l1_transaction_hash),
            l2_block: record.summary.l2_blocks.map(|(_, last)| last),
        },
    )
    .await
}

/// Where to find a batch's commit log on L1.
#[derive(Clone, Copy, Debug)]
pub struct CommitLog {
    /// Batch number the commit log belongs to.
    pub batch: u64,
    /// The L1 block holding the commit log.
    pub l1_block: u64,
    /// The block's hash as the snapshot recorded it (a reorg since is an error).
    pub block_hash: Option<B256>,
    /// Starknet: the L1 transaction of the state update.
    pub transaction: Option<B256>,
    /// Starknet: the batch's last L2 block, checked against the event.
    pub l2_block: Option<u64>,
}

/// The root in the commit log of `at.batch` in L1 block `at.l1_block`,
/// emitted by the contract `config` names (for zksync-era snapshots, whose
/// header names no L1 block, the user gives the block).
pub async fn commit_root<S: L1Source>(
    source: &S,
    config: &ChainConfig,
    at: &CommitLog,
) -> Result<B256, SnapshotError> {
    let fail = |detail: String| SnapshotError::L1(detail);
    let chain_id = source.chain_id().await.map_err(|e| fail(e.to_string()))?;
    if chain_id != config.l1_chain_id {
        return Err(fail(format!(
            "the L1 node is on chain {chain_id}, the config expects {}",
            config.l1_chain_id
        )));
    }
    let (address, topics0) = match config.rollup {
        RollupKind::Starknet => {
            let starknet = config
                .starknet
                .as_ref()
                .ok_or_else(|| fail("chain config has no [starknet] section".into()))?;
            (
                starknet.core_contract,
                crate::rollup::starknet::events::STATE_UPDATE_TOPICS.to_vec(),
            )
        }
        RollupKind::Zksync => {
            let zksync = config
                .zksync
                .as_ref()
                .ok_or_else(|| fail("chain config has no [zksync] section".into()))?;
            (
                zksync.diamond_proxy,
                vec![crate::rollup::zksync::events::BLOCK_COMMIT],
            )
        }
    };
    let logs = source
        .logs(&LogFilter {
            addresses: vec![address],
            topics0,
            from_block: at.l1_block,
            to_block: at.l1_block,
        })
        .await
        .map_err(|e| fail(e.to_string()))?;
    for log in logs.iter().filter(|l| !l.removed && l.address == address) {
        if let Some(hash) = at.block_hash
            && log.block_hash != hash
        {
            return Err(fail(format!(
                "L1 block {} is now {}, the snapshot names {hash} (reorged?)",
                at.l1_block, log.block_hash
            )));
        }
        match config.rollup {
            RollupKind::Zksync => {
                if let Ok(Some(crate::rollup::zksync::events::BatchEvent::Commit {
                    batch,
                    state_root,
                    ..
                })) = crate::rollup::zksync::events::parse_log(&log.topics, &log.data)
                    && batch == at.batch
                {
                    return Ok(state_root);
                }
            }
            RollupKind::Starknet => {
                if at.transaction.is_some_and(|tx| tx != log.transaction_hash) {
                    continue;
                }
                let event =
                    crate::rollup::starknet::events::decode_state_update(&log.topics, &log.data)
                        .map_err(|e| fail(e.to_string()))?;
                if let Some(last) = at.l2_block
                    && last != event.l2_block
                {
                    return Err(fail(format!(
                        "the L1 update is for L2 block {}, the snapshot says {last}",
                        event.l2_block
                    )));
                }
                return Ok(B256::from(event.global_root.to_be_bytes()));
            }
        }
    }
    Err(fail(format!(
        "no commit of batch {} by {address} in L1 block {}",
        at.batch, at.l1_block
    )))
}
