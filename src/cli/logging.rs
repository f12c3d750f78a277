//! Logs go to a file in the state folder, never to the screen. The folder is created
//! private (0700) and the log 0600: both hold target names and run history, and
//! `doctor` warns about a state folder open to others.

use std::fs::{File, OpenOptions, Permissions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;

use crate::engine::journal::create_state_dir;

/// The log's name in the state folder.
const LOG_FILE: &str = "chaosdeck.log";

/// Sends `tracing` output to `<state_dir>/chaosdeck.log` (level from `CHAOSDECK_LOG`,
/// default `info`). Keep the guard alive until exit so the last lines are written.
pub fn to_file(state_dir: &Path) -> Option<WorkerGuard> {
    create_state_dir(state_dir).ok()?;
    let path = state_dir.join(LOG_FILE);
    let file = open_log(&path).ok()?;
    let narrowed = narrow(&file);
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_from_env("CHAOSDECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    if let Err(e) = narrowed {
        tracing::warn!("{} stays open to others: {e}", path.display());
    }
    Some(guard)
}

/// `path` opened for appending, created 0600.
fn open_log(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// A log an earlier chaosdeck left open to others narrowed to 0600.
fn narrow(file: &File) -> std::io::Result<()> {
    let mode = file.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        file.set_permissions(Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_log_is_0600_and_an_open_one_is_narrowed() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.log");
        narrow(&open_log(&new).unwrap()).unwrap();
        assert_eq!(mode(&new), 0o600);
        let old = dir.path().join("old.log");
        std::fs::write(&old, "kept\n").unwrap();
        std::fs::set_permissions(&old, Permissions::from_mode(0o644)).unwrap();
        let mut file = open_log(&old).unwrap();
        narrow(&file).unwrap();
        std::io::Write::write_all(&mut file, b"appended\n").unwrap();
        assert_eq!(mode(&old), 0o600);
        assert_eq!(std::fs::read_to_string(&old).unwrap(), "kept\nappended\n");
    }
}
