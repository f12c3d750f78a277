//! One supervised child: starting it (own process group, PR_SET_PDEATHSIG), reading
//! its pipes, waiting for its ready line, and ending it.

use std::collections::VecDeque;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Child;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{SupervisedSpec, SupervisorError, STOP_GRACE};

/// How many of the children's last stderr lines are kept for messages.
const STDERR_TAIL_LINES: usize = 20;

/// What the supervising task and the readers share with the `Supervisor` handle.
#[derive(Debug, Default)]
pub(super) struct Shared {
    /// The running child's pid; 0 while none runs.
    pub(super) pid: AtomicU32,
    /// Whether the running child has printed its ready line.
    pub(super) ready: AtomicBool,
    /// Bumped before each spawn, so a reader of an older child changes nothing.
    generation: AtomicU64,
    stderr_tail: Mutex<VecDeque<String>>,
}

impl Shared {
    pub(super) fn tail(&self) -> String {
        let lines = self.stderr_tail.lock().unwrap_or_else(|e| e.into_inner());
        if lines.is_empty() {
            return "(nothing)".to_string();
        }
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

/// A started child and the readers of its pipes.
pub(super) struct Running {
    pub(super) child: Child,
    pub(super) pid: u32,
    ready_rx: oneshot::Receiver<()>,
    stderr_reader: JoinHandle<()>,
}

/// Starts one child in its own process group, with PR_SET_PDEATHSIG = SIGKILL.
pub(super) fn spawn_child(
    spec: &SupervisedSpec,
    env: &[(String, String)],
    shared: &Arc<Shared>,
) -> Result<Running, SupervisorError> {
    let generation = shared.generation.fetch_add(1, Ordering::AcqRel) + 1;
    let parent = nix::unistd::getpid();
    let mut command = tokio::process::Command::new(&spec.program);
    command
        .args(&spec.args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // SAFETY: the closure runs between fork and exec and only makes two system calls
    // (prctl, getppid); it allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
            // The parent may have died before the prctl: then nothing would kill us.
            if nix::unistd::getppid() != parent {
                return Err(std::io::Error::other("the supervisor is gone"));
            }
            Ok(())
        });
    }
    let spawn_error = |source| SupervisorError::Spawn {
        name: spec.name.clone(),
        program: spec.program.clone(),
        source,
    };
    let mut child = command.spawn().map_err(spawn_error)?;
    let pid = child
        .id()
        .ok_or_else(|| spawn_error(std::io::Error::other("it has no pid")))?;
    let (ready_tx, ready_rx) = oneshot::channel();
    shared.ready.store(spec.ready.is_none(), Ordering::Release);
    if let Some(stdout) = child.stdout.take() {
        let ready = spec.ready.clone();
        tokio::spawn(read_stdout(
            stdout,
            ready,
            ready_tx,
            Arc::clone(shared),
            generation,
        ));
    }
    let stderr_reader = match child.stderr.take() {
        Some(stderr) => tokio::spawn(read_stderr(stderr, Arc::clone(shared), spec.name.clone())),
        None => tokio::spawn(async {}),
    };
    shared.pid.store(pid, Ordering::Release);
    Ok(Running {
        child,
        pid,
        ready_rx,
        stderr_reader,
    })
}

/// Drains the child's stdout; the first line that starts with `ready` marks it ready.
async fn read_stdout(
    stdout: impl AsyncRead + Unpin,
    ready: Option<String>,
    ready_tx: oneshot::Sender<()>,
    shared: Arc<Shared>,
    generation: u64,
) {
    let mut ready_tx = Some(ready_tx);
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Some(want) = ready.as_deref() else {
            continue;
        };
        if ready_tx.is_some() && line.trim_start().starts_with(want) {
            if shared.generation.load(Ordering::Acquire) == generation {
                shared.ready.store(true, Ordering::Release);
            }
            if let Some(tx) = ready_tx.take() {
                let _ = tx.send(());
            }
        }
    }
}

/// Keeps the last stderr lines of the children, and logs them (to the log file).
async fn read_stderr(stderr: impl AsyncRead + Unpin, shared: Arc<Shared>, name: String) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::debug!(target: "lab", process = %name, "{line}");
        let mut tail = shared.stderr_tail.lock().unwrap_or_else(|e| e.into_inner());
        if tail.len() == STDERR_TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}

/// Waits for the first ready line; on an exit or a timeout the child is ended and the
/// error carries its stderr tail.
pub(super) async fn wait_first_ready(
    mut running: Running,
    spec: &SupervisedSpec,
    timeout: Duration,
    shared: &Shared,
) -> Result<Running, SupervisorError> {
    let Some(ready) = spec.ready.clone() else {
        return Ok(running);
    };
    let outcome = tokio::time::timeout(timeout, async {
        let mut stdout_open = true;
        loop {
            tokio::select! {
                biased;
                said = &mut running.ready_rx, if stdout_open => match said {
                    Ok(()) => return None,
                    Err(_) => stdout_open = false,
                },
                status = running.child.wait() => return Some(status),
            }
        }
    })
    .await;
    let name = spec.name.clone();
    match outcome {
        Ok(None) => Ok(running),
        Ok(Some(status)) => {
            let status = describe(status);
            settle_stderr(running.stderr_reader).await;
            let tail = shared.tail();
            shared.pid.store(0, Ordering::Release);
            Err(SupervisorError::ExitedBeforeReady {
                name,
                ready,
                status,
                tail,
            })
        }
        Err(_) => {
            terminate(&mut running.child, running.pid).await;
            settle_stderr(running.stderr_reader).await;
            shared.pid.store(0, Ordering::Release);
            Err(SupervisorError::NotReady {
                name,
                ready,
                waited: humantime::format_duration(timeout).to_string(),
                tail: shared.tail(),
            })
        }
    }
}

/// Lets the stderr reader take in the last lines of a child that has exited.
async fn settle_stderr(reader: JoinHandle<()>) {
    let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
}

pub(super) fn describe(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => status.to_string(),
        Err(e) => format!("its status is unknown: {e}"),
    }
}

/// SIGTERM to the child's process group, then SIGKILL after [`STOP_GRACE`]. The child
/// is not reaped before the signals, so its pid (= its group id) is still ours.
pub(super) async fn terminate(child: &mut Child, pid: u32) {
    let group = i32::try_from(pid).ok().map(Pid::from_raw);
    if let Some(group) = group {
        let _ = killpg(group, Signal::SIGTERM);
    }
    if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_ok() {
        return;
    }
    if let Some(group) = group {
        let _ = killpg(group, Signal::SIGKILL);
    }
    let _ = child.kill().await;
}
