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
    /// Starknet generator settings.
    pub starknet: StarknetGenConfig,
    /// ZKsync generator settings.
    pub zksync: ZksyncGenConfig,
    /// Reorg the L1 blocks of the last this many rounds (one batch of each
    /// rollup per round): they are mined, left canonical for `reorg_pause`
    /// (so a follower on `latest` applies them), then reverted with an anvil
    /// snapshot and mined again one block later. 0 = no reorg.
    pub reorg_last_rounds: usize,
    /// How long reorged blocks stay canonical before the revert.
    pub reorg_pause: std::time::Duration,
}

/// One submitted batch, as the follower should see it.
#[derive(Clone, Debug, Serialize)]
pub struct SubmittedBatch {
    /// `starknet` or `zksync`.
    pub rollup: &'static str,
    /// Batch number.
    pub number: u64,
    /// DA format, as in [`PlannedBatch::format`].
    pub format: &'static str,
    /// The true root after the batch.
    pub expected_root: B256,
    /// The root posted to L1.
    pub claimed_root: B256,
    /// The deliberate fault, if any.
    pub fault: Option<super::Fault>,
    /// L1 blocks holding the batch's transactions.
    pub l1_blocks: Vec<u64>,
    /// Transactions of other SHARP customers' jobs submitted with this batch
    /// ([`starknet_gen::is_decoy`]): a follower never needs to read them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub decoy_txs: Vec<B256>,
}

impl SubmittedBatch {
    /// What was submitted for `batch` of `rollup`, landed in `l1_blocks`.
    pub fn new(
        rollup: &'static str,
        batch: &PlannedBatch,
        l1_blocks: Vec<u64>,
        decoy_txs: Vec<B256>,
    ) -> Self {
        SubmittedBatch {
            rollup,
            number: batch.number,
            format: batch.format,
            expected_root: batch.expected_root,
            claimed_root: batch.claimed_root,
            fault: batch.fault,
            l1_blocks,
            decoy_txs,
        }
    }
}

/// The outcome of a devnet run.
#[derive(Clone, Debug, Serialize)]
pub struct DevnetOutcome {
    /// Chain config written for the Starknet devnet chain.
    pub starknet_config: PathBuf,
    /// Chain config written for the ZKsync devnet chain.
    pub zksync_config: PathBuf,
    /// First L1 block of the run.
    pub first_block: u64,
    /// Last L1 block of the run.
    pub last_block: u64,
    /// The block the `finalized` tag points at once everything is submitted
    /// (at or after the last batch's block): a follower on the default tag stops here.
    pub finalized_block: u64,
    /// Every submitted batch still canonical, in submission order.
    pub batches: Vec<SubmittedBatch>,
    /// Batches mined and then reorged away (they were submitted again after the fork).
    pub orphaned: Vec<SubmittedBatch>,
}

/// Errors of a devnet run.
#[derive(Debug, thiserror::Error)]
pub enum DevnetRunError {
    /// Talking to the devnet node failed.
    #[error(transparent)]
    L1(#[from] L1Error),
    /// Generating the batches failed.
    #[error(transparent)]
    Generate(#[from] DevnetError),
    /// An output file could not be written.
    #[error("writing {path}: {source}")]
    Io {
        /// File path.
        path: String,
        /// Underlying I/O error.
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
    /// Starknet batches, in order.
    pub starknet: Vec<PlannedBatch>,
    /// ZKsync batches (and revert steps), in order.
    pub zksync: Vec<PlannedBatch>,
    /// ZKsync genesis storage logs.
    pub zksync_genesis: Vec<crate::rollup::zksync::genesis::StorageLog>,
    /// Root of the ZKsync genesis.
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

/// Installs the stand-in contracts at the plan's addresses (with a SHARP
/// plan: the verifier and every registry too).
pub async fn install_stand_ins(devnet: &Devnet, plan: &DevnetPlan) -> Result<(), L1Error> {
    let mut stand_ins = vec![
        (StandIn::StarknetCore, plan.starknet.core),
        (StandIn::MemoryPageRegistry, plan.starknet.registry),
        (StandIn::ZksyncDiamond, plan.zksync.diamond),
    ];
    if let Some(sharp) = &plan.starknet.sharp {
        stand_ins.push((StandIn::SharpVerifier, sharp.verifier));
        stand_ins.extend(
            sharp
                .registries
                .iter()
                .map(|r| (StandIn::MemoryPageRegistry, r.address)),
        );
    }
    for (stand_in, address) in stand_ins {
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
            let submitted = submit_batch_txs(devnet, batch).await?;
            let blocks: Vec<u64> = submitted.iter().map(|s| s.block_number).collect();
            let decoy_txs = batch
                .txs
                .iter()
                .zip(&submitted)
                .filter(|(tx, _)| starknet_gen::is_decoy(tx))
                .map(|(_, s)| s.hash)
                .collect();
            if rollup == "starknet"
                && format_starts.last().is_none_or(|(f, _)| *f != batch.format)
                && let Some(first) = blocks.first()
            {
                format_starts.push((batch.format, *first));
            }
            batches.push(SubmittedBatch::new(rollup, batch, blocks, decoy_txs));
        }
    }
    Ok((batches, format_starts))
}

/// Writes the chain configs for a devnet whose batches start at `first_block`.
/// With a SHARP plan every registry is listed from `first_block` on (use
/// [`write_configs_with_registries`] to give each its L1 range).
pub fn write_configs(
    out_dir: &Path,
    plan: &DevnetPlan,
    generated: &Generated,
    first_block: u64,
    format_starts: &[(&str, u64)],
) -> Result<(PathBuf, PathBuf), DevnetRunError> {
    write_configs_with_registries(out_dir, plan, generated, first_block, format_starts, &[])
}

/// [`write_configs`], with the first L1 block each SHARP registry was used in
/// (`registry_starts`, in the plan's order): each registry is then listed
/// from that block until the block before the next one's, as a real chain
/// config lists them.
pub fn write_configs_with_registries(
    out_dir: &Path,
    plan: &DevnetPlan,
    generated: &Generated,
    first_block: u64,
    format_starts: &[(&str, u64)],
    registry_starts: &[u64],
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
        &starknet_toml(&plan.starknet, first_block, format_starts, registry_starts),
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
    let registry_starts = sharp_registry_starts(&plan, &generated, &batches);
    let (starknet_config, zksync_config) = write_configs_with_registries(
        out_dir,
        &plan,
        &generated,
        first_block,
        &format_starts,
        &registry_starts,
    )?;
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
    Ok(submit_batch_txs(devnet, batch)
        .await?
        .iter()
        .map(|s| s.block_number)
        .collect())
}

async fn submit_batch_txs(
    devnet: &Devnet,
    batch: &PlannedBatch,
) -> Result<Vec<Submitted>, L1Error> {
    let mut done = Vec::with_capacity(batch.txs.len());
    for tx in &batch.txs {
        let submitted = submit(devnet, tx).await?;
        tracing::debug!(label = %tx.label, block = submitted.block_number, tx = %submitted.hash, "submitted");
        done.push(submitted);
    }
    Ok(done)
}

/// The first L1 block each registry of the plan's SHARP plan received a
/// transaction in (empty without a SHARP plan).
fn sharp_registry_starts(
    plan: &DevnetPlan,
    generated: &Generated,
    submitted: &[SubmittedBatch],
) -> Vec<u64> {
    let Some(sharp) = &plan.starknet.sharp else {
        return Vec::new();
    };
    let mut starts = Vec::new();
    for registry in &sharp.registries {
        let first = submitted
            .iter()
            .filter(|b| b.rollup == "starknet")
            .filter_map(|b| {
                let planned = generated.starknet.iter().find(|p| p.number == b.number)?;
                planned
                    .txs
                    .iter()
                    .zip(&b.l1_blocks)
                    .filter(|(tx, _)| tx.to == registry.address)
                    .map(|(_, block)| *block)
                    .min()
            })
            .min();
        match first {
            Some(block) => starts.push(block),
            None => return Vec::new(),
        }
    }
    starts
}

/// The Starknet chain config of a devnet whose batches start at L1 block
/// `first_block` (what [`write_configs`] writes; an in-memory L1 holding the
/// same transactions uses it too). `starts`: the first L1 block of each
/// format; `registry_starts`: see [`write_configs_with_registries`].
pub fn starknet_toml(
    config: &StarknetGenConfig,
    first_block: u64,
    starts: &[(&str, u64)],
    registry_starts: &[u64],
) -> String {
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
    if let Some(sharp) = &config.sharp {
        out += &sharp_toml(config, sharp, first_block, registry_starts);
    }
    // The exact L1 block of every format change, as documentation: the
    // follower reads the format from the data and the alias contract 0x2
    // (and, with a SHARP plan, from the eras above).
    for (format, block) in starts {
        let name: &str = match StarknetFormat::from_label(format) {
            Some(known) => known.version(),
            None => format,
        };
        out += &format!("\n[[versions]]\nname = \"{name}\"\nfrom_l1_block = {block}\n");
    }
    out
}

/// The eras (by L2 block: the generator's L2 block is the batch number),
/// registries and verifier of a SHARP-plan devnet, as a real chain config
/// lists them.
fn sharp_toml(
    config: &StarknetGenConfig,
    sharp: &starknet_gen::SharpPlan,
    first_block: u64,
    registry_starts: &[u64],
) -> String {
    const SOURCE: &str = "source = \"zkreplay devnet (simulated history)\"\n";
    let mut out = String::new();
    for (first_batch, format) in &config.schedule {
        out += &format!(
            "\n[[starknet.eras]]\nversion = \"{}\"\nfrom_l2_block = {first_batch}\n{SOURCE}",
            format.version()
        );
    }
    for (i, registry) in sharp.registries.iter().enumerate() {
        let from = if i == 0 {
            first_block
        } else {
            registry_starts.get(i).copied().unwrap_or(first_block)
        };
        out += &format!(
            "\n[[starknet.memory_page_registries]]\naddress = \"{}\"\nfrom_l1_block = {from}\n",
            registry.address
        );
        if let Some(next) = registry_starts.get(i + 1) {
            out += &format!("until_l1_block = {}\n", next.saturating_sub(1));
        }
        out += SOURCE;
    }
    out += &format!(
        "\n[[starknet.sharp_verifiers]]\naddress = \"{}\"\nfrom_l1_block = {first_block}\n{SOURCE}",
        sharp.verifier
    );
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
