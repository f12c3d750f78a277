//! Running the real binary, what it printed, and a harmless fault to run with it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `chaosdeck --state-dir STATE ARGS…`, not started yet (to spawn and signal).
pub fn command(state: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chaosdeck"));
    command.arg("--state-dir").arg(state).args(args);
    command
}

/// `chaosdeck --state-dir STATE ARGS…`, waited for.
pub fn chaosdeck(state: &Path, args: &[&str]) -> Output {
    command(state, args).output().expect("run chaosdeck")
}

/// What the binary printed on stdout or stderr, as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts the exit code (stdout and stderr in the message when it differs); gives
/// stdout back.
pub fn exited(output: &Output, code: i32) -> String {
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    stdout
}

/// Asserts that `printed` says each of `wanted` (all of `printed` in the message when
/// it does not).
pub fn says(printed: &str, wanted: &[&str]) {
    for w in wanted {
        assert!(printed.contains(w), "expected {w:?} in:\n{printed}");
    }
}

/// Asserts exit 2 (bad input) and that stderr says each of `wanted`.
pub fn refused(output: &Output, wanted: &[&str]) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    says(&stderr, wanted);
}

/// A game-day plan, `dir/plan.yaml`, holding `yaml`; its path as `gameday` takes it.
pub fn game_day_plan(dir: &Path, yaml: &str) -> String {
    let path = dir.join("plan.yaml");
    std::fs::write(&path, yaml).expect("write the plan");
    path.to_str().expect("a UTF-8 path").to_string()
}

/// A catalog folder, `dir/catalog`, with `yaml` as its one file.
pub fn catalog_folder(dir: &Path, yaml: &str) -> PathBuf {
    let folder = dir.join("catalog");
    std::fs::create_dir_all(&folder).expect("create the catalog folder");
    std::fs::write(folder.join("test.yaml"), yaml).expect("write the catalog");
    folder
}

/// One low-severity fault, `test-marker`, as catalog YAML: it creates `marker` while
/// it is on (its undo removes it, its verify checks it is gone), with the TTL given
/// (`1m`).
pub fn marker_fault(marker: &Path, ttl: &str) -> String {
    format!(
        r#"
- id: test-marker
  name: Marker file
  category: host
  severity: low
  target: command
  description: Creates a file while the fault is on.
  actions:
    - command: {{ run: [touch, "{m}"], undo: [rm, -f, "{m}"], verify: [test, "!", -e, "{m}"], timeout: 5s }}
  expect: {{ impact: [], recover_within: 5s }}
  ttl: {ttl}
"#,
        m = marker.display()
    )
}

/// A catalog folder in `dir` with `test-marker` (see [`marker_fault`]) creating
/// `dir/marker`, with the TTL given (`1m`).
pub fn marker_catalog(dir: &Path, ttl: &str) -> PathBuf {
    catalog_folder(dir, &marker_fault(&dir.join("marker"), ttl))
}

/// `chaosdeck --state-dir STATE ARGS…` with its stdout a pipe whose reading end is
/// closed before the binary can write a byte (as `| head` does once it has enough),
/// waited for; stdout comes back empty.
pub fn with_stdout_closed(state: &Path, args: &[&str]) -> Output {
    let mut child = command(state, args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start chaosdeck");
    drop(child.stdout.take());
    child.wait_with_output().expect("wait for chaosdeck")
}
