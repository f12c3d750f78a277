//! Host entries with tiny, safe targets: one core, memory 2 points above what is in
//! use, a fill of at most 300 MiB in a folder of our own, 200 descriptors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chaosdeck::catalog::TargetKind;
use chaosdeck::driver::dispatch::Undo;
use chaosdeck::driver::host::{levels, HostUndo};
use chaosdeck::driver::targets::Targets;
use chaosdeck::engine::inject::Active;

use crate::{exe, Sweep};

pub const COVERED: &[&str] = &[
    "host-cpu-burn",
    "host-memory-pressure",
    "host-disk-fill",
    "host-fd-exhaustion",
];

const MIB: u64 = 1 << 20;
/// The most host-disk-fill may write here.
const MAX_FILL: u64 = 300 * MIB;
/// Headroom, so other writers on the filesystem do not reach the target first.
const MIN_FILL: u64 = 16 * MIB;

/// The stressor child's pid and (for a disk fill) its file, from the step's undo data.
fn stressor(active: &Active) -> Result<(u32, Option<PathBuf>), String> {
    match active.steps.first().map(|s| &s.undo) {
        Some(Undo::Host(HostUndo::EndChild {
            pid: Some(pid),
            leftover_file,
            ..
        })) => Ok((*pid, leftover_file.clone())),
        other => Err(format!("no stressor pid in the undo data: {other:?}")),
    }
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the command: state is field 3, utime 14 and stime 15.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    match (field(14), field(15)) {
        (Some(u), Some(s)) => Ok(u + s),
        _ => Err(format!("odd /proc/{pid}/stat: {stat}")),
    }
}

/// A `/proc/<pid>/status` field in KiB (`VmRSS:`).
fn status_kib(pid: u32, field: &str) -> Result<u64, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/{pid}/status"))
}

/// A folder under `parent` and the whole percent to fill its filesystem to, writing
/// between [`MIN_FILL`] and [`MAX_FILL`]; why not, when no percent fits.
fn fill_target(parent: &Path) -> Result<(tempfile::TempDir, u8, u64), String> {
    let dir = tempfile::Builder::new()
        .prefix("chaosdeck-sweep-")
        .tempdir_in(parent)
        .map_err(|e| format!("{}: {e}", parent.display()))?;
    let level = levels::disk(dir.path()).map_err(|e| format!("{}: {e}", parent.display()))?;
    let now = level.used_percent();
    let mut percent = now.floor() + 1.0;
    if level.bytes_to(percent) < MIN_FILL {
        percent += 1.0;
    }
    let bytes = level.bytes_to(percent);
    if percent > levels::CAP_PERCENT || bytes > MAX_FILL {
        return Err(format!(
            "{} is {now:.2} % full of {} MiB: the next whole percent ({percent} %) means \
             writing {} MiB, more than {} MiB",
            parent.display(),
            level.usable() / MIB,
            bytes / MIB,
            MAX_FILL / MIB
        ));
    }
    Ok((dir, percent as u8, bytes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_faults_inject_tear_down_and_verify() {
    let sweep = Sweep::new(TargetKind::Host);
    let targets = Targets {
        exe: exe(),
        ..Targets::default()
    };
    for &id in COVERED {
        match id {
            "host-cpu-burn" => {
                let o = [("cores", "1".to_string())];
                sweep
                    .run(id, &o, &targets, async |active: &Active| {
                        let (pid, _) = stressor(active)?;
                        let before = cpu_ticks(pid)?;
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        let burned = cpu_ticks(pid)? - before;
                        // A busy core gives ~50 ticks in 500 ms; leave room for a busy host.
                        ensure!(burned >= 10, "the burner used {burned} ticks in 500 ms");
                        Ok(())
                    })
                    .await
            }
            "host-memory-pressure" => {
                let level = levels::memory().unwrap();
                let percent = (level.used_percent().ceil() + 2.0).min(levels::CAP_PERCENT);
                let expected = level.used_at(percent).saturating_sub(level.used());
                let o = [("percent", format!("{percent:.0}"))];
                sweep
                    .run(id, &o, &targets, async |active: &Active| {
                        let (pid, _) = stressor(active)?;
                        let rss = status_kib(pid, "VmRSS:")? * 1024;
                        ensure!(
                            rss >= expected / 2,
                            "the stressor holds {} MiB, about {} MiB expected",
                            rss / MIB,
                            expected / MIB
                        );
                        Ok(())
                    })
                    .await
            }
            "host-disk-fill" => {
                // The fill goes to the next whole percent of a filesystem, so the folder
                // is picked where that is little: /tmp, else the RAM-backed /dev/shm.
                let candidates = ["/tmp", "/dev/shm"].map(|p| fill_target(Path::new(p)));
                let reasons: Vec<String> = candidates
                    .iter()
                    .filter_map(|c| c.as_ref().err().cloned())
                    .collect();
                let Some(Ok((dir, percent, bytes))) = candidates.into_iter().find(Result::is_ok)
                else {
                    panic!(
                        "{id} cannot be swept safely on this machine: {}",
                        reasons.join("; ")
                    );
                };
                if !reasons.is_empty() {
                    eprintln!(
                        "{id}: using {} since {}",
                        dir.path().display(),
                        reasons.join("; ")
                    );
                }
                let o = [
                    ("path", dir.path().display().to_string()),
                    ("percent", percent.to_string()),
                ];
                sweep
                    .run(id, &o, &targets, async |active: &Active| {
                        let (_, file) = stressor(active)?;
                        let file = file.ok_or("no fill file in the undo data")?;
                        let len = std::fs::metadata(&file).map_err(|e| e.to_string())?.len();
                        ensure!(
                            len >= bytes / 2,
                            "{} holds {} MiB, about {} MiB expected",
                            file.display(),
                            len / MIB,
                            bytes / MIB
                        );
                        Ok(())
                    })
                    .await;
                let left = std::fs::read_dir(dir.path()).unwrap().count();
                assert_eq!(left, 0, "files left in {}", dir.path().display());
            }
            "host-fd-exhaustion" => {
                let o = [("count", "200".to_string())];
                sweep
                    .run(id, &o, &targets, async |active: &Active| {
                        let (pid, _) = stressor(active)?;
                        let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
                            .map_err(|e| e.to_string())?
                            .count();
                        ensure!(open >= 200, "the stressor holds {open} descriptors");
                        Ok(())
                    })
                    .await
            }
            other => panic!("{other} has no case in the host sweep"),
        }
    }
}
