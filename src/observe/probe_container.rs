//! The container probe: running, not paused and, when asked, healthy. Read from
//! Docker's container list filtered to the one name (about a tenth of the JSON of a
//! full inspect, which made this the dearest probe: BENCHMARKS.md, "Engine CPU"),
//! falling back to an inspect when the list does not know it by that name (an id).

use std::collections::HashMap;

use bollard::container::ListContainersOptions;
use bollard::Docker;

use super::probe_check::{driver_detail, Outcome};
use crate::driver::{docker, DriverError};
use crate::lab;

/// What the probe needs to know of a container.
struct Seen {
    /// Docker's word: `running`, `paused`, `exited` …
    state: String,
    /// `healthy`, `unhealthy`, `starting`, or `None` without a health check.
    health: Option<String>,
    exit_code: Option<i64>,
}

/// Up when running, not paused and, with `healthy`, reported healthy. The client is
/// connected once and kept; an engine that stops answering gets a fresh one.
pub(crate) async fn check_container(
    docker: &mut Option<Docker>,
    name: &str,
    healthy: bool,
) -> Outcome {
    let client = match docker {
        Some(client) => client.clone(),
        None => {
            let client = lab::docker_connect().await.map_err(|e| e.to_string())?;
            *docker = Some(client.clone());
            client
        }
    };
    let seen = match from_list(&client, name).await {
        Ok(Some(seen)) => seen,
        Ok(None) => match from_inspect(&client, name).await {
            Ok(seen) => seen,
            Err(e) => return Err(forget_if_unreachable(docker, &e)),
        },
        Err(e) => return Err(forget_if_unreachable(docker, &e)),
    };
    judge(&seen, healthy)
}

fn forget_if_unreachable(docker: &mut Option<Docker>, error: &DriverError) -> String {
    if matches!(error, DriverError::Unreachable { .. }) {
        *docker = None;
    }
    driver_detail(error)
}

fn judge(seen: &Seen, healthy: bool) -> Outcome {
    match seen.state.as_str() {
        "running" => {}
        "paused" => return Err("paused".to_string()),
        other => {
            return Err(match seen.exit_code {
                Some(code) => format!("{other} (exit code {code})"),
                None => other.to_string(),
            })
        }
    }
    match (healthy, seen.health.as_deref()) {
        (false, _) => Ok("running".to_string()),
        (true, Some("healthy")) => Ok("running, healthy".to_string()),
        (true, Some(health)) => Err(format!("running but {health}")),
        (true, None) => Err("running, but the container has no health check".to_string()),
    }
}

/// The container named exactly `name`, from the list; `None` when no name matches.
async fn from_list(client: &Docker, name: &str) -> Result<Option<Seen>, DriverError> {
    let filters = HashMap::from([("name".to_string(), vec![format!("^/{name}$")])]);
    let options = ListContainersOptions {
        all: true,
        filters,
        ..Default::default()
    };
    let list = client
        .list_containers(Some(options))
        .await
        .map_err(|e| DriverError::unreachable("docker", e))?;
    let Some(summary) = list.into_iter().next() else {
        return Ok(None);
    };
    let status = summary.status.unwrap_or_default();
    Ok(Some(Seen {
        state: summary.state.unwrap_or_default(),
        health: health_of(&status),
        exit_code: exit_code_of(&status),
    }))
}

/// `Up 5 minutes (healthy)` → `healthy`; `(health: starting)` → `starting`.
fn health_of(status: &str) -> Option<String> {
    if status.contains("(healthy)") {
        Some("healthy".into())
    } else if status.contains("(unhealthy)") {
        Some("unhealthy".into())
    } else if status.contains("(health: starting)") {
        Some("starting".into())
    } else {
        None
    }
}

/// `Exited (137) 3 seconds ago` → 137.
fn exit_code_of(status: &str) -> Option<i64> {
    let rest = status.strip_prefix("Exited (")?;
    rest.split(')').next()?.parse().ok()
}

async fn from_inspect(client: &Docker, name: &str) -> Result<Seen, DriverError> {
    let status = docker::status(client, name).await?;
    let state = match (status.paused, status.running) {
        (true, _) => "paused".to_string(),
        (false, true) => "running".to_string(),
        (false, false) => status.state,
    };
    Ok(Seen {
        state,
        health: status.health,
        exit_code: status.exit_code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_health_and_exit_codes_from_the_list_status() {
        assert_eq!(
            health_of("Up 5 minutes (healthy)").as_deref(),
            Some("healthy")
        );
        assert_eq!(
            health_of("Up 1 second (health: starting)").as_deref(),
            Some("starting")
        );
        assert_eq!(
            health_of("Up 2 hours (unhealthy)").as_deref(),
            Some("unhealthy")
        );
        assert_eq!(health_of("Up 2 hours (Paused)"), None);
        assert_eq!(exit_code_of("Exited (137) 3 seconds ago"), Some(137));
        assert_eq!(exit_code_of("Up 3 seconds"), None);
    }
}
