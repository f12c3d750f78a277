//! Command-line parsing only; the work is done in `chaosdeck::cli`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = chaosdeck::cli::Cli::parse();
    chaosdeck::cli::run(cli).into()
}
