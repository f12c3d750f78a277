//! `verify`: re-inspects the container after undo and compares it with what `plan`
//! captured; the residual text says exactly what differs.

use bollard::models::HostConfig;
use bollard::Docker;

use super::engine::{inspect, State};
use super::limits::{bytes_text, limit_bytes, Cpu};
use super::{network, DockerUndo};
use crate::driver::{DriverError, Verification};
use crate::lab::docker_host;

/// Checks that the container is as `undo` says it was before the fault.
pub async fn verify(docker: &Docker, undo: &DockerUndo) -> Result<Verification, DriverError> {
    let (name, id) = (undo.container(), undo.id());
    let Some(info) = inspect(docker, name, id, "verify").await? else {
        let short: String = id.chars().take(12).collect();
        return Ok(Verification::Residual(format!(
            "container {name} ({short}) no longer exists on {}",
            docker_host()
        )));
    };
    let state = State::of(&info);
    let running = || {
        if state.is_up() {
            Verification::Verified
        } else {
            Verification::Residual(format!("{name} is {}, expected running", state.describe()))
        }
    };
    let host = info.host_config.clone().unwrap_or_default();
    Ok(match undo {
        DockerUndo::Start { was_running, .. } => {
            if *was_running {
                running()
            } else {
                Verification::Verified
            }
        }
        DockerUndo::AwaitRunning { .. } | DockerUndo::Unpause { .. } => running(),
        DockerUndo::Reconnect {
            network,
            aliases,
            ipv4_address,
            ipv6_address,
            ..
        } => network::check(&info, id, network, aliases, (ipv4_address, ipv6_address)),
        DockerUndo::RestoreMemory {
            memory,
            memory_swap,
            was_running,
            ..
        } => {
            let limits = memory_check(&host, *memory, *memory_swap);
            let up = if *was_running {
                running()
            } else {
                Verification::Verified
            };
            Verification::all([limits, up])
        }
        DockerUndo::RestoreCpu {
            cpu_quota,
            cpu_period,
            nano_cpus,
            ..
        } => cpu_check(&host, Cpu::new(*cpu_quota, *cpu_period, *nano_cpus)),
    })
}

/// Memory and memory+swap limits compared by meaning (0, -1 and the kernel maximum
/// are all unlimited); swap matters only under a memory limit.
pub(super) fn memory_check(host: &HostConfig, memory: i64, memory_swap: i64) -> Verification {
    let now = limit_bytes(host.memory.unwrap_or(0));
    let want = limit_bytes(memory);
    if now != want {
        return Verification::Residual(format!(
            "memory limit is {}, expected {}",
            bytes_text(now),
            bytes_text(want)
        ));
    }
    let now_swap = limit_bytes(host.memory_swap.unwrap_or(0));
    let want_swap = limit_bytes(memory_swap);
    if want.is_some() && now_swap != want_swap {
        return Verification::Residual(format!(
            "memory+swap limit is {}, expected {}",
            bytes_text(now_swap),
            bytes_text(want_swap)
        ));
    }
    Verification::Verified
}

pub(super) fn cpu_check(host: &HostConfig, want: Cpu) -> Verification {
    let now = Cpu::new(
        host.cpu_quota.unwrap_or(0),
        host.cpu_period.unwrap_or(0),
        host.nano_cpus.unwrap_or(0),
    );
    if now == want {
        return Verification::Verified;
    }
    let raw = |c: Cpu| {
        format!(
            "CpuQuota {} per CpuPeriod {}µs, NanoCpus {}",
            c.quota.unwrap_or(-1),
            c.period,
            c.nano
        )
    };
    if now.text() == want.text() {
        return Verification::Residual(format!(
            "CPU limit is {}, expected {}",
            raw(now),
            raw(want)
        ));
    }
    Verification::Residual(format!(
        "CPU limit is {}, expected {}",
        now.text(),
        want.text()
    ))
}
