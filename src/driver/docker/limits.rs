//! Memory and CPU limits: what Docker's numbers mean, how to write them in words, and
//! how to set them on this engine without tripping its validation.
//!
//! Docker's update API cannot express "unlimited": 0 means "leave as is" and -1 is
//! refused for `Memory` ("Minimum memory limit allowed is 6MB"); a `MemorySwap` of -1
//! is recorded but not written to the cgroup. So an unlimited memory limit is restored
//! as the kernel's own maximum, swap is raised before memory, and the values are
//! compared by meaning (anything from 2^62 bytes up is unlimited).

use std::time::Duration;

use bollard::container::{MemoryStatsStats, StatsOptions, UpdateContainerOptions};
use bollard::Docker;
use futures_util::StreamExt;

use super::engine::engine_error;
use crate::catalog::bytesize::ByteSize;
use crate::driver::DriverError;

/// The largest limit the kernel accepts, page-aligned: what a cgroup without a limit
/// reports.
pub(super) const UNLIMITED_MEMORY: i64 = i64::MAX & !0xfff;
const UNLIMITED_FROM: i64 = 1 << 62;
/// Docker refuses memory limits below this.
pub(super) const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// The CFS period Docker uses when none is set, in microseconds.
const DEFAULT_CPU_PERIOD: i64 = 100_000;
/// Docker refuses CFS quotas below 1 ms.
const MIN_CPU_QUOTA: i64 = 1_000;

/// A memory or memory+swap limit in bytes; `None` is unlimited (0, -1 or huge).
pub(super) fn limit_bytes(value: i64) -> Option<i64> {
    (value > 0 && value < UNLIMITED_FROM).then_some(value)
}

pub(super) fn bytes_text(value: Option<i64>) -> String {
    match value {
        Some(bytes) => ByteSize(bytes.unsigned_abs()).to_string(),
        None => "unlimited".to_string(),
    }
}

/// "8MiB", "unlimited"; swap is mentioned only when it differs from memory.
pub(super) fn memory_text(memory: i64, memory_swap: i64) -> String {
    let (memory, swap) = (limit_bytes(memory), limit_bytes(memory_swap));
    match memory {
        None => "unlimited".to_string(),
        Some(_) if swap == memory => bytes_text(memory),
        Some(_) => format!("{} (memory+swap {})", bytes_text(memory), bytes_text(swap)),
    }
}

async fn update(
    docker: &Docker,
    container: &str,
    id: &str,
    what: &str,
    options: UpdateContainerOptions<String>,
) -> Result<(), DriverError> {
    docker
        .update_container(id, options)
        .await
        .map_err(|e| engine_error(container, what, e))
}

/// Sets memory and memory+swap to what `memory`/`memory_swap` mean. The swap limit is
/// written together with memory (runc orders the two writes when both are given), as
/// a finite value the kernel takes; a wanted "unlimited" swap is recorded afterwards.
pub(super) async fn set_memory(
    docker: &Docker,
    container: &str,
    id: &str,
    (memory, memory_swap): (i64, i64),
    what: &str,
) -> Result<(), DriverError> {
    let mem = limit_bytes(memory).unwrap_or(UNLIMITED_MEMORY);
    let swap = limit_bytes(memory_swap)
        .unwrap_or(UNLIMITED_MEMORY)
        .max(mem);
    let options = UpdateContainerOptions::<String> {
        memory: Some(mem),
        memory_swap: Some(swap),
        ..Default::default()
    };
    update(docker, container, id, what, options).await?;
    if limit_bytes(memory_swap).is_none() {
        let options = UpdateContainerOptions::<String> {
            memory_swap: Some(-1),
            ..Default::default()
        };
        update(docker, container, id, what, options).await?;
    }
    Ok(())
}

/// Memory the container uses now, less reclaimable page cache (as `docker stats`
/// counts it); `None` when the engine does not say within a few seconds.
pub(super) async fn memory_in_use(docker: &Docker, id: &str) -> Option<u64> {
    let options = StatsOptions {
        stream: false,
        one_shot: true,
    };
    let mut stats = docker.stats(id, Some(options));
    let reading = tokio::time::timeout(Duration::from_secs(3), stats.next())
        .await
        .ok()??
        .ok()?;
    let memory = reading.memory_stats;
    let inactive = match memory.stats {
        Some(MemoryStatsStats::V1(v1)) => v1.total_inactive_file,
        Some(MemoryStatsStats::V2(v2)) => v2.inactive_file,
        None => 0,
    };
    Some(memory.usage?.saturating_sub(inactive))
}

/// 3.4MiB, 512KiB, 1.2GiB: a reading, not a limit, so rounded.
pub(super) fn approx_bytes(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b >= KIB * KIB * KIB {
        format!("{:.1}GiB", b / (KIB * KIB * KIB))
    } else if b >= KIB * KIB {
        format!("{:.1}MiB", b / (KIB * KIB))
    } else if b >= KIB {
        format!("{:.0}KiB", b / KIB)
    } else {
        format!("{bytes}B")
    }
}

/// A container's CPU limit as Docker records it, with the "unset" values normalised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Cpu {
    /// CFS quota in µs per period; `None` is unlimited (0 or -1).
    pub quota: Option<i64>,
    pub period: i64,
    pub nano: i64,
}

impl Cpu {
    pub fn new(cpu_quota: i64, cpu_period: i64, nano_cpus: i64) -> Cpu {
        Cpu {
            quota: (cpu_quota > 0).then_some(cpu_quota),
            period: if cpu_period > 0 {
                cpu_period
            } else {
                DEFAULT_CPU_PERIOD
            },
            nano: nano_cpus.max(0),
        }
    }

    /// CPUs' worth of time the container may use; `None` is unlimited.
    pub fn cpus(&self) -> Option<f64> {
        if self.nano > 0 {
            return Some(self.nano as f64 / 1e9);
        }
        self.quota.map(|q| q as f64 / self.period as f64)
    }

    /// "0.2 CPUs", "unlimited".
    pub fn text(&self) -> String {
        match self.cpus() {
            Some(cpus) => format!("{} CPUs", cpus_text(cpus)),
            None => "unlimited".to_string(),
        }
    }

    /// The update that caps a container with this limit at `cpus`: `NanoCpus` when
    /// the container uses them (Docker refuses to mix the two), else a CFS quota.
    pub fn throttle(&self, cpus: f64) -> Result<UpdateContainerOptions<String>, String> {
        if !(cpus.is_finite() && cpus > 0.0) {
            return Err(format!(
                "cpus \"{cpus}\" must be a number above 0, such as 0.5"
            ));
        }
        if self.nano > 0 {
            return Ok(UpdateContainerOptions {
                nano_cpus: Some((cpus * 1e9).round() as i64),
                ..Default::default()
            });
        }
        let quota = (cpus * self.period as f64).round() as i64;
        if quota < MIN_CPU_QUOTA {
            return Err(format!(
                "cpus \"{}\" is below Docker's minimum quota of 1ms per {}µs period",
                cpus_text(cpus),
                self.period
            ));
        }
        Ok(UpdateContainerOptions {
            cpu_quota: Some(quota),
            cpu_period: Some(self.period),
            ..Default::default()
        })
    }

    /// The update that writes this limit back (-1 is Docker's "no quota").
    pub fn restore(&self) -> UpdateContainerOptions<String> {
        if self.nano > 0 {
            return UpdateContainerOptions {
                nano_cpus: Some(self.nano),
                ..Default::default()
            };
        }
        UpdateContainerOptions {
            cpu_quota: Some(self.quota.unwrap_or(-1)),
            cpu_period: Some(self.period),
            ..Default::default()
        }
    }
}

pub(super) async fn set_cpu(
    docker: &Docker,
    container: &str,
    id: &str,
    options: UpdateContainerOptions<String>,
    what: &str,
) -> Result<(), DriverError> {
    update(docker, container, id, what, options).await
}

/// 0.2 → "0.2", 1.0 → "1", 1/3 → "0.33".
pub(super) fn cpus_text(cpus: f64) -> String {
    let text = format!("{cpus:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_has_three_spellings() {
        assert_eq!(limit_bytes(0), None);
        assert_eq!(limit_bytes(-1), None);
        assert_eq!(limit_bytes(UNLIMITED_MEMORY), None);
        assert_eq!(limit_bytes(8 << 20), Some(8 << 20));
        assert_eq!(memory_text(0, 0), "unlimited");
        assert_eq!(memory_text(8 << 20, 8 << 20), "8MiB");
        assert_eq!(memory_text(64 << 20, -1), "64MiB (memory+swap unlimited)");
        assert_eq!(approx_bytes(3_500_000), "3.3MiB");
        assert_eq!(approx_bytes(2048), "2KiB");
    }

    #[test]
    fn cpu_limits_in_words_and_updates() {
        assert_eq!(Cpu::new(0, 0, 0).text(), "unlimited");
        assert_eq!(Cpu::new(-1, 100_000, 0), Cpu::new(0, 0, 0));
        assert_eq!(Cpu::new(20_000, 100_000, 0).text(), "0.2 CPUs");
        assert_eq!(Cpu::new(0, 0, 1_500_000_000).text(), "1.5 CPUs");
        let plain = Cpu::new(0, 0, 0).throttle(0.2).unwrap();
        assert_eq!(
            (plain.cpu_quota, plain.cpu_period),
            (Some(20_000), Some(100_000))
        );
        let nano = Cpu::new(0, 0, 2_000_000_000).throttle(0.5).unwrap();
        assert_eq!((nano.nano_cpus, nano.cpu_quota), (Some(500_000_000), None));
        assert!(Cpu::new(0, 0, 0)
            .throttle(0.001)
            .unwrap_err()
            .contains("1ms"));
        assert!(Cpu::new(0, 0, 0).throttle(-1.0).is_err());
        assert_eq!(Cpu::new(0, 0, 0).restore().cpu_quota, Some(-1));
    }
}
