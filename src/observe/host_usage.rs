//! The host sampler: CPU and memory through one long-lived `sysinfo::System` (only
//! CPU usage and memory are refreshed), and the fill of the filesystem holding a
//! path through `statvfs`, counted as `df` and the disk-fill stressor count it.
//!
//! CPU and memory are read in place: they are two small `/proc` files, which never
//! wait. `statvfs` can hang for good on a dead network filesystem, so the disk is
//! read on the blocking pool, at most once a second, and never waited for after
//! the first time: each reading carries the latest fill the pool has found. A
//! console sampling four times a second thus wakes no other thread for three of
//! the four readings (BENCHMARKS.md, "The console").

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sysinfo::{System, MINIMUM_CPU_UPDATE_INTERVAL};
use tokio::task::JoinHandle;

use super::sample::MetricSample;
use super::sampler::{sample, ReadError, Source};
use crate::driver::host::levels;

/// How often the disk is read.
const DISK_EVERY: Duration = Duration::from_secs(1);
/// How long a `statvfs` may run before the readings say the disk does not answer.
const DISK_LATE: Duration = Duration::from_secs(4);

type DiskRead = JoinHandle<Result<f64, String>>;

/// Samples this host.
pub(crate) struct HostUsageSource {
    system: System,
    /// When CPU usage was last refreshed: usage is a difference between two
    /// refreshes and means nothing over less than sysinfo's minimum interval.
    cpu_refreshed: Instant,
    disk: PathBuf,
    /// The `statvfs` on the blocking pool, and when it started.
    disk_pending: Option<(DiskRead, Instant)>,
    /// The latest disk fill found, and when its read started.
    disk_used: Option<(f64, Instant)>,
}

impl HostUsageSource {
    /// Reads the disk holding `disk`.
    pub fn new(disk: PathBuf) -> HostUsageSource {
        let mut system = System::new();
        system.refresh_cpu_usage();
        HostUsageSource {
            system,
            cpu_refreshed: Instant::now(),
            disk,
            disk_pending: None,
            disk_used: None,
        }
    }

    /// CPU (when enough time has passed for a usage figure) and memory.
    fn cpu_and_memory(&mut self) -> Vec<MetricSample> {
        let mut samples = Vec::with_capacity(4);
        if self.cpu_refreshed.elapsed() >= MINIMUM_CPU_UPDATE_INTERVAL {
            self.system.refresh_cpu_usage();
            self.cpu_refreshed = Instant::now();
            let cpu = f64::from(self.system.global_cpu_usage());
            samples.push(sample("host.cpu_percent", cpu.clamp(0.0, 100.0)));
        }
        self.system.refresh_memory();
        let (used, total) = (self.system.used_memory(), self.system.total_memory());
        samples.push(sample("host.memory_used_percent", percent(used, total)));
        samples.push(sample("host.memory_used_bytes", used as f64));
        samples
    }

    /// The disk fill to report now: the pool's latest, starting a new read when one
    /// is due. Waits only for the very first read.
    async fn disk_used(&mut self) -> Result<f64, String> {
        let due = self
            .disk_used
            .is_none_or(|(_, read_at)| read_at.elapsed() >= DISK_EVERY);
        if due && self.disk_pending.is_none() {
            let path = self.disk.clone();
            let read = tokio::task::spawn_blocking(move || {
                levels::disk(&path)
                    .map(|disk| disk.used_percent())
                    .map_err(|e| format!("statvfs {}: {e}", path.display()))
            });
            self.disk_pending = Some((read, Instant::now()));
        }
        if let Some((read, started)) = &mut self.disk_pending {
            let started = *started;
            if self.disk_used.is_none() || read.is_finished() {
                let found = read.await;
                self.disk_pending = None;
                let used = found.map_err(|e| format!("the disk reading failed: {e}"))??;
                self.disk_used = Some((used, started));
            } else if started.elapsed() >= DISK_LATE {
                return Err(format!(
                    "statvfs {} has not answered in {} s",
                    self.disk.display(),
                    started.elapsed().as_secs()
                ));
            }
        }
        match self.disk_used {
            Some((used, _)) => Ok(used),
            None => Err(format!("no disk reading of {} yet", self.disk.display())),
        }
    }
}

impl Source for HostUsageSource {
    fn name(&self) -> String {
        "host".to_string()
    }

    async fn read(&mut self) -> Result<Vec<MetricSample>, ReadError> {
        let mut samples = self.cpu_and_memory();
        match self.disk_used().await {
            Ok(used) => {
                samples.push(sample("host.disk_used_percent", used));
                Ok(samples)
            }
            Err(e) => Err(ReadError::new(e).with(samples)),
        }
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    100.0 * part as f64 / whole as f64
}
