//! Planning a host stressor: read-only checks against the host and the 90 % cap, and
//! the blast radius with real numbers.

use std::sync::atomic::{AtomicU64, Ordering};

use super::levels::{self, human_bytes, CAP_PERCENT};
use super::{HostFault, HostUndo, FILL_PREFIX, TARGET};
use crate::driver::{DriverError, Plan};

/// Read-only: checks the target against the host and the 90 % cap, and says what
/// will happen with real numbers.
pub fn plan(fault: &HostFault) -> Result<Plan<HostUndo>, DriverError> {
    let refuse = |reason: String| DriverError::precondition(TARGET, fault.action(), reason);
    let mut leftover_file = None;
    let blast_radius = match fault {
        HostFault::CpuBurn { cores } => {
            let all = all_cores();
            if *cores > all {
                return Err(refuse(format!(
                    "{cores} cores asked for, this host has {all}"
                )));
            }
            format!(
                "burn {} of {all} cores",
                if *cores == 0 { all } else { *cores }
            )
        }
        HostFault::MemoryPressure { percent } => {
            check_cap(*percent, "memory").map_err(refuse)?;
            let level = levels::memory().map_err(|e| refuse(format!("cannot read memory: {e}")))?;
            let now = level.used_percent();
            if *percent <= now {
                return Err(refuse(format!(
                    "memory in use is already {} of {}, at or above the target {}",
                    pct(now),
                    human_bytes(level.total),
                    pct(*percent)
                )));
            }
            format!(
                "raise memory in use from {} to {} of {} (allocate {})",
                pct(now),
                pct(*percent),
                human_bytes(level.total),
                human_bytes(level.used_at(*percent).saturating_sub(level.used()))
            )
        }
        HostFault::FillDisk { path, percent } => {
            check_cap(*percent, "disk").map_err(refuse)?;
            let shown = path.display();
            if !path.is_dir() {
                return Err(refuse(format!("{shown} is not a directory")));
            }
            nix::unistd::access(path.as_path(), nix::unistd::AccessFlags::W_OK)
                .map_err(|e| refuse(format!("chaosdeck may not write in {shown}: {e}")))?;
            let level =
                levels::disk(path).map_err(|e| refuse(format!("cannot stat {shown}: {e}")))?;
            let now = level.used_percent();
            if *percent <= now {
                return Err(refuse(format!(
                    "{shown} is already {} full, at or above the target {}",
                    pct(now),
                    pct(*percent)
                )));
            }
            let file = path.join(fill_file_name());
            let blast = format!(
                "fill {shown} from {} to {} of {} usable (write {} to {})",
                pct(now),
                pct(*percent),
                human_bytes(level.usable()),
                human_bytes(level.bytes_to(*percent)),
                file.display()
            );
            leftover_file = Some(file);
            blast
        }
        HostFault::ExhaustFds { count } => plan_fds(*count).map_err(refuse)?,
    };
    Ok(Plan {
        undo: HostUndo::EndChild {
            pid: None,
            start_time: None,
            leftover_file,
        },
        blast_radius,
    })
}

fn plan_fds(count: u32) -> Result<String, String> {
    use nix::sys::resource::{getrlimit, Resource};
    if count == 0 {
        return Err("count is 0".into());
    }
    let (_, hard) =
        getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| format!("RLIMIT_NOFILE: {e}"))?;
    if u64::from(count) + 64 > hard {
        return Err(format!(
            "{count} descriptors do not fit under the hard limit of {hard} open files per process"
        ));
    }
    let table = levels::file_table().map_err(|e| format!("cannot read file-nr: {e}"))?;
    let after = table.allocated + u64::from(count);
    if after as f64 > table.max as f64 * CAP_PERCENT / 100.0 {
        return Err(format!(
            "{count} more would bring the system file table to {after} of {}, past the 90 % cap",
            table.max
        ));
    }
    Ok(format!(
        "hold {count} open file descriptors in a child process (system file table: {} → {after} of {})",
        table.allocated, table.max
    ))
}

fn check_cap(percent: f64, what: &str) -> Result<(), String> {
    if !(percent > 0.0 && percent <= CAP_PERCENT) {
        return Err(format!(
            "target {} is outside 0–90 %: chaosdeck never fills {what} past 90 %, so the \
             console itself keeps running",
            pct(percent)
        ));
    }
    Ok(())
}

pub(super) fn all_cores() -> u32 {
    std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        .unwrap_or(1)
}

/// `chaosdeck-fill-<pid>-<unique>.tmp`: unique within and across chaosdeck processes.
fn fill_file_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{FILL_PREFIX}{}-{:x}.tmp",
        std::process::id(),
        nanos.wrapping_add(n)
    )
}

/// `60 %`, or `60.4 %` when the number is not whole.
fn pct(value: f64) -> String {
    if (value - value.round()).abs() < 0.05 {
        format!("{value:.0} %")
    } else {
        format!("{value:.1} %")
    }
}
