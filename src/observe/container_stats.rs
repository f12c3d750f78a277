//! The container sampler: CPU, memory, restart count and whether a container runs.
//!
//! Docker's one-shot stats wait for a second sample (one to two seconds), so a helper
//! task follows the streaming stats API instead (the engine sends one entry a second,
//! each with the previous CPU counters) and keeps the latest usage in a `watch`. A
//! reading inspects the container (state and restart count) and adds the latest
//! usage while the container runs.
//!
//! `running` is 1 when Docker calls the container "running" (not paused, exited or
//! restarting). A container that exists but does not run gives `running` = 0 and its
//! restart count, with `error` saying its state; a missing one gives `running` = 0
//! and the engine's answer. The sampler keeps going and picks the container up again
//! when it comes back.

use std::time::Duration;

use bollard::container::{MemoryStatsStats, Stats, StatsOptions};
use bollard::Docker;
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::sample::MetricSample;
use super::sampler::{sample, ReadError, Source};
use crate::driver::docker::{status, ContainerStatus};
use crate::driver::DriverError;
use crate::lab::docker_connect;

/// Usage older than this is not shown (the engine sends an entry a second).
const STALE_AFTER: Duration = Duration::from_secs(3);
/// The least time between two starts of the stats stream.
const RESTREAM_AFTER: Duration = Duration::from_secs(1);

/// What the stats stream last said.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Usage {
    at: Instant,
    /// `None` until the engine has two CPU readings to compare.
    cpu_percent: Option<f64>,
    memory_bytes: u64,
}

/// Samples one container, by name or id.
pub(crate) struct ContainerStatsSource {
    name: String,
    docker: Option<Docker>,
    usage: watch::Receiver<Option<Usage>>,
    stream: Option<JoinHandle<()>>,
    stream_started: Option<Instant>,
}

impl ContainerStatsSource {
    pub fn new(name: String) -> ContainerStatsSource {
        ContainerStatsSource {
            name,
            docker: None,
            usage: watch::channel(None).1,
            stream: None,
            stream_started: None,
        }
    }

    async fn docker(&mut self) -> Result<Docker, ReadError> {
        if let Some(docker) = &self.docker {
            return Ok(docker.clone());
        }
        let docker = docker_connect()
            .await
            .map_err(|e| ReadError::new(e.to_string()))?;
        self.docker = Some(docker.clone());
        Ok(docker)
    }

    /// Starts following the stats stream unless it is alive or just started.
    fn follow_stats(&mut self, docker: Docker) {
        let alive = self.stream.as_ref().is_some_and(|s| !s.is_finished());
        let recent = self
            .stream_started
            .is_some_and(|at| at.elapsed() < RESTREAM_AFTER);
        if alive || recent {
            return;
        }
        let (tx, rx) = watch::channel(None);
        self.usage = rx;
        self.stream_started = Some(Instant::now());
        self.stream = Some(tokio::spawn(follow(docker, self.name.clone(), tx)));
    }

    /// The latest usage, when the stream has a fresh one.
    fn latest_usage(&self) -> Option<Usage> {
        let usage = (*self.usage.borrow())?;
        (usage.at.elapsed() < STALE_AFTER).then_some(usage)
    }

    fn series(&self, what: &str) -> String {
        format!("container.{}.{what}", self.name)
    }
}

impl Drop for ContainerStatsSource {
    fn drop(&mut self) {
        if let Some(stream) = &self.stream {
            stream.abort();
        }
    }
}

impl Source for ContainerStatsSource {
    fn name(&self) -> String {
        format!("container:{}", self.name)
    }

    async fn read(&mut self) -> Result<Vec<MetricSample>, ReadError> {
        let docker = self.docker().await?;
        let state = match status(&docker, &self.name).await {
            Ok(state) => state,
            Err(e @ DriverError::Unreachable { .. }) => {
                self.docker = None;
                return Err(ReadError::new(e.to_string()));
            }
            Err(e) => {
                let known = vec![sample(self.series("running"), 0.0)];
                return Err(ReadError::new(e.to_string()).with(known));
            }
        };
        let running = state.state == "running";
        let mut samples = vec![
            sample(self.series("running"), if running { 1.0 } else { 0.0 }),
            sample(self.series("restarts"), state.restart_count as f64),
        ];
        if !running {
            return Err(ReadError::new(not_running(&state)).with(samples));
        }
        self.follow_stats(docker);
        if let Some(usage) = self.latest_usage() {
            if let Some(cpu) = usage.cpu_percent {
                samples.push(sample(self.series("cpu_percent"), cpu));
            }
            samples.push(sample(
                self.series("memory_bytes"),
                usage.memory_bytes as f64,
            ));
        }
        Ok(samples)
    }
}

fn not_running(state: &ContainerStatus) -> String {
    format!("container {} is {}, not running", state.name, state.state)
}

/// Follows the stats stream of `name` until it ends or nobody reads `tx`.
async fn follow(docker: Docker, name: String, tx: watch::Sender<Option<Usage>>) {
    let options = StatsOptions {
        stream: true,
        one_shot: false,
    };
    let mut stream = docker.stats(&name, Some(options));
    loop {
        let item = tokio::select! {
            _ = tx.closed() => return,
            item = stream.next() => item,
        };
        match item {
            Some(Ok(stats)) => {
                tx.send_replace(usage(&stats, Instant::now()));
            }
            Some(Err(e)) => {
                tracing::debug!("stats of container {name}: {e}");
                tx.send_replace(None);
            }
            None => return,
        }
    }
}

/// The usage in one stats entry; `None` for the empty entries the engine sends
/// while the container is stopped.
fn usage(stats: &Stats, at: Instant) -> Option<Usage> {
    let memory = &stats.memory_stats;
    let used = memory.usage?;
    let inactive_file = match memory.stats {
        Some(MemoryStatsStats::V1(v1)) => v1.total_inactive_file,
        Some(MemoryStatsStats::V2(v2)) => v2.inactive_file,
        None => 0,
    };
    Some(Usage {
        at,
        cpu_percent: cpu_percent(stats),
        memory_bytes: used.saturating_sub(inactive_file),
    })
}

/// CPU use since the previous entry, in percent of one CPU (as `docker stats`
/// shows it: a container using two CPUs fully reads 200).
fn cpu_percent(stats: &Stats) -> Option<f64> {
    let (now, before) = (&stats.cpu_stats, &stats.precpu_stats);
    let system_before = before.system_cpu_usage.filter(|&s| s > 0)?;
    let system = now.system_cpu_usage?.checked_sub(system_before)?;
    let container = now
        .cpu_usage
        .total_usage
        .checked_sub(before.cpu_usage.total_usage)?;
    if system == 0 {
        return None;
    }
    let cpus = now
        .online_cpus
        .filter(|&n| n > 0)
        .or_else(|| now.cpu_usage.percpu_usage.as_ref().map(|p| p.len() as u64))
        .unwrap_or(1);
    Some(container as f64 / system as f64 * cpus as f64 * 100.0)
}
