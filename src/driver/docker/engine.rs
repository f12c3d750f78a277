//! Talking to the engine: errors as one line naming the container and the engine
//! address, inspection, and bringing a container back to running.

use std::time::{Duration, Instant};

use bollard::container::RestartContainerOptions;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerInspectResponse, ContainerState};
use bollard::Docker;

use crate::driver::DriverError;
use crate::lab::docker_host;

/// How long undo waits for a container its restart policy is bringing back.
const RESTART_BUDGET: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(100);

/// The error target for a container: `container "shop-db"`.
pub(super) fn subject(container: &str) -> String {
    format!("container \"{container}\"")
}

/// Engine messages may span lines ("runc did not terminate...\n: unknown").
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The error and its causes, one line: "client error (Connect): Connection refused".
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = one_line(&e.to_string());
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = one_line(&c.to_string());
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

pub(super) fn is_not_found(e: &BollardError) -> bool {
    matches!(
        e,
        BollardError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// `what` is the step that failed: "docker.pause", "unpause (undo of docker.pause)".
pub(super) fn engine_error(container: &str, what: &str, e: BollardError) -> DriverError {
    let host = docker_host();
    match e {
        BollardError::DockerResponseServerError {
            status_code: 404, ..
        } => DriverError::failed(
            subject(container),
            format!("{what} failed: no such container on {host}"),
        ),
        BollardError::DockerResponseServerError { message, .. } => DriverError::failed(
            subject(container),
            format!("{what} failed on {host}: {}", one_line(&message)),
        ),
        other => DriverError::unreachable(
            subject(container),
            format!(
                "{what}: the Docker engine at {host} did not answer: {}",
                with_causes(&other)
            ),
        ),
    }
}

/// Inspects a container; `None` when the engine does not know it.
pub(super) async fn inspect(
    docker: &Docker,
    container: &str,
    id: &str,
    what: &str,
) -> Result<Option<ContainerInspectResponse>, DriverError> {
    match docker.inspect_container(id, None).await {
        Ok(info) => Ok(Some(info)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(engine_error(container, what, e)),
    }
}

/// The parts of a container's state the driver decides on.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct State {
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    pub oom_killed: bool,
    pub exit_code: Option<i64>,
    pub status: String,
    pub started_at: Option<String>,
    pub restart_count: i64,
}

impl State {
    pub fn of(info: &ContainerInspectResponse) -> State {
        let st: ContainerState = info.state.clone().unwrap_or_default();
        State {
            running: st.running.unwrap_or(false),
            paused: st.paused.unwrap_or(false),
            restarting: st.restarting.unwrap_or(false),
            oom_killed: st.oom_killed.unwrap_or(false),
            exit_code: st.exit_code,
            status: st.status.map(|s| s.to_string()).unwrap_or_default(),
            started_at: st.started_at,
            restart_count: info.restart_count.unwrap_or(0),
        }
    }

    /// Running for real: not paused, not waiting for its restart policy.
    pub fn is_up(&self) -> bool {
        self.running && !self.paused && !self.restarting
    }

    /// "exited (code 137, OOM-killed)", "paused", "restarting (restart count 3)".
    pub fn describe(&self) -> String {
        if self.paused {
            return "paused".to_string();
        }
        if self.restarting {
            return format!("restarting (restart count {})", self.restart_count);
        }
        if self.running {
            return "running".to_string();
        }
        let word = if self.status.is_empty() {
            "not running"
        } else {
            self.status.as_str()
        };
        match (self.exit_code, self.oom_killed) {
            (Some(code), true) => format!("{word} (code {code}, OOM-killed)"),
            (Some(code), false) => format!("{word} (code {code})"),
            (None, true) => format!("{word} (OOM-killed)"),
            (None, false) => word.to_string(),
        }
    }
}

/// Starts the container unless it runs; waits while its restart policy brings it
/// back, and restarts it if the policy is still backing off after the budget. A
/// container that no longer exists is left to `verify` to report.
pub(super) async fn ensure_running(
    docker: &Docker,
    container: &str,
    id: &str,
    what: &str,
) -> Result<(), DriverError> {
    let deadline = Instant::now() + RESTART_BUDGET;
    loop {
        let Some(info) = inspect(docker, container, id, what).await? else {
            return Ok(());
        };
        let state = State::of(&info);
        if state.running && !state.restarting {
            return Ok(());
        }
        if state.restarting {
            if Instant::now() < deadline {
                tokio::time::sleep(POLL).await;
                continue;
            }
            let options = RestartContainerOptions { t: 0 };
            return docker
                .restart_container(id, Some(options))
                .await
                .map_err(|e| engine_error(container, what, e));
        }
        return docker
            .start_container::<String>(id, None)
            .await
            .map_err(|e| engine_error(container, what, e));
    }
}
