//! The host sampler: CPU and memory through one long-lived `sysinfo::System` (only
//! CPU usage and memory are refreshed), and the fill of the filesystem holding a
//! path through `statvfs`, counted as `df` and the disk-fill stressor count it.
//!
//! A reading runs on the blocking pool, since `statvfs` on a hung network filesystem
//! never returns; while one is still running the next reading waits for it instead
//! of starting another.

use std::path::PathBuf;
use std::time::Instant;

use sysinfo::{System, MINIMUM_CPU_UPDATE_INTERVAL};
use tokio::task::JoinHandle;

use super::sample::MetricSample;
use super::sampler::{sample, ReadError, Source};
use crate::driver::host::levels;

/// What a reading needs and keeps between readings.
struct HostState {
    system: System,
    disk: PathBuf,
    /// When CPU usage was last refreshed: usage is a difference between two
    /// refreshes and means nothing over less than sysinfo's minimum interval.
    cpu_refreshed: Instant,
}

type Pending = JoinHandle<(HostState, Result<Vec<MetricSample>, ReadError>)>;

/// Samples this host.
pub(crate) struct HostUsageSource {
    disk: PathBuf,
    /// `None` while a reading has it on the blocking pool.
    state: Option<HostState>,
    pending: Option<Pending>,
}

impl HostUsageSource {
    /// Reads the disk holding `disk`.
    pub fn new(disk: PathBuf) -> HostUsageSource {
        HostUsageSource {
            state: Some(HostState::new(disk.clone())),
            disk,
            pending: None,
        }
    }
}

impl HostState {
    fn new(disk: PathBuf) -> HostState {
        let mut system = System::new();
        system.refresh_cpu_usage();
        HostState {
            system,
            disk,
            cpu_refreshed: Instant::now(),
        }
    }
}

impl Source for HostUsageSource {
    fn name(&self) -> String {
        "host".to_string()
    }

    async fn read(&mut self) -> Result<Vec<MetricSample>, ReadError> {
        if let Some(mut state) = self.state.take() {
            self.pending = Some(tokio::task::spawn_blocking(move || {
                let result = read_host(&mut state);
                (state, result)
            }));
        }
        let Some(pending) = self.pending.as_mut() else {
            return Err(ReadError::new("the host reading was lost"));
        };
        let finished = pending.await;
        self.pending = None;
        match finished {
            Ok((state, result)) => {
                self.state = Some(state);
                result
            }
            Err(e) => {
                // The state went down with the reading; start afresh next time.
                self.state = Some(HostState::new(self.disk.clone()));
                Err(ReadError::new(format!("the host reading failed: {e}")))
            }
        }
    }
}

/// One reading: refreshes CPU and memory, then asks for the disk.
fn read_host(state: &mut HostState) -> Result<Vec<MetricSample>, ReadError> {
    let system = &mut state.system;
    let mut samples = Vec::with_capacity(4);
    if state.cpu_refreshed.elapsed() >= MINIMUM_CPU_UPDATE_INTERVAL {
        system.refresh_cpu_usage();
        state.cpu_refreshed = Instant::now();
        let cpu = f64::from(system.global_cpu_usage());
        samples.push(sample("host.cpu_percent", cpu.clamp(0.0, 100.0)));
    }
    system.refresh_memory();
    let (used, total) = (system.used_memory(), system.total_memory());
    samples.push(sample("host.memory_used_percent", percent(used, total)));
    samples.push(sample("host.memory_used_bytes", used as f64));
    let disk = levels::disk(&state.disk).map_err(|e| {
        ReadError::new(format!("statvfs {}: {e}", state.disk.display())).with(samples.clone())
    })?;
    samples.push(sample("host.disk_used_percent", disk.used_percent()));
    Ok(samples)
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    100.0 * part as f64 / whole as f64
}
