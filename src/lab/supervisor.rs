//! The lab's process supervisor: keeps one child process running (the demo service,
//! the load generator), restarts it whenever it exits, and ends it for good on
//! [`Supervisor::stop`] or when the supervisor is dropped. No child outlives chaosdeck:
//! each one asks the kernel to kill it when its parent dies (PR_SET_PDEATHSIG).

mod child;
mod error;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use child::{describe, spawn_child, terminate, wait_first_ready, Running, Shared};
pub use error::SupervisorError;

/// Wait between a child's exit and its restart, unless the spec says otherwise.
pub const DEFAULT_BACKOFF: Duration = Duration::from_millis(500);
/// The shortest wait between restarts, whatever the spec says, so nothing ever spins.
pub const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// How long [`Supervisor::start`] waits for the ready line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a child has after SIGTERM before it gets SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// What to run under a [`Supervisor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisedSpec {
    /// A short name for messages and logs, e.g. `demo-service`.
    pub name: String,
    pub program: PathBuf,
    /// Shown by `ps` to every user: pass secrets through [`StartOptions::env`].
    pub args: Vec<String>,
    /// A line the child prints on stdout when it is ready; a stdout line that starts
    /// with this text (leading spaces ignored) counts. `None`: ready once started.
    pub ready: Option<String>,
    /// Wait between an exit and the restart (at least [`MIN_BACKOFF`]).
    pub backoff: Duration,
}

impl SupervisedSpec {
    /// A spec with no ready line and the [`DEFAULT_BACKOFF`].
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>, args: Vec<String>) -> Self {
        SupervisedSpec {
            name: name.into(),
            program: program.into(),
            args,
            ready: None,
            backoff: DEFAULT_BACKOFF,
        }
    }
}

/// Less common settings of [`Supervisor::start_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartOptions {
    /// How long to wait for the first ready line.
    pub ready_timeout: Duration,
    /// Extra environment of every child (e.g. a connection string with its password,
    /// which must not go on the command line).
    pub env: Vec<(String, String)>,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            ready_timeout: READY_TIMEOUT,
            env: Vec::new(),
        }
    }
}

/// Keeps one child process running until stopped. Dropping it ends the child too.
#[derive(Debug)]
pub struct Supervisor {
    name: String,
    shared: Arc<Shared>,
    restarts: Arc<AtomicU64>,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Supervisor {
    /// Starts the child and, when `spec.ready` is set, waits up to [`READY_TIMEOUT`]
    /// for its ready line. From then on the child is restarted whenever it exits.
    /// Call from a tokio worker or the main thread, not from `spawn_blocking`: the
    /// kernel kills the child when the thread that started it ends.
    pub async fn start(spec: SupervisedSpec) -> Result<Supervisor, SupervisorError> {
        Supervisor::start_with(spec, StartOptions::default()).await
    }

    /// [`Supervisor::start`] with a ready timeout and extra environment.
    pub async fn start_with(
        spec: SupervisedSpec,
        options: StartOptions,
    ) -> Result<Supervisor, SupervisorError> {
        let shared = Arc::new(Shared::default());
        let running = spawn_child(&spec, &options.env, &shared)?;
        let running = wait_first_ready(running, &spec, options.ready_timeout, &shared).await?;
        let restarts = Arc::new(AtomicU64::new(0));
        let stop = CancellationToken::new();
        let task = tokio::spawn(supervise(
            running,
            spec.clone(),
            options.env,
            Arc::clone(&shared),
            Arc::clone(&restarts),
            stop.clone(),
        ));
        Ok(Supervisor {
            name: spec.name,
            shared,
            restarts,
            stop,
            task: Some(task),
        })
    }

    /// The name given in the spec.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The running child's pid; `None` between an exit and the restart.
    pub fn pid(&self) -> Option<u32> {
        match self.shared.pid.load(Ordering::Acquire) {
            0 => None,
            pid => Some(pid),
        }
    }

    /// Whether a child runs and has printed its ready line (if the spec names one).
    pub fn is_ready(&self) -> bool {
        self.pid().is_some() && self.shared.ready.load(Ordering::Acquire)
    }

    /// How many times the child was restarted.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Acquire)
    }

    /// The restart counter itself, for samplers and status lines.
    pub fn restarts_handle(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.restarts)
    }

    /// The last lines the children wrote to stderr, oldest first.
    pub fn stderr_tail(&self) -> String {
        self.shared.tail()
    }

    /// Ends the child: SIGTERM to its process group, SIGKILL after [`STOP_GRACE`].
    /// Nothing is restarted afterwards. Returns once the child is gone.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Supervisor {
    /// Asks the supervising task to end the child. Should the runtime go away first,
    /// the child is killed when the task is dropped (`kill_on_drop`).
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The supervising task: waits for the child to exit, waits the backoff, starts it
/// again; on stop, ends the child and returns.
async fn supervise(
    first: Running,
    spec: SupervisedSpec,
    env: Vec<(String, String)>,
    shared: Arc<Shared>,
    restarts: Arc<AtomicU64>,
    stop: CancellationToken,
) {
    let backoff = spec.backoff.max(MIN_BACKOFF);
    let mut current = Some(first);
    loop {
        if let Some(mut running) = current.take() {
            tokio::select! {
                status = running.child.wait() => {
                    shared.pid.store(0, Ordering::Release);
                    shared.ready.store(false, Ordering::Release);
                    tracing::warn!(
                        target: "lab",
                        process = %spec.name,
                        pid = running.pid,
                        "exited ({}); restarting in {}",
                        describe(status),
                        humantime::format_duration(backoff),
                    );
                }
                _ = stop.cancelled() => {
                    terminate(&mut running.child, running.pid).await;
                    shared.pid.store(0, Ordering::Release);
                    shared.ready.store(false, Ordering::Release);
                    return;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.cancelled() => return,
        }
        match spawn_child(&spec, &env, &shared) {
            Ok(running) => {
                restarts.fetch_add(1, Ordering::AcqRel);
                current = Some(running);
            }
            Err(e) => tracing::warn!(target: "lab", "{e}; trying again"),
        }
    }
}
