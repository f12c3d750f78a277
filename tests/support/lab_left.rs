//! Checks that nothing of a lab is left: its record, its folder, the cluster's folder,
//! its child processes, and containers and networks labelled with its id.

use std::path::Path;
use std::time::{Duration, Instant};

use chaosdeck::lab::record::LabRecord;

/// Panics, naming what is left, unless the lab of `record` is gone from `state`.
pub fn assert_nothing_left(state: &Path, record: &LabRecord) {
    assert!(
        LabRecord::read(state).unwrap().is_none(),
        "the lab record is left"
    );
    assert!(!record.dir.exists(), "the lab's folder is left");
    if let Some(root) = &record.cluster_root {
        assert!(
            !root.exists(),
            "the cluster's folder is left: {}",
            root.display()
        );
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    for pid in &record.children {
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "lab child {pid} still runs"
        );
    }
    if record.containers {
        for kind in ["ps", "network"] {
            let mut docker = std::process::Command::new("docker");
            match kind {
                "ps" => docker.args(["ps", "-a"]),
                _ => docker.args(["network", "ls"]),
            };
            let out = docker
                .args([
                    "--filter",
                    &format!("label=chaosdeck.lab={}", record.lab_id),
                ])
                .args(["--format", "{{.Names}}"])
                .output()
                .unwrap();
            let left = String::from_utf8_lossy(&out.stdout);
            assert!(left.trim().is_empty(), "lab {kind} left: {left}");
        }
    }
}

/// Runs `chaosdeck lab down` for a state folder when dropped, so a failing test
/// leaves no lab behind (the owner, if alive, is asked to take it down first).
pub struct LabDownOnDrop(pub std::path::PathBuf);

impl Drop for LabDownOnDrop {
    fn drop(&mut self) {
        let _ = std::process::Command::new(env!("CARGO_BIN_EXE_chaosdeck"))
            .arg("--state-dir")
            .arg(&self.0)
            .args(["lab", "down"])
            .output();
    }
}
