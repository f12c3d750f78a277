//! The lab's load generator (`chaosdeck __load`): filled by the lab issue.

/// How the load generator is started.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {}

/// Sends load until it is stopped.
pub fn run(_args: &LoadArgs) -> std::process::ExitCode {
    eprintln!("the load generator is not built yet");
    std::process::ExitCode::FAILURE
}
