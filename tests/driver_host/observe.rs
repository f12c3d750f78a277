//! Helpers of `driver_host.rs`: starting and ending stressors, and reading what a
//! user would watch (a thread's CPU share, anonymous memory, a filesystem's fill).

use std::path::Path;
use std::time::{Duration, Instant};

use chaosdeck::driver::host::{self, levels, Applied, HostFault, HostUndo};
use chaosdeck::driver::process::procfs;
use chaosdeck::driver::Verification;

use super::EXE;

pub async fn start(fault: &HostFault) -> (String, Applied) {
    let plan = host::plan(fault).unwrap();
    let applied = host::apply(Path::new(EXE), fault, &plan.undo)
        .await
        .unwrap();
    (plan.blast_radius, applied)
}

pub fn pid_of(undo: &HostUndo) -> (u32, u64) {
    let HostUndo::EndChild {
        pid, start_time, ..
    } = undo;
    (pid.unwrap(), start_time.unwrap())
}

/// Undoes, checks reality, and undoes again (idempotent).
pub async fn undo_and_verify(undo: &HostUndo) {
    let (pid, start_time) = pid_of(undo);
    let note = host::undo(undo).await.unwrap();
    assert!(
        note.contains(&format!("ended stressor pid {pid}")),
        "{note}"
    );
    assert!(!procfs::is_same_live(pid, start_time));
    assert_eq!(host::verify(undo), Verification::Verified);
    assert!(host::undo(undo).await.unwrap().contains("already ended"));
}

pub fn gone_within(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !matches!(procfs::read_stat(pid), Some(s) if s.state != 'Z') {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Spins for `time` and returns the share of one core this thread got, in percent,
/// from its own utime + stime in /proc/thread-self/stat.
pub fn busy_share(time: Duration) -> f64 {
    let ticks = || -> u64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    };
    let (start, begin) = (Instant::now(), ticks());
    let mut x = 0u64;
    while start.elapsed() < time {
        x = std::hint::black_box(x.wrapping_add(1));
    }
    let used = (ticks() - begin) as f64 / 100.0; // USER_HZ is 100 on Linux
    used * 100.0 / start.elapsed().as_secs_f64()
}

/// `AnonPages` of /proc/meminfo, in bytes: anonymous memory in use across the host.
pub fn anon_pages() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = text.lines().find(|l| l.starts_with("AnonPages:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// A target a little above the current fill of `dir`'s filesystem: `bytes` more.
pub fn disk_target(dir: &Path, bytes: u64) -> f64 {
    let level = levels::disk(dir).unwrap();
    (level.used + bytes) as f64 * 100.0 / level.usable() as f64
}

/// The intermediate parent of the death test, and the stressor it started: both
/// started by this test, both ended if the test fails half-way.
pub struct Family {
    pub sh: std::process::Child,
    pub stressor: Option<u32>,
}

impl Drop for Family {
    fn drop(&mut self) {
        let _ = self.sh.kill();
        let _ = self.sh.wait();
        if let Some(pid) = self.stressor {
            if procfs::cmdline(pid).contains("__stress") {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::SIGKILL,
                );
            }
        }
    }
}
