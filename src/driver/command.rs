//! Command faults: a program run with its arguments as they are, never through a
//! shell, with a timeout; its undo and verify are programs too. Parameters reach the
//! program as separate arguments or environment variables, so `; rm -rf /` in one
//! stays a harmless string.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::process::Command;

use super::{DriverError, Plan, Verification};
use crate::catalog::action_params::CommandAction;
use crate::catalog::template::Param;

/// What it takes to undo a command fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandUndo {
    pub undo: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verify: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    pub timeout_ms: u64,
}

/// How much of a command's output an error message carries.
const OUTPUT_TAIL: usize = 400;

pub fn plan(action: &CommandAction) -> Result<Plan<CommandUndo>, DriverError> {
    let timeout = match &action.timeout {
        Param::Value(t) => t.as_duration(),
        Param::Ref(name) => {
            return Err(DriverError::Input(format!(
                "command: parameter \"{{{{{name}}}}}\" was not resolved before injecting"
            )))
        }
    };
    for argv in [&action.run, &action.undo] {
        let Some(program) = argv.first() else {
            return Err(DriverError::Input("command: empty program".into()));
        };
        if find_program(program).is_none() {
            return Err(DriverError::precondition(
                "this host",
                "command",
                format!("program \"{program}\" is not on PATH"),
            ));
        }
    }
    Ok(Plan {
        undo: CommandUndo {
            undo: action.undo.clone(),
            verify: action.verify.clone(),
            env: action.env.clone(),
            timeout_ms: timeout.as_millis() as u64,
        },
        blast_radius: format!("run {}", show_argv(&action.run)),
    })
}

pub async fn apply(action: &CommandAction, undo: &CommandUndo) -> Result<(), DriverError> {
    run(&action.run, &undo.env, undo.timeout())
        .await
        .map(|_| ())
}

/// Runs the undo command. A command that exits non-zero is an error; commands are
/// expected to be idempotent themselves (`kubectl rollout undo`, `tc qdisc del`).
pub async fn undo(undo: &CommandUndo) -> Result<(), DriverError> {
    run(&undo.undo, &undo.env, undo.timeout()).await.map(|_| ())
}

/// Runs the verify command when there is one: exit 0 means verified.
pub async fn verify(undo: &CommandUndo) -> Result<Verification, DriverError> {
    if undo.verify.is_empty() {
        return Ok(Verification::Verified);
    }
    match run(&undo.verify, &undo.env, undo.timeout()).await {
        Ok(_) => Ok(Verification::Verified),
        Err(DriverError::Failed { message, .. }) => Ok(Verification::Residual(message)),
        Err(other) => Err(other),
    }
}

impl CommandUndo {
    fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.max(1))
    }
}

/// Runs `argv` with `env` added, no shell, killed after `timeout`. Returns stdout.
pub async fn run(
    argv: &[String],
    env: &BTreeMap<String, String>,
    timeout: Duration,
) -> Result<String, DriverError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(DriverError::Input("command: empty program".into()));
    };
    let shown = show_argv(argv);
    let child = Command::new(program)
        .args(args)
        .envs(env)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(timeout, child).await {
        Err(_) => {
            return Err(DriverError::failed(
                "this host",
                format!(
                    "`{shown}` did not finish within {}",
                    humantime::format_duration(timeout)
                ),
            ))
        }
        Ok(Err(e)) => return Err(DriverError::failed("this host", format!("`{shown}`: {e}"))),
        Ok(Ok(output)) => output,
    };
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: String = stderr
        .trim()
        .chars()
        .rev()
        .take(OUTPUT_TAIL)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Err(DriverError::failed(
        "this host",
        format!("`{shown}` exited with {}: {tail}", output.status),
    ))
}

/// The argv as a person would read it, each argument quoted when it needs to be.
pub fn show_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The path of `program`: as given when it holds a `/`, else looked up on PATH.
pub fn find_program(program: &str) -> Option<std::path::PathBuf> {
    if program.contains('/') {
        let path = std::path::PathBuf::from(program);
        return path.is_file().then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
