//! Readings the host stressors plan with and stop by: memory in use, a filesystem's
//! fill, the system-wide file table. Read fresh every time, in the parent (to plan)
//! and in the stressor child (to stop before the cap).

use std::path::Path;

/// The most of memory, a filesystem or the file table a stressor will ever take.
pub const CAP_PERCENT: f64 = 90.0;

/// `/proc/meminfo`: in use means `MemTotal - MemAvailable`, as `free` and sysinfo say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLevel {
    pub total: u64,
    pub available: u64,
}

impl MemoryLevel {
    pub fn used(&self) -> u64 {
        self.total.saturating_sub(self.available)
    }

    pub fn used_percent(&self) -> f64 {
        percent(self.used(), self.total)
    }

    /// Bytes in use once `target` percent of the total is.
    pub fn used_at(&self, target: f64) -> u64 {
        (self.total as f64 * target / 100.0) as u64
    }
}

pub fn memory() -> std::io::Result<MemoryLevel> {
    let text = std::fs::read_to_string("/proc/meminfo")?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line
            .get(name.len()..)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        Some(kib * 1024)
    };
    match (field("MemTotal:"), field("MemAvailable:")) {
        (Some(total), Some(available)) if total > 0 => Ok(MemoryLevel { total, available }),
        _ => Err(std::io::Error::other(
            "/proc/meminfo has no MemTotal or MemAvailable",
        )),
    }
}

/// A filesystem's fill as `df` shows it: blocks reserved for root count neither as
/// used nor as available, so `Use%` = used / (used + available).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskLevel {
    /// Bytes in use (`blocks - free`).
    pub used: u64,
    /// Bytes an unprivileged writer may still use.
    pub available: u64,
    /// The filesystem's size.
    pub size: u64,
}

impl DiskLevel {
    /// The bytes `df` counts against: used plus available.
    pub fn usable(&self) -> u64 {
        self.used + self.available
    }

    pub fn used_percent(&self) -> f64 {
        percent(self.used, self.usable())
    }

    /// Bytes to write to bring the filesystem to `target` percent (0 when there).
    pub fn bytes_to(&self, target: f64) -> u64 {
        let goal = (self.usable() as f64 * target / 100.0) as u64;
        goal.saturating_sub(self.used)
    }
}

pub fn disk(path: &Path) -> nix::Result<DiskLevel> {
    let stat = nix::sys::statvfs::statvfs(path)?;
    let unit = stat.fragment_size() as u64;
    let blocks = stat.blocks() as u64;
    let free = stat.blocks_free() as u64;
    Ok(DiskLevel {
        used: blocks.saturating_sub(free) * unit,
        available: stat.blocks_available() as u64 * unit,
        size: blocks * unit,
    })
}

/// `/proc/sys/fs/file-nr`: open file handles across the system, and the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileTable {
    pub allocated: u64,
    pub max: u64,
}

pub fn file_table() -> std::io::Result<FileTable> {
    let text = std::fs::read_to_string("/proc/sys/fs/file-nr")?;
    let numbers: Vec<u64> = text
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    match numbers.as_slice() {
        [allocated, _, max] => Ok(FileTable {
            allocated: *allocated,
            max: *max,
        }),
        _ => Err(std::io::Error::other(format!(
            "/proc/sys/fs/file-nr reads \"{}\"",
            text.trim()
        ))),
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// `6.8 GiB`, `200 MiB`, `12 KiB`.
pub fn human_bytes(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b >= KIB * KIB * KIB {
        format!("{:.1} GiB", b / (KIB * KIB * KIB))
    } else if b >= KIB * KIB {
        format!("{:.0} MiB", b / (KIB * KIB))
    } else {
        format!("{:.0} KiB", b / KIB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_percent_follows_df() {
        let level = DiskLevel {
            used: 10,
            available: 90,
            size: 120,
        };
        assert_eq!(level.used_percent(), 10.0);
        assert_eq!(level.bytes_to(20.0), 10);
        assert_eq!(level.bytes_to(5.0), 0);
    }

    #[test]
    fn readings_of_this_host_make_sense() {
        let mem = memory().unwrap();
        assert!(mem.used() <= mem.total);
        let disk = disk(Path::new("/")).unwrap();
        assert!(disk.usable() <= disk.size);
        assert!(file_table().unwrap().max > 0);
    }

    #[test]
    fn bytes_read_like_a_person_writes_them() {
        assert_eq!(human_bytes(200 << 20), "200 MiB");
        assert_eq!(human_bytes(7_301_444_403), "6.8 GiB");
    }
}
