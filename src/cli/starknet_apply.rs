//! `zkreplay starknet apply-updates`.

/// Arguments of `starknet apply-updates`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<i32> {
    anyhow::bail!("starknet apply-updates is being built")
}
