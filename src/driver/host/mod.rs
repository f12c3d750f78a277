//! Host stressors, run as child processes of chaosdeck that die with it.
//!
//! Each stressor is the chaosdeck binary itself, re-executed as the hidden
//! `chaosdeck __stress <kind>` ([`run_stressor`]). The child asks the kernel to kill
//! it when chaosdeck dies, and memory and disk are never taken past 90 % — checked
//! when planning and re-checked by the child while it allocates or writes.

pub mod levels;
mod plan;
mod spawn;
mod stress;
mod stressors;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::catalog::template::Param;
use crate::catalog::Action;
use crate::driver::{DriverError, Hold, Verification};
use levels::human_bytes;
use plan::all_cores;

pub use plan::plan;
pub use spawn::{spawn_stressor, wait_ready, ReadyChild, FILL_PREFIX};
pub(crate) use stress::die_with_parent;
pub use stress::{run_stressor, StressArgs, StressKind};

const TARGET: &str = "host";

/// A host action with its parameters resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum HostFault {
    /// Busy-loop on `cores` cores; 0 means all of them.
    CpuBurn { cores: u32 },
    /// Bring memory in use to `percent` of the total.
    MemoryPressure { percent: f64 },
    /// Bring the filesystem holding `path` to `percent` full, as df counts.
    FillDisk { path: PathBuf, percent: f64 },
    /// Hold `count` open file descriptors.
    ExhaustFds { count: u32 },
}

impl HostFault {
    /// The host fault an action means; other actions, and unresolved `{{param}}`
    /// references, are input errors.
    pub fn from_action(action: &Action) -> Result<HostFault, DriverError> {
        let kind = action.kind();
        Ok(match action {
            Action::HostCpuBurn(p) => HostFault::CpuBurn {
                cores: resolved(&p.cores, kind, "cores")?,
            },
            Action::HostMemoryPressure(p) => HostFault::MemoryPressure {
                percent: f64::from(resolved(&p.percent, kind, "percent")?),
            },
            Action::HostFillDisk(p) => HostFault::FillDisk {
                path: PathBuf::from(&p.path),
                percent: f64::from(resolved(&p.percent, kind, "percent")?),
            },
            Action::HostExhaustFds(p) => HostFault::ExhaustFds {
                count: resolved(&p.count, kind, "count")?,
            },
            other => {
                return Err(DriverError::Input(format!(
                    "the host driver cannot run \"{}\"",
                    other.kind()
                )))
            }
        })
    }

    fn action(&self) -> &'static str {
        match self {
            HostFault::CpuBurn { .. } => "host.cpu_burn",
            HostFault::MemoryPressure { .. } => "host.memory_pressure",
            HostFault::FillDisk { .. } => "host.fill_disk",
            HostFault::ExhaustFds { .. } => "host.exhaust_fds",
        }
    }
}

fn resolved<T: Copy>(param: &Param<T>, kind: &str, field: &str) -> Result<T, DriverError> {
    match param {
        Param::Value(v) => Ok(*v),
        Param::Ref(name) => Err(DriverError::Input(format!(
            "{kind}: field `{field}` still refers to parameter \"{name}\"; resolve the fault first"
        ))),
    }
}

/// What ends a stressor. `plan` fills in the file a disk fill will write (so it is
/// journaled before anything is written); `apply` adds the child's pid and start time.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum HostUndo {
    EndChild {
        pid: Option<u32>,
        start_time: Option<u64>,
        leftover_file: Option<PathBuf>,
    },
}

/// A running stressor: the hold that ends it, the undo data to journal now that the
/// pid is known, and the child's `ready …` line.
#[derive(Debug)]
pub struct Applied {
    pub hold: Hold,
    pub undo: HostUndo,
    pub ready: String,
}

/// Starts the stressor (`exe` is normally `std::env::current_exe()`), waits until it
/// reached its target and hands it over in a [`Hold`]. On failure nothing is left
/// running and the fill file is gone.
pub async fn apply(
    exe: &Path,
    fault: &HostFault,
    planned: &HostUndo,
) -> Result<Applied, DriverError> {
    let HostUndo::EndChild { leftover_file, .. } = planned;
    let (kind, timeout) = match fault {
        HostFault::CpuBurn { cores } => {
            let cores = if *cores == 0 { all_cores() } else { *cores };
            (StressKind::Cpu { cores }, Duration::from_secs(10))
        }
        HostFault::MemoryPressure { percent } => {
            let level = levels::memory().map_err(|e| DriverError::failed(TARGET, e))?;
            let gib = level.used_at(*percent).saturating_sub(level.used()) >> 30;
            (
                StressKind::Memory { percent: *percent },
                Duration::from_secs(10 + 2 * gib),
            )
        }
        HostFault::FillDisk { path, percent } => {
            let file = leftover_file.clone().ok_or_else(|| {
                DriverError::Input("host.fill_disk: the plan names no file to write".into())
            })?;
            if file.parent() != Some(path.as_path()) || !spawn::is_fill_file(&file) {
                return Err(DriverError::Input(format!(
                    "host.fill_disk: planned file {} is not a fill file in {}",
                    file.display(),
                    path.display()
                )));
            }
            let level = levels::disk(path).map_err(|e| DriverError::failed(TARGET, e))?;
            let gib = level.bytes_to(*percent) >> 30;
            (
                StressKind::Disk {
                    file,
                    percent: *percent,
                },
                Duration::from_secs(20 + 20 * gib),
            )
        }
        HostFault::ExhaustFds { count } => {
            (StressKind::Fds { count: *count }, Duration::from_secs(10))
        }
    };
    let child = spawn_stressor(exe, &kind)?;
    let ready = match wait_ready(child, timeout).await {
        Ok(ready) => ready,
        Err(e) => {
            if let Some(file) = leftover_file {
                spawn::remove_leftover(file);
            }
            return Err(e);
        }
    };
    let undo = HostUndo::EndChild {
        pid: Some(ready.pid),
        start_time: Some(ready.start_time),
        leftover_file: leftover_file.clone(),
    };
    let line = ready.line.clone();
    Ok(Applied {
        hold: spawn::hold_child(ready, leftover_file.clone()),
        undo,
        ready: line,
    })
}

/// Idempotent: ends the stressor if the same process still runs and deletes the fill
/// file if it is still there. Returns what was done, for the timeline.
pub async fn undo(undo: &HostUndo) -> Result<String, DriverError> {
    let HostUndo::EndChild {
        pid,
        start_time,
        leftover_file,
    } = undo;
    let mut done = Vec::new();
    if let (Some(pid), Some(start_time)) = (pid, start_time) {
        if spawn::end_by_pid(*pid, *start_time).await? {
            done.push(format!("ended stressor pid {pid}"));
        }
    }
    if let Some(file) = leftover_file {
        if spawn::remove_leftover(file) {
            done.push(format!("deleted {}", file.display()));
        }
    }
    Ok(if done.is_empty() {
        "nothing left: the stressor had already ended".to_string()
    } else {
        done.join("; ")
    })
}

/// Re-checks reality: no such stressor running and no fill file left.
pub fn verify(undo: &HostUndo) -> Verification {
    let HostUndo::EndChild {
        pid,
        start_time,
        leftover_file,
    } = undo;
    let mut checks = Vec::new();
    if let (Some(pid), Some(start_time)) = (pid, start_time) {
        if crate::driver::process::procfs::is_same_live(*pid, *start_time) {
            checks.push(Verification::Residual(format!(
                "stressor pid {pid} is still running"
            )));
        }
    }
    if let Some(file) = leftover_file {
        if let Ok(meta) = std::fs::metadata(file) {
            checks.push(Verification::Residual(format!(
                "{} is still there ({})",
                file.display(),
                human_bytes(meta.len())
            )));
        }
    }
    Verification::all(checks)
}
