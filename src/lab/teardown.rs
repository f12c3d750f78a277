//! `chaosdeck lab down` after a crash: remove what the lab record says a lab made —
//! its child processes (only when /proc shows they are still chaosdeck's), the
//! cluster's server and folder, containers and networks labelled with the lab's id,
//! the lab's folder — then the record.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::record::LabRecord;

/// Whether the process that owns the lab is still running chaosdeck.
pub fn owner_alive(record: &LabRecord) -> bool {
    record.owner_pid != std::process::id() && runs_chaosdeck(record.owner_pid)
}

fn runs_chaosdeck(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|cmd| String::from_utf8_lossy(&cmd).contains("chaosdeck"))
        .unwrap_or(false)
}

/// Ends `pid` (`signal`, then SIGKILL after `grace`); says what happened.
fn end(pid: u32, what: &str, signal: Signal, grace: Duration) -> Option<String> {
    let raw = Pid::from_raw(i32::try_from(pid).ok()?);
    kill(raw, signal).ok()?;
    let deadline = Instant::now() + grace;
    while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if Path::new(&format!("/proc/{pid}")).exists() {
        let _ = kill(raw, Signal::SIGKILL);
    }
    Some(format!("ended {what} (pid {pid})"))
}

/// Removes what `record` lists and then the record; returns a line per thing done.
pub async fn remove_leftovers(state_dir: &Path, record: &LabRecord) -> Vec<String> {
    let mut done = Vec::new();
    for &pid in &record.children {
        if runs_chaosdeck(pid) {
            done.extend(end(
                pid,
                "a lab child process",
                Signal::SIGTERM,
                Duration::from_secs(2),
            ));
        }
    }
    if let Some(root) = &record.cluster_root {
        let pid_file = root.join("data/postmaster.pid");
        let postmaster = std::fs::read_to_string(&pid_file).ok().and_then(|text| {
            text.lines()
                .next()
                .and_then(|l| l.trim().parse::<u32>().ok())
        });
        // SIGINT is PostgreSQL's fast shutdown: it ends the sessions instead of
        // waiting for them.
        if let Some(pid) = postmaster {
            let what = "the lab's PostgreSQL server";
            done.extend(end(pid, what, Signal::SIGINT, Duration::from_secs(10)));
        }
        if root.exists() {
            match std::fs::remove_dir_all(root) {
                Ok(()) => done.push(format!("removed {}", root.display())),
                Err(e) => done.push(format!("cannot remove {}: {e}", root.display())),
            }
        }
    }
    if record.containers {
        match super::docker_connect().await {
            Ok(docker) => {
                match super::containers::remove_lab(&docker, &record.lab_id).await {
                    Ok(names) => done.extend(names.into_iter().map(|n| format!("removed {n}"))),
                    Err(e) => done.push(format!("containers: {e}")),
                }
                if let Some(image) = &record.image {
                    super::up::remove_image(&docker, image).await;
                    done.push(format!("removed image {image}"));
                }
            }
            Err(e) => done.push(format!("containers: {e}")),
        }
    }
    if record.dir.exists() {
        match std::fs::remove_dir_all(&record.dir) {
            Ok(()) => done.push(format!("removed {}", record.dir.display())),
            Err(e) => done.push(format!("cannot remove {}: {e}", record.dir.display())),
        }
    }
    if let Err(e) = LabRecord::remove(state_dir) {
        done.push(e.to_string());
    }
    done
}
