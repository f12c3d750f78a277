//! The state folder chaosdeck creates is private (0700) and its log 0600, so its own
//! `doctor` finds nothing open to others. The real binary, with `--state-dir` and with
//! `XDG_STATE_HOME`, under the usual umask.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::cli::{chaosdeck, exited};

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// Asserts `path` has permission bits `want`, saying both in octal.
fn assert_mode(path: &Path, want: u32) {
    let got = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        got,
        want,
        "{}: mode {got:o}, wanted {want:o}",
        path.display()
    );
}

/// The `state folder` finding of `doctor --json`: its level and what it found.
fn doctor_state_folder(state: &Path) -> (String, String) {
    let output = chaosdeck(state, &["doctor", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", support::cli::text(&output.stderr)));
    let check = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "state folder")
        .expect("a state folder check");
    (
        check["level"].as_str().unwrap().to_string(),
        check["found"].as_str().unwrap().to_string(),
    )
}

#[test]
fn a_fresh_state_folder_is_0700_its_log_0600_and_doctor_is_content() {
    let dir = tempfile::tempdir().unwrap();
    // Two missing levels: every folder chaosdeck creates on the way is private.
    let state = dir.path().join("nested").join("state");
    // `lab status` only reads, and like every command that keeps a log it makes the
    // state folder and the log.
    exited(&chaosdeck(&state, &["lab", "status"]), 0);
    let (level, found) = doctor_state_folder(&state);
    assert_eq!(level, "ok", "{found}");
    assert!(!found.contains("open to others"), "{found}");
    assert_mode(&state, 0o700);
    assert_mode(&dir.path().join("nested"), 0o700);
    assert_mode(&state.join("chaosdeck.log"), 0o600);
}

#[test]
fn the_default_state_folder_under_xdg_state_home_is_private_too() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_chaosdeck"))
        .env("XDG_STATE_HOME", dir.path())
        .args(["lab", "status"])
        .output()
        .unwrap();
    exited(&output, 0);
    let state = dir.path().join("chaosdeck");
    assert_mode(&state, 0o700);
    assert_mode(&state.join("chaosdeck.log"), 0o600);
}

#[test]
fn a_log_left_open_by_an_earlier_chaosdeck_is_narrowed_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let log = state.join("chaosdeck.log");
    std::fs::write(&log, "an earlier line\n").unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();
    exited(&chaosdeck(&state, &["lab", "status"]), 0);
    assert_mode(&log, 0o600);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("an earlier line\n"), "{text}");
}
