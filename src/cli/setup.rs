//! What a headless command readies before it acts: the state folder (`doctor`,
//! `teardown`, `report`); for the commands that reach targets (`doctor`,
//! `teardown`), what they prepare from their input and the async runtime to act on it
//! with; for those that inject (`run`, `gameday`, `inject`), the targets taken from
//! the config and the flags, and the config's severity policy. A failure is said
//! once on stderr and is bad input.

use std::fmt::Display;
use std::path::PathBuf;

use tokio::runtime::Runtime;

use super::Status;
use crate::catalog::FaultSpec;
use crate::config::Config;
use crate::driver::targets::Targets;
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

/// The targets to act on, and the config target they came from: the one `name`
/// names (`--target`, a plan's `target:`) with the quick target flags laid over it;
/// with no name, the config's first target when no quick target flag is given (the
/// flags alone are the targets otherwise).
pub(super) fn choose_targets(
    config: Option<&Config>,
    name: Option<&str>,
    flags: Targets,
) -> Result<(Targets, Option<String>), String> {
    if let Some(name) = name {
        let Some(config) = config else {
            return Err(format!(
                "target \"{name}\" names a target of a config file: pass --config targets.yaml"
            ));
        };
        let named = config
            .targets_named(name, flags.exe.clone())
            .map_err(|e| e.to_string())?;
        return Ok((
            super::targets::overlay(named, flags),
            Some(name.to_string()),
        ));
    }
    if let Some(config) = config {
        if let Some(name) = default_target(config, &flags) {
            let named = config
                .targets_named(&name, flags.exe.clone())
                .map_err(|e| e.to_string())?;
            return Ok((named, Some(name)));
        }
    }
    Ok((flags, None))
}

/// The target a command takes from the config when no `--target` names one: the
/// file's first, when no quick target flag (`--conn`, `--container` …) is given
/// either (the flags alone are the targets then), as the console chooses. "First"
/// is first by name: the config keeps its targets sorted by name, not in file order.
fn default_target(config: &Config, flags: &Targets) -> Option<String> {
    let any_flag = flags.postgres.is_some()
        || flags.container.is_some()
        || flags.process.is_some()
        || flags.proxy.is_some();
    if any_flag {
        return None;
    }
    config.targets.keys().next().cloned()
}

/// Refuses a fault above the config's `policy.max_severity`, naming the policy and
/// the file it is written in.
pub(super) fn check_config_policy(config: &Config, spec: &FaultSpec) -> Result<(), String> {
    let max = config.policy.max_severity;
    match spec.severity > max {
        true => Err(format!(
            "\"{}\" is {} severity; the policy of {} (policy.max_severity: {max}) allows at most {max}",
            spec.id,
            spec.severity,
            config.path.display()
        )),
        false => Ok(()),
    }
}
