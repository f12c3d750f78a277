//! What a headless command readies before it acts: the state folder (`doctor`,
//! `teardown`, `report`), and, for the commands that reach targets (`doctor`,
//! `teardown`), what they prepare from their input and the async runtime to act on it
//! with. A failure is said once on stderr and is bad input.

use std::fmt::Display;
use std::path::PathBuf;

use tokio::runtime::Runtime;

use super::Status;
use crate::engine::journal::default_state_dir;

/// The state folder: `--state-dir`, or the default one.
pub(super) fn state_dir(given: Option<&PathBuf>) -> PathBuf {
    given.cloned().unwrap_or_else(default_state_dir)
}

/// What the command `prepared`, and the runtime to act on it with. An error from
/// preparing is printed as it is; without a runtime the command cannot start either.
pub(super) fn with_runtime<T>(prepared: Result<T, impl Display>) -> Result<(T, Runtime), Status> {
    let prepared = prepared.map_err(|e| {
        eprintln!("{e}");
        Status::InputError
    })?;
    let Ok(runtime) = crate::engine::runner::engine_runtime() else {
        eprintln!("cannot start the async runtime");
        return Err(Status::InputError);
    };
    Ok((prepared, runtime))
}
