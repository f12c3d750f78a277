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
//!
//! The disk's timing is on tokio's clock, the samplers' clock, so a test with a
//! paused clock can make a read late without waiting for it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sysinfo::{System, MINIMUM_CPU_UPDATE_INTERVAL};
use tokio::task::JoinHandle;

use super::sample::MetricSample;
use super::sampler::{sample, ReadError, Source};
use crate::driver::host::levels::{self, DiskLevel};

/// How often the disk is read.
const DISK_EVERY: Duration = Duration::from_secs(1);
/// How long a `statvfs` may run before the readings say the disk does not answer.
const DISK_LATE: Duration = Duration::from_secs(4);

type DiskRead = JoinHandle<Result<f64, String>>;
/// How the disk is read: [`levels::disk`] (`statvfs`), or in tests one that hangs.
type StatDisk = Arc<dyn Fn(&Path) -> nix::Result<DiskLevel> + Send + Sync>;

/// Samples this host.
pub(crate) struct HostUsageSource {
    system: System,
    /// When CPU usage was last refreshed: usage is a difference between two
    /// refreshes and means nothing over less than sysinfo's minimum interval.
    cpu_refreshed: Instant,
    disk: PathBuf,
    stat_disk: StatDisk,
    /// The `statvfs` on the blocking pool, and when it started.
    disk_pending: Option<(DiskRead, tokio::time::Instant)>,
    /// The latest disk fill found, and when its read started.
    disk_used: Option<(f64, tokio::time::Instant)>,
}

impl HostUsageSource {
    /// Reads the disk holding `disk`.
    pub fn new(disk: PathBuf) -> HostUsageSource {
        HostUsageSource::with_stat_disk(disk, Arc::new(levels::disk))
    }

    /// Reads the disk holding `disk` with `stat_disk`.
    fn with_stat_disk(disk: PathBuf, stat_disk: StatDisk) -> HostUsageSource {
        let mut system = System::new();
        system.refresh_cpu_usage();
        HostUsageSource {
            system,
            cpu_refreshed: Instant::now(),
            disk,
            stat_disk,
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
            let stat_disk = Arc::clone(&self.stat_disk);
            let read = tokio::task::spawn_blocking(move || {
                stat_disk(&path)
                    .map(|disk| disk.used_percent())
                    .map_err(|e| format!("statvfs {}: {e}", path.display()))
            });
            self.disk_pending = Some((read, tokio::time::Instant::now()));
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{mpsc, Mutex};

    use super::*;

    const DISK: &str = "/srv/data";
    /// Real time after which the hung read is let go, so a reading that waits for
    /// it fails the test instead of hanging it.
    const WATCHDOG: Duration = Duration::from_secs(3);
    /// The disk before and after the hung read.
    const QUARTER_FULL: DiskLevel = DiskLevel {
        used: 25,
        available: 75,
        size: 100,
    };
    const HALF_FULL: DiskLevel = DiskLevel {
        used: 50,
        available: 50,
        size: 100,
    };

    fn value(samples: &[MetricSample], series: &str) -> Option<f64> {
        samples.iter().find(|s| s.series == series).map(|s| s.value)
    }

    /// CPU usage and memory are all in `samples`.
    fn assert_cpu_and_memory(samples: &[MetricSample], when: &str) {
        for series in [
            "host.cpu_percent",
            "host.memory_used_percent",
            "host.memory_used_bytes",
        ] {
            assert!(
                value(samples, series).is_some(),
                "{when}: no {series} in {samples:?}"
            );
        }
    }

    /// Lets real time pass until sysinfo has a new CPU usage figure; the paused
    /// clock only stands for the disk's timing.
    fn let_cpu_time_pass() {
        std::thread::sleep(MINIMUM_CPU_UPDATE_INTERVAL);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_disk_read_is_late_while_cpu_and_memory_keep_coming() {
        // The first statvfs answers, the second hangs until released (or until the
        // test ends, or a watchdog gives up on a reading that waits for it), the
        // later ones answer.
        let calls = Arc::new(AtomicUsize::new(0));
        let (release, released) = mpsc::channel::<()>();
        let watchdog = release.clone();
        std::thread::spawn(move || {
            std::thread::sleep(WATCHDOG);
            let _ = watchdog.send(());
        });
        let released = Mutex::new(released);
        let counted = Arc::clone(&calls);
        let stat_disk: StatDisk =
            Arc::new(
                move |_: &Path| match counted.fetch_add(1, Ordering::SeqCst) {
                    0 => Ok(QUARTER_FULL),
                    1 => {
                        let _ = released.lock().unwrap().recv();
                        Ok(HALF_FULL)
                    }
                    _ => Ok(HALF_FULL),
                },
            );
        let mut source = HostUsageSource::with_stat_disk(PathBuf::from(DISK), stat_disk);

        // The first reading waits for the disk.
        let first = source.read().await.unwrap();
        assert_eq!(value(&first, "host.disk_used_percent"), Some(25.0));
        assert!(
            value(&first, "host.memory_used_bytes").is_some(),
            "{first:?}"
        );

        // A second later a new read starts and hangs; the reading carries the last fill.
        tokio::time::advance(DISK_EVERY).await;
        let_cpu_time_pass();
        let hanging = source.read().await.unwrap();
        assert_cpu_and_memory(&hanging, "while the read is young");
        assert_eq!(
            value(&hanging, "host.disk_used_percent"),
            Some(25.0),
            "the reading must carry the last fill, not wait for the hung read"
        );

        // Once it is late, each reading fails on the disk alone: CPU and memory still
        // come, the stale fill does not, and no second read is stacked on the hung one.
        tokio::time::advance(DISK_LATE).await;
        for late_by in 0..3 {
            let_cpu_time_pass();
            let Err(late) = source.read().await else {
                panic!("the disk read has hung for {DISK_LATE:?} and the reading succeeded");
            };
            let secs = DISK_LATE.as_secs() + late_by;
            assert_eq!(
                late.message,
                format!("statvfs {DISK} has not answered in {secs} s")
            );
            assert_cpu_and_memory(&late.known, "while the read is late");
            assert_eq!(value(&late.known, "host.disk_used_percent"), None);
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2, "reads started");

        // Released, the read's fill comes through.
        release.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        let resumed = loop {
            match source.read().await {
                Ok(samples) => break samples,
                Err(e) => assert!(
                    Instant::now() < deadline,
                    "the disk read was released and the readings still fail: {}",
                    e.message
                ),
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(value(&resumed, "host.disk_used_percent"), Some(50.0));
        assert!(
            value(&resumed, "host.memory_used_bytes").is_some(),
            "{resumed:?}"
        );
    }
}
