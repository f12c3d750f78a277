//! `chaosdeck lab up|status|down` with the real binary: a lab whose owner was killed
//! (SIGKILL, so it cleaned nothing) is removed by `lab down` from its record — child
//! processes, the cluster's server and folder, containers, the lab's folder — and a
//! console opened where PostgreSQL and Docker are missing still opens, says how to get
//! them, and dims only their faults.
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
