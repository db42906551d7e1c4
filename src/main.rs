use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = zkreplay::cli::Cli::parse();
    let code = zkreplay::cli::run(cli)?;
    std::process::exit(code);
}
