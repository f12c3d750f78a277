//! A container's state for the recovery screen: running, paused, OOM-killed, restart
//! count, health.

use bollard::Docker;
use serde::{Deserialize, Serialize};

use super::engine::{inspect, subject, State};
use crate::driver::DriverError;
use crate::lab::docker_host;

/// One reading of a container's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerStatus {
    pub name: String,
    pub id: String,
    /// Docker's word for it: "running", "paused", "restarting", "exited", ...
    pub state: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    pub oom_killed: bool,
    pub restart_count: i64,
    /// `State.Health.Status` ("starting", "healthy", "unhealthy") when the container
    /// has a health check.
    pub health: Option<String>,
    pub exit_code: Option<i64>,
    /// RFC 3339, as the engine reports it.
    pub started_at: Option<String>,
}

/// Reads the state of `container` (name or id).
pub async fn status(docker: &Docker, container: &str) -> Result<ContainerStatus, DriverError> {
    let Some(info) = inspect(docker, container, container, "status").await? else {
        let message = format!("no such container on {}", docker_host());
        return Err(DriverError::failed(subject(container), message));
    };
    let state = State::of(&info);
    let health = info
        .state
        .as_ref()
        .and_then(|s| s.health.as_ref())
        .and_then(|h| h.status)
        .map(|s| s.to_string())
        .filter(|s| !s.is_empty() && s != "none");
    let name = info
        .name
        .as_deref()
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_else(|| container.to_string());
    let Some(id) = info.id.clone() else {
        let message = format!("the engine at {} gave no container id", docker_host());
        return Err(DriverError::failed(subject(container), message));
    };
    Ok(ContainerStatus {
        name,
        id,
        state: state.status,
        running: state.running,
        paused: state.paused,
        restarting: state.restarting,
        oom_killed: state.oom_killed,
        restart_count: state.restart_count,
        health,
        exit_code: state.exit_code,
        started_at: state.started_at,
    })
}
