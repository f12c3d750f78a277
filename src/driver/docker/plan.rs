//! `plan`: read-only. Inspects the container, checks the action makes sense for its
//! state, captures the undo data and says what will happen in words.

use bollard::models::ContainerInspectResponse;
use bollard::Docker;

use super::engine::{engine_error, is_not_found, subject, State};
use super::limits::{
    approx_bytes, bytes_text, limit_bytes, memory_in_use, memory_text, Cpu, MIN_MEMORY,
};
use super::{network, DockerTarget, DockerUndo};
use crate::catalog::action_params::Signal;
use crate::catalog::duration::HumanDuration;
use crate::catalog::template::Param;
use crate::catalog::Action;
use crate::driver::{DriverError, Plan};
use crate::lab::docker_host;

/// Inspects `target`, checks that `action` can run on it, and captures its undo data.
/// Touches nothing.
pub async fn plan(
    docker: &Docker,
    action: &Action,
    target: &DockerTarget,
) -> Result<Plan<DockerUndo>, DriverError> {
    let kind = action.kind();
    let given = target.container.as_str();
    let info = match docker.inspect_container(given, None).await {
        Ok(info) => info,
        Err(e) if is_not_found(&e) => {
            let reason = format!("no such container on {}", docker_host());
            return Err(DriverError::precondition(subject(given), kind, reason));
        }
        Err(e) => return Err(engine_error(given, kind, e)),
    };
    let name = info
        .name
        .as_deref()
        .map(|n| n.trim_start_matches('/').to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| given.to_string());
    let Some(id) = info.id.clone().filter(|id| !id.is_empty()) else {
        let message = format!("the engine at {} gave no container id", docker_host());
        return Err(DriverError::failed(subject(given), message));
    };
    let state = State::of(&info);
    let pre = |reason: String| DriverError::precondition(subject(&name), kind, reason);
    let running = |what: &str| -> Result<(), DriverError> {
        if state.is_up() {
            Ok(())
        } else {
            Err(pre(format!(
                "the container is {}; {what}",
                state.describe()
            )))
        }
    };
    let host = info.host_config.clone().unwrap_or_default();
    let policy = restart_policy(&info);
    let (undo, blast_radius) = match action {
        Action::DockerKill(p) => {
            running("only a running container can be killed")?;
            let note = if policy == "no" {
                "no restart policy".to_string()
            } else {
                format!("restart policy {policy}, not applied by Docker after an API kill")
            };
            let blast = format!(
                "kill container {name} with {} ({note})",
                signal_name(p.signal)
            );
            (start_undo(&name, &id, &state, policy), blast)
        }
        Action::DockerStop(p) => {
            running("only a running container can be stopped")?;
            let grace = grace_secs(resolved(&p.timeout, kind, "timeout")?);
            let blast = format!("stop container {name} (SIGKILL after {grace}s grace)");
            (start_undo(&name, &id, &state, policy), blast)
        }
        Action::DockerRestart(p) => {
            running("only a running container can be restarted")?;
            let grace = grace_secs(resolved(&p.timeout, kind, "timeout")?);
            let blast = format!("restart container {name} (SIGKILL after {grace}s grace)");
            let undo = DockerUndo::AwaitRunning {
                container: name.clone(),
                id: id.clone(),
                started_at_before: state.started_at.clone(),
            };
            (undo, blast)
        }
        Action::DockerPause(_) => {
            running("only a running container can be paused")?;
            let blast = match process_count(docker, &id).await {
                Some(n) => format!("pause container {name} ({n} process{})", plural(n)),
                None => format!("pause container {name}"),
            };
            let undo = DockerUndo::Unpause {
                container: name.clone(),
                id: id.clone(),
            };
            (undo, blast)
        }
        Action::DockerDisconnect(p) => {
            network::plan_disconnect(&info, &name, &id, &p.network).map_err(pre)?
        }
        Action::DockerMemoryLimit(p) => {
            let limit = i64::try_from(resolved(&p.limit, kind, "limit")?.0).unwrap_or(i64::MAX);
            if limit < MIN_MEMORY {
                return Err(DriverError::Input(format!(
                    "{kind}: limit \"{}\" is below Docker's minimum of 6MiB",
                    bytes_text(Some(limit))
                )));
            }
            let (memory, swap) = (host.memory.unwrap_or(0), host.memory_swap.unwrap_or(0));
            let now = memory_text(memory, swap);
            if limit_bytes(memory).is_some_and(|m| m <= limit) {
                return Err(pre(format!(
                    "its memory limit is already {now}; {} would not lower it",
                    bytes_text(Some(limit))
                )));
            }
            if let Some(reserved) = host.memory_reservation.filter(|r| *r > limit) {
                return Err(pre(format!(
                    "its memory reservation {} is above {}, and Docker refuses a limit below it",
                    bytes_text(Some(reserved)),
                    bytes_text(Some(limit))
                )));
            }
            let mut blast = format!(
                "lower memory limit of {name} from {now} to {}",
                bytes_text(Some(limit))
            );
            if state.running {
                if let Some(used) = memory_in_use(docker, &id).await {
                    blast.push_str(&format!(" (using {} now)", approx_bytes(used)));
                }
            }
            let undo = DockerUndo::RestoreMemory {
                container: name.clone(),
                id: id.clone(),
                memory,
                memory_swap: swap,
                was_running: state.running,
            };
            (undo, blast)
        }
        Action::DockerCpuThrottle(p) => {
            let cpus = resolved(&p.cpus, kind, "cpus")?;
            let (quota, period, nano) = (
                host.cpu_quota.unwrap_or(0),
                host.cpu_period.unwrap_or(0),
                host.nano_cpus.unwrap_or(0),
            );
            let now = Cpu::new(quota, period, nano);
            now.throttle(cpus)
                .map_err(|e| DriverError::Input(format!("{kind}: {e}")))?;
            if now.cpus().is_some_and(|c| c <= cpus) {
                return Err(pre(format!(
                    "its CPU limit is already {}; {} would not throttle it",
                    now.text(),
                    super::limits::cpus_text(cpus)
                )));
            }
            let blast = format!(
                "cap CPU of {name} from {} to {} CPUs",
                now.text(),
                super::limits::cpus_text(cpus)
            );
            let undo = DockerUndo::RestoreCpu {
                container: name.clone(),
                id: id.clone(),
                cpu_quota: quota,
                cpu_period: period,
                nano_cpus: nano,
            };
            (undo, blast)
        }
        other => {
            return Err(DriverError::Input(format!(
                "{} is not a Docker action",
                other.kind()
            )))
        }
    };
    Ok(Plan { undo, blast_radius })
}

fn start_undo(name: &str, id: &str, state: &State, policy: String) -> DockerUndo {
    DockerUndo::Start {
        container: name.to_string(),
        id: id.to_string(),
        was_running: state.running,
        restart_policy: policy,
        restart_count_before: state.restart_count,
    }
}

/// "no", "always", "on-failure:3", "unless-stopped".
fn restart_policy(info: &ContainerInspectResponse) -> String {
    let policy = info
        .host_config
        .as_ref()
        .and_then(|h| h.restart_policy.clone())
        .unwrap_or_default();
    let name = policy.name.map(|n| n.to_string()).unwrap_or_default();
    match (name.as_str(), policy.maximum_retry_count.unwrap_or(0)) {
        ("", _) => "no".to_string(),
        ("on-failure", n) if n > 0 => format!("on-failure:{n}"),
        (other, _) => other.to_string(),
    }
}

async fn process_count(docker: &Docker, id: &str) -> Option<usize> {
    let top = docker.top_processes::<String>(id, None).await.ok()?;
    top.processes.map(|p| p.len())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "es"
    }
}

/// A parameter's value; a reference left unresolved is a caller's mistake.
pub(super) fn resolved<T: Clone>(
    param: &Param<T>,
    kind: &str,
    field: &str,
) -> Result<T, DriverError> {
    match param {
        Param::Value(value) => Ok(value.clone()),
        Param::Ref(name) => Err(DriverError::Input(format!(
            "{kind}: `{field}` still refers to parameter \"{{{{{name}}}}}\"; resolve the fault's parameters first"
        ))),
    }
}

/// Whole seconds of grace Docker waits before SIGKILL, rounded up.
pub(super) fn grace_secs(timeout: HumanDuration) -> i64 {
    timeout.as_duration().as_secs_f64().ceil() as i64
}

pub(super) fn signal_name(signal: Signal) -> &'static str {
    match signal {
        Signal::Kill => "SIGKILL",
        Signal::Term => "SIGTERM",
        Signal::Int => "SIGINT",
        Signal::Hup => "SIGHUP",
        Signal::Quit => "SIGQUIT",
    }
}
