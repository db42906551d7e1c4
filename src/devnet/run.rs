//! `zkreplay devnet`: the seeded sequencer simulator against a real node.
//! Installs the stand-in contracts, generates both rollups' batches, submits
//! them as real transactions (blob transactions with real KZG data), and
//! writes the chain configs a follower needs to replay them.
//!
//! The simulator is test support, not evidence: correctness evidence comes
//! from ../shared/fixtures; the devnet exercises the follower's plumbing
//! (scanning, fetching, reorgs, reverts, faults, crashes) over real HTTP.

use std::path::{Path, PathBuf};

use alloy_primitives::{B256, Bytes};
use serde::Serialize;

use super::contracts::StandIn;
use super::starknet_gen::{self, StarknetFormat, StarknetGenConfig};
use super::zksync_gen::{self, ZksyncGenConfig, ZksyncGenerator};
use super::{DevnetError, PlannedBatch, PlannedTx};
use crate::l1::L1Error;
use crate::l1::submit::{Devnet, SidecarFormat, Submitted};

/// What to simulate.
#[derive(Clone, Debug, Default)]
pub struct DevnetPlan {
    pub starknet: StarknetGenConfig,
    pub zksync: ZksyncGenConfig,
    /// Reorg the L1 blocks of the last this many rounds (one batch of each
    /// rollup per round): they are mined, left canonical for `reorg_pause`
    /// (so a follower on `latest` applies them), then reverted with an anvil
    /// snapshot and mined again one block later. 0 = no reorg.
    pub reorg_last_rounds: usize,
    pub reorg_pause: std::time::Duration,
}

/// One submitted batch, as the follower should see it.
#[derive(Clone, Debug, Serialize)]
pub struct SubmittedBatch {
    pub rollup: &'static str,
    pub number: u64,
    pub format: &'static str,
    pub expected_root: B256,
    pub claimed_root: B256,
    pub fault: Option<super::Fault>,
    pub l1_blocks: Vec<u64>,
}

/// The outcome of a devnet run.
#[derive(Clone, Debug, Serialize)]
pub struct DevnetOutcome {
    pub starknet_config: PathBuf,
    pub zksync_config: PathBuf,
    pub first_block: u64,
    pub last_block: u64,
    /// The block the `finalized` tag points at once everything is submitted
    /// (at or after the last batch's block): a follower on the default tag stops here.
    pub finalized_block: u64,
    pub batches: Vec<SubmittedBatch>,
    /// Batches mined and then reorged away (they were submitted again after the fork).
    pub orphaned: Vec<SubmittedBatch>,
}

/// Errors of a devnet run.
#[derive(Debug, thiserror::Error)]
pub enum DevnetRunError {
    #[error(transparent)]
    L1(#[from] L1Error),
    #[error(transparent)]
    Generate(#[from] DevnetError),
    #[error("writing {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Submits one planned transaction; blob transactions use the newest sidecar
/// format the node takes.
pub async fn submit(devnet: &Devnet, tx: &PlannedTx) -> Result<Submitted, L1Error> {
    if tx.blobs.is_empty() {
        return devnet
            .send_calldata(tx.to, Bytes::from(tx.calldata.clone()))
            .await;
    }
    let blobs_tx =
        |format| devnet.send_blobs(tx.to, Bytes::from(tx.calldata.clone()), &tx.blobs, format);
    match blobs_tx(SidecarFormat::Eip7594).await {
        Ok(done) => Ok(done),
        Err(_) => blobs_tx(SidecarFormat::Eip4844).await,
    }
}

/// Everything the simulator generated, before submission.
pub struct Generated {
    pub starknet: Vec<PlannedBatch>,
    pub zksync: Vec<PlannedBatch>,
    pub zksync_genesis: Vec<crate::rollup::zksync::genesis::StorageLog>,
    pub zksync_genesis_root: B256,
}

/// Generates both rollups' batches (CPU-heavy: run it off the async workers).
pub fn generate(plan: &DevnetPlan) -> Result<Generated, DevnetError> {
    let starknet = starknet_gen::generate(plan.starknet.clone())?;
    let generator = ZksyncGenerator::new(plan.zksync.clone())?;
    let zksync_genesis = generator.genesis_logs().to_vec();
    let zksync_genesis_root = generator.genesis_root();
    let zksync = zksync_gen::generate(plan.zksync.clone())?;
    Ok(Generated {
        starknet,
        zksync,
        zksync_genesis,
        zksync_genesis_root,
    })
}

/// Installs the stand-in contracts at the plan's addresses.
pub async fn install_stand_ins(devnet: &Devnet, plan: &DevnetPlan) -> Result<(), L1Error> {
    for (stand_in, address) in [
        (StandIn::StarknetCore, plan.starknet.core),
        (StandIn::MemoryPageRegistry, plan.starknet.registry),
        (StandIn::ZksyncDiamond, plan.zksync.diamond),
    ] {
        devnet
            .set_code(address, stand_in.runtime_bytecode().into())
            .await?;
    }
    Ok(())
}

/// Submits generated batches, interleaving the two rollups as a real L1
/// would; returns what was submitted and the first L1 block of each Starknet format.
pub async fn submit_all(
    devnet: &Devnet,
    generated: &Generated,
    skip: usize,
    take: usize,
) -> Result<(Vec<SubmittedBatch>, Vec<(&'static str, u64)>), L1Error> {
    let mut batches = Vec::new();
    let mut format_starts: Vec<(&'static str, u64)> = Vec::new();
    let longest = generated.starknet.len().max(generated.zksync.len());
    for i in (0..longest).skip(skip).take(take) {
        for (rollup, list) in [
            ("starknet", &generated.starknet),
            ("zksync", &generated.zksync),
        ] {
            let Some(batch) = list.get(i) else { continue };
            let blocks = submit_batch(devnet, batch).await?;
            if rollup == "starknet"
                && format_starts.last().is_none_or(|(f, _)| *f != batch.format)
                && let Some(first) = blocks.first()
            {
                format_starts.push((batch.format, *first));
            }
            batches.push(SubmittedBatch {
                rollup,
                number: batch.number,
                format: batch.format,
                expected_root: batch.expected_root,
                claimed_root: batch.claimed_root,
                fault: batch.fault,
                l1_blocks: blocks,
            });
        }
    }
    Ok((batches, format_starts))
}

/// Writes the chain configs for a devnet whose batches start at `first_block`.
pub fn write_configs(
    out_dir: &Path,
    plan: &DevnetPlan,
    generated: &Generated,
    first_block: u64,
    format_starts: &[(&str, u64)],
) -> Result<(PathBuf, PathBuf), DevnetRunError> {
    std::fs::create_dir_all(out_dir).map_err(|source| io_error(out_dir, source))?;
    let genesis_path = out_dir.join("devnet-zksync-genesis.json");
    write(
        &genesis_path,
        &zksync_gen::genesis_json(&generated.zksync_genesis),
    )?;
    let starknet_config = out_dir.join("devnet-starknet.toml");
    write(
        &starknet_config,
        &starknet_toml(&plan.starknet, first_block, format_starts),
    )?;
    let zksync_config = out_dir.join("devnet-zksync.toml");
    write(
        &zksync_config,
        &zksync_toml(
            &plan.zksync,
            first_block,
            &genesis_path,
            generated.zksync_genesis_root,
        ),
    )?;
    Ok((starknet_config, zksync_config))
}

/// Installs the stand-ins, generates and submits everything, writes the
/// chain configs into `out_dir`.
pub async fn run(
    rpc_url: &str,
    out_dir: &Path,
    plan: DevnetPlan,
) -> Result<DevnetOutcome, DevnetRunError> {
    let devnet = Devnet::connect(rpc_url)?;
    install_stand_ins(&devnet, &plan).await?;
    let generated = {
        let plan = plan.clone();
        tokio::task::spawn_blocking(move || generate(&plan))
            .await
            .map_err(|e| DevnetError::Config(format!("generator thread: {e}")))??
    };
    let first_block = devnet.rpc().block_number().await? + 1;
    let rounds = generated.starknet.len().max(generated.zksync.len());
    let split = rounds.saturating_sub(plan.reorg_last_rounds);
    let (mut batches, mut format_starts) = submit_all(&devnet, &generated, 0, split).await?;
    let mut orphaned = Vec::new();
    let mut devnet = devnet;
    if split < rounds {
        let snapshot = devnet.snapshot().await?;
        orphaned = submit_all(&devnet, &generated, split, usize::MAX).await?.0;
        tokio::time::sleep(plan.reorg_pause).await;
        if !devnet.revert(snapshot).await? {
            return Err(L1Error::Devnet("evm_revert refused the snapshot".into()).into());
        }
        // A fresh client: the provider caches nonces, which the revert rewound.
        devnet = Devnet::connect(rpc_url)?;
        // One empty block first, so every re-mined batch lands in another block.
        devnet.mine().await?;
    }
    let (rest, rest_starts) = submit_all(&devnet, &generated, split, usize::MAX).await?;
    batches.extend(rest);
    for start in rest_starts {
        if format_starts.last().is_none_or(|(f, _)| *f != start.0) {
            format_starts.push(start);
        }
    }
    // Blocks on top so that the `finalized` tag (head - 2 with one slot per epoch) covers everything.
    for _ in 0..3 {
        devnet.mine().await?;
    }
    let last_block = devnet.rpc().block_number().await?;
    let finalized_block = devnet
        .rpc()
        .block_by_tag(crate::l1::BlockTag::Finalized)
        .await?
        .number;
    let (starknet_config, zksync_config) =
        write_configs(out_dir, &plan, &generated, first_block, &format_starts)?;
    Ok(DevnetOutcome {
        starknet_config,
        zksync_config,
        first_block,
        last_block,
        finalized_block,
        batches,
        orphaned,
    })
}

/// Submits a batch's transactions in order; returns their L1 blocks.
pub async fn submit_batch(devnet: &Devnet, batch: &PlannedBatch) -> Result<Vec<u64>, L1Error> {
    let mut blocks = Vec::with_capacity(batch.txs.len());
    for tx in &batch.txs {
        let done = submit(devnet, tx).await?;
        tracing::debug!(label = %tx.label, block = done.block_number, tx = %done.hash, "submitted");
        blocks.push(done.block_number);
    }
    Ok(blocks)
}

fn starknet_toml(config: &StarknetGenConfig, first_block: u64, starts: &[(&str, u64)]) -> String {
    let mut out = format!(
        "# Written by `zkreplay devnet`: the Starknet stand-in on the local L1.\n\
         name = \"devnet-starknet\"\nrollup = \"starknet\"\nl1_chain_id = 31337\n\
         first_l1_block = {first_block}\nlog_range = 50\n\n[starknet]\n\
         core_contract = \"{}\"\nmemory_page_registry = \"{}\"\n{}",
        config.core,
        config.registry,
        match config.rule {
            crate::rollup::starknet::state::GlobalRootRule::V0_14 => "v0_14_from_l2_block = 0\n",
            crate::rollup::starknet::state::GlobalRootRule::PreV0_14 => "",
        }
    );
    // The exact L1 block of every format change, as documentation: the
    // follower reads the format from the data and the alias contract 0x2.
    for (format, block) in starts {
        let name = match StarknetFormat::from_label(format) {
            Some(StarknetFormat::V0_11Pages) => "v0.11",
            Some(StarknetFormat::V0_13_1Blob) => "v0.13.1",
            Some(StarknetFormat::V0_13_2Blob) => "v0.13.2",
            Some(StarknetFormat::V0_13_3Blob) => "v0.13.3",
            Some(StarknetFormat::V0_13_4Blob) => "v0.13.4",
            None => format,
        };
        out += &format!("\n[[versions]]\nname = \"{name}\"\nfrom_l1_block = {block}\n");
    }
    out
}

fn zksync_toml(config: &ZksyncGenConfig, first_block: u64, genesis: &Path, root: B256) -> String {
    format!(
        "# Written by `zkreplay devnet`: the ZKsync stand-in on the local L1.\n\
         name = \"devnet-zksync\"\nrollup = \"zksync\"\nl1_chain_id = 31337\n\
         first_l1_block = {first_block}\nlog_range = 50\n\n[zksync]\nchain_id = {}\n\
         diamond_proxy = \"{}\"\ngenesis_file = \"{}\"\ngenesis_root = \"{root}\"\n",
        config.chain_id,
        config.diamond,
        genesis
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default(),
    )
}

pub(crate) fn write(path: &Path, text: &str) -> Result<(), DevnetRunError> {
    std::fs::write(path, text).map_err(|source| io_error(path, source))
}

pub(crate) fn io_error(path: &Path, source: std::io::Error) -> DevnetRunError {
    DevnetRunError::Io {
        path: path.display().to_string(),
        source,
    }
}
