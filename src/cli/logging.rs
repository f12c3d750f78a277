//! Logs go to a file in the state folder, never to the screen.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;

/// Sends `tracing` output to `<state_dir>/chaosdeck.log` (level from `CHAOSDECK_LOG`,
/// default `info`). Keep the guard alive until exit so the last lines are written.
pub fn to_file(state_dir: &Path) -> Option<WorkerGuard> {
    if std::fs::create_dir_all(state_dir).is_err() {
        return None;
    }
    let appender = tracing_appender::rolling::never(state_dir, "chaosdeck.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("CHAOSDECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}
