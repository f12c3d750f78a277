//! Docker faults through bollard: kill, stop, pause, restart, network disconnect,
//! memory limit and CPU throttle of one container.
//!
//! `plan` inspects the container and captures the exact state to restore in a
//! [`DockerUndo`]; `apply` performs the fault; `undo` puts the captured state back and
//! is idempotent; `verify` re-inspects the container and names whatever still differs.
//! Every undo value carries the container's full id, so a container recreated under the
//! same name is never mistaken for the one the fault acted on.

mod apply;
mod engine;
mod limits;
mod network;
mod plan;
mod status;
mod verify;

use serde::{Deserialize, Serialize};

pub use apply::{apply, undo};
pub use plan::plan;
pub use status::{status, ContainerStatus};
pub use verify::verify;

/// The container a Docker action acts on, by name or id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerTarget {
    pub container: String,
}

impl DockerTarget {
    pub fn new(container: impl Into<String>) -> Self {
        DockerTarget {
            container: container.into(),
        }
    }
}

/// What a Docker action changed, captured before it did: enough to put it back and to
/// check that it is back. `container` is the name for messages, `id` the full id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "undo", rename_all = "snake_case")]
pub enum DockerUndo {
    /// `docker.kill`, `docker.stop`: start the container unless it already runs (its
    /// restart policy may have brought it back).
    Start {
        container: String,
        id: String,
        was_running: bool,
        restart_policy: String,
        restart_count_before: i64,
    },
    /// `docker.pause`: unpause.
    Unpause { container: String, id: String },
    /// `docker.restart`: nothing to put back; wait until it runs again.
    AwaitRunning {
        container: String,
        id: String,
        started_at_before: Option<String>,
    },
    /// `docker.disconnect`: connect again with the same aliases and static addresses.
    Reconnect {
        container: String,
        id: String,
        network: String,
        /// User-given aliases; the short id Docker adds by itself is left out.
        aliases: Vec<String>,
        /// Static addresses from the endpoint's IPAM config, when one was set.
        ipv4_address: Option<String>,
        ipv6_address: Option<String>,
    },
    /// `docker.memory_limit`: restore `HostConfig.Memory` and `MemorySwap` (0 and -1
    /// mean unlimited) and start the container again if it ran before.
    RestoreMemory {
        container: String,
        id: String,
        memory: i64,
        memory_swap: i64,
        was_running: bool,
    },
    /// `docker.cpu_throttle`: restore `CpuQuota`, `CpuPeriod` and `NanoCpus`.
    RestoreCpu {
        container: String,
        id: String,
        cpu_quota: i64,
        cpu_period: i64,
        nano_cpus: i64,
    },
}

impl DockerUndo {
    /// The container's name, as shown in messages.
    pub fn container(&self) -> &str {
        match self {
            DockerUndo::Start { container, .. }
            | DockerUndo::Unpause { container, .. }
            | DockerUndo::AwaitRunning { container, .. }
            | DockerUndo::Reconnect { container, .. }
            | DockerUndo::RestoreMemory { container, .. }
            | DockerUndo::RestoreCpu { container, .. } => container,
        }
    }

    /// The container's full id.
    pub fn id(&self) -> &str {
        match self {
            DockerUndo::Start { id, .. }
            | DockerUndo::Unpause { id, .. }
            | DockerUndo::AwaitRunning { id, .. }
            | DockerUndo::Reconnect { id, .. }
            | DockerUndo::RestoreMemory { id, .. }
            | DockerUndo::RestoreCpu { id, .. } => id,
        }
    }

    /// What the undo does, in words: "unpause container shop-db".
    pub fn describe(&self) -> String {
        let name = self.container();
        match self {
            DockerUndo::Start { .. } => format!("start container {name} unless it runs"),
            DockerUndo::Unpause { .. } => format!("unpause container {name}"),
            DockerUndo::AwaitRunning { .. } => format!("wait until container {name} runs"),
            DockerUndo::Reconnect { network, .. } => {
                format!("reconnect {name} to network {network}")
            }
            DockerUndo::RestoreMemory {
                memory,
                memory_swap,
                ..
            } => format!(
                "restore memory limit of {name} to {}",
                limits::memory_text(*memory, *memory_swap)
            ),
            DockerUndo::RestoreCpu {
                cpu_quota,
                cpu_period,
                nano_cpus,
                ..
            } => format!(
                "restore CPU limit of {name} to {}",
                limits::Cpu::new(*cpu_quota, *cpu_period, *nano_cpus).text()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_data_round_trips_through_the_journal_format() {
        let undo = DockerUndo::RestoreMemory {
            container: "shop-db".to_string(),
            id: "abc".to_string(),
            memory: 0,
            memory_swap: -1,
            was_running: true,
        };
        let json = serde_json::to_string(&undo).unwrap();
        assert!(
            json.starts_with(r#"{"undo":"restore_memory","container":"shop-db""#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<DockerUndo>(&json).unwrap(), undo);
        assert_eq!(
            undo.describe(),
            "restore memory limit of shop-db to unlimited"
        );
    }
}
