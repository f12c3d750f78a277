//! `chaosdeck lab up|status|down` with the real binary: a lab whose owner was killed
//! (SIGKILL, so it cleaned nothing) is removed by `lab down` from its record — child
//! processes, the cluster's server and folder, containers, the lab's folder — and a
//! console opened where PostgreSQL and Docker are missing still opens, says how to get
//! them, and dims only their faults. A second chaosdeck runs a fault from the lab's
//! `targets.yaml` while `lab up` (and its fault proxy) runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chaosdeck::lab::record::LabRecord;
use support::tmux::Tmux;

fn chaosdeck(state: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chaosdeck"));
    command.arg("--state-dir").arg(state);
    command
}

fn wait_for_record(state: &Path) -> LabRecord {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(record) = LabRecord::read(state).unwrap() {
            if record.children.len() == 2 && (record.containers || Instant::now() > deadline) {
                std::thread::sleep(Duration::from_secs(3));
                return LabRecord::read(state).unwrap().unwrap();
            }
        }
        assert!(Instant::now() < deadline, "the lab did not come up");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn lab_down_removes_what_a_killed_lab_left() {
    let state = tempfile::tempdir().unwrap();
    let mut up = chaosdeck(state.path())
        .args(["lab", "up"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _lab_down = support::lab_left::LabDownOnDrop(state.path().to_path_buf());
    let record = wait_for_record(state.path());
    let status = chaosdeck(state.path())
        .args(["lab", "status"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains(&record.lab_id) && text.contains("running"),
        "{text}"
    );

    up.kill().unwrap();
    up.wait().unwrap();
    let status = chaosdeck(state.path())
        .args(["lab", "status"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("gone"), "{text}");

    let down = chaosdeck(state.path())
        .args(["lab", "down"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&down.stdout);
    assert!(down.status.success(), "{text}");
    support::lab_left::assert_nothing_left(state.path(), &record);
}

#[test]
fn a_machine_without_postgresql_or_docker_still_gets_a_console() {
    let state = tempfile::tempdir().unwrap();
    let command = format!(
        "CHAOSDECK_PG_BIN=/nonexistent DOCKER_HOST=unix:///nonexistent.sock {bin} --state-dir {state}; echo EXITED $?; sleep 60",
        bin = env!("CARGO_BIN_EXE_chaosdeck"),
        state = state.path().display(),
    );
    let tmux = Tmux::start(&command, 200, 50);
    let _lab_down = support::lab_left::LabDownOnDrop(state.path().to_path_buf());
    let screen = tmux.wait_for("faults", Duration::from_secs(60));
    assert!(
        screen.contains("PostgreSQL"),
        "says what is missing:\n{screen}"
    );
    assert!(
        screen.contains("apt-get install"),
        "says how to get it:\n{screen}"
    );
    let detail = tmux.wait_for("unavailable", Duration::from_secs(10));
    assert!(detail.contains("db-max-connections"), "{detail}");
    tmux.keys(&["/"]);
    tmux.type_text("host-cpu");
    // Wait for the whole frame: tmux can show one half drawn, with the new list on
    // the left and the old fault's detail (and its "unavailable") still on the right.
    let screen = tmux.wait_until("filtered", Duration::from_secs(10), |s| {
        !s.contains("db-max-connections") && s.contains("busy-looping")
    });
    assert!(
        !screen.contains("unavailable"),
        "host faults stay available:\n{screen}"
    );
    tmux.keys(&["Enter", "q"]);
    let screen = tmux.wait_for("EXITED", Duration::from_secs(30));
    assert!(screen.contains("EXITED 0"), "{screen}");
    assert!(
        LabRecord::read(state.path()).unwrap().is_none(),
        "the lab record is gone"
    );
}

/// Starts `chaosdeck lab up` and waits until it says the lab is up; gives the child
/// and the lab's `targets.yaml`.
fn lab_up(state: &Path) -> (std::process::Child, std::path::PathBuf) {
    use std::io::{BufRead, BufReader};
    let mut up = chaosdeck(state)
        .args(["lab", "up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = up.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut seen = Vec::new();
    let mut targets = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("the lab did not come up:\n{}", seen.join("\n")));
        if let Some(path) = line.trim().strip_prefix("targets: ") {
            targets = Some(std::path::PathBuf::from(path));
        }
        let done = line.contains("Ctrl-C takes the lab down");
        seen.push(line);
        if done {
            break;
        }
    }
    let targets = targets.unwrap_or_else(|| panic!("no targets line:\n{}", seen.join("\n")));
    (up, targets)
}

#[test]
fn a_fault_away_from_the_proxy_runs_against_a_lab_up_that_serves_it() {
    let state = tempfile::tempdir().unwrap();
    let _lab_down = support::lab_left::LabDownOnDrop(state.path().to_path_buf());
    let (mut up, targets) = lab_up(state.path());
    let config = std::fs::read_to_string(&targets).unwrap();
    assert!(
        config.contains("proxy:"),
        "the lab has its proxy:\n{config}"
    );
    let started = Instant::now();
    let output = chaosdeck(state.path())
        .arg("--config")
        .arg(&targets)
        .args([
            "run",
            "process-kill",
            "--target",
            "shop",
            "--duration",
            "3s",
        ])
        .arg("--yes")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("Result: PASS"), "{stdout}");
    let target = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("target "))
        .unwrap_or_else(|| panic!("no target line:\n{stdout}"));
    // What the fault acts on, not every part of the bundle it ran with.
    assert!(
        target.contains("process port:") && !target.contains("postgres"),
        "the target is the process the fault kills:\n{stdout}"
    );
    assert!(
        stdout.contains("served by another process"),
        "the timeline says whose proxy carries the traffic:\n{stdout}"
    );
    assert!(
        stdout.contains("verdict          recovered in"),
        "a recovered verdict:\n{stdout}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "took {:?}",
        started.elapsed()
    );
    // A network fault would have to change the lab's proxy, which only `lab up` can.
    let output = chaosdeck(state.path())
        .arg("--config")
        .arg(&targets)
        .args(["run", "net-refuse", "--target", "shop", "--duration", "1s"])
        .arg("--yes")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("belongs to another process"),
        "{stdout}\n{stderr}"
    );
    // Ctrl-C takes the lab down.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(up.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    up.wait().unwrap();
}
