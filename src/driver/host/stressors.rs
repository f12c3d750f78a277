//! The four stressors, run inside the `__stress` child. Each reaches its target,
//! says `ready …`, holds until the stop flag rises, and cleans up after itself.
//! Memory and disk re-read the host while they work and stop at the 90 % cap.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use super::levels::{self, human_bytes, CAP_PERCENT};
use super::stress::{hold_until_stopped, say};

/// Keeps `cores` threads busy until stopped.
pub fn cpu(cores: u32, stop: &AtomicBool) -> Result<(), String> {
    std::thread::scope(|scope| {
        for n in 0..cores {
            let spawned = std::thread::Builder::new()
                .name(format!("burn-{n}"))
                .spawn_scoped(scope, || {
                    let mut x: u64 = 1;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                });
            if let Err(e) = spawned {
                stop.store(true, Ordering::SeqCst);
                return Err(format!("cannot start burn thread {n}: {e}"));
            }
        }
        say(&format!("ready cores={cores}"));
        hold_until_stopped(stop, || {});
        Ok(())
    })
}

/// Allocation step: small enough to stop close to the target.
const MEMORY_CHUNK: u64 = 64 << 20;

/// Allocates and touches memory until `percent` of the total is in use, then holds it.
/// While holding, gives chunks back if the host passes the cap for other reasons.
pub fn memory(percent: f64, stop: &AtomicBool) -> Result<(), String> {
    let target = percent.min(CAP_PERCENT);
    // The kernel's OOM killer should pick this child before anything else.
    let _ = std::fs::write("/proc/self/oom_score_adj", "1000");
    let read = || levels::memory().map_err(|e| format!("cannot read memory: {e}"));
    let mut held: Vec<Vec<u8>> = Vec::new();
    let mut held_bytes: u64 = 0;
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let level = read()?;
        let room = level.used_at(target).saturating_sub(level.used());
        let chunk = room.min(MEMORY_CHUNK);
        if chunk < 4096 {
            break;
        }
        let len = usize::try_from(chunk).map_err(|_| "chunk too large".to_string())?;
        // A non-zero fill writes every page, so the memory is really in use.
        held.push(std::hint::black_box(vec![0x5a_u8; len]));
        held_bytes += chunk;
    }
    let level = read()?;
    say(&format!(
        "ready held={} used={} of {} ({:.1} %)",
        human_bytes(held_bytes),
        human_bytes(level.used()),
        human_bytes(level.total),
        level.used_percent()
    ));
    hold_until_stopped(stop, || {
        while let Ok(level) = levels::memory() {
            if level.used_percent() <= CAP_PERCENT || held.pop().is_none() {
                break;
            }
        }
    });
    Ok(())
}

/// Write step; the filesystem is re-read after each one.
const DISK_CHUNK: usize = 8 << 20;

/// Writes `file` until its filesystem is `percent` full (as df counts), then holds.
/// The file is created new (never an existing one) and deleted on every way out but
/// SIGKILL, which the parent's undo covers.
pub fn disk(file: &Path, percent: f64, stop: &AtomicBool) -> Result<(), String> {
    let target = percent.min(CAP_PERCENT);
    let dir = file
        .parent()
        .ok_or_else(|| format!("{} has no directory", file.display()))?;
    let read = || levels::disk(dir).map_err(|e| format!("cannot stat {}: {e}", dir.display()));
    let start = read()?;
    let budget = start.bytes_to(target);
    if budget == 0 {
        return Err(format!(
            "{} is already {:.1} % full, at or above {target} %",
            dir.display(),
            start.used_percent()
        ));
    }
    let mut out = File::options()
        .write(true)
        .create_new(true)
        .open(file)
        .map_err(|e| format!("cannot create {}: {e}", file.display()))?;
    let _remove = RemoveOnDrop(file);
    let block = pattern(DISK_CHUNK);
    let mut written: u64 = 0;
    while written < budget {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let step = (budget - written).min(DISK_CHUNK as u64) as usize;
        out.write_all(&block[..step])
            .map_err(|e| format!("writing {}: {e}", file.display()))?;
        written += step as u64;
        if written % (64 << 20) == 0 {
            out.sync_data()
                .map_err(|e| format!("syncing {}: {e}", file.display()))?;
        }
        if read()?.used_percent() >= CAP_PERCENT {
            break;
        }
    }
    out.sync_data()
        .map_err(|e| format!("syncing {}: {e}", file.display()))?;
    let level = read()?;
    say(&format!(
        "ready wrote={} used={:.1} % of {}",
        human_bytes(written),
        level.used_percent(),
        human_bytes(level.usable())
    ));
    hold_until_stopped(stop, || {});
    Ok(())
}

/// Bytes that do not compress, so filesystems with compression fill for real.
fn pattern(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

struct RemoveOnDrop<'a>(&'a Path);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}

/// Opens /dev/null `count` times and holds the descriptors. The child's own soft
/// RLIMIT_NOFILE is raised (up to the hard limit) so `count` fits; the system-wide
/// file table is re-read as it goes and never taken past 90 %.
pub fn fds(count: u32, stop: &AtomicBool) -> Result<(), String> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) =
        getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| format!("RLIMIT_NOFILE: {e}"))?;
    let wanted = (u64::from(count) + 64).min(hard);
    if wanted > soft {
        setrlimit(Resource::RLIMIT_NOFILE, wanted, hard)
            .map_err(|e| format!("raising RLIMIT_NOFILE to {wanted}: {e}"))?;
    }
    let mut files: Vec<File> = Vec::with_capacity(count as usize);
    let mut why_short = String::new();
    while files.len() < count as usize {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        if files.len() % 1024 == 0 {
            let table = levels::file_table().map_err(|e| format!("cannot read file-nr: {e}"))?;
            if table.allocated as f64 >= table.max as f64 * CAP_PERCENT / 100.0 {
                why_short = " (system file table at the 90 % cap)".into();
                break;
            }
        }
        match File::open("/dev/null") {
            Ok(f) => files.push(f),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(nix::libc::EMFILE | nix::libc::ENFILE)
                ) =>
            {
                why_short = format!(" ({e})");
                break;
            }
            Err(e) => return Err(format!("opening /dev/null: {e}")),
        }
    }
    say(&format!("ready open={} of {count}{why_short}", files.len()));
    hold_until_stopped(stop, || {});
    drop(files);
    Ok(())
}
