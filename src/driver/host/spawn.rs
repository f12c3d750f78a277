//! The parent's side of a stressor: start `chaosdeck __stress`, wait for its `ready`
//! line, keep it in a [`Hold`], and end it by pid (checked against its start time).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdout};

use super::stress::StressKind;
use crate::driver::process::procfs;
use crate::driver::{DriverError, Hold};

const TARGET: &str = "host";

/// Starts `exe __stress --parent <our pid> <kind>` as a child in its own process group
/// (a Ctrl-C at the terminal reaches chaosdeck, which ends it in order), killed when
/// the handle is dropped. The PR_SET_PDEATHSIG the child sets fires when the *thread*
/// that spawned it ends: call this from a thread that lives as long as the stressor
/// (the main thread or a tokio worker; not `spawn_blocking`).
pub fn spawn_stressor(exe: &Path, kind: &StressKind) -> Result<Child, DriverError> {
    tokio::process::Command::new(exe)
        .arg("__stress")
        .arg("--parent")
        .arg(std::process::id().to_string())
        .args(kind.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| DriverError::failed(TARGET, format!("cannot start {}: {e}", exe.display())))
}

/// A started stressor that said `ready`.
#[derive(Debug)]
pub struct ReadyChild {
    pub child: Child,
    pub pid: u32,
    pub start_time: u64,
    /// The `ready …` line, e.g. `ready held=6.8 GiB used=…`.
    pub line: String,
    stdout: BufReader<ChildStdout>,
    stderr: Option<ChildStderr>,
}

/// Waits up to `timeout` for the child's `ready` line. On anything else — an `error:`
/// line, an exit, the timeout — the child is killed and the error says why.
pub async fn wait_ready(mut child: Child, timeout: Duration) -> Result<ReadyChild, DriverError> {
    let pid = child
        .id()
        .ok_or_else(|| DriverError::failed(TARGET, "the stressor exited at once"))?;
    let Some(stdout) = child.stdout.take() else {
        return Err(DriverError::failed(TARGET, "the stressor has no stdout"));
    };
    let mut stdout = BufReader::new(stdout);
    let mut line = String::new();
    let read = tokio::time::timeout(timeout, stdout.read_line(&mut line)).await;
    let line = line.trim().to_string();
    let why = match read {
        Ok(Ok(_)) if line.starts_with("ready") => {
            let start_time = procfs::read_stat(pid).map(|s| s.start_time).unwrap_or(0);
            let stderr = child.stderr.take();
            return Ok(ReadyChild {
                child,
                pid,
                start_time,
                line,
                stdout,
                stderr,
            });
        }
        Ok(Ok(_)) if !line.is_empty() => line,
        Ok(Ok(_)) => "it exited before it was ready".to_string(),
        Ok(Err(e)) => format!("reading its output: {e}"),
        Err(_) => format!("not ready after {}", humantime::format_duration(timeout)),
    };
    let _ = child.start_kill();
    let status = child
        .wait()
        .await
        .map(|s| s.to_string())
        .unwrap_or_default();
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = tokio::time::timeout(Duration::from_secs(1), err.read_to_string(&mut stderr)).await;
    }
    let detail = stderr
        .lines()
        .last()
        .map(|l| format!(": {l}"))
        .unwrap_or_default();
    Err(DriverError::failed(
        TARGET,
        format!("stressor pid {pid}: {why} ({status}){detail}"),
    ))
}

/// Puts the ready child into a hold: when the hold is released or dropped, the child
/// gets SIGTERM (then SIGKILL) and `leftover` is deleted once it is gone.
pub fn hold_child(ready: ReadyChild, leftover: Option<PathBuf>) -> Hold {
    let mut hold = Hold::new();
    let token = hold.token();
    hold.push(tokio::spawn(async move {
        let ReadyChild {
            mut child,
            stdout,
            stderr,
            ..
        } = ready;
        // Kept open so the child never writes into a closed pipe.
        let _pipes = (stdout, stderr);
        tokio::select! {
            _ = token.cancelled() => end_owned(&mut child).await,
            _ = child.wait() => {}
        }
        if let Some(file) = leftover {
            remove_leftover(&file);
        }
    }));
    hold
}

async fn end_owned(child: &mut Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        if tokio::time::timeout(Duration::from_secs(3), child.wait())
            .await
            .is_ok()
        {
            return;
        }
    }
    let _ = child.kill().await;
}

/// Ends the stressor `pid` if it is still the process that started at `start_time`:
/// SIGTERM, up to 3 s, then SIGKILL. Returns whether one was running.
pub async fn end_by_pid(pid: u32, start_time: u64) -> Result<bool, DriverError> {
    if !procfs::is_same_live(pid, start_time) {
        return Ok(false);
    }
    let raw =
        i32::try_from(pid).map_err(|_| DriverError::Input(format!("pid {pid} is out of range")))?;
    for (signal, wait) in [(Signal::SIGTERM, 3000), (Signal::SIGKILL, 2000)] {
        match kill(Pid::from_raw(raw), signal) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => {
                return Err(DriverError::failed(
                    TARGET,
                    format!("{signal} to stressor pid {pid}: {e}"),
                ))
            }
        }
        for _ in 0..wait / 20 {
            if !procfs::is_same_live(pid, start_time) {
                return Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Err(DriverError::failed(
        TARGET,
        format!("stressor pid {pid} survived SIGTERM and SIGKILL"),
    ))
}

/// Name prefix of the files disk fills write; nothing else is ever deleted.
pub const FILL_PREFIX: &str = "chaosdeck-fill-";

/// Deletes a fill file left behind. Only names chaosdeck gives are touched, so a
/// damaged journal cannot delete anything else. Returns whether a file was removed.
pub fn remove_leftover(file: &Path) -> bool {
    is_fill_file(file) && std::fs::remove_file(file).is_ok()
}

/// Whether `file` is one chaosdeck's fill would write.
pub fn is_fill_file(file: &Path) -> bool {
    file.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(FILL_PREFIX) && n.ends_with(".tmp"))
}
