//! Process faults: signals and freeze, by pid, name or listening port.
//!
//! Every step is a few system calls and `/proc` reads, so the functions are plain
//! (blocking, but quick). The undo data carries the process's start time next to its
//! pid: nothing is ever sent to a pid the kernel has since given to another process.

mod lookup;
pub use lookup::resolve as resolve_pid;
pub mod procfs;

use nix::sys::signal::{kill, Signal as NixSignal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::catalog::action_params::Signal;
use crate::catalog::Action;
use crate::driver::{DriverError, Plan, Verification};

/// How the operator named the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessSelector {
    Pid(u32),
    /// The exact process name (`/proc/<pid>/comm`); it must match exactly one process.
    Name(String),
    /// The process listening on this TCP port.
    Port(u16),
}

impl std::fmt::Display for ProcessSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProcessSelector::Pid(pid) => write!(f, "pid {pid}"),
            ProcessSelector::Name(name) => write!(f, "process \"{name}\""),
            ProcessSelector::Port(port) => write!(f, "listener on TCP port {port}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessTarget {
    pub selector: ProcessSelector,
}

/// A process action with its parameters resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessFault {
    /// `process.signal`: send the signal once.
    Signal(Signal),
    /// `process.freeze`: SIGSTOP now, SIGCONT on undo.
    Freeze,
}

impl ProcessFault {
    /// The process fault an action means; other actions are input errors.
    pub fn from_action(action: &Action) -> Result<ProcessFault, DriverError> {
        match action {
            Action::ProcessSignal(p) => Ok(ProcessFault::Signal(p.signal)),
            Action::ProcessFreeze(_) => Ok(ProcessFault::Freeze),
            other => Err(DriverError::Input(format!(
                "the process driver cannot run \"{}\"",
                other.kind()
            ))),
        }
    }

    fn action(&self) -> &'static str {
        match self {
            ProcessFault::Signal(_) => "process.signal",
            ProcessFault::Freeze => "process.freeze",
        }
    }
}

/// What undoes a process fault, journaled before the signal is sent.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum ProcessUndo {
    /// A signal that cannot be taken back; a supervisor is expected to restart the
    /// process.
    None {
        pid: u32,
        start_time: u64,
        signal: Signal,
    },
    /// A freeze, undone with SIGCONT.
    Continue { pid: u32, start_time: u64 },
}

impl ProcessUndo {
    fn pid_and_start(&self) -> (u32, u64) {
        match self {
            ProcessUndo::None {
                pid, start_time, ..
            }
            | ProcessUndo::Continue { pid, start_time } => (*pid, *start_time),
        }
    }
}

/// `SIGKILL` and friends, for messages.
pub fn signal_name(signal: Signal) -> &'static str {
    to_nix(signal).as_str()
}

fn to_nix(signal: Signal) -> NixSignal {
    match signal {
        Signal::Kill => NixSignal::SIGKILL,
        Signal::Term => NixSignal::SIGTERM,
        Signal::Int => NixSignal::SIGINT,
        Signal::Hup => NixSignal::SIGHUP,
        Signal::Quit => NixSignal::SIGQUIT,
    }
}

/// Read-only: finds the process, checks it may be signalled, captures its start time
/// and says what will happen ("send SIGKILL to postgres (pid 1234)").
pub fn plan(
    target: &ProcessTarget,
    fault: &ProcessFault,
) -> Result<Plan<ProcessUndo>, DriverError> {
    let action = fault.action();
    let pid = lookup::resolve(&target.selector, action)?;
    let refuse =
        |reason: String| DriverError::precondition(target.selector.to_string(), action, reason);
    let stat = procfs::read_stat(pid).ok_or_else(|| refuse(format!("pid {pid} has exited")))?;
    match kill(Pid::from_raw(pid_i32(pid)?), None) {
        Ok(()) => {}
        Err(nix::errno::Errno::EPERM) => {
            return Err(refuse(format!(
                "chaosdeck may not signal pid {pid} (it belongs to another user; run as that user or root)"
            )))
        }
        Err(e) => return Err(refuse(format!("pid {pid}: {e}"))),
    }
    let name = procfs::comm(pid).unwrap_or_else(|| "process".to_string());
    let start_time = stat.start_time;
    Ok(match fault {
        ProcessFault::Signal(signal) => Plan {
            undo: ProcessUndo::None {
                pid,
                start_time,
                signal: *signal,
            },
            blast_radius: format!("send {} to {name} (pid {pid})", signal_name(*signal)),
        },
        ProcessFault::Freeze => {
            if stat.state == 'T' || stat.state == 't' {
                return Err(refuse(format!(
                    "{name} (pid {pid}) is already stopped; continuing it later would undo \
                     someone else's stop"
                )));
            }
            Plan {
                undo: ProcessUndo::Continue { pid, start_time },
                blast_radius: format!("freeze {name} (pid {pid}) with SIGSTOP until teardown"),
            }
        }
    })
}

/// Sends the signal (or SIGSTOP) to the planned process, if it is still the same one.
pub fn apply(undo: &ProcessUndo) -> Result<(), DriverError> {
    let (pid, start_time) = undo.pid_and_start();
    let signal = match undo {
        ProcessUndo::None { signal, .. } => to_nix(*signal),
        ProcessUndo::Continue { .. } => NixSignal::SIGSTOP,
    };
    if !procfs::is_same_live(pid, start_time) {
        return Err(DriverError::failed(
            format!("pid {pid}"),
            format!(
                "the planned process is gone (exited, or its pid now names another process); \
                 {} was not sent",
                signal.as_str()
            ),
        ));
    }
    kill(Pid::from_raw(pid_i32(pid)?), signal)
        .map_err(|e| DriverError::failed(format!("pid {pid}"), format!("{}: {e}", signal.as_str())))
}

/// After a freeze's SIGSTOP: waits (up to a second) until the kernel shows the
/// process stopped, since a signal lands a moment after `kill` returns; the fault
/// counts as on only then.
pub async fn wait_until_stopped(undo: &ProcessUndo) {
    let ProcessUndo::Continue { .. } = undo else {
        return;
    };
    let (pid, _) = undo.pid_and_start();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
    while tokio::time::Instant::now() < deadline {
        match procfs::read_stat(pid) {
            Some(stat) if stat.state != 'T' && stat.state != 't' => {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await
            }
            _ => return,
        }
    }
    tracing::warn!("pid {pid} did not show as stopped within 1 s of SIGSTOP");
}

/// Idempotent. A freeze is continued with SIGCONT when the same process still exists;
/// a signal has nothing to undo. Returns what was found and done, for the timeline.
pub fn undo(undo: &ProcessUndo) -> Result<String, DriverError> {
    let (pid, start_time) = undo.pid_and_start();
    let same = procfs::is_same_live(pid, start_time);
    match undo {
        ProcessUndo::None { signal, .. } => Ok(if same {
            format!(
                "nothing to undo: pid {pid} is still running after {}",
                signal_name(*signal)
            )
        } else {
            format!(
                "nothing to undo: pid {pid} is gone after {}; a supervisor may restart it",
                signal_name(*signal)
            )
        }),
        ProcessUndo::Continue { .. } if !same => Ok(format!(
            "pid {pid} is gone (or names another process now); nothing to continue"
        )),
        ProcessUndo::Continue { .. } => {
            kill(Pid::from_raw(pid_i32(pid)?), NixSignal::SIGCONT)
                .map_err(|e| DriverError::failed(format!("pid {pid}"), format!("SIGCONT: {e}")))?;
            Ok(format!("continued pid {pid} with SIGCONT"))
        }
    }
}

/// Re-checks reality: a frozen process must no longer be stopped. A signal leaves
/// nothing to check; [`is_gone`] says whether the process ended.
pub fn verify(undo: &ProcessUndo) -> Verification {
    match undo {
        ProcessUndo::None { .. } => Verification::Verified,
        ProcessUndo::Continue { pid, start_time } => match procfs::read_stat(*pid) {
            Some(stat) if stat.start_time == *start_time && stat.state == 'T' => {
                Verification::Residual(format!("pid {pid} is still stopped (state T)"))
            }
            _ => Verification::Verified,
        },
    }
}

/// Whether the process the undo data names has ended (or its pid was reused).
pub fn is_gone(undo: &ProcessUndo) -> bool {
    let (pid, start_time) = undo.pid_and_start();
    !procfs::is_same_live(pid, start_time)
}

fn pid_i32(pid: u32) -> Result<i32, DriverError> {
    i32::try_from(pid).map_err(|_| DriverError::Input(format!("pid {pid} is out of range")))
}
