//! Command-line interface. Each subcommand lives in its own file with its
//! argument struct and `run`, returning the process exit code.

use clap::{Parser, Subcommand};

pub mod decode_starknet;
pub mod decode_zksync;
#[cfg(feature = "devnet")]
pub mod demo;
#[cfg(feature = "devnet")]
pub mod devnet;
pub mod follow;
pub mod serve;
pub mod snapshot;
pub mod starknet_apply;
pub mod status;
pub mod verify;
pub mod zksync_apply;

/// Rebuild ZK-rollup state from Ethereum L1 alone and audit every root.
#[derive(Debug, Parser)]
#[command(name = "zkreplay", version, about)]
pub struct Cli {
    /// Log format: `text` for terminals, `json` for log collectors.
    #[arg(
        long,
        env = "ZKREPLAY_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// `--log-format` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands of `zkreplay`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Starknet tools.
    #[command(subcommand)]
    Starknet(StarknetCommand),
    /// Serve the rebuilt state over GraphQL (read-only), with a monitoring port.
    Serve(serve::Args),
    /// Print the GraphQL schema (SDL) this build serves.
    Schema,
    /// Per rollup: last applied batch, verified pointer, findings, L1 position.
    Status(status::Args),
    /// Check a store for damage: every checksum, every root re-derived from the stored leaves.
    Verify(verify::Args),
    /// Rebuild rollup state from an Ethereum node and keep it current, auditing every batch.
    Follow(follow::Args),
    #[cfg(feature = "devnet")]
    /// The offline demo: local L1, simulated sequencers, both rollups followed, audited and served.
    Demo(demo::Args),
    /// Seeded sequencer simulator: submit generated batches to a local node (anvil).
    #[cfg(feature = "devnet")]
    Devnet(devnet::Args),
    /// Decode one rollup state update from L1 data.
    #[command(subcommand)]
    Decode(DecodeCommand),
    /// ZKsync Era tools.
    #[command(subcommand)]
    Zksync(ZksyncCommand),
    /// Export or import verified state snapshots.
    #[command(subcommand)]
    Snapshot(snapshot::SnapshotCommand),
}

/// Subcommands of `zkreplay decode`.
#[derive(Debug, Subcommand)]
pub enum DecodeCommand {
    /// Decode a Starknet state update (blobs or memory pages) into a state diff.
    Starknet(decode_starknet::Args),
    /// Decode a ZKsync commit transaction's calldata (and blobs) into batches, one JSON object per line.
    Zksync(decode_zksync::Args),
}

/// Subcommands of `zkreplay zksync`.
#[derive(Debug, Subcommand)]
pub enum ZksyncCommand {
    /// Apply the genesis and commit calldata files in order and compare every root.
    Apply(zksync_apply::Args),
}

/// Subcommands of `zkreplay starknet`.
#[derive(Debug, Subcommand)]
pub enum StarknetCommand {
    /// Apply feeder-gateway state-update JSON files in order and compare every root.
    ApplyUpdates(starknet_apply::Args),
}

/// Runs a parsed command line; the returned value is the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    init_logging(cli.log_format);
    match cli.command {
        Command::Starknet(StarknetCommand::ApplyUpdates(args)) => starknet_apply::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Schema => serve::print_schema(),
        Command::Status(args) => status::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Follow(args) => follow::run(args),
        #[cfg(feature = "devnet")]
        Command::Devnet(args) => devnet::run(args),
        #[cfg(feature = "devnet")]
        Command::Demo(args) => demo::run(args),
        Command::Decode(DecodeCommand::Starknet(args)) => decode_starknet::run(args),
        Command::Decode(DecodeCommand::Zksync(args)) => decode_zksync::run(args),
        Command::Zksync(ZksyncCommand::Apply(args)) => zksync_apply::run(args),
        Command::Snapshot(command) => snapshot::run(command),
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ZKREPLAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Ignore the error when a subscriber already exists (tests call `run` repeatedly).
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
