//! The lab's demo service (`chaosdeck __demo-service`): filled by the lab issue.

/// How the demo service is started.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoServiceArgs {}

/// Runs the demo service until it is stopped.
pub fn run(_args: &DemoServiceArgs) -> std::process::ExitCode {
    eprintln!("the demo service is not built yet");
    std::process::ExitCode::FAILURE
}
