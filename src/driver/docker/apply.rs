//! `apply` performs a planned Docker fault; `undo` puts the captured state back and is
//! idempotent: undoing twice, or undoing what is already back, does nothing.

use bollard::container::{KillContainerOptions, RestartContainerOptions, StopContainerOptions};
use bollard::network::DisconnectNetworkOptions;
use bollard::Docker;

use super::engine::{engine_error, ensure_running, inspect, State};
use super::limits::{set_cpu, set_memory, Cpu};
use super::plan::{grace_secs, resolved, signal_name};
use super::verify::{cpu_check, memory_check};
use super::{network, DockerUndo};
use crate::catalog::Action;
use crate::driver::DriverError;

/// Performs `action` on the container `plan` captured `undo` for.
pub async fn apply(docker: &Docker, action: &Action, undo: &DockerUndo) -> Result<(), DriverError> {
    let kind = action.kind();
    let (name, id) = (undo.container(), undo.id());
    let fail = |e| engine_error(name, kind, e);
    match (action, undo) {
        (Action::DockerKill(p), DockerUndo::Start { .. }) => {
            let options = KillContainerOptions {
                signal: signal_name(p.signal),
            };
            docker.kill_container(id, Some(options)).await.map_err(fail)
        }
        (Action::DockerStop(p), DockerUndo::Start { .. }) => {
            let t = grace_secs(resolved(&p.timeout, kind, "timeout")?);
            let options = StopContainerOptions { t };
            docker.stop_container(id, Some(options)).await.map_err(fail)
        }
        (Action::DockerRestart(p), DockerUndo::AwaitRunning { .. }) => {
            let t = grace_secs(resolved(&p.timeout, kind, "timeout")?);
            let options = RestartContainerOptions {
                t: isize::try_from(t).unwrap_or(isize::MAX),
            };
            docker
                .restart_container(id, Some(options))
                .await
                .map_err(fail)
        }
        (Action::DockerPause(_), DockerUndo::Unpause { .. }) => {
            docker.pause_container(id).await.map_err(fail)
        }
        (Action::DockerDisconnect(_), DockerUndo::Reconnect { network, .. }) => {
            let options = DisconnectNetworkOptions {
                container: id.to_string(),
                force: false,
            };
            docker
                .disconnect_network(network, options)
                .await
                .map_err(fail)
        }
        (Action::DockerMemoryLimit(p), DockerUndo::RestoreMemory { .. }) => {
            let limit = i64::try_from(resolved(&p.limit, kind, "limit")?.0).unwrap_or(i64::MAX);
            set_memory(docker, name, id, (limit, limit), kind)
                .await
                .map_err(explain_busy)
        }
        (
            Action::DockerCpuThrottle(p),
            DockerUndo::RestoreCpu {
                cpu_quota,
                cpu_period,
                nano_cpus,
                ..
            },
        ) => {
            let cpus = resolved(&p.cpus, kind, "cpus")?;
            let options = Cpu::new(*cpu_quota, *cpu_period, *nano_cpus)
                .throttle(cpus)
                .map_err(|e| DriverError::Input(format!("{kind}: {e}")))?;
            set_cpu(docker, name, id, options, kind).await
        }
        _ => Err(DriverError::Input(format!(
            "{kind}: the undo data given ({}) belongs to another action",
            undo.describe()
        ))),
    }
}

/// Puts back what the fault changed. Idempotent; a container that no longer exists has
/// nothing left to undo (and `verify` says it is gone).
pub async fn undo(docker: &Docker, undo: &DockerUndo) -> Result<(), DriverError> {
    let (name, id) = (undo.container(), undo.id());
    let what = format!("undo ({})", undo.describe());
    let Some(info) = inspect(docker, name, id, &what).await? else {
        return Ok(());
    };
    let state = State::of(&info);
    let fail = |e| engine_error(name, &what, e);
    match undo {
        DockerUndo::Start { was_running, .. } => {
            if *was_running {
                ensure_running(docker, name, id, &what).await?;
            }
            Ok(())
        }
        DockerUndo::AwaitRunning { .. } => ensure_running(docker, name, id, &what).await,
        DockerUndo::Unpause { .. } => {
            if state.paused {
                docker.unpause_container(id).await.map_err(fail)?;
            }
            Ok(())
        }
        DockerUndo::Reconnect {
            network,
            aliases,
            ipv4_address,
            ipv6_address,
            ..
        } => {
            network::reconnect(
                docker,
                &info,
                (name, id),
                (network, aliases),
                (ipv4_address, ipv6_address),
                &what,
            )
            .await
        }
        DockerUndo::RestoreMemory {
            memory,
            memory_swap,
            was_running,
            ..
        } => {
            let host = info.host_config.clone().unwrap_or_default();
            if !memory_check(&host, *memory, *memory_swap).is_verified() {
                set_memory(docker, name, id, (*memory, *memory_swap), &what).await?;
            }
            if *was_running {
                ensure_running(docker, name, id, &what).await?;
            }
            Ok(())
        }
        DockerUndo::RestoreCpu {
            cpu_quota,
            cpu_period,
            nano_cpus,
            ..
        } => {
            let want = Cpu::new(*cpu_quota, *cpu_period, *nano_cpus);
            let host = info.host_config.clone().unwrap_or_default();
            if cpu_check(&host, want).is_verified() {
                return Ok(());
            }
            set_cpu(docker, name, id, want.restore(), &what).await
        }
    }
}

/// cgroup v1 refuses a memory limit below what the container uses (the kernel cannot
/// reclaim it, and does not OOM-kill on the write); say what to do about it.
fn explain_busy(e: DriverError) -> DriverError {
    match e {
        DriverError::Failed { target, message }
            if message.contains("unable to set memory limit") =>
        {
            DriverError::Failed {
                target,
                message: format!(
                    "{message} (under cgroup v1 the limit cannot go below what the container \
                     uses now; choose a limit above its current usage, and it is OOM-killed \
                     when it grows past it)"
                ),
            }
        }
        other => other,
    }
}
