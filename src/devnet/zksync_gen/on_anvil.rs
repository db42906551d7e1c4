//! The Gateway history of the ZKsync simulator on a real node: two diamond
//! stand-ins (Era's and the Gateway's, see `contracts/ZksyncDiamondStandIn.sol`),
//! every planned transaction submitted in order, Era's return from the Gateway
//! done as the stand-in's migration call, and the chain configs a follower
//! needs (Era's with its settlement periods, the Gateway's beside it).
//!
//! Test support, like the rest of the simulator: a replay of this history
//! proves the follower's plumbing through both switches, not conformance to
//! mainnet bytes.

use std::path::{Path, PathBuf};

use alloy_primitives::{B256, Bytes};

use super::{GatewayWindow, ZksyncGenConfig, ZksyncGenerator, genesis_json};
use crate::devnet::contracts::{StandIn, encode_migrate_from_settlement_layer};
use crate::devnet::run::{DevnetRunError, SubmittedBatch, io_error, submit_batch, write};
use crate::devnet::{DevnetError, PlannedBatch};
use crate::l1::BlockTag;
use crate::l1::submit::Devnet;

/// What [`run_through_gateway`] submitted and wrote.
#[derive(Clone, Debug)]
pub struct GatewayDevnet {
    /// Era's chain config (the Gateway's, `devnet-gateway.toml`, sits beside it).
    pub era_config: PathBuf,
    /// The window the history went through.
    pub window: GatewayWindow,
    /// Era's genesis root (batch 0), as the written config names it.
    pub genesis_root: B256,
    /// Every submitted Era step (batches and reverts), in submission order.
    pub batches: Vec<SubmittedBatch>,
    /// The L1 block of the Gateway's first commit (Era's Gateway period starts here).
    pub gateway_from_block: u64,
    /// The L1 block of Era's return to L1 (its L1 period starts here).
    pub back_on_l1_block: u64,
    /// The block the `finalized` tag points at once everything is submitted.
    pub finalized_block: u64,
}

/// Installs the stand-ins, generates `config`'s history (it must have a
/// Gateway window), submits it to the node at `rpc_url` and writes the configs into `out_dir`.
pub async fn run_through_gateway(
    rpc_url: &str,
    out_dir: &Path,
    config: ZksyncGenConfig,
) -> Result<GatewayDevnet, DevnetRunError> {
    let window = config
        .gateway
        .clone()
        .ok_or_else(|| DevnetError::Config("the plan has no Gateway window".into()))?;
    let devnet = Devnet::connect(rpc_url)?;
    for address in [config.diamond, window.gateway_diamond] {
        devnet
            .set_code(address, StandIn::ZksyncDiamond.runtime_bytecode().into())
            .await?;
    }
    let (planned, genesis_logs, genesis_root) = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let mut generator = ZksyncGenerator::new(config)?;
            let logs = generator.genesis_logs().to_vec();
            let root = generator.genesis_root();
            let planned = crate::devnet::plan_all(|| generator.next_batch())?;
            Ok::<_, DevnetError>((planned, logs, root))
        })
        .await
        .map_err(|e| DevnetError::Config(format!("generator thread: {e}")))??
    };
    let first_block = devnet.rpc().block_number().await? + 1;
    let (mut gateway_from_block, mut back_on_l1_block) = (None, None);
    let mut batches = Vec::new();
    for batch in &planned {
        if batch.number == window.until_batch {
            back_on_l1_block = Some(migrate_back(&devnet, &config, &planned, &window).await?);
        }
        let blocks = submit_batch(&devnet, batch).await?;
        if window.contains(batch.number) {
            gateway_from_block.get_or_insert(carrier_block(batch, &blocks, &window)?);
        }
        batches.push(SubmittedBatch::new("zksync", batch, blocks, Vec::new()));
    }
    let (Some(gateway_from_block), Some(back_on_l1_block)) = (gateway_from_block, back_on_l1_block)
    else {
        return Err(
            DevnetError::Config("the history never entered or left the Gateway".into()).into(),
        );
    };
    // Blocks on top so that the `finalized` tag covers everything.
    for _ in 0..3 {
        devnet.mine().await?;
    }
    let finalized_block = devnet.rpc().block_by_tag(BlockTag::Finalized).await?.number;
    std::fs::create_dir_all(out_dir).map_err(|source| io_error(out_dir, source))?;
    let genesis = out_dir.join("devnet-zksync-genesis.json");
    write(&genesis, &genesis_json(&genesis_logs))?;
    write(
        &out_dir.join("devnet-gateway.toml"),
        &format!(
            "# Written by the ZKsync simulator: the Gateway stand-in on the local L1.\n\
             name = \"devnet-gateway\"\nrollup = \"zksync\"\nl1_chain_id = 31337\n\
             first_l1_block = {gateway_from_block}\nlog_range = 50\n\n[zksync]\nchain_id = {}\n\
             diamond_proxy = \"{}\"\nrelayed_da_validator = \"{}\"\n",
            window.gateway_chain_id, window.gateway_diamond, window.relayed_da_validator
        ),
    )?;
    let era_config = out_dir.join("devnet-zksync.toml");
    write(
        &era_config,
        &format!(
            "# Written by the ZKsync simulator: Era's stand-in on the local L1, with\n\
             # its Gateway period (exact L1 blocks of the first Gateway commit and of\n\
             # the migration back).\n\
             name = \"devnet-zksync\"\nrollup = \"zksync\"\nl1_chain_id = 31337\n\
             first_l1_block = {first_block}\nlog_range = 50\n\n[zksync]\nchain_id = {}\n\
             diamond_proxy = \"{}\"\ngenesis_file = \"devnet-zksync-genesis.json\"\n\
             genesis_root = \"{genesis_root}\"\n\n\
             [[zksync.history.settlement]]\nlayer = \"l1\"\nfrom_l1_block = {first_block}\n\n\
             [[zksync.history.settlement]]\nlayer = \"zk_chain\"\nchain = \"devnet-gateway\"\n\
             diamond_on_layer = \"{}\"\nfrom_l1_block = {gateway_from_block}\n\n\
             [[zksync.history.settlement]]\nlayer = \"l1\"\nfrom_l1_block = {back_on_l1_block}\n",
            config.chain_id, config.diamond, window.era_diamond_on_gateway,
        ),
    )?;
    Ok(GatewayDevnet {
        era_config,
        window,
        genesis_root,
        batches,
        gateway_from_block,
        back_on_l1_block,
        finalized_block,
    })
}

/// Brings Era back to L1 after the window: its stand-in continues from the
/// last batch settled on the Gateway. Returns the block of the migration.
async fn migrate_back(
    devnet: &Devnet,
    config: &ZksyncGenConfig,
    planned: &[PlannedBatch],
    window: &GatewayWindow,
) -> Result<u64, DevnetRunError> {
    let last = window.until_batch - 1;
    let root = planned
        .iter()
        .find(|b| b.number == last)
        .map(|b| b.claimed_root)
        .ok_or_else(|| DevnetError::Config(format!("batch {last} was never planned")))?;
    let done = devnet
        .send_calldata(
            config.diamond,
            Bytes::from(encode_migrate_from_settlement_layer(last, root)),
        )
        .await?;
    Ok(done.block_number)
}

/// The block of the Gateway commit that carried `batch`.
fn carrier_block(
    batch: &PlannedBatch,
    blocks: &[u64],
    window: &GatewayWindow,
) -> Result<u64, DevnetError> {
    batch
        .txs
        .iter()
        .zip(blocks)
        .find(|(tx, _)| tx.to == window.gateway_diamond && tx.label.contains("commit"))
        .map(|(_, block)| *block)
        .ok_or_else(|| DevnetError::Config(format!("batch {} has no Gateway commit", batch.number)))
}
